/* Chrome trace events collected per rank and written by rank 0. */
#include "shardnet/trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shardnet/timer.h"

#define NAME_CAP 48

typedef struct {
  char name[NAME_CAP];
  sn_track track;
  double start, end;
} event;

struct sn_trace {
  sn_dist *dist;
  double origin;
  size_t n, cap;
  event *events;
  int overflow;
};

static const char *const track_names[] = {"compute", "allreduce", "io"};

sn_status sn_trace_create(sn_dist *d, sn_trace **out) {
  sn_trace *t = calloc(1, sizeof *t);
  if (!t) return sn_fail(SN_ERR_NOMEM, "cannot allocate the trace");
  t->dist = d;
  t->cap = 1 << 16;
  t->events = malloc(t->cap * sizeof *t->events);
  sn_status st = t->events ? sn_dist_barrier(d) : sn_fail(SN_ERR_NOMEM, "cannot allocate the trace");
  if (st != SN_OK) {
    sn_trace_destroy(t);
    return st;
  }
  t->origin = sn_now();
  *out = t;
  return SN_OK;
}

void sn_trace_destroy(sn_trace *t) {
  if (!t) return;
  free(t->events);
  free(t);
}

void sn_trace_add(sn_trace *t, sn_track track, const char *name, double start, double end) {
  if (!t) return;
  if (t->n == t->cap) {
    event *grown = realloc(t->events, 2 * t->cap * sizeof *grown);
    if (!grown) {
      t->overflow = 1;  /* keep what we have rather than fail a training run */
      return;
    }
    t->events = grown;
    t->cap *= 2;
  }
  event *e = &t->events[t->n++];
  snprintf(e->name, sizeof e->name, "%s", name);
  e->track = track;
  e->start = start;
  e->end = end;
}

/* This rank's events as JSON objects, each followed by a comma. */
static char *render(const sn_trace *t, int rank) {
  size_t cap = (t->n + 4) * 160, used = 0;
  char *text = malloc(cap);
  if (!text) return NULL;
  used += (size_t)snprintf(text + used, cap - used,
                           "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"args\":{\"name\":\"rank %d\"}},\n",
                           rank, rank);
  for (int k = 0; k < 3; k++)
    used += (size_t)snprintf(text + used, cap - used,
                             "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":\"%s\"}},\n",
                             rank, k, track_names[k]);
  for (size_t i = 0; i < t->n; i++) {
    const event *e = &t->events[i];
    used += (size_t)snprintf(text + used, cap - used,
                             "{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"ts\":%.1f,\"dur\":%.1f},\n",
                             e->name, track_names[e->track], rank, (int)e->track, (e->start - t->origin) * 1e6,
                             (e->end - e->start) * 1e6);
  }
  return text;
}

sn_status sn_trace_write(sn_trace *t, const char *path) {
  const int rank = sn_dist_rank(t->dist);
  char *mine = render(t, rank), *all = NULL;
  sn_status st = sn_dist_agree(t->dist, mine ? SN_OK : sn_fail(SN_ERR_NOMEM, "cannot render the trace"));
  if (st == SN_OK) st = sn_dist_gather_text(t->dist, mine, &all);
  free(mine);
  if (st == SN_OK && rank == 0) {
    FILE *f = fopen(path, "w");
    if (!f) {
      st = sn_fail(SN_ERR_IO, "cannot write the trace %s: %s", path, strerror(errno));
    } else {
      /* drop the last comma so the array is valid JSON */
      size_t len = all ? strlen(all) : 0;
      while (len > 0 && (all[len - 1] == '\n' || all[len - 1] == ',')) all[--len] = '\0';
      fprintf(f, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n%s\n]}\n", all ? all : "");
      if (fclose(f) != 0) st = sn_fail(SN_ERR_IO, "cannot finish the trace %s", path);
    }
  }
  free(all);
  return sn_dist_agree(t->dist, st);
}
