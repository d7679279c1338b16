/* conv2d_transpose: GEMM + col2im against the naive reference, gradient checks,
 * exact upsampling values, output sizes and errors. */
#include <stdio.h>

#include "conv_check.h"
#include "shardnet/checkpoint.h"
#include "sn_test.h"

/* The layer's keys and the sizes worked out by hand: output = (in - 1) * stride -
 * 2 * padding + kernel + output_padding, or in * stride for `same`. */
static const sn_conv_case cases[] = {
    {"filters=4 kernel=3", 3, 4, 5, 4, 3, 3, 1, 1, 0, 0, 6, 7, 0, 1},
    {"filters=2 kernel=3 stride=2 padding=1 output_padding=1", 3, 4, 5, 2, 3, 3, 2, 2, 1, 1, 8, 10, 0, 1},
    {"filters=3 kernel=5 stride=3 padding=2", 5, 4, 5, 3, 5, 5, 3, 3, 2, 2, 10, 13, 0, 1},
    /* same: rows need no padding, columns lose one at the end */
    {"filters=3 kernel=2,3 stride=2 padding=same", 3, 4, 5, 3, 2, 3, 2, 2, 0, 0, 8, 10, 0, 1},
    /* same, kernel 5 stride 2: 3 cropped, 1 before and 2 after */
    {"filters=2 kernel=5 stride=2 padding=same", 3, 3, 4, 2, 5, 5, 2, 2, 1, 1, 6, 8, 0, 1},
    /* same with kernel < stride: every other row and column only gets the bias */
    {"filters=2 kernel=1 stride=2 padding=same", 3, 3, 4, 2, 1, 1, 2, 2, 0, 0, 6, 8, 0, 1},
    /* 1x1 stride 1: the GEMM writes the output directly */
    {"filters=4 kernel=1", 5, 4, 5, 4, 1, 1, 1, 1, 0, 0, 4, 5, 0, 1},
    {"filters=3 kernel=1 bias=false", 3, 5, 2, 3, 1, 1, 1, 1, 0, 0, 5, 2, 0, 0},
    {"filters=2 kernel=3 stride=3 bias=false", 3, 4, 5, 2, 3, 3, 3, 3, 0, 0, 12, 15, 0, 0},
    {"filters=3 kernel=2,3 stride=2,3 output_padding=1,2", 3, 4, 5, 3, 2, 3, 2, 3, 0, 0, 9, 17, 0, 1},
    {"filters=2 kernel=4 stride=2 padding=1", 5, 5, 3, 2, 4, 4, 2, 2, 1, 1, 10, 6, 0, 1},
    /* stride-1 same on a 1-pixel-wide input: most taps fall outside the output */
    {"filters=2 kernel=3,5 padding=same", 2, 3, 1, 2, 3, 5, 1, 1, 1, 2, 3, 1, 0, 1},
};

static const sn_conv_layer conv2d_transpose = {
    "conv2d_transpose", sn_ref_conv2d_transpose_forward, sn_ref_conv2d_transpose_backward, 51, 1};

static void test_convt_matches_reference(void) {
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    sn_conv_check_case(&conv2d_transpose, &cases[i]);
}

static void test_convt_gradients(void) {
  const char *models[] = {
      "conv2d_transpose filters=2 kernel=3 stride=2 padding=1 output_padding=1 activation=tanh",
      "conv2d_transpose filters=3 kernel=2 stride=2 activation=elu",
      "conv2d_transpose filters=2 kernel=1 activation=sigmoid",
      "conv2d_transpose filters=2 kernel=4 stride=2 padding=same bias=false activation=tanh",
      "conv2d filters=3 kernel=3 stride=2 activation=tanh; conv2d_transpose filters=2 kernel=3 stride=2",
  };
  sn_conv_gradcheck_models(sn_shape_chw(2, 4, 5), models, sizeof models / sizeof *models);
}

