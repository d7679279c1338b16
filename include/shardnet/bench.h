/* Timing full training steps of a configured model on random data (what `shardnet
 * bench` reports): one process, no data loading and no gradient reduction, so the
 * engine's own speed can be compared with other frameworks on the same models. */
#ifndef SHARDNET_BENCH_H
#define SHARDNET_BENCH_H

#include "shardnet/config.h"
#include "shardnet/net.h"
#include "shardnet/optim.h"

/* A model from a config, its optimizer and one random batch. */
typedef struct {
  sn_config *cfg;
  sn_net *net;
  sn_optimizer *opt;
  float *x, *targets;
  int *labels;
  int batch, dim;
  sn_pass pass;
  double *fwd, *bwd;  /* per-layer seconds summed over the last run's timed steps */
} sn_bench_model;

typedef struct {
  double median, mean;  /* seconds per step */
} sn_bench_result;

/* Loads config_path, builds and initialises the net, and makes a random batch. Free
 * with sn_bench_model_free, also after a failure. */
sn_status sn_bench_model_load(const char *config_path, int batch, sn_bench_model *m);
void sn_bench_model_free(sn_bench_model *m);

/* warmup untimed then steps timed training steps (zero_grad, forward in training mode,
 * loss, backward, optimizer step) on `threads` OpenMP threads; fills m->fwd, m->bwd. */
sn_status sn_bench_model_run(sn_bench_model *m, int threads, int warmup, int steps, sn_bench_result *r);

/* Backward work of layer l relative to its forward: a layer with weights computes the
 * weight gradient and (unless it reads the network input, whose gradient nobody
 * needs) the input gradient, each costing one forward. */
double sn_bench_backward_factor(const sn_net *net, const sn_layer *l);
/* Forward multiply-adds x2 of one sample through the whole net. */
double sn_bench_forward_flops(const sn_net *net);

/* Best of 5 square n x n sgemms after one warm-up: the machine's attainable rate. */
double sn_bench_sgemm_gflops(int n, int threads);

#endif
