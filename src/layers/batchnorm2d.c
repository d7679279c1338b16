/* Batch normalisation of (C, H, W) maps or (units) vectors, optionally synced across ranks. */
#include <math.h>
#include <stdlib.h>

#include "layers/channel_ops.h"
#include "layers/layer_types.h"

/* Statistics are per channel over (N, H, W); the parameters (gamma, beta, moving_mean,
 * moving_variance) and the momentum convention are Keras's. Without `sync` each rank
 * normalises with its own shard's statistics, so results then depend on the rank count. */

typedef struct {
  double momentum; /* moving = momentum * moving + (1 - momentum) * batch */
  double epsilon;
  int sync;
  int channels;    /* C, or the units of a 1-D input */
  size_t area;     /* H * W, or 1 */
  int blocked;     /* input and output are channel-blocked (sn_prepare.blocked_out) */
} bn_cfg;

enum { P_GAMMA, P_BETA, P_MOVING_MEAN, P_MOVING_VARIANCE };

/* aux, viewed as doubles: what forward leaves for backward, then room for the sums
 * that are reduced across ranks (nothing is allocated during a step). */
typedef struct {
  double *training; /* [1] 1 when forward used batch statistics */
  double *count;    /* [1] samples x area behind the statistics, over all ranks */
  double *mean;     /* [C] mean used to normalise */
  double *inv_std;  /* [C] 1 / sqrt(variance + epsilon) used to normalise */
  double *sums;     /* [2C + 1] per-channel sums being reduced (and a count, in forward) */
} bn_aux;

static bn_aux aux_view(const bn_cfg *c, float *aux) {
  double *d = (double *)aux; /* sn_net_reserve hands out 64-byte aligned buffers */
  const size_t ch = (size_t)c->channels;
  bn_aux a = {d, d + 1, d + 2, d + 2 + ch, d + 2 + 2 * ch};
  return a;
}

static sn_status bn_parse(sn_layer *l, sn_args *args) {
  bn_cfg *c = calloc(1, sizeof *c);
  if (!c) return sn_fail(SN_ERR_NOMEM, "cannot allocate layer");
  l->impl = c;
  SN_TRY(sn_args_float(args, "momentum", 0.99, 0.0, 1.0, &c->momentum));
  SN_TRY(sn_args_float(args, "epsilon", 1e-3, 0.0, 1e6, &c->epsilon));
  if (c->epsilon <= 0.0)
    return sn_args_fail(args, "epsilon", "must be positive (it keeps 1/sqrt(variance) finite)");
  return sn_args_bool(args, "sync", 0, &c->sync);
}

static sn_status bn_infer(sn_layer *l) {
  bn_cfg *c = l->impl;
  const sn_shape in = l->in_shape[0];
  c->channels = in.d[0];
  c->area = in.ndim == 3 ? (size_t)in.d[1] * in.d[2] : 1;
  l->out_shape = in;
  const int ch = c->channels;
  sn_layer_add_param(l, "gamma", 1, &ch, ch, ch, SN_INIT_ONES, 1);
  sn_layer_add_param(l, "beta", 1, &ch, ch, ch, SN_INIT_ZEROS, 1);
  sn_layer_add_param(l, "moving_mean", 1, &ch, ch, ch, SN_INIT_ZEROS, 0);
  sn_layer_add_param(l, "moving_variance", 1, &ch, ch, ch, SN_INIT_ONES, 0);
  return SN_OK;
}

static size_t bn_aux_floats(const sn_layer *l, int batch) {
  const bn_cfg *c = l->impl;
  return 2 * (2 + 4 * (size_t)c->channels + 1);
}

static unsigned bn_blocked(const sn_layer *l) {
  /* per channel and element-wise: any layout, the output's that of the input */
  return ((const bn_cfg *)l->impl)->area > 1 ? SN_BLOCKED_IN | SN_BLOCKED_OUT | SN_BLOCKED_SAME : 0;
}

static sn_status bn_prepare(sn_layer *l, const sn_prepare *p) {
  ((bn_cfg *)l->impl)->blocked = p->blocked_out;
  return SN_OK;
}

static sn_channel_view view_of(const bn_cfg *c, int batch) {
  return (sn_channel_view){.batch = batch, .channels = c->channels, .area = c->area, .blocked = c->blocked};
}

/* The workspace: the sums' scratch (doubles), then 3 x C coefficients. */
static size_t bn_workspace(const sn_layer *l, int batch, int threads) {
  const sn_channel_view v = view_of(l->impl, batch);
  return 2 * sn_channel_scratch_doubles(&v) + 3 * (size_t)v.channels;
}

static float *coefficients(const sn_channel_view *v, float *work) {
  return work + 2 * sn_channel_scratch_doubles(v);
}

