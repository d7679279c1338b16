/* Float arrays in memory that every rank of a node maps (POSIX shared memory): each
 * rank owns one segment and sees every segment of its node. Stores become visible
 * to the node's other ranks across sn_shared_arena_fence, a node barrier, and
 * sn_shared_arena_fence again. */
#ifndef SN_SHARED_ARENA_H
#define SN_SHARED_ARENA_H

#include <mpi.h>
#include <stddef.h>

#include "shardnet/dist.h"

typedef struct {
  void *base;
  size_t bytes;
  int n_segments;
  float **segment;   /* segment[l]: local rank l's floats (NULL where it has none) */
} sn_shared_arena;

/* Collective over node (ranks that share memory): this rank contributes a segment of
 * `floats` floats (0 for none), zeroed. Fails on every rank of the node, with the
 * failing rank's reason, when any of them cannot create or map it; what names the
 * arena in that message. The name in /dev/shm is removed as soon as all have mapped
 * it, so nothing is left behind however the job ends. */
sn_status sn_shared_arena_create(const sn_dist *d, MPI_Comm node, size_t floats, const char *what,
                                 sn_shared_arena *out);
void sn_shared_arena_destroy(sn_shared_arena *a);
/* Orders this rank's loads and stores around a node barrier (see above). */
void sn_shared_arena_fence(void);

#endif
