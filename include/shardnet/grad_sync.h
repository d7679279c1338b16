/* Gradient reduction and the sharded optimizer step, in buckets: contiguous ranges
 * of the gradient arena, in reverse layer order, each reduced as soon as backward has
 * finished every layer in it, progressed between layers, so that communication hides
 * behind the backward pass of earlier layers.
 *
 * Two ways, chosen at creation:
 * - shared memory (the default when every node runs the same number of ranks): the
 *   ranks of a node keep their gradient arenas, and one copy of the parameters, in
 *   memory they all map. Local rank l of L owns slice l of every bucket: once all of
 *   the node's ranks have finished a bucket (a non-blocking barrier), it sums that
 *   slice over the L gradient arenas in rank order (large dense kernels are instead
 *   built in turns, already summed: sn_grad_sync_builder), and across nodes
 *   all-reduces it with the ranks of the same local index (MPI_Iallreduce). The optimizer then runs
 *   on those slices alone, writing the node's shared parameters, and a node barrier
 *   publishes them. Nothing is copied and no rank repeats another's update.
 * - MPI only (train.shared_memory: false, or nodes of different sizes): every rank
 *   all-reduces whole buckets with MPI_Iallreduce and updates every parameter. */
#ifndef SHARDNET_GRAD_SYNC_H
#define SHARDNET_GRAD_SYNC_H

#include <stddef.h>

#include "shardnet/dist.h"
#include "shardnet/net.h"

typedef struct sn_grad_sync sn_grad_sync;

/* A range [offset, offset + count) of the parameter arena. */
typedef struct {
  size_t offset, count;
} sn_arena_range;

/* Called when a bucket's reduction has been seen complete (for traces). */
typedef void (*sn_bucket_observer)(void *ctx, int bucket, size_t floats, double started, double finished);

/* Collective. Plans buckets of about bucket_bytes over net's gradient arena (a layer
 * is never split); overlap = 0 reduces every bucket after backward instead (for
 * comparison). With shared_memory, moves net's gradient arena into node-shared
 * memory (its parameters follow at the first sn_grad_sync_begin_step). */
sn_status sn_grad_sync_create(sn_dist *d, sn_net *net, size_t bucket_bytes, int overlap, int shared_memory,
                              sn_grad_sync **out);
void sn_grad_sync_destroy(sn_grad_sync *s);
void sn_grad_sync_observe(sn_grad_sync *s, sn_bucket_observer fn, void *ctx);

/* Collective; call before each step's forward pass. The first call moves the
 * parameters (as they are then, e.g. after a resume) into node-shared memory. */
sn_status sn_grad_sync_begin_step(sn_grad_sync *s);
/* Clears the gradients for the next backward (in place of sn_net_zero_grad: the
 * gradients built in turns need no clearing). */
void sn_grad_sync_zero(sn_grad_sync *s);
/* The sn_pass.builder for backward: with shared memory, the node's ranks build each
 * large gradient marked by_rows (a dense kernel's) in turns, straight into the arena
 * of the rank that owns each part of its rows, instead of each writing a whole copy
 * for the owners to sum. */
sn_grad_builder sn_grad_sync_builder(sn_grad_sync *s);
/* An sn_pass.after_backward hook: pass the sn_grad_sync as its context. */
void sn_grad_sync_layer_done(void *sync, int layer);
/* Completes every bucket (starting those not yet started). Afterwards this rank's
 * shard of the gradient arena (sn_grad_sync_shard) holds the sums over all ranks. */
sn_status sn_grad_sync_finish(sn_grad_sync *s);
/* The ranges of the parameter arena this rank updates; *ranges stays valid until
 * sn_grad_sync_destroy. Together, the shards of a node's ranks cover the arena. */
int sn_grad_sync_shard(const sn_grad_sync *s, const sn_arena_range **ranges);
/* Collective; call after updating the shard: every rank of the node then sees the
 * new parameters. */
sn_status sn_grad_sync_publish(sn_grad_sync *s);
/* Collective: local rank 0 of each node receives every node rank's shard of arena
 * (n_params floats in the parameter layout, such as optimizer moments). */
sn_status sn_grad_sync_gather_shards(sn_grad_sync *s, float *arena);

int sn_grad_sync_buckets(const sn_grad_sync *s);
/* Ranks per node that share gradients and parameters in memory (1: none share). */
int sn_grad_sync_node_ranks(const sn_grad_sync *s);
/* Seconds the last step spent in sn_grad_sync_finish and sn_grad_sync_publish:
 * waiting on other ranks, and summing slices that were not summed during backward. */
double sn_grad_sync_waited(const sn_grad_sync *s);

#endif
