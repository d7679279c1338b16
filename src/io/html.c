/* HTML text and inline PNG images for self-contained pages. */
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "shardnet/html.h"

void sn_html_text(FILE *f, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
      case '&': fputs("&amp;", f); break;
      case '<': fputs("&lt;", f); break;
      case '>': fputs("&gt;", f); break;
      case '"': fputs("&quot;", f); break;
      case '\'': fputs("&#39;", f); break;
      default: fputc(*s, f);
    }
  }
}

static void base64(FILE *f, const uint8_t *data, size_t n) {
  static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < n; i += 3) {
    const uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < n ? (uint32_t)data[i + 1] << 8 : 0) |
                       (i + 2 < n ? data[i + 2] : 0);
    fputc(digits[v >> 18 & 63], f);
    fputc(digits[v >> 12 & 63], f);
    fputc(i + 1 < n ? digits[v >> 6 & 63] : '=', f);
    fputc(i + 2 < n ? digits[v & 63] : '=', f);
  }
}

sn_status sn_html_png_img(FILE *f, const uint8_t *pixels, int w, int h, int scale, const char *alt) {
  png_image image;
  memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = (png_uint_32)w;
  image.height = (png_uint_32)h;
  image.format = PNG_FORMAT_GRAY;
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&image, NULL, &size, 0, pixels, w, NULL))
    return sn_fail(SN_ERR_IO, "cannot encode a %dx%d PNG: %s", w, h, image.message);
  uint8_t *png = malloc(size);
  if (!png) return sn_fail(SN_ERR_NOMEM, "cannot hold a %dx%d PNG", w, h);
  if (!png_image_write_to_memory(&image, png, &size, 0, pixels, w, NULL)) {
    free(png);
    return sn_fail(SN_ERR_IO, "cannot encode a %dx%d PNG: %s", w, h, image.message);
  }
  fprintf(f, "<img width=\"%d\" height=\"%d\" alt=\"", w * scale, h * scale);
  sn_html_text(f, alt);
  fputs("\" src=\"data:image/png;base64,", f);
  base64(f, png, size);
  fputs("\">", f);
  free(png);
  return SN_OK;
}
