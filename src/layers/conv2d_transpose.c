/* Transposed 2-D convolution (the data gradient of a convolution, used to upsample):
 * out (cout, oh, ow) = act(col2im(kernel (cin, cout, kh, kw)^T . in (cin, h, w)) + bias). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layers/conv_keys.h"
#include "layers/conv_layer.h"
#include "layers/layer_types.h"

typedef struct {
  sn_conv_core core;   /* first: the shared conv ops read it; its spec sees the output
                        * as image and the input as grid, the conv this one reverses */
  int filters, kernel[2], stride[2], output_padding[2];
  sn_pad_mode pad_mode;
  int pad;             /* explicit padding, both sides of both dimensions */
  int use_bias;
  sn_activation act;
  sn_init_kind init;
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
  /* the trailing padding follows from the output size; output_padding makes it
   * smaller than the leading one, and can make it negative */
  c->core.spec = (sn_conv_spec){
      .transposed = 1,
      .g = {.c = c->filters, .h = oh, .w = ow, .kh = kh, .kw = kw, .sh = sh, .sw = sw, .pt = pt,
            .pl = pl, .oh = h, .ow = w, .flip = 0},
      .cin = cin, .cout = c->filters, .pb = (h - 1) * sh + kh - oh - pt, .pr = (w - 1) * sw + kw - ow - pl,
      .has_bias = c->use_bias, .act = c->act};
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







static double convt_flops(const sn_layer *l) {
  const convt_cfg *c = l->impl;
  return 2.0 * l->in_shape[0].d[0] * sn_conv_geom_rows(&c->core.spec.g) * sn_conv_geom_cols(&c->core.spec.g);
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
    .prepare = sn_conv_layer_prepare,
    .kernel_name = sn_conv_layer_kernel_name,
    .workspace_floats = sn_conv_layer_workspace,
    .fresh_din = 1,
    .blocked = sn_conv_layer_blocked,
    .forward = sn_conv_layer_forward,
    .backward = sn_conv_layer_backward,
    .flops = convt_flops,
    .receptive = convt_receptive,
    .destroy = sn_conv_layer_destroy,
};
