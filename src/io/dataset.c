/* Dataset files: opening (the file's description, checked), the placement, and
 * validation against the model by scanning the labels in bounded chunks. */
#define _POSIX_C_SOURCE 200809L
#include "shardnet/dataset.h"

#include <stdlib.h>
#include <string.h>

#include "dist/dist_comm.h"
#include "io/data_store.h"
#include "io/h5util.h"
#include "shardnet/part.h"

#define DATASET_FORMAT "shardnet-dataset"
/* Chunks of /images the cache holds: enough for the samples of a request that share
 * a chunk to inflate it once, at most CACHE_MAX bytes. */
#define CACHE_CHUNKS 64
#define CACHE_MAX ((size_t)64 << 20)
/* Labels scanned per read while validating. */
#define SCAN_ROWS ((size_t)1 << 20)
/* Deflate expands at most 1032:1, more than the other filters HDF5 ships. */
#define MAX_EXPANSION 1032.0

/* Every rank returns the lowest failing rank's error; without MPI the local one. */
static sn_status agree(sn_dist *d, sn_status st) { return d ? sn_dist_agree(d, st) : st; }

/* Opens dataset `name` with a chunk cache sized for reading whole samples at random;
 * *chunk_rows receives its rows per chunk (1 when it is not chunked). */
static hid_t open_rows(hid_t file, const char *name, size_t row_bytes, size_t *chunk_rows) {
  hid_t set = H5Dopen2(file, name, H5P_DEFAULT);
  if (set < 0) return set;
  hid_t dcpl = H5Dget_create_plist(set);
  hsize_t chunk[8] = {0};
  *chunk_rows = 1;
  if (H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_chunk(dcpl, 8, chunk) > 0) *chunk_rows = chunk[0] ? chunk[0] : 1;
  const int filtered = H5Pget_nfilters(dcpl) > 0;
  H5Pclose(dcpl);
  H5Dclose(set);
  /* Unfiltered chunks are read in place, sample by sample, when there is no cache:
   * caching them would copy a whole chunk for each sample a random order touches.
   * Compressed chunks must be inflated whole, so the samples of one request that
   * share a chunk (and neighbours in the next) find it inflated in the cache. */
  size_t chunk_bytes = *chunk_rows * row_bytes, cache = filtered ? CACHE_CHUNKS * chunk_bytes : 0;
  if (cache > CACHE_MAX) cache = chunk_bytes > CACHE_MAX ? chunk_bytes : CACHE_MAX;
  hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
  /* 521 hash slots, a prime about 8 times the chunks held at once, and HDF5's
   * default w0. Measured on HDF5 1.10.8 with random whole-sample reads: thousands of
   * slots or w0 = 1 let the cache grow far past its byte limit (130 MB for a 4 MB
   * cache over 10k reads); these hold it near the limit. */
  H5Pset_chunk_cache(dapl, 521, cache, 0.75);
  set = H5Dopen2(file, name, dapl);
  H5Pclose(dapl);
  return set;
}

/* The data a dataset declares must be in its file: a few KB of HDF5 can declare a GB
 * of chunks never written (read back as fill values, slowly), and external storage
 * or a virtual dataset takes its values from other files, any file at all. An
 * unfiltered dataset holds at most its file's bytes, a compressed one at most
 * MAX_EXPANSION times them. */
static sn_status check_stored(hid_t file, const char *path, const char *name) {
  hid_t set = H5Dopen2(file, name, H5P_DEFAULT);
  if (set < 0) return sn_fail(SN_ERR_FORMAT, "%s: /%s cannot be opened", path, name);
  hid_t dcpl = H5Dget_create_plist(set), space = H5Dget_space(set), type = H5Dget_type(set);
  const H5D_layout_t layout = dcpl < 0 ? H5D_LAYOUT_ERROR : H5Pget_layout(dcpl);
  const int external = dcpl < 0 ? -1 : H5Pget_external_count(dcpl);
  const int filters = dcpl < 0 ? -1 : H5Pget_nfilters(dcpl);
  const hssize_t values = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
  const size_t value_bytes = type < 0 ? 0 : H5Tget_size(type);
  if (dcpl >= 0) H5Pclose(dcpl);
  if (space >= 0) H5Sclose(space);
  if (type >= 0) H5Tclose(type);
  H5Dclose(set);
  hsize_t file_bytes = 0;
  if (layout == H5D_LAYOUT_ERROR || external < 0 || filters < 0 || values < 0 || H5Fget_filesize(file, &file_bytes) < 0)
    return sn_fail(SN_ERR_FORMAT, "%s: the storage of /%s cannot be read", path, name);
  if (layout == H5D_VIRTUAL || external > 0)
    return sn_fail(SN_ERR_FORMAT, "%s: /%s takes its values from other files (%s); shardnet reads data stored in "
                   "the dataset file itself", path, name, layout == H5D_VIRTUAL ? "a virtual dataset" : "external storage");
  const double declared = (double)values * (double)value_bytes;
  if (declared > (double)file_bytes * (filters > 0 ? MAX_EXPANSION : 1.0))
    return sn_fail(SN_ERR_FORMAT, "%s: /%s declares %.0f bytes of data, more than its %llu-byte file holds%s: it was "
                   "never written (an interrupted writer?) or the file is damaged", path, name, declared,
                   (unsigned long long)file_bytes, filters > 0 ? " compressed" : "");
  return SN_OK;
}

