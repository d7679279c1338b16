/* STUB: to be implemented. */
#include "layers/layer_types.h"
static sn_status stub_parse(sn_layer *l, sn_args *a) { (void)a; return sn_layer_fail(l, "not implemented yet"); }
const sn_layer_ops sn_softmax_ops = {.type = "softmax", .min_inputs = 1, .max_inputs = 1, .parse = stub_parse};
