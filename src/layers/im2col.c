/* im2col/col2im and the padding, threading and bias helpers shared by the two
 * convolution layers. */
#include "layers/im2col.h"

#include <omp.h>
#include <string.h>

/* Grid positions [*lo, *hi) along one axis whose image coordinate pos*stride + x0
 * falls inside [0, size): everything outside reads padding. */
static void valid_range(int x0, int stride, int size, int n, int *lo, int *hi) {
  int a = x0 >= 0 ? 0 : (-x0 + stride - 1) / stride;
  int b = size - x0 <= 0 ? 0 : (size - x0 + stride - 1) / stride;
  if (a > n) a = n;
  if (b > n) b = n;
  if (b < a) b = a;
  *lo = a;
  *hi = b;
}

void sn_im2col(const sn_conv_geom *g, const float *img, float *col, int ld) {
  const int ow = g->ow, oh = g->oh;
  /* stride 1 with the output as wide as the input (`same` padding): consecutive
   * output pixels read consecutive input pixels, so a whole tap is one copy */
  const int contiguous = g->sh == 1 && g->sw == 1 && ow == g->w;
  for (int c = 0; c < g->c; c++) {
    const float *plane = img + (size_t)c * g->h * g->w;
    for (int i = 0; i < g->kh; i++) {
      const int ki = g->flip ? g->kh - 1 - i : i;
      int ylo, yhi;
      valid_range(ki - g->pt, g->sh, g->h, oh, &ylo, &yhi);
      for (int j = 0; j < g->kw; j++) {
        const int kj = g->flip ? g->kw - 1 - j : j;
        float *dst = col + (size_t)((c * g->kh + i) * g->kw + j) * ld;
        const int x0 = kj - g->pl;
        int lo, hi;
        valid_range(x0, g->sw, g->w, ow, &lo, &hi);
        memset(dst, 0, (size_t)ylo * ow * sizeof(float));
        memset(dst + (size_t)yhi * ow, 0, (size_t)(oh - yhi) * ow * sizeof(float));
        if (yhi <= ylo) continue;
        if (hi <= lo) {
          /* this tap only ever reads padding columns */
          memset(dst + (size_t)ylo * ow, 0, (size_t)(yhi - ylo) * ow * sizeof(float));
          continue;
        }
        if (contiguous) {
          /* dst[oy*ow + ox] = plane[(oy + ki - pt)*w + ox + x0]: copy the span from the
           * first valid pixel to the last, then zero the padding columns, which the
           * copy filled with pixels of the neighbouring rows */
          const size_t first = (size_t)ylo * ow + lo, last = (size_t)(yhi - 1) * ow + hi;
          const float *src = plane + (size_t)(ylo + ki - g->pt) * g->w + lo + x0;
          if (last > first) memcpy(dst + first, src, (last - first) * sizeof(float));
          for (int oy = ylo; oy < yhi; oy++) {
            float *row = dst + (size_t)oy * ow;
            for (int ox = 0; ox < lo; ox++) row[ox] = 0.0f;
            for (int ox = hi; ox < ow; ox++) row[ox] = 0.0f;
          }
          continue;
        }
        for (int oy = ylo; oy < yhi; oy++) {
          float *row = dst + (size_t)oy * ow;
          /* x0 may be negative: index from the row start, only ox in [lo, hi) */
          const float *src = plane + (size_t)(oy * g->sh - g->pt + ki) * g->w;
          for (int ox = 0; ox < lo; ox++) row[ox] = 0.0f;
          if (g->sw == 1) {
            memcpy(row + lo, src + lo + x0, (size_t)(hi - lo) * sizeof(float));
          } else {
            for (int ox = lo; ox < hi; ox++) row[ox] = src[ox * g->sw + x0];
          }
          for (int ox = hi; ox < ow; ox++) row[ox] = 0.0f;
        }
      }
    }
  }
}

/* dst[k] += src[k]: restrict lets the compiler vectorize without an overlap check
 * on every (short) row. */
static inline void add_row(float *restrict dst, const float *restrict src, int n) {
  for (int k = 0; k < n; k++) dst[k] += src[k];
}

