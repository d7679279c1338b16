/* What a run directory says about the run, for the report: metrics.csv's rows and a
 * trace's per-layer times. */
#ifndef SN_TRAIN_REPORT_DATA_H
#define SN_TRAIN_REPORT_DATA_H

#include "shardnet/status.h"

/* metrics.csv: the training rows (one per log interval) and the test rows (one per
 * evaluation), as columns. Missing values are NaN. */
typedef struct {
  int n_train, n_test;
  double *train_step, *train_epoch, *lr, *train_loss, *train_acc, *images_per_s;
  double *test_step, *test_epoch, *test_loss, *test_acc;
} sn_run_metrics;

sn_status sn_run_metrics_read(const char *path, sn_run_metrics *m);
void sn_run_metrics_free(sn_run_metrics *m);

/* A trace's forward and backward time per layer (rank 0's events), slowest first. */
typedef struct {
  char name[64];
  double forward_ms, backward_ms;  /* mean per step */
} sn_layer_time;

/* *n receives how many layers (at most cap); 0 when the file has no layer events. */
sn_status sn_trace_layer_times(const char *path, sn_layer_time *times, int cap, int *n);

#endif
