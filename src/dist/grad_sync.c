/* Bucketed gradient reduction: node-shared memory within a node, MPI_Iallreduce
 * across nodes (or everywhere, without shared memory). See grad_sync.h. */
#include "shardnet/grad_sync.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist_comm.h"
#include "dist/grad_sync_impl.h"
#include "shardnet/timer.h"

/* Lowest arena offset of layer i's trainable tensors, and their count. */
static size_t layer_span(const sn_net *net, int i, size_t *offset) {
  size_t n = 0;
  *offset = 0;
  for (int k = 0; k < net->layers[i].n_params; k++) {
    const sn_param *p = &net->layers[i].params[k];
    if (!p->trainable) continue;
    if (n == 0) *offset = (size_t)(p->data - net->params);
    n += p->count;
  }
  return n;
}

/* Slices start on a 64-byte boundary, so that no two ranks write the same cache
 * line, except inside a gradient built in turns, where they start on a row. */
size_t sn_grad_sync_slice_start(const sn_grad_sync *s, const bucket *b, int l) {
  const int L = s->local_size;
  if (l == L) return b->offset + b->floats;
  size_t at = b->offset + b->floats * (size_t)l / (size_t)L / 16 * 16;
  for (int k = 0; k < s->n_rows; k++) {
    const shared_rows *r = &s->rows[k];
    if (at > r->offset && at < r->offset + r->count)
      at = r->offset + (at - r->offset + r->row_len / 2) / r->row_len * r->row_len;
  }
  return at;
}

static sn_status plan_buckets(sn_grad_sync *s, size_t bucket_bytes) {
  sn_net *net = s->net;
  s->b = calloc((size_t)net->n_layers + 1, sizeof *s->b);
  s->shard = calloc((size_t)net->n_layers + 1, sizeof *s->shard);
  s->bucket_of_layer = malloc((size_t)net->n_layers * sizeof *s->bucket_of_layer);
  if (!s->b || !s->shard || !s->bucket_of_layer) return sn_fail(SN_ERR_NOMEM, "cannot allocate the gradient reducer");
  const size_t target = bucket_bytes / sizeof(float) > 0 ? bucket_bytes / sizeof(float) : 1;
  /* Walk layers in backward order; a bucket closes once it holds target floats. The
   * arena is in layer order, so each bucket is one contiguous range. */
  bucket *cur = NULL;
  for (int i = net->n_layers - 1; i >= 0; i--) {
    s->bucket_of_layer[i] = -1;
    size_t offset, n = layer_span(net, i, &offset);
    if (n == 0) continue;
    if (!cur || cur->floats >= target) {
      cur = &s->b[s->n++];
      cur->offset = offset + n;
    }
    cur->offset = offset;
    cur->floats += n;
    cur->first_layer = i;
  }
  for (int k = 0; k < s->n; k++) {
    bucket *b = &s->b[k];
    if (b->floats > INT_MAX)
      return sn_fail(SN_ERR_UNSUPPORTED, "layer '%s' has %zu parameters, more than one MPI message can carry (%d)",
                     net->layers[b->first_layer].name, b->floats, INT_MAX);
    s->bucket_of_layer[b->first_layer] = k;
  }
  SN_TRY(sn_grad_sync_plan_rows(s));
  for (int k = 0; k < s->n; k++) {
    bucket *b = &s->b[k];
    const size_t lo = sn_grad_sync_slice_start(s, b, s->local_rank);
    b->mine = (sn_arena_range){lo, sn_grad_sync_slice_start(s, b, s->local_rank + 1) - lo};
    s->shard[k] = b->mine;
  }
  return SN_OK;
}

/* Sets local_size, local_rank, node and across: with shared_memory, the ranks of
 * each node, and the ranks of the same local index on every node (shared memory needs
 * the same number of ranks on every node, so that the slices local rank l sums match
 * across nodes); without, every rank alone. */
