/* The standalone activation layers: relu, leaky_relu, elu, sigmoid, tanh. */
#include <stdlib.h>
#include <string.h>

#include "layers/layer_types.h"

/* One set of functions over sn_activation_forward/backward; a layer's type name is the
 * name of its activation. */

static sn_status act_parse(sn_layer *l, sn_args *args) {
  sn_activation *a = calloc(1, sizeof *a);
  if (!a) return sn_fail(SN_ERR_NOMEM, "cannot allocate layer");
  l->impl = a;
  for (int k = 0; k < 6; k++)
    if (!strcmp(sn_activation_names[k], l->ops->type)) a->kind = (sn_act_kind)k;
  return sn_parse_activation_alpha(args, a);
}

static sn_status act_infer(sn_layer *l) {
  l->out_shape = l->in_shape[0];
  return SN_OK;
}

/* Element-wise: any layout, the output's that of the input. */
static unsigned act_blocked(const sn_layer *l) { return SN_BLOCKED_IN | SN_BLOCKED_OUT | SN_BLOCKED_SAME; }

static void act_forward(sn_layer *l, const sn_fwd *f) {
  const size_t n = (size_t)f->batch * sn_shape_size(l->out_shape);
  sn_activation_apply(*(const sn_activation *)l->impl, f->in[0], f->out, n);
}

static void act_backward(sn_layer *l, const sn_bwd *b) {
  if (!b->din[0]) return;
  const size_t n = (size_t)b->batch * sn_shape_size(l->out_shape);
  const sn_activation act = *(const sn_activation *)l->impl;
  if (b->din_fresh & 1u)
    sn_activation_gradient(act, b->out, b->dout, b->din[0], n);
  else
    sn_activation_backward(act, b->out, b->dout, b->din[0], n);
}

#define ACTIVATION_OPS(name)    \
  {.type = name,                \
   .min_inputs = 1,             \
   .max_inputs = 1,             \
   .parse = act_parse,          \
   .infer = act_infer,          \
   .fresh_din = 1,              \
   .blocked = act_blocked,      \
   .forward = act_forward,      \
   .backward = act_backward}

const sn_layer_ops sn_relu_ops = ACTIVATION_OPS("relu");
const sn_layer_ops sn_leaky_relu_ops = ACTIVATION_OPS("leaky_relu");
const sn_layer_ops sn_elu_ops = ACTIVATION_OPS("elu");
const sn_layer_ops sn_sigmoid_ops = ACTIVATION_OPS("sigmoid");
const sn_layer_ops sn_tanh_ops = ACTIVATION_OPS("tanh");
