/* The configuration loader: raw YAML sections and `--set` overrides typed and checked
 * into sn_config; layer, optimizer and schedule blocks handed on as sn_args. */
#define _POSIX_C_SOURCE 200809L
#include "shardnet/config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/config_raw.h"

const char *const sn_placement_names[SN_PLACEMENT_COUNT] = {"auto", "replicate", "node", "shard", "stream"};

/* A block as configured: the file's keys and the overrides, which take precedence. */
typedef struct {
  sn_args *file, *set;
} block;

static block section(const sn_config_raw *raw, int s) { return (block){raw->file[s], raw->set[s]}; }

/* The args holding key's value. Overridden file keys count as read, so that only
 * keys nobody reads are reported unknown. */
static sn_status pick(block b, const char *key, sn_args **from) {
  sn_arg *f = sn_args_find(b.file, key);
  if (sn_args_has(b.set, key)) {
    if (f) f->used = 1;
    *from = b.set;
    return SN_OK;
  }
  *from = b.file;
  if (f && f->count == 0 && !f->is_list) {
    f->used = 1;
    return sn_args_fail(b.file, key, "expects a value, not a mapping");
  }
  return SN_OK;
}

static sn_status get_int(block b, const char *key, int dflt, int min, int max, int *out) {
  sn_args *a;
  SN_TRY(pick(b, key, &a));
  return sn_args_int(a, key, dflt, min, max, out);
}

static sn_status get_long(block b, const char *key, long *out) {
  int v;
  SN_TRY(get_int(b, key, 0, 0, INT_MAX, &v));
  *out = v;
  return SN_OK;
}

static sn_status get_string(block b, const char *key, const char *dflt, char *out, size_t cap) {
  sn_args *a;
  SN_TRY(pick(b, key, &a));
  return sn_args_string(a, key, dflt, out, cap);
}

static sn_status get_choice(block b, const char *key, const char *const *names, int n, int dflt,
                            int *out) {
  sn_args *a;
  SN_TRY(pick(b, key, &a));
  return sn_args_choice(a, key, names, n, dflt, out);
}

static sn_status get_seed(block b, uint64_t *out) {
  sn_args *a;
  char text[32];
  SN_TRY(pick(b, "seed", &a));
  SN_TRY(sn_args_string(a, "seed", "1", text, sizeof text));
  char *end;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  /* strtoull would wrap a minus sign around instead of rejecting it */
  if (errno || end == text || *end || text[0] == '-')
    return sn_args_fail(a, "seed", "expects a non-negative integer, got '%s'", text);
  *out = (uint64_t)v;
  return SN_OK;
}

/* data.mean / data.std: one value for every channel, or one per channel. */
static sn_status get_norm(block b, const char *key, int channels, double min, double *out,
                          int *n) {
  sn_args *a;
  SN_TRY(pick(b, key, &a));
  sn_arg *arg = sn_args_find(a, key);
  *n = 0;
  if (!arg) return SN_OK;
  arg->used = 1;
  if (arg->count != 1 && arg->count != channels)
    return sn_args_fail(a, key, "has %d values; give one, or one per input channel (%d)",
                        arg->count, channels);
  if (arg->count > 16) return sn_args_fail(a, key, "has more than 16 values");
  for (int i = 0; i < arg->count; i++) {
    char *end;
    errno = 0;
    double v = strtod(arg->items[i], &end);
    if (errno || end == arg->items[i] || *end || !(v >= min && v <= 1e9))
      return sn_args_fail(a, key, "expects numbers between %g and 1e9, got '%s'", min,
                          arg->items[i]);
    out[i] = v;
  }
  *n = arg->count;
  return SN_OK;
}

static sn_status check_unused(block b) {
  SN_TRY(sn_args_check_unused(b.file));
  return sn_args_check_unused(b.set);
}

static int in_list(const char *const *names, const char *key) {
  for (; names && *names; names++)
    if (!strcmp(*names, key)) return 1;
  return 0;
}

/* The args another module reads: the file's keys, with overrides replacing or adding
 * to them, leaving out the keys in skip (read here). An override has no line of its
 * own, so messages about it point at the block. */