/* Shape and type of /images (N, H, W, C) or (N, H, W). */
static sn_status inspect_images(sn_dataset *ds) {
  sn_data_store *s = ds->store;
  if (H5Lexists(s->file, "images", H5P_DEFAULT) <= 0) return sn_fail(SN_ERR_FORMAT, "%s has no /images dataset", ds->path);
  hid_t set = H5Dopen2(s->file, "images", H5P_DEFAULT);
  if (set < 0) return sn_fail(SN_ERR_FORMAT, "%s: /images is not a dataset", ds->path);
  hsize_t dims[SN_H5_MAX_RANK] = {0};
  int nd;
  size_t sample;
  const sn_status shape = sn_h5_shape(set, ds->path, "images", 3, 4, SIZE_MAX, dims, &nd, &sample);
  hid_t type = H5Dget_type(set);
  H5T_class_t cls = H5Tget_class(type);
  size_t tsize = H5Tget_size(type);
  H5T_sign_t sign = cls == H5T_INTEGER ? H5Tget_sign(type) : H5T_SGN_ERROR;
  H5Tclose(type);
  H5Dclose(set);
  if (shape != SN_OK) {
    if (nd != 3 && nd != 4)
      return sn_fail(SN_ERR_FORMAT, "%s: /images must have shape (N, H, W, C), it has %d dimensions", ds->path, nd);
    return shape;
  }
  /* what the readers convert to: anything else would be narrowed without a word */
  const int is_uint8 = cls == H5T_INTEGER && tsize == 1 && sign == H5T_SGN_NONE;
  if (!is_uint8 && !(cls == H5T_FLOAT && tsize == 4))
    return sn_fail(SN_ERR_FORMAT, "%s: /images holds %s%zu values; shardnet reads uint8 or float32 "
                   "(numpy: images.astype(\"uint8\") or .astype(\"float32\"))", ds->path,
                   cls == H5T_FLOAT ? "float" : cls != H5T_INTEGER ? "non-numeric " : sign == H5T_SGN_NONE ? "uint" : "int",
                   8 * tsize);
  /* bounded so that sizes stay far from overflow, and sample indices fit 32 bits */
  if (sample > SN_MAX_INPUT_SIZE || dims[1] > SN_MAX_INPUT_SIDE || dims[2] > SN_MAX_INPUT_SIDE ||
      (nd == 4 && dims[3] > SN_MAX_INPUT_SIDE))
    return sn_fail(SN_ERR_FORMAT, "%s: /images has samples of %llux%llux%llu; each size must be 1 to %d and a "
                   "sample at most %d values", ds->path, (unsigned long long)dims[1], (unsigned long long)dims[2],
                   nd == 4 ? (unsigned long long)dims[3] : 1ull, SN_MAX_INPUT_SIDE, SN_MAX_INPUT_SIZE);
  if (dims[0] > UINT32_MAX)
    return sn_fail(SN_ERR_FORMAT, "%s: /images declares %llu samples, more than the %u a dataset may have", ds->path,
                   (unsigned long long)dims[0], UINT32_MAX);
  ds->n = (size_t)dims[0];
  ds->h = (int)dims[1];
  ds->w = (int)dims[2];
  ds->c = nd == 4 ? (int)dims[3] : 1;
  ds->is_float = !is_uint8;
  if (ds->n == 0) return sn_fail(SN_ERR_FORMAT, "%s has no samples (/images is empty)", ds->path);
  SN_TRY(check_stored(s->file, ds->path, "images"));
  s->image_type = ds->is_float ? H5T_NATIVE_FLOAT : H5T_NATIVE_UINT8;
  ds->image_bytes = (size_t)ds->h * ds->w * ds->c * (ds->is_float ? sizeof(float) : 1);
  s->images = open_rows(s->file, "images", ds->image_bytes, &s->chunk_rows);
  if (s->images >= 0) sn_direct_rows_init(s->file, s->images, s->image_type, ds->image_bytes, &s->images_direct);
  return s->images < 0 ? sn_fail(SN_ERR_FORMAT, "%s: /images cannot be opened", ds->path) : SN_OK;
}

