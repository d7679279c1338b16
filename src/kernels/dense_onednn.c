/* oneDNN matmul for the dense layer: forward, data gradient and the whole kernel
 * gradient, made once for the reserved batch on the layer's own row-major layouts
 * (no reorders in fp32: W^T and x^T are the same memory read column-major). Measured
 * here at 64 x 3136 x 1024: 1.95 / 2.71 / 1.98 ms fp32 against OpenBLAS's 2.84 /
 * 2.7 / 2.7, and about half that in bf16. In bf16, x and dpre are reordered to bf16 in
 * the workspace and the kernel into a bf16 copy kept from forward to backward.
 * Smaller batches and parts of the kernel gradient (ranks building it in turns) go
 * to CBLAS: their shapes vary, and oneDNN's runtime-sized matmul is slower than it. */
#include "kernels/dense.h"

#ifndef SN_HAVE_ONEDNN

sn_dense_onednn *sn_dense_onednn_create(const sn_dense_spec *spec, int max_batch, sn_precision precision) {
  return NULL;
}
void sn_dense_onednn_destroy(sn_dense_onednn *d) {}
size_t sn_dense_onednn_workspace(const sn_dense_onednn *d) { return 0; }
const char *sn_dense_onednn_name(const sn_dense_onednn *d) { return "native"; }
int sn_dense_onednn_forward(const sn_dense_onednn *d, int batch, const float *x, const float *w,
                            const float *bias, float *y, float *work) {
  return 0;
}
int sn_dense_onednn_backward_data(const sn_dense_onednn *d, int batch, const float *dpre, const float *w,
                                  float *dx, float *work) {
  return 0;
}
int sn_dense_onednn_weight_rows(const sn_dense_onednn *d, int batch, const float *x, const float *dpre, int lo,
                                int hi, float *dst, float beta, float *work) {
  return 0;
}

#else

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/onednn.h"
#include "shardnet/memory.h"

struct sn_dense_onednn {
  sn_dense_spec s;
  int n, bf16;
  char name[96];
  sn_dnnl_prim fwd, bwd_d, bwd_w;
  dnnl_memory_t f_src, f_wei, f_bias, f_dst;
  dnnl_memory_t d_src, d_wei, d_dst;
  dnnl_memory_t w_src, w_wei, w_dst;
  sn_dnnl_reorder x_in, w_in, dy_in;   /* bf16 only: f32 -> bf16 */
  void *w_bf16;                        /* bf16 only: the kernel as forward used it */
  size_t x_at, dy_at, scratch_at, total;
};

static size_t up64(size_t b) { return (b + 63) & ~(size_t)63; }

static int md(dnnl_memory_desc_t *m, int64_t rows, int64_t cols, dnnl_data_type_t dt, dnnl_format_tag_t tag) {
  const dnnl_dims_t dims = {rows, cols};
  return dnnl_memory_desc_init_by_tag(m, 2, dims, dt, tag) == dnnl_success;
}

/* A matmul src (m, k) . weights (k, n) -> dst (m, n) (+ bias), adding into dst with
 * accumulate. */
static int make_matmul(sn_dnnl_prim *p, const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *wei,
                       const dnnl_memory_desc_t *bias, const dnnl_memory_desc_t *dst, int accumulate) {
  dnnl_matmul_desc_t op;
  if (dnnl_matmul_desc_init(&op, src, wei, bias, dst) != dnnl_success) return 0;
  dnnl_post_ops_t po = NULL;
  if (accumulate && (dnnl_post_ops_create(&po) != dnnl_success || dnnl_post_ops_append_sum(po, 1.0f) != dnnl_success)) {
    if (po) dnnl_post_ops_destroy(po);
    return 0;
  }
  dnnl_primitive_attr_t attr = sn_dnnl_attr(po);
  if (po) dnnl_post_ops_destroy(po);
  if (!attr) return 0;
  dnnl_primitive_desc_t pd;
  const dnnl_status_t st = dnnl_primitive_desc_create(&pd, &op, attr, sn_dnnl_engine(), NULL);
  dnnl_primitive_attr_destroy(attr);
  if (st != dnnl_success) return 0;
  const int ok = sn_dnnl_prim_create(p, pd) == SN_OK;
  dnnl_primitive_desc_destroy(pd);
  return ok;
}

