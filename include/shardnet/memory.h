/* Aligned, zeroed float buffers: every arena and activation buffer comes from here. */
#ifndef SHARDNET_MEMORY_H
#define SHARDNET_MEMORY_H

#include <stddef.h>

#include "shardnet/status.h"

/* Allocates n zeroed floats aligned to 64 bytes into *out (NULL when n == 0). */
sn_status sn_alloc_floats(size_t n, float **out);
void sn_free(void *p);

#endif
