/* Element-wise activation math, shared by activation layers and fused activations.
 * Every derivative is written through the output y, so backward needs no copy of
 * the pre-activation. Each kind has its own branch-free loop so that the compiler
 * vectorises it; a thread team is started only for large arrays (callers usually
 * run inside their own parallel region). */
#include <math.h>

#include "shardnet/layer.h"

/* Below this many values a thread team costs more than the loop. */
#define PARALLEL_MIN 262144

/* Runs `body` over i in [0, n): a simd loop, split across threads when n is large. */
#define FOR_EACH(n, body)                                                    \
  do {                                                                       \
    if ((n) >= PARALLEL_MIN) {                                               \
      _Pragma("omp parallel for simd schedule(static)")                      \
      for (size_t i = 0; i < (n); i++) { body; }                             \
    } else {                                                                 \
      _Pragma("omp simd")                                                    \
      for (size_t i = 0; i < (n); i++) { body; }                             \
    }                                                                        \
  } while (0)

void sn_activation_forward(sn_activation act, float *y, size_t n) {
  const float alpha = act.alpha;
  switch (act.kind) {
    case SN_ACT_NONE: break;
    case SN_ACT_RELU: FOR_EACH(n, y[i] = y[i] > 0.0f ? y[i] : 0.0f); break;
    case SN_ACT_LEAKY_RELU: FOR_EACH(n, y[i] = y[i] > 0.0f ? y[i] : alpha * y[i]); break;
    case SN_ACT_ELU: FOR_EACH(n, y[i] = y[i] > 0.0f ? y[i] : alpha * expm1f(y[i])); break;
    case SN_ACT_SIGMOID: FOR_EACH(n, y[i] = 1.0f / (1.0f + expf(-y[i]))); break;
    case SN_ACT_TANH: FOR_EACH(n, y[i] = tanhf(y[i])); break;
  }
}

/* The derivative loop of each kind: out(i, d) consumes d = f'(y[i]), written through y. */
#define DERIVATIVE_LOOP(n, out, ...)                                                           \
  switch (act.kind) {                                                                          \
    case SN_ACT_NONE: FOR_EACH(n, out(i, 1.0f)); break;                                        \
    case SN_ACT_RELU: FOR_EACH(n, out(i, y[i] > 0.0f ? 1.0f : 0.0f)); break;                  \
    case SN_ACT_LEAKY_RELU: FOR_EACH(n, out(i, y[i] > 0.0f ? 1.0f : act.alpha)); break;       \
    case SN_ACT_ELU: FOR_EACH(n, out(i, y[i] > 0.0f ? 1.0f : y[i] + act.alpha)); break;       \
    case SN_ACT_SIGMOID: FOR_EACH(n, out(i, y[i] * (1.0f - y[i]))); break;                    \
    case SN_ACT_TANH: FOR_EACH(n, out(i, 1.0f - y[i] * y[i])); break;                         \
  }

void sn_activation_backward(sn_activation act, const float *y, const float *dy, float *dx,
                            size_t n) {
#define ADD_INTO(i, d) dx[i] += dy[i] * (d)
  DERIVATIVE_LOOP(n, ADD_INTO)
#undef ADD_INTO
}


void sn_activation_gradient(sn_activation act, const float *y, const float *dy, float *dpre, size_t n) {
#define WRITE(i, d) dpre[i] = dy[i] * (d)
  DERIVATIVE_LOOP(n, WRITE)
#undef WRITE
}
