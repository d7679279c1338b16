/* Optimizers against hand-computed steps, the moment accessors, and key checking. */
#include <stdlib.h>
#include <string.h>

#include "shardnet/optim.h"
#include "sn_test.h"

static sn_optimizer *make(const char *keys, size_t n) {
  sn_args *args = NULL;
  sn_optimizer *opt = NULL;
  CU_ASSERT_EQUAL_FATAL(sn_args_from_string(keys, &args), SN_OK);
  sn_status st = sn_optimizer_create(args, n, &opt);
  if (st != SN_OK) fprintf(stderr, "\n  '%s': %s\n", keys, sn_last_error());
  CU_ASSERT_EQUAL(st, SN_OK);
  sn_args_free(args);
  return opt;
}

/* Runs len(want) steps on n copies of one parameter starting at p0, with the
 * gradient grads[t] at step t, and checks every copy after every step. n large
 * enough exercises the threaded loop. */
static void run_steps(const char *keys, size_t n, float p0, const float *grads,
                      const double *want, int steps, float lr) {
  sn_optimizer *opt = make(keys, n);
  if (!opt) return;
  float *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g);
  const size_t stride = n / 7 > 0 ? n / 7 : 1;
  for (size_t i = 0; i < n; i++) p[i] = p0;
  for (int t = 0; t < steps; t++) {
    for (size_t i = 0; i < n; i++) g[i] = grads[t];
    sn_optimizer_step(opt, p, g, lr);
    float w = (float)want[t];
    char what[160];
    snprintf(what, sizeof what, "%s, step %d", keys, t + 1);
    for (size_t i = 0; i < n; i += stride) SN_ASSERT_CLOSE(&p[i], &w, 1, 1e-6, 1e-7, what);
    SN_ASSERT_CLOSE(&p[n - 1], &w, 1, 1e-6, 1e-7, what);
  }
  CU_ASSERT_EQUAL(sn_optimizer_steps(opt), steps);
  free(p);
  free(g);
  sn_optimizer_destroy(opt);
}

static void test_sgd(void) {
  const float g[3] = {0.5f, 0.5f, -1.0f};
  /* p -= 0.1 g: 1 - 0.05, - 0.05, + 0.1 */
  const double plain[3] = {0.95, 0.9, 1.0};
  run_steps("type=sgd lr=0.1", 3, 1.0f, g, plain, 3, 0.1f);
  /* the lr argument wins over the configured one (a schedule drives it) */
  run_steps("type=sgd lr=5", 3, 1.0f, g, plain, 3, 0.1f);
}

static void test_sgd_momentum(void) {
  const float g[3] = {1, 1, 1};
  /* buf = 0.9 buf + g: 1, 1.9, 2.71; p -= 0.1 buf: 0.9, 0.71, 0.439 */
  const double heavy[3] = {0.9, 0.71, 0.439};
  run_steps("type=sgd momentum=0.9", 5, 1.0f, g, heavy, 3, 0.1f);
  /* nesterov: p -= 0.1 (g + 0.9 buf): 1.9, 2.71, 3.439 -> 0.81, 0.539, 0.1951 */
  const double nesterov[3] = {0.81, 0.539, 0.1951};
  run_steps("type=sgd momentum=0.9 nesterov=true", 5, 1.0f, g, nesterov, 3, 0.1f);
  run_steps("type=sgd momentum=0.9 nesterov=true", 100003, 1.0f, g, nesterov, 3, 0.1f);
}

static void test_sgd_weight_decay(void) {
  const float g[3] = {0, 0, 0};
  /* g = 0.1 p, p -= 0.1 g: p *= 0.99 each step */
  const double want[3] = {1.98, 1.9602, 1.940598};
  run_steps("type=sgd weight_decay=0.1", 4, 2.0f, g, want, 3, 0.1f);
}

static void test_adam(void) {
  /* lr 0.1, betas (0.9, 0.999), gradients 1, 2, -1 from p = 0:
   * t=1: m = 0.1, v = 0.001, m^ = 1, v^ = 1 -> p = -0.1
   * t=2: m = 0.29, v = 0.004999; m^ = 0.29/0.19, v^ = 0.004999/0.001999 -> p -= 0.0965182
   * t=3: m = 0.161, v = 0.005994001; m^ = 0.161/0.271, v^ = 0.005994001/0.002997001
   *      -> p -= 0.0420089 */
  const float g[3] = {1, 2, -1};
  const double want[3] = {-0.1, -0.1965182, -0.2385271};
  run_steps("type=adam lr=0.1", 6, 0.0f, g, want, 3, 0.1f);
  run_steps("type=adam lr=0.1", 65536, 0.0f, g, want, 3, 0.1f);
}

