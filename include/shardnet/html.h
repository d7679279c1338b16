/* Pieces of self-contained HTML pages (the run report): text escaped for HTML, line
 * charts drawn as inline SVG, and grey images as PNG (libpng) in base64 data URLs.
 * Nothing refers to a file or a network address: the page is one file. */
#ifndef SHARDNET_HTML_H
#define SHARDNET_HTML_H

#include <stdint.h>
#include <stdio.h>

#include "shardnet/status.h"

/* s with &, <, >, " and ' escaped. */
void sn_html_text(FILE *f, const char *s);

/* One line of a chart: n points (x[i], y[i]); non-finite y values are skipped. */
typedef struct {
  const char *name;
  const char *color;        /* CSS colour */
  const double *x, *y;
  int n;
} sn_chart_series;

typedef struct {
  const char *title, *x_label, *y_label;
  const sn_chart_series *series;
  int n_series;
  int log_y;                /* logarithmic y axis (learning rates); positive values only */
} sn_chart;

/* An <svg> of the chart: axes with ticks, one <path class="series"> per series that
 * has points, and a legend. */
void sn_svg_line_chart(FILE *f, const sn_chart *chart);

/* An <img> of a w x h grey image (row-major bytes), PNG-encoded inline; scale > 1
 * shows each pixel as a scale x scale block. alt describes it. */
sn_status sn_html_png_img(FILE *f, const uint8_t *pixels, int w, int h, int scale, const char *alt);

#endif
