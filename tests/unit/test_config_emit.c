/* The resolved configuration (sn_config_to_yaml): it reads back into an equal
 * configuration for every shipped config, shows overrides and defaults, quotes what
 * must be quoted, and is what a checkpoint saves and rebuilds its net from. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shardnet/checkpoint.h"
#include "shardnet/config.h"
#include "sn_test.h"

static sn_config *parse_text(const char *text, const char *source, const char *const *sets, int n_sets) {
  sn_config *cfg = NULL;
  if (sn_config_parse(text, source, sets, n_sets, &cfg) != SN_OK) {
    fprintf(stderr, "\n  %s: %s\n", source, sn_last_error());
    CU_FAIL("configuration rejected");
  }
  return cfg;
}

/* Reports the first field where a and b differ (NULL when they are equal). */
static const char *diff_args(const sn_args *a, const sn_args *b) {
  if (a->count != b->count) return "number of keys";
  for (int i = 0; i < a->count; i++) {
    const sn_arg *x = &a->v[i], *y = &b->v[i];
    if (strcmp(x->key, y->key)) return x->key;
    if (x->is_list != y->is_list || x->count != y->count) return x->key;
    for (int k = 0; k < x->count; k++)
      if (strcmp(x->items[k], y->items[k])) return x->key;
  }
  return NULL;
}

/* Unnamed layers of a are compared by the name the net gives them: b (read from the
 * resolved text) names every layer. */
static const char *diff_model(const sn_model_spec *a, const sn_model_spec *b) {
  if (!sn_shape_equal(a->input, b->input)) return "model.input";
  if (a->loss != b->loss) return "model.loss";
  if (a->n_layers != b->n_layers) return "number of layers";
  char (*names)[SN_NAME_CAP] = malloc((size_t)a->n_layers * sizeof *names);
  sn_model_spec_names(a, names);
  const char *d = NULL;
  for (int i = 0; i < a->n_layers && !d; i++) {
    const sn_layer_spec *x = &a->layers[i], *y = &b->layers[i];
    if (strcmp(x->type, y->type)) d = "layer type";
    else if (strcmp(names[i], y->name)) d = "layer name";
    else if (x->n_inputs != y->n_inputs) d = "layer inputs";
    for (int k = 0; k < x->n_inputs && !d; k++)
      if (strcmp(x->inputs[k], y->inputs[k])) d = "layer inputs";
    if (!d) d = diff_args(x->args, y->args);
  }
  free(names);
  return d;
}

static const char *diff_config(const sn_config *a, const sn_config *b) {
  const sn_data_config *p = &a->data, *q = &b->data;
  if (a->seed != b->seed) return "seed";
  if (strcmp(p->train, q->train) || strcmp(p->test, q->test)) return "data.train/test";
  if (p->scale != q->scale) return "data.scale";
  if (p->n_mean != q->n_mean || p->n_std != q->n_std) return "data.mean/std count";
  for (int i = 0; i < p->n_mean; i++)
    if (p->mean[i] != q->mean[i]) return "data.mean";
  for (int i = 0; i < p->n_std; i++)
    if (p->std[i] != q->std[i]) return "data.std";
  if (p->placement != q->placement || p->prefetch != q->prefetch) return "data.placement/prefetch";
  if (p->pad_to[0] != q->pad_to[0] || p->pad_to[1] != q->pad_to[1] || p->channels != q->channels)
    return "data.pad_to/channels";
  const sn_augment_config *g = &p->augment, *h = &q->augment;
  if (g->crop_padding != h->crop_padding || g->flip_horizontal != h->flip_horizontal ||
      g->shift_max != h->shift_max || g->shift_fill != h->shift_fill)
    return "data.augment";
  const char *d = diff_model(&a->model, &b->model);
  if (d) return d;
  const sn_train_config *s = &a->train, *t = &b->train;
  if (s->epochs != t->epochs || s->batch_size != t->batch_size || s->max_steps != t->max_steps ||
      s->log_every != t->log_every || s->scale_lr_linear != t->scale_lr_linear ||
      s->base_batch_size != t->base_batch_size)
    return "train";
  if ((d = diff_args(s->optimizer, t->optimizer)) || (d = diff_args(s->schedule, t->schedule))) return d;
  if (strcmp(a->checkpoint.dir, b->checkpoint.dir) || a->checkpoint.every_steps != b->checkpoint.every_steps ||
      a->checkpoint.keep != b->checkpoint.keep)
    return "checkpoint";
  if (a->activations.every_steps != b->activations.every_steps ||
      a->activations.n_samples != b->activations.n_samples)
    return "activations";
  for (int i = 0; i < a->activations.n_samples; i++)
    if (a->activations.samples[i] != b->activations.samples[i]) return "activations.samples";
  return NULL;
}

