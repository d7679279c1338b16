/* HDF5 helpers: quiet errors, opening with MPI-IO, string and integer attributes. */
#define _POSIX_C_SOURCE 200809L
#include "io/h5util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dist/dist_comm.h"
#include "shardnet/checked.h"
#include "shardnet/version.h"

void sn_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static pthread_mutex_t h5_mutex;
static pthread_once_t h5_mutex_once = PTHREAD_ONCE_INIT;

static void make_h5_mutex(void) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&h5_mutex, &attr);
  pthread_mutexattr_destroy(&attr);
}

void sn_h5_lock(void) {
  pthread_once(&h5_mutex_once, make_h5_mutex);
  pthread_mutex_lock(&h5_mutex);
}

void sn_h5_unlock(void) { pthread_mutex_unlock(&h5_mutex); }

sn_status sn_require_regular_file(const char *path) {
  struct stat info;
  if (stat(path, &info) != 0) return sn_fail(SN_ERR_IO, "cannot open %s: %s", path, strerror(errno));
  if (!S_ISREG(info.st_mode)) return sn_fail(SN_ERR_IO, "%s is not a regular file", path);
  return SN_OK;
}

sn_status sn_h5_open_local(const char *path, hid_t *file) {
  *file = H5I_INVALID_HID;
  SN_TRY(sn_require_regular_file(path));
  sn_h5_lock();
  sn_h5_quiet();
  sn_status st = SN_OK;
  if (H5Fis_hdf5(path) <= 0) st = sn_fail(SN_ERR_FORMAT, "%s is not an HDF5 file", path);
  if (st == SN_OK) st = sn_h5_preflight(path);
  if (st == SN_OK) *file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (st == SN_OK && *file < 0) st = sn_fail(SN_ERR_FORMAT, "%s cannot be opened as HDF5 (corrupt or truncated?)", path);
  sn_h5_unlock();
  return st;
}

sn_status sn_h5_open_read(sn_dist *d, const char *path, hid_t *file) {
  sn_h5_quiet();
  *file = H5I_INVALID_HID;
  SN_TRY(sn_require_regular_file(path));
  if (access(path, R_OK) != 0) return sn_fail(SN_ERR_IO, "cannot open %s: %s", path, strerror(errno));
  htri_t is = H5Fis_hdf5(path);
  if (is <= 0) return sn_fail(SN_ERR_FORMAT, "%s is not an HDF5 file", path);
  SN_TRY(sn_h5_preflight(path));
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (d) H5Pset_fapl_mpio(fapl, sn_dist_comm(d), MPI_INFO_NULL);
  *file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  if (*file < 0) return sn_fail(SN_ERR_FORMAT, "%s cannot be opened as HDF5 (corrupt or truncated?)", path);
  return SN_OK;
}

static sn_status too_long(const char *name, size_t len, size_t cap) {
  return sn_fail(SN_ERR_FORMAT, "attribute '%s' is a string of %zu bytes, more than the %zu accepted", name, len,
                 cap - 1);
}

static sn_status damaged_heap(const char *name) {
  return sn_fail(SN_ERR_FORMAT, "attribute '%s' is damaged: its variable-length value does not match the global "
                 "heap object it points to", name);
}

/* value into buf of cap bytes, whole: a config cut at the buffer's end would parse as
 * another (shorter) config without a word. */
static sn_status copy_string(const char *name, const char *value, char *buf, size_t cap) {
  const size_t len = strlen(value);
  if (len >= cap) return too_long(name, len, cap);
  memcpy(buf, value, len + 1);
  return SN_OK;
}

