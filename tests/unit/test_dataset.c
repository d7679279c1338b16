/* Dataset files without MPI: write, read back, normalise into NCHW batches, and
 * validation against the model. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shardnet/dataset.h"
#include "shardnet/dataset_writer.h"
#include "sn_test.h"

static char path[64];

/* 3 samples of 2x2 pixels with 3 channels: value = 100*sample + 10*pixel + channel. */
static void write_small(int bad_label) {
  unsigned char images[3 * 2 * 2 * 3];
  for (int i = 0; i < 3; i++)
    for (int p = 0; p < 4; p++)
      for (int c = 0; c < 3; c++) images[(i * 4 + p) * 3 + c] = (unsigned char)(i * 50 + p * 10 + c);
  int32_t labels[3] = {1, 0, bad_label ? 5 : 1};
  const char *names[2] = {"cat", "dog"};
  sn_dataset_contents c = {.n = 3, .h = 2, .w = 2, .c = 3, .images = images, .labels = labels,
                           .n_class_names = 2, .class_names = names, .source = "unit test"};
  snprintf(path, sizeof path, "/tmp/sn-dataset-%d.h5", (int)getpid());
  CU_ASSERT_EQUAL_FATAL(sn_dataset_write(path, &c), SN_OK);
}

static sn_dataset *open_as(sn_placement p) {
  sn_dataset *ds = NULL;
  const sn_dataset_options o = {.placement = p, .role = "test data"};
  CU_ASSERT_EQUAL_FATAL(sn_dataset_open(NULL, path, &o, &ds), SN_OK);
  CU_ASSERT_EQUAL(ds->placement, p);
  return ds;
}

/* Every placement serves the same samples, transformed the same, in the order asked. */
static void test_round_trip_and_batch(void) {
  write_small(0);
  const sn_data_config norm = {.scale = 0.5, .n_mean = 3, .mean = {1, 2, 3}, .n_std = 1, .std = {2}};
  for (int p = SN_PLACEMENT_REPLICATE; p <= SN_PLACEMENT_STREAM; p++) {
    sn_dataset *ds = open_as((sn_placement)p);
    CU_ASSERT_EQUAL(ds->n, 3);
    CU_ASSERT(ds->h == 2 && ds->w == 2 && ds->c == 3 && !ds->is_float && ds->has_labels);
    CU_ASSERT_EQUAL(ds->n_class_names, 2);
    CU_ASSERT_STRING_EQUAL(ds->class_names[1], "dog");
    sn_transform tf;
    const sn_sample_format f = sn_dataset_format(ds);
    CU_ASSERT_EQUAL_FATAL(sn_transform_init(&tf, &norm, &f, 0, 1, path), SN_OK);
    sn_reader *r = NULL;
    CU_ASSERT_EQUAL_FATAL(sn_reader_create(NULL, ds, 2, 2, 1, &r), SN_OK);
    const uint32_t first[2] = {2, 0}, second[1] = {1};
    CU_ASSERT_EQUAL(sn_reader_queue_local(r, first, 2), SN_OK);
    CU_ASSERT_EQUAL(sn_reader_queue_global(r, second, 1), SN_OK);
    CU_ASSERT_EQUAL(sn_reader_queue_local(r, second, 1), SN_ERR_INVALID); /* the queue is full */
    float x[2 * 12];
    int32_t labels[2];
    int n = 0;
    CU_ASSERT_EQUAL_FATAL(sn_reader_take(r, &tf, 0, x, labels, NULL, &n), SN_OK);
    CU_ASSERT(n == 2 && labels[0] == 1 && labels[1] == 1);
    /* sample 2, channel 1, pixel 3: raw 100 + 30 + 1 = 131 -> (131 * 0.5 - 2) / 2 */
    CU_ASSERT_DOUBLE_EQUAL(x[1 * 4 + 3], (131 * 0.5 - 2) / 2, 1e-5);
    /* sample 0, channel 2, pixel 0: raw 2 -> (1 - 3) / 2 */
    CU_ASSERT_DOUBLE_EQUAL(x[12 + 2 * 4 + 0], -1.0, 1e-6);
    CU_ASSERT_EQUAL_FATAL(sn_reader_take(r, &tf, 0, x, labels, NULL, &n), SN_OK);
    CU_ASSERT(n == 1 && labels[0] == 0);
    /* sample 1, channel 0, pixel 1: raw 50 + 10 = 60 -> (30 - 1) / 2 */
    CU_ASSERT_DOUBLE_EQUAL(x[1], 14.5, 1e-6);
    const uint32_t outside[1] = {3};
    CU_ASSERT_EQUAL(sn_reader_queue_local(r, outside, 1), SN_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "sample 3 is outside its 3 samples"));
    sn_reader_destroy(r);
    sn_dataset_free(ds);
  }
  unlink(path);
}

static void expect_invalid(sn_dataset *ds, const char *layers, sn_shape input, sn_status want, const char *text) {
  sn_model_spec spec;
  sn_net *net = NULL;
  CU_ASSERT_EQUAL_FATAL(sn_test_spec(input, layers, SN_LOSS_SOFTMAX_CROSS_ENTROPY, &spec), SN_OK);
  CU_ASSERT_EQUAL_FATAL(sn_net_create(&spec, &net), SN_OK);
  const sn_data_config none = {.scale = 1};
  sn_transform tf;
  const sn_sample_format f = sn_dataset_format(ds);
  CU_ASSERT_EQUAL_FATAL(sn_transform_init(&tf, &none, &f, 0, 1, path), SN_OK);
  CU_ASSERT_EQUAL(sn_dataset_validate(NULL, ds, net, &tf), want);
  if (!strstr(sn_last_error(), text)) fprintf(stderr, "\n  got: %s\n", sn_last_error());
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), text));
  sn_net_destroy(net);
  sn_model_spec_clear(&spec);
}

static void test_validation(void) {
  write_small(1);
  sn_dataset *ds = open_as(SN_PLACEMENT_STREAM);
  expect_invalid(ds, "flatten; dense units=2", sn_shape_chw(3, 2, 2), SN_ERR_FORMAT,
                 "label 5 of sample 2 is outside [0, 2)");
  expect_invalid(ds, "flatten; dense units=2", sn_shape_chw(1, 2, 2), SN_ERR_SHAPE,
                 "images are 2x2x3 (H x W x C) but model.input is [1, 2, 2]");
  sn_dataset_free(ds);
  unlink(path);
}

int main(void) {
  const sn_test_case cases[] = {{"write, load and normalise into NCHW batches", test_round_trip_and_batch},
                                {"validation names the label or shape at fault", test_validation},
                                {NULL, NULL}};
  return sn_test_main("dataset", cases);
}
