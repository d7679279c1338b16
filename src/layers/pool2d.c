/* Max, average and min 2-D pooling (maxpool2d, avgpool2d, minpool2d). */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "layers/conv_keys.h"
#include "layers/layer_types.h"

/* The three kinds share one window geometry and one window function; they differ only
 * in how the cells of a window are combined. Windows that tile the input (stride ==
 * window, no padding: most CNNs' 2x2/2) take a vectorised path through the same
 * window function, so both paths give the same bits. */

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
} pool_cfg;

/* Below this many window cells per call the OpenMP team costs more than it saves. */
#define POOL_PARALLEL_MIN 32768

/* Max and min send each output's gradient to its window's winner. Backward finds the
 * winners again from the input, which the net keeps anyway, one plane at a time in
 * the workspace, instead of forward keeping them for the whole batch: on the
 * Fashion-MNIST convnet that is 2.4 MB less per rank for one more pass over the
 * input. A winner is an int32 position in its plane; int32 is as wide as the float
 * data, so the tiled loop vectorises with it (a byte would make the vector 16
 * outputs wide, more than most pooled rows). */
#define POOL_MAX_PLANE INT32_MAX
_Static_assert(sizeof(int32_t) == sizeof(float), "winners are stored in float workspace slots");

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
    return sn_layer_fail(l, "an input plane of %dx%d is larger than pooling supports (2^31 - 1 pixels)",
                         c->in_h, c->in_w);
  l->out_shape = sn_shape_chw(in.d[0], c->out_h, c->out_w);
  c->path = pool_choose_path(c);
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

/* The kernels take the kind (and the 2x2 window) as arguments of always-inlined
 * functions called with constants, so each instance compiles to its own loops with no
 * test of the kind left in them. */
#define POOL_INLINE static inline __attribute__((always_inline))

/* The bits of v, compared as an integer: exact, and without the branches a float
 * equality test compiles to. */
static inline uint32_t float_bits(float v) {
  uint32_t u;
  memcpy(&u, &v, sizeof u);
  return u;
}

/* Pools the kh x kw window whose first cell is x (rows ld apart): returns its max,
 * mean or min and, for max and min with `at`, sets *at to the winner's offset from x. Every
 * kind starts from the first cell and takes the others in scan order (row by row);
 * only a strictly greater (smaller) value takes over, so the first extreme wins ties
 * and a NaN wins only from the first cell. Both paths pool through here, so they give
 * the same bits. */
POOL_INLINE float pool_window(pool_kind kind, const float *x, int ld, int kh, int kw, int *at) {
  float acc = x[0];
  for (int i = 0; i < kh; i++)
    for (int j = i == 0; j < kw; j++) { /* the first row resumes after the first cell */
      const float v = x[i * ld + j];
      if (kind == POOL_AVG) acc += v;
      else if (kind == POOL_MAX) acc = v > acc ? v : acc;
      else acc = v < acc ? v : acc;
    }
  if (kind == POOL_AVG) return acc / (float)(kh * kw);
  if (!at) return acc;
  /* The winner is the first cell holding acc's bits: a cell took over only from
   * smaller (larger) ones, so no earlier cell compares equal, and a NaN in the first
   * cell, which nothing replaces, is found too. A second pass, backwards and on the
   * bits, keeps both loops free of branches, which random data would mispredict. */
  const uint32_t want = float_bits(acc);
  int best = 0;
  for (int i = kh - 1; i >= 0; i--)
    for (int j = kw - 1; j >= 0; j--) best = float_bits(x[i * ld + j]) == want ? i * ld + j : best;
  *at = best;
  return acc;
}

/* Average backward of one window: adds an equal share of its output gradient g to
 * each of the kh x kw cells at dx (rows ld apart). */
POOL_INLINE void pool_spread(float *dx, int ld, int kh, int kw, float g) {
  const float share = g / (float)(kh * kw);
  for (int i = 0; i < kh; i++)
    for (int j = 0; j < kw; j++) dx[i * ld + j] += share;
}

