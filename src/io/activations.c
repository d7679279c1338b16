/* Activation files: batch-1 inference over each rank's share of the samples,
 * collective row writes through parallel HDF5, then image grids added by rank 0. */
#define _POSIX_C_SOURCE 200809L
#include "shardnet/activations.h"

#include <hdf5_hl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dist/dist_comm.h"
#include "io/h5util.h"
#include "shardnet/infer.h"
#include "shardnet/memory.h"
#include "shardnet/part.h"

#define ACTIVATIONS_FORMAT "shardnet-activations"
#define IMAGES "images"
#define PALETTE "palette"
/* What one rank buffers between two collective writes, so that a long range of
 * samples needs bounded memory. */
#define ROUND_BYTES ((size_t)32 << 20)
/* Grid lines are white: ReLU maps are mostly black (zero), and black lines would
 * vanish between them. */
#define GAP_PIXEL 255

/* The rows of one record: row i holds dataset sample list[i], or first + i. */
typedef struct {
  const sn_dataset *ds;
  const sn_transform *tf;
  size_t n, first;
  const long *list;
  long step;
} record;

/* A record's datasets: 0 is the network input, k > 0 the output of layer k - 1. */
static sn_shape set_shape(const sn_net *net, int k) {
  return k == 0 ? net->input_shape : net->layers[k - 1].out_shape;
}
static const char *set_name(const sn_net *net, int k) { return k == 0 ? "input" : net->layers[k - 1].name; }
static const char *set_type(const sn_net *net, int k) { return k == 0 ? "input" : net->layers[k - 1].ops->type; }

/* Layer names become link names beside /input and /images, and in /images beside
 * the palette: refuse the ones HDF5 cannot hold or that would collide. */
static sn_status check_names(const sn_net *net) {
  for (int i = 0; i < net->n_layers; i++) {
    const sn_layer *l = &net->layers[i];
    if (strchr(l->name, '/') || !strcmp(l->name, "."))
      return sn_fail(SN_ERR_INVALID, "layer '%s' cannot be recorded in an activations file: its name is not a valid HDF5 link name",
                     l->name);
    if (!strcmp(l->name, IMAGES) || (l->out_shape.ndim == 3 && !strcmp(l->name, PALETTE)))
      return sn_fail(SN_ERR_INVALID, "layer '%s' cannot be recorded in an activations file: the name is taken by /%s%s (rename the layer)",
                     l->name, IMAGES, strcmp(l->name, IMAGES) ? "/" PALETTE : "");
  }
  return SN_OK;
}

/* Attributes of a record's location, then one (n, ...) float32 dataset per set with
 * attributes layer_type and step: collective metadata, the same calls on every rank. */
