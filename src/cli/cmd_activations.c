/* `shardnet activations CKPT|RUN_DIR --data FILE --samples A:B --out FILE`: the
 * input and every layer's output for samples [A, B), written by all ranks at once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "shardnet/trainer.h"
#include "shardnet/activations.h"
#include "shardnet/checkpoint.h"

static const char usage[] =
    "usage: shardnet activations CHECKPOINT|RUN_DIR --data FILE.h5 --samples A:B --out FILE.h5 "
    "[--placement auto|replicate|node|shard|stream]";

typedef struct {
  const char *checkpoint, *data, *samples, *out, *placement;
} activations_options;

/* A whole number written with digits only (no sign, no spaces); *end follows it. */
static int parse_count(const char *s, const char **end, size_t *value) {
  if (*s < '0' || *s > '9') return 0;
  char *e;
  errno = 0;
  unsigned long long v = strtoull(s, &e, 10);
  if (errno || v > (size_t)-1) return 0;
  *value = (size_t)v;
  *end = e;
  return 1;
}

/* The syntax of A:B; whether it is a range within the data is checked by
 * sn_activations_write, which knows the dataset. */
static sn_status parse_samples(const char *text, size_t *first, size_t *last) {
  const char *p;
  if (!parse_count(text, &p, first) || *p != ':' || !parse_count(p + 1, &p, last) || *p)
    return sn_fail(SN_ERR_INVALID, "--samples '%s' is not A:B with whole numbers A < B (it selects samples A to B-1)",
                   text);
  return SN_OK;
}

static sn_status activations_body(sn_dist *d, void *ctx) {
  const activations_options *o = ctx;
  size_t first = 0, last = 0;
  /* Every rank parses the same text; agreeing lets only one of them report it. */
  SN_TRY(sn_dist_agree(d, parse_samples(o->samples, &first, &last)));
  sn_inference in;
  sn_status st = sn_inference_open(d, o->checkpoint, o->data, o->placement, &in);
  sn_checkpoint_info info = {0};
  if (st == SN_OK) st = sn_dist_agree(d, sn_checkpoint_read_info(in.resolved, &info));
  if (st == SN_OK) {
    const sn_activations_source src = {.checkpoint = in.resolved, .step = info.step};
    st = sn_activations_write(d, in.net, in.ds, &in.tf, first, last, &src, o->out);
  }
  if (st == SN_OK && sn_dist_rank(d) == 0)
    printf("shardnet: wrote the activations of samples %zu:%zu (input and %d layers, step %ld) to %s\n", first, last,
           in.net->n_layers, info.step, o->out);
  sn_checkpoint_info_free(&info);
  sn_inference_close(&in);
  return st;
}

int sn_cmd_activations(int argc, char **argv) {
  activations_options o = {0};
  for (int i = 1; i < argc; i++) {
    int r = sn_cli_take_value(argc, argv, &i, "--data", &o.data);
    if (!r) r = sn_cli_take_value(argc, argv, &i, "--samples", &o.samples);
    if (!r) r = sn_cli_take_value(argc, argv, &i, "--out", &o.out);
    if (!r) r = sn_cli_take_value(argc, argv, &i, "--placement", &o.placement);
    if (r < 0) return 2;
    if (r) continue;
    if (argv[i][0] == '-' || o.checkpoint) {
      sn_cli_error("%s: unexpected argument '%s'", argv[0], argv[i]);
      return 2;
    }
    o.checkpoint = argv[i];
  }
  if (!o.checkpoint || !o.data || !o.samples || !o.out) {
    sn_cli_error("%s", usage);
    return 2;
  }
  return sn_cli_run_mpi(argc, argv, activations_body, &o);
}