static sn_status make_groups(sn_grad_sync *s, int shared_memory) {
  sn_dist *d = s->dist;
  MPI_Comm world = sn_dist_comm(d);
  const int rank = sn_dist_rank(d), size = sn_dist_size(d);
  int sizes[2] = {-sn_dist_local_size(d), sn_dist_local_size(d)};
  MPI_TRY(d, MPI_Allreduce(MPI_IN_PLACE, sizes, 2, MPI_INT, MPI_MAX, world));
  const int smallest = -sizes[0], largest = sizes[1];
  if (shared_memory && smallest != largest && rank == 0)
    printf("shardnet: nodes run between %d and %d ranks: gradients are reduced through MPI alone\n", smallest,
           largest);
  if (s->node != MPI_COMM_NULL) MPI_Comm_free(&s->node);
  if (s->across != MPI_COMM_NULL) MPI_Comm_free(&s->across);
  s->local_size = 1;
  s->local_rank = 0;
  if (shared_memory && smallest == largest && largest > 1 && s->net->n_params > 0) {
    MPI_TRY(d, MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &s->node));
    MPI_TRY(d, MPI_Comm_rank(s->node, &s->local_rank));
    MPI_TRY(d, MPI_Comm_size(s->node, &s->local_size));
  }
  if (size > s->local_size) MPI_TRY(d, MPI_Comm_split(world, s->local_rank, rank, &s->across));
  return SN_OK;
}

/* Node-collective: the gradient arenas and one parameter arena in shared memory. Each
 * rank's backward will write its gradients in place, where the slice owners read them. */
static sn_status share_memory(sn_grad_sync *s) {
  const size_t n = s->net->n_params;
  SN_TRY(sn_shared_arena_create(s->dist, s->node, n, "gradients", &s->grads));
  return sn_shared_arena_create(s->dist, s->node, s->local_rank == 0 ? n : 0, "parameters", &s->params);
}

/* Shared memory where every node can have it, else MPI alone everywhere (one line on
 * rank 0 says why), then the buckets and this rank's slices of them. */
static sn_status setup(sn_grad_sync *s, int shared_memory, size_t bucket_bytes) {
  SN_TRY(make_groups(s, shared_memory));
  if (s->local_size > 1 && sn_dist_agree(s->dist, share_memory(s)) != SN_OK) {
    if (sn_dist_rank(s->dist) == 0)
      printf("shardnet: %s; gradients are reduced through MPI alone instead\n", sn_last_error());
    sn_shared_arena_destroy(&s->grads);
    sn_shared_arena_destroy(&s->params);
    SN_TRY(make_groups(s, 0));
  }
  if (s->local_size > 1) sn_net_bind_arenas(s->net, NULL, s->grads.segment[s->local_rank]);
  return plan_buckets(s, bucket_bytes);
}

sn_status sn_grad_sync_create(sn_dist *d, sn_net *net, size_t bucket_bytes, int overlap, int shared_memory,
                              sn_grad_sync **out) {
  *out = NULL;
  sn_grad_sync *s = calloc(1, sizeof *s);
  if (!s) return sn_fail(SN_ERR_NOMEM, "cannot allocate the gradient reducer");
  s->dist = d;
  s->net = net;
  s->overlap = overlap;
  s->node = s->across = MPI_COMM_NULL;
  sn_status st = setup(s, shared_memory, bucket_bytes);
  if (st != SN_OK) {
    sn_grad_sync_destroy(s);
    return st;
  }
  *out = s;
  return SN_OK;
}

void sn_grad_sync_destroy(sn_grad_sync *s) {
  if (!s) return;
  sn_shared_arena_destroy(&s->grads);
  sn_shared_arena_destroy(&s->params);
  if (s->node != MPI_COMM_NULL) MPI_Comm_free(&s->node);
  if (s->across != MPI_COMM_NULL) MPI_Comm_free(&s->across);
  free(s->b);
  free(s->rows);
  free(s->shard);
  free(s->bucket_of_layer);
  free(s);
}

void sn_grad_sync_observe(sn_grad_sync *s, sn_bucket_observer fn, void *ctx) {
  s->observer = fn;
  s->observer_ctx = ctx;
}

