/* 2-D convolution: out (cout, oh, ow) = act(kernel (cout, cin, kh, kw) * in (cin, h, w)
 * + bias), computed per sample as im2col + GEMM, samples spread over OpenMP threads. */
#include <stdlib.h>
#include <string.h>

#include "layers/im2col.h"
#include "layers/layer_types.h"
#include "shardnet/gemm.h"

typedef struct {
  int filters, kernel[2], stride[2];
  sn_pad_mode pad_mode;
  int pad[2];          /* explicit padding (ph, pw) */
  int use_bias, flip;
  sn_activation act;
  sn_init_kind init;
  /* from infer */
  sn_conv_geom g;      /* the input as image, the output as grid */
  int direct;          /* 1x1, stride 1, no padding: the input is its own column matrix */
} conv_cfg;

static sn_status conv2d_parse(sn_layer *l, sn_args *args) {
  conv_cfg *c = calloc(1, sizeof *c);
  if (!c) return sn_fail(SN_ERR_NOMEM, "cannot allocate layer");
  l->impl = c;
  SN_TRY(sn_conv_parse_shape(args, &c->filters, c->kernel, c->stride));
  SN_TRY(sn_conv_parse_padding(args, 1, &c->pad_mode, c->pad));
  SN_TRY(sn_args_bool(args, "bias", 1, &c->use_bias));
  SN_TRY(sn_args_bool(args, "flip", 0, &c->flip));
  SN_TRY(sn_parse_activation(args, &c->act));
  return sn_parse_init(args, sn_default_init(c->act), &c->init);
}

static sn_status conv2d_infer(sn_layer *l) {
  conv_cfg *c = l->impl;
  const sn_shape in = l->in_shape[0];
  char buf[48];
  if (in.ndim != 3)
    return sn_layer_fail(l, "needs a 3-D (channels, height, width) input but gets %s",
                         sn_shape_format(in, buf, sizeof buf));
  const int cin = in.d[0], h = in.d[1], w = in.d[2];
  const int kh = c->kernel[0], kw = c->kernel[1], sh = c->stride[0], sw = c->stride[1];
  int pt = 0, pb = 0, pl = 0, pr = 0, oh, ow;
  if (c->pad_mode == SN_PAD_SAME) {
    sn_conv_same_padding(h, kh, sh, &oh, &pt, &pb);
    sn_conv_same_padding(w, kw, sw, &ow, &pl, &pr);
  } else {
    pt = pb = c->pad[0];
    pl = pr = c->pad[1];
  }
  if (kh > h + pt + pb || kw > w + pl + pr)
    return sn_layer_fail(l, "kernel %dx%d is larger than the padded input %dx%d", kh, kw,
                         h + pt + pb, w + pl + pr);
  oh = (h + pt + pb - kh) / sh + 1;
  ow = (w + pl + pr - kw) / sw + 1;
  c->g = (sn_conv_geom){.c = cin, .h = h, .w = w, .kh = kh, .kw = kw, .sh = sh, .sw = sw,
                        .pt = pt, .pl = pl, .oh = oh, .ow = ow, .flip = c->flip};
  c->direct = kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt + pb + pl + pr == 0;
  l->out_shape = sn_shape_chw(c->filters, oh, ow);
  const int taps = kh * kw;
  sn_param *kernel = sn_layer_add_param(l, "kernel", 4, (int[]){c->filters, cin, kh, kw},
                                       cin * taps, c->filters * taps, c->init, 1);
  /* Keras stores (kh, kw, cin, cout) and cross-correlates: a flip kernel is saved
   * rotated so Keras computes the same outputs */
  sn_param_keras_layout(kernel, (int[]){2, 3, 1, 0}, c->flip);
  if (c->use_bias)
    sn_layer_add_param(l, "bias", 1, (int[]){c->filters}, cin * taps, c->filters * taps,
                       SN_INIT_ZEROS, 1);
  return SN_OK;
}

/* Per-thread slice: the column matrix (also reused for its gradient) and the
 * pre-activation gradient of one sample. */
static size_t slot_floats(const conv_cfg *c) {
  const size_t k = (size_t)sn_conv_geom_rows(&c->g), n = (size_t)sn_conv_geom_cols(&c->g);
  return sn_conv_round((c->direct ? 0 : k * n) + (c->act.kind == SN_ACT_NONE ? 0 : (size_t)c->filters * n));
}

/* Per-thread partial weight and bias gradients (threads 1.., thread 0 adds in place). */
static size_t partial_floats(const conv_cfg *c) {
  return sn_conv_round((size_t)c->filters * ((size_t)sn_conv_geom_rows(&c->g) + 1));
}

static size_t conv2d_workspace(const sn_layer *l, int batch, int threads) {
  const conv_cfg *c = l->impl;
  const int team = sn_conv_team(threads, batch);
  return (size_t)team * slot_floats(c) + (size_t)(team - 1) * partial_floats(c);
}

