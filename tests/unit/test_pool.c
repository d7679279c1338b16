/* Tests of max, average, min and global average pooling. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sn_test_layers.h"

/* One sample through `layers` on a (1, h, w) input; the output lands in out. */
static void pool_values(int h, int w, const char *layers, const float *x, float *out, size_t n) {
  sn_net *net = sn_test_net(sn_shape_chw(1, h, w), layers, 1);
  if (!net) return;
  CU_ASSERT_EQUAL(sn_shape_size(sn_net_output_shape(net)), n);
  memcpy(out, sn_test_pass(net, x, 1, NULL, NULL), n * sizeof *out);
  sn_net_destroy(net);
}

static void test_textbook_maxpool(void) {
  /* the 4x2 input [[1,2],[2,1],[0,1],[0,1]], 2x2 windows, stride 2 */
  const float x[8] = {1, 2, 2, 1, 0, 1, 0, 1}, want[2] = {2, 1};
  float y[2] = {0};
  pool_values(4, 2, "maxpool2d size=2 stride=2", x, y, 2);
  SN_ASSERT_CLOSE(y, want, 2, 0, 0, "max pool");
}

static void test_valid_and_same_values(void) {
  const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  float y[9];
  /* 2x2 stride 2 "same" on 3x3: the padding row/column goes at the end and is left out
   * of every max, min and average. */
  const float want_max[4] = {5, 6, 8, 9}, want_avg[4] = {3, 4.5f, 7.5f, 9},
              want_min[4] = {1, 3, 7, 9};
  pool_values(3, 3, "maxpool2d size=2 padding=same", x, y, 4);
  SN_ASSERT_CLOSE(y, want_max, 4, 0, 0, "max, same");
  pool_values(3, 3, "avgpool2d size=2 padding=same", x, y, 4);
  SN_ASSERT_CLOSE(y, want_avg, 4, 0, 1e-6, "avg, same");
  pool_values(3, 3, "minpool2d size=2 padding=same", x, y, 4);
  SN_ASSERT_CLOSE(y, want_min, 4, 0, 0, "min, same");
  /* valid drops the last row and column */
  pool_values(3, 3, "avgpool2d size=2", x, y, 1);
  CU_ASSERT_DOUBLE_EQUAL(y[0], 3.0, 1e-6);
  /* 3x3 stride 1 same: padding on every side, averages over the real cells only */
  const float want_avg3[9] = {3, 3.5f, 4, 4.5f, 5, 5.5f, 6, 6.5f, 7};
  pool_values(3, 3, "avgpool2d size=3 stride=1 padding=same", x, y, 9);
  SN_ASSERT_CLOSE(y, want_avg3, 9, 0, 1e-6, "avg 3x3 same");
  /* explicit padding 1 with 3x3 windows, stride 2: windows cover rows/cols {0,1} and {1,2} */
  const float want_pad[4] = {3, 4, 6, 7};
  pool_values(3, 3, "avgpool2d size=3 stride=2 padding=1", x, y, 4);
  SN_ASSERT_CLOSE(y, want_pad, 4, 0, 1e-6, "avg, padding 1");
}

static void test_padding_never_wins(void) {
  /* All-negative input: a zero from padding would win every border max. */
  float neg[9], pos[9], y[9];
  for (int i = 0; i < 9; i++) {
    pos[i] = (float)(i + 1);
    neg[i] = -pos[i];
  }
  const float want_max[9] = {-1, -1, -2, -1, -1, -2, -4, -4, -5};
  pool_values(3, 3, "maxpool2d size=3 stride=1 padding=same", neg, y, 9);
  SN_ASSERT_CLOSE(y, want_max, 9, 0, 0, "max with padding, negative input");
  const float want_min[9] = {1, 1, 2, 1, 1, 2, 4, 4, 5};
  pool_values(3, 3, "minpool2d size=3 stride=1 padding=same", pos, y, 9);
  SN_ASSERT_CLOSE(y, want_min, 9, 0, 0, "min with padding, positive input");
  pool_values(3, 3, "maxpool2d size=3 stride=2 padding=1", neg, y, 4);
  const float want_pad[4] = {-1, -2, -4, -5};
  SN_ASSERT_CLOSE(y, want_pad, 4, 0, 0, "max with explicit padding");
}

