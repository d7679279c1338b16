/* Dataset files: collective loading with parallel HDF5, validation against the
 * model, batch assembly with normalisation, and writing (for the converters). */
#define _POSIX_C_SOURCE 200809L
#include "shardnet/dataset.h"

#include <stdlib.h>
#include <string.h>

#include "dist/dist_comm.h"
#include "io/h5util.h"

#define DATASET_FORMAT "shardnet-dataset"

/* Every rank returns the lowest failing rank's error; without MPI the local one. */
static sn_status agree(sn_dist *d, sn_status st) { return d ? sn_dist_agree(d, st) : st; }

/* Reads rows [0, n) of dset (row_bytes each, in memory type mem) into buf: each
 * rank reads its contiguous slice collectively, then the slices are gathered so
 * every rank holds all rows. */
static sn_status read_rows(sn_dist *d, const char *path, hid_t dset, hid_t mem, size_t n, size_t row_elems,
                           size_t elem_bytes, void *buf) {
  int rank = d ? sn_dist_rank(d) : 0, size = d ? sn_dist_size(d) : 1;
  size_t lo = n * (size_t)rank / (size_t)size, hi = n * (size_t)(rank + 1) / (size_t)size;
  char *dst = (char *)buf + lo * row_elems * elem_bytes;
  herr_t err = sn_h5_rows(dset, mem, lo, hi - lo, row_elems, 0, d != NULL, dst);
  char name[64] = "";
  H5Iget_name(dset, name, sizeof name);
  sn_status st = agree(d, err < 0 ? sn_fail(SN_ERR_IO, "%s: cannot read %s rows %zu to %zu on rank %d (corrupt or unreadable data)",
                                          path, name, lo, hi - 1, rank)
                                  : SN_OK);
  if (st != SN_OK || !d || size == 1) return st;

  /* Gather in units of whole rows so counts stay small integers. */
  MPI_Datatype row;
  MPI_Type_contiguous((int)(row_elems * elem_bytes), MPI_BYTE, &row);
  MPI_Type_commit(&row);
  int *counts = malloc((size_t)size * sizeof *counts), *displs = malloc((size_t)size * sizeof *displs);
  for (int r = 0; r < size; r++) {
    size_t a = n * (size_t)r / (size_t)size, b = n * (size_t)(r + 1) / (size_t)size;
    displs[r] = (int)a;
    counts[r] = (int)(b - a);
  }
  int code = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, counts, displs, row,
                            sn_dist_comm(d));
  free(counts);
  free(displs);
  MPI_Type_free(&row);
  return code == MPI_SUCCESS ? SN_OK : sn_dist_mpi_fail(d, code, "MPI_Allgatherv");
}

/* Shape checks on /images (N, H, W, C) or (N, H, W); runs identically on every rank. */
static sn_status inspect_images(hid_t file, sn_dataset *ds, hid_t *dset) {
  if (H5Lexists(file, "images", H5P_DEFAULT) <= 0)
    return sn_fail(SN_ERR_FORMAT, "%s has no /images dataset", ds->path);
  *dset = H5Dopen2(file, "images", H5P_DEFAULT);
  if (*dset < 0) return sn_fail(SN_ERR_FORMAT, "%s: /images is not a dataset", ds->path);
  hid_t space = H5Dget_space(*dset), type = H5Dget_type(*dset);
  hsize_t dims[8] = {0};
  int nd = H5Sget_simple_extent_ndims(space);
  if (nd > 0 && nd <= 8) H5Sget_simple_extent_dims(space, dims, NULL);
  H5T_class_t cls = H5Tget_class(type);
  size_t tsize = H5Tget_size(type);
  H5Sclose(space);
  H5Tclose(type);
  if (nd != 3 && nd != 4)
    return sn_fail(SN_ERR_FORMAT, "%s: /images must have shape (N, H, W, C), it has %d dimensions",
                   ds->path, nd);
  if (cls != H5T_INTEGER && cls != H5T_FLOAT)
    return sn_fail(SN_ERR_FORMAT, "%s: /images must hold uint8 or float32 values", ds->path);
  ds->n = (size_t)dims[0];
  ds->h = (int)dims[1];
  ds->w = (int)dims[2];
  ds->c = nd == 4 ? (int)dims[3] : 1;
  ds->is_float = !(cls == H5T_INTEGER && tsize == 1);
  if (ds->n == 0) return sn_fail(SN_ERR_FORMAT, "%s has no samples (/images is empty)", ds->path);
  return SN_OK;
}

