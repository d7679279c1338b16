/* Placements: which one auto chooses from the set's size against the node's
 * memory, and filling it (each rank reads its part of the rows from the file). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "dist/dist_comm.h"
#include "io/data_store.h"
#include "shardnet/memory.h"
#include "shardnet/part.h"

#define GB(bytes) ((double)(bytes) / 1e9)

static sn_status agree(sn_dist *d, sn_status st) { return d ? sn_dist_agree(d, st) : st; }

MPI_Comm sn_store_comm(const sn_dataset *ds) {
  return ds->store->dist ? sn_dist_comm(ds->store->dist) : MPI_COMM_SELF;
}

static int local_size(const sn_dataset *ds) { return ds->store->dist ? sn_dist_local_size(ds->store->dist) : 1; }
static size_t set_bytes(const sn_dataset *ds) { return ds->n * (ds->image_bytes + ds->answer_bytes); }

size_t sn_store_node_bytes(const sn_dataset *ds, sn_placement p) {
  const size_t all = set_bytes(ds);
  switch (p) {
    case SN_PLACEMENT_REPLICATE: return all * (size_t)local_size(ds);
    case SN_PLACEMENT_NODE: return all;
    case SN_PLACEMENT_SHARD: return sn_part_max(ds->n, ds->store->size) * (ds->image_bytes + ds->answer_bytes) *
                                    (size_t)local_size(ds);
    default: return 0;
  }
}

/* The smallest of what every rank sees: its node's memory left (and /dev/shm's). */
static sn_status tightest(sn_dist *d, double *values, size_t n) {
  for (size_t i = 0; i < n; i++) values[i] = -values[i];
  sn_status st = d ? sn_dist_max_doubles(d, values, n) : SN_OK;
  for (size_t i = 0; i < n; i++) values[i] = -values[i];
  return st;
}

static double shm_free(void) {
  struct statvfs v;
  return statvfs("/dev/shm", &v) == 0 ? (double)v.f_bavail * (double)v.f_frsize : 0.0;
}

sn_status sn_store_choose(sn_dataset *ds, const sn_dataset_options *opt, sn_placement *out, char *why,
                          size_t cap) {
  double mem[2] = {(double)sn_memory_available(), shm_free()};
  SN_TRY(tightest(ds->store->dist, mem, 2));
  const double avail = mem[0] > (double)opt->committed ? mem[0] - (double)opt->committed : 0.0;
  const double all = (double)set_bytes(ds), ranks = local_size(ds);
  const char *role = opt->role ? opt->role : "dataset";
  sn_placement p = opt->placement;
  if (p != SN_PLACEMENT_AUTO) {
    const double need = (double)sn_store_node_bytes(ds, p);
    snprintf(why, cap, "asked for");
    /* Half the node for data: the model, MPI's buffers and the page cache need the rest. */
    if (need > avail)
      return agree(ds->store->dist,
                   sn_fail(SN_ERR_NOMEM, "%s: data.placement %s holds %.2f GB of the %s per node, but the node has %.2f GB available: "
                           "use shard or stream, or auto", ds->path, sn_placement_names[p], GB(need), role, GB(avail)));
    *out = p;
    return SN_OK;
  }
  /* Prefer the placements that move nothing during a step, while they leave room. */
  if (ranks * all <= avail / 4 || (ranks == 1 && all <= avail / 2)) {
    p = SN_PLACEMENT_REPLICATE;
    snprintf(why, cap, "%g cop%s of %.3f GB fit easily in the %.2f GB this node has available", ranks,
             ranks == 1 ? "y" : "ies", GB(all), GB(avail));
  } else if (ranks > 1 && all <= avail / 2 && all <= mem[1] / 2) {
    p = SN_PLACEMENT_NODE;
    snprintf(why, cap, "one %.3f GB copy in shared memory serves the node's %g ranks (%g copies would not fit in %.2f GB)",
             GB(all), ranks, ranks, GB(avail));
  } else if ((double)sn_store_node_bytes(ds, SN_PLACEMENT_SHARD) <= avail / 2) {
    p = SN_PLACEMENT_SHARD;
    snprintf(why, cap, "the %.3f GB set does not fit whole in the %.2f GB available; each rank holds 1/%d of it",
             GB(all), GB(avail), ds->store->size);
  } else {
    p = SN_PLACEMENT_STREAM;
    snprintf(why, cap, "the %.3f GB set does not fit in the %.2f GB available, not even in shards of 1/%d: read from the file as needed",
             GB(all), GB(avail), ds->store->size);
  }
  *out = p;
  return SN_OK;
}

/* Rows [lo, hi) of the file into the rows held in memory (which start at s->lo), in
 * blocks of whole chunks near READ_BLOCK bytes: one read of a whole shard would have
 * HDF5 map every chunk it touches at once (140 MB of bookkeeping for 1.5 GB). */
