/* A run's configuration, loaded from YAML (see ../shared/DESIGN.md) with
 * `--set key=value` overrides applied. Every key is checked: unknown keys, wrong
 * types and missing required keys are errors naming file, line and key. Blocks
 * whose keys belong to another module (layers, optimizer, schedule) are kept as
 * sn_args, so that module reads and checks them. */
#ifndef SHARDNET_CONFIG_H
#define SHARDNET_CONFIG_H

#include <stdint.h>

#include "shardnet/args.h"
#include "shardnet/kernels.h"
#include "shardnet/net.h"

#define SN_PATH_CAP 1024
#define SN_MAX_ACTIVATION_SAMPLES 64

/* data.placement: where a dataset's samples are held while a run uses them. */
typedef enum {
  SN_PLACEMENT_AUTO,            /* chosen from the set's size against the node's memory */
  SN_PLACEMENT_REPLICATE,       /* every rank holds the whole set */
  SN_PLACEMENT_NODE,            /* one copy per node, in memory shared by its ranks */
  SN_PLACEMENT_SHARD,           /* each rank holds 1/P; a step's samples are exchanged over MPI */
  SN_PLACEMENT_STREAM           /* nothing held; a background reader fetches the next steps */
} sn_placement;
#define SN_PLACEMENT_COUNT 5
extern const char *const sn_placement_names[SN_PLACEMENT_COUNT]; /* "auto", "replicate", ... */

/* data.augment.random_shift.fill: what fills the pixels a shift uncovers. */
typedef enum { SN_FILL_ZERO, SN_FILL_EDGE, SN_FILL_REFLECT } sn_fill_mode;

/* data.augment (training set only): random choices keyed by (seed, epoch, global
 * sample index), so they are the same for any rank count and placement. */
typedef struct {
  int crop_padding;             /* random_crop: {padding: P}: pad P zeros, crop back to H x W; 0 = off */
  int flip_horizontal;          /* flip_horizontal: true: mirror left-right with probability 1/2 */
  int shift_max;                /* random_shift: {max: S}: shift by -S..S pixels in y and x; 0 = off */
  sn_fill_mode shift_fill;      /* random_shift: {fill: zero|edge|reflect}, default edge */
} sn_augment_config;

typedef struct {
  char train[SN_PATH_CAP];      /* data.train: dataset file ("" if absent) */
  char test[SN_PATH_CAP];       /* data.test ("" if absent) */
  double scale;                 /* data.scale, default 1 */
  int n_mean, n_std;            /* data.mean / data.std per channel (0 = not given) */
  double mean[16], std[16];
  sn_placement placement;       /* data.placement, default auto */
  int prefetch;                 /* data.prefetch: steps the stream reader and the shard exchange
                                 * run ahead, default 4 (1..64) */
  int pad_to[2];                /* data.pad_to: [H, W], zeros around each stored image (centred); 0 = off */
  int channels;                 /* data.channels: 3 replicates a grey channel; 0 = as stored */
  sn_augment_config augment;    /* data.augment */
} sn_data_config;

typedef struct {
  int epochs;                   /* default 1 */
  int batch_size;               /* global batch, default 32 */
  long max_steps;               /* 0 = no limit */
  int log_every;                /* steps between log lines, default 50 */
  int scale_lr_linear;          /* train.scale_lr: linear */
  int base_batch_size;          /* for scale_lr, default 256? see config.c */
  double bucket_mb;             /* gradient reduction bucket size, default 4 MB */
  int overlap;                  /* start buckets during backward, default true */
  int shared_memory;            /* node-shared gradients and parameters, sharded optimizer; default true */
  sn_precision precision;       /* train.precision: fp32 (default) or bf16 convolutions */
  sn_args *optimizer;           /* train.optimizer block (type, lr, ...), never NULL */
  sn_args *schedule;            /* train.schedule block (type, ...), never NULL */
} sn_train_config;

typedef struct {
  char dir[SN_PATH_CAP];        /* checkpoint.dir, default runs/<config basename> */
  long every_steps;             /* 0 = only at the end */
  int keep;                     /* default 3 */
} sn_checkpoint_config;

typedef struct {
  long every_steps;             /* 0 = off */
  int n_samples;
  long samples[SN_MAX_ACTIVATION_SAMPLES];
} sn_activations_config;

typedef struct sn_config {
  char path[SN_PATH_CAP];
  uint64_t seed;                /* default 1 */
  int report;                   /* report: true writes <checkpoint.dir>/report.html when training ends */
  sn_data_config data;
  sn_model_spec model;
  sn_train_config train;
  sn_checkpoint_config checkpoint;
  sn_activations_config activations;
  char *text;                   /* the YAML source as read (before overrides) */
  char *resolved;               /* sn_config_to_yaml of this configuration, made at load:
                                 * what checkpoints save as `config` */
} sn_config;

/* Loads path, then applies overrides "train.epochs=3" (dotted key paths into the
 * mappings; a layer is addressed as model.layers.<name>.<key>). */
sn_status sn_config_load(const char *path, const char *const *overrides, int n_overrides,
                         sn_config **out);
/* The same from YAML text in memory; source names it in messages. */
sn_status sn_config_parse(const char *text, const char *source, const char *const *overrides,
                          int n_overrides, sn_config **out);
void sn_config_free(sn_config *cfg);

/* The configuration as YAML a user can run again: every `--set` override applied,
 * every default of the keys this module reads written out (seed, data, model.input
 * and loss, train, checkpoint, activations; data.mean/std only when given, since
 * "absent" is their default), and every layer named, with the net's default name
 * (sn_model_spec_names) when the file gave none, so that `--set
 * model.layers.<name>.<key>` reaches every layer of it. Layer, optimizer and
 * schedule blocks list the keys given, in order; the defaults their own modules
 * apply stay implicit. Layers are flow mappings, one a line. sn_config_parse reads
 * the text back into an equal configuration (whose sn_config_to_yaml is the same
 * text). *text is malloc'ed. */
sn_status sn_config_to_yaml(const sn_config *cfg, char **text);

#endif
