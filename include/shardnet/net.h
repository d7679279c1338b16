/* A network: a graph of layers in topological order, its parameter, gradient and
 * state arenas, and the per-batch activation buffers. Built from an sn_model_spec
 * (what a config's `model:` section says), independent of YAML, MPI and HDF5. */
#ifndef SHARDNET_NET_H
#define SHARDNET_NET_H

#include <stdint.h>
#include <stdio.h>

#include "shardnet/layer.h"

typedef enum { SN_LOSS_SOFTMAX_CROSS_ENTROPY, SN_LOSS_MSE } sn_loss_kind;

/* The `loss:` names in sn_loss_kind order ("softmax_cross_entropy", "mse"). */
extern const char *const sn_loss_names[2];

/* The most layers a model may have. */
#define SN_MAX_LAYERS 4096

/* One layer as configured. */
typedef struct {
  char type[32];
  char name[SN_NAME_CAP];      /* "" lets the net name it <type>_<k> */
  int n_inputs;                /* 0 reads the previous layer (or the network input) */
  char inputs[SN_MAX_INPUTS][SN_NAME_CAP];
  sn_args *args;               /* owned; the layer type's own keys */
  int line;
} sn_layer_spec;

typedef struct {
  char source[256];            /* config file name, for messages */
  sn_shape input;              /* per-sample input shape (C, H, W) */
  int n_layers, capacity;
  sn_layer_spec *layers;
  sn_loss_kind loss;
} sn_model_spec;

/* Appends a layer; takes ownership of args (freed on failure too). */
sn_status sn_model_spec_add(sn_model_spec *spec, const char *type, const char *name,
                            sn_args *args, int line, int n_inputs, const char *const *inputs);
void sn_model_spec_clear(sn_model_spec *spec);
/* The name every layer has in the net built from spec: its own, or for an unnamed
 * layer Keras's <type>_<k>, k counting the layers of that type so far and skipping
 * names earlier layers hold. names has room for spec->n_layers names. */
void sn_model_spec_names(const sn_model_spec *spec, char (*names)[SN_NAME_CAP]);

/* Options of one forward/backward pass. */
typedef struct {
  int training;             /* dropout and batch statistics on */
  uint64_t seed;
  uint32_t epoch;
  uint64_t first_sample;    /* global index of the first local sample (per-sample RNG) */
  sn_reducer reducer;       /* for batch-norm sync; zero = this process only */
  sn_grad_builder builder;  /* for gradients built by rows; zero = added in place */
  /* Called after each layer's backward, last layer first (gradient bucketing). */
  void (*after_backward)(void *ctx, int layer);
  void *hook_ctx;
  /* Called with each layer's start and end time (sn_now) in forward and backward
   * (traces); NULL for none. */
  void (*on_layer)(void *ctx, int layer, int backward, double start, double end);
  void *layer_ctx;
} sn_pass;

/* The buffers behind dacts (src/net/grad_plan.c): layers whose output gradients are
 * never live at once share one; zero_at[j] is the backward step that clears j's. */
typedef struct {
  float **pools;
  int n_pools;
  int *zero_at;
} sn_grad_plan;

typedef struct sn_net {
  sn_shape input_shape;
  sn_loss_kind loss;
  int n_layers;
  sn_layer *layers;
  /* Arenas: trainable parameters and their gradients share one layout; running
   * statistics live apart because nothing optimizes or reduces them. */
  size_t n_params, n_state;
  float *params, *grads, *state;
  int borrowed_params, borrowed_grads;   /* bound with sn_net_bind_arenas: not ours to free */
  /* Per-batch buffers, sized by sn_net_reserve. */
  int max_batch;
  float **acts, **dacts, **aux;   /* dacts[i] is valid only during backward */
  int *blocked;                   /* acts[i] and dacts[i] are channel-blocked (src/net/layout.c) */
  sn_grad_plan dact_plan;
  float *work;
  size_t work_floats;
  int threads;              /* OpenMP threads at sn_net_reserve: the workspace fits that many */
  sn_precision precision;   /* what sn_net_reserve makes the kernels for (sn_net_set_kernels) */
  sn_kernel_set kernels;
  float *dinput;            /* gradient w.r.t. the network input, if reserved */
  /* Per-layer seconds of the last pass, filled when profile is set. */
  int profile;
  double *fwd_seconds, *bwd_seconds;
} sn_net;