static sn_status create_sets(hid_t loc, const sn_net *net, const record *r, hid_t *sets) {
  const char **names = malloc((size_t)net->n_layers * sizeof *names);
  if (!names) return sn_fail(SN_ERR_NOMEM, "cannot allocate the layer names");
  for (int i = 0; i < net->n_layers; i++) names[i] = net->layers[i].name;
  sn_status st = sn_h5_write_int_attr(loc, "step", r->step);
  if (st == SN_OK) st = sn_h5_write_strings_attr(loc, "layer_names", names, net->n_layers);
  free(names);
  for (int k = 0; k <= net->n_layers && st == SN_OK; k++) {
    const sn_shape s = set_shape(net, k);
    hsize_t dims[4] = {r->n, (hsize_t)s.d[0], (hsize_t)s.d[1], (hsize_t)s.d[2]};
    hid_t space = H5Screate_simple(1 + s.ndim, dims, NULL);
    sets[k] = H5Dcreate2(loc, set_name(net, k), H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Sclose(space);
    if (sets[k] < 0) st = sn_fail(SN_ERR_IO, "cannot create dataset '%s'", set_name(net, k));
    if (st == SN_OK) st = sn_h5_write_string_attr(sets[k], "layer_type", set_type(net, k));
    if (st == SN_OK) st = sn_h5_write_int_attr(sets[k], "step", r->step);
  }
  return st;
}

/* Collective: this rank writes rows [row, row + m) of set from data (m may be 0). */
static sn_status write_rows(hid_t set, const char *name, size_t row, size_t m, size_t per_row, const float *data) {
  herr_t err = sn_h5_rows(set, H5T_NATIVE_FLOAT, row, m, per_row, 1, 1, (void *)data);
  return err < 0 ? sn_fail(SN_ERR_IO, "cannot write rows %zu..%zu of '%s'", row, row + m, name) : SN_OK;
}

/* Collective: writes record r into loc. Rank q of P computes rows
 * [n*q/P, n*(q+1)/P), in rounds of at most `round` rows per rank; every rank takes
 * part in every round's writes, with no rows when its share is done. */
/* Where write_record's rows go: set k's values of row first + j at buf + offset[k] + j * per[k]. */
typedef struct {
  float *buf;
  const size_t *per, *offset;
  int n_sets;
  size_t first;
} rows_out;

static sn_status keep_row(void *ctx, size_t row, int n, const sn_net *net, const float *x, const int32_t *labels,
                          const float *targets) {
  const rows_out *o = ctx;
  const size_t j = row - o->first;
  memcpy(o->buf + o->offset[0] + j * o->per[0], x, o->per[0] * sizeof(float));
  for (int k = 1; k < o->n_sets; k++)
    sn_net_copy_output(net, k - 1, 0, 1, o->buf + o->offset[k] + j * o->per[k]);
  return SN_OK;
}

static sn_status write_record(sn_dist *d, hid_t loc, sn_net *net, const record *r) {
  const int rank = sn_dist_rank(d), size = sn_dist_size(d), n_sets = net->n_layers + 1;
  size_t lo, hi;
  sn_part(r->n, rank, size, &lo, &hi);
  const size_t most = sn_part_max(r->n, size);  /* the largest share */
  size_t *per = calloc((size_t)n_sets, sizeof *per), *offset = calloc((size_t)n_sets, sizeof *offset);
  hid_t *sets = malloc((size_t)n_sets * sizeof *sets);
  uint32_t *samples = malloc((r->n ? r->n : 1) * sizeof *samples);
  float *buf = NULL;
  size_t per_sample = 0, round = 1;
  sn_status st = per && offset && sets && samples ? SN_OK : sn_fail(SN_ERR_NOMEM, "cannot allocate activation buffers");
  for (size_t i = 0; samples && i < r->n; i++) samples[i] = (uint32_t)(r->list ? (size_t)r->list[i] : r->first + i);
  for (int k = 0; sets && k < n_sets; k++) sets[k] = H5I_INVALID_HID;
  if (st == SN_OK) {
    for (int k = 0; k < n_sets; k++) per_sample += per[k] = sn_shape_size(set_shape(net, k));
    round = ROUND_BYTES / (per_sample * sizeof(float));
    round = round < 1 ? 1 : round > most ? most : round;
    for (int k = 1; k < n_sets; k++) offset[k] = offset[k - 1] + round * per[k - 1];
    st = sn_alloc_floats(round * per_sample, &buf);
  }
  /* The net may come unreserved (a freshly loaded model); batch 1 is all it needs. */
  if (st == SN_OK && net->max_batch < 1) st = sn_net_reserve(net, 1, 0);
  st = sn_dist_agree(d, st);
  sn_reader *reader = NULL;
  if (st == SN_OK) st = sn_reader_create(d, r->ds, 4, 1, 0, &reader);
  if (st == SN_OK) st = sn_dist_agree(d, create_sets(loc, net, r, sets));
  rows_out out = {.buf = buf, .per = per, .offset = offset, .n_sets = n_sets};
  for (size_t done = 0; st == SN_OK && done < most; done += round) {
    const size_t row = lo + done, m = row < hi ? (hi - row < round ? hi - row : round) : 0;
    /* One sample per forward: a kernel's blocking then never depends on how the
     * samples were split, which keeps the file bitwise the same for any rank count. */
    out.first = row;
    sn_status fst = sn_infer_rows(reader, net, r->tf, samples, row, row + m, 1, keep_row, &out);
    /* Every rank makes every write, even after a failure, so none waits alone. */
    sn_status wst = fst;
    for (int k = 0; k < n_sets; k++) {
      sn_status one = write_rows(sets[k], set_name(net, k), row, m, per[k], buf + offset[k]);
      wst = wst != SN_OK ? wst : one;
    }
    st = sn_dist_agree(d, wst);
  }
  for (int k = 0; sets && k < n_sets; k++)
    if (sets[k] >= 0) H5Dclose(sets[k]);
  sn_reader_destroy(reader);
  free(samples);
  free(per);
  free(offset);
  free(sets);
  sn_free(buf);
  return st;
}

/* Tiles c maps of h x w into out, a grid `cols` maps wide with 1-pixel gaps (row
 * stride `width`), each map scaled to 0..255 by its own finite min and max. */
static void tile_maps(const float *maps, int c, int h, int w, int cols, unsigned char *out, size_t width) {
  for (int m = 0; m < c; m++) {
    const float *v = maps + (size_t)m * h * w;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < (size_t)h * w; i++)
      if (isfinite(v[i])) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
      }
    const double scale = hi > lo ? 255.0 / (hi - lo) : 0.0;
    unsigned char *cell = out + (size_t)(m / cols) * (h + 1) * width + (size_t)(m % cols) * (w + 1);
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        const float f = v[(size_t)y * w + x];
        cell[(size_t)y * width + x] = isfinite(f) ? (unsigned char)((f - lo) * scale + 0.5) : 0;
      }
  }
}

