/* The oneDNN convolution and dense kernels against the native ones: forward, input, kernel and
 * bias gradients for odd shapes (1x1, stride 2, padding, 1 channel, non-square,
 * transposed), for full batches and for batches smaller than the one reserved (which
 * oneDNN runs sample by sample into buffers made for the largest, or on all of them,
 * after a full batch has left them stale); bf16 within a
 * stated tolerance of fp32; and a small model trained in bf16 ending near fp32. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shardnet/loss.h"
#include "shardnet/optim.h"
#include "sn_test.h"
#include "sn_test_layers.h"

typedef struct {
  const char *layers;
  int c, h, w;
} kernel_case;

static const kernel_case cases[] = {
    {"conv2d filters=8 kernel=3 padding=same activation=relu", 3, 9, 7},
    {"conv2d filters=4 kernel=1", 5, 6, 7},
    {"conv2d filters=4 kernel=1 stride=2 bias=false", 3, 7, 9},
    {"conv2d filters=6 kernel=3 stride=2 padding=1", 2, 11, 8},
    {"conv2d filters=5 kernel=5 padding=2 activation=tanh", 1, 12, 10},
    {"conv2d filters=3 kernel=2,3 stride=2 padding=same activation=leaky_relu", 4, 7, 10},
    {"conv2d filters=2 kernel=3 stride=3 activation=elu", 5, 10, 9},
    {"conv2d filters=32 kernel=5 padding=same activation=relu", 16, 14, 14},
    {"conv2d filters=32 kernel=5 padding=same", 16, 14, 14},
    {"conv2d filters=32 kernel=1 stride=2", 16, 14, 14},
    {"conv2d filters=3 kernel=3 padding=1,2 activation=sigmoid", 3, 5, 6},
    {"conv2d_transpose filters=4 kernel=3 stride=2 padding=same", 3, 5, 6},
    {"conv2d_transpose filters=3 kernel=2 stride=2 activation=relu", 4, 4, 5},
    {"conv2d_transpose filters=2 kernel=3 padding=1 bias=false", 3, 6, 5},
    {"conv2d_transpose filters=5 kernel=1", 3, 4, 4},
    {"conv2d_transpose filters=16 kernel=4 stride=2 padding=1 activation=relu", 16, 7, 7},
    {"conv2d_transpose filters=16 kernel=4 stride=2 padding=1", 16, 7, 7},
    /* convolutions before other layers take their output gradient as scratch (the
     * activation's gradient is applied in place) */
    {"conv2d filters=16 kernel=3 padding=same activation=relu; conv2d filters=4 kernel=3 activation=tanh; "
     "maxpool2d size=2; flatten; dense units=5", 3, 9, 8},
    /* dense runs oneDNN's matmul for the reserved batch, CBLAS for smaller ones */
    /* residual blocks: oneDNN's run keeps the tensors between its convolutions
     * channel-blocked (batch norm, activations, add and the global pooling read them
     * so; the convolutions run on the net's buffers, all reserved samples, whatever
     * the batch), the native run plain; the tanh one checks bf16 gradients too, and
     * the last ends in a flatten, so its chain stays plain */
    {"conv2d filters=16 kernel=3 padding=same bias=false; batchnorm2d; relu name=r; "
     "conv2d filters=16 kernel=3 padding=same bias=false; batchnorm2d name=b; add inputs=b,r; relu; "
     "conv2d filters=32 kernel=3 stride=2 padding=same; batchnorm2d; relu; global_avgpool2d; dense units=5",
     3, 8, 7},
    {"conv2d filters=32 kernel=3 padding=same; tanh name=t; conv2d filters=16 kernel=1 activation=tanh; "
     "conv2d filters=32 kernel=3 padding=same name=c; add inputs=c,t; global_avgpool2d; dense units=3",
     4, 6, 6},
    {"conv2d filters=16 kernel=3 padding=same; batchnorm2d; relu; conv2d filters=16 kernel=3; relu; flatten; "
     "dense units=3",
     2, 7, 7},
    /* a transposed convolution inside a blocked chain */
    {"conv2d filters=16 kernel=3 padding=same; conv2d_transpose filters=16 kernel=2 stride=2; tanh; "
     "conv2d filters=16 kernel=3 stride=2; global_avgpool2d; dense units=3",
     3, 5, 6},
    /* pooling between convolutions (it reads plain tensors, so these stay plain) */
    {"conv2d filters=16 kernel=3 padding=same activation=relu; maxpool2d size=2; "
     "conv2d filters=32 kernel=3 padding=same activation=relu; maxpool2d size=3 stride=2 padding=same; "
     "conv2d filters=16 kernel=1; global_avgpool2d; dense units=4",
     3, 9, 8},
    {"conv2d filters=16 kernel=3 activation=tanh; avgpool2d size=2 stride=1; conv2d filters=16 kernel=3 "
     "padding=same; minpool2d size=2; conv2d filters=16 kernel=1 activation=tanh; flatten; dense units=3",
     2, 8, 9},
    {"flatten; dense units=7", 3, 5, 4},
    {"flatten; dense units=33 activation=tanh bias=false", 2, 3, 5},
    {"flatten; dense units=64 activation=relu; dense units=5", 4, 4, 4},
};