static void test_same_pads_at_the_end(void) {
  /* TensorFlow: in 4, window 3, stride 2 -> 2 outputs and 1 pixel of padding, placed
   * after the input (top/left get total/2 = 0). Padding first would give max 2, avg 1.5. */
  const float x[4] = {1, 2, 3, 4};
  float y[2];
  const float want_max[2] = {3, 4}, want_avg[2] = {2, 3.5f}, want_min[2] = {1, 3};
  pool_values(1, 4, "maxpool2d size=1,3 stride=1,2 padding=same", x, y, 2);
  SN_ASSERT_CLOSE(y, want_max, 2, 0, 0, "max");
  pool_values(1, 4, "avgpool2d size=1,3 stride=1,2 padding=same", x, y, 2);
  SN_ASSERT_CLOSE(y, want_avg, 2, 0, 1e-6, "avg");
  pool_values(1, 4, "minpool2d size=1,3 stride=1,2 padding=same", x, y, 2);
  SN_ASSERT_CLOSE(y, want_min, 2, 0, 0, "min");
}

static void test_overlapping_backward_accumulates(void) {
  /* Every 2x2 window (stride 1) of this 3x3 input has its max (min) in the centre, so
   * the centre receives the sum of all four output gradients. */
  const float x[9] = {1, 2, 3, 4, 9, 5, 6, 7, 8}, dout[4] = {1, 2, 3, 4};
  float neg[9];
  for (int i = 0; i < 9; i++) neg[i] = -x[i];
  const float want[9] = {0, 0, 0, 0, 10, 0, 0, 0, 0};
  const char *layers[] = {"maxpool2d size=2 stride=1", "minpool2d size=2 stride=1"};
  for (int k = 0; k < 2; k++) {
    sn_net *net = sn_test_net(sn_shape_chw(1, 3, 3), layers[k], 1);
    if (!net) continue;
    sn_test_pass(net, k == 0 ? x : neg, 1, NULL, dout);
    SN_ASSERT_CLOSE(net->dinput, want, 9, 0, 0, layers[k]);
    sn_net_destroy(net);
  }
  /* Average: each cell gets 1/4 of every window that covers it. */
  const float ones[4] = {1, 1, 1, 1};
  const float want_avg[9] = {0.25f, 0.5f, 0.25f, 0.5f, 1, 0.5f, 0.25f, 0.5f, 0.25f};
  sn_net *net = sn_test_net(sn_shape_chw(1, 3, 3), "avgpool2d size=2 stride=1", 1);
  if (!net) return;
  sn_test_pass(net, x, 1, NULL, ones);
  SN_ASSERT_CLOSE(net->dinput, want_avg, 9, 0, 1e-7, "avg overlapping backward");
  sn_net_destroy(net);
}

/* One pooling layer as the naive reference sees it. */
typedef struct {
  const char *args;  /* the layer's keys */
  int c, h, w;       /* input (channels, height, width) */
  int kh, kw, sh, sw;
  int pad;           /* explicit padding per side; -1 for `same` */
} pool_case;

/* TensorFlow's leading `same` padding: half the total, rounded down. */
static int same_before(int in, int k, int s) {
  const int out = (in + s - 1) / s, total = (out - 1) * s + k - in;
  return total > 0 ? total / 2 : 0;
}

/* Naive pooling of n planes from the definition, independent of the layer's paths:
 * each window clipped to the input, cells in scan order (row by row); max and min
 * start at the first cell and only a strictly greater (smaller) cell takes over, so
 * the first extreme wins ties; avg adds the rest to the first cell and divides by the
 * count. y gets the outputs; din += the gradient of dout, output by output. */