static sn_status merge(block b, const char *const *skip, sn_args **out) {
  SN_TRY(sn_args_new(b.file->source, b.file->line, out));
  sn_status st = sn_args_set_what(*out, b.file->what);
  for (int i = 0; i < b.file->count && st == SN_OK; i++) {
    const sn_arg *f = &b.file->v[i], *o = sn_args_find(b.set, f->key);
    if (in_list(skip, f->key)) continue;
    const sn_arg *v = o ? o : f;
    st = sn_args_add(*out, f->key, o ? 0 : f->line, v->is_list, v->count,
                     (const char *const *)v->items);
  }
  for (int i = 0; i < b.set->count && st == SN_OK; i++) {
    const sn_arg *o = &b.set->v[i];
    if (in_list(skip, o->key) || sn_args_has(b.file, o->key)) continue;
    st = sn_args_add(*out, o->key, 0, o->is_list, o->count, (const char *const *)o->items);
  }
  if (st != SN_OK) {
    sn_args_free(*out);
    *out = NULL;
  }
  return st;
}

/* The overrides model.layers.<name>.<key> of the layer the file names <name>. */
static sn_status layer_overrides(const sn_config_raw *raw, const sn_args *file, sn_args *set) {
  const sn_arg *n = sn_args_find(file, "name");
  if (!n || n->is_list || n->count != 1) return SN_OK;
  const size_t len = strlen(n->items[0]);
  for (int i = 0; i < raw->layer_set->count; i++) {
    sn_arg *o = &raw->layer_set->v[i];
    if (strncmp(o->key, n->items[0], len) || o->key[len] != '.') continue;
    const char *key = o->key + len + 1;
    if (strchr(key, '.')) continue; /* a longer name that starts with this one */
    o->used = 1;
    SN_TRY(sn_args_add(set, key, 0, o->is_list, o->count, (const char *const *)o->items));
  }
  return SN_OK;
}

static sn_status add_layer(const sn_config_raw *raw, sn_args *file, sn_args *set,
                           sn_model_spec *spec) {
  SN_TRY(layer_overrides(raw, file, set));
  block b = {file, set};
  char type[32], name[SN_NAME_CAP];
  SN_TRY(get_string(b, "type", NULL, type, sizeof type));
  SN_TRY(get_string(b, "name", "", name, sizeof name));
  sn_args *from;
  SN_TRY(pick(b, "inputs", &from));
  sn_arg *inputs = sn_args_find(from, "inputs");
  if (inputs) inputs->used = 1;
  /* type, name and inputs are the graph's, not the layer type's keys */
  static const char *const graph_keys[] = {"type", "name", "inputs", NULL};
  sn_args *args;
  SN_TRY(merge(b, graph_keys, &args));
  if (name[0]) {
    char what[SN_NAME_CAP + 16];
    snprintf(what, sizeof what, "layer '%s'", name);
    sn_status st = sn_args_set_what(args, what);
    if (st != SN_OK) {
      sn_args_free(args);
      return st;
    }
  }
  return sn_model_spec_add(spec, type, name, args, file->line, inputs ? inputs->count : 0,
                           inputs ? (const char *const *)inputs->items : NULL);
}

static sn_status read_layers(const sn_config_raw *raw, sn_model_spec *spec) {
  for (int i = 0; i < raw->n_layers; i++) {
    sn_args *set;
    SN_TRY(sn_args_new("--set", 0, &set));
    sn_status st = add_layer(raw, raw->layers[i], set, spec);
    sn_args_free(set);
    SN_TRY(st);
  }
  for (int i = 0; i < raw->layer_set->count; i++) {
    const sn_arg *o = &raw->layer_set->v[i];
    if (!o->used)
      return sn_fail(SN_ERR_CONFIG, "--set model.layers.%s: no layer is named '%.*s' "
                     "(only layers with a 'name:' can be set)",
                     o->key, (int)(strrchr(o->key, '.') - o->key), o->key);
  }
  return SN_OK;
}

