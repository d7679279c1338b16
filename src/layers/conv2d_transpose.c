/* Transposed 2-D convolution (the data gradient of a convolution, used to upsample):
 * out (cout, oh, ow) = act(col2im(kernel (cin, cout, kh, kw)^T . in (cin, h, w)) + bias). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layers/im2col.h"
#include "layers/layer_types.h"
#include "shardnet/gemm.h"

typedef struct {
  int filters, kernel[2], stride[2], output_padding[2];
  sn_pad_mode pad_mode;
  int pad;             /* explicit padding, both sides of both dimensions */
  int use_bias;
  sn_activation act;
  sn_init_kind init;
  /* from infer */
  sn_conv_geom g;      /* the output as image, the input as grid: the conv this one reverses */
  int direct;          /* 1x1, stride 1, no padding: the GEMM writes the output directly */
} convt_cfg;

static sn_status convt_parse(sn_layer *l, sn_args *args) {
  convt_cfg *c = calloc(1, sizeof *c);
  if (!c) return sn_fail(SN_ERR_NOMEM, "cannot allocate layer");
  l->impl = c;
  SN_TRY(sn_conv_parse_shape(args, &c->filters, c->kernel, c->stride));
  int pad[2];
  SN_TRY(sn_conv_parse_padding(args, 0, &c->pad_mode, pad));
  c->pad = pad[0];
  SN_TRY(sn_args_int_pair(args, "output_padding", 0, 0, 1 << 12, c->output_padding));
  for (int d = 0; d < 2; d++)
    if (c->output_padding[d] >= c->stride[d])
      return sn_args_fail(args, "output_padding", "must be smaller than the stride (%d), got %d",
                          c->stride[d], c->output_padding[d]);
  if (c->pad_mode == SN_PAD_SAME && (c->output_padding[0] || c->output_padding[1]))
    return sn_args_fail(args, "output_padding",
                        "cannot be combined with padding: same, which fixes the output at "
                        "input size x stride");
  SN_TRY(sn_args_bool(args, "bias", 1, &c->use_bias));
  SN_TRY(sn_parse_activation(args, &c->act));
  return sn_parse_init(args, sn_default_init(c->act), &c->init);
}

/* Output size and leading padding along one dimension. */
static int output_extent(const convt_cfg *c, int d, int in, int *before) {
  const int k = c->kernel[d], s = c->stride[d];
  if (c->pad_mode == SN_PAD_SAME) {
    /* the padding of the `same` conv that maps in*s back to in; when k < s the last
     * s - k rows are touched by no input and stay at the bias */
    int o, after;
    sn_conv_same_padding(in * s, k, s, &o, before, &after);
    return in * s;
  }
  *before = c->pad;
  return (in - 1) * s - 2 * c->pad + k + c->output_padding[d];
}

static sn_status convt_infer(sn_layer *l) {
  convt_cfg *c = l->impl;
  const sn_shape in = l->in_shape[0];
  char buf[48];
  if (in.ndim != 3)
    return sn_layer_fail(l, "needs a 3-D (channels, height, width) input but gets %s",
                         sn_shape_format(in, buf, sizeof buf));
  const int cin = in.d[0], h = in.d[1], w = in.d[2];
  int pt, pl;
  const int oh = output_extent(c, 0, h, &pt), ow = output_extent(c, 1, w, &pl);
  if (oh < 1 || ow < 1)
    return sn_layer_fail(l, "padding %d leaves no output for the input %s (output %dx%d)", c->pad,
                         sn_shape_format(in, buf, sizeof buf), oh, ow);
  const int kh = c->kernel[0], kw = c->kernel[1], sh = c->stride[0], sw = c->stride[1];
  c->g = (sn_conv_geom){.c = c->filters, .h = oh, .w = ow, .kh = kh, .kw = kw, .sh = sh,
                        .sw = sw, .pt = pt, .pl = pl, .oh = h, .ow = w, .flip = 0};
  c->direct = kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0 && oh == h && ow == w;
  l->out_shape = sn_shape_chw(c->filters, oh, ow);
  /* An output pixel sums about cin*kh*kw/(sh*sw) products (the stride spreads the
   * taps), which is the fan-in He/Xavier mean; the input fans out to cout*kh*kw. */
  const int taps = kh * kw;
  int fan_in = cin * taps / (sh * sw);
  if (fan_in < 1) fan_in = 1;
  sn_param *kernel = sn_layer_add_param(l, "kernel", 4, (int[]){cin, c->filters, kh, kw}, fan_in,
                                       c->filters * taps, c->init, 1);
  /* Keras's Conv2DTranspose stores (kh, kw, cout, cin) for the same operation */
  sn_param_keras_layout(kernel, (int[]){2, 3, 1, 0}, 0);
  if (c->use_bias)
    sn_layer_add_param(l, "bias", 1, (int[]){c->filters}, fan_in, c->filters * taps,
                       SN_INIT_ZEROS, 1);
  return SN_OK;
}

/* Per-thread slice: the column matrix [cout*kh*kw, h*w] and one sample's
 * pre-activation gradient. */
static size_t slot_floats(const convt_cfg *c) {
  const size_t k = (size_t)sn_conv_geom_rows(&c->g), n = (size_t)sn_conv_geom_cols(&c->g);
  const size_t out = (size_t)c->filters * c->g.h * c->g.w;
  return sn_conv_round((c->direct ? 0 : k * n) + (c->act.kind == SN_ACT_NONE ? 0 : out));
}

