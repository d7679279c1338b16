/* libFuzzer target: a checkpoint file as `train --resume`, `eval` and `predict` read
 * it: what it says about itself (position, saved config, overrides), the saved
 * config parsed, then its weights and Adam moments loaded into the fuzz model, whose
 * layers it must match by name and shape. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "shardnet/checkpoint.h"
#include "shardnet/config.h"
#include "shardnet/memory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static float *moments[2];
  sn_config *cfg;
  sn_net *net;
  sn_fuzz_model(&cfg, &net);
  for (int m = 0; m < 2; m++)
    if (!moments[m] && sn_alloc_floats(net->n_params, &moments[m]) != SN_OK) abort();
  const char *path = sn_fuzz_file("checkpoint.h5", data, size);
  sn_checkpoint_info info;
  if (sn_checkpoint_read_info(path, &info) != SN_OK) return 0;
  sn_config *saved = NULL;
  if (sn_config_parse(info.config_text, path, NULL, 0, &saved) == SN_OK) sn_config_free(saved);
  sn_checkpoint_info_free(&info);
  sn_optimizer_state state = {.type = "adam", .n_moments = 2, .moment_names = {"m", "v"},
                              .moments = {moments[0], moments[1]}};
  sn_checkpoint_load(path, net, &state);
  return 0;
}
