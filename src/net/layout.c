/* Which layer outputs stay channel-blocked between layers (SN_BLOCK channels
 * innermost, oneDNN's nChw16c), and plain copies of them for readers outside the net.
 *
 * A convolution on oneDNN computes in the blocked layout; reordering its input and
 * output around every call cost a fifth of a small ResNet's step. A tensor is kept
 * blocked when its producer can write it so, every consumer can read it so, and the
 * element-wise and per-channel layers between (batch norm, activations, add), whose
 * output must share their inputs' layout, agree along the whole chain. Anything else
 * (dense, flatten, pooling, the network's input and output) sees plain (C, H, W). */
#include <string.h>

#include "shardnet/net.h"

static unsigned caps(const sn_layer *l) { return l->ops->blocked ? l->ops->blocked(l) : 0; }

static int eligible(const sn_net *net, int i) {
  const sn_shape s = net->layers[i].out_shape;
  return i < net->n_layers - 1 && s.ndim == 3 && s.d[0] % SN_BLOCK == 0 &&
         (caps(&net->layers[i]) & SN_BLOCKED_OUT);
}

/* Whether layer i's output may stay blocked given the current choice for the others. */
static int still_blocked(const sn_net *net, const int *blocked, int i) {
  const sn_layer *l = &net->layers[i];
  if (caps(l) & SN_BLOCKED_SAME)
    for (int k = 0; k < l->n_inputs; k++)
      if (l->inputs[k] < 0 || !blocked[l->inputs[k]]) return 0;
  for (int c = i + 1; c < net->n_layers; c++) {
    const sn_layer *user = &net->layers[c];
    for (int k = 0; k < user->n_inputs; k++) {
      if (user->inputs[k] != i) continue;
      const unsigned u = caps(user);
      if (!(u & SN_BLOCKED_IN) || ((u & SN_BLOCKED_SAME) && !blocked[c])) return 0;
    }
  }
  return 1;
}

void sn_layout_plan(const sn_net *net, int *blocked) {
  for (int i = 0; i < net->n_layers; i++) blocked[i] = eligible(net, i);
  /* only ever unblocks, so it ends */
  for (int changed = 1; changed;) {
    changed = 0;
    for (int i = 0; i < net->n_layers; i++)
      if (blocked[i] && !still_blocked(net, blocked, i)) {
        blocked[i] = 0;
        changed = 1;
      }
  }
}

unsigned sn_layout_inputs(const sn_net *net, int i) {
  const sn_layer *l = &net->layers[i];
  unsigned bits = 0;
  for (int k = 0; k < l->n_inputs; k++)
    if (l->inputs[k] >= 0 && net->blocked[l->inputs[k]]) bits |= 1u << k;
  return bits;
}

void sn_net_copy_output(const sn_net *net, int layer, int first, int count, float *dst) {
  const sn_shape s = net->layers[layer].out_shape;
  const size_t per = sn_shape_size(s);
  const float *src = net->acts[layer] + (size_t)first * per;
  if (!net->blocked || !net->blocked[layer]) {
    memcpy(dst, src, (size_t)count * per * sizeof *dst);
    return;
  }
  const size_t area = (size_t)s.d[1] * s.d[2];
  for (int n = 0; n < count; n++)
    for (int c = 0; c < s.d[0]; c++) {
      const float *from = src + (size_t)n * per + (size_t)(c / SN_BLOCK) * area * SN_BLOCK + c % SN_BLOCK;
      float *to = dst + (size_t)n * per + (size_t)c * area;
      for (size_t i = 0; i < area; i++) to[i] = from[i * SN_BLOCK];
    }
}
