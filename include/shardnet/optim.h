/* Optimizers (SGD with momentum/Nesterov, Adam, AdamW) over the whole parameter
 * arena: the moments are arenas with the parameter layout, so a step is one loop
 * over one buffer and a checkpoint saves them as they are. PyTorch semantics. */
#ifndef SHARDNET_OPTIM_H
#define SHARDNET_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "shardnet/args.h"
#include "shardnet/checkpoint.h"
#include "shardnet/status.h"

typedef enum { SN_OPT_SGD, SN_OPT_ADAM, SN_OPT_ADAMW } sn_optim_kind;

/* The `type:` names in sn_optim_kind order ("sgd", "adam", "adamw"). */
extern const char *const sn_optim_names[3];

typedef struct sn_optimizer sn_optimizer;

/* Reads the `train.optimizer` block and allocates zeroed moments for n_params
 * floats. Keys:
 *   type: sgd | adam | adamw (required)
 *   lr: base learning rate (default 0.01 for sgd, 0.001 for adam/adamw)
 *   weight_decay: sgd and adam add wd * param to the gradient (L2, default 0);
 *     adamw decays the parameter by lr * wd * param (decoupled, default 0.01)
 *   sgd: momentum (default 0), nesterov (default false; needs momentum > 0)
 *   adam/adamw: beta1 (0.9), beta2 (0.999), eps (1e-8, above 0)
 * Keys of another type and misspelled keys are errors naming file, line and key. */
sn_status sn_optimizer_create(sn_args *args, size_t n_params, sn_optimizer **out);
void sn_optimizer_destroy(sn_optimizer *opt);

/* One update of params from grads (both n_params floats, the net's arenas) at
 * learning rate lr (the schedule's value; sn_optimizer_lr gives the base). */
void sn_optimizer_step(sn_optimizer *opt, float *params, const float *grads, float lr);

/* The same step in parts, for a rank that updates only its shard of the arenas:
 * sn_optimizer_begin_step once (counts the step), then sn_optimizer_update on each
 * range [offset, offset + count) of the arena. The moments outside those ranges are
 * left as they were. */
void sn_optimizer_begin_step(sn_optimizer *opt);
void sn_optimizer_update(sn_optimizer *opt, float *params, const float *grads, float lr, size_t offset,
                         size_t count);

sn_optim_kind sn_optimizer_kind(const sn_optimizer *opt);
double sn_optimizer_lr(const sn_optimizer *opt);

/* Steps taken so far (Adam's bias correction depends on it); a resumed run sets it. */
int64_t sn_optimizer_steps(const sn_optimizer *opt);
void sn_optimizer_set_steps(sn_optimizer *opt, int64_t steps);

/* The moment arenas, for checkpoints: SGD with momentum has one ("momentum"), SGD
 * without none, Adam and AdamW two ("m", "v"). Each holds n_params floats in the
 * parameter layout. */
int sn_optimizer_n_moments(const sn_optimizer *opt);
const char *sn_optimizer_moment_name(const sn_optimizer *opt, int k);
float *sn_optimizer_moment(sn_optimizer *opt, int k);

/* The state a checkpoint saves and loads, pointing into opt's moments; after a load,
 * state->steps is to be given back with sn_optimizer_set_steps. */
void sn_optimizer_describe(sn_optimizer *opt, sn_optimizer_state *state);

#endif
