/* Max, average and min 2-D pooling (maxpool2d, avgpool2d, minpool2d). */
#include <stdlib.h>

#include "layers/im2col.h"
#include "layers/layer_types.h"

/* The three kinds share one window geometry and one window loop; they differ only in
 * how the cells of a window are combined. */

typedef enum { POOL_MAX, POOL_AVG, POOL_MIN } pool_kind;

/* Which loop pools a layer, fixed by infer from its geometry. */
typedef enum {
  POOL_GENERAL,   /* any window, stride and padding */
  POOL_TILED,     /* stride == window, no padding, every window whole: the windows tile */
  POOL_TILED_2X2  /* the tiled 2x2/2 of most CNNs, with the window size a constant */
} pool_path;

typedef struct {
  pool_kind kind;
  int size[2], stride[2];   /* (h, w) */
  sn_pad_mode pad_mode;
  int pad[2];               /* explicit padding per side, (h, w); 0 unless explicit */
  /* Geometry, fixed by infer. */
  int in_h, in_w, out_h, out_w;
  int pad_top, pad_left;
  pool_path path;
  float none;
} pool_cfg;

/* Below this many window cells per call the OpenMP team costs more than it saves. */
#define POOL_PARALLEL_MIN 32768

/* The general path keeps argmax/argmin positions as floats in aux, exact up to 2^24. */
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

