/* The config keys the convolution and pooling layers share, and TensorFlow's
 * `same` padding (private to src/layers). */
#ifndef SN_CONV_KEYS_H
#define SN_CONV_KEYS_H

#include "shardnet/args.h"
#include "shardnet/status.h"

/* How a `padding:` key was written. */
typedef enum { SN_PAD_VALID, SN_PAD_SAME, SN_PAD_EXPLICIT } sn_pad_mode;

/* The keys both convolutions share: filters and kernel (required; kernel one size or
 * [h, w]) and stride (default 1). */
sn_status sn_conv_parse_shape(sn_args *args, int *filters, int kernel[2], int stride[2]);
/* Parses `padding:` as valid | same | int (or, with allow_pair, [ph, pw]); an
 * explicit amount goes to pad[0..1]. */
sn_status sn_conv_parse_padding(sn_args *args, int allow_pair, sn_pad_mode *mode, int pad[2]);

/* TensorFlow's `same` padding along one dimension: out = ceil(in / stride), total
 * padding max((out - 1) * stride + k - in, 0), the smaller half first. */
void sn_conv_same_padding(int in, int k, int stride, int *out, int *before, int *after);

#endif
