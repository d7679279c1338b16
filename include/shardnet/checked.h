/* Size arithmetic on numbers that come from files and configs: a product or a sum
 * that would wrap is reported, so that a crafted header asks for an impossible size
 * (and is refused) instead of a small wrapped one (and overruns it). Each returns 1
 * when *out holds the exact result, 0 on overflow. */
#ifndef SHARDNET_CHECKED_H
#define SHARDNET_CHECKED_H

#include <stddef.h>

static inline int sn_size_mul(size_t a, size_t b, size_t *out) { return !__builtin_mul_overflow(a, b, out); }
static inline int sn_size_add(size_t a, size_t b, size_t *out) { return !__builtin_add_overflow(a, b, out); }

/* The product of factors[0..n) (1 for n = 0). */
static inline int sn_size_product(const size_t *factors, int n, size_t *out) {
  size_t p = 1;
  for (int i = 0; i < n; i++)
    if (!sn_size_mul(p, factors[i], &p)) return 0;
  *out = p;
  return 1;
}

#endif
