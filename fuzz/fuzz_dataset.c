/* libFuzzer target: a dataset file as `train` and `eval` read it. Opened by one
 * process (no MPI) with every sample held in memory, checked against the fuzz model
 * (shape, labels in range), then its first samples read through a reader and
 * transformed into network inputs. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "shardnet/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  enum { TAKE = 8 };
  sn_config *cfg;
  sn_net *net;
  sn_fuzz_model(&cfg, &net);
  const char *path = sn_fuzz_file("dataset.h5", data, size);
  const sn_dataset_options opt = {.placement = SN_PLACEMENT_REPLICATE, .role = "training set"};
  sn_dataset *ds = NULL;
  if (sn_dataset_open(NULL, path, &opt, &ds) != SN_OK) return 0;
  const sn_sample_format format = sn_dataset_format(ds);
  sn_transform tf;
  sn_reader *reader = NULL;
  sn_status st = sn_transform_init(&tf, &cfg->data, &format, 0, cfg->seed, path);
  if (st == SN_OK) st = sn_dataset_validate(NULL, ds, net, &tf);
  if (st == SN_OK) st = sn_reader_create(NULL, ds, 1, TAKE, 0, &reader);
  if (st == SN_OK) {
    uint32_t idx[TAKE];
    const int n = ds->n < TAKE ? (int)ds->n : TAKE;
    for (int i = 0; i < n; i++) idx[i] = (uint32_t)i;
    float *x = malloc((size_t)TAKE * sn_shape_size(tf.out) * sizeof *x);
    int32_t labels[TAKE];
    int got;
    if (!x) abort();
    if (sn_reader_queue_local(reader, idx, n) == SN_OK)
      sn_reader_take(reader, &tf, 0, x, ds->has_labels ? labels : NULL, NULL, &got);
    free(x);
  }
  sn_reader_destroy(reader);
  sn_dataset_free(ds);
  return 0;
}
