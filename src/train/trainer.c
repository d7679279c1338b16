/* The data-parallel training loop: setup, one step, epochs with evaluation. */
#define _POSIX_C_SOURCE 200809L
#include "shardnet/trainer.h"

#include <math.h>
#include <stdio.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "shardnet/activations.h"
#include "shardnet/loss.h"
#include "shardnet/memory.h"
#include "shardnet/part.h"
#include "shardnet/timer.h"
#include "train/dir_lock.h"
#include "train/report.h"
#include "train/save.h"

/* Opens one set in the configured placement, prepares its transform (augmented for
 * the training set) and checks it against the model. */
static sn_status open_set(sn_trainer *t, const char *path, const char *role, size_t committed, int augment,
                          sn_dataset **ds, sn_transform *tf) {
  const sn_data_config *data = &t->cfg->data;
  const sn_dataset_options o = {.placement = data->placement, .role = role, .committed = committed};
  SN_TRY(sn_dataset_open(t->dist, path, &o, ds));
  const sn_sample_format f = sn_dataset_format(*ds);
  SN_TRY(sn_dist_agree(t->dist, sn_transform_init(tf, data, &f, augment, t->cfg->seed, path)));
  return sn_dataset_validate(t->dist, *ds, t->net, tf);
}

static sn_status load_data(sn_trainer *t) {
  const sn_data_config *data = &t->cfg->data;
  if (!data->train[0])
    return sn_fail(SN_ERR_CONFIG, "%s: data.train names no dataset file", t->cfg->path);
  SN_TRY(open_set(t, data->train, "training set", 0, 1, &t->train, &t->train_tf));
  /* activation snapshots record training samples as they are, not augmented */
  const sn_sample_format f = sn_dataset_format(t->train);
  SN_TRY(sn_transform_init(&t->snapshot_tf, data, &f, 0, t->cfg->seed, data->train));
  if (data->test[0])
    SN_TRY(open_set(t, data->test, "test set", sn_dataset_node_bytes(t->train), 0, &t->test, &t->test_tf));
  return SN_OK;
}

/* Batch geometry, step counts and the learning-rate rule. */
static sn_status plan(sn_trainer *t) {
  const sn_train_config *tc = &t->cfg->train;
  const int ranks = sn_dist_size(t->dist), batch = tc->batch_size;
  if (batch < ranks)
    return sn_fail(SN_ERR_CONFIG,
                   "%s: train.batch_size %d is smaller than the number of ranks (%d): every rank needs at least one sample per step",
                   t->cfg->path, batch, ranks);
  if (t->train->n < (size_t)batch)
    return sn_fail(SN_ERR_CONFIG, "%s: the training set has %zu samples, fewer than one batch of %d",
                   t->cfg->path, t->train->n, batch);
  t->local_max = (batch + ranks - 1) / ranks;
  /* The last partial batch of an epoch is dropped, so every step has B samples. */
  t->steps_per_epoch = (long)(t->train->n / (size_t)batch);
  const long planned = t->steps_per_epoch * tc->epochs;
  t->total_steps = tc->max_steps > 0 && tc->max_steps < planned ? tc->max_steps : planned;
  t->lr_scale = tc->scale_lr_linear ? (double)batch / (double)tc->base_batch_size : 1.0;
  SN_TRY(sn_optimizer_create(tc->optimizer, t->net->n_params, &t->opt));
  /* The schedule spans the configured epochs even when max_steps stops the run
   * early, so a run stopped and resumed follows the same rates. */
  SN_TRY(sn_schedule_parse(tc->schedule, sn_optimizer_lr(t->opt) * t->lr_scale, t->steps_per_epoch, planned,
                           &t->schedule));
  return SN_OK;
}

