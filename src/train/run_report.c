/* `shardnet report RUN_DIR`: one self-contained HTML page about a run. From the run
 * directory: metrics.csv (curves, learning rate, images/s, per-epoch table), the
 * latest checkpoint (model summary; evaluated on the test set for the confusion
 * matrix and per-class accuracy; the feature maps of a few test samples for each
 * convolution) and a trace when there is one (the slowest layers). Charts are inline
 * SVG, pictures inline PNG: the page needs no other file and no network. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shardnet/checkpoint.h"
#include "shardnet/html.h"
#include "shardnet/infer.h"
#include "shardnet/kernels.h"
#include "shardnet/trainer.h"
#include "shardnet/version.h"
#include "train/report_data.h"

#define FEATURE_SAMPLES 3
#define FEATURE_CHANNELS 8
#define SLOWEST_LAYERS 10

static const char style[] =
    "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#1b1b1b;padding:0 16px}"
    "h1{font-size:22px}h2{font-size:17px;margin-top:32px;border-bottom:1px solid #ddd}"
    "table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 9px;border:1px solid #ddd;text-align:right}"
    "th{background:#f4f4f4}td.name,th.name{text-align:left}.charts{display:flex;flex-wrap:wrap;gap:12px}"
    "svg.chart{background:#fff;border:1px solid #e3e3e3}svg .grid{stroke:#eee}svg .axis{stroke:#888}"
    "svg text{font:11px system-ui,sans-serif;fill:#444}svg .title{font-size:13px;fill:#1b1b1b}"
    "img{image-rendering:pixelated;border:1px solid #ccc;margin:2px}.maps td{text-align:left;vertical-align:top}"
    ".note{color:#666}";

/* Everything the page shows, gathered before it is written. */
typedef struct {
  const sn_run_report_options *o;
  char checkpoint[SN_PATH_CAP], data[SN_PATH_CAP];
  sn_checkpoint_info info;
  sn_run_metrics metrics;
  int have_metrics;
  sn_inference in;
  int have_eval;
  sn_eval_result eval;
  sn_layer_time times[SLOWEST_LAYERS * 8];
  int n_times;
  char trace[SN_PATH_CAP + 32];
} report;

static void heading(FILE *f, const char *id, const char *title) {
  fprintf(f, "<h2 id=\"%s\">", id);
  sn_html_text(f, title);
  fputs("</h2>\n", f);
}

static double last_finite(const double *v, int n) {
  for (int i = n - 1; i >= 0; i--)
    if (isfinite(v[i])) return v[i];
  return NAN;
}

static void write_overview(FILE *f, const report *r) {
  const sn_run_metrics *m = &r->metrics;
  fputs("<table id=\"final\"><tr><th class=\"name\">figure</th><th>value</th></tr>\n", f);
  fprintf(f, "<tr><td class=\"name\">steps</td><td>%ld</td></tr>\n", r->info.step);
  fprintf(f, "<tr><td class=\"name\">epochs completed</td><td>%d</td></tr>\n", r->info.epoch);
  if (m->n_train) {
    fprintf(f, "<tr><td class=\"name\">last training loss</td><td>%.6f</td></tr>\n",
            last_finite(m->train_loss, m->n_train));
    double rate = 0;
    int k = 0;
    for (int i = 0; i < m->n_train; i++)
      if (isfinite(m->images_per_s[i])) rate += m->images_per_s[i], k++;
    if (k) fprintf(f, "<tr><td class=\"name\">mean images/s</td><td>%.1f</td></tr>\n", rate / k);
  }
  if (m->n_test) {
    fprintf(f, "<tr><td class=\"name\">last test loss</td><td>%.6f</td></tr>\n", last_finite(m->test_loss, m->n_test));
    fprintf(f, "<tr><td class=\"name\">last test accuracy</td><td>%.6f</td></tr>\n",
            last_finite(m->test_acc, m->n_test));
  }
  fputs("</table>\n", f);
}

