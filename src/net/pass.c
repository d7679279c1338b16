/* Forward and backward passes over the layer graph. */
#include <string.h>

#include "shardnet/net.h"
#include "shardnet/timer.h"

static const float *input_of(const sn_net *net, const float *x, int producer) {
  return producer < 0 ? x : net->acts[producer];
}

/* Records layer i's time for the profile and hands it to the pass's observer. */
static void note_time(sn_net *net, const sn_pass *pass, int i, int backward, double t0) {
  double t1 = sn_now();
  if (net->profile) (backward ? net->bwd_seconds : net->fwd_seconds)[i] = t1 - t0;
  if (pass->on_layer) pass->on_layer(pass->layer_ctx, i, backward, t0, t1);
}

void sn_net_forward(sn_net *net, const float *x, int batch, const sn_pass *pass) {
  SN_ASSERT(batch >= 1 && batch <= net->max_batch);
  for (int i = 0; i < net->n_layers; i++) {
    sn_layer *l = &net->layers[i];
    sn_fwd f = {.batch = batch,
                .training = pass->training,
                .out = net->acts[i],
                .aux = net->aux[i],
                .work = net->work,
                .rng = sn_rng_make_key(pass->seed, pass->epoch, (uint32_t)i),
                .first_sample = pass->first_sample,
                .reducer = pass->reducer,
                .threads = net->threads};
    for (int k = 0; k < l->n_inputs; k++) f.in[k] = input_of(net, x, l->inputs[k]);
    const int timed = net->profile || pass->on_layer;
    double t0 = timed ? sn_now() : 0.0;
    l->ops->forward(l, &f);
    if (timed) note_time(net, pass, i, 0, t0);
  }
}

/* The input slot of l that reads layer j, or -1 when none or several do (a layer
 * fed the same tensor twice adds into it twice). */
static int sole_input_slot(const sn_layer *l, int j) {
  int slot = -1;
  for (int k = 0; k < l->n_inputs; k++)
    if (l->inputs[k] == j) {
      if (slot >= 0) return -1;
      slot = k;
    }
  return slot;
}

void sn_net_backward(sn_net *net, const float *x, int batch, const sn_pass *pass) {
  SN_ASSERT(batch >= 1 && batch <= net->max_batch);
  if (net->dinput)
    memset(net->dinput, 0, (size_t)batch * sn_shape_size(net->input_shape) * sizeof(float));
  const sn_grad_plan *plan = &net->dact_plan;
  for (int i = net->n_layers - 1; i >= 0; i--) {
    /* Layers add into their inputs' gradients, so a layer read by several others
     * receives the sum. The first layer to reach a gradient buffer (grad_plan.c; it
     * may have served another layer until then) writes it instead when it can
     * (fresh_din, the buffer its only input's): otherwise the buffer is cleared
     * just before. The loss-facing one holds the loss gradient. */
    sn_layer *l = &net->layers[i];
    unsigned fresh = 0;
    for (int j = 0; j < net->n_layers - 1; j++)
      if (plan->zero_at[j] == i) {
        const int k = sole_input_slot(l, j);
        if (l->ops->fresh_din && k >= 0)
          fresh |= 1u << k; /* the layer writes it: no clearing pass */
        else
          memset(net->dacts[j], 0, (size_t)batch * sn_shape_size(net->layers[j].out_shape) * sizeof(float));
      }
    sn_bwd b = {.batch = batch,
                .out = net->acts[i],
                .dout = net->dacts[i],
                .dout_scratch = i < net->n_layers - 1,
                .din_fresh = fresh,
                .aux = net->aux[i],
                .work = net->work,
                .rng = sn_rng_make_key(pass->seed, pass->epoch, (uint32_t)i),
                .first_sample = pass->first_sample,
                .reducer = pass->reducer,
                .builder = pass->builder,
                .threads = net->threads};
    for (int k = 0; k < l->n_inputs; k++) {
      b.in[k] = input_of(net, x, l->inputs[k]);
      b.din[k] = l->inputs[k] < 0 ? net->dinput : net->dacts[l->inputs[k]];
    }
    const int timed = net->profile || pass->on_layer;
    double t0 = timed ? sn_now() : 0.0;
    l->ops->backward(l, &b);
    if (timed) note_time(net, pass, i, 1, t0);
    if (pass->after_backward) pass->after_backward(pass->hook_ctx, i);
  }
}

void sn_net_zero_grad(sn_net *net) {
  if (net->n_params) memset(net->grads, 0, net->n_params * sizeof(float));
}