/* Reads row 0 (the record's first sample) of dataset name in loc into maps. */
static sn_status read_first_row(hid_t loc, const char *name, size_t count, float *maps) {
  hid_t set = H5Dopen2(loc, name, H5P_DEFAULT);
  if (set < 0) return sn_fail(SN_ERR_IO, "cannot open dataset '%s'", name);
  hid_t fspace = H5Dget_space(set);
  hsize_t start[4] = {0, 0, 0, 0}, dims[4];
  H5Sget_simple_extent_dims(fspace, dims, NULL);
  dims[0] = 1;
  H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, dims, NULL);
  hsize_t mdims[1] = {count};
  hid_t mspace = H5Screate_simple(1, mdims, NULL);
  herr_t err = H5Dread(set, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, maps);
  H5Sclose(mspace);
  H5Sclose(fspace);
  H5Dclose(set);
  return err < 0 ? sn_fail(SN_ERR_IO, "cannot read dataset '%s'", name) : SN_OK;
}

/* The image grid of one (C, H, W) layer from the values already in the file. */
static sn_status add_image(hid_t loc, hid_t images, const sn_layer *l) {
  const int c = l->out_shape.d[0], h = l->out_shape.d[1], w = l->out_shape.d[2];
  int cols = 1;
  while (cols * cols < c) cols++;
  const int rows = (c + cols - 1) / cols;
  const size_t width = (size_t)cols * (w + 1) - 1, height = (size_t)rows * (h + 1) - 1;
  float *maps = malloc((size_t)c * h * w * sizeof *maps);
  unsigned char *pixels = malloc(width * height);
  sn_status st = maps && pixels ? SN_OK : sn_fail(SN_ERR_NOMEM, "cannot allocate the image of layer '%s'", l->name);
  if (st == SN_OK) st = read_first_row(loc, l->name, (size_t)c * h * w, maps);
  if (st == SN_OK) {
    memset(pixels, GAP_PIXEL, width * height);
    tile_maps(maps, c, h, w, cols, pixels, width);
    if (H5IMmake_image_8bit(images, l->name, width, height, pixels) < 0 ||
        H5IMlink_palette(images, l->name, PALETTE) < 0)
      st = sn_fail(SN_ERR_IO, "cannot write the image of layer '%s'", l->name);
  }
  free(maps);
  free(pixels);
  return st;
}

/* Serial (one rank, parallel file closed): group `images` in record loc with a
 * grayscale palette and one image per layer with (C, H, W) output. Image API calls
 * create objects, which under MPI-IO would have to be collective with identical
 * arguments on every rank; a serial reopen keeps them simple and off the others. */
