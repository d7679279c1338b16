/* `shardnet bench`: images/s of full training steps of configured models on random
 * data, per-layer times and GFLOP/s, and the machine's sgemm rate, in tables or in
 * the CSV lines bench/run.sh puts beside PyTorch's (bench/torch_models.py). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "shardnet/bench.h"
#include "shardnet/gemm.h"
#include "shardnet/kernels.h"
#include "shardnet/net.h"

#define MAX_LIST 8

static const char usage[] =
    "usage: shardnet bench [--steps N] [--warmup N] [--batch N] [--threads 1,2]\n"
    "                      [--model NAME[,NAME]] [--configs DIR] [--sgemm N] [--precision P] [--csv]\n"
    "Times full training steps (zero_grad, forward in training mode, loss, backward,\n"
    "optimizer step) of DIR/NAME.yaml on random data after warm-up steps, on one process.\n"
    "  --steps N      timed steps per model and thread count (default 30)\n"
    "  --warmup N     untimed steps first (default 5)\n"
    "  --batch N      samples per step (default 64)\n"
    "  --threads L    OpenMP (and OpenBLAS) thread counts to run (default 1,2)\n"
    "  --model L      config names (default fashion_mnist,cifar_example)\n"
    "  --configs DIR  where NAME.yaml lives (default $SN_SOURCE_DIR/configs, else configs)\n"
    "  --sgemm N      size of the square sgemm measuring the machine; 0 skips (default 1024)\n"
    "  --precision P  fp32 (default) or bf16 (convolutions in bf16 with fp32 accumulation,\n"
    "                 as train.precision: bf16; CSV lines then name the framework shardnet_bf16)\n"
    "  --csv          machine-readable lines instead of tables";

typedef struct {
  int steps, warmup, batch, sgemm_n, csv;
  sn_precision precision;
  int n_threads, threads[MAX_LIST];
  int n_models;
  const char *models[MAX_LIST];
  char configs[1024];
  char model_list[512];  /* --model's text, split in place into models */
} options;

static int parse_count(const char *s, int min, int *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (end == s || *end || v < min || v > 1 << 20) return 0;
  *out = (int)v;
  return 1;
}

/* Splits a comma list into at most MAX_LIST items inside buf (cap bytes). */
static int split_list(const char *s, char *buf, size_t cap, const char **items) {
  if (strlen(s) >= cap) return 0;
  memcpy(buf, s, strlen(s) + 1);
  int n = 0;
  char *save = NULL;
  for (char *tok = strtok_r(buf, ",", &save); tok && n < MAX_LIST; tok = strtok_r(NULL, ",", &save))
    items[n++] = tok;
  return n;
}

static int parse_threads(const char *v, options *o) {
  const char *items[MAX_LIST];
  char buf[256];
  o->n_threads = split_list(v, buf, sizeof buf, items);
  int ok = o->n_threads > 0;
  for (int k = 0; k < o->n_threads && ok; k++) ok = parse_count(items[k], 1, &o->threads[k]);
  return ok;
}

/* 1: run, 0: --help was printed, -1: a bad argument was reported. */
static int parse_options(int argc, char **argv, options *o) {
  *o = (options){.steps = 30, .warmup = 5, .batch = 64, .sgemm_n = 1024, .n_threads = 2, .threads = {1, 2},
                 .n_models = 2, .models = {"fashion_mnist", "cifar_example"}};
  const char *src = getenv("SN_SOURCE_DIR");
  snprintf(o->configs, sizeof o->configs, "%s%s", src ? src : "", src ? "/configs" : "configs");
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      puts(usage);
      return 0;
    }
    if (!strcmp(a, "--csv")) {
      o->csv = 1;
      continue;
    }
    static const char *const valued[] = {"--steps", "--warmup", "--batch", "--sgemm", "--configs", "--model",
                                         "--threads", "--precision"};
    int which = -1, got = 0;
    for (int k = 0; k < 8 && !got; k++)
      if ((got = sn_cli_take_value(argc, argv, &i, valued[k], &v)) != 0) which = k;
    if (got < 0) return -1;
    if (which < 0) {
      sn_cli_error("bench: unknown option '%s' (run 'shardnet bench --help')", a);
      return -1;
    }
    int ok = 1;
    switch (which) {
      case 0: ok = parse_count(v, 1, &o->steps); break;
      case 1: ok = parse_count(v, 0, &o->warmup); break;
      case 2: ok = parse_count(v, 1, &o->batch); break;
      case 3: ok = parse_count(v, 0, &o->sgemm_n); break;
      case 4: snprintf(o->configs, sizeof o->configs, "%s", v); break;
      case 5: ok = (o->n_models = split_list(v, o->model_list, sizeof o->model_list, o->models)) > 0; break;
      case 6: ok = parse_threads(v, o); break;
      default:
        ok = !strcmp(v, "fp32") || !strcmp(v, "bf16");
        o->precision = !strcmp(v, "bf16") ? SN_PRECISION_BF16 : SN_PRECISION_FP32;
        break;
    }
    if (!ok) {
      sn_cli_error("bench: %s: bad value '%s'", valued[which], v);
      return -1;
    }
  }
  return 1;
}

/* The framework column of CSV lines: bench/run.sh tells the precisions apart by it. */
static const char *framework(const options *o) {
  return o->precision == SN_PRECISION_BF16 ? "shardnet_bf16" : "shardnet";
}

