/* `shardnet report RUN_DIR [--out FILE.html] [--data TEST.h5] [--trace FILE.json]`:
 * the run report, one self-contained HTML file (src/train/run_report.c). */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "shardnet/trainer.h"

static sn_status report_body(sn_dist *d, void *ctx) {
  const sn_run_report_options *o = ctx;
  char written[SN_PATH_CAP];
  sn_status st = sn_run_report(d, o, written);
  if (st == SN_OK && sn_dist_rank(d) == 0) printf("shardnet: wrote the report of %s to %s\n", o->run_dir, written);
  return st;
}

int sn_cmd_report(int argc, char **argv) {
  sn_run_report_options o = {0};
  for (int i = 1; i < argc; i++) {
    int r = sn_cli_take_value(argc, argv, &i, "--out", &o.out);
    if (!r) r = sn_cli_take_value(argc, argv, &i, "--data", &o.data);
    if (!r) r = sn_cli_take_value(argc, argv, &i, "--trace", &o.trace);
    if (r < 0) return 2;
    if (r > 0) continue;
    if (argv[i][0] == '-') {
      sn_cli_error("report: unknown option '%s'", argv[i]);
      return 2;
    }
    if (o.run_dir) {
      sn_cli_error("report: one run directory, got '%s' and '%s'", o.run_dir, argv[i]);
      return 2;
    }
    o.run_dir = argv[i];
  }
  if (!o.run_dir) {
    sn_cli_error("usage: shardnet report RUN_DIR [--out FILE.html] [--data TEST.h5] [--trace FILE.json]");
    return 2;
  }
  return sn_cli_run_mpi(argc, argv, report_body, &o);
}