static sn_status add_images(const char *path, const char *record_group, const sn_net *net) {
  hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  if (file < 0) return sn_fail(SN_ERR_IO, "cannot reopen the file to add images");
  hid_t loc = record_group ? H5Gopen2(file, record_group, H5P_DEFAULT) : file;
  hid_t images = loc < 0 ? H5I_INVALID_HID : H5Gcreate2(loc, IMAGES, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  sn_status st = images >= 0 ? SN_OK : sn_fail(SN_ERR_IO, "cannot create group '%s'", IMAGES);
  unsigned char gray[256 * 3];
  for (int v = 0; v < 256; v++) gray[3 * v] = gray[3 * v + 1] = gray[3 * v + 2] = (unsigned char)v;
  const hsize_t pal_dims[2] = {256, 3};
  if (st == SN_OK && H5IMmake_palette(images, PALETTE, pal_dims, gray) < 0)
    st = sn_fail(SN_ERR_IO, "cannot write the grayscale palette");
  for (int i = 0; i < net->n_layers && st == SN_OK; i++)
    if (net->layers[i].out_shape.ndim == 3) st = add_image(loc, images, &net->layers[i]);
  if (images >= 0) H5Gclose(images);
  if (record_group && loc >= 0) H5Gclose(loc);
  if (H5Fclose(file) < 0 && st == SN_OK) st = sn_fail(SN_ERR_IO, "cannot finish writing the images");
  return st;
}

/* Closes the parallel file, then rank 0 adds the images. The agreement after the
 * close is also a barrier: every rank's rows are in the file before rank 0 reopens. */
static sn_status finish(sn_dist *d, hid_t file, sn_status st, const char *path, const char *record_group,
                        const sn_net *net) {
  if (file >= 0 && H5Fclose(file) < 0 && st == SN_OK) st = sn_fail(SN_ERR_IO, "cannot finish writing the file");
  st = sn_dist_agree(d, st);
  if (st == SN_OK) st = sn_dist_agree(d, sn_dist_rank(d) == 0 ? add_images(path, record_group, net) : SN_OK);
  return st == SN_OK ? SN_OK : sn_fail_context(st, "%s", path);
}

static hid_t mpio_fapl(sn_dist *d) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_mpio(fapl, sn_dist_comm(d), MPI_INFO_NULL);
  return fapl;
}

static sn_status activations_write_unlocked(sn_dist *d, sn_net *net, const sn_dataset *ds, const sn_transform *tf,
                               size_t first, size_t last, const sn_activations_source *src, const char *path) {
  sn_h5_quiet();
  sn_status st = SN_OK;
  if (first >= last || last > ds->n)
    st = sn_fail(SN_ERR_INVALID, "samples %zu:%zu are not a range A:B with A < B <= %zu, the samples of %s", first,
                 last, ds->n, ds->path);
  if (st == SN_OK) st = check_names(net);
  SN_TRY(sn_dist_agree(d, st));
  hid_t fapl = mpio_fapl(d);
  hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  SN_TRY(sn_dist_agree(d, file < 0 ? sn_fail(SN_ERR_IO, "cannot create %s", path) : SN_OK));
  char range[64];
  snprintf(range, sizeof range, "%zu:%zu", first, last);
  st = sn_h5_write_string_attr(file, "format", ACTIVATIONS_FORMAT);
  if (st == SN_OK) st = sn_h5_write_int_attr(file, "format_version", 1);
  if (st == SN_OK) st = sn_h5_write_string_attr(file, "checkpoint", src->checkpoint ? src->checkpoint : "");
  if (st == SN_OK) st = sn_h5_write_string_attr(file, "data", ds->path);
  if (st == SN_OK) st = sn_h5_write_string_attr(file, "samples", range);
  st = sn_dist_agree(d, st);
  const record r = {.ds = ds, .tf = tf, .n = last - first, .first = first, .step = src->step};
  if (st == SN_OK) st = write_record(d, file, net, &r);
  return finish(d, file, st, path, NULL, net);
}

/* HDF5 is not thread-safe here: a stream reader's thread may be reading. */
sn_status sn_activations_write(sn_dist *d, sn_net *net, const sn_dataset *ds, const sn_transform *tf,
                               size_t first, size_t last, const sn_activations_source *src, const char *path) {
  sn_h5_lock();
  sn_status st = activations_write_unlocked(d, net, ds, tf, first, last, src, path);
  sn_h5_unlock();
  return st;
}

/* Collective: opens path for appending (creating it when rank 0 sees no file) and
 * checks or writes the root format attributes. */
