/* Tests of add and concat, and of fan-out gradients summing through merges. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sn_test_layers.h"

static void test_add_values(void) {
  /* relu(x) + sigmoid(x) + x, the network input read by three layers */
  sn_net *net = sn_test_net(sn_shape_chw(2, 2, 2),
                            "relu name=a; sigmoid name=b inputs=input; add inputs=a,b,input", 2);
  if (!net) return;
  float x[16], want[16];
  sn_test_fill(x, 16, 1, -2, 2);
  for (int i = 0; i < 16; i++)
    want[i] = (x[i] > 0 ? x[i] : 0) + 1.0f / (1.0f + expf(-x[i])) + x[i];
  SN_ASSERT_CLOSE(sn_test_pass(net, x, 2, NULL, NULL), want, 16, 1e-6, 1e-6, "add of three");
  sn_net_destroy(net);

  /* One input named twice: out = 2x, and its gradient arrives twice. */
  net = sn_test_net(sn_shape_chw(1, 2, 2), "add inputs=input,input", 1);
  if (!net) return;
  const float x2[4] = {1, -2, 3, 0.5f}, dout[4] = {1, 2, 3, 4};
  const float want2[4] = {2, -4, 6, 1}, want_din[4] = {2, 4, 6, 8};
  SN_ASSERT_CLOSE(sn_test_pass(net, x2, 1, NULL, dout), want2, 4, 0, 0, "x + x");
  SN_ASSERT_CLOSE(net->dinput, want_din, 4, 0, 0, "gradient of x + x");
  sn_net_destroy(net);
}

static void test_concat_values(void) {
  /* channels: per sample, the input's 2 channels then relu's 2 */
  sn_net *net = sn_test_net(sn_shape_chw(2, 1, 2), "relu name=a; concat inputs=input,a", 2);
  if (!net) return;
  const float x[8] = {1, -1, 2, -2, -3, 3, 4, -4};
  const float want[16] = {1, -1, 2, -2, 1, 0, 2, 0, -3, 3, 4, -4, 0, 3, 4, 0};
  sn_shape s = sn_net_output_shape(net);
  CU_ASSERT(s.ndim == 3 && s.d[0] == 4 && s.d[1] == 1 && s.d[2] == 2);
  float dout[16];
  for (int i = 0; i < 16; i++) dout[i] = (float)(i + 1);
  SN_ASSERT_CLOSE(sn_test_pass(net, x, 2, NULL, dout), want, 16, 0, 0, "concat channels");
  /* din = the input's slice + relu'(x) * relu's slice */
  const float want_din[8] = {1 + 5, 2, 3 + 7, 4, 9, 10 + 14, 11 + 15, 12};
  SN_ASSERT_CLOSE(net->dinput, want_din, 8, 0, 0, "concat backward");
  sn_net_destroy(net);

  /* units: (3) then (4) */
  net = sn_test_net(sn_shape_chw(1, 2, 2), "flatten name=f; avgpool2d size=2 inputs=input; "
                                           "flatten name=g; concat inputs=g,f", 1);
  if (!net) return;
  const float x2[4] = {1, 2, 3, 6}, want2[5] = {3, 1, 2, 3, 6};
  s = sn_net_output_shape(net);
  CU_ASSERT(s.ndim == 1 && s.d[0] == 5);
  SN_ASSERT_CLOSE(sn_test_pass(net, x2, 1, NULL, NULL), want2, 5, 0, 0, "concat units");
  sn_net_destroy(net);
}

static void test_shape_errors(void) {
  CU_ASSERT_EQUAL(sn_test_build_status(sn_shape_chw(1, 4, 4), "maxpool2d size=2 name=p; add inputs=p,input"),
                  SN_ERR_SHAPE);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "input 1 is 1x2x2 and input 2 is 1x4x4"));
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "(add)"));
  CU_ASSERT_EQUAL(sn_test_build_status(sn_shape_chw(1, 4, 4), "flatten name=f; add inputs=input,f"),
                  SN_ERR_SHAPE);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "1x4x4 and input 2 is 16"));
  CU_ASSERT_EQUAL(sn_test_build_status(sn_shape_chw(2, 4, 4), "maxpool2d size=2 name=p; concat inputs=input,p"),
                  SN_ERR_SHAPE);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "input 1 is 4x4 (2x4x4) and input 2 is 2x2 (2x2x2)"));
  CU_ASSERT_EQUAL(sn_test_build_status(sn_shape_chw(2, 4, 4), "flatten name=f; concat inputs=input,f"),
                  SN_ERR_SHAPE);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "input 1 is 2x4x4, input 2 is 32"));
  /* one input is not a merge */
  CU_ASSERT_EQUAL(sn_test_build_status(sn_shape_chw(2, 4, 4), "add"), SN_ERR_CONFIG);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "takes 2 to 8 inputs"));
  CU_ASSERT_EQUAL(sn_test_build_status(sn_shape_chw(2, 4, 4), "concat inputs=input"), SN_ERR_CONFIG);
}

