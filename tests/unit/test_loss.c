/* Losses: hand-computed values, stability at extreme logits, accuracy counting, the
 * data-parallel scale, and finite-difference checks of the output gradient. */
#include <math.h>
#include <string.h>

#include "shardnet/loss.h"
#include "sn_test.h"

static void test_ce_uniform_is_log_classes(void) {
  float out[3 * 10] = {0}, dout[3 * 10];
  const int labels[3] = {0, 4, 9};
  int correct = -1;
  double loss = sn_loss_compute(SN_LOSS_SOFTMAX_CROSS_ENTROPY, out, 3, 10, labels, NULL,
                                0.5, dout, &correct);
  CU_ASSERT_DOUBLE_EQUAL(loss, 3.0 * log(10.0), 1e-12);
  /* d/dx = scale * (softmax - onehot) = 0.5 * (0.1 - [j == label]) */
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 10; j++)
      CU_ASSERT_DOUBLE_EQUAL(dout[i * 10 + j], 0.5 * (0.1 - (j == labels[i])), 1e-7);
  /* Ties go to class 0, as numpy's argmax does. */
  CU_ASSERT_EQUAL(correct, 1);
}

static void test_ce_hand_case(void) {
  /* logits (1, 2, 3), label 2: log(e + e^2 + e^3) - 3 = log(1 + e^-1 + e^-2) */
  const float out[2 * 3] = {1, 2, 3, 3, 2, 1};
  const int labels[2] = {2, 2};
  float dout[6];
  int correct;
  double loss = sn_loss_compute(SN_LOSS_SOFTMAX_CROSS_ENTROPY, out, 2, 3, labels, NULL, 1.0,
                                dout, &correct);
  const double a = log(1 + exp(-1.0) + exp(-2.0)), b = log(1 + exp(1.0) + exp(2.0));
  CU_ASSERT_DOUBLE_EQUAL(loss, a + b, 1e-12);
  CU_ASSERT_EQUAL(correct, 1);
  const double z = exp(1.0) + exp(2.0) + exp(3.0);
  const float want[6] = {(float)(exp(1.0) / z), (float)(exp(2.0) / z), (float)(exp(3.0) / z - 1),
                         (float)(exp(3.0) / z), (float)(exp(2.0) / z), (float)(exp(1.0) / z - 1)};
  SN_ASSERT_CLOSE(dout, want, 6, 0, 1e-7, "cross-entropy gradient");
  /* Without dout and correct, only the value. */
  CU_ASSERT_DOUBLE_EQUAL(sn_loss_compute(SN_LOSS_SOFTMAX_CROSS_ENTROPY, out, 2, 3, labels, NULL,
                                         1.0, NULL, NULL), a + b, 1e-12);
}

static void test_ce_large_logits_stay_finite(void) {
  const float out[3 * 3] = {1000, 0, -1000, 1000, 1000, 1000, -1000, 1000, -1000};
  const int labels[3] = {1, 0, 1};
  float dout[9];
  int correct;
  double loss = sn_loss_compute(SN_LOSS_SOFTMAX_CROSS_ENTROPY, out, 3, 3, labels, NULL, 1.0,
                                dout, &correct);
  /* 1000 (the label is 1000 below the max) + ln 3 (three equal logits) + 0 */
  CU_ASSERT_DOUBLE_EQUAL(loss, 1000.0 + log(3.0), 1e-9);
  CU_ASSERT_EQUAL(correct, 2);
  const float want[9] = {1, -1, 0, 1.0f / 3 - 1, 1.0f / 3, 1.0f / 3, 0, 0, 0};
  SN_ASSERT_CLOSE(dout, want, 9, 0, 1e-7, "gradient at logits of 1000");
}

