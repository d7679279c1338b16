/* Per-sample tensor shapes: (C, H, W) feature maps or (units) vectors; the batch
 * dimension is never part of a shape. Memory order is NCHW. */
#ifndef SHARDNET_SHAPE_H
#define SHARDNET_SHAPE_H

/* The largest side of a network input, and the most values in one input sample:
 * shape inference computes in int, and these keep every size and padding sum far
 * from overflow. */
#define SN_MAX_INPUT_SIDE 65536
#define SN_MAX_INPUT_SIZE (1 << 28)

#include <stddef.h>

typedef struct {
  int ndim;   /* 1: (units), 3: (C, H, W) */
  int d[3];
} sn_shape;

static inline sn_shape sn_shape_chw(int c, int h, int w) {
  sn_shape s = {3, {c, h, w}};
  return s;
}
static inline sn_shape sn_shape_vec(int units) {
  sn_shape s = {1, {units, 1, 1}};
  return s;
}

/* Number of floats in one sample. */
size_t sn_shape_size(sn_shape s);
int sn_shape_equal(sn_shape a, sn_shape b);
/* "32x14x14" or "1024"; returns buf. */
const char *sn_shape_format(sn_shape s, char *buf, size_t cap);

#endif
