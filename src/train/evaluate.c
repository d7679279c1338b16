/* Inference over a dataset, split across ranks in contiguous slices and reduced:
 * mean loss, accuracy and per-class accuracy. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shardnet/loss.h"
#include "shardnet/memory.h"
#include "shardnet/trainer.h"

static int argmax(const float *v, int n) {
  int best = 0;
  for (int i = 1; i < n; i++)
    if (v[i] > v[best]) best = i;
  return best;
}

sn_status sn_evaluate(sn_dist *dist, sn_net *net, const sn_dataset *ds, const sn_data_config *norm,
                      int batch, sn_eval_result *out) {
  const int rank = sn_dist_rank(dist), size = sn_dist_size(dist);
  const int dim = (int)sn_shape_size(sn_net_output_shape(net));
  const int classify = net->loss == SN_LOSS_SOFTMAX_CROSS_ENTROPY;
  const int classes = classify ? dim : 0;
  *out = (sn_eval_result){0};
  out->n_classes = classes;
  /* sums: loss, correct, then total and correct per class */
  const size_t n_sums = 2 + 2 * (size_t)classes;
  double *sums = calloc(n_sums, sizeof *sums);
  uint32_t *idx = calloc((size_t)batch, sizeof *idx);
  int32_t *labels = calloc((size_t)batch, sizeof *labels);
  float *x = NULL, *targets = NULL;
  sn_status st = sums && idx && labels ? SN_OK : sn_fail(SN_ERR_NOMEM, "cannot allocate evaluation buffers");
  if (st == SN_OK) st = sn_alloc_floats((size_t)batch * sn_shape_size(net->input_shape), &x);
  if (st == SN_OK) st = sn_alloc_floats((size_t)batch * dim, &targets);
  st = sn_dist_agree(dist, st);
  if (st == SN_OK && net->max_batch < batch) st = sn_dist_agree(dist, sn_net_reserve(net, batch, 0));
  if (st == SN_OK) {
    const size_t lo = ds->n * (size_t)rank / (size_t)size, hi = ds->n * (size_t)(rank + 1) / (size_t)size;
    const sn_pass pass = {.training = 0};
    for (size_t start = lo; start < hi; start += (size_t)batch) {
      int n = (int)(hi - start < (size_t)batch ? hi - start : (size_t)batch);
      for (int i = 0; i < n; i++) idx[i] = (uint32_t)(start + (size_t)i);
      sn_dataset_batch(ds, norm, idx, n, x, labels, targets);
      sn_net_forward(net, x, n, &pass);
      const float *y = sn_net_output(net);
      sums[0] += sn_loss_compute(net->loss, y, n, dim, labels, targets, 0.0, NULL, NULL);
      for (int i = 0; classify && i < n; i++) {
        int hit = argmax(y + (size_t)i * dim, dim) == labels[i];
        sums[1] += hit;
        sums[2 + labels[i]] += 1;
        sums[2 + classes + labels[i]] += hit;
      }
    }
    st = sn_dist_sum_doubles(dist, sums, n_sums);
  }
  if (st == SN_OK) {
    out->samples = (long)ds->n;
    out->loss = sums[0] / (double)ds->n;
    out->accuracy = sums[1] / (double)ds->n;
    if (classes) {
      out->class_total = calloc((size_t)classes, sizeof(long));
      out->class_correct = calloc((size_t)classes, sizeof(long));
      for (int k = 0; k < classes && out->class_total && out->class_correct; k++) {
        out->class_total[k] = (long)sums[2 + k];
        out->class_correct[k] = (long)sums[2 + classes + k];
      }
    }
  }
  free(sums);
  free(idx);
  free(labels);
  sn_free(x);
  sn_free(targets);
  return st;
}

void sn_eval_result_free(sn_eval_result *r) {
  free(r->class_total);
  free(r->class_correct);
  r->class_total = r->class_correct = NULL;
}

/* softmax of one row in place, stable for large logits */
static void softmax_row(float *v, int n) {
  float top = v[0];
  for (int i = 1; i < n; i++) top = v[i] > top ? v[i] : top;
  double sum = 0.0;
  for (int i = 0; i < n; i++) sum += (v[i] = expf(v[i] - top));
  for (int i = 0; i < n; i++) v[i] = (float)(v[i] / sum);
}

sn_status sn_predict_range(sn_net *net, const sn_dataset *ds, const sn_data_config *norm, size_t lo, size_t hi,
                           int batch, float *out) {
  const int dim = (int)sn_shape_size(sn_net_output_shape(net));
  if (net->max_batch < batch) SN_TRY(sn_net_reserve(net, batch, 0));
  uint32_t *idx = calloc((size_t)batch, sizeof *idx);
  float *x = NULL;
  sn_status st = idx ? sn_alloc_floats((size_t)batch * sn_shape_size(net->input_shape), &x)
                     : sn_fail(SN_ERR_NOMEM, "cannot allocate prediction buffers");
  const sn_pass pass = {.training = 0};
  for (size_t start = lo; st == SN_OK && start < hi; start += (size_t)batch) {
    int n = (int)(hi - start < (size_t)batch ? hi - start : (size_t)batch);
    for (int i = 0; i < n; i++) idx[i] = (uint32_t)(start + (size_t)i);
    sn_dataset_batch(ds, norm, idx, n, x, NULL, NULL);
    sn_net_forward(net, x, n, &pass);
    float *dst = out + (start - lo) * (size_t)dim;
    memcpy(dst, sn_net_output(net), (size_t)n * dim * sizeof(float));
    for (int i = 0; net->loss == SN_LOSS_SOFTMAX_CROSS_ENTROPY && i < n; i++) softmax_row(dst + (size_t)i * dim, dim);
  }
  free(idx);
  sn_free(x);
  return st;
}
