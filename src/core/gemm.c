/* CBLAS wrapper: the one place that includes cblas.h. */
#include "shardnet/gemm.h"

#include <cblas.h>

void sn_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
             int lda, const float *b, int ldb, float beta, float *c, int ldc) {
  if (m <= 0 || n <= 0) return;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c,
              ldc);
}

#ifdef OPENBLAS_VERSION
const char *sn_blas_name(void) { return openblas_get_config(); }
#else
const char *sn_blas_name(void) { return "CBLAS"; }
#endif
