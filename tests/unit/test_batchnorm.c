/* Tests of batchnorm2d, including `sync: true` across two fake ranks (threads). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sn_test_layers.h"

enum { P_GAMMA, P_BETA, P_MOVING_MEAN, P_MOVING_VARIANCE };

/* Per-channel mean and biased variance of n samples of (c, area). */
static void channel_stats(const float *x, int n, int c, int area, int ch, double *mean,
                          double *var) {
  double s = 0, q = 0;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < area; j++) {
      double v = x[((size_t)i * c + ch) * area + j];
      s += v;
      q += v * v;
    }
  const double m = (double)n * area;
  *mean = s / m;
  *var = q / m - *mean * *mean;
}

/* Channels with different offsets and spreads, so per-channel statistics matter. */
static void fill_channels(float *x, int n, int c, int area, unsigned seed) {
  sn_test_fill(x, (size_t)n * c * area, seed, -1, 1);
  for (int i = 0; i < n; i++)
    for (int ch = 0; ch < c; ch++)
      for (int j = 0; j < area; j++) {
        float *v = &x[((size_t)i * c + ch) * area + j];
        *v = *v * (1.0f + 2.0f * ch) + 3.0f * ch - 2.0f;
      }
}

static void test_training_normalises(void) {
  const struct {
    sn_shape shape;
    const char *layers;
    int c, area;
  } cases[] = {{sn_shape_chw(3, 4, 5), "batchnorm2d epsilon=1e-6", 3, 20},
               {sn_shape_chw(4, 1, 1), "flatten; batchnorm2d epsilon=1e-6", 4, 1}};
  for (int k = 0; k < 2; k++) {
    const int n = 8, c = cases[k].c, area = cases[k].area;
    sn_net *net = sn_test_net(cases[k].shape, cases[k].layers, n);
    if (!net) continue;
    float *x = malloc((size_t)n * c * area * sizeof *x);
    fill_channels(x, n, c, area, 21);
    sn_pass pass = {.training = 1};
    const float *y = sn_test_pass(net, x, n, &pass, NULL);
    for (int ch = 0; ch < c; ch++) {
      double mean, var;
      channel_stats(y, n, c, area, ch, &mean, &var);
      CU_ASSERT_DOUBLE_EQUAL(mean, 0.0, 1e-5);
      CU_ASSERT_DOUBLE_EQUAL(var, 1.0, 1e-4);
    }
    free(x);
    sn_net_destroy(net);
  }
}

static void test_moving_statistics(void) {
  enum { N = 5, C = 2, AREA = 9 };
  sn_net *net = sn_test_net(sn_shape_chw(C, 3, 3), "batchnorm2d momentum=0.9", N);
  if (!net) return;
  float x[N * C * AREA];
  fill_channels(x, N, C, AREA, 22);
  const sn_layer *bn = &net->layers[0];
  sn_pass train = {.training = 1};
  /* Two steps from (0, 1): moving = 0.9 * moving + 0.1 * batch, with the biased variance. */
  sn_test_pass(net, x, N, &train, NULL);
  for (int ch = 0; ch < C; ch++) {
    double mean, var;
    channel_stats(x, N, C, AREA, ch, &mean, &var);
    CU_ASSERT_DOUBLE_EQUAL(bn->params[P_MOVING_MEAN].data[ch], 0.1 * mean, 1e-5);
    CU_ASSERT_DOUBLE_EQUAL(bn->params[P_MOVING_VARIANCE].data[ch], 0.9 + 0.1 * var, 1e-5);
  }
  sn_test_pass(net, x, N, &train, NULL);
  for (int ch = 0; ch < C; ch++) {
    double mean, var;
    channel_stats(x, N, C, AREA, ch, &mean, &var);
    CU_ASSERT_DOUBLE_EQUAL(bn->params[P_MOVING_MEAN].data[ch], 0.19 * mean, 1e-5);
    CU_ASSERT_DOUBLE_EQUAL(bn->params[P_MOVING_VARIANCE].data[ch], 0.81 + 0.19 * var, 1e-5);
  }
  /* Inference neither uses nor changes the batch statistics. */
  float before[2 * C];
  memcpy(before, bn->params[P_MOVING_MEAN].data, C * sizeof(float));
  memcpy(before + C, bn->params[P_MOVING_VARIANCE].data, C * sizeof(float));
  sn_test_pass(net, x, N, NULL, NULL);
  SN_ASSERT_CLOSE(bn->params[P_MOVING_MEAN].data, before, C, 0, 0, "moving mean after inference");
  SN_ASSERT_CLOSE(bn->params[P_MOVING_VARIANCE].data, before + C, C, 0, 0,
                  "moving variance after inference");
  /* Keras's defaults: momentum 0.99, epsilon 1e-3 */
  sn_net *dflt = sn_test_net(sn_shape_chw(C, 3, 3), "batchnorm2d", N);
  if (dflt) {
    sn_test_pass(dflt, x, N, &train, NULL);
    double mean, var;
    channel_stats(x, N, C, AREA, 1, &mean, &var);
    CU_ASSERT_DOUBLE_EQUAL(dflt->layers[0].params[P_MOVING_MEAN].data[1], 0.01 * mean, 1e-5);
    const float *y = sn_net_output(dflt);
    CU_ASSERT_DOUBLE_EQUAL(y[AREA], (x[AREA] - mean) / sqrt(var + 1e-3), 1e-4);
    sn_net_destroy(dflt);
  }
  sn_net_destroy(net);
}

