/* Core: error messages, argument getters, the counter-based RNG, init statistics,
 * and graph-building errors of the net. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sn_test.h"

#define ASSERT_ERROR_HAS(text) CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), (text)))

static void test_philox_known_answers(void) {
  /* Known-answer vectors of Philox4x32-10 from the Random123 distribution. */
  uint32_t out[4];
  sn_philox4x32((uint32_t[]){0, 0, 0, 0}, (uint32_t[]){0, 0}, out);
  CU_ASSERT_EQUAL(out[0], 0x6627e8d5u);
  CU_ASSERT_EQUAL(out[1], 0xe169c58du);
  CU_ASSERT_EQUAL(out[2], 0xbc57ac4cu);
  CU_ASSERT_EQUAL(out[3], 0x9b00dbd8u);
  sn_philox4x32((uint32_t[]){0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                (uint32_t[]){0xffffffffu, 0xffffffffu}, out);
  CU_ASSERT_EQUAL(out[0], 0x408f276du);
  CU_ASSERT_EQUAL(out[1], 0x41c83b0eu);
  CU_ASSERT_EQUAL(out[2], 0xa20bc7c6u);
  CU_ASSERT_EQUAL(out[3], 0x6d5451fdu);
}

static void test_rng_is_counter_based(void) {
  enum { N = 10000 };
  float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
  sn_rng_key key = sn_rng_make_key(42, 3, 7);
  sn_rng_uniform(key, 123, a, N);
  /* Drawing a prefix again, from anywhere, gives the same numbers. */
  sn_rng_uniform(key, 123, b, 5);
  CU_ASSERT_EQUAL(memcmp(a, b, 5 * sizeof *a), 0);
  double mean = 0.0;
  for (int i = 0; i < N; i++) {
    CU_ASSERT(a[i] >= 0.0f && a[i] < 1.0f);
    mean += a[i];
  }
  CU_ASSERT_DOUBLE_EQUAL(mean / N, 0.5, 0.01);
  /* Another sample index, epoch or stream gives other numbers. */
  sn_rng_uniform(key, 124, b, N);
  CU_ASSERT_NOT_EQUAL(memcmp(a, b, N * sizeof *a), 0);
  sn_rng_uniform(sn_rng_make_key(42, 4, 7), 123, b, N);
  CU_ASSERT_NOT_EQUAL(memcmp(a, b, N * sizeof *a), 0);
  sn_rng_normal(key, 0, a, N);
  double m = 0.0, v = 0.0;
  for (int i = 0; i < N; i++) m += a[i];
  m /= N;
  for (int i = 0; i < N; i++) v += (a[i] - m) * (a[i] - m);
  CU_ASSERT_DOUBLE_EQUAL(m, 0.0, 0.03);
  CU_ASSERT_DOUBLE_EQUAL(v / N, 1.0, 0.05);
  free(a);
  free(b);
}

static void test_permutation(void) {
  enum { N = 1000 };
  uint32_t p[N], q[N];
  int seen[N] = {0};
  sn_rng_permutation(sn_rng_make_key(1, 2, SN_RNG_STREAM_PERMUTATION), p, N);
  for (int i = 0; i < N; i++) seen[p[i]]++;
  for (int i = 0; i < N; i++) CU_ASSERT_EQUAL(seen[i], 1);
  sn_rng_permutation(sn_rng_make_key(1, 2, SN_RNG_STREAM_PERMUTATION), q, N);
  CU_ASSERT_EQUAL(memcmp(p, q, sizeof p), 0);
  sn_rng_permutation(sn_rng_make_key(1, 3, SN_RNG_STREAM_PERMUTATION), q, N);
  CU_ASSERT_NOT_EQUAL(memcmp(p, q, sizeof p), 0);
  int fixed = 0;
  for (int i = 0; i < N; i++) fixed += p[i] == (uint32_t)i;
  CU_ASSERT(fixed < 10);
}

