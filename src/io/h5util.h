/* Small HDF5 helpers shared by the dataset, checkpoint and activation files. */
#ifndef SN_IO_H5UTIL_H
#define SN_IO_H5UTIL_H

#include <hdf5.h>
#include <stdint.h>

#include "shardnet/dist.h"
#include "shardnet/status.h"

/* Silences HDF5's own error-stack printing: shardnet reports one line instead. */
void sn_h5_quiet(void);

/* Opens path read-only through MPI-IO on d's communicator (serially when d is NULL).
 * Fails with a message naming the path: missing, unreadable, or not HDF5. */
sn_status sn_h5_open_read(sn_dist *d, const char *path, hid_t *file);

/* Opens path read-only with HDF5's POSIX driver, for one process's independent
 * reads (MPI is never involved, so a background thread may use it). Only regular
 * files are accepted: a FIFO or a device would block or never end. */
sn_status sn_h5_open_local(const char *path, hid_t *file);

/* This HDF5 build is not thread-safe: every thread that calls HDF5 while another
 * may (a stream reader's) holds this lock around its calls. Recursive. The
 * entry points of src/io take it; a stream reader takes it around each read. */
void sn_h5_lock(void);
void sn_h5_unlock(void);

/* Walks path's HDF5 metadata in a child process (io/h5_preflight.c): a file whose
 * metadata crashes libhdf5 or never finishes is refused in one line, before this
 * process reads it. The open functions above call it. SHARDNET_H5_PREFLIGHT sets the
 * time limit in seconds (20), and 0 turns it off (a system where fork is not allowed). */
sn_status sn_h5_preflight(const char *path);

/* The shape of dataset `name` (open as set) of file path, checked before anything is
 * sized from it: min_rank to max_rank dimensions (max_rank at most SN_H5_MAX_RANK),
 * and the values of one row (all dimensions but the first, multiplied without
 * overflow) between 1 and max_row. dims receives the dimensions, *rank their count,
 * *row the row's values. */
#define SN_H5_MAX_RANK 8
sn_status sn_h5_shape(hid_t set, const char *path, const char *name, int min_rank, int max_rank, size_t max_row,
                      hsize_t *dims, int *rank, size_t *row);

/* SN_OK when path is a regular file; else one line: it is missing, or a device, FIFO
 * or directory, which readers would block on or read forever (/dev/zero). */
sn_status sn_require_regular_file(const char *path);

/* The longest fixed-size string attribute read (a checkpoint's config text fits). */
#define SN_H5_STRING_MAX (1 << 20)
/* The most strings a list attribute may hold (layer names, class names, overrides). */
#define SN_H5_STRINGS_MAX 16384
/* The most bytes the strings of a variable-length list attribute may hold together. */
#define SN_H5_STRINGS_BYTES_MAX (16 << 20)

/* Reads a string attribute of obj into buf ("" and SN_OK when absent and !required).
 * It must hold exactly one string of at most SN_H5_STRING_MAX bytes. */
sn_status sn_h5_read_string_attr(hid_t obj, const char *name, char *buf, size_t cap, int required);
sn_status sn_h5_write_string_attr(hid_t obj, const char *name, const char *value);
sn_status sn_h5_write_int_attr(hid_t obj, const char *name, long long value);
sn_status sn_h5_read_int_attr(hid_t obj, const char *name, long long *value);
/* A one-dimensional integer array attribute of n values. */
sn_status sn_h5_write_ints_attr(hid_t obj, const char *name, const long long *values, int n);
/* A variable-length string array attribute. */
sn_status sn_h5_write_strings_attr(hid_t obj, const char *name, const char *const *values, int n);
/* Reads a string array attribute (fixed or variable length); *values is malloc'ed
 * strings, *n their count (0 and SN_OK when absent). */
sn_status sn_h5_read_strings_attr(hid_t obj, const char *name, char ***values, int *n);

/* Reads (write = 0) or writes rows [row, row + m) of dataset set (every dimension
 * after the first whole, per_row elements a row) from or into buf, in memory type
 * mem; m may be 0. With collective, a collective MPI-IO transfer: every rank of the
 * file's communicator must call it. Returns the HDF5 status. */
herr_t sn_h5_rows(hid_t set, hid_t mem, size_t row, size_t m, size_t per_row, int write, int collective,
                  void *buf);

/* Creates dataset `name` in loc with dimensions dims, stored as file_type (link and
 * creation property lists lcpl and dcpl, or H5P_DEFAULT), and writes all of data
 * (memory type mem) into it. Returns the HDF5 status. */
herr_t sn_h5_write_whole(hid_t loc, const char *name, int nd, const hsize_t *dims, hid_t file_type, hid_t mem,
                         hid_t lcpl, hid_t dcpl, const void *data);

/* What the variable-length values of attribute attr claim, in bytes, read from
 * their stored descriptors before libhdf5 follows them (io/h5_vlen_claims.c): it
 * allocates what a value claims before it finds the value shorter, so a reader checks
 * the claims first. Zeros for a type without variable-length values. `damaged` is set
 * when a descriptor points at a global heap object that is not there, runs past its
 * collection or differs from its claim in length (libhdf5 1.10 would read and write
 * past its buffers): such an attribute is not read. Returns -1 when the claims cannot be told
 * (variable-length values nested in a compound, an array or another sequence;
 * unreadable descriptors): such an attribute is not read either. */
typedef struct sn_h5_vlen_claims {
  size_t largest;  /* the longest one value claims */
  size_t total;    /* all values together */
  int damaged;     /* a value's heap object is not what its descriptor says */
} sn_h5_vlen_claims;
int sn_h5_attr_vlen_claims(hid_t attr, sn_h5_vlen_claims *claims);

/* Global heap objects read from the file itself (io/h5_global_heap.c), as libhdf5
 * 1.10 finds them. sn_h5_heap_open opens the file that loc belongs to; *heap stays
 * NULL for a file open for writing (not checked: its heap may not be on disk yet).
 * Returns -1 when the file cannot be opened again. */
typedef struct sn_h5_heap sn_h5_heap;
int sn_h5_heap_open(hid_t loc, sn_h5_heap **heap);
void sn_h5_heap_close(sn_h5_heap *heap);
/* The size of object `index` of the collection at file address `collection`; -1 when
 * the collection is not one, the object is not in it or runs past its end. */
int sn_h5_heap_object_size(sn_h5_heap *heap, uint64_t collection, uint32_t index, uint64_t *size);
/* An unsigned little-endian number of `bytes` bytes, as HDF5 stores them (UINT64_MAX
 * for more than 8). */
uint64_t sn_h5_decode_le(const unsigned char *p, size_t bytes);

/* Checks the root attribute `format` is expected (a missing one is accepted). */
sn_status sn_h5_check_format(hid_t file, const char *path, const char *expected);

#endif
