/* The convolution kernels behind conv2d and conv2d_transpose: one small interface,
 * two implementations (native: im2col + CBLAS, samples over OpenMP threads; oneDNN:
 * its direct convolutions on blocked layouts). Layers keep configs, shapes and
 * parameters; a kernel only sees NCHW batches, an OIHW-style kernel tensor and the
 * buffers it is handed. Private to src/kernels and src/layers. */
#ifndef SN_KERNELS_CONV_H
#define SN_KERNELS_CONV_H

#include <stddef.h>

#include "kernels/im2col.h"
#include "shardnet/kernels.h"
#include "shardnet/layer.h"

/* One convolution layer as a kernel sees it. g is the convolution seen from the
 * image side (im2col.h): for a convolution the image is the input x (g.c = cin) and
 * the grid the output y; for a transposed convolution the image is the output
 * (g.c = cout) and the grid the input. The kernel tensor is (cout, cin, kh, kw) for a
 * convolution and (cin, cout, kh, kw) for a transposed one. */
typedef struct {
  int transposed;
  sn_conv_geom g;
  int cin, cout;
  int pb, pr;           /* padding at the bottom and right (g has top and left) */
  int has_bias;
  sn_activation act;    /* applied to the output; backward differentiates it first */
  int dy_scratch;       /* backward gets dy as scratch (sn_conv_bwd_args.dy_scratch) */
  int no_dx;            /* backward never gets a dx: no buffers for it */
  int x_blocked;        /* x and dx are channel-blocked (SN_BLOCK), not NCHW */
  int y_blocked;        /* y and dy are */
} sn_conv_spec;

typedef struct sn_conv_kernel sn_conv_kernel;

/* What one call runs on. x: batch x input sample; y: batch x output sample; w and
 * bias: the layer's parameters; work: `workspace` floats of scratch, 64-byte aligned. */
typedef struct {
  int batch;
  const float *x, *w, *bias;
  float *y;
  float *work;
} sn_conv_fwd_args;

/* Backward ADDS into dx (NULL: not needed), dw and db (NULL without a bias); with
 * dx_fresh it writes dx instead. y and dy are the forward output and the gradient at
 * it; with dy_scratch (only for a kernel made with spec.dy_scratch) the kernel may
 * overwrite dy. */
typedef struct {
  int batch;
  int dy_scratch;
  int dx_fresh;
  const float *x, *w, *y;
  float *dy;
  float *dx, *dw, *db;
  float *work;
} sn_conv_bwd_args;

/* Creates the kernel for batches of up to max_batch on up to `threads` threads:
 * with the oneDNN set, its primitives for every pass are made here, never in a step.
 * A precision or shape the set cannot run falls back to the native kernel (fp32);
 * sn_conv_kernel_name says what runs. */
sn_status sn_conv_kernel_create(const sn_conv_spec *spec, int max_batch, int threads,
                                sn_precision precision, sn_kernel_set set, sn_conv_kernel **out);
void sn_conv_kernel_destroy(sn_conv_kernel *k);
/* Scratch floats forward and backward need (the larger of the two). */
size_t sn_conv_kernel_workspace(const sn_conv_kernel *k);
/* "native", "oneDNN jit:avx512_core", "oneDNN jit_bf16:avx512_core_bf16", ... */
const char *sn_conv_kernel_name(const sn_conv_kernel *k);
/* Whether the kernel can be made with x_blocked and y_blocked (oneDNN's can). */
int sn_conv_kernel_takes_blocked(const sn_conv_kernel *k);
void sn_conv_kernel_forward(const sn_conv_kernel *k, const sn_conv_fwd_args *a);
void sn_conv_kernel_backward(const sn_conv_kernel *k, const sn_conv_bwd_args *a);

/* The two implementations (conv_native.c, conv_onednn.c), behind one table. */
typedef struct {
  size_t (*workspace)(const void *impl);
  const char *(*name)(const void *impl);
  int takes_blocked;
  void (*forward)(const void *impl, const sn_conv_fwd_args *a);
  void (*backward)(const void *impl, const sn_conv_bwd_args *a);
  void (*destroy)(void *impl);
} sn_conv_impl_ops;

sn_status sn_conv_native_create(const sn_conv_spec *spec, int max_batch, int threads, void **impl,
                                const sn_conv_impl_ops **ops);
/* SN_ERR_UNSUPPORTED (nothing printed) when oneDNN is not built in or has no
 * implementation for this shape and precision. */
sn_status sn_conv_onednn_create(const sn_conv_spec *spec, int max_batch, sn_precision precision,
                                void **impl, const sn_conv_impl_ops **ops);

#endif
