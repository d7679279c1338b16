/* Shares the buffers of the gradients at layer outputs between layers whose
 * gradients are never live at once (see grad_plan.c). Private to src/net. */
#ifndef SN_NET_GRAD_PLAN_H
#define SN_NET_GRAD_PLAN_H

#include "shardnet/net.h"

/* Plans and allocates the buffers for batches of up to max_batch and points
 * net->dacts (allocated, n_layers entries) into them. */
sn_status sn_grad_plan_make(sn_net *net, int max_batch, sn_grad_plan *plan);
void sn_grad_plan_release(sn_grad_plan *plan);

#endif
