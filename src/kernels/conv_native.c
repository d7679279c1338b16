/* The portable convolution kernel: per sample, im2col (skipped for 1x1 stride 1
 * unpadded) + one CBLAS GEMM; samples split over an OpenMP team, each thread's weight
 * gradient summed into the arena in thread order, so results never depend on timing.
 * It is the fallback where oneDNN is absent and the reference the oneDNN kernel is
 * tested against. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/conv.h"
#include "shardnet/gemm.h"

typedef struct {
  sn_conv_spec s;
  int threads;          /* the team the workspace was sized for */
  int max_batch;
  int direct;           /* 1x1, stride 1, unpadded, same size: no column matrix */
  int rows, cols;       /* column matrix [rows, cols] of one sample */
  size_t in_size, out_size;
  size_t w_count;       /* kernel floats */
  size_t slot;          /* per-thread scratch: column matrix, then one dpre */
  size_t dpre_at;
  size_t part;          /* per-thread partial kernel + bias gradient */
} native_conv;

/* Floats rounded up to whole 64-byte cache lines, so per-thread slices of the
 * workspace never share a line. */
static size_t round_line(size_t floats) { return (floats + 15) & ~(size_t)15; }

/* Threads for a batch: the team the workspace was sized for, capped by the current
 * OpenMP count and by the batch, so the team always fits the per-thread slices. */
static int team_for(const native_conv *c, int batch) {
  int t = omp_get_max_threads();
  if (c->threads > 0 && t > c->threads) t = c->threads;
  if (t > batch) t = batch;
  return t < 1 ? 1 : t;
}

/* Samples [*lo, *hi) of thread t: contiguous, sizes differing by at most one, the
 * same every call (what makes the per-thread weight-gradient sums deterministic). */
static void share(int batch, int team, int t, int *lo, int *hi) {
  *lo = (int)((long)batch * t / team);
  *hi = (int)((long)batch * (t + 1) / team);
}

static size_t native_workspace(const void *impl) {
  const native_conv *c = impl;
  const int team = team_for(c, c->max_batch);
  return (size_t)team * c->slot + (size_t)(team - 1) * c->part;
}

static const char *native_name(const void *impl) { return "native"; }

/* y [rows, n] = bias[r] in every column of row r, or zero when bias is NULL. */
static void fill_bias(float *y, const float *bias, int rows, size_t n) {
  if (!bias) {
    memset(y, 0, (size_t)rows * n * sizeof(float));
    return;
  }
  for (int r = 0; r < rows; r++) {
    float *row = y + (size_t)r * n;
    const float b = bias[r];
    for (size_t i = 0; i < n; i++) row[i] = b;
  }
}