static void chart(FILE *f, const char *title, const char *y_label, int log_y, const sn_chart_series *s, int n) {
  const sn_chart c = {.title = title, .x_label = "step", .y_label = y_label, .series = s, .n_series = n,
                      .log_y = log_y};
  sn_svg_line_chart(f, &c);
}

static void write_curves(FILE *f, const report *r) {
  const sn_run_metrics *m = &r->metrics;
  heading(f, "curves", "Training curves");
  fputs("<div class=\"charts\">\n", f);
  const sn_chart_series loss[2] = {{"training", "#1f77b4", m->train_step, m->train_loss, m->n_train},
                                   {"test", "#d62728", m->test_step, m->test_loss, m->n_test}};
  chart(f, "Loss", "loss", 0, loss, 2);
  const sn_chart_series acc[2] = {{"training", "#1f77b4", m->train_step, m->train_acc, m->n_train},
                                  {"test", "#d62728", m->test_step, m->test_acc, m->n_test}};
  chart(f, "Accuracy", "accuracy", 0, acc, 2);
  const sn_chart_series lr[1] = {{"learning rate", "#2ca02c", m->train_step, m->lr, m->n_train}};
  chart(f, "Learning-rate schedule", "learning rate", 1, lr, 1);
  const sn_chart_series speed[1] = {{"images/s", "#9467bd", m->train_step, m->images_per_s, m->n_train}};
  chart(f, "Throughput", "images/s", 0, speed, 1);
  fputs("</div>\n", f);
  heading(f, "epochs", "Test set after each epoch");
  fputs("<table id=\"epoch-table\"><tr><th>epoch</th><th>step</th><th>loss</th><th>accuracy</th></tr>\n", f);
  for (int i = 0; i < m->n_test; i++)
    fprintf(f, "<tr><td>%.0f</td><td>%.0f</td><td>%.6f</td><td>%.6f</td></tr>\n", m->test_epoch[i], m->test_step[i],
            m->test_loss[i], m->test_acc[i]);
  fputs("</table>\n", f);
}

static void write_model(FILE *f, const sn_net *net) {
  heading(f, "model", "Model");
  sn_summary_row *rows = calloc((size_t)net->n_layers + 1, sizeof *rows);
  if (!rows || sn_net_summary(net, rows) != SN_OK) {
    free(rows);
    fputs("<p class=\"note\">(no memory for the summary)</p>\n", f);
    return;
  }
  fputs("<table id=\"model-table\"><tr><th class=\"name\">layer</th><th class=\"name\">type</th><th>output</th>"
        "<th>parameters</th><th>FLOPs</th><th>receptive field</th></tr>\n", f);
  double flops = 0;
  char shape[48];
  for (int i = 0; i < net->n_layers; i++) {
    flops += rows[i].flops;
    fputs("<tr><td class=\"name\">", f);
    sn_html_text(f, rows[i].name);
    fprintf(f, "</td><td class=\"name\">%s</td><td>%s</td><td>%zu</td><td>%.0f</td><td>%.4g</td></tr>\n", rows[i].type,
            sn_shape_format(rows[i].out, shape, sizeof shape), rows[i].params, rows[i].flops, rows[i].field);
  }
  fprintf(f, "<tr><th class=\"name\">total</th><th></th><th></th><th>%zu</th><th>%.0f</th><th></th></tr></table>\n",
          net->n_params, flops);
  free(rows);
}

