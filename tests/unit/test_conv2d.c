/* conv2d: im2col + GEMM against the naive reference, gradient checks, textbook
 * values, output sizes, errors and determinism. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_check.h"
#include "shardnet/checkpoint.h"
#include "sn_test.h"

static const sn_conv_case cases[] = {
    {"filters=4 kernel=3", 3, 7, 9, 4, 3, 3, 1, 1, 0, 0, 5, 7, 0, 1},
    {"filters=4 kernel=3 stride=2 padding=1", 3, 7, 9, 4, 3, 3, 2, 2, 1, 1, 4, 5, 0, 1},
    {"filters=2 kernel=5 stride=3 padding=2", 5, 8, 11, 2, 5, 5, 3, 3, 2, 2, 3, 4, 0, 1},
    /* same, stride 2: total padding 1 per dimension, all of it after */
    {"filters=3 kernel=2,3 stride=2 padding=same", 3, 7, 10, 3, 2, 3, 2, 2, 0, 0, 4, 5, 0, 1},
    /* same, stride 2: rows 2 before and 2 after, columns 1 before and 2 after */
    {"filters=3 kernel=5 stride=2 padding=same flip=true", 3, 9, 10, 3, 5, 5, 2, 2, 2, 1, 5, 5, 1, 1},
    {"filters=4 kernel=3 padding=same bias=false flip=true", 5, 6, 7, 4, 3, 3, 1, 1, 1, 1, 6, 7, 1, 0},
    /* 1x1 stride 1 unpadded: the GEMM reads the input directly */
    {"filters=4 kernel=1", 5, 6, 7, 4, 1, 1, 1, 1, 0, 0, 6, 7, 0, 1},
    {"filters=3 kernel=1 flip=true bias=false", 3, 5, 4, 3, 1, 1, 1, 1, 0, 0, 5, 4, 1, 0},
    {"filters=4 kernel=1 stride=2", 3, 7, 9, 4, 1, 1, 2, 2, 0, 0, 4, 5, 0, 1},
    {"filters=2 kernel=1 padding=1 bias=false", 3, 4, 5, 2, 1, 1, 1, 1, 1, 1, 6, 7, 0, 0},
    {"filters=3 kernel=2,3 stride=2,3 padding=1,2 flip=true", 3, 8, 11, 3, 2, 3, 2, 3, 1, 2, 5, 5, 1, 1},
    {"filters=2 kernel=3 stride=3", 5, 10, 9, 2, 3, 3, 3, 3, 0, 0, 3, 3, 0, 1},
    /* a 1-pixel-wide input under a 5-wide `same` kernel: most taps read only padding */
    {"filters=2 kernel=3,5 padding=same", 2, 3, 1, 2, 3, 5, 1, 1, 1, 2, 3, 1, 0, 1},
    {"filters=2 kernel=5 padding=same flip=true", 2, 1, 2, 2, 5, 5, 1, 1, 2, 2, 1, 2, 1, 1},
};

static float *floats(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

static const sn_conv_layer conv2d = {"conv2d", sn_ref_conv2d_forward, sn_ref_conv2d_backward,
                                     21, 0};

static void test_conv2d_matches_reference(void) {
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) sn_conv_check_case(&conv2d, &cases[i]);
}

static void test_conv2d_gradients(void) {
  const char *models[] = {
      "conv2d filters=3 kernel=3 stride=2 padding=same activation=tanh",
      "conv2d filters=2 kernel=2,3 padding=1 flip=true activation=elu",
      "conv2d filters=3 kernel=1 activation=sigmoid",
      "conv2d filters=2 kernel=3 stride=3 bias=false",
      "conv2d filters=3 kernel=3 padding=same activation=tanh; conv2d filters=2 kernel=3 stride=2 flip=true",
  };
  sn_conv_gradcheck_models(sn_shape_chw(2, 5, 6), models, sizeof models / sizeof *models);
}