static void ref_pool(char kind, const pool_case *pc, int n, int oh, int ow, const float *x,
                     const float *dout, float *y, float *din) {
  const int pt = pc->pad >= 0 ? pc->pad : same_before(pc->h, pc->kh, pc->sh);
  const int pl = pc->pad >= 0 ? pc->pad : same_before(pc->w, pc->kw, pc->sw);
  for (int p = 0; p < n; p++)
    for (int i = 0; i < oh; i++)
      for (int j = 0; j < ow; j++) {
        const float *xp = x + (size_t)p * pc->h * pc->w;
        float *dp = din + (size_t)p * pc->h * pc->w;
        const size_t o = ((size_t)p * oh + i) * ow + j;
        int cells[16] = {0}, count = 0; /* the cases pool at most 3x3 */
        for (int r = i * pc->sh - pt; r < i * pc->sh - pt + pc->kh; r++)
          for (int q = j * pc->sw - pl; q < j * pc->sw - pl + pc->kw; q++)
            if (r >= 0 && r < pc->h && q >= 0 && q < pc->w) cells[count++] = r * pc->w + q;
        float acc = xp[cells[0]];
        int best = cells[0];
        for (int k = 1; k < count; k++) {
          const float v = xp[cells[k]];
          if (kind == 'a') acc += v;
          else if (kind == 'x' ? v > acc : v < acc) acc = v, best = cells[k];
        }
        y[o] = kind == 'a' ? acc / (float)count : acc;
        if (kind != 'a') dp[best] += dout[o];
        else
          for (int k = 0; k < count; k++) dp[cells[k]] += dout[o] / (float)count;
      }
}

/* Whether a and b hold the same bits (so -0.0f and 0.0f differ); reports the first miss. */
static int same_bits(const float *a, const float *b, size_t n, const char *what,
                     const char *layers) {
  for (size_t i = 0; i < n; i++)
    if (memcmp(&a[i], &b[i], sizeof *a)) {
      fprintf(stderr, "\n  %s of '%s': element %zu is %.9g, expected %.9g\n", what, layers, i,
              a[i], b[i]);
      return 0;
    }
  return 1;
}

/* Every window geometry and every kind, tiled (stride == window, no padding: the fast
 * path) or not, must give the reference's bits: values, the winner of every tie
 * (between -0.0f and 0.0f too) and the input gradient. Each net pools the same input
 * with two kinds (layers a and b) and adds the results, so the input gradient receives
 * both layers' shares: backward must add into din, not set it. */
static void test_paths_match_reference(void) {
  const pool_case cases[] = {
      /* tiled: the last partial window row and column are dropped */
      {"size=2", 3, 7, 7, 2, 2, 2, 2, 0},
      {"size=2", 2, 8, 6, 2, 2, 2, 2, 0},
      {"size=2 stride=2 padding=same", 2, 6, 8, 2, 2, 2, 2, -1},
      {"size=3", 2, 8, 10, 3, 3, 3, 3, 0},
      {"size=2,3", 3, 7, 8, 2, 3, 2, 3, 0},
      {"size=1", 2, 3, 4, 1, 1, 1, 1, 0},
      {"size=2", 8, 33, 33, 2, 2, 2, 2, 0}, /* enough work for the OpenMP team */
      /* general: overlap, padding, or a clipped last window */
      {"size=2 padding=same", 2, 7, 7, 2, 2, 2, 2, -1},
      {"size=2 stride=1", 2, 5, 6, 2, 2, 1, 1, 0},
      {"size=3 stride=2 padding=1", 2, 7, 6, 3, 3, 2, 2, 1},
      {"size=3 stride=1 padding=same", 3, 6, 5, 3, 3, 1, 1, -1},
      {"size=2 stride=3", 2, 8, 8, 2, 2, 3, 3, 0},
      {"size=3 stride=3 padding=1", 2, 7, 7, 3, 3, 3, 3, 1},
  };
  const char *types[] = {"maxpool2d", "avgpool2d", "minpool2d"}, kinds[] = {'x', 'a', 'n'};
  const int batch = 4;
  for (size_t t = 0; t < sizeof cases / sizeof *cases; t++)
    for (int k = 0; k < 3; k++) {
      const pool_case *pc = &cases[t];
      const int k2 = (k + 1) % 3;
      char layers[256];
      /* (dropout of rate 0 passes values through whole: the pools' input gradient is
       * then a buffer of the net's, which the first layer back to it may set rather
       * than add to, instead of the net's own input gradient, always cleared first) */
      snprintf(layers, sizeof layers, "dropout rate=0 name=id; %s %s name=a inputs=id; %s %s name=b inputs=id; "
               "add inputs=a,b", types[k], pc->args, types[k2], pc->args);
      sn_net *net = sn_test_net(sn_shape_chw(pc->c, pc->h, pc->w), layers, batch);
      if (!net) continue;
      const sn_shape out = sn_net_output_shape(net);
      const int n = batch * pc->c, oh = out.d[1], ow = out.d[2];
      const size_t nin = (size_t)n * pc->h * pc->w, nout = (size_t)n * oh * ow;
      float *x = malloc(nin * sizeof *x), *dout = malloc(nout * sizeof *dout);
      float *ya = malloc(nout * sizeof *ya), *yb = malloc(nout * sizeof *yb);
      float *din = calloc(nin, sizeof *din);
      /* Two cells in three are small integers, which tie often (every other zero is
       * negative); the rest keep their fractions, so sums round and their order
       * shows; a few are NaN, which max and min skip unless it comes first. */
      sn_test_fill(x, nin, 11 + (unsigned)t, -3, 3);
      for (size_t i = 0; i < nin; i++) {
        if (i % 31 == 5) x[i] = NAN;
        if (i % 3 == 2) continue;
        x[i] = floorf(x[i]);
        if (x[i] == 0 && i % 2) x[i] = -0.0f;
      }
      /* a first pass leaves gradients in every buffer: the second must not keep any
       * (the cells past the last whole window get none, and are cleared) */
      sn_test_fill(dout, nout, 29 + (unsigned)t, -1, 1);
      sn_test_pass(net, x, batch, NULL, dout);
      sn_test_fill(dout, nout, 23 + (unsigned)t, -1, 1);
      sn_test_pass(net, x, batch, NULL, dout);
      /* The net runs backward from the last layer: b's gradient arrives first. */
      ref_pool(kinds[k2], pc, n, oh, ow, x, dout, yb, din);
      ref_pool(kinds[k], pc, n, oh, ow, x, dout, ya, din);
      CU_ASSERT(same_bits(sn_net_layer_output(net, 1), ya, nout, "first output", layers));
      CU_ASSERT(same_bits(sn_net_layer_output(net, 2), yb, nout, "second output", layers));
      CU_ASSERT(same_bits(net->dacts[0], din, nin, "input gradient", layers));
      free(x);
      free(dout);
      free(ya);
      free(yb);
      free(din);
      sn_net_destroy(net);
    }
}