static void write_confusion(FILE *f, const report *r) {
  heading(f, "confusion", "Test set: confusion matrix and per-class accuracy");
  const sn_eval_result *e = &r->eval;
  if (!r->have_eval || !e->n_classes || !e->confusion) {
    fputs("<p class=\"note\">No classification test set to evaluate (data.test, or --data).</p>\n", f);
    return;
  }
  fprintf(f, "<p>%s on ", r->checkpoint);
  sn_html_text(f, r->data);
  fprintf(f, ": %ld samples, loss %.6f, accuracy %.6f. Rows: true class; columns: predicted.</p>\n", e->samples,
          e->loss, e->accuracy);
  const sn_dataset *ds = r->in.ds;
  fputs("<table id=\"confusion-matrix\"><tr><th class=\"name\">class</th>", f);
  for (int k = 0; k < e->n_classes; k++) fprintf(f, "<th>%d</th>", k);
  fputs("<th>samples</th><th>accuracy</th></tr>\n", f);
  long most = 1;
  for (int k = 0; k < e->n_classes * e->n_classes; k++) most = e->confusion[k] > most ? e->confusion[k] : most;
  for (int t = 0; t < e->n_classes; t++) {
    fprintf(f, "<tr><td class=\"name\">%d ", t);
    if (t < ds->n_class_names) sn_html_text(f, ds->class_names[t]);
    fputs("</td>", f);
    for (int p = 0; p < e->n_classes; p++) {
      const long v = e->confusion[(size_t)t * e->n_classes + p];
      /* shade by count: the diagonal and the common mistakes stand out */
      fprintf(f, "<td style=\"background:rgba(31,119,180,%.2f)\">%ld</td>", 0.75 * (double)v / (double)most, v);
    }
    const double acc = e->class_total[t] ? (double)e->class_correct[t] / (double)e->class_total[t] : 0.0;
    fprintf(f, "<td>%ld</td><td>%.4f</td></tr>\n", e->class_total[t], acc);
  }
  fputs("</table>\n", f);
}

static void write_slowest(FILE *f, const report *r) {
  heading(f, "layers", "Slowest layers");
  if (!r->n_times) {
    fputs("<p class=\"note\">No trace: train with --trace RUN_DIR/trace.json (or give report --trace) to see the "
          "time of each layer.</p>\n", f);
    return;
  }
  fputs("<p>From ", f);
  sn_html_text(f, r->trace);
  fputs(", rank 0, mean per step.</p>\n<table id=\"slowest\"><tr><th class=\"name\">layer</th><th>forward ms</th>"
        "<th>backward ms</th></tr>\n", f);
  for (int k = 0; k < r->n_times && k < SLOWEST_LAYERS; k++) {
    fputs("<tr><td class=\"name\">", f);
    sn_html_text(f, r->times[k].name);
    fprintf(f, "</td><td>%.3f</td><td>%.3f</td></tr>\n", r->times[k].forward_ms, r->times[k].backward_ms);
  }
  fputs("</table>\n", f);
}

/* One picture per map: its values stretched to 0..255 (a flat map is mid-grey). */
static sn_status map_picture(FILE *f, const float *v, int h, int w, const char *alt) {
  float lo = v[0], hi = v[0];
  for (int i = 1; i < h * w; i++) lo = v[i] < lo ? v[i] : lo, hi = v[i] > hi ? v[i] : hi;
  uint8_t *grey = malloc((size_t)h * w);
  if (!grey) return sn_fail(SN_ERR_NOMEM, "cannot hold a %dx%d picture", h, w);
  for (int i = 0; i < h * w; i++)
    grey[i] = hi > lo ? (uint8_t)lrintf(255.0f * (v[i] - lo) / (hi - lo)) : 128;
  const int scale = h >= 48 ? 1 : (48 + h - 1) / h > 8 ? 8 : (48 + h - 1) / h;
  sn_status st = sn_html_png_img(f, grey, w, h, scale, alt);
  free(grey);
  return st;
}

static int is_conv(const sn_layer *l) { return !strncmp(l->ops->type, "conv2d", 6) && l->out_shape.ndim == 3; }

typedef struct {
  FILE *f;
  const report *r;
} maps_ctx;

/* After the forward of the first test samples: their inputs, then the first channels
 * of each convolution's output. */
