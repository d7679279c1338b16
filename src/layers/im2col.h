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

/* The keys both convolutions share: filters and kernel (required; kernel one size or
 * [h, w]) and stride (default 1). */
sn_status sn_conv_parse_shape(sn_args *args, int *filters, int kernel[2], int stride[2]);
/* Parses `padding:` as valid | same | int (or, with allow_pair, [ph, pw]); an
 * explicit amount goes to pad[0..1]. */
sn_status sn_conv_parse_padding(sn_args *args, int allow_pair, sn_pad_mode *mode, int pad[2]);

/* TensorFlow's `same` padding along one dimension: out = ceil(in / stride), total
 * padding max((out - 1) * stride + k - in, 0), the smaller half first. */
void sn_conv_same_padding(int in, int k, int stride, int *out, int *before, int *after);

/* Threads a convolution layer may use for a batch: the OpenMP thread count its
 * workspace was sized for (`reserved`, sn_fwd.threads; 0 if never), capped by the
 * current one and by the batch, so the team always fits the per-thread slices. */
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

/* One sample's convolution: y (the sample's output, holding the bias already) += the
 * convolution of x; col is the thread's scratch. */
typedef void (*sn_conv_sample_forward)(const sn_layer *l, const float *x, float *y, float *col);

typedef struct {
  size_t slot;          /* per-thread scratch floats */
  size_t in_size;       /* input floats of one sample */
  int cout;             /* output channels */
  size_t plane;         /* output floats of one channel */
  const float *bias;    /* NULL without */
  sn_activation act;    /* fused activation */
  sn_conv_sample_forward per_sample;
} sn_conv_forward_plan;

/* The forward pass both convolution layers share: samples split over the team, each
 * output filled with the bias, per_sample for the convolution, then the fused
 * activation over each thread's block of samples. */
void sn_conv_forward(const sn_layer *l, const sn_fwd *f, const sn_conv_forward_plan *p);

/* Where one thread of a backward pass accumulates weight and bias gradients: thread
 * 0 straight into the arena, the others into their own partial sums. */
typedef struct {
  float *dw, *db;   /* db is NULL without a bias */
  float dw_beta;    /* for the next GEMM into dw: 1 adds, 0 overwrites (first partial) */
} sn_conv_grad_slot;

/* One sample's share of a convolution backward: weight gradient into g->dw (GEMM
 * with beta g->dw_beta, then set g->dw_beta = 1) and the input gradient, from dpre,
 * the gradient at the sample's pre-activation. col is the thread's scratch. */
typedef void (*sn_conv_sample_backward)(const sn_layer *l, const sn_bwd *b, int s, const float *dpre, float *col,
                                        sn_conv_grad_slot *g);

typedef struct {
  int team;             /* threads (sn_conv_team) */
  size_t slot;          /* per-thread scratch floats; dpre goes at offset dpre_at */
  size_t dpre_at;
  size_t part;          /* floats of one thread's partial gradients */
  size_t w_count;       /* kernel floats */
  int cout;             /* output channels (bias entries) */
  size_t out_size;      /* output floats of one sample */
  sn_activation act;    /* fused activation to differentiate first */
  sn_conv_sample_backward per_sample;
} sn_conv_backward_plan;

/* The backward pass both convolution layers share: samples split over the team,
 * the fused activation's gradient, the bias gradient, per_sample for the rest, and
 * the partial weight and bias gradients added in thread order (deterministic, no
 * atomics). The thread partials live in b->work after the team's slots. */
void sn_conv_backward(sn_layer *l, const sn_bwd *b, const sn_conv_backward_plan *p);

/* Samples [*lo, *hi) of thread t of a team of `team` for a batch: contiguous,
 * sizes differing by at most one, the same every call (this is what makes the
 * per-thread weight-gradient sums deterministic). */
static inline void sn_conv_share(int batch, int team, int t, int *lo, int *hi) {
  *lo = (int)((long)batch * t / team);
  *hi = (int)((long)batch * (t + 1) / team);
}

#endif
