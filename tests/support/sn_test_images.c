/* PNG and JPEG writers for the decoder and image-folder tests. */
#include "sn_test_images.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

/* Rows of px in the file's byte order: 16-bit samples big-endian. */
static uint8_t *png_bytes(const void *px, size_t samples, int bit_depth) {
  uint8_t *bytes = malloc(samples * (bit_depth == 16 ? 2 : 1));
  if (!bytes) return NULL;
  if (bit_depth != 16) {
    memcpy(bytes, px, samples);
    return bytes;
  }
  const uint16_t *v = px;
  for (size_t i = 0; i < samples; i++) {
    bytes[2 * i] = (uint8_t)(v[i] >> 8);
    bytes[2 * i + 1] = (uint8_t)v[i];
  }
  return bytes;
}

static int channels_of(int color_type) {
  switch (color_type) {
    case PNG_COLOR_TYPE_GRAY: return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB: return 3;
    case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
    default: return 1;  /* palette indices */
  }
}

/* The libpng calls, on their own so that nothing setjmp returns to is clobbered. */
static int encode_png(png_structp png, png_infop info, FILE *f, png_bytep *rows, int w, int h, int color_type,
                      int bit_depth, const uint8_t *palette, int n_palette, const uint8_t *trans, int n_trans) {
  if (setjmp(png_jmpbuf(png))) return 1;
  png_init_io(png, f);
  png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, bit_depth, color_type, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (palette) {
    png_color colors[256];
    for (int i = 0; i < n_palette; i++) colors[i] = (png_color){palette[3 * i], palette[3 * i + 1], palette[3 * i + 2]};
    png_set_PLTE(png, info, colors, n_palette);
  }
  if (trans) png_set_tRNS(png, info, trans, n_trans, NULL);
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, NULL);
  return 0;
}

int sn_test_write_png(const char *path, int w, int h, int color_type, int bit_depth, const void *px,
                      const uint8_t *palette, int n_palette, const uint8_t *trans, int n_trans) {
  size_t row = (size_t)w * channels_of(color_type) * (bit_depth == 16 ? 2 : 1);
  uint8_t *bytes = png_bytes(px, (size_t)w * h * channels_of(color_type), bit_depth);
  png_bytep *rows = malloc((size_t)h * sizeof *rows);
  FILE *f = fopen(path, "wb");
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  int bad = !bytes || !rows || !f || !info;
  for (int y = 0; !bad && y < h; y++) rows[y] = bytes + (size_t)y * row;
  if (!bad) bad = encode_png(png, info, f, rows, w, h, color_type, bit_depth, palette, n_palette, trans, n_trans);
  png_destroy_write_struct(&png, &info);
  if (f && fclose(f) != 0) bad = 1;
  free(bytes);
  free(rows);
  return bad;
}

int sn_test_write_jpeg(const char *path, int w, int h, int components, int space, const uint8_t *px, int quality) {
  FILE *f = fopen(path, "wb");
  if (!f) return 1;
  struct jpeg_compress_struct cinfo;
  struct jpeg_error_mgr err;
  cinfo.err = jpeg_std_error(&err);  /* the tests write valid images: errors exit */
  jpeg_create_compress(&cinfo);
  jpeg_stdio_dest(&cinfo, f);
  cinfo.image_width = (JDIMENSION)w;
  cinfo.image_height = (JDIMENSION)h;
  cinfo.input_components = components;
  cinfo.in_color_space = (J_COLOR_SPACE)space;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  for (int i = 0; i < cinfo.num_components; i++) {  /* no chroma subsampling */
    cinfo.comp_info[i].h_samp_factor = 1;
    cinfo.comp_info[i].v_samp_factor = 1;
  }
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = (JSAMPROW)(px + (size_t)cinfo.next_scanline * w * components);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return fclose(f) != 0;
}

size_t sn_test_file_size(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fclose(f);
  return n > 0 ? (size_t)n : 0;
}

int sn_test_truncate_copy(const char *from, const char *to, size_t keep) {
  size_t n = sn_test_file_size(from);
  if (keep > n) return 1;
  uint8_t *buf = malloc(keep + 1);
  FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
  int bad = !buf || !in || !out || fread(buf, 1, keep, in) != keep || fwrite(buf, 1, keep, out) != keep;
  if (in) fclose(in);
  if (out && fclose(out) != 0) bad = 1;
  free(buf);
  return bad;
}
