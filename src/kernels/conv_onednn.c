/* The oneDNN convolution kernel: forward, backward-data and backward-weights
 * primitives (convolution, or deconvolution for a transposed layer) made once for the
 * largest batch, on the blocked layouts oneDNN picks for this CPU (nChw16c and
 * friends: measured twice as fast here as its NCHW path, which is im2col + GEMM like
 * ours). The layers' NCHW batches are reordered in and out at each call; a smaller
 * batch is reordered sample by sample into the same buffers, its missing samples zero.
 * A tensor the net keeps channel-blocked (spec.x_blocked, y_blocked) is already in
 * the primitive's layout when fp32, and then the primitive runs on the net's buffer
 * itself, for all max_batch samples (the net's buffers hold that many; the output
 * gradient's missing samples are zeroed so they add nothing to the kernel gradient).
 * In bf16, activations, weights and output gradients enter as bf16; outputs, input
 * gradients and kernel gradients come out fp32 (fp32 accumulation). All buffers,
 * scratchpads included, live in the layers' shared workspace, but for the bf16 copy
 * of x that forward makes and backward weights reads again (x_kept). */
#include "kernels/conv.h"

#ifndef SN_HAVE_ONEDNN

sn_status sn_conv_onednn_create(const sn_conv_spec *spec, int max_batch, sn_precision precision,
                                void **impl, const sn_conv_impl_ops **ops) {
  return SN_ERR_UNSUPPORTED;
}

#else

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/onednn.h"

/* Byte offsets of the buffers one pass uses in the workspace. */
typedef struct {
  size_t at;
} ws_cursor;

static size_t ws_take(ws_cursor *c, size_t bytes) {
  const size_t at = c->at;
  c->at += (bytes + 63) & ~(size_t)63;
  return at;
}

typedef struct {
  sn_conv_spec s;
  int n;
  int fused;                  /* the activation runs as a post-op of the forward primitive */
  size_t in_size, out_size;   /* floats of one sample */
  char name[96];
  sn_dnnl_prim fwd, bwd_d, bwd_w;
  dnnl_memory_t src, wei, bias, dst;            /* forward's arguments */
  dnnl_memory_t bd_ddst, bd_wei, bd_dsrc;       /* backward data's */
  dnnl_memory_t bw_src, bw_ddst, bw_dwei, bw_dbias;
  sn_dnnl_reorder x_in, w_in, y_out;            /* forward: NCHW/OIHW <-> primitive layouts */
  sn_dnnl_reorder xb_in, dy_in, dw_out;         /* backward weights */
  sn_dnnl_reorder dyd_in, wd_in, dx_out;        /* backward data; dx_out adds into dx */
  sn_dnnl_reorder dx_set;                       /* ... and this one writes it (dx_fresh) */
  int dyd_shared;                               /* backward data reads backward weights' dy */
  /* the primitive runs on the net's blocked buffer, no reorder: forward's x and y,
   * backward weights' x and dy, backward data's dy, and dx when it is written */
  int x_direct, y_direct, xb_direct, dy_direct, dyd_direct, dx_direct;
  /* bf16: forward converts x once into x_kept, which backward weights reads (a layer's
   * backward always follows its forward on the same x), instead of converting again */
  void *x_kept;
  size_t xb_bytes, dy_bytes;                     /* primitive-side batch buffers, for zeroing */
  /* workspace offsets (bytes) */
  size_t f_src, f_wei, f_dst, f_scratch, f_total;
  size_t b_dpre, b_src, b_ddst, b_ddst_d, b_wei, b_dwei, b_dbias, b_dsrc, b_wscratch, b_dscratch, b_total;
} onednn_conv;

static size_t onednn_workspace(const void *impl) {
  const onednn_conv *c = impl;
  const size_t bytes = c->f_total > c->b_total ? c->f_total : c->b_total;
  return (bytes + sizeof(float) - 1) / sizeof(float);
}

static const char *onednn_name(const void *impl) { return ((const onednn_conv *)impl)->name; }

/* Zeroes samples [batch, n) of a primitive-side batch buffer of `bytes`. */
static void zero_tail(const onednn_conv *c, char *buf, size_t bytes, int batch) {
  if (batch >= c->n) return;
  const size_t per = bytes / (size_t)c->n;
  memset(buf + per * (size_t)batch, 0, per * (size_t)(c->n - batch));
}

