/* Element-wise sum of 2 to 8 inputs of identical shape (residual connections). */
#include "layers/layer_types.h"

/* Below this many output floats per call the OpenMP team costs more than it saves. */
#define ADD_PARALLEL_MIN 65536

static sn_status add_parse(sn_layer *l, sn_args *args) { return SN_OK; }

static sn_status add_infer(sn_layer *l) {
  for (int k = 1; k < l->n_inputs; k++)
    if (!sn_shape_equal(l->in_shape[k], l->in_shape[0])) {
      char a[48], b[48];
      return sn_layer_fail(l, "needs inputs of one shape, but input 1 is %s and input %d is %s",
                           sn_shape_format(l->in_shape[0], a, sizeof a), k + 1,
                           sn_shape_format(l->in_shape[k], b, sizeof b));
    }
  l->out_shape = l->in_shape[0];
  return SN_OK;
}

/* Element-wise: any layout, as long as all inputs and the output share it. */
static unsigned add_blocked(const sn_layer *l) { return SN_BLOCKED_IN | SN_BLOCKED_OUT | SN_BLOCKED_SAME; }

static void add_forward(sn_layer *l, const sn_fwd *f) {
  const size_t n = (size_t)f->batch * sn_shape_size(l->out_shape);
  const float *a = f->in[0], *b = f->in[1];
  float *out = f->out;
  /* input by input, so that each loop vectorises; the sum's order is unchanged */
#pragma omp parallel for simd schedule(static) if (n >= ADD_PARALLEL_MIN)
  for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
  for (int k = 2; k < l->n_inputs; k++) {
    const float *c = f->in[k];
#pragma omp parallel for simd schedule(static) if (n >= ADD_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) out[i] += c[i];
  }
}

static void add_backward(sn_layer *l, const sn_bwd *b) {
  const size_t n = (size_t)b->batch * sn_shape_size(l->out_shape);
  /* One input named twice gets dout twice through the same din, as it should. */
  for (int k = 0; k < l->n_inputs; k++) {
    float *dx = b->din[k];
    const float *dy = b->dout;
    if (!dx) continue;
    if (b->din_fresh & (1u << k)) {
#pragma omp parallel for simd schedule(static) if (n >= ADD_PARALLEL_MIN)
      for (size_t i = 0; i < n; i++) dx[i] = dy[i];
    } else {
#pragma omp parallel for simd schedule(static) if (n >= ADD_PARALLEL_MIN)
      for (size_t i = 0; i < n; i++) dx[i] += dy[i];
    }
  }
}

static double add_flops(const sn_layer *l) {
  return (double)(l->n_inputs - 1) * (double)sn_shape_size(l->out_shape);
}

const sn_layer_ops sn_add_ops = {
    .type = "add",
    .min_inputs = 2,
    .max_inputs = SN_MAX_INPUTS,
    .parse = add_parse,
    .infer = add_infer,
    .fresh_din = 1,
    .blocked = add_blocked,
    .forward = add_forward,
    .backward = add_backward,
    .flops = add_flops,
};