static void test_conv2d_edge_detector(void) {
  /* The vertical-edge kernel [[-1, 1], [-1, 1]] on a 4x4 image: a flat patch
   * [[1, 1], [1, 1]] gives 0, the edge patch [[1, 0], [1, 0]] gives -2. */
  const float x[16] = {1, 1, 0, 0,
                       1, 1, 0, 0,
                       0, 0, 0, 0,
                       0, 0, 0, 0};
  const float kernel[4] = {-1, 1, -1, 1};
  const float want[9] = {0, -2, 0,
                         0, -1, 0,
                         0, 0, 0};
  sn_net *net;
  const float *y =
      sn_conv_once(&net, "conv2d", sn_shape_chw(1, 4, 4), "filters=1 kernel=2", kernel, x);
  if (!y) return;
  CU_ASSERT_EQUAL(y[0], 0.0f);
  CU_ASSERT_EQUAL(y[1], -2.0f);
  SN_ASSERT_CLOSE(y, want, 9, 0, 0, "edge detector output");
  sn_net_destroy(net);
}

static void test_conv2d_output_sizes(void) {
  const struct {
    int size, kernel, stride, out;
  } t[] = {{4, 2, 1, 3}, {4, 2, 2, 2}, {6, 3, 1, 4}, {6, 3, 2, 2}};
  for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
    char spec[96];
    snprintf(spec, sizeof spec, "conv2d filters=1 kernel=%d stride=%d", t[i].kernel, t[i].stride);
    sn_net *net = sn_test_net(sn_shape_chw(1, t[i].size, t[i].size), spec, 1);
    if (!net) continue;
    CU_ASSERT_TRUE(sn_shape_equal(net->layers[0].out_shape, sn_shape_chw(1, t[i].out, t[i].out)));
    sn_net_destroy(net);
  }
}