static int build(sn_dense_onednn *d) {
  const int64_t n = d->n, in = d->s.in, units = d->s.units;
  const dnnl_data_type_t dt = d->bf16 ? dnnl_bf16 : dnnl_f32;
  dnnl_memory_desc_t x, w, wt, xt, dy, y, dx, dw, bias, xf, wf, dyf;
  if (!md(&x, n, in, dt, dnnl_ab) || !md(&w, in, units, dt, dnnl_ab) || !md(&wt, units, in, dt, dnnl_ba) ||
      !md(&xt, in, n, dt, dnnl_ba) || !md(&dy, n, units, dt, dnnl_ab) || !md(&y, n, units, dnnl_f32, dnnl_ab) ||
      !md(&dx, n, in, dnnl_f32, dnnl_ab) || !md(&dw, in, units, dnnl_f32, dnnl_ab) ||
      !md(&bias, 1, units, dnnl_f32, dnnl_ab) || !md(&xf, n, in, dnnl_f32, dnnl_ab) ||
      !md(&wf, in, units, dnnl_f32, dnnl_ab) || !md(&dyf, n, units, dnnl_f32, dnnl_ab))
    return 0;
  if (!make_matmul(&d->fwd, &x, &w, d->s.has_bias ? &bias : NULL, &y, 0) ||
      !make_matmul(&d->bwd_d, &dy, &wt, NULL, &dx, 1) || !make_matmul(&d->bwd_w, &xt, &dy, NULL, &dw, 1))
    return 0;
  if (!(d->f_src = sn_dnnl_memory(&x)) || !(d->f_wei = sn_dnnl_memory(&w)) || !(d->f_bias = sn_dnnl_memory(&bias)) ||
      !(d->f_dst = sn_dnnl_memory(&y)) || !(d->d_src = sn_dnnl_memory(&dy)) || !(d->d_wei = sn_dnnl_memory(&wt)) ||
      !(d->d_dst = sn_dnnl_memory(&dx)) || !(d->w_src = sn_dnnl_memory(&xt)) || !(d->w_wei = sn_dnnl_memory(&dy)) ||
      !(d->w_dst = sn_dnnl_memory(&dw)))
    return 0;
  size_t scratch = d->fwd.scratch_bytes;
  if (d->bwd_d.scratch_bytes > scratch) scratch = d->bwd_d.scratch_bytes;
  if (d->bwd_w.scratch_bytes > scratch) scratch = d->bwd_w.scratch_bytes;
  if (d->bf16) {
    if (sn_dnnl_reorder_create(&d->x_in, &xf, &x, 0, 0) != SN_OK ||
        sn_dnnl_reorder_create(&d->w_in, &wf, &w, 0, 0) != SN_OK ||
        sn_dnnl_reorder_create(&d->dy_in, &dyf, &dy, 0, 0) != SN_OK)
      return 0;
    const sn_dnnl_reorder *rs[3] = {&d->x_in, &d->w_in, &d->dy_in};
    for (int k = 0; k < 3; k++)
      if (sn_dnnl_reorder_scratch(rs[k]) > scratch) scratch = sn_dnnl_reorder_scratch(rs[k]);
    d->x_at = 0;
    d->dy_at = up64((size_t)n * in * 2);
    d->scratch_at = d->dy_at + up64((size_t)n * units * 2);
    if (sn_alloc_floats(((size_t)in * units + 1) / 2, (float **)&d->w_bf16) != SN_OK) return 0;
  }
  d->total = d->scratch_at + scratch;
  const char *impl = "?";
  const_dnnl_primitive_desc_t pd;
  if (dnnl_primitive_get_primitive_desc(d->fwd.prim, &pd) == dnnl_success)
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
  snprintf(d->name, sizeof d->name, "oneDNN matmul %s", impl);
  return 1;
}

sn_dense_onednn *sn_dense_onednn_create(const sn_dense_spec *spec, int max_batch, sn_precision precision) {
  if (!sn_dnnl_engine()) return NULL;
  sn_dense_onednn *d = calloc(1, sizeof *d);
  if (!d) return NULL;
  d->s = *spec;
  d->n = max_batch;
  d->bf16 = precision == SN_PRECISION_BF16;
  if (!build(d)) {
    sn_dense_onednn_destroy(d);
    return NULL;
  }
  return d;
}

