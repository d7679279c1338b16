/* Sample requests on a dataset: a ring of slots filled ahead of their turn (by the
 * stream placement's background thread, the shard exchange, or straight from
 * memory) and taken in order, transformed into network inputs. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist_comm.h"
#include "io/data_exchange.h"
#include "io/data_store.h"
#include "shardnet/part.h"

typedef enum { SLOT_FREE, SLOT_READING, SLOT_EXCHANGING, SLOT_READY, SLOT_FAILED } slot_state;

typedef struct {
  slot_state state;
  int n;
  uint32_t *idx;                   /* the request's global sample indices */
  const uint8_t **image, **answer; /* where each sample's pixels and label are */
  /* samples read from the file: n_read of them, for request positions read_pos */
  int n_read;
  uint32_t *read_idx, *read_pos, *order, *where;
  uint8_t *images, *answers;
  sn_exchange exchange;
  sn_status status;
  char message[1024];
} slot;

struct sn_reader {
  const sn_dataset *ds;
  int depth, most;
  slot *slots;
  int head, count;
  MPI_Comm comm;                   /* the shard exchange's own communicator */
  MPI_Datatype record;
  /* The stream placement's reader thread and what it shares with the caller. */
  pthread_t thread;
  int has_thread, stop;
  pthread_mutex_t mutex;
  pthread_cond_t changed;
};

static sn_status slot_alloc(slot *s, const sn_dataset *ds, int most) {
  const size_t m = (size_t)most;
  s->idx = malloc(m * sizeof *s->idx);
  s->image = malloc(m * sizeof *s->image);
  s->answer = malloc(m * sizeof *s->answer);
  s->read_idx = malloc(m * sizeof *s->read_idx);
  s->read_pos = malloc(m * sizeof *s->read_pos);
  s->order = malloc(m * sizeof *s->order);
  s->where = malloc(m * sizeof *s->where);
  const int reads = ds->placement == SN_PLACEMENT_STREAM || ds->placement == SN_PLACEMENT_SHARD;
  s->images = reads ? malloc(m * ds->image_bytes) : NULL;
  s->answers = reads ? malloc(m * ds->answer_bytes) : NULL;
  if (!s->idx || !s->image || !s->answer || !s->read_idx || !s->read_pos || !s->order || !s->where ||
      (reads && (!s->images || !s->answers)))
    return sn_fail(SN_ERR_NOMEM, "cannot allocate a read-ahead buffer of %d samples for %s", most, ds->path);
  return SN_OK;
}

static void slot_free(slot *s) {
  free(s->idx);
  free(s->image);
  free(s->answer);
  free(s->read_idx);
  free(s->read_pos);
  free(s->order);
  free(s->where);
  free(s->images);
  free(s->answers);
  sn_exchange_free(&s->exchange);
}

/* The oldest slot waiting for the file, or NULL. Called with the mutex held. */
static slot *next_to_read(sn_reader *r) {
  for (int k = 0; k < r->count; k++) {
    slot *s = &r->slots[(r->head + k) % r->depth];
    if (s->state == SLOT_READING) return s;
  }
  return NULL;
}

/* Reads a slot's samples that are not in memory. */
static sn_status read_slot(const sn_dataset *ds, slot *s) {
  sn_status st = sn_store_read_list(ds, s->read_idx, s->n_read, s->order, s->where, s->images, s->answers);
  for (int j = 0; st == SN_OK && j < s->n_read; j++) {
    s->image[s->read_pos[j]] = s->images + (size_t)s->where[j] * ds->image_bytes;
    s->answer[s->read_pos[j]] = s->answers + (size_t)s->where[j] * ds->answer_bytes;
  }
  if (st != SN_OK) snprintf(s->message, sizeof s->message, "%s", sn_last_error());
  return st;
}

/* The stream reader: fills slots in queue order until told to stop. It never waits
 * on anything but the queue, so a failed read cannot leave it (or the caller) stuck:
 * the failure is the slot's, and the caller reports it when it takes the slot. */
static void *reader_main(void *arg) {
  sn_reader *r = arg;
  pthread_mutex_lock(&r->mutex);
  for (;;) {
    slot *s = NULL;
    while (!r->stop && !(s = next_to_read(r))) pthread_cond_wait(&r->changed, &r->mutex);
    if (r->stop) break;
    pthread_mutex_unlock(&r->mutex);
    const sn_status st = read_slot(r->ds, s);
    pthread_mutex_lock(&r->mutex);
    s->status = st;
    s->state = st == SN_OK ? SLOT_READY : SLOT_FAILED;
    pthread_cond_broadcast(&r->changed);
  }
  pthread_mutex_unlock(&r->mutex);
  return NULL;
}

