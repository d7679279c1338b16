/* MPI start-up, collectives, error agreement and replica checks. */
#define _POSIX_C_SOURCE 200809L
#include <mpi.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dist/dist_comm.h"
#include "shardnet/version.h"

struct sn_dist {
  MPI_Comm comm, node;
  int rank, size, local_rank, local_size;
  int initialised_mpi;
  int failed_rank;
};

MPI_Comm sn_dist_comm(const sn_dist *d) { return d->comm; }
MPI_Comm sn_dist_node_comm(const sn_dist *d) { return d->node; }

sn_status sn_dist_mpi_fail(const sn_dist *d, int code, const char *call) {
  char text[MPI_MAX_ERROR_STRING] = "";
  int len = 0;
  MPI_Error_string(code, text, &len);
  return sn_fail(SN_ERR_MPI, "%s failed on rank %d: %s", call, d ? d->rank : -1, text);
}

sn_status sn_dist_init(int *argc, char ***argv, sn_dist **out) {
  sn_dist *d = calloc(1, sizeof *d);
  if (!d) return sn_fail(SN_ERR_NOMEM, "cannot allocate the MPI state");
  d->failed_rank = -1;
  int ready = 0, provided;
  MPI_Initialized(&ready);
  if (!ready) {
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
      free(d);
      return sn_fail(SN_ERR_MPI, "MPI_Init_thread failed");
    }
    d->initialised_mpi = 1;
  }
  *out = d;
  MPI_TRY(d, MPI_Comm_dup(MPI_COMM_WORLD, &d->comm));
  /* Failures come back as codes so that shardnet can say what failed and where. */
  MPI_TRY(d, MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_RETURN));
  MPI_TRY(d, MPI_Comm_rank(d->comm, &d->rank));
  MPI_TRY(d, MPI_Comm_size(d->comm, &d->size));
  MPI_TRY(d, MPI_Comm_split_type(d->comm, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &d->node));
  MPI_TRY(d, MPI_Comm_rank(d->node, &d->local_rank));
  MPI_TRY(d, MPI_Comm_size(d->node, &d->local_size));
  return SN_OK;
}

void sn_dist_finalize(sn_dist *d) {
  if (!d) return;
  if (d->node != MPI_COMM_NULL && d->node) MPI_Comm_free(&d->node);
  if (d->comm != MPI_COMM_NULL && d->comm) MPI_Comm_free(&d->comm);
  if (d->initialised_mpi) MPI_Finalize();
  free(d);
}

int sn_dist_rank(const sn_dist *d) { return d->rank; }
int sn_dist_size(const sn_dist *d) { return d->size; }
int sn_dist_local_size(const sn_dist *d) { return d->local_size; }
int sn_dist_local_rank(const sn_dist *d) { return d->local_rank; }

int sn_dist_default_threads(const sn_dist *d) {
  const char *env = getenv("OMP_NUM_THREADS");
  if (env && atoi(env) > 0) return atoi(env);
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  int share = (int)(cores / (d->local_size > 0 ? d->local_size : 1));
  if (share < 1) share = 1;
  /* A rank bound to fewer cores (mpirun --bind-to core, srun --cpu-bind) gets that many. */
  int allowed = omp_get_num_procs();
  return share < allowed ? share : allowed;
}

sn_status sn_dist_sum_floats(sn_dist *d, float *values, size_t n) {
  /* MPI counts are int: reduce in chunks so arenas past 2^31 floats still work. */
  const size_t chunk = (size_t)1 << 30;
  for (size_t off = 0; off < n; off += chunk) {
    int count = (int)(n - off < chunk ? n - off : chunk);
    MPI_TRY(d, MPI_Allreduce(MPI_IN_PLACE, values + off, count, MPI_FLOAT, MPI_SUM, d->comm));
  }
  return SN_OK;
}

sn_status sn_dist_sum_doubles(sn_dist *d, double *values, size_t n) {
  MPI_TRY(d, MPI_Allreduce(MPI_IN_PLACE, values, (int)n, MPI_DOUBLE, MPI_SUM, d->comm));
  return SN_OK;
}

sn_status sn_dist_max_doubles(sn_dist *d, double *values, size_t n) {
  MPI_TRY(d, MPI_Allreduce(MPI_IN_PLACE, values, (int)n, MPI_DOUBLE, MPI_MAX, d->comm));
  return SN_OK;
}