static void onednn_forward(const void *impl, const sn_conv_fwd_args *a) {
  const onednn_conv *c = impl;
  float *w = a->work;
  void *src = c->x_kept ? c->x_kept : sn_dnnl_at(w, c->f_src);
  if (!c->x_direct) sn_dnnl_reorder_run(&c->x_in, a->batch, a->x, src, sn_dnnl_at(w, c->f_scratch));
  if (c->x_kept) zero_tail(c, c->x_kept, c->xb_bytes, a->batch);
  sn_dnnl_reorder_run(&c->w_in, 1, a->w, sn_dnnl_at(w, c->f_wei), sn_dnnl_at(w, c->f_scratch));
  sn_dnnl_bind(c->src, c->x_direct ? (const void *)a->x : src);
  sn_dnnl_bind(c->wei, sn_dnnl_at(w, c->f_wei));
  sn_dnnl_bind(c->dst, c->y_direct ? (void *)a->y : sn_dnnl_at(w, c->f_dst));
  dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, c->src}, {DNNL_ARG_WEIGHTS, c->wei}, {DNNL_ARG_DST, c->dst}};
  int nargs = 3;
  if (c->s.has_bias) {
    sn_dnnl_bind(c->bias, a->bias);
    args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, c->bias};
  }
  sn_dnnl_run(&c->fwd, sn_dnnl_at(w, c->f_scratch), nargs, args);
  if (!c->y_direct)
    sn_dnnl_reorder_run(&c->y_out, a->batch, sn_dnnl_at(w, c->f_dst), a->y, sn_dnnl_at(w, c->f_scratch));
  if (!c->fused) sn_activation_forward(c->s.act, a->y, (size_t)a->batch * c->out_size);
}

/* The gradient at the pre-activation: dy itself, or dy * act'(y), in place when dy is
 * scratch and else in the workspace. */
static float *pre_activation_grad(const onednn_conv *c, const sn_conv_bwd_args *a) {
  if (c->s.act.kind == SN_ACT_NONE) return a->dy;
  float *dpre = a->dy_scratch ? a->dy : (float *)sn_dnnl_at(a->work, c->b_dpre);
  /* large enough to run on the whole team inside */
  sn_activation_gradient(c->s.act, a->y, a->dy, dpre, (size_t)a->batch * c->out_size);
  return dpre;
}

