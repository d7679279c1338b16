/* Aligned allocation for arenas and activations. */
#include "shardnet/memory.h"

#include <stdlib.h>
#include <string.h>

#define SN_ALIGNMENT 64

sn_status sn_alloc_floats(size_t n, float **out) {
  *out = NULL;
  if (n == 0) return SN_OK;
  size_t bytes = (n * sizeof(float) + SN_ALIGNMENT - 1) / SN_ALIGNMENT * SN_ALIGNMENT;
  void *p = aligned_alloc(SN_ALIGNMENT, bytes);
  if (!p) return sn_fail(SN_ERR_NOMEM, "cannot allocate %zu MiB", bytes >> 20);
  memset(p, 0, bytes);
  *out = p;
  return SN_OK;
}

void sn_free(void *p) { free(p); }
