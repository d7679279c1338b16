/* Writing a configuration back as YAML (libyaml's emitter): the resolved text a run saves. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "io/config_raw.h"
#include "shardnet/config.h"

/* The emitter and the text it has written so far. After the first failure every
 * further event is dropped, so that writing reads as a plain sequence of calls. */
typedef struct {
  yaml_emitter_t emitter;
  char *text;
  size_t len, cap;
  int ok;
  int out_of_memory;     /* the text could not grow */
  const char *refused;   /* a value libyaml would not take */
} writer;

static int append(void *data, unsigned char *bytes, size_t size) {
  writer *w = data;
  if (w->len + size + 1 > w->cap) {
    size_t cap = w->cap ? w->cap : 4096;
    while (w->len + size + 1 > cap) cap *= 2;
    char *text = realloc(w->text, cap);
    if (!text) {
      w->out_of_memory = 1;
      return 0;
    }
    w->text = text;
    w->cap = cap;
  }
  memcpy(w->text + w->len, bytes, size);
  w->len += size;
  w->text[w->len] = '\0';
  return 1;
}

/* made: what the event's initializer returned (0: there is no event to free). */
static void emit(writer *w, yaml_event_t *event, int made) {
  if (!made)
    w->ok = 0;
  else if (!w->ok)
    yaml_event_delete(event);
  else if (!yaml_emitter_emit(&w->emitter, event))  /* it frees the event either way */
    w->ok = 0;
}

/* libyaml picks the style: plain when the text reads back as itself, quoted (and
 * escaped) when it holds ': ', ' #', a flow indicator inside a flow collection,
 * leading or trailing spaces... An empty text is quoted so that it shows as "". */
static void scalar(writer *w, const char *text) {
  yaml_event_t e;
  const yaml_scalar_style_t style = text[0] ? YAML_ANY_SCALAR_STYLE : YAML_DOUBLE_QUOTED_SCALAR_STYLE;
  const int made = yaml_scalar_event_initialize(&e, NULL, NULL, (yaml_char_t *)text, -1, 1, 1, style);
  if (!made && w->ok) w->refused = text;
  emit(w, &e, made);
}

static void map_start(writer *w, int flow) {
  yaml_event_t e;
  emit(w, &e, yaml_mapping_start_event_initialize(&e, NULL, NULL, 1,
                                                  flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE));
}

static void map_end(writer *w) {
  yaml_event_t e;
  emit(w, &e, yaml_mapping_end_event_initialize(&e));
}

static void seq_start(writer *w, int flow) {
  yaml_event_t e;
  emit(w, &e, yaml_sequence_start_event_initialize(&e, NULL, NULL, 1,
                                                   flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE));
}

static void seq_end(writer *w) {
  yaml_event_t e;
  emit(w, &e, yaml_sequence_end_event_initialize(&e));
}

/* A block section `key:` whose keys follow until map_end. */
static void section_start(writer *w, const char *key) {
  scalar(w, key);
  map_start(w, 0);
}

static void pair(writer *w, const char *key, const char *value) {
  scalar(w, key);
  scalar(w, value);
}

static void pair_long(writer *w, const char *key, long value) {
  char text[24];
  snprintf(text, sizeof text, "%ld", value);
  pair(w, key, text);
}

static void pair_ints(writer *w, const char *key, const int *v, int n) {
  scalar(w, key);
  seq_start(w, 1);
  for (int i = 0; i < n; i++) {
    char text[16];
    snprintf(text, sizeof text, "%d", v[i]);
    scalar(w, text);
  }
  seq_end(w);
}

static void pair_bool(writer *w, const char *key, int value) { pair(w, key, value ? "true" : "false"); }

/* The shortest %g text that strtod turns back into v exactly. */
static void format_double(double v, char *text, size_t cap) {
  for (int digits = 1; digits <= 17; digits++) {
    snprintf(text, cap, "%.*g", digits, v);
    if (strtod(text, NULL) == v) return;
  }
}

