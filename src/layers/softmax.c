/* Softmax over the units of a 1-D input or the channels of each pixel of a 3-D one. */
#include <math.h>

#include "layers/layer_types.h"

/* Both are one loop: a sample is (C, area) and softmax runs down each of its `area`
 * columns (area = 1 for units). */

/* Below this many values per call the OpenMP team costs more than it saves. */
#define SOFTMAX_PARALLEL_MIN 16384

static sn_status softmax_parse(sn_layer *l, sn_args *args) { return SN_OK; }

static sn_status softmax_infer(sn_layer *l) {
  l->out_shape = l->in_shape[0];
  return SN_OK;
}

/* (channels, area) of one sample. */
static void softmax_layout(const sn_layer *l, int *channels, int *area) {
  const sn_shape s = l->out_shape;
  *channels = s.d[0];
  *area = s.ndim == 3 ? s.d[1] * s.d[2] : 1;
}

static void softmax_forward(sn_layer *l, const sn_fwd *f) {
  int ch_n, area;
  softmax_layout(l, &ch_n, &area);
  const long columns = (long)f->batch * area;
#pragma omp parallel for schedule(static) if (columns * ch_n >= SOFTMAX_PARALLEL_MIN)
  for (long col = 0; col < columns; col++) {
    const size_t base = (size_t)(col / area) * ch_n * area + (size_t)(col % area);
    const float *x = f->in[0] + base;
    float *y = f->out + base;
    /* exp(x - max) <= 1 cannot overflow, and the largest term is exactly 1. */
    float mx = x[0];
    for (int c = 1; c < ch_n; c++) mx = fmaxf(mx, x[(size_t)c * area]);
    float sum = 0.0f;
    for (int c = 0; c < ch_n; c++) {
      y[(size_t)c * area] = expf(x[(size_t)c * area] - mx);
      sum += y[(size_t)c * area];
    }
    const float inv = 1.0f / sum;
    for (int c = 0; c < ch_n; c++) y[(size_t)c * area] *= inv;
  }
}

static void softmax_backward(sn_layer *l, const sn_bwd *b) {
  if (!b->din[0]) return;
  int ch_n, area;
  softmax_layout(l, &ch_n, &area);
  const long columns = (long)b->batch * area;
#pragma omp parallel for schedule(static) if (columns * ch_n >= SOFTMAX_PARALLEL_MIN)
  for (long col = 0; col < columns; col++) {
    const size_t base = (size_t)(col / area) * ch_n * area + (size_t)(col % area);
    const float *y = b->out + base, *dy = b->dout + base;
    float *dx = b->din[0] + base;
    /* din = y * (dy - sum(dy * y)) */
    float dot = 0.0f;
    for (int c = 0; c < ch_n; c++) dot += dy[(size_t)c * area] * y[(size_t)c * area];
    for (int c = 0; c < ch_n; c++)
      dx[(size_t)c * area] += y[(size_t)c * area] * (dy[(size_t)c * area] - dot);
  }
}

static double softmax_flops(const sn_layer *l) {
  /* an exponential, a sum and a scale per value, counted as one multiply-add each */
  return 6.0 * (double)sn_shape_size(l->out_shape);
}

const sn_layer_ops sn_softmax_ops = {
    .type = "softmax",
    .min_inputs = 1,
    .max_inputs = 1,
    .parse = softmax_parse,
    .infer = softmax_infer,
    .forward = softmax_forward,
    .backward = softmax_backward,
    .flops = softmax_flops,
};