enum { RESERVED = 4 };

typedef struct {
  float *y, *dx, *grads;
} pass_result;

/* Forward and backward of a fresh net on fixed data; the caller frees the result. */
static int run_case(const kernel_case *k, int batch, sn_kernel_set set, sn_precision precision,
                    pass_result *r, size_t *ny, size_t *nx, size_t *np, char *name, size_t cap) {
  sn_net *net = sn_test_net_kernels(sn_shape_chw(k->c, k->h, k->w), k->layers, RESERVED, set, precision);
  if (!net) return 0;
  /* the first layer that has a kernel to choose (flatten has none) */
  const sn_layer *l = &net->layers[0];
  while (!l->ops->kernel_name) l++;
  snprintf(name, cap, "%s", l->ops->kernel_name(l));
  *nx = (size_t)batch * sn_shape_size(net->input_shape);
  *ny = (size_t)batch * sn_shape_size(sn_net_output_shape(net));
  *np = net->n_params;
  float *x = malloc(*nx * sizeof *x), *dout = malloc(*ny * sizeof *dout);
  sn_test_fill(x, *nx, 11, -1.0f, 1.0f);
  sn_test_fill(dout, *ny, 12, -1.0f, 1.0f);
  sn_test_fill(net->params, net->n_params, 13, -0.5f, 0.5f);
  const sn_pass pass = {.training = 1};
  if (batch < RESERVED) {
    /* a full batch first leaves every buffer's unused samples stale, not zero */
    const size_t fx = (size_t)RESERVED * sn_shape_size(net->input_shape);
    const size_t fy = (size_t)RESERVED * sn_shape_size(sn_net_output_shape(net));
    float *x2 = malloc(fx * sizeof *x2), *dout2 = malloc(fy * sizeof *dout2);
    sn_test_fill(x2, fx, 21, -2.0f, 2.0f);
    sn_test_fill(dout2, fy, 22, -2.0f, 2.0f);
    sn_test_pass(net, x2, RESERVED, &pass, dout2);
    free(x2);
    free(dout2);
  }
  const float *y = sn_test_pass(net, x, batch, &pass, dout);
  r->y = malloc(*ny * sizeof(float));
  r->dx = malloc(*nx * sizeof(float));
  r->grads = malloc(*np * sizeof(float));
  memcpy(r->y, y, *ny * sizeof(float));
  memcpy(r->dx, net->dinput, *nx * sizeof(float));
  memcpy(r->grads, net->grads, *np * sizeof(float));
  free(x);
  free(dout);
  sn_net_destroy(net);
  return 1;
}

