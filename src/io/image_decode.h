/* Decoding PNG (libpng) and JPEG (libjpeg-turbo) files into 8-bit grey or RGB
 * pixels, every failure of either library a returned status naming the file. */
#ifndef SN_IO_IMAGE_DECODE_H
#define SN_IO_IMAGE_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "shardnet/status.h"

/* Images larger than this are refused before their pixels are allocated; no side
 * of an image shardnet reads or writes is longer than SN_IMAGE_MAX_SIDE. */
#define SN_IMAGE_MAX_PIXELS (1u << 28)
#define SN_IMAGE_MAX_SIDE 65535

typedef struct {
  int width, height, channels;  /* channels: 1 (grey) or 3 (RGB) */
  uint8_t *pixels;              /* height rows of width * channels bytes, top row first */
} sn_image;

/* Decodes the PNG or JPEG at path (told apart by its first bytes, whatever its
 * extension) into `channels` (1 or 3) 8-bit channels: alpha is dropped (as PIL and
 * TensorFlow drop it), palettes expanded, 16-bit samples scaled to 8 bits, grey
 * replicated into RGB, RGB and CMYK turned grey with the ITU-R 601 luma weights. */
sn_status sn_image_decode(const char *path, int channels, sn_image *out);

/* The same from size bytes in memory; name is the file named in messages. */
sn_status sn_image_decode_memory(const char *name, const void *data, size_t size, int channels, sn_image *out);

void sn_image_free(sn_image *img);

#endif
