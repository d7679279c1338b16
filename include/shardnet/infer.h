/* The batched inference loop that evaluation, prediction and activation files share:
 * samples read ahead through a reader, transformed, forwarded batch by batch, and
 * handed to the caller after each forward. */
#ifndef SHARDNET_INFER_H
#define SHARDNET_INFER_H

#include <stddef.h>
#include <stdint.h>

#include "shardnet/dataset.h"
#include "shardnet/net.h"
#include "shardnet/transform.h"

/* Called after each forward of rows [row, row + n): x holds the batch's inputs, the
 * net every layer's output, labels (classification) or targets (regression) the
 * batch's answers. */
typedef sn_status (*sn_infer_fn)(void *ctx, size_t row, int n, const sn_net *net, const float *x, const int32_t *labels,
                                 const float *targets);

/* Local to this rank: forwards rows [lo, hi), row i being sample list[i] (or sample
 * i when list is NULL), in batches of at most `batch`, with the reader (created for
 * at least `batch` samples a request) reading ahead as deep as it may queue. Stops at
 * the first failure of a read, of the net or of fn. */
sn_status sn_infer_rows(sn_reader *r, sn_net *net, const sn_transform *tf, const uint32_t *list, size_t lo,
                        size_t hi, int batch, sn_infer_fn fn, void *ctx);

#endif
