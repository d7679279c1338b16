/* im2col/col2im and the geometry, padding and threading helpers that conv2d and
 * conv2d_transpose share (private to src/layers). */
#ifndef SN_IM2COL_H
#define SN_IM2COL_H

#include <stddef.h>

#include "shardnet/layer.h"

/* One 2-D convolution seen from the image side: an image (c, h, w) is read by a
 * kernel (kh, kw) at stride (sh, sw) with pt/pl zero rows/columns before it, giving a
 * grid of oh x ow positions. For conv2d the image is the input and the grid the
 * output; for conv2d_transpose the image is the output and the grid the input. */
typedef struct {
  int c, h, w;
  int kh, kw;
  int sh, sw;
  int pt, pl;   /* padding at the top and left; the bottom/right follow from oh, ow */
  int oh, ow;
  int flip;     /* take kernel rows and columns in reverse: true convolution */
} sn_conv_geom;

/* Rows of the column matrix: c * kh * kw. */
static inline int sn_conv_geom_rows(const sn_conv_geom *g) { return g->c * g->kh * g->kw; }
/* Columns of the column matrix: oh * ow. */
static inline int sn_conv_geom_cols(const sn_conv_geom *g) { return g->oh * g->ow; }

/* col [c*kh*kw, oh*ow] (row stride ld >= oh*ow) = the image value under kernel tap
 * (c, i, j) at each grid position, 0 in the padding. */
void sn_im2col(const sn_conv_geom *g, const float *img, float *col, int ld);
/* img [c, h, w] += every column entry scattered back to where im2col read it (the
 * adjoint of sn_im2col). */
void sn_col2im_add(const sn_conv_geom *g, const float *col, int ld, float *img);

/* How a `padding:` key was written. */
typedef enum { SN_PAD_VALID, SN_PAD_SAME, SN_PAD_EXPLICIT } sn_pad_mode;

/* Parses `padding:` as valid | same | int (or, with allow_pair, [ph, pw]); an
 * explicit amount goes to pad[0..1]. */
sn_status sn_conv_parse_padding(sn_args *args, int allow_pair, sn_pad_mode *mode, int pad[2]);

/* TensorFlow's `same` padding along one dimension: out = ceil(in / stride), total
 * padding max((out - 1) * stride + k - in, 0), the smaller half first. */
void sn_conv_same_padding(int in, int k, int stride, int *out, int *before, int *after);

/* Threads a convolution layer may use for a batch: the OpenMP thread count when its
 * workspace was sized (`reserved`, 0 if never), capped by the current one and by the
 * batch, so the team always fits the per-thread workspace slices. */
int sn_conv_team(int reserved, int batch);

/* Floats rounded up to whole 64-byte cache lines, so per-thread slices of the
 * workspace never share a line. */
static inline size_t sn_conv_round(size_t floats) { return (floats + 15) & ~(size_t)15; }

/* y [rows, n] = bias[r] in every column of row r, or zero when bias is NULL. */
void sn_conv_fill_bias(float *y, const float *bias, int rows, int n);
/* db[r] += sum of row r of dy [rows, n]. */
void sn_conv_bias_grad(float *db, const float *dy, int rows, int n);

/* Thread t of a team of `team` adds its share of the n elements of the n_parts
 * per-thread partial sums (parts, each `stride` floats apart) into dst, always in
 * part order, so the result does not depend on timing. Call it inside the
 * parallel region after a barrier. */
void sn_conv_reduce(float *dst, const float *parts, size_t stride, int n_parts, size_t n, int t,
                    int team);

/* Where thread t of a backward pass accumulates its weight and bias gradients:
 * thread 0 straight into the arena (adding), the others into their own partial
 * sums (overwriting first), which sn_conv_reduce adds in thread order later. */
typedef struct {
  float *dw, *db;   /* db is NULL without a bias */
  float dw_beta;    /* for the first GEMM into dw: 1 adds, 0 overwrites */
} sn_conv_grad_slot;

static inline sn_conv_grad_slot sn_conv_grad_slot_of(int t, sn_layer *l, float *parts, size_t part,
                                                     size_t w_count, int bias_count) {
  sn_conv_grad_slot s;
  const int has_bias = l->n_params > 1;
  s.dw = t == 0 ? l->params[0].grad : parts + (size_t)(t - 1) * part;
  s.db = !has_bias ? NULL : t == 0 ? l->params[1].grad : s.dw + w_count;
  if (t > 0 && s.db)
    for (int i = 0; i < bias_count; i++) s.db[i] = 0.0f;
  s.dw_beta = t == 0 ? 1.0f : 0.0f;
  return s;
}

/* The gradient at one sample's pre-activation: dout itself without an activation,
 * else dout * act'(out) written to scratch (dout is read-only). */
static inline const float *sn_conv_preact_grad(sn_activation act, const float *out, const float *dout,
                                               float *scratch, size_t n) {
  if (act.kind == SN_ACT_NONE) return dout;
  for (size_t i = 0; i < n; i++) scratch[i] = dout[i];
  sn_activation_backward_inplace(act, out, scratch, n);
  return scratch;
}

/* Samples [*lo, *hi) of thread t of a team of `team` for a batch: contiguous,
 * sizes differing by at most one, the same every call (this is what makes the
 * per-thread weight-gradient sums deterministic). */
static inline void sn_conv_share(int batch, int team, int t, int *lo, int *hi) {
  *lo = (int)((long)batch * t / team);
  *hi = (int)((long)batch * (t + 1) / team);
}

#endif
