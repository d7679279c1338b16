/* The process's oneDNN engine and stream, and the reorders and primitive plumbing
 * the oneDNN kernels share. */
#include "kernels/onednn.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static dnnl_engine_t engine;
static dnnl_stream_t stream;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* Kept for the life of the process (a static pointer, so no leak report): creating
 * an engine costs milliseconds, and every layer of every net uses the same one. */
static void make_engine(void) {
  if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) {
    engine = NULL;
    return;
  }
  if (dnnl_stream_create(&stream, engine, dnnl_stream_default_flags) != dnnl_success) {
    dnnl_engine_destroy(engine);
    engine = NULL;
  }
}

dnnl_engine_t sn_dnnl_engine(void) {
  pthread_once(&once, make_engine);
  return engine;
}

void sn_dnnl_execute(dnnl_primitive_t p, int nargs, const dnnl_exec_arg_t *args) {
  /* The arguments were checked when the primitive was made from their descriptors;
   * a CPU primitive with valid memory does not fail at execution. */
  dnnl_primitive_execute(p, stream, nargs, args);
  dnnl_stream_wait(stream);
}

dnnl_primitive_attr_t sn_dnnl_attr(dnnl_post_ops_t post_ops) {
  dnnl_primitive_attr_t attr;
  if (dnnl_primitive_attr_create(&attr) != dnnl_success) return NULL;
  if (dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) != dnnl_success ||
      (post_ops && dnnl_primitive_attr_set_post_ops(attr, post_ops) != dnnl_success)) {
    dnnl_primitive_attr_destroy(attr);
    return NULL;
  }
  return attr;
}

dnnl_memory_t sn_dnnl_memory(const dnnl_memory_desc_t *md) {
  dnnl_memory_t m;
  return dnnl_memory_create(&m, md, sn_dnnl_engine(), DNNL_MEMORY_NONE) == dnnl_success ? m : NULL;
}

void sn_dnnl_bind(dnnl_memory_t m, const void *ptr) {
  /* oneDNN takes a non-const handle for sources it only reads */
  dnnl_memory_set_data_handle(m, (void *)ptr);
}

sn_status sn_dnnl_prim_create(sn_dnnl_prim *p, const_dnnl_primitive_desc_t pd) {
  memset(p, 0, sizeof *p);
  const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
  p->scratch_bytes = smd ? dnnl_memory_desc_get_size(smd) : 0;
  if (dnnl_primitive_create(&p->prim, pd) != dnnl_success) {
    p->prim = NULL;
    return SN_ERR_UNSUPPORTED;
  }
  if (p->scratch_bytes && !(p->scratch = sn_dnnl_memory(smd))) {
    sn_dnnl_prim_destroy(p);
    return SN_ERR_UNSUPPORTED;
  }
  return SN_OK;
}

void sn_dnnl_run(const sn_dnnl_prim *p, void *scratch, int nargs, dnnl_exec_arg_t *args) {
  if (p->scratch) {
    sn_dnnl_bind(p->scratch, scratch);
    args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, p->scratch};
  }
  sn_dnnl_execute(p->prim, nargs, args);
}

void sn_dnnl_prim_destroy(sn_dnnl_prim *p) {
  if (p->prim) dnnl_primitive_destroy(p->prim);
  if (p->scratch) dnnl_memory_destroy(p->scratch);
  memset(p, 0, sizeof *p);
}

size_t sn_dnnl_sample_md(const dnnl_memory_desc_t *md, dnnl_memory_desc_t *one) {
  if (md->format_kind != dnnl_blocked || md->ndims < 1 || md->offset0 != 0) return 0;
  const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
  for (int k = 0; k < b->inner_nblks; k++)
    if (b->inner_idxs[k] == 0) return 0;
  const size_t n = (size_t)md->padded_dims[0];
  const size_t elem = dnnl_data_type_size(md->data_type);
  /* samples are whole blocks when the batch stride times the batch is the size */
  if (n == 0 || (size_t)b->strides[0] * elem * n != dnnl_memory_desc_get_size(md)) return 0;
  *one = *md;
  one->dims[0] = 1;
  one->padded_dims[0] = 1;
  return (size_t)b->strides[0] * elem;
}