static void test_mse_hand_case(void) {
  /* sample 0: ((1-0)^2 + (2-4)^2) / 2 = 2.5; sample 1: ((0-0.5)^2 + 0) / 2 = 0.125 */
  const float out[4] = {1, 2, 0, 3}, target[4] = {0, 4, 0.5f, 3};
  float dout[4];
  int correct = -1;
  double loss = sn_loss_compute(SN_LOSS_MSE, out, 2, 2, NULL, target, 0.25, dout, &correct);
  CU_ASSERT_DOUBLE_EQUAL(loss, 2.625, 1e-12);
  CU_ASSERT_EQUAL(correct, 0);
  /* 0.25 * 2 * (out - target) / 2 */
  const float want[4] = {0.25f, -0.5f, -0.125f, 0};
  SN_ASSERT_CLOSE(dout, want, 4, 0, 1e-7, "mse gradient");
}

/* Two shards with scale 1/B give the same sum and the same gradients as one batch. */
static void test_shards_match_whole_batch(void) {
  enum { B = 5, D = 4 };
  float out[B * D], target[B * D], whole[B * D], parts[B * D];
  const int labels[B] = {3, 0, 2, 2, 1};
  sn_test_fill(out, B * D, 11, -3, 3);
  sn_test_fill(target, B * D, 12, -1, 1);
  for (int kind = 0; kind < 2; kind++) {
    double l = sn_loss_compute((sn_loss_kind)kind, out, B, D, labels, target, 1.0 / B, whole, NULL);
    double l0 = sn_loss_compute((sn_loss_kind)kind, out, 2, D, labels, target, 1.0 / B, parts, NULL);
    double l1 = sn_loss_compute((sn_loss_kind)kind, out + 2 * D, B - 2, D, labels + 2,
                                target + 2 * D, 1.0 / B, parts + 2 * D, NULL);
    CU_ASSERT_DOUBLE_EQUAL(l0 + l1, l, 1e-12);
    CU_ASSERT_EQUAL(memcmp(whole, parts, sizeof whole), 0);
  }
}

/* Central differences of scale * loss (accumulated in float64) against dout. */
static void check_fd(sn_loss_kind kind) {
  enum { B = 4, D = 7 };
  float out[B * D], target[B * D], dout[B * D];
  const int labels[B] = {6, 0, 3, 3};
  const double scale = 1.0 / 6;  /* a shard of 4 samples of a global batch of 6 */
  sn_test_fill(out, B * D, 21, -4, 4);
  sn_test_fill(target, B * D, 22, -2, 2);
  sn_loss_compute(kind, out, B, D, labels, target, scale, dout, NULL);
  double worst = 0.0;
  for (int i = 0; i < B * D; i++) {
    const float x = out[i], h = 1e-2f;
    out[i] = x + h;
    double up = sn_loss_compute(kind, out, B, D, labels, target, scale, NULL, NULL);
    const float hi = out[i];
    out[i] = x - h;
    double down = sn_loss_compute(kind, out, B, D, labels, target, scale, NULL, NULL);
    const float lo = out[i];
    out[i] = x;
    double numeric = scale * (up - down) / ((double)hi - (double)lo);
    double err = fabs(numeric - dout[i]) / fmax(1e-3, fabs(numeric));
    if (err > worst) worst = err;
  }
  CU_ASSERT(worst < 1e-3);
}

static void test_ce_finite_differences(void) { check_fd(SN_LOSS_SOFTMAX_CROSS_ENTROPY); }
static void test_mse_finite_differences(void) { check_fd(SN_LOSS_MSE); }

int main(void) {
  const sn_test_case cases[] = {
      {"cross-entropy of uniform logits is ln(classes)", test_ce_uniform_is_log_classes},
      {"cross-entropy value, gradient and accuracy by hand", test_ce_hand_case},
      {"cross-entropy is finite at logits of +-1000", test_ce_large_logits_stay_finite},
      {"mse value and gradient by hand", test_mse_hand_case},
      {"two shards scaled by the global batch equal one batch", test_shards_match_whole_batch},
      {"cross-entropy gradient matches finite differences", test_ce_finite_differences},
      {"mse gradient matches finite differences", test_mse_finite_differences},
      {NULL, NULL}};
  return sn_test_main("loss", cases);
}