static pool_path pool_choose_path(const pool_cfg *c) {
  const int kh = c->size[0], kw = c->size[1];
  /* `same` padding of an input that the window divides is no padding at all. */
  const int tiles = c->stride[0] == kh && c->stride[1] == kw && c->pad_top == 0 &&
                    c->pad_left == 0 && c->out_h * kh <= c->in_h && c->out_w * kw <= c->in_w;
  if (!tiles) return POOL_GENERAL;
  return kh == 2 && kw == 2 ? POOL_TILED_2X2 : POOL_TILED;
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
  c->path = pool_choose_path(c);
  c->none = -0.0f;
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

/* The kernels below take the kind (and, for 2x2 tiles, the window) as an argument of
 * an always-inlined function called with a constant, so each instance compiles to
 * straight-line, vectorisable code with no test of the kind left in its loops. */
#define POOL_INLINE static inline __attribute__((always_inline))

/* Pools the kh x kw window whose first cell is x (rows ld apart). Returns its value
 * (the sum, for avg) and sets *arg to the winner's number in scan order (row by row)
 * for max and min. Every kind starts from the first cell, and only a strictly
 * greater (smaller) value takes over, so the first extreme in scan order wins ties;
 * both paths pool through this function, so they round and break ties alike. */
POOL_INLINE float pool_window(pool_kind kind, const float *x, int ld, int kh, int kw, int *arg) {
  float acc = x[0];
  int best = 0;
  for (int i = 0; i < kh; i++)
    for (int j = i == 0; j < kw; j++) { /* the first row resumes after the first cell */
      const float v = x[i * ld + j];
      if (kind == POOL_AVG) {
        acc += v;
        continue;
      }
      /* Selects rather than branches, so the 2x2 loop vectorises. */
      const int wins = kind == POOL_MAX ? v > acc : v < acc;
      acc = wins ? v : acc;
      best = wins ? i * kw + j : best;
    }
  *arg = best;
  return kind == POOL_AVG ? acc / (float)(kh * kw) : acc;
}

/* Adds the output gradient g of one kh x kw window into dx (rows ld apart): an equal
 * share to every cell for avg; for max and min, all of it to the cell numbered arg.
 * The others get -0.0f, the one addend that leaves every value (even -0.0f) as it
 * is, which lets the loop write each cell unconditionally and vectorise. */
POOL_INLINE void pool_window_backward(pool_kind kind, float *dx, int ld, int kh, int kw, int arg,
                                      float g, float none) {
  const float share = kind == POOL_AVG ? g / (float)(kh * kw) : g;
  for (int i = 0; i < kh; i++)
    for (int j = 0; j < kw; j++)
      dx[i * ld + j] += kind == POOL_AVG || i * kw + j == arg ? share : none;
}

/* General path, one (in_h, in_w) plane x -> one (out_h, out_w) plane y; arg receives
 * the winning cell of each window as a plane position (max/min only). */
POOL_INLINE void general_forward(const pool_cfg *c, pool_kind kind, const float *x, float *y,
                                 float *arg) {
  for (int oh = 0; oh < c->out_h; oh++)
    for (int ow = 0; ow < c->out_w; ow++) {
      int h0, h1, w0, w1, a;
      window(c, oh, ow, &h0, &h1, &w0, &w1);
      const int o = oh * c->out_w + ow, cols = w1 - w0;
      y[o] = pool_window(kind, x + h0 * c->in_w + w0, c->in_w, h1 - h0, cols, &a);
      if (kind != POOL_AVG) arg[o] = (float)((h0 + a / cols) * c->in_w + w0 + a % cols);
    }
}

/* Adds one plane's output gradient into its input gradient. Windows may overlap, so
 * every output adds to (never sets) the cells it read. */
POOL_INLINE void general_backward(const pool_cfg *c, pool_kind kind, const float *dy,
                                  const float *arg, float *dx) {
  for (int oh = 0; oh < c->out_h; oh++)
    for (int ow = 0; ow < c->out_w; ow++) {
      const int o = oh * c->out_w + ow;
      if (kind != POOL_AVG) {
        dx[(int)arg[o]] += dy[o];
        continue;
      }
      int h0, h1, w0, w1;
      window(c, oh, ow, &h0, &h1, &w0, &w1);
      pool_window_backward(kind, dx + h0 * c->in_w + w0, c->in_w, h1 - h0, w1 - w0, 0, dy[o], 0);
    }
}

/* Tiled path (stride == window, no padding, every window inside the input): output
 * (oh, ow) pools the kh x kw block at (oh * kh, ow * kw), with no clipping, so the loop
 * over ow vectorises. Rows and columns past the last whole window are never read, as
 * in the general path. Nothing is kept for backward: the winners are recomputed
 * there, which costs less than storing them, whose mixed widths would keep the loop
 * scalar at the widths CNNs pool (6 to 16 outputs a row). */
POOL_INLINE void tiled_forward(const pool_cfg *c, pool_kind kind, int kh, int kw,
                               const float *restrict x, float *restrict y) {
  for (int oh = 0; oh < c->out_h; oh++) {
    const float *xr = x + (size_t)oh * kh * c->in_w;
    float *yr = y + (size_t)oh * c->out_w;
    for (int ow = 0; ow < c->out_w; ow++) {
      int a;
      yr[ow] = pool_window(kind, xr + ow * kw, c->in_w, kh, kw, &a);
    }
  }
}

/* Finds each window's winner again with the forward's own pool_window on the same
 * input, so it is the same cell. Windows do not overlap, so each input cell is
 * written once; still an addition, as backward adds into din. */
POOL_INLINE void tiled_backward(const pool_cfg *c, pool_kind kind, int kh, int kw,
                                const float *restrict x, const float *restrict dy,
                                float *restrict dx) {
  for (int oh = 0; oh < c->out_h; oh++) {
    const float *xr = x + (size_t)oh * kh * c->in_w;
    float *dxr = dx + (size_t)oh * kh * c->in_w;
    const float *dyr = dy + (size_t)oh * c->out_w;
    for (int ow = 0; ow < c->out_w; ow++) {
      int a = 0;
      if (kind != POOL_AVG) pool_window(kind, xr + ow * kw, c->in_w, kh, kw, &a);
      pool_window_backward(kind, dxr + ow * kw, c->in_w, kh, kw, a, dyr[ow], c->none);
    }
  }
}

/* One plane of forward (backward): x the input plane, arg the general path's winners. */
typedef void (*pool_plane_fwd)(const pool_cfg *c, const float *x, float *y, float *arg);
typedef void (*pool_plane_bwd)(const pool_cfg *c, const float *x, const float *dy,
                               const float *arg, float *dx);

/* The per-plane kernels of one kind: the path is chosen once per plane, outside the
 * loops; the 2x2 tile gets its own instance with the window size as a constant. */
#define POOL_KIND_KERNELS(name, KIND)                                                     \
  static void name##_plane_forward(const pool_cfg *c, const float *x, float *y,           \
                                   float *arg) {                                          \
    if (c->path == POOL_GENERAL)                                                          \
      general_forward(c, KIND, x, y, arg);                                                \
    else if (c->path == POOL_TILED_2X2)                                                   \
      tiled_forward(c, KIND, 2, 2, x, y);                                                 \
    else                                                                                  \
      tiled_forward(c, KIND, c->size[0], c->size[1], x, y);                               \
  }                                                                                       \
  static void name##_plane_backward(const pool_cfg *c, const float *x, const float *dy,   \
                                    const float *arg, float *dx) {                        \
    if (c->path == POOL_GENERAL)                                                          \
      general_backward(c, KIND, dy, arg, dx);                                             \
    else if (c->path == POOL_TILED_2X2)                                                   \
      tiled_backward(c, KIND, 2, 2, x, dy, dx);                                           \
    else                                                                                  \
      tiled_backward(c, KIND, c->size[0], c->size[1], x, dy, dx);                         \
  }

