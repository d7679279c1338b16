/* The YAML configuration loader: values, defaults, overrides, and every error naming
 * its file, line and key; the shipped example model's shapes. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shardnet/config.h"
#include "sn_test.h"

/* Lines 1-6 of most configs below; what a test adds starts at line 7. */
#define MODEL                        \
  "model:\n"                         \
  "  input: [1, 8, 8]\n"             \
  "  layers:\n"                      \
  "    - {type: flatten}\n"          \
  "    - {type: dense, units: 3}\n"  \
  "  loss: mse\n"

static sn_config *parse(const char *text, const char *const *sets, int n_sets) {
  sn_config *cfg = NULL;
  if (sn_config_parse(text, "<t>", sets, n_sets, &cfg) != SN_OK) {
    fprintf(stderr, "\n  unexpected error: %s\n", sn_last_error());
    CU_FAIL("configuration rejected");
  }
  return cfg;
}

/* Asserts that the message is exactly want (NULL: only the status is checked). */
static void check_message(sn_status got, sn_status want_status, const char *want, int line) {
  char what[64];
  snprintf(what, sizeof what, "error expected by line %d", line);
  CU_assertImplementation(got == want_status, (unsigned)line, what, __FILE__, "", CU_FALSE);
  if (want && strcmp(sn_last_error(), want)) {
    fprintf(stderr, "\n  line %d: message '%s'\n           expected '%s'\n", line, sn_last_error(), want);
    CU_assertImplementation(CU_FALSE, (unsigned)line, "exact error message", __FILE__, "", CU_FALSE);
  }
}

/* Asserts that every NULL-terminated needle is in the message. */
static void check_contains(int line, ...) {
  va_list ap;
  va_start(ap, line);
  for (const char *needle; (needle = va_arg(ap, const char *));) {
    if (strstr(sn_last_error(), needle)) continue;
    fprintf(stderr, "\n  line %d: message '%s' lacks '%s'\n", line, sn_last_error(), needle);
    CU_assertImplementation(CU_FALSE, (unsigned)line, "error message names it", __FILE__, "", CU_FALSE);
  }
  va_end(ap);
}

#define EXPECT_PARSE_ERROR(text, sets, n_sets, message)                                  \
  do {                                                                                    \
    sn_config *cfg_ = NULL;                                                               \
    check_message(sn_config_parse((text), "<t>", (sets), (n_sets), &cfg_), SN_ERR_CONFIG, \
                  (message), __LINE__);                                                   \
    CU_ASSERT_PTR_NULL(cfg_);                                                             \
    sn_config_free(cfg_);                                                                 \
  } while (0)

/* Loads text, which must be accepted, and returns sn_net_create's status. */
static sn_status build(const char *text) {
  sn_config *cfg = parse(text, NULL, 0);
  if (!cfg) return SN_OK;
  sn_net *net = NULL;
  sn_status st = sn_net_create(&cfg->model, &net);
  sn_net_destroy(net);
  sn_config_free(cfg);
  return st;
}

static const char full[] =
    "# every section\n"                                          /* 1 */
    "seed: 42\n"                                                 /* 2 */
    "data:\n"                                                    /* 3 */
    "  train: a/train.h5\n"                                      /* 4 */
    "  test: a/test.h5\n"                                        /* 5 */
    "  scale: 0.5\n"                                             /* 6 */
    "  mean: [0.1, 0.2, 0.3]\n"                                  /* 7 */
    "  std: [0.5]\n"                                             /* 8 */
    "model:\n"                                                   /* 9 */
    "  input: [3, 8, 8]\n"                                       /* 10 */
    "  layers:\n"                                                /* 11 */
    "    - type: conv2d\n"                                       /* 12 */
    "      name: c1\n"                                           /* 13 */
    "      filters: 4\n"                                         /* 14 */
    "      kernel: [3, 1]\n"                                     /* 15 */
    "    - {type: flatten}\n"                                    /* 16 */
    "    - {type: dense, name: fc, units: 10, inputs: [flatten_1]}\n" /* 17 */
    "  loss: softmax_cross_entropy\n"                            /* 18 */
    "train:\n"                                                   /* 19 */
    "  epochs: 4\n"                                              /* 20 */
    "  batch_size: 16\n"                                         /* 21 */
    "  max_steps: 100\n"                                         /* 22 */
    "  log_every: 5\n"                                           /* 23 */
    "  scale_lr: linear\n"                                       /* 24 */
    "  base_batch_size: 64\n"                                    /* 25 */
    "  optimizer: {type: sgd, lr: 0.1, momentum: 0.9}\n"         /* 26 */
    "checkpoint: {dir: out/ck, every_steps: 10, keep: 2}\n"      /* 27 */
    "activations: {every_steps: 7, samples: [0, 5, 9]}\n";       /* 28 */

