/* Writing dataset files (the converters' output): /images, /labels or /targets
 * chunked by whole samples, optionally deflated, filled a slab of rows at a time,
 * and the root attributes of the format. */
#define _POSIX_C_SOURCE 200809L
#include "shardnet/dataset_writer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/h5util.h"
#include "shardnet/checked.h"
#include "shardnet/config.h"

#define DATASET_FORMAT "shardnet-dataset"
#define HDF5_CHUNK_MAX 0xffffffffu /* bytes: HDF5 chunk sizes are 32-bit */
#define CHUNK_CACHE_MIN (1u << 20)

struct sn_dataset_writer {
  char path[SN_PATH_CAP], tmp[SN_PATH_CAP + 8];
  hid_t file, images, answers;
  hid_t image_mem, answer_mem;   /* memory types */
  size_t n, image_row, answer_row; /* samples; values a row */
  int has_labels;
  uint8_t *done;                 /* a bit per row written */
  size_t n_done;
  sn_status failed;              /* the first failure, whose message is kept */
  char message[1024];
};

/* Rows of row_bytes each closest to `bytes`, at least 1 and at most n. */
static size_t rows_for(size_t n, size_t row_bytes, size_t bytes) {
  size_t k = bytes / (row_bytes ? row_bytes : 1);
  if (k < 1) k = 1;
  return k < n ? k : n;
}

/* Creates dataset `name` (dims[0] rows of the other dims), chunked by `rows` whole
 * rows and filtered as z asks. */
static hid_t create_array(hid_t file, const char *name, hid_t type, int nd, const hsize_t *dims, size_t rows,
                          const sn_dataset_compression *z) {
  hid_t space = H5Screate_simple(nd, dims, NULL);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), dapl = H5Pcreate(H5P_DATASET_ACCESS);
  herr_t err = space < 0 || dcpl < 0 || dapl < 0 ? -1 : 0;
  if (err == 0 && dims[0] > 0) {  /* HDF5 cannot chunk an empty fixed-size dataset */
    hsize_t chunk[4] = {rows, 1, 1, 1};
    size_t chunk_bytes = rows * H5Tget_size(type);
    for (int i = 1; i < nd; i++) {
      chunk[i] = dims[i];
      chunk_bytes *= (size_t)dims[i];
    }
    err = H5Pset_chunk(dcpl, nd, chunk);
    if (err >= 0 && z->shuffle) err = H5Pset_shuffle(dcpl);
    if (err >= 0 && z->level > 0) err = H5Pset_deflate(dcpl, (unsigned)z->level);
    /* A chunk filled by two puts stays cached between them instead of being
     * compressed, evicted and read back. */
    size_t cache = 2 * chunk_bytes > CHUNK_CACHE_MIN ? 2 * chunk_bytes : CHUNK_CACHE_MIN;
    if (err >= 0) err = H5Pset_chunk_cache(dapl, H5D_CHUNK_CACHE_NSLOTS_DEFAULT, cache, H5D_CHUNK_CACHE_W0_DEFAULT);
  }
  hid_t set = err < 0 ? H5I_INVALID_HID : H5Dcreate2(file, name, type, space, H5P_DEFAULT, dcpl, dapl);
  if (space >= 0) H5Sclose(space);
  if (dcpl >= 0) H5Pclose(dcpl);
  if (dapl >= 0) H5Pclose(dapl);
  return set;
}

/* Rejects what cannot make a valid file before anything is created. */
static sn_status check_header(const char *path, const sn_dataset_header *h, size_t *sample_bytes) {
  if (strlen(path) >= SN_PATH_CAP) return sn_fail(SN_ERR_INVALID, "%.64s...: path is too long", path);
  if (h->h < 1 || h->w < 1 || h->c < 1)
    return sn_fail(SN_ERR_INVALID, "%s: samples of %dx%dx%d (H x W x C) are empty", path, h->h, h->w, h->c);
  if (h->has_labels && h->target_size)
    return sn_fail(SN_ERR_INVALID, "%s: a dataset holds /labels or /targets, not both", path);
  const sn_dataset_compression *z = &h->compression;
  if (z->level < 0 || z->level > 9)
    return sn_fail(SN_ERR_INVALID, "%s: deflate levels are 1 to 9 (0 for none), got %d", path, z->level);
  if (z->shuffle && z->level == 0)
    return sn_fail(SN_ERR_INVALID, "%s: the shuffle filter only helps deflate: it needs a compression level", path);
  unsigned config = 0;
  if (z->level > 0 && (H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0 ||
                       H5Zget_filter_info(H5Z_FILTER_DEFLATE, &config) < 0 ||
                       !(config & H5Z_FILTER_CONFIG_ENCODE_ENABLED)))
    return sn_fail(SN_ERR_UNSUPPORTED, "cannot compress %s: this HDF5 library has no deflate (zlib) filter", path);
  size_t elem = h->is_float ? sizeof(float) : 1, bytes = 0, all = 0;
  const size_t sample[4] = {(size_t)h->h, (size_t)h->w, (size_t)h->c, elem};
  if (!sn_size_product(sample, 4, &bytes) || !sn_size_mul(bytes, h->n, &all) || bytes > HDF5_CHUNK_MAX)
    return sn_fail(SN_ERR_INVALID, "%s: %zu samples of %dx%dx%d are too large (a sample is at most 4 GiB)", path,
                   h->n, h->h, h->w, h->c);
  size_t target_bytes = 0;
  if (h->target_size && (!sn_size_mul(h->target_size, sizeof(float), &target_bytes) ||
                         !sn_size_mul(target_bytes, h->n, &all)))
    return sn_fail(SN_ERR_INVALID, "%s: %zu targets of %zu values are too many", path, h->n, h->target_size);
  *sample_bytes = bytes;
  return SN_OK;
}