int sn_grad_sync_buckets(const sn_grad_sync *s) { return s->n; }
int sn_grad_sync_node_ranks(const sn_grad_sync *s) { return s->local_size; }
double sn_grad_sync_waited(const sn_grad_sync *s) { return s->waited; }

int sn_grad_sync_shard(const sn_grad_sync *s, const sn_arena_range **ranges) {
  *ranges = s->shard;
  return s->n;
}

/* The shared parameters start as local rank 0's (all ranks hold the same values). */
static sn_status share_params(sn_grad_sync *s) {
  sn_net *net = s->net;
  float *shared = s->params.segment[0];
  if (s->local_rank == 0) memcpy(shared, net->params, net->n_params * sizeof(float));
  sn_shared_arena_fence();
  MPI_TRY(s->dist, MPI_Barrier(s->node));
  sn_shared_arena_fence();
  sn_net_bind_arenas(net, shared, NULL);
  s->params_shared = 1;
  return SN_OK;
}

sn_status sn_grad_sync_begin_step(sn_grad_sync *s) {
  s->waited = 0.0;
  if (s->local_size > 1 && !s->params_shared) return share_params(s);
  return SN_OK;
}

void sn_grad_sync_note_failure(sn_grad_sync *s, int code, const char *call) {
  if (code != MPI_SUCCESS && s->status == SN_OK) s->status = sn_dist_mpi_fail(s->dist, code, call);
}

/* Sums [lo, hi) over the node's gradient arenas, in local rank order (the same order
 * whichever rank sums), into this rank's own arena. */
static void sum_range(sn_grad_sync *s, size_t from, size_t to) {
  float *const *seg = s->grads.segment;
  float *out = seg[s->local_rank];
  const int L = s->local_size;
  const ptrdiff_t lo = (ptrdiff_t)from, hi = (ptrdiff_t)to;
  enum { CHUNK = 1024 };
#pragma omp parallel for schedule(static) if (hi - lo >= 64 * CHUNK)
  for (ptrdiff_t c = lo; c < hi; c += CHUNK) {
    const ptrdiff_t n = hi - c < CHUNK ? hi - c : CHUNK;
    float acc[CHUNK];
    memcpy(acc, seg[0] + c, (size_t)n * sizeof(float));
    for (int l = 1; l < L; l++) {
      const float *in = seg[l] + c;
#pragma omp simd
      for (ptrdiff_t i = 0; i < n; i++) acc[i] += in[i];
    }
    memcpy(out + c, acc, (size_t)n * sizeof(float));
  }
}

/* This rank's slice of b, but for the gradients built in turns: those are summed. */
static void sum_slice(sn_grad_sync *s, const bucket *b) {
  sn_grad_sync_each_summed(s, b->mine.offset, b->mine.offset + b->mine.count, sum_range, s);
}

static void zero_range(sn_grad_sync *s, size_t lo, size_t hi) {
  memset(s->net->grads + lo, 0, (hi - lo) * sizeof(float));
}

void sn_grad_sync_zero(sn_grad_sync *s) {
  /* Gradients built in turns are overwritten by their first turn: no need to clear. */
  sn_grad_sync_each_summed(s, 0, s->net->n_params, zero_range, s);
}

static void completed(sn_grad_sync *s, bucket *b) {
  b->at = DONE;
  if (s->observer) s->observer(s->observer_ctx, (int)(b - s->b), b->floats, b->t_start, sn_now());
}

/* Every rank of the node has finished b: sum this rank's slice, then across nodes. */
static void node_done(sn_grad_sync *s, bucket *b) {
  if (s->local_size > 1) {
    sn_shared_arena_fence();
    sum_slice(s, b);
  }
  if (s->across == MPI_COMM_NULL || b->mine.count == 0) {
    completed(s, b);
    return;
  }
  b->at = ACROSS;
  sn_grad_sync_note_failure(s, MPI_Iallreduce(MPI_IN_PLACE, s->net->grads + b->mine.offset, (int)b->mine.count, MPI_FLOAT,
                                 MPI_SUM, s->across, &b->request),
               "MPI_Iallreduce");
}