/* Per-thread partial kernel and bias gradients (threads 1.., thread 0 adds in place). */
static size_t partial_floats(const convt_cfg *c, int cin) {
  return sn_conv_round((size_t)cin * sn_conv_geom_rows(&c->g) + (size_t)c->filters);
}

static size_t convt_workspace(const sn_layer *l, int batch, int threads) {
  const convt_cfg *c = l->impl;
  const int team = sn_conv_team(threads, batch);
  return (size_t)team * slot_floats(c) + (size_t)(team - 1) * partial_floats(c, l->in_shape[0].d[0]);
}

/* One sample: y += col2im(W^T . x), or W^T . x straight into y when direct. */
static void convt_sample_forward(const sn_layer *l, const float *x, float *y, float *col) {
  const convt_cfg *c = l->impl;
  const int cin = l->in_shape[0].d[0], cout = c->filters;
  const int kc = sn_conv_geom_rows(&c->g), n = sn_conv_geom_cols(&c->g);
  const float *w = l->params[0].data;
  if (c->direct) {
    // y [cout, h*w] += W^T [cout, cin] x x [cin, h*w]
    sn_gemm(1, 0, cout, n, cin, 1.0f, w, cout, x, n, 1.0f, y, n);
  } else {
    // col [cout*kh*kw, h*w] = W^T [cout*kh*kw, cin] x x [cin, h*w], then scattered
    sn_gemm(1, 0, kc, n, cin, 1.0f, w, kc, x, n, 0.0f, col, n);
    sn_col2im_add(&c->g, col, n, y);
  }
}

static void convt_forward(sn_layer *l, const sn_fwd *f) {
  const convt_cfg *c = l->impl;
  const sn_conv_geom *g = &c->g;
  const sn_conv_forward_plan plan = {.slot = slot_floats(c),
                                     .in_size = (size_t)l->in_shape[0].d[0] * sn_conv_geom_cols(g),
                                     .cout = c->filters,
                                     .plane = (size_t)g->h * g->w,
                                     .bias = c->use_bias ? l->params[1].data : NULL,
                                     .act = c->act,
                                     .per_sample = convt_sample_forward};
  sn_conv_forward(l, f, &plan);
}

/* One sample: the gradient of a col2im is an im2col, so dcol = im2col(dpre), then
 * dW += x . dcol^T and din += W . dcol. */
static void convt_sample_backward(const sn_layer *l, const sn_bwd *b, int s, const float *dpre, float *col,
                                  sn_conv_grad_slot *gs) {
  const convt_cfg *c = l->impl;
  const sn_conv_geom *g = &c->g;
  const int cin = l->in_shape[0].d[0], kc = sn_conv_geom_rows(g), n = sn_conv_geom_cols(g);
  const size_t in_size = (size_t)cin * n;
  const float *x = b->in[0] + (size_t)s * in_size, *dcol = dpre;
  if (!c->direct) {
    sn_im2col(g, dpre, col, n);
    dcol = col;
  }
  // dW [cin, cout*kh*kw] += x [cin, h*w] x dcol^T [h*w, cout*kh*kw]
  sn_gemm(0, 1, cin, kc, n, 1.0f, x, n, dcol, n, gs->dw_beta, gs->dw, kc);
  gs->dw_beta = 1.0f;
  // din [cin, h*w] += W [cin, cout*kh*kw] x dcol [cout*kh*kw, h*w]
  if (b->din[0])
    sn_gemm(0, 0, cin, n, kc, 1.0f, l->params[0].data, kc, dcol, n, 1.0f, b->din[0] + (size_t)s * in_size, n);
}

static void convt_backward(sn_layer *l, const sn_bwd *b) {
  const convt_cfg *c = l->impl;
  const int cin = l->in_shape[0].d[0], kc = sn_conv_geom_rows(&c->g), n = sn_conv_geom_cols(&c->g);
  const sn_conv_backward_plan plan = {.team = sn_conv_team(b->threads, b->batch),
                                      .slot = slot_floats(c),
                                      .dpre_at = c->direct ? 0 : (size_t)kc * n,
                                      .part = partial_floats(c, cin),
                                      .w_count = (size_t)cin * kc,
                                      .cout = c->filters,
                                      .out_size = (size_t)c->filters * c->g.h * c->g.w,
                                      .act = c->act,
                                      .per_sample = convt_sample_backward};
  sn_conv_backward(l, b, &plan);
}

static double convt_flops(const sn_layer *l) {
  const convt_cfg *c = l->impl;
  return 2.0 * l->in_shape[0].d[0] * sn_conv_geom_rows(&c->g) * sn_conv_geom_cols(&c->g);
}

/* In input pixels, an output pixel sees at most ceil(k/s) of them along a dimension,
 * and one output step is 1/s input steps. As for conv2d the summary gets one number:
 * the widest kernel and the coarser (smaller) upsampling. */
static void convt_receptive(const sn_layer *l, double *kernel, double *stride) {
  const convt_cfg *c = l->impl;
  const double kh = ceil((double)c->kernel[0] / c->stride[0]);
  const double kw = ceil((double)c->kernel[1] / c->stride[1]);
  const int s = c->stride[0] < c->stride[1] ? c->stride[0] : c->stride[1];
  *kernel = kh > kw ? kh : kw;
  *stride = 1.0 / s;
}

const sn_layer_ops sn_conv2d_transpose_ops = {
    .type = "conv2d_transpose",
    .min_inputs = 1,
    .max_inputs = 1,
    .parse = convt_parse,
    .infer = convt_infer,
    .workspace_floats = convt_workspace,
    .forward = convt_forward,
    .backward = convt_backward,
    .flops = convt_flops,
    .receptive = convt_receptive,
};