static sn_status write_attributes(sn_dataset_writer *w, const sn_dataset_header *h) {
  SN_TRY(sn_h5_write_string_attr(w->file, "format", DATASET_FORMAT));
  SN_TRY(sn_h5_write_int_attr(w->file, "format_version", 1));
  if (h->n_class_names) SN_TRY(sn_h5_write_strings_attr(w->file, "class_names", h->class_names, h->n_class_names));
  if (h->source) SN_TRY(sn_h5_write_string_attr(w->file, "source", h->source));
  return SN_OK;
}

static sn_status create_datasets(sn_dataset_writer *w, const sn_dataset_header *h, size_t sample_bytes) {
  const sn_dataset_compression *z = &h->compression;
  hsize_t dims[4] = {h->n, (hsize_t)h->h, (hsize_t)h->w, (hsize_t)h->c};
  size_t k = rows_for(h->n, sample_bytes, SN_DATASET_CHUNK_BYTES);
  w->images = create_array(w->file, "images", h->is_float ? H5T_IEEE_F32LE : H5T_STD_U8LE, 4, dims, k, z);
  if (w->images < 0) return sn_fail(SN_ERR_IO, "%s: cannot create /images", w->path);
  if (!h->has_labels && !h->target_size) return SN_OK;
  /* a whole number of image chunks, about SN_DATASET_CHUNK_BYTES of answers */
  size_t answer_bytes = w->answer_row * (h->has_labels ? sizeof(int32_t) : sizeof(float));
  size_t m = rows_for(SIZE_MAX, answer_bytes, SN_DATASET_CHUNK_BYTES) / (k ? k : 1);
  size_t rows = (m > 1 ? m : 1) * k;
  hsize_t adims[2] = {h->n, w->answer_row};
  const char *name = h->has_labels ? "labels" : "targets";
  w->answers = create_array(w->file, name, h->has_labels ? H5T_STD_I32LE : H5T_IEEE_F32LE, h->has_labels ? 1 : 2,
                            adims, rows < h->n ? rows : h->n, z);
  if (w->answers < 0) return sn_fail(SN_ERR_IO, "%s: cannot create /%s", w->path, name);
  return SN_OK;
}

/* Closes what is open; negative when HDF5 could not finish the file. */
static herr_t close_handles(sn_dataset_writer *w) {
  herr_t err = 0;
  if (w->answers >= 0 && H5Dclose(w->answers) < 0) err = -1;
  if (w->images >= 0 && H5Dclose(w->images) < 0) err = -1;
  if (w->file >= 0 && H5Fclose(w->file) < 0) err = -1;
  w->answers = w->images = w->file = H5I_INVALID_HID;
  return err;
}

void sn_dataset_writer_discard(sn_dataset_writer *w) {
  if (!w) return;
  close_handles(w);
  unlink(w->tmp);
  free(w->done);
  free(w);
}

