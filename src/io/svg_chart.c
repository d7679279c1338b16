/* Line charts as inline SVG: linear or logarithmic y, "nice" ticks (1, 2, 5 times a
 * power of ten), one path per series and a legend. */
#include <math.h>

#include "shardnet/html.h"

#define WIDTH 640
#define HEIGHT 300
#define LEFT 64
#define RIGHT 16
#define TOP 30
#define BOTTOM 44

typedef struct {
  double lo, hi;
  int log;
} axis;

static double to_axis(const axis *a, double v) { return a->log ? log10(v) : v; }

static int usable(const axis *a, double v) { return isfinite(v) && (!a->log || v > 0); }

/* The data range of the x (which = 0) or y values over every series. */
static axis data_range(const sn_chart *c, int which, int log) {
  axis a = {INFINITY, -INFINITY, log};
  for (int s = 0; s < c->n_series; s++)
    for (int i = 0; i < c->series[s].n; i++) {
      const double v = which ? c->series[s].y[i] : c->series[s].x[i];
      if (!usable(&a, v) || !isfinite(c->series[s].x[i]) || !isfinite(c->series[s].y[i])) continue;
      const double t = to_axis(&a, v);
      if (t < a.lo) a.lo = t;
      if (t > a.hi) a.hi = t;
    }
  if (!isfinite(a.lo)) a.lo = 0, a.hi = 1;
  if (a.hi - a.lo < 1e-12) a.lo -= 0.5, a.hi += 0.5;
  return a;
}

/* A tick step of 1, 2 or 5 times a power of ten giving about 5 ticks. */
static double tick_step(const axis *a) {
  if (a->log) return 1.0;
  const double raw = (a->hi - a->lo) / 5.0, power = pow(10.0, floor(log10(raw)));
  const double f = raw / power;
  return power * (f < 1.5 ? 1.0 : f < 3.5 ? 2.0 : f < 7.5 ? 5.0 : 10.0);
}

static double px_x(const axis *a, double v) { return LEFT + (v - a->lo) / (a->hi - a->lo) * (WIDTH - LEFT - RIGHT); }
static double px_y(const axis *a, double v) { return HEIGHT - BOTTOM - (v - a->lo) / (a->hi - a->lo) * (HEIGHT - TOP - BOTTOM); }

static void tick_label(FILE *f, const axis *a, double t) {
  if (a->log) fprintf(f, "%g", pow(10.0, t));
  else fprintf(f, "%g", fabs(t) < 1e-12 ? 0.0 : t);
}

void sn_svg_line_chart(FILE *f, const sn_chart *c) {
  axis x = data_range(c, 0, 0), y = data_range(c, 1, c->log_y);
  const double xs = tick_step(&x), ys = tick_step(&y);
  /* round the ranges out to whole ticks */
  x.lo = floor(x.lo / xs) * xs;
  x.hi = ceil(x.hi / xs) * xs;
  y.lo = floor(y.lo / ys) * ys;
  y.hi = ceil(y.hi / ys) * ys;
  fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"%d\" height=\"%d\" "
             "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"", WIDTH, HEIGHT, WIDTH, HEIGHT);
  sn_html_text(f, c->title);
  fprintf(f, "\">\n<text x=\"%d\" y=\"18\" class=\"title\">", LEFT);
  sn_html_text(f, c->title);
  fputs("</text>\n", f);
  for (double t = x.lo; t <= x.hi + xs * 1e-9; t += xs) {
    fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>", px_x(&x, t), TOP, px_x(&x, t),
            HEIGHT - BOTTOM);
    fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", px_x(&x, t), HEIGHT - BOTTOM + 16);
    tick_label(f, &x, t);
    fputs("</text>\n", f);
  }
  for (double t = y.lo; t <= y.hi + ys * 1e-9; t += ys) {
    fprintf(f, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>", LEFT, px_y(&y, t),
            WIDTH - RIGHT, px_y(&y, t));
    fprintf(f, "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">", LEFT - 6, px_y(&y, t) + 4);
    tick_label(f, &y, t);
    fputs("</text>\n", f);
  }
  fprintf(f, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", LEFT, HEIGHT - BOTTOM, WIDTH - RIGHT,
          HEIGHT - BOTTOM);
  fprintf(f, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n", LEFT, TOP, LEFT, HEIGHT - BOTTOM);
  fprintf(f, "<text class=\"label\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (LEFT + WIDTH - RIGHT) / 2,
          HEIGHT - 8);
  sn_html_text(f, c->x_label);
  fprintf(f, "</text><text class=\"label\" transform=\"translate(14 %d) rotate(-90)\" text-anchor=\"middle\">",
          (TOP + HEIGHT - BOTTOM) / 2);
  sn_html_text(f, c->y_label);
  fputs("</text>\n", f);
  int legend = 0;
  for (int s = 0; s < c->n_series; s++) {
    const sn_chart_series *r = &c->series[s];
    int points = 0;
    for (int i = 0; i < r->n; i++) {
      if (!usable(&y, r->y[i]) || !isfinite(r->x[i])) continue;
      if (!points)
        fprintf(f, "<path class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" d=\"", r->color);
      fprintf(f, "%s%.1f %.1f", points ? " L" : "M", px_x(&x, r->x[i]), px_y(&y, to_axis(&y, r->y[i])));
      points++;
    }
    if (!points) continue;
    fputs("\"/>\n", f);
    if (points == 1)  /* one point alone draws no line: a dot instead */
      for (int i = 0; i < r->n; i++)
        if (usable(&y, r->y[i]) && isfinite(r->x[i]))
          fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", px_x(&x, r->x[i]),
                  px_y(&y, to_axis(&y, r->y[i])), r->color);
    /* the legend runs along the title line, right of the title */
    const int at = WIDTH - RIGHT - 120 * (c->n_series - legend);
    fprintf(f, "<rect x=\"%d\" y=\"12\" width=\"12\" height=\"3\" fill=\"%s\"/><text class=\"legend\" x=\"%d\" "
               "y=\"18\">", at, r->color, at + 16);
    sn_html_text(f, r->name);
    fputs("</text>\n", f);
    legend++;
  }
  fputs("</svg>\n", f);
}
