/* Writing files in shardnet's dataset format (see DESIGN.md), for the converters
 * and for tests: one process writes the whole file, either from arrays in memory
 * (sn_dataset_write) or a slab of rows at a time (sn_dataset_writer_*), so a set
 * larger than memory can be converted. */
#ifndef SHARDNET_DATASET_WRITER_H
#define SHARDNET_DATASET_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "shardnet/status.h"

/* How every dataset of the file is stored. */
typedef struct {
  int level;    /* 0: uncompressed; 1..9: deflate (gzip) at that level */
  int shuffle;  /* the byte-shuffle filter before deflate (needs level > 0) */
} sn_dataset_compression;

/* What a file will hold, known before its rows are: N samples of H x W x C
 * (uint8, or float32 when is_float), with /labels (int32, N) when has_labels or
 * /targets (float32, N x target_size) when target_size > 0 (at most one of them).
 * class_names may be NULL; source (root attribute `source`) may be NULL. */
typedef struct {
  size_t n;
  int h, w, c;
  int is_float;
  int has_labels;
  size_t target_size;
  int n_class_names;
  const char *const *class_names;
  const char *source;
  sn_dataset_compression compression;
} sn_dataset_header;

/* Datasets are chunked by whole samples, about 64 KiB of them a chunk (at least one
 * sample, at most N), so that a reader fetching a random sample decompresses little
 * more than that sample. /labels and /targets chunks hold a whole number of image
 * chunks (about 64 KiB too), so any image chunk's answers lie in one chunk. */
#define SN_DATASET_CHUNK_BYTES 65536

typedef struct sn_dataset_writer sn_dataset_writer;

/* Creates the file's datasets (fixed size, chunked, filtered as asked) and root
 * attributes. The file is written as `path.tmp` and takes its name at a successful
 * close, so a failed conversion leaves neither a partial file nor a missing one
 * where a previous file was. */
sn_status sn_dataset_writer_open(const char *path, const sn_dataset_header *header, sn_dataset_writer **out);

/* Writes rows [first, first + count): images are count * H * W * C values (uint8 or
 * float), answers count int32 labels or count * target_size float targets (NULL when
 * the file has neither). Rows may come in any order, each exactly once. After a
 * failure every later call fails the same way. */
sn_status sn_dataset_writer_put(sn_dataset_writer *w, size_t first, size_t count, const void *images,
                                const void *answers);

/* Finishes the file: fails when any call failed or a row was never written, and
 * then removes what was written. Frees w in any case. */
sn_status sn_dataset_writer_close(sn_dataset_writer *w);

/* Abandons the file (the caller failed elsewhere): removes it and frees w, leaving
 * the last error alone. NULL is a no-op. */
void sn_dataset_writer_discard(sn_dataset_writer *w);

/* A whole dataset in memory: images are N*H*W*C, uint8 when !is_float. labels or
 * targets may be NULL; class_names may be NULL. */
typedef struct {
  size_t n;
  int h, w, c;
  int is_float;
  const void *images;
  const int32_t *labels;
  const float *targets;
  size_t target_size;
  int n_class_names;
  const char *const *class_names;
  const char *source;        /* root attribute `source`, may be NULL */
  sn_dataset_compression compression;
} sn_dataset_contents;

/* Writes contents in one put through the incremental writer. */
sn_status sn_dataset_write(const char *path, const sn_dataset_contents *contents);

#endif
