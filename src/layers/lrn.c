/* Local response normalisation across channels (Krizhevsky et al. 2012, AlexNet),
 * as PyTorch's LocalResponseNorm and Caffe's ACROSS_CHANNELS compute it:
 *   y[c] = x[c] / d[c]^beta,  d[c] = k + alpha / size * sum of x[j]^2 over the window
 * j = c - size/2 .. c + (size-1)/2 (clipped to the channels), at each pixel.
 * Keys: size (5), alpha (1e-4), beta (0.75), k (2: the paper's; PyTorch's default
 * is 1). No parameters. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "layers/layer_types.h"

typedef struct {
  int size;
  float alpha, beta, k;
} lrn_cfg;

static sn_status lrn_parse(sn_layer *l, sn_args *args) {
  lrn_cfg *c = calloc(1, sizeof *c);
  if (!c) return sn_fail(SN_ERR_NOMEM, "cannot allocate layer");
  l->impl = c;
  double alpha, beta, k;
  SN_TRY(sn_args_int(args, "size", 5, 1, 1024, &c->size));
  SN_TRY(sn_args_float(args, "alpha", 1e-4, 0.0, 1e6, &alpha));
  SN_TRY(sn_args_float(args, "beta", 0.75, 0.0, 16.0, &beta));
  SN_TRY(sn_args_float(args, "k", 2.0, 1e-6, 1e6, &k));
  c->alpha = (float)alpha;
  c->beta = (float)beta;
  c->k = (float)k;
  return SN_OK;
}

static sn_status lrn_infer(sn_layer *l) {
  if (l->in_shape[0].ndim != 3) return sn_layer_fail(l, "needs a 3-D (C, H, W) input, got %d-D", l->in_shape[0].ndim);
  l->out_shape = l->in_shape[0];
  return SN_OK;
}

/* backward needs d[c] of every value */
static size_t lrn_aux(const sn_layer *l, int batch) { return (size_t)batch * sn_shape_size(l->out_shape); }

/* one pixel-plane vector per channel: the window's running sum of squares */
static size_t lrn_work(const sn_layer *l, int batch, int threads) {
  return (size_t)threads * l->out_shape.d[1] * l->out_shape.d[2];
}

static void lrn_forward(sn_layer *l, const sn_fwd *f) {
  const lrn_cfg *c = l->impl;
  const int channels = l->out_shape.d[0], before = c->size / 2, after = (c->size - 1) / 2;
  const size_t hw = (size_t)l->out_shape.d[1] * l->out_shape.d[2], per = channels * hw;
  const float scale = c->alpha / (float)c->size;
#pragma omp parallel for schedule(static) num_threads(f->threads)
  for (int n = 0; n < f->batch; n++) {
    float *sum = f->work + (size_t)omp_get_thread_num() * hw;
    const float *x = f->in[0] + n * per;
    float *y = f->out + n * per, *d = f->aux + n * per;
    memset(sum, 0, hw * sizeof *sum);
    for (int j = 0; j < after && j < channels; j++)
      for (size_t p = 0; p < hw; p++) sum[p] += x[j * hw + p] * x[j * hw + p];
    for (int ch = 0; ch < channels; ch++) {
      const int enter = ch + after, leave = ch - before - 1;
      if (enter < channels)
        for (size_t p = 0; p < hw; p++) sum[p] += x[enter * hw + p] * x[enter * hw + p];
      if (leave >= 0)
        for (size_t p = 0; p < hw; p++) sum[p] -= x[leave * hw + p] * x[leave * hw + p];
      for (size_t p = 0; p < hw; p++) {
        const float dv = c->k + scale * (sum[p] > 0 ? sum[p] : 0);  /* the running sum may dip below 0 by rounding */
        d[ch * hw + p] = dv;
        y[ch * hw + p] = x[ch * hw + p] * powf(dv, -c->beta);
      }
    }
  }
}

/* dx[i] = dy[i] d[i]^-beta - 2 alpha beta / size * x[i] * sum over the windows holding
 * i of dy[c] x[c] d[c]^(-beta-1): i is in c's window for c = i - after .. i + before. */
static void lrn_backward(sn_layer *l, const sn_bwd *b) {
  if (!b->din[0]) return;
  const lrn_cfg *c = l->impl;
  const int channels = l->out_shape.d[0], before = c->size / 2, after = (c->size - 1) / 2;
  const size_t hw = (size_t)l->out_shape.d[1] * l->out_shape.d[2], per = channels * hw;
  const float factor = 2.0f * c->alpha * c->beta / (float)c->size;
#pragma omp parallel for schedule(static) num_threads(b->threads)
  for (int n = 0; n < b->batch; n++) {
    float *sum = b->work + (size_t)omp_get_thread_num() * hw;
    const float *x = b->in[0] + n * per, *dy = b->dout + n * per, *d = b->aux + n * per;
    float *dx = b->din[0] + n * per;
#define LRN_T(ch, p) (dy[(ch) * hw + (p)] * x[(ch) * hw + (p)] * powf(d[(ch) * hw + (p)], -c->beta - 1.0f))
    memset(sum, 0, hw * sizeof *sum);
    for (int j = 0; j < before && j < channels; j++)
      for (size_t p = 0; p < hw; p++) sum[p] += LRN_T(j, p);
    for (int i = 0; i < channels; i++) {
      const int enter = i + before, leave = i - after - 1;
      if (enter < channels)
        for (size_t p = 0; p < hw; p++) sum[p] += LRN_T(enter, p);
      if (leave >= 0)
        for (size_t p = 0; p < hw; p++) sum[p] -= LRN_T(leave, p);
      for (size_t p = 0; p < hw; p++)
        dx[i * hw + p] += dy[i * hw + p] * powf(d[i * hw + p], -c->beta) - factor * x[i * hw + p] * sum[p];
    }
#undef LRN_T
  }
}

/* per value: the window's squares (size mul-adds), a power and a multiply */
static double lrn_flops(const sn_layer *l) { return (double)sn_shape_size(l->out_shape) * (2.0 * ((lrn_cfg *)l->impl)->size + 12.0); }

const sn_layer_ops sn_lrn_ops = {
    .type = "lrn",
    .min_inputs = 1,
    .max_inputs = 1,
    .parse = lrn_parse,
    .infer = lrn_infer,
    .workspace_floats = lrn_work,
    .aux_floats = lrn_aux,
    .forward = lrn_forward,
    .backward = lrn_backward,
    .flops = lrn_flops,
};
