/* What the libFuzzer targets share: a private scratch folder, and writing the input
 * (or a part of it) to a file there, since shardnet's readers take paths. */
#ifndef SN_FUZZ_COMMON_H
#define SN_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* path (in a folder made once per process) of a file holding bytes [data, data + n).
 * The returned string stays valid for the next three calls of either function. */
const char *sn_fuzz_file(const char *name, const uint8_t *data, size_t n);
/* A path in the same folder for a file the target writes (removed first). */
const char *sn_fuzz_out(const char *name);

struct sn_config;
struct sn_net;
/* The model the dataset and checkpoint targets read files for, built once: the
 * integration tests' 8x8x1, 4-class convnet (fuzz/corpus/model.yaml describes it),
 * with Adam. Aborts if it cannot be built. */
void sn_fuzz_model(struct sn_config **cfg, struct sn_net **net);

#endif