/* Gives gamma, beta and the moving statistics of layer i values that are not their
 * initial ones, so that every term of the formulas shows. */
static void perturb_params(sn_net *net, int i, unsigned seed) {
  sn_layer *bn = &net->layers[i];
  const size_t c = bn->params[P_GAMMA].count;
  sn_test_fill(bn->params[P_GAMMA].data, c, seed, 0.5f, 2.0f);
  sn_test_fill(bn->params[P_BETA].data, c, seed + 1, -1.0f, 1.0f);
  sn_test_fill(bn->params[P_MOVING_MEAN].data, c, seed + 2, -0.5f, 0.5f);
  sn_test_fill(bn->params[P_MOVING_VARIANCE].data, c, seed + 3, 0.5f, 2.0f);
}

static void test_inference_uses_moving_statistics(void) {
  enum { N = 3, C = 2, AREA = 4 };
  sn_net *net = sn_test_net(sn_shape_chw(C, 2, 2), "batchnorm2d epsilon=0.01", N);
  if (!net) return;
  perturb_params(net, 0, 30);
  const sn_layer *bn = &net->layers[0];
  float x[N * C * AREA], want[N * C * AREA];
  fill_channels(x, N, C, AREA, 23);
  for (int i = 0; i < N * C * AREA; i++) {
    const int ch = (i / AREA) % C;
    want[i] = (float)(bn->params[P_GAMMA].data[ch] * (x[i] - bn->params[P_MOVING_MEAN].data[ch]) /
                          sqrt(bn->params[P_MOVING_VARIANCE].data[ch] + 0.01) +
                      bn->params[P_BETA].data[ch]);
  }
  SN_ASSERT_CLOSE(sn_test_pass(net, x, N, NULL, NULL), want, N * C * AREA, 1e-5, 1e-5,
                  "inference output");
  sn_net_destroy(net);
}

