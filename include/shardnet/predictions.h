/* Prediction files (format "shardnet-predictions"): /probabilities (N, classes)
 * and /labels (N) for a classifier, /outputs (N, ...) for a regression model.
 * Written collectively: each rank writes its contiguous slice through MPI-IO. */
#ifndef SHARDNET_PREDICTIONS_H
#define SHARDNET_PREDICTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "shardnet/dist.h"

typedef struct {
  size_t n;                 /* samples in the whole file */
  size_t first;             /* this rank's first sample */
  size_t local;             /* this rank's sample count */
  int dim;                  /* values per sample */
  const float *values;      /* local * dim: probabilities or outputs */
  const int32_t *labels;    /* local predicted labels, NULL for regression */
  const char *checkpoint;   /* provenance attributes */
  const char *data;
} sn_predictions;

sn_status sn_predictions_write(sn_dist *d, const char *path, const sn_predictions *p);

#endif
