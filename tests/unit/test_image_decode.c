/* The PNG and JPEG decoder on files written here with libpng and libjpeg: every PNG
 * colour type (grey, RGB, RGBA, palette with and without transparency, 16-bit),
 * JPEG grey, RGB and CMYK, the conversions to 1 or 3 channels, and broken files
 * (truncated, garbage, empty, missing) as one-line errors naming the file. */
#define _POSIX_C_SOURCE 200809L
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>

#include "io/image_decode.h"
#include "sn_test.h"
#include "sn_test_images.h"

static char dir[64];

static const char *file_path(const char *name) {
  static char p[128];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return p;
}

/* PIL's convert("L"): ITU-R 601-2 luma in 16-bit fixed point. */
static uint8_t luma(const uint8_t *rgb) {
  return (uint8_t)((19595u * rgb[0] + 38470u * rgb[1] + 7471u * rgb[2] + 0x8000u) >> 16);
}

/* Decodes name into `channels` and checks the size. */
static sn_image decode_ok(const char *name, int channels, int w, int h) {
  sn_image img;
  sn_status st = sn_image_decode(file_path(name), channels, &img);
  if (st != SN_OK) fprintf(stderr, "\n  %s\n", sn_last_error());
  CU_ASSERT_EQUAL_FATAL(st, SN_OK);
  CU_ASSERT(img.width == w && img.height == h && img.channels == channels);
  return img;
}

enum { W = 5, H = 3 };

/* A W x H PNG of colour type `type` without palette. */
static void write_png(const char *name, int type, int depth, const void *px) {
  CU_ASSERT_EQUAL_FATAL(sn_test_write_png(file_path(name), W, H, type, depth, px, NULL, 0, NULL, 0), 0);
}

static void test_png_grey_and_rgb(void) {
  uint8_t grey[W * H], rgb[W * H * 3];
  for (int i = 0; i < W * H; i++) grey[i] = (uint8_t)(i * 17);
  for (int i = 0; i < W * H * 3; i++) rgb[i] = (uint8_t)(i * 29 + 3);
  write_png("grey.png", PNG_COLOR_TYPE_GRAY, 8, grey);
  write_png("rgb.png", PNG_COLOR_TYPE_RGB, 8, rgb);
  sn_image img = decode_ok("grey.png", 1, W, H);
  CU_ASSERT_EQUAL(memcmp(img.pixels, grey, sizeof grey), 0);
  sn_image_free(&img);
  img = decode_ok("grey.png", 3, W, H);
  int ok = 1;
  for (int i = 0; i < W * H; i++) ok &= img.pixels[3 * i] == grey[i] && img.pixels[3 * i + 2] == grey[i];
  CU_ASSERT(ok);
  sn_image_free(&img);
  img = decode_ok("rgb.png", 3, W, H);
  CU_ASSERT_EQUAL(memcmp(img.pixels, rgb, sizeof rgb), 0);
  sn_image_free(&img);
  img = decode_ok("rgb.png", 1, W, H);
  ok = 1;
  for (int i = 0; i < W * H; i++) ok &= img.pixels[i] == luma(rgb + 3 * i);
  CU_ASSERT(ok);
  sn_image_free(&img);
}

/* Alpha is dropped, not composited: a transparent pixel keeps its colour. */
static void test_png_alpha_dropped(void) {
  uint8_t rgba[W * H * 4], ga[W * H * 2];
  for (int i = 0; i < W * H; i++) {
    const uint8_t px[4] = {(uint8_t)(10 * i), 20, (uint8_t)(250 - i), (uint8_t)(i * 18)};  /* alpha 0 first */
    memcpy(rgba + 4 * i, px, 4);
    ga[2 * i] = (uint8_t)(7 * i + 1);
    ga[2 * i + 1] = (uint8_t)(255 - 16 * i);
  }
  write_png("rgba.png", PNG_COLOR_TYPE_RGB_ALPHA, 8, rgba);
  write_png("ga.png", PNG_COLOR_TYPE_GRAY_ALPHA, 8, ga);
  sn_image img = decode_ok("rgba.png", 3, W, H);
  int ok = 1;
  for (int i = 0; i < W * H; i++)
    for (int k = 0; k < 3; k++) ok &= img.pixels[3 * i + k] == rgba[4 * i + k];
  CU_ASSERT(ok);
  sn_image_free(&img);
  img = decode_ok("ga.png", 1, W, H);
  ok = 1;
  for (int i = 0; i < W * H; i++) ok &= img.pixels[i] == ga[2 * i];
  CU_ASSERT(ok);
  sn_image_free(&img);
}

