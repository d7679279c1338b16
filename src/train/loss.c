/* Softmax cross-entropy and mean squared error, with their output gradients. */
#include "shardnet/loss.h"

#include <math.h>
#include <stddef.h>

/* First index of the largest value: ties go to the lower class, like numpy/torch. */
static int argmax(const float *x, int n) {
  int best = 0;
  for (int j = 1; j < n; j++)
    if (x[j] > x[best]) best = j;
  return best;
}

/* -log softmax(x)[label] through log-sum-exp around the maximum, so logits of any
 * magnitude neither overflow exp nor lose the label's term; the gradient
 * softmax - onehot comes from the same exponentials. */
static double cross_entropy_one(const float *x, int n, int label, double scale, float *dx) {
  double m = x[argmax(x, n)], sum = 0.0;
  for (int j = 0; j < n; j++) sum += exp((double)x[j] - m);
  double lse = m + log(sum);
  if (dx) {
    for (int j = 0; j < n; j++) dx[j] = (float)(scale * exp((double)x[j] - lse));
    dx[label] -= (float)scale;
  }
  return lse - (double)x[label];
}

static double mse_one(const float *x, const float *t, int n, double scale, float *dx) {
  double sum = 0.0, g = 2.0 * scale / n;
  for (int j = 0; j < n; j++) {
    double d = (double)x[j] - (double)t[j];
    sum += d * d;
    if (dx) dx[j] = (float)(g * d);
  }
  return sum / n;
}

double sn_loss_compute(sn_loss_kind kind, const float *out, int batch, int dim,
                       const int *labels, const float *targets, double scale, float *dout,
                       int *correct) {
  double total = 0.0;
  int hits = 0;
  for (int i = 0; i < batch; i++) {
    const size_t off = (size_t)i * (size_t)dim;
    float *dx = dout ? dout + off : NULL;
    if (kind == SN_LOSS_SOFTMAX_CROSS_ENTROPY) {
      total += cross_entropy_one(out + off, dim, labels[i], scale, dx);
      hits += argmax(out + off, dim) == labels[i];
    } else {
      total += mse_one(out + off, targets + off, dim, scale, dx);
    }
  }
  if (correct) *correct = hits;
  return total;
}
