/* Max, average and min 2-D pooling (maxpool2d, avgpool2d, minpool2d). */
#include <stdlib.h>

#include "layers/im2col.h"
#include "layers/layer_types.h"

/* The three kinds share one window geometry and one window loop; they differ only in
 * how the cells of a window are combined. */

typedef enum { POOL_MAX, POOL_AVG, POOL_MIN } pool_kind;

typedef struct {
  pool_kind kind;
  int size[2], stride[2];   /* (h, w) */
  sn_pad_mode pad_mode;
  int pad[2];               /* explicit padding per side, (h, w); 0 unless explicit */
  /* Geometry, fixed by infer. */
  int in_h, in_w, out_h, out_w;
  int pad_top, pad_left;
} pool_cfg;

/* Below this many window cells per call the OpenMP team costs more than it saves. */
#define POOL_PARALLEL_MIN 32768

/* Argmax/argmin positions are stored as floats in aux, exact up to 2^24. */
#define POOL_MAX_PLANE (1 << 24)

static sn_status pool_parse(sn_layer *l, sn_args *args, pool_kind kind) {
  pool_cfg *c = calloc(1, sizeof *c);
  if (!c) return sn_fail(SN_ERR_NOMEM, "cannot allocate layer");
  l->impl = c;
  c->kind = kind;
  if (!sn_args_has(args, "size")) return sn_args_fail(args, NULL, "needs the key 'size'");
  SN_TRY(sn_args_int_pair(args, "size", 0, 1, 1 << 16, c->size));
  /* As in Keras and TensorFlow the stride defaults to the window, so windows tile. */
  c->stride[0] = c->size[0];
  c->stride[1] = c->size[1];
  if (sn_args_has(args, "stride"))
    SN_TRY(sn_args_int_pair(args, "stride", 1, 1, 1 << 16, c->stride));
  /* The same `padding:` forms and rules as conv2d. */
  return sn_conv_parse_padding(args, 1, &c->pad_mode, c->pad);
}

static sn_status maxpool_parse(sn_layer *l, sn_args *args) { return pool_parse(l, args, POOL_MAX); }
static sn_status avgpool_parse(sn_layer *l, sn_args *args) { return pool_parse(l, args, POOL_AVG); }
static sn_status minpool_parse(sn_layer *l, sn_args *args) { return pool_parse(l, args, POOL_MIN); }

/* Output length and leading padding along one axis; 0 when the window cannot fit. */
static int axis_geometry(const pool_cfg *c, int axis, int in, int *out, int *before) {
  const int k = c->size[axis], s = c->stride[axis];
  const int p = c->pad[axis];
  if (c->pad_mode == SN_PAD_SAME) {
    int after;
    sn_conv_same_padding(in, k, s, out, before, &after);
    return 1;
  }
  *before = p;
  if (in + 2 * p < k) return 0;
  *out = (in + 2 * p - k) / s + 1;
  return 1;
}

static sn_status pool_infer(sn_layer *l) {
  pool_cfg *c = l->impl;
  const sn_shape in = l->in_shape[0];
  char buf[48];
  if (in.ndim != 3)
    return sn_layer_fail(l, "needs a 3-D (channels, height, width) input but gets %s",
                         sn_shape_format(in, buf, sizeof buf));
  c->in_h = in.d[1];
  c->in_w = in.d[2];
  if (c->pad[0] >= c->size[0] || c->pad[1] >= c->size[1])
    /* Otherwise a window could lie wholly in the padding and have nothing to pool. */
    return sn_layer_fail(l, "padding %dx%d must be smaller than the %dx%d window", c->pad[0],
                         c->pad[1], c->size[0], c->size[1]);
  if (!axis_geometry(c, 0, c->in_h, &c->out_h, &c->pad_top) ||
      !axis_geometry(c, 1, c->in_w, &c->out_w, &c->pad_left))
    return sn_layer_fail(l, "the %dx%d window does not fit the %dx%d input (with padding %dx%d)",
                         c->size[0], c->size[1], c->in_h, c->in_w, c->pad[0], c->pad[1]);
  if ((size_t)c->in_h * (size_t)c->in_w > POOL_MAX_PLANE)
    return sn_layer_fail(l, "an input plane of %dx%d is larger than pooling supports (2^24 pixels)",
                         c->in_h, c->in_w);
  l->out_shape = sn_shape_chw(in.d[0], c->out_h, c->out_w);
  return SN_OK;
}

/* The window of output (oh, ow) clipped to the input: rows [h0, h1), columns [w0, w1).
 * Padded cells are simply outside it, so they never win and are never counted. */
static inline void window(const pool_cfg *c, int oh, int ow, int *h0, int *h1, int *w0, int *w1) {
  int h = oh * c->stride[0] - c->pad_top, w = ow * c->stride[1] - c->pad_left;
  *h0 = h > 0 ? h : 0;
  *w0 = w > 0 ? w : 0;
  *h1 = h + c->size[0] < c->in_h ? h + c->size[0] : c->in_h;
  *w1 = w + c->size[1] < c->in_w ? w + c->size[1] : c->in_w;
}

