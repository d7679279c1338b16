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

void sn_ref_conv2d_forward(const sn_ref_conv *p, const float *x, const float *kernel,
                           const float *bias, float *out) {
  for (int n = 0; n < p->batch; n++)
    for (int co = 0; co < p->cout; co++)
      for (int oy = 0; oy < p->oh; oy++)
        for (int ox = 0; ox < p->ow; ox++) {
          double s = bias ? bias[co] : 0.0;
          for (int ci = 0; ci < p->cin; ci++)
            for (int i = 0; i < p->kh; i++)
              for (int j = 0; j < p->kw; j++) {
                int y = oy * p->sh - p->pt + i, xx = ox * p->sw - p->pl + j;
                if (y < 0 || y >= p->h || xx < 0 || xx >= p->w) continue;
                s += (double)x[at4(n, ci, y, xx, p->cin, p->h, p->w)] *
                     kernel[conv_tap(p, co, ci, i, j)];
              }
          out[at4(n, co, oy, ox, p->cout, p->oh, p->ow)] = (float)s;
        }
}

void sn_ref_conv2d_backward(const sn_ref_conv *p, const float *x, const float *kernel,
                            const float *dout, float *dx, float *dkernel, float *dbias) {
  const size_t nx = (size_t)p->batch * p->cin * p->h * p->w;
  const size_t nk = (size_t)p->cout * p->cin * p->kh * p->kw;
  double *gx = calloc(nx, sizeof *gx), *gk = calloc(nk, sizeof *gk);
  for (int n = 0; n < p->batch; n++)
    for (int co = 0; co < p->cout; co++)
      for (int oy = 0; oy < p->oh; oy++)
        for (int ox = 0; ox < p->ow; ox++) {
          const double g = dout[at4(n, co, oy, ox, p->cout, p->oh, p->ow)];
          for (int ci = 0; ci < p->cin; ci++)
            for (int i = 0; i < p->kh; i++)
              for (int j = 0; j < p->kw; j++) {
                int y = oy * p->sh - p->pt + i, xx = ox * p->sw - p->pl + j;
                if (y < 0 || y >= p->h || xx < 0 || xx >= p->w) continue;
                size_t xi = at4(n, ci, y, xx, p->cin, p->h, p->w), ki = conv_tap(p, co, ci, i, j);
                gx[xi] += g * kernel[ki];
                gk[ki] += g * x[xi];
              }
        }
  for (size_t i = 0; i < nx; i++) dx[i] = (float)gx[i];
  for (size_t i = 0; i < nk; i++) dkernel[i] = (float)gk[i];
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

void sn_ref_conv2d_transpose_forward(const sn_ref_conv *p, const float *x, const float *kernel,
                                     const float *bias, float *out) {
  const size_t ny = (size_t)p->batch * p->cout * p->oh * p->ow;
  double *acc = calloc(ny, sizeof *acc);
  for (int n = 0; n < p->batch; n++)
    for (int ci = 0; ci < p->cin; ci++)
      for (int iy = 0; iy < p->h; iy++)
        for (int ix = 0; ix < p->w; ix++) {
          const double v = x[at4(n, ci, iy, ix, p->cin, p->h, p->w)];
          for (int co = 0; co < p->cout; co++)
            for (int i = 0; i < p->kh; i++)
              for (int j = 0; j < p->kw; j++) {
                int oy = iy * p->sh - p->pt + i, ox = ix * p->sw - p->pl + j;
                if (oy < 0 || oy >= p->oh || ox < 0 || ox >= p->ow) continue;
                acc[at4(n, co, oy, ox, p->cout, p->oh, p->ow)] +=
                    v * kernel[at4(ci, co, i, j, p->cout, p->kh, p->kw)];
              }
        }
  for (size_t e = 0; e < ny; e++) {
    int co = (int)(e / ((size_t)p->oh * p->ow) % (size_t)p->cout);
    out[e] = (float)(acc[e] + (bias ? bias[co] : 0.0));
  }
  free(acc);
}

void sn_ref_conv2d_transpose_backward(const sn_ref_conv *p, const float *x, const float *kernel,
                                      const float *dout, float *dx, float *dkernel,
                                      float *dbias) {
  const size_t nk = (size_t)p->cin * p->cout * p->kh * p->kw;
  double *gk = calloc(nk, sizeof *gk);
  for (int n = 0; n < p->batch; n++)
    for (int ci = 0; ci < p->cin; ci++)
      for (int iy = 0; iy < p->h; iy++)
        for (int ix = 0; ix < p->w; ix++) {
          const size_t xi = at4(n, ci, iy, ix, p->cin, p->h, p->w);
          double gx = 0.0;
          for (int co = 0; co < p->cout; co++)
            for (int i = 0; i < p->kh; i++)
              for (int j = 0; j < p->kw; j++) {
                int oy = iy * p->sh - p->pt + i, ox = ix * p->sw - p->pl + j;
                if (oy < 0 || oy >= p->oh || ox < 0 || ox >= p->ow) continue;
                const size_t ki = at4(ci, co, i, j, p->cout, p->kh, p->kw);
                const double g = dout[at4(n, co, oy, ox, p->cout, p->oh, p->ow)];
                gx += g * kernel[ki];
                gk[ki] += g * x[xi];
              }
          dx[xi] = (float)gx;
        }
  for (size_t i = 0; i < nk; i++) dkernel[i] = (float)gk[i];
  if (dbias)
    for (int co = 0; co < p->cout; co++) {
      double s = 0.0;
      for (int n = 0; n < p->batch; n++)
        for (int e = 0; e < p->oh * p->ow; e++)
          s += dout[((size_t)n * p->cout + co) * p->oh * p->ow + e];
      dbias[co] = (float)s;
    }
  free(gk);
}