static void test_adam_l2_and_adamw(void) {
  const float zero[3] = {0, 0, 0}, one[3] = {1, 1, 1};
  /* Adam + L2 with a zero loss gradient: g = 0.1 p, so t=1 moves by lr: 1 -> 0.9,
   * then 0.8004122, 0.7015863 (same recurrences as test_adam with g = 0.1 p). */
  const double l2[3] = {0.9, 0.8004122, 0.7015863};
  run_steps("type=adam weight_decay=0.1", 3, 1.0f, zero, l2, 3, 0.1f);
  /* AdamW with a zero gradient only decays: p *= 1 - 0.1 * 0.1 */
  const double decay[3] = {0.99, 0.9801, 0.970299};
  run_steps("type=adamw weight_decay=0.1", 3, 1.0f, zero, decay, 3, 0.1f);
  /* AdamW with a constant gradient 1: p = 0.99 p - 0.1 */
  const double both[3] = {0.89, 0.7811, 0.673289};
  run_steps("type=adamw weight_decay=0.1", 3, 1.0f, one, both, 3, 0.1f);
  /* adamw's default weight decay is PyTorch's 0.01: p = 0.999 p - 0.1 */
  const double dflt[2] = {0.899, 0.798101};
  run_steps("type=adamw", 3, 1.0f, one, dflt, 2, 0.1f);
}

static void test_moments_and_steps(void) {
  sn_optimizer *opt = make("type=adam lr=0.01 beta1=0.5 beta2=0.75", 4);
  if (!opt) return;
  CU_ASSERT_EQUAL(sn_optimizer_kind(opt), SN_OPT_ADAM);
  CU_ASSERT_DOUBLE_EQUAL(sn_optimizer_lr(opt), 0.01, 1e-15);
  CU_ASSERT_EQUAL(sn_optimizer_n_moments(opt), 2);
  CU_ASSERT_STRING_EQUAL(sn_optimizer_moment_name(opt, 0), "m");
  CU_ASSERT_STRING_EQUAL(sn_optimizer_moment_name(opt, 1), "v");
  float p[4] = {0}, g[4] = {1, -2, 4, 0};
  sn_optimizer_step(opt, p, g, 0.01f);
  const float m[4] = {0.5f, -1, 2, 0}, v[4] = {0.25f, 1, 4, 0};
  SN_ASSERT_CLOSE(sn_optimizer_moment(opt, 0), m, 4, 0, 1e-7, "first moment");
  SN_ASSERT_CLOSE(sn_optimizer_moment(opt, 1), v, 4, 0, 1e-7, "second moment");
  /* A resumed run restores the counter and bias correction follows it: at step 1000
   * both corrections are 1, so the update is lr * m / sqrt(v) with the raw moments. */
  sn_optimizer_set_steps(opt, 999);
  p[0] = 0;
  sn_optimizer_step(opt, p, (float[]){1, 0, 0, 0}, 0.01f);
  CU_ASSERT_EQUAL(sn_optimizer_steps(opt), 1000);
  /* m = 0.75, v = 0.4375: p -= 0.01 * 0.75 / sqrt(0.4375) */
  CU_ASSERT_DOUBLE_EQUAL(p[0], -0.01 * 0.75 / 0.6614378, 1e-6);
  sn_optimizer_destroy(opt);

  opt = make("type=sgd", 4);
  CU_ASSERT_EQUAL(sn_optimizer_n_moments(opt), 0);
  CU_ASSERT_DOUBLE_EQUAL(sn_optimizer_lr(opt), 0.01, 1e-15);
  sn_optimizer_destroy(opt);
  opt = make("type=sgd momentum=0.5", 4);
  CU_ASSERT_EQUAL(sn_optimizer_n_moments(opt), 1);
  CU_ASSERT_STRING_EQUAL(sn_optimizer_moment_name(opt, 0), "momentum");
  sn_optimizer_destroy(opt);
}

/* An optimizer block as the YAML loader builds it: a file, lines, one key per line. */
static sn_status create_from_lines(const char *const *kv, int n, sn_optimizer **opt) {
  sn_args *args;
  CU_ASSERT_EQUAL_FATAL(sn_args_new("run.yaml", 12, &args), SN_OK);
  for (int i = 0; i < n; i++) {
    const char *value = kv[2 * i + 1];
    CU_ASSERT_EQUAL(sn_args_add(args, kv[2 * i], 13 + i, 0, 1, &value), SN_OK);
  }
  sn_status st = sn_optimizer_create(args, 10, opt);
  sn_args_free(args);
  return st;
}