/* Reads cfg's resolved text back (without overrides: it holds them) and asserts an
 * equal configuration whose resolved text is the same text. */
static void check_round_trip(const sn_config *cfg, const char *what) {
  sn_config *back = parse_text(cfg->resolved, "<resolved>", NULL, 0);
  if (!back) {
    fprintf(stderr, "\n  %s: the resolved text:\n%s\n", what, cfg->resolved);
    return;
  }
  const char *d = diff_config(cfg, back);
  if (d) {
    fprintf(stderr, "\n  %s: '%s' differs after the round trip; the resolved text:\n%s\n", what, d, cfg->resolved);
    CU_FAIL("round trip changed the configuration");
  }
  if (strcmp(back->resolved, cfg->resolved)) {
    fprintf(stderr, "\n  %s: resolved twice:\n%s\n  once:\n%s\n", what, back->resolved, cfg->resolved);
    CU_FAIL("the resolved text is not a fixed point");
  }
  sn_config_free(back);
}

/* Asserts that a and b build nets with the same layers (names, types, parameter
 * counts); returns 1 when both build. */
static int same_net(const sn_model_spec *a, const sn_model_spec *b, const char *what) {
  sn_net *x = NULL, *y = NULL;
  sn_status sa = sn_net_create(a, &x), sb = sn_net_create(b, &y);
  if (sa != SN_OK || sb != SN_OK) {
    fprintf(stderr, "\n  %s: %s\n", what, sn_last_error());
    CU_FAIL("net does not build");
  } else {
    CU_ASSERT_EQUAL_FATAL(x->n_layers, y->n_layers);
    CU_ASSERT_EQUAL(x->n_params, y->n_params);
    CU_ASSERT_EQUAL(x->n_state, y->n_state);
    for (int i = 0; i < x->n_layers; i++) {
      CU_ASSERT_STRING_EQUAL(x->layers[i].name, y->layers[i].name);
      CU_ASSERT_PTR_EQUAL(x->layers[i].ops, y->layers[i].ops);
      CU_ASSERT_EQUAL_FATAL(x->layers[i].n_params, y->layers[i].n_params);
      for (int k = 0; k < x->layers[i].n_params; k++)
        CU_ASSERT_EQUAL(x->layers[i].params[k].count, y->layers[i].params[k].count);
    }
  }
  sn_net_destroy(x);
  sn_net_destroy(y);
  return sa == SN_OK && sb == SN_OK;
}

static int is_yaml(const char *name) {
  const size_t n = strlen(name);
  return n > 5 && !strcmp(name + n - 5, ".yaml");
}

