/* Global average pooling: (C, H, W) -> (C), like Keras GlobalAveragePooling2D. */
#include "layers/layer_types.h"

/* Below this many input floats per call the OpenMP team costs more than it saves. */
#define GAP_PARALLEL_MIN 32768

static sn_status gap_parse(sn_layer *l, sn_args *args) { return SN_OK; }

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

static void gap_forward(sn_layer *l, const sn_fwd *f) {
  const sn_shape in = l->in_shape[0];
  const size_t planes = (size_t)f->batch * in.d[0], area = (size_t)in.d[1] * in.d[2];
#pragma omp parallel for schedule(static) if (planes * area >= GAP_PARALLEL_MIN)
  for (size_t p = 0; p < planes; p++) {
    const float *x = f->in[0] + p * area;
    float s = 0.0f;
    for (size_t i = 0; i < area; i++) s += x[i];
    f->out[p] = s / (float)area;
  }
}

static void gap_backward(sn_layer *l, const sn_bwd *b) {
  if (!b->din[0]) return;
  const sn_shape in = l->in_shape[0];
  const size_t planes = (size_t)b->batch * in.d[0], area = (size_t)in.d[1] * in.d[2];
#pragma omp parallel for schedule(static) if (planes * area >= GAP_PARALLEL_MIN)
  for (size_t p = 0; p < planes; p++) {
    float *dx = b->din[0] + p * area;
    const float share = b->dout[p] / (float)area;
    for (size_t i = 0; i < area; i++) dx[i] += share;
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
    .forward = gap_forward,
    .backward = gap_backward,
    .flops = gap_flops,
    .receptive = gap_receptive,
};