static sn_status allocate_buffers(sn_trainer *t) {
  const size_t in = sn_shape_size(t->net->input_shape), out = sn_shape_size(sn_net_output_shape(t->net));
  SN_TRY(sn_net_reserve(t->net, t->local_max, 0));
  SN_TRY(sn_alloc_floats((size_t)t->local_max * in, &t->x));
  SN_TRY(sn_alloc_floats((size_t)t->local_max * out, &t->targets));
  t->labels = calloc((size_t)t->local_max, sizeof *t->labels);
  t->perm = calloc(t->train->n, sizeof *t->perm);
  if (!t->labels || !t->perm) return sn_fail(SN_ERR_NOMEM, "cannot allocate training buffers");
  t->perm_epoch = -1;
  t->queued.step = -1;
  return SN_OK;
}

static sn_status create_grad_sync(sn_trainer *t) {
  const sn_train_config *tc = &t->cfg->train;
  double mb = tc->bucket_mb > 0 ? tc->bucket_mb : 4.0;
  return sn_grad_sync_create(t->dist, t->net, (size_t)(mb * 1048576.0), tc->overlap, tc->shared_memory,
                             &t->sync);
}

static sn_status setup(sn_trainer *t) {
  t->threads = sn_dist_default_threads(t->dist);
  omp_set_num_threads(t->threads);
  SN_TRY(sn_dist_agree(t->dist, sn_net_create(&t->cfg->model, &t->net)));
  SN_TRY(sn_dist_agree(t->dist, sn_kernels_check_precision(t->cfg->train.precision, "train.precision")));
  sn_net_set_kernels(t->net, sn_kernels_default(), t->cfg->train.precision);
  sn_net_init_params(t->net, t->cfg->seed);
  /* Same seed, same code: a difference here means mismatched builds or machines. */
  SN_TRY(sn_dist_check_identical(t->dist, t->net->params, t->net->n_params, "initial parameters"));
  SN_TRY(load_data(t));
  SN_TRY(sn_dist_agree(t->dist, plan(t)));
  SN_TRY(sn_dist_agree(t->dist, create_grad_sync(t)));
  SN_TRY(sn_dist_agree(t->dist, allocate_buffers(t)));
  /* The exchange or the stream reader runs data.prefetch steps ahead of the step. */
  return sn_reader_create(t->dist, t->train, t->cfg->data.prefetch > 0 ? t->cfg->data.prefetch : 4, t->local_max,
                          1, &t->reader);
}

sn_status sn_trainer_create(sn_dist *dist, sn_config *cfg, sn_trainer **out) {
  *out = NULL;
  sn_trainer *t = calloc(1, sizeof *t);
  if (!t) return sn_fail(SN_ERR_NOMEM, "cannot allocate the trainer");
  t->dist = dist;
  t->cfg = cfg;
  t->dir_lock = -1;
  sn_status st = setup(t);
  if (st != SN_OK) {
    sn_trainer_destroy(t);
    return st;
  }
  *out = t;
  return SN_OK;
}

void sn_trainer_destroy(sn_trainer *t) {
  if (!t) return;
  sn_free(t->x);
  sn_free(t->targets);
  free(t->labels);
  free(t->perm);
  sn_optimizer_destroy(t->opt);
  sn_grad_sync_destroy(t->sync);
  sn_trace_destroy(t->trace);
  sn_reader_destroy(t->reader);
  sn_dataset_free(t->train);
  sn_dataset_free(t->test);
  sn_net_destroy(t->net);
  sn_dir_unlock(t->dir_lock);
  free(t);
}

/* Layer timings into the trace: "forward conv1", "backward conv1". */
static void trace_layer(void *ctx, int layer, int backward, double start, double end) {
  sn_trainer *t = ctx;
  char name[SN_NAME_CAP + 16];
  snprintf(name, sizeof name, "%s %s", backward ? "backward" : "forward", t->net->layers[layer].name);
  sn_trace_add(t->trace, SN_TRACK_COMPUTE, name, start, end);
}

static void trace_bucket(void *ctx, int bucket, size_t floats, double start, double end) {
  char name[64];
  snprintf(name, sizeof name, "allreduce bucket %d (%.2f MB)", bucket, (double)floats * 4.0 / 1048576.0);
  sn_trace_add(ctx, SN_TRACK_COMM, name, start, end);
}

