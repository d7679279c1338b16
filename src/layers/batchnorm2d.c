/* Batch normalisation of (C, H, W) maps or (units) vectors, optionally synced across ranks. */
#include <math.h>
#include <stdlib.h>

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

/* Below this many values per call the OpenMP team costs more than it saves. */
#define BN_PARALLEL_MIN 32768

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

static int worth_threads(const bn_cfg *c, int batch) {
  return c->channels > 1 && (size_t)batch * c->channels * c->area >= BN_PARALLEL_MIN;
}

/* Per-channel sums run in 8 fixed lanes, added up at the end: a plain double
 * accumulator is a chain of dependent adds that the compiler may not reorder (4 cycles
 * per value; batch norm ran at 3 GFLOP/s), and fixed lanes give the same sums on every
 * run whatever the buffer's alignment. */
#define LANES 8

static double lanes_total(const double *l) {
  double t = 0.0;
  for (int k = 0; k < LANES; k++) t += l[k];
  return t;
}

/* One channel's sum of x and of x^2 over batch and area. */
static void channel_moments(const bn_cfg *c, int batch, int ch, const float *x, double *sum,
                            double *sum_sq) {
  double s[LANES] = {0}, q[LANES] = {0};
  for (int n = 0; n < batch; n++) {
    const float *p = x + ((size_t)n * c->channels + ch) * c->area;
    size_t i = 0;
    for (; i + LANES <= c->area; i += LANES)
      for (int k = 0; k < LANES; k++) {
        const double v = p[i + k];
        s[k] += v;
        q[k] += v * v;
      }
    for (int k = 0; i < c->area; i++, k++) {
      const double v = p[i];
      s[k] += v;
      q[k] += v * v;
    }
  }
  *sum = lanes_total(s);
  *sum_sq = lanes_total(q);
}

/* One channel's sum of dy and of dy * xhat over batch and area. */
static void channel_grad_sums(const bn_cfg *c, int batch, int ch, const float *x, const float *dy,
                              double mean, double inv_std, double *sum_dy, double *sum_dy_xhat) {
  double s[LANES] = {0}, q[LANES] = {0};
  for (int n = 0; n < batch; n++) {
    const size_t base = ((size_t)n * c->channels + ch) * c->area;
    const float *px = x + base, *pd = dy + base;
    size_t i = 0;
    for (; i + LANES <= c->area; i += LANES)
      for (int k = 0; k < LANES; k++) {
        const double g = pd[i + k];
        s[k] += g;
        q[k] += g * ((double)px[i + k] - mean);
      }
    for (int k = 0; i < c->area; i++, k++) {
      const double g = pd[i];
      s[k] += g;
      q[k] += g * ((double)px[i] - mean);
    }
  }
  *sum_dy = lanes_total(s);
  *sum_dy_xhat = lanes_total(q) * inv_std;
}

static void bn_forward(sn_layer *l, const sn_fwd *f) {
  const bn_cfg *c = l->impl;
  const int ch_n = c->channels;
  bn_aux a = aux_view(c, f->aux);
  float *moving_mean = l->params[P_MOVING_MEAN].data;
  float *moving_var = l->params[P_MOVING_VARIANCE].data;
  *a.training = f->training;
  if (f->training) {
    /* Sums and sums of squares (in double, which keeps E[x^2] - E[x]^2 accurate) are
     * what ranks can add up to get the statistics of the whole global batch. */
#pragma omp parallel for schedule(static) if (worth_threads(c, f->batch))
    for (int ch = 0; ch < ch_n; ch++)
      channel_moments(c, f->batch, ch, f->in[0], &a.sums[ch], &a.sums[ch_n + ch]);
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
  const float *gamma = l->params[P_GAMMA].data, *beta = l->params[P_BETA].data;
  const int planes = f->batch * ch_n;
#pragma omp parallel for schedule(static) if (worth_threads(c, f->batch))
  for (int p = 0; p < planes; p++) {
    const int ch = p % ch_n;
    const float scale = (float)(gamma[ch] * a.inv_std[ch]);
    const float shift = (float)(beta[ch] - a.mean[ch] * gamma[ch] * a.inv_std[ch]);
    const float *x = f->in[0] + (size_t)p * c->area;
    float *y = f->out + (size_t)p * c->area;
    for (size_t i = 0; i < c->area; i++) y[i] = x[i] * scale + shift;
  }
}

static void bn_backward(sn_layer *l, const sn_bwd *b) {
  const bn_cfg *c = l->impl;
  const int ch_n = c->channels;
  bn_aux a = aux_view(c, b->aux);
  const int training = *a.training != 0.0;
  float *dgamma = l->params[P_GAMMA].grad, *dbeta = l->params[P_BETA].grad;
#pragma omp parallel for schedule(static) if (worth_threads(c, b->batch))
  for (int ch = 0; ch < ch_n; ch++)
    channel_grad_sums(c, b->batch, ch, b->in[0], b->dout, a.mean[ch], a.inv_std[ch], &a.sums[ch],
                      &a.sums[ch_n + ch]);
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
  const float *gamma = l->params[P_GAMMA].data;
  const int planes = b->batch * ch_n;
  const int fresh = b->din_fresh & 1u; /* write dx instead of adding into it */
#pragma omp parallel for schedule(static) if (worth_threads(c, b->batch))
  for (int p = 0; p < planes; p++) {
    const int ch = p % ch_n;
    const float g = (float)(gamma[ch] * a.inv_std[ch]);
    const float *dy = b->dout + (size_t)p * c->area;
    float *dx = b->din[0] + (size_t)p * c->area;
    if (!training) {
      /* Fixed statistics: a per-channel affine map. */
      if (fresh)
        for (size_t i = 0; i < c->area; i++) dx[i] = g * dy[i];
      else
        for (size_t i = 0; i < c->area; i++) dx[i] += g * dy[i];
      continue;
    }
    /* dx = gamma * inv_std * (dy - mean(dy) - xhat * mean(dy * xhat)) */
    const float *x = b->in[0] + (size_t)p * c->area;
    const float mean_dy = (float)(a.sums[ch] / *a.count);
    const float mean_dy_xhat = (float)(a.sums[ch_n + ch] / *a.count);
    const float mean = (float)a.mean[ch], inv_std = (float)a.inv_std[ch];
    if (fresh)
      for (size_t i = 0; i < c->area; i++) {
        const float xhat = (x[i] - mean) * inv_std;
        dx[i] = g * (dy[i] - mean_dy - xhat * mean_dy_xhat);
      }
    else
      for (size_t i = 0; i < c->area; i++) {
        const float xhat = (x[i] - mean) * inv_std;
        dx[i] += g * (dy[i] - mean_dy - xhat * mean_dy_xhat);
      }
  }
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
    .fresh_din = 1,
    .forward = bn_forward,
    .backward = bn_backward,
    .flops = bn_flops,
};