static sn_status make_reorder(sn_dnnl_prim *p, const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dst,
                              int accumulate) {
  dnnl_post_ops_t po = NULL;
  if (accumulate && (dnnl_post_ops_create(&po) != dnnl_success ||
                     dnnl_post_ops_append_sum(po, 1.0f) != dnnl_success)) {
    if (po) dnnl_post_ops_destroy(po);
    return SN_ERR_UNSUPPORTED;
  }
  dnnl_primitive_attr_t attr = sn_dnnl_attr(po);
  if (po) dnnl_post_ops_destroy(po);
  if (!attr) return SN_ERR_UNSUPPORTED;
  dnnl_primitive_desc_t pd;
  dnnl_engine_t eng = sn_dnnl_engine();
  dnnl_status_t s = dnnl_reorder_primitive_desc_create(&pd, src, eng, dst, eng, attr);
  dnnl_primitive_attr_destroy(attr);
  if (s != dnnl_success) return SN_ERR_UNSUPPORTED;
  sn_status st = sn_dnnl_prim_create(p, pd);
  dnnl_primitive_desc_destroy(pd);
  return st;
}

sn_status sn_dnnl_reorder_create(sn_dnnl_reorder *r, const dnnl_memory_desc_t *src,
                                 const dnnl_memory_desc_t *dst, int accumulate, int batched) {
  memset(r, 0, sizeof *r);
  r->n = batched ? (int)src->dims[0] : 0;
  sn_status st = make_reorder(&r->full, src, dst, accumulate);
  if (st != SN_OK) return st;
  if (!(r->src = sn_dnnl_memory(src)) || !(r->dst = sn_dnnl_memory(dst))) return SN_ERR_UNSUPPORTED;
  if (!batched) return SN_OK;
  dnnl_memory_desc_t src1, dst1;
  r->src_stride = sn_dnnl_sample_md(src, &src1);
  r->dst_stride = sn_dnnl_sample_md(dst, &dst1);
  if (!r->src_stride || !r->dst_stride) return SN_ERR_UNSUPPORTED;
  SN_TRY(make_reorder(&r->one, &src1, &dst1, accumulate));
  if (!(r->src1 = sn_dnnl_memory(&src1)) || !(r->dst1 = sn_dnnl_memory(&dst1))) return SN_ERR_UNSUPPORTED;
  return SN_OK;
}

static void run_one(const sn_dnnl_prim *p, dnnl_memory_t src, dnnl_memory_t dst, const void *s, void *d,
                    void *scratch) {
  sn_dnnl_bind(src, s);
  sn_dnnl_bind(dst, d);
  dnnl_exec_arg_t args[3] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}, {DNNL_ARG_SCRATCHPAD, p->scratch}};
  if (p->scratch) sn_dnnl_bind(p->scratch, scratch);
  sn_dnnl_execute(p->prim, p->scratch ? 3 : 2, args);
}

void sn_dnnl_reorder_run(const sn_dnnl_reorder *r, int batch, const void *src, void *dst, void *scratch) {
  if (!r->n || batch >= r->n) {
    run_one(&r->full, r->src, r->dst, src, dst, scratch);
    return;
  }
  for (int s = 0; s < batch; s++)
    run_one(&r->one, r->src1, r->dst1, (const char *)src + (size_t)s * r->src_stride,
            (char *)dst + (size_t)s * r->dst_stride, scratch);
}

size_t sn_dnnl_reorder_scratch(const sn_dnnl_reorder *r) {
  return r->full.scratch_bytes > r->one.scratch_bytes ? r->full.scratch_bytes : r->one.scratch_bytes;
}

void sn_dnnl_reorder_destroy(sn_dnnl_reorder *r) {
  sn_dnnl_prim_destroy(&r->full);
  sn_dnnl_prim_destroy(&r->one);
  dnnl_memory_t m[4] = {r->src, r->dst, r->src1, r->dst1};
  for (int k = 0; k < 4; k++)
    if (m[k]) dnnl_memory_destroy(m[k]);
  memset(r, 0, sizeof *r);
}
