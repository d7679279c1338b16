/* libFuzzer target: the config reader with --set overrides. The input is the YAML
 * text, then NUL-separated overrides (at most 8), as `shardnet train CONFIG --set ...`
 * would get them. A config that loads is written back out and read again, as
 * checkpoints do. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "shardnet/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  enum { MAX_SETS = 8 };
  const uint8_t *nul = memchr(data, 0, size);
  const size_t text = nul ? (size_t)(nul - data) : size;
  const char *path = sn_fuzz_file("config.yaml", data, text);
  /* the overrides, each a NUL-terminated copy */
  char *sets[MAX_SETS];
  int n = 0;
  size_t at = text + 1;
  while (nul && at <= size && n < MAX_SETS) {
    const uint8_t *end = at < size ? memchr(data + at, 0, size - at) : NULL;
    const size_t len = end ? (size_t)(end - (data + at)) : size - at;
    sets[n] = malloc(len + 1);
    if (!sets[n]) abort();
    memcpy(sets[n], data + at, len);
    sets[n][len] = '\0';
    n++;
    if (!end) break;
    at += len + 1;
  }
  sn_config *cfg = NULL;
  if (sn_config_load(path, (const char *const *)sets, n, &cfg) == SN_OK) {
    const char *again = sn_fuzz_file("resolved.yaml", (const uint8_t *)cfg->resolved, strlen(cfg->resolved));
    sn_config *back = NULL;
    if (sn_config_load(again, NULL, 0, &back) == SN_OK) sn_config_free(back);
    sn_config_free(cfg);
  }
  for (int k = 0; k < n; k++) free(sets[k]);
  return 0;
}
