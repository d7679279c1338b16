/* Collective writing of prediction files through parallel HDF5. */
#define _POSIX_C_SOURCE 200809L
#include "shardnet/predictions.h"

#include "dist/dist_comm.h"
#include "io/h5util.h"

/* Each rank writes rows [first, first+local) of a (n, dim) dataset collectively. */
static sn_status write_slice(hid_t file, const char *name, hid_t file_type, hid_t mem_type, const sn_predictions *p,
                             int dim, const void *data) {
  hsize_t dims[2] = {p->n, (hsize_t)dim};
  int nd = dim > 0 ? 2 : 1;
  hid_t fspace = H5Screate_simple(nd, dims, NULL);
  hid_t dset = H5Dcreate2(file, name, file_type, fspace, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Sclose(fspace);
  herr_t err = dset < 0 ? -1 : sn_h5_rows(dset, mem_type, p->first, p->local, dim > 0 ? (size_t)dim : 1, 1, 1, (void *)data);
  if (dset >= 0) H5Dclose(dset);
  return err < 0 ? sn_fail(SN_ERR_IO, "cannot write /%s", name) : SN_OK;
}

static sn_status predictions_write_unlocked(sn_dist *d, const char *path, const sn_predictions *p) {
  sn_h5_quiet();
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_mpio(fapl, sn_dist_comm(d), MPI_INFO_NULL);
  hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  /* Creation is collective: if it failed anywhere, nobody goes on to write. */
  SN_TRY(sn_dist_agree(d, file < 0 ? sn_fail(SN_ERR_IO, "cannot create %s", path) : SN_OK));
  /* Attributes and dataset creation are collective metadata operations: every
   * rank makes the same calls with the same values. */
  sn_status st = sn_h5_write_string_attr(file, "format", "shardnet-predictions");
  if (st == SN_OK) st = sn_h5_write_int_attr(file, "format_version", 1);
  if (st == SN_OK) st = sn_h5_write_string_attr(file, "checkpoint", p->checkpoint ? p->checkpoint : "");
  if (st == SN_OK) st = sn_h5_write_string_attr(file, "data", p->data ? p->data : "");
  if (st == SN_OK)
    st = write_slice(file, p->labels ? "probabilities" : "outputs", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, p, p->dim,
                     p->values);
  if (st == SN_OK && p->labels) st = write_slice(file, "labels", H5T_STD_I32LE, H5T_NATIVE_INT32, p, 0, p->labels);
  if (H5Fclose(file) < 0 && st == SN_OK) st = sn_fail(SN_ERR_IO, "cannot finish writing %s", path);
  return sn_dist_agree(d, st);
}

/* HDF5 is not thread-safe here: a stream reader's thread may be reading. */
sn_status sn_predictions_write(sn_dist *d, const char *path, const sn_predictions *p) {
  sn_h5_lock();
  sn_status st = predictions_write_unlocked(d, path, p);
  sn_h5_unlock();
  return st;
}
