/* `shardnet summary`: per-layer shapes, parameters, FLOPs and receptive fields. */
#include <stdio.h>
#include <stdlib.h>

#include "shardnet/net.h"

void sn_net_receptive_fields(const sn_net *net, double *field, double *jump) {
  for (int i = 0; i < net->n_layers; i++) {
    const sn_layer *l = &net->layers[i];
    /* Through a merge (add, concat) the widest input decides the field. */
    double r_in = 1.0, j_in = 1.0;
    for (int k = 0; k < l->n_inputs; k++) {
      int p = l->inputs[k];
      double r = p < 0 ? 1.0 : field[p], j = p < 0 ? 1.0 : jump[p];
      if (k == 0 || r > r_in) {
        r_in = r;
        j_in = j;
      }
    }
    double kernel = 1.0, stride = 1.0;
    if (l->ops->receptive) l->ops->receptive(l, &kernel, &stride);
    field[i] = r_in + (kernel - 1.0) * j_in;
    jump[i] = j_in * stride;
  }
}

static size_t layer_params(const sn_layer *l, int trainable) {
  size_t n = 0;
  for (int k = 0; k < l->n_params; k++)
    if (l->params[k].trainable == trainable) n += l->params[k].count;
  return n;
}

/* 1234567 -> "1.23M" */
static const char *human(double v, char *buf, size_t cap) {
  if (v >= 1e9) snprintf(buf, cap, "%.2fG", v / 1e9);
  else if (v >= 1e6) snprintf(buf, cap, "%.2fM", v / 1e6);
  else if (v >= 1e4) snprintf(buf, cap, "%.1fk", v / 1e3);
  else snprintf(buf, cap, "%.0f", v);
  return buf;
}

sn_status sn_net_summary(const sn_net *net, sn_summary_row *rows) {
  double *field = calloc((size_t)net->n_layers + 1, sizeof(double));
  double *jump = calloc((size_t)net->n_layers + 1, sizeof(double));
  if (!field || !jump) {
    free(field);
    free(jump);
    return sn_fail(SN_ERR_NOMEM, "cannot allocate the summary of %d layers", net->n_layers);
  }
  sn_net_receptive_fields(net, field, jump);
  for (int i = 0; i < net->n_layers; i++) {
    const sn_layer *l = &net->layers[i];
    rows[i] = (sn_summary_row){.name = l->name, .type = l->ops->type, .out = l->out_shape,
                               .params = layer_params(l, 1), .flops = l->ops->flops ? l->ops->flops(l) : 0.0,
                               .field = field[i], .jump = jump[i]};
  }
  free(field);
  free(jump);
  return SN_OK;
}

void sn_net_print_summary(const sn_net *net, FILE *out) {
  sn_summary_row *rows = calloc((size_t)net->n_layers + 1, sizeof *rows);
  if (!rows || sn_net_summary(net, rows) != SN_OK) {
    free(rows);
    return;
  }
  char shape[48], fl[32];
  fprintf(out, "%-20s %-18s %-14s %12s %10s %8s %6s\n", "layer", "type", "output", "params",
          "FLOPs", "field", "jump");
  fprintf(out, "%-20s %-18s %-14s %12d %10s %8d %6d\n", "input", "input",
          sn_shape_format(net->input_shape, shape, sizeof shape), 0, "0", 1, 1);
  double total_flops = 0.0;
  for (int i = 0; i < net->n_layers; i++) {
    const sn_summary_row *r = &rows[i];
    total_flops += r->flops;
    fprintf(out, "%-20s %-18s %-14s %12zu %10s %8.4g %6.4g\n", r->name, r->type,
            sn_shape_format(r->out, shape, sizeof shape), r->params, human(r->flops, fl, sizeof fl), r->field,
            r->jump);
  }
  fprintf(out, "total: %zu trainable parameters (%.2f MiB), %zu non-trainable, %s forward FLOPs per sample\n",
          net->n_params, (double)net->n_params * 4.0 / (1 << 20), net->n_state,
          human(total_flops, fl, sizeof fl));
  free(rows);
}
