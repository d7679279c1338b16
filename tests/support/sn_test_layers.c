/* One-pass and failing-build helpers for the layer test suites. */
#include "sn_test_layers.h"

#include <string.h>

const float *sn_test_pass(sn_net *net, const float *x, int batch, const sn_pass *pass,
                          const float *dout) {
  const sn_pass inference = {0};
  if (!pass) pass = &inference;
  sn_net_forward(net, x, batch, pass);
  if (dout) {
    size_t n = (size_t)batch * sn_shape_size(sn_net_output_shape(net));
    memcpy(sn_net_output_grad(net), dout, n * sizeof *dout);
    sn_net_zero_grad(net);
    sn_net_backward(net, x, batch, pass);
  }
  return sn_net_output(net);
}

sn_status sn_test_build_status(sn_shape input, const char *layers) {
  sn_model_spec spec;
  sn_net *net = NULL;
  sn_status st = sn_test_spec(input, layers, SN_LOSS_MSE, &spec);
  if (st == SN_OK) st = sn_net_create(&spec, &net);
  sn_model_spec_clear(&spec);
  sn_net_destroy(net);
  return st;
}
