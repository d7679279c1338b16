/* The state behind an sn_grad_sync, shared by grad_sync.c (buckets, reduction,
 * shards) and grad_sync_rows.c (gradients built by rows in turns). */
#ifndef SN_GRAD_SYNC_IMPL_H
#define SN_GRAD_SYNC_IMPL_H

#include <mpi.h>

#include "dist/shared_arena.h"
#include "shardnet/grad_sync.h"

/* A gradient the node's ranks build in turns (sn_grad_builder): its rows are split
 * at the slice boundaries of its bucket, and part q is summed in local rank q's arena. */
typedef struct {
  size_t offset, count, row_len;  /* range of the gradient arena, floats per row */
  int bucket;
} shared_rows;

/* A bucket moves through these stages once per step. */
typedef enum {
  IDLE,         /* backward has not finished it here */
  AT_NODE,      /* waiting for the node's other ranks to finish it (MPI_Ibarrier) */
  ACROSS,       /* this rank's slice is being summed across nodes (MPI_Iallreduce) */
  DONE
} stage;

typedef struct {
  size_t offset, floats;  /* range of the gradient arena */
  sn_arena_range mine;    /* this rank's slice of it */
  int first_layer;        /* the bucket is ready once backward has done this layer */
  stage at;
  MPI_Request request;
  double t_start;
} bucket;

struct sn_grad_sync {
  sn_dist *dist;
  sn_net *net;
  int overlap;
  /* local: ranks sharing memory (1 = none share) and this rank's index among them */
  int local_size, local_rank;
  MPI_Comm node;          /* those ranks (MPI_COMM_NULL when local_size is 1) */
  MPI_Comm across;        /* the ranks of the same local index on every node; NULL alone */
  sn_shared_arena grads, params;
  int params_shared;
  int n;
  bucket *b;
  sn_arena_range *shard;  /* b[k].mine for every k */
  shared_rows *rows;      /* gradients built in turns (grad_sync_rows.c) */
  int n_rows;
  int *bucket_of_layer;   /* bucket whose first_layer is this layer, or -1 */
  sn_status status;       /* the first MPI failure of this step */
  double waited;
  sn_bucket_observer observer;
  void *observer_ctx;
};

/* Where local rank l's slice of b starts (l = local_size: where b ends). */
size_t sn_grad_sync_slice_start(const sn_grad_sync *s, const bucket *b, int l);
/* Records the first failed MPI call of a step. */
void sn_grad_sync_note_failure(sn_grad_sync *s, int code, const char *call);

/* grad_sync_rows.c: picks the gradients built in turns (before slices are planned);
 * each gradient range not built in turns, in order, for fn. */
sn_status sn_grad_sync_plan_rows(sn_grad_sync *s);
void sn_grad_sync_each_summed(const sn_grad_sync *s, size_t lo, size_t hi, void (*fn)(sn_grad_sync *, size_t, size_t),
                              sn_grad_sync *ctx);

#endif
