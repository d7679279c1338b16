/* Per-sample shape helpers. */
#include "shardnet/shape.h"

#include <stdio.h>

size_t sn_shape_size(sn_shape s) {
  size_t n = 1;
  for (int i = 0; i < s.ndim; i++) n *= (size_t)s.d[i];
  return n;
}

int sn_shape_equal(sn_shape a, sn_shape b) {
  if (a.ndim != b.ndim) return 0;
  for (int i = 0; i < a.ndim; i++)
    if (a.d[i] != b.d[i]) return 0;
  return 1;
}

const char *sn_shape_format(sn_shape s, char *buf, size_t cap) {
  if (s.ndim == 1)
    snprintf(buf, cap, "%d", s.d[0]);
  else
    snprintf(buf, cap, "%dx%dx%d", s.d[0], s.d[1], s.d[2]);
  return buf;
}