static void test_conv2d_sums_channels(void) {
  /* 3-channel 2x2 input and 3-channel 2x2 kernel: one output, the sum over all
   * channels of the element-wise products, plus the bias. */
  const float x[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const float kernel[12] = {1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 1, 1};
  sn_net *net = sn_test_net(sn_shape_chw(3, 2, 2), "conv2d filters=1 kernel=2", 1);
  if (!net) return;
  memcpy(net->layers[0].params[0].data, kernel, sizeof kernel);
  net->layers[0].params[1].data[0] = 0.5f;
  sn_pass pass = {0};
  sn_net_forward(net, x, 1, &pass);
  /* (1 + 4) + (6 + 7) + (9 + 10 + 11 + 12) + 0.5 */
  CU_ASSERT_EQUAL(sn_net_output(net)[0], 60.5f);
  sn_net_destroy(net);
}

static void test_conv2d_pointwise(void) {
  /* A 1x1 convolution mixes channels per pixel: R*k1 + G*k2 + B*k3. */
  const float x[18] = {1, 2, 3, 4, 5, 6,          /* R, 2x3 */
                       0, 1, 0, -1, 2, 8,         /* G */
                       4, -2, 0.5f, 1, 3, -1};    /* B */
  const float kernel[3] = {0.5f, -1.0f, 2.0f};
  sn_net *net;
  const float *y =
      sn_conv_once(&net, "conv2d", sn_shape_chw(3, 2, 3), "filters=1 kernel=1", kernel, x);
  if (!y) return;
  float want[6];
  for (int i = 0; i < 6; i++) want[i] = 0.5f * x[i] - 1.0f * x[6 + i] + 2.0f * x[12 + i];
  SN_ASSERT_CLOSE(y, want, 6, 0, 0, "1x1 conv output");
  sn_net_destroy(net);
}

static void test_conv2d_flip(void) {
  /* flip=true is true convolution: the same as cross-correlating with the kernel
   * rotated 180 degrees (checked with a non-square kernel, stride and padding). */
  const char *keys[2] = {"filters=2 kernel=2,3 stride=2 padding=same",
                         "filters=2 kernel=2,3 stride=2 padding=same flip=true"};
  enum { C = 2, H = 5, W = 7, KH = 2, KW = 3, CO = 2 };
  float x[C * H * W], kernel[CO * C * KH * KW], rotated[CO * C * KH * KW];
  sn_test_fill(x, C * H * W, 31, -1.0f, 1.0f);
  sn_test_fill(kernel, CO * C * KH * KW, 32, -1.0f, 1.0f);
  for (int m = 0; m < CO * C; m++)
    for (int i = 0; i < KH; i++)
      for (int j = 0; j < KW; j++)
        rotated[(m * KH + i) * KW + j] = kernel[(m * KH + KH - 1 - i) * KW + KW - 1 - j];
  sn_net *plain, *flipped, *unrotated;
  const float *a = sn_conv_once(&plain, "conv2d", sn_shape_chw(C, H, W), keys[0], rotated, x);
  const float *b = sn_conv_once(&flipped, "conv2d", sn_shape_chw(C, H, W), keys[1], kernel, x);
  const float *c = sn_conv_once(&unrotated, "conv2d", sn_shape_chw(C, H, W), keys[0], kernel, x);
  if (a && b && c) {
    size_t n = sn_shape_size(plain->layers[0].out_shape);
    SN_ASSERT_CLOSE(b, a, n, 1e-6, 1e-6, "flip=true equals the rotated kernel");
    int differs = 0;
    for (size_t i = 0; i < n; i++) differs |= fabsf(b[i] - c[i]) > 1e-3f;
    CU_ASSERT_TRUE(differs);
  }
  sn_net_destroy(plain);
  sn_net_destroy(flipped);
  sn_net_destroy(unrotated);

  /* and a textbook value: [1 2 3] convolved with [1 0 -1] is 1*(-1) + 3*1 = 2 */
  const float row[3] = {1, 2, 3}, k3[3] = {1, 0, -1};
  sn_net *net;
  const float *y = sn_conv_once(&net, "conv2d", sn_shape_chw(1, 1, 3),
                                "filters=1 kernel=1,3 flip=true", k3, row);
  if (y) CU_ASSERT_EQUAL(y[0], 2.0f);
  sn_net_destroy(net);
}

static void test_conv2d_errors(void) {
  sn_conv_expect_error(sn_shape_chw(1, 3, 3), "conv2d filters=1 kernel=5", SN_ERR_SHAPE,
                       "kernel 5x5 is larger than the padded input 3x3", NULL);
  sn_conv_expect_error(sn_shape_chw(1, 3, 4), "conv2d filters=1 kernel=4,5 padding=1,0",
                       SN_ERR_SHAPE, "kernel 4x5 is larger than the padded input 5x4", NULL);
  sn_conv_expect_error(sn_shape_chw(3, 4, 4), "flatten; conv2d filters=2 kernel=1", SN_ERR_SHAPE,
                       "3-D", "gets 48");
  sn_conv_expect_error(sn_shape_chw(1, 4, 4), "conv2d kernel=3", SN_ERR_CONFIG,
                       "needs the key 'filters'", NULL);
  sn_conv_expect_error(sn_shape_chw(1, 4, 4), "conv2d filters=2", SN_ERR_CONFIG,
                       "needs the key 'kernel'", NULL);
  sn_conv_expect_error(sn_shape_chw(1, 4, 4), "conv2d filters=2 kernel=3 padding=full",
                       SN_ERR_CONFIG, "key 'padding'", "'full'");
  sn_conv_expect_error(sn_shape_chw(1, 4, 4), "conv2d filters=2 kernel=3 dilation=2", SN_ERR_CONFIG,
                       "key 'dilation'", "not a known key");
  /* padding 1 makes the 5x5 kernel fit a 3x3 input */
  sn_net *net = sn_test_net(sn_shape_chw(1, 3, 3), "conv2d filters=1 kernel=5 padding=1", 1);
  if (net) CU_ASSERT_TRUE(sn_shape_equal(net->layers[0].out_shape, sn_shape_chw(1, 1, 1)));
  sn_net_destroy(net);
}

static void test_conv2d_summary_numbers(void) {
  sn_net *net = sn_test_net(sn_shape_chw(3, 9, 9),
                            "conv2d filters=4 kernel=3 stride=2; conv2d filters=5 kernel=3", 1);
  if (!net) return;
  /* 2 * cout * cin * kh * kw * oh * ow */
  CU_ASSERT_DOUBLE_EQUAL(net->layers[0].ops->flops(&net->layers[0]), 2.0 * 4 * 3 * 9 * 16, 0);
  CU_ASSERT_DOUBLE_EQUAL(net->layers[1].ops->flops(&net->layers[1]), 2.0 * 5 * 4 * 9 * 4, 0);
  double field[2], jump[2];
  sn_net_receptive_fields(net, field, jump);
  CU_ASSERT_DOUBLE_EQUAL(field[0], 3, 0);
  CU_ASSERT_DOUBLE_EQUAL(jump[0], 2, 0);
  CU_ASSERT_DOUBLE_EQUAL(field[1], 7, 0);  /* 3 + (3 - 1) * 2 */
  sn_net_destroy(net);
}

static void test_conv2d_keras_layout(void) {
  /* Checkpoints hold Keras's (kh, kw, cin, cout); Keras cross-correlates, so a
   * flip=true kernel is saved rotated by 180 degrees. */
  enum { CO = 3, CI = 2, KH = 2, KW = 3 };
  const char *layers[2] = {"conv2d filters=3 kernel=2,3", "conv2d filters=3 kernel=2,3 flip=true"};
  for (int flip = 0; flip < 2; flip++) {
    sn_net *net = sn_test_net(sn_shape_chw(CI, 4, 5), layers[flip], 1);
    if (!net) continue;
    int dims[4];
    CU_ASSERT_EQUAL(sn_keras_dims(net, 0, 0, dims), 4);
    CU_ASSERT_TRUE(dims[0] == KH && dims[1] == KW && dims[2] == CI && dims[3] == CO);
    float mem[CO * CI * KH * KW], keras[CO * CI * KH * KW];
    for (int i = 0; i < CO * CI * KH * KW; i++) mem[i] = (float)i;
    sn_keras_export(net, 0, 0, mem, keras);
    int bad = 0;
    for (int o = 0; o < CO; o++)
      for (int c = 0; c < CI; c++)
        for (int i = 0; i < KH; i++)
          for (int j = 0; j < KW; j++) {
            int si = flip ? KH - 1 - i : i, sj = flip ? KW - 1 - j : j;
            bad |= keras[((i * KW + j) * CI + c) * CO + o] != mem[((o * CI + c) * KH + si) * KW + sj];
          }
    CU_ASSERT_FALSE(bad);
    sn_net_destroy(net);
  }
}

static void test_conv2d_deterministic(void) {
  /* Per-thread partial gradients are summed in a fixed order: two identical
   * backward passes give bitwise identical gradients. */
  enum { B = 7 };
  sn_net *net = sn_test_net(sn_shape_chw(3, 9, 8),
                            "conv2d filters=5 kernel=3 padding=same activation=tanh; "
                            "conv2d filters=4 kernel=3 stride=2",
                            B);
  if (!net) return;
  const size_t nx = (size_t)B * 3 * 9 * 8, ny = (size_t)B * sn_shape_size(sn_net_output_shape(net));
  float *x = floats(nx), *first = floats(net->n_params), *dfirst = floats(nx);
  sn_test_fill(x, nx, 41, -1.0f, 1.0f);
  sn_pass pass = {.training = 1};
  for (int round = 0; round < 2; round++) {
    sn_net_zero_grad(net);
    sn_net_forward(net, x, B, &pass);
    sn_test_fill(sn_net_output_grad(net), ny, 42, -1.0f, 1.0f);
    sn_net_backward(net, x, B, &pass);
    if (round == 0) {
      memcpy(first, net->grads, net->n_params * sizeof(float));
      memcpy(dfirst, net->dinput, nx * sizeof(float));
    }
  }
  CU_ASSERT_EQUAL(memcmp(first, net->grads, net->n_params * sizeof(float)), 0);
  CU_ASSERT_EQUAL(memcmp(dfirst, net->dinput, nx * sizeof(float)), 0);
  free(x), free(first), free(dfirst);
  sn_net_destroy(net);
}

int main(void) {
  const sn_test_case tests[] = {
      {"conv2d forward and backward match the direct reference", test_conv2d_matches_reference},
      {"conv2d gradients match finite differences", test_conv2d_gradients},
      {"a 2x2 edge kernel gives 0 on flat and -2 on edge patches", test_conv2d_edge_detector},
      {"conv2d output sizes", test_conv2d_output_sizes},
      {"conv2d sums over input channels", test_conv2d_sums_channels},
      {"1x1 conv computes R*k1 + G*k2 + B*k3", test_conv2d_pointwise},
      {"flip=true is cross-correlation with the rotated kernel", test_conv2d_flip},
      {"conv2d rejects impossible shapes and bad keys", test_conv2d_errors},
      {"conv2d FLOPs and receptive field", test_conv2d_summary_numbers},
      {"conv2d kernels are saved in Keras's layout", test_conv2d_keras_layout},
      {"conv2d gradients are bitwise deterministic", test_conv2d_deterministic},
      {NULL, NULL}};
  return sn_test_main("conv2d", tests);
}
