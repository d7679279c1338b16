/* Naive direct convolution kernels, the test-only reference the fast im2col + GEMM
 * layers are compared against. Straight loops over the definition, float64 sums. */
#ifndef SN_REFERENCE_CONV_H
#define SN_REFERENCE_CONV_H

/* One convolution's sizes. For conv2d the input (cin, h, w) is read by a kernel
 * (cout, cin, kh, kw); for conv2d_transpose the input (cin, h, w) is scattered through
 * a kernel (cin, cout, kh, kw). Either way an input/output pair is related by
 * input row = output row * sh - pt + ki (conv2d) or output row = input row * sh - pt +
 * ki (transpose), and likewise for columns. */
typedef struct {
  int batch;
  int cin, h, w;
  int cout, kh, kw;
  int sh, sw;
  int pt, pl;    /* padding before the first row and column */
  int oh, ow;    /* output size */
  int flip;      /* conv2d only: true convolution, the kernel rotated 180 degrees */
} sn_ref_conv;

/* out (batch, cout, oh, ow) = cross-correlation of x with kernel, + bias (may be NULL). */
void sn_ref_conv2d_forward(const sn_ref_conv *p, const float *x, const float *kernel,
                           const float *bias, float *out);
/* dx (batch, cin, h, w), dkernel, dbias (may be NULL) = gradients of sum(dout * out);
 * overwritten, not accumulated. */
void sn_ref_conv2d_backward(const sn_ref_conv *p, const float *x, const float *kernel,
                            const float *dout, float *dx, float *dkernel, float *dbias);

/* out (batch, cout, oh, ow): every input pixel adds kernel[ci][co] times itself at
 * output (iy*sh - pt + ki, ix*sw - pl + kj), then + bias (may be NULL). */
void sn_ref_conv2d_transpose_forward(const sn_ref_conv *p, const float *x, const float *kernel,
                                     const float *bias, float *out);
void sn_ref_conv2d_transpose_backward(const sn_ref_conv *p, const float *x, const float *kernel,
                                      const float *dout, float *dx, float *dkernel,
                                      float *dbias);

#endif