static void pair_doubles(writer *w, const char *key, const double *v, int n) {
  char text[32];
  scalar(w, key);
  seq_start(w, 1);
  for (int i = 0; i < n; i++) {
    format_double(v[i], text, sizeof text);
    scalar(w, text);
  }
  seq_end(w);
}

static void strings(writer *w, const char *const *items, int n) {
  seq_start(w, 1);
  for (int i = 0; i < n; i++) scalar(w, items[i]);
  seq_end(w);
}

/* A key as the loader kept it: a list stays a list (even of one), a scalar is its
 * one item; once typed, a non-list always has exactly one. */
static void args_pairs(writer *w, const sn_args *a) {
  for (int i = 0; i < a->count; i++) {
    const sn_arg *arg = &a->v[i];
    scalar(w, arg->key);
    if (arg->is_list || arg->count != 1)
      strings(w, (const char *const *)arg->items, arg->count);
    else
      scalar(w, arg->items[0]);
  }
}

/* A block handed to another module (optimizer, schedule): `key: {k: v, ...}`. */
static void handed_over(writer *w, const char *key, const sn_args *a) {
  scalar(w, key);
  map_start(w, 1);
  args_pairs(w, a);
  map_end(w);
}

static void layer(writer *w, const sn_layer_spec *ls, const char *name) {
  map_start(w, 1);
  pair(w, "type", ls->type);
  pair(w, "name", name);
  if (ls->n_inputs) {
    const char *inputs[SN_MAX_INPUTS];
    for (int k = 0; k < ls->n_inputs; k++) inputs[k] = ls->inputs[k];
    scalar(w, "inputs");
    strings(w, inputs, ls->n_inputs);
  }
  args_pairs(w, ls->args);
  map_end(w);
}

static void model(writer *w, const sn_model_spec *m, char (*names)[SN_NAME_CAP]) {
  section_start(w, "model");
  pair_ints(w, "input", m->input.d, m->input.ndim);
  scalar(w, "layers");
  seq_start(w, 0);
  for (int i = 0; i < m->n_layers; i++) layer(w, &m->layers[i], names[i]);
  seq_end(w);
  pair(w, "loss", sn_loss_names[m->loss]);
  map_end(w);
}

static void data(writer *w, const sn_data_config *d) {
  char text[32];
  section_start(w, "data");
  pair(w, "train", d->train);
  pair(w, "test", d->test);
  format_double(d->scale, text, sizeof text);
  pair(w, "scale", text);
  /* An empty list would not read back: absent is how "none" is written. */
  if (d->n_mean) pair_doubles(w, "mean", d->mean, d->n_mean);
  if (d->n_std) pair_doubles(w, "std", d->std, d->n_std);
  pair(w, "placement", sn_placement_names[d->placement]);
  pair_long(w, "prefetch", d->prefetch);
  /* Off is absent, as for mean and std: neither [0, 0] nor 0 reads back. */
  if (d->pad_to[0]) pair_ints(w, "pad_to", d->pad_to, 2);
  if (d->channels) pair_long(w, "channels", d->channels);
  /* Augmentation is written out even when off, so a saved run shows it was. */
  const sn_augment_config *g = &d->augment;
  section_start(w, "augment");
  scalar(w, "random_crop");
  map_start(w, 1);
  pair_long(w, "padding", g->crop_padding);
  map_end(w);
  pair_bool(w, "flip_horizontal", g->flip_horizontal);
  scalar(w, "random_shift");
  map_start(w, 1);
  pair_long(w, "max", g->shift_max);
  pair(w, "fill", sn_fill_names[g->shift_fill]);
  map_end(w);
  map_end(w);
  map_end(w);
}

