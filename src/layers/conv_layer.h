/* What conv2d and conv2d_transpose share once their shapes are known: the kernel they
 * run (src/kernels/conv.h) and the ops that hand it their buffers (private to
 * src/layers). Each layer's impl starts with an sn_conv_core. */
#ifndef SN_CONV_LAYER_H
#define SN_CONV_LAYER_H

#include "kernels/conv.h"

typedef struct {
  sn_conv_spec spec;        /* filled by the layer's infer */
  sn_conv_kernel *compute;  /* made by prepare */
} sn_conv_core;

sn_status sn_conv_layer_prepare(sn_layer *l, const sn_prepare *p);
const char *sn_conv_layer_kernel_name(const sn_layer *l);
unsigned sn_conv_layer_blocked(const sn_layer *l);
size_t sn_conv_layer_workspace(const sn_layer *l, int batch, int threads);
void sn_conv_layer_forward(sn_layer *l, const sn_fwd *f);
void sn_conv_layer_backward(sn_layer *l, const sn_bwd *b);
void sn_conv_layer_destroy(sn_layer *l);

#endif