static void onednn_backward(const void *impl, const sn_conv_bwd_args *a) {
  const onednn_conv *c = impl;
  float *w = a->work;
  void *scratch = sn_dnnl_at(w, c->b_wscratch);
  float *dpre = pre_activation_grad(c, a);

  /* weights: dW += src (x) dpre, db += sum dpre; missing samples are zeros (dy's
   * zeros alone keep a direct x's stale samples out of dW) */
  void *ddst = dpre;
  if (c->dy_direct)
    zero_tail(c, (char *)dpre, (size_t)c->n * c->out_size * sizeof(float), a->batch);
  if (!c->dy_direct) {
    ddst = sn_dnnl_at(w, c->b_ddst);
    sn_dnnl_reorder_run(&c->dy_in, a->batch, dpre, ddst, scratch);
    zero_tail(c, ddst, c->dy_bytes, a->batch);
  }
  const void *src = c->x_kept ? c->x_kept : a->x;
  if (!c->xb_direct && !c->x_kept) {
    src = sn_dnnl_at(w, c->b_src);
    sn_dnnl_reorder_run(&c->xb_in, a->batch, a->x, sn_dnnl_at(w, c->b_src), scratch);
    zero_tail(c, sn_dnnl_at(w, c->b_src), c->xb_bytes, a->batch);
  }
  sn_dnnl_bind(c->bw_src, src);
  sn_dnnl_bind(c->bw_ddst, ddst);
  sn_dnnl_bind(c->bw_dwei, sn_dnnl_at(w, c->b_dwei));
  dnnl_exec_arg_t args[6] = {{DNNL_ARG_SRC, c->bw_src}, {DNNL_ARG_DIFF_DST, c->bw_ddst},
                             {DNNL_ARG_DIFF_WEIGHTS, c->bw_dwei}};
  int nargs = 3;
  if (a->db) {
    sn_dnnl_bind(c->bw_dbias, sn_dnnl_at(w, c->b_dbias));
    args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_BIAS, c->bw_dbias};
  }
  sn_dnnl_run(&c->bwd_w, scratch, nargs, args);
  sn_dnnl_reorder_run(&c->dw_out, 1, sn_dnnl_at(w, c->b_dwei), a->dw, scratch);
  if (a->db) {
    const float *db = (const float *)sn_dnnl_at(w, c->b_dbias);
    for (int k = 0; k < c->s.cout; k++) a->db[k] += db[k];
  }
  if (!a->dx) return;
  SN_ASSERT(!c->s.no_dx);

  /* data: dx += dpre (x)^T W, in buffers laid over the weight pass's dead ones */
  scratch = sn_dnnl_at(w, c->b_dscratch);
  if (!c->dyd_shared) {
    ddst = dpre;
    if (!c->dyd_direct) {
      ddst = sn_dnnl_at(w, c->b_ddst_d);
      sn_dnnl_reorder_run(&c->dyd_in, a->batch, dpre, ddst, scratch);
    }
  }
  sn_dnnl_reorder_run(&c->wd_in, 1, a->w, sn_dnnl_at(w, c->b_wei), scratch);
  /* a written dx in the primitive's layout takes its output directly */
  const int dx_direct = c->dx_direct && a->dx_fresh;
  sn_dnnl_bind(c->bd_ddst, ddst);
  sn_dnnl_bind(c->bd_wei, sn_dnnl_at(w, c->b_wei));
  sn_dnnl_bind(c->bd_dsrc, dx_direct ? (void *)a->dx : sn_dnnl_at(w, c->b_dsrc));
  dnnl_exec_arg_t dargs[4] = {{DNNL_ARG_DIFF_DST, c->bd_ddst}, {DNNL_ARG_WEIGHTS, c->bd_wei},
                              {DNNL_ARG_DIFF_SRC, c->bd_dsrc}};
  sn_dnnl_run(&c->bwd_d, scratch, 3, dargs);
  if (!dx_direct)
    sn_dnnl_reorder_run(a->dx_fresh ? &c->dx_set : &c->dx_out, a->batch, sn_dnnl_at(w, c->b_dsrc), a->dx,
                        scratch);
}

static void onednn_destroy(void *impl) {
  onednn_conv *c = impl;
  if (!c) return;
  sn_dnnl_prim *prims[3] = {&c->fwd, &c->bwd_d, &c->bwd_w};
  for (int k = 0; k < 3; k++) sn_dnnl_prim_destroy(prims[k]);
  dnnl_memory_t mems[11] = {c->src,    c->wei,    c->bias,    c->dst,     c->bd_ddst, c->bd_wei,
                            c->bd_dsrc, c->bw_src, c->bw_ddst, c->bw_dwei, c->bw_dbias};
  for (int k = 0; k < 11; k++)
    if (mems[k]) dnnl_memory_destroy(mems[k]);
  sn_dnnl_reorder *rs[10] = {&c->x_in,   &c->w_in,   &c->y_out, &c->xb_in,  &c->dy_in,
                             &c->dw_out, &c->dyd_in, &c->wd_in, &c->dx_out, &c->dx_set};
  for (int k = 0; k < 10; k++) sn_dnnl_reorder_destroy(rs[k]);
  free(c->x_kept);
  free(c);
}

static const sn_conv_impl_ops onednn_ops = {.workspace = onednn_workspace,
                                            .name = onednn_name,
                                            .takes_blocked = 1,
                                            .forward = onednn_forward,
                                            .backward = onednn_backward,
                                            .destroy = onednn_destroy};

static const dnnl_memory_desc_t *query(const_dnnl_primitive_desc_t pd, dnnl_query_t what) {
  return dnnl_primitive_desc_query_md(pd, what, 0);
}

static size_t md_bytes(const dnnl_memory_desc_t *md) { return dnnl_memory_desc_get_size(md); }

static size_t max3(size_t a, size_t b, size_t c) { return a > b ? (a > c ? a : c) : (b > c ? b : c); }

