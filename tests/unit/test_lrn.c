/* Tests of lrn: values against the formula computed directly, against PyTorch's
 * LocalResponseNorm on a fixed input, gradients, and its errors. */
#include <math.h>
#include <string.h>

#include "sn_test_layers.h"

/* The definition, one value at a time. */
static void direct(const float *x, int c, int hw, int size, double alpha, double beta, double k, float *y) {
  for (int ch = 0; ch < c; ch++)
    for (int p = 0; p < hw; p++) {
      double sum = 0;
      for (int j = ch - size / 2; j <= ch + (size - 1) / 2; j++)
        if (j >= 0 && j < c) sum += (double)x[j * hw + p] * x[j * hw + p];
      y[ch * hw + p] = (float)(x[ch * hw + p] / pow(k + alpha / size * sum, beta));
    }
}

static void test_matches_the_formula(void) {
  const struct {
    const char *keys;
    int size;
    double alpha, beta, k;
  } cases[] = {{"lrn", 5, 1e-4, 0.75, 2.0},
               {"lrn size=3 alpha=0.5 beta=0.6 k=1", 3, 0.5, 0.6, 1.0},
               {"lrn size=2 alpha=1 beta=1 k=0.5", 2, 1.0, 1.0, 0.5},
               {"lrn size=9 alpha=2 beta=0.75 k=1", 9, 2.0, 0.75, 1.0}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    sn_net *net = sn_test_net(sn_shape_chw(7, 3, 2), cases[i].keys, 2);
    if (!net) continue;
    float x[2 * 42], want[2 * 42];
    sn_test_fill(x, 84, (unsigned)i + 1, -3, 3);
    for (int n = 0; n < 2; n++) direct(x + n * 42, 7, 6, cases[i].size, cases[i].alpha, cases[i].beta, cases[i].k, want + n * 42);
    SN_ASSERT_CLOSE(sn_test_pass(net, x, 2, NULL, NULL), want, 84, 1e-5, 1e-6, cases[i].keys);
    sn_net_destroy(net);
  }
}

static void test_matches_pytorch(void) {
  /* torch.nn.LocalResponseNorm(size, alpha=0.3, beta=0.75, k=1.0) on channels -1, 0, 1, 2
   * (torch.arange(4.).reshape(1, 4, 1, 1) - 1), an odd and an even window */
  const float x[4] = {-1, 0, 1, 2};
  const char *keys[2] = {"lrn size=3 alpha=0.3 beta=0.75 k=1", "lrn size=4 alpha=0.3 beta=0.75 k=1"};
  const float want[2][4] = {{-0.9310123920f, 0.0f, 0.7377879620f, 1.4755759239f},
                            {-0.9472042918f, 0.0f, 0.7567875385f, 1.5750812292f}};
  for (int i = 0; i < 2; i++) {
    sn_net *net = sn_test_net(sn_shape_chw(4, 1, 1), keys[i], 1);
    if (!net) continue;
    SN_ASSERT_CLOSE(sn_test_pass(net, x, 1, NULL, NULL), want[i], 4, 1e-6, 1e-6, keys[i]);
    sn_net_destroy(net);
  }
}

static void test_gradients(void) {
  const char *models[] = {"lrn size=3 alpha=0.5 beta=0.75 k=1", "lrn size=4 alpha=1 beta=0.6 k=2",
                          "lrn size=1 alpha=0.7 beta=0.75 k=1", "lrn size=9 alpha=0.8 beta=0.9 k=1"};
  for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
    sn_net *net = sn_test_net(sn_shape_chw(6, 3, 4), models[i], 2);
    if (!net) continue;
    CU_ASSERT(sn_test_gradcheck(net, 2, 1, 1e-2, 1e-3, 500) <= 1e-3);
    sn_net_destroy(net);
  }
}

static void test_errors(void) {
  CU_ASSERT_EQUAL(sn_test_build_status(sn_shape_chw(4, 2, 2), "flatten; lrn"), SN_ERR_SHAPE);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "needs a 3-D (C, H, W) input"));
  CU_ASSERT_EQUAL(sn_test_build_status(sn_shape_chw(4, 2, 2), "lrn size=0"), SN_ERR_CONFIG);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "size"));
  CU_ASSERT_EQUAL(sn_test_build_status(sn_shape_chw(4, 2, 2), "lrn k=0"), SN_ERR_CONFIG);
}

int main(void) {
  const sn_test_case cases[] = {{"lrn matches its definition", test_matches_the_formula},
                                {"lrn matches PyTorch's LocalResponseNorm", test_matches_pytorch},
                                {"lrn gradients match finite differences", test_gradients},
                                {"lrn errors", test_errors},
                                {NULL, NULL}};
  return sn_test_main("lrn", cases);
}
