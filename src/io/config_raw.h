/* The configuration as written, before typing: one sn_args per section, one per layer,
 * and the `--set` overrides sorted by section (private to src/io/config*.c). */
#ifndef SN_IO_CONFIG_RAW_H
#define SN_IO_CONFIG_RAW_H

#include <stddef.h>

#include "shardnet/args.h"

/* The mappings of the schema. Layers are not among them: model.layers is a list. */
typedef enum {
  SN_SEC_ROOT,
  SN_SEC_DATA,
  SN_SEC_AUGMENT,
  SN_SEC_CROP,
  SN_SEC_SHIFT,
  SN_SEC_MODEL,
  SN_SEC_TRAIN,
  SN_SEC_OPTIMIZER,
  SN_SEC_SCHEDULE,
  SN_SEC_CHECKPOINT,
  SN_SEC_ACTIVATIONS,
  SN_SEC_COUNT
} sn_section;

typedef struct {
  const char *path;  /* dotted path ("train.optimizer"), "" for the top level */
  const char *key;   /* its key in the parent mapping */
  int parent;        /* -1 for the top level */
  int handed_over;   /* 1: kept as sn_args for another module, which checks its keys */
} sn_section_def;

extern const sn_section_def sn_sections[SN_SEC_COUNT];

/* The values of train.scale_lr, in the order of sn_train_config.scale_lr_linear. */
extern const char *const sn_scale_lr_names[2];

/* The values of data.augment.random_shift.fill, in the order of sn_fill_mode. */
extern const char *const sn_fill_names[3];

typedef struct {
  /* Keys as the file wrote them, each with its line; a section's own line is that of
   * its key (1 for the top level, 0 when the file leaves the section out). In a
   * section this module checks, a mapping under a key that is not a section is kept
   * as an item-less, non-list placeholder so that reading it can say so. */
  sn_args *file[SN_SEC_COUNT];
  /* Overrides of each section, keys without the section path, source "--set". */
  sn_args *set[SN_SEC_COUNT];
  /* model.layers: one block per list item, every key (type, name, inputs too). */
  int n_layers, cap_layers;
  sn_args **layers;
  /* Overrides of layers, keyed "<layer name>.<key>". */
  sn_args *layer_set;
} sn_config_raw;

sn_status sn_config_raw_init(sn_config_raw *raw, const char *source);
void sn_config_raw_free(sn_config_raw *raw);

/* Fills raw->file and raw->layers from YAML text; a syntax error names source and line. */
sn_status sn_config_yaml_read(const char *text, size_t len, const char *source,
                              sn_config_raw *raw);

/* Adds key = value to a with line 0, the value read as YAML (so "[3, 32, 32]" is a
 * list); what is the whole override, for messages. */
sn_status sn_config_yaml_value(const char *what, const char *value, sn_args *a, const char *key);

#endif
