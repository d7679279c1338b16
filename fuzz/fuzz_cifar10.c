/* libFuzzer target: `shardnet convert cifar10` on one batch file. */
#include "fuzz_common.h"
#include "shardnet/convert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *batch = sn_fuzz_file("batch.bin", data, size);
  const char *const batches[1] = {batch};
  sn_convert_cifar10(batches, 1, sn_fuzz_out("out.h5"), (sn_dataset_compression){0, 0});
  return 0;
}