static void test_global_avgpool(void) {
  /* (2, 2, 2) -> (2): the mean of each channel; backward spreads dout evenly */
  sn_net *net = sn_test_net(sn_shape_chw(2, 2, 2), "global_avgpool2d", 2);
  if (!net) return;
  sn_shape s = sn_net_output_shape(net);
  CU_ASSERT_EQUAL(s.ndim, 1);
  CU_ASSERT_EQUAL(s.d[0], 2);
  const float x[16] = {1, 2, 3, 4, 0, 0, 0, 8, -1, -1, -1, -1, 5, 6, 7, 8};
  const float dout[4] = {4, 8, 0, -4}, want[4] = {2.5f, 2, -1, 6.5f};
  const float *y = sn_test_pass(net, x, 2, NULL, dout);
  SN_ASSERT_CLOSE(y, want, 4, 0, 1e-6, "global average");
  const float want_din[16] = {1, 1, 1, 1, 2, 2, 2, 2, 0, 0, 0, 0, -1, -1, -1, -1};
  SN_ASSERT_CLOSE(net->dinput, want_din, 16, 0, 1e-7, "global average backward");
  sn_net_destroy(net);
}

static void test_shape_errors(void) {
  CU_ASSERT_EQUAL(sn_test_build_status(sn_shape_chw(2, 3, 3), "maxpool2d size=4"), SN_ERR_SHAPE);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "4x4 window does not fit the 3x3 input"));
  CU_ASSERT_EQUAL(sn_test_build_status(sn_shape_chw(2, 3, 3), "avgpool2d size=2,4 stride=1"),
                  SN_ERR_SHAPE);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "2x4 window does not fit the 3x3 input"));
  CU_ASSERT_EQUAL(sn_test_build_status(sn_shape_chw(2, 4, 4), "flatten; minpool2d size=2"),
                  SN_ERR_SHAPE);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "needs a 3-D"));
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "gets 32"));
  CU_ASSERT_EQUAL(sn_test_build_status(sn_shape_chw(1, 4, 4), "maxpool2d size=2 padding=2"),
                  SN_ERR_SHAPE);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "smaller than the 2x2 window"));
  CU_ASSERT_EQUAL(sn_test_build_status(sn_shape_chw(1, 4, 4), "maxpool2d size=2 padding=full"),
                  SN_ERR_CONFIG);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "must be valid, same or a number of pixels"));
  CU_ASSERT_EQUAL(sn_test_build_status(sn_shape_chw(1, 4, 4), "avgpool2d stride=2"), SN_ERR_CONFIG);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "needs the key 'size'"));
  CU_ASSERT_EQUAL(sn_test_build_status(sn_shape_chw(1, 4, 4), "global_avgpool2d; global_avgpool2d"),
                  SN_ERR_SHAPE);
  /* "same" always fits, even with a window larger than the input */
  CU_ASSERT_EQUAL(sn_test_build_status(sn_shape_chw(1, 3, 3), "maxpool2d size=5 padding=same"), SN_OK);
}