sn_status sn_dataset_writer_open(const char *path, const sn_dataset_header *h, sn_dataset_writer **out) {
  *out = NULL;
  sn_h5_quiet();
  size_t sample_bytes = 0;
  SN_TRY(check_header(path, h, &sample_bytes));
  sn_dataset_writer *w = calloc(1, sizeof *w);
  if (w) w->done = calloc(h->n / 8 + 1, 1);
  if (!w || !w->done) {
    free(w);
    return sn_fail(SN_ERR_NOMEM, "%s: cannot keep track of %zu samples", path, h->n);
  }
  snprintf(w->path, sizeof w->path, "%s", path);
  snprintf(w->tmp, sizeof w->tmp, "%s.tmp", path);
  w->n = h->n;
  w->image_row = (size_t)h->h * (size_t)h->w * (size_t)h->c;
  w->image_mem = h->is_float ? H5T_NATIVE_FLOAT : H5T_NATIVE_UINT8;
  w->has_labels = h->has_labels;
  w->answer_row = h->has_labels ? 1 : h->target_size;
  w->answer_mem = h->has_labels ? H5T_NATIVE_INT32 : H5T_NATIVE_FLOAT;
  w->answers = w->images = H5I_INVALID_HID;
  w->file = H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  sn_status st = SN_OK;
  if (w->file < 0) st = sn_fail(SN_ERR_IO, "cannot create %s (is its folder there and writable?)", path);
  if (st == SN_OK && (st = write_attributes(w, h)) != SN_OK) sn_fail_context(st, "%s", path);
  if (st == SN_OK) st = create_datasets(w, h, sample_bytes);
  if (st != SN_OK) {
    sn_dataset_writer_discard(w);
    return st;
  }
  *out = w;
  return SN_OK;
}

/* Range and duplicates of one put, before anything is written. (Labels are the
 * reader's to check against the model: tests write bad ones on purpose.) */
static sn_status check_put(const sn_dataset_writer *w, size_t first, size_t count, const void *images,
                           const void *answers) {
  if (first > w->n || count > w->n - first)
    return sn_fail(SN_ERR_INVALID, "%s: rows %zu to %zu are outside its %zu samples", w->path, first,
                   first + count, w->n);
  if (count && (!images || (w->answer_row && !answers)))
    return sn_fail(SN_ERR_INVALID, "%s: rows %zu to %zu come without their %s", w->path, first, first + count,
                   images ? "labels or targets" : "images");
  for (size_t r = first; r < first + count; r++)
    if (w->done[r / 8] & (1u << (r % 8))) return sn_fail(SN_ERR_INVALID, "%s: row %zu is written twice", w->path, r);
  return SN_OK;
}

sn_status sn_dataset_writer_put(sn_dataset_writer *w, size_t first, size_t count, const void *images,
                                const void *answers) {
  if (w->failed) return sn_fail(w->failed, "%s", w->message);
  sn_status st = check_put(w, first, count, images, answers);
  if (st == SN_OK && count && sn_h5_rows(w->images, w->image_mem, first, count, w->image_row, 1, 0, (void *)images) < 0)
    st = sn_fail(SN_ERR_IO, "%s: cannot write /images rows %zu to %zu", w->path, first, first + count);
  if (st == SN_OK && count && w->answer_row &&
      sn_h5_rows(w->answers, w->answer_mem, first, count, w->answer_row, 1, 0, (void *)answers) < 0)
    st = sn_fail(SN_ERR_IO, "%s: cannot write /%s rows %zu to %zu", w->path, w->has_labels ? "labels" : "targets",
                 first, first + count);
  if (st != SN_OK) {
    w->failed = st;
    snprintf(w->message, sizeof w->message, "%s", sn_last_error());
    return st;
  }
  for (size_t r = first; r < first + count; r++) w->done[r / 8] |= (uint8_t)(1u << (r % 8));
  w->n_done += count;
  return SN_OK;
}

sn_status sn_dataset_writer_close(sn_dataset_writer *w) {
  sn_status st = w->failed ? sn_fail(w->failed, "%s", w->message) : SN_OK;
  if (st == SN_OK && w->n_done < w->n)
    st = sn_fail(SN_ERR_INVALID, "%s: only %zu of its %zu samples were written", w->path, w->n_done, w->n);
  if (close_handles(w) < 0 && st == SN_OK) st = sn_fail(SN_ERR_IO, "cannot finish writing %s", w->path);
  if (st == SN_OK && rename(w->tmp, w->path) != 0)
    st = sn_fail(SN_ERR_IO, "cannot rename %s to %s: %s", w->tmp, w->path, strerror(errno));
  if (st != SN_OK) unlink(w->tmp);
  free(w->done);
  free(w);
  return st;
}

sn_status sn_dataset_write(const char *path, const sn_dataset_contents *c) {
  sn_dataset_header h = {.n = c->n, .h = c->h, .w = c->w, .c = c->c, .is_float = c->is_float,
                         .has_labels = c->labels != NULL, .target_size = c->targets ? c->target_size : 0,
                         .n_class_names = c->n_class_names, .class_names = c->class_names, .source = c->source,
                         .compression = c->compression};
  sn_dataset_writer *w = NULL;
  SN_TRY(sn_dataset_writer_open(path, &h, &w));
  const void *answers = c->labels ? (const void *)c->labels : (const void *)c->targets;
  sn_dataset_writer_put(w, 0, c->n, c->images, answers);  /* a failure is kept for close */
  return sn_dataset_writer_close(w);
}
