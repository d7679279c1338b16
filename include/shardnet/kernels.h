/* Which compute kernels run the layers: oneDNN's (when shardnet was built with it)
 * or the native im2col + CBLAS ones, and at which precision. */
#ifndef SHARDNET_KERNELS_H
#define SHARDNET_KERNELS_H

#include "shardnet/status.h"

typedef enum { SN_KERNELS_NATIVE, SN_KERNELS_ONEDNN } sn_kernel_set;

/* `train.precision`: fp32 everywhere, or bf16 convolution inputs and weights with
 * fp32 accumulation (master weights, gradients, moments and statistics stay fp32). */
typedef enum { SN_PRECISION_FP32, SN_PRECISION_BF16 } sn_precision;

/* "fp32", "bf16" in sn_precision order. */
extern const char *const sn_precision_names[2];

/* 1 when shardnet was built with oneDNN. */
int sn_kernels_have_onednn(void);

/* The set layers use: oneDNN when built in, unless the environment variable
 * SHARDNET_KERNELS=native asks for the native kernels (the tests run both). */
sn_kernel_set sn_kernels_default(void);

/* 1 when this CPU runs bf16 convolutions in hardware (AVX512-BF16 or AMX) through
 * oneDNN; 0 otherwise (no oneDNN, or an older CPU). */
int sn_kernels_bf16_native(void);

/* SN_OK when this build and CPU run `precision`; otherwise fails with SN_ERR_UNSUPPORTED
 * and one line naming `what` (the config key or option that asked) and why. */
sn_status sn_kernels_check_precision(sn_precision precision, const char *what);

/* One line for banners: "oneDNN 2.6.3 (ISA avx512_core_bf16) + OpenBLAS ..." or
 * "native im2col + OpenBLAS ...". */
const char *sn_kernels_describe(sn_kernel_set set);

#endif
