/* The convolution kernel interface: picks the implementation and forwards calls. */
#include "kernels/conv.h"

#include <stdlib.h>

struct sn_conv_kernel {
  const sn_conv_impl_ops *ops;
  void *impl;
};

sn_status sn_conv_kernel_create(const sn_conv_spec *spec, int max_batch, int threads,
                                sn_precision precision, sn_kernel_set set, sn_conv_kernel **out) {
  *out = NULL;
  sn_conv_kernel *k = calloc(1, sizeof *k);
  if (!k) return sn_fail(SN_ERR_NOMEM, "cannot allocate a convolution kernel");
  sn_status st = SN_ERR_UNSUPPORTED;
  if (set == SN_KERNELS_ONEDNN) st = sn_conv_onednn_create(spec, max_batch, precision, &k->impl, &k->ops);
  /* anything oneDNN cannot run (flipped kernels, negative padding, no oneDNN) runs
   * natively in fp32; the kernel's name tells */
  if (st == SN_ERR_UNSUPPORTED && (spec->x_blocked || spec->y_blocked))
    st = sn_fail(SN_ERR_UNSUPPORTED, "oneDNN cannot make the channel-blocked convolution it offered");
  else if (st == SN_ERR_UNSUPPORTED)
    st = sn_conv_native_create(spec, max_batch, threads, &k->impl, &k->ops);
  if (st != SN_OK) {
    free(k);
    return st;
  }
  *out = k;
  return SN_OK;
}

void sn_conv_kernel_destroy(sn_conv_kernel *k) {
  if (!k) return;
  k->ops->destroy(k->impl);
  free(k);
}

size_t sn_conv_kernel_workspace(const sn_conv_kernel *k) { return k->ops->workspace(k->impl); }

const char *sn_conv_kernel_name(const sn_conv_kernel *k) { return k->ops->name(k->impl); }

int sn_conv_kernel_takes_blocked(const sn_conv_kernel *k) { return k->ops->takes_blocked; }

void sn_conv_kernel_forward(const sn_conv_kernel *k, const sn_conv_fwd_args *a) {
  k->ops->forward(k->impl, a);
}

void sn_conv_kernel_backward(const sn_conv_kernel *k, const sn_conv_bwd_args *a) {
  k->ops->backward(k->impl, a);
}
