/* libFuzzer target: `shardnet convert idx`. The input is an images file and a labels
 * file, split where its first 4 bytes (big-endian) say; with class names, so labels
 * are checked against them too. */
#include "fuzz_common.h"
#include "shardnet/convert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4) return 0;
  size_t split = (size_t)data[0] << 24 | (size_t)data[1] << 16 | (size_t)data[2] << 8 | data[3];
  data += 4;
  size -= 4;
  if (split > size) split = size;
  const char *images = sn_fuzz_file("images.idx", data, split);
  const char *labels = sn_fuzz_file("labels.idx", data + split, size - split);
  static const char *const names[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
  sn_convert_idx(images, labels, sn_fuzz_out("out.h5"), names, 10, (sn_dataset_compression){0, 0});
  return 0;
}
