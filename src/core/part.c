/* Contiguous parts of n items across p members. */
#include "shardnet/part.h"

void sn_part(size_t n, int r, int p, size_t *lo, size_t *hi) {
  /* n * r fits: n is a sample count (< 2^40) and r a rank (< 2^23) */
  *lo = n * (size_t)r / (size_t)p;
  *hi = n * (size_t)(r + 1) / (size_t)p;
}

int sn_part_owner(size_t n, int p, size_t i) {
  /* floor(i * p / n) is at most one part away (and i * p fits as above) */
  int r = (int)(i * (size_t)p / n);
  size_t lo, hi;
  for (;;) {
    sn_part(n, r, p, &lo, &hi);
    if (i < lo) r--;
    else if (i >= hi) r++;
    else return r;
  }
}

size_t sn_part_max(size_t n, int p) { return (n + (size_t)p - 1) / (size_t)p; }
