/* The dense kernel: oneDNN's matmul where it runs, CBLAS otherwise. */
#include "kernels/dense.h"

#include <stdlib.h>
#include <string.h>

#include "shardnet/gemm.h"

struct sn_dense_kernel {
  sn_dense_spec s;
  sn_dense_onednn *onednn;  /* NULL: native */
};

sn_status sn_dense_kernel_create(const sn_dense_spec *spec, int max_batch, sn_precision precision,
                                 sn_kernel_set set, sn_dense_kernel **out) {
  sn_dense_kernel *k = calloc(1, sizeof *k);
  if (!k) return sn_fail(SN_ERR_NOMEM, "cannot allocate a dense kernel");
  k->s = *spec;
  if (set == SN_KERNELS_ONEDNN) k->onednn = sn_dense_onednn_create(spec, max_batch, precision);
  *out = k;
  return SN_OK;
}

void sn_dense_kernel_destroy(sn_dense_kernel *k) {
  if (!k) return;
  sn_dense_onednn_destroy(k->onednn);
  free(k);
}

size_t sn_dense_kernel_workspace(const sn_dense_kernel *k) {
  return k->onednn ? sn_dense_onednn_workspace(k->onednn) : 0;
}

const char *sn_dense_kernel_name(const sn_dense_kernel *k) {
  return k->onednn ? sn_dense_onednn_name(k->onednn) : "native";
}

void sn_dense_kernel_forward(const sn_dense_kernel *k, int batch, const float *x, const float *w,
                             const float *bias, float *y, float *work) {
  if (k->onednn && sn_dense_onednn_forward(k->onednn, batch, x, w, bias, y, work)) return;
  const int in = k->s.in, units = k->s.units;
  float beta = 0.0f;
  if (bias) {
    for (int i = 0; i < batch; i++) memcpy(y + (size_t)i * units, bias, (size_t)units * sizeof(float));
    beta = 1.0f;
  }
  sn_gemm(0, 0, batch, units, in, 1.0f, x, in, w, units, beta, y, units);
}

void sn_dense_kernel_backward_data(const sn_dense_kernel *k, int batch, const float *dpre, const float *w,
                                   float *dx, float *work) {
  if (k->onednn && sn_dense_onednn_backward_data(k->onednn, batch, dpre, w, dx, work)) return;
  sn_gemm(0, 1, batch, k->s.in, k->s.units, 1.0f, dpre, k->s.units, w, k->s.units, 1.0f, dx, k->s.in);
}

void sn_dense_kernel_weight_rows(const sn_dense_kernel *k, int batch, const float *x, const float *dpre, int lo,
                                 int hi, float *dst, float beta, float *work) {
  if (k->onednn && sn_dense_onednn_weight_rows(k->onednn, batch, x, dpre, lo, hi, dst, beta, work)) return;
  const int in = k->s.in, units = k->s.units;
  sn_gemm(1, 0, hi - lo, units, batch, 1.0f, x + lo, in, dpre, units, beta, dst, units);
}
