/* Tests of the standalone activation layers and softmax. */
#include <math.h>
#include <string.h>

#include "sn_test_layers.h"

static const float inputs[8] = {-3, -1, -0.25f, 0, 0.25f, 1, 3, -0.5f};

static void check_activation(const char *layers, double (*f)(double, double), double alpha) {
  sn_net *net = sn_test_net(sn_shape_chw(2, 2, 2), layers, 1);
  if (!net) return;
  float want[8];
  for (int i = 0; i < 8; i++) want[i] = (float)f(inputs[i], alpha);
  SN_ASSERT_CLOSE(sn_test_pass(net, inputs, 1, NULL, NULL), want, 8, 1e-6, 1e-7, layers);
  sn_net_destroy(net);
}

static double relu(double x, double a) { return x > 0 ? x : 0; }
static double leaky(double x, double a) { return x > 0 ? x : a * x; }
static double elu(double x, double a) { return x > 0 ? x : a * (exp(x) - 1); }
static double sigmoid(double x, double a) { return 1 / (1 + exp(-x)); }
static double tanh_(double x, double a) { return tanh(x); }

static void test_activation_values(void) {
  check_activation("relu", relu, 0);
  check_activation("leaky_relu", leaky, 0.01);
  check_activation("leaky_relu alpha=0.2", leaky, 0.2);
  check_activation("elu", elu, 1.0);
  check_activation("elu alpha=0.5", elu, 0.5);
  check_activation("sigmoid", sigmoid, 0);
  check_activation("tanh", tanh_, 0);
  CU_ASSERT_EQUAL(sn_test_build_status(sn_shape_chw(1, 2, 2), "relu alpha=0.1"), SN_ERR_CONFIG);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "key 'alpha' is not a known key"));
}

static void test_activation_gradients(void) {
  /* relu and leaky_relu are piecewise linear: a small step keeps clear of the kink. */
  const struct {
    const char *layers;
    double eps;
  } cases[] = {{"relu", 1e-3},    {"leaky_relu alpha=0.1", 1e-3}, {"elu", 1e-2},
               {"elu alpha=0.5", 1e-3}, {"sigmoid", 1e-2},      {"tanh", 1e-2},
               {"flatten; dense units=5; elu alpha=2; dense units=3; sigmoid", 1e-2}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    sn_net *net = sn_test_net(sn_shape_chw(2, 3, 4), cases[i].layers, 2);
    if (!net) continue;
    CU_ASSERT(sn_test_gradcheck(net, 2, 1, cases[i].eps, 1e-2, 500) <= 1e-2);
    sn_net_destroy(net);
  }
}

static void test_softmax_units(void) {
  sn_net *net = sn_test_net(sn_shape_chw(1, 1, 3), "flatten; softmax", 3);
  if (!net) return;
  /* the third row would overflow expf without subtracting the maximum */
  const float x[9] = {1, 2, 3, -5, 0, 5, 1000, 1001, 1002};
  const float *y = sn_test_pass(net, x, 3, NULL, NULL);
  const double z = 1 + exp(1) + exp(2);
  const float want0[3] = {(float)(1 / z), (float)(exp(1) / z), (float)(exp(2) / z)};
  SN_ASSERT_CLOSE(y, want0, 3, 1e-6, 0, "softmax of 1, 2, 3");
  SN_ASSERT_CLOSE(y + 6, want0, 3, 1e-6, 0, "softmax of 1000, 1001, 1002");
  for (int r = 0; r < 3; r++) {
    double s = 0;
    for (int c = 0; c < 3; c++) {
      CU_ASSERT(isfinite(y[r * 3 + c]) && y[r * 3 + c] >= 0);
      s += y[r * 3 + c];
    }
    CU_ASSERT_DOUBLE_EQUAL(s, 1.0, 1e-6);
  }
  sn_net_destroy(net);
}

static void test_softmax_channels(void) {
  /* (3, 2, 2): softmax down the 3 channels of each of the 4 pixels */
  sn_net *net = sn_test_net(sn_shape_chw(3, 2, 2), "softmax", 2);
  if (!net) return;
  float x[24];
  sn_test_fill(x, 24, 4, -3, 3);
  x[13] = 1000;
  x[17] = 999; /* sample 1, pixel 1: channels 0 and 1 */
  const float *y = sn_test_pass(net, x, 2, NULL, NULL);
  for (int n = 0; n < 2; n++)
    for (int p = 0; p < 4; p++) {
      double z = 0, s = 0, mx = -INFINITY;
      for (int c = 0; c < 3; c++) mx = fmax(mx, x[n * 12 + c * 4 + p]);
      for (int c = 0; c < 3; c++) z += exp(x[n * 12 + c * 4 + p] - mx);
      for (int c = 0; c < 3; c++) {
        const int i = n * 12 + c * 4 + p;
        CU_ASSERT_DOUBLE_EQUAL(y[i], exp(x[i] - mx) / z, 1e-6);
        s += y[i];
      }
      CU_ASSERT_DOUBLE_EQUAL(s, 1.0, 1e-6);
    }
  sn_net_destroy(net);
}

static void test_softmax_backward(void) {
  /* din = y * (dy - sum(dy * y)): a constant dy gives zero, since softmax ignores shifts */
  sn_net *net = sn_test_net(sn_shape_chw(4, 1, 1), "flatten; softmax", 1);
  if (!net) return;
  const float x[4] = {0.5f, -1, 2, 0}, same[4] = {3, 3, 3, 3}, zero[4] = {0};
  sn_test_pass(net, x, 1, NULL, same);
  SN_ASSERT_CLOSE(net->dinput, zero, 4, 0, 1e-6, "softmax backward of a constant");
  const float dy[4] = {1, 0, 0, 0};
  const float *y = sn_test_pass(net, x, 1, NULL, dy);
  float want[4];
  for (int i = 0; i < 4; i++) want[i] = y[i] * ((i == 0) - y[0]);
  SN_ASSERT_CLOSE(net->dinput, want, 4, 1e-5, 1e-7, "softmax Jacobian column");
  sn_net_destroy(net);
}

static void test_softmax_gradients(void) {
  const char *models[] = {"flatten; softmax", "softmax", "flatten; dense units=6; softmax"};
  for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
    sn_net *net = sn_test_net(sn_shape_chw(3, 2, 3), models[i], 2);
    if (!net) continue;
    CU_ASSERT(sn_test_gradcheck(net, 2, 1, 1e-2, 1e-2, 500) <= 1e-2);
    sn_net_destroy(net);
  }
}

int main(void) {
  const sn_test_case cases[] = {
      {"activation layers compute their formulas", test_activation_values},
      {"activation gradients match finite differences", test_activation_gradients},
      {"softmax over units sums to 1 and survives large inputs", test_softmax_units},
      {"softmax over channels per pixel", test_softmax_channels},
      {"softmax backward is y * (dy - sum(dy * y))", test_softmax_backward},
      {"softmax gradients match finite differences", test_softmax_gradients},
      {NULL, NULL}};
  return sn_test_main("activations", cases);
}
