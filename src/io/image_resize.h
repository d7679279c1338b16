/* Resizing 8-bit channels-last images with a separable triangle (bilinear) filter
 * that widens when downscaling, so that shrinking averages instead of aliasing. */
#ifndef SN_IO_IMAGE_RESIZE_H
#define SN_IO_IMAGE_RESIZE_H

#include <stdint.h>

#include "shardnet/status.h"

/* dst is dh x dw x c, src sh x sw x c (rows top first, channels interleaved). */
sn_status sn_image_resize(uint8_t *dst, int dh, int dw, const uint8_t *src, int sh, int sw, int c);

#endif
