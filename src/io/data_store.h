/* Where a dataset's samples are held, and how rows are read from its file: shared by
 * the dataset (opening, placement), the reader (requests) and the exchange. */
#ifndef SN_IO_DATA_STORE_H
#define SN_IO_DATA_STORE_H

#include <hdf5.h>
#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "dist/shared_arena.h"
#include "shardnet/dataset.h"

/* A dataset whose rows can be read with pread (direct_rows.c): fd < 0 when not. */
typedef struct {
  int fd;                  /* HDF5's POSIX descriptor of the file, not ours to close */
  uint64_t file_bytes;
  hid_t set;
  size_t row_bytes;
  size_t chunk_rows;       /* 0: contiguous, from contiguous_at */
  uint64_t contiguous_at;
  size_t n_chunks;
  haddr_t *chunk_at;       /* each chunk's address once looked up (HADDR_UNDEF before) */
} sn_direct_rows;

/* Sets d up for set when its rows can be read directly (else d->fd = -1). */
void sn_direct_rows_init(hid_t file, hid_t set, hid_t mem_type, size_t row_bytes, sn_direct_rows *d);
void sn_direct_rows_free(sn_direct_rows *d);
/* Reads rows sorted[0..u) (ascending, distinct) into buf, one after another; 0 when
 * any could not be read this way (the caller then reads them through HDF5). */
int sn_direct_rows_read(sn_direct_rows *d, const uint32_t *sorted, int u, uint8_t *buf);

struct sn_data_store {
  sn_dist *dist;
  int rank, size;               /* in the job (1 and 0 without MPI) */
  /* The file, opened with HDF5's POSIX driver for this process's independent reads. */
  hid_t file, images, answers;
  hid_t image_type, answer_type; /* memory types: uint8 or float, int32 or float */
  sn_direct_rows images_direct, answers_direct;  /* for streamed requests */
  size_t chunk_rows;            /* rows per chunk of /images (1 when contiguous) */
  /* Rows [lo, hi) are in memory: all for replicate and node, this rank's part for
   * shard, none for stream. */
  size_t lo, hi;
  uint8_t *images_mem, *answers_mem;
  int owns_memory;              /* malloc'ed here (else in the node's shared arena) */
  sn_shared_arena arena;        /* the node placement's copy */
};

/* Reads rows [first, first + count) of /images and of /labels or /targets into
 * images and answers (either may be NULL). Takes the HDF5 lock; the message names
 * the file and the rows. */
sn_status sn_store_read_rows(const sn_dataset *ds, size_t first, size_t count, uint8_t *images, uint8_t *answers);

/* Reads samples idx[0..n) (any order, repeats allowed) in one pass in file order:
 * the distinct ones land in images and answers in ascending sample order, and
 * request position k finds its sample at row where[k] of them (order[] is scratch
 * for n entries). A failure names the sample at fault. Takes the HDF5 lock. */
sn_status sn_store_read_list(const sn_dataset *ds, const uint32_t *idx, int n, uint32_t *order, uint32_t *where,
                             uint8_t *images, uint8_t *answers);

/* The pixels and the label or targets of sample i when this rank holds it, else NULL. */
const uint8_t *sn_store_image(const sn_dataset *ds, size_t i);
const uint8_t *sn_store_answer(const sn_dataset *ds, size_t i);

/* Fills the placement ds->placement: allocates what this rank or node holds and
 * reads it (collective). */
sn_status sn_store_fill(sn_dataset *ds);

/* The placement auto chooses for ds, and why (into why). Collective: every rank
 * chooses the same, from the tightest node's memory. */
sn_status sn_store_choose(sn_dataset *ds, const sn_dataset_options *opt, sn_placement *out, char *why,
                          size_t cap);

/* Bytes of rows per node that placement p holds. */
size_t sn_store_node_bytes(const sn_dataset *ds, sn_placement p);

/* The job's communicator (MPI_COMM_SELF without MPI). */
MPI_Comm sn_store_comm(const sn_dataset *ds);

#endif
