/* Reading a whole dataset back through sn_reader with the identity transform. */
#include "sn_test_data.h"

#include <stdlib.h>

sn_status sn_test_load(const char *path, sn_placement p, sn_test_data *out) {
  *out = (sn_test_data){0};
  const sn_dataset_options o = {.placement = p};
  SN_TRY(sn_dataset_open(NULL, path, &o, &out->ds));
  const sn_dataset *ds = out->ds;
  const sn_data_config identity = {.scale = 1};
  const sn_sample_format f = sn_dataset_format(ds);
  const size_t per = (size_t)f.h * f.w * f.c, plane = (size_t)f.h * f.w, n = ds->n;
  sn_transform tf;
  sn_reader *r = NULL;
  float *chw = malloc((n * per + 1) * sizeof *chw);
  out->values = malloc((n * per + 1) * sizeof *out->values);
  out->labels = ds->has_labels ? malloc(n * sizeof *out->labels) : NULL;
  out->u8 = ds->is_float ? NULL : malloc(n * per + 1);
  uint32_t *idx = malloc(n * sizeof *idx);
  for (size_t i = 0; idx && i < n; i++) idx[i] = (uint32_t)i;
  int k = 0;
  sn_status st = chw && out->values && idx ? sn_transform_init(&tf, &identity, &f, 0, 1, path) : SN_ERR_NOMEM;
  if (st == SN_OK) st = sn_reader_create(NULL, ds, 1, (int)n, 1, &r);
  if (st == SN_OK) st = sn_reader_queue_local(r, idx, (int)n);
  if (st == SN_OK) st = sn_reader_take(r, &tf, 0, chw, out->labels, NULL, &k);
  for (size_t i = 0; st == SN_OK && i < n; i++)
    for (size_t q = 0; q < per; q++) {
      const float v = chw[i * per + (q % (size_t)f.c) * plane + q / (size_t)f.c];
      out->values[i * per + q] = v;
      if (out->u8) out->u8[i * per + q] = (uint8_t)v;
    }
  sn_reader_destroy(r);
  free(chw);
  free(idx);
  if (st != SN_OK) sn_test_data_free(out);
  return st;
}

void sn_test_data_free(sn_test_data *d) {
  sn_dataset_free(d->ds);
  free(d->values);
  free(d->u8);
  free(d->labels);
  *d = (sn_test_data){0};
}
