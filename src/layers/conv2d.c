/* 2-D convolution: out (cout, oh, ow) = act(kernel (cout, cin, kh, kw) * in (cin, h, w)
 * + bias). This file holds the keys, shapes and parameters; src/kernels computes. */
#include <stdlib.h>
#include <string.h>

#include "layers/conv_keys.h"
#include "layers/conv_layer.h"
#include "layers/layer_types.h"

typedef struct {
  sn_conv_core core;   /* first: the shared conv ops read it (spec from infer) */
  int filters, kernel[2], stride[2];
  sn_pad_mode pad_mode;
  int pad[2];          /* explicit padding (ph, pw) */
  int use_bias, flip;
  sn_activation act;
  sn_init_kind init;
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
  c->core.spec = (sn_conv_spec){
      .g = {.c = cin, .h = h, .w = w, .kh = kh, .kw = kw, .sh = sh, .sw = sw, .pt = pt, .pl = pl,
            .oh = oh, .ow = ow, .flip = c->flip},
      .cin = cin, .cout = c->filters, .pb = pb, .pr = pr, .has_bias = c->use_bias, .act = c->act};
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



static double conv2d_flops(const sn_layer *l) {
  const conv_cfg *c = l->impl;
  return 2.0 * c->filters * sn_conv_geom_rows(&c->core.spec.g) * sn_conv_geom_cols(&c->core.spec.g);
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
    .prepare = sn_conv_layer_prepare,
    .kernel_name = sn_conv_layer_kernel_name,
    .workspace_floats = sn_conv_layer_workspace,
    .fresh_din = 1,
    .blocked = sn_conv_layer_blocked,
    .forward = sn_conv_layer_forward,
    .backward = sn_conv_layer_backward,
    .flops = conv2d_flops,
    .receptive = conv2d_receptive,
    .destroy = sn_conv_layer_destroy,
};