/* General forward of one (in_h, in_w) plane x into one (out_h, out_w) plane y, with
 * each window's winner in win when `want` (max/min only; a constant when inlined, so
 * the loops keep no test of it). */
POOL_INLINE void general_forward(const pool_cfg *c, pool_kind kind, int want, const float *x, float *y,
                                 int32_t *win) {
  for (int oh = 0; oh < c->out_h; oh++)
    for (int ow = 0; ow < c->out_w; ow++) {
      int h0, h1, w0, w1, at = 0;
      window(c, oh, ow, &h0, &h1, &w0, &w1);
      const int o = oh * c->out_w + ow, first = h0 * c->in_w + w0;
      y[o] = pool_window(kind, x + first, c->in_w, h1 - h0, w1 - w0, want ? &at : NULL);
      if (kind != POOL_AVG && want) win[o] = first + at;
    }
}

/* Tiled forward: output (oh, ow) pools the whole kh x kw block at (oh * kh, ow * kw),
 * so nothing is clipped and the loop over ow vectorises. Rows and columns past the
 * last whole window are never read, as in the general path. */
POOL_INLINE void tiled_forward(const pool_cfg *c, pool_kind kind, int want, int kh, int kw,
                               const float *restrict x, float *restrict y,
                               int32_t *restrict win) {
  for (int oh = 0; oh < c->out_h; oh++) {
    const int first = oh * kh * c->in_w, o = oh * c->out_w;
    for (int ow = 0; ow < c->out_w; ow++) {
      int at = 0;
      y[o + ow] = pool_window(kind, x + first + ow * kw, c->in_w, kh, kw, want ? &at : NULL);
      if (kind != POOL_AVG && want) win[o + ow] = first + ow * kw + at;
    }
  }
}

/* One plane for the layer's path, the kind and whether winners are wanted constants:
 * one instance each, so forward runs no winner search at all. */
#define POOL_PLANE_PASS(name, KIND, WIN)                                                \
  static void name(const pool_cfg *c, const float *x, float *y, int32_t *win) {         \
    if (c->path == POOL_TILED_2X2)                                                      \
      tiled_forward(c, KIND, WIN, 2, 2, x, y, win);                                     \
    else if (c->path == POOL_TILED)                                                     \
      tiled_forward(c, KIND, WIN, c->size[0], c->size[1], x, y, win);                   \
    else                                                                                \
      general_forward(c, KIND, WIN, x, y, win);                                         \
  }
POOL_PLANE_PASS(max_plane_forward, POOL_MAX, 0)
POOL_PLANE_PASS(avg_plane_forward, POOL_AVG, 0)
POOL_PLANE_PASS(min_plane_forward, POOL_MIN, 0)
POOL_PLANE_PASS(max_plane_winners, POOL_MAX, 1)
POOL_PLANE_PASS(min_plane_winners, POOL_MIN, 1)

typedef void (*pool_plane_fn)(const pool_cfg *c, const float *x, float *y, int32_t *win);
static const pool_plane_fn pool_plane_forward[] = {
    [POOL_MAX] = max_plane_forward, [POOL_AVG] = avg_plane_forward, [POOL_MIN] = min_plane_forward};
static const pool_plane_fn pool_plane_winners[] = {[POOL_MAX] = max_plane_winners, [POOL_MIN] = min_plane_winners};

/* Average backward of one tiled plane: windows neither overlap nor clip, so each input
 * cell receives one share; still added, as backward adds into din. */
POOL_INLINE void tiled_spread(const pool_cfg *c, int kh, int kw, const float *restrict dy,
                              float *restrict dx) {
  for (int oh = 0; oh < c->out_h; oh++)
    for (int ow = 0; ow < c->out_w; ow++)
      pool_spread(dx + (oh * kh * c->in_w + ow * kw), c->in_w, kh, kw, dy[oh * c->out_w + ow]);
}

/* Adds one plane's output gradient dy into its input gradient dx. Max and min send
 * each output's gradient to its window's winner (win, found again from the input on
 * the forward path); windows may overlap, so every output adds to (never sets) the
 * cells it read. */
