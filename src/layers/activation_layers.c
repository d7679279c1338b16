/* STUB: to be implemented. */
#include "layers/layer_types.h"
static sn_status stub_parse(sn_layer *l, sn_args *a) { (void)a; return sn_layer_fail(l, "not implemented yet"); }
const sn_layer_ops sn_relu_ops = {.type = "relu", .min_inputs = 1, .max_inputs = 1, .parse = stub_parse};
const sn_layer_ops sn_leaky_relu_ops = {.type = "leaky_relu", .min_inputs = 1, .max_inputs = 1, .parse = stub_parse};
const sn_layer_ops sn_elu_ops = {.type = "elu", .min_inputs = 1, .max_inputs = 1, .parse = stub_parse};
const sn_layer_ops sn_sigmoid_ops = {.type = "sigmoid", .min_inputs = 1, .max_inputs = 1, .parse = stub_parse};
const sn_layer_ops sn_tanh_ops = {.type = "tanh", .min_inputs = 1, .max_inputs = 1, .parse = stub_parse};
