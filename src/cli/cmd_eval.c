/* `shardnet eval CKPT --data FILE` and `shardnet predict CKPT --data FILE --out FILE`:
 * inference with a trained model, split across ranks. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "shardnet/memory.h"
#include "shardnet/predictions.h"
#include "shardnet/trainer.h"

typedef struct {
  const char *checkpoint, *data, *out, *placement;
  int batch;
} infer_options;

static void print_eval(const sn_inference *in, const sn_eval_result *r) {
  printf("%s on %s: %ld samples\n", in->resolved, in->ds->path, r->samples);
  printf("loss %.6f\n", r->loss);
  if (!r->n_classes) return;
  printf("accuracy %.4f\n", r->accuracy);
  printf("%-6s %-20s %8s %8s\n", "class", "name", "samples", "accuracy");
  for (int k = 0; k < r->n_classes; k++) {
    const char *name = k < in->ds->n_class_names ? in->ds->class_names[k] : "";
    double acc = r->class_total[k] ? (double)r->class_correct[k] / (double)r->class_total[k] : 0.0;
    printf("%-6d %-20s %8ld %8.4f\n", k, name, r->class_total[k], acc);
  }
}

static sn_status eval_body(sn_dist *d, void *ctx) {
  const infer_options *o = ctx;
  sn_inference in;
  sn_status st = sn_inference_open(d, o->checkpoint, o->data, o->placement, &in);
  sn_eval_result r = {0};
  if (st == SN_OK) st = sn_evaluate(d, in.net, in.ds, &in.tf, o->batch, in.cfg->data.prefetch, &r);
  if (st == SN_OK && sn_dist_rank(d) == 0) print_eval(&in, &r);
  sn_eval_result_free(&r);
  sn_inference_close(&in);
  return st;
}

/* 1 when path a exists and is the same file as path b (another name, a link). */
static int same_file(const char *a, const char *b) {
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static sn_status predict_body(sn_dist *d, void *ctx) {
  const infer_options *o = ctx;
  sn_inference in;
  sn_status st = sn_inference_open(d, o->checkpoint, o->data, o->placement, &in);
  /* writing the predictions over an input would destroy it before anything is read */
  if (st == SN_OK && (same_file(o->out, in.resolved) || same_file(o->out, in.ds->path)))
    st = sn_fail(SN_ERR_INVALID, "predict: --out %s is the %s this command reads; name a new file", o->out,
                 same_file(o->out, in.resolved) ? "checkpoint" : "--data file");
  st = sn_dist_agree(d, st);
  if (st != SN_OK) {
    sn_inference_close(&in);
    return st;
  }
  const int rank = sn_dist_rank(d);
  const int dim = (int)sn_shape_size(sn_net_output_shape(in.net));
  const int classify = in.net->loss == SN_LOSS_SOFTMAX_CROSS_ENTROPY;
  size_t lo = 0, hi = 0;
  float *values = NULL;
  int32_t *labels = NULL;
  st = sn_predict_part(d, in.net, in.ds, &in.tf, o->batch, in.cfg->data.prefetch, &lo, &hi, &values, &labels);
  st = sn_dist_agree(d, st);
  if (st == SN_OK) {
    sn_predictions p = {.n = in.ds->n, .first = lo, .local = hi - lo, .dim = dim, .values = values,
                        .labels = classify ? labels : NULL, .checkpoint = in.resolved, .data = in.ds->path};
    st = sn_predictions_write(d, o->out, &p);
  }
  if (st == SN_OK && rank == 0) printf("shardnet: wrote %zu predictions to %s\n", in.ds->n, o->out);
  sn_free(values);
  free(labels);
  sn_inference_close(&in);
  return st;
}

static int parse(int argc, char **argv, infer_options *o, int want_out) {
  const char *batch = NULL;
  for (int i = 1; i < argc; i++) {
    int r = sn_cli_take_value(argc, argv, &i, "--data", &o->data);
    if (!r) r = sn_cli_take_value(argc, argv, &i, "--batch", &batch);
    if (!r) r = sn_cli_take_value(argc, argv, &i, "--placement", &o->placement);
    if (!r && want_out) r = sn_cli_take_value(argc, argv, &i, "--out", &o->out);
    if (r < 0) return 0;
    if (r) continue;
    if (argv[i][0] == '-' || o->checkpoint) {
      sn_cli_error("%s: unexpected argument '%s'", argv[0], argv[i]);
      return 0;
    }
    o->checkpoint = argv[i];
  }
  o->batch = batch ? atoi(batch) : 256;
  if (!o->checkpoint || !o->data || (want_out && !o->out) || o->batch < 1) {
    sn_cli_error("usage: shardnet %s CHECKPOINT|RUN_DIR --data FILE.h5%s [--batch N] [--placement auto|replicate|node|shard|stream]", argv[0],
                 want_out ? " --out FILE.h5" : "");
    return 0;
  }
  return 1;
}

int sn_cmd_eval(int argc, char **argv) {
  infer_options o = {0};
  if (!parse(argc, argv, &o, 0)) return 2;
  return sn_cli_run_mpi(argc, argv, eval_body, &o);
}

int sn_cmd_predict(int argc, char **argv) {
  infer_options o = {0};
  if (!parse(argc, argv, &o, 1)) return 2;
  return sn_cli_run_mpi(argc, argv, predict_body, &o);
}
