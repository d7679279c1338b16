/* What a training run tells the user: the start-up banner, one line per log
 * interval (a live bar on a terminal), evaluation lines, and metrics.csv. */
#ifndef SN_TRAIN_REPORT_H
#define SN_TRAIN_REPORT_H

#include <stdio.h>

#include "shardnet/trainer.h"

typedef struct {
  int rank0, tty;
  FILE *csv;
  double t_start, t_interval, t_bar;
  long interval_start_step;
  double loss_sum, acc_sum;
  int interval_steps;
} sn_report;

/* Prints the banner (rank 0) and opens <checkpoint.dir>/metrics.csv. */
sn_status sn_report_open(sn_report *r, const sn_trainer *t);
void sn_report_step(sn_report *r, const sn_trainer *t, double loss, double accuracy);
void sn_report_eval(sn_report *r, const sn_trainer *t, int epoch, const sn_eval_result *e);
void sn_report_close(sn_report *r, const sn_trainer *t);

/* mkdir -p */
sn_status sn_make_dirs(const char *path);

#endif
