/* sn_convert_images on a folder written here: bytewise class and file order,
 * hidden and non-image entries skipped, labels, resized pixels, and the same files
 * whether the images are decoded one per batch or all in one. */
#define _POSIX_C_SOURCE 200809L
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shardnet/convert.h"
#include "shardnet/dataset.h"
#include "sn_test.h"
#include "sn_test_data.h"
#include "sn_test_images.h"

static char dir[64], out[96], out_test[96];

/* A w x h RGB PNG of one colour (v, v + 1, v + 2) at dir/rel. */
static void constant_png(const char *rel, int w, int h, int v) {
  char path[160];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  uint8_t px[8 * 8 * 3];
  for (int i = 0; i < w * h; i++)
    for (int k = 0; k < 3; k++) px[3 * i + k] = (uint8_t)(v + k);
  CU_ASSERT_EQUAL_FATAL(sn_test_write_png(path, w, h, PNG_COLOR_TYPE_RGB, 8, px, NULL, 0, NULL, 0), 0);
}

static void touch(const char *rel) {
  char path[160];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  FILE *f = fopen(path, "w");
  CU_ASSERT_FATAL(f != NULL);
  fputs("not an image\n", f);
  fclose(f);
}

static void sub(const char *rel) {
  char path[160];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  CU_ASSERT_EQUAL_FATAL(mkdir(path, 0755), 0);
}

/* Classes C < a < b bytewise; the first colour of each image says which it is. */
static const struct {
  const char *rel;
  int colour, label;
} expected[] = {{"C/only.png", 10, 0}, {"a/img1.png", 20, 1}, {"a/img10.png", 30, 1},
                {"a/img2.png", 40, 1}, {"b/a2.PNG", 50, 2},   {"b/x1.png", 60, 2}};
enum { N_IMAGES = 6, OUT_H = 4, OUT_W = 3 };

static void make_tree(void) {
  snprintf(dir, sizeof dir, "/tmp/sn-folder-%d", (int)getpid());
  snprintf(out, sizeof out, "%s-out.h5", dir);
  snprintf(out_test, sizeof out_test, "%s-out-test.h5", dir);
  CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0755), 0);
  sub("b");
  sub("a");
  sub("C");
  sub(".git");
  sub("b/nested");
  /* written out of order, and of other sizes than the output's */
  const int sizes[N_IMAGES][2] = {{4, 3}, {8, 8}, {2, 2}, {3, 4}, {1, 1}, {5, 7}};
  for (int i = N_IMAGES - 1; i >= 0; i--) constant_png(expected[i].rel, sizes[i][1], sizes[i][0], expected[i].colour);
  constant_png(".git/ignored.png", 2, 2, 99);
  constant_png("a/.hidden.png", 2, 2, 99);
  constant_png("b/nested/deeper.png", 2, 2, 99);
  touch("b/notes.txt");
  touch("README");
}

static sn_test_data load(const char *path) {
  sn_test_data d;
  CU_ASSERT_EQUAL_FATAL(sn_test_load(path, SN_PLACEMENT_REPLICATE, &d), SN_OK);
  return d;
}

static void test_order_labels_pixels(void) {
  make_tree();
  sn_convert_images_options opt = {.dir = dir, .out = out, .height = OUT_H, .width = OUT_W, .channels = 3, .seed = 1};
  sn_convert_images_result r;
  sn_status st = sn_convert_images(&opt, &r);
  if (st != SN_OK) fprintf(stderr, "\n  %s\n", sn_last_error());
  CU_ASSERT_EQUAL_FATAL(st, SN_OK);
  CU_ASSERT(r.train == N_IMAGES && r.test == 0 && r.classes == 3);
  CU_ASSERT_EQUAL(r.skipped, 3);  /* README, b/notes.txt, b/nested */
  sn_test_data d = load(out);
  const sn_dataset *ds = d.ds;
  CU_ASSERT(ds->n == N_IMAGES && ds->h == OUT_H && ds->w == OUT_W && ds->c == 3 && !ds->is_float);
  CU_ASSERT_EQUAL_FATAL(ds->n_class_names, 3);
  CU_ASSERT(!strcmp(ds->class_names[0], "C") && !strcmp(ds->class_names[1], "a") && !strcmp(ds->class_names[2], "b"));
  for (int i = 0; i < N_IMAGES; i++) {
    CU_ASSERT_EQUAL(d.labels[i], expected[i].label);
    int same = 1;
    for (int p = 0; p < OUT_H * OUT_W; p++)
      for (int k = 0; k < 3; k++) same &= d.u8[((size_t)i * OUT_H * OUT_W + p) * 3 + k] == expected[i].colour + k;
    if (!same) fprintf(stderr, "\n  %s: wrong pixels\n", expected[i].rel);
    CU_ASSERT(same);
  }
  sn_test_data_free(&d);
}