sn_status sn_dist_broadcast(sn_dist *d, void *bytes, size_t n, int root) {
  /* MPI counts are int: arenas past 2 GB go in pieces. */
  const size_t chunk = (size_t)1 << 30;
  for (size_t off = 0; off < n; off += chunk) {
    int count = (int)(n - off < chunk ? n - off : chunk);
    MPI_TRY(d, MPI_Bcast((char *)bytes + off, count, MPI_BYTE, root, d->comm));
  }
  return SN_OK;
}

sn_status sn_dist_agree(sn_dist *d, sn_status local) {
  /* The lowest failing rank wins; its status and message travel to everyone. */
  int mine = local != SN_OK ? d->rank : d->size, first;
  MPI_TRY(d, MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, d->comm));
  if (first == d->size) {
    d->failed_rank = -1;
    return SN_OK;
  }
  d->failed_rank = first;
  struct {
    int status;
    char message[1000];
  } report = {(int)local, ""};
  if (d->rank == first) snprintf(report.message, sizeof report.message, "%s", sn_last_error());
  MPI_TRY(d, MPI_Bcast(&report, (int)sizeof report, MPI_BYTE, first, d->comm));
  return sn_fail((sn_status)report.status, "%s", report.message);
}

int sn_dist_failed_rank(const sn_dist *d) { return d->failed_rank; }

sn_status sn_dist_common_failure(sn_dist *d, sn_status status) {
  d->failed_rank = 0;
  return status;
}

/* FNV-1a over the bytes: any bit that differs changes the sum with near certainty. */
static uint64_t checksum(const float *values, size_t n) {
  const unsigned char *p = (const unsigned char *)values;
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n * sizeof(float); i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

sn_status sn_dist_check_identical(sn_dist *d, const float *values, size_t n, const char *what) {
  uint64_t mine = checksum(values, n), lo, hi;
  MPI_TRY(d, MPI_Allreduce(&mine, &lo, 1, MPI_UINT64_T, MPI_MIN, d->comm));
  MPI_TRY(d, MPI_Allreduce(&mine, &hi, 1, MPI_UINT64_T, MPI_MAX, d->comm));
  if (lo != hi)
    return sn_fail(SN_ERR_MPI, "%s differ between ranks (rank %d checksum %016llx)", what,
                   d->rank, (unsigned long long)mine);
  return SN_OK;
}

sn_status sn_dist_gather_text(sn_dist *d, const char *mine, char **all) {
  *all = NULL;
  int len = (int)strlen(mine), *lens = NULL, *displs = NULL, total = 0;
  if (d->rank == 0) {
    lens = calloc((size_t)d->size, sizeof *lens);
    displs = calloc((size_t)d->size, sizeof *displs);
    if (!lens || !displs) {
      free(lens);
      free(displs);
      return sn_fail(SN_ERR_NOMEM, "cannot gather text");
    }
  }
  int code = MPI_Gather(&len, 1, MPI_INT, lens, 1, MPI_INT, 0, d->comm);
  if (code == MPI_SUCCESS && d->rank == 0) {
    for (int r = 0; r < d->size; r++) {
      displs[r] = total;
      total += lens[r];
    }
    *all = malloc((size_t)total + 1);
    if (*all) (*all)[total] = '\0';
  }
  if (code == MPI_SUCCESS)
    code = MPI_Gatherv(mine, len, MPI_CHAR, d->rank == 0 ? *all : NULL, lens, displs, MPI_CHAR, 0, d->comm);
  free(lens);
  free(displs);
  return code == MPI_SUCCESS ? SN_OK : sn_dist_mpi_fail(d, code, "MPI_Gatherv");
}

sn_status sn_dist_barrier(sn_dist *d) {
  MPI_TRY(d, MPI_Barrier(d->comm));
  return SN_OK;
}

static void reducer_sum(void *ctx, double *values, int count) {
  sn_dist *d = ctx;
  if (sn_dist_sum_doubles(d, values, (size_t)count) != SN_OK) sn_dist_abort(d, 1);
}

sn_reducer sn_dist_reducer(sn_dist *d) {
  sn_reducer r = {reducer_sum, d};
  return r;
}

void sn_dist_abort(sn_dist *d, int code) {
  MPI_Abort(d ? d->comm : MPI_COMM_WORLD, code);
  abort();
}

const char *sn_mpi_library_version(void) {
  static char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  if (MPI_Get_library_version(text, &len) != MPI_SUCCESS) return "unknown";
  text[strcspn(text, "\n,")] = '\0';
  return text;
}
