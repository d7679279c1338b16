/* PNG and JPEG decoding: libpng's simplified API, libjpeg with an error manager
 * that longjmps back here, and the channel conversions both share. */
#define _POSIX_C_SOURCE 200809L
#include "io/image_decode.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* jpeglib.h needs stdio.h (and size_t) first */
#include <jerror.h>
#include <jpeglib.h>

#define FILE_MAX_BYTES (1ul << 30)

static const unsigned char png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
static const unsigned char jpeg_signature[3] = {0xff, 0xd8, 0xff};

void sn_image_free(sn_image *img) {
  free(img->pixels);
  img->pixels = NULL;
}

/* Refuses sizes whose pixels could not be held, before allocating them. */
static sn_status check_size(const char *name, unsigned long width, unsigned long height) {
  if (width == 0 || height == 0 || width > SN_IMAGE_MAX_SIDE || height > SN_IMAGE_MAX_SIDE ||
      width * height > SN_IMAGE_MAX_PIXELS)
    return sn_fail(SN_ERR_UNSUPPORTED, "%s: %lux%lu pixels is more than shardnet decodes (%d per side, %u in all)",
                   name, width, height, SN_IMAGE_MAX_SIDE, SN_IMAGE_MAX_PIXELS);
  return SN_OK;
}

/* Keeps the first `keep` of every `stride` bytes (drops alpha or a fourth channel). */
static void drop_channels(uint8_t *px, size_t pixels, int stride, int keep) {
  for (size_t i = 0; i < pixels; i++)
    for (int k = 0; k < keep; k++) px[i * (size_t)keep + (size_t)k] = px[i * (size_t)stride + (size_t)k];
}

/* img (1 or 3 channels) to `want` channels; grey = ITU-R 601 luma in PIL's fixed point. */
static sn_status convert_channels(sn_image *img, int want) {
  size_t n = (size_t)img->width * (size_t)img->height;
  uint8_t *px = img->pixels;
  if (img->channels == want) return SN_OK;
  if (want == 1) {
    for (size_t i = 0; i < n; i++)
      px[i] = (uint8_t)((19595u * px[3 * i] + 38470u * px[3 * i + 1] + 7471u * px[3 * i + 2] + 0x8000u) >> 16);
  } else {
    uint8_t *rgb = malloc(3 * n);
    if (!rgb) return sn_fail(SN_ERR_NOMEM, "cannot hold an RGB image of %dx%d", img->width, img->height);
    for (size_t i = 0; i < n; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = px[i];
    free(px);
    img->pixels = rgb;
  }
  img->channels = want;
  return SN_OK;
}

static sn_status decode_png(const char *name, const void *data, size_t size, sn_image *out) {
  png_image image;
  memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, data, size))
    return sn_fail(SN_ERR_FORMAT, "%s: cannot decode PNG: %s", name, image.message);
  /* 16-bit samples without gAMA or sRGB chunks are scaled, not gamma-encoded as linear light */
  image.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
  sn_status st = check_size(name, image.width, image.height);
  if (st != SN_OK) {
    png_image_free(&image);
    return st;
  }
  int has_alpha = (image.format & PNG_FORMAT_FLAG_ALPHA) != 0;
  int color = (image.format & PNG_FORMAT_FLAG_COLOR) != 0;
  /* the file's own channels at 8 bits; alpha kept by libpng (not composited) and dropped below */
  image.format = (color ? PNG_FORMAT_FLAG_COLOR : 0) | (has_alpha ? PNG_FORMAT_FLAG_ALPHA : 0);
  int channels = (color ? 3 : 1) + has_alpha;
  size_t pixels = (size_t)image.width * image.height;
  uint8_t *px = malloc(pixels * (size_t)channels);
  if (!px) {
    png_image_free(&image);
    return sn_fail(SN_ERR_NOMEM, "%s: cannot hold %ux%u pixels", name, image.width, image.height);
  }
  if (!png_image_finish_read(&image, NULL, px, 0, NULL)) {
    st = sn_fail(SN_ERR_FORMAT, "%s: cannot decode PNG: %s", name, image.message);
    png_image_free(&image);
    free(px);
    return st;
  }
  if (has_alpha) drop_channels(px, pixels, channels, channels - 1);
  *out = (sn_image){.width = (int)image.width, .height = (int)image.height, .channels = channels - has_alpha,
                    .pixels = px};
  return SN_OK;
}

/* libjpeg reports errors through error_exit, which must not return. */
typedef struct {
  struct jpeg_error_mgr mgr;
  jmp_buf back;
  char message[JMSG_LENGTH_MAX];
} jpeg_failure;

static void jpeg_error_exit(j_common_ptr cinfo) {
  jpeg_failure *f = (jpeg_failure *)cinfo->err;
  cinfo->err->format_message(cinfo, f->message);
  longjmp(f->back, 1);
}