/* db[r] += sum of row r of dy [rows, n]. */
static void bias_grad(float *db, const float *dy, int rows, size_t n) {
  enum { LANES = 16 };
  for (int r = 0; r < rows; r++) {
    const float *row = dy + (size_t)r * n;
    /* independent lane sums vectorize without -ffast-math and always add in the
     * same order */
    float lane[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
      for (int k = 0; k < LANES; k++) lane[k] += row[i + k];
    float s = 0.0f;
    for (; i < n; i++) s += row[i];
    for (int k = 0; k < LANES; k++) s += lane[k];
    db[r] += s;
  }
}

/* Thread t of a team adds its share of the n elements of the n_parts per-thread
 * partial sums (each `stride` floats apart) into dst, always in part order. */
static void reduce_parts(float *dst, const float *parts, size_t stride, int n_parts, size_t n, int t,
                         int team) {
  const size_t lo = n * (size_t)t / (size_t)team, hi = n * (size_t)(t + 1) / (size_t)team;
  for (int p = 0; p < n_parts; p++) {
    const float *part = parts + (size_t)p * stride;
    for (size_t e = lo; e < hi; e++) dst[e] += part[e];
  }
}

/* One sample, y holding the bias: a convolution adds W . im2col(x) ([cout, cin*kh*kw]
 * x [cin*kh*kw, oh*ow]); a transposed one adds col2im(W^T . x). */
static void sample_forward(const native_conv *c, const float *w, const float *x, float *y, float *col) {
  const sn_conv_spec *s = &c->s;
  const int k = c->rows, n = c->cols;
  if (!s->transposed) {
    if (!c->direct) {
      sn_im2col(&s->g, x, col, n);
      x = col;
    }
    sn_gemm(0, 0, s->cout, n, k, 1.0f, w, k, x, n, 1.0f, y, n);
  } else if (c->direct) {
    // y [cout, h*w] += W^T [cout, cin] x x [cin, h*w]
    sn_gemm(1, 0, s->cout, n, s->cin, 1.0f, w, s->cout, x, n, 1.0f, y, n);
  } else {
    // col [cout*kh*kw, h*w] = W^T [cout*kh*kw, cin] x x [cin, h*w], then scattered
    sn_gemm(1, 0, k, n, s->cin, 1.0f, w, k, x, n, 0.0f, col, n);
    sn_col2im_add(&s->g, col, n, y);
  }
}

static void native_forward(const void *impl, const sn_conv_fwd_args *a) {
  const native_conv *c = impl;
  const int team = team_for(c, a->batch);
  const size_t plane = c->out_size / (size_t)c->s.cout;
#pragma omp parallel num_threads(team)
  {
    const int t = omp_get_thread_num();
    float *col = a->work + (size_t)t * c->slot;
    int lo, hi;
    share(a->batch, team, t, &lo, &hi);
    for (int s = lo; s < hi; s++) {
      float *y = a->y + (size_t)s * c->out_size;
      fill_bias(y, c->s.has_bias ? a->bias : NULL, c->s.cout, plane);
      sample_forward(c, a->w, a->x + (size_t)s * c->in_size, y, col);
    }
    /* One call over the thread's whole block rather than one per sample: the
     * activation loops only vectorize on long runs (a nested region, one thread). */
    sn_activation_forward(c->s.act, a->y + (size_t)lo * c->out_size, (size_t)(hi - lo) * c->out_size);
  }
}

/* Where one thread accumulates kernel and bias gradients: thread 0 straight into the
 * arena, the others into their own partial sums (first GEMM overwrites). */
typedef struct {
  float *dw, *db;
  float dw_beta;
} grad_slot;

/* One sample's share of backward from dpre, the gradient at its pre-activation. */
static void sample_backward(const native_conv *c, const sn_conv_bwd_args *a, int smp, const float *dpre,
                            float *col, grad_slot *gs) {
  const sn_conv_spec *s = &c->s;
  const int k = c->rows, n = c->cols;
  const float *x = a->x + (size_t)smp * c->in_size;
  float *dx = a->dx ? a->dx + (size_t)smp * c->in_size : NULL;
  const float dx_beta = a->dx_fresh ? 0.0f : 1.0f;
  if (!s->transposed) {
    const float *xcol = x;
    if (!c->direct) {
      sn_im2col(&s->g, x, col, n);
      xcol = col;
    }
    // dW [cout, cin*kh*kw] += dpre [cout, oh*ow] x col^T [oh*ow, cin*kh*kw]
    sn_gemm(0, 1, s->cout, k, n, 1.0f, dpre, n, xcol, n, gs->dw_beta, gs->dw, k);
    gs->dw_beta = 1.0f;
    if (!dx) return;
    if (c->direct) {
      // din [cin, h*w] += W^T [cin, cout] x dpre [cout, h*w]
      sn_gemm(1, 0, k, n, s->cout, 1.0f, a->w, k, dpre, n, dx_beta, dx, n);
    } else {
      // dcol [cin*kh*kw, oh*ow] = W^T x dpre, reusing the column slice
      sn_gemm(1, 0, k, n, s->cout, 1.0f, a->w, k, dpre, n, 0.0f, col, n);
      if (a->dx_fresh) memset(dx, 0, c->in_size * sizeof *dx);
      sn_col2im_add(&s->g, col, n, dx);
    }
    return;
  }
  /* the gradient of a col2im is an im2col: dcol = im2col(dpre) */
  const float *dcol = dpre;
  if (!c->direct) {
    sn_im2col(&s->g, dpre, col, n);
    dcol = col;
  }
  // dW [cin, cout*kh*kw] += x [cin, h*w] x dcol^T [h*w, cout*kh*kw]
  sn_gemm(0, 1, s->cin, k, n, 1.0f, x, n, dcol, n, gs->dw_beta, gs->dw, k);
  gs->dw_beta = 1.0f;
  // din [cin, h*w] += W [cin, cout*kh*kw] x dcol [cout*kh*kw, h*w]
  if (dx) sn_gemm(0, 0, s->cin, n, k, 1.0f, a->w, k, dcol, n, dx_beta, dx, n);
}

static void native_backward(const void *impl, const sn_conv_bwd_args *a) {
  const native_conv *c = impl;
  const int team = team_for(c, a->batch), cout = c->s.cout;
  float *parts = a->work + (size_t)team * c->slot;
#pragma omp parallel num_threads(team)
  {
    const int t = omp_get_thread_num();
    float *col = a->work + (size_t)t * c->slot, *dpre_buf = col + c->dpre_at;
    grad_slot g;
    g.dw = t == 0 ? a->dw : parts + (size_t)(t - 1) * c->part;
    g.db = !a->db ? NULL : t == 0 ? a->db : g.dw + c->w_count;
    if (t > 0 && g.db) memset(g.db, 0, (size_t)cout * sizeof(float));
    g.dw_beta = t == 0 ? 1.0f : 0.0f;
    int lo, hi;
    share(a->batch, team, t, &lo, &hi);
    for (int s = lo; s < hi; s++) {
      const float *dpre = a->dy + (size_t)s * c->out_size;
      if (c->s.act.kind != SN_ACT_NONE) {
        /* dy is read-only: the gradient through the activation goes to scratch */
        sn_activation_gradient(c->s.act, a->y + (size_t)s * c->out_size, dpre, dpre_buf, c->out_size);
        dpre = dpre_buf;
      }
      if (g.db) bias_grad(g.db, dpre, cout, c->out_size / (size_t)cout);
      sample_backward(c, a, s, dpre, col, &g);
    }
    if (team > 1) {
#pragma omp barrier
      reduce_parts(a->dw, parts, c->part, team - 1, c->w_count, t, team);
      if (a->db) reduce_parts(a->db, parts + c->w_count, c->part, team - 1, (size_t)cout, t, team);
    }
  }
}

static void native_destroy(void *impl) { free(impl); }

static const sn_conv_impl_ops native_ops = {.workspace = native_workspace,
                                            .name = native_name,
                                            .forward = native_forward,
                                            .backward = native_backward,
                                            .destroy = native_destroy};

sn_status sn_conv_native_create(const sn_conv_spec *spec, int max_batch, int threads, void **impl,
                                const sn_conv_impl_ops **ops) {
  native_conv *c = calloc(1, sizeof *c);
  if (!c) return sn_fail(SN_ERR_NOMEM, "cannot allocate a convolution kernel");
  const sn_conv_geom *g = &spec->g;
  c->s = *spec;
  c->threads = threads;
  c->max_batch = max_batch;
  c->rows = sn_conv_geom_rows(g);
  c->cols = sn_conv_geom_cols(g);
  c->direct = g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 && g->pl == 0 &&
              g->oh == g->h && g->ow == g->w;
  const size_t image = (size_t)g->c * g->h * g->w, grid = (size_t)(spec->transposed ? spec->cin : spec->cout) * c->cols;
  c->in_size = spec->transposed ? grid : image;
  c->out_size = spec->transposed ? image : grid;
  c->w_count = (size_t)spec->cin * spec->cout * g->kh * g->kw;
  c->dpre_at = c->direct ? 0 : (size_t)c->rows * c->cols;
  c->slot = round_line(c->dpre_at + (spec->act.kind == SN_ACT_NONE ? 0 : c->out_size));
  c->part = round_line(c->w_count + (size_t)spec->cout);
  *impl = c;
  *ops = &native_ops;
  return SN_OK;
}
