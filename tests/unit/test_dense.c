/* Dense and flatten: exact values and gradient checks. */
#include <string.h>

#include "sn_test.h"

static void test_dense_values(void) {
  sn_net *net = sn_test_net(sn_shape_chw(1, 1, 3), "flatten; dense units=2", 2);
  if (!net) return;
  /* kernel (3, 2) and bias (2) */
  const float kernel[6] = {1, 2, 3, 4, 5, 6}, bias[2] = {0.5f, -0.5f};
  for (int i = 0; i < 6; i++) net->layers[1].params[0].data[i] = kernel[i];
  for (int i = 0; i < 2; i++) net->layers[1].params[1].data[i] = bias[i];
  const float x[6] = {1, 0, -1, 2, 1, 0};
  sn_pass pass = {0};
  sn_net_forward(net, x, 2, &pass);
  const float want[4] = {1 - 5 + 0.5f, 2 - 6 - 0.5f, 2 + 3 + 0.5f, 4 + 4 - 0.5f};
  SN_ASSERT_CLOSE(sn_net_output(net), want, 4, 0, 1e-6, "dense output");
  sn_net_destroy(net);
}

static void test_dense_gradients(void) {
  const char *models[] = {"flatten; dense units=5", "flatten; dense units=4 activation=tanh",
                          "flatten; dense units=3 bias=false activation=sigmoid",
                          "flatten; dense units=3 activation=elu",
                          "flatten; dense units=3 activation=leaky_relu alpha=0.1"};
  for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
    sn_net *net = sn_test_net(sn_shape_chw(2, 3, 2), models[i], 3);
    if (!net) continue;
    sn_test_gradcheck(net, 3, 1, 1e-2, 1e-2, 200);
    sn_net_destroy(net);
  }
}

static void test_dense_needs_flatten(void) {
  sn_model_spec spec;
  sn_net *net = NULL;
  CU_ASSERT_EQUAL(sn_test_spec(sn_shape_chw(3, 4, 4), "dense units=4", SN_LOSS_MSE, &spec), SN_OK);
  CU_ASSERT_EQUAL(sn_net_create(&spec, &net), SN_ERR_SHAPE);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "add a flatten layer"));
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "3x4x4"));
  sn_model_spec_clear(&spec);
}

int main(void) {
  const sn_test_case cases[] = {{"dense computes x.W + b", test_dense_values},
                                {"dense gradients match finite differences", test_dense_gradients},
                                {"dense after a 4-D tensor asks for flatten", test_dense_needs_flatten},
                                {NULL, NULL}};
  return sn_test_main("dense", cases);
}