POOL_KIND_KERNELS(max, POOL_MAX)
POOL_KIND_KERNELS(avg, POOL_AVG)
POOL_KIND_KERNELS(min, POOL_MIN)

static const struct {
  pool_plane_fwd forward;
  pool_plane_bwd backward;
} pool_kernels[] = {[POOL_MAX] = {max_plane_forward, max_plane_backward},
                    [POOL_AVG] = {avg_plane_forward, avg_plane_backward},
                    [POOL_MIN] = {min_plane_forward, min_plane_backward}};

/* Floats of aux per plane: the general path's max/min winners; nothing otherwise. */
static size_t arg_plane(const pool_cfg *c) {
  return c->kind == POOL_AVG || c->path != POOL_GENERAL ? 0 : (size_t)c->out_h * c->out_w;
}

static size_t pool_aux(const sn_layer *l, int batch) {
  return (size_t)batch * (size_t)l->in_shape[0].d[0] * arg_plane(l->impl);
}

static int worth_threads(const pool_cfg *c, size_t planes) {
  return planes > 1 &&
         planes * (size_t)c->out_h * c->out_w * c->size[0] * c->size[1] >= POOL_PARALLEL_MIN;
}

static void pool_forward(sn_layer *l, const sn_fwd *f) {
  const pool_cfg *c = l->impl;
  const pool_plane_fwd kernel = pool_kernels[c->kind].forward;
  const size_t planes = (size_t)f->batch * (size_t)l->in_shape[0].d[0];
  const size_t in_plane = (size_t)c->in_h * c->in_w, out_plane = (size_t)c->out_h * c->out_w;
  const size_t ap = arg_plane(c);
  /* Planes are independent, so each thread writes only its own outputs. */
#pragma omp parallel for schedule(static) if (worth_threads(c, planes))
  for (size_t p = 0; p < planes; p++)
    kernel(c, f->in[0] + p * in_plane, f->out + p * out_plane, ap ? f->aux + p * ap : NULL);
}

static void pool_backward(sn_layer *l, const sn_bwd *b) {
  const pool_cfg *c = l->impl;
  if (!b->din[0]) return;
  const pool_plane_bwd kernel = pool_kernels[c->kind].backward;
  const size_t planes = (size_t)b->batch * (size_t)l->in_shape[0].d[0];
  const size_t in_plane = (size_t)c->in_h * c->in_w, out_plane = (size_t)c->out_h * c->out_w;
  const size_t ap = arg_plane(c);
#pragma omp parallel for schedule(static) if (worth_threads(c, planes))
  for (size_t p = 0; p < planes; p++)
    kernel(c, b->in[0] + p * in_plane, b->dout + p * out_plane, ap ? b->aux + p * ap : NULL,
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
