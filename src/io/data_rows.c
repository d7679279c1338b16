/* Reading a dataset's rows from its file (this process alone, POSIX driver), and
 * finding the rows this rank holds in memory. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/data_store.h"
#include "io/h5util.h"

/* NaN or Inf read from a float file would reach the network and turn up steps later as
 * NaN weights or a NaN loss, far from the sample at fault: refused where it is read.
 * rows[r] is the sample of row r (NULL: first + r). */
static sn_status check_finite(const sn_dataset *ds, const char *what, const float *values, size_t per_row,
                              const uint32_t *rows, size_t first, size_t count) {
  for (size_t r = 0; r < count; r++)
    for (size_t e = 0; e < per_row; e++) {
      const float v = values[r * per_row + e];
      if (!isfinite(v))
        return sn_fail(SN_ERR_FORMAT, "%s: sample %zu of %s holds %s at value %zu; shardnet reads finite numbers only",
                       ds->path, rows ? (size_t)rows[r] : first + r, what, isnan(v) ? "NaN" : v > 0 ? "Inf" : "-Inf",
                       e);
    }
  return SN_OK;
}

/* check_finite on what a read brought in: float images, and /targets. */
static sn_status check_read(const sn_dataset *ds, const uint32_t *rows, size_t first, size_t count,
                            const uint8_t *images, const uint8_t *answers) {
  if (images && ds->is_float)
    SN_TRY(check_finite(ds, "/images", (const float *)images, (size_t)ds->h * ds->w * ds->c, rows, first, count));
  if (answers && !ds->has_labels)
    SN_TRY(check_finite(ds, "/targets", (const float *)answers, ds->target_size, rows, first, count));
  return SN_OK;
}

sn_status sn_store_read_rows(const sn_dataset *ds, size_t first, size_t count, uint8_t *images, uint8_t *answers) {
  const sn_data_store *s = ds->store;
  if (count == 0) return SN_OK;
  sn_h5_lock();
  herr_t err = images ? sn_h5_rows(s->images, s->image_type, first, count, (size_t)ds->h * ds->w * ds->c, 0, 0, images) : 0;
  const char *what = "/images";
  if (err >= 0 && answers) {
    err = sn_h5_rows(s->answers, s->answer_type, first, count, ds->target_size, 0, 0, answers);
    what = ds->has_labels ? "/labels" : "/targets";
  }
  sn_h5_unlock();
  if (err < 0)
    return count == 1 ? sn_fail(SN_ERR_IO, "%s: cannot read sample %zu of %s (corrupt, truncated or unreadable data)",
                                ds->path, first, what)
                      : sn_fail(SN_ERR_IO, "%s: cannot read samples %zu to %zu of %s (corrupt, truncated or unreadable data)",
                                ds->path, first, first + count - 1, what);
  return check_read(ds, NULL, first, count, images, answers);
}

static const uint32_t *sort_keys;
static int by_sample(const void *a, const void *b) {
  const uint32_t x = sort_keys[*(const uint32_t *)a], y = sort_keys[*(const uint32_t *)b];
  return (x > y) - (x < y);
}

/* One read of the rows sorted[0..u) (ascending, distinct) of a dataset into buf, in
 * that order: a union of hyperslabs, so that HDF5 walks the chunks once per request
 * instead of once per sample (its per-call cost is most of a streamed step's reading). */
static herr_t read_sorted(hid_t set, hid_t mem, const uint32_t *sorted, int u, size_t per_row, void *buf) {
  hid_t fspace = H5Dget_space(set);
  hsize_t start[8] = {0}, count[8] = {0};
  const int nd = H5Sget_simple_extent_dims(fspace, count, NULL);
  herr_t err = nd > 0 ? H5Sselect_none(fspace) : -1;
  for (int a = 0; err >= 0 && a < u;) {
    int b = a + 1;
    while (b < u && sorted[b] == sorted[b - 1] + 1) b++;
    start[0] = sorted[a];
    count[0] = (hsize_t)(b - a);
    err = H5Sselect_hyperslab(fspace, H5S_SELECT_OR, start, NULL, count, NULL);
    a = b;
  }
  hsize_t mdims[1] = {(hsize_t)u * per_row};
  hid_t mspace = H5Screate_simple(1, mdims, NULL);
  if (err >= 0) err = H5Dread(set, mem, mspace, fspace, H5P_DEFAULT, buf);
  H5Sclose(mspace);
  H5Sclose(fspace);
  return err;
}

sn_status sn_store_read_list(const sn_dataset *ds, const uint32_t *idx, int n, uint32_t *order, uint32_t *where,
                             uint8_t *images, uint8_t *answers) {
  sn_data_store *s = ds->store;  /* the direct readers learn chunk addresses as they go */
  for (int k = 0; k < n; k++) order[k] = (uint32_t)k;
  /* qsort has no context argument; the lock also serialises this static */
  sn_h5_lock();
  sort_keys = idx;
  qsort(order, (size_t)n, sizeof *order, by_sample);
  /* The distinct samples in file order overwrite order[] as it is read (u <= j). */
  uint32_t *sorted = order;
  int u = 0;
  for (int j = 0; j < n; j++) {
    const uint32_t k = order[j];
    if (u == 0 || idx[k] != sorted[u - 1]) sorted[u++] = idx[k];
    where[k] = (uint32_t)(u - 1);
  }
  herr_t err = 0;
  if (!sn_direct_rows_read(&s->images_direct, sorted, u, images))
    err = read_sorted(s->images, s->image_type, sorted, u, (size_t)ds->h * ds->w * ds->c, images);
  if (err >= 0 && !sn_direct_rows_read(&s->answers_direct, sorted, u, answers))
    err = read_sorted(s->answers, s->answer_type, sorted, u, ds->target_size, answers);
  sn_status st = SN_OK;
  /* A failed read is read again sample by sample, to name the one at fault. */
  for (int j = 0; err < 0 && st == SN_OK && j < u; j++)
    st = sn_store_read_rows(ds, sorted[j], 1, images, answers);
  if (err < 0 && st == SN_OK) st = sn_fail(SN_ERR_IO, "%s: cannot read %d samples of /images", ds->path, u);
  sn_h5_unlock();
  if (err >= 0) st = check_read(ds, sorted, 0, (size_t)u, images, answers);
  return st;
}

const uint8_t *sn_store_image(const sn_dataset *ds, size_t i) {
  const sn_data_store *s = ds->store;
  return i >= s->lo && i < s->hi ? s->images_mem + (i - s->lo) * ds->image_bytes : NULL;
}

const uint8_t *sn_store_answer(const sn_dataset *ds, size_t i) {
  const sn_data_store *s = ds->store;
  return i >= s->lo && i < s->hi ? s->answers_mem + (i - s->lo) * ds->answer_bytes : NULL;
}