/* /labels (N) integers or /targets (N, ...): which one, and its per-sample size. */
static sn_status inspect_answers(sn_dataset *ds) {
  sn_data_store *s = ds->store;
  ds->has_labels = H5Lexists(s->file, "labels", H5P_DEFAULT) > 0;
  const char *name = ds->has_labels ? "labels" : "targets";
  if (!ds->has_labels && H5Lexists(s->file, "targets", H5P_DEFAULT) <= 0)
    return sn_fail(SN_ERR_FORMAT, "%s has neither /labels nor /targets", ds->path);
  hid_t set = H5Dopen2(s->file, name, H5P_DEFAULT);
  if (set < 0) return sn_fail(SN_ERR_FORMAT, "%s: /%s is not a dataset", ds->path, name);
  hsize_t dims[SN_H5_MAX_RANK] = {0};
  int nd;
  size_t row;
  const sn_status shape = sn_h5_shape(set, ds->path, name, 1, SN_H5_MAX_RANK, SN_MAX_INPUT_SIZE, dims, &nd, &row);
  hid_t type = H5Dget_type(set);
  H5T_class_t cls = H5Tget_class(type);
  H5Tclose(type);
  H5Dclose(set);
  SN_TRY(shape);
  if (dims[0] != ds->n)
    return sn_fail(SN_ERR_FORMAT, "%s: /%s has %llu entries but /images has %zu samples", ds->path, name,
                   nd < 1 ? 0ull : (unsigned long long)dims[0], ds->n);
  if (ds->has_labels && (nd != 1 || cls != H5T_INTEGER))
    return sn_fail(SN_ERR_FORMAT, "%s: /labels must be one integer per sample", ds->path);
  if (!ds->has_labels && cls != H5T_INTEGER && cls != H5T_FLOAT)
    return sn_fail(SN_ERR_FORMAT, "%s: /targets must hold numbers", ds->path);
  SN_TRY(check_stored(s->file, ds->path, name));
  ds->target_size = row;
  ds->answer_bytes = ds->has_labels ? sizeof(int32_t) : ds->target_size * sizeof(float);
  s->answer_type = ds->has_labels ? H5T_NATIVE_INT32 : H5T_NATIVE_FLOAT;
  size_t chunk_rows;
  s->answers = open_rows(s->file, name, ds->answer_bytes, &chunk_rows);
  if (s->answers >= 0) sn_direct_rows_init(s->file, s->answers, s->answer_type, ds->answer_bytes, &s->answers_direct);
  return s->answers < 0 ? sn_fail(SN_ERR_FORMAT, "%s: /%s cannot be opened", ds->path, name) : SN_OK;
}

/* The file's description: format, shapes and types, class names. One rank's view. */
static sn_status describe(sn_dataset *ds) {
  sn_data_store *s = ds->store;
  SN_TRY(sn_h5_open_local(ds->path, &s->file));
  sn_h5_lock();
  sn_status st = sn_h5_check_format(s->file, ds->path, DATASET_FORMAT);
  if (st == SN_OK) st = inspect_images(ds);
  if (st == SN_OK) st = inspect_answers(ds);
  if (st == SN_OK) st = sn_h5_read_strings_attr(s->file, "class_names", &ds->class_names, &ds->n_class_names);
  if (st != SN_OK && !strstr(sn_last_error(), ds->path)) st = sn_fail_context(st, "%s", ds->path);
  sn_h5_unlock();
  return st;
}

sn_status sn_dataset_open(sn_dist *d, const char *path, const sn_dataset_options *opt, sn_dataset **out) {
  *out = NULL;
  sn_dataset *ds = calloc(1, sizeof *ds);
  sn_data_store *s = calloc(1, sizeof *s);
  if (!ds || !s) {
    free(ds);
    free(s);
    return agree(d, sn_fail(SN_ERR_NOMEM, "cannot allocate dataset"));
  }
  ds->store = s;
  snprintf(ds->path, sizeof ds->path, "%s", path);
  *s = (sn_data_store){.dist = d, .rank = d ? sn_dist_rank(d) : 0, .size = d ? sn_dist_size(d) : 1,
                       .file = H5I_INVALID_HID, .images = H5I_INVALID_HID, .answers = H5I_INVALID_HID,
                       .images_direct.fd = -1, .answers_direct.fd = -1};
  sn_status st = agree(d, describe(ds));
  if (st == SN_OK) st = sn_store_choose(ds, opt, &ds->placement, ds->placement_why, sizeof ds->placement_why);
  if (st == SN_OK) st = sn_store_fill(ds);
  if (st != SN_OK) {
    sn_dataset_free(ds);
    return st;
  }
  *out = ds;
  return SN_OK;
}

