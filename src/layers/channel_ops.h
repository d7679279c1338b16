/* Per-channel loops over a batch of (C, H, W) values in either layout, plain or
 * channel-blocked (SN_BLOCK channels innermost): the statistics and affine maps of
 * batch normalisation. Private to src/layers. */
#ifndef SN_LAYERS_CHANNEL_OPS_H
#define SN_LAYERS_CHANNEL_OPS_H

#include <stddef.h>

typedef struct {
  int batch, channels;
  size_t area;  /* H * W */
  int blocked;  /* channels is then a multiple of SN_BLOCK */
} sn_channel_view;

/* Doubles of scratch the sums below need (blocked: per-sample partial sums). */
size_t sn_channel_scratch_doubles(const sn_channel_view *v);

/* Per channel: sum of x and of x^2 over batch and area. The order of the additions
 * depends only on the shapes, never on the thread count. */
void sn_channel_moments(const sn_channel_view *v, const float *x, double *scratch, double *sum, double *sum_sq);

/* Per channel: sum of dy and of dy * (x - mean[ch]). */
void sn_channel_grad_sums(const sn_channel_view *v, const float *x, const float *dy, const double *mean,
                          double *scratch, double *sum_dy, double *sum_dy_xc);

/* out = a[ch] * u + b[ch] * w + k[ch] for every value (w and b may be NULL: no such
 * term); with add, out += instead, and out is never read otherwise. */
void sn_channel_map(const sn_channel_view *v, const float *a, const float *u, const float *b, const float *w,
                    const float *k, float *out, int add);

#endif
