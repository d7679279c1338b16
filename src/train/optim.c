/* SGD (momentum, Nesterov), Adam and AdamW: one OpenMP loop over the arenas. */
#include "shardnet/optim.h"

#include <math.h>
#include <stdlib.h>

#include "shardnet/memory.h"

const char *const sn_optim_names[3] = {"sgd", "adam", "adamw"};

/* Below this many parameters a thread team costs more than the loop it splits. The
 * `parallel :` modifier matters: a bare if() on `parallel for simd` also turns off
 * vectorisation (OpenMP 5), leaving small loops scalar. */
#define PARALLEL_MIN 32768

struct sn_optimizer {
  sn_optim_kind kind;
  size_t n;
  double lr, weight_decay;
  double momentum;              /* sgd */
  int nesterov;                 /* sgd */
  double beta1, beta2, eps;     /* adam, adamw */
  int64_t steps;
  int n_moments;
  float *moment[2];
};

/* A moment decay (momentum, beta1, beta2) in [0, 1): at 1 a moment never forgets,
 * and Adam's bias correction 1 - beta^t becomes 0. */
static sn_status read_decay(sn_args *a, const char *key, double dflt, double *out) {
  SN_TRY(sn_args_float(a, key, dflt, 0.0, 1.0, out));
  if (*out >= 1.0) return sn_args_fail(a, key, "must be below 1, got %g", *out);
  return SN_OK;
}

static sn_status parse(sn_args *a, sn_optimizer *o) {
  int kind;
  SN_TRY(sn_args_choice(a, "type", sn_optim_names, 3, -1, &kind));
  o->kind = (sn_optim_kind)kind;
  const int sgd = o->kind == SN_OPT_SGD;
  SN_TRY(sn_args_float(a, "lr", sgd ? 0.01 : 0.001, 0.0, 1e6, &o->lr));
  SN_TRY(sn_args_float(a, "weight_decay", o->kind == SN_OPT_ADAMW ? 0.01 : 0.0, 0.0, 1e6,
                       &o->weight_decay));
  if (sgd) {
    SN_TRY(read_decay(a, "momentum", 0.0, &o->momentum));
    SN_TRY(sn_args_bool(a, "nesterov", 0, &o->nesterov));
    if (o->nesterov && o->momentum == 0.0)
      return sn_args_fail(a, "nesterov", "needs a momentum above 0");
  } else {
    SN_TRY(read_decay(a, "beta1", 0.9, &o->beta1));
    SN_TRY(read_decay(a, "beta2", 0.999, &o->beta2));
    SN_TRY(sn_args_float(a, "eps", 1e-8, 0.0, 1.0, &o->eps));
    if (o->eps <= 0.0)
      return sn_args_fail(a, "eps", "must be above 0: a parameter whose gradient is 0 would get 0/0");
  }
  /* A key of another type (momentum under adam) is most likely a forgotten type
   * change, so say which type it belongs to rather than only "unknown". */
  static const char *const sgd_keys[] = {"momentum", "nesterov"};
  static const char *const adam_keys[] = {"beta1", "beta2", "eps"};
  const char *const *other = sgd ? adam_keys : sgd_keys;
  const int n_other = sgd ? 3 : 2;
  for (int i = 0; i < n_other; i++)
    if (sn_args_has(a, other[i]))
      return sn_args_fail(a, other[i], "does not apply to type '%s' (it is a key of %s)",
                          sn_optim_names[kind], sgd ? "adam and adamw" : "sgd");
  return sn_args_check_unused(a);
}

sn_status sn_optimizer_create(sn_args *args, size_t n_params, sn_optimizer **out) {
  *out = NULL;
  if (!args->what[0]) SN_TRY(sn_args_set_what(args, "optimizer"));
  sn_optimizer *o = calloc(1, sizeof *o);
  if (!o) return sn_fail(SN_ERR_NOMEM, "cannot allocate the optimizer");
  o->n = n_params;
  sn_status st = parse(args, o);
  if (st == SN_OK) {
    o->n_moments = o->kind != SN_OPT_SGD ? 2 : o->momentum > 0.0 ? 1 : 0;
    for (int k = 0; k < o->n_moments && st == SN_OK; k++)
      st = sn_alloc_floats(n_params, &o->moment[k]);
  }
  if (st != SN_OK) {
    sn_optimizer_destroy(o);
    return st;
  }
  *out = o;
  return SN_OK;
}

void sn_optimizer_destroy(sn_optimizer *opt) {
  if (!opt) return;
  sn_free(opt->moment[0]);
  sn_free(opt->moment[1]);
  free(opt);
}

/* The step functions update elements [0, n) of arenas the caller has offset to the
 * range being updated. */