/* /labels (N) or /targets (N, ...): which one, and its per-sample size. */
static sn_status inspect_answers(hid_t file, sn_dataset *ds, hid_t *dset, int *is_labels) {
  *is_labels = H5Lexists(file, "labels", H5P_DEFAULT) > 0;
  const char *name = *is_labels ? "labels" : "targets";
  if (!*is_labels && H5Lexists(file, "targets", H5P_DEFAULT) <= 0)
    return sn_fail(SN_ERR_FORMAT, "%s has neither /labels nor /targets", ds->path);
  *dset = H5Dopen2(file, name, H5P_DEFAULT);
  if (*dset < 0) return sn_fail(SN_ERR_FORMAT, "%s: /%s is not a dataset", ds->path, name);
  hid_t space = H5Dget_space(*dset);
  hsize_t dims[8] = {0};
  int nd = H5Sget_simple_extent_ndims(space);
  if (nd > 0 && nd <= 8) H5Sget_simple_extent_dims(space, dims, NULL);
  H5Sclose(space);
  if (nd < 1 || dims[0] != ds->n)
    return sn_fail(SN_ERR_FORMAT, "%s: /%s has %llu entries but /images has %zu samples", ds->path,
                   name, nd < 1 ? 0ull : (unsigned long long)dims[0], ds->n);
  if (*is_labels && nd != 1)
    return sn_fail(SN_ERR_FORMAT, "%s: /labels must be one integer per sample", ds->path);
  ds->target_size = 1;
  for (int i = 1; i < nd; i++) ds->target_size *= (size_t)dims[i];
  return SN_OK;
}

static sn_status allocate(sn_dataset *ds, int is_labels) {
  size_t pixels = ds->n * (size_t)ds->h * ds->w * ds->c;
  if (ds->is_float) ds->f32 = malloc(pixels * sizeof(float));
  else ds->u8 = malloc(pixels);
  if (is_labels) ds->labels = malloc(ds->n * sizeof(int32_t));
  else ds->targets = malloc(ds->n * ds->target_size * sizeof(float));
  if ((!ds->f32 && !ds->u8) || (!ds->labels && !ds->targets))
    return sn_fail(SN_ERR_NOMEM, "%s: cannot hold %zu samples in memory", ds->path, ds->n);
  return SN_OK;
}

sn_status sn_dataset_load(sn_dist *d, const char *path, sn_dataset **out) {
  *out = NULL;
  sn_dataset *ds = calloc(1, sizeof *ds);
  if (!ds) return sn_fail(SN_ERR_NOMEM, "cannot allocate dataset");
  snprintf(ds->path, sizeof ds->path, "%s", path);
  hid_t file = H5I_INVALID_HID, images = H5I_INVALID_HID, answers = H5I_INVALID_HID;
  int is_labels = 0;
  sn_status st = agree(d, sn_h5_open_read(d, path, &file));
  if (st == SN_OK) st = agree(d, sn_h5_check_format(file, path, DATASET_FORMAT));
  if (st == SN_OK) st = agree(d, inspect_images(file, ds, &images));
  if (st == SN_OK) st = agree(d, inspect_answers(file, ds, &answers, &is_labels));
  if (st == SN_OK) st = agree(d, allocate(ds, is_labels));
  if (st == SN_OK) {
    size_t row = (size_t)ds->h * ds->w * ds->c;
    st = ds->is_float ? read_rows(d, path, images, H5T_NATIVE_FLOAT, ds->n, row, sizeof(float), ds->f32)
                      : read_rows(d, path, images, H5T_NATIVE_UINT8, ds->n, row, 1, ds->u8);
  }
  if (st == SN_OK)
    st = is_labels ? read_rows(d, path, answers, H5T_NATIVE_INT32, ds->n, 1, sizeof(int32_t), ds->labels)
                   : read_rows(d, path, answers, H5T_NATIVE_FLOAT, ds->n, ds->target_size, sizeof(float),
                               ds->targets);
  if (st == SN_OK)
    st = agree(d, sn_h5_read_strings_attr(file, "class_names", &ds->class_names, &ds->n_class_names));
  if (answers >= 0) H5Dclose(answers);
  if (images >= 0) H5Dclose(images);
  if (file >= 0) H5Fclose(file);
  if (st != SN_OK) {
    sn_dataset_free(ds);
    return st;
  }
  *out = ds;
  return SN_OK;
}

