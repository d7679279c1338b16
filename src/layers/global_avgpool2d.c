/* Global average pooling: (C, H, W) -> (C), like Keras GlobalAveragePooling2D. */
#include <stdlib.h>

#include "layers/layer_types.h"

/* Below this many input floats per call the OpenMP team costs more than it saves. */
#define GAP_PARALLEL_MIN 32768

static sn_status gap_infer(sn_layer *l) {
  const sn_shape in = l->in_shape[0];
  if (in.ndim != 3) {
    char buf[48];
    return sn_layer_fail(l, "needs a 3-D (channels, height, width) input but gets %s",
                         sn_shape_format(in, buf, sizeof buf));
  }
  l->out_shape = sn_shape_vec(in.d[0]);
  return SN_OK;
}

typedef struct {
  int blocked; /* the input is channel-blocked (sn_prepare.blocked_in) */
} gap_cfg;

static sn_status gap_parse(sn_layer *l, sn_args *args) {
  l->impl = calloc(1, sizeof(gap_cfg));
  return l->impl ? SN_OK : sn_fail(SN_ERR_NOMEM, "cannot allocate layer");
}

/* Reads either layout; its (C) output is plain. */
static unsigned gap_blocked(const sn_layer *l) { return SN_BLOCKED_IN; }

static sn_status gap_prepare(sn_layer *l, const sn_prepare *p) {
  ((gap_cfg *)l->impl)->blocked = (int)(p->blocked_in & 1u);
  return SN_OK;
}

/* Where value i of channel ch of sample n lives, and the stride between values. */
static size_t value_at(const sn_layer *l, int n, int ch, size_t *stride) {
  const sn_shape in = l->in_shape[0];
  const size_t area = (size_t)in.d[1] * in.d[2], sample = (size_t)in.d[0] * area;
  if (!((const gap_cfg *)l->impl)->blocked) {
    *stride = 1;
    return (size_t)n * sample + (size_t)ch * area;
  }
  *stride = SN_BLOCK;
  return (size_t)n * sample + (size_t)(ch / SN_BLOCK) * area * SN_BLOCK + ch % SN_BLOCK;
}

static void gap_forward(sn_layer *l, const sn_fwd *f) {
  const sn_shape in = l->in_shape[0];
  const int channels = in.d[0], planes = f->batch * channels;
  const size_t area = (size_t)in.d[1] * in.d[2];
#pragma omp parallel for schedule(static) if ((size_t)planes * area >= GAP_PARALLEL_MIN)
  for (int p = 0; p < planes; p++) {
    size_t stride;
    const float *x = f->in[0] + value_at(l, p / channels, p % channels, &stride);
    float s = 0.0f;
    for (size_t i = 0; i < area; i++) s += x[i * stride];
    f->out[p] = s / (float)area;
  }
}

static void gap_backward(sn_layer *l, const sn_bwd *b) {
  if (!b->din[0]) return;
  const sn_shape in = l->in_shape[0];
  const int channels = in.d[0], planes = b->batch * channels;
  const size_t area = (size_t)in.d[1] * in.d[2];
#pragma omp parallel for schedule(static) if ((size_t)planes * area >= GAP_PARALLEL_MIN)
  for (int p = 0; p < planes; p++) {
    size_t stride;
    float *dx = b->din[0] + value_at(l, p / channels, p % channels, &stride);
    const float share = b->dout[p] / (float)area;
    for (size_t i = 0; i < area; i++) dx[i * stride] += share;
  }
}

static double gap_flops(const sn_layer *l) { return (double)sn_shape_size(l->in_shape[0]); }

static void gap_receptive(const sn_layer *l, double *kernel, double *stride) {
  /* One window covering the whole input. */
  const sn_shape in = l->in_shape[0];
  *kernel = in.d[1] > in.d[2] ? in.d[1] : in.d[2];
  *stride = *kernel;
}

const sn_layer_ops sn_global_avgpool2d_ops = {
    .type = "global_avgpool2d",
    .min_inputs = 1,
    .max_inputs = 1,
    .parse = gap_parse,
    .infer = gap_infer,
    .prepare = gap_prepare,
    .blocked = gap_blocked,
    .forward = gap_forward,
    .backward = gap_backward,
    .flops = gap_flops,
    .receptive = gap_receptive,
};
