/* Scratch files for the fuzz targets, in one folder per process under $TMPDIR. */
#define _POSIX_C_SOURCE 200809L
#include "fuzz_common.h"

#include "shardnet/config.h"
#include "shardnet/net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char folder[512];

/* Paths live in a few rotating buffers, so that a call can take several of them. */
static const char *scratch(const char *name) {
  static char paths[4][600];
  static int next;
  char *path = paths[next++ % 4];
  if (!folder[0]) {
    const char *tmp = getenv("TMPDIR");
    snprintf(folder, sizeof folder, "%s/shardnet-fuzz.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(folder)) abort();
  }
  snprintf(path, sizeof paths[0], "%s/%s", folder, name);
  return path;
}

const char *sn_fuzz_file(const char *name, const uint8_t *data, size_t n) {
  const char *path = scratch(name);
  FILE *f = fopen(path, "wb");
  if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) abort();
  return path;
}

const char *sn_fuzz_out(const char *name) {
  const char *path = scratch(name);
  unlink(path);
  return path;
}

/* Kept in step with fuzz/corpus/model.yaml, which made the seed checkpoints. */
static const char model_yaml[] =
    "seed: 3\n"
    "data: {train: fuzz.h5, scale: 0.00392157}\n"
    "model:\n"
    "  input: [1, 8, 8]\n"
    "  layers:\n"
    "    - {type: conv2d, name: conv, filters: 4, kernel: 3, padding: same, activation: relu}\n"
    "    - {type: maxpool2d, name: pool, size: 2}\n"
    "    - {type: flatten, name: flat}\n"
    "    - {type: dense, name: logits, units: 4}\n"
    "  loss: softmax_cross_entropy\n"
    "train:\n"
    "  batch_size: 4\n"
    "  optimizer: {type: adam, lr: 0.01}\n";

void sn_fuzz_model(struct sn_config **cfg, struct sn_net **net) {
  static sn_config *c;
  static sn_net *n;
  if (!n) {
    if (sn_config_parse(model_yaml, "fuzz model", NULL, 0, &c) != SN_OK) abort();
    if (sn_net_create(&c->model, &n) != SN_OK) abort();
  }
  *cfg = c;
  *net = n;
}
