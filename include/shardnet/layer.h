/* The layer interface: every layer type is one file in src/layers implementing one
 * sn_layer_ops table. Layers know nothing of MPI, HDF5 or YAML: they read their
 * hyperparameters from sn_args, infer shapes, declare parameter tensors (which the
 * net places in its arenas), and run forward and backward on NCHW batches. */
#ifndef SHARDNET_LAYER_H
#define SHARDNET_LAYER_H

#include <stddef.h>
#include <stdint.h>

#include "shardnet/args.h"
#include "shardnet/kernels.h"
#include "shardnet/rng.h"
#include "shardnet/shape.h"
#include "shardnet/status.h"

#define SN_MAX_INPUTS 8
#define SN_MAX_PARAMS 4
#define SN_NAME_CAP 64

typedef enum {
  SN_INIT_ZEROS,
  SN_INIT_ONES,
  SN_INIT_HE_NORMAL,
  SN_INIT_HE_UNIFORM,
  SN_INIT_XAVIER_NORMAL,
  SN_INIT_XAVIER_UNIFORM
} sn_init_kind;

/* One parameter tensor of a layer: shape in shardnet's memory order (a conv kernel
 * is (cout, cin, kh, kw), a dense kernel (in, out)), and views into the arenas. */
typedef struct {
  char name[16];       /* Keras weight name: kernel, bias, gamma, beta, moving_mean... */
  int ndim;
  int dims[4];
  size_t count;
  int fan_in, fan_out; /* for He/Xavier */
  sn_init_kind init;
  int trainable;       /* 0: running statistics, kept in the state arena, no gradient */
  int by_rows;         /* backward builds the gradient with sn_param_grad_rows */
  float *data;         /* set by the net */
  float *grad;         /* set by the net; NULL when not trainable */
  /* How the Keras HDF5 layout stores this tensor: keras_order[k] is the memory
   * dimension that is Keras's dimension k (a conv kernel (cout, cin, kh, kw) is
   * stored (kh, kw, cin, cout): {2, 3, 1, 0}); keras_flip rotates the two spatial
   * dimensions by 180 degrees (true convolution saved for a cross-correlating
   * framework). Set with sn_param_keras_layout; identity by default. */
  int keras_order[4];
  int keras_flip;
} sn_param;

/* Sets the Keras storage order of a parameter tensor (see sn_param). */
void sn_param_keras_layout(sn_param *p, const int *order, int flip);

/* Element-wise activations, shared by the activation layers and the fused
 * `activation:` key of conv2d, conv2d_transpose and dense. */
typedef enum {
  SN_ACT_NONE,
  SN_ACT_RELU,
  SN_ACT_LEAKY_RELU,
  SN_ACT_ELU,
  SN_ACT_SIGMOID,
  SN_ACT_TANH
} sn_act_kind;

typedef struct {
  sn_act_kind kind;
  float alpha; /* leaky_relu slope (default 0.01), elu scale (default 1) */
} sn_activation;

/* The activation names in sn_act_kind order ("none", "relu", ...). */
extern const char *const sn_activation_names[6];

/* Sums `count` doubles across all ranks in place (batch-norm `sync: true`). NULL
 * means this process alone. */
typedef struct {
  void (*sum)(void *ctx, double *values, int count);
  void *ctx;
} sn_reducer;

/* Builds rows [lo, hi) of a parameter gradient, seen as dims[0] rows of
 * count / dims[0] floats, from this rank's samples: writes them to dst (the first
 * float of row lo) when beta is 0, adds them to it when beta is 1. */
typedef void (*sn_grad_rows_fn)(void *ctx, int lo, int hi, float *dst, float beta);

/* Where backward's gradients built by rows go. With build NULL, all rows are added
 * into p->grad. A builder may instead split the rows among the ranks of a node that
 * share memory and have them take turns, so the node's sum lands in place without a
 * separate reduction (grad_sync.h). */
typedef struct {
  void (*build)(void *ctx, const sn_param *p, sn_grad_rows_fn fn, void *fn_ctx);
  void *ctx;
} sn_grad_builder;

