/* The engine's matrix core: row-major single-precision GEMM through CBLAS. */
#ifndef SHARDNET_GEMM_H
#define SHARDNET_GEMM_H

/* C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C, all row-major.
 * Safe to call from inside an OpenMP parallel region (the BLAS then runs on the
 * calling thread only). */
void sn_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
             int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* Name and configuration of the BLAS linked in ("OpenBLAS 0.3.21 ..."). */
const char *sn_blas_name(void);

#endif
