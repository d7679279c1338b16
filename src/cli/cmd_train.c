/* `shardnet train CONFIG [--set key=value]...`: data-parallel training under mpirun/srun. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "shardnet/config.h"
#include "shardnet/trainer.h"

typedef struct {
  const char *config;
  sn_overrides sets;
  int quiet;
} train_options;

static sn_status train_body(sn_dist *d, void *ctx) {
  const train_options *o = ctx;
  sn_config *cfg = NULL;
  sn_trainer *t = NULL;
  sn_status st = sn_dist_agree(d, sn_config_load(o->config, o->sets.items, o->sets.count, &cfg));
  if (st == SN_OK) st = sn_trainer_create(d, cfg, &t);
  if (st == SN_OK) {
    t->quiet = o->quiet;
    t->overrides = o->sets.items;
    t->n_overrides = o->sets.count;
    st = sn_trainer_run(t);
  }
  sn_trainer_destroy(t);
  sn_config_free(cfg);
  return st;
}

int sn_cmd_train(int argc, char **argv) {
  train_options o = {0};
  for (int i = 1; i < argc; i++) {
    int r = sn_cli_take_set(argc, argv, &i, &o.sets);
    if (r < 0) return 2;
    if (r > 0) continue;
    if (!strcmp(argv[i], "--quiet")) {
      o.quiet = 1;
    } else if (argv[i][0] == '-') {
      sn_cli_error("train: unknown option '%s'", argv[i]);
      return 2;
    } else if (o.config) {
      sn_cli_error("train: one config file, got '%s' and '%s'", o.config, argv[i]);
      return 2;
    } else {
      o.config = argv[i];
    }
  }
  if (!o.config) {
    sn_cli_error("usage: shardnet train CONFIG [--set key=value]... [--quiet]");
    return 2;
  }
  return sn_cli_run_mpi(argc, argv, train_body, &o);
}
