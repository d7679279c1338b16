/* Test support for layer suites: one pass with a given output gradient, failing builds. */
#ifndef SN_TEST_LAYERS_H
#define SN_TEST_LAYERS_H

#include "sn_test.h"

/* Forward x (batch samples) under pass, or under a zero pass (inference, seed 0) when
 * pass is NULL; when dout is not NULL, backpropagates it too (net->dinput and
 * net->grads receive the gradients; grads are zeroed first). Returns the output. */
const float *sn_test_pass(sn_net *net, const float *x, int batch, const sn_pass *pass,
                          const float *dout);

/* Builds a net from sn_test_spec(input, layers) that should fail; returns the status
 * (sn_last_error() keeps its message) and destroys the net if it was built after all. */
sn_status sn_test_build_status(sn_shape input, const char *layers);

#endif
