/* Concatenation of 2 to 8 inputs along channels (3-D) or units (1-D). */
#include <string.h>

#include "layers/layer_types.h"

/* In NCHW either way a sample's output is its inputs' samples laid end to end, so one
 * copy loop serves both. */

static sn_status concat_parse(sn_layer *l, sn_args *args) { return SN_OK; }

static sn_status concat_infer(sn_layer *l) {
  const sn_shape first = l->in_shape[0];
  int total = 0;
  for (int k = 0; k < l->n_inputs; k++) {
    const sn_shape s = l->in_shape[k];
    char a[48], b[48];
    sn_shape_format(first, a, sizeof a);
    sn_shape_format(s, b, sizeof b);
    if (s.ndim != first.ndim)
      return sn_layer_fail(l,
                           "cannot join a %d-D input with a %d-D one: input 1 is %s, input %d is %s",
                           first.ndim, s.ndim, a, k + 1, b);
    if (s.ndim == 3 && (s.d[1] != first.d[1] || s.d[2] != first.d[2]))
      return sn_layer_fail(l, "joins channels of equal height and width, but input 1 is %dx%d (%s) "
                           "and input %d is %dx%d (%s)",
                           first.d[1], first.d[2], a, k + 1, s.d[1], s.d[2], b);
    total += s.d[0];
  }
  l->out_shape =
      first.ndim == 3 ? sn_shape_chw(total, first.d[1], first.d[2]) : sn_shape_vec(total);
  return SN_OK;
}

static void concat_forward(sn_layer *l, const sn_fwd *f) {
  const size_t out_size = sn_shape_size(l->out_shape);
  for (int n = 0; n < f->batch; n++) {
    float *y = f->out + (size_t)n * out_size;
    for (int k = 0; k < l->n_inputs; k++) {
      const size_t size = sn_shape_size(l->in_shape[k]);
      memcpy(y, f->in[k] + (size_t)n * size, size * sizeof(float));
      y += size;
    }
  }
}

static void concat_backward(sn_layer *l, const sn_bwd *b) {
  const size_t out_size = sn_shape_size(l->out_shape);
  for (int n = 0; n < b->batch; n++) {
    const float *dy = b->dout + (size_t)n * out_size;
    for (int k = 0; k < l->n_inputs; k++) {
      const size_t size = sn_shape_size(l->in_shape[k]);
      float *dx = b->din[k];
      if (dx)
        for (size_t i = 0; i < size; i++) dx[(size_t)n * size + i] += dy[i];
      dy += size;
    }
  }
}

const sn_layer_ops sn_concat_ops = {
    .type = "concat",
    .min_inputs = 2,
    .max_inputs = SN_MAX_INPUTS,
    .parse = concat_parse,
    .infer = concat_infer,
    .forward = concat_forward,
    .backward = concat_backward,
};
