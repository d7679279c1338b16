/* Learning-rate schedules as pure functions of the step. */
#include "shardnet/schedule.h"

#include <math.h>

sn_status sn_schedule_parse(sn_args *args, double base_lr, long steps_per_epoch, long total_steps,
                            sn_schedule *out) {
  static const char *const kinds[] = {"constant", "step", "cosine"};
  int kind;
  SN_TRY(sn_args_choice(args, "type", kinds, 3, SN_SCHEDULE_CONSTANT, &kind));
  out->kind = (sn_schedule_kind)kind;
  out->base_lr = base_lr;
  out->total_steps = total_steps > 0 ? total_steps : 1;
  double warmup_epochs;
  int warmup_steps;
  SN_TRY(sn_args_float(args, "warmup_epochs", 0.0, 0.0, 1e6, &warmup_epochs));
  SN_TRY(sn_args_int(args, "warmup_steps", 0, 0, 1 << 30, &warmup_steps));
  out->warmup_steps = warmup_steps ? warmup_steps : lround(warmup_epochs * (double)steps_per_epoch);
  SN_TRY(sn_args_float(args, "warmup_start", 0.1, 0.0, 1.0, &out->warmup_start));
  out->step_size = 1;
  out->gamma = 1.0;
  out->min_lr = 0.0;
  if (out->kind == SN_SCHEDULE_STEP) {
    double step_epochs;
    int step_steps;
    SN_TRY(sn_args_float(args, "step_epochs", 1.0, 1e-6, 1e6, &step_epochs));
    SN_TRY(sn_args_int(args, "step_steps", 0, 0, 1 << 30, &step_steps));
    out->step_size = step_steps ? step_steps : lround(step_epochs * (double)steps_per_epoch);
    if (out->step_size < 1) out->step_size = 1;
    SN_TRY(sn_args_float(args, "gamma", 0.1, 0.0, 1.0, &out->gamma));
  }
  if (out->kind == SN_SCHEDULE_COSINE)
    SN_TRY(sn_args_float(args, "min_lr", 0.0, 0.0, 1e6, &out->min_lr));
  return sn_args_check_unused(args);
}

double sn_schedule_lr(const sn_schedule *s, long step) {
  if (step < s->warmup_steps) {
    double t = (double)(step + 1) / (double)s->warmup_steps;
    return s->base_lr * (s->warmup_start + (1.0 - s->warmup_start) * t);
  }
  switch (s->kind) {
    case SN_SCHEDULE_CONSTANT: return s->base_lr;
    case SN_SCHEDULE_STEP: return s->base_lr * pow(s->gamma, (double)((step - s->warmup_steps) / s->step_size));
    case SN_SCHEDULE_COSINE: {
      long span = s->total_steps - s->warmup_steps;
      double t = span > 1 ? (double)(step - s->warmup_steps) / (double)(span - 1) : 1.0;
      if (t > 1.0) t = 1.0;
      return s->min_lr + 0.5 * (s->base_lr - s->min_lr) * (1.0 + cos(3.141592653589793 * t));
    }
  }
  return s->base_lr;
}
