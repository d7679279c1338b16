/* Shared conv-layer test harness: one layer against the naive reference on one shape. */
#ifndef SN_CONV_CHECK_H
#define SN_CONV_CHECK_H

#include "reference_conv.h"
#include "sn_test.h"

/* One comparison: the layer's keys, and the sizes worked out by hand (not by the
 * code under test) for the reference. flip is conv2d only. */
typedef struct {
  const char *keys;
  int cin, h, w, cout, kh, kw, sh, sw, pt, pl, oh, ow, flip, bias;
} sn_conv_case;

typedef void (*sn_ref_conv_forward_fn)(const sn_ref_conv *p, const float *x, const float *kernel,
                                       const float *bias, float *out);
typedef void (*sn_ref_conv_backward_fn)(const sn_ref_conv *p, const float *x, const float *kernel,
                                        const float *dout, float *dx, float *dkernel,
                                        float *dbias);

/* The layer under test: its type name, its reference, the first of the seven seeds
 * the harness fills with (kernel, bias, x, dout, then the prior din, kernel and bias
 * gradients) and whether its kernel is stored (cin, cout, ...) and checked so. */
typedef struct {
  const char *type;
  sn_ref_conv_forward_fn forward;
  sn_ref_conv_backward_fn backward;
  unsigned seed;
  int kernel_cin_first;
} sn_conv_layer;

/* Forward through a one-layer net of batch 3 (reserved for 4), then the layer's backward called
 * directly on buffers that already hold values, so that "adds into din and the
 * gradients" is checked too; then again without din. Asserts through CUnit, each
 * message naming the case's keys. */
void sn_conv_check_case(const sn_conv_layer *layer, const sn_conv_case *k);

/* Gradient check (batch 2, training, eps and tolerance 1e-2, at most 200 elements
 * per tensor) of each of the n one-line models on input in. */
void sn_conv_gradcheck_models(sn_shape in, const char *const *models, size_t n);

/* Output of a bias-free single-layer net "<type> bias=false <keys>" with the given
 * kernel, for one sample; *net is to be destroyed by the caller. NULL if not built. */
const float *sn_conv_once(sn_net **net, const char *type, sn_shape in, const char *keys,
                          const float *kernel, const float *x);

/* Asserts that building layers on input in fails with status and a message holding
 * text1 (and text2 when not NULL). */
void sn_conv_expect_error(sn_shape in, const char *layers, sn_status status, const char *text1,
                          const char *text2);

#endif