static void test_png_palette(void) {
  const uint8_t palette[4 * 3] = {255, 0, 0, 0, 128, 0, 10, 20, 30, 200, 200, 7};
  const uint8_t trans[2] = {255, 0};  /* entry 1 transparent */
  uint8_t idx[W * H];
  for (int i = 0; i < W * H; i++) idx[i] = (uint8_t)(i % 4);
  CU_ASSERT_EQUAL_FATAL(
      sn_test_write_png(file_path("pal.png"), W, H, PNG_COLOR_TYPE_PALETTE, 8, idx, palette, 4, NULL, 0), 0);
  CU_ASSERT_EQUAL_FATAL(
      sn_test_write_png(file_path("pal-trns.png"), W, H, PNG_COLOR_TYPE_PALETTE, 8, idx, palette, 4, trans, 2), 0);
  const char *names[2] = {"pal.png", "pal-trns.png"};
  for (int f = 0; f < 2; f++) {
    sn_image img = decode_ok(names[f], 3, W, H);
    int ok = 1;
    for (int i = 0; i < W * H; i++)
      for (int k = 0; k < 3; k++) ok &= img.pixels[3 * i + k] == palette[3 * idx[i] + k];
    CU_ASSERT(ok);
    sn_image_free(&img);
  }
}

/* 16-bit samples without gamma information are scaled to 8 bits (v * 257 -> v),
 * not treated as linear light. */
static void test_png_16_bit(void) {
  uint16_t grey[W * H], rgb[W * H * 3];
  for (int i = 0; i < W * H; i++) grey[i] = (uint16_t)(i * 15 * 257);
  for (int i = 0; i < W * H * 3; i++) rgb[i] = (uint16_t)((i * 5 + 20) * 257);
  write_png("grey16.png", PNG_COLOR_TYPE_GRAY, 16, grey);
  write_png("rgb16.png", PNG_COLOR_TYPE_RGB, 16, rgb);
  sn_image img = decode_ok("grey16.png", 1, W, H);
  int ok = 1;
  for (int i = 0; i < W * H; i++) ok &= img.pixels[i] == i * 15;
  CU_ASSERT(ok);
  sn_image_free(&img);
  img = decode_ok("rgb16.png", 3, W, H);
  ok = 1;
  for (int i = 0; i < W * H * 3; i++) ok &= img.pixels[i] == i * 5 + 20;
  CU_ASSERT(ok);
  sn_image_free(&img);
}

/* A smooth picture JPEG keeps within a few levels at quality 95 without subsampling. */
static int near(const uint8_t *a, const uint8_t *b, size_t n, int tol) {
  for (size_t i = 0; i < n; i++)
    if (abs(a[i] - b[i]) > tol) return 0;
  return 1;
}

enum { JW = 24, JH = 16 };

static void test_jpeg_grey_rgb_cmyk(void) {
  uint8_t grey[JW * JH], rgb[JW * JH * 3], cmyk[JW * JH * 4], magenta[JW * JH * 3];
  for (int y = 0; y < JH; y++)
    for (int x = 0; x < JW; x++) {
      int i = y * JW + x;
      grey[i] = (uint8_t)(40 + 4 * x + 3 * y);
      rgb[3 * i] = (uint8_t)(8 * x), rgb[3 * i + 1] = (uint8_t)(10 * y), rgb[3 * i + 2] = 128;
      /* Adobe CMYK as libjpeg writes it: 255 - ink; full magenta ink only */
      cmyk[4 * i] = 255, cmyk[4 * i + 1] = 0, cmyk[4 * i + 2] = 255, cmyk[4 * i + 3] = 255;
      magenta[3 * i] = 255, magenta[3 * i + 1] = 0, magenta[3 * i + 2] = 255;
    }
  CU_ASSERT_EQUAL_FATAL(sn_test_write_jpeg(file_path("grey.jpg"), JW, JH, 1, JCS_GRAYSCALE, grey, 95), 0);
  CU_ASSERT_EQUAL_FATAL(sn_test_write_jpeg(file_path("rgb.JPEG"), JW, JH, 3, JCS_RGB, rgb, 95), 0);
  CU_ASSERT_EQUAL_FATAL(sn_test_write_jpeg(file_path("cmyk.jpg"), JW, JH, 4, JCS_CMYK, cmyk, 95), 0);
  sn_image img = decode_ok("grey.jpg", 1, JW, JH);
  CU_ASSERT(near(img.pixels, grey, sizeof grey, 3));
  sn_image_free(&img);
  img = decode_ok("rgb.JPEG", 3, JW, JH);
  CU_ASSERT(near(img.pixels, rgb, sizeof rgb, 4));
  sn_image_free(&img);
  img = decode_ok("rgb.JPEG", 1, JW, JH);
  uint8_t rgb_luma[JW * JH];
  for (int i = 0; i < JW * JH; i++) rgb_luma[i] = luma(rgb + 3 * i);
  CU_ASSERT(near(img.pixels, rgb_luma, sizeof rgb_luma, 4));
  sn_image_free(&img);
  img = decode_ok("cmyk.jpg", 3, JW, JH);
  CU_ASSERT(near(img.pixels, magenta, sizeof magenta, 4));
  sn_image_free(&img);
}

