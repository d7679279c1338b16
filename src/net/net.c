/* Building a net from its spec: names, graph edges, shape inference, arenas. */
#include <stdio.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "shardnet/memory.h"
#include "shardnet/net.h"
#include "net/grad_plan.h"

static int find_layer(const sn_layer *layers, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(layers[i].name, name)) return i;
  return -1;
}

static sn_status connect_inputs(sn_net *net, const sn_layer_spec *ls, sn_layer *l) {
  const int i = l->index;
  if (ls->n_inputs == 0) {
    l->n_inputs = 1;
    l->inputs[0] = i - 1;  /* -1 for the first layer: the network input */
  } else {
    l->n_inputs = ls->n_inputs;
    for (int k = 0; k < ls->n_inputs; k++) {
      const char *name = ls->inputs[k];
      int j = !strcmp(name, "input") ? -1 : find_layer(net->layers, i, name);
      if (j < 0 && strcmp(name, "input"))
        return sn_args_fail(ls->args, "inputs", "names '%s', which is not an earlier layer",
                            name);
      l->inputs[k] = j;
    }
  }
  if (l->n_inputs < l->ops->min_inputs || l->n_inputs > l->ops->max_inputs) {
    if (l->ops->min_inputs == l->ops->max_inputs)
      return sn_args_fail(ls->args, NULL, "takes %d input(s), got %d", l->ops->min_inputs,
                          l->n_inputs);
    return sn_args_fail(ls->args, NULL, "takes %d to %d inputs (name them with 'inputs: [a, b]'), got %d",
                        l->ops->min_inputs, l->ops->max_inputs, l->n_inputs);
  }
  for (int k = 0; k < l->n_inputs; k++)
    l->in_shape[k] = l->inputs[k] < 0 ? net->input_shape : net->layers[l->inputs[k]].out_shape;
  return SN_OK;
}

/* name: what sn_model_spec_names gives layer i. */
static sn_status build_layer(sn_net *net, const sn_model_spec *spec, int i, const char *name) {
  const sn_layer_spec *ls = &spec->layers[i];
  sn_layer *l = &net->layers[i];
  l->index = i;
  l->line = ls->line;
  snprintf(l->source, sizeof l->source, "%s", spec->source);
  l->ops = sn_layer_ops_find(ls->type);
  if (!l->ops) {
    char known[512] = "";
    for (const sn_layer_ops *const *t = sn_layer_ops_all(); *t; t++) {
      strncat(known, (*t)->type, sizeof known - strlen(known) - 1);
      if (t[1]) strncat(known, ", ", sizeof known - strlen(known) - 1);
    }
    return sn_args_fail(ls->args, "type", "names an unknown layer type '%s' (known: %s)",
                        ls->type, known);
  }
  if (ls->name[0] && (find_layer(net->layers, i, ls->name) >= 0 || !strcmp(ls->name, "input")))
    return sn_args_fail(ls->args, "name", "'%s' is used by an earlier layer", ls->name);
  snprintf(l->name, sizeof l->name, "%s", name);
  char what[160];
  snprintf(what, sizeof what, "layer '%s' (%s)", l->name, l->ops->type);
  SN_TRY(sn_args_set_what(ls->args, what));
  SN_TRY(connect_inputs(net, ls, l));
  SN_TRY(l->ops->parse(l, ls->args));
  SN_TRY(sn_args_check_unused(ls->args));
  return l->ops->infer(l);
}

