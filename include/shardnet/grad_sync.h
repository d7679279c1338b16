/* Gradient all-reduce in buckets: contiguous ranges of the gradient arena, in
 * reverse layer order, each started with a non-blocking all-reduce as soon as
 * backward has finished every layer in it, and progressed between layers, so that
 * communication hides behind the backward pass of earlier layers. */
#ifndef SHARDNET_GRAD_SYNC_H
#define SHARDNET_GRAD_SYNC_H

#include <stddef.h>

#include "shardnet/dist.h"
#include "shardnet/net.h"

typedef struct sn_grad_sync sn_grad_sync;

/* Called when a bucket's reduction has been seen complete (for traces). */
typedef void (*sn_bucket_observer)(void *ctx, int bucket, size_t floats, double started, double finished);

/* Plans buckets of about bucket_bytes over net's gradient arena (a layer is never
 * split). overlap = 0 reduces every bucket after backward instead (for comparison). */
sn_status sn_grad_sync_create(sn_dist *d, sn_net *net, size_t bucket_bytes, int overlap, sn_grad_sync **out);
void sn_grad_sync_destroy(sn_grad_sync *s);
void sn_grad_sync_observe(sn_grad_sync *s, sn_bucket_observer fn, void *ctx);

/* An sn_pass.after_backward hook: pass the sn_grad_sync as its context. */
void sn_grad_sync_layer_done(void *sync, int layer);
/* Completes every bucket (starting those not yet started); afterwards the arena
 * holds the sums over all ranks. Call once per step after backward. */
sn_status sn_grad_sync_finish(sn_grad_sync *s);

int sn_grad_sync_buckets(const sn_grad_sync *s);
/* Seconds the last sn_grad_sync_finish spent waiting for communication. */
double sn_grad_sync_waited(const sn_grad_sync *s);

#endif
