/* Finite-difference gradient check: central differences of L = sum(w * output),
 * accumulated in float64, against the analytic gradients from backward. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sn_test.h"

typedef struct {
  sn_net *net;
  const float *x;
  const float *w;
  int batch;
  sn_pass pass;
} probe;

static double loss_of(const probe *p) {
  sn_net_forward(p->net, p->x, p->batch, &p->pass);
  const float *y = sn_net_output(p->net);
  size_t n = (size_t)p->batch * sn_shape_size(sn_net_output_shape(p->net));
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += (double)p->w[i] * (double)y[i];
  return s;
}

/* Compares the analytic gradient of one tensor with central differences at up to
 * max_checks elements (evenly strided). The error of an element is relative to the
 * larger of its two values, floored at 1% of the tensor's largest gradient so that
 * near-zero entries are judged on the tensor's scale. */
static double check_tensor(const probe *p, float *values, const float *analytic, size_t n,
                           double eps, double tol, int max_checks, const char *what) {
  double scale = 0.0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(analytic[i])) {
      char msg[160];
      snprintf(msg, sizeof msg, "%s: analytic gradient [%zu] is not finite", what, i);
      CU_FAIL(msg);
      return INFINITY;
    }
    scale = fmax(scale, fabs(analytic[i]));
  }
  size_t step = n > (size_t)max_checks ? n / (size_t)max_checks : 1;
  double worst = 0.0;
  for (size_t i = 0; i < n; i += step) {
    float saved = values[i];
    values[i] = saved + (float)eps;
    double up = loss_of(p);
    values[i] = saved - (float)eps;
    double down = loss_of(p);
    values[i] = saved;
    /* the actual step, since saved +- eps rounds in float32 */
    double h = (double)(saved + (float)eps) - (double)(saved - (float)eps);
    double numeric = (up - down) / h;
    if (!isfinite(numeric)) {
      CU_FAIL("numeric gradient is not finite");
      return INFINITY;
    }
    double a = analytic[i];
    double denom = fmax(fmax(fabs(a), fabs(numeric)), fmax(0.01 * scale, 1e-6));
    double err = fabs(a - numeric) / denom;
    if (err > worst) worst = err;
    if (err > tol) {
      char msg[256];
      snprintf(msg, sizeof msg, "%s[%zu]: analytic %.6g vs numeric %.6g (error %.3g > %.3g)",
               what, i, a, numeric, err, tol);
      fprintf(stderr, "\n  gradcheck: %s\n", msg);
      CU_FAIL(msg);
      return worst;
    }
  }
  return worst;
}

double sn_test_gradcheck(sn_net *net, int batch, int training, double eps, double tol,
                         int max_checks) {
  size_t n_in = (size_t)batch * sn_shape_size(net->input_shape);
  size_t n_out = (size_t)batch * sn_shape_size(sn_net_output_shape(net));
  float *x = malloc(n_in * sizeof *x), *w = malloc(n_out * sizeof *w);
  float *grads = malloc((net->n_params ? net->n_params : 1) * sizeof *grads);
  float *dinput = malloc(n_in * sizeof *dinput);
  sn_test_fill(x, n_in, 11, -1.0f, 1.0f);
  sn_test_fill(w, n_out, 12, -1.0f, 1.0f);
  probe p = {.net = net, .x = x, .w = w, .batch = batch,
             .pass = {.training = training, .seed = 3, .epoch = 1, .first_sample = 5}};

  sn_net_zero_grad(net);
  double base = loss_of(&p);
  double worst = INFINITY;
  if (!isfinite(base)) {
    CU_FAIL("loss is not finite");
    goto done;
  }
  memcpy(sn_net_output_grad(net), w, n_out * sizeof *w);
  sn_net_backward(net, x, batch, &p.pass);
  if (net->n_params) memcpy(grads, net->grads, net->n_params * sizeof *grads);
  memcpy(dinput, net->dinput, n_in * sizeof *dinput);

  worst = check_tensor(&p, x, dinput, n_in, eps, tol, max_checks, "input");
  for (int i = 0; i < net->n_layers; i++)
    for (int k = 0; k < net->layers[i].n_params; k++) {
      sn_param *prm = &net->layers[i].params[k];
      if (!prm->trainable) continue;
      char what[128];
      snprintf(what, sizeof what, "%s/%s", net->layers[i].name, prm->name);
      double e = check_tensor(&p, prm->data, grads + (prm->data - net->params), prm->count,
                              eps, tol, max_checks, what);
      worst = fmax(worst, e);
    }
done:
  free(x);
  free(w);
  free(grads);
  free(dinput);
  return worst;
}
