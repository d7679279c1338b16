/* The convolution and pooling keys, and `same` padding. */
#include "layers/conv_keys.h"

#include <string.h>

sn_status sn_conv_parse_shape(sn_args *args, int *filters, int kernel[2], int stride[2]) {
  if (!sn_args_has(args, "filters")) return sn_args_fail(args, NULL, "needs the key 'filters'");
  SN_TRY(sn_args_int(args, "filters", 0, 1, 1 << 20, filters));
  if (!sn_args_has(args, "kernel")) return sn_args_fail(args, NULL, "needs the key 'kernel'");
  SN_TRY(sn_args_int_pair(args, "kernel", 1, 1, 1 << 12, kernel));
  return sn_args_int_pair(args, "stride", 1, 1, 1 << 12, stride);
}

sn_status sn_conv_parse_padding(sn_args *args, int allow_pair, sn_pad_mode *mode, int pad[2]) {
  *mode = SN_PAD_VALID;
  pad[0] = pad[1] = 0;
  sn_arg *a = sn_args_find(args, "padding");
  if (!a) return SN_OK;
  if (a->count == 1 && !a->is_list) {
    const char *s = a->items[0];
    if (!strcmp(s, "valid") || !strcmp(s, "same")) {
      a->used = 1;
      *mode = s[0] == 's' ? SN_PAD_SAME : SN_PAD_VALID;
      return SN_OK;
    }
  }
  if (a->count > 1 && !allow_pair)
    return sn_args_fail(args, "padding", "must be valid, same or one integer, got %d values",
                        a->count);
  /* Anything else must be a non-negative amount; the getter names the bad value. */
  if (a->count == 1 && !(a->items[0][0] >= '0' && a->items[0][0] <= '9') &&
      a->items[0][0] != '-')
    return sn_args_fail(args, "padding", "must be valid, same or a number of pixels, got '%s'",
                        a->items[0]);
  *mode = SN_PAD_EXPLICIT;
  return sn_args_int_pair(args, "padding", 0, 0, 1 << 16, pad);
}

void sn_conv_same_padding(int in, int k, int stride, int *out, int *before, int *after) {
  const int o = (in + stride - 1) / stride;
  int total = (o - 1) * stride + k - in;
  if (total < 0) total = 0;
  *out = o;
  *before = total / 2;
  *after = total - total / 2;
}