static void test_values(void) {
  sn_config *cfg = parse(full, NULL, 0);
  if (!cfg) return;
  CU_ASSERT_STRING_EQUAL(cfg->path, "<t>");
  CU_ASSERT_STRING_EQUAL(cfg->text, full);
  CU_ASSERT_EQUAL(cfg->seed, 42);
  CU_ASSERT_STRING_EQUAL(cfg->data.train, "a/train.h5");
  CU_ASSERT_STRING_EQUAL(cfg->data.test, "a/test.h5");
  CU_ASSERT_DOUBLE_EQUAL(cfg->data.scale, 0.5, 0);
  CU_ASSERT_EQUAL(cfg->data.n_mean, 3);
  CU_ASSERT_DOUBLE_EQUAL(cfg->data.mean[2], 0.3, 1e-15);
  CU_ASSERT_EQUAL(cfg->data.n_std, 1);
  CU_ASSERT_DOUBLE_EQUAL(cfg->data.std[0], 0.5, 0);

  const sn_model_spec *m = &cfg->model;
  CU_ASSERT_STRING_EQUAL(m->source, "<t>");
  CU_ASSERT(sn_shape_equal(m->input, sn_shape_chw(3, 8, 8)));
  CU_ASSERT_EQUAL(m->loss, SN_LOSS_SOFTMAX_CROSS_ENTROPY);
  CU_ASSERT_EQUAL_FATAL(m->n_layers, 3);
  const sn_layer_spec *c1 = &m->layers[0];
  CU_ASSERT_STRING_EQUAL(c1->type, "conv2d");
  CU_ASSERT_STRING_EQUAL(c1->name, "c1");
  CU_ASSERT_EQUAL(c1->line, 12);
  CU_ASSERT_EQUAL(c1->n_inputs, 0);
  /* type and name are the graph's; the layer's own keys keep their lines */
  CU_ASSERT_EQUAL(c1->args->count, 2);
  CU_ASSERT_FALSE(sn_args_has(c1->args, "type") || sn_args_has(c1->args, "name"));
  const sn_arg *kernel = sn_args_find(c1->args, "kernel");
  CU_ASSERT_PTR_NOT_NULL_FATAL(kernel);
  CU_ASSERT_EQUAL(kernel->line, 15);
  CU_ASSERT(kernel->is_list && kernel->count == 2);
  CU_ASSERT_STRING_EQUAL(kernel->items[1], "1");
  CU_ASSERT_EQUAL(sn_args_find(c1->args, "filters")->line, 14);
  CU_ASSERT_STRING_EQUAL(m->layers[1].type, "flatten");
  CU_ASSERT_STRING_EQUAL(m->layers[1].name, "");
  CU_ASSERT_EQUAL(m->layers[1].line, 16);
  CU_ASSERT_EQUAL(m->layers[2].n_inputs, 1);
  CU_ASSERT_STRING_EQUAL(m->layers[2].inputs[0], "flatten_1");
  CU_ASSERT_FALSE(sn_args_has(m->layers[2].args, "inputs"));

  CU_ASSERT_EQUAL(cfg->train.epochs, 4);
  CU_ASSERT_EQUAL(cfg->train.batch_size, 16);
  CU_ASSERT_EQUAL(cfg->train.max_steps, 100);
  CU_ASSERT_EQUAL(cfg->train.log_every, 5);
  CU_ASSERT_EQUAL(cfg->train.scale_lr_linear, 1);
  CU_ASSERT_EQUAL(cfg->train.base_batch_size, 64);
  const sn_args *opt = cfg->train.optimizer;
  CU_ASSERT_EQUAL(opt->count, 3);
  CU_ASSERT_EQUAL(opt->line, 26);
  CU_ASSERT_STRING_EQUAL(opt->source, "<t>");
  CU_ASSERT_STRING_EQUAL(sn_args_find(opt, "type")->items[0], "sgd");
  CU_ASSERT_STRING_EQUAL(sn_args_find(opt, "momentum")->items[0], "0.9");
  /* absent, yet never NULL */
  CU_ASSERT_PTR_NOT_NULL_FATAL(cfg->train.schedule);
  CU_ASSERT_EQUAL(cfg->train.schedule->count, 0);

  CU_ASSERT_STRING_EQUAL(cfg->checkpoint.dir, "out/ck");
  CU_ASSERT_EQUAL(cfg->checkpoint.every_steps, 10);
  CU_ASSERT_EQUAL(cfg->checkpoint.keep, 2);
  CU_ASSERT_EQUAL(cfg->activations.every_steps, 7);
  CU_ASSERT_EQUAL(cfg->activations.n_samples, 3);
  CU_ASSERT_EQUAL(cfg->activations.samples[1], 5);

  /* the spec builds: conv 4x6x8 -> flatten 192 -> dense 10 */
  sn_net *net = NULL;
  CU_ASSERT_EQUAL(sn_net_create(&cfg->model, &net), SN_OK);
  if (net) CU_ASSERT(sn_shape_equal(net->layers[1].out_shape, sn_shape_vec(192)));
  sn_net_destroy(net);
  sn_config_free(cfg);
}

static void test_defaults(void) {
  sn_config *cfg = NULL;
  CU_ASSERT_EQUAL_FATAL(sn_config_parse(MODEL, "configs/tiny.yaml", NULL, 0, &cfg), SN_OK);
  CU_ASSERT_EQUAL(cfg->seed, 1);
  CU_ASSERT_STRING_EQUAL(cfg->data.train, "");
  CU_ASSERT_DOUBLE_EQUAL(cfg->data.scale, 1.0, 0);
  CU_ASSERT_EQUAL(cfg->data.n_mean + cfg->data.n_std, 0);
  CU_ASSERT_EQUAL(cfg->data.placement, SN_PLACEMENT_AUTO);
  CU_ASSERT_EQUAL(cfg->data.prefetch, 4);
  CU_ASSERT(cfg->data.pad_to[0] == 0 && cfg->data.pad_to[1] == 0);
  CU_ASSERT_EQUAL(cfg->data.channels, 0);
  CU_ASSERT(cfg->data.augment.crop_padding == 0 && !cfg->data.augment.flip_horizontal &&
            cfg->data.augment.shift_max == 0 && cfg->data.augment.shift_fill == SN_FILL_EDGE);
  CU_ASSERT_EQUAL(cfg->model.loss, SN_LOSS_MSE);
  CU_ASSERT_EQUAL(cfg->train.epochs, 1);
  CU_ASSERT_EQUAL(cfg->train.batch_size, 32);
  CU_ASSERT_EQUAL(cfg->train.max_steps, 0);
  CU_ASSERT_EQUAL(cfg->train.log_every, 50);
  CU_ASSERT_EQUAL(cfg->train.scale_lr_linear, 0);
  CU_ASSERT_EQUAL(cfg->train.base_batch_size, 256);
  CU_ASSERT_EQUAL(cfg->train.precision, SN_PRECISION_FP32);
  CU_ASSERT(cfg->train.optimizer && cfg->train.optimizer->count == 0);
  CU_ASSERT(cfg->train.schedule && cfg->train.schedule->count == 0);
  CU_ASSERT_STRING_EQUAL(cfg->checkpoint.dir, "runs/tiny");
  CU_ASSERT_EQUAL(cfg->checkpoint.every_steps, 0);
  CU_ASSERT_EQUAL(cfg->checkpoint.keep, 3);
  CU_ASSERT_EQUAL(cfg->activations.every_steps, 0);
  CU_ASSERT_EQUAL(cfg->activations.n_samples, 0);
  sn_config_free(cfg);
}