/* The failure of name: its status and one line that starts with the path. */
static void expect_failure(const char *name, sn_status status, const char *text) {
  sn_image img = {0};
  const char *path = file_path(name);
  sn_status st = sn_image_decode(path, 3, &img);
  CU_ASSERT_EQUAL(st, status);
  CU_ASSERT_PTR_NULL(img.pixels);
  const char *msg = sn_last_error();
  int ok = strstr(msg, path) != NULL && strstr(msg, text) != NULL && !strchr(msg, '\n');
  if (!ok) fprintf(stderr, "\n  %s: got '%s', expected '%s'\n", name, msg, text);
  CU_ASSERT(ok);
}

static void write_bytes(const char *name, const void *data, size_t n) {
  FILE *f = fopen(file_path(name), "wb");
  CU_ASSERT_FATAL(f != NULL);
  CU_ASSERT(fwrite(data, 1, n, f) == n);
  fclose(f);
}

static void test_broken_files(void) {
  uint8_t rgb[40 * 30 * 3];
  for (size_t i = 0; i < sizeof rgb; i++) rgb[i] = (uint8_t)(i * 7919 >> 3);
  CU_ASSERT_EQUAL_FATAL(
      sn_test_write_png(file_path("big.png"), 40, 30, PNG_COLOR_TYPE_RGB, 8, rgb, NULL, 0, NULL, 0), 0);
  CU_ASSERT_EQUAL_FATAL(sn_test_write_jpeg(file_path("big.jpg"), 40, 30, 3, JCS_RGB, rgb, 90), 0);
  char from[128];
  snprintf(from, sizeof from, "%s", file_path("big.png"));
  CU_ASSERT_EQUAL(sn_test_truncate_copy(from, file_path("short.png"), sn_test_file_size(from) / 2), 0);
  snprintf(from, sizeof from, "%s", file_path("big.jpg"));
  CU_ASSERT_EQUAL(sn_test_truncate_copy(from, file_path("short.jpg"), sn_test_file_size(from) / 2), 0);
  expect_failure("short.png", SN_ERR_FORMAT, ": cannot decode PNG: ");
  expect_failure("short.jpg", SN_ERR_FORMAT, ": cannot decode JPEG: Premature end of JPEG file");

  uint8_t garbage[300];
  for (size_t i = 0; i < sizeof garbage; i++) garbage[i] = (uint8_t)(i * 131 + 17);
  write_bytes("garbage.png", garbage, sizeof garbage);
  expect_failure("garbage.png", SN_ERR_FORMAT, " is neither a PNG nor a JPEG file");
  const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  memcpy(garbage, png_sig, sizeof png_sig);
  write_bytes("bad-chunks.png", garbage, sizeof garbage);
  expect_failure("bad-chunks.png", SN_ERR_FORMAT, ": cannot decode PNG: ");
  garbage[0] = 0xff, garbage[1] = 0xd8, garbage[2] = 0xff;
  write_bytes("bad-markers.jpg", garbage, sizeof garbage);
  expect_failure("bad-markers.jpg", SN_ERR_FORMAT, ": cannot decode JPEG: ");
  write_bytes("empty.png", garbage, 0);
  expect_failure("empty.png", SN_ERR_FORMAT, " is empty");
  expect_failure("missing.png", SN_ERR_IO, ": No such file or directory");
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/sn-decode-%d", (int)getpid());
  char cmd[96];
  snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
  if (system(cmd) != 0) return 2;
  const sn_test_case cases[] = {{"PNG grey and RGB, exact, to 1 and 3 channels", test_png_grey_and_rgb},
                                {"PNG alpha is dropped (RGBA, grey + alpha)", test_png_alpha_dropped},
                                {"PNG palettes, with and without tRNS", test_png_palette},
                                {"16-bit PNG scaled to 8 bits", test_png_16_bit},
                                {"JPEG grey, RGB (and its luma), Adobe CMYK", test_jpeg_grey_rgb_cmyk},
                                {"truncated, garbage, empty and missing files", test_broken_files},
                                {NULL, NULL}};
  int code = sn_test_main("image decode", cases);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) code = code ? code : 2;
  return code;
}
