/* Which part of n items belongs to member r of p: the one rule behind every split of
 * samples across ranks (a global batch into slices, a dataset into shards, an
 * evaluation into ranges). Parts are contiguous, in member order, and their sizes
 * differ by at most one. */
#ifndef SHARDNET_PART_H
#define SHARDNET_PART_H

#include <stddef.h>

/* Part r of p of [0, n): [*lo, *hi). */
void sn_part(size_t n, int r, int p, size_t *lo, size_t *hi);

/* The member whose part of [0, n) holds item i (the inverse of sn_part). */
int sn_part_owner(size_t n, int p, size_t i);

/* The largest part: ceil(n / p). */
size_t sn_part_max(size_t n, int p);

#endif
