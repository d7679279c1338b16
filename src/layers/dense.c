/* Fully connected layer: out (batch, units) = act(in (batch, in) . kernel (in, units) + bias). */
#include <stdlib.h>
#include <string.h>

#include "kernels/dense.h"
#include "layers/layer_types.h"

typedef struct {
  int units;
  int use_bias;
  sn_activation act;
  sn_init_kind init;
  sn_dense_kernel *compute;  /* made by prepare */
} dense_cfg;

static sn_status dense_parse(sn_layer *l, sn_args *args) {
  dense_cfg *c = calloc(1, sizeof *c);
  if (!c) return sn_fail(SN_ERR_NOMEM, "cannot allocate layer");
  l->impl = c;
  SN_TRY(sn_args_int(args, "units", 0, 1, 1 << 24, &c->units));
  if (!sn_args_has(args, "units")) return sn_args_fail(args, NULL, "needs the key 'units'");
  SN_TRY(sn_args_bool(args, "bias", 1, &c->use_bias));
  SN_TRY(sn_parse_activation(args, &c->act));
  return sn_parse_init(args, sn_default_init(c->act), &c->init);
}

static sn_status dense_infer(sn_layer *l) {
  const dense_cfg *c = l->impl;
  if (l->in_shape[0].ndim != 1) {
    char buf[48];
    return sn_layer_fail(l, "needs a 1-D input but gets %s; add a flatten layer before it",
                         sn_shape_format(l->in_shape[0], buf, sizeof buf));
  }
  int in = l->in_shape[0].d[0];
  l->out_shape = sn_shape_vec(c->units);
  sn_layer_add_param(l, "kernel", 2, (int[]){in, c->units}, in, c->units, c->init, 1)->by_rows = 1;
  if (c->use_bias) sn_layer_add_param(l, "bias", 1, (int[]){c->units}, in, c->units, SN_INIT_ZEROS, 1);
  return SN_OK;
}

/* Rows [lo, hi) of dkernel: in[:, lo:hi]^T . dpre. */
typedef struct {
  const dense_cfg *c;
  const float *x, *dpre;
  int n;
  float *work;
} kernel_rows;

static void kernel_grad_rows(void *ctx, int lo, int hi, float *dst, float beta) {
  const kernel_rows *k = ctx;
  sn_dense_kernel_weight_rows(k->c->compute, k->n, k->x, k->dpre, lo, hi, dst, beta, k->work);
}

static sn_status dense_prepare(sn_layer *l, const sn_prepare *p) {
  dense_cfg *c = l->impl;
  sn_dense_kernel_destroy(c->compute);
  c->compute = NULL;
  const sn_dense_spec spec = {.in = l->in_shape[0].d[0], .units = c->units, .has_bias = c->use_bias};
  return sn_dense_kernel_create(&spec, p->max_batch, p->precision, p->kernels, &c->compute);
}

static const char *dense_kernel_name(const sn_layer *l) {
  const dense_cfg *c = l->impl;
  return c->compute ? sn_dense_kernel_name(c->compute) : "";
}

static void dense_destroy(sn_layer *l) {
  dense_cfg *c = l->impl;
  if (c) sn_dense_kernel_destroy(c->compute);
  free(c);
}

/* The pre-activation gradient (batch x units, when there is an activation), then the
 * kernel's scratch, 64-byte aligned. */
static size_t dpre_floats(const dense_cfg *c, int batch) {
  const size_t n = c->act.kind == SN_ACT_NONE ? 0 : (size_t)batch * (size_t)c->units;
  return (n + 15) & ~(size_t)15;
}

static size_t dense_workspace(const sn_layer *l, int batch, int threads) {
  const dense_cfg *c = l->impl;
  return dpre_floats(c, batch) + (c->compute ? sn_dense_kernel_workspace(c->compute) : 0);
}

static void dense_forward(sn_layer *l, const sn_fwd *f) {
  const dense_cfg *c = l->impl;
  sn_dense_kernel_forward(c->compute, f->batch, f->in[0], l->params[0].data,
                          c->use_bias ? l->params[1].data : NULL, f->out, f->work);
  sn_activation_forward(c->act, f->out, (size_t)f->batch * c->units);
}

static void dense_backward(sn_layer *l, const sn_bwd *b) {
  const dense_cfg *c = l->impl;
  const int units = c->units, n = b->batch;
  const float *dpre = b->dout;
  float *work = b->work + dpre_floats(c, n);
  if (c->act.kind != SN_ACT_NONE) {
    /* Gradient through the fused activation, into scratch: dout itself is read-only. */
    sn_activation_gradient(c->act, b->out, b->dout, b->work, (size_t)n * units);
    dpre = b->work;
  }
  /* dkernel (in, units) += in^T (in, n) . dpre (n, units), by rows of the kernel */
  kernel_rows rows = {c, b->in[0], dpre, n, work};
  sn_param_grad_rows(b, &l->params[0], kernel_grad_rows, &rows);
  if (c->use_bias) {
    float *db = l->params[1].grad;
    for (int i = 0; i < n; i++)
      for (int j = 0; j < units; j++) db[j] += dpre[(size_t)i * units + j];
  }
  /* din (n, in) += dpre (n, units) . kernel^T (units, in) */
  if (b->din[0]) sn_dense_kernel_backward_data(c->compute, n, dpre, l->params[0].data, b->din[0], work);
}

static double dense_flops(const sn_layer *l) {
  const dense_cfg *c = l->impl;
  return 2.0 * l->in_shape[0].d[0] * c->units;
}

const sn_layer_ops sn_dense_ops = {
    .type = "dense",
    .min_inputs = 1,
    .max_inputs = 1,
    .parse = dense_parse,
    .infer = dense_infer,
    .prepare = dense_prepare,
    .kernel_name = dense_kernel_name,
    .workspace_floats = dense_workspace,
    .forward = dense_forward,
    .backward = dense_backward,
    .flops = dense_flops,
    .destroy = dense_destroy,
};
