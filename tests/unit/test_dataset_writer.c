/* The dataset writer read back with the HDF5 API: whole-sample chunks of about
 * 64 KiB, deflate and shuffle filters, identical data, rows put in any order, and
 * failures that leave no file behind (and keep a previous one). */
#define _POSIX_C_SOURCE 200809L
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shardnet/dataset.h"
#include "shardnet/dataset_writer.h"
#include "sn_test.h"
#include "sn_test_data.h"

static char path[64], tmp_path[80];

static void set_paths(const char *what) {
  snprintf(path, sizeof path, "/tmp/sn-writer-%s-%d.h5", what, (int)getpid());
  snprintf(tmp_path, sizeof tmp_path, "%s.tmp", path);
}

/* Neither the file nor its temporary exists. */
static int no_file(void) { return access(path, F_OK) != 0 && access(tmp_path, F_OK) != 0; }

static void fill_bytes(uint8_t *x, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) x[i] = (uint8_t)((i * 2654435761u + seed) >> 7);
}

/* The chunk dims and filters of dataset `name`. */
typedef struct {
  int rank;
  hsize_t chunk[4];
  int n_filters;
  H5Z_filter_t filter[4];
  unsigned deflate_level;
} layout;

static layout read_layout(hid_t file, const char *name) {
  layout l = {0};
  hid_t set = H5Dopen2(file, name, H5P_DEFAULT);
  CU_ASSERT_FATAL(set >= 0);
  hid_t dcpl = H5Dget_create_plist(set);
  CU_ASSERT_EQUAL(H5Pget_layout(dcpl), H5D_CHUNKED);
  l.rank = H5Pget_chunk(dcpl, 4, l.chunk);
  l.n_filters = H5Pget_nfilters(dcpl);
  for (int i = 0; i < l.n_filters && i < 4; i++) {
    unsigned flags, cd[8];
    size_t n_cd = 8;
    char fname[64];
    l.filter[i] = H5Pget_filter2(dcpl, (unsigned)i, &flags, &n_cd, cd, sizeof fname, fname, NULL);
    if (l.filter[i] == H5Z_FILTER_DEFLATE && n_cd > 0) l.deflate_level = cd[0];
  }
  H5Pclose(dcpl);
  H5Dclose(set);
  return l;
}