static void test_flops_and_receptive_field(void) {
  sn_net *net = sn_test_net(sn_shape_chw(3, 8, 8),
                            "maxpool2d size=3 stride=2 padding=same; avgpool2d size=2", 1);
  if (!net) return;
  CU_ASSERT_EQUAL(net->layers[0].out_shape.d[1], 4);
  CU_ASSERT_EQUAL(net->layers[1].out_shape.d[1], 2);
  CU_ASSERT_DOUBLE_EQUAL(net->layers[0].ops->flops(&net->layers[0]), 3 * 4 * 4 * 9, 0);
  double field[2], jump[2];
  sn_net_receptive_fields(net, field, jump);
  CU_ASSERT_DOUBLE_EQUAL(field[0], 3, 0);
  CU_ASSERT_DOUBLE_EQUAL(jump[0], 2, 0);
  CU_ASSERT_DOUBLE_EQUAL(field[1], 5, 0);
  CU_ASSERT_DOUBLE_EQUAL(jump[1], 4, 0);
  sn_net_destroy(net);
}

static void test_gradients(void) {
  /* Max and min select one input exactly, so a tiny step stays clear of near-ties in
   * the random input without losing precision; averages are linear. */
  const struct {
    const char *layers;
    double eps;
  } cases[] = {
      {"maxpool2d size=2", 1e-4},
      {"minpool2d size=2", 1e-4},
      {"maxpool2d size=3,2", 1e-4},
      {"maxpool2d size=3 stride=1 padding=same", 1e-4},
      {"maxpool2d size=3 stride=2 padding=1", 1e-4},
      {"minpool2d size=3 stride=2 padding=same", 1e-4},
      {"minpool2d size=2,3 stride=1,2", 1e-4},
      {"avgpool2d size=2", 1e-2},
      {"avgpool2d size=2,3", 1e-2},
      {"avgpool2d size=3 stride=1 padding=same", 1e-2},
      {"avgpool2d size=3 stride=2 padding=1", 1e-2},
      {"global_avgpool2d", 1e-2},
      {"maxpool2d size=2 stride=1; minpool2d size=2 padding=same", 1e-4},
      {"avgpool2d size=2 stride=1; global_avgpool2d", 1e-2},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    sn_net *net = sn_test_net(sn_shape_chw(2, 6, 5), cases[i].layers, 2);
    if (!net) continue;
    double worst = sn_test_gradcheck(net, 2, 1, cases[i].eps, 1e-3, 1000);
    if (worst > 1e-3) fprintf(stderr, "  in '%s'\n", cases[i].layers);
    CU_ASSERT(worst <= 1e-3);
    sn_net_destroy(net);
  }
}

int main(void) {
  const sn_test_case cases[] = {
      {"2x2 max pooling of the textbook 4x2 input", test_textbook_maxpool},
      {"max, avg and min values with valid, same and explicit padding", test_valid_and_same_values},
      {"padded cells never win a max or min", test_padding_never_wins},
      {"same padding puts the odd pixel at the end (TensorFlow)", test_same_pads_at_the_end},
      {"overlapping windows accumulate in backward", test_overlapping_backward_accumulates},
      {"tiled and general pooling give the naive reference's bits", test_paths_match_reference},
      {"global average pooling values and backward", test_global_avgpool},
      {"shape and key errors name the problem", test_shape_errors},
      {"flops and receptive field", test_flops_and_receptive_field},
      {"pooling gradients match finite differences", test_gradients},
      {NULL, NULL}};
  return sn_test_main("pool", cases);
}