static void test_convt_pointwise_upsample(void) {
  /* A 1x1 transposed convolution of stride 2 with kernel 1 puts every input value
   * at (2i, 2j) of an output twice the size and zeros everywhere else. */
  const float x[6] = {1, 2, 3, 4, 5, 6}, one = 1.0f;
  const float want[24] = {1, 0, 2, 0, 3, 0,
                          0, 0, 0, 0, 0, 0,
                          4, 0, 5, 0, 6, 0,
                          0, 0, 0, 0, 0, 0};
  const char *keys[] = {"filters=1 kernel=1 stride=2 padding=same",
                        "filters=1 kernel=1 stride=2 output_padding=1"};
  for (int i = 0; i < 2; i++) {
    sn_net *net;
    const float *y =
        sn_conv_once(&net, "conv2d_transpose", sn_shape_chw(1, 2, 3), keys[i], &one, x);
    if (!y) continue;
    CU_ASSERT_TRUE(sn_shape_equal(net->layers[0].out_shape, sn_shape_chw(1, 4, 6)));
    SN_ASSERT_CLOSE(y, want, 24, 0, 0, keys[i]);
    sn_net_destroy(net);
  }
}

static void test_convt_values(void) {
  /* Each input pixel stamps the kernel, scaled by itself, at stride 2: with a 2x2
   * kernel and stride 2 the stamps tile the output without overlap. */
  const float x[4] = {1, 2, 3, 4}, kernel[4] = {1, 10, 100, 1000};
  const float want[16] = {1, 10, 2, 20,
                          100, 1000, 200, 2000,
                          3, 30, 4, 40,
                          300, 3000, 400, 4000};
  sn_net *net;
  const float *y = sn_conv_once(&net, "conv2d_transpose", sn_shape_chw(1, 2, 2),
                                "filters=1 kernel=2 stride=2", kernel, x);
  if (y) SN_ASSERT_CLOSE(y, want, 16, 0, 0, "kernel stamps");
  sn_net_destroy(net);
  /* with stride 1 the stamps overlap and add: the centre gets all four */
  const float want1[9] = {1, 12, 20,
                          103, 1234, 2040,
                          300, 3400, 4000};
  y = sn_conv_once(&net, "conv2d_transpose", sn_shape_chw(1, 2, 2), "filters=1 kernel=2",
                   kernel, x);
  if (y) SN_ASSERT_CLOSE(y, want1, 9, 0, 0, "overlapping stamps");
  sn_net_destroy(net);
}

static void test_convt_output_sizes(void) {
  const struct {
    const char *keys;
    int in, out;
  } t[] = {{"kernel=3 stride=2", 4, 9},  {"kernel=3 stride=2 padding=1", 4, 7},
           {"kernel=3 stride=2 padding=1 output_padding=1", 4, 8},
           {"kernel=4 stride=2 padding=same", 5, 10}, {"kernel=2 stride=3 padding=same", 5, 15},
           {"kernel=3 stride=1 padding=same", 5, 5}};
  for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
    char spec[128];
    snprintf(spec, sizeof spec, "conv2d_transpose filters=1 %s", t[i].keys);
    sn_net *net = sn_test_net(sn_shape_chw(1, t[i].in, t[i].in), spec, 1);
    if (!net) continue;
    if (!sn_shape_equal(net->layers[0].out_shape, sn_shape_chw(1, t[i].out, t[i].out)))
      fprintf(stderr, "\n  %s: output %d, expected %d\n", t[i].keys, net->layers[0].out_shape.d[1],
              t[i].out);
    CU_ASSERT_TRUE(sn_shape_equal(net->layers[0].out_shape, sn_shape_chw(1, t[i].out, t[i].out)));
    sn_net_destroy(net);
  }
}