sn_status sn_reader_create(sn_dist *d, const sn_dataset *ds, int depth, int most, int background, sn_reader **out) {
  *out = NULL;
  sn_reader *r = calloc(1, sizeof *r);
  if (!r) return sn_fail(SN_ERR_NOMEM, "cannot allocate a reader for %s", ds->path);
  r->ds = ds;
  r->depth = depth < 1 ? 1 : depth;
  r->most = most < 1 ? 1 : most;
  r->comm = MPI_COMM_NULL;
  r->record = MPI_DATATYPE_NULL;
  pthread_mutex_init(&r->mutex, NULL);
  pthread_cond_init(&r->changed, NULL);
  r->slots = calloc((size_t)r->depth, sizeof *r->slots);
  sn_status st = r->slots ? SN_OK : sn_fail(SN_ERR_NOMEM, "cannot allocate a reader for %s", ds->path);
  for (int k = 0; st == SN_OK && k < r->depth; k++) st = slot_alloc(&r->slots[k], ds, r->most);
  if (st == SN_OK && ds->placement == SN_PLACEMENT_SHARD && d) {
    MPI_Comm_dup(sn_dist_comm(d), &r->comm);
    MPI_Type_contiguous((int)(ds->image_bytes + ds->answer_bytes), MPI_BYTE, &r->record);
    MPI_Type_commit(&r->record);
  }
  if (st == SN_OK && background && ds->placement == SN_PLACEMENT_STREAM) {
    r->has_thread = pthread_create(&r->thread, NULL, reader_main, r) == 0;
    if (!r->has_thread) st = sn_fail(SN_ERR_NOMEM, "cannot start the reader thread for %s", ds->path);
  }
  st = d ? sn_dist_agree(d, st) : st;
  if (st != SN_OK) {
    sn_reader_destroy(r);
    return st;
  }
  *out = r;
  return SN_OK;
}

void sn_reader_destroy(sn_reader *r) {
  if (!r) return;
  if (r->has_thread) {
    pthread_mutex_lock(&r->mutex);
    r->stop = 1;
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->mutex);
    pthread_join(r->thread, NULL);
  }
  for (int k = 0; r->slots && k < r->depth; k++) slot_free(&r->slots[k]);
  free(r->slots);
  if (r->record != MPI_DATATYPE_NULL) MPI_Type_free(&r->record);
  if (r->comm != MPI_COMM_NULL) MPI_Comm_free(&r->comm);
  pthread_mutex_destroy(&r->mutex);
  pthread_cond_destroy(&r->changed);
  free(r);
}

int sn_reader_pending(const sn_reader *r) { return r->count; }
int sn_reader_depth(const sn_reader *r) { return r->depth; }

/* The next free slot for n samples. */
static sn_status claim(sn_reader *r, int n, slot **out) {
  if (r->count == r->depth)
    return sn_fail(SN_ERR_INVALID, "%s: more than %d requests queued (take one first)", r->ds->path, r->depth);
  if (n > r->most || n < 0)
    return sn_fail(SN_ERR_INVALID, "%s: a request of %d samples (at most %d)", r->ds->path, n, r->most);
  slot *s = &r->slots[(r->head + r->count) % r->depth];
  s->n = n;
  s->n_read = 0;
  s->status = SN_OK;
  *out = s;
  return SN_OK;
}

/* Points each sample at memory when this rank holds it, else lists it to read. */
static void locate(const sn_dataset *ds, slot *s, const uint32_t *idx) {
  for (int k = 0; k < s->n; k++) {
    s->idx[k] = idx[k];
    s->image[k] = sn_store_image(ds, idx[k]);
    s->answer[k] = sn_store_answer(ds, idx[k]);
    if (!s->image[k]) {
      s->read_idx[s->n_read] = idx[k];
      s->read_pos[s->n_read++] = (uint32_t)k;
    }
  }
}

/* Queues the slot: to the thread when it has reads and there is one, else read now. */
static sn_status submit(sn_reader *r, slot *s) {
  if (s->n_read && r->has_thread) {
    pthread_mutex_lock(&r->mutex);
    s->state = SLOT_READING;
    r->count++;
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->mutex);
    return SN_OK;
  }
  s->status = s->n_read ? read_slot(r->ds, s) : SN_OK;
  s->state = s->status == SN_OK ? SLOT_READY : SLOT_FAILED;
  r->count++;
  return SN_OK;
}

