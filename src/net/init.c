/* Parameter initialisation (He, Xavier) from the seed alone, so every rank
 * computes the same initial weights without communicating. */
#include <math.h>

#include "shardnet/net.h"

static void init_tensor(sn_param *p, sn_rng_key key) {
  const double fan_avg = 0.5 * (p->fan_in + p->fan_out);
  double scale = 0.0;
  switch (p->init) {
    case SN_INIT_ZEROS:
    case SN_INIT_ONES:
      for (size_t i = 0; i < p->count; i++) p->data[i] = p->init == SN_INIT_ONES ? 1.0f : 0.0f;
      return;
    case SN_INIT_HE_NORMAL: scale = sqrt(2.0 / p->fan_in); break;
    case SN_INIT_XAVIER_NORMAL: scale = sqrt(1.0 / fan_avg); break;
    case SN_INIT_HE_UNIFORM: scale = sqrt(6.0 / p->fan_in); break;
    case SN_INIT_XAVIER_UNIFORM: scale = sqrt(3.0 / fan_avg); break;
  }
  if (p->init == SN_INIT_HE_NORMAL || p->init == SN_INIT_XAVIER_NORMAL) {
    sn_rng_normal(key, 0, p->data, p->count);
    for (size_t i = 0; i < p->count; i++) p->data[i] *= (float)scale;
  } else {
    /* uniform on [-scale, scale) */
    sn_rng_uniform(key, 0, p->data, p->count);
    for (size_t i = 0; i < p->count; i++) p->data[i] = (float)((2.0 * p->data[i] - 1.0) * scale);
  }
}

void sn_net_init_params(sn_net *net, uint64_t seed) {
  uint32_t tensor = 0;
  for (int i = 0; i < net->n_layers; i++)
    for (int k = 0; k < net->layers[i].n_params; k++, tensor++)
      init_tensor(&net->layers[i].params[k],
                  sn_rng_make_key(seed, 0, SN_RNG_STREAM_INIT_BASE + tensor));
}
