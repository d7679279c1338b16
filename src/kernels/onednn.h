/* What the oneDNN kernels share: one CPU engine and stream for the process, and
 * reorders between the layers' NCHW batches and the layouts oneDNN's primitives
 * choose. Only built with SN_HAVE_ONEDNN; private to src/kernels. */
#ifndef SN_KERNELS_ONEDNN_H
#define SN_KERNELS_ONEDNN_H

#include <stddef.h>

#include <oneapi/dnnl/dnnl.h>

#include "shardnet/status.h"

/* The process's CPU engine and in-order stream, made on first use. NULL engine when
 * oneDNN cannot create one (then every oneDNN kernel declines). */
dnnl_engine_t sn_dnnl_engine(void);
void sn_dnnl_execute(dnnl_primitive_t p, int nargs, const dnnl_exec_arg_t *args);

/* Every primitive gets a user scratchpad (taken from the layers' shared workspace, so
 * nothing is allocated in a step), plus optional post-ops. */
dnnl_primitive_attr_t sn_dnnl_attr(dnnl_post_ops_t post_ops);

/* A primitive with its scratchpad: a memory object with no buffer of its own. */
typedef struct {
  dnnl_primitive_t prim;
  dnnl_memory_t scratch;
  size_t scratch_bytes;
} sn_dnnl_prim;

sn_status sn_dnnl_prim_create(sn_dnnl_prim *p, const_dnnl_primitive_desc_t pd);
/* Executes p with its nargs arguments, adding its scratchpad at `scratch` (args has
 * room for one more). */
void sn_dnnl_run(const sn_dnnl_prim *p, void *scratch, int nargs, dnnl_exec_arg_t *args);

/* The byte at offset off of a kernel's float workspace. */
static inline char *sn_dnnl_at(float *work, size_t off) { return (char *)work + off; }
void sn_dnnl_prim_destroy(sn_dnnl_prim *p);

/* A memory object for md whose buffer is set per call. */
dnnl_memory_t sn_dnnl_memory(const dnnl_memory_desc_t *md);
void sn_dnnl_bind(dnnl_memory_t m, const void *ptr);

/* md with its outermost (batch) dimension set to 1, when samples are whole,
 * equally spaced blocks of it (nchw, nhwc, nChw16c, ... but not layouts that block
 * the batch). Returns the bytes between samples, or 0 when they are not. */
size_t sn_dnnl_sample_md(const dnnl_memory_desc_t *md, dnnl_memory_desc_t *one);

/* A reorder from one layout to another of a batch of n samples, writing (or with
 * accumulate, adding to) its destination. A batch below n is reordered sample by
 * sample (batched reorders only; both layouts must keep samples whole). */
typedef struct {
  sn_dnnl_prim full, one;
  dnnl_memory_t src, dst, src1, dst1;
  size_t src_stride, dst_stride;
  int n;
} sn_dnnl_reorder;

sn_status sn_dnnl_reorder_create(sn_dnnl_reorder *r, const dnnl_memory_desc_t *src,
                                 const dnnl_memory_desc_t *dst, int accumulate, int batched);
/* Runs it over batch samples (batch <= n), with scratch for its scratchpad. */
void sn_dnnl_reorder_run(const sn_dnnl_reorder *r, int batch, const void *src, void *dst, void *scratch);
void sn_dnnl_reorder_destroy(sn_dnnl_reorder *r);
size_t sn_dnnl_reorder_scratch(const sn_dnnl_reorder *r);

#endif