static sn_status read_model(const sn_config_raw *raw, sn_model_spec *spec) {
  block b = section(raw, SN_SEC_MODEL);
  if (!b.file->line)
    return sn_args_fail(raw->file[SN_SEC_ROOT], NULL, "needs the key 'model' (input, layers, loss)");
  snprintf(spec->source, sizeof spec->source, "%s", b.file->source);

  sn_args *a;
  SN_TRY(pick(b, "input", &a));
  if (!sn_args_has(a, "input")) return sn_args_fail(a, NULL, "needs the key 'input'");
  int d[3], n;
  /* One message for every way of getting it wrong: the shape is all there is to say. */
  if (sn_args_int_list(a, "input", d, 3, &n) != SN_OK || n != 3 || d[0] < 1 || d[1] < 1 || d[2] < 1)
    return sn_args_fail(a, "input", "expects [channels, height, width]: 3 positive integers");
  /* Shape inference works in int: bounded sizes keep every product and padding sum
   * in range (a 2^31-pixel side overflowed `same` padding). */
  if (d[0] > SN_MAX_INPUT_SIDE || d[1] > SN_MAX_INPUT_SIDE || d[2] > SN_MAX_INPUT_SIDE ||
      (long long)d[0] * d[1] * d[2] > SN_MAX_INPUT_SIZE)
    return sn_args_fail(a, "input", "is [%d, %d, %d]; each size may be at most %d and a sample at most %d values",
                        d[0], d[1], d[2], SN_MAX_INPUT_SIDE, SN_MAX_INPUT_SIZE);
  spec->input = sn_shape_chw(d[0], d[1], d[2]);

  if (sn_args_has(b.set, "layers"))
    return sn_args_fail(b.set, "layers", "cannot be replaced; set a layer's key with "
                        "model.layers.<name>.<key>=value");
  if (!sn_args_has(b.file, "layers")) return sn_args_fail(b.file, NULL, "needs the key 'layers'");
  if (raw->n_layers == 0) return sn_args_fail(b.file, "layers", "is empty");
  SN_TRY(read_layers(raw, spec));

  int loss;
  SN_TRY(get_choice(b, "loss", sn_loss_names, 2, -1, &loss));
  spec->loss = (sn_loss_kind)loss;
  return check_unused(b);
}

/* A section given in the file or by an override (an empty `key:` counts). */
static int given(block b) { return b.file->line > 0 || b.set->count > 0; }

/* A key a section cannot do without, once the section is given at all. */
static sn_status get_required_int(block b, const char *key, int min, int max, int *out) {
  if (!sn_args_has(b.file, key) && !sn_args_has(b.set, key))
    return sn_args_fail(b.file->line > 0 ? b.file : b.set, NULL, "needs the key '%s'", key);
  return get_int(b, key, 0, min, max, out);
}

/* data.augment and its blocks random_crop and random_shift. */
static sn_status read_augment(const sn_config_raw *raw, sn_augment_config *g) {
  block b = section(raw, SN_SEC_AUGMENT), crop = section(raw, SN_SEC_CROP),
        shift = section(raw, SN_SEC_SHIFT);
  sn_args *a;
  SN_TRY(pick(b, "flip_horizontal", &a));
  SN_TRY(sn_args_bool(a, "flip_horizontal", 0, &g->flip_horizontal));
  SN_TRY(check_unused(b));
  g->crop_padding = 0;
  if (given(crop)) SN_TRY(get_required_int(crop, "padding", 0, 1024, &g->crop_padding));
  SN_TRY(check_unused(crop));
  int fill = SN_FILL_EDGE;
  g->shift_max = 0;
  if (given(shift)) {
    SN_TRY(get_required_int(shift, "max", 0, 1024, &g->shift_max));
    SN_TRY(get_choice(shift, "fill", sn_fill_names, 3, SN_FILL_EDGE, &fill));
  }
  g->shift_fill = (sn_fill_mode)fill;
  return check_unused(shift);
}

/* data.pad_to: [H, W], which must be model.input's height and width. */
static sn_status get_pad_to(block b, sn_shape input, int pad_to[2]) {
  sn_args *a;
  SN_TRY(pick(b, "pad_to", &a));
  pad_to[0] = pad_to[1] = 0;
  if (!sn_args_has(a, "pad_to")) return SN_OK;
  int v[2], n;
  /* One message for every way of getting it wrong, as for model.input. */
  if (sn_args_int_list(a, "pad_to", v, 2, &n) != SN_OK || n != 2 || v[0] < 1 || v[1] < 1 ||
      v[0] > 65535 || v[1] > 65535)
    return sn_args_fail(a, "pad_to", "expects [height, width]: 2 integers between 1 and 65535");
  if (v[0] != input.d[1] || v[1] != input.d[2])
    return sn_args_fail(a, "pad_to", "is [%d, %d] but model.input is [%d, %d, %d]", v[0], v[1],
                        input.d[0], input.d[1], input.d[2]);
  pad_to[0] = v[0];
  pad_to[1] = v[1];
  return SN_OK;
}