static void test_shipped_configs(void) {
  const char *src = getenv("SN_SOURCE_DIR");
  char dir[SN_PATH_CAP];
  snprintf(dir, sizeof dir, "%s/configs", src ? src : ".");
  DIR *d = opendir(dir);
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (!is_yaml(e->d_name)) continue;
    char path[2 * SN_PATH_CAP];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    sn_config *cfg = NULL, *back = NULL;
    if (sn_config_load(path, NULL, 0, &cfg) != SN_OK) {
      fprintf(stderr, "\n  %s: %s\n", path, sn_last_error());
      CU_FAIL("shipped config rejected");
      continue;
    }
    n++;
    check_round_trip(cfg, path);
    back = parse_text(cfg->resolved, "<resolved>", NULL, 0);
    if (back) same_net(&cfg->model, &back->model, path);
    sn_config_free(back);
    sn_config_free(cfg);
  }
  closedir(d);
  CU_ASSERT(n >= 6);
}

/* The smallest configuration: everything but the model is a default. */
static void test_defaults_explicit(void) {
  static const char text[] =
      "model:\n"
      "  input: [1, 8, 8]\n"
      "  layers:\n"
      "    - {type: flatten}\n"
      "    - {type: dense, units: 3}\n"
      "  loss: mse\n";
  static const char want[] =
      "seed: 1\n"
      "data:\n"
      "  train: \"\"\n"
      "  test: \"\"\n"
      "  scale: 1\n"
      "  placement: auto\n"
      "  prefetch: 4\n"
      "  augment:\n"
      "    random_crop: {padding: 0}\n"
      "    flip_horizontal: false\n"
      "    random_shift: {max: 0, fill: edge}\n"
      "model:\n"
      "  input: [1, 8, 8]\n"
      "  layers:\n"
      "  - {type: flatten, name: flatten_1}\n"
      "  - {type: dense, name: dense_1, units: 3}\n"
      "  loss: mse\n"
      "train:\n"
      "  epochs: 1\n"
      "  batch_size: 32\n"
      "  max_steps: 0\n"
      "  log_every: 50\n"
      "  scale_lr: none\n"
      "  base_batch_size: 256\n"
      "  bucket_mb: 4\n"
      "  overlap: true\n"
      "  shared_memory: true\n"
      "  precision: fp32\n"
      "  optimizer: {}\n"
      "  schedule: {}\n"
      "checkpoint:\n"
      "  dir: runs/tiny\n"
      "  every_steps: 0\n"
      "  keep: 3\n"
      "activations:\n"
      "  every_steps: 0\n"
      "  samples: []\n";
  sn_config *cfg = parse_text(text, "configs/tiny.yaml", NULL, 0);
  if (!cfg) return;
  CU_ASSERT_STRING_EQUAL(cfg->text, text);
  if (strcmp(cfg->resolved, want)) {
    fprintf(stderr, "\n  resolved:\n%s\n  expected:\n%s\n", cfg->resolved, want);
    CU_FAIL("resolved text of the smallest config");
  }
  /* read back elsewhere, the checkpoint directory stays the one it was */
  check_round_trip(cfg, "tiny");
  sn_config_free(cfg);
}

