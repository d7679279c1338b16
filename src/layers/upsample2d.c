/* 2-D upsampling by integer factors, nearest or bilinear (half-pixel centres). */
#include <stdlib.h>

#include "layers/layer_types.h"

/* Bilinear uses align_corners=false, as PyTorch and Keras. Both modes are one tap
 * table: each output pixel reads a weighted sum of at most four input pixels, so
 * forward gathers through the taps and backward scatters through the same taps. */

typedef enum { UP_NEAREST, UP_BILINEAR } up_mode;

typedef struct {
  int scale[2]; /* (h, w) */
  up_mode mode;
} up_cfg;

/* Below this many output floats per call the OpenMP team costs more than it saves. */
#define UP_PARALLEL_MIN 32768

static sn_status up_parse(sn_layer *l, sn_args *args) {
  up_cfg *c = calloc(1, sizeof *c);
  if (!c) return sn_fail(SN_ERR_NOMEM, "cannot allocate layer");
  l->impl = c;
  SN_TRY(sn_args_int_pair(args, "scale", 2, 1, 1 << 12, c->scale));
  static const char *const modes[] = {"nearest", "bilinear"};
  int mode;
  SN_TRY(sn_args_choice(args, "mode", modes, 2, UP_NEAREST, &mode));
  c->mode = (up_mode)mode;
  return SN_OK;
}

static sn_status up_infer(sn_layer *l) {
  const up_cfg *c = l->impl;
  const sn_shape in = l->in_shape[0];
  if (in.ndim != 3) {
    char buf[48];
    return sn_layer_fail(l, "needs a 3-D (channels, height, width) input but gets %s",
                         sn_shape_format(in, buf, sizeof buf));
  }
  if ((double)in.d[1] * c->scale[0] * (double)in.d[2] * c->scale[1] > 2147483647.0)
    return sn_layer_fail(l, "a %dx%d plane scaled by %dx%d is too large", in.d[1], in.d[2],
                         c->scale[0], c->scale[1]);
  l->out_shape = sn_shape_chw(in.d[0], in.d[1] * c->scale[0], in.d[2] * c->scale[1]);
  return SN_OK;
}

/* Along one axis: output o reads inputs i0 and i1 with weights 1-t and t. */
static inline void axis_taps(up_mode mode, int o, int scale, int n, int *i0, int *i1, float *t) {
  if (mode == UP_NEAREST) {
    *i0 = *i1 = o / scale;
    *t = 0.0f;
    return;
  }
  /* The centre of output pixel o in input coordinates; near the border it falls
   * before the first centre and clamps to it. */
  float src = ((float)o + 0.5f) / (float)scale - 0.5f;
  if (src < 0.0f) src = 0.0f;
  int i = (int)src;
  *i0 = i;
  *i1 = i < n - 1 ? i + 1 : i;
  *t = src - (float)i;
}

/* The input cells and weights output (oh, ow) reads; returns how many (1 or 4). */
static inline int pixel_taps(const up_cfg *c, int h, int w, int oh, int ow, int at[4],
                              float wt[4]) {
  int h0, h1, w0, w1;
  float th, tw;
  axis_taps(c->mode, oh, c->scale[0], h, &h0, &h1, &th);
  axis_taps(c->mode, ow, c->scale[1], w, &w0, &w1, &tw);
  at[0] = h0 * w + w0;
  at[1] = h0 * w + w1;
  at[2] = h1 * w + w0;
  at[3] = h1 * w + w1;
  wt[0] = (1.0f - th) * (1.0f - tw);
  wt[1] = (1.0f - th) * tw;
  wt[2] = th * (1.0f - tw);
  wt[3] = th * tw;
  return c->mode == UP_NEAREST ? 1 : 4;
}

static void up_forward(sn_layer *l, const sn_fwd *f) {
  const up_cfg *c = l->impl;
  const int h = l->in_shape[0].d[1], w = l->in_shape[0].d[2];
  const int oh_n = l->out_shape.d[1], ow_n = l->out_shape.d[2];
  const size_t planes = (size_t)f->batch * l->in_shape[0].d[0];
  const size_t in_plane = (size_t)h * w, out_plane = (size_t)oh_n * ow_n;
#pragma omp parallel for schedule(static) if (planes * out_plane >= UP_PARALLEL_MIN)
  for (size_t p = 0; p < planes; p++) {
    const float *x = f->in[0] + p * in_plane;
    float *y = f->out + p * out_plane;
    for (int oh = 0; oh < oh_n; oh++)
      for (int ow = 0; ow < ow_n; ow++) {
        int at[4];
        float wt[4];
        const int n = pixel_taps(c, h, w, oh, ow, at, wt);
        float v = 0.0f;
        for (int k = 0; k < n; k++) v += wt[k] * x[at[k]];
        y[oh * ow_n + ow] = v;
      }
  }
}

static void up_backward(sn_layer *l, const sn_bwd *b) {
  if (!b->din[0]) return;
  const up_cfg *c = l->impl;
  const int h = l->in_shape[0].d[1], w = l->in_shape[0].d[2];
  const int oh_n = l->out_shape.d[1], ow_n = l->out_shape.d[2];
  const size_t planes = (size_t)b->batch * l->in_shape[0].d[0];
  const size_t in_plane = (size_t)h * w, out_plane = (size_t)oh_n * ow_n;
  /* Scatters stay inside one plane, so threads split planes and never collide. */
#pragma omp parallel for schedule(static) if (planes * out_plane >= UP_PARALLEL_MIN)
  for (size_t p = 0; p < planes; p++) {
    const float *dy = b->dout + p * out_plane;
    float *dx = b->din[0] + p * in_plane;
    for (int oh = 0; oh < oh_n; oh++)
      for (int ow = 0; ow < ow_n; ow++) {
        int at[4];
        float wt[4];
        const int n = pixel_taps(c, h, w, oh, ow, at, wt);
        const float g = dy[oh * ow_n + ow];
        for (int k = 0; k < n; k++) dx[at[k]] += wt[k] * g;
      }
  }
}

static double up_flops(const sn_layer *l) {
  const up_cfg *c = l->impl;
  /* bilinear: four multiply-adds per output; nearest only copies */
  return c->mode == UP_BILINEAR ? 8.0 * (double)sn_shape_size(l->out_shape) : 0.0;
}

static void up_receptive(const sn_layer *l, double *kernel, double *stride) {
  const up_cfg *c = l->impl;
  *kernel = 1.0;
  *stride = 1.0 / c->scale[0];
}

const sn_layer_ops sn_upsample2d_ops = {
    .type = "upsample2d",
    .min_inputs = 1,
    .max_inputs = 1,
    .parse = up_parse,
    .infer = up_infer,
    .forward = up_forward,
    .backward = up_backward,
    .flops = up_flops,
    .receptive = up_receptive,
};
