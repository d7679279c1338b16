/* Image files written by the tests themselves with libpng and libjpeg, so the
 * decoder is checked against the libraries' own encoders. */
#ifndef SN_TEST_IMAGES_H
#define SN_TEST_IMAGES_H

#include <stddef.h>
#include <stdint.h>

/* A PNG of the given libpng colour type (PNG_COLOR_TYPE_*) and bit depth; px holds
 * h rows of w pixels of the type's channels, 16-bit samples as uint16_t. A palette
 * (n_palette RGB triples) and tRNS alphas (n_trans) go with PNG_COLOR_TYPE_PALETTE.
 * Returns 0 on success. */
int sn_test_write_png(const char *path, int w, int h, int color_type, int bit_depth, const void *px,
                      const uint8_t *palette, int n_palette, const uint8_t *trans, int n_trans);

/* A JPEG of `components` channels in colour space `space` (a J_COLOR_SPACE:
 * JCS_GRAYSCALE, JCS_RGB or JCS_CMYK), no chroma subsampling. Returns 0 on success. */
int sn_test_write_jpeg(const char *path, int w, int h, int components, int space, const uint8_t *px, int quality);

/* Writes the first `keep` bytes of file from into file to; returns 0 on success. */
int sn_test_truncate_copy(const char *from, const char *to, size_t keep);

/* The size of a file in bytes (0 when it cannot be read). */
size_t sn_test_file_size(const char *path);

#endif