static void free_result(pass_result *r) {
  free(r->y);
  free(r->dx);
  free(r->grads);
}

/* |a - b| <= tol * max |b| over the tensor: bf16 keeps 8 bits of mantissa, so its
 * error is relative to the tensor's scale, not to each (possibly cancelled) value. */
static void assert_scaled(const float *a, const float *b, size_t n, double tol, const char *what) {
  double scale = 0, worst = 0;
  for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(b[i]));
  for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)a[i] - b[i]));
  if (worst > tol * scale) fprintf(stderr, "\n  %s: max error %.3g over scale %.3g\n", what, worst, scale);
  CU_ASSERT(worst <= tol * scale);
}

static void compare(sn_precision precision, double rtol) {
  if (!sn_kernels_have_onednn()) {
    printf("(shardnet built without oneDNN: nothing to compare) ");
    return;
  }
  const int batches[] = {1, 3, RESERVED};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
      pass_result ref, got;
      size_t ny, nx, np;
      char ref_name[96], name[96], what[256];
      if (!run_case(&cases[i], batches[b], SN_KERNELS_NATIVE, SN_PRECISION_FP32, &ref, &ny, &nx, &np, ref_name,
                    sizeof ref_name))
        continue;
      if (!run_case(&cases[i], batches[b], SN_KERNELS_ONEDNN, precision, &got, &ny, &nx, &np, name, sizeof name)) {
        free_result(&ref);
        continue;
      }
      CU_ASSERT_STRING_EQUAL(ref_name, "native");
      /* every case here is one oneDNN runs (no flip, no negative trailing padding) */
      CU_ASSERT_NSTRING_EQUAL(name, "oneDNN", 6);
      const char *parts[3] = {"forward", "d input", "d parameters"};
      const float *a[3] = {got.y, got.dx, got.grads}, *e[3] = {ref.y, ref.dx, ref.grads};
      const size_t n[3] = {ny, nx, np};
      /* relu's derivative jumps at 0: outputs within bf16's rounding of 0 take the other
       * side in one of the two runs, and the gradients differ there by whole dy values;
       * so do max and min pooling's winners between values within bf16's rounding.
       * Those cases check bf16 gradients without them (the next case). */
      const char *l = cases[i].layers;
      const int jumps = strstr(l, "relu") || strstr(l, "maxpool") || strstr(l, "minpool");
      const int parts_checked = precision == SN_PRECISION_BF16 && jumps ? 1 : 3;
      for (int p = 0; p < parts_checked; p++) {
        snprintf(what, sizeof what, "%s, batch %d (%s): %s", cases[i].layers, batches[b], name, parts[p]);
        if (precision == SN_PRECISION_FP32) SN_ASSERT_CLOSE(a[p], e[p], n[p], rtol, rtol, what);
        else assert_scaled(a[p], e[p], n[p], rtol, what);
      }
      free_result(&ref);
      free_result(&got);
    }
  }
}

static void test_onednn_matches_native(void) { compare(SN_PRECISION_FP32, 1e-4); }

/* bf16 inputs and weights, fp32 accumulation: within 2% of the tensor's scale. */
static void test_bf16_within_tolerance(void) {
  if (!sn_kernels_bf16_native()) {
    printf("(no bf16 convolution on this CPU) ");
    return;
  }
  compare(SN_PRECISION_BF16, 0.02);
}

/* Which outputs the oneDNN run keeps blocked: between convolutions, through batch
 * norm, activations and add into the global pooling; never the net's output, and
 * not a chain that ends in a layer reading only plain tensors (flatten). A blocked
 * output copied out (sn_net_copy_output) equals the native run's plain one. */