/* The user-side descriptors and the three operation descriptors. */
typedef struct {
  dnnl_memory_desc_t x, y, w, bias;                 /* NCHW / OIHW (IOHW transposed) fp32 */
  dnnl_memory_desc_t src, wei, dst, ddst, dsrc, dwei; /* format any, at the run precision */
  dnnl_dims_t strides, pad_l, pad_r;
} descs;

static int init_descs(const sn_conv_spec *s, int n, int bf16, descs *d) {
  const sn_conv_geom *g = &s->g;
  const int ih = s->transposed ? g->oh : g->h, iw = s->transposed ? g->ow : g->w;
  const int oh = s->transposed ? g->h : g->oh, ow = s->transposed ? g->w : g->ow;
  const dnnl_dims_t xd = {n, s->cin, ih, iw}, yd = {n, s->cout, oh, ow};
  const dnnl_dims_t wd = {s->cout, s->cin, g->kh, g->kw}, bd = {s->cout};
  const dnnl_data_type_t in = bf16 ? dnnl_bf16 : dnnl_f32;
  int ok = 1;
  const dnnl_format_tag_t x_tag = s->x_blocked ? dnnl_nChw16c : dnnl_nchw;
  const dnnl_format_tag_t y_tag = s->y_blocked ? dnnl_nChw16c : dnnl_nchw;
  ok &= dnnl_memory_desc_init_by_tag(&d->x, 4, xd, dnnl_f32, x_tag) == dnnl_success;
  ok &= dnnl_memory_desc_init_by_tag(&d->y, 4, yd, dnnl_f32, y_tag) == dnnl_success;
  ok &= dnnl_memory_desc_init_by_tag(&d->w, 4, wd, dnnl_f32, s->transposed ? dnnl_iohw : dnnl_oihw) ==
        dnnl_success;
  ok &= dnnl_memory_desc_init_by_tag(&d->bias, 1, bd, dnnl_f32, dnnl_a) == dnnl_success;
  ok &= dnnl_memory_desc_init_by_tag(&d->src, 4, xd, in, dnnl_format_tag_any) == dnnl_success;
  ok &= dnnl_memory_desc_init_by_tag(&d->wei, 4, wd, in, dnnl_format_tag_any) == dnnl_success;
  ok &= dnnl_memory_desc_init_by_tag(&d->dst, 4, yd, dnnl_f32, dnnl_format_tag_any) == dnnl_success;
  ok &= dnnl_memory_desc_init_by_tag(&d->ddst, 4, yd, in, dnnl_format_tag_any) == dnnl_success;
  ok &= dnnl_memory_desc_init_by_tag(&d->dsrc, 4, xd, dnnl_f32, dnnl_format_tag_any) == dnnl_success;
  ok &= dnnl_memory_desc_init_by_tag(&d->dwei, 4, wd, dnnl_f32, dnnl_format_tag_any) == dnnl_success;
  d->strides[0] = g->sh, d->strides[1] = g->sw;
  d->pad_l[0] = g->pt, d->pad_l[1] = g->pl;
  d->pad_r[0] = s->pb, d->pad_r[1] = s->pr;
  return ok;
}

/* The forward primitive descriptor, the activation fused when oneDNN has it exactly. */
static dnnl_primitive_desc_t make_forward(const sn_conv_spec *s, descs *d, int *fused) {
  dnnl_convolution_desc_t od;
  const dnnl_memory_desc_t *bias = s->has_bias ? &d->bias : NULL;
  dnnl_status_t st =
      s->transposed
          ? dnnl_deconvolution_forward_desc_init(&od, dnnl_forward_training, dnnl_deconvolution_direct,
                                                 &d->src, &d->wei, bias, &d->dst, d->strides, d->pad_l,
                                                 d->pad_r)
          : dnnl_convolution_forward_desc_init(&od, dnnl_forward_training, dnnl_convolution_direct, &d->src,
                                               &d->wei, bias, &d->dst, d->strides, d->pad_l, d->pad_r);
  if (st != dnnl_success) return NULL;
  /* relu and leaky relu are the same max/scale in oneDNN's eltwise; the smooth ones
   * (elu, sigmoid, tanh) use their own approximations, so shardnet applies those */
  *fused = s->act.kind == SN_ACT_RELU || s->act.kind == SN_ACT_LEAKY_RELU;
  dnnl_post_ops_t po = NULL;
  if (*fused) {
    const float alpha = s->act.kind == SN_ACT_LEAKY_RELU ? s->act.alpha : 0.0f;
    if (dnnl_post_ops_create(&po) != dnnl_success) return NULL;
    if (dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, alpha, 0.0f) != dnnl_success) {
      dnnl_post_ops_destroy(po);
      return NULL;
    }
  }
  dnnl_primitive_attr_t attr = sn_dnnl_attr(po);
  if (po) dnnl_post_ops_destroy(po);
  if (!attr) return NULL;
  dnnl_primitive_desc_t pd = NULL;
  if (dnnl_primitive_desc_create(&pd, &od, attr, sn_dnnl_engine(), NULL) != dnnl_success) pd = NULL;
  dnnl_primitive_attr_destroy(attr);
  return pd;
}

