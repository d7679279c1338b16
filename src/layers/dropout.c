/* Inverted dropout, with per-sample masks from the counter-based RNG. */
#include <stdlib.h>
#include <string.h>

#include "layers/layer_types.h"

/* Training keeps each value with probability 1 - rate and scales it by 1 / (1 - rate);
 * inference is the identity. A sample's mask is drawn at its global index, so it
 * depends on (seed, epoch, sample, layer) only, never on how ranks split the batch. */

typedef struct {
  float rate;
} dropout_cfg;

/* aux holds a mode flag, then the mask (0 or 1 / (1 - rate)) of every value. */
#define AUX_TRAINING 0
#define AUX_MASK 1

/* Below this many values per call the OpenMP team costs more than it saves. */
#define DROPOUT_PARALLEL_MIN 32768

static sn_status dropout_parse(sn_layer *l, sn_args *args) {
  dropout_cfg *c = calloc(1, sizeof *c);
  if (!c) return sn_fail(SN_ERR_NOMEM, "cannot allocate layer");
  l->impl = c;
  if (!sn_args_has(args, "rate")) return sn_args_fail(args, NULL, "needs the key 'rate'");
  double rate;
  SN_TRY(sn_args_float(args, "rate", 0.0, 0.0, 1.0, &rate));
  if (rate >= 1.0) return sn_args_fail(args, "rate", "must be below 1 (1 drops everything)");
  c->rate = (float)rate;
  return SN_OK;
}

static sn_status dropout_infer(sn_layer *l) {
  l->out_shape = l->in_shape[0];
  return SN_OK;
}

static size_t dropout_aux(const sn_layer *l, int batch) {
  return AUX_MASK + (size_t)batch * sn_shape_size(l->out_shape);
}

static void dropout_forward(sn_layer *l, const sn_fwd *f) {
  const dropout_cfg *c = l->impl;
  const size_t per = sn_shape_size(l->out_shape), n = (size_t)f->batch * per;
  f->aux[AUX_TRAINING] = (float)f->training;
  if (!f->training) {
    memcpy(f->out, f->in[0], n * sizeof(float));
    return;
  }
  const float keep_scale = 1.0f / (1.0f - c->rate);
#pragma omp parallel for schedule(static) if (n >= DROPOUT_PARALLEL_MIN)
  for (int i = 0; i < f->batch; i++) {
    float *mask = f->aux + AUX_MASK + (size_t)i * per;
    const float *x = f->in[0] + (size_t)i * per;
    float *y = f->out + (size_t)i * per;
    sn_rng_uniform(f->rng, f->first_sample + (uint64_t)i, mask, per);
    for (size_t j = 0; j < per; j++) {
      mask[j] = mask[j] >= c->rate ? keep_scale : 0.0f;
      y[j] = x[j] * mask[j];
    }
  }
}

static void dropout_backward(sn_layer *l, const sn_bwd *b) {
  if (!b->din[0]) return;
  const size_t n = (size_t)b->batch * sn_shape_size(l->out_shape);
  float *dx = b->din[0];
  if (b->aux[AUX_TRAINING] == 0.0f) {
    for (size_t i = 0; i < n; i++) dx[i] += b->dout[i];
    return;
  }
  const float *mask = b->aux + AUX_MASK;
#pragma omp parallel for simd schedule(static) if (n >= DROPOUT_PARALLEL_MIN)
  for (size_t i = 0; i < n; i++) dx[i] += b->dout[i] * mask[i];
}

const sn_layer_ops sn_dropout_ops = {
    .type = "dropout",
    .min_inputs = 1,
    .max_inputs = 1,
    .parse = dropout_parse,
    .infer = dropout_infer,
    .aux_floats = dropout_aux,
    .forward = dropout_forward,
    .backward = dropout_backward,
};
