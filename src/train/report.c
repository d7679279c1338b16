/* Banner, per-interval log lines or a live bar, evaluation lines and metrics.csv. */
#define _POSIX_C_SOURCE 200809L
#include "train/report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shardnet/gemm.h"
#include "shardnet/timer.h"

sn_status sn_make_dirs(const char *path) {
  char buf[SN_PATH_CAP];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1;; p++) {
    char c = *p;
    if (c == '/' || c == '\0') {
      *p = '\0';
      if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return sn_fail(SN_ERR_IO, "cannot create directory %s: %s", buf, strerror(errno));
      *p = c;
    }
    if (c == '\0') break;
  }
  return SN_OK;
}

static const char *duration(double s, char *buf, size_t cap) {
  long t = (long)(s + 0.5);
  if (t >= 3600) snprintf(buf, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else if (t >= 60) snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
  else snprintf(buf, cap, "%lds", t);
  return buf;
}

/* Whether the launcher that started this rank (mpirun, our parent on this node) writes
 * to a terminal: mpirun hands ranks a pseudo-terminal even when its own output goes
 * to a file. Unknown counts as no. */
static int launcher_on_terminal(void) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd/1", (int)getppid());
  int fd = open(path, O_WRONLY | O_NOCTTY);
  if (fd < 0) return 0;
  int tty = isatty(fd);
  close(fd);
  return tty;
}

/* A live bar only for a person at a terminal: not for a file, a Slurm batch job (no
 * srun --pty), TERM=dumb, or an mpirun whose own output is redirected.
 * SHARDNET_PROGRESS=0/1 decides explicitly. */
static int wants_live_bar(void) {
  const char *force = getenv("SHARDNET_PROGRESS");
  if (force && *force) return atoi(force) != 0;
  const char *term = getenv("TERM");
  if (!isatty(STDOUT_FILENO) || !term || !*term || !strcmp(term, "dumb")) return 0;
  if (getenv("SLURM_JOB_ID") && !getenv("SLURM_PTY_PORT")) return 0;
  return getenv("OMPI_COMM_WORLD_SIZE") ? launcher_on_terminal() : 1;
}

/* "shardnet: training set: stream (why)": where the samples live, and why. */
static void print_placement(const char *role, const sn_dataset *ds) {
  printf("shardnet: %s: %s (%s)\n", role, sn_placement_names[ds->placement], ds->placement_why);
}

sn_status sn_report_open(sn_report *r, const sn_trainer *t) {
  memset(r, 0, sizeof *r);
  r->rank0 = sn_dist_rank(t->dist) == 0;
  r->t_start = r->t_interval = sn_now();
  r->interval_start_step = t->at.step;
  if (!r->rank0) return SN_OK;
  r->tty = !t->quiet && wants_live_bar();
  const sn_config *c = t->cfg;
  const int ranks = sn_dist_size(t->dist);
  if (!t->quiet) {
    const int sharing = sn_grad_sync_node_ranks(t->sync);
    printf("shardnet: %d rank%s x %d thread%s per rank", ranks, ranks == 1 ? "" : "s", t->threads,
           t->threads == 1 ? "" : "s");
    if (sharing > 1) printf(" | gradients summed in shared memory by %d ranks per node", sharing);
    else if (ranks > 1) printf(" | gradients all-reduced through MPI");
    printf(" | %s kernels: %s\n", sn_precision_names[t->net->precision], sn_kernels_describe(t->net->kernels));
    printf("shardnet: %s | %zu parameters | train %zu samples%s", c->path, t->net->n_params, t->train->n,
           t->test ? ", test " : "");
    if (t->test) printf("%zu samples", t->test->n);
    printf(" | global batch %d (%d per rank) | %ld steps/epoch, %ld steps\n", c->train.batch_size,
           t->local_max, t->steps_per_epoch, t->total_steps);
    print_placement("training set", t->train);
    if (t->test) print_placement("test set", t->test);
    fflush(stdout);
  }
  sn_status st = sn_make_dirs(c->checkpoint.dir);
  if (st != SN_OK) return st;
  char path[SN_PATH_CAP + 32];
  snprintf(path, sizeof path, "%s/metrics.csv", c->checkpoint.dir);
  int fresh = access(path, F_OK) != 0 || t->at.step == 0;
  r->csv = fopen(path, fresh ? "w" : "a");
  if (!r->csv) return sn_fail(SN_ERR_IO, "cannot write %s: %s", path, strerror(errno));
  if (fresh) fprintf(r->csv, "phase,epoch,step,lr,loss,accuracy,images_per_s\n");
  return SN_OK;
}

