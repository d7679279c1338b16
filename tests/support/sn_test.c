/* Test runner, one-line net builder and array comparison. */
#define _POSIX_C_SOURCE 200809L
#include "sn_test.h"

#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sn_test_main(const char *suite, const sn_test_case *cases) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_pSuite s = CU_add_suite(suite, NULL, NULL);
  for (const sn_test_case *c = cases; c->name; c++) CU_add_test(s, c->name, c->fn);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  return failed ? 1 : 0;
}

sn_status sn_test_spec(sn_shape input, const char *layers, sn_loss_kind loss, sn_model_spec *spec) {
  memset(spec, 0, sizeof *spec);
  snprintf(spec->source, sizeof spec->source, "<test>");
  spec->input = input;
  spec->loss = loss;
  char *copy = strdup(layers);
  char *save = NULL;
  sn_status st = SN_OK;
  for (char *part = strtok_r(copy, ";", &save); part && st == SN_OK; part = strtok_r(NULL, ";", &save)) {
    while (*part == ' ') part++;
    char type[32];
    int used = 0;
    if (sscanf(part, "%31s%n", type, &used) != 1) continue;
    sn_args *args;
    st = sn_args_from_string(part + used, &args);
    if (st != SN_OK) break;
    char name[SN_NAME_CAP] = "";
    const char *inputs[SN_MAX_INPUTS];
    int n_inputs = 0;
    sn_arg *a = sn_args_find(args, "name");
    if (a) {
      snprintf(name, sizeof name, "%s", a->items[0]);
      a->used = 1;
    }
    a = sn_args_find(args, "inputs");
    if (a) {
      a->used = 1;
      for (int i = 0; i < a->count && i < SN_MAX_INPUTS; i++) inputs[n_inputs++] = a->items[i];
    }
    st = sn_model_spec_add(spec, type, name, args, 0, n_inputs, inputs);
  }
  free(copy);
  return st;
}

sn_net *sn_test_net(sn_shape input, const char *layers, int batch) {
  return sn_test_net_kernels(input, layers, batch, sn_kernels_default(), SN_PRECISION_FP32);
}

sn_net *sn_test_net_kernels(sn_shape input, const char *layers, int batch, sn_kernel_set set,
                            sn_precision precision) {
  sn_model_spec spec;
  sn_net *net = NULL;
  sn_status st = sn_test_spec(input, layers, SN_LOSS_MSE, &spec);
  if (st == SN_OK) st = sn_net_create(&spec, &net);
  if (st == SN_OK) {
    sn_net_init_params(net, 7);
    sn_net_set_kernels(net, set, precision);
    st = sn_net_reserve(net, batch, 1);
  }
  sn_model_spec_clear(&spec);
  if (st != SN_OK) {
    fprintf(stderr, "\n  building '%s' failed: %s\n", layers, sn_last_error());
    CU_FAIL("net could not be built");
    sn_net_destroy(net);
    return NULL;
  }
  return net;
}

void sn_test_fill(float *x, size_t n, unsigned seed, float lo, float hi) {
  sn_rng_uniform(sn_rng_make_key(seed, 0, SN_RNG_STREAM_TEST_DATA), 0, x, n);
  for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * x[i];
}

void sn_test_assert_close_at(const float *a, const float *b, size_t n, double rtol,
                             double atol, const char *what, const char *file, int line) {
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - (double)b[i]);
    if (!(d <= atol + rtol * fabs((double)b[i]))) {
      char msg[256];
      snprintf(msg, sizeof msg, "%s: element %zu is %.8g, expected %.8g", what, i, a[i], b[i]);
      CU_assertImplementation(CU_FALSE, (unsigned)line, msg, file, "", CU_FALSE);
      return;
    }
  }
  CU_assertImplementation(CU_TRUE, (unsigned)line, what, file, "", CU_FALSE);
}
