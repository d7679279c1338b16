/* Node-shared float arenas: local rank 0 creates a POSIX shared-memory object, the
 * others map it by name, and the name is unlinked once all of them hold it. */
#define _POSIX_C_SOURCE 200809L
#include "dist/shared_arena.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dist/dist_comm.h"

/* What local rank 0 tells the others: the object's name, or why it could not make it. */
typedef struct {
  char name[64];
  char why[256];
} creation;

static void *map(int fd, size_t bytes) {
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  return p == MAP_FAILED ? NULL : p;
}

/* Local rank 0: creates and maps the object; on failure c->why says why. */
static void *create_object(size_t bytes, creation *c) {
  static int serial;
  snprintf(c->name, sizeof c->name, "/shardnet-%ld-%d", (long)getpid(), serial++);
  int fd = shm_open(c->name, O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd < 0) {
    snprintf(c->why, sizeof c->why, "cannot create /dev/shm%s: %s", c->name, strerror(errno));
    return NULL;
  }
  /* Reserve every page now: tmpfs running out later would be a SIGBUS mid-step. */
  int err = posix_fallocate(fd, 0, (off_t)bytes);
  void *base = err == 0 ? map(fd, bytes) : NULL;
  if (err != 0)
    snprintf(c->why, sizeof c->why, "cannot reserve its pages in /dev/shm: %s", strerror(err));
  else if (!base)
    snprintf(c->why, sizeof c->why, "cannot map /dev/shm%s: %s", c->name, strerror(errno));
  close(fd);
  if (!base) shm_unlink(c->name);
  return base;
}

static void *open_object(const creation *c, size_t bytes, char *why, size_t cap) {
  int fd = shm_open(c->name, O_RDWR, 0600);
  void *base = fd >= 0 ? map(fd, bytes) : NULL;
  if (!base) snprintf(why, cap, "cannot map /dev/shm%s: %s", c->name, strerror(errno));
  if (fd >= 0) close(fd);
  return base;
}

/* Node-collective: the lowest node rank whose why is not empty, and its why (or -1). */
static sn_status agree_on_node(const sn_dist *d, MPI_Comm node, int me, int size, char *why, size_t cap,
                               int *failed) {
  int mine = why[0] ? me : size;
  MPI_TRY(d, MPI_Allreduce(&mine, failed, 1, MPI_INT, MPI_MIN, node));
  if (*failed == size) {
    *failed = -1;
    return SN_OK;
  }
  MPI_TRY(d, MPI_Bcast(why, (int)cap, MPI_CHAR, *failed, node));
  return SN_OK;
}

sn_status sn_shared_arena_create(const sn_dist *d, MPI_Comm node, size_t floats, const char *what,
                                 sn_shared_arena *out) {
  *out = (sn_shared_arena){0};
  int me, size;
  MPI_TRY(d, MPI_Comm_rank(node, &me));
  MPI_TRY(d, MPI_Comm_size(node, &size));
  unsigned long long mine = floats, *counts = calloc((size_t)size, sizeof *counts);
  out->segment = calloc((size_t)size, sizeof *out->segment);
  if (!counts || !out->segment) {
    free(counts);
    free(out->segment);
    return sn_fail(SN_ERR_NOMEM, "cannot allocate the %s arena", what);
  }
  out->n_segments = size;
  const char *call = "MPI_Allgather";
  int code = MPI_Allgather(&mine, 1, MPI_UNSIGNED_LONG_LONG, counts, 1, MPI_UNSIGNED_LONG_LONG, node);
  /* Every segment starts on its own page. */
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  for (int l = 0; l < size; l++) out->bytes += (counts[l] * sizeof(float) + page - 1) / page * page;
  if (code == MPI_SUCCESS && out->bytes == 0) {
    free(counts);
    return SN_OK;
  }
  creation c = {0};
  if (code == MPI_SUCCESS && me == 0) out->base = create_object(out->bytes, &c);
  if (code == MPI_SUCCESS) {
    call = "MPI_Bcast";
    code = MPI_Bcast(&c, (int)sizeof c, MPI_BYTE, 0, node);
  }
  if (code != MPI_SUCCESS) {
    free(counts);
    sn_shared_arena_destroy(out);
    return sn_dist_mpi_fail(d, code, call);
  }
  char why[256] = "";
  if (c.why[0]) snprintf(why, sizeof why, "%s", c.why);
  else if (me != 0) out->base = open_object(&c, out->bytes, why, sizeof why);
  int failed;
  sn_status st = agree_on_node(d, node, me, size, why, sizeof why, &failed);
  if (me == 0 && !c.why[0]) shm_unlink(c.name);
  if (st == SN_OK && failed >= 0)
    st = sn_fail(SN_ERR_IO, "cannot place the %s (%.2f MB) in memory shared by the ranks of this node: %s",
                 what, (double)out->bytes / 1048576.0, why);
  if (st != SN_OK) {
    free(counts);
    sn_shared_arena_destroy(out);
    return st;
  }
  size_t at = 0;
  for (int l = 0; l < size; l++) {
    out->segment[l] = counts[l] ? (float *)((char *)out->base + at) : NULL;
    at += (counts[l] * sizeof(float) + page - 1) / page * page;
  }
  free(counts);
  return SN_OK;
}

void sn_shared_arena_destroy(sn_shared_arena *a) {
  if (a->base) munmap(a->base, a->bytes);
  free(a->segment);
  *a = (sn_shared_arena){0};
}

void sn_shared_arena_fence(void) { atomic_thread_fence(memory_order_seq_cst); }