void sn_col2im_add(const sn_conv_geom *g, const float *col, int ld, float *img) {
  const int ow = g->ow;
  for (int c = 0; c < g->c; c++) {
    float *plane = img + (size_t)c * g->h * g->w;
    for (int i = 0; i < g->kh; i++) {
      const int ki = g->flip ? g->kh - 1 - i : i;
      int ylo, yhi;
      valid_range(ki - g->pt, g->sh, g->h, g->oh, &ylo, &yhi);
      for (int j = 0; j < g->kw; j++) {
        const int kj = g->flip ? g->kw - 1 - j : j;
        const float *src = col + (size_t)((c * g->kh + i) * g->kw + j) * ld;
        const int x0 = kj - g->pl;
        int lo, hi;
        valid_range(x0, g->sw, g->w, ow, &lo, &hi);
        if (hi <= lo) continue;
        for (int oy = ylo; oy < yhi; oy++) {
          float *row = plane + (size_t)(oy * g->sh - g->pt + ki) * g->w;
          const float *from = src + (size_t)oy * ow;
          if (g->sw == 1) {
            add_row(row + lo + x0, from + lo, hi - lo);
          } else {
            for (int ox = lo; ox < hi; ox++) row[ox * g->sw + x0] += from[ox];
          }
        }
      }
    }
  }
}

sn_status sn_conv_parse_shape(sn_args *args, int *filters, int kernel[2], int stride[2]) {
  if (!sn_args_has(args, "filters")) return sn_args_fail(args, NULL, "needs the key 'filters'");
  SN_TRY(sn_args_int(args, "filters", 0, 1, 1 << 20, filters));
  if (!sn_args_has(args, "kernel")) return sn_args_fail(args, NULL, "needs the key 'kernel'");
  SN_TRY(sn_args_int_pair(args, "kernel", 1, 1, 1 << 12, kernel));
  return sn_args_int_pair(args, "stride", 1, 1, 1 << 12, stride);
}

sn_status sn_conv_parse_padding(sn_args *args, int allow_pair, sn_pad_mode *mode, int pad[2]) {
  *mode = SN_PAD_VALID;
  pad[0] = pad[1] = 0;
  sn_arg *a = sn_args_find(args, "padding");
  if (!a) return SN_OK;
  if (a->count == 1 && !a->is_list) {
    const char *s = a->items[0];
    if (!strcmp(s, "valid") || !strcmp(s, "same")) {
      a->used = 1;
      *mode = s[0] == 's' ? SN_PAD_SAME : SN_PAD_VALID;
      return SN_OK;
    }
  }
  if (a->count > 1 && !allow_pair)
    return sn_args_fail(args, "padding", "must be valid, same or one integer, got %d values",
                        a->count);
  /* Anything else must be a non-negative amount; the getter names the bad value. */
  if (a->count == 1 && !(a->items[0][0] >= '0' && a->items[0][0] <= '9') &&
      a->items[0][0] != '-')
    return sn_args_fail(args, "padding", "must be valid, same or a number of pixels, got '%s'",
                        a->items[0]);
  *mode = SN_PAD_EXPLICIT;
  return sn_args_int_pair(args, "padding", 0, 0, 1 << 16, pad);
}

void sn_conv_same_padding(int in, int k, int stride, int *out, int *before, int *after) {
  const int o = (in + stride - 1) / stride;
  int total = (o - 1) * stride + k - in;
  if (total < 0) total = 0;
  *out = o;
  *before = total / 2;
  *after = total - total / 2;
}

int sn_conv_team(int reserved, int batch) {
  int t = omp_get_max_threads();
  if (reserved > 0 && t > reserved) t = reserved;
  if (t > batch) t = batch;
  return t < 1 ? 1 : t;
}

void sn_conv_fill_bias(float *y, const float *bias, int rows, int n) {
  if (!bias) {
    memset(y, 0, (size_t)rows * n * sizeof(float));
    return;
  }
  for (int r = 0; r < rows; r++) {
    float *row = y + (size_t)r * n;
    const float b = bias[r];
    for (int i = 0; i < n; i++) row[i] = b;
  }
}

