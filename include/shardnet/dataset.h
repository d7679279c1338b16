/* Datasets in shardnet's HDF5 format (see DESIGN.md): /images (N, H, W, C) uint8 or
 * float32, /labels int32 (N) or /targets float32 (N, ...), optional class_names.
 * Loading is collective: each rank reads a slice with parallel HDF5 and the slices
 * are gathered, so every rank holds the whole set once. */
#ifndef SHARDNET_DATASET_H
#define SHARDNET_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "shardnet/config.h"
#include "shardnet/dist.h"
#include "shardnet/net.h"

#define SN_MAX_CLASSES 1024

typedef struct sn_dataset {
  char path[SN_PATH_CAP];
  size_t n;                  /* samples */
  int h, w, c;               /* stored channels-last, per sample */
  int is_float;              /* images are float32 (else uint8) */
  uint8_t *u8;               /* N*H*W*C when !is_float */
  float *f32;                /* N*H*W*C when is_float */
  int32_t *labels;           /* N, or NULL for a regression set */
  float *targets;            /* N * target_size, or NULL */
  size_t target_size;
  int n_class_names;
  char **class_names;
} sn_dataset;

/* Collective over all ranks of d. Any failure (missing file, not HDF5, missing or
 * malformed datasets) is returned on every rank with the same message. */
sn_status sn_dataset_load(sn_dist *d, const char *path, sn_dataset **out);
void sn_dataset_free(sn_dataset *ds);

/* Checks the set against the model before the first step: image shape against
 * model.input, labels within [0, classes) for softmax cross-entropy, target size
 * against the output for MSE, and at least one sample. */
sn_status sn_dataset_validate(const sn_dataset *ds, const sn_net *net);

/* Assembles samples idx[0..n-1] into an NCHW float batch x, normalised as
 * (value * scale - mean[c]) / std[c], and their labels or targets. */
void sn_dataset_batch(const sn_dataset *ds, const sn_data_config *norm, const uint32_t *idx,
                      int n, float *x, int32_t *labels, float *targets);

#endif