static void test_gradients(void) {
  const struct {
    const char *layers;
    int bn;
  } cases[] = {{"batchnorm2d", 0},
               {"batchnorm2d momentum=0.5 epsilon=0.01", 0},
               {"flatten; batchnorm2d", 1},
               {"flatten; dense units=5 activation=tanh; batchnorm2d", 2}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    for (int training = 1; training >= 0; training--) {
      sn_net *net = sn_test_net(sn_shape_chw(3, 3, 2), cases[i].layers, 4);
      if (!net) continue;
      perturb_params(net, cases[i].bn, 40 + (unsigned)i);
      CU_ASSERT(sn_test_gradcheck(net, 4, training, 1e-2, 1e-2, 300) <= 1e-2);
      sn_net_destroy(net);
    }
}

/* --- two fake ranks -------------------------------------------------------------- */

/* Each rank publishes its sums, waits for the other, and both add the two slots in the
 * same order, so they hold bitwise identical totals (as an MPI all-reduce would). */
enum { SLOT = 256 };
typedef struct {
  pthread_barrier_t barrier;
  double slot[2][SLOT];
} exchange;

typedef struct {
  exchange *ex;
  int rank;
  sn_net *net;
  const float *x, *dout;
  int batch;
  int calls, too_large;
} fake_rank;

static void exchange_sum(void *ctx, double *values, int count) {
  fake_rank *r = ctx;
  r->calls++;
  if (count > SLOT) {
    r->too_large = 1;
    count = SLOT;
  }
  memcpy(r->ex->slot[r->rank], values, (size_t)count * sizeof *values);
  pthread_barrier_wait(&r->ex->barrier);
  for (int i = 0; i < count; i++) values[i] = r->ex->slot[0][i] + r->ex->slot[1][i];
  /* nobody overwrites a slot before both have read it */
  pthread_barrier_wait(&r->ex->barrier);
}

static void *run_rank(void *arg) {
  fake_rank *r = arg;
  sn_pass pass = {.training = 1, .reducer = {exchange_sum, r}};
  sn_test_pass(r->net, r->x, r->batch, &pass, r->dout);
  return NULL;
}

static void set_affine(sn_net *net, int i) {
  sn_layer *bn = &net->layers[i];
  sn_test_fill(bn->params[P_GAMMA].data, bn->params[P_GAMMA].count, 50, 0.5f, 2.0f);
  sn_test_fill(bn->params[P_BETA].data, bn->params[P_BETA].count, 51, -1.0f, 1.0f);
}

/* Runs `layers` (its batch-norm is layer bn, over c channels of `area` values) on 6
 * samples in one process, and split 2 + 4 (uneven, as when P does not divide the
 * batch) over two fake ranks, and compares. */
static void sync_case(const char *layers, int bn, int c, int area) {
  enum { FULL = 6, N0 = 2, N1 = 4, PER = 36 };
  const sn_shape shape = sn_shape_chw(3, 3, 4);
  sn_net *full = sn_test_net(shape, layers, FULL);
  sn_net *r0 = sn_test_net(shape, layers, N0);
  sn_net *r1 = sn_test_net(shape, layers, N1);
  if (!full || !r0 || !r1) {
    sn_net_destroy(full);
    sn_net_destroy(r0);
    sn_net_destroy(r1);
    return;
  }
  float x[FULL * PER], dout[FULL * PER];
  fill_channels(x, FULL, c, area, 60);
  sn_test_fill(dout, FULL * PER, 61, -1, 1);
  set_affine(full, bn);
  set_affine(r0, bn);
  set_affine(r1, bn);

  /* One process, whole batch: reducer.sum is NULL, the statistics are local. */
  sn_pass pass = {.training = 1};
  sn_test_pass(full, x, FULL, &pass, dout);

  exchange ex;
  pthread_barrier_init(&ex.barrier, NULL, 2);
  fake_rank ranks[2] = {
      {.ex = &ex, .rank = 0, .net = r0, .x = x, .dout = dout, .batch = N0},
      {.ex = &ex, .rank = 1, .net = r1, .x = x + N0 * PER, .dout = dout + N0 * PER, .batch = N1}};
  pthread_t threads[2];
  for (int r = 0; r < 2; r++) pthread_create(&threads[r], NULL, run_rank, &ranks[r]);
  for (int r = 0; r < 2; r++) pthread_join(threads[r], NULL);
  pthread_barrier_destroy(&ex.barrier);

  for (int r = 0; r < 2; r++) {
    CU_ASSERT_EQUAL(ranks[r].calls, 2); /* statistics in forward, sums in backward */
    CU_ASSERT_FALSE(ranks[r].too_large);
  }
  const float *y = sn_net_output(full);
  SN_ASSERT_CLOSE(sn_net_output(r0), y, N0 * PER, 1e-5, 1e-5, "rank 0 output");
  SN_ASSERT_CLOSE(sn_net_output(r1), y + N0 * PER, N1 * PER, 1e-5, 1e-5, "rank 1 output");
  SN_ASSERT_CLOSE(r0->dinput, full->dinput, N0 * PER, 1e-4, 1e-5, "rank 0 input gradient");
  SN_ASSERT_CLOSE(r1->dinput, full->dinput + N0 * PER, N1 * PER, 1e-4, 1e-5,
                  "rank 1 input gradient");
  /* The gradient all-reduce would add the ranks' parameter gradients. */
  float grads[2 * PER];
  CU_ASSERT_FATAL(full->n_params <= 2 * PER);
  for (size_t i = 0; i < full->n_params; i++) grads[i] = r0->grads[i] + r1->grads[i];
  SN_ASSERT_CLOSE(grads, full->grads, full->n_params, 1e-4, 1e-5, "summed parameter gradients");
  /* Both ranks keep the single process's moving statistics. */
  SN_ASSERT_CLOSE(r0->state, full->state, full->n_state, 1e-5, 1e-6, "rank 0 moving stats");
  SN_ASSERT_CLOSE(r1->state, full->state, full->n_state, 1e-5, 1e-6, "rank 1 moving stats");

  /* Without the exchange a rank normalises with its own statistics: visibly different,
   * so the comparisons above would catch a sync that did nothing. */
  sn_test_pass(r0, x, N0, &pass, NULL);
  double diff = 0;
  for (size_t i = 0; i < N0 * PER; i++) diff = fmax(diff, fabs(sn_net_output(r0)[i] - y[i]));
  CU_ASSERT(diff > 1e-2);
  sn_net_destroy(full);
  sn_net_destroy(r0);
  sn_net_destroy(r1);
}

static void test_sync_two_ranks_equal_one_batch(void) {
  sync_case("batchnorm2d sync=true momentum=0.8", 0, 3, 12);
  sync_case("flatten; batchnorm2d sync=true momentum=0.8", 1, 36, 1);
}

static void test_errors(void) {
  CU_ASSERT_EQUAL(sn_test_build_status(sn_shape_chw(1, 2, 2), "batchnorm2d epsilon=0"), SN_ERR_CONFIG);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "key 'epsilon' must be positive"));
  CU_ASSERT_EQUAL(sn_test_build_status(sn_shape_chw(1, 2, 2), "batchnorm2d momentum=1.5"), SN_ERR_CONFIG);
  CU_ASSERT_EQUAL(sn_test_build_status(sn_shape_chw(1, 2, 2), "batchnorm2d sync=maybe"), SN_ERR_CONFIG);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "key 'sync'"));
  /* gamma and beta are trainable, the moving statistics are state */
  sn_net *net = sn_test_net(sn_shape_chw(5, 2, 2), "batchnorm2d", 1);
  if (!net) return;
  CU_ASSERT_EQUAL(net->n_params, 10);
  CU_ASSERT_EQUAL(net->n_state, 10);
  CU_ASSERT_STRING_EQUAL(net->layers[0].params[P_MOVING_VARIANCE].name, "moving_variance");
  CU_ASSERT_PTR_NULL(net->layers[0].params[P_MOVING_MEAN].grad);
  sn_net_destroy(net);
}

int main(void) {
  const sn_test_case cases[] = {
      {"training output has per-channel mean 0 and variance 1", test_training_normalises},
      {"moving statistics follow the Keras momentum rule", test_moving_statistics},
      {"inference normalises with the moving statistics", test_inference_uses_moving_statistics},
      {"batch-norm gradients match finite differences (training and inference)", test_gradients},
      {"sync over two fake ranks equals one big batch", test_sync_two_ranks_equal_one_batch},
      {"keys, parameters and state", test_errors},
      {NULL, NULL}};
  return sn_test_main("batchnorm", cases);
}
