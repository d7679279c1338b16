/* TEMPORARY stand-in (not committed) */
#include "shardnet/transform.h"
#include <string.h>
sn_status sn_transform_init(sn_transform *t, const sn_data_config *cfg, const sn_sample_format *in, int augment,
                            uint64_t seed, const char *what) {
  memset(t, 0, sizeof *t);
  t->in = *in;
  t->out = sn_shape_chw(in->c, in->h, in->w);
  for (int k = 0; k < in->c && k < 16; k++) {
    double mean = cfg->n_mean ? cfg->mean[cfg->n_mean == 1 ? 0 : k] : 0.0;
    double std = cfg->n_std ? cfg->std[cfg->n_std == 1 ? 0 : k] : 1.0;
    double s = cfg->scale > 0 ? cfg->scale : 1.0;
    t->scale[k] = (float)(s / std);
    t->shift[k] = (float)(-mean / std);
  }
  return SN_OK;
}
void sn_transform_sample(const sn_transform *t, uint32_t epoch, uint64_t index, const void *raw, float *out) {
  const int c = t->in.c, hw = t->in.h * t->in.w;
  for (int p = 0; p < hw; p++)
    for (int k = 0; k < c; k++) {
      float v = t->in.is_float ? ((const float *)raw)[(size_t)p * c + k] : (float)((const uint8_t *)raw)[(size_t)p * c + k];
      out[(size_t)k * hw + p] = v * t->scale[k] + t->shift[k];
    }
}