static void expect_error(const char *const *kv, int n, const char *key, const char *where) {
  sn_optimizer *opt = (sn_optimizer *)1;
  CU_ASSERT_EQUAL(create_from_lines(kv, n, &opt), SN_ERR_CONFIG);
  CU_ASSERT_PTR_NULL(opt);
  const char *msg = sn_last_error();
  if (!strstr(msg, key) || !strstr(msg, where)) {
    fprintf(stderr, "\n  message lacks '%s' or '%s': %s\n", key, where, msg);
    CU_FAIL("error message does not name the key and its line");
  }
}

/* A step taken as shards (what each rank does with node-shared parameters) is the
 * whole step: disjoint ranges, uneven, one of them empty, in any order, touching
 * nothing outside them. */
static void test_update_in_ranges(void) {
  const char *kinds[] = {"type=adam", "type=adamw weight_decay=0.1", "type=sgd momentum=0.9 nesterov=true"};
  const size_t n = 100003;
  for (int k = 0; k < 3; k++) {
    sn_optimizer *whole = make(kinds[k], n), *parts = make(kinds[k], n);
    if (!whole || !parts) return;
    float *p = malloc(n * sizeof *p), *q = malloc(n * sizeof *q), *g = malloc(n * sizeof *g);
    for (size_t i = 0; i < n; i++) p[i] = q[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    const size_t cut[4] = {0, 33333, 33333, n};
    for (int step = 0; step < 3; step++) {
      for (size_t i = 0; i < n; i++) g[i] = (float)((i * 13 + (size_t)step * 7) % 29) / 14.0f - 1.0f;
      sn_optimizer_step(whole, p, g, 0.01f);
      sn_optimizer_begin_step(parts);
      for (int r = 2; r >= 0; r--) sn_optimizer_update(parts, q, g, 0.01f, cut[r], cut[r + 1] - cut[r]);
    }
    CU_ASSERT_EQUAL(sn_optimizer_steps(parts), 3);
    CU_ASSERT_EQUAL(memcmp(p, q, n * sizeof *p), 0);
    for (int m = 0; m < sn_optimizer_n_moments(whole); m++)
      CU_ASSERT_EQUAL(memcmp(sn_optimizer_moment(whole, m), sn_optimizer_moment(parts, m), n * sizeof(float)), 0);
    /* one range alone leaves the rest of the arena and of the moments as it was */
    float before = q[0];
    sn_optimizer_begin_step(parts);
    sn_optimizer_update(parts, q, g, 0.01f, 50000, 10);
    CU_ASSERT_EQUAL(q[0], before);
    CU_ASSERT_NOT_EQUAL(q[50000], p[50000]);
    CU_ASSERT_EQUAL(q[50010], p[50010]);
    free(p);
    free(q);
    free(g);
    sn_optimizer_destroy(whole);
    sn_optimizer_destroy(parts);
  }
}

static void test_bad_keys(void) {
  expect_error((const char *[]){"type", "sgd", "lr", "0.1", "momentun", "0.9"}, 3,
               "'momentun'", "run.yaml:15");
  expect_error((const char *[]){"type", "adam", "momentum", "0.9"}, 2, "'momentum'",
               "run.yaml:14");
  expect_error((const char *[]){"type", "adamw", "nesterov", "true"}, 2, "'nesterov'",
               "it is a key of sgd");
  expect_error((const char *[]){"type", "sgd", "beta1", "0.8"}, 2, "'beta1'",
               "it is a key of adam");
  expect_error((const char *[]){"type", "rmsprop"}, 1, "sgd, adam, adamw", "run.yaml:13");
  expect_error((const char *[]){"lr", "0.1"}, 1, "'type'", "run.yaml:12");
  expect_error((const char *[]){"type", "sgd", "nesterov", "true"}, 2, "'nesterov'",
               "run.yaml:14");
  expect_error((const char *[]){"type", "adam", "beta2", "1"}, 2, "'beta2'", "run.yaml:14");
  expect_error((const char *[]){"type", "adamw", "lr", "fast"}, 2, "'lr'", "run.yaml:14");
  expect_error((const char *[]){"type", "adam", "eps", "0"}, 2, "'eps'", "run.yaml:14");
  expect_error((const char *[]){"type", "sgd", "lr", "-1"}, 2, "'lr'", "run.yaml:14");
}

int main(void) {
  const sn_test_case cases[] = {{"sgd steps by hand", test_sgd},
                                {"sgd momentum and nesterov by hand", test_sgd_momentum},
                                {"sgd weight decay by hand", test_sgd_weight_decay},
                                {"adam over three steps by hand", test_adam},
                                {"adam L2 and adamw decoupled decay by hand", test_adam_l2_and_adamw},
                                {"moments, step counter and resume", test_moments_and_steps},
                                {"a step in ranges equals the whole step", test_update_in_ranges},
                                {"bad optimizer keys name file, line and key", test_bad_keys},
                                {NULL, NULL}};
  return sn_test_main("optim", cases);
}