static void bn_forward(sn_layer *l, const sn_fwd *f) {
  const bn_cfg *c = l->impl;
  const int ch_n = c->channels;
  const sn_channel_view v = view_of(c, f->batch);
  bn_aux a = aux_view(c, f->aux);
  float *moving_mean = l->params[P_MOVING_MEAN].data;
  float *moving_var = l->params[P_MOVING_VARIANCE].data;
  *a.training = f->training;
  if (f->training) {
    /* Sums and sums of squares (in double, which keeps E[x^2] - E[x]^2 accurate) are
     * what ranks can add up to get the statistics of the whole global batch. */
    sn_channel_moments(&v, f->in[0], (double *)f->work, a.sums, a.sums + ch_n);
    a.sums[2 * ch_n] = (double)f->batch * (double)c->area;
    if (c->sync && f->reducer.sum) f->reducer.sum(f->reducer.ctx, a.sums, 2 * ch_n + 1);
    *a.count = a.sums[2 * ch_n];
    for (int ch = 0; ch < ch_n; ch++) {
      const double mean = a.sums[ch] / *a.count;
      double var = a.sums[ch_n + ch] / *a.count - mean * mean;
      if (var < 0.0) var = 0.0; /* rounding can undershoot a zero variance */
      a.mean[ch] = mean;
      a.inv_std[ch] = 1.0 / sqrt(var + c->epsilon);
      /* Keras keeps the biased batch variance in moving_variance. */
      moving_mean[ch] = (float)(c->momentum * moving_mean[ch] + (1.0 - c->momentum) * mean);
      moving_var[ch] = (float)(c->momentum * moving_var[ch] + (1.0 - c->momentum) * var);
    }
  } else {
    for (int ch = 0; ch < ch_n; ch++) {
      a.mean[ch] = moving_mean[ch];
      a.inv_std[ch] = 1.0 / sqrt((double)moving_var[ch] + c->epsilon);
    }
  }
  /* y = scale * x + shift */
  const float *gamma = l->params[P_GAMMA].data, *beta = l->params[P_BETA].data;
  float *scale = coefficients(&v, f->work), *shift = scale + ch_n;
  for (int ch = 0; ch < ch_n; ch++) {
    scale[ch] = (float)(gamma[ch] * a.inv_std[ch]);
    shift[ch] = (float)(beta[ch] - a.mean[ch] * gamma[ch] * a.inv_std[ch]);
  }
  sn_channel_map(&v, scale, f->in[0], NULL, NULL, shift, f->out, 0);
}

static void bn_backward(sn_layer *l, const sn_bwd *b) {
  const bn_cfg *c = l->impl;
  const int ch_n = c->channels;
  const sn_channel_view v = view_of(c, b->batch);
  bn_aux a = aux_view(c, b->aux);
  const int training = *a.training != 0.0;
  float *dgamma = l->params[P_GAMMA].grad, *dbeta = l->params[P_BETA].grad;
  /* sums[C + ch] = sum dy * (x - mean) first, times inv_std: sum dy * xhat */
  sn_channel_grad_sums(&v, b->in[0], b->dout, a.mean, (double *)b->work, a.sums, a.sums + ch_n);
  for (int ch = 0; ch < ch_n; ch++) a.sums[ch_n + ch] *= a.inv_std[ch];
  /* Parameter gradients take this rank's share only: the gradient all-reduce adds
   * the other ranks' shares. */
  for (int ch = 0; ch < ch_n; ch++) {
    dbeta[ch] += (float)a.sums[ch];
    dgamma[ch] += (float)a.sums[ch_n + ch];
  }
  /* The input gradient of batch statistics needs the sums over the whole batch that
   * the statistics came from. Every rank reduces, whether or not it needs din, so
   * the collective is always matched. */
  if (training && c->sync && b->reducer.sum) b->reducer.sum(b->reducer.ctx, a.sums, 2 * ch_n);
  if (!b->din[0]) return;
  /* dx = g * (dy - mean(dy) - xhat * mean(dy * xhat)), g = gamma * inv_std, as
   * dx = g * dy + bx * x + k; fixed statistics (inference) leave dx = g * dy */
  const float *gamma = l->params[P_GAMMA].data;
  float *g = coefficients(&v, b->work), *bx = g + ch_n, *k = bx + ch_n;
  for (int ch = 0; ch < ch_n; ch++) {
    const double gi = gamma[ch] * a.inv_std[ch];
    const double mean_dy = training ? a.sums[ch] / *a.count : 0.0;
    const double mean_dy_xhat = training ? a.sums[ch_n + ch] / *a.count : 0.0;
    g[ch] = (float)gi;
    bx[ch] = (float)(-gi * a.inv_std[ch] * mean_dy_xhat);
    k[ch] = (float)(gi * (a.inv_std[ch] * mean_dy_xhat * a.mean[ch] - mean_dy));
  }
  sn_channel_map(&v, g, b->dout, training ? bx : NULL, training ? b->in[0] : NULL, k, b->din[0],
                 !(b->din_fresh & 1u));
}

static double bn_flops(const sn_layer *l) {
  /* one multiply-add per value once the statistics are known */
  return 2.0 * (double)sn_shape_size(l->out_shape);
}

const sn_layer_ops sn_batchnorm2d_ops = {
    .type = "batchnorm2d",
    .min_inputs = 1,
    .max_inputs = 1,
    .parse = bn_parse,
    .infer = bn_infer,
    .aux_floats = bn_aux_floats,
    .prepare = bn_prepare,
    .workspace_floats = bn_workspace,
    .blocked = bn_blocked,
    .fresh_din = 1,
    .forward = bn_forward,
    .backward = bn_backward,
    .flops = bn_flops,
};