void sn_dense_onednn_destroy(sn_dense_onednn *d) {
  if (!d) return;
  sn_dnnl_prim *ps[3] = {&d->fwd, &d->bwd_d, &d->bwd_w};
  for (int k = 0; k < 3; k++) sn_dnnl_prim_destroy(ps[k]);
  dnnl_memory_t ms[10] = {d->f_src, d->f_wei, d->f_bias, d->f_dst, d->d_src,
                          d->d_wei, d->d_dst, d->w_src,  d->w_wei, d->w_dst};
  for (int k = 0; k < 10; k++)
    if (ms[k]) dnnl_memory_destroy(ms[k]);
  sn_dnnl_reorder_destroy(&d->x_in);
  sn_dnnl_reorder_destroy(&d->w_in);
  sn_dnnl_reorder_destroy(&d->dy_in);
  sn_free(d->w_bf16);
  free(d);
}

size_t sn_dense_onednn_workspace(const sn_dense_onednn *d) { return (d->total + 3) / 4; }

const char *sn_dense_onednn_name(const sn_dense_onednn *d) { return d->name; }

/* In bf16, the bf16 copy of a batch-sized f32 input in the workspace; else itself. */
static const void *as_input(const sn_dense_onednn *d, const sn_dnnl_reorder *r, const float *src, size_t off,
                            float *work) {
  if (!d->bf16) return src;
  sn_dnnl_reorder_run(r, 1, src, sn_dnnl_at(work, off), sn_dnnl_at(work, d->scratch_at));
  return sn_dnnl_at(work, off);
}

int sn_dense_onednn_forward(const sn_dense_onednn *d, int batch, const float *x, const float *w,
                            const float *bias, float *y, float *work) {
  if (batch != d->n) return 0;
  const void *wk = w;
  if (d->bf16) {
    sn_dnnl_reorder_run(&d->w_in, 1, w, d->w_bf16, sn_dnnl_at(work, d->scratch_at));
    wk = d->w_bf16;
  }
  sn_dnnl_bind(d->f_src, as_input(d, &d->x_in, x, d->x_at, work));
  sn_dnnl_bind(d->f_wei, wk);
  sn_dnnl_bind(d->f_dst, y);
  dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, d->f_src}, {DNNL_ARG_WEIGHTS, d->f_wei}, {DNNL_ARG_DST, d->f_dst}};
  int nargs = 3;
  if (bias) {
    sn_dnnl_bind(d->f_bias, bias);
    args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, d->f_bias};
  }
  sn_dnnl_run(&d->fwd, sn_dnnl_at(work, d->scratch_at), nargs, args);
  return 1;
}

int sn_dense_onednn_backward_data(const sn_dense_onednn *d, int batch, const float *dpre, const float *w,
                                  float *dx, float *work) {
  if (batch != d->n) return 0;
  /* bf16: forward's copy of this step's kernel (parameters change only after backward) */
  sn_dnnl_bind(d->d_src, as_input(d, &d->dy_in, dpre, d->dy_at, work));
  sn_dnnl_bind(d->d_wei, d->bf16 ? d->w_bf16 : w);
  sn_dnnl_bind(d->d_dst, dx);
  dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, d->d_src}, {DNNL_ARG_WEIGHTS, d->d_wei}, {DNNL_ARG_DST, d->d_dst}};
  sn_dnnl_run(&d->bwd_d, sn_dnnl_at(work, d->scratch_at), 3, args);
  return 1;
}

int sn_dense_onednn_weight_rows(const sn_dense_onednn *d, int batch, const float *x, const float *dpre, int lo,
                                int hi, float *dst, float beta, float *work) {
  if (batch != d->n || lo != 0 || hi != d->s.in || beta != 1.0f) return 0;
  /* bf16: x and dpre are converted again, since other layers have used the workspace
   * since forward (both are small beside the kernel) */
  sn_dnnl_bind(d->w_src, as_input(d, &d->x_in, x, d->x_at, work));
  sn_dnnl_bind(d->w_wei, as_input(d, &d->dy_in, dpre, d->dy_at, work));
  sn_dnnl_bind(d->w_dst, dst);
  dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, d->w_src}, {DNNL_ARG_WEIGHTS, d->w_wei}, {DNNL_ARG_DST, d->w_dst}};
  sn_dnnl_run(&d->bwd_w, sn_dnnl_at(work, d->scratch_at), 3, args);
  return 1;
}

#endif