static void read_all(hid_t file, const char *name, hid_t mem, void *buf) {
  hid_t set = H5Dopen2(file, name, H5P_DEFAULT);
  CU_ASSERT_FATAL(set >= 0);
  CU_ASSERT(H5Dread(set, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
  H5Dclose(set);
}

enum { N = 50, H = 32, W = 32, C = 3 };

/* Whether shardnet's reader, in placement p, gives back the n stored samples and labels. */
static int reads_back(const char *file, sn_placement p, const unsigned char *pixels, const int32_t *want, size_t n) {
  sn_test_data d;
  if (sn_test_load(file, p, &d) != SN_OK) return 0;
  const int same = d.ds->n == n && !memcmp(d.u8, pixels, n * (size_t)d.ds->h * d.ds->w * d.ds->c) &&
                   !memcmp(d.labels, want, n * sizeof *want);
  sn_test_data_free(&d);
  return same;
}

static void test_deflate_shuffle_whole_samples(void) {
  set_paths("deflate");
  size_t pixels = (size_t)N * H * W * C;
  uint8_t *images = malloc(pixels), *back = malloc(pixels);
  int32_t labels[N], labels_back[N];
  fill_bytes(images, pixels, 3);
  for (int i = 0; i < N; i++) labels[i] = i % 7;
  sn_dataset_contents c = {.n = N, .h = H, .w = W, .c = C, .images = images, .labels = labels,
                           .compression = {.level = 6, .shuffle = 1}};
  CU_ASSERT_EQUAL_FATAL(sn_dataset_write(path, &c), SN_OK);
  CU_ASSERT(access(tmp_path, F_OK) != 0);
  hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  CU_ASSERT_FATAL(file >= 0);
  layout l = read_layout(file, "images");
  /* 3072-byte samples: 21 whole samples make the chunk nearest 64 KiB */
  CU_ASSERT_EQUAL(l.rank, 4);
  CU_ASSERT(l.chunk[0] == 65536 / (H * W * C) && l.chunk[1] == H && l.chunk[2] == W && l.chunk[3] == C);
  CU_ASSERT_EQUAL(l.n_filters, 2);
  CU_ASSERT_EQUAL(l.filter[0], H5Z_FILTER_SHUFFLE);  /* shuffle runs before deflate */
  CU_ASSERT_EQUAL(l.filter[1], H5Z_FILTER_DEFLATE);
  CU_ASSERT_EQUAL(l.deflate_level, 6);
  layout ll = read_layout(file, "labels");
  CU_ASSERT_EQUAL(ll.rank, 1);
  CU_ASSERT_EQUAL(ll.chunk[0], N);  /* a whole number of image chunks, capped at N */
  CU_ASSERT_EQUAL(ll.n_filters, 2);
  read_all(file, "images", H5T_NATIVE_UINT8, back);
  read_all(file, "labels", H5T_NATIVE_INT32, labels_back);
  CU_ASSERT_EQUAL(memcmp(images, back, pixels), 0);
  CU_ASSERT_EQUAL(memcmp(labels, labels_back, sizeof labels), 0);
  H5Fclose(file);
  /* and shardnet's own reader decompresses it too, in every placement */
  for (int p = SN_PLACEMENT_REPLICATE; p <= SN_PLACEMENT_STREAM; p++) CU_ASSERT(reads_back(path, p, images, labels, N));
  free(images);
  free(back);
  unlink(path);
}

/* Float samples larger than a chunk: one sample a chunk; targets chunks hold a
 * whole number of image chunks near 64 KiB; no filters without compression. */
static void test_large_samples_and_targets(void) {
  set_paths("targets");
  enum { n = 5, h = 100, w = 90, c = 2, t = 3 };
  size_t values = (size_t)n * h * w * c;
  float *images = malloc(values * sizeof *images), *back = malloc(values * sizeof *back);
  float targets[n * t], targets_back[n * t];
  for (size_t i = 0; i < values; i++) images[i] = (float)i * 0.25f - 7.0f;
  for (int i = 0; i < n * t; i++) targets[i] = (float)i / 3.0f;
  sn_dataset_contents contents = {.n = n, .h = h, .w = w, .c = c, .is_float = 1, .images = images,
                                  .targets = targets, .target_size = t};
  CU_ASSERT_EQUAL_FATAL(sn_dataset_write(path, &contents), SN_OK);
  hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  CU_ASSERT_FATAL(file >= 0);
  layout l = read_layout(file, "images");
  CU_ASSERT(l.chunk[0] == 1 && l.chunk[1] == h && l.chunk[2] == w && l.chunk[3] == c);
  CU_ASSERT_EQUAL(l.n_filters, 0);
  layout lt = read_layout(file, "targets");
  CU_ASSERT(lt.rank == 2 && lt.chunk[0] == n && lt.chunk[1] == t);
  read_all(file, "images", H5T_NATIVE_FLOAT, back);
  read_all(file, "targets", H5T_NATIVE_FLOAT, targets_back);
  CU_ASSERT_EQUAL(memcmp(images, back, values * sizeof *images), 0);
  CU_ASSERT_EQUAL(memcmp(targets, targets_back, sizeof targets), 0);
  H5Fclose(file);
  free(images);
  free(back);
  unlink(path);
}

static sn_dataset_header small_header(size_t n) {
  static const char *const names[3] = {"x", "y", "z"};
  return (sn_dataset_header){.n = n, .h = 2, .w = 3, .c = 1, .has_labels = 1, .n_class_names = 3,
                             .class_names = names, .source = "unit test", .compression = {.level = 1}};
}

static void test_incremental_any_order(void) {
  set_paths("incremental");
  enum { n = 40, px = 6 };
  uint8_t images[n * px], back[n * px];
  int32_t labels[n], labels_back[n];
  fill_bytes(images, sizeof images, 11);
  for (int i = 0; i < n; i++) labels[i] = (i * 5) % 3;
  sn_dataset_header h = small_header(n);
  sn_dataset_writer *w = NULL;
  CU_ASSERT_EQUAL_FATAL(sn_dataset_writer_open(path, &h, &w), SN_OK);
  CU_ASSERT(access(path, F_OK) != 0);  /* named only when complete */
  CU_ASSERT_EQUAL(sn_dataset_writer_put(w, 25, 15, images + 25 * px, labels + 25), SN_OK);
  CU_ASSERT_EQUAL(sn_dataset_writer_put(w, 0, 0, NULL, NULL), SN_OK);
  CU_ASSERT_EQUAL(sn_dataset_writer_put(w, 3, 22, images + 3 * px, labels + 3), SN_OK);
  CU_ASSERT_EQUAL(sn_dataset_writer_put(w, 0, 3, images, labels), SN_OK);
  CU_ASSERT_EQUAL_FATAL(sn_dataset_writer_close(w), SN_OK);
  hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  CU_ASSERT_FATAL(file >= 0);
  read_all(file, "images", H5T_NATIVE_UINT8, back);
  read_all(file, "labels", H5T_NATIVE_INT32, labels_back);
  CU_ASSERT_EQUAL(memcmp(images, back, sizeof images), 0);
  CU_ASSERT_EQUAL(memcmp(labels, labels_back, sizeof labels), 0);
  layout l = read_layout(file, "images");
  CU_ASSERT(l.n_filters == 1 && l.filter[0] == H5Z_FILTER_DEFLATE && l.deflate_level == 1);
  H5Fclose(file);
  unlink(path);
  h = small_header(0);  /* an empty set: nothing to chunk, nothing to put */
  CU_ASSERT_EQUAL_FATAL(sn_dataset_writer_open(path, &h, &w), SN_OK);
  CU_ASSERT_EQUAL(sn_dataset_writer_close(w), SN_OK);
  CU_ASSERT(access(path, F_OK) == 0);
  unlink(path);
}

/* Each failure is reported by put and again by close, which removes the file. */
static void test_failures_remove_the_file(void) {
  set_paths("failures");
  uint8_t images[10 * 6] = {0};
  int32_t labels[10] = {0};
  sn_dataset_header h = small_header(10);
  sn_dataset_writer *w = NULL;

  CU_ASSERT_EQUAL_FATAL(sn_dataset_writer_open(path, &h, &w), SN_OK);
  CU_ASSERT_EQUAL(sn_dataset_writer_put(w, 0, 6, images, labels), SN_OK);
  CU_ASSERT_EQUAL(sn_dataset_writer_put(w, 5, 2, images, labels), SN_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), ": row 5 is written twice"));
  CU_ASSERT_EQUAL(sn_dataset_writer_put(w, 6, 4, images, labels), SN_ERR_INVALID);  /* failed stays failed */
  CU_ASSERT_EQUAL(sn_dataset_writer_close(w), SN_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "row 5 is written twice"));
  CU_ASSERT(no_file());

  CU_ASSERT_EQUAL_FATAL(sn_dataset_writer_open(path, &h, &w), SN_OK);
  CU_ASSERT_EQUAL(sn_dataset_writer_put(w, 0, 4, images, labels), SN_OK);
  CU_ASSERT_EQUAL(sn_dataset_writer_close(w), SN_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), ": only 4 of its 10 samples were written"));
  CU_ASSERT(no_file());

  CU_ASSERT_EQUAL_FATAL(sn_dataset_writer_open(path, &h, &w), SN_OK);
  CU_ASSERT_EQUAL(sn_dataset_writer_put(w, 0, 10, images, NULL), SN_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), ": rows 0 to 10 come without their labels or targets"));
  sn_dataset_writer_discard(w);
  CU_ASSERT(no_file());

  CU_ASSERT_EQUAL_FATAL(sn_dataset_writer_open(path, &h, &w), SN_OK);
  CU_ASSERT_EQUAL(sn_dataset_writer_put(w, 0, 10, images, labels), SN_OK);
  sn_dataset_writer_discard(w);  /* the caller failed elsewhere */
  CU_ASSERT(no_file());

  CU_ASSERT_EQUAL_FATAL(sn_dataset_writer_open(path, &h, &w), SN_OK);
  CU_ASSERT_EQUAL(sn_dataset_writer_put(w, 8, 3, images, labels), SN_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), ": rows 8 to 11 are outside its 10 samples"));
  CU_ASSERT_EQUAL(sn_dataset_writer_close(w), SN_ERR_INVALID);
  CU_ASSERT(no_file());
}