static void test_overrides_resolved(void) {
  const char *src = getenv("SN_SOURCE_DIR");
  char path[SN_PATH_CAP];
  snprintf(path, sizeof path, "%s/configs/fashion_mnist.yaml", src ? src : ".");
  const char *const sets[] = {"train.epochs=7",
                              "model.layers.fc1.units=512",
                              "model.layers.dropout.rate=0.25",
                              "model.layers.conv2.name=conv_b",
                              "train.optimizer.lr=0.01",
                              "train.schedule.min_lr=1e-5",
                              "data.std=[0.5]",
                              "checkpoint.keep=5",
                              "activations.samples=[3, 1]"};
  const int n = sizeof sets / sizeof *sets;
  sn_config *cfg = NULL;
  if (sn_config_load(path, sets, n, &cfg) != SN_OK) {
    fprintf(stderr, "\n  %s: %s\n", path, sn_last_error());
    CU_FAIL_FATAL("fashion_mnist.yaml with overrides rejected");
  }
  const char *const want[] = {
      "\n  epochs: 7\n",
      "\n  - {type: dense, name: fc1, units: 512, activation: relu}\n",
      "\n  - {type: dropout, name: dropout, rate: 0.25}\n",
      "\n  - {type: conv2d, name: conv_b, filters: 64, kernel: 5, padding: same, activation: relu}\n",
      "\n  optimizer: {type: adam, lr: 0.01}\n",
      "\n  schedule: {type: cosine, warmup_epochs: 1, min_lr: 1e-5}\n",
      "\n  std: [0.5]\n",
      "\n  keep: 5\n",
      "\n  samples: [3, 1]\n",
      /* untouched values and the defaults the file left out */
      "\n  batch_size: 64\n",
      "\n  max_steps: 0\n",
      "\n  scale: 0.00392157\n",
  };
  for (size_t i = 0; i < sizeof want / sizeof *want; i++)
    if (!strstr(cfg->resolved, want[i])) {
      fprintf(stderr, "\n  lacks '%s' in:\n%s\n", want[i] + 1, cfg->resolved);
      CU_FAIL("override or default not in the resolved text");
    }
  /* the file text stays as read */
  CU_ASSERT_PTR_NOT_NULL(strstr(cfg->text, "epochs: 5"));
  check_round_trip(cfg, "fashion_mnist.yaml with overrides");
  sn_config_free(cfg);
}

static void test_pipeline_resolved(void) {
  static const char text[] =
      "data:\n"
      "  train: a.h5\n"
      "  placement: shard\n"
      "  pad_to: [12, 10]\n"
      "  channels: 3\n"
      "  std: [0.5, 0.25, 2]\n"
      "  augment:\n"
      "    random_shift: {fill: reflect, max: 3}\n"
      "model:\n"
      "  input: [3, 12, 10]\n"
      "  layers: [{type: flatten}, {type: dense, units: 2}]\n"
      "  loss: mse\n";
  const char *const sets[] = {"data.augment.random_crop.padding=4", "data.augment.flip_horizontal=yes",
                              "data.prefetch=16"};
  sn_config *cfg = parse_text(text, "<pipeline>", sets, 3);
  if (!cfg) return;
  static const char want[] =
      "data:\n"
      "  train: a.h5\n"
      "  test: \"\"\n"
      "  scale: 1\n"
      "  std: [0.5, 0.25, 2]\n"
      "  placement: shard\n"
      "  prefetch: 16\n"
      "  pad_to: [12, 10]\n"
      "  channels: 3\n"
      "  augment:\n"
      "    random_crop: {padding: 4}\n"
      "    flip_horizontal: true\n"
      "    random_shift: {max: 3, fill: reflect}\n"
      "model:\n";
  if (!strstr(cfg->resolved, want)) {
    fprintf(stderr, "\n  lacks\n%s  in:\n%s\n", want, cfg->resolved);
    CU_FAIL("data pipeline keys in the resolved text");
  }
  check_round_trip(cfg, "data pipeline keys");
  sn_config_free(cfg);
}

static void test_default_names(void) {
  /* dense_2 is taken by a named layer, so the second unnamed dense becomes dense_3 */
  static const char text[] =
      "model:\n"
      "  input: [2, 6, 6]\n"
      "  layers:\n"
      "    - {type: conv2d, filters: 3, kernel: 3}\n"
      "    - {type: conv2d, name: conv2d_2, filters: 3, kernel: 1}\n"
      "    - {type: add, inputs: [conv2d_1, conv2d_2]}\n"
      "    - {type: flatten}\n"
      "    - {type: dense, name: dense_2, units: 4}\n"
      "    - {type: dense, units: 2}\n"
      "  loss: mse\n";
  sn_config *cfg = parse_text(text, "<names>", NULL, 0);
  if (!cfg) return;
  const char *const want[] = {"{type: conv2d, name: conv2d_1, filters: 3, kernel: 3}",
                              "{type: add, name: add_1, inputs: [conv2d_1, conv2d_2]}",
                              "{type: flatten, name: flatten_1}", "{type: dense, name: dense_3, units: 2}"};
  for (size_t i = 0; i < sizeof want / sizeof *want; i++)
    if (!strstr(cfg->resolved, want[i])) {
      fprintf(stderr, "\n  lacks '%s' in:\n%s\n", want[i], cfg->resolved);
      CU_FAIL("default layer name");
    }
  check_round_trip(cfg, "default names");
  sn_config *back = parse_text(cfg->resolved, "<resolved>", NULL, 0);
  if (back) same_net(&cfg->model, &back->model, "default names");
  sn_config_free(back);
  /* every layer is named now, so an override reaches an unnamed one */
  const char *const set[] = {"model.layers.dense_3.units=5"};
  back = parse_text(cfg->resolved, "<resolved>", set, 1);
  if (back) CU_ASSERT_STRING_EQUAL(sn_args_find(back->model.layers[5].args, "units")->items[0], "5");
  sn_config_free(back);
  sn_config_free(cfg);
}