static sn_status write_maps(void *ctx, size_t row, int n, const sn_net *net, const float *x, const int32_t *labels,
                            const float *targets) {
  maps_ctx *c = ctx;
  FILE *f = c->f;
  sn_status st = SN_OK;
  const sn_shape in = net->input_shape;
  fputs("<table class=\"maps\" id=\"feature-maps\">\n", f);
  for (int s = 0; s < n && st == SN_OK; s++) {
    char alt[128];
    fprintf(f, "<tr><th class=\"name\">sample %zu", row + (size_t)s);
    const sn_dataset *ds = c->r->in.ds;
    if (labels && labels[s] >= 0 && labels[s] < ds->n_class_names) {
      fputs(" (", f);
      sn_html_text(f, ds->class_names[labels[s]]);
      fputs(")", f);
    }
    fputs("</th></tr>\n<tr><td class=\"name\">input<br>", f);
    snprintf(alt, sizeof alt, "sample %zu input", row + (size_t)s);
    /* the first channel of a (C, H, W) input; a vector input has no picture */
    if (in.ndim == 3) st = map_picture(f, x + (size_t)s * sn_shape_size(in), in.d[1], in.d[2], alt);
    fputs("</td></tr>\n", f);
    for (int i = 0; i < net->n_layers && st == SN_OK; i++) {
      const sn_layer *l = &net->layers[i];
      if (!is_conv(l)) continue;
      const sn_shape o = l->out_shape;
      const int channels = o.d[0], h = o.d[1], w = o.d[2];
      float *out = malloc(sn_shape_size(o) * sizeof *out);
      if (!out) {
        st = sn_fail(SN_ERR_NOMEM, "cannot allocate a feature map");
        break;
      }
      sn_net_copy_output(net, i, s, 1, out);
      fputs("<tr><td class=\"name\">", f);
      sn_html_text(f, l->name);
      fprintf(f, " (%d of %d channels)<br>", channels < FEATURE_CHANNELS ? channels : FEATURE_CHANNELS, channels);
      for (int ch = 0; ch < channels && ch < FEATURE_CHANNELS && st == SN_OK; ch++) {
        snprintf(alt, sizeof alt, "sample %zu %.40s channel %d", row + (size_t)s, l->name, ch);
        st = map_picture(f, out + (size_t)ch * h * w, h, w, alt);
      }
      free(out);
      fputs("</td></tr>\n", f);
    }
  }
  fputs("</table>\n", f);
  return st;
}

/* Rank 0 alone, from the file (stream: nothing held), whatever placement the
 * evaluation used. */
static sn_status write_feature_maps(FILE *f, const report *r) {
  heading(f, "feature-maps-section", "Feature maps of the first test samples");
  if (!r->have_eval) {
    fputs("<p class=\"note\">No test set.</p>\n", f);
    return SN_OK;
  }
  const sn_dataset_options opt = {.placement = SN_PLACEMENT_STREAM, .role = "report samples"};
  sn_dataset *ds = NULL;
  sn_reader *reader = NULL;
  const int n = r->in.ds->n < FEATURE_SAMPLES ? (int)r->in.ds->n : FEATURE_SAMPLES;
  sn_status st = sn_dataset_open(NULL, r->data, &opt, &ds);
  if (st == SN_OK) st = sn_reader_create(NULL, ds, 1, n, 0, &reader);
  maps_ctx ctx = {f, r};
  if (st == SN_OK) st = sn_infer_rows(reader, r->in.net, &r->in.tf, NULL, 0, (size_t)n, n, write_maps, &ctx);
  sn_reader_destroy(reader);
  sn_dataset_free(ds);
  return st;
}

