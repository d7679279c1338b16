/* Fully connected layer: out (batch, units) = act(in (batch, in) . kernel (in, units) + bias). */
#include <stdlib.h>
#include <string.h>

#include "layers/layer_types.h"
#include "shardnet/gemm.h"

typedef struct {
  int units;
  int use_bias;
  sn_activation act;
  sn_init_kind init;
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
  const float *x, *dpre;
  int in, units, n;
} kernel_rows;

static void kernel_grad_rows(void *ctx, int lo, int hi, float *dst, float beta) {
  const kernel_rows *k = ctx;
  sn_gemm(1, 0, hi - lo, k->units, k->n, 1.0f, k->x + lo, k->in, k->dpre, k->units, beta, dst, k->units);
}

static size_t dense_workspace(const sn_layer *l, int batch, int threads) {
  (void)threads;  /* one buffer for the whole batch */
  const dense_cfg *c = l->impl;
  return c->act.kind == SN_ACT_NONE ? 0 : (size_t)batch * (size_t)c->units;
}

static void dense_forward(sn_layer *l, const sn_fwd *f) {
  const dense_cfg *c = l->impl;
  const int in = l->in_shape[0].d[0], units = c->units, n = f->batch;
  const float *w = l->params[0].data;
  float beta = 0.0f;
  if (c->use_bias) {
    const float *b = l->params[1].data;
    for (int i = 0; i < n; i++) memcpy(f->out + (size_t)i * units, b, (size_t)units * sizeof(float));
    beta = 1.0f;
  }
  sn_gemm(0, 0, n, units, in, 1.0f, f->in[0], in, w, units, beta, f->out, units);
  sn_activation_forward(c->act, f->out, (size_t)n * units);
}

static void dense_backward(sn_layer *l, const sn_bwd *b) {
  const dense_cfg *c = l->impl;
  const int in = l->in_shape[0].d[0], units = c->units, n = b->batch;
  const float *dpre = b->dout;
  if (c->act.kind != SN_ACT_NONE) {
    /* Gradient through the fused activation, into scratch: dout itself is read-only. */
    memcpy(b->work, b->dout, (size_t)n * units * sizeof(float));
    sn_activation_backward_inplace(c->act, b->out, b->work, (size_t)n * units);
    dpre = b->work;
  }
  /* dkernel (in, units) += in^T (in, n) . dpre (n, units), by rows of the kernel */
  kernel_rows rows = {b->in[0], dpre, in, units, n};
  sn_param_grad_rows(b, &l->params[0], kernel_grad_rows, &rows);
  if (c->use_bias) {
    float *db = l->params[1].grad;
    for (int i = 0; i < n; i++)
      for (int j = 0; j < units; j++) db[j] += dpre[(size_t)i * units + j];
  }
  /* din (n, in) += dpre (n, units) . kernel^T (units, in) */
  if (b->din[0])
    sn_gemm(0, 1, n, in, units, 1.0f, dpre, units, l->params[0].data, units, 1.0f, b->din[0], in);
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
    .workspace_floats = dense_workspace,
    .forward = dense_forward,
    .backward = dense_backward,
    .flops = dense_flops,
};