static void test_special_characters(void) {
  static const char text[] =
      "data:\n"
      "  train: 'runs/a: b/train #1.h5'\n"
      "  test: \"# not a comment\"\n"
      "model:\n"
      "  input: [1, 4, 4]\n"
      "  layers:\n"
      "    - {type: flatten, name: 'flat, [x]: {y}'}\n"
      "    - {type: dense, name: \"it's \\\"quoted\\\"\", units: 2, activation: '  relu'}\n"
      "  loss: mse\n"
      "train:\n"
      "  optimizer: {type: 'sgd #1', lr: '-0.5', momentum: '[0.9]'}\n"
      "  schedule: {type: \"tab\\there\\nand a line\"}\n"
      "checkpoint: {dir: \" données/ü: x \"}\n";
  sn_config *cfg = parse_text(text, "<special>", NULL, 0);
  if (!cfg) return;
  CU_ASSERT_STRING_EQUAL(cfg->data.train, "runs/a: b/train #1.h5");
  CU_ASSERT_STRING_EQUAL(cfg->checkpoint.dir, " données/ü: x ");
  /* the text holds them as YAML strings that the loader reads back exactly */
  check_round_trip(cfg, "special characters");
  sn_config *back = parse_text(cfg->resolved, "<resolved>", NULL, 0);
  if (back) {
    CU_ASSERT_STRING_EQUAL(back->data.train, "runs/a: b/train #1.h5");
    CU_ASSERT_STRING_EQUAL(back->data.test, "# not a comment");
    CU_ASSERT_STRING_EQUAL(back->model.layers[0].name, "flat, [x]: {y}");
    CU_ASSERT_STRING_EQUAL(back->model.layers[1].name, "it's \"quoted\"");
    CU_ASSERT_STRING_EQUAL(sn_args_find(back->model.layers[1].args, "activation")->items[0], "  relu");
    CU_ASSERT_STRING_EQUAL(sn_args_find(back->train.optimizer, "momentum")->items[0], "[0.9]");
    CU_ASSERT_FALSE(sn_args_find(back->train.optimizer, "momentum")->is_list);
    CU_ASSERT_STRING_EQUAL(sn_args_find(back->train.schedule, "type")->items[0], "tab\there\nand a line");
    CU_ASSERT_STRING_EQUAL(back->checkpoint.dir, " données/ü: x ");
  }
  /* UTF-8 stays as it is, not escaped */
  CU_ASSERT_PTR_NOT_NULL(strstr(cfg->resolved, "données/ü"));
  sn_config_free(back);
  sn_config_free(cfg);
}

