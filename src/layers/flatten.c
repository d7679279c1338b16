/* Flatten: (C, H, W) -> (C*H*W) in NCHW order (Keras's (h, w, c) order is applied
 * only when weights are saved or loaded). */
#include <string.h>

#include "layers/layer_types.h"

static sn_status flatten_parse(sn_layer *l, sn_args *args) { return SN_OK; }

static sn_status flatten_infer(sn_layer *l) {
  l->out_shape = sn_shape_vec((int)sn_shape_size(l->in_shape[0]));
  return SN_OK;
}

static void flatten_forward(sn_layer *l, const sn_fwd *f) {
  /* the net usually hands over the input's buffer itself (output_is_input) */
  if (f->out != f->in[0]) memcpy(f->out, f->in[0], (size_t)f->batch * sn_shape_size(l->out_shape) * sizeof(float));
}

static void flatten_backward(sn_layer *l, const sn_bwd *b) {
  if (!b->din[0]) return;
  size_t n = (size_t)b->batch * sn_shape_size(l->out_shape);
  if (b->din_fresh & 1u)
    memcpy(b->din[0], b->dout, n * sizeof(float));
  else
    for (size_t i = 0; i < n; i++) b->din[0][i] += b->dout[i];
}

const sn_layer_ops sn_flatten_ops = {
    .type = "flatten",
    .min_inputs = 1,
    .max_inputs = 1,
    .parse = flatten_parse,
    .infer = flatten_infer,
    .forward = flatten_forward,
    .backward = flatten_backward,
    .output_is_input = 1,
    .fresh_din = 1,
};