static void pool_plane_backward(const pool_cfg *c, const float *dy, const int32_t *win,
                                float *dx) {
  if (c->kind != POOL_AVG) {
    for (int o = 0; o < c->out_h * c->out_w; o++) dx[win[o]] += dy[o];
  } else if (c->path == POOL_TILED_2X2) {
    tiled_spread(c, 2, 2, dy, dx);
  } else if (c->path == POOL_TILED) {
    tiled_spread(c, c->size[0], c->size[1], dy, dx);
  } else {
    for (int oh = 0; oh < c->out_h; oh++)
      for (int ow = 0; ow < c->out_w; ow++) {
        int h0, h1, w0, w1;
        window(c, oh, ow, &h0, &h1, &w0, &w1);
        pool_spread(dx + h0 * c->in_w + w0, c->in_w, h1 - h0, w1 - w0, dy[oh * c->out_w + ow]);
      }
  }
}

/* Backward's scratch per thread for max and min: one plane's winners and the pooled
 * values the search produces on the way (not used). */
static size_t win_slot(const pool_cfg *c) {
  const size_t plane = (size_t)c->out_h * c->out_w;
  return c->kind == POOL_AVG ? 0 : (2 * plane + 15) & ~(size_t)15;
}

static size_t pool_workspace(const sn_layer *l, int batch, int threads) {
  (void)batch;
  return (size_t)threads * win_slot(l->impl);
}

static int worth_threads(const pool_cfg *c, size_t planes) {
  return planes > 1 &&
         planes * (size_t)c->out_h * c->out_w * c->size[0] * c->size[1] >= POOL_PARALLEL_MIN;
}

static void pool_forward(sn_layer *l, const sn_fwd *f) {
  const pool_cfg *c = l->impl;
  const pool_plane_fn plane = pool_plane_forward[c->kind];
  const size_t planes = (size_t)f->batch * (size_t)l->in_shape[0].d[0];
  const size_t in_plane = (size_t)c->in_h * c->in_w, out_plane = (size_t)c->out_h * c->out_w;
  /* Planes are independent, so each thread writes only its own outputs. */
#pragma omp parallel for schedule(static) if (worth_threads(c, planes))
  for (size_t p = 0; p < planes; p++) plane(c, f->in[0] + p * in_plane, f->out + p * out_plane, NULL);
}

static void pool_backward(sn_layer *l, const sn_bwd *b) {
  const pool_cfg *c = l->impl;
  if (!b->din[0]) return;
  const size_t planes = (size_t)b->batch * (size_t)l->in_shape[0].d[0];
  const size_t in_plane = (size_t)c->in_h * c->in_w, out_plane = (size_t)c->out_h * c->out_w;
  const size_t slot = win_slot(c);
#pragma omp parallel num_threads(b->threads) if (worth_threads(c, planes))
  {
    float *mine = b->work + (size_t)omp_get_thread_num() * slot;
    int32_t *win = (int32_t *)mine;
#pragma omp for schedule(static)
    for (size_t p = 0; p < planes; p++) {
      const float *x = b->in[0] + p * in_plane;
      float *dx = b->din[0] + p * in_plane;
      /* a din to write is cleared here, plane by plane, in cache and in parallel */
      if (b->din_fresh & 1u) memset(dx, 0, in_plane * sizeof *dx);
      if (c->kind != POOL_AVG) pool_plane_winners[c->kind](c, x, mine + out_plane, win);
      pool_plane_backward(c, b->dout + p * out_plane, win, dx);
    }
  }
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
   .workspace_floats = pool_workspace, \
   .fresh_din = 1,                     \
   .forward = pool_forward,            \
   .backward = pool_backward,          \
   .flops = pool_flops,                \
   .receptive = pool_receptive}

const sn_layer_ops sn_maxpool2d_ops = POOL_OPS("maxpool2d", maxpool_parse);
const sn_layer_ops sn_avgpool2d_ops = POOL_OPS("avgpool2d", avgpool_parse);
const sn_layer_ops sn_minpool2d_ops = POOL_OPS("minpool2d", minpool_parse);
