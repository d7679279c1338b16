/* Aligned, zeroed float buffers: every arena and activation buffer comes from here. */
#ifndef SHARDNET_MEMORY_H
#define SHARDNET_MEMORY_H

#include <stddef.h>

#include "shardnet/status.h"

/* Allocates n zeroed floats aligned to 64 bytes into *out (NULL when n == 0). */
sn_status sn_alloc_floats(size_t n, float **out);
void sn_free(void *p);

/* Bytes this process may still use: the kernel's MemAvailable, lowered to what the
 * memory cgroup it runs in (v1 or v2, the tightest limit up its hierarchy) leaves
 * unused, not counting page cache, which the kernel reclaims before it kills. */
size_t sn_memory_available(void);

#endif