static void print_layers(const options *o, const char *name, const sn_bench_model *m, int threads) {
  const sn_net *net = m->net;
  double layer_total = 0.0;
  if (!o->csv)
    printf("    %-10s %-10s %9s %9s %9s %9s  %s\n", "layer", "type", "fwd ms", "GFLOP/s", "bwd ms", "GFLOP/s",
           "kernel");
  for (int i = 0; i < net->n_layers; i++) {
    const sn_layer *l = &net->layers[i];
    const double fwd = m->fwd[i] / o->steps, bwd = m->bwd[i] / o->steps;
    const double flops = l->ops->flops ? l->ops->flops(l) * m->batch : 0.0;
    const double fg = flops > 0 && fwd > 0 ? flops / fwd * 1e-9 : 0.0;
    const double bg = flops > 0 && bwd > 0 ? sn_bench_backward_factor(net, l) * flops / bwd * 1e-9 : 0.0;
    layer_total += fwd + bwd;
    if (o->csv) {
      printf("layer,%s,%s,%d,%s,%s,%.4f,%.2f,%.4f,%.2f\n", framework(o), name, threads, l->name, l->ops->type,
             fwd * 1e3, fg, bwd * 1e3, bg);
    } else {
      char fgs[16] = "-", bgs[16] = "-";
      if (fg > 0) snprintf(fgs, sizeof fgs, "%.1f", fg);
      if (bg > 0) snprintf(bgs, sizeof bgs, "%.1f", bg);
      printf("    %-10s %-10s %9.3f %9s %9.3f %9s", l->name, l->ops->type, fwd * 1e3, fgs, bwd * 1e3, bgs);
      if (l->ops->kernel_name) printf("  %s", l->ops->kernel_name(l));
      putchar('\n');
    }
  }
  if (!o->csv) printf("    %-21s %9.3f ms per step in layers\n", "total", layer_total * 1e3);
}

static sn_status bench_model(const options *o, const char *name) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s.yaml", o->configs, name);
  sn_bench_model m;
  sn_status st = sn_bench_model_load(path, o->batch, &m);
  if (st == SN_OK) sn_net_set_kernels(m.net, sn_kernels_default(), o->precision);
  if (st == SN_OK && !o->csv)
    printf("\n%s: %zu parameters, %.1f MFLOP per sample forward, loss %s, optimizer %s\n", name, m.net->n_params,
           sn_bench_forward_flops(m.net) * 1e-6, sn_loss_names[m.net->loss], sn_optim_names[sn_optimizer_kind(m.opt)]);
  for (int k = 0; k < o->n_threads && st == SN_OK; k++) {
    sn_bench_result r;
    st = sn_bench_model_run(&m, o->threads[k], o->warmup, o->steps, &r);
    if (st != SN_OK) break;
    const double rate = m.batch / r.median;
    /* The same line format as bench/torch_models.py. */
    if (o->csv)
      printf("bench,%s,%s,%d,%d,%.2f,%.3f,%.3f\n", framework(o), name, o->threads[k], m.batch, rate,
             r.median * 1e3, r.mean * 1e3);
    else
      printf("shardnet %-14s threads %d: %9.1f images/s  (step median %.2f ms, mean %.2f ms, %d steps)\n", name,
             o->threads[k], rate, r.median * 1e3, r.mean * 1e3, o->steps);
    print_layers(o, name, &m, o->threads[k]);
    fflush(stdout);
  }
  sn_bench_model_free(&m);
  return st;
}

int sn_cmd_bench(int argc, char **argv) {
  options o;
  const int parsed = parse_options(argc, argv, &o);
  if (parsed <= 0) return parsed == 0 ? 0 : 2;
  if (sn_kernels_check_precision(o.precision, "bench: --precision") != SN_OK) {
    sn_cli_error("%s", sn_last_error());
    return 2;
  }
  if (o.csv)
    printf("# bench,framework,model,threads,batch,images_per_s,median_step_ms,mean_step_ms\n"
           "# layer,framework,model,threads,name,type,fwd_ms,fwd_gflops,bwd_ms,bwd_gflops\n"
           "# sgemm,threads,n,gflops\n");
  else
    printf("shardnet bench: batch %d, %d warm-up + %d timed steps (zero_grad, forward, loss, backward, optimizer "
           "step); images/s from the median step\n%s kernels: %s\n",
           o.batch, o.warmup, o.steps, sn_precision_names[o.precision], sn_kernels_describe(sn_kernels_default()));
  for (int k = 0; k < o.n_threads && o.sgemm_n > 0; k++) {
    const double g = sn_bench_sgemm_gflops(o.sgemm_n, o.threads[k]);
    if (o.csv)
      printf("sgemm,%d,%d,%.2f\n", o.threads[k], o.sgemm_n, g);
    else
      printf("sgemm %dx%dx%d, %d thread%s: %.1f GFLOP/s\n", o.sgemm_n, o.sgemm_n, o.sgemm_n, o.threads[k],
             o.threads[k] > 1 ? "s" : "", g);
  }
  int status = 0;
  for (int i = 0; i < o.n_models; i++)
    if (bench_model(&o, o.models[i]) != SN_OK) {
      sn_cli_error("bench: %s: %s", o.models[i], sn_last_error());
      status = 1;
    }
  return status;
}