#define READ_BLOCK ((size_t)64 << 20)
static sn_status read_held(const sn_dataset *ds, size_t lo, size_t hi) {
  const sn_data_store *s = ds->store;
  size_t rows = READ_BLOCK / ds->image_bytes / s->chunk_rows * s->chunk_rows;
  if (rows < s->chunk_rows) rows = s->chunk_rows;
  for (size_t at = lo; at < hi; at += rows) {
    const size_t m = hi - at < rows ? hi - at : rows;
    SN_TRY(sn_store_read_rows(ds, at, m, s->images_mem + (at - s->lo) * ds->image_bytes,
                              s->answers_mem + (at - s->lo) * ds->answer_bytes));
  }
  return SN_OK;
}

static sn_status allocate_held(sn_dataset *ds, size_t lo, size_t hi) {
  sn_data_store *s = ds->store;
  s->lo = lo;
  s->hi = hi;
  s->owns_memory = 1;
  s->images_mem = malloc((hi - lo) * ds->image_bytes + 1);
  s->answers_mem = malloc((hi - lo) * ds->answer_bytes + 1);
  if (!s->images_mem || !s->answers_mem)
    return sn_fail(SN_ERR_NOMEM, "%s: cannot allocate %.3f GB for samples %zu to %zu", ds->path,
                   GB((hi - lo) * (ds->image_bytes + ds->answer_bytes)), lo, hi);
  return SN_OK;
}

/* Gathers every rank's part of the rows (held in part order) onto every rank. */
static sn_status gather_parts(sn_dataset *ds, uint8_t *buf, size_t row_bytes) {
  sn_data_store *s = ds->store;
  MPI_Datatype row;
  MPI_Type_contiguous((int)row_bytes, MPI_BYTE, &row);
  MPI_Type_commit(&row);
  int *counts = malloc((size_t)s->size * sizeof *counts), *displs = malloc((size_t)s->size * sizeof *displs);
  int code = MPI_ERR_NO_MEM;
  for (int r = 0; counts && displs && r < s->size; r++) {
    size_t lo, hi;
    sn_part(ds->n, r, s->size, &lo, &hi);
    displs[r] = (int)lo;
    counts[r] = (int)(hi - lo);
  }
  if (counts && displs)
    code = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, counts, displs, row, sn_store_comm(ds));
  free(counts);
  free(displs);
  MPI_Type_free(&row);
  return code == MPI_SUCCESS ? SN_OK : sn_dist_mpi_fail(s->dist, code, "MPI_Allgatherv");
}

static sn_status fill_replicate(sn_dataset *ds) {
  sn_data_store *s = ds->store;
  size_t lo, hi;
  sn_part(ds->n, s->rank, s->size, &lo, &hi);
  SN_TRY(agree(s->dist, allocate_held(ds, 0, ds->n)));
  SN_TRY(agree(s->dist, read_held(ds, lo, hi)));
  if (!s->dist || s->size == 1) return SN_OK;
  SN_TRY(gather_parts(ds, s->images_mem, ds->image_bytes));
  return gather_parts(ds, s->answers_mem, ds->answer_bytes);
}

static sn_status fill_shard(sn_dataset *ds) {
  sn_data_store *s = ds->store;
  size_t lo, hi;
  sn_part(ds->n, s->rank, s->size, &lo, &hi);
  SN_TRY(agree(s->dist, allocate_held(ds, lo, hi)));
  return agree(s->dist, read_held(ds, lo, hi));
}

/* One copy in the node's shared memory; each of its ranks reads a part of it. */
static sn_status fill_node(sn_dataset *ds) {
  sn_data_store *s = ds->store;
  sn_dist *d = s->dist;
  if (!d) return fill_replicate(ds);
  MPI_Comm node = sn_dist_node_comm(d);
  const int local = sn_dist_local_rank(d), ranks = sn_dist_local_size(d);
  const size_t images = (ds->n * ds->image_bytes + 63) / 64 * 64, bytes = images + ds->n * ds->answer_bytes;
  const size_t floats = local == 0 ? (bytes + sizeof(float) - 1) / sizeof(float) : 0;
  SN_TRY(agree(d, sn_shared_arena_create(d, node, floats, ds->path, &s->arena)));
  s->images_mem = (uint8_t *)s->arena.segment[0];
  s->answers_mem = s->images_mem + images;
  s->lo = 0;
  s->hi = ds->n;
  size_t lo, hi;
  sn_part(ds->n, local, ranks, &lo, &hi);
  SN_TRY(agree(d, read_held(ds, lo, hi)));
  sn_shared_arena_fence();
  MPI_TRY(d, MPI_Barrier(node));
  sn_shared_arena_fence();
  return SN_OK;
}

sn_status sn_store_fill(sn_dataset *ds) {
  switch (ds->placement) {
    case SN_PLACEMENT_REPLICATE: return fill_replicate(ds);
    case SN_PLACEMENT_NODE: return fill_node(ds);
    case SN_PLACEMENT_SHARD: return fill_shard(ds);
    default: return SN_OK; /* stream: nothing is held */
  }
}