static void test_unknown_keys(void) {
  EXPECT_PARSE_ERROR(MODEL "sede: 3\n", NULL, 0, "<t>:7: key 'sede' is not a known key");
  /* a misspelled section is unknown too, not "the wrong type" */
  EXPECT_PARSE_ERROR(MODEL "trian:\n  epochs: 3\n", NULL, 0, "<t>:7: key 'trian' is not a known key");
  EXPECT_PARSE_ERROR(MODEL "train:\n  epochs: 2\n  batch: 8\n", NULL, 0,
                     "<t>:9: train: key 'batch' is not a known key");
  EXPECT_PARSE_ERROR(MODEL "data: {train: a.h5, tset: b.h5}\n", NULL, 0,
                     "<t>:7: data: key 'tset' is not a known key");
  EXPECT_PARSE_ERROR("model:\n  input: [1, 8, 8]\n  inputs: [a]\n  layers: [{type: flatten}]\n  loss: mse\n",
                     NULL, 0, "<t>:3: model: key 'inputs' is not a known key");
  EXPECT_PARSE_ERROR(MODEL "checkpoint:\n  every: 5\n", NULL, 0,
                     "<t>:8: checkpoint: key 'every' is not a known key");
  EXPECT_PARSE_ERROR(MODEL "train: {epochs: 1, epochs: 2}\n", NULL, 0,
                     "<t>:7: train: key 'epochs' is given twice");
  EXPECT_PARSE_ERROR(MODEL "train: {epochs: 1}\ntrain: {epochs: 2}\n", NULL, 0,
                     "<t>:8: key 'train' is given twice");
}

static void test_unknown_layer_key(void) {
  /* the net rejects it, at the key's own line */
  check_message(build("model:\n"
                      "  input: [1, 8, 8]\n"
                      "  layers:\n"
                      "    - type: flatten\n"
                      "    - type: dense\n"
                      "      units: 3\n"
                      "      activaton: relu\n"
                      "  loss: mse\n"),
                SN_ERR_CONFIG, "<t>:7: layer 'dense_1' (dense): key 'activaton' is not a known key",
                __LINE__);
  check_message(build("model:\n  input: [1, 8, 8]\n  layers:\n    - {type: flatten}\n"
                      "    - {type: dense, name: fc, unit: 3}\n  loss: mse\n"),
                SN_ERR_CONFIG, NULL, __LINE__);
  check_contains(__LINE__, "<t>:5: layer 'fc' (dense): ", "'units'", NULL);
}

static void test_wrong_types(void) {
  EXPECT_PARSE_ERROR(MODEL "train:\n  epochs: abc\n", NULL, 0,
                     "<t>:8: train: key 'epochs' expects an integer, got 'abc'");
  EXPECT_PARSE_ERROR(MODEL "train: {batch_size: 0}\n", NULL, 0,
                     "<t>:7: train: key 'batch_size' must be between 1 and 16777216, got 0");
  EXPECT_PARSE_ERROR(MODEL "train: {epochs: [1, 2]}\n", NULL, 0,
                     "<t>:7: train: key 'epochs' expects a single value, got a list of 2");
  EXPECT_PARSE_ERROR(MODEL "train: {epochs: {n: 1}}\n", NULL, 0,
                     "<t>:7: train: key 'epochs' expects a value, not a mapping");
  EXPECT_PARSE_ERROR(MODEL "train: 5\n", NULL, 0,
                     "<t>:7: key 'train' expects a mapping of keys, e.g. {key: value}");
  EXPECT_PARSE_ERROR(MODEL "train: {scale_lr: sqrt}\n", NULL, 0,
                     "<t>:7: train: key 'scale_lr' must be one of none, linear, got 'sqrt'");
  EXPECT_PARSE_ERROR(MODEL "train: {precision: fp16}\n", NULL, 0,
                     "<t>:7: train: key 'precision' must be one of fp32, bf16, got 'fp16'");
  EXPECT_PARSE_ERROR(MODEL "seed: -3\n", NULL, 0, "<t>:7: key 'seed' expects a non-negative integer, got '-3'");
  EXPECT_PARSE_ERROR(MODEL "data: {std: [0.5, 0.5]}\n", NULL, 0,
                     "<t>:7: data: key 'std' has 2 values; give one, or one per input channel (1)");
  EXPECT_PARSE_ERROR(MODEL "activations: {samples: [1, -2]}\n", NULL, 0,
                     "<t>:7: activations: key 'samples' holds the negative index -2");
  EXPECT_PARSE_ERROR(MODEL "train: {optimizer: {type: adam, betas: {a: 1}}}\n", NULL, 0,
                     "<t>:7: train.optimizer: key 'betas' expects a value or a list of values, not a mapping");
  const char *const inputs[] = {"[1, 8]", "[1, 0, 8]", "8", "[1, 8, x]", "[1, 8, 8, 8]"};
  for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
    char text[256];
    snprintf(text, sizeof text, "model:\n  input: %s\n  layers: [{type: flatten}]\n  loss: mse\n", inputs[i]);
    EXPECT_PARSE_ERROR(text, NULL, 0,
                       "<t>:2: model: key 'input' expects [channels, height, width]: 3 positive integers");
  }
  EXPECT_PARSE_ERROR("model:\n  input: [1, 8, 8]\n  layers: {type: flatten}\n  loss: mse\n", NULL, 0,
                     "<t>:3: model: key 'layers' expects a list of layers, e.g. [{type: dense, units: 10}]");
  EXPECT_PARSE_ERROR("model:\n  input: [1, 8, 8]\n  layers: [flatten]\n  loss: mse\n", NULL, 0,
                     "<t>:3: layer 1: must be a mapping, e.g. {type: dense, units: 10}");
  EXPECT_PARSE_ERROR("model:\n  input: [1, 8, 8]\n  layers: [{type: flatten, inputs: [[a]]}]\n  loss: mse\n",
                     NULL, 0, "<t>:3: layer 1: key 'inputs' expects a list of values, not of lists or mappings");
  EXPECT_PARSE_ERROR("[1, 2]\n", NULL, 0,
                     "<t>:1: the top level must be a mapping of sections (model: ..., train: ...)");
}

