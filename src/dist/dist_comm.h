/* The MPI communicator behind an sn_dist, for src/io (parallel HDF5). */
#ifndef SN_DIST_COMM_H
#define SN_DIST_COMM_H

#include <mpi.h>

#include "shardnet/dist.h"

MPI_Comm sn_dist_comm(const sn_dist *d);
/* The ranks that share this node's memory (MPI_COMM_TYPE_SHARED). */
MPI_Comm sn_dist_node_comm(const sn_dist *d);
/* Turns a failed MPI call's code into an SN_ERR_MPI naming the call and the rank. */
sn_status sn_dist_mpi_fail(const sn_dist *d, int code, const char *call);

/* Returns the sn_dist_mpi_fail status of an MPI call that did not succeed. */
#define MPI_TRY(d, call)                                                                  \
  do {                                                                                    \
    int mpi_try_code_ = (call);                                                           \
    if (mpi_try_code_ != MPI_SUCCESS) return sn_dist_mpi_fail((d), mpi_try_code_, #call); \
  } while (0)

#endif
