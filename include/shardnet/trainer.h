/* The data-parallel training loop. Each step takes the next global batch of the
 * epoch's permutation (a function of seed and epoch), gives rank r of P the
 * contiguous slice [r*B/P, (r+1)*B/P) of it, sums losses and gradients over samples
 * divided by the global batch, reduces the gradients across ranks (grad_sync.h), and
 * applies one optimizer step to the parameters, each rank updating its shard of them,
 * so P ranks follow the trajectory of one. */
#ifndef SHARDNET_TRAINER_H
#define SHARDNET_TRAINER_H

#include <signal.h>
#include <stdio.h>

#include "shardnet/config.h"
#include "shardnet/dataset.h"
#include "shardnet/dist.h"
#include "shardnet/grad_sync.h"
#include "shardnet/net.h"
#include "shardnet/optim.h"
#include "shardnet/schedule.h"
#include "shardnet/trace.h"

/* Where a run is: everything a checkpoint needs to continue exactly. */
typedef struct {
  long step;          /* optimizer steps taken */
  int epoch;          /* 0-based epoch in progress */
  long position;      /* samples of this epoch's permutation already consumed */
} sn_position;

typedef struct {
  double loss, accuracy;
  long samples;
  int n_classes;
  long *class_total, *class_correct;   /* per class, n_classes entries (classification) */
  long *confusion;              /* n_classes x n_classes: [label * n_classes + prediction] */
} sn_eval_result;

typedef struct sn_trainer {
  sn_dist *dist;
  sn_config *cfg;
  sn_net *net;
  sn_optimizer *opt;
  sn_schedule schedule;
  sn_dataset *train, *test;
  sn_transform train_tf, test_tf;  /* stored samples to inputs (the training set's augmented) */
  sn_transform snapshot_tf;     /* training samples unaugmented, for activation snapshots */
  sn_reader *reader;            /* the training set's global batches, queued ahead */
  sn_position at;
  sn_position queued;           /* the step whose batch is queued next (step -1: none yet) */
  long steps_per_epoch, total_steps;
  double lr_scale;              /* train.scale_lr: linear */
  int local_max;                /* largest per-rank slice of a global batch */
  int threads;
  /* per-step buffers */
  float *x, *targets;
  int32_t *labels;
  uint32_t *perm;               /* the permutation of epoch perm_epoch, for queueing batches */
  int perm_epoch;
  const char *const *overrides;  /* the --set options, saved in checkpoints */
  int n_overrides;
  /* Set asynchronously (a signal handler) to ask for a checkpoint and a clean stop
   * at the next step boundary; the ranks agree on it inside the step's reduction. */
  const volatile sig_atomic_t *stop_request;
  int stopped;                  /* the run ended early on a stop request */
  sn_grad_sync *sync;           /* bucketed gradient reduction, sharded update */
  sn_trace *trace;              /* --trace, or NULL */
  /* Totals since the start of this process, for the closing statistics. */
  double step_seconds, wait_seconds;
  long timed_steps;
  int quiet;                    /* no per-interval lines (tests) */
  int dir_lock;                 /* rank 0's lock on checkpoint.dir, or -1 */
} sn_trainer;

/* Builds the net from cfg, initialises it from the seed and checks every rank holds
 * the same parameters, loads and validates the datasets against the model, and
 * creates the optimizer and schedule. Collective; errors agree across ranks. */
sn_status sn_trainer_create(sn_dist *dist, sn_config *cfg, sn_trainer **out);
void sn_trainer_destroy(sn_trainer *t);

/* Restores parameters, optimizer state and position from a checkpoint ("latest"
 * names <checkpoint.dir>/latest.h5; "auto" the same, or nothing when there is none
 * yet) whose layers match the model; training then continues exactly where that
 * run was. Collective: rank 0 reads the file and sends the others what it read. */
sn_status sn_trainer_resume(sn_trainer *t, const char *from);

/* Makes checkpoint.dir this run's alone until the trainer is destroyed (rank 0
 * locks it): a second run given the same dir fails naming the run that holds it.
 * `train` claims it before resuming. Collective. */
sn_status sn_trainer_claim_checkpoint_dir(sn_trainer *t);

/* Collective: records a Chrome trace of the following steps (write it with
 * sn_trace_write(t->trace, path) at the end). */
sn_status sn_trainer_trace(sn_trainer *t);

/* Runs until the configured epochs (or train.max_steps) are done, evaluating on the
 * test set after each epoch. A NaN or infinite loss stops with the step number. */
sn_status sn_trainer_run(sn_trainer *t);

/* One optimizer step on the next global batch; mean loss and accuracy of the batch
 * across all ranks come back. */
sn_status sn_trainer_step(sn_trainer *t, double *loss, double *accuracy);

/* What inference (eval, predict, activations, the run report) shares: the model
 * rebuilt from a checkpoint or run directory, and a dataset validated against it. */
typedef struct {
  sn_config *cfg;
  sn_net *net;
  sn_dataset *ds;
  sn_transform tf;              /* the run's pad_to, channels and normalisation, no augmentation */
  char resolved[SN_PATH_CAP];   /* the checkpoint file used */
} sn_inference;

/* Collective; errors agree across ranks. placement is the --placement option's text
 * (NULL: auto). Close in any case. */
sn_status sn_inference_open(sn_dist *d, const char *checkpoint, const char *data, const char *placement,
                            sn_inference *in);
void sn_inference_close(sn_inference *in);

/* The run report (src/train/run_report.c): one self-contained HTML file. */
typedef struct {
  const char *run_dir;   /* its latest.h5, metrics.csv and trace.json (when present) */
  const char *data;      /* the test set for the confusion matrix and feature maps; NULL: the run's data.test */
  const char *trace;     /* NULL: <run_dir>/trace.json when it exists */
  const char *out;       /* NULL: <run_dir>/report.html */
} sn_run_report_options;

/* Collective (the evaluation is split across ranks); rank 0 writes the page, whose
 * path written receives (SN_PATH_CAP bytes). */
sn_status sn_run_report(sn_dist *d, const sn_run_report_options *o, char *written);

/* Inference over a whole dataset, split across ranks (sn_part) and reduced; batch
 * samples per forward, depth batches read ahead. Collective. */
sn_status sn_evaluate(sn_dist *dist, sn_net *net, sn_dataset *ds, const sn_transform *tf, int batch, int depth,
                      sn_eval_result *out);
void sn_eval_result_free(sn_eval_result *r);

/* Network outputs for this rank's part of ds (samples [*lo, *hi), sn_part), in
 * batches of up to `batch`, into out ((hi - lo) x outputs, malloc'ed) and, for a
 * classifier, the predicted labels into *labels: class probabilities (softmax of the
 * logits) for a classifier, raw outputs otherwise. Collective. */
sn_status sn_predict_part(sn_dist *dist, sn_net *net, sn_dataset *ds, const sn_transform *tf, int batch, int depth,
                          size_t *lo, size_t *hi, float **out, int32_t **labels);

#endif