/* A truncated file is only a warning to libjpeg (it pads the image with grey):
 * here it is an error. Other warnings (stray bytes before a marker) pass, as PIL
 * lets them pass. */
static void jpeg_emit_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;
  cinfo->err->num_warnings++;
  if (cinfo->err->msg_code == JWRN_JPEG_EOF) jpeg_error_exit(cinfo);
}

/* Adobe's CMYK (what Photoshop writes, marked by an APP14 marker) stores 255 - ink. */
static void cmyk_to_rgb(uint8_t *px, size_t pixels, int inverted) {
  for (size_t i = 0; i < pixels; i++) {
    unsigned v[4];
    for (int k = 0; k < 4; k++) v[k] = inverted ? px[4 * i + k] : 255u - px[4 * i + k];
    for (int k = 0; k < 3; k++) px[3 * i + k] = (uint8_t)((v[k] * v[3] + 127) / 255);
  }
}

static sn_status decode_jpeg(const char *name, const void *data, size_t size, sn_image *out) {
  struct jpeg_decompress_struct cinfo;
  jpeg_failure failure;
  uint8_t *volatile px = NULL;
  cinfo.err = jpeg_std_error(&failure.mgr);
  failure.mgr.error_exit = jpeg_error_exit;
  failure.mgr.emit_message = jpeg_emit_message;
  if (setjmp(failure.back)) {
    jpeg_destroy_decompress(&cinfo);
    free(px);
    return sn_fail(SN_ERR_FORMAT, "%s: cannot decode JPEG: %s", name, failure.message);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, (unsigned long)size);
  jpeg_read_header(&cinfo, TRUE);
  int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  cinfo.out_color_space = cmyk ? JCS_CMYK : cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
  sn_status st = check_size(name, cinfo.image_width, cinfo.image_height);
  if (st != SN_OK) {
    jpeg_destroy_decompress(&cinfo);
    return st;
  }
  jpeg_start_decompress(&cinfo);
  size_t stride = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
  px = malloc(stride * cinfo.output_height);
  if (!px) {
    jpeg_destroy_decompress(&cinfo);
    return sn_fail(SN_ERR_NOMEM, "%s: cannot hold %ux%u pixels", name, cinfo.output_width, cinfo.output_height);
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = px + (size_t)cinfo.output_scanline * stride;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  *out = (sn_image){.width = (int)cinfo.output_width, .height = (int)cinfo.output_height,
                    .channels = cmyk ? 3 : cinfo.output_components, .pixels = px};
  if (cmyk) cmyk_to_rgb(out->pixels, (size_t)out->width * out->height, cinfo.saw_Adobe_marker);
  jpeg_destroy_decompress(&cinfo);
  return SN_OK;
}

sn_status sn_image_decode_memory(const char *name, const void *data, size_t size, int channels, sn_image *out) {
  memset(out, 0, sizeof *out);
  SN_ASSERT(channels == 1 || channels == 3);
  const unsigned char *bytes = data;
  sn_status st;
  if (size >= sizeof png_signature && !memcmp(bytes, png_signature, sizeof png_signature))
    st = decode_png(name, data, size, out);
  else if (size >= sizeof jpeg_signature && !memcmp(bytes, jpeg_signature, sizeof jpeg_signature))
    st = decode_jpeg(name, data, size, out);
  else if (size == 0)
    return sn_fail(SN_ERR_FORMAT, "%s is empty", name);
  else
    return sn_fail(SN_ERR_FORMAT, "%s is neither a PNG nor a JPEG file (it starts with neither signature)", name);
  if (st == SN_OK) st = convert_channels(out, channels);
  if (st != SN_OK) sn_image_free(out);
  return st;
}

sn_status sn_image_decode(const char *path, int channels, sn_image *out) {
  memset(out, 0, sizeof *out);
  FILE *f = fopen(path, "rb");
  if (!f) return sn_fail(SN_ERR_IO, "cannot open %s: %s", path, strerror(errno));
  long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
  sn_status st = SN_OK;
  if (size < 0 || fseek(f, 0, SEEK_SET) != 0) st = sn_fail(SN_ERR_IO, "cannot read %s: %s", path, strerror(errno));
  else if ((unsigned long)size > FILE_MAX_BYTES) st = sn_fail(SN_ERR_UNSUPPORTED, "%s is larger than 1 GiB", path);
  unsigned char *data = st == SN_OK ? malloc((size_t)size + 1) : NULL;
  if (st == SN_OK && !data) st = sn_fail(SN_ERR_NOMEM, "cannot hold the %ld bytes of %s", size, path);
  if (st == SN_OK && fread(data, 1, (size_t)size, f) != (size_t)size)
    st = sn_fail(SN_ERR_IO, "cannot read %s: %s", path, ferror(f) ? strerror(errno) : "it got shorter");
  fclose(f);
  if (st == SN_OK) st = sn_image_decode_memory(path, data, (size_t)size, channels, out);
  free(data);
  return st;
}