static sn_status check_indices(const sn_dataset *ds, const uint32_t *idx, int n) {
  for (int k = 0; k < n; k++)
    if (idx[k] >= ds->n) return sn_fail(SN_ERR_INVALID, "%s: sample %u is outside its %zu samples", ds->path, idx[k], ds->n);
  return SN_OK;
}

sn_status sn_reader_queue_local(sn_reader *r, const uint32_t *idx, int n) {
  slot *s = NULL;
  SN_TRY(check_indices(r->ds, idx, n));
  SN_TRY(claim(r, n, &s));
  locate(r->ds, s, idx);
  return submit(r, s);
}

sn_status sn_reader_queue_global(sn_reader *r, const uint32_t *batch, int b) {
  const sn_data_store *st = r->ds->store;
  size_t lo, hi;
  sn_part((size_t)b, st->rank, st->size, &lo, &hi);
  if (r->comm == MPI_COMM_NULL) return sn_reader_queue_local(r, batch + lo, (int)(hi - lo));
  slot *s = NULL;
  SN_TRY(check_indices(r->ds, batch, b));
  SN_TRY(claim(r, (int)(hi - lo), &s));
  for (int k = 0; k < s->n; k++) s->idx[k] = batch[lo + (size_t)k];
  SN_TRY(sn_exchange_start(&s->exchange, r->ds, r->comm, r->record, batch, b));
  s->state = SLOT_EXCHANGING;
  r->count++;
  return SN_OK;
}

/* The exchange's records, or this rank's own memory, for each sample of the slot. */
static sn_status finish_exchange(const sn_dataset *ds, slot *s) {
  SN_TRY(sn_exchange_finish(&s->exchange, ds));
  const size_t bytes = ds->image_bytes + ds->answer_bytes;
  for (int k = 0; k < s->n; k++) {
    const int from = s->exchange.from[k];
    s->image[k] = from < 0 ? sn_store_image(ds, s->idx[k]) : s->exchange.recv + (size_t)from * bytes;
    s->answer[k] = from < 0 ? sn_store_answer(ds, s->idx[k]) : s->exchange.recv + (size_t)from * bytes + ds->image_bytes;
  }
  return SN_OK;
}

/* Waits until the oldest slot is filled (or failed). */
static sn_status wait_head(sn_reader *r, slot *s) {
  if (s->state == SLOT_EXCHANGING) {
    s->status = finish_exchange(r->ds, s);
    if (s->status != SN_OK) snprintf(s->message, sizeof s->message, "%s", sn_last_error());
    s->state = s->status == SN_OK ? SLOT_READY : SLOT_FAILED;
  }
  if (r->has_thread) {
    pthread_mutex_lock(&r->mutex);
    while (s->state == SLOT_READING) pthread_cond_wait(&r->changed, &r->mutex);
    pthread_mutex_unlock(&r->mutex);
  }
  return s->state == SLOT_READY ? SN_OK : sn_fail(s->status, "%s", s->message);
}

sn_status sn_reader_take(sn_reader *r, const sn_transform *tf, uint32_t epoch, float *x, int32_t *labels,
                         float *targets, int *n) {
  *n = 0;
  if (r->count == 0) return sn_fail(SN_ERR_INVALID, "%s: nothing was queued", r->ds->path);
  slot *s = &r->slots[r->head];
  sn_status st = wait_head(r, s);
  const sn_dataset *ds = r->ds;
  if (st == SN_OK) {
    const size_t in = sn_shape_size(tf->out);
#pragma omp parallel for schedule(static)
    for (int k = 0; k < s->n; k++) {
      sn_transform_sample(tf, epoch, s->idx[k], s->image[k], x + (size_t)k * in);
      if (ds->has_labels && labels) memcpy(labels + k, s->answer[k], sizeof *labels);
      if (!ds->has_labels && targets) memcpy(targets + (size_t)k * ds->target_size, s->answer[k], ds->answer_bytes);
    }
    *n = s->n;
  }
  pthread_mutex_lock(&r->mutex);
  s->state = SLOT_FREE;
  r->head = (r->head + 1) % r->depth;
  r->count--;
  pthread_mutex_unlock(&r->mutex);
  return st;
}