static void test_residual_fan_out(void) {
  /* x -> flatten f -> dense d (identity kernel, zero bias) -> relu r -> add(r, f).
   * f feeds both dense and add; with x > 0 the output is 2x, and f's gradient is the sum
   * of both paths: 2 * dout. Overwriting instead of adding would give 1 * dout. */
  sn_net *net = sn_test_net(sn_shape_chw(1, 1, 4),
                            "flatten name=f; dense units=4 name=d; relu name=r; add inputs=r,f", 1);
  if (!net) return;
  float *kernel = net->layers[1].params[0].data;
  memset(kernel, 0, 16 * sizeof *kernel);
  for (int i = 0; i < 4; i++) kernel[i * 4 + i] = 1.0f;
  const float x[4] = {0.5f, 1, 2, 3}, dout[4] = {1, -2, 3, -4};
  const float want[4] = {1, 2, 4, 6}, want_din[4] = {2, -4, 6, -8};
  SN_ASSERT_CLOSE(sn_test_pass(net, x, 1, NULL, dout), want, 4, 0, 0, "residual output");
  SN_ASSERT_CLOSE(net->dinput, want_din, 4, 0, 0, "fan-out gradient");
  /* the kernel gradient is x (outer) dout through the relu */
  CU_ASSERT_DOUBLE_EQUAL(net->layers[1].params[0].grad[2 * 4 + 3], 2 * -4, 0);
  sn_net_destroy(net);
}

static void test_gradients(void) {
  const char *models[] = {
      "sigmoid name=a; tanh name=b inputs=input; add inputs=a,b,input",
      "elu name=a; concat inputs=input,a,input",
      "flatten name=f; dense units=3 name=d activation=tanh; concat inputs=d,f",
      "flatten name=f; dense units=18 name=d; elu name=r; add inputs=r,f; dense units=4",
      "avgpool2d size=3 stride=1 padding=same name=p; add inputs=p,input; upsample2d mode=bilinear"};
  for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
    sn_net *net = sn_test_net(sn_shape_chw(2, 3, 3), models[i], 2);
    if (!net) continue;
    CU_ASSERT(sn_test_gradcheck(net, 2, 1, 1e-2, 1e-2, 300) <= 1e-2);
    sn_net_destroy(net);
  }
}

static void test_every_layer_adds_into_din(void) {
  /* The input feeds layer l and then a flatten; backward runs the flatten first, so a
   * layer that set din instead of adding to it would erase the flatten's share. */
  const char *layers[] = {"maxpool2d size=2 stride=1", "avgpool2d size=3 padding=same",
                          "minpool2d size=2", "global_avgpool2d", "upsample2d",
                          "upsample2d mode=bilinear", "dropout rate=0.3", "batchnorm2d",
                          "relu", "leaky_relu", "elu", "sigmoid", "tanh", "softmax",
                          "concat inputs=input,input", "add inputs=input,input"};
  for (size_t i = 0; i < sizeof layers / sizeof *layers; i++) {
    char model[256];
    snprintf(model, sizeof model, "%s name=l; flatten name=f inputs=input; flatten name=g inputs=l; "
             "concat inputs=f,g", layers[i]);
    sn_net *net = sn_test_net(sn_shape_chw(2, 3, 3), model, 2);
    if (!net) continue;
    /* max/min select exactly; a small step avoids near-ties */
    double eps = strstr(layers[i], "maxpool") || strstr(layers[i], "minpool") ? 1e-4 : 1e-2;
    double worst = sn_test_gradcheck(net, 2, 1, eps, 1e-2, 300);
    if (worst > 1e-2) fprintf(stderr, "  in '%s'\n", model);
    CU_ASSERT(worst <= 1e-2);
    sn_net_destroy(net);
  }
}

int main(void) {
  const sn_test_case cases[] = {{"add sums its inputs", test_add_values},
                                {"concat joins channels and units", test_concat_values},
                                {"mismatched shapes are named", test_shape_errors},
                                {"fan-out gradients add up through a residual add", test_residual_fan_out},
                                {"merge gradients match finite differences", test_gradients},
                                {"every layer adds into a shared input gradient", test_every_layer_adds_into_din},
                                {NULL, NULL}};
  return sn_test_main("merge", cases);
}