static void test_blocked_layout_plan(void) {
  const char *net_text =
      "conv2d name=c1 filters=16 kernel=3 padding=same; batchnorm2d name=b1; relu name=r1; "
      "conv2d name=c2 filters=16 kernel=3 padding=same; add name=a inputs=c2,r1; relu name=r2; "
      "global_avgpool2d name=g; "
      "conv2d name=c3 inputs=r2 filters=16 kernel=3; relu name=r3; flatten name=f; concat name=k inputs=g,f; "
      "dense name=d units=3";
  const char *blocked[] = {"c1", "b1", "r1", "c2", "a", "r2"};
  const char *plain[] = {"g", "c3", "r3", "f", "k", "d"};
  enum { B = 2, R2 = 16 * 8 * 8 };
  float x[B * 3 * 8 * 8], r2[2][B * R2];
  sn_test_fill(x, sizeof x / sizeof *x, 31, -1.0f, 1.0f);
  const int sets = sn_kernels_have_onednn() ? 2 : 1;
  for (int set = 0; set < sets; set++) {
    sn_net *net = sn_test_net_kernels(sn_shape_chw(3, 8, 8), net_text, B, set ? SN_KERNELS_ONEDNN : SN_KERNELS_NATIVE,
                                      SN_PRECISION_FP32);
    if (!net) return;
    for (size_t k = 0; k < sizeof blocked / sizeof *blocked; k++) {
      const int i = sn_net_find_layer(net, blocked[k]);
      if (net->blocked[i] != set)
        fprintf(stderr, "\n  %s: %s blocked = %d\n", set ? "oneDNN" : "native", blocked[k], net->blocked[i]);
      CU_ASSERT_EQUAL(net->blocked[i], set);
    }
    for (size_t k = 0; k < sizeof plain / sizeof *plain; k++)
      CU_ASSERT_EQUAL(net->blocked[sn_net_find_layer(net, plain[k])], 0);
    /* readers outside the net get plain copies: sample by sample, then both at once */
    const sn_pass pass = {.training = 1};
    sn_test_pass(net, x, B, &pass, NULL);
    const int i = sn_net_find_layer(net, "r2");
    sn_net_copy_output(net, i, 1, 1, r2[set] + R2);
    sn_net_copy_output(net, i, 0, 1, r2[set]);
    if (set) {
      SN_ASSERT_CLOSE(r2[1], r2[0], (size_t)B * R2, 1e-4, 1e-4, "r2 copied out of the blocked net");
      float both[B * R2];
      sn_net_copy_output(net, i, 0, B, both);
      CU_ASSERT_EQUAL(memcmp(both, r2[1], sizeof both), 0);
    }
    sn_net_destroy(net);
  }
  /* a transposed convolution takes part too */
  if (!sn_kernels_have_onednn()) return;
  sn_net *net = sn_test_net_kernels(sn_shape_chw(3, 5, 6),
                                    "conv2d name=c filters=16 kernel=3 padding=same; "
                                    "conv2d_transpose name=t filters=16 kernel=2 stride=2; tanh name=h; "
                                    "conv2d filters=16 kernel=3 stride=2; global_avgpool2d; dense units=3",
                                    2, SN_KERNELS_ONEDNN, SN_PRECISION_FP32);
  if (!net) return;
  CU_ASSERT(net->blocked[sn_net_find_layer(net, "c")] && net->blocked[sn_net_find_layer(net, "t")] &&
            net->blocked[sn_net_find_layer(net, "h")]);
  sn_net_destroy(net);
}

static void test_flip_runs_native(void) {
  sn_net *net = sn_test_net_kernels(sn_shape_chw(2, 5, 5), "conv2d filters=2 kernel=3 flip=true", 2,
                                    SN_KERNELS_ONEDNN, SN_PRECISION_FP32);
  if (!net) return;
  CU_ASSERT_STRING_EQUAL(net->layers[0].ops->kernel_name(&net->layers[0]), "native");
  sn_net_destroy(net);
}