sn_status sn_h5_read_string_attr(hid_t obj, const char *name, char *buf, size_t cap, int required) {
  buf[0] = '\0';
  if (H5Aexists(obj, name) <= 0)
    return required ? sn_fail(SN_ERR_FORMAT, "attribute '%s' is missing", name) : SN_OK;
  hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
  hid_t type = H5Aget_type(attr), space = H5Aget_space(attr);
  const hssize_t count = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
  if (space >= 0) H5Sclose(space);
  sn_status st = SN_OK;
  /* the value is read into one pointer or one buffer: an array of strings (h5py's
   * attrs[...] = ["a", "b"]) would be written past it */
  if (attr < 0 || type < 0 || count < 0) {
    st = sn_fail(SN_ERR_FORMAT, "attribute '%s' cannot be read", name);
  } else if (H5Tget_class(type) != H5T_STRING) {
    st = sn_fail(SN_ERR_FORMAT, "attribute '%s' is not a string", name);
  } else if (count != 1) {
    st = sn_fail(SN_ERR_FORMAT, "attribute '%s' must be one string, but holds %lld", name, (long long)count);
  } else if (H5Tis_variable_str(type) <= 0 && H5Tget_size(type) > SN_H5_STRING_MAX) {
    st = sn_fail(SN_ERR_FORMAT, "attribute '%s' is a string of %zu bytes, more than the %d accepted", name,
                 H5Tget_size(type), SN_H5_STRING_MAX);
  } else if (H5Tis_variable_str(type) > 0) {
    hid_t mem = H5Tcopy(H5T_C_S1);
    H5Tset_size(mem, H5T_VARIABLE);
    H5Tset_cset(mem, H5Tget_cset(type));  /* HDF5 does not convert ASCII <-> UTF-8 */
    char *value = NULL;
    sn_h5_vlen_claims claims;
    if (sn_h5_attr_vlen_claims(attr, &claims) < 0) {
      st = sn_fail(SN_ERR_FORMAT, "attribute '%s' cannot be read", name);
    } else if (claims.largest >= cap) {
      st = too_long(name, claims.largest, cap);
    } else if (claims.damaged) {
      st = damaged_heap(name);
    } else if (H5Aread(attr, mem, &value) < 0 || !value) {
      st = sn_fail(SN_ERR_FORMAT, "attribute '%s' cannot be read", name);
    } else {
      st = copy_string(name, value, buf, cap);
      H5free_memory(value);
    }
    H5Tclose(mem);
  } else {
    size_t size = H5Tget_size(type);
    char *tmp = calloc(size + 1, 1);
    hid_t mem = H5Tcopy(H5T_C_S1);
    H5Tset_size(mem, size);
    H5Tset_cset(mem, H5Tget_cset(type));
    if (!tmp || H5Aread(attr, mem, tmp) < 0)
      st = sn_fail(SN_ERR_FORMAT, "attribute '%s' cannot be read", name);
    else
      st = copy_string(name, tmp, buf, cap);
    free(tmp);
    H5Tclose(mem);
  }
  if (type >= 0) H5Tclose(type);
  if (attr >= 0) H5Aclose(attr);
  return st;
}

/* Creates (replacing) attribute name of type/space and writes data. */
static sn_status write_attr(hid_t obj, const char *name, hid_t type, hid_t space, const void *data) {
  if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
  hid_t attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t err = attr < 0 ? -1 : H5Awrite(attr, type, data);
  if (attr >= 0) H5Aclose(attr);
  return err < 0 ? sn_fail(SN_ERR_IO, "cannot write attribute '%s'", name) : SN_OK;
}

sn_status sn_h5_write_string_attr(hid_t obj, const char *name, const char *value) {
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  hid_t space = H5Screate(H5S_SCALAR);
  sn_status st = write_attr(obj, name, type, space, &value);
  H5Sclose(space);
  H5Tclose(type);
  return st;
}

sn_status sn_h5_write_int_attr(hid_t obj, const char *name, long long value) {
  hid_t space = H5Screate(H5S_SCALAR);
  sn_status st = write_attr(obj, name, H5T_NATIVE_LLONG, space, &value);
  H5Sclose(space);
  return st;
}

sn_status sn_h5_write_ints_attr(hid_t obj, const char *name, const long long *values, int n) {
  hsize_t dims[1] = {(hsize_t)n};
  hid_t space = H5Screate_simple(1, dims, NULL);
  sn_status st = write_attr(obj, name, H5T_NATIVE_LLONG, space, values);
  H5Sclose(space);
  return st;
}

sn_status sn_h5_read_int_attr(hid_t obj, const char *name, long long *value) {
  if (H5Aexists(obj, name) <= 0) return sn_fail(SN_ERR_FORMAT, "attribute '%s' is missing", name);
  hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
  hid_t type = attr < 0 ? H5I_INVALID_HID : H5Aget_type(attr);
  hid_t space = attr < 0 ? H5I_INVALID_HID : H5Aget_space(attr);
  const hssize_t count = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
  const H5T_class_t cls = type < 0 ? H5T_NO_CLASS : H5Tget_class(type);
  sn_status st = SN_OK;
  /* the value is read into one integer: an array (h5py's attrs["step"] = [1, 2]) was
   * written past it, an empty one left it unset, and a float or string was converted
   * without a word */
  if (attr < 0 || count < 0)
    st = sn_fail(SN_ERR_FORMAT, "attribute '%s' cannot be read", name);
  else if (cls != H5T_INTEGER)
    st = sn_fail(SN_ERR_FORMAT, "attribute '%s' is not an integer", name);
  else if (count != 1)
    st = sn_fail(SN_ERR_FORMAT, "attribute '%s' must be one integer, but holds %lld", name, (long long)count);
  else if (H5Aread(attr, H5T_NATIVE_LLONG, value) < 0)
    st = sn_fail(SN_ERR_FORMAT, "attribute '%s' cannot be read", name);
  if (space >= 0) H5Sclose(space);
  if (type >= 0) H5Tclose(type);
  if (attr >= 0) H5Aclose(attr);
  return st;
}