static void test_convt_errors(void) {
  const sn_shape in = sn_shape_chw(2, 4, 4);
  sn_conv_expect_error(in, "conv2d_transpose filters=2 kernel=3 stride=2 output_padding=2",
                       SN_ERR_CONFIG, "key 'output_padding'", "smaller than the stride (2), got 2");
  sn_conv_expect_error(in, "conv2d_transpose filters=2 kernel=3 output_padding=1", SN_ERR_CONFIG,
                       "key 'output_padding'", "smaller than the stride (1)");
  sn_conv_expect_error(in,
                       "conv2d_transpose filters=2 kernel=3 stride=2 padding=same output_padding=1",
                       SN_ERR_CONFIG, "key 'output_padding'", "padding: same");
  sn_conv_expect_error(in, "conv2d_transpose filters=2 kernel=3 padding=1,2", SN_ERR_CONFIG,
                       "key 'padding'", NULL);
  sn_conv_expect_error(sn_shape_chw(1, 1, 1), "conv2d_transpose filters=2 kernel=1 padding=1",
                       SN_ERR_SHAPE, "leaves no output", NULL);
  sn_conv_expect_error(in, "flatten; conv2d_transpose filters=2 kernel=3", SN_ERR_SHAPE, "3-D",
                       "gets 32");
  sn_conv_expect_error(in, "conv2d_transpose filters=2 kernel=3 flip=true", SN_ERR_CONFIG,
                       "key 'flip'", "not a known key");
}

static void test_convt_summary_numbers(void) {
  sn_net *net = sn_test_net(sn_shape_chw(3, 8, 8),
                            "conv2d filters=4 kernel=3 stride=2 padding=same; "
                            "conv2d_transpose filters=2 kernel=4 stride=2 padding=same",
                            1);
  if (!net) return;
  /* 2 * cin * cout * kh * kw * h * w of the input */
  CU_ASSERT_DOUBLE_EQUAL(net->layers[1].ops->flops(&net->layers[1]), 2.0 * 4 * 2 * 16 * 16, 0);
  double field[2], jump[2];
  sn_net_receptive_fields(net, field, jump);
  /* an output pixel sees ceil(4 / 2) = 2 positions of the stride-2 grid below */
  CU_ASSERT_DOUBLE_EQUAL(field[1], 3 + (2 - 1) * 2, 0);
  CU_ASSERT_DOUBLE_EQUAL(jump[1], 1, 0);
  sn_net_destroy(net);
}

static void test_convt_keras_layout(void) {
  /* Keras's Conv2DTranspose kernel is (kh, kw, cout, cin), unrotated */
  enum { CI = 2, CO = 3, KH = 2, KW = 3 };
  sn_net *net = sn_test_net(sn_shape_chw(CI, 4, 5), "conv2d_transpose filters=3 kernel=2,3", 1);
  if (!net) return;
  int dims[4];
  CU_ASSERT_EQUAL(sn_keras_dims(net, 0, 0, dims), 4);
  CU_ASSERT_TRUE(dims[0] == KH && dims[1] == KW && dims[2] == CO && dims[3] == CI);
  float mem[CI * CO * KH * KW], keras[CI * CO * KH * KW];
  for (int i = 0; i < CI * CO * KH * KW; i++) mem[i] = (float)i;
  sn_keras_export(net, 0, 0, mem, keras);
  int bad = 0;
  for (int c = 0; c < CI; c++)
    for (int o = 0; o < CO; o++)
      for (int i = 0; i < KH; i++)
        for (int j = 0; j < KW; j++)
          bad |= keras[((i * KW + j) * CO + o) * CI + c] != mem[((c * CO + o) * KH + i) * KW + j];
  CU_ASSERT_FALSE(bad);
  sn_net_destroy(net);
}

int main(void) {
  const sn_test_case tests[] = {
      {"conv2d_transpose forward and backward match the direct reference", test_convt_matches_reference},
      {"conv2d_transpose gradients match finite differences", test_convt_gradients},
      {"1x1 stride-2 transposed conv spreads the input with zeros", test_convt_pointwise_upsample},
      {"transposed conv stamps the kernel at each input pixel", test_convt_values},
      {"conv2d_transpose output sizes", test_convt_output_sizes},
      {"conv2d_transpose rejects impossible shapes and bad keys", test_convt_errors},
      {"conv2d_transpose FLOPs and receptive field", test_convt_summary_numbers},
      {"conv2d_transpose kernels are saved in Keras's layout", test_convt_keras_layout},
      {NULL, NULL}};
  return sn_test_main("conv2d_transpose", tests);
}