static dnnl_primitive_desc_t make_backward(const sn_conv_spec *s, descs *d, int weights,
                                           const_dnnl_primitive_desc_t hint) {
  dnnl_convolution_desc_t od;
  const dnnl_memory_desc_t *dbias = s->has_bias ? &d->bias : NULL;
  dnnl_status_t st;
  if (weights)
    st = s->transposed ? dnnl_deconvolution_backward_weights_desc_init(&od, dnnl_deconvolution_direct, &d->src,
                                                                       &d->dwei, dbias, &d->ddst, d->strides,
                                                                       d->pad_l, d->pad_r)
                       : dnnl_convolution_backward_weights_desc_init(&od, dnnl_convolution_direct, &d->src,
                                                                     &d->dwei, dbias, &d->ddst, d->strides,
                                                                     d->pad_l, d->pad_r);
  else
    st = s->transposed ? dnnl_deconvolution_backward_data_desc_init(&od, dnnl_deconvolution_direct, &d->dsrc,
                                                                    &d->wei, &d->ddst, d->strides, d->pad_l,
                                                                    d->pad_r)
                       : dnnl_convolution_backward_data_desc_init(&od, dnnl_convolution_direct, &d->dsrc,
                                                                  &d->wei, &d->ddst, d->strides, d->pad_l,
                                                                  d->pad_r);
  if (st != dnnl_success) return NULL;
  dnnl_primitive_attr_t attr = sn_dnnl_attr(NULL);
  if (!attr) return NULL;
  dnnl_primitive_desc_t pd = NULL;
  if (dnnl_primitive_desc_create(&pd, &od, attr, sn_dnnl_engine(), hint) != dnnl_success) pd = NULL;
  dnnl_primitive_attr_destroy(attr);
  return pd;
}