void sn_dataset_free(sn_dataset *ds) {
  if (!ds) return;
  free(ds->u8);
  free(ds->f32);
  free(ds->labels);
  free(ds->targets);
  for (int i = 0; i < ds->n_class_names; i++) free(ds->class_names[i]);
  free(ds->class_names);
  free(ds);
}

sn_status sn_dataset_validate(const sn_dataset *ds, const sn_net *net) {
  const sn_shape in = net->input_shape;
  if (ds->c != in.d[0] || ds->h != in.d[1] || ds->w != in.d[2])
    return sn_fail(SN_ERR_SHAPE,
                   "%s: images are %dx%dx%d (H x W x C) but model.input is [%d, %d, %d] (C, H, W)",
                   ds->path, ds->h, ds->w, ds->c, in.d[0], in.d[1], in.d[2]);
  size_t out = sn_shape_size(sn_net_output_shape(net));
  if (net->loss == SN_LOSS_SOFTMAX_CROSS_ENTROPY) {
    if (!ds->labels)
      return sn_fail(SN_ERR_FORMAT, "%s has /targets but the loss softmax_cross_entropy needs /labels",
                     ds->path);
    for (size_t i = 0; i < ds->n; i++)
      if (ds->labels[i] < 0 || (size_t)ds->labels[i] >= out)
        return sn_fail(SN_ERR_FORMAT, "%s: label %d of sample %zu is outside [0, %zu) (the model has %zu outputs)",
                       ds->path, ds->labels[i], i, out, out);
  } else {
    if (!ds->targets && out != 1)
      return sn_fail(SN_ERR_FORMAT, "%s has /labels but the loss mse needs /targets of %zu values per sample",
                     ds->path, out);
    if (ds->targets && ds->target_size != out)
      return sn_fail(SN_ERR_SHAPE, "%s: targets have %zu values per sample but the model outputs %zu",
                     ds->path, ds->target_size, out);
  }
  return SN_OK;
}

void sn_dataset_batch(const sn_dataset *ds, const sn_data_config *norm, const uint32_t *idx,
                      int n, float *x, int32_t *labels, float *targets) {
  const int c = ds->c, hw = ds->h * ds->w;
  float scale[16], shift[16];
  for (int k = 0; k < c && k < 16; k++) {
    /* (v * s - mean) / std folded into one multiply-add per pixel */
    double mean = norm->n_mean ? norm->mean[norm->n_mean == 1 ? 0 : k] : 0.0;
    double std = norm->n_std ? norm->std[norm->n_std == 1 ? 0 : k] : 1.0;
    double s = norm->scale > 0 ? norm->scale : 1.0;
    scale[k] = (float)(s / std);
    shift[k] = (float)(-mean / std);
  }
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; i++) {
    size_t src = (size_t)idx[i] * hw * c;
    float *dst = x + (size_t)i * hw * c;
    /* channels-last file layout into channels-first batch */
    for (int p = 0; p < hw; p++)
      for (int k = 0; k < c; k++) {
        float v = ds->is_float ? ds->f32[src + (size_t)p * c + k] : (float)ds->u8[src + (size_t)p * c + k];
        dst[(size_t)k * hw + p] = v * scale[k < 16 ? k : 15] + shift[k < 16 ? k : 15];
      }
    if (labels && ds->labels) labels[i] = ds->labels[idx[i]];
    if (targets && ds->targets)
      memcpy(targets + (size_t)i * ds->target_size, ds->targets + (size_t)idx[i] * ds->target_size,
             ds->target_size * sizeof(float));
  }
}