sn_status sn_h5_write_strings_attr(hid_t obj, const char *name, const char *const *values, int n) {
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  hsize_t dims[1] = {(hsize_t)n};
  hid_t space = H5Screate_simple(1, dims, NULL);
  sn_status st = write_attr(obj, name, type, space, values);
  H5Sclose(space);
  H5Tclose(type);
  return st;
}

sn_status sn_h5_read_strings_attr(hid_t obj, const char *name, char ***values, int *n) {
  *values = NULL;
  *n = 0;
  if (H5Aexists(obj, name) <= 0) return SN_OK;
  hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
  hid_t type = H5Aget_type(attr), space = H5Aget_space(attr);
  hssize_t count = H5Sget_simple_extent_npoints(space);
  sn_status st = SN_OK;
  /* layer names, class names, --set options: a few thousand at most */
  const int fits = count > 0 && count <= SN_H5_STRINGS_MAX &&
                   (H5Tis_variable_str(type) > 0 || H5Tget_size(type) <= SN_H5_STRING_MAX);
  char **out = fits ? calloc((size_t)count, sizeof *out) : NULL;
  if (H5Tget_class(type) != H5T_STRING || count <= 0) {
    st = sn_fail(SN_ERR_FORMAT, "attribute '%s' is not a list of strings", name);
  } else if (!fits) {
    st = sn_fail(SN_ERR_FORMAT, "attribute '%s' holds %lld strings of %zu bytes; at most %d of at most %d bytes "
                 "are read", name, (long long)count, H5Tget_size(type), SN_H5_STRINGS_MAX, SN_H5_STRING_MAX);
  } else if (!out) {
    st = sn_fail(SN_ERR_NOMEM, "cannot hold attribute '%s' (%lld strings)", name, (long long)count);
  } else if (H5Tis_variable_str(type) > 0) {
    hid_t mem = H5Tcopy(H5T_C_S1);
    H5Tset_size(mem, H5T_VARIABLE);
    H5Tset_cset(mem, H5Tget_cset(type));  /* HDF5 does not convert ASCII <-> UTF-8 */
    char **raw = calloc((size_t)count, sizeof *raw);
    sn_h5_vlen_claims claims;
    if (sn_h5_attr_vlen_claims(attr, &claims) < 0)
      st = sn_fail(SN_ERR_FORMAT, "attribute '%s' cannot be read", name);
    else if (claims.largest > SN_H5_STRING_MAX || claims.total > SN_H5_STRINGS_BYTES_MAX)
      st = sn_fail(SN_ERR_FORMAT, "attribute '%s' holds strings of %zu bytes together, the longest %zu; at most %d "
                   "together and %d each are read", name, claims.total, claims.largest, SN_H5_STRINGS_BYTES_MAX,
                   SN_H5_STRING_MAX);
    else if (claims.damaged)
      st = damaged_heap(name);
    else if (!raw || H5Aread(attr, mem, raw) < 0)
      st = sn_fail(SN_ERR_FORMAT, "attribute '%s' cannot be read", name);
    for (hssize_t i = 0; raw && i < count; i++) {
      out[i] = strdup(raw[i] ? raw[i] : "");
      if (raw[i]) H5free_memory(raw[i]);
    }
    free(raw);
    H5Tclose(mem);
  } else {
    size_t size = H5Tget_size(type);
    char *raw = calloc((size_t)count, size + 1);
    hid_t mem = H5Tcopy(H5T_C_S1);
    H5Tset_size(mem, size);
    H5Tset_cset(mem, H5Tget_cset(type));
    if (!raw || H5Aread(attr, mem, raw) < 0) st = sn_fail(SN_ERR_FORMAT, "attribute '%s' cannot be read", name);
    for (hssize_t i = 0; raw && st == SN_OK && i < count; i++) out[i] = strndup(raw + (size_t)i * size, size);
    free(raw);
    H5Tclose(mem);
  }
  H5Sclose(space);
  H5Tclose(type);
  H5Aclose(attr);
  if (st != SN_OK) {
    for (hssize_t i = 0; out && i < count; i++) free(out[i]);
    free(out);
    return st;
  }
  *values = out;
  *n = (int)count;
  return SN_OK;
}

