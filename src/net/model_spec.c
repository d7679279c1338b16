/* The model description a config produces and the net consumes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shardnet/net.h"

const char *const sn_loss_names[2] = {"softmax_cross_entropy", "mse"};

sn_status sn_model_spec_add(sn_model_spec *spec, const char *type, const char *name,
                            sn_args *args, int line, int n_inputs, const char *const *inputs) {
  /* layers are found by name with a linear search, so bounded (see SN_MAX_LAYERS) */
  if (spec->n_layers >= SN_MAX_LAYERS) {
    sn_args_free(args);
    return sn_fail(SN_ERR_CONFIG, "%s:%d: model.layers has more than %d layers", spec->source, line, SN_MAX_LAYERS);
  }
  if (spec->n_layers == spec->capacity) {
    int cap = spec->capacity ? 2 * spec->capacity : 16;
    sn_layer_spec *v = realloc(spec->layers, (size_t)cap * sizeof *v);
    if (!v) {
      sn_args_free(args);
      return sn_fail(SN_ERR_NOMEM, "cannot allocate model");
    }
    spec->layers = v;
    spec->capacity = cap;
  }
  if (n_inputs > SN_MAX_INPUTS) {
    sn_status st = sn_args_fail(args, "inputs", "names more than %d layers", SN_MAX_INPUTS);
    sn_args_free(args);
    return st;
  }
  sn_layer_spec *ls = &spec->layers[spec->n_layers++];
  memset(ls, 0, sizeof *ls);
  snprintf(ls->type, sizeof ls->type, "%s", type);
  snprintf(ls->name, sizeof ls->name, "%s", name ? name : "");
  ls->args = args;
  ls->line = line;
  ls->n_inputs = n_inputs;
  for (int i = 0; i < n_inputs; i++) snprintf(ls->inputs[i], SN_NAME_CAP, "%s", inputs[i]);
  return SN_OK;
}

void sn_model_spec_clear(sn_model_spec *spec) {
  for (int i = 0; i < spec->n_layers; i++) sn_args_free(spec->layers[i].args);
  free(spec->layers);
  spec->layers = NULL;
  spec->n_layers = spec->capacity = 0;
}

static int name_taken(char (*names)[SN_NAME_CAP], int n, const char *name) {
  for (int j = 0; j < n; j++)
    if (!strcmp(names[j], name)) return 1;
  return 0;
}

void sn_model_spec_names(const sn_model_spec *spec, char (*names)[SN_NAME_CAP]) {
  for (int i = 0; i < spec->n_layers; i++) {
    const sn_layer_spec *ls = &spec->layers[i];
    if (ls->name[0]) {
      snprintf(names[i], SN_NAME_CAP, "%s", ls->name);
      continue;
    }
    int k = 1;
    for (int j = 0; j < i; j++)
      if (!strcmp(spec->layers[j].type, ls->type)) k++;
    do
      snprintf(names[i], SN_NAME_CAP, "%s_%d", ls->type, k++);
    while (name_taken(names, i, names[i]));
  }
}
