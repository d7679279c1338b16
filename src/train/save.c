/* Checkpoints during training: ckpt-<step>.h5 written by rank 0, `latest.h5`
 * moved to it only once it is complete, and the oldest pruned beyond `keep`. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shardnet/checkpoint.h"
#include "shardnet/timer.h"
#include "train/dir_lock.h"
#include "train/save.h"

#define LATEST "latest.h5"

/* Points dir/latest.h5 at name with a symlink swapped in by rename (atomic). */
static sn_status point_latest(const char *dir, const char *name) {
  char link[SN_PATH_CAP + 32], tmp[SN_PATH_CAP + 40];
  snprintf(link, sizeof link, "%s/%s", dir, LATEST);
  snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, LATEST);
  unlink(tmp);
  if (symlink(name, tmp) != 0 || rename(tmp, link) != 0)
    return sn_fail(SN_ERR_IO, "cannot point %s at %s: %s", link, name, strerror(errno));
  return SN_OK;
}

static int is_checkpoint_name(const char *name, long *step) {
  char tail[8];
  return sscanf(name, "ckpt-%ld.%7s", step, tail) == 2 && !strcmp(tail, "h5");
}

static int by_step(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return (x > y) - (x < y);
}

/* Removes all but the newest keep checkpoints of dir. */
static void prune(const char *dir, int keep) {
  DIR *d = opendir(dir);
  if (!d) return;
  long steps[4096];
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) && n < 4096;) {
    long step;
    if (is_checkpoint_name(e->d_name, &step)) steps[n++] = step;
  }
  closedir(d);
  qsort(steps, (size_t)n, sizeof *steps, by_step);
  for (int i = 0; i < n - keep; i++) {
    char path[SN_PATH_CAP + 64];
    snprintf(path, sizeof path, "%s/ckpt-%08ld.h5", dir, steps[i]);
    unlink(path);
  }
}

/* Parameters that turned NaN or Inf: max pooling and relu can hide NaN from the loss,
 * so a finite loss does not prove finite weights. A checkpoint of such weights would
 * be refused at load; refusing to write it keeps the last good one as latest. */
static sn_status check_finite(const sn_trainer *t) {
  const sn_net *net = t->net;
  for (int i = 0; i < net->n_layers; i++)
    for (int k = 0; k < net->layers[i].n_params; k++) {
      const sn_param *p = &net->layers[i].params[k];
      for (size_t e = 0; e < p->count; e++)
        if (!isfinite(p->data[e]))
          return sn_fail(SN_ERR_NUMERIC, "after step %ld, %s of layer '%s' holds %s at element %zu (from NaN or Inf "
                         "in the data, values in %s too large to train on, or a learning rate too high); stopped "
                         "without writing a checkpoint",
                         t->at.step, p->name, net->layers[i].name, isnan(p->data[e]) ? "NaN" : "Inf", e,
                         t->cfg->data.train);
    }
  return SN_OK;
}

sn_status sn_trainer_save(sn_trainer *t) {
  const sn_config *c = t->cfg;
  sn_status st = SN_OK;
  const double t0 = sn_now();
  /* With a sharded optimizer, rank 0 holds only its shard of the moments: collect the rest. */
  for (int m = 0; m < sn_optimizer_n_moments(t->opt) && st == SN_OK; m++)
    st = sn_grad_sync_gather_shards(t->sync, sn_optimizer_moment(t->opt, m));
  SN_TRY(sn_dist_agree(t->dist, st));
  if (sn_dist_rank(t->dist) == 0) st = check_finite(t);
  if (sn_dist_rank(t->dist) == 0 && st == SN_OK) {
    char name[64], path[SN_PATH_CAP + 80];
    snprintf(name, sizeof name, "ckpt-%08ld.h5", t->at.step);
    snprintf(path, sizeof path, "%s/%s", c->checkpoint.dir, name);
    sn_checkpoint_meta meta = {.step = t->at.step,
                               .epoch = t->at.epoch,
                               .samples_seen = t->at.position,
                               .seed = c->seed,
                               .world_size = sn_dist_size(t->dist),
                               .config_text = c->resolved,
                               .overrides = t->overrides,
                               .n_overrides = t->n_overrides,
                               /* the next step zeroes or overwrites every gradient */
                               .scratch = t->net->grads,
                               .scratch_floats = t->net->n_params};
    sn_optimizer_state state;
    sn_optimizer_describe(t->opt, &state);
    st = sn_checkpoint_write(path, t->net, &state, &meta);
    if (st == SN_OK) st = point_latest(c->checkpoint.dir, name);
    if (st == SN_OK) prune(c->checkpoint.dir, c->checkpoint.keep > 0 ? c->checkpoint.keep : 1);
  }
  st = sn_dist_agree(t->dist, st);
  sn_trace_add(t->trace, SN_TRACK_IO, "checkpoint", t0, sn_now());
  return st;
}

sn_status sn_trainer_claim_checkpoint_dir(sn_trainer *t) {
  sn_status st = SN_OK;
  if (sn_dist_rank(t->dist) == 0 && t->dir_lock < 0) st = sn_dir_lock(t->cfg->checkpoint.dir, &t->dir_lock);
  return sn_dist_agree(t->dist, st);
}