static void train(writer *w, const sn_train_config *t) {
  section_start(w, "train");
  pair_long(w, "epochs", t->epochs);
  pair_long(w, "batch_size", t->batch_size);
  pair_long(w, "max_steps", t->max_steps);
  pair_long(w, "log_every", t->log_every);
  pair(w, "scale_lr", sn_scale_lr_names[t->scale_lr_linear]);
  pair_long(w, "base_batch_size", t->base_batch_size);
  char text[32];
  format_double(t->bucket_mb, text, sizeof text);
  pair(w, "bucket_mb", text);
  pair_bool(w, "overlap", t->overlap);
  pair_bool(w, "shared_memory", t->shared_memory);
  pair(w, "precision", sn_precision_names[t->precision]);
  handed_over(w, "optimizer", t->optimizer);
  handed_over(w, "schedule", t->schedule);
  map_end(w);
}

static void rest(writer *w, const sn_config *cfg) {
  section_start(w, "checkpoint");
  pair(w, "dir", cfg->checkpoint.dir);
  pair_long(w, "every_steps", cfg->checkpoint.every_steps);
  pair_long(w, "keep", cfg->checkpoint.keep);
  map_end(w);

  section_start(w, "activations");
  pair_long(w, "every_steps", cfg->activations.every_steps);
  scalar(w, "samples");
  seq_start(w, 1);
  for (int i = 0; i < cfg->activations.n_samples; i++) {
    char text[24];
    snprintf(text, sizeof text, "%ld", cfg->activations.samples[i]);
    scalar(w, text);
  }
  seq_end(w);
  map_end(w);
}

static void document(writer *w, const sn_config *cfg, char (*names)[SN_NAME_CAP]) {
  yaml_event_t e;
  emit(w, &e, yaml_stream_start_event_initialize(&e, YAML_UTF8_ENCODING));
  emit(w, &e, yaml_document_start_event_initialize(&e, NULL, NULL, NULL, 1));
  map_start(w, 0);
  char seed[24];
  snprintf(seed, sizeof seed, "%" PRIu64, cfg->seed);
  pair(w, "seed", seed);
  if (cfg->report) pair(w, "report", "true");
  data(w, &cfg->data);
  model(w, &cfg->model, names);
  train(w, &cfg->train);
  rest(w, cfg);
  map_end(w);
  emit(w, &e, yaml_document_end_event_initialize(&e, 1));
  emit(w, &e, yaml_stream_end_event_initialize(&e));
}

sn_status sn_config_to_yaml(const sn_config *cfg, char **text) {
  *text = NULL;
  const int n = cfg->model.n_layers;
  char (*names)[SN_NAME_CAP] = malloc((size_t)(n ? n : 1) * sizeof *names);
  writer w = {.ok = 1};
  if (!names || !yaml_emitter_initialize(&w.emitter)) {
    free(names);
    return sn_fail(SN_ERR_NOMEM, "cannot allocate the YAML emitter");
  }
  sn_model_spec_names(&cfg->model, names);
  yaml_emitter_set_output(&w.emitter, append, &w);
  yaml_emitter_set_unicode(&w.emitter, 1);
  yaml_emitter_set_width(&w.emitter, -1);  /* a layer stays on one line */
  document(&w, cfg, names);
  sn_status st = SN_OK;
  if (w.refused)
    /* e.g. a name cut inside a multi-byte character: YAML is UTF-8 text */
    st = sn_fail(SN_ERR_CONFIG, "%s: cannot write '%s' as YAML (not UTF-8 text?)", cfg->path, w.refused);
  else if (!w.ok && (w.out_of_memory || w.emitter.error == YAML_MEMORY_ERROR))
    st = sn_fail(SN_ERR_NOMEM, "%s: out of memory writing the configuration as YAML", cfg->path);
  else if (!w.ok)
    st = sn_fail(SN_ERR_INVALID, "%s: cannot write the configuration as YAML: %s", cfg->path,
                 w.emitter.problem ? w.emitter.problem : "emitter error");
  yaml_emitter_delete(&w.emitter);
  free(names);
  if (st != SN_OK) {
    free(w.text);
    return st;
  }
  *text = w.text;
  return SN_OK;
}