static void test_checkpoint_config(void) {
  static const char text[] =
      "seed: 5\n"
      "model:\n"
      "  input: [1, 6, 6]\n"
      "  layers:\n"
      "    - {type: conv2d, filters: 2, kernel: 3}\n"
      "    - {type: batchnorm2d}\n"
      "    - {type: flatten}\n"
      "    - {type: dense, name: fc, units: 3}\n"
      "  loss: softmax_cross_entropy\n"
      "train: {optimizer: {type: sgd, lr: 0.1}}\n";
  /* A renaming override would fail if applied to the resolved text again: there is
   * no layer 'fc' in it. */
  const char *const sets[] = {"model.layers.fc.units=4", "model.layers.fc.name=logits", "train.epochs=7"};
  sn_config *cfg = parse_text(text, "<ckpt>", sets, 3);
  if (!cfg) return;
  sn_net *net = NULL;
  CU_ASSERT_EQUAL_FATAL(sn_net_create(&cfg->model, &net), SN_OK);
  sn_net_init_params(net, cfg->seed);
  char path[64];
  snprintf(path, sizeof path, "/tmp/sn-config-emit-%d.h5", (int)getpid());
  sn_checkpoint_meta meta = {.step = 3, .seed = cfg->seed, .world_size = 1, .config_text = cfg->resolved,
                             .overrides = sets, .n_overrides = 3};
  CU_ASSERT_EQUAL_FATAL(sn_checkpoint_write(path, net, NULL, &meta), SN_OK);

  sn_checkpoint_info info;
  CU_ASSERT_EQUAL_FATAL(sn_checkpoint_read_info(path, &info), SN_OK);
  CU_ASSERT_EQUAL(info.format_version, 2);
  CU_ASSERT_STRING_EQUAL(info.config_text, cfg->resolved);
  CU_ASSERT_EQUAL(info.n_overrides, 3);
  if (info.n_overrides == 3) CU_ASSERT_STRING_EQUAL(info.overrides[1], "model.layers.fc.name=logits");
  sn_config *saved = parse_text(info.config_text, path, NULL, 0);
  if (saved) {
    CU_ASSERT_EQUAL(saved->train.epochs, 7);
    CU_ASSERT_PTR_NULL(diff_config(cfg, saved));
    same_net(&cfg->model, &saved->model, "checkpoint config");
  }
  sn_config_free(saved);
  sn_checkpoint_info_free(&info);

  /* what eval and predict do: the same net, its weights loaded */
  sn_config *ocfg = NULL;
  sn_net *onet = NULL;
  char used[SN_PATH_CAP];
  if (sn_checkpoint_open_model(path, &ocfg, &onet, used) != SN_OK) {
    fprintf(stderr, "\n  %s\n", sn_last_error());
    CU_FAIL("sn_checkpoint_open_model");
  } else {
    CU_ASSERT_EQUAL_FATAL(onet->n_layers, 4);
    const char *const names[] = {"conv2d_1", "batchnorm2d_1", "flatten_1", "logits"};
    for (int i = 0; i < 4; i++) CU_ASSERT_STRING_EQUAL(onet->layers[i].name, names[i]);
    CU_ASSERT_EQUAL_FATAL(onet->n_params, net->n_params);
    CU_ASSERT_EQUAL(memcmp(onet->params, net->params, net->n_params * sizeof *net->params), 0);
    CU_ASSERT_STRING_EQUAL(ocfg->resolved, cfg->resolved);
  }
  sn_net_destroy(onet);
  sn_config_free(ocfg);
  sn_net_destroy(net);
  sn_config_free(cfg);
  unlink(path);
}

int main(void) {
  const sn_test_case cases[] = {
      {"every shipped config reads back equal from its resolved text", test_shipped_configs},
      {"defaults are explicit, layers named", test_defaults_explicit},
      {"overrides appear with their values", test_overrides_resolved},
      {"data pipeline keys: overrides, defaults and nested blocks", test_pipeline_resolved},
      {"unnamed layers get the net's names", test_default_names},
      {"paths and strings with YAML syntax in them are quoted", test_special_characters},
      {"a checkpoint's config reads back and rebuilds the net", test_checkpoint_config},
      {NULL, NULL}};
  return sn_test_main("config_emit", cases);
}
