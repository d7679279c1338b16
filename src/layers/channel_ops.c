/* Per-channel sums and affine maps in the plain and the channel-blocked layout. */
#include "layers/channel_ops.h"

#include "shardnet/layer.h"

/* Below this many values per call the OpenMP team costs more than it saves. */
#define PARALLEL_MIN 32768

/* Plain sums run in 8 fixed lanes per channel, added up at the end: one double
 * accumulator is a chain of dependent adds the compiler may not reorder (4 cycles a
 * value; batch norm ran at 3 GFLOP/s), and fixed lanes give the same sums on every
 * run whatever the buffer's alignment. Blocked sums have a channel per lane already. */
#define LANES 8

static int worth_threads(const sn_channel_view *v) {
  return (size_t)v->batch * v->channels * v->area >= PARALLEL_MIN;
}

static double lanes_total(const double *l) {
  double t = 0.0;
  for (int k = 0; k < LANES; k++) t += l[k];
  return t;
}

size_t sn_channel_scratch_doubles(const sn_channel_view *v) {
  return v->blocked ? 2 * (size_t)v->batch * v->channels : 0;
}

/* Sums of u and of u * (w - shift) over a run of len values, in lanes (w NULL: u * u). */
static void plain_sums(const float *u, const float *w, double shift, size_t len, double *s, double *q) {
  size_t i = 0;
  for (; i + LANES <= len; i += LANES)
    for (int k = 0; k < LANES; k++) {
      const double a = u[i + k], b = w ? (double)w[i + k] - shift : a;
      s[k] += a;
      q[k] += a * b;
    }
  for (int k = 0; i < len; i++, k++) {
    const double a = u[i], b = w ? (double)w[i] - shift : a;
    s[k] += a;
    q[k] += a * b;
  }
}

/* The same for one sample's block of SN_BLOCK channels: lane l is channel l. */
static void block_sums(const float *u, const float *w, const double *shift, size_t area, double *s, double *q) {
  double a[SN_BLOCK] = {0}, b[SN_BLOCK] = {0};
  for (size_t i = 0; i < area; i++)
    for (int l = 0; l < SN_BLOCK; l++) {
      const double x = u[i * SN_BLOCK + l], y = w ? (double)w[i * SN_BLOCK + l] - shift[l] : x;
      a[l] += x;
      b[l] += x * y;
    }
  for (int l = 0; l < SN_BLOCK; l++) s[l] = a[l], q[l] = b[l];
}

/* sum[ch] = sum of u, prod[ch] = sum of u * (w - shift[ch]) (w NULL: u * u). */
static void channel_sums(const sn_channel_view *v, const float *u, const float *w, const double *shift,
                         double *scratch, double *sum, double *prod) {
  const int C = v->channels;
  if (!v->blocked) {
#pragma omp parallel for schedule(static) if (C > 1 && worth_threads(v))
    for (int ch = 0; ch < C; ch++) {
      double s[LANES] = {0}, q[LANES] = {0};
      for (int n = 0; n < v->batch; n++) {
        const size_t at = ((size_t)n * C + ch) * v->area;
        plain_sums(u + at, w ? w + at : NULL, shift ? shift[ch] : 0.0, v->area, s, q);
      }
      sum[ch] = lanes_total(s);
      prod[ch] = lanes_total(q);
    }
    return;
  }
  /* per (sample, block) partial sums in parallel, then added over samples in order */
  const int blocks = C / SN_BLOCK, tasks = v->batch * blocks;
  double *ps = scratch, *pq = scratch + (size_t)v->batch * C;
#pragma omp parallel for schedule(static) if (worth_threads(v))
  for (int t = 0; t < tasks; t++) {
    const size_t at = (size_t)t * v->area * SN_BLOCK, lane0 = (size_t)(t % blocks) * SN_BLOCK;
    block_sums(u + at, w ? w + at : NULL, shift ? shift + lane0 : NULL, v->area, ps + (size_t)t * SN_BLOCK,
               pq + (size_t)t * SN_BLOCK);
  }
  for (int ch = 0; ch < C; ch++) {
    double s = 0.0, q = 0.0;
    for (int n = 0; n < v->batch; n++) {
      s += ps[(size_t)n * C + ch];
      q += pq[(size_t)n * C + ch];
    }
    sum[ch] = s;
    prod[ch] = q;
  }
}

void sn_channel_moments(const sn_channel_view *v, const float *x, double *scratch, double *sum, double *sum_sq) {
  channel_sums(v, x, NULL, NULL, scratch, sum, sum_sq);
}

void sn_channel_grad_sums(const sn_channel_view *v, const float *x, const float *dy, const double *mean,
                          double *scratch, double *sum_dy, double *sum_dy_xc) {
  channel_sums(v, dy, x, mean, scratch, sum_dy, sum_dy_xc);
}

/* out (+)= a * u + b * w + k over len runs of `lanes` values, lane l taking
 * coefficient [l]. Inlined with lanes a constant, so each loop vectorises. */
static inline void map_run(size_t len, int lanes, const float *a, const float *u, const float *b, const float *w,
                           const float *k, float *out, int add) {
#define MAP_LOOP(expr)                           \
  for (size_t j = 0; j < len; j++)               \
    for (int l = 0; l < lanes; l++) {            \
      const size_t i = j * (size_t)lanes + l;    \
      expr;                                      \
    }
  if (w && add) MAP_LOOP(out[i] += a[l] * u[i] + b[l] * w[i] + k[l])
  else if (w) MAP_LOOP(out[i] = a[l] * u[i] + b[l] * w[i] + k[l])
  else if (add) MAP_LOOP(out[i] += a[l] * u[i] + k[l])
  else MAP_LOOP(out[i] = a[l] * u[i] + k[l])
#undef MAP_LOOP
}

void sn_channel_map(const sn_channel_view *v, const float *a, const float *u, const float *b, const float *w,
                    const float *k, float *out, int add) {
  const int C = v->channels;
  if (!v->blocked) {
    const int planes = v->batch * C;
#pragma omp parallel for schedule(static) if (C > 1 && worth_threads(v))
    for (int p = 0; p < planes; p++) {
      const int ch = p % C;
      const size_t at = (size_t)p * v->area;
      map_run(v->area, 1, a + ch, u + at, b ? b + ch : NULL, w ? w + at : NULL, k + ch, out + at, add);
    }
    return;
  }
  const int blocks = C / SN_BLOCK, tasks = v->batch * blocks;
#pragma omp parallel for schedule(static) if (worth_threads(v))
  for (int t = 0; t < tasks; t++) {
    const int lane0 = (t % blocks) * SN_BLOCK;
    const size_t at = (size_t)t * v->area * SN_BLOCK;
    map_run(v->area, SN_BLOCK, a + lane0, u + at, b ? b + lane0 : NULL, w ? w + at : NULL, k + lane0, out + at,
            add);
  }
}