void sn_dataset_free(sn_dataset *ds) {
  if (!ds) return;
  sn_data_store *s = ds->store;
  if (s) {
    sn_h5_lock();
    sn_direct_rows_free(&s->answers_direct);
    sn_direct_rows_free(&s->images_direct);
    if (s->answers >= 0) H5Dclose(s->answers);
    if (s->images >= 0) H5Dclose(s->images);
    if (s->file >= 0) H5Fclose(s->file);
    sn_h5_unlock();
    if (s->owns_memory) {
      free(s->images_mem);
      free(s->answers_mem);
    }
    sn_shared_arena_destroy(&s->arena);
    free(s);
  }
  for (int i = 0; i < ds->n_class_names; i++) free(ds->class_names[i]);
  free(ds->class_names);
  free(ds);
}

size_t sn_dataset_node_bytes(const sn_dataset *ds) { return sn_store_node_bytes(ds, ds->placement); }

sn_sample_format sn_dataset_format(const sn_dataset *ds) {
  return (sn_sample_format){.h = ds->h, .w = ds->w, .c = ds->c, .is_float = ds->is_float};
}

/* This rank's part of the labels, read in bounded chunks: the first outside [0, classes). */
static sn_status scan_labels(const sn_dataset *ds, size_t classes) {
  const sn_data_store *s = ds->store;
  size_t lo, hi;
  sn_part(ds->n, s->rank, s->size, &lo, &hi);
  const size_t block = hi - lo < SCAN_ROWS ? hi - lo : SCAN_ROWS;
  int32_t *labels = malloc((block ? block : 1) * sizeof *labels);
  if (!labels) return sn_fail(SN_ERR_NOMEM, "cannot allocate %zu labels to check %s", block, ds->path);
  sn_status st = SN_OK;
  for (size_t at = lo; st == SN_OK && at < hi; at += block) {
    const size_t m = hi - at < block ? hi - at : block;
    st = sn_store_read_rows(ds, at, m, NULL, (uint8_t *)labels);
    for (size_t i = 0; st == SN_OK && i < m; i++)
      if (labels[i] < 0 || (size_t)labels[i] >= classes)
        st = sn_fail(SN_ERR_FORMAT, "%s: label %d of sample %zu is outside [0, %zu) (the model has %zu outputs)",
                     ds->path, labels[i], at + i, classes, classes);
  }
  free(labels);
  return st;
}

static sn_status check_answers(const sn_dataset *ds, const sn_net *net) {
  size_t out = sn_shape_size(sn_net_output_shape(net));
  if (net->loss == SN_LOSS_SOFTMAX_CROSS_ENTROPY) {
    if (!ds->has_labels)
      return sn_fail(SN_ERR_FORMAT, "%s has /targets but the loss softmax_cross_entropy needs /labels", ds->path);
    return SN_OK;
  }
  if (ds->has_labels && out != 1)
    return sn_fail(SN_ERR_FORMAT, "%s has /labels but the loss mse needs /targets of %zu values per sample", ds->path,
                   out);
  if (!ds->has_labels && ds->target_size != out)
    return sn_fail(SN_ERR_SHAPE, "%s: targets have %zu values per sample but the model outputs %zu", ds->path,
                   ds->target_size, out);
  return SN_OK;
}

sn_status sn_dataset_validate(sn_dist *d, const sn_dataset *ds, const sn_net *net, const sn_transform *tf) {
  const sn_shape in = net->input_shape;
  sn_status st = SN_OK;
  if (!sn_shape_equal(tf->out, in)) {
    const int transformed = tf->out.d[0] != ds->c || tf->out.d[1] != ds->h || tf->out.d[2] != ds->w;
    st = sn_fail(SN_ERR_SHAPE, "%s: images are %dx%dx%d (H x W x C)%s but model.input is [%d, %d, %d] (C, H, W)%s",
                 ds->path, tf->out.d[1], tf->out.d[2], tf->out.d[0], transformed ? " after data.pad_to/channels" : "",
                 in.d[0], in.d[1], in.d[2],
                 transformed ? "" : " (data.pad_to and data.channels can pad them or replicate a grey channel)");
  }
  if (st == SN_OK) st = check_answers(ds, net);
  st = agree(d, st);
  /* Every rank scans its part; the lowest failing rank holds the first bad sample. */
  if (st == SN_OK && net->loss == SN_LOSS_SOFTMAX_CROSS_ENTROPY)
    st = agree(d, scan_labels(ds, sn_shape_size(sn_net_output_shape(net))));
  return st;
}