static void sgd_step(const sn_optimizer *o, float *restrict p, const float *restrict g,
                     float *restrict buf, float lr, ptrdiff_t n) {
  const float wd = (float)o->weight_decay, mu = (float)o->momentum;
  if (!buf) {
#pragma omp parallel for simd schedule(static) if (parallel : n >= PARALLEL_MIN)
    for (ptrdiff_t i = 0; i < n; i++) p[i] -= lr * (g[i] + wd * p[i]);
    return;
  }
  const int nesterov = o->nesterov;
#pragma omp parallel for simd schedule(static) if (parallel : n >= PARALLEL_MIN)
  for (ptrdiff_t i = 0; i < n; i++) {
    float gi = g[i] + wd * p[i];
    float b = mu * buf[i] + gi;
    buf[i] = b;
    p[i] -= lr * (nesterov ? gi + mu * b : b);
  }
}

/* Adam with L2 (wd added to the gradient) or AdamW (p *= 1 - lr*wd, decoupled).
 * The loop vectorises only when the library is built with -fno-math-errno: otherwise
 * sqrtf keeps a scalar errno path (v is never negative, but the compiler cannot know). */
static void adam_step(const sn_optimizer *o, float *restrict p, const float *restrict g,
                      float *restrict m, float *restrict v, float lr, ptrdiff_t n) {
  const double t = (double)o->steps;
  const double bc1 = 1.0 - pow(o->beta1, t), bc2 = 1.0 - pow(o->beta2, t);
  const int decoupled = o->kind == SN_OPT_ADAMW;
  const float l2 = decoupled ? 0.0f : (float)o->weight_decay;
  const float keep = decoupled ? (float)(1.0 - lr * o->weight_decay) : 1.0f;
  /* 1 - beta in double: 1.0f - 0.999f is 0.0009999871, a 1e-5 error in v. */
  const float b1 = (float)o->beta1, b2 = (float)o->beta2, eps = (float)o->eps;
  const float c1 = (float)(1.0 - o->beta1), c2 = (float)(1.0 - o->beta2);
  const float step_size = (float)(lr / bc1), inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
#pragma omp parallel for simd schedule(static) if (parallel : n >= PARALLEL_MIN)
  for (ptrdiff_t i = 0; i < n; i++) {
    float gi = g[i] + l2 * p[i];
    float mi = b1 * m[i] + c1 * gi;
    float vi = b2 * v[i] + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = keep * p[i] - step_size * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
  }
}

void sn_optimizer_begin_step(sn_optimizer *opt) { opt->steps++; }

void sn_optimizer_update(sn_optimizer *opt, float *params, const float *grads, float lr, size_t offset,
                         size_t count) {
  SN_ASSERT(offset + count <= opt->n);
  float *p = params + offset, *m = opt->moment[0] ? opt->moment[0] + offset : NULL;
  const float *g = grads + offset;
  if (opt->kind == SN_OPT_SGD)
    sgd_step(opt, p, g, m, lr, (ptrdiff_t)count);
  else
    adam_step(opt, p, g, m, opt->moment[1] + offset, lr, (ptrdiff_t)count);
}

void sn_optimizer_step(sn_optimizer *opt, float *params, const float *grads, float lr) {
  sn_optimizer_begin_step(opt);
  sn_optimizer_update(opt, params, grads, lr, 0, opt->n);
}

sn_optim_kind sn_optimizer_kind(const sn_optimizer *opt) { return opt->kind; }
double sn_optimizer_lr(const sn_optimizer *opt) { return opt->lr; }
int64_t sn_optimizer_steps(const sn_optimizer *opt) { return opt->steps; }

void sn_optimizer_describe(sn_optimizer *opt, sn_optimizer_state *state) {
  *state = (sn_optimizer_state){.type = sn_optim_names[opt->kind], .steps = opt->steps};
  state->n_moments = sn_optimizer_n_moments(opt);
  for (int m = 0; m < state->n_moments; m++) {
    state->moment_names[m] = sn_optimizer_moment_name(opt, m);
    state->moments[m] = sn_optimizer_moment(opt, m);
  }
}
void sn_optimizer_set_steps(sn_optimizer *opt, int64_t steps) { opt->steps = steps; }
int sn_optimizer_n_moments(const sn_optimizer *opt) { return opt->n_moments; }

const char *sn_optimizer_moment_name(const sn_optimizer *opt, int k) {
  SN_ASSERT(k >= 0 && k < opt->n_moments);
  if (opt->kind == SN_OPT_SGD) return "momentum";
  return k == 0 ? "m" : "v";
}

float *sn_optimizer_moment(sn_optimizer *opt, int k) {
  SN_ASSERT(k >= 0 && k < opt->n_moments);
  return opt->moment[k];
}
