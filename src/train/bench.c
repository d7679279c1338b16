/* Training steps of a configured model on random data, timed. */
#include "shardnet/bench.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "shardnet/gemm.h"
#include "shardnet/loss.h"
#include "shardnet/memory.h"
#include "shardnet/rng.h"
#include "shardnet/timer.h"

void sn_bench_model_free(sn_bench_model *m) {
  sn_optimizer_destroy(m->opt);
  sn_net_destroy(m->net);
  sn_config_free(m->cfg);
  sn_free(m->x);
  sn_free(m->targets);
  free(m->labels);
  free(m->fwd);
  free(m->bwd);
  memset(m, 0, sizeof *m);
}

sn_status sn_bench_model_load(const char *config_path, int batch, sn_bench_model *m) {
  memset(m, 0, sizeof *m);
  m->batch = batch;
  SN_TRY(sn_config_load(config_path, NULL, 0, &m->cfg));
  SN_TRY(sn_net_create(&m->cfg->model, &m->net));
  sn_net_init_params(m->net, m->cfg->seed);
  SN_TRY(sn_optimizer_create(m->cfg->train.optimizer, m->net->n_params, &m->opt));
  const size_t in = sn_shape_size(m->net->input_shape);
  m->dim = (int)sn_shape_size(sn_net_output_shape(m->net));
  SN_TRY(sn_alloc_floats((size_t)batch * in, &m->x));
  SN_TRY(sn_alloc_floats((size_t)batch * m->dim, &m->targets));
  m->labels = calloc((size_t)batch, sizeof *m->labels);
  m->fwd = calloc((size_t)m->net->n_layers, sizeof *m->fwd);
  m->bwd = calloc((size_t)m->net->n_layers, sizeof *m->bwd);
  if (!m->labels || !m->fwd || !m->bwd) return sn_fail(SN_ERR_NOMEM, "cannot allocate the batch");
  const sn_rng_key key = sn_rng_make_key(m->cfg->seed, 0, SN_RNG_STREAM_TEST_DATA);
  sn_rng_uniform(key, 0, m->x, (size_t)batch * in);
  sn_rng_uniform(key, 1, m->targets, (size_t)batch * m->dim);
  for (int i = 0; i < batch; i++) m->labels[i] = (int)(m->targets[(size_t)i * m->dim] * m->dim);
  m->pass = (sn_pass){.training = 1, .seed = m->cfg->seed};
  return SN_OK;
}

/* One training step as the trainer takes it, minus data loading and the reduction;
 * fresh dropout masks each step as in real training. */
static double train_step(sn_bench_model *m) {
  sn_net *net = m->net;
  double t0 = sn_now();
  sn_net_zero_grad(net);
  sn_net_forward(net, m->x, m->batch, &m->pass);
  sn_loss_compute(net->loss, sn_net_output(net), m->batch, m->dim, m->labels, m->targets, 1.0 / m->batch,
                  sn_net_output_grad(net), NULL);
  sn_net_backward(net, m->x, m->batch, &m->pass);
  sn_optimizer_step(m->opt, net->params, net->grads, (float)sn_optimizer_lr(m->opt));
  m->pass.first_sample += (uint64_t)m->batch;
  return sn_now() - t0;
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

sn_status sn_bench_model_run(sn_bench_model *m, int threads, int warmup, int steps, sn_bench_result *r) {
  omp_set_num_threads(threads);
  /* Reserve after choosing the thread count: layers size their per-thread scratch
   * for the threads they will have. */
  SN_TRY(sn_net_reserve(m->net, m->batch, 0));
  sn_net *net = m->net;
  net->profile = 0;
  for (int s = 0; s < warmup; s++) train_step(m);
  double *times = calloc((size_t)steps, sizeof *times);
  if (!times) return sn_fail(SN_ERR_NOMEM, "cannot allocate timings");
  memset(m->fwd, 0, (size_t)net->n_layers * sizeof *m->fwd);
  memset(m->bwd, 0, (size_t)net->n_layers * sizeof *m->bwd);
  /* Profiling costs two clock reads per layer per pass: noise next to a layer. */
  net->profile = 1;
  double sum = 0.0;
  for (int s = 0; s < steps; s++) {
    times[s] = train_step(m);
    sum += times[s];
    for (int i = 0; i < net->n_layers; i++) {
      m->fwd[i] += net->fwd_seconds[i];
      m->bwd[i] += net->bwd_seconds[i];
    }
  }
  net->profile = 0;
  qsort(times, (size_t)steps, sizeof *times, compare_doubles);
  r->median = steps % 2 ? times[steps / 2] : 0.5 * (times[steps / 2 - 1] + times[steps / 2]);
  r->mean = sum / steps;
  free(times);
  return SN_OK;
}

double sn_bench_backward_factor(const sn_net *net, const sn_layer *l) {
  int weights = 0, needs_din = 0;
  for (int k = 0; k < l->n_params; k++) weights |= l->params[k].trainable;
  for (int k = 0; k < l->n_inputs; k++) needs_din |= l->inputs[k] >= 0 || net->dinput != NULL;
  return weights ? (needs_din ? 2.0 : 1.0) : 1.0;
}

double sn_bench_forward_flops(const sn_net *net) {
  double f = 0.0;
  for (int i = 0; i < net->n_layers; i++)
    if (net->layers[i].ops->flops) f += net->layers[i].ops->flops(&net->layers[i]);
  return f;
}

double sn_bench_sgemm_gflops(int n, int threads) {
  omp_set_num_threads(threads);
  const size_t nn = (size_t)n * (size_t)n;
  float *a = NULL, *b = NULL, *c = NULL;
  double best = 0.0;
  if (sn_alloc_floats(nn, &a) == SN_OK && sn_alloc_floats(nn, &b) == SN_OK && sn_alloc_floats(nn, &c) == SN_OK) {
    sn_rng_uniform(sn_rng_make_key(1, 0, 1), 0, a, nn);
    sn_rng_uniform(sn_rng_make_key(1, 0, 2), 0, b, nn);
    best = 1e30;
    for (int r = 0; r < 6; r++) {
      double t0 = sn_now();
      sn_gemm(0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
      double dt = sn_now() - t0;
      if (r > 0 && dt < best) best = dt;
    }
  }
  sn_free(a);
  sn_free(b);
  sn_free(c);
  return best > 0.0 ? 2.0 * n * (double)nn / best * 1e-9 : 0.0;
}