static void test_missing_keys(void) {
  EXPECT_PARSE_ERROR("seed: 1\n"
                     "model:\n"
                     "  input: [1, 8, 8]\n"
                     "  layers: [{type: flatten}]\n",
                     NULL, 0, "<t>:2: model: needs the key 'loss'");
  EXPECT_PARSE_ERROR("model:\n  layers: [{type: flatten}]\n  loss: mse\n", NULL, 0,
                     "<t>:1: model: needs the key 'input'");
  EXPECT_PARSE_ERROR("model:\n  input: [1, 8, 8]\n  loss: mse\n", NULL, 0, "<t>:1: model: needs the key 'layers'");
  EXPECT_PARSE_ERROR("model:\n  input: [1, 8, 8]\n  layers: []\n  loss: mse\n", NULL, 0,
                     "<t>:3: model: key 'layers' is empty");
  EXPECT_PARSE_ERROR("seed: 1\n", NULL, 0, "<t>:1: needs the key 'model' (input, layers, loss)");
  EXPECT_PARSE_ERROR("", NULL, 0, "<t>:1: needs the key 'model' (input, layers, loss)");
  EXPECT_PARSE_ERROR(MODEL "activations: {every_steps: 10}\n", NULL, 0,
                     "<t>:7: activations: key 'every_steps' needs 'samples', the sample indices to record");
  /* a layer without a type, in both YAML styles */
  EXPECT_PARSE_ERROR("model:\n  input: [1, 8, 8]\n  layers:\n    - {type: flatten}\n    - {units: 3}\n  loss: mse\n",
                     NULL, 0, "<t>:5: layer 2: needs the key 'type'");
  EXPECT_PARSE_ERROR("model:\n  input: [1, 8, 8]\n  layers:\n    - type: flatten\n    - name: fc\n      units: 3\n"
                     "  loss: mse\n",
                     NULL, 0, "<t>:5: layer 2: needs the key 'type'");
}

static void test_unknown_layer_type(void) {
  check_message(build("model:\n  input: [1, 8, 8]\n  layers:\n    - {type: flatten}\n"
                      "    - {type: dense3d, name: fc, units: 3}\n  loss: mse\n"),
                SN_ERR_CONFIG, NULL, __LINE__);
  check_contains(__LINE__, "<t>:5: layer 'fc': key 'type' names an unknown layer type 'dense3d'",
                 "conv2d", NULL);
}

static void test_yaml_syntax_error(void) {
  const char *texts[] = {
      /* an unclosed flow list runs into the next key */
      "model:\n  input: [1, 8, 8]\n  layers: [{type: flatten}\n  loss: mse\n",
      /* a key indented under nothing */
      "seed: 1\nmodel:\n  input: [1, 8, 8]\n   layers: []\n",
      /* a tab where indentation must be spaces */
      "seed: 1\nmodel:\n\tinput: [1, 8, 8]\n"};
  const char *lines[] = {"<t>:4: YAML syntax error: ", "<t>:4: YAML syntax error: ", "<t>:3: YAML syntax error: "};
  for (int i = 0; i < 3; i++) {
    EXPECT_PARSE_ERROR(texts[i], NULL, 0, NULL);
    check_contains(__LINE__, lines[i], NULL);
  }
  EXPECT_PARSE_ERROR(MODEL "---\nseed: 2\n", NULL, 0, NULL);
  check_contains(__LINE__, "<t>:7: a second YAML document", NULL);
}

static void test_shape_errors(void) {
  check_message(build("model:\n  input: [1, 4, 4]\n  layers:\n    - {type: conv2d, name: big, filters: 2, kernel: 5}\n"
                      "  loss: mse\n"),
                SN_ERR_SHAPE, NULL, __LINE__);
  check_contains(__LINE__, "<t>:4: layer 'big' (conv2d): kernel 5x5 is larger than the padded input 4x4", NULL);
  /* padding 1 makes it 6x6: large enough */
  CU_ASSERT_EQUAL(build("model:\n  input: [1, 4, 4]\n  layers:\n    - {type: conv2d, filters: 2, kernel: 5, padding: 1}\n"
                        "  loss: mse\n"),
                  SN_OK);
  check_message(build("model:\n  input: [1, 8, 8]\n  layers:\n    - {type: conv2d, filters: 2, kernel: 3}\n"
                      "    - {type: dense, name: fc, units: 3}\n  loss: mse\n"),
                SN_ERR_SHAPE, NULL, __LINE__);
  check_contains(__LINE__, "<t>:5: layer 'fc' (dense): ", "2x6x6", "add a flatten layer", NULL);
}

