/* Learning-rate schedules: constant, step and cosine, each with an optional linear
 * warmup. The rate is a pure function of the global step, so a resumed run needs
 * nothing saved but the step. */
#ifndef SHARDNET_SCHEDULE_H
#define SHARDNET_SCHEDULE_H

#include "shardnet/args.h"
#include "shardnet/status.h"

typedef enum { SN_SCHEDULE_CONSTANT, SN_SCHEDULE_STEP, SN_SCHEDULE_COSINE } sn_schedule_kind;

typedef struct {
  sn_schedule_kind kind;
  double base_lr;
  long warmup_steps;     /* linear ramp from base_lr * warmup_start to base_lr */
  double warmup_start;
  long step_size;        /* step: decay every step_size steps by gamma */
  double gamma;
  double min_lr;         /* cosine: the rate at the last step */
  long total_steps;
} sn_schedule;

/* Reads the `train.schedule` block. Keys: type constant | step | cosine (default
 * constant); warmup_epochs or warmup_steps; step: step_epochs (or step_steps) and
 * gamma (0.1); cosine: min_lr (0). Epoch counts become steps through
 * steps_per_epoch. */
sn_status sn_schedule_parse(sn_args *args, double base_lr, long steps_per_epoch, long total_steps,
                            sn_schedule *out);

/* The learning rate of (0-based) step. */
double sn_schedule_lr(const sn_schedule *s, long step);

#endif