static void test_args_getters(void) {
  sn_args *a;
  CU_ASSERT_EQUAL_FATAL(sn_args_from_string("n=3 lr=0.5 on=true mode=fast k=3,5", &a), SN_OK);
  int n, on, mode, k[2];
  double lr;
  static const char *const modes[] = {"slow", "fast"};
  CU_ASSERT_EQUAL(sn_args_int(a, "n", 0, 1, 10, &n), SN_OK);
  CU_ASSERT_EQUAL(n, 3);
  CU_ASSERT_EQUAL(sn_args_float(a, "lr", 0, 0, 1, &lr), SN_OK);
  CU_ASSERT_DOUBLE_EQUAL(lr, 0.5, 0);
  CU_ASSERT_EQUAL(sn_args_bool(a, "on", 0, &on), SN_OK);
  CU_ASSERT_EQUAL(on, 1);
  CU_ASSERT_EQUAL(sn_args_choice(a, "mode", modes, 2, 0, &mode), SN_OK);
  CU_ASSERT_EQUAL(mode, 1);
  CU_ASSERT_EQUAL(sn_args_int_pair(a, "k", 1, 1, 9, k), SN_OK);
  CU_ASSERT(k[0] == 3 && k[1] == 5);
  CU_ASSERT_EQUAL(sn_args_int(a, "missing", 9, 0, 10, &n), SN_OK);
  CU_ASSERT_EQUAL(n, 9);
  CU_ASSERT_EQUAL(sn_args_check_unused(a), SN_OK);
  sn_args_free(a);
}

