/* End to end: forward, loss, backward and Adam together drive a small network to
 * memorise 8 fixed random samples; a wrong sign or scale anywhere stalls it. */
#include <math.h>
#include <stdio.h>

#include "shardnet/loss.h"
#include "shardnet/optim.h"
#include "sn_test.h"

enum { N = 8, MAX_STEPS = 400 };

/* Trains net on (x, labels or targets) with full-batch Adam and returns the mean
 * loss after the last step (or at the first step below 0.01). */
static double train(sn_net *net, const float *x, const int *labels, const float *targets,
                    sn_loss_kind kind, const char *optimizer, int *steps_taken) {
  sn_args *args;
  sn_optimizer *opt = NULL;
  CU_ASSERT_EQUAL_FATAL(sn_args_from_string(optimizer, &args), SN_OK);
  CU_ASSERT_EQUAL_FATAL(sn_optimizer_create(args, net->n_params, &opt), SN_OK);
  sn_args_free(args);
  const int dim = (int)sn_shape_size(sn_net_output_shape(net));
  const sn_pass pass = {.training = 1, .seed = 3};
  double loss = INFINITY;
  int step;
  for (step = 0; step < MAX_STEPS; step++) {
    sn_net_zero_grad(net);
    sn_net_forward(net, x, N, &pass);
    loss = sn_loss_compute(kind, sn_net_output(net), N, dim, labels, targets, 1.0 / N,
                           sn_net_output_grad(net), NULL) / N;
    if (loss < 0.01) break;
    sn_net_backward(net, x, N, &pass);
    sn_optimizer_step(opt, net->params, net->grads, (float)sn_optimizer_lr(opt));
  }
  *steps_taken = step;
  sn_optimizer_destroy(opt);
  return loss;
}

static void overfit_classifier(sn_shape input, const char *layers) {
  float x[N * 72];
  const int labels[N] = {3, 7, 0, 9, 3, 1, 5, 2};
  const size_t per_sample = sn_shape_size(input);
  CU_ASSERT_FATAL(N * per_sample <= sizeof x / sizeof *x);
  sn_test_fill(x, N * per_sample, 5, 0, 1);
  sn_net *net = sn_test_net(input, layers, N);
  if (!net) return;
  int steps;
  double loss = train(net, x, labels, NULL, SN_LOSS_SOFTMAX_CROSS_ENTROPY, "type=adam lr=0.01",
                      &steps);
  printf("(cross-entropy %.4g after %d steps) ", loss, steps);
  CU_ASSERT(loss < 0.01);
  /* Memorised means every sample is classified right. */
  int correct;
  sn_loss_compute(SN_LOSS_SOFTMAX_CROSS_ENTROPY, sn_net_output(net), N, 10, labels, NULL, 1.0,
                  NULL, &correct);
  CU_ASSERT_EQUAL(correct, N);
  sn_net_destroy(net);
}

static void test_overfit_dense(void) {
  overfit_classifier(sn_shape_chw(1, 6, 6),
                     "flatten; dense units=32 activation=relu; dense units=10");
}

static void test_overfit_conv(void) {
  overfit_classifier(sn_shape_chw(2, 6, 6),
                     "conv2d filters=8 kernel=3 padding=same activation=relu; "
                     "maxpool2d size=2 stride=2; flatten; dense units=10");
}

static void test_overfit_regression(void) {
  float x[N * 12], targets[N * 3];
  sn_test_fill(x, N * 12, 6, -1, 1);
  sn_test_fill(targets, N * 3, 7, -1, 1);
  sn_net *net = sn_test_net(sn_shape_chw(3, 2, 2),
                            "flatten; dense units=32 activation=tanh; dense units=3", N);
  if (!net) return;
  int steps;
  double loss = train(net, x, NULL, targets, SN_LOSS_MSE, "type=adamw lr=0.01 weight_decay=0",
                      &steps);
  printf("(mse %.4g after %d steps) ", loss, steps);
  CU_ASSERT(loss < 0.01);
  sn_net_destroy(net);
}

int main(void) {
  const sn_test_case cases[] = {
      {"dense classifier memorises 8 samples", test_overfit_dense},
      {"conv + pool + dense classifier memorises 8 samples", test_overfit_conv},
      {"dense regressor memorises 8 targets", test_overfit_regression},
      {NULL, NULL}};
  return sn_test_main("overfit", cases);
}