/* Places every parameter tensor in the parameter or state arena, in layer order. */
static sn_status place_params(sn_net *net, const char *source) {
  size_t np = 0, ns = 0;
  for (int i = 0; i < net->n_layers; i++)
    for (int k = 0; k < net->layers[i].n_params; k++) {
      const sn_param *p = &net->layers[i].params[k];
      *(p->trainable ? &np : &ns) += p->count;
    }
  net->n_params = np;
  net->n_state = ns;
  /* Parameters, gradients and up to two optimizer moments, in fp32: refuse a model
   * that cannot fit in one line, rather than dying in the allocator (a config can
   * ask for a million filters). */
  const double need = 4.0 * sizeof(float) * (double)np + sizeof(float) * (double)ns;
  const double avail = (double)sn_memory_available();
  if (avail > 0 && need > avail)
    return sn_fail(SN_ERR_CONFIG, "%s: the model has %zu parameters: %.2f GB with their gradients and optimizer "
                   "moments, more than the %.2f GB this node has available",
                   source, np, need / 1e9, avail / 1e9);
  SN_TRY(sn_alloc_floats(np, &net->params));
  SN_TRY(sn_alloc_floats(np, &net->grads));
  SN_TRY(sn_alloc_floats(ns, &net->state));
  np = ns = 0;
  for (int i = 0; i < net->n_layers; i++)
    for (int k = 0; k < net->layers[i].n_params; k++) {
      sn_param *p = &net->layers[i].params[k];
      if (p->trainable) {
        p->data = net->params + np;
        p->grad = net->grads + np;
        np += p->count;
      } else {
        p->data = net->state + ns;
        p->grad = NULL;
        ns += p->count;
      }
    }
  return SN_OK;
}

sn_status sn_net_create(const sn_model_spec *spec, sn_net **out) {
  *out = NULL;
  if (spec->n_layers == 0) return sn_fail(SN_ERR_CONFIG, "%s: the model has no layers", spec->source);
  if (spec->input.ndim != 3 || spec->input.d[0] < 1 || spec->input.d[1] < 1 || spec->input.d[2] < 1)
    return sn_fail(SN_ERR_CONFIG, "%s: model.input must be [channels, height, width] of positive sizes",
                   spec->source);
  sn_net *net = calloc(1, sizeof *net);
  if (!net) return sn_fail(SN_ERR_NOMEM, "cannot allocate net");
  net->input_shape = spec->input;
  net->loss = spec->loss;
  net->kernels = sn_kernels_default();
  net->precision = SN_PRECISION_FP32;
  net->n_layers = spec->n_layers;
  net->layers = calloc((size_t)spec->n_layers, sizeof *net->layers);
  net->fwd_seconds = calloc((size_t)spec->n_layers, sizeof(double));
  net->bwd_seconds = calloc((size_t)spec->n_layers, sizeof(double));
  char (*names)[SN_NAME_CAP] = malloc((size_t)spec->n_layers * sizeof *names);
  sn_status st = net->layers && net->fwd_seconds && net->bwd_seconds && names
                     ? SN_OK : sn_fail(SN_ERR_NOMEM, "cannot allocate net");
  if (st == SN_OK) sn_model_spec_names(spec, names);
  for (int i = 0; i < spec->n_layers && st == SN_OK; i++) st = build_layer(net, spec, i, names[i]);
  free(names);
  if (st == SN_OK) st = place_params(net, spec->source);
  if (st != SN_OK) {
    sn_net_destroy(net);
    return st;
  }
  *out = net;
  return SN_OK;
}

/* A reshape layer's output is its producer's buffer (output_is_input); the network
 * input is the caller's and changes from call to call, so that one is copied. */
static int shares_input_buffer(const sn_layer *l) { return l->ops->output_is_input && l->inputs[0] >= 0; }

static void release_buffers(sn_net *net) {
  for (int i = 0; i < net->n_layers; i++) {
    if (net->acts && !shares_input_buffer(&net->layers[i])) sn_free(net->acts[i]);
    if (net->aux) sn_free(net->aux[i]);
  }
  free(net->acts);
  free(net->dacts);
  free(net->blocked);
  sn_grad_plan_release(&net->dact_plan);
  free(net->aux);
  sn_free(net->work);
  sn_free(net->dinput);
  net->acts = net->dacts = net->aux = NULL;
  net->blocked = NULL;
  net->work = net->dinput = NULL;
  net->max_batch = 0;
}

void sn_net_destroy(sn_net *net) {
  if (!net) return;
  release_buffers(net);
  for (int i = 0; i < net->n_layers; i++) {
    sn_layer *l = &net->layers[i];
    if (l->ops && l->ops->destroy) l->ops->destroy(l);
    else free(l->impl);
  }
  free(net->layers);
  free(net->fwd_seconds);
  free(net->bwd_seconds);
  if (!net->borrowed_params) sn_free(net->params);
  if (!net->borrowed_grads) sn_free(net->grads);
  sn_free(net->state);
  free(net);
}

