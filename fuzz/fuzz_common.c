/* Scratch files for the fuzz targets, in one folder per process under $TMPDIR. */
#define _POSIX_C_SOURCE 200809L
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char folder[512];

/* Paths live in a few rotating buffers, so that a call can take several of them. */
static const char *scratch(const char *name) {
  static char paths[4][600];
  static int next;
  char *path = paths[next++ % 4];
  if (!folder[0]) {
    const char *tmp = getenv("TMPDIR");
    snprintf(folder, sizeof folder, "%s/shardnet-fuzz.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(folder)) abort();
  }
  snprintf(path, sizeof paths[0], "%s/%s", folder, name);
  return path;
}

const char *sn_fuzz_file(const char *name, const uint8_t *data, size_t n) {
  const char *path = scratch(name);
  FILE *f = fopen(path, "wb");
  if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) abort();
  return path;
}

const char *sn_fuzz_out(const char *name) {
  const char *path = scratch(name);
  unlink(path);
  return path;
}
