/* The ops tables of every layer type (private to src/layers; the net finds them by
 * name through sn_layer_ops_find). */
#ifndef SN_LAYER_TYPES_H
#define SN_LAYER_TYPES_H

#include "shardnet/layer.h"

extern const sn_layer_ops sn_conv2d_ops;
extern const sn_layer_ops sn_lrn_ops;
extern const sn_layer_ops sn_conv2d_transpose_ops;
extern const sn_layer_ops sn_maxpool2d_ops;
extern const sn_layer_ops sn_avgpool2d_ops;
extern const sn_layer_ops sn_minpool2d_ops;
extern const sn_layer_ops sn_global_avgpool2d_ops;
extern const sn_layer_ops sn_upsample2d_ops;
extern const sn_layer_ops sn_dense_ops;
extern const sn_layer_ops sn_flatten_ops;
extern const sn_layer_ops sn_dropout_ops;
extern const sn_layer_ops sn_batchnorm2d_ops;
extern const sn_layer_ops sn_add_ops;
extern const sn_layer_ops sn_concat_ops;
extern const sn_layer_ops sn_relu_ops;
extern const sn_layer_ops sn_leaky_relu_ops;
extern const sn_layer_ops sn_elu_ops;
extern const sn_layer_ops sn_sigmoid_ops;
extern const sn_layer_ops sn_tanh_ops;
extern const sn_layer_ops sn_softmax_ops;

#endif