static void test_header_errors(void) {
  set_paths("header");
  sn_dataset_header h = small_header(4);
  sn_dataset_writer *w = NULL;
  h.compression = (sn_dataset_compression){.level = 0, .shuffle = 1};
  CU_ASSERT_EQUAL(sn_dataset_writer_open(path, &h, &w), SN_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "the shuffle filter only helps deflate"));
  h.compression = (sn_dataset_compression){.level = 10};
  CU_ASSERT_EQUAL(sn_dataset_writer_open(path, &h, &w), SN_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "deflate levels are 1 to 9 (0 for none), got 10"));
  h = small_header(4);
  h.target_size = 2;
  CU_ASSERT_EQUAL(sn_dataset_writer_open(path, &h, &w), SN_ERR_INVALID);
  h = small_header((size_t)1 << 62);
  h.h = h.w = 65535;
  CU_ASSERT_EQUAL(sn_dataset_writer_open(path, &h, &w), SN_ERR_INVALID);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "are too large"));
  CU_ASSERT_PTR_NULL(w);
  CU_ASSERT(no_file());
  h = small_header(4);
  CU_ASSERT_EQUAL(sn_dataset_writer_open("/nonexistent-dir/x.h5", &h, &w), SN_ERR_IO);
  CU_ASSERT_STRING_EQUAL(sn_last_error(), "cannot create /nonexistent-dir/x.h5 (is its folder there and writable?)");
}