static void start(sn_grad_sync *s, bucket *b) {
  b->t_start = sn_now();
  if (s->local_size == 1) {
    node_done(s, b);
    return;
  }
  /* This rank's gradients of b are final: make them visible, then learn when every
   * other rank of the node has done the same. */
  sn_shared_arena_fence();
  b->at = AT_NODE;
  sn_grad_sync_note_failure(s, MPI_Ibarrier(s->node, &b->request), "MPI_Ibarrier");
}

/* Moves b on as far as it can go; with wait, until it is done. */
static void advance(sn_grad_sync *s, bucket *b, int wait) {
  while (b->at == AT_NODE || b->at == ACROSS) {
    int flag = 1;
    if (wait)
      sn_grad_sync_note_failure(s, MPI_Wait(&b->request, MPI_STATUS_IGNORE), "MPI_Wait");
    else
      sn_grad_sync_note_failure(s, MPI_Test(&b->request, &flag, MPI_STATUS_IGNORE), "MPI_Test");
    if (s->status != SN_OK) {
      b->at = DONE;
      return;
    }
    if (!flag) return;
    if (b->at == AT_NODE)
      node_done(s, b);
    else
      completed(s, b);
  }
}

void sn_grad_sync_layer_done(void *sync, int layer) {
  sn_grad_sync *s = sync;
  if (!s->overlap) return;
  int k = s->bucket_of_layer[layer];
  if (k >= 0) start(s, &s->b[k]);
  /* Non-blocking collectives move only inside MPI calls: give them one per layer. */
  for (int j = 0; j < s->n; j++) advance(s, &s->b[j], 0);
}

sn_status sn_grad_sync_finish(sn_grad_sync *s) {
  const double t0 = sn_now();
  for (int k = 0; k < s->n; k++)
    if (s->b[k].at == IDLE) start(s, &s->b[k]);
  for (int k = 0; k < s->n; k++) advance(s, &s->b[k], 1);
  for (int k = 0; k < s->n; k++) s->b[k].at = IDLE;
  s->waited += sn_now() - t0;
  sn_status st = s->status;
  s->status = SN_OK;
  return st;
}

sn_status sn_grad_sync_publish(sn_grad_sync *s) {
  if (s->local_size == 1) return SN_OK;
  const double t0 = sn_now();
  sn_shared_arena_fence();
  MPI_TRY(s->dist, MPI_Barrier(s->node));
  sn_shared_arena_fence();
  s->waited += sn_now() - t0;
  return SN_OK;
}

sn_status sn_grad_sync_gather_shards(sn_grad_sync *s, float *arena) {
  if (s->local_size == 1) return SN_OK;
  const int L = s->local_size;
  int *counts = malloc((size_t)L * sizeof *counts), *displs = malloc((size_t)L * sizeof *displs);
  if (!counts || !displs) {
    free(counts);
    free(displs);
    return sn_fail(SN_ERR_NOMEM, "cannot gather optimizer state");
  }
  int code = MPI_SUCCESS;
  for (int k = 0; k < s->n && code == MPI_SUCCESS; k++) {
    const bucket *b = &s->b[k];
    for (int l = 0; l < L; l++) {
      const size_t lo = sn_grad_sync_slice_start(s, b, l), hi = sn_grad_sync_slice_start(s, b, l + 1);
      displs[l] = (int)(lo - b->offset);
      counts[l] = (int)(hi - lo);
    }
    float *base = arena + b->offset;
    if (s->local_rank == 0)
      code = MPI_Gatherv(MPI_IN_PLACE, 0, MPI_FLOAT, base, counts, displs, MPI_FLOAT, 0, s->node);
    else
      code = MPI_Gatherv(arena + b->mine.offset, (int)b->mine.count, MPI_FLOAT, NULL, NULL, NULL, MPI_FLOAT, 0,
                         s->node);
  }
  free(counts);
  free(displs);
  return code == MPI_SUCCESS ? SN_OK : sn_dist_mpi_fail(s->dist, code, "MPI_Gatherv");
}