/* data.channels: 1 or 3, which must be model.input's channel count. */
static sn_status get_channels(block b, sn_shape input, int *channels) {
  sn_args *a;
  SN_TRY(pick(b, "channels", &a));
  SN_TRY(sn_args_int(a, "channels", 0, INT_MIN, INT_MAX, channels));
  if (!sn_args_has(a, "channels")) return SN_OK;
  if (*channels != 1 && *channels != 3)
    return sn_args_fail(a, "channels", "must be 1 or 3, got %d", *channels);
  if (*channels != input.d[0])
    return sn_args_fail(a, "channels", "is %d but model.input is [%d, %d, %d]", *channels, input.d[0],
                        input.d[1], input.d[2]);
  return SN_OK;
}

static sn_status read_data(const sn_config_raw *raw, sn_shape input, sn_data_config *d) {
  block b = section(raw, SN_SEC_DATA);
  sn_args *a;
  SN_TRY(get_string(b, "train", "", d->train, sizeof d->train));
  SN_TRY(get_string(b, "test", "", d->test, sizeof d->test));
  SN_TRY(pick(b, "scale", &a));
  SN_TRY(sn_args_float(a, "scale", 1.0, 1e-12, 1e12, &d->scale));
  SN_TRY(get_norm(b, "mean", input.d[0], -1e9, d->mean, &d->n_mean));
  SN_TRY(get_norm(b, "std", input.d[0], 1e-12, d->std, &d->n_std));
  int placement;
  SN_TRY(get_choice(b, "placement", sn_placement_names, SN_PLACEMENT_COUNT, SN_PLACEMENT_AUTO, &placement));
  d->placement = (sn_placement)placement;
  SN_TRY(get_int(b, "prefetch", 4, 1, 64, &d->prefetch));
  SN_TRY(get_pad_to(b, input, d->pad_to));
  SN_TRY(get_channels(b, input, &d->channels));
  SN_TRY(check_unused(b));
  return read_augment(raw, &d->augment);
}

static sn_status read_train(const sn_config_raw *raw, sn_train_config *t) {
  block b = section(raw, SN_SEC_TRAIN);
  SN_TRY(get_int(b, "epochs", 1, 1, 1000000, &t->epochs));
  SN_TRY(get_int(b, "batch_size", 32, 1, 1 << 24, &t->batch_size));
  SN_TRY(get_long(b, "max_steps", &t->max_steps));
  SN_TRY(get_int(b, "log_every", 50, 1, INT_MAX, &t->log_every));
  SN_TRY(get_choice(b, "scale_lr", sn_scale_lr_names, 2, 0, &t->scale_lr_linear));
  /* The batch the base learning rate was tuned for, as in Goyal et al.'s linear rule. */
  SN_TRY(get_int(b, "base_batch_size", 256, 1, 1 << 24, &t->base_batch_size));
  sn_args *a;
  /* A few MB per bucket: large enough for bandwidth, small enough to start early. */
  SN_TRY(pick(b, "bucket_mb", &a));
  SN_TRY(sn_args_float(a, "bucket_mb", 4.0, 1e-3, 1e6, &t->bucket_mb));
  SN_TRY(pick(b, "overlap", &a));
  SN_TRY(sn_args_bool(a, "overlap", 1, &t->overlap));
  SN_TRY(pick(b, "shared_memory", &a));
  SN_TRY(sn_args_bool(a, "shared_memory", 1, &t->shared_memory));
  int precision;
  SN_TRY(get_choice(b, "precision", sn_precision_names, 2, SN_PRECISION_FP32, &precision));
  t->precision = (sn_precision)precision;
  SN_TRY(check_unused(b));
  SN_TRY(merge(section(raw, SN_SEC_OPTIMIZER), NULL, &t->optimizer));
  return merge(section(raw, SN_SEC_SCHEDULE), NULL, &t->schedule);
}

