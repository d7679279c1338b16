/* Reading a dataset's rows from its file (this process alone, POSIX driver), and
 * finding the rows this rank holds in memory. */
#include <stdlib.h>
#include <string.h>

#include "io/data_store.h"
#include "io/h5util.h"


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
  return SN_OK;
}

static const uint32_t *sort_keys;
static int by_sample(const void *a, const void *b) {
  const uint32_t x = sort_keys[*(const uint32_t *)a], y = sort_keys[*(const uint32_t *)b];
  return (x > y) - (x < y);
}

sn_status sn_store_read_list(const sn_dataset *ds, const uint32_t *idx, int n, uint32_t *order, uint8_t *images,
                             uint8_t *answers) {
  for (int k = 0; k < n; k++) order[k] = (uint32_t)k;
  /* qsort has no context argument; the lock below also serialises this static */
  sn_h5_lock();
  sort_keys = idx;
  qsort(order, (size_t)n, sizeof *order, by_sample);
  sn_status st = SN_OK;
  /* A run of consecutive samples is one read; a repeated sample is copied. */
  for (int a = 0; st == SN_OK && a < n;) {
    int b = a + 1;
    while (b < n && idx[order[b]] == idx[order[b - 1]] + 1 && order[b] == order[b - 1] + 1) b++;
    const uint32_t k = order[a];
    if (a > 0 && idx[k] == idx[order[a - 1]]) {
      const uint32_t prev = order[a - 1];
      memcpy(images + (size_t)k * ds->image_bytes, images + (size_t)prev * ds->image_bytes, ds->image_bytes);
      memcpy(answers + (size_t)k * ds->answer_bytes, answers + (size_t)prev * ds->answer_bytes, ds->answer_bytes);
      b = a + 1;
    } else {
      st = sn_store_read_rows(ds, idx[k], (size_t)(b - a), images + (size_t)k * ds->image_bytes,
                              answers + (size_t)k * ds->answer_bytes);
    }
    a = b;
  }
  sn_h5_unlock();
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
