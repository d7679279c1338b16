/* `shardnet train CONFIG [--resume latest|auto|FILE] [--set key=value]...`: data-parallel
 * training under mpirun or srun, stopping cleanly with a checkpoint on SIGUSR1 or
 * SIGTERM (Slurm time limits and preemption). */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "shardnet/config.h"
#include "shardnet/trainer.h"

/* sysexits' EX_TEMPFAIL: stopped early on request, a checkpoint holds the progress,
 * run again with --resume latest. */
#define EXIT_STOPPED 75

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t stop_signal;

static void request_stop(int sig) {
  stop_requested = 1;
  stop_signal = sig;
}

typedef struct {
  const char *config, *resume, *trace;
  sn_overrides sets;
  int quiet, stopped;
} train_options;

static void catch_stop_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = request_stop;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

static sn_status train_body(sn_dist *d, void *ctx) {
  train_options *o = ctx;
  sn_config *cfg = NULL;
  sn_trainer *t = NULL;
  sn_status st = sn_dist_agree(d, sn_config_load(o->config, o->sets.items, o->sets.count, &cfg));
  if (st == SN_OK) st = sn_trainer_create(d, cfg, &t);
  if (st == SN_OK) {
    t->quiet = o->quiet;
    t->overrides = o->sets.items;
    t->n_overrides = o->sets.count;
    t->stop_request = &stop_requested;
    st = sn_trainer_claim_checkpoint_dir(t);
    if (st == SN_OK && o->resume) st = sn_trainer_resume(t, o->resume);
    if (st == SN_OK && o->trace) st = sn_trainer_trace(t);
  }
  if (st == SN_OK) st = sn_trainer_run(t);
  /* A trace is most useful when something went wrong: write it whenever it exists. */
  if (t && t->trace) {
    sn_status tst = sn_trace_write(t->trace, o->trace);
    if (st == SN_OK) st = tst;
  }
  /* report: true: the page about the finished run, trace included */
  if (st == SN_OK && !t->stopped && cfg->report) {
    const sn_run_report_options ro = {.run_dir = cfg->checkpoint.dir, .trace = o->trace};
    char written[SN_PATH_CAP];
    st = sn_run_report(d, &ro, written);
    if (st == SN_OK && sn_dist_rank(d) == 0 && !o->quiet) printf("shardnet: report written to %s\n", written);
  }
  if (st == SN_OK && t->stopped) {
    o->stopped = 1;
    if (sn_dist_rank(d) == 0)
      fprintf(stderr, "shardnet: stopped by %s at step %ld; checkpoint written to %s (continue with --resume latest)\n",
              stop_signal == SIGUSR1 ? "SIGUSR1" : "SIGTERM", t->at.step, cfg->checkpoint.dir);
  }
  sn_trainer_destroy(t);
  sn_config_free(cfg);
  return st;
}

int sn_cmd_train(int argc, char **argv) {
  train_options o = {0};
  for (int i = 1; i < argc; i++) {
    int r = sn_cli_take_set(argc, argv, &i, &o.sets);
    if (!r) r = sn_cli_take_value(argc, argv, &i, "--resume", &o.resume);
    if (!r) r = sn_cli_take_value(argc, argv, &i, "--trace", &o.trace);
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
    sn_cli_error("usage: shardnet train CONFIG [--resume latest|auto|FILE] [--set key=value]... [--trace FILE.json] [--quiet]");
    return 2;
  }
  catch_stop_signals();
  int code = sn_cli_run_mpi(argc, argv, train_body, &o);
  return code == 0 && o.stopped ? EXIT_STOPPED : code;
}
