/* The table of layer types, looked up by the `type:` a config names. */
#include <string.h>

#include "layers/layer_types.h"

static const sn_layer_ops *const all_layer_types[] = {
    &sn_conv2d_ops,   &sn_conv2d_transpose_ops, &sn_maxpool2d_ops,
    &sn_avgpool2d_ops, &sn_minpool2d_ops,       &sn_global_avgpool2d_ops,
    &sn_upsample2d_ops, &sn_dense_ops,          &sn_flatten_ops,
    &sn_dropout_ops,  &sn_batchnorm2d_ops,      &sn_add_ops,
    &sn_concat_ops,   &sn_relu_ops,             &sn_leaky_relu_ops,
    &sn_elu_ops,      &sn_sigmoid_ops,          &sn_tanh_ops,
    &sn_softmax_ops,  &sn_lrn_ops,             NULL};

const sn_layer_ops *sn_layer_ops_find(const char *type) {
  for (int i = 0; all_layer_types[i]; i++)
    if (!strcmp(all_layer_types[i]->type, type)) return all_layer_types[i];
  return NULL;
}

const sn_layer_ops *const *sn_layer_ops_all(void) { return all_layer_types; }
