/* Shared test support: running CUnit suites, building small nets from one line,
 * comparing arrays, and the finite-difference gradient check. */
#ifndef SN_TEST_H
#define SN_TEST_H

#include <CUnit/CUnit.h>
#include <stddef.h>

#include "shardnet/net.h"

typedef struct {
  const char *name;
  void (*fn)(void);
} sn_test_case;

/* Runs one suite of cases (NULL-terminated) with CUnit's basic runner and returns
 * the process exit code (0 when every assertion passed). */
int sn_test_main(const char *suite, const sn_test_case *cases);

/* Builds a spec from "type key=value ...; type key=value ..." where name=... and
 * inputs=a,b are taken as the layer's name and inputs. */
sn_status sn_test_spec(sn_shape input, const char *layers, sn_loss_kind loss, sn_model_spec *spec);
/* A net from sn_test_spec, initialised with seed 7, reserved for batch with input
 * gradients. Fails the current test (and returns NULL) on error. */
sn_net *sn_test_net(sn_shape input, const char *layers, int batch);
/* The same with the given kernel set and precision. */
sn_net *sn_test_net_kernels(sn_shape input, const char *layers, int batch, sn_kernel_set set,
                            sn_precision precision);

/* n values in [lo, hi) from a fixed seed. */
void sn_test_fill(float *x, size_t n, unsigned seed, float lo, float hi);

/* Asserts |a[i] - b[i]| <= atol + rtol * |b[i]| for all i; reports the first miss. */
void sn_test_assert_close_at(const float *a, const float *b, size_t n, double rtol,
                             double atol, const char *what, const char *file, int line);
#define SN_ASSERT_CLOSE(a, b, n, rtol, atol, what) \
  sn_test_assert_close_at((a), (b), (n), (rtol), (atol), (what), __FILE__, __LINE__)

/* Central-difference check of every input and parameter gradient of net for the
 * scalar L = sum(w * output) with random w, in training or inference mode.
 * Differences use step eps; an element passes when
 * |analytic - numeric| <= tol * max(1, |analytic|, |numeric|) ... scaled as described
 * in gradcheck.c. Checks at most max_checks elements per tensor. Asserts through
 * CUnit and returns the worst relative error seen (INFINITY on NaN/Inf). */
double sn_test_gradcheck(sn_net *net, int batch, int training, double eps, double tol,
                         int max_checks);

#endif