/* Makes the memories and reorders once the three primitive descriptors exist. */
static sn_status build(onednn_conv *c, const descs *d, int bf16, const_dnnl_primitive_desc_t fpd,
                       const_dnnl_primitive_desc_t dpd, const_dnnl_primitive_desc_t wpd) {
  SN_TRY(sn_dnnl_prim_create(&c->fwd, fpd));
  SN_TRY(sn_dnnl_prim_create(&c->bwd_d, dpd));
  SN_TRY(sn_dnnl_prim_create(&c->bwd_w, wpd));
  const dnnl_memory_desc_t *src = query(fpd, dnnl_query_src_md), *wei = query(fpd, dnnl_query_weights_md),
                           *dst = query(fpd, dnnl_query_dst_md);
  const dnnl_memory_desc_t *bd_ddst = query(dpd, dnnl_query_diff_dst_md),
                           *bd_wei = query(dpd, dnnl_query_weights_md),
                           *bd_dsrc = query(dpd, dnnl_query_diff_src_md);
  const dnnl_memory_desc_t *bw_src = query(wpd, dnnl_query_src_md),
                           *bw_ddst = query(wpd, dnnl_query_diff_dst_md),
                           *bw_dwei = query(wpd, dnnl_query_diff_weights_md);
  if (!(c->src = sn_dnnl_memory(src)) || !(c->wei = sn_dnnl_memory(wei)) || !(c->dst = sn_dnnl_memory(dst)) ||
      !(c->bias = sn_dnnl_memory(&d->bias)) || !(c->bd_ddst = sn_dnnl_memory(bd_ddst)) ||
      !(c->bd_wei = sn_dnnl_memory(bd_wei)) || !(c->bd_dsrc = sn_dnnl_memory(bd_dsrc)) ||
      !(c->bw_src = sn_dnnl_memory(bw_src)) || !(c->bw_ddst = sn_dnnl_memory(bw_ddst)) ||
      !(c->bw_dwei = sn_dnnl_memory(bw_dwei)) || !(c->bw_dbias = sn_dnnl_memory(&d->bias)))
    return SN_ERR_UNSUPPORTED;
  SN_TRY(sn_dnnl_reorder_create(&c->x_in, &d->x, src, 0, 1));
  SN_TRY(sn_dnnl_reorder_create(&c->w_in, &d->w, wei, 0, 0));
  SN_TRY(sn_dnnl_reorder_create(&c->y_out, dst, &d->y, 0, 1));
  SN_TRY(sn_dnnl_reorder_create(&c->xb_in, &d->x, bw_src, 0, 1));
  SN_TRY(sn_dnnl_reorder_create(&c->dy_in, &d->y, bw_ddst, 0, 1));
  SN_TRY(sn_dnnl_reorder_create(&c->dw_out, bw_dwei, &d->w, 1, 0));
  c->dyd_shared = dnnl_memory_desc_equal(bd_ddst, bw_ddst);
  if (!c->dyd_shared) SN_TRY(sn_dnnl_reorder_create(&c->dyd_in, &d->y, bd_ddst, 0, 1));
  SN_TRY(sn_dnnl_reorder_create(&c->wd_in, &d->w, bd_wei, 0, 0));
  SN_TRY(sn_dnnl_reorder_create(&c->dx_out, bd_dsrc, &d->x, 1, 1));
  SN_TRY(sn_dnnl_reorder_create(&c->dx_set, bd_dsrc, &d->x, 0, 1));
  c->xb_bytes = md_bytes(bw_src);
  c->dy_bytes = md_bytes(bw_ddst);
  /* only the net's own blocked buffers: a plain x may be the caller's input, sized
   * for the batch at hand */
  const int xb = c->s.x_blocked, yb = c->s.y_blocked;
  c->x_direct = xb && dnnl_memory_desc_equal(src, &d->x);
  c->y_direct = yb && dnnl_memory_desc_equal(dst, &d->y);
  c->xb_direct = xb && dnnl_memory_desc_equal(bw_src, &d->x);
  c->dy_direct = yb && dnnl_memory_desc_equal(bw_ddst, &d->y);
  c->dyd_direct = yb && dnnl_memory_desc_equal(bd_ddst, &d->y);
  c->dx_direct = xb && dnnl_memory_desc_equal(bd_dsrc, &d->x);
  /* (in fp32 the second conversion is a plain reorder, cheaper than the memory) */
  if (bf16 && !c->x_direct && !c->xb_direct && dnnl_memory_desc_equal(src, bw_src)) {
    c->x_kept = aligned_alloc(64, (c->xb_bytes + 63) & ~(size_t)63);
    if (!c->x_kept) return sn_fail(SN_ERR_NOMEM, "cannot allocate a convolution's bf16 input");
  }

  /* forward: src | weights | dst | scratch */
  ws_cursor f = {0};
  c->f_src = ws_take(&f, c->x_direct || c->x_kept ? 0 : md_bytes(src));
  c->f_wei = ws_take(&f, md_bytes(wei));
  c->f_dst = ws_take(&f, c->y_direct ? 0 : md_bytes(dst));
  c->f_scratch = ws_take(&f, 0);
  f.at += max3(c->fwd.scratch_bytes, sn_dnnl_reorder_scratch(&c->x_in),
               sn_dnnl_reorder_scratch(&c->w_in) > sn_dnnl_reorder_scratch(&c->y_out)
                   ? sn_dnnl_reorder_scratch(&c->w_in)
                   : sn_dnnl_reorder_scratch(&c->y_out));
  c->f_total = f.at;

  /* backward, two phases over one region: dpre (when not in dy) and ddst, which
   * backward data may share, stay; the weight pass's src | dweights | dbias | scratch
   * are dead once dW is out, and the data pass lays its ddst (when not shared) |
   * weights | dsrc | scratch over them */
  ws_cursor b = {0};
  const int dpre_in_ws = c->s.act.kind != SN_ACT_NONE && !c->s.dy_scratch;
  c->b_dpre = ws_take(&b, dpre_in_ws ? (size_t)c->n * c->out_size * sizeof(float) : 0);
  c->b_ddst = ws_take(&b, c->dy_direct ? 0 : c->dy_bytes);
  ws_cursor dp = b;
  c->b_src = ws_take(&b, c->xb_direct || c->x_kept ? 0 : c->xb_bytes);
  c->b_dwei = ws_take(&b, md_bytes(bw_dwei));
  c->b_dbias = ws_take(&b, (size_t)c->s.cout * sizeof(float));
  c->b_wscratch = ws_take(&b, 0);
  const sn_dnnl_reorder *wr[3] = {&c->xb_in, &c->dy_in, &c->dw_out};
  b.at += max3(c->bwd_w.scratch_bytes, sn_dnnl_reorder_scratch(wr[0]),
               max3(0, sn_dnnl_reorder_scratch(wr[1]), sn_dnnl_reorder_scratch(wr[2])));
  if (!c->s.no_dx) {
    c->b_ddst_d = ws_take(&dp, c->dyd_shared || c->dyd_direct ? 0 : md_bytes(bd_ddst));
    c->b_wei = ws_take(&dp, md_bytes(bd_wei));
    c->b_dsrc = ws_take(&dp, md_bytes(bd_dsrc));
    c->b_dscratch = ws_take(&dp, 0);
    const sn_dnnl_reorder *dr[4] = {&c->dyd_in, &c->wd_in, &c->dx_out, &c->dx_set};
    dp.at += max3(c->bwd_d.scratch_bytes, sn_dnnl_reorder_scratch(dr[0]),
                  max3(sn_dnnl_reorder_scratch(dr[1]), sn_dnnl_reorder_scratch(dr[2]),
                       sn_dnnl_reorder_scratch(dr[3])));
  }
  c->b_total = b.at > dp.at ? b.at : dp.at;
  const char *impl = "?";
  dnnl_primitive_desc_query(fpd, dnnl_query_impl_info_str, 0, &impl);
  snprintf(c->name, sizeof c->name, "oneDNN %s", impl);
  return SN_OK;
}

