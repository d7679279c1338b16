/* The ops conv2d and conv2d_transpose share: their kernel, made at reserve time, runs
 * forward and backward on the layer's parameters (kernel, then bias when present). */
#include "layers/conv_layer.h"

#include <stdlib.h>

static sn_conv_core *core(const sn_layer *l) { return l->impl; }

sn_status sn_conv_layer_prepare(sn_layer *l, const sn_prepare *p) {
  sn_conv_core *c = core(l);
  sn_conv_kernel_destroy(c->compute);
  c->compute = NULL;
  sn_conv_spec spec = c->spec;
  spec.dy_scratch = p->output_grad_scratch;
  spec.no_dx = p->no_input_grad;
  spec.x_blocked = (int)(p->blocked_in & 1u);
  spec.y_blocked = p->blocked_out;
  return sn_conv_kernel_create(&spec, p->max_batch, p->threads, p->precision, p->kernels, &c->compute);
}

const char *sn_conv_layer_kernel_name(const sn_layer *l) {
  const sn_conv_core *c = core(l);
  return c->compute ? sn_conv_kernel_name(c->compute) : "";
}

unsigned sn_conv_layer_blocked(const sn_layer *l) {
  const sn_conv_core *c = core(l);
  return c->compute && sn_conv_kernel_takes_blocked(c->compute) ? SN_BLOCKED_IN | SN_BLOCKED_OUT : 0;
}

size_t sn_conv_layer_workspace(const sn_layer *l, int batch, int threads) {
  const sn_conv_core *c = core(l);
  return c->compute ? sn_conv_kernel_workspace(c->compute) : 0;
}

void sn_conv_layer_forward(sn_layer *l, const sn_fwd *f) {
  const sn_conv_core *c = core(l);
  sn_conv_kernel_forward(c->compute, &(sn_conv_fwd_args){.batch = f->batch, .x = f->in[0],
                                                        .w = l->params[0].data,
                                                        .bias = c->spec.has_bias ? l->params[1].data : NULL,
                                                        .y = f->out, .work = f->work});
}

void sn_conv_layer_backward(sn_layer *l, const sn_bwd *b) {
  const sn_conv_core *c = core(l);
  sn_conv_kernel_backward(c->compute, &(sn_conv_bwd_args){.batch = b->batch, .x = b->in[0],
                                                         .w = l->params[0].data, .y = b->out,
                                                         .dy = b->dout, .dy_scratch = b->dout_scratch,
                                                         .dx = b->din[0],
                                                         .dx_fresh = (int)(b->din_fresh & 1u),
                                                         .dw = l->params[0].grad,
                                                         .db = c->spec.has_bias ? l->params[1].grad : NULL,
                                                         .work = b->work});
}

void sn_conv_layer_destroy(sn_layer *l) {
  sn_conv_core *c = core(l);
  if (c) sn_conv_kernel_destroy(c->compute);
  free(c);
}