static sn_status open_for_append(sn_dist *d, const char *path, hid_t *file) {
  int exists = sn_dist_rank(d) == 0 && access(path, F_OK) == 0;
  SN_TRY(sn_dist_broadcast(d, &exists, sizeof exists, 0));
  hid_t fapl = mpio_fapl(d);
  *file = exists ? H5Fopen(path, H5F_ACC_RDWR, fapl) : H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  /* Opening is collective: if it failed anywhere, nobody goes on (nor closes, which
   * would wait for the ranks that hold no file). */
  SN_TRY(sn_dist_agree(d, *file >= 0 ? SN_OK
                                     : sn_fail(SN_ERR_IO, exists ? "cannot open %s to append activations (not HDF5?)"
                                                                 : "cannot create %s", path)));
  sn_status st = SN_OK;
  if (exists) {
    char format[64];
    st = sn_h5_read_string_attr(*file, "format", format, sizeof format, 0);
    if (st == SN_OK && strcmp(format, ACTIVATIONS_FORMAT))
      st = sn_fail(SN_ERR_FORMAT, "%s exists and is not a %s file (format '%s'): refusing to append to it", path,
                   ACTIVATIONS_FORMAT, format);
  } else {
    st = sn_h5_write_string_attr(*file, "format", ACTIVATIONS_FORMAT);
    if (st == SN_OK) st = sn_h5_write_int_attr(*file, "format_version", 1);
  }
  st = sn_dist_agree(d, st);
  if (st != SN_OK) {
    H5Fclose(*file);
    *file = H5I_INVALID_HID;
  }
  return st;
}

static sn_status activations_snapshot_unlocked(sn_dist *d, sn_net *net, const sn_dataset *ds, const sn_transform *tf,
                                  const long *samples, int n_samples, long step, const char *path) {
  sn_h5_quiet();
  sn_status st = n_samples > 0 ? SN_OK : sn_fail(SN_ERR_INVALID, "activations: no samples to record");
  for (int i = 0; i < n_samples && st == SN_OK; i++)
    if (samples[i] < 0 || (size_t)samples[i] >= ds->n)
      st = sn_fail(SN_ERR_INVALID, "activations: sample %ld is outside %s, which has %zu samples", samples[i],
                   ds->path, ds->n);
  if (st == SN_OK) st = check_names(net);
  SN_TRY(sn_dist_agree(d, st));
  hid_t file = H5I_INVALID_HID;
  SN_TRY(open_for_append(d, path, &file));
  char group[32];
  snprintf(group, sizeof group, "step_%08ld", step);
  long long *indices = malloc((size_t)n_samples * sizeof *indices);
  st = indices ? SN_OK : sn_fail(SN_ERR_NOMEM, "cannot allocate the sample list");
  for (int i = 0; indices && i < n_samples; i++) indices[i] = samples[i];
  /* A resumed run records a step again: the new record replaces the old one. */
  if (st == SN_OK && H5Lexists(file, group, H5P_DEFAULT) > 0 && H5Ldelete(file, group, H5P_DEFAULT) < 0)
    st = sn_fail(SN_ERR_IO, "cannot replace group '%s'", group);
  hid_t g = st == SN_OK ? H5Gcreate2(file, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : H5I_INVALID_HID;
  if (st == SN_OK && g < 0) st = sn_fail(SN_ERR_IO, "cannot create group '%s'", group);
  if (st == SN_OK) st = sn_h5_write_ints_attr(g, "samples", indices, n_samples);
  free(indices);
  st = sn_dist_agree(d, st);
  const record r = {.ds = ds, .tf = tf, .n = (size_t)n_samples, .list = samples, .step = step};
  if (st == SN_OK) st = write_record(d, g, net, &r);
  if (g >= 0) H5Gclose(g);
  return finish(d, file, st, path, group, net);
}

/* HDF5 is not thread-safe here: a stream reader's thread may be reading. */
sn_status sn_activations_snapshot(sn_dist *d, sn_net *net, const sn_dataset *ds, const sn_transform *tf,
                                  const long *samples, int n_samples, long step, const char *path) {
  sn_h5_lock();
  sn_status st = activations_snapshot_unlocked(d, net, ds, tf, samples, n_samples, step, path);
  sn_h5_unlock();
  return st;
}