/* What forward gets. `in[k]` are the input batches, `out` the layer's output batch. */
typedef struct {
  int batch;                   /* local samples in this call */
  int training;                /* 1: training mode (dropout on, batch statistics) */
  const float *in[SN_MAX_INPUTS];
  float *out;
  float *aux;                  /* this layer's saved-for-backward buffer (aux_floats) */
  float *work;                 /* shared scratch (workspace_floats), clobbered by others */
  sn_rng_key rng;              /* seed, epoch, stream = layer index */
  uint64_t first_sample;       /* global index of local sample 0, for per-sample RNG */
  sn_reducer reducer;
  int threads;                 /* OpenMP threads the workspace was sized for: use no more */
} sn_fwd;

/* What backward gets. It ADDS the input gradients into din[k] (the net zeroes them
 * first, so fan-out sums naturally) and ADDS parameter gradients into param grads.
 * din[k] is NULL when nobody needs that gradient (the network input). A layer whose
 * ops set fresh_din may find bit k of din_fresh set: din[k] then holds stale values
 * and the layer WRITES it instead (it is the first to add into it, so the net skips
 * a pass clearing it). */
typedef struct {
  int batch;
  const float *in[SN_MAX_INPUTS];
  const float *out;
  /* The gradient at this layer's output. Dead once this backward returns, so when
   * dout_scratch is set (prepared with output_grad_scratch) the layer may overwrite
   * it instead of taking a workspace buffer of its size; the loss-facing layer's
   * belongs to the caller. */
  float *dout;
  int dout_scratch;
  float *din[SN_MAX_INPUTS];
  unsigned din_fresh;
  float *aux;
  float *work;
  sn_rng_key rng;
  uint64_t first_sample;
  sn_reducer reducer;
  sn_grad_builder builder;
  int threads;                 /* as in sn_fwd */
} sn_bwd;

/* Backward's way to a gradient marked by_rows: fn builds its rows, all at once into
 * p->grad (beta 1) or in turns as b->builder decides. */
void sn_param_grad_rows(const sn_bwd *b, const sn_param *p, sn_grad_rows_fn fn, void *ctx);

/* Blocked layout: a (C, H, W) tensor whose C is a multiple of SN_BLOCK may be kept
 * channel-blocked between layers that all take it (oneDNN's nChw16c: sample, C/16
 * blocks, H, W, 16 channels), so that oneDNN convolutions need no reorder in or out.
 * Its gradient has the same layout. src/net/layout.c decides, from what each layer
 * says it can do (sn_layer_ops.blocked): */
#define SN_BLOCK 16
enum {
  SN_BLOCKED_IN = 1,   /* takes blocked inputs */
  SN_BLOCKED_OUT = 2,  /* can write its output blocked */
  SN_BLOCKED_SAME = 4, /* ... and then only when its inputs are: element-wise or per-channel layers */
};

/* What sn_net_reserve tells a layer before any pass: the largest batch, the OpenMP
 * threads the workspace is sized for, which kernels to make at which precision,
 * whether backward will get its dout as scratch (sn_bwd.dout_scratch), and whether
 * din stays NULL (it reads only the network input, whose gradient nobody wants): a
 * kernel then sizes no buffers for it. blocked_in (bit k: input k) and blocked_out
 * say which tensors are blocked; a layer is prepared again when they change. */
typedef struct {
  int max_batch;
  int threads;
  sn_precision precision;
  sn_kernel_set kernels;
  int output_grad_scratch;
  int no_input_grad;
  unsigned blocked_in;
  int blocked_out;
} sn_prepare;

typedef struct sn_layer sn_layer;

