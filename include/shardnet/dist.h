/* Everything MPI, behind an opaque handle: start-up, collectives on float and double
 * buffers, agreeing on errors so that no rank is left waiting in a collective, and
 * checks that replicas hold identical parameters. Only src/dist and src/io include
 * mpi.h. */
#ifndef SHARDNET_DIST_H
#define SHARDNET_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "shardnet/layer.h"
#include "shardnet/status.h"

typedef struct sn_dist sn_dist;

/* MPI_Init_thread (funneled); errors are returned, never fatal inside MPI. */
sn_status sn_dist_init(int *argc, char ***argv, sn_dist **out);
/* MPI_Finalize (when sn_dist_init initialised MPI). */
void sn_dist_finalize(sn_dist *d);

int sn_dist_rank(const sn_dist *d);
int sn_dist_size(const sn_dist *d);
/* Ranks sharing this node, and this rank's index among them. */
int sn_dist_local_size(const sn_dist *d);
int sn_dist_local_rank(const sn_dist *d);

/* OpenMP threads per rank: OMP_NUM_THREADS when set, else the node's cores divided
 * by the ranks on the node, never more than the cores this rank may run on. */
int sn_dist_default_threads(const sn_dist *d);

/* In-place sums across all ranks. */
sn_status sn_dist_sum_floats(sn_dist *d, float *values, size_t n);
sn_status sn_dist_sum_doubles(sn_dist *d, double *values, size_t n);
sn_status sn_dist_max_doubles(sn_dist *d, double *values, size_t n);
sn_status sn_dist_broadcast(sn_dist *d, void *bytes, size_t n, int root);

/* Collective: every rank passes its own status. If any failed, every rank returns
 * the status and message of the lowest failing rank, and sn_dist_failed_rank()
 * names it; otherwise SN_OK everywhere. Call at every point where one rank alone
 * may fail, before the next collective. */
sn_status sn_dist_agree(sn_dist *d, sn_status local);
/* The rank whose error the last failed sn_dist_agree carried (-1 if none). */
int sn_dist_failed_rank(const sn_dist *d);
/* Records that every rank reached the same error by itself (a NaN in a reduced
 * loss, say), so that only rank 0 reports it. Returns status. */
sn_status sn_dist_common_failure(sn_dist *d, sn_status status);

/* Collective: fails on every rank unless all ranks hold bitwise-identical values
 * (compared by checksum); `what` names them in the message. */
sn_status sn_dist_check_identical(sn_dist *d, const float *values, size_t n, const char *what);

/* Collective: rank 0 receives every rank's text concatenated in rank order in
 * *all (malloc'ed; NULL elsewhere). */
sn_status sn_dist_gather_text(sn_dist *d, const char *mine, char **all);
/* Collective: waits for every rank (aligns trace clocks). */
sn_status sn_dist_barrier(sn_dist *d);

/* A reducer that sums doubles across ranks (batch-norm sync). */
sn_reducer sn_dist_reducer(sn_dist *d);

/* Ends every rank at once (the last resort when agreement is impossible). */
_Noreturn void sn_dist_abort(sn_dist *d, int code);

#endif