void sn_net_bind_arenas(sn_net *net, float *params, float *grads) {
  for (int i = 0; i < net->n_layers; i++)
    for (int k = 0; k < net->layers[i].n_params; k++) {
      sn_param *p = &net->layers[i].params[k];
      if (!p->trainable) continue;
      if (params) p->data = params + (p->data - net->params);
      if (grads) p->grad = grads + (p->grad - net->grads);
    }
  if (params) {
    if (!net->borrowed_params) sn_free(net->params);
    net->params = params;
    net->borrowed_params = 1;
  }
  if (grads) {
    if (!net->borrowed_grads) sn_free(net->grads);
    net->grads = grads;
    net->borrowed_grads = 1;
  }
}

void sn_net_set_kernels(sn_net *net, sn_kernel_set set, sn_precision precision) {
  net->kernels = set;
  net->precision = precision;
}

static sn_status prepare_layer(sn_net *net, int i, int max_batch, int want_input_grad) {
  sn_layer *l = &net->layers[i];
  if (!l->ops->prepare) return SN_OK;
  int reads_layers = 0;
  for (int k = 0; k < l->n_inputs; k++) reads_layers |= l->inputs[k] >= 0;
  const sn_prepare prep = {.max_batch = max_batch, .threads = net->threads, .precision = net->precision,
                           .kernels = net->kernels, .output_grad_scratch = i < net->n_layers - 1,
                           .no_input_grad = !reads_layers && !want_input_grad,
                           .blocked_in = sn_layout_inputs(net, i), .blocked_out = net->blocked[i]};
  return l->ops->prepare(l, &prep);
}

sn_status sn_net_reserve(sn_net *net, int max_batch, int want_input_grad) {
  if (max_batch < 1) return sn_fail(SN_ERR_INVALID, "batch size must be at least 1, got %d", max_batch);
  release_buffers(net);
  const int n = net->n_layers;
  net->acts = calloc((size_t)n, sizeof(float *));
  net->dacts = calloc((size_t)n, sizeof(float *));
  net->aux = calloc((size_t)n, sizeof(float *));
  net->blocked = calloc((size_t)n, sizeof(int));
  if (!net->acts || !net->dacts || !net->aux || !net->blocked)
    return sn_fail(SN_ERR_NOMEM, "cannot allocate activations");
  size_t work = 0;
  net->threads = omp_get_max_threads();
  /* Prepared once in the plain layout, which tells what each kernel can do; then
   * again where a tensor it touches stays blocked. */
  for (int i = 0; i < n; i++) SN_TRY(prepare_layer(net, i, max_batch, want_input_grad));
  sn_layout_plan(net, net->blocked);
  for (int i = 0; i < n; i++) {
    sn_layer *l = &net->layers[i];
    if (sn_layout_inputs(net, i) || net->blocked[i]) SN_TRY(prepare_layer(net, i, max_batch, want_input_grad));
    size_t out = (size_t)max_batch * sn_shape_size(l->out_shape);
    if (shares_input_buffer(l))
      net->acts[i] = net->acts[l->inputs[0]];
    else
      SN_TRY(sn_alloc_floats(out, &net->acts[i]));
    if (l->ops->aux_floats) SN_TRY(sn_alloc_floats(l->ops->aux_floats(l, max_batch), &net->aux[i]));
    if (l->ops->workspace_floats) {
      size_t w = l->ops->workspace_floats(l, max_batch, net->threads);
      if (w > work) work = w;
    }
  }
  SN_TRY(sn_grad_plan_make(net, max_batch, &net->dact_plan));
  SN_TRY(sn_alloc_floats(work, &net->work));
  net->work_floats = work;
  if (want_input_grad)
    SN_TRY(sn_alloc_floats((size_t)max_batch * sn_shape_size(net->input_shape), &net->dinput));
  net->max_batch = max_batch;
  return SN_OK;
}

const float *sn_net_output(const sn_net *net) { return net->acts[net->n_layers - 1]; }

sn_shape sn_net_output_shape(const sn_net *net) { return net->layers[net->n_layers - 1].out_shape; }

float *sn_net_output_grad(sn_net *net) { return net->dacts[net->n_layers - 1]; }

const float *sn_net_layer_output(const sn_net *net, int i) { return net->acts[i]; }

int sn_net_find_layer(const sn_net *net, const char *name) {
  return find_layer(net->layers, net->n_layers, name);
}
