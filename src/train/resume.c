/* Resuming a run from a checkpoint: rank 0 reads the file, the others receive what
 * it read. Thousands of ranks opening one small file at once is what a parallel file
 * system serves worst, and one reader cannot disagree with itself. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shardnet/checkpoint.h"
#include "shardnet/trainer.h"

/* Rank 0: checks the file against the run and loads it into the net and optimizer. */
static sn_status read_checkpoint(sn_trainer *t, const char *path) {
  sn_checkpoint_info info;
  sn_status st = sn_checkpoint_read_info(path, &info);
  if (st == SN_OK && info.seed != t->cfg->seed)
    st = sn_fail(SN_ERR_CONFIG, "%s was trained with seed %llu but the config says seed %llu; resuming would change the data order",
                 path, (unsigned long long)info.seed, (unsigned long long)t->cfg->seed);
  if (st == SN_OK && info.samples_seen + t->cfg->train.batch_size > (long)t->train->n)
    st = sn_fail(SN_ERR_CONFIG, "%s stopped at sample %ld of an epoch, past the training set's %zu samples",
                 path, info.samples_seen, t->train->n);
  sn_optimizer_state state;
  sn_optimizer_describe(t->opt, &state);
  if (st == SN_OK) st = sn_checkpoint_load(path, t->net, &state);
  if (st == SN_OK) {
    sn_optimizer_set_steps(t->opt, state.steps);
    t->at.step = info.step;
    t->at.epoch = info.epoch;
    t->at.position = info.samples_seen;
  }
  sn_checkpoint_info_free(&info);
  return st;
}

/* Everything read_checkpoint set, from rank 0 to the others. */
static sn_status share_checkpoint(sn_trainer *t) {
  sn_dist *d = t->dist;
  long where[4] = {t->at.step, t->at.epoch, t->at.position, (long)sn_optimizer_steps(t->opt)};
  SN_TRY(sn_dist_broadcast(d, where, sizeof where, 0));
  t->at.step = where[0];
  t->at.epoch = (int)where[1];
  t->at.position = where[2];
  sn_optimizer_set_steps(t->opt, where[3]);
  SN_TRY(sn_dist_broadcast(d, t->net->params, t->net->n_params * sizeof(float), 0));
  SN_TRY(sn_dist_broadcast(d, t->net->state, t->net->n_state * sizeof(float), 0));
  for (int m = 0; m < sn_optimizer_n_moments(t->opt); m++)
    SN_TRY(sn_dist_broadcast(d, sn_optimizer_moment(t->opt, m), t->net->n_params * sizeof(float), 0));
  return SN_OK;
}

sn_status sn_trainer_resume(sn_trainer *t, const char *from) {
  char path[SN_PATH_CAP + 16];
  const int automatic = !strcmp(from, "auto"), rank0 = sn_dist_rank(t->dist) == 0;
  if (automatic || !strcmp(from, "latest"))
    snprintf(path, sizeof path, "%s/latest.h5", t->cfg->checkpoint.dir);
  else
    snprintf(path, sizeof path, "%s", from);
  /* auto: a job script's first start has nothing to resume yet (rank 0's view decides);
   * but a latest.h5 link to a checkpoint that is gone is a damaged run directory, not
   * a new one: starting over would overwrite it */
  struct stat link;
  const int dangling = automatic && lstat(path, &link) == 0 && access(path, F_OK) != 0;
  sn_status seen = dangling ? sn_fail(SN_ERR_IO, "%s is a link to a checkpoint that is missing; remove it to start "
                                      "afresh, or name a checkpoint with --resume FILE", path)
                            : SN_OK;
  SN_TRY(sn_dist_agree(t->dist, rank0 ? seen : SN_OK));
  int found = !automatic || access(path, F_OK) == 0;
  SN_TRY(sn_dist_broadcast(t->dist, &found, sizeof found, 0));
  if (!found) {
    if (rank0 && !t->quiet)
      printf("shardnet: no checkpoint in %s yet: starting from the beginning\n", t->cfg->checkpoint.dir);
    return SN_OK;
  }
  SN_TRY(sn_dist_agree(t->dist, rank0 ? read_checkpoint(t, path) : SN_OK));
  SN_TRY(share_checkpoint(t));
  if (rank0 && !t->quiet) {
    printf("shardnet: resumed from %s at step %ld (epoch %d, sample %ld)\n", path, t->at.step, t->at.epoch + 1,
           t->at.position);
    fflush(stdout);
  }
  return SN_OK;
}
