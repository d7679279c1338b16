/* Parameter tensors between shardnet's memory layout and Keras's HDF5 layout:
 * axis order, 180-degree rotation for true-convolution kernels, and the (h, w, c)
 * row order of a dense kernel that follows a flatten. */
#include <string.h>

#include "shardnet/checkpoint.h"

/* The (C, H, W) shape a dense layer's rows come from, when a flatten feeds it
 * (through 1-D layers that keep the shape, like dropout); NULL otherwise. */
static const sn_shape *flattened_from(const sn_net *net, int layer) {
  const sn_layer *l = &net->layers[layer];
  if (strcmp(l->ops->type, "dense")) return NULL;
  for (int p = l->inputs[0]; p >= 0; p = net->layers[p].inputs[0]) {
    const sn_layer *q = &net->layers[p];
    if (!strcmp(q->ops->type, "flatten"))
      return q->in_shape[0].ndim == 3 ? &q->in_shape[0] : NULL;
    if (q->n_inputs != 1 || !sn_shape_equal(q->in_shape[0], q->out_shape)) return NULL;
  }
  return NULL;
}

int sn_keras_dims(const sn_net *net, int layer, int k, int *dims) {
  const sn_param *p = &net->layers[layer].params[k];
  for (int i = 0; i < p->ndim; i++) dims[i] = p->dims[p->keras_order[i]];
  return p->ndim;
}

/* Keras linear index of memory linear index i. */
static size_t keras_index(const sn_param *p, const sn_shape *rows_chw, size_t i) {
  int m[4] = {0}, kd[4];
  size_t rest = i;
  for (int d = p->ndim - 1; d >= 0; d--) {
    m[d] = (int)(rest % (size_t)p->dims[d]);
    rest /= (size_t)p->dims[d];
  }
  if (p->keras_flip && p->ndim >= 2) {
    m[p->ndim - 2] = p->dims[p->ndim - 2] - 1 - m[p->ndim - 2];
    m[p->ndim - 1] = p->dims[p->ndim - 1] - 1 - m[p->ndim - 1];
  }
  if (rows_chw && p->ndim == 2) {
    /* row c*H*W + h*W + w becomes h*W*C + w*C + c */
    const int C = rows_chw->d[0], H = rows_chw->d[1], W = rows_chw->d[2];
    int c = m[0] / (H * W), h = m[0] / W % H, w = m[0] % W;
    m[0] = (h * W + w) * C + c;
  }
  size_t j = 0;
  for (int d = 0; d < p->ndim; d++) {
    kd[d] = p->dims[p->keras_order[d]];
    j = j * (size_t)kd[d] + (size_t)m[p->keras_order[d]];
  }
  return j;
}

void sn_keras_export(const sn_net *net, int layer, int k, const float *src, float *dst) {
  const sn_param *p = &net->layers[layer].params[k];
  const sn_shape *rows = p->ndim == 2 && k == 0 ? flattened_from(net, layer) : NULL;
  for (size_t i = 0; i < p->count; i++) dst[keras_index(p, rows, i)] = src[i];
}

void sn_keras_import(const sn_net *net, int layer, int k, const float *src, float *dst) {
  const sn_param *p = &net->layers[layer].params[k];
  const sn_shape *rows = p->ndim == 2 && k == 0 ? flattened_from(net, layer) : NULL;
  for (size_t i = 0; i < p->count; i++) dst[i] = src[keras_index(p, rows, i)];
}
