/* Large gradients built by rows in turns. A dense kernel's gradient is as large as
 * the kernel (12.8 MB in the Fashion-MNIST model) but each rank's part of it is a
 * GEMM over its own samples, split freely by rows. So instead of every rank writing
 * the whole gradient into its own arena and the slice owners summing the copies, the
 * node's L ranks take L turns: in turn k, local rank l builds part (l + k) mod L of
 * the rows from its samples straight into the arena of that part's owner, writing it
 * in turn 0 and adding to it after; a node barrier separates the turns. The sum is
 * then in place: nothing to zero beforehand, nothing to sum afterwards, and a third
 * of the memory traffic. */
#include <stdlib.h>

#include "dist/dist_comm.h"
#include "dist/grad_sync_impl.h"

/* Below this many floats (1 MB) the barriers cost more than the traffic they save. */
#define ROWS_MIN ((size_t)1 << 18)

sn_status sn_grad_sync_plan_rows(sn_grad_sync *s) {
  const sn_net *net = s->net;
  if (s->local_size == 1) return SN_OK;
  s->rows = calloc((size_t)net->n_layers * SN_MAX_PARAMS, sizeof *s->rows);
  if (!s->rows) return sn_fail(SN_ERR_NOMEM, "cannot allocate the gradient reducer");
  for (int i = 0; i < net->n_layers; i++)
    for (int k = 0; k < net->layers[i].n_params; k++) {
      const sn_param *p = &net->layers[i].params[k];
      if (!p->trainable || !p->by_rows || p->count < ROWS_MIN || p->dims[0] < s->local_size) continue;
      shared_rows *r = &s->rows[s->n_rows++];
      r->offset = (size_t)(p->grad - net->grads);
      r->count = p->count;
      r->row_len = p->count / (size_t)p->dims[0];
      for (int b = 0; b < s->n; b++)
        if (r->offset >= s->b[b].offset && r->offset < s->b[b].offset + s->b[b].floats) r->bucket = b;
    }
  return SN_OK;
}

void sn_grad_sync_each_summed(const sn_grad_sync *s, size_t lo, size_t hi, void (*fn)(sn_grad_sync *, size_t, size_t),
                              sn_grad_sync *ctx) {
  /* rows are in arena order (planned layer by layer) */
  for (int k = 0; k < s->n_rows && lo < hi; k++) {
    const shared_rows *r = &s->rows[k];
    const size_t end = r->offset + r->count;
    if (end <= lo || r->offset >= hi) continue;
    if (r->offset > lo) fn(ctx, lo, r->offset);
    lo = end;
  }
  if (lo < hi) fn(ctx, lo, hi);
}

static const shared_rows *find(const sn_grad_sync *s, size_t offset) {
  for (int k = 0; k < s->n_rows; k++)
    if (s->rows[k].offset == offset) return &s->rows[k];
  return NULL;
}

static void build_in_turns(void *ctx, const sn_param *p, sn_grad_rows_fn fn, void *fn_ctx) {
  sn_grad_sync *s = ctx;
  const shared_rows *r = find(s, (size_t)(p->grad - s->net->grads));
  if (!r) {
    fn(fn_ctx, 0, p->dims[0], p->grad, 1.0f);
    return;
  }
  const bucket *b = &s->b[r->bucket];
  const int L = s->local_size;
  for (int turn = 0; turn < L; turn++) {
    const int part = (s->local_rank + turn) % L;
    size_t lo = sn_grad_sync_slice_start(s, b, part), hi = sn_grad_sync_slice_start(s, b, part + 1);
    if (lo < r->offset) lo = r->offset;
    if (hi > r->offset + r->count) hi = r->offset + r->count;
    if (hi > lo)
      fn(fn_ctx, (int)((lo - r->offset) / r->row_len), (int)((hi - r->offset) / r->row_len),
         s->grads.segment[part] + lo, turn == 0 ? 0.0f : 1.0f);
    if (turn + 1 < L) {
      sn_shared_arena_fence();
      sn_grad_sync_note_failure(s, MPI_Barrier(s->node), "MPI_Barrier");
      sn_shared_arena_fence();
    }
  }
}

sn_grad_builder sn_grad_sync_builder(sn_grad_sync *s) {
  sn_grad_builder g = {s->n_rows > 0 ? build_in_turns : NULL, s};
  return g;
}
