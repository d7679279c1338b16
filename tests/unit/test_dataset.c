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

static void test_round_trip_and_batch(void) {
  write_small(0);
  sn_dataset *ds = NULL;
  CU_ASSERT_EQUAL_FATAL(sn_dataset_load(NULL, path, &ds), SN_OK);
  CU_ASSERT_EQUAL(ds->n, 3);
  CU_ASSERT(ds->h == 2 && ds->w == 2 && ds->c == 3 && !ds->is_float);
  CU_ASSERT_EQUAL(ds->n_class_names, 2);
  CU_ASSERT_STRING_EQUAL(ds->class_names[1], "dog");
  sn_data_config norm = {.scale = 0.5, .n_mean = 3, .mean = {1, 2, 3}, .n_std = 1, .std = {2}};
  uint32_t idx[2] = {2, 0};
  float x[2 * 12];
  int32_t labels[2];
  sn_dataset_batch(ds, &norm, idx, 2, x, labels, NULL);
  CU_ASSERT(labels[0] == 1 && labels[1] == 1);
  /* sample 2, channel 1, pixel 3: raw 100 + 30 + 1 = 131 -> (131 * 0.5 - 2) / 2 */
  CU_ASSERT_DOUBLE_EQUAL(x[1 * 4 + 3], (131 * 0.5 - 2) / 2, 1e-5);
  /* sample 0, channel 2, pixel 0: raw 2 -> (1 - 3) / 2 */
  CU_ASSERT_DOUBLE_EQUAL(x[12 + 2 * 4 + 0], -1.0, 1e-6);
  sn_dataset_free(ds);
  unlink(path);
}

static void test_validation(void) {
  write_small(1);
  sn_dataset *ds = NULL;
  CU_ASSERT_EQUAL_FATAL(sn_dataset_load(NULL, path, &ds), SN_OK);
  sn_model_spec spec;
  sn_net *net = NULL;
  CU_ASSERT_EQUAL_FATAL(sn_test_spec(sn_shape_chw(3, 2, 2), "flatten; dense units=2",
                                     SN_LOSS_SOFTMAX_CROSS_ENTROPY, &spec), SN_OK);
  CU_ASSERT_EQUAL_FATAL(sn_net_create(&spec, &net), SN_OK);
  CU_ASSERT_EQUAL(sn_dataset_validate(ds, net), SN_ERR_FORMAT);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "label 5 of sample 2 is outside [0, 2)"));
  sn_net_destroy(net);
  sn_model_spec_clear(&spec);
  CU_ASSERT_EQUAL_FATAL(sn_test_spec(sn_shape_chw(1, 2, 2), "flatten; dense units=2",
                                     SN_LOSS_SOFTMAX_CROSS_ENTROPY, &spec), SN_OK);
  CU_ASSERT_EQUAL_FATAL(sn_net_create(&spec, &net), SN_OK);
  CU_ASSERT_EQUAL(sn_dataset_validate(ds, net), SN_ERR_SHAPE);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "images are 2x2x3 (H x W x C) but model.input is [1, 2, 2]"));
  sn_net_destroy(net);
  sn_model_spec_clear(&spec);
  sn_dataset_free(ds);
  unlink(path);
}

int main(void) {
  const sn_test_case cases[] = {{"write, load and normalise into NCHW batches", test_round_trip_and_batch},
                                {"validation names the label or shape at fault", test_validation},
                                {NULL, NULL}};
  return sn_test_main("dataset", cases);
}
