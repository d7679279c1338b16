/* shardnet_bench: images/s of full training steps of the example models on random data,
 * per-layer times and GFLOP/s, and the machine's sgemm rate, for repeatable comparisons
 * (bench/run.sh puts them beside PyTorch on the same models). */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shardnet/config.h"
#include "shardnet/gemm.h"
#include "shardnet/loss.h"
#include "shardnet/memory.h"
#include "shardnet/optim.h"
#include "shardnet/rng.h"
#include "shardnet/timer.h"

#define MAX_LIST 8

typedef struct {
  int steps, warmup, batch, sgemm_n, csv;
  int n_threads, threads[MAX_LIST];
  int n_models;
  const char *models[MAX_LIST];
  char configs[1024];
  char model_list[512]; /* --model's text, split in place into models */
} options;

static void usage(FILE *out) {
  fprintf(out,
          "usage: shardnet_bench [--steps N] [--warmup N] [--batch N] [--threads 1,2]\n"
          "                      [--model NAME[,NAME]] [--configs DIR] [--sgemm N] [--csv]\n"
          "Times full training steps (zero_grad, forward in training mode, loss, backward,\n"
          "optimizer step) of configs/NAME.yaml on random data after warm-up steps.\n"
          "  --steps N      timed steps per model and thread count (default 30)\n"
          "  --warmup N     untimed steps first (default 5)\n"
          "  --batch N      samples per step (default 64)\n"
          "  --threads L    OpenMP (and OpenBLAS) thread counts to run (default 1,2)\n"
          "  --model L      config names (default fashion_mnist,cifar_example)\n"
          "  --configs DIR  where NAME.yaml lives (default $SN_SOURCE_DIR/configs or configs)\n"
          "  --sgemm N      size of the square sgemm measuring the machine; 0 skips (default 1024)\n"
          "  --csv          machine-readable lines instead of tables\n");
}

static int parse_count(const char *s, int min, int *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (end == s || *end || v < min || v > 1 << 20) return 0;
  *out = (int)v;
  return 1;
}

/* Splits a comma list into at most MAX_LIST items inside buf (cap bytes), keeping the
 * option itself whole for messages. */
static int split_list(const char *s, char *buf, size_t cap, const char **items) {
  if (strlen(s) >= cap) return 0;
  memcpy(buf, s, strlen(s) + 1);
  int n = 0;
  char *save = NULL;
  for (char *tok = strtok_r(buf, ",", &save); tok && n < MAX_LIST; tok = strtok_r(NULL, ",", &save))
    items[n++] = tok;
  return n;
}

