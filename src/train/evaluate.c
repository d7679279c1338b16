/* Inference over a dataset, split across ranks in contiguous parts: evaluation
 * (mean loss, accuracy and per-class accuracy, reduced) and predictions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shardnet/infer.h"
#include "shardnet/loss.h"
#include "shardnet/memory.h"
#include "shardnet/part.h"
#include "shardnet/trainer.h"

static int argmax(const float *v, int n) {
  int best = 0;
  for (int i = 1; i < n; i++)
    if (v[i] > v[best]) best = i;
  return best;
}

/* What evaluation adds up: loss, correct, total and correct per class, then the
 * confusion matrix (row: the label, column: the prediction). */
typedef struct {
  double *sums;
  int classes, dim;
  sn_loss_kind loss;
} eval_sums;

static sn_status add_batch(void *ctx, size_t row, int n, const sn_net *net, const float *x, const int32_t *labels,
                           const float *targets) {
  eval_sums *e = ctx;
  const float *y = sn_net_output(net);
  e->sums[0] += sn_loss_compute(e->loss, y, n, e->dim, labels, targets, 0.0, NULL, NULL);
  for (int i = 0; e->classes && i < n; i++) {
    const int guess = argmax(y + (size_t)i * e->dim, e->dim), hit = guess == labels[i];
    e->sums[1] += hit;
    e->sums[2 + labels[i]] += 1;
    e->sums[2 + e->classes + labels[i]] += hit;
    e->sums[2 + 2 * (size_t)e->classes + (size_t)labels[i] * e->classes + guess] += 1;
  }
  return SN_OK;
}

/* The reader for an inference pass over ds (collective), and this rank's part. */
static sn_status open_part(sn_dist *dist, sn_dataset *ds, int batch, int depth, sn_reader **r, size_t *lo,
                           size_t *hi) {
  sn_part(ds->n, sn_dist_rank(dist), sn_dist_size(dist), lo, hi);
  return sn_reader_create(dist, ds, depth > 0 ? depth : 4, batch, 1, r);
}

sn_status sn_evaluate(sn_dist *dist, sn_net *net, sn_dataset *ds, const sn_transform *tf, int batch, int depth,
                      sn_eval_result *out) {
  const int dim = (int)sn_shape_size(sn_net_output_shape(net));
  const int classes = net->loss == SN_LOSS_SOFTMAX_CROSS_ENTROPY ? dim : 0;
  *out = (sn_eval_result){0};
  out->n_classes = classes;
  const size_t n_sums = 2 + 2 * (size_t)classes + (size_t)classes * classes;
  eval_sums e = {.sums = calloc(n_sums, sizeof(double)), .classes = classes, .dim = dim, .loss = net->loss};
  sn_status st = sn_dist_agree(dist, e.sums ? SN_OK : sn_fail(SN_ERR_NOMEM, "cannot allocate evaluation sums"));
  sn_reader *r = NULL;
  size_t lo, hi;
  if (st == SN_OK) st = open_part(dist, ds, batch, depth, &r, &lo, &hi);
  if (st == SN_OK) st = sn_dist_agree(dist, sn_infer_rows(r, net, tf, NULL, lo, hi, batch, add_batch, &e));
  sn_reader_destroy(r);
  if (st == SN_OK) st = sn_dist_sum_doubles(dist, e.sums, n_sums);
  if (st == SN_OK) {
    out->samples = (long)ds->n;
    out->loss = e.sums[0] / (double)ds->n;
    out->accuracy = e.sums[1] / (double)ds->n;
    if (classes) {
      out->class_total = calloc((size_t)classes, sizeof(long));
      out->class_correct = calloc((size_t)classes, sizeof(long));
      out->confusion = calloc((size_t)classes * classes, sizeof(long));
      for (int k = 0; k < classes && out->class_total && out->class_correct; k++) {
        out->class_total[k] = (long)e.sums[2 + k];
        out->class_correct[k] = (long)e.sums[2 + classes + k];
      }
      for (size_t k = 0; out->confusion && k < (size_t)classes * classes; k++)
        out->confusion[k] = (long)e.sums[2 + 2 * (size_t)classes + k];
    }
  }
  free(e.sums);
  return st;
}

void sn_eval_result_free(sn_eval_result *r) {
  free(r->class_total);
  free(r->class_correct);
  free(r->confusion);
  r->class_total = r->class_correct = r->confusion = NULL;
}

/* softmax of one row in place, stable for large logits */
static void softmax_row(float *v, int n) {
  float top = v[0];
  for (int i = 1; i < n; i++) top = v[i] > top ? v[i] : top;
  double sum = 0.0;
  for (int i = 0; i < n; i++) sum += (v[i] = expf(v[i] - top));
  for (int i = 0; i < n; i++) v[i] = (float)(v[i] / sum);
}

/* Where predictions go: the part's outputs (probabilities for a classifier) and labels. */
typedef struct {
  float *values;
  int32_t *labels;
  size_t lo;
  int dim, classify;
} predictions;

static sn_status keep_outputs(void *ctx, size_t row, int n, const sn_net *net, const float *x, const int32_t *labels,
                              const float *targets) {
  predictions *p = ctx;
  float *dst = p->values + (row - p->lo) * (size_t)p->dim;
  memcpy(dst, sn_net_output(net), (size_t)n * p->dim * sizeof(float));
  for (int i = 0; p->classify && i < n; i++) {
    softmax_row(dst + (size_t)i * p->dim, p->dim);
    p->labels[row - p->lo + (size_t)i] = argmax(dst + (size_t)i * p->dim, p->dim);
  }
  return SN_OK;
}

sn_status sn_predict_part(sn_dist *dist, sn_net *net, sn_dataset *ds, const sn_transform *tf, int batch, int depth,
                          size_t *lo, size_t *hi, float **out, int32_t **labels) {
  *out = NULL;
  *labels = NULL;
  predictions p = {.dim = (int)sn_shape_size(sn_net_output_shape(net)),
                   .classify = net->loss == SN_LOSS_SOFTMAX_CROSS_ENTROPY};
  sn_reader *r = NULL;
  sn_status st = open_part(dist, ds, batch, depth, &r, lo, hi);
  p.lo = *lo;
  if (st == SN_OK) {
    p.labels = calloc(*hi - *lo + 1, sizeof *p.labels);
    st = p.labels ? sn_alloc_floats((*hi - *lo) * (size_t)p.dim + 1, &p.values)
                  : sn_fail(SN_ERR_NOMEM, "cannot allocate %zu predictions", *hi - *lo);
    if (st == SN_OK) st = sn_infer_rows(r, net, tf, NULL, *lo, *hi, batch, keep_outputs, &p);
    st = sn_dist_agree(dist, st);
  }
  sn_reader_destroy(r);
  if (st != SN_OK) {
    sn_free(p.values);
    free(p.labels);
    return st;
  }
  *out = p.values;
  *labels = p.labels;
  return SN_OK;
}