/* A failed conversion to an existing file leaves that file as it was. */
static void test_failure_keeps_previous_file(void) {
  set_paths("previous");
  uint8_t images[4 * 6];
  int32_t labels[4] = {0, 1, 2, 1};
  fill_bytes(images, sizeof images, 5);
  sn_dataset_header h = small_header(4);
  sn_dataset_writer *w = NULL;
  CU_ASSERT_EQUAL_FATAL(sn_dataset_writer_open(path, &h, &w), SN_OK);
  CU_ASSERT_EQUAL(sn_dataset_writer_put(w, 0, 4, images, labels), SN_OK);
  CU_ASSERT_EQUAL_FATAL(sn_dataset_writer_close(w), SN_OK);
  CU_ASSERT_EQUAL_FATAL(sn_dataset_writer_open(path, &h, &w), SN_OK);
  CU_ASSERT_EQUAL(sn_dataset_writer_close(w), SN_ERR_INVALID);
  CU_ASSERT(reads_back(path, SN_PLACEMENT_STREAM, images, labels, 4));
  CU_ASSERT(access(tmp_path, F_OK) != 0);
  unlink(path);
}

int main(void) {
  const sn_test_case cases[] = {
      {"deflate + shuffle, whole-sample chunks near 64 KiB, identical data", test_deflate_shuffle_whole_samples},
      {"a sample per chunk for large samples; targets chunked by image chunks", test_large_samples_and_targets},
      {"rows put in any order, in pieces", test_incremental_any_order},
      {"a failed put, missing rows or a discard remove the file", test_failures_remove_the_file},
      {"impossible headers are refused before a file is made", test_header_errors},
      {"a failed write keeps the previous file", test_failure_keeps_previous_file},
      {NULL, NULL}};
  return sn_test_main("dataset writer", cases);
}