static void test_overrides(void) {
  const char *const sets[] = {"train.epochs=3",
                              "train.optimizer.lr=0.01",
                              "train.optimizer.nesterov=true",
                              "train.schedule.type=cosine",
                              "data.train=x.h5",
                              "seed=9",
                              "model.input=[3, 9, 8]",
                              "model.layers.fc.units=7",
                              "model.layers.c1.kernel=2",
                              "activations.samples=[1, 2]"};
  sn_config *cfg = parse(full, sets, sizeof sets / sizeof *sets);
  if (!cfg) return;
  CU_ASSERT_EQUAL(cfg->train.epochs, 3);
  CU_ASSERT_EQUAL(cfg->train.batch_size, 16);
  CU_ASSERT_STRING_EQUAL(cfg->data.train, "x.h5");
  CU_ASSERT_STRING_EQUAL(cfg->data.test, "a/test.h5");
  CU_ASSERT_EQUAL(cfg->seed, 9);
  CU_ASSERT(sn_shape_equal(cfg->model.input, sn_shape_chw(3, 9, 8)));
  CU_ASSERT_EQUAL(cfg->activations.n_samples, 2);
  CU_ASSERT_EQUAL(cfg->activations.samples[0], 1);
  /* the replaced key once, the others untouched, the new one added */
  const sn_args *opt = cfg->train.optimizer;
  CU_ASSERT_EQUAL(opt->count, 4);
  CU_ASSERT_STRING_EQUAL(sn_args_find(opt, "lr")->items[0], "0.01");
  CU_ASSERT_STRING_EQUAL(sn_args_find(opt, "momentum")->items[0], "0.9");
  CU_ASSERT_STRING_EQUAL(sn_args_find(opt, "nesterov")->items[0], "true");
  CU_ASSERT_STRING_EQUAL(sn_args_find(cfg->train.schedule, "type")->items[0], "cosine");
  /* the file text stays as read */
  CU_ASSERT_STRING_EQUAL(cfg->text, full);
  sn_net *net = NULL;
  CU_ASSERT_EQUAL_FATAL(sn_net_create(&cfg->model, &net), SN_OK);
  /* kernel 2 on 9x8: 4x8x7 -> flatten 224 -> dense 7 */
  CU_ASSERT(sn_shape_equal(net->layers[0].out_shape, sn_shape_chw(4, 8, 7)));
  CU_ASSERT(sn_shape_equal(sn_net_output_shape(net), sn_shape_vec(7)));
  sn_net_destroy(net);
  sn_config_free(cfg);

  /* a layer's type and inputs are keys like the others */
  const char *const retype[] = {"model.layers.fc.type=conv2d", "model.layers.fc.inputs=[c1]",
                                "model.layers.fc.kernel=1", "model.layers.fc.filters=5"};
  cfg = parse(full, retype, 4);
  if (!cfg) return;
  CU_ASSERT_STRING_EQUAL(cfg->model.layers[2].type, "conv2d");
  CU_ASSERT_STRING_EQUAL(cfg->model.layers[2].inputs[0], "c1");
  CU_ASSERT_FALSE(sn_args_has(cfg->model.layers[2].args, "type"));
  CU_ASSERT(sn_args_has(cfg->model.layers[2].args, "units"));
  sn_config_free(cfg);
}

static void test_override_errors(void) {
  const char *const bad_key[] = {"train.epocs=3"};
  EXPECT_PARSE_ERROR(full, bad_key, 1, "--set: train: key 'epocs' is not a known key");
  const char *const bad_section[] = {"trian.epochs=3"};
  EXPECT_PARSE_ERROR(full, bad_section, 1,
                     "--set trian.epochs=3: 'trian' is not a section of the configuration (data, data.augment, "
                     "data.augment.random_crop, data.augment.random_shift, model, train, train.optimizer, "
                     "train.schedule, checkpoint, activations, model.layers.<name>)");
  const char *const whole[] = {"train.optimizer=sgd"};
  EXPECT_PARSE_ERROR(full, whole, 1,
                     "--set train.optimizer=sgd: 'train.optimizer' is a section; set its keys as "
                     "train.optimizer.<key>=value");
  const char *const bad_layer[] = {"model.layers.nope.units=3"};
  EXPECT_PARSE_ERROR(full, bad_layer, 1,
                     "--set model.layers.nope.units: no layer is named 'nope' (only layers with a 'name:' can be set)");
  const char *const bad_value[] = {"train.epochs=abc"};
  EXPECT_PARSE_ERROR(full, bad_value, 1, "--set: train: key 'epochs' expects an integer, got 'abc'");
  const char *const no_equals[] = {"train.epochs"};
  EXPECT_PARSE_ERROR(full, no_equals, 1, "--set train.epochs: expects key=value, e.g. train.epochs=3");
  const char *const mapping[] = {"train.epochs={a: 1}"};
  EXPECT_PARSE_ERROR(full, mapping, 1,
                     "--set train.epochs={a: 1}: expects a value or a list of values such as [3, 32, 32]");
  const char *const bad_yaml[] = {"model.input=[1, 2"};
  EXPECT_PARSE_ERROR(full, bad_yaml, 1,
                     "--set model.input=[1, 2: YAML syntax error: did not find expected ',' or ']'");
  const char *const layers[] = {"model.layers=[]"};
  EXPECT_PARSE_ERROR(full, layers, 1, NULL);
  check_contains(__LINE__, "--set: model: key 'layers' cannot be replaced", NULL);
  const char *const twice[] = {"seed=1", "seed=2"};
  EXPECT_PARSE_ERROR(full, twice, 2, "--set: key 'seed' is given twice");
}