static void test_native_on_request(void) {
  sn_net *net = sn_test_net_kernels(sn_shape_chw(2, 5, 5), "conv2d filters=2 kernel=3", 2, SN_KERNELS_NATIVE,
                                    SN_PRECISION_FP32);
  if (!net) return;
  CU_ASSERT_STRING_EQUAL(net->layers[0].ops->kernel_name(&net->layers[0]), "native");
  sn_net_destroy(net);
}

/* A small conv net memorising 16 samples with Adam: the bf16 run's loss follows the
 * fp32 run's (within 0.05 after 30 of 150 steps, from about 2.3, and at the end), and
 * both learn. early gets the loss after 30 steps. */
static double train_loss(sn_precision precision, double *early) {
  enum { N = 16, STEPS = 150 };
  const char *layers =
      "conv2d filters=16 kernel=3 padding=same activation=relu; maxpool2d size=2; "
      "conv2d filters=16 kernel=3 padding=same activation=relu; flatten; dense units=10";
  sn_net *net = sn_test_net_kernels(sn_shape_chw(3, 8, 8), layers, N, SN_KERNELS_ONEDNN, precision);
  if (!net) return INFINITY;
  float x[N * 3 * 8 * 8];
  int labels[N];
  sn_test_fill(x, sizeof x / sizeof *x, 21, 0.0f, 1.0f);
  for (int i = 0; i < N; i++) labels[i] = (i * 7) % 10;
  sn_args *args;
  sn_optimizer *opt = NULL;
  CU_ASSERT_EQUAL_FATAL(sn_args_from_string("type=adam lr=0.003", &args), SN_OK);
  CU_ASSERT_EQUAL_FATAL(sn_optimizer_create(args, net->n_params, &opt), SN_OK);
  sn_args_free(args);
  const sn_pass pass = {.training = 1, .seed = 3};
  double loss = INFINITY;
  for (int step = 0; step < STEPS; step++) {
    sn_net_zero_grad(net);
    sn_net_forward(net, x, N, &pass);
    loss = sn_loss_compute(SN_LOSS_SOFTMAX_CROSS_ENTROPY, sn_net_output(net), N, 10, labels, NULL, 1.0 / N,
                           sn_net_output_grad(net), NULL) / N;
    if (step == 30) *early = loss;
    sn_net_backward(net, x, N, &pass);
    sn_optimizer_step(opt, net->params, net->grads, (float)sn_optimizer_lr(opt));
  }
  sn_optimizer_destroy(opt);
  sn_net_destroy(net);
  return loss;
}

static void test_bf16_training_follows_fp32(void) {
  if (!sn_kernels_bf16_native()) {
    printf("(no bf16 convolution on this CPU) ");
    return;
  }
  double fp32_early = INFINITY, bf16_early = -INFINITY;
  const double fp32 = train_loss(SN_PRECISION_FP32, &fp32_early);
  const double bf16 = train_loss(SN_PRECISION_BF16, &bf16_early);
  printf("(loss after 30 and 150 steps: fp32 %.4f %.4f, bf16 %.4f %.4f) ", fp32_early, fp32, bf16_early, bf16);
  CU_ASSERT(fp32 < 0.05);
  CU_ASSERT(fabs(bf16_early - fp32_early) < 0.05);
  CU_ASSERT(fabs(bf16 - fp32) < 0.05);
}

int main(void) {
  const sn_test_case tests[] = {
      {"oneDNN matches native (fp32)", test_onednn_matches_native},
      {"oneDNN bf16 within 2% of native fp32", test_bf16_within_tolerance},
      {"tensors between oneDNN convolutions stay blocked", test_blocked_layout_plan},
      {"flipped kernels run natively", test_flip_runs_native},
      {"native kernels on request", test_native_on_request},
      {"bf16 training follows fp32", test_bf16_training_follows_fp32},
      {NULL, NULL},
  };
  return sn_test_main("kernels", tests);
}
