/* Which kernel set runs, and how it is described in banners. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shardnet/gemm.h"
#include "shardnet/kernels.h"
#include "shardnet/version.h"

#ifdef SN_HAVE_ONEDNN
#include "kernels/onednn.h"
#endif

const char *const sn_precision_names[2] = {"fp32", "bf16"};

int sn_kernels_have_onednn(void) {
#ifdef SN_HAVE_ONEDNN
  return sn_dnnl_engine() != NULL;
#else
  return 0;
#endif
}

sn_kernel_set sn_kernels_default(void) {
  const char *want = getenv("SHARDNET_KERNELS");
  if (want && !strcmp(want, "native")) return SN_KERNELS_NATIVE;
  return sn_kernels_have_onednn() ? SN_KERNELS_ONEDNN : SN_KERNELS_NATIVE;
}

int sn_kernels_bf16_native(void) {
#ifdef SN_HAVE_ONEDNN
  const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  return sn_kernels_have_onednn() &&
         (isa == dnnl_cpu_isa_avx512_core_bf16 || isa == dnnl_cpu_isa_avx512_core_amx);
#else
  return 0;
#endif
}

sn_status sn_kernels_check_precision(sn_precision precision, const char *what) {
  if (precision == SN_PRECISION_FP32) return SN_OK;
  if (sn_kernels_default() == SN_KERNELS_ONEDNN && sn_kernels_bf16_native()) return SN_OK;
#ifdef SN_HAVE_ONEDNN
  if (sn_kernels_default() == SN_KERNELS_NATIVE)
    return sn_fail(SN_ERR_UNSUPPORTED, "%s: bf16 runs on the oneDNN kernels, but SHARDNET_KERNELS=native "
                   "asks for the native ones (fp32 only); unset it or use fp32", what);
  return sn_fail(SN_ERR_UNSUPPORTED, "%s: bf16 needs a CPU with AVX512-BF16 or AMX, and this one has "
                 "neither; use fp32", what);
#else
  return sn_fail(SN_ERR_UNSUPPORTED, "%s: bf16 needs shardnet built with oneDNN (libdnnl-dev), and this "
                 "build has only the native fp32 kernels; use fp32", what);
#endif
}

#ifdef SN_HAVE_ONEDNN
static const char *isa_name(dnnl_cpu_isa_t isa) {
  switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "generic";
  }
}
#endif

const char *sn_onednn_library_version(void) {
#ifdef SN_HAVE_ONEDNN
  static char text[64];
  const dnnl_version_t *v = dnnl_version();
  snprintf(text, sizeof text, "%d.%d.%d (%s)", v->major, v->minor, v->patch, isa_name(dnnl_get_effective_cpu_isa()));
  return text;
#else
  return "not built in (the native kernels run)";
#endif
}

const char *sn_kernels_describe(sn_kernel_set set) {
  static char line[256];
#ifdef SN_HAVE_ONEDNN
  if (set == SN_KERNELS_ONEDNN && sn_kernels_have_onednn()) {
    snprintf(line, sizeof line, "oneDNN %s + %s", sn_onednn_library_version(), sn_blas_name());
    return line;
  }
#endif
  snprintf(line, sizeof line, "native im2col + %s", sn_blas_name());
  return line;
}
