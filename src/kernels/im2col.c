/* im2col/col2im: a convolution as one GEMM over a column matrix. */
#include "kernels/im2col.h"

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