sn_status sn_trainer_trace(sn_trainer *t) {
  SN_TRY(sn_trace_create(t->dist, &t->trace));
  sn_grad_sync_observe(t->sync, trace_bucket, t->trace);
  return SN_OK;
}

/* Where the run is after the step that starts at `at`: the last partial batch of
 * an epoch is dropped, so every step has B samples. */
static void advance(const sn_trainer *t, sn_position *at) {
  const long batch = t->cfg->train.batch_size;
  at->step++;
  at->position += batch;
  if (at->position + batch > (long)t->train->n) {
    at->epoch++;
    at->position = 0;
  }
}

/* Queues the global batches of the next steps until data.prefetch of them wait
 * (or the run's last step is queued), so that their samples are read or exchanged
 * while the steps before them compute. */
static sn_status queue_ahead(sn_trainer *t) {
  const int batch = t->cfg->train.batch_size;
  if (t->queued.step < 0) t->queued = t->at; /* first step, or just resumed */
  while (t->queued.step < t->total_steps && sn_reader_pending(t->reader) < sn_reader_depth(t->reader)) {
    if (t->perm_epoch != t->queued.epoch) {
      sn_rng_permutation(sn_rng_make_key(t->cfg->seed, (uint32_t)t->queued.epoch, SN_RNG_STREAM_PERMUTATION),
                         t->perm, t->train->n);
      t->perm_epoch = t->queued.epoch;
    }
    SN_TRY(sn_reader_queue_global(t->reader, t->perm + t->queued.position, batch));
    advance(t, &t->queued);
  }
  return SN_OK;
}

sn_status sn_trainer_step(sn_trainer *t, double *loss, double *accuracy) {
  sn_net *net = t->net;
  const int batch = t->cfg->train.batch_size;
  size_t lo, hi;
  sn_part((size_t)batch, sn_dist_rank(t->dist), sn_dist_size(t->dist), &lo, &hi);
  const double t_start = sn_now();
  int n = 0;
  sn_status st = queue_ahead(t);
  if (st == SN_OK)
    st = sn_reader_take(t->reader, &t->train_tf, (uint32_t)t->at.epoch, t->x, t->labels, t->targets, &n);
  /* A read that failed in the background on one rank stops them all here. */
  SN_TRY(sn_dist_agree(t->dist, st));
  sn_trace_add(t->trace, SN_TRACK_IO, "data", t_start, sn_now());

  sn_pass pass = {.training = 1,
                  .seed = t->cfg->seed,
                  .epoch = (uint32_t)t->at.epoch,
                  .first_sample = (uint64_t)(t->at.position + (long)lo),
                  .reducer = sn_dist_reducer(t->dist),
                  .builder = sn_grad_sync_builder(t->sync),
                  .after_backward = sn_grad_sync_layer_done,
                  .hook_ctx = t->sync,
                  .on_layer = t->trace ? trace_layer : NULL,
                  .layer_ctx = t};
  SN_TRY(sn_grad_sync_begin_step(t->sync));
  sn_grad_sync_zero(t->sync);
  sn_net_forward(net, t->x, n, &pass);
  const int dim = (int)sn_shape_size(sn_net_output_shape(net));
  int correct = 0;
  double sums[3];
  sums[0] = sn_loss_compute(net->loss, sn_net_output(net), n, dim, t->labels, t->targets,
                            1.0 / batch, sn_net_output_grad(net), &correct);
  sums[1] = correct;
  /* A stop request rides on the loss reduction, so all ranks see it at the same step. */
  sums[2] = t->stop_request && *t->stop_request ? 1.0 : 0.0;
  sn_net_backward(net, t->x, n, &pass);
  SN_TRY(sn_grad_sync_finish(t->sync));
  SN_TRY(sn_dist_sum_doubles(t->dist, sums, 3));
  if (sums[2] > 0.0) t->stopped = 1;
  *loss = sums[0] / batch;
  *accuracy = sums[1] / batch;
  /* Every rank sees the same reduced loss, so all stop together. */
  if (!isfinite(*loss)) {
    /* NaN or Inf in the data (a float dataset) is not the learning rate's fault:
     * every rank looks at its inputs, and the message says which it was */
    double bad_input = 0.0;
    const size_t values = (size_t)n * sn_shape_size(net->input_shape);
    for (size_t e = 0; e < values && bad_input == 0.0; e++)
      if (!isfinite(t->x[e])) bad_input = 1.0;
    SN_TRY(sn_dist_max_doubles(t->dist, &bad_input, 1));
    if (bad_input > 0.0)
      return sn_dist_common_failure(t->dist, sn_fail(SN_ERR_NUMERIC,
                     "the loss became %s at step %ld (epoch %d): %s holds NaN or Inf pixels in this step's samples; "
                     "training stopped", isnan(*loss) ? "NaN" : "infinite", t->at.step + 1, t->at.epoch + 1,
                     t->cfg->data.train));
    return sn_dist_common_failure(t->dist, sn_fail(SN_ERR_NUMERIC,
                   "the loss became %s at step %ld (epoch %d); training stopped (try a lower learning rate)",
                   isnan(*loss) ? "NaN" : "infinite", t->at.step + 1, t->at.epoch + 1));
  }
  /* Each rank updates its shard of the parameters (all of them without shared memory). */
  const float lr = (float)sn_schedule_lr(&t->schedule, t->at.step);
  const sn_arena_range *shard;
  const int n_ranges = sn_grad_sync_shard(t->sync, &shard);
  sn_optimizer_begin_step(t->opt);
  for (int k = 0; k < n_ranges; k++)
    sn_optimizer_update(t->opt, net->params, net->grads, lr, shard[k].offset, shard[k].count);
  SN_TRY(sn_grad_sync_publish(t->sync));
  t->wait_seconds += sn_grad_sync_waited(t->sync);
  t->step_seconds += sn_now() - t_start;
  t->timed_steps++;
  advance(t, &t->at);
  return SN_OK;
}