sn_status sn_conv_onednn_create(const sn_conv_spec *spec, int max_batch, sn_precision precision,
                                void **impl, const sn_conv_impl_ops **ops) {
  /* oneDNN has no rotated kernels, and its deconvolution no output rows past the
   * kernel's reach (negative trailing padding): those run natively */
  if (spec->g.flip || spec->pb < 0 || spec->pr < 0 || !sn_dnnl_engine()) return SN_ERR_UNSUPPORTED;
  const int bf16 = precision == SN_PRECISION_BF16;
  onednn_conv *c = calloc(1, sizeof *c);
  if (!c) return sn_fail(SN_ERR_NOMEM, "cannot allocate a convolution kernel");
  c->s = *spec;
  c->n = max_batch;
  const sn_conv_geom *g = &spec->g;
  const size_t image = (size_t)g->c * g->h * g->w;
  const size_t grid = (size_t)(spec->transposed ? spec->cin : spec->cout) * g->oh * g->ow;
  c->in_size = spec->transposed ? grid : image;
  c->out_size = spec->transposed ? image : grid;
  descs d;
  dnnl_primitive_desc_t fpd = NULL, dpd = NULL, wpd = NULL;
  sn_status st = SN_ERR_UNSUPPORTED;
  if (init_descs(spec, max_batch, bf16, &d) && (fpd = make_forward(spec, &d, &c->fused)) &&
      (dpd = make_backward(spec, &d, 0, fpd)) && (wpd = make_backward(spec, &d, 1, fpd)))
    st = build(c, &d, bf16, fpd, dpd, wpd);
  if (fpd) dnnl_primitive_desc_destroy(fpd);
  if (dpd) dnnl_primitive_desc_destroy(dpd);
  if (wpd) dnnl_primitive_desc_destroy(wpd);
  if (st != SN_OK) {
    onednn_destroy(c);
    return st;
  }
  *impl = c;
  *ops = &onednn_ops;
  return SN_OK;
}

#endif
