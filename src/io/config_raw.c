/* Reading YAML into raw configuration sections: sn_args per mapping, each key with
 * its line (libyaml's document API), before any key is typed or checked. */
#include "io/config_raw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

const sn_section_def sn_sections[SN_SEC_COUNT] = {
    [SN_SEC_ROOT] = {"", "", -1, 0},
    [SN_SEC_DATA] = {"data", "data", SN_SEC_ROOT, 0},
    [SN_SEC_AUGMENT] = {"data.augment", "augment", SN_SEC_DATA, 0},
    [SN_SEC_CROP] = {"data.augment.random_crop", "random_crop", SN_SEC_AUGMENT, 0},
    [SN_SEC_SHIFT] = {"data.augment.random_shift", "random_shift", SN_SEC_AUGMENT, 0},
    [SN_SEC_MODEL] = {"model", "model", SN_SEC_ROOT, 0},
    [SN_SEC_TRAIN] = {"train", "train", SN_SEC_ROOT, 0},
    [SN_SEC_OPTIMIZER] = {"train.optimizer", "optimizer", SN_SEC_TRAIN, 1},
    [SN_SEC_SCHEDULE] = {"train.schedule", "schedule", SN_SEC_TRAIN, 1},
    [SN_SEC_CHECKPOINT] = {"checkpoint", "checkpoint", SN_SEC_ROOT, 0},
    [SN_SEC_ACTIVATIONS] = {"activations", "activations", SN_SEC_ROOT, 0},
};

const char *const sn_scale_lr_names[2] = {"none", "linear"};

const char *const sn_fill_names[3] = {"zero", "edge", "reflect"};

static sn_status new_block(const char *source, int line, const char *what, sn_args **out) {
  SN_TRY(sn_args_new(source, line, out));
  return sn_args_set_what(*out, what);
}

sn_status sn_config_raw_init(sn_config_raw *raw, const char *source) {
  memset(raw, 0, sizeof *raw);
  sn_status st = new_block("--set", 0, "model.layers", &raw->layer_set);
  for (int s = 0; s < SN_SEC_COUNT && st == SN_OK; s++) {
    /* The top level is the file itself, so its own line is 1. */
    st = new_block(source, s == SN_SEC_ROOT ? 1 : 0, sn_sections[s].path, &raw->file[s]);
    if (st == SN_OK) st = new_block("--set", 0, sn_sections[s].path, &raw->set[s]);
  }
  if (st != SN_OK) sn_config_raw_free(raw);
  return st;
}

void sn_config_raw_free(sn_config_raw *raw) {
  for (int s = 0; s < SN_SEC_COUNT; s++) {
    sn_args_free(raw->file[s]);
    sn_args_free(raw->set[s]);
  }
  for (int i = 0; i < raw->n_layers; i++) sn_args_free(raw->layers[i]);
  free(raw->layers);
  sn_args_free(raw->layer_set);
  memset(raw, 0, sizeof *raw);
}

typedef struct {
  yaml_document_t *doc;
  const char *source;
  sn_config_raw *raw;
} reader;

static yaml_node_t *node_at(yaml_document_t *doc, int index) {
  return yaml_document_get_node(doc, index);
}

static int line_of(const yaml_node_t *n) { return (int)n->start_mark.line + 1; }