/* `activations: {every_steps: K, samples: [...]}`: a snapshot every K steps, appended
 * to <checkpoint.dir>/activations.h5. */
static sn_status snapshot_activations(sn_trainer *t) {
  const sn_activations_config *a = &t->cfg->activations;
  if (a->every_steps <= 0 || a->n_samples == 0 || t->at.step % a->every_steps != 0) return SN_OK;
  char path[SN_PATH_CAP + 32];
  snprintf(path, sizeof path, "%s/activations.h5", t->cfg->checkpoint.dir);
  const double t0 = sn_now();
  sn_status st = sn_activations_snapshot(t->dist, t->net, t->train, &t->snapshot_tf, a->samples, a->n_samples,
                                         t->at.step, path);
  sn_trace_add(t->trace, SN_TRACK_IO, "activations", t0, sn_now());
  return st;
}

sn_status sn_trainer_run(sn_trainer *t) {
  sn_report report;
  /* rank 0 alone creates the run directory: all must hear if it could not */
  SN_TRY(sn_dist_agree(t->dist, sn_report_open(&report, t)));
  sn_status st = SN_OK;
  double loss = 0.0, acc = 0.0;
  while (st == SN_OK && t->at.step < t->total_steps && !t->stopped) {
    const int epoch = t->at.epoch;
    st = sn_trainer_step(t, &loss, &acc);
    if (st != SN_OK) break;
    sn_report_step(&report, t, loss, acc);
    const long every = t->cfg->checkpoint.every_steps;
    if ((every > 0 && t->at.step % every == 0) || t->at.step == t->total_steps || t->stopped)
      st = sn_trainer_save(t);
    if (t->stopped) break;
    if (st == SN_OK) st = snapshot_activations(t);
    const int epoch_done = t->at.epoch != epoch || t->at.step == t->total_steps;
    if (st == SN_OK && epoch_done && t->test) {
      sn_eval_result r;
      st = sn_evaluate(t->dist, t->net, t->test, &t->test_tf, t->local_max, t->cfg->data.prefetch, &r);
      if (st == SN_OK) sn_report_eval(&report, t, epoch, &r);
      sn_eval_result_free(&r);
    }
  }
  sn_report_close(&report, t);
  return st;
}