static int parse_options(int argc, char **argv, options *o) {
  *o = (options){.steps = 30, .warmup = 5, .batch = 64, .sgemm_n = 1024,
                 .n_threads = 2, .threads = {1, 2},
                 .n_models = 2, .models = {"fashion_mnist", "cifar_example"}};
  const char *src = getenv("SN_SOURCE_DIR");
  snprintf(o->configs, sizeof o->configs, "%s%s", src ? src : "", src ? "/configs" : "configs");
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int ok = 1;
    if (!strcmp(a, "--csv")) {
      o->csv = 1;
      continue;
    }
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      exit(0);
    }
    if (!v) {
      fprintf(stderr, "shardnet_bench: error: %s needs a value\n", a);
      return 0;
    }
    i++;
    if (!strcmp(a, "--steps")) ok = parse_count(v, 1, &o->steps);
    else if (!strcmp(a, "--warmup")) ok = parse_count(v, 0, &o->warmup);
    else if (!strcmp(a, "--batch")) ok = parse_count(v, 1, &o->batch);
    else if (!strcmp(a, "--sgemm")) ok = parse_count(v, 0, &o->sgemm_n);
    else if (!strcmp(a, "--configs")) snprintf(o->configs, sizeof o->configs, "%s", v);
    else if (!strcmp(a, "--model")) ok = (o->n_models = split_list(v, o->model_list, sizeof o->model_list, o->models)) > 0;
    else if (!strcmp(a, "--threads")) {
      const char *items[MAX_LIST];
      char buf[256];
      o->n_threads = split_list(v, buf, sizeof buf, items);
      ok = o->n_threads > 0;
      for (int k = 0; k < o->n_threads && ok; k++) ok = parse_count(items[k], 1, &o->threads[k]);
    } else {
      fprintf(stderr, "shardnet_bench: error: unknown option '%s'\n", a);
      usage(stderr);
      return 0;
    }
    if (!ok) {
      fprintf(stderr, "shardnet_bench: error: %s: bad value '%s'\n", a, v);
      return 0;
    }
  }
  return 1;
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Best of 5 square sgemms after one warm-up: the machine's attainable matrix rate. */
static double sgemm_gflops(int n, int threads) {
  omp_set_num_threads(threads);
  const size_t nn = (size_t)n * (size_t)n;
  float *a, *b, *c;
  if (sn_alloc_floats(nn, &a) || sn_alloc_floats(nn, &b) || sn_alloc_floats(nn, &c)) return 0.0;
  sn_rng_uniform(sn_rng_make_key(1, 0, 1), 0, a, nn);
  sn_rng_uniform(sn_rng_make_key(1, 0, 2), 0, b, nn);
  double best = 1e30;
  for (int r = 0; r < 6; r++) {
    double t0 = sn_now();
    sn_gemm(0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    double dt = sn_now() - t0;
    if (r > 0 && dt < best) best = dt;
  }
  sn_free(a);
  sn_free(b);
  sn_free(c);
  return 2.0 * n * (double)nn / best * 1e-9;
}

/* One model at one batch size: the net, its optimizer and a random batch. */
typedef struct {
  const char *name;
  sn_config *cfg;
  sn_net *net;
  sn_optimizer *opt;
  float *x, *targets;
  int *labels;
  int batch, dim;
  sn_pass pass;
  double *fwd, *bwd; /* per-layer seconds summed over the timed steps */
} model;

static void model_free(model *m) {
  sn_optimizer_destroy(m->opt);
  sn_net_destroy(m->net);
  sn_config_free(m->cfg);
  sn_free(m->x);
  sn_free(m->targets);
  free(m->labels);
  free(m->fwd);
  free(m->bwd);
}

static sn_status model_load(const options *o, const char *name, model *m) {
  memset(m, 0, sizeof *m);
  m->name = name;
  m->batch = o->batch;
  char path[1200];
  snprintf(path, sizeof path, "%s/%s.yaml", o->configs, name);
  SN_TRY(sn_config_load(path, NULL, 0, &m->cfg));
  SN_TRY(sn_net_create(&m->cfg->model, &m->net));
  sn_net_init_params(m->net, m->cfg->seed);
  SN_TRY(sn_optimizer_create(m->cfg->train.optimizer, m->net->n_params, &m->opt));
  const size_t in = sn_shape_size(m->net->input_shape);
  m->dim = (int)sn_shape_size(sn_net_output_shape(m->net));
  SN_TRY(sn_alloc_floats((size_t)m->batch * in, &m->x));
  SN_TRY(sn_alloc_floats((size_t)m->batch * m->dim, &m->targets));
  m->labels = calloc((size_t)m->batch, sizeof *m->labels);
  m->fwd = calloc((size_t)m->net->n_layers, sizeof *m->fwd);
  m->bwd = calloc((size_t)m->net->n_layers, sizeof *m->bwd);
  if (!m->labels || !m->fwd || !m->bwd) return sn_fail(SN_ERR_NOMEM, "cannot allocate the batch");
  const sn_rng_key key = sn_rng_make_key(m->cfg->seed, 0, SN_RNG_STREAM_TEST_DATA);
  sn_rng_uniform(key, 0, m->x, (size_t)m->batch * in);
  sn_rng_uniform(key, 1, m->targets, (size_t)m->batch * m->dim);
  for (int i = 0; i < m->batch; i++) m->labels[i] = (int)(m->targets[(size_t)i * m->dim] * m->dim);
  m->pass = (sn_pass){.training = 1, .seed = m->cfg->seed};
  return SN_OK;
}

/* One training step exactly as the trainer takes it, minus data loading and the
 * all-reduce; fresh dropout masks each step as in real training. */
static double train_step(model *m) {
  sn_net *net = m->net;
  double t0 = sn_now();
  sn_net_zero_grad(net);
  sn_net_forward(net, m->x, m->batch, &m->pass);
  sn_loss_compute(net->loss, sn_net_output(net), m->batch, m->dim, m->labels, m->targets,
                  1.0 / m->batch, sn_net_output_grad(net), NULL);
  sn_net_backward(net, m->x, m->batch, &m->pass);
  sn_optimizer_step(m->opt, net->params, net->grads, (float)sn_optimizer_lr(m->opt));
  m->pass.first_sample += (uint64_t)m->batch;
  return sn_now() - t0;
}

/* Backward work relative to forward: a layer with weights computes the weight
 * gradient and (unless it reads the network input, whose gradient nobody needs)
 * the input gradient, each costing one forward. */
static double backward_factor(const sn_net *net, const sn_layer *l) {
  int weights = 0, needs_din = 0;
  for (int k = 0; k < l->n_params; k++) weights |= l->params[k].trainable;
  for (int k = 0; k < l->n_inputs; k++) needs_din |= l->inputs[k] >= 0 || net->dinput != NULL;
  return weights ? (needs_din ? 2.0 : 1.0) : 1.0;
}

static void print_layers(const options *o, const model *m, int threads) {
  const sn_net *net = m->net;
  double layer_total = 0.0;
  if (!o->csv) printf("    %-10s %-10s %9s %9s %9s %9s\n", "layer", "type", "fwd ms", "GFLOP/s", "bwd ms", "GFLOP/s");
  for (int i = 0; i < net->n_layers; i++) {
    const sn_layer *l = &net->layers[i];
    const double fwd = m->fwd[i] / o->steps, bwd = m->bwd[i] / o->steps;
    const double flops = l->ops->flops ? l->ops->flops(l) * m->batch : 0.0;
    const double fg = flops > 0 && fwd > 0 ? flops / fwd * 1e-9 : 0.0;
    const double bg = flops > 0 && bwd > 0 ? backward_factor(net, l) * flops / bwd * 1e-9 : 0.0;
    layer_total += fwd + bwd;
    if (o->csv) {
      printf("layer,shardnet,%s,%d,%s,%s,%.4f,%.2f,%.4f,%.2f\n", m->name, threads, l->name,
             l->ops->type, fwd * 1e3, fg, bwd * 1e3, bg);
    } else {
      char fgs[16] = "-", bgs[16] = "-";
      if (fg > 0) snprintf(fgs, sizeof fgs, "%.1f", fg);
      if (bg > 0) snprintf(bgs, sizeof bgs, "%.1f", bg);
      printf("    %-10s %-10s %9.3f %9s %9.3f %9s\n", l->name, l->ops->type, fwd * 1e3, fgs,
             bwd * 1e3, bgs);
    }
  }
  if (!o->csv) printf("    %-21s %9.3f ms per step in layers\n", "total", layer_total * 1e3);
}

static sn_status run_model(const options *o, model *m, int threads) {
  omp_set_num_threads(threads);
  /* Reserve after choosing the thread count: layers size their per-thread scratch
   * for the threads they will have. */
  SN_TRY(sn_net_reserve(m->net, m->batch, 0));
  sn_net *net = m->net;
  net->profile = 0;
  for (int s = 0; s < o->warmup; s++) train_step(m);
  double *times = calloc((size_t)o->steps, sizeof *times);
  if (!times) return sn_fail(SN_ERR_NOMEM, "cannot allocate timings");
  memset(m->fwd, 0, (size_t)net->n_layers * sizeof *m->fwd);
  memset(m->bwd, 0, (size_t)net->n_layers * sizeof *m->bwd);
  /* Profiling costs two clock reads per layer per pass: noise next to a layer. */
  net->profile = 1;
  double sum = 0.0;
  for (int s = 0; s < o->steps; s++) {
    times[s] = train_step(m);
    sum += times[s];
    for (int i = 0; i < net->n_layers; i++) {
      m->fwd[i] += net->fwd_seconds[i];
      m->bwd[i] += net->bwd_seconds[i];
    }
  }
  net->profile = 0;
  qsort(times, (size_t)o->steps, sizeof *times, compare_doubles);
  const double median = o->steps % 2 ? times[o->steps / 2]
                                     : 0.5 * (times[o->steps / 2 - 1] + times[o->steps / 2]);
  free(times);
  const double rate = m->batch / median, mean = sum / o->steps;
  /* The same line format as bench/torch_models.py. */
  if (o->csv)
    printf("bench,shardnet,%s,%d,%d,%.2f,%.3f,%.3f\n", m->name, threads, m->batch, rate,
           median * 1e3, mean * 1e3);
  else
    printf("shardnet %-14s threads %d: %9.1f images/s  (step median %.2f ms, mean %.2f ms, %d steps)\n",
           m->name, threads, rate, median * 1e3, mean * 1e3, o->steps);
  print_layers(o, m, threads);
  fflush(stdout);
  return SN_OK;
}

static double forward_flops(const sn_net *net) {
  double f = 0.0;
  for (int i = 0; i < net->n_layers; i++)
    if (net->layers[i].ops->flops) f += net->layers[i].ops->flops(&net->layers[i]);
  return f;
}

int main(int argc, char **argv) {
  options o;
  if (!parse_options(argc, argv, &o)) return 2;
  if (o.csv)
    printf("# bench,framework,model,threads,batch,images_per_s,median_step_ms,mean_step_ms\n"
           "# layer,framework,model,threads,name,type,fwd_ms,fwd_gflops,bwd_ms,bwd_gflops\n"
           "# sgemm,threads,n,gflops\n");
  else
    printf("shardnet_bench: batch %d, %d warm-up + %d timed steps (zero_grad, forward, loss, "
           "backward, optimizer step); images/s from the median step\nBLAS: %s\n",
           o.batch, o.warmup, o.steps, sn_blas_name());
  for (int k = 0; k < o.n_threads && o.sgemm_n > 0; k++) {
    double g = sgemm_gflops(o.sgemm_n, o.threads[k]);
    if (o.csv)
      printf("sgemm,%d,%d,%.2f\n", o.threads[k], o.sgemm_n, g);
    else
      printf("sgemm %dx%dx%d, %d thread%s: %.1f GFLOP/s\n", o.sgemm_n, o.sgemm_n, o.sgemm_n,
             o.threads[k], o.threads[k] > 1 ? "s" : "", g);
  }
  int status = 0;
  for (int i = 0; i < o.n_models; i++) {
    model m;
    sn_status st = model_load(&o, o.models[i], &m);
    if (st == SN_OK && !o.csv)
      printf("\n%s: %zu parameters, %.1f MFLOP per sample forward, loss %s, optimizer %s\n",
             m.name, m.net->n_params, forward_flops(m.net) * 1e-6,
             m.net->loss == SN_LOSS_MSE ? "mse" : "softmax_cross_entropy",
             sn_optim_names[sn_optimizer_kind(m.opt)]);
    for (int k = 0; k < o.n_threads && st == SN_OK; k++) st = run_model(&o, &m, o.threads[k]);
    if (st != SN_OK) {
      fprintf(stderr, "shardnet_bench: error: %s: %s\n", o.models[i], sn_last_error());
      status = 1;
    }
    model_free(&m);
  }
  return status;
}