static sn_status read_checkpoint(const sn_config_raw *raw, const char *source,
                                 sn_checkpoint_config *c) {
  block b = section(raw, SN_SEC_CHECKPOINT);
  /* runs/<config file name without directory and extension> */
  const char *base = strrchr(source, '/') ? strrchr(source, '/') + 1 : source;
  const char *dot = strrchr(base, '.');
  const int stem = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
  char dflt[SN_PATH_CAP];
  snprintf(dflt, sizeof dflt, "runs/%.*s", stem, base);
  SN_TRY(get_string(b, "dir", dflt, c->dir, sizeof c->dir));
  SN_TRY(get_long(b, "every_steps", &c->every_steps));
  SN_TRY(get_int(b, "keep", 3, 1, 1000000, &c->keep));
  return check_unused(b);
}

static sn_status read_activations(const sn_config_raw *raw, sn_activations_config *c) {
  block b = section(raw, SN_SEC_ACTIVATIONS);
  SN_TRY(get_long(b, "every_steps", &c->every_steps));
  sn_args *a;
  SN_TRY(pick(b, "samples", &a));
  int samples[SN_MAX_ACTIVATION_SAMPLES];
  SN_TRY(sn_args_int_list(a, "samples", samples, SN_MAX_ACTIVATION_SAMPLES, &c->n_samples));
  for (int i = 0; i < c->n_samples; i++) {
    if (samples[i] < 0) return sn_args_fail(a, "samples", "holds the negative index %d", samples[i]);
    c->samples[i] = samples[i];
  }
  if (c->every_steps > 0 && c->n_samples == 0) {
    SN_TRY(pick(b, "every_steps", &a));
    return sn_args_fail(a, "every_steps", "needs 'samples', the sample indices to record");
  }
  return check_unused(b);
}

static sn_status read_config(const sn_config_raw *raw, sn_config *cfg) {
  block root = section(raw, SN_SEC_ROOT);
  SN_TRY(get_seed(root, &cfg->seed));
  sn_args *a;
  SN_TRY(pick(root, "report", &a));
  SN_TRY(sn_args_bool(a, "report", 0, &cfg->report));
  SN_TRY(check_unused(root));
  SN_TRY(read_model(raw, &cfg->model));
  SN_TRY(read_data(raw, cfg->model.input, &cfg->data));
  SN_TRY(read_train(raw, &cfg->train));
  SN_TRY(read_checkpoint(raw, cfg->path, &cfg->checkpoint));
  return read_activations(raw, &cfg->activations);
}

/* Sorts "path=value" into the overrides of its section or layer. */
static sn_status add_override(sn_config_raw *raw, const char *text) {
  const char *eq = strchr(text, '=');
  char path[256];
  if (!eq || eq == text || (size_t)(eq - text) >= sizeof path)
    return sn_fail(SN_ERR_CONFIG, "--set %s: expects key=value, e.g. train.epochs=3", text);
  memcpy(path, text, (size_t)(eq - text));
  path[eq - text] = '\0';

  static const char layers[] = "model.layers.";
  if (!strncmp(path, layers, sizeof layers - 1)) {
    const char *rest = path + sizeof layers - 1, *dot = strrchr(rest, '.');
    if (!dot || dot == rest || !dot[1])
      return sn_fail(SN_ERR_CONFIG, "--set %s: a layer's key is set as model.layers.<name>.<key>=value",
                     text);
    return sn_config_yaml_value(text, eq + 1, raw->layer_set, rest);
  }
  for (int s = 1; s < SN_SEC_COUNT; s++)
    if (!strcmp(sn_sections[s].path, path))
      return sn_fail(SN_ERR_CONFIG, "--set %s: '%s' is a section; set its keys as %s.<key>=value", text,
                     path, path);
  char *dot = strrchr(path, '.');
  const char *key = dot ? dot + 1 : path;
  if (!key[0]) return sn_fail(SN_ERR_CONFIG, "--set %s: names no key", text);
  if (dot) *dot = '\0';
  for (int s = 0; s < SN_SEC_COUNT; s++)
    if (!strcmp(sn_sections[s].path, dot ? path : ""))
      return sn_config_yaml_value(text, eq + 1, raw->set[s], key);
  char known[512] = "";
  for (int s = 1; s < SN_SEC_COUNT; s++) {
    strncat(known, sn_sections[s].path, sizeof known - strlen(known) - 1);
    if (s + 1 < SN_SEC_COUNT) strncat(known, ", ", sizeof known - strlen(known) - 1);
  }
  return sn_fail(SN_ERR_CONFIG, "--set %s: '%s' is not a section of the configuration (%s, model.layers.<name>)",
                 text, path, known);
}

