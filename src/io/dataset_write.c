/* Writing dataset files (the converters' output): /images, /labels or /targets
 * chunked by whole samples, and the root attributes of the format. */
#include "shardnet/dataset_writer.h"

#include "io/h5util.h"

#define DATASET_FORMAT "shardnet-dataset"

/* Writes one dataset of the given type and dims, chunked by whole samples. */
static sn_status write_array(hid_t file, const char *name, hid_t file_type, hid_t mem_type, int nd,
                             const hsize_t *dims, const void *data) {
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  hsize_t chunk[8];
  size_t per_sample = 1;
  for (int i = 1; i < nd; i++) {
    chunk[i] = dims[i];
    per_sample *= dims[i];
  }
  /* about 1 MiB of whole samples per chunk */
  hsize_t rows = (hsize_t)((1u << 20) / (per_sample * H5Tget_size(file_type) + 1)) + 1;
  chunk[0] = rows < dims[0] ? rows : dims[0];
  if (dims[0] > 0) H5Pset_chunk(dcpl, nd, chunk);
  herr_t err = sn_h5_write_whole(file, name, nd, dims, file_type, mem_type, H5P_DEFAULT, dcpl, data);
  H5Pclose(dcpl);
  return err < 0 ? sn_fail(SN_ERR_IO, "cannot write /%s", name) : SN_OK;
}

sn_status sn_dataset_write(const char *path, const sn_dataset_contents *c) {
  sn_h5_quiet();
  hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) return sn_fail(SN_ERR_IO, "cannot create %s", path);
  hsize_t dims[4] = {c->n, (hsize_t)c->h, (hsize_t)c->w, (hsize_t)c->c};
  sn_status st = sn_h5_write_string_attr(file, "format", DATASET_FORMAT);
  if (st == SN_OK) st = sn_h5_write_int_attr(file, "format_version", 1);
  if (st == SN_OK)
    st = c->is_float ? write_array(file, "images", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, dims, c->images)
                     : write_array(file, "images", H5T_STD_U8LE, H5T_NATIVE_UINT8, 4, dims, c->images);
  if (st == SN_OK && c->labels)
    st = write_array(file, "labels", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, dims, c->labels);
  if (st == SN_OK && c->targets) {
    hsize_t tdims[2] = {c->n, c->target_size};
    st = write_array(file, "targets", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, tdims, c->targets);
  }
  if (st == SN_OK && c->n_class_names)
    st = sn_h5_write_strings_attr(file, "class_names", c->class_names, c->n_class_names);
  if (st == SN_OK && c->source) st = sn_h5_write_string_attr(file, "source", c->source);
  if (H5Fclose(file) < 0 && st == SN_OK) st = sn_fail(SN_ERR_IO, "cannot finish writing %s", path);
  if (st != SN_OK) return sn_fail_context(st, "%s", path);
  return SN_OK;
}
