/* The fully connected kernels behind the dense layer: x (batch, in) . W (in, units)
 * (+ bias), the data gradient dpre . W^T and the kernel gradient x^T . dpre, through
 * CBLAS (native) or oneDNN's matmul (fp32, or bf16 inputs with fp32 accumulation).
 * The layer keeps its activation, bias gradient and the by-rows plumbing. Private to
 * src/kernels and src/layers. */
#ifndef SN_KERNELS_DENSE_H
#define SN_KERNELS_DENSE_H

#include <stddef.h>

#include "shardnet/kernels.h"
#include "shardnet/status.h"

typedef struct {
  int in, units;
  int has_bias;
} sn_dense_spec;

typedef struct sn_dense_kernel sn_dense_kernel;

/* Made for batches of up to max_batch; oneDNN primitives for the full batch and for
 * any smaller one are made here. Falls back to the native kernel (fp32) where oneDNN
 * is absent or declines. */
sn_status sn_dense_kernel_create(const sn_dense_spec *spec, int max_batch, sn_precision precision,
                                 sn_kernel_set set, sn_dense_kernel **out);
void sn_dense_kernel_destroy(sn_dense_kernel *k);
size_t sn_dense_kernel_workspace(const sn_dense_kernel *k);
const char *sn_dense_kernel_name(const sn_dense_kernel *k);

/* y (batch, units) = x . W + bias (bias NULL: none). */
void sn_dense_kernel_forward(const sn_dense_kernel *k, int batch, const float *x, const float *w,
                             const float *bias, float *y, float *work);
/* dx (batch, in) += dpre (batch, units) . W^T. */
void sn_dense_kernel_backward_data(const sn_dense_kernel *k, int batch, const float *dpre, const float *w,
                                   float *dx, float *work);
/* Rows [lo, hi) of the kernel gradient: dst = beta * dst + x[:, lo:hi]^T . dpre, dst
 * pointing at row lo (rows of `units` floats). */
void sn_dense_kernel_weight_rows(const sn_dense_kernel *k, int batch, const float *x, const float *dpre, int lo,
                                 int hi, float *dst, float beta, float *work);

/* The oneDNN implementation (dense_onednn.c); NULL from create when it declines. */
typedef struct sn_dense_onednn sn_dense_onednn;
sn_dense_onednn *sn_dense_onednn_create(const sn_dense_spec *spec, int max_batch, sn_precision precision);
void sn_dense_onednn_destroy(sn_dense_onednn *d);
size_t sn_dense_onednn_workspace(const sn_dense_onednn *d);
const char *sn_dense_onednn_name(const sn_dense_onednn *d);
/* Each returns 1 when it ran, 0 for what it has no primitive for (a smaller batch, a
 * part of the kernel's rows, beta 0), which the caller computes natively. */
int sn_dense_onednn_forward(const sn_dense_onednn *d, int batch, const float *x, const float *w,
                            const float *bias, float *y, float *work);
int sn_dense_onednn_backward_data(const sn_dense_onednn *d, int batch, const float *dpre, const float *w,
                                  float *dx, float *work);
int sn_dense_onednn_weight_rows(const sn_dense_onednn *d, int batch, const float *x, const float *dpre, int lo,
                                int hi, float *dst, float beta, float *work);

#endif