static void draw_bar(const sn_trainer *t, double loss) {
  const int width = 30;
  long in_epoch = t->at.position / t->cfg->train.batch_size;
  int filled = (int)(width * (double)in_epoch / (double)t->steps_per_epoch);
  char bar[64];
  for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
  bar[width] = '\0';
  printf("\repoch %d [%s] %ld/%ld loss %.4f ", t->at.epoch + 1, bar, in_epoch, t->steps_per_epoch, loss);
  fflush(stdout);
}

void sn_report_step(sn_report *r, const sn_trainer *t, double loss, double accuracy) {
  r->loss_sum += loss;
  r->acc_sum += accuracy;
  r->interval_steps++;
  if (!r->rank0) return;
  const int log_every = t->cfg->train.log_every > 0 ? t->cfg->train.log_every : 50;
  const int last = t->at.step == t->total_steps || t->at.position == 0;
  if (t->at.step % log_every != 0 && !last) {
    double now = sn_now();
    if (r->tty && now - r->t_bar > 0.1) {
      draw_bar(t, loss);
      r->t_bar = now;
    }
    return;
  }
  double now = sn_now();
  double rate = (double)(t->at.step - r->interval_start_step) * t->cfg->train.batch_size / (now - r->t_interval);
  double per_step = (now - r->t_start) / (double)(t->at.step > 0 ? t->at.step : 1);
  double lr = sn_schedule_lr(&t->schedule, t->at.step - 1);
  double mean_loss = r->loss_sum / r->interval_steps, mean_acc = r->acc_sum / r->interval_steps;
  /* the epoch the logged steps belong to (position 0 means one just ended) */
  int epoch = t->at.position == 0 ? t->at.epoch : t->at.epoch + 1;
  char eta[32];
  if (!t->quiet) {
    char acc[32] = "";
    if (t->net->loss == SN_LOSS_SOFTMAX_CROSS_ENTROPY) snprintf(acc, sizeof acc, " | acc %.4f", mean_acc);
    printf("%sepoch %d/%d | step %ld/%ld | loss %.4f%s | lr %.2e | %.0f img/s | ETA %s\n",
           r->tty ? "\r\033[K" : "", epoch, t->cfg->train.epochs, t->at.step, t->total_steps, mean_loss,
           acc, lr, rate, duration(per_step * (double)(t->total_steps - t->at.step), eta, sizeof eta));
    fflush(stdout);
  }
  if (r->csv) {
    fprintf(r->csv, "train,%d,%ld,%.6g,%.6f,%.6f,%.1f\n", epoch, t->at.step, lr, mean_loss, mean_acc, rate);
    fflush(r->csv);
  }
  r->t_interval = now;
  r->interval_start_step = t->at.step;
  r->loss_sum = r->acc_sum = 0.0;
  r->interval_steps = 0;
}

void sn_report_eval(sn_report *r, const sn_trainer *t, int epoch, const sn_eval_result *e) {
  if (!r->rank0) return;
  if (!t->quiet) {
    if (e->n_classes)
      printf("test  epoch %d | loss %.4f | accuracy %.4f (%ld samples)\n", epoch + 1, e->loss, e->accuracy, e->samples);
    else
      printf("test  epoch %d | loss %.6f (%ld samples)\n", epoch + 1, e->loss, e->samples);
    fflush(stdout);
  }
  if (r->csv) {
    fprintf(r->csv, "test,%d,%ld,,%.6f,%.6f,\n", epoch + 1, t->at.step, e->loss, e->accuracy);
    fflush(r->csv);
  }
}

void sn_report_close(sn_report *r, const sn_trainer *t) {
  if (r->rank0 && !t->quiet) {
    char took[32];
    const double steps = t->timed_steps > 0 ? (double)t->timed_steps : 1.0;
    printf("shardnet: %ld steps in %s | %.1f img/s | step %.2f ms, of which %.2f ms waiting on the gradient reduction\n",
           t->at.step, duration(sn_now() - r->t_start, took, sizeof took),
           t->step_seconds > 0 ? steps * t->cfg->train.batch_size / t->step_seconds : 0.0,
           1e3 * t->step_seconds / steps, 1e3 * t->wait_seconds / steps);
    fflush(stdout);
  }
  if (r->csv) fclose(r->csv);
  r->csv = NULL;
}