void sn_conv_bias_grad(float *db, const float *dy, int rows, int n) {
  enum { LANES = 16 };
  for (int r = 0; r < rows; r++) {
    const float *row = dy + (size_t)r * n;
    /* independent lane sums vectorize without -ffast-math and always add in the
     * same order */
    float lane[LANES] = {0};
    int i = 0;
    for (; i + LANES <= n; i += LANES)
      for (int k = 0; k < LANES; k++) lane[k] += row[i + k];
    float s = 0.0f;
    for (; i < n; i++) s += row[i];
    for (int k = 0; k < LANES; k++) s += lane[k];
    db[r] += s;
  }
}

void sn_conv_reduce(float *dst, const float *parts, size_t stride, int n_parts, size_t n, int t,
                    int team) {
  const size_t lo = n * (size_t)t / (size_t)team, hi = n * (size_t)(t + 1) / (size_t)team;
  for (int p = 0; p < n_parts; p++) {
    const float *part = parts + (size_t)p * stride;
    for (size_t e = lo; e < hi; e++) dst[e] += part[e];
  }
}

void sn_conv_forward(const sn_layer *l, const sn_fwd *f, const sn_conv_forward_plan *p) {
  const size_t out_size = (size_t)p->cout * p->plane;
  const int team = sn_conv_team(f->threads, f->batch);
#pragma omp parallel num_threads(team)
  {
    const int t = omp_get_thread_num();
    float *col = f->work + (size_t)t * p->slot;
    int lo, hi;
    sn_conv_share(f->batch, team, t, &lo, &hi);
    for (int s = lo; s < hi; s++) {
      float *y = f->out + (size_t)s * out_size;
      sn_conv_fill_bias(y, p->bias, p->cout, (int)p->plane);
      p->per_sample(l, f->in[0] + (size_t)s * p->in_size, y, col);
    }
    /* One call over the thread's whole block rather than one per sample: the
     * activation loops only vectorize on long runs (a nested region, one thread). */
    sn_activation_forward(p->act, f->out + (size_t)lo * out_size, (size_t)(hi - lo) * out_size);
  }
}

void sn_conv_backward(sn_layer *l, const sn_bwd *b, const sn_conv_backward_plan *p) {
  const int team = p->team, has_bias = l->n_params > 1;
  float *parts = b->work + (size_t)team * p->slot;
#pragma omp parallel num_threads(team)
  {
    const int t = omp_get_thread_num();
    float *col = b->work + (size_t)t * p->slot, *dpre_buf = col + p->dpre_at;
    sn_conv_grad_slot g;
    g.dw = t == 0 ? l->params[0].grad : parts + (size_t)(t - 1) * p->part;
    g.db = !has_bias ? NULL : t == 0 ? l->params[1].grad : g.dw + p->w_count;
    if (t > 0 && g.db) memset(g.db, 0, (size_t)p->cout * sizeof(float));
    g.dw_beta = t == 0 ? 1.0f : 0.0f;
    int lo, hi;
    sn_conv_share(b->batch, team, t, &lo, &hi);
    for (int s = lo; s < hi; s++) {
      const float *dpre = b->dout + (size_t)s * p->out_size;
      if (p->act.kind != SN_ACT_NONE) {
        /* dout is read-only: the gradient through the activation goes to scratch */
        memcpy(dpre_buf, dpre, p->out_size * sizeof(float));
        sn_activation_backward_inplace(p->act, b->out + (size_t)s * p->out_size, dpre_buf, p->out_size);
        dpre = dpre_buf;
      }
      if (g.db) sn_conv_bias_grad(g.db, dpre, p->cout, (int)(p->out_size / (size_t)p->cout));
      p->per_sample(l, b, s, dpre, col, &g);
    }
    if (team > 1) {
#pragma omp barrier
      sn_conv_reduce(l->params[0].grad, parts, p->part, team - 1, p->w_count, t, team);
      if (has_bias)
        sn_conv_reduce(l->params[1].grad, parts + p->w_count, p->part, team - 1, (size_t)p->cout, t, team);
    }
  }
}