herr_t sn_h5_rows(hid_t set, hid_t mem, size_t row, size_t m, size_t per_row, int write, int collective,
                  void *buf) {
  hid_t fspace = H5Dget_space(set);
  hsize_t start[8] = {0}, count[8] = {0};
  H5Sget_simple_extent_dims(fspace, count, NULL);
  start[0] = row;
  count[0] = m;
  hsize_t mdims[1] = {(hsize_t)(m * per_row)};
  hid_t mspace = H5Screate_simple(1, mdims, NULL);
  if (m > 0) {
    H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
  } else {
    /* a rank with nothing to move still takes part in a collective transfer */
    H5Sselect_none(fspace);
    H5Sselect_none(mspace);
  }
  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  if (collective) H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
  herr_t err = write ? H5Dwrite(set, mem, mspace, fspace, dxpl, buf) : H5Dread(set, mem, mspace, fspace, dxpl, buf);
  H5Pclose(dxpl);
  H5Sclose(mspace);
  H5Sclose(fspace);
  return err;
}

sn_status sn_h5_check_format(hid_t file, const char *path, const char *expected) {
  char format[64];
  if (H5Aexists(file, "format") <= 0)
    return sn_fail(SN_ERR_FORMAT, "%s has no 'format' attribute; a %s file says format = \"%s\" (h5py: f.attrs[\"format\"] = \"%s\")",
                   path, expected, expected, expected);
  /* the readers' own messages name the attribute; the file is named here */
  sn_status st = sn_h5_read_string_attr(file, "format", format, sizeof format, 1);
  if (st != SN_OK) return sn_fail_context(st, "%s", path);
  if (strcmp(format, expected))
    return sn_fail(SN_ERR_FORMAT, "%s is a %s file, not a %s file", path, format, expected);
  return SN_OK;
}

herr_t sn_h5_write_whole(hid_t loc, const char *name, int nd, const hsize_t *dims, hid_t file_type, hid_t mem,
                         hid_t lcpl, hid_t dcpl, const void *data) {
  hid_t space = H5Screate_simple(nd, dims, NULL);
  /* Written whole, once: chunks go straight to the file instead of through a chunk
   * cache, which would hold up to 1 MiB more for nothing. */
  hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
  if (dapl >= 0) H5Pset_chunk_cache(dapl, H5D_CHUNK_CACHE_NSLOTS_DEFAULT, 0, H5D_CHUNK_CACHE_W0_DEFAULT);
  hid_t dset = space < 0 || dapl < 0 ? -1 : H5Dcreate2(loc, name, file_type, space, lcpl, dcpl, dapl);
  if (dapl >= 0) H5Pclose(dapl);
  herr_t err = dset < 0 ? -1 : H5Dwrite(dset, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  if (dset >= 0 && H5Dclose(dset) < 0) err = -1;
  if (space >= 0) H5Sclose(space);
  return err;
}

sn_status sn_h5_shape(hid_t set, const char *path, const char *name, int min_rank, int max_rank, size_t max_row,
                      hsize_t *dims, int *rank, size_t *row) {
  hid_t space = H5Dget_space(set);
  const int nd = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
  if (nd >= 1 && nd <= SN_H5_MAX_RANK && H5Sget_simple_extent_dims(space, dims, NULL) < 0) dims[0] = 0;
  if (space >= 0) H5Sclose(space);
  *rank = nd;
  if (nd < min_rank || nd > max_rank)
    return sn_fail(SN_ERR_FORMAT, "%s: /%s has %d dimensions, not %d to %d", path, name, nd, min_rank, max_rank);
  size_t values = 1;
  int fits = 1;
  for (int d = 1; d < nd && fits; d++) fits = dims[d] <= SIZE_MAX && sn_size_mul(values, (size_t)dims[d], &values);
  if (!fits)
    return sn_fail(SN_ERR_FORMAT, "%s: /%s has rows of more than 2^64 values (its dimensions multiplied)", path, name);
  if (values < 1 || values > max_row)
    return sn_fail(SN_ERR_FORMAT, "%s: /%s has rows of %zu values; a row may hold 1 to %zu", path, name, values,
                   max_row);
  *row = values;
  return SN_OK;
}

const char *sn_hdf5_library_version(void) {
  static char text[64];
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
#ifdef H5_HAVE_PARALLEL
  snprintf(text, sizeof text, "%u.%u.%u (parallel)", major, minor, release);
#else
  snprintf(text, sizeof text, "%u.%u.%u (serial)", major, minor, release);
#endif
  return text;
}
