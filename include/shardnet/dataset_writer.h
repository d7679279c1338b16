/* Writing files in shardnet's dataset format (see DESIGN.md), for the converters
 * and for tests: one process writes the whole file. */
#ifndef SHARDNET_DATASET_WRITER_H
#define SHARDNET_DATASET_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "shardnet/status.h"

/* Writes a dataset file (one process). images are N*H*W*C, uint8 when !is_float.
 * labels or targets may be NULL; class_names may be NULL. */
typedef struct {
  size_t n;
  int h, w, c;
  int is_float;
  const void *images;
  const int32_t *labels;
  const float *targets;
  size_t target_size;
  int n_class_names;
  const char *const *class_names;
  const char *source;        /* root attribute `source`, may be NULL */
} sn_dataset_contents;
sn_status sn_dataset_write(const char *path, const sn_dataset_contents *contents);

#endif