sn_status sn_config_parse(const char *text, const char *source, const char *const *overrides,
                          int n_overrides, sn_config **out) {
  *out = NULL;
  sn_config *cfg = calloc(1, sizeof *cfg);
  if (!cfg) return sn_fail(SN_ERR_NOMEM, "cannot allocate configuration");
  snprintf(cfg->path, sizeof cfg->path, "%s", source ? source : "<string>");
  cfg->text = strdup(text);
  sn_config_raw raw;
  sn_status st = cfg->text ? sn_config_raw_init(&raw, cfg->path)
                           : sn_fail(SN_ERR_NOMEM, "cannot allocate configuration");
  if (st == SN_OK) {
    st = sn_config_yaml_read(text, strlen(text), cfg->path, &raw);
    for (int i = 0; i < n_overrides && st == SN_OK; i++) st = add_override(&raw, overrides[i]);
    if (st == SN_OK) st = read_config(&raw, cfg);
    sn_config_raw_free(&raw);
  }
  /* Made once here, so that whoever saves the run (checkpoints) has it without
   * reaching back for the overrides. */
  if (st == SN_OK) st = sn_config_to_yaml(cfg, &cfg->resolved);
  if (st != SN_OK) {
    sn_config_free(cfg);
    return st;
  }
  *out = cfg;
  return SN_OK;
}

/* Configs are small text files: anything larger (or a device, a FIFO) is not one,
 * and reading /dev/zero would never end. */
#define CONFIG_MAX_BYTES (1 << 20)

static sn_status read_file(const char *path, char **out) {
  FILE *f = fopen(path, "rb");
  if (!f) return sn_fail(SN_ERR_IO, "cannot open config '%s': %s", path, strerror(errno));
  struct stat info;
  if (fstat(fileno(f), &info) != 0 || !S_ISREG(info.st_mode)) {
    fclose(f);
    return sn_fail(SN_ERR_CONFIG, "config '%s' is not a regular file", path);
  }
  if (info.st_size > CONFIG_MAX_BYTES) {
    fclose(f);
    return sn_fail(SN_ERR_CONFIG, "config '%s' is %lld bytes, more than the %d a config may have", path,
                   (long long)info.st_size, CONFIG_MAX_BYTES);
  }
  size_t len = 0, cap = 1 << 14;
  char *buf = malloc(cap);
  while (buf) {
    len += fread(buf + len, 1, cap - 1 - len, f);
    if (len < cap - 1 || len > CONFIG_MAX_BYTES) break;
    char *bigger = realloc(buf, 2 * cap);
    if (!bigger) free(buf);
    buf = bigger;
    cap *= 2;
  }
  const int failed = ferror(f), err = errno;
  fclose(f);
  if (!buf) return sn_fail(SN_ERR_NOMEM, "cannot allocate config '%s'", path);
  if (failed) {
    free(buf);
    return sn_fail(SN_ERR_IO, "cannot read config '%s': %s", path, strerror(err));
  }
  buf[len] = '\0';
  *out = buf;
  return SN_OK;
}

sn_status sn_config_load(const char *path, const char *const *overrides, int n_overrides,
                         sn_config **out) {
  *out = NULL;
  char *text = NULL;
  SN_TRY(read_file(path, &text));
  sn_status st = sn_config_parse(text, path, overrides, n_overrides, out);
  free(text);
  return st;
}

void sn_config_free(sn_config *cfg) {
  if (!cfg) return;
  sn_model_spec_clear(&cfg->model);
  sn_args_free(cfg->train.optimizer);
  sn_args_free(cfg->train.schedule);
  free(cfg->text);
  free(cfg->resolved);
  free(cfg);
}
