/* Shared conv-layer test harness: one layer against the naive reference on one shape. */
#include "conv_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float *floats(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

/* Fails the test when the layer's output shape is not the one worked out by hand. */
static int shape_ok(const sn_layer *l, const sn_conv_case *k) {
  const sn_shape want = sn_shape_chw(k->cout, k->oh, k->ow);
  if (sn_shape_equal(l->out_shape, want)) return 1;
  char got[48], exp[48], msg[256];
  snprintf(msg, sizeof msg, "%s: output %s, expected %s", k->keys,
           sn_shape_format(l->out_shape, got, sizeof got), sn_shape_format(want, exp, sizeof exp));
  CU_FAIL(msg);
  return 0;
}

static void assert_close(const float *a, const float *b, size_t n, const char *keys,
                         const char *part) {
  char what[200];
  snprintf(what, sizeof what, "%s: %s", keys, part);
  SN_ASSERT_CLOSE(a, b, n, 1e-4, 1e-4, what);
}

void sn_conv_check_case(const sn_conv_layer *layer, const sn_conv_case *k) {
  enum { B = 3 };
  const unsigned s = layer->seed;
  char spec[160];
  snprintf(spec, sizeof spec, "%s %s", layer->type, k->keys);
  /* reserved for one sample more than it runs: kernels made for the largest batch
   * must serve a smaller one (the last batch of an epoch in eval) */
  sn_net *net = sn_test_net(sn_shape_chw(k->cin, k->h, k->w), spec, B + 1);
  if (!net) return;
  sn_layer *l = &net->layers[0];
  if (!shape_ok(l, k)) {
    sn_net_destroy(net);
    return;
  }
  CU_ASSERT_EQUAL(l->n_params, k->bias ? 2 : 1);
  if (layer->kernel_cin_first) {
    CU_ASSERT_EQUAL(l->params[0].dims[0], k->cin);  /* (cin, cout, kh, kw) */
    CU_ASSERT_EQUAL(l->params[0].dims[1], k->cout);
  }
  const sn_ref_conv p = {B, k->cin, k->h, k->w, k->cout, k->kh, k->kw, k->sh, k->sw,
                         k->pt, k->pl, k->oh, k->ow, k->flip};
  const size_t nx = (size_t)B * k->cin * k->h * k->w, ny = (size_t)B * k->cout * k->oh * k->ow;
  const size_t nk = (size_t)k->cout * k->cin * k->kh * k->kw;
  float *kernel = l->params[0].data, *bias = k->bias ? l->params[1].data : NULL;
  sn_test_fill(kernel, nk, s, -1.0f, 1.0f);
  if (bias) sn_test_fill(bias, (size_t)k->cout, s + 1, -1.0f, 1.0f);
  float *x = floats(nx), *dout = floats(ny), *want_y = floats(ny);
  float *din = floats(nx), *want_dx = floats(nx), *want_dk = floats(nk), *want_db = floats(k->cout);
  float *base_x = floats(nx), *base_k = floats(nk), *base_b = floats(k->cout);
  sn_test_fill(x, nx, s + 2, -1.0f, 1.0f);
  sn_test_fill(dout, ny, s + 3, -1.0f, 1.0f);

  sn_pass pass = {.training = 1};
  sn_net_forward(net, x, B, &pass);
  layer->forward(&p, x, kernel, bias, want_y);
  assert_close(sn_net_output(net), want_y, ny, k->keys, "forward");

  sn_test_fill(base_x, nx, s + 4, -1.0f, 1.0f);
  sn_test_fill(base_k, nk, s + 5, -1.0f, 1.0f);
  sn_test_fill(base_b, (size_t)k->cout, s + 6, -1.0f, 1.0f);
  memcpy(din, base_x, nx * sizeof *din);
  memcpy(l->params[0].grad, base_k, nk * sizeof(float));
  if (bias) memcpy(l->params[1].grad, base_b, (size_t)k->cout * sizeof(float));
  sn_bwd b = {.batch = B, .out = net->acts[0], .dout = dout, .work = net->work};
  b.in[0] = x;
  b.din[0] = din;
  l->ops->backward(l, &b);
  layer->backward(&p, x, kernel, dout, want_dx, want_dk, bias ? want_db : NULL);
  for (size_t i = 0; i < nx; i++) want_dx[i] += base_x[i];
  for (size_t i = 0; i < nk; i++) want_dk[i] += base_k[i];
  for (int i = 0; i < k->cout; i++) want_db[i] += base_b[i];
  assert_close(din, want_dx, nx, k->keys, "d input");
  assert_close(l->params[0].grad, want_dk, nk, k->keys, "d kernel");
  if (bias) assert_close(l->params[1].grad, want_db, (size_t)k->cout, k->keys, "d bias");

  /* Without an input gradient (the first layer of a net) the parameter gradients
   * still accumulate: now base + 2 * reference. */
  b.din[0] = NULL;
  l->ops->backward(l, &b);
  for (size_t i = 0; i < nk; i++) want_dk[i] = 2.0f * want_dk[i] - base_k[i];
  assert_close(l->params[0].grad, want_dk, nk, k->keys, "d kernel without d input");

  free(x), free(dout), free(want_y), free(din), free(want_dx), free(want_dk), free(want_db);
  free(base_x), free(base_k), free(base_b);
  sn_net_destroy(net);
}

void sn_conv_gradcheck_models(sn_shape in, const char *const *models, size_t n) {
  for (size_t i = 0; i < n; i++) {
    sn_net *net = sn_test_net(in, models[i], 2);
    if (!net) continue;
    sn_test_gradcheck(net, 2, 1, 1e-2, 1e-2, 200);
    sn_net_destroy(net);
  }
}

const float *sn_conv_once(sn_net **net, const char *type, sn_shape in, const char *keys,
                          const float *kernel, const float *x) {
  char spec[160];
  snprintf(spec, sizeof spec, "%s bias=false %s", type, keys);
  *net = sn_test_net(in, spec, 1);
  if (!*net) return NULL;
  const sn_param *k = &(*net)->layers[0].params[0];
  memcpy(k->data, kernel, k->count * sizeof(float));
  sn_pass pass = {0};
  sn_net_forward(*net, x, 1, &pass);
  return sn_net_output(*net);
}

void sn_conv_expect_error(sn_shape in, const char *layers, sn_status status, const char *text1,
                          const char *text2) {
  sn_model_spec spec;
  sn_net *net = NULL;
  CU_ASSERT_EQUAL_FATAL(sn_test_spec(in, layers, SN_LOSS_MSE, &spec), SN_OK);
  CU_ASSERT_EQUAL(sn_net_create(&spec, &net), status);
  CU_ASSERT_PTR_NULL(net);
  if (!strstr(sn_last_error(), text1) || (text2 && !strstr(sn_last_error(), text2)))
    fprintf(stderr, "\n  unexpected message: %s\n", sn_last_error());
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), text1));
  if (text2) CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), text2));
  sn_net_destroy(net);
  sn_model_spec_clear(&spec);
}