static void test_args_errors(void) {
  sn_args *a;
  CU_ASSERT_EQUAL_FATAL(sn_args_new("model.yaml", 4, &a), SN_OK);
  sn_args_set_what(a, "layer 'c1' (conv2d)");
  sn_args_add(a, "filters", 5, 0, 1, (const char *[]){"abc"});
  sn_args_add(a, "stride", 6, 0, 1, (const char *[]){"0"});
  sn_args_add(a, "mode", 7, 0, 1, (const char *[]){"sideways"});
  sn_args_add(a, "fliter", 8, 0, 1, (const char *[]){"3"});
  int v;
  CU_ASSERT_EQUAL(sn_args_int(a, "filters", 1, 1, 100, &v), SN_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(sn_last_error(),
                         "model.yaml:5: layer 'c1' (conv2d): key 'filters' expects an integer, got 'abc'");
  CU_ASSERT_EQUAL(sn_args_int(a, "stride", 1, 1, 100, &v), SN_ERR_CONFIG);
  ASSERT_ERROR_HAS("model.yaml:6:");
  ASSERT_ERROR_HAS("between 1 and 100");
  static const char *const modes[] = {"up", "down"};
  CU_ASSERT_EQUAL(sn_args_choice(a, "mode", modes, 2, 0, &v), SN_ERR_CONFIG);
  ASSERT_ERROR_HAS("must be one of up, down, got 'sideways'");
  CU_ASSERT_EQUAL(sn_args_check_unused(a), SN_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(sn_last_error(),
                         "model.yaml:8: layer 'c1' (conv2d): key 'fliter' is not a known key");
  char s[8];
  CU_ASSERT_EQUAL(sn_args_string(a, "path", NULL, s, sizeof s), SN_ERR_CONFIG);
  ASSERT_ERROR_HAS("model.yaml:4: layer 'c1' (conv2d): needs the key 'path'");
  sn_args_free(a);
}

static sn_status build(const char *layers, sn_net **net) {
  sn_model_spec spec;
  sn_status st = sn_test_spec(sn_shape_chw(1, 4, 4), layers, SN_LOSS_MSE, &spec);
  if (st == SN_OK) st = sn_net_create(&spec, net);
  sn_model_spec_clear(&spec);
  return st;
}

static void test_graph_errors(void) {
  sn_net *net = NULL;
  CU_ASSERT_EQUAL(build("flatten; warp units=3", &net), SN_ERR_CONFIG);
  ASSERT_ERROR_HAS("unknown layer type 'warp'");
  CU_ASSERT_EQUAL(build("flatten name=a; dense units=2 name=a", &net), SN_ERR_CONFIG);
  ASSERT_ERROR_HAS("'a' is used by an earlier layer");
  CU_ASSERT_EQUAL(build("flatten; dense units=2 inputs=nowhere", &net), SN_ERR_CONFIG);
  ASSERT_ERROR_HAS("names 'nowhere', which is not an earlier layer");
  CU_ASSERT_EQUAL(build("flatten; dense units=2 inputs=input,flatten_1", &net), SN_ERR_CONFIG);
  ASSERT_ERROR_HAS("takes 1 input(s), got 2");
  CU_ASSERT_EQUAL(build("flatten; dense units=2 unitz=2", &net), SN_ERR_CONFIG);
  ASSERT_ERROR_HAS("key 'unitz' is not a known key");
  CU_ASSERT_EQUAL(build("flatten; dense", &net), SN_ERR_CONFIG);
  ASSERT_ERROR_HAS("needs the key 'units'");
  CU_ASSERT_PTR_NULL(net);
}

static void test_default_names_and_arenas(void) {
  sn_net *net = NULL;
  CU_ASSERT_EQUAL_FATAL(build("flatten; dense units=3; dense units=2 bias=false", &net), SN_OK);
  CU_ASSERT_STRING_EQUAL(net->layers[0].name, "flatten_1");
  CU_ASSERT_STRING_EQUAL(net->layers[1].name, "dense_1");
  CU_ASSERT_STRING_EQUAL(net->layers[2].name, "dense_2");
  CU_ASSERT_EQUAL(sn_net_find_layer(net, "dense_2"), 2);
  /* one arena, in layer order: 16*3 + 3, then 3*2 */
  CU_ASSERT_EQUAL(net->n_params, 16 * 3 + 3 + 3 * 2);
  CU_ASSERT_PTR_EQUAL(net->layers[1].params[0].data, net->params);
  CU_ASSERT_PTR_EQUAL(net->layers[1].params[1].data, net->params + 48);
  CU_ASSERT_PTR_EQUAL(net->layers[2].params[0].data, net->params + 51);
  CU_ASSERT_PTR_EQUAL(net->layers[2].params[0].grad, net->grads + 51);
  sn_net_destroy(net);
}

static void test_init_statistics(void) {
  sn_net *a = NULL, *b = NULL;
  CU_ASSERT_EQUAL_FATAL(build("flatten; dense units=400 activation=relu; dense units=300", &a), SN_OK);
  CU_ASSERT_EQUAL_FATAL(build("flatten; dense units=400 activation=relu; dense units=300", &b), SN_OK);
  sn_net_init_params(a, 5);
  sn_net_init_params(b, 5);
  CU_ASSERT_EQUAL(memcmp(a->params, b->params, a->n_params * sizeof(float)), 0);
  sn_net_init_params(b, 6);
  CU_ASSERT_NOT_EQUAL(memcmp(a->params, b->params, a->n_params * sizeof(float)), 0);
  /* He normal: std sqrt(2/16); Xavier uniform: limit sqrt(6/(400+300)) */
  const sn_param *he = &a->layers[1].params[0], *xavier = &a->layers[2].params[0];
  double ss = 0.0, limit = sqrt(6.0 / 700.0), peak = 0.0;
  for (size_t i = 0; i < he->count; i++) ss += he->data[i] * he->data[i];
  CU_ASSERT_DOUBLE_EQUAL(sqrt(ss / he->count), sqrt(2.0 / 16.0), 0.02);
  for (size_t i = 0; i < xavier->count; i++) peak = fmax(peak, fabs(xavier->data[i]));
  CU_ASSERT(peak <= limit && peak > 0.95 * limit);
  for (size_t i = 0; i < a->layers[1].params[1].count; i++) CU_ASSERT_EQUAL(a->layers[1].params[1].data[i], 0.0f);
  sn_net_destroy(a);
  sn_net_destroy(b);
}

int main(void) {
  const sn_test_case cases[] = {
      {"Philox4x32-10 matches the Random123 known answers", test_philox_known_answers},
      {"the RNG depends only on key and counter", test_rng_is_counter_based},
      {"permutations are permutations, fixed by the key", test_permutation},
      {"argument getters read typed values", test_args_getters},
      {"argument errors name file, line and key", test_args_errors},
      {"graph errors name the layer and what is wrong", test_graph_errors},
      {"default names and one parameter arena in layer order", test_default_names_and_arenas},
      {"He and Xavier initialisation statistics, same for the same seed", test_init_statistics},
      {NULL, NULL}};
  return sn_test_main("core", cases);
}
