/* Tests of dropout: inference identity, kept fraction, rank-independent masks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sn_test_layers.h"

static void test_identity_at_inference(void) {
  sn_net *net = sn_test_net(sn_shape_chw(2, 3, 3), "dropout rate=0.5", 2);
  if (!net) return;
  float x[36], dout[36];
  sn_test_fill(x, 36, 1, -1, 1);
  sn_test_fill(dout, 36, 2, -1, 1);
  sn_pass pass = {.training = 0, .seed = 9, .epoch = 3};
  SN_ASSERT_CLOSE(sn_test_pass(net, x, 2, &pass, dout), x, 36, 0, 0, "inference output");
  SN_ASSERT_CLOSE(net->dinput, dout, 36, 0, 0, "inference backward");
  sn_net_destroy(net);
}

static void test_kept_fraction_and_scale(void) {
  enum { PER = 100 * 100, BATCH = 2, N = PER * BATCH };
  sn_net *net = sn_test_net(sn_shape_chw(1, 100, 100), "dropout rate=0.3", BATCH);
  if (!net) return;
  float *x = malloc(N * sizeof *x), *ones = malloc(N * sizeof *ones);
  sn_test_fill(x, N, 3, 1, 2);
  for (int i = 0; i < N; i++) ones[i] = 1.0f;
  sn_pass pass = {.training = 1, .seed = 4, .epoch = 0, .first_sample = 100};
  const float *y = sn_test_pass(net, x, BATCH, &pass, ones);
  int kept = 0, bad_scale = 0, bad_grad = 0;
  for (int i = 0; i < N; i++) {
    if (y[i] != 0.0f) {
      kept++;
      if (fabsf(y[i] - x[i] / 0.7f) > 1e-6f * fabsf(y[i])) bad_scale++;
    }
    /* backward goes through the same mask: din = dout * y / x */
    float want = y[i] != 0.0f ? 1.0f / 0.7f : 0.0f;
    if (fabsf(net->dinput[i] - want) > 1e-6f) bad_grad++;
  }
  /* 20000 draws: the kept fraction's standard deviation is about 0.0032 */
  double frac = (double)kept / N;
  CU_ASSERT(frac > 0.68 && frac < 0.72);
  CU_ASSERT_EQUAL(bad_scale, 0);
  CU_ASSERT_EQUAL(bad_grad, 0);
  free(x);
  free(ones);
  sn_net_destroy(net);
}

/* Output of `layers` in training mode for `batch` samples starting at global index
 * `first`, copied to out. */
static void train_output(const char *layers, const float *x, int batch, uint64_t first,
                         uint64_t seed, uint32_t epoch, float *out) {
  sn_net *net = sn_test_net(sn_shape_chw(2, 4, 4), layers, batch);
  if (!net) return;
  sn_pass pass = {.training = 1, .seed = seed, .epoch = epoch, .first_sample = first};
  memcpy(out, sn_test_pass(net, x, batch, &pass, NULL), (size_t)batch * 32 * sizeof *out);
  sn_net_destroy(net);
}

static void test_mask_depends_on_global_sample_only(void) {
  enum { PER = 32 };
  float x[4 * PER], whole[4 * PER], part[4 * PER], other[4 * PER];
  sn_test_fill(x, 4 * PER, 6, 1, 2);
  const char *layers = "dropout rate=0.5";
  /* A batch of 4 at global samples 10..13, as one rank would see it. */
  train_output(layers, x, 4, 10, 8, 2, whole);
  /* Each sample alone, at its global index: the same mask. */
  for (int k = 0; k < 4; k++) {
    train_output(layers, x + k * PER, 1, 10 + (uint64_t)k, 8, 2, part);
    SN_ASSERT_CLOSE(part, whole + k * PER, PER, 0, 0, "sample alone vs in a batch");
  }
  /* Samples 11..13 as another rank's shard (local positions 0..2). */
  train_output(layers, x + PER, 3, 11, 8, 2, part);
  SN_ASSERT_CLOSE(part, whole + PER, 3 * PER, 0, 0, "a shard vs the whole batch");
  /* The epoch, the seed and the layer each change the mask. */
  train_output(layers, x, 4, 10, 8, 3, other);
  CU_ASSERT(memcmp(other, whole, sizeof whole) != 0);
  train_output(layers, x, 4, 10, 9, 2, other);
  CU_ASSERT(memcmp(other, whole, sizeof whole) != 0);
  /* relu is the identity on this positive input; the dropout is now layer 1 */
  train_output("relu; dropout rate=0.5", x, 4, 10, 8, 2, other);
  CU_ASSERT(memcmp(other, whole, sizeof whole) != 0);
  /* and a different position in the global batch is a different mask */
  train_output(layers, x, 1, 11, 8, 2, other);
  CU_ASSERT(memcmp(other, whole, PER * sizeof *whole) != 0);
}

static void test_rate_zero_and_errors(void) {
  sn_net *net = sn_test_net(sn_shape_chw(1, 2, 2), "dropout rate=0", 1);
  if (net) {
    const float x[4] = {1, -2, 3, -4};
    sn_pass pass = {.training = 1, .seed = 1};
    SN_ASSERT_CLOSE(sn_test_pass(net, x, 1, &pass, NULL), x, 4, 0, 0, "rate 0 keeps all");
    sn_net_destroy(net);
  }
  CU_ASSERT_EQUAL(sn_test_build_status(sn_shape_chw(1, 2, 2), "dropout rate=1"), SN_ERR_CONFIG);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "key 'rate' must be below 1"));
  CU_ASSERT_EQUAL(sn_test_build_status(sn_shape_chw(1, 2, 2), "dropout"), SN_ERR_CONFIG);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "needs the key 'rate'"));
  CU_ASSERT_EQUAL(sn_test_build_status(sn_shape_chw(1, 2, 2), "dropout rate=-0.1"), SN_ERR_CONFIG);
}

static void test_gradients(void) {
  const char *models[] = {"dropout rate=0.4", "flatten; dense units=6; dropout rate=0.25"};
  for (size_t i = 0; i < sizeof models / sizeof *models; i++)
    for (int training = 0; training <= 1; training++) {
      sn_net *net = sn_test_net(sn_shape_chw(2, 3, 3), models[i], 3);
      if (!net) continue;
      CU_ASSERT(sn_test_gradcheck(net, 3, training, 1e-2, 1e-3, 500) <= 1e-3);
      sn_net_destroy(net);
    }
}

int main(void) {
  const sn_test_case cases[] = {
      {"dropout is the identity at inference", test_identity_at_inference},
      {"training keeps about 1-rate of the values, scaled by 1/(1-rate)", test_kept_fraction_and_scale},
      {"the mask depends on seed, epoch, global sample and layer only", test_mask_depends_on_global_sample_only},
      {"rate 0 and bad rates", test_rate_zero_and_errors},
      {"dropout gradients match finite differences", test_gradients},
      {NULL, NULL}};
  return sn_test_main("dropout", cases);
}