/* Lines 1-6 again, for a 3-channel 32x32 input. */
#define MODEL3                       \
  "model:\n"                         \
  "  input: [3, 32, 32]\n"           \
  "  layers:\n"                      \
  "    - {type: flatten}\n"          \
  "    - {type: dense, units: 3}\n"  \
  "  loss: mse\n"

static void test_pipeline_values(void) {
  static const char text[] = MODEL3
      "data:\n"                                       /* 7 */
      "  train: a.h5\n"                               /* 8 */
      "  placement: stream\n"                         /* 9 */
      "  prefetch: 8\n"                               /* 10 */
      "  pad_to: [32, 32]\n"                          /* 11 */
      "  channels: 3\n"                               /* 12 */
      "  mean: [0.5]\n"                               /* 13 */
      "  std: [0.1, 0.2, 0.3]\n"                      /* 14 */
      "  augment:\n"                                  /* 15 */
      "    random_crop: {padding: 4}\n"               /* 16 */
      "    flip_horizontal: true\n"                   /* 17 */
      "    random_shift: {max: 2, fill: reflect}\n";  /* 18 */
  sn_config *cfg = parse(text, NULL, 0);
  if (!cfg) return;
  const sn_data_config *d = &cfg->data;
  CU_ASSERT_EQUAL(d->placement, SN_PLACEMENT_STREAM);
  CU_ASSERT_EQUAL(d->prefetch, 8);
  CU_ASSERT(d->pad_to[0] == 32 && d->pad_to[1] == 32);
  CU_ASSERT_EQUAL(d->channels, 3);
  CU_ASSERT(d->n_mean == 1 && d->n_std == 3);
  CU_ASSERT_EQUAL(d->augment.crop_padding, 4);
  CU_ASSERT_EQUAL(d->augment.flip_horizontal, 1);
  CU_ASSERT_EQUAL(d->augment.shift_max, 2);
  CU_ASSERT_EQUAL(d->augment.shift_fill, SN_FILL_REFLECT);
  sn_config_free(cfg);

  /* each name reads as its value; an empty augment is no augmentation */
  for (int i = 0; i < SN_PLACEMENT_COUNT; i++) {
    char t[512];
    snprintf(t, sizeof t, MODEL "data: {placement: %s, augment: }\n", sn_placement_names[i]);
    cfg = parse(t, NULL, 0);
    if (!cfg) return;
    CU_ASSERT_EQUAL(cfg->data.placement, (sn_placement)i);
    CU_ASSERT(cfg->data.augment.crop_padding == 0 && !cfg->data.augment.flip_horizontal &&
              cfg->data.augment.shift_max == 0);
    sn_config_free(cfg);
  }
  cfg = parse(MODEL "data:\n  augment:\n    random_shift: {max: 3}\n", NULL, 0);
  if (cfg) CU_ASSERT(cfg->data.augment.shift_max == 3 && cfg->data.augment.shift_fill == SN_FILL_EDGE);
  sn_config_free(cfg);
}

