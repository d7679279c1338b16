/* libFuzzer target: a dataset file as `train` and `eval` read it. Opened by one
 * process (no MPI) twice: with every sample held in memory (read through HDF5 at
 * open), and streamed (samples read per request, with pread where the rows are stored
 * uncompressed: src/io/direct_rows.c). Each time it is checked against the fuzz model
 * (shape, labels in range), then samples from its start, middle and end, one
 * repeated, are read through a reader and transformed into network inputs. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "shardnet/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { TAKE = 8 };

static void read_as(const char *path, sn_placement placement, const sn_config *cfg, const sn_net *net) {
  const sn_dataset_options opt = {.placement = placement, .role = "training set"};
  sn_dataset *ds = NULL;
  if (sn_dataset_open(NULL, path, &opt, &ds) != SN_OK) return;
  const sn_sample_format format = sn_dataset_format(ds);
  sn_transform tf;
  sn_reader *reader = NULL;
  sn_status st = sn_transform_init(&tf, &cfg->data, &format, 0, cfg->seed, path);
  if (st == SN_OK) st = sn_dataset_validate(NULL, ds, net, &tf);
  if (st == SN_OK) st = sn_reader_create(NULL, ds, 1, TAKE, 0, &reader);
  if (st == SN_OK) {
    const uint32_t last = (uint32_t)(ds->n - 1);
    const uint32_t idx[TAKE] = {0, last, 1, last / 2, last, last / 2 + 1, 2 < last ? 2 : last, last / 3};
    float *x = malloc((size_t)TAKE * sn_shape_size(tf.out) * sizeof *x);
    int32_t labels[TAKE];
    int got;
    if (!x) abort();
    if (sn_reader_queue_local(reader, idx, TAKE) == SN_OK)
      sn_reader_take(reader, &tf, 0, x, ds->has_labels ? labels : NULL, NULL, &got);
    free(x);
  }
  sn_reader_destroy(reader);
  sn_dataset_free(ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sn_config *cfg;
  sn_net *net;
  sn_fuzz_model(&cfg, &net);
  const char *path = sn_fuzz_file("dataset.h5", data, size);
  read_as(path, SN_PLACEMENT_REPLICATE, cfg, net);
  read_as(path, SN_PLACEMENT_STREAM, cfg, net);
  return 0;
}
