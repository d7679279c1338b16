/* Tests of upsample2d: nearest blocks, hand-computed bilinear values, gradients. */
#include <string.h>

#include "sn_test_layers.h"

static void test_nearest_blocks(void) {
  sn_net *net = sn_test_net(sn_shape_chw(1, 2, 2), "upsample2d", 1);
  if (!net) return;
  const float x[4] = {1, 2, 3, 4};
  const float want[16] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
  const float *y = sn_test_pass(net, x, 1, NULL, NULL);
  CU_ASSERT_EQUAL(sn_shape_size(sn_net_output_shape(net)), 16);
  SN_ASSERT_CLOSE(y, want, 16, 0, 0, "nearest x2");
  sn_net_destroy(net);

  /* [sh, sw] = [1, 3] on (2, 1, 2): each pixel becomes a 1x3 run, channel by channel */
  net = sn_test_net(sn_shape_chw(2, 1, 2), "upsample2d scale=1,3 mode=nearest", 1);
  if (!net) return;
  const float x2[4] = {1, 2, 5, 6};
  const float want2[12] = {1, 1, 1, 2, 2, 2, 5, 5, 5, 6, 6, 6};
  SN_ASSERT_CLOSE(sn_test_pass(net, x2, 1, NULL, NULL), want2, 12, 0, 0, "nearest 1x3");
  sn_net_destroy(net);
}

static void test_bilinear_values(void) {
  /* Half-pixel centres: output o samples input coordinate (o + 0.5) / 2 - 0.5, clamped
   * at the borders, so along an axis [a, b] becomes [a, .75a+.25b, .25a+.75b, b]
   * (what PyTorch's align_corners=False and Keras compute). */
  sn_net *net = sn_test_net(sn_shape_chw(1, 2, 2), "upsample2d mode=bilinear", 1);
  if (!net) return;
  const float x[4] = {1, 2, 3, 4};
  const float want[16] = {1,   1.25f, 1.75f, 2,    1.5f, 1.75f, 2.25f, 2.5f,
                          2.5f, 2.75f, 3.25f, 3.5f, 3,    3.25f, 3.75f, 4};
  SN_ASSERT_CLOSE(sn_test_pass(net, x, 1, NULL, NULL), want, 16, 0, 1e-6, "bilinear x2");
  sn_net_destroy(net);

  /* scale 3 along w: coordinates -1/3, 0, 1/3, 2/3, 1, 4/3 over [0, 3] */
  net = sn_test_net(sn_shape_chw(1, 1, 2), "upsample2d scale=1,3 mode=bilinear", 1);
  if (!net) return;
  const float x2[2] = {0, 3}, want2[6] = {0, 0, 1, 2, 3, 3};
  SN_ASSERT_CLOSE(sn_test_pass(net, x2, 1, NULL, NULL), want2, 6, 0, 1e-6, "bilinear x3");
  sn_net_destroy(net);
}

static void test_backward_sums(void) {
  /* Nearest: each input pixel receives the sum over its block. Bilinear: the weights of
   * every output sum to 1, so backward conserves the total gradient. */
  sn_net *net = sn_test_net(sn_shape_chw(1, 2, 2), "upsample2d scale=2,3", 1);
  if (!net) return;
  float x[4] = {0}, dout[24];
  for (int i = 0; i < 24; i++) dout[i] = (float)i;
  sn_test_pass(net, x, 1, NULL, dout);
  /* rows 0-1 x cols 0-2 of the 4x6 gradient, and so on */
  const float want[4] = {0 + 1 + 2 + 6 + 7 + 8, 3 + 4 + 5 + 9 + 10 + 11,
                         12 + 13 + 14 + 18 + 19 + 20, 15 + 16 + 17 + 21 + 22 + 23};
  SN_ASSERT_CLOSE(net->dinput, want, 4, 0, 0, "nearest backward");
  sn_net_destroy(net);

  net = sn_test_net(sn_shape_chw(2, 3, 2), "upsample2d scale=3,2 mode=bilinear", 2);
  if (!net) return;
  float x2[24] = {0}, d2[2 * 2 * 9 * 4];
  sn_test_fill(d2, 144, 5, -1, 1);
  sn_test_pass(net, x2, 2, NULL, d2);
  for (int p = 0; p < 4; p++) {
    double in = 0, out = 0;
    for (int i = 0; i < 6; i++) in += net->dinput[p * 6 + i];
    for (int i = 0; i < 36; i++) out += d2[p * 36 + i];
    CU_ASSERT_DOUBLE_EQUAL(in, out, 1e-5);
  }
  sn_net_destroy(net);
}

static void test_receptive_and_errors(void) {
  sn_net *net = sn_test_net(sn_shape_chw(1, 4, 4), "maxpool2d size=2; upsample2d", 1);
  if (!net) return;
  double field[2], jump[2];
  sn_net_receptive_fields(net, field, jump);
  CU_ASSERT_DOUBLE_EQUAL(jump[1], 1.0, 0);
  CU_ASSERT_DOUBLE_EQUAL(field[1], 2.0, 0);
  sn_net_destroy(net);
  CU_ASSERT_EQUAL(sn_test_build_status(sn_shape_chw(1, 4, 4), "upsample2d mode=cubic"), SN_ERR_CONFIG);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "nearest, bilinear"));
  CU_ASSERT_EQUAL(sn_test_build_status(sn_shape_chw(1, 4, 4), "flatten; upsample2d"), SN_ERR_SHAPE);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "needs a 3-D"));
}

static void test_gradients(void) {
  const char *models[] = {"upsample2d", "upsample2d scale=2,3", "upsample2d mode=bilinear",
                          "upsample2d scale=3,2 mode=bilinear"};
  for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
    sn_net *net = sn_test_net(sn_shape_chw(2, 3, 4), models[i], 2);
    if (!net) continue;
    CU_ASSERT(sn_test_gradcheck(net, 2, 1, 1e-2, 1e-3, 500) <= 1e-3);
    sn_net_destroy(net);
  }
}

int main(void) {
  const sn_test_case cases[] = {
      {"nearest upsampling turns pixels into blocks", test_nearest_blocks},
      {"bilinear matches hand-computed half-pixel values", test_bilinear_values},
      {"backward sums each output's gradient into its sources", test_backward_sums},
      {"receptive field and errors", test_receptive_and_errors},
      {"upsampling gradients match finite differences", test_gradients},
      {NULL, NULL}};
  return sn_test_main("upsample", cases);
}