static void test_pipeline_errors(void) {
  static const struct {
    const char *text, *message;
  } cases[] = {
      {MODEL "data:\n  augment:\n    flip: true\n", "<t>:9: data.augment: key 'flip' is not a known key"},
      {MODEL "data: {augment: {random_crop: {padding: 2, pad: 1}}}\n",
       "<t>:7: data.augment.random_crop: key 'pad' is not a known key"},
      {MODEL "data:\n  augment:\n    random_shift:\n      max: 1\n      mode: edge\n",
       "<t>:11: data.augment.random_shift: key 'mode' is not a known key"},
      {MODEL "data: {augment: {flip_horizontal: maybe}}\n",
       "<t>:7: data.augment: key 'flip_horizontal' expects true or false, got 'maybe'"},
      {MODEL "data: {augment: {flip_horizontal: {a: 1}}}\n",
       "<t>:7: data.augment: key 'flip_horizontal' expects a value, not a mapping"},
      {MODEL "data:\n  augment:\n    random_crop: 4\n",
       "<t>:9: data.augment: key 'random_crop' expects a mapping of keys, e.g. {key: value}"},
      {MODEL "data: {augment: 3}\n", "<t>:7: data: key 'augment' expects a mapping of keys, e.g. {key: value}"},
      {MODEL "data: {augment: {}, augment: {}}\n", "<t>:7: data: key 'augment' is given twice"},
      {MODEL "data: {augment: {random_crop: {padding: x}}}\n",
       "<t>:7: data.augment.random_crop: key 'padding' expects an integer, got 'x'"},
      {MODEL "data: {augment: {random_crop: {padding: 1025}}}\n",
       "<t>:7: data.augment.random_crop: key 'padding' must be between 0 and 1024, got 1025"},
      {MODEL "data:\n  augment:\n    random_crop:\n", "<t>:9: data.augment.random_crop: needs the key 'padding'"},
      {MODEL "data: {augment: {random_shift: {fill: zero}}}\n",
       "<t>:7: data.augment.random_shift: needs the key 'max'"},
      {MODEL "data: {augment: {random_shift: {max: -1}}}\n",
       "<t>:7: data.augment.random_shift: key 'max' must be between 0 and 1024, got -1"},
      {MODEL "data: {augment: {random_shift: {max: 1, fill: wrap}}}\n",
       "<t>:7: data.augment.random_shift: key 'fill' must be one of zero, edge, reflect, got 'wrap'"},
      {MODEL "data: {prefetch: 0}\n", "<t>:7: data: key 'prefetch' must be between 1 and 64, got 0"},
      {MODEL "data: {prefetch: 65}\n", "<t>:7: data: key 'prefetch' must be between 1 and 64, got 65"},
      {MODEL "data: {prefetch: four}\n", "<t>:7: data: key 'prefetch' expects an integer, got 'four'"},
      {MODEL "data: {placement: disk}\n",
       "<t>:7: data: key 'placement' must be one of auto, replicate, node, shard, stream, got 'disk'"},
      {MODEL "data: {channels: 2}\n", "<t>:7: data: key 'channels' must be 1 or 3, got 2"},
      {MODEL "data: {channels: 0}\n", "<t>:7: data: key 'channels' must be 1 or 3, got 0"},
      {MODEL "data: {channels: [3]}\n", "<t>:7: data: key 'channels' expects a single value, got a list of 1"},
      {MODEL "data: {channels: 3}\n", "<t>:7: data: key 'channels' is 3 but model.input is [1, 8, 8]"},
      {MODEL "data: {pad_to: [16, 8]}\n", "<t>:7: data: key 'pad_to' is [16, 8] but model.input is [1, 8, 8]"},
      /* mean and std are counted against the network's channels, which channels: 3 makes 3 */
      {MODEL3 "data: {channels: 3, mean: [1, 2]}\n",
       "<t>:7: data: key 'mean' has 2 values; give one, or one per input channel (3)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    EXPECT_PARSE_ERROR(cases[i].text, NULL, 0, cases[i].message);
  const char *const pads[] = {"[32]", "32", "[0, 8]", "[8, x]", "[8, 8, 8]", "[70000, 8]", "[]"};
  for (size_t i = 0; i < sizeof pads / sizeof *pads; i++) {
    char text[512];
    snprintf(text, sizeof text, MODEL "data: {pad_to: %s}\n", pads[i]);
    EXPECT_PARSE_ERROR(text, NULL, 0,
                       "<t>:7: data: key 'pad_to' expects [height, width]: 2 integers between 1 and 65535");
  }
}

static void test_pipeline_overrides(void) {
  const char *const sets[] = {"data.augment.random_crop.padding=4", "data.placement=stream",
                              "data.augment.flip_horizontal=true",  "data.augment.random_shift.max=1",
                              "data.augment.random_shift.fill=zero", "data.prefetch=2",
                              "data.pad_to=[8, 8]",                  "data.channels=1"};
  sn_config *cfg = parse(MODEL, sets, sizeof sets / sizeof *sets);
  if (!cfg) return;
  const sn_data_config *d = &cfg->data;
  CU_ASSERT_EQUAL(d->augment.crop_padding, 4);
  CU_ASSERT_EQUAL(d->placement, SN_PLACEMENT_STREAM);
  CU_ASSERT_EQUAL(d->augment.flip_horizontal, 1);
  CU_ASSERT(d->augment.shift_max == 1 && d->augment.shift_fill == SN_FILL_ZERO);
  CU_ASSERT_EQUAL(d->prefetch, 2);
  CU_ASSERT(d->pad_to[0] == 8 && d->pad_to[1] == 8 && d->channels == 1);
  sn_config_free(cfg);
  /* an override replaces the file's value inside a nested block */
  const char *const off[] = {"data.augment.random_crop.padding=0"};
  cfg = parse(MODEL "data: {augment: {random_crop: {padding: 2}, flip_horizontal: true}}\n", off, 1);
  if (cfg) CU_ASSERT(cfg->data.augment.crop_padding == 0 && cfg->data.augment.flip_horizontal);
  sn_config_free(cfg);

  const char *const unknown[] = {"data.augment.flip=true"};
  EXPECT_PARSE_ERROR(MODEL, unknown, 1, "--set: data.augment: key 'flip' is not a known key");
  const char *const section[] = {"data.augment.random_crop=4"};
  EXPECT_PARSE_ERROR(MODEL, section, 1,
                     "--set data.augment.random_crop=4: 'data.augment.random_crop' is a section; set its keys as "
                     "data.augment.random_crop.<key>=value");
  const char *const no_max[] = {"data.augment.random_shift.fill=zero"};
  EXPECT_PARSE_ERROR(MODEL, no_max, 1, "--set: data.augment.random_shift: needs the key 'max'");
  const char *const far[] = {"data.prefetch=100"};
  EXPECT_PARSE_ERROR(MODEL, far, 1, "--set: data: key 'prefetch' must be between 1 and 64, got 100");
}

static void test_missing_file(void) {
  sn_config *cfg = NULL;
  CU_ASSERT_EQUAL(sn_config_load("/nonexistent/dir/model.yaml", NULL, 0, &cfg), SN_ERR_IO);
  CU_ASSERT_PTR_NULL(cfg);
  check_contains(__LINE__, "'/nonexistent/dir/model.yaml'", "No such file", NULL);
}

static void test_load_large_file(void) {
  /* past the reader's first 16 KiB buffer, with the model last */
  size_t cap = 64 * 1024, len = 0;
  char *text = malloc(cap);
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  for (int i = 0; len + 100 < cap - sizeof MODEL; i++)
    len += (size_t)snprintf(text + len, cap - len, "# comment line %d of a long header\n", i);
  snprintf(text + len, cap - len, "%s", MODEL);
  char path[] = "/tmp/sn_test_config_XXXXXX";
  int fd = mkstemp(path);
  CU_ASSERT_FATAL(fd >= 0);
  FILE *f = fdopen(fd, "w");
  fputs(text, f);
  fclose(f);
  sn_config *cfg = NULL;
  CU_ASSERT_EQUAL(sn_config_load(path, NULL, 0, &cfg), SN_OK);
  if (cfg) {
    CU_ASSERT_STRING_EQUAL(cfg->text, text);
    CU_ASSERT_STRING_EQUAL(cfg->path, path);
    CU_ASSERT_EQUAL(cfg->model.n_layers, 2);
  }
  sn_config_free(cfg);
  unlink(path);
  free(text);
}

/* Builds a shipped config (configs/NAME under SN_SOURCE_DIR). */
static sn_net *shipped(const char *name, sn_config **cfg) {
  const char *dir = getenv("SN_SOURCE_DIR");
  char path[SN_PATH_CAP];
  snprintf(path, sizeof path, "%s/configs/%s", dir ? dir : ".", name);
  sn_net *net = NULL;
  sn_status st = sn_config_load(path, NULL, 0, cfg);
  if (st == SN_OK) st = sn_net_create(&(*cfg)->model, &net);
  if (st != SN_OK) {
    fprintf(stderr, "\n  %s: %s\n", path, sn_last_error());
    CU_FAIL("shipped config does not build");
  }
  return net;
}

static void test_cifar_example_shapes(void) {
  sn_config *cfg = NULL;
  sn_net *net = shipped("cifar_example.yaml", &cfg);
  if (net) {
    const sn_shape want[] = {sn_shape_chw(32, 30, 30), sn_shape_chw(32, 15, 15), sn_shape_chw(64, 13, 13),
                             sn_shape_chw(64, 6, 6),   sn_shape_chw(64, 4, 4),   sn_shape_vec(1024),
                             sn_shape_vec(64),         sn_shape_vec(10)};
    CU_ASSERT_EQUAL_FATAL(net->n_layers, 8);
    for (int i = 0; i < 8; i++) {
      char got[48], expected[48];
      if (sn_shape_equal(net->layers[i].out_shape, want[i])) continue;
      fprintf(stderr, "\n  layer %d: %s, expected %s\n", i, sn_shape_format(net->layers[i].out_shape, got, sizeof got),
              sn_shape_format(want[i], expected, sizeof expected));
      CU_FAIL("cifar_example output shape");
    }
    CU_ASSERT_EQUAL(net->n_params, 122570);
  }
  sn_net_destroy(net);
  sn_config_free(cfg);
}

static void test_fashion_mnist_config(void) {
  sn_config *cfg = NULL;
  sn_net *net = shipped("fashion_mnist.yaml", &cfg);
  if (net) {
    /* 832 + 51,264 + 3,212,288 + 10,250 */
    CU_ASSERT_EQUAL(net->n_params, 3274634);
    CU_ASSERT_EQUAL(cfg->train.batch_size, 64);
    CU_ASSERT_DOUBLE_EQUAL(cfg->data.scale, 0.00392157, 0);
    CU_ASSERT_STRING_EQUAL(cfg->data.train, "datasets/fashion-mnist-train.h5");
  }
  sn_net_destroy(net);
  sn_config_free(cfg);
}

static void test_cifar_example_fashion_config(void) {
  sn_config *cfg = NULL;
  sn_net *net = shipped("cifar_example_fashion.yaml", &cfg);
  if (net) {
    /* the CIFAR model unchanged, fed 28x28 grey images made 32x32 RGB */
    CU_ASSERT_EQUAL(net->n_params, 122570);
    CU_ASSERT(sn_shape_equal(cfg->model.input, sn_shape_chw(3, 32, 32)));
    CU_ASSERT_STRING_EQUAL(cfg->data.train, "datasets/fashion-mnist-train.h5");
    CU_ASSERT(cfg->data.pad_to[0] == 32 && cfg->data.pad_to[1] == 32 && cfg->data.channels == 3);
    CU_ASSERT(cfg->data.augment.crop_padding == 4 && cfg->data.augment.flip_horizontal &&
              cfg->data.augment.shift_max == 0);
  }
  sn_net_destroy(net);
  sn_config_free(cfg);
}

int main(void) {
  const sn_test_case cases[] = {
      {"every section's values, lines and layer keys", test_values},
      {"defaults of absent keys", test_defaults},
      {"unknown keys name file, line and key", test_unknown_keys},
      {"unknown layer keys are the net's, at their line", test_unknown_layer_key},
      {"wrong types name file, line and key", test_wrong_types},
      {"missing required keys", test_missing_keys},
      {"unknown layer type", test_unknown_layer_type},
      {"YAML syntax errors name the line", test_yaml_syntax_error},
      {"impossible shapes name the layer's line", test_shape_errors},
      {"--set overrides", test_overrides},
      {"--set errors name the override", test_override_errors},
      {"a missing file names the path", test_missing_file},
      {"a file larger than the first read buffer", test_load_large_file},
      {"cifar_example.yaml: the example model's shapes", test_cifar_example_shapes},
      {"fashion_mnist.yaml: parameters and data", test_fashion_mnist_config},
      {"data pipeline keys: placement, prefetch, pad_to, channels, augment", test_pipeline_values},
      {"data pipeline keys: every error names file, line and key", test_pipeline_errors},
      {"data pipeline keys: --set reaches the nested blocks", test_pipeline_overrides},
      {"cifar_example_fashion.yaml: the CIFAR model on padded Fashion-MNIST", test_cifar_example_fashion_config},
      {NULL, NULL}};
  return sn_test_main("config", cases);
}
