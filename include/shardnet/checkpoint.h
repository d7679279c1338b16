/* Checkpoints (see DESIGN.md): /model_weights in the Keras HDF5 weights layout,
 * /optimizer with its moments in the same layout, and the run's position as root
 * attributes. Written by one rank to <path>.tmp, flushed, fsynced and renamed, so
 * a crash at any moment leaves the previous checkpoint intact. */
#ifndef SHARDNET_CHECKPOINT_H
#define SHARDNET_CHECKPOINT_H

#include <stdint.h>

#include "shardnet/net.h"

typedef struct {
  long step;
  int epoch;
  long samples_seen;        /* position in the epoch's permutation */
  uint64_t seed;
  int world_size;
  const char *config_text;  /* the resolved YAML (sn_config.resolved): overrides applied */
  const char *const *overrides;  /* its --set options, kept as provenance only */
  int n_overrides;
  /* Optional: idle memory the writer may clobber to put tensors in the Keras layout,
   * so a checkpoint adds no buffer of the largest tensor's size to a run's peak
   * memory (the trainer lends its gradient arena between steps). */
  float *scratch;
  size_t scratch_floats;
} sn_checkpoint_meta;

/* The optimizer's state as a checkpoint holds it, described by its owner (the
 * trainer fills it from its optimizer: io never calls into train). Each moment holds
 * net->n_params floats in the parameter layout; only the trainable tensors are saved. */
#define SN_CHECKPOINT_MAX_MOMENTS 4
typedef struct {
  const char *type;  /* "sgd", "adam", "adamw": a resume with another type is refused */
  int64_t steps;     /* steps taken (Adam's bias correction); set by sn_checkpoint_load */
  int n_moments;
  const char *moment_names[SN_CHECKPOINT_MAX_MOMENTS];  /* "momentum"; "m", "v" */
  float *moments[SN_CHECKPOINT_MAX_MOMENTS];
} sn_optimizer_state;

/* Writes net (and opt when not NULL) with meta to path atomically. */
sn_status sn_checkpoint_write(const char *path, const sn_net *net, const sn_optimizer_state *opt,
                              const sn_checkpoint_meta *meta);

/* What a checkpoint says about itself, before any weights are read. */
typedef struct {
  long step, samples_seen;
  int epoch, world_size;
  uint64_t seed;
  int format_version;       /* 1: config_text is the file as written, to which the
                             * overrides still apply; 2: it is resolved */
  char *config_text;        /* malloc'ed */
  int n_overrides;
  char **overrides;         /* malloc'ed strings */
  char optimizer[16];       /* "" when the file holds no optimizer state */
} sn_checkpoint_info;

sn_status sn_checkpoint_read_info(const char *path, sn_checkpoint_info *info);
void sn_checkpoint_info_free(sn_checkpoint_info *info);

/* Loads the weights (and the optimizer state when opt is not NULL: its moments and
 * steps) into net, whose layers must match the file's by name and shape: the first
 * mismatch is named. */
sn_status sn_checkpoint_load(const char *path, sn_net *net, sn_optimizer_state *opt);

/* Keras order of parameter k of layer i: dims (returned count) and a copy of src
 * (values in shardnet's layout) rearranged into dst. import does the reverse. */
int sn_keras_dims(const sn_net *net, int layer, int k, int *dims);
void sn_keras_export(const sn_net *net, int layer, int k, const float *src, float *dst);
void sn_keras_import(const sn_net *net, int layer, int k, const float *src, float *dst);

/* The model a checkpoint was trained with, rebuilt from its saved config and
 * loaded with its weights, ready for inference. The config is the resolved text,
 * which already holds the --set options; they are applied again only to a
 * format_version 1 file, whose config is the file as written. path may be a
 * checkpoint file or a run directory (its latest.h5); resolved (SN_PATH_CAP bytes)
 * receives the file used. */
struct sn_config;
sn_status sn_checkpoint_open_model(const char *path, struct sn_config **cfg, sn_net **net, char *resolved);

#endif