static sn_status write_page(const report *r, const char *out) {
  char tmp[SN_PATH_CAP + 8];
  snprintf(tmp, sizeof tmp, "%s.tmp", out);
  FILE *f = fopen(tmp, "w");
  if (!f) return sn_fail(SN_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
  char when[32];
  const time_t now = time(NULL);
  struct tm tm;
  strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime_r(&now, &tm));
  fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>shardnet run ");
  sn_html_text(f, r->o->run_dir);
  fprintf(f, "</title><style>%s</style></head><body>\n<h1>shardnet run ", style);
  sn_html_text(f, r->o->run_dir);
  fprintf(f, "</h1>\n<p class=\"note\">Checkpoint %s at step %ld; report by shardnet %s on %s; kernels: %s.</p>\n",
          r->checkpoint, r->info.step, SHARDNET_VERSION, when, sn_kernels_describe(sn_kernels_default()));
  write_overview(f, r);
  if (r->have_metrics) write_curves(f, r);
  else fputs("<p class=\"note\">No metrics.csv in the run directory.</p>\n", f);
  write_model(f, r->in.net);
  write_confusion(f, r);
  write_slowest(f, r);
  sn_status st = write_feature_maps(f, r);
  fputs("</body></html>\n", f);
  if (fclose(f) != 0 && st == SN_OK) st = sn_fail(SN_ERR_IO, "cannot finish %s (disk full?)", tmp);
  if (st == SN_OK && rename(tmp, out) != 0) st = sn_fail(SN_ERR_IO, "cannot rename %s to %s: %s", tmp, out, strerror(errno));
  if (st != SN_OK) unlink(tmp);
  return st;
}

/* Rank 0: what the run directory holds besides the checkpoint. */
static sn_status read_run_files(report *r) {
  char path[SN_PATH_CAP + 32];
  snprintf(path, sizeof path, "%s/metrics.csv", r->o->run_dir);
  if (access(path, F_OK) == 0) {
    SN_TRY(sn_run_metrics_read(path, &r->metrics));
    r->have_metrics = 1;
  }
  if (r->o->trace) snprintf(r->trace, sizeof r->trace, "%s", r->o->trace);
  else if (snprintf(path, sizeof path, "%s/trace.json", r->o->run_dir), access(path, F_OK) == 0)
    snprintf(r->trace, sizeof r->trace, "%s", path);
  if (r->trace[0]) SN_TRY(sn_trace_layer_times(r->trace, r->times, (int)(sizeof r->times / sizeof *r->times), &r->n_times));
  return SN_OK;
}

sn_status sn_run_report(sn_dist *d, const sn_run_report_options *o, char *written) {
  report *r = calloc(1, sizeof *r);
  if (!r) return sn_dist_agree(d, sn_fail(SN_ERR_NOMEM, "cannot allocate the report"));
  r->o = o;
  const int rank0 = sn_dist_rank(d) == 0;
  snprintf(r->checkpoint, sizeof r->checkpoint, "%s/latest.h5", o->run_dir);
  sn_status st = sn_dist_agree(d, rank0 ? sn_checkpoint_read_info(r->checkpoint, &r->info) : SN_OK);
  sn_config *cfg = NULL;
  sn_net *net = NULL;
  char resolved[SN_PATH_CAP];
  /* which test set: --data, else the run's own */
  if (st == SN_OK) st = sn_dist_agree(d, sn_checkpoint_open_model(r->checkpoint, &cfg, &net, resolved));
  if (st == SN_OK) snprintf(r->data, sizeof r->data, "%s", o->data ? o->data : cfg->data.test);
  sn_net_destroy(net);
  sn_config_free(cfg);
  if (st == SN_OK && r->data[0]) {
    st = sn_inference_open(d, r->checkpoint, r->data, NULL, &r->in);
    if (st == SN_OK) st = sn_evaluate(d, r->in.net, r->in.ds, &r->in.tf, 64, r->in.cfg->data.prefetch, &r->eval);
    r->have_eval = st == SN_OK;
  } else if (st == SN_OK) {
    st = sn_dist_agree(d, sn_checkpoint_open_model(r->checkpoint, &r->in.cfg, &r->in.net, resolved));
  }
  if (st == SN_OK && rank0) st = read_run_files(r);
  if (st == SN_OK && rank0) {
    if (o->out) snprintf(written, SN_PATH_CAP, "%s", o->out);
    else snprintf(written, SN_PATH_CAP, "%s/report.html", o->run_dir);
    st = write_page(r, written);
  }
  st = sn_dist_agree(d, st);
  sn_eval_result_free(&r->eval);
  sn_inference_close(&r->in);
  sn_run_metrics_free(&r->metrics);
  sn_checkpoint_info_free(&r->info);
  free(r);
  return st;
}
