/* Losses: the scalar a training step minimises and its gradient w.r.t. the network
 * output, fused so that softmax + cross-entropy never forms log(0). */
#ifndef SHARDNET_LOSS_H
#define SHARDNET_LOSS_H

#include "shardnet/net.h"

/* Loss over `batch` local samples of `dim` outputs each (out is (batch, dim)).
 * Returns the SUM over these samples of the per-sample loss, so that summing the
 * returned values across ranks and dividing by the global batch gives the mean loss
 * whatever the rank count:
 *   softmax_cross_entropy: -log softmax(out_i)[labels[i]]   (targets unused)
 *   mse: mean over the sample's dim elements of (out_i - targets_i)^2 (labels unused)
 * If dout is not NULL it receives scale * d(returned sum)/d(out) (scale = 1 / global
 * batch, the data-parallel rule). If correct is not NULL it receives the number of
 * samples whose argmax equals the label (0 for mse). Labels are trusted: the dataset
 * reader validated their range. */
double sn_loss_compute(sn_loss_kind kind, const float *out, int batch, int dim,
                       const int *labels, const float *targets, double scale, float *dout,
                       int *correct);

#endif
