/* Helpers every layer type shares: errors, parameter declaration, common keys. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "shardnet/layer.h"

sn_status sn_layer_fail(const sn_layer *l, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (l->source[0] && l->line > 0)
    return sn_fail(SN_ERR_SHAPE, "%s:%d: layer '%s' (%s): %s", l->source, l->line, l->name,
                   l->ops->type, msg);
  return sn_fail(SN_ERR_SHAPE, "layer '%s' (%s): %s", l->name, l->ops->type, msg);
}

sn_param *sn_layer_add_param(sn_layer *l, const char *name, int ndim, const int *dims,
                             int fan_in, int fan_out, sn_init_kind init, int trainable) {
  SN_ASSERT(l->n_params < SN_MAX_PARAMS && ndim >= 1 && ndim <= 4);
  sn_param *p = &l->params[l->n_params++];
  memset(p, 0, sizeof *p);
  snprintf(p->name, sizeof p->name, "%s", name);
  p->ndim = ndim;
  p->count = 1;
  for (int i = 0; i < ndim; i++) {
    p->dims[i] = dims[i];
    p->count *= (size_t)dims[i];
  }
  p->fan_in = fan_in;
  p->fan_out = fan_out;
  p->init = init;
  p->trainable = trainable;
  for (int i = 0; i < 4; i++) p->keras_order[i] = i;
  return p;
}

void sn_param_grad_rows(const sn_bwd *b, const sn_param *p, sn_grad_rows_fn fn, void *ctx) {
  if (b->builder.build)
    b->builder.build(b->builder.ctx, p, fn, ctx);
  else
    fn(ctx, 0, p->dims[0], p->grad, 1.0f);
}

void sn_param_keras_layout(sn_param *p, const int *order, int flip) {
  for (int i = 0; i < p->ndim; i++) p->keras_order[i] = order[i];
  p->keras_flip = flip;
}

const char *const sn_activation_names[6] = {"none", "relu", "leaky_relu", "elu", "sigmoid",
                                            "tanh"};

sn_status sn_parse_activation_alpha(sn_args *args, sn_activation *act) {
  double alpha = act->kind == SN_ACT_ELU ? 1.0 : 0.01;
  if (act->kind == SN_ACT_ELU || act->kind == SN_ACT_LEAKY_RELU)
    SN_TRY(sn_args_float(args, "alpha", alpha, 0.0, 1e6, &alpha));
  act->alpha = (float)alpha;
  return SN_OK;
}

sn_status sn_parse_activation(sn_args *args, sn_activation *out) {
  int kind;
  SN_TRY(sn_args_choice(args, "activation", sn_activation_names, 6, SN_ACT_NONE, &kind));
  out->kind = (sn_act_kind)kind;
  return sn_parse_activation_alpha(args, out);
}

sn_init_kind sn_default_init(sn_activation act) {
  /* He keeps the variance through units that zero (or squash) half their inputs;
   * Xavier suits the symmetric and linear ones */
  const int relu_like = act.kind == SN_ACT_RELU || act.kind == SN_ACT_LEAKY_RELU ||
                        act.kind == SN_ACT_ELU;
  return relu_like ? SN_INIT_HE_NORMAL : SN_INIT_XAVIER_UNIFORM;
}

sn_status sn_parse_init(sn_args *args, sn_init_kind dflt, sn_init_kind *out) {
  static const char *const names[] = {"zeros", "ones", "he_normal", "he_uniform",
                                      "xavier_normal", "xavier_uniform"};
  int kind;
  SN_TRY(sn_args_choice(args, "init", names, 6, (int)dflt, &kind));
  *out = (sn_init_kind)kind;
  return SN_OK;
}