typedef struct sn_layer_ops {
  const char *type;
  int min_inputs, max_inputs;
  /* Reads hyperparameters from args into l->impl (allocated here). */
  sn_status (*parse)(sn_layer *l, sn_args *args);
  /* From l->in_shape[0..n_inputs-1]: sets l->out_shape and l->params, or fails with a
   * message naming the layer and the shapes that do not fit. */
  sn_status (*infer)(sn_layer *l);
  /* Makes what forward and backward need for batches of up to p->max_batch (kernel
   * primitives, chosen once here and never inside a step); NULL means nothing. Called
   * by sn_net_reserve before workspace_floats. */
  sn_status (*prepare)(sn_layer *l, const sn_prepare *p);
  /* Which kernel runs the layer ("native", "oneDNN jit:avx512_core", ...) once
   * prepared; NULL for layers without a choice. */
  const char *(*kernel_name)(const sn_layer *l);
  /* Scratch floats needed for a batch run by up to `threads` OpenMP threads (shared
   * across layers); NULL means none. */
  size_t (*workspace_floats)(const sn_layer *l, int batch, int threads);
  /* Floats kept from forward to backward for a batch; NULL means none. */
  size_t (*aux_floats)(const sn_layer *l, int batch);
  /* Set for a reshape (flatten): the output holds the input's values in the input's
   * order, so the net may hand forward the input's own buffer as f->out. */
  int output_is_input;
  /* Set when backward honours sn_bwd.din_fresh. */
  int fresh_din;
  /* SN_BLOCKED_* bits, once prepared (a convolution can when its kernel is oneDNN's);
   * NULL means none: the layer reads and writes plain (C, H, W). */
  unsigned (*blocked)(const sn_layer *l);
  void (*forward)(sn_layer *l, const sn_fwd *f);
  void (*backward)(sn_layer *l, const sn_bwd *b);
  /* Forward multiply-adds x2 for one sample; NULL means zero. */
  double (*flops)(const sn_layer *l);
  /* Receptive-field recurrence: effective kernel and stride (stride < 1 upsamples);
   * NULL means 1 and 1. */
  void (*receptive)(const sn_layer *l, double *kernel, double *stride);
  /* Frees l->impl beyond free(); NULL means plain free(). */
  void (*destroy)(sn_layer *l);
} sn_layer_ops;

struct sn_layer {
  const sn_layer_ops *ops;
  char name[SN_NAME_CAP];
  int index;                       /* position in the net, also its RNG stream */
  int n_inputs;
  int inputs[SN_MAX_INPUTS];       /* producer layer indices, -1 = the network input */
  sn_shape in_shape[SN_MAX_INPUTS];
  sn_shape out_shape;
  int n_params;
  sn_param params[SN_MAX_PARAMS];
  char source[256];                /* config file and line, for messages */
  int line;
  void *impl;                      /* the layer type's own hyperparameters */
};

/* The ops table for a type name ("conv2d"), or NULL. */
const sn_layer_ops *sn_layer_ops_find(const char *type);
/* All registered types, NULL-terminated (for messages and docs). */
const sn_layer_ops *const *sn_layer_ops_all(void);

/* Fails with SN_ERR_SHAPE: "<source>:<line>: layer 'name' (type): message". */
sn_status sn_layer_fail(const sn_layer *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Declares parameter tensor l->params[l->n_params++]. */
sn_param *sn_layer_add_param(sn_layer *l, const char *name, int ndim, const int *dims,
                             int fan_in, int fan_out, sn_init_kind init, int trainable);

/* Parses the `activation:` key (default none) with its optional `alpha:`. */
sn_status sn_parse_activation(sn_args *args, sn_activation *out);
/* Reads `alpha:` for act->kind (leaky_relu default 0.01, elu default 1). */
sn_status sn_parse_activation_alpha(sn_args *args, sn_activation *act);
/* The default `init:` for a layer with this fused activation: He normal for the
 * relu family (relu, leaky_relu, elu), Xavier uniform otherwise. */
sn_init_kind sn_default_init(sn_activation act);
/* Parses the `init:` key (he_normal, he_uniform, xavier_normal, xavier_uniform). */
sn_status sn_parse_init(sn_args *args, sn_init_kind dflt, sn_init_kind *out);

/* y = act(y) in place over n values. */
void sn_activation_forward(sn_activation act, float *y, size_t n);
/* The same from x into y (which may be x). */
void sn_activation_apply(sn_activation act, const float *x, float *y, size_t n);
/* dx += dy * act'(.) written through the output y (every supported activation's
 * derivative is a function of its output). */
void sn_activation_backward(sn_activation act, const float *y, const float *dy, float *dx,
                            size_t n);
/* dpre = dy * act'(.) (one pass: what a layer with a fused activation hands its
 * kernels as the gradient at the pre-activation). dpre may be dy. */
void sn_activation_gradient(sn_activation act, const float *y, const float *dy, float *dpre, size_t n);

#endif