static const char *text_of(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

/* `key:` with nothing after it: a section left empty. */
static int is_null(const yaml_node_t *n) {
  if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
  const char *s = text_of(n);
  return !s[0] || !strcmp(s, "~") || !strcmp(s, "null");
}

/* Fails at key's own line: the key is recorded first when the block lacks it, since
 * sn_args_fail finds lines through the block. */
static sn_status fail_key(sn_args *a, const char *key, int line, const char *msg) {
  if (!sn_args_has(a, key) && sn_args_add(a, key, line, 0, 0, NULL) != SN_OK) return SN_ERR_NOMEM;
  return sn_args_fail(a, key, "%s", msg);
}

/* A sequence whose items are all scalars (the only lists the schema has). */
static int is_flat_list(yaml_document_t *doc, const yaml_node_t *v) {
  for (const yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
    if (node_at(doc, *it)->type != YAML_SCALAR_NODE) return 0;
  return 1;
}

/* Adds key = v to a: a scalar as one item, a list of scalars as a list. A mapping
 * becomes a placeholder when mapping_placeholder is set (see config_raw.h). */
static sn_status add_value(yaml_document_t *doc, sn_args *a, const char *key, int line,
                           const yaml_node_t *v, int mapping_placeholder) {
  static const char not_a_value[] = "expects a value or a list of values, not a mapping";
  if (v->type == YAML_SCALAR_NODE) {
    const char *item = text_of(v);
    return sn_args_add(a, key, line, 0, 1, &item);
  }
  if (v->type == YAML_MAPPING_NODE)
    return mapping_placeholder ? sn_args_add(a, key, line, 0, 0, NULL)
                               : fail_key(a, key, line, not_a_value);
  if (!is_flat_list(doc, v))
    return fail_key(a, key, line, "expects a list of values, not of lists or mappings");
  size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
  const char **items = malloc((n ? n : 1) * sizeof *items);
  if (!items) return sn_fail(SN_ERR_NOMEM, "cannot allocate configuration");
  for (size_t i = 0; i < n; i++) items[i] = text_of(node_at(doc, v->data.sequence.items.start[i]));
  sn_status st = sn_args_add(a, key, line, 1, (int)n, items);
  free(items);
  return st;
}

static int child_section(int parent, const char *key) {
  for (int s = 0; s < SN_SEC_COUNT; s++)
    if (sn_sections[s].parent == parent && !strcmp(sn_sections[s].key, key)) return s;
  return -1;
}

static sn_status pair_key(const reader *r, const yaml_node_t *k, const char **key) {
  if (k->type != YAML_SCALAR_NODE)
    return sn_fail(SN_ERR_CONFIG, "%s:%d: a key must be a plain name, not a list or mapping",
                   r->source, line_of(k));
  *key = text_of(k);
  return SN_OK;
}

static sn_status fill_layer(reader *r, const yaml_node_t *item) {
  sn_config_raw *raw = r->raw;
  if (raw->n_layers == raw->cap_layers) {
    int cap = raw->cap_layers ? 2 * raw->cap_layers : 16;
    sn_args **v = realloc(raw->layers, (size_t)cap * sizeof *v);
    if (!v) return sn_fail(SN_ERR_NOMEM, "cannot allocate configuration");
    raw->layers = v;
    raw->cap_layers = cap;
  }
  char what[32];
  snprintf(what, sizeof what, "layer %d", raw->n_layers + 1);
  sn_args *a;
  SN_TRY(new_block(r->source, line_of(item), what, &a));
  raw->layers[raw->n_layers++] = a;
  if (item->type != YAML_MAPPING_NODE)
    return sn_args_fail(a, NULL, "must be a mapping, e.g. {type: dense, units: 10}");
  for (const yaml_node_pair_t *p = item->data.mapping.pairs.start; p < item->data.mapping.pairs.top; p++) {
    const yaml_node_t *k = node_at(r->doc, p->key);
    const char *key = NULL;
    SN_TRY(pair_key(r, k, &key));
    SN_TRY(add_value(r->doc, a, key, line_of(k), node_at(r->doc, p->value), 0));
  }
  return SN_OK;
}

static sn_status fill_layers(reader *r, sn_args *model, int line, const yaml_node_t *v) {
  /* The key stays in the model block, marked read, so that the typing step can tell
   * it was given and point messages about the list at its line. */
  SN_TRY(sn_args_add(model, "layers", line, 1, 0, NULL));
  sn_args_find(model, "layers")->used = 1;
  if (v->type != YAML_SEQUENCE_NODE)
    return sn_args_fail(model, "layers", "expects a list of layers, e.g. [{type: dense, units: 10}]");
  for (const yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
    SN_TRY(fill_layer(r, node_at(r->doc, *it)));
  return SN_OK;
}

static sn_status fill_section(reader *r, int s, const yaml_node_t *map);

static sn_status fill_child(reader *r, sn_args *parent, int child, const char *key, int line,
                            const yaml_node_t *v) {
  sn_args *c = r->raw->file[child];
  if (c->line) return fail_key(parent, key, line, "is given twice");
  c->line = line;
  if (is_null(v)) return SN_OK;
  if (v->type != YAML_MAPPING_NODE)
    return fail_key(parent, key, line, "expects a mapping of keys, e.g. {key: value}");
  return fill_section(r, child, v);
}

/* Recursion only descends into the fixed tree of sn_sections, so even a YAML alias
 * that refers back to its own ancestor cannot loop. */
static sn_status fill_section(reader *r, int s, const yaml_node_t *map) {
  sn_args *a = r->raw->file[s];
  for (const yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    const yaml_node_t *k = node_at(r->doc, p->key), *v = node_at(r->doc, p->value);
    const char *key = NULL;
    SN_TRY(pair_key(r, k, &key));
    const int line = line_of(k), child = child_section(s, key);
    if (child >= 0)
      SN_TRY(fill_child(r, a, child, key, line, v));
    else if (s == SN_SEC_MODEL && !strcmp(key, "layers"))
      SN_TRY(fill_layers(r, a, line, v));
    else
      SN_TRY(add_value(r->doc, a, key, line, v, !sn_sections[s].handed_over));
  }
  return SN_OK;
}

/* source NULL: the text is one override value, where a line would say nothing. */
static sn_status yaml_error(const yaml_parser_t *p, const char *source) {
  const char *problem = p->problem ? p->problem : "unreadable YAML";
  if (p->error == YAML_MEMORY_ERROR) return sn_fail(SN_ERR_NOMEM, "out of memory while reading YAML");
  /* The reader fails on bytes, before there are lines. */
  if (p->error == YAML_READER_ERROR)
    return sn_fail(SN_ERR_CONFIG, "%s: byte %zu: %s (YAML is UTF-8 text)", source ? source : "value",
                   p->problem_offset, problem);
  if (!source) return sn_fail(SN_ERR_CONFIG, "YAML syntax error: %s", problem);
  const int line = (int)p->problem_mark.line + 1;
  if (p->context)
    return sn_fail(SN_ERR_CONFIG, "%s:%d: YAML syntax error: %s (%s that started at line %d)",
                   source, line, problem, p->context, (int)p->context_mark.line + 1);
  return sn_fail(SN_ERR_CONFIG, "%s:%d: YAML syntax error: %s", source, line, problem);
}

/* Loads the one document of text; a second document is an error, not ignored.
 * source names the text in messages (NULL: an override value, see yaml_error). */
static sn_status load_document(const char *text, size_t len, const char *source,
                               yaml_document_t *doc) {
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) return sn_fail(SN_ERR_NOMEM, "cannot allocate YAML parser");
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  sn_status st = SN_OK;
  if (!yaml_parser_load(&parser, doc)) {
    st = yaml_error(&parser, source);
  } else {
    yaml_document_t extra;
    if (!yaml_parser_load(&parser, &extra)) {
      st = yaml_error(&parser, source);
    } else {
      if (yaml_document_get_root_node(&extra))
        st = sn_fail(SN_ERR_CONFIG, "%s:%d: a second YAML document; a configuration is one document",
                     source ? source : "value", (int)extra.start_mark.line + 1);
      yaml_document_delete(&extra);
    }
    if (st != SN_OK) yaml_document_delete(doc);
  }
  yaml_parser_delete(&parser);
  return st;
}

/* Flow collections ([...] and {...}) nested deeper than this are refused before
 * libyaml reads them: its scanner is quadratic in that depth (27 s for 100,000). */
#define MAX_FLOW_DEPTH 64

/* Fails when flow brackets outside quotes and comments nest deeper than
 * MAX_FLOW_DEPTH; names the line. */
static sn_status check_flow_depth(const char *text, size_t len, const char *source) {
  int depth = 0, line = 1;
  char quote = 0;
  for (size_t i = 0; i < len; i++) {
    const char c = text[i];
    if (c == '\n') line++;
    if (quote) {
      if (c == '\\' && quote == '"' && i + 1 < len) i++;
      else if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#') {
      while (i + 1 < len && text[i + 1] != '\n') i++;
    } else if (c == '[' || c == '{') {
      if (++depth > MAX_FLOW_DEPTH)
        return sn_fail(SN_ERR_CONFIG, "%s:%d: lists or mappings nested more than %d deep", source ? source : "value",
                       line, MAX_FLOW_DEPTH);
    } else if ((c == ']' || c == '}') && depth > 0) {
      depth--;
    }
  }
  return SN_OK;
}

sn_status sn_config_yaml_read(const char *text, size_t len, const char *source,
                              sn_config_raw *raw) {
  yaml_document_t doc;
  SN_TRY(check_flow_depth(text, len, source));
  SN_TRY(load_document(text, len, source, &doc));
  reader r = {&doc, source, raw};
  const yaml_node_t *root = yaml_document_get_root_node(&doc);
  sn_status st = SN_OK;
  if (root && !is_null(root)) {
    if (root->type == YAML_MAPPING_NODE)
      st = fill_section(&r, SN_SEC_ROOT, root);
    else
      st = sn_fail(SN_ERR_CONFIG, "%s:%d: the top level must be a mapping of sections (model: ..., train: ...)",
                   source, line_of(root));
  }
  yaml_document_delete(&doc);
  return st;
}

sn_status sn_config_yaml_value(const char *what, const char *value, sn_args *a, const char *key) {
  yaml_document_t doc;
  sn_status st = check_flow_depth(value, strlen(value), NULL);
  if (st == SN_OK) st = load_document(value, strlen(value), NULL, &doc);
  /* a long override is cut in the message, so that the reason still shows */
  if (st != SN_OK)
    return st == SN_ERR_NOMEM ? st : sn_fail_context(st, "--set %.60s%s", what, strlen(what) > 60 ? "..." : "");
  const yaml_node_t *v = yaml_document_get_root_node(&doc);
  if (!v) {
    const char *empty = "";
    st = sn_args_add(a, key, 0, 0, 1, &empty);
  } else if (v->type == YAML_MAPPING_NODE || (v->type == YAML_SEQUENCE_NODE && !is_flat_list(&doc, v))) {
    st = sn_fail(SN_ERR_CONFIG, "--set %s: expects a value or a list of values such as [3, 32, 32]", what);
  } else {
    st = add_value(&doc, a, key, 0, v, 0);
  }
  yaml_document_delete(&doc);
  return st;
}