/* One sample: y += W . im2col(x) ([cout, cin*kh*kw] x [cin*kh*kw, oh*ow]). */
static void conv2d_sample_forward(const sn_layer *l, const float *x, float *y, float *col) {
  const conv_cfg *c = l->impl;
  const int k = sn_conv_geom_rows(&c->g), n = sn_conv_geom_cols(&c->g);
  if (!c->direct) {
    sn_im2col(&c->g, x, col, n);
    x = col;
  }
  sn_gemm(0, 0, c->filters, n, k, 1.0f, l->params[0].data, k, x, n, 1.0f, y, n);
}

static void conv2d_forward(sn_layer *l, const sn_fwd *f) {
  const conv_cfg *c = l->impl;
  const sn_conv_geom *g = &c->g;
  const sn_conv_forward_plan plan = {.slot = slot_floats(c),
                                     .in_size = (size_t)g->c * g->h * g->w,
                                     .cout = c->filters,
                                     .plane = (size_t)sn_conv_geom_cols(g),
                                     .bias = c->use_bias ? l->params[1].data : NULL,
                                     .act = c->act,
                                     .per_sample = conv2d_sample_forward};
  sn_conv_forward(l, f, &plan);
}

/* One sample: dW += dpre . col^T, din += col2im(W^T . dpre). */
static void conv2d_sample_backward(const sn_layer *l, const sn_bwd *b, int s, const float *dpre, float *col,
                                   sn_conv_grad_slot *gs) {
  const conv_cfg *c = l->impl;
  const sn_conv_geom *g = &c->g;
  const int k = sn_conv_geom_rows(g), n = sn_conv_geom_cols(g), cout = c->filters;
  const size_t in_size = (size_t)g->c * g->h * g->w;
  const float *w = l->params[0].data, *x = b->in[0] + (size_t)s * in_size, *xcol = x;
  if (!c->direct) {
    sn_im2col(g, x, col, n);
    xcol = col;
  }
  // dW [cout, cin*kh*kw] += dpre [cout, oh*ow] x col^T [oh*ow, cin*kh*kw]
  sn_gemm(0, 1, cout, k, n, 1.0f, dpre, n, xcol, n, gs->dw_beta, gs->dw, k);
  gs->dw_beta = 1.0f;
  if (!b->din[0]) return;
  float *din = b->din[0] + (size_t)s * in_size;
  if (c->direct) {
    // din [cin, h*w] += W^T [cin, cout] x dpre [cout, h*w]
    sn_gemm(1, 0, k, n, cout, 1.0f, w, k, dpre, n, 1.0f, din, n);
  } else {
    // dcol [cin*kh*kw, oh*ow] = W^T x dpre, reusing the column slice
    sn_gemm(1, 0, k, n, cout, 1.0f, w, k, dpre, n, 0.0f, col, n);
    sn_col2im_add(g, col, n, din);
  }
}

static void conv2d_backward(sn_layer *l, const sn_bwd *b) {
  const conv_cfg *c = l->impl;
  const int k = sn_conv_geom_rows(&c->g), n = sn_conv_geom_cols(&c->g);
  const sn_conv_backward_plan plan = {.team = sn_conv_team(b->threads, b->batch),
                                      .slot = slot_floats(c),
                                      .dpre_at = c->direct ? 0 : (size_t)k * n,
                                      .part = partial_floats(c),
                                      .w_count = (size_t)c->filters * k,
                                      .cout = c->filters,
                                      .out_size = (size_t)c->filters * n,
                                      .act = c->act,
                                      .per_sample = conv2d_sample_backward};
  sn_conv_backward(l, b, &plan);
}

static double conv2d_flops(const sn_layer *l) {
  const conv_cfg *c = l->impl;
  return 2.0 * c->filters * sn_conv_geom_rows(&c->g) * sn_conv_geom_cols(&c->g);
}

/* The summary's receptive field is one number: the larger dimension decides. */
static void conv2d_receptive(const sn_layer *l, double *kernel, double *stride) {
  const conv_cfg *c = l->impl;
  *kernel = c->kernel[0] > c->kernel[1] ? c->kernel[0] : c->kernel[1];
  *stride = c->stride[0] > c->stride[1] ? c->stride[0] : c->stride[1];
}

const sn_layer_ops sn_conv2d_ops = {
    .type = "conv2d",
    .min_inputs = 1,
    .max_inputs = 1,
    .parse = conv2d_parse,
    .infer = conv2d_infer,
    .workspace_floats = conv2d_workspace,
    .forward = conv2d_forward,
    .backward = conv2d_backward,
    .flops = conv2d_flops,
    .receptive = conv2d_receptive,
};
