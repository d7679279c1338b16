/* Reading metrics.csv and trace files back for the run report. */
#define _POSIX_C_SOURCE 200809L
#include "train/report_data.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One field of a CSV line (no quoting: metrics.csv has none), NaN when empty. */
static double field(char **cursor) {
  char *start = *cursor, *end = strchr(start, ',');
  if (end) *end = '\0';
  *cursor = end ? end + 1 : start + strlen(start);
  char *stop;
  const double v = strtod(start, &stop);
  return stop == start ? NAN : v;
}

static int grow(double **columns[], int n_columns, int n, int *cap) {
  if (n < *cap) return 1;
  *cap = *cap ? 2 * *cap : 256;
  for (int c = 0; c < n_columns; c++) {
    double *p = realloc(*columns[c], (size_t)*cap * sizeof **columns[c]);
    if (!p) return 0;
    *columns[c] = p;
  }
  return 1;
}

sn_status sn_run_metrics_read(const char *path, sn_run_metrics *m) {
  memset(m, 0, sizeof *m);
  FILE *f = fopen(path, "r");
  if (!f) return sn_fail(SN_ERR_IO, "cannot read %s: %s", path, strerror(errno));
  double **train[] = {&m->train_epoch, &m->train_step, &m->lr, &m->train_loss, &m->train_acc, &m->images_per_s};
  double **test[] = {&m->test_epoch, &m->test_step, &m->test_loss, &m->test_acc};
  int train_cap = 0, test_cap = 0, line_no = 0;
  char line[512];
  sn_status st = SN_OK;
  while (st == SN_OK && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = '\0';
    if (line_no++ == 0) {
      if (strcmp(line, "phase,epoch,step,lr,loss,accuracy,images_per_s"))
        st = sn_fail(SN_ERR_FORMAT, "%s: the header is not metrics.csv's (phase,epoch,step,lr,loss,...)", path);
      continue;
    }
    char *cursor = strchr(line, ',');
    if (!cursor) continue;
    *cursor++ = '\0';
    double v[6];
    for (int k = 0; k < 6; k++) v[k] = field(&cursor);
    if (!strcmp(line, "train")) {
      if (!grow(train, 6, m->n_train, &train_cap)) st = sn_fail(SN_ERR_NOMEM, "cannot hold %s", path);
      for (int k = 0; st == SN_OK && k < 6; k++) (*train[k])[m->n_train] = v[k];
      if (st == SN_OK) m->n_train++;
    } else if (!strcmp(line, "test")) {
      const double kept[4] = {v[0], v[1], v[3], v[4]};  /* no lr or images/s on test rows */
      if (!grow(test, 4, m->n_test, &test_cap)) st = sn_fail(SN_ERR_NOMEM, "cannot hold %s", path);
      for (int k = 0; st == SN_OK && k < 4; k++) (*test[k])[m->n_test] = kept[k];
      if (st == SN_OK) m->n_test++;
    }
  }
  fclose(f);
  if (st == SN_OK && line_no == 0) st = sn_fail(SN_ERR_FORMAT, "%s is empty", path);
  if (st != SN_OK) sn_run_metrics_free(m);
  return st;
}

void sn_run_metrics_free(sn_run_metrics *m) {
  double *all[] = {m->train_step, m->train_epoch, m->lr,        m->train_loss, m->train_acc,
                   m->images_per_s, m->test_step, m->test_epoch, m->test_loss, m->test_acc};
  for (size_t k = 0; k < sizeof all / sizeof *all; k++) free(all[k]);
  memset(m, 0, sizeof *m);
}

static int by_total_time(const void *a, const void *b) {
  const sn_layer_time *x = a, *y = b;
  const double tx = x->forward_ms + x->backward_ms, ty = y->forward_ms + y->backward_ms;
  return (tx < ty) - (tx > ty);
}

/* Rank 0's events, one a line as src/train/trace.c writes them:
 * {"name":"forward conv1","cat":"compute","ph":"X","pid":0,"tid":0,"ts":..,"dur":..}, */
sn_status sn_trace_layer_times(const char *path, sn_layer_time *times, int cap, int *n) {
  *n = 0;
  FILE *f = fopen(path, "r");
  if (!f) return sn_fail(SN_ERR_IO, "cannot read the trace %s: %s", path, strerror(errno));
  int *counts = calloc((size_t)cap, 2 * sizeof *counts);
  if (!counts) {
    fclose(f);
    return sn_fail(SN_ERR_NOMEM, "cannot read the trace %s", path);
  }
  char line[512], name[96], cat[16];
  int pid, tid;
  double ts, dur;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "{\"name\":\"%95[^\"]\",\"cat\":\"%15[^\"]\",\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"ts\":%lf,\"dur\":%lf",
               name, cat, &pid, &tid, &ts, &dur) != 6 || pid != 0)
      continue;
    const int backward = !strncmp(name, "backward ", 9);
    if (!backward && strncmp(name, "forward ", 8)) continue;
    const char *layer = name + (backward ? 9 : 8);
    int k = 0;
    while (k < *n && strcmp(times[k].name, layer)) k++;
    if (k == *n) {
      if (*n == cap) continue;
      memset(&times[k], 0, sizeof times[k]);
      snprintf(times[k].name, sizeof times[k].name, "%s", layer);
      (*n)++;
    }
    if (backward) times[k].backward_ms += dur / 1000.0, counts[2 * k + 1]++;
    else times[k].forward_ms += dur / 1000.0, counts[2 * k]++;
  }
  fclose(f);
  for (int k = 0; k < *n; k++) {
    if (counts[2 * k]) times[k].forward_ms /= counts[2 * k];
    if (counts[2 * k + 1]) times[k].backward_ms /= counts[2 * k + 1];
  }
  free(counts);
  qsort(times, (size_t)*n, sizeof *times, by_total_time);
  return SN_OK;
}
