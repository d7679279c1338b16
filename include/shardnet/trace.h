/* Chrome trace files (JSON, opened by Perfetto or chrome://tracing): one track group
 * per rank with compute (forward and backward per layer), communication (all-reduce
 * buckets) and I/O (data, checkpoints) rows. Events are kept in memory and gathered
 * to rank 0 at the end. */
#ifndef SHARDNET_TRACE_H
#define SHARDNET_TRACE_H

#include "shardnet/dist.h"

typedef enum { SN_TRACK_COMPUTE, SN_TRACK_COMM, SN_TRACK_IO } sn_track;

typedef struct sn_trace sn_trace;

/* Collective (aligns the ranks' clocks with a barrier). */
sn_status sn_trace_create(sn_dist *d, sn_trace **out);
void sn_trace_destroy(sn_trace *t);
/* Records a complete event [start, end] in sn_now() seconds; name is copied. */
void sn_trace_add(sn_trace *t, sn_track track, const char *name, double start, double end);
/* Collective: rank 0 writes every rank's events to path. */
sn_status sn_trace_write(sn_trace *t, const char *path);

#endif