/* Builds the graph, parses every layer, infers shapes and allocates the arenas.
 * Fails with a message naming the config line and layer that cannot work. */
sn_status sn_net_create(const sn_model_spec *spec, sn_net **out);
void sn_net_destroy(sn_net *net);

/* Moves the parameter and/or gradient arena (NULL keeps that one) to n_params floats
 * the caller owns, such as memory shared by the ranks of a node: every tensor's views
 * follow, the net's own arena is freed, and the net never frees the caller's. The
 * contents are not copied. */
void sn_net_bind_arenas(sn_net *net, float *params, float *grads);

/* He/Xavier initialisation from the seed alone: identical on every rank. */
void sn_net_init_params(sn_net *net, uint64_t seed);

/* The kernel set and precision the next sn_net_reserve prepares the layers for
 * (default: sn_kernels_default(), fp32). bf16 where the CPU cannot run it natively is
 * the caller's to refuse or fall back from (sn_kernels_bf16_native). */
void sn_net_set_kernels(sn_net *net, sn_kernel_set set, sn_precision precision);

/* Allocates activations, gradients and scratch for batches of up to max_batch;
 * with want_input_grad, backward also fills net->dinput. */
sn_status sn_net_reserve(sn_net *net, int max_batch, int want_input_grad);

/* x holds batch samples of input_shape. */
void sn_net_forward(sn_net *net, const float *x, int batch, const sn_pass *pass);
/* The buffer the loss writes d(loss)/d(output) into before sn_net_backward. */
float *sn_net_output_grad(sn_net *net);
/* Backpropagates from sn_net_output_grad; adds into net->grads. */
void sn_net_backward(sn_net *net, const float *x, int batch, const sn_pass *pass);
void sn_net_zero_grad(sn_net *net);

const float *sn_net_output(const sn_net *net);
sn_shape sn_net_output_shape(const sn_net *net);
/* Index of the layer called name, or -1. */
int sn_net_find_layer(const sn_net *net, const char *name);
/* Output of layer i for the last forward pass, in the layout the net keeps it
 * (net->blocked[i]: channel-blocked); sn_net_copy_output gives plain (C, H, W). */
const float *sn_net_layer_output(const sn_net *net, int i);
/* Copies samples [first, first + count) of layer i's last output to dst, plain. */
void sn_net_copy_output(const sn_net *net, int i, int first, int count, float *dst);
/* src/net/layout.c, for sn_net_reserve: which outputs stay blocked (blocked[i]), from
 * the prepared layers' SN_BLOCKED_* bits; and the bits of layer i's blocked inputs. */
void sn_layout_plan(const sn_net *net, int *blocked);
unsigned sn_layout_inputs(const sn_net *net, int i);

/* Receptive field and jump (input pixels per output pixel step) of each layer. */
void sn_net_receptive_fields(const sn_net *net, double *field, double *jump);
/* One layer's line of the summary. */
typedef struct {
  const char *name, *type;
  sn_shape out;
  size_t params;            /* trainable */
  double flops;             /* forward, per sample */
  double field, jump;       /* receptive field and jump */
} sn_summary_row;
/* rows[0..n_layers): the summary of each layer. */
sn_status sn_net_summary(const sn_net *net, sn_summary_row *rows);
/* Prints the per-layer table: name, type, output shape, parameters, FLOPs,
 * receptive field and jump, with totals. */
void sn_net_print_summary(const sn_net *net, FILE *out);

#endif
