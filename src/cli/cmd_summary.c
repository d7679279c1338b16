/* `shardnet summary CONFIG [--set key=value]...`: the model's per-layer table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "shardnet/config.h"
#include "shardnet/net.h"
#include "shardnet/optim.h"
#include "shardnet/schedule.h"

static const char usage[] = "usage: shardnet summary CONFIG [--set key=value]...";

int sn_cmd_summary(int argc, char **argv) {
  const char *path = NULL;
  /* at most one override per argument */
  const char **sets = calloc((size_t)argc, sizeof *sets);
  int n_sets = 0;
  if (!sets) {
    sn_cli_error("out of memory");
    return 1;
  }
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
      puts(usage);
      free(sets);
      return 0;
    }
    if (!strcmp(arg, "--set") && i + 1 < argc) {
      sets[n_sets++] = argv[++i];
    } else if (!strncmp(arg, "--set=", 6)) {
      sets[n_sets++] = arg + 6;
    } else if (arg[0] == '-' || path) {
      sn_cli_error("summary: unexpected argument '%s' (%s)", arg, usage);
      free(sets);
      return 2;
    } else {
      path = arg;
    }
  }
  if (!path) {
    sn_cli_error("summary: no configuration file given (%s)", usage);
    free(sets);
    return 2;
  }
  sn_config *cfg = NULL;
  sn_net *net = NULL;
  sn_status st = sn_config_load(path, sets, n_sets, &cfg);
  if (st == SN_OK) st = sn_net_create(&cfg->model, &net);
  /* the optimizer and schedule keys are checked as `train` checks them, so a config
   * that passes summary does not fail at its first step (the schedule's step counts
   * come from the data, which summary does not open: one step an epoch stands in) */
  sn_optimizer *opt = NULL;
  if (st == SN_OK) st = sn_optimizer_create(cfg->train.optimizer, net->n_params, &opt);
  sn_schedule schedule;
  if (st == SN_OK)
    st = sn_schedule_parse(cfg->train.schedule, sn_optimizer_lr(opt), 1, cfg->train.epochs, &schedule);
  sn_optimizer_destroy(opt);
  if (st == SN_OK) sn_net_print_summary(net, stdout);
  else sn_cli_error("%s", sn_last_error());
  sn_net_destroy(net);
  sn_config_free(cfg);
  free(sets);
  return st == SN_OK ? 0 : 1;
}
