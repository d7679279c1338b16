/* The resampler of `shardnet convert images`.
 *
 * Each axis is filtered on its own (rows first, then columns) with the triangle
 * kernel t(x) = max(0, 1 - |x|), where x is the distance between an output
 * pixel's centre mapped into the input, (i + 0.5) * in / out, and an input pixel's
 * centre, j + 0.5, measured in input pixels divided by s = max(1, in / out):
 * - upscaling (s = 1): the two nearest input pixels weighted by their distance,
 *   which is plain bilinear interpolation with half-pixel centres (what OpenCV's
 *   INTER_LINEAR and TensorFlow's bilinear resize compute);
 * - downscaling by a factor f (s = f): the kernel reaches f input pixels to either
 *   side, so every input pixel contributes to the outputs around it and shrinking
 *   averages instead of skipping pixels (antialiasing; PIL's BILINEAR filter).
 * Weights that fall outside the image are left out and the rest renormalised to
 * sum to 1, which at the edges equals clamping for bilinear upscaling; a constant
 * image stays constant and the same size is the identity. Sums are in float and
 * rounded once at the end. */
#include "io/image_resize.h"

#include "shardnet/checked.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The weights one axis of in pixels resized to out: output i reads inputs
 * first[i] .. first[i] + count[i] - 1 with weights[i * taps ...]. */
typedef struct {
  int taps;
  int *first, *count;
  float *weights;
} axis_filter;

static void axis_free(axis_filter *f) {
  free(f->first);
  free(f->count);
  free(f->weights);
}

static sn_status axis_make(axis_filter *f, int in, int out) {
  double scale = (double)in / out, stretch = scale > 1.0 ? scale : 1.0, support = stretch;
  f->taps = (int)ceil(2.0 * support) + 1;
  f->first = malloc((size_t)out * sizeof *f->first);
  f->count = malloc((size_t)out * sizeof *f->count);
  f->weights = calloc((size_t)out * (size_t)f->taps, sizeof *f->weights);
  if (!f->first || !f->count || !f->weights) {
    axis_free(f);
    memset(f, 0, sizeof *f);
    return sn_fail(SN_ERR_NOMEM, "cannot hold the resampling weights of %d to %d pixels", in, out);
  }
  for (int i = 0; i < out; i++) {
    double centre = (i + 0.5) * scale;
    int lo = (int)floor(centre - support + 0.5), hi = (int)floor(centre + support + 0.5);
    if (lo < 0) lo = 0;
    if (hi > in) hi = in;
    if (hi - lo > f->taps) hi = lo + f->taps;
    float *w = f->weights + (size_t)i * f->taps;
    double sum = 0.0;
    for (int j = lo; j < hi; j++) {
      double x = fabs(j + 0.5 - centre) / stretch;
      w[j - lo] = (float)(x < 1.0 ? 1.0 - x : 0.0);
      sum += w[j - lo];
    }
    /* the nearest input is at most half a pixel from the centre: sum >= 0.5 */
    for (int j = 0; j < hi - lo; j++) w[j] = (float)(w[j] / sum);
    f->first[i] = lo;
    f->count[i] = hi - lo;
  }
  return SN_OK;
}

/* tmp (sh x dw x c) from src (sh x sw x c): the rows filtered along x. */
static void filter_rows(float *tmp, const uint8_t *src, int sh, int sw, int dw, int c, const axis_filter *fx) {
  for (int y = 0; y < sh; y++) {
    const uint8_t *row = src + (size_t)y * sw * c;
    float *o = tmp + (size_t)y * dw * c;
    for (int x = 0; x < dw; x++) {
      const float *w = fx->weights + (size_t)x * fx->taps;
      const uint8_t *in = row + (size_t)fx->first[x] * c;
      for (int k = 0; k < c; k++) {
        float s = 0.0f;
        for (int j = 0; j < fx->count[x]; j++) s += w[j] * in[(size_t)j * c + k];
        o[(size_t)x * c + k] = s;
      }
    }
  }
}

/* dst (dh x dw x c) from tmp (sh x dw x c): the columns filtered along y, rounded. */
static void filter_columns(uint8_t *dst, const float *tmp, int dh, int dw, int c, const axis_filter *fy,
                           float *acc) {
  size_t row = (size_t)dw * c;
  for (int y = 0; y < dh; y++) {
    memset(acc, 0, row * sizeof *acc);
    for (int j = 0; j < fy->count[y]; j++) {
      float w = fy->weights[(size_t)y * fy->taps + j];
      const float *in = tmp + (size_t)(fy->first[y] + j) * row;
      for (size_t i = 0; i < row; i++) acc[i] += w * in[i];
    }
    uint8_t *o = dst + (size_t)y * row;
    for (size_t i = 0; i < row; i++) {
      float v = floorf(acc[i] + 0.5f);
      o[i] = (uint8_t)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
    }
  }
}

sn_status sn_image_resize(uint8_t *dst, int dh, int dw, const uint8_t *src, int sh, int sw, int c) {
  SN_ASSERT(dh > 0 && dw > 0 && sh > 0 && sw > 0 && c > 0);
  if (dh == sh && dw == sw) {
    memcpy(dst, src, (size_t)sh * sw * c);
    return SN_OK;
  }
  size_t tmp_floats;
  const size_t tmp_shape[3] = {(size_t)sh, (size_t)dw, (size_t)c};
  if (!sn_size_product(tmp_shape, 3, &tmp_floats) || tmp_floats > SIZE_MAX / 8)
    return sn_fail(SN_ERR_NOMEM, "cannot resize %dx%d to %dx%d: too large", sh, sw, dh, dw);
  axis_filter fx = {0}, fy = {0};
  SN_TRY(axis_make(&fx, sw, dw));
  sn_status st = axis_make(&fy, sh, dh);
  float *tmp = st == SN_OK ? malloc(tmp_floats * sizeof *tmp) : NULL;
  float *acc = tmp ? malloc((size_t)dw * c * sizeof *acc) : NULL;
  if (st == SN_OK && (!tmp || !acc))
    st = sn_fail(SN_ERR_NOMEM, "cannot resize %dx%d to %dx%d: %zu MiB of scratch memory are not there", sh, sw, dh,
                 dw, tmp_floats * sizeof *tmp >> 20);
  if (st == SN_OK) {
    filter_rows(tmp, src, sh, sw, dw, c, &fx);
    filter_columns(dst, tmp, dh, dw, c, &fy, acc);
  }
  free(tmp);
  free(acc);
  axis_free(&fx);
  axis_free(&fy);
  return st;
}
