/* Element-wise activation math, shared by activation layers and fused activations.
 * Every derivative is written through the output y, so backward needs no copy of
 * the pre-activation. */
#include <math.h>

#include "shardnet/layer.h"

void sn_activation_forward(sn_activation act, float *y, size_t n) {
  const float alpha = act.alpha;
  switch (act.kind) {
    case SN_ACT_NONE: break;
    case SN_ACT_RELU:
#pragma omp parallel for simd if (n > 65536) schedule(static)
      for (size_t i = 0; i < n; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
      break;
    case SN_ACT_LEAKY_RELU:
#pragma omp parallel for simd if (n > 65536) schedule(static)
      for (size_t i = 0; i < n; i++) y[i] = y[i] > 0.0f ? y[i] : alpha * y[i];
      break;
    case SN_ACT_ELU:
#pragma omp parallel for if (n > 65536) schedule(static)
      for (size_t i = 0; i < n; i++) y[i] = y[i] > 0.0f ? y[i] : alpha * expm1f(y[i]);
      break;
    case SN_ACT_SIGMOID:
#pragma omp parallel for if (n > 65536) schedule(static)
      for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-y[i]));
      break;
    case SN_ACT_TANH:
#pragma omp parallel for if (n > 65536) schedule(static)
      for (size_t i = 0; i < n; i++) y[i] = tanhf(y[i]);
      break;
  }
}

static inline float derivative(sn_activation act, float y) {
  switch (act.kind) {
    case SN_ACT_NONE: return 1.0f;
    case SN_ACT_RELU: return y > 0.0f ? 1.0f : 0.0f;
    case SN_ACT_LEAKY_RELU: return y > 0.0f ? 1.0f : act.alpha;
    case SN_ACT_ELU: return y > 0.0f ? 1.0f : y + act.alpha;
    case SN_ACT_SIGMOID: return y * (1.0f - y);
    case SN_ACT_TANH: return 1.0f - y * y;
  }
  return 1.0f;
}

void sn_activation_backward(sn_activation act, const float *y, const float *dy, float *dx,
                            size_t n) {
#pragma omp parallel for if (n > 65536) schedule(static)
  for (size_t i = 0; i < n; i++) dx[i] += dy[i] * derivative(act, y[i]);
}

void sn_activation_backward_inplace(sn_activation act, const float *y, float *dy, size_t n) {
  if (act.kind == SN_ACT_NONE) return;
#pragma omp parallel for if (n > 65536) schedule(static)
  for (size_t i = 0; i < n; i++) dy[i] *= derivative(act, y[i]);
}