static size_t pool_aux(const sn_layer *l, int batch) {
  const pool_cfg *c = l->impl;
  return c->kind == POOL_AVG ? 0 : (size_t)batch * sn_shape_size(l->out_shape);
}

static int worth_threads(const pool_cfg *c, size_t planes) {
  return planes > 1 &&
         planes * (size_t)c->out_h * c->out_w * c->size[0] * c->size[1] >= POOL_PARALLEL_MIN;
}

/* x: one (in_h, in_w) plane -> y: one (out_h, out_w) plane; arg receives the winning
 * cell of each window (max/min only). */
static void pool_plane_forward(const pool_cfg *c, const float *x, float *y, float *arg) {
  /* max and min are one comparison: min is max of the negated values. */
  const float sign = c->kind == POOL_MIN ? -1.0f : 1.0f;
  for (int oh = 0; oh < c->out_h; oh++)
    for (int ow = 0; ow < c->out_w; ow++) {
      int h0, h1, w0, w1;
      window(c, oh, ow, &h0, &h1, &w0, &w1);
      int best_at = h0 * c->in_w + w0;
      float acc = c->kind == POOL_AVG ? 0.0f : x[best_at];
      for (int h = h0; h < h1; h++)
        for (int w = w0; w < w1; w++) {
          const int at = h * c->in_w + w;
          if (c->kind == POOL_AVG) {
            acc += x[at];
          } else if (sign * x[at] > sign * acc) {
            acc = x[at];
            best_at = at;
          }
        }
      const int o = oh * c->out_w + ow;
      if (c->kind == POOL_AVG) {
        y[o] = acc / (float)((h1 - h0) * (w1 - w0));
      } else {
        y[o] = acc;
        arg[o] = (float)best_at;
      }
    }
}

/* Adds one plane's output gradient into its input gradient. Windows may overlap, so
 * every output adds to (never sets) the cells it read. */
static void pool_plane_backward(const pool_cfg *c, const float *dy, const float *arg, float *dx) {
  for (int oh = 0; oh < c->out_h; oh++)
    for (int ow = 0; ow < c->out_w; ow++) {
      const int o = oh * c->out_w + ow;
      if (c->kind != POOL_AVG) {
        dx[(int)arg[o]] += dy[o];
        continue;
      }
      int h0, h1, w0, w1;
      window(c, oh, ow, &h0, &h1, &w0, &w1);
      const float share = dy[o] / (float)((h1 - h0) * (w1 - w0));
      for (int h = h0; h < h1; h++)
        for (int w = w0; w < w1; w++) dx[h * c->in_w + w] += share;
    }
}

static void pool_forward(sn_layer *l, const sn_fwd *f) {
  const pool_cfg *c = l->impl;
  const size_t planes = (size_t)f->batch * (size_t)l->in_shape[0].d[0];
  const size_t in_plane = (size_t)c->in_h * c->in_w, out_plane = (size_t)c->out_h * c->out_w;
  /* Planes are independent, so each thread writes only its own outputs. */
#pragma omp parallel for schedule(static) if (worth_threads(c, planes))
  for (size_t p = 0; p < planes; p++)
    pool_plane_forward(c, f->in[0] + p * in_plane, f->out + p * out_plane,
                       c->kind == POOL_AVG ? NULL : f->aux + p * out_plane);
}

static void pool_backward(sn_layer *l, const sn_bwd *b) {
  const pool_cfg *c = l->impl;
  if (!b->din[0]) return;
  const size_t planes = (size_t)b->batch * (size_t)l->in_shape[0].d[0];
  const size_t in_plane = (size_t)c->in_h * c->in_w, out_plane = (size_t)c->out_h * c->out_w;
#pragma omp parallel for schedule(static) if (worth_threads(c, planes))
  for (size_t p = 0; p < planes; p++)
    pool_plane_backward(c, b->dout + p * out_plane,
                        c->kind == POOL_AVG ? NULL : b->aux + p * out_plane,
                        b->din[0] + p * in_plane);
}

static double pool_flops(const sn_layer *l) {
  const pool_cfg *c = l->impl;
  /* one compare or add per window cell */
  return (double)sn_shape_size(l->out_shape) * c->size[0] * c->size[1];
}

static void pool_receptive(const sn_layer *l, double *kernel, double *stride) {
  const pool_cfg *c = l->impl;
  /* The summary tracks one axis; the height axis speaks for non-square windows. */
  *kernel = c->size[0];
  *stride = c->stride[0];
}

#define POOL_OPS(kind_name, parse_fn)  \
  {.type = kind_name,                  \
   .min_inputs = 1,                    \
   .max_inputs = 1,                    \
   .parse = parse_fn,                  \
   .infer = pool_infer,                \
   .aux_floats = pool_aux,             \
   .forward = pool_forward,            \
   .backward = pool_backward,          \
   .flops = pool_flops,                \
   .receptive = pool_receptive}

const sn_layer_ops sn_maxpool2d_ops = POOL_OPS("maxpool2d", maxpool_parse);
const sn_layer_ops sn_avgpool2d_ops = POOL_OPS("avgpool2d", avgpool_parse);
const sn_layer_ops sn_minpool2d_ops = POOL_OPS("minpool2d", minpool_parse);
