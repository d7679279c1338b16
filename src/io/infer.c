/* The batched inference loop: queue ahead, take, forward, hand over. */
#include "shardnet/infer.h"

#include <stdlib.h>

#include "shardnet/memory.h"

/* Queues the batch that starts at row `at`; returns the row after it. */
static sn_status queue_batch(sn_reader *r, const uint32_t *list, size_t at, size_t hi, int batch, uint32_t *idx,
                             size_t *next) {
  const int n = (int)(hi - at < (size_t)batch ? hi - at : (size_t)batch);
  for (int i = 0; i < n; i++) idx[i] = list ? list[at + (size_t)i] : (uint32_t)(at + (size_t)i);
  *next = at + (size_t)n;
  return sn_reader_queue_local(r, idx, n);
}

sn_status sn_infer_rows(sn_reader *r, sn_net *net, const sn_transform *tf, const uint32_t *list, size_t lo,
                        size_t hi, int batch, sn_infer_fn fn, void *ctx) {
  if (lo >= hi) return SN_OK;
  if (net->max_batch < batch) SN_TRY(sn_net_reserve(net, batch, 0));
  const size_t dim = sn_shape_size(sn_net_output_shape(net));
  uint32_t *idx = malloc((size_t)batch * sizeof *idx);
  int32_t *labels = malloc((size_t)batch * sizeof *labels);
  float *x = NULL, *targets = NULL;
  sn_status st = idx && labels ? SN_OK : sn_fail(SN_ERR_NOMEM, "cannot allocate inference buffers");
  if (st == SN_OK) st = sn_alloc_floats((size_t)batch * sn_shape_size(net->input_shape), &x);
  if (st == SN_OK) st = sn_alloc_floats((size_t)batch * dim, &targets);
  const sn_pass pass = {.training = 0};
  size_t queued = lo;
  for (size_t row = lo; st == SN_OK && row < hi;) {
    while (st == SN_OK && queued < hi && sn_reader_pending(r) < sn_reader_depth(r))
      st = queue_batch(r, list, queued, hi, batch, idx, &queued);
    int n = 0;
    if (st == SN_OK) st = sn_reader_take(r, tf, 0, x, labels, targets, &n);
    if (st != SN_OK) break;
    sn_net_forward(net, x, n, &pass);
    st = fn(ctx, row, n, net, x, labels, targets);
    row += (size_t)n;
  }
  /* Requests queued past a failure are taken and dropped, so the reader can be used again. */
  while (sn_reader_pending(r) > 0) {
    int n;
    sn_reader_take(r, tf, 0, x, NULL, NULL, &n);
  }
  free(idx);
  free(labels);
  sn_free(x);
  sn_free(targets);
  return st;
}
