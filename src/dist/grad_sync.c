/* Bucketed, overlapped gradient all-reduce with MPI_Iallreduce. */
#include "shardnet/grad_sync.h"

#include <stdlib.h>

#include "dist/dist_comm.h"
#include "shardnet/timer.h"

typedef struct {
  size_t offset, floats;  /* range of the gradient arena */
  int first_layer;        /* the bucket is ready once backward has done this layer */
  MPI_Request request;
  int started, done;
  double t_start;
} bucket;

struct sn_grad_sync {
  sn_dist *dist;
  float *grads;
  int overlap;
  int n;
  bucket *b;
  int *bucket_of_layer;   /* bucket whose first_layer is this layer, or -1 */
  sn_status status;       /* the first MPI failure of this step */
  double waited;
  sn_bucket_observer observer;
  void *observer_ctx;
};

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

sn_status sn_grad_sync_create(sn_dist *d, sn_net *net, size_t bucket_bytes, int overlap, sn_grad_sync **out) {
  sn_grad_sync *s = calloc(1, sizeof *s);
  if (!s) return sn_fail(SN_ERR_NOMEM, "cannot allocate the gradient reducer");
  s->dist = d;
  s->grads = net->grads;
  s->overlap = overlap;
  s->b = calloc((size_t)net->n_layers + 1, sizeof *s->b);
  s->bucket_of_layer = malloc((size_t)net->n_layers * sizeof *s->bucket_of_layer);
  if (!s->b || !s->bucket_of_layer) {
    sn_grad_sync_destroy(s);
    return sn_fail(SN_ERR_NOMEM, "cannot allocate the gradient reducer");
  }
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
  for (int k = 0; k < s->n; k++) s->bucket_of_layer[s->b[k].first_layer] = k;
  *out = s;
  return SN_OK;
}

void sn_grad_sync_destroy(sn_grad_sync *s) {
  if (!s) return;
  free(s->b);
  free(s->bucket_of_layer);
  free(s);
}

void sn_grad_sync_observe(sn_grad_sync *s, sn_bucket_observer fn, void *ctx) {
  s->observer = fn;
  s->observer_ctx = ctx;
}

int sn_grad_sync_buckets(const sn_grad_sync *s) { return s->n; }

double sn_grad_sync_waited(const sn_grad_sync *s) { return s->waited; }

static void completed(sn_grad_sync *s, bucket *b) {
  b->done = 1;
  if (s->observer) s->observer(s->observer_ctx, (int)(b - s->b), b->floats, b->t_start, sn_now());
}

static void start(sn_grad_sync *s, bucket *b) {
  b->started = 1;
  b->t_start = sn_now();
  int code = MPI_Iallreduce(MPI_IN_PLACE, s->grads + b->offset, (int)b->floats, MPI_FLOAT, MPI_SUM,
                            sn_dist_comm(s->dist), &b->request);
  if (code != MPI_SUCCESS && s->status == SN_OK) s->status = sn_dist_mpi_fail(s->dist, code, "MPI_Iallreduce");
}

/* Lets MPI move outstanding reductions along (non-blocking collectives progress
 * only inside MPI calls) and notes the ones that finished. */
static void progress(sn_grad_sync *s) {
  for (int k = 0; k < s->n; k++) {
    bucket *b = &s->b[k];
    if (!b->started || b->done) continue;
    int flag = 0;
    int code = MPI_Test(&b->request, &flag, MPI_STATUS_IGNORE);
    if (code != MPI_SUCCESS && s->status == SN_OK) s->status = sn_dist_mpi_fail(s->dist, code, "MPI_Test");
    if (flag) completed(s, b);
  }
}

void sn_grad_sync_layer_done(void *sync, int layer) {
  sn_grad_sync *s = sync;
  if (!s->overlap || s->dist == NULL) return;
  int k = s->bucket_of_layer[layer];
  if (k >= 0) start(s, &s->b[k]);
  progress(s);
}

sn_status sn_grad_sync_finish(sn_grad_sync *s) {
  double t0 = sn_now();
  for (int k = 0; k < s->n; k++)
    if (!s->b[k].started) start(s, &s->b[k]);
  for (int k = 0; k < s->n; k++) {
    bucket *b = &s->b[k];
    if (b->done) continue;
    int code = MPI_Wait(&b->request, MPI_STATUS_IGNORE);
    if (code != MPI_SUCCESS && s->status == SN_OK) s->status = sn_dist_mpi_fail(s->dist, code, "MPI_Wait");
    completed(s, b);
  }
  s->waited = sn_now() - t0;
  for (int k = 0; k < s->n; k++) s->b[k].started = s->b[k].done = 0;
  sn_status st = s->status;
  s->status = SN_OK;
  return st;
}
