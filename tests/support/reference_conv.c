/* Naive direct conv2d and conv2d_transpose, forward and backward, for tests. */
#include "reference_conv.h"

#include <stddef.h>
#include <stdlib.h>

static size_t at4(int a, int b, int c, int d, int nb, int nc, int nd) {
  return (((size_t)a * nb + b) * nc + c) * nd + d;
}

/* The kernel tap a cross-correlation reads at offset (i, j) of the window. */
static size_t conv_tap(const sn_ref_conv *p, int co, int ci, int i, int j) {
  if (p->flip) {
    i = p->kh - 1 - i;
    j = p->kw - 1 - j;
  }
  return at4(co, ci, i, j, p->cin, p->kh, p->kw);
}

/* Every product of the convolution, straight from the definition: the input element
 * x[xi] times the kernel tap kernel[ki] contributes to the output element yi. conv2d
 * slides the kernel over the output grid (input row = output row * sh - pt + i),
 * conv2d_transpose over the input grid (output row = input row * sh - pt + i). Adds
 * x * kernel into y, dout * kernel into gx and dout * x into gk, each when not NULL. */
static void each_product(const sn_ref_conv *p, int transpose, const float *x,
                         const float *kernel, const float *dout, double *y, double *gx,
                         double *gk) {
  const int gh = transpose ? p->h : p->oh, gw = transpose ? p->w : p->ow;
  const int th = transpose ? p->oh : p->h, tw = transpose ? p->ow : p->w;
  for (int n = 0; n < p->batch; n++)
    for (int co = 0; co < p->cout; co++)
      for (int ci = 0; ci < p->cin; ci++)
        for (int a = 0; a < gh; a++)
          for (int b = 0; b < gw; b++)
            for (int i = 0; i < p->kh; i++)
              for (int j = 0; j < p->kw; j++) {
                const int u = a * p->sh - p->pt + i, v = b * p->sw - p->pl + j;
                if (u < 0 || u >= th || v < 0 || v >= tw) continue;
                const size_t xi = transpose ? at4(n, ci, a, b, p->cin, p->h, p->w)
                                            : at4(n, ci, u, v, p->cin, p->h, p->w);
                const size_t yi = transpose ? at4(n, co, u, v, p->cout, p->oh, p->ow)
                                            : at4(n, co, a, b, p->cout, p->oh, p->ow);
                const size_t ki = transpose ? at4(ci, co, i, j, p->cout, p->kh, p->kw)
                                            : conv_tap(p, co, ci, i, j);
                if (y) y[yi] += (double)x[xi] * kernel[ki];
                if (gx) gx[xi] += (double)dout[yi] * kernel[ki];
                if (gk) gk[ki] += (double)dout[yi] * x[xi];
              }
}

static void to_floats(float *dst, const double *src, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = (float)src[i];
}

static void forward(const sn_ref_conv *p, int transpose, const float *x, const float *kernel,
                    const float *bias, float *out) {
  const size_t ny = (size_t)p->batch * p->cout * p->oh * p->ow;
  double *acc = calloc(ny, sizeof *acc);
  each_product(p, transpose, x, kernel, NULL, acc, NULL, NULL);
  for (size_t e = 0; e < ny; e++) {
    int co = (int)(e / ((size_t)p->oh * p->ow) % (size_t)p->cout);
    out[e] = (float)(acc[e] + (bias ? bias[co] : 0.0));
  }
  free(acc);
}

static void backward(const sn_ref_conv *p, int transpose, const float *x, const float *kernel,
                     const float *dout, float *dx, float *dkernel, float *dbias) {
  const size_t nx = (size_t)p->batch * p->cin * p->h * p->w;
  const size_t nk = (size_t)p->cout * p->cin * p->kh * p->kw;
  double *gx = calloc(nx, sizeof *gx), *gk = calloc(nk, sizeof *gk);
  each_product(p, transpose, x, kernel, dout, NULL, gx, gk);
  to_floats(dx, gx, nx);
  to_floats(dkernel, gk, nk);
  if (dbias)
    for (int co = 0; co < p->cout; co++) {
      double s = 0.0;
      for (int n = 0; n < p->batch; n++)
        for (int e = 0; e < p->oh * p->ow; e++)
          s += dout[((size_t)n * p->cout + co) * p->oh * p->ow + e];
      dbias[co] = (float)s;
    }
  free(gx);
  free(gk);
}

void sn_ref_conv2d_forward(const sn_ref_conv *p, const float *x, const float *kernel,
                           const float *bias, float *out) {
  forward(p, 0, x, kernel, bias, out);
}

void sn_ref_conv2d_backward(const sn_ref_conv *p, const float *x, const float *kernel,
                            const float *dout, float *dx, float *dkernel, float *dbias) {
  backward(p, 0, x, kernel, dout, dx, dkernel, dbias);
}

void sn_ref_conv2d_transpose_forward(const sn_ref_conv *p, const float *x, const float *kernel,
                                     const float *bias, float *out) {
  forward(p, 1, x, kernel, bias, out);
}

void sn_ref_conv2d_transpose_backward(const sn_ref_conv *p, const float *x, const float *kernel,
                                      const float *dout, float *dx, float *dkernel,
                                      float *dbias) {
  backward(p, 1, x, kernel, dout, dx, dkernel, dbias);
}
