/* The shard placement's exchange: each rank holds a contiguous part of the samples;
 * for a global batch, every owner sends the samples it holds to the ranks whose
 * slice of the batch needs them, in one non-blocking all-to-all. Every rank knows
 * the whole batch, so nobody needs to be told who wants what. */
#ifndef SN_IO_DATA_EXCHANGE_H
#define SN_IO_DATA_EXCHANGE_H

#include <mpi.h>
#include <stdint.h>

#include "shardnet/dataset.h"

typedef struct {
  MPI_Request request;
  int active;
  uint8_t *send, *recv;            /* packed records: pixels, then label or targets */
  size_t send_cap, recv_cap;       /* in records; they grow to the largest batch seen */
  int *counts;                     /* 4 x P: send counts and displacements, receive counts and displacements */
  int *from;                       /* for each sample of this rank's slice: its record in recv, or -1 when held here */
  size_t from_cap;
} sn_exchange;

/* Collective over comm: starts moving the samples of this rank's slice of batch[0..b)
 * (part r of P, sn_part) from their owners. record is the contiguous datatype of one
 * packed record. */
sn_status sn_exchange_start(sn_exchange *ex, const sn_dataset *ds, MPI_Comm comm, MPI_Datatype record,
                            const uint32_t *batch, int b);

/* Waits for it; then sample k of the slice is held here (ex->from[k] < 0) or record
 * ex->from[k] of ex->recv. */
sn_status sn_exchange_finish(sn_exchange *ex, const sn_dataset *ds);

void sn_exchange_free(sn_exchange *ex);

#endif