/* One image per batch (a put per image) writes what one batch writes. */
static void test_batches_and_split(void) {
  sn_convert_images_options opt = {.dir = dir, .out = out, .height = OUT_H, .width = OUT_W, .channels = 1,
                                   .split = 0.34, .seed = 3, .compression = {.level = 2, .shuffle = 1}};
  sn_convert_images_result r;
  sn_test_data whole[2], single[2];
  CU_ASSERT_EQUAL_FATAL(sn_convert_images(&opt, &r), SN_OK);
  /* round(0.34 x 1, 3, 2) = 0, 1, 1 */
  CU_ASSERT(r.train == 4 && r.test == 2);
  CU_ASSERT_STRING_EQUAL(r.test_out, out_test);
  whole[0] = load(out);
  whole[1] = load(out_test);
  opt.batch_bytes = 1;
  CU_ASSERT_EQUAL_FATAL(sn_convert_images(&opt, &r), SN_OK);
  single[0] = load(out);
  single[1] = load(out_test);
  for (int f = 0; f < 2; f++) {
    CU_ASSERT_EQUAL_FATAL(whole[f].ds->n, single[f].ds->n);
    CU_ASSERT(!memcmp(whole[f].u8, single[f].u8, whole[f].ds->n * OUT_H * OUT_W));
    CU_ASSERT(!memcmp(whole[f].labels, single[f].labels, whole[f].ds->n * sizeof(int32_t)));
    sn_test_data_free(&whole[f]);
    sn_test_data_free(&single[f]);
  }
  opt.split = 0.5;
  CU_ASSERT_EQUAL(sn_convert_images(&opt, &r), SN_ERR_INVALID);
  CU_ASSERT_STRING_EQUAL(sn_last_error(), "--split 0.5 leaves class 'C' (1 image) with no training image");
  unlink(out);
  unlink(out_test);
  char cmd[96];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CU_ASSERT_EQUAL(system(cmd), 0);
}

static void test_size_text(void) {
  int h = 0, w = 0;
  CU_ASSERT(sn_convert_parse_size("28x32", &h, &w) == SN_OK && h == 28 && w == 32);
  CU_ASSERT(sn_convert_parse_size("65535X1", &h, &w) == SN_OK && h == 65535 && w == 1);
  const char *bad[] = {"", "28", "28x", "x28", "0x5", "5x0", "-3x4", "3x4x5", "3 x4", "3x4 ", "axb"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char want[96];
    snprintf(want, sizeof want, "--size expects HxW with positive integers, got '%s'", bad[i]);
    CU_ASSERT_EQUAL(sn_convert_parse_size(bad[i], &h, &w), SN_ERR_INVALID);
    CU_ASSERT_STRING_EQUAL(sn_last_error(), want);
  }
  CU_ASSERT_EQUAL(sn_convert_parse_size("65536x2", &h, &w), SN_ERR_INVALID);
  CU_ASSERT_STRING_EQUAL(sn_last_error(), "--size 65536x2 is too large: sides are at most 65535 pixels");
  CU_ASSERT_EQUAL(sn_convert_parse_size("99999999999999999999x2", &h, &w), SN_ERR_INVALID);
}

int main(void) {
  const sn_test_case cases[] = {
      {"class and file order, skipped entries, labels, resized pixels", test_order_labels_pixels},
      {"one image per batch writes what one batch writes; the split", test_batches_and_split},
      {"--size text", test_size_text},
      {NULL, NULL}};
  return sn_test_main("image folder", cases);
}
