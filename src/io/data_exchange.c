/* The shard placement's sample exchange: one MPI_Ialltoallv of packed records per
 * global batch, started when the batch is queued (steps ahead of its use). */
#include "io/data_exchange.h"

#include <stdlib.h>
#include <string.h>

#include "dist/dist_comm.h"
#include "io/data_store.h"
#include "shardnet/part.h"

static sn_status grow(uint8_t **buf, size_t *cap, size_t want, size_t record) {
  if (want <= *cap) return SN_OK;
  uint8_t *bigger = realloc(*buf, want * record + 1);
  if (!bigger) return sn_fail(SN_ERR_NOMEM, "cannot allocate %zu samples for the shard exchange", want);
  *buf = bigger;
  *cap = want;
  return SN_OK;
}

sn_status sn_exchange_start(sn_exchange *ex, const sn_dataset *ds, MPI_Comm comm, MPI_Datatype record,
                            const uint32_t *batch, int b) {
  const sn_data_store *s = ds->store;
  const int P = s->size, me = s->rank;
  const size_t bytes = ds->image_bytes + ds->answer_bytes;
  if (!ex->counts) ex->counts = calloc(4 * (size_t)P, sizeof *ex->counts);
  const size_t slice = sn_part_max((size_t)b, P);
  if (slice > ex->from_cap) {
    free(ex->from);
    ex->from = malloc(slice * sizeof *ex->from);
    ex->from_cap = ex->from ? slice : 0;
  }
  if (!ex->counts || !ex->from) return sn_fail(SN_ERR_NOMEM, "cannot allocate the shard exchange");
  int *send_count = ex->counts, *send_displ = send_count + P, *recv_count = send_displ + P, *recv_displ = recv_count + P;
  memset(ex->counts, 0, 4 * (size_t)P * sizeof *ex->counts);
  size_t lo, hi;
  sn_part((size_t)b, me, P, &lo, &hi);
  /* What each rank's slice needs from me, and what mine needs from each owner. */
  for (int q = 0; q < P; q++) {
    size_t a, z;
    sn_part((size_t)b, q, P, &a, &z);
    for (size_t j = a; j < z; j++) {
      const int owner = sn_part_owner(ds->n, P, batch[j]);
      if (q == me && owner != me) recv_count[owner]++;
      if (owner == me && q != me) send_count[q]++;
    }
  }
  size_t sends = 0, recvs = 0;
  for (int q = 0; q < P; q++) {
    send_displ[q] = (int)sends;
    recv_displ[q] = (int)recvs;
    sends += (size_t)send_count[q];
    recvs += (size_t)recv_count[q];
  }
  SN_TRY(grow(&ex->send, &ex->send_cap, sends, bytes));
  SN_TRY(grow(&ex->recv, &ex->recv_cap, recvs, bytes));
  /* Pack in rank order, each rank's samples in batch order: the order it unpacks in. */
  uint8_t *out = ex->send;
  for (int q = 0; q < P; q++) {
    size_t a, z;
    sn_part((size_t)b, q, P, &a, &z);
    for (size_t j = a; q != me && j < z; j++) {
      if (sn_part_owner(ds->n, P, batch[j]) != me) continue;
      memcpy(out, sn_store_image(ds, batch[j]), ds->image_bytes);
      memcpy(out + ds->image_bytes, sn_store_answer(ds, batch[j]), ds->answer_bytes);
      out += bytes;
    }
  }
  /* recv_displ counts up as each owner's records are assigned, then is set back */
  for (size_t j = lo; j < hi; j++) {
    const int owner = sn_part_owner(ds->n, P, batch[j]);
    ex->from[j - lo] = owner == me ? -1 : recv_displ[owner]++;
  }
  for (int q = 0; q < P; q++) recv_displ[q] -= recv_count[q];
  int code = MPI_Ialltoallv(ex->send, send_count, send_displ, record, ex->recv, recv_count, recv_displ, record, comm,
                            &ex->request);
  if (code != MPI_SUCCESS) return sn_dist_mpi_fail(s->dist, code, "MPI_Ialltoallv");
  ex->active = 1;
  return SN_OK;
}

sn_status sn_exchange_finish(sn_exchange *ex, const sn_dataset *ds) {
  if (!ex->active) return SN_OK;
  ex->active = 0;
  int code = MPI_Wait(&ex->request, MPI_STATUS_IGNORE);
  return code == MPI_SUCCESS ? SN_OK : sn_dist_mpi_fail(ds->store->dist, code, "MPI_Ialltoallv (the shard exchange)");
}

void sn_exchange_free(sn_exchange *ex) {
  if (ex->active) MPI_Wait(&ex->request, MPI_STATUS_IGNORE);
  free(ex->send);
  free(ex->recv);
  free(ex->counts);
  free(ex->from);
  *ex = (sn_exchange){0};
}
