/* What every subcommand shares: error lines, the MPI wrapper, option helpers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"

/* Messages quote what files hold (a format attribute, a layer name, a YAML value): a
 * control character there is written as an escape, so that an error stays one line
 * and cannot move the terminal's cursor. */
static void put_escaped(const char *text, FILE *out) {
  for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
    if (*p == '\n') fputs("\\n", out);
    else if (*p == '\r') fputs("\\r", out);
    else if (*p == '\t') fputs("\\t", out);
    else if (*p < 0x20 || *p == 0x7f) fprintf(out, "\\x%02x", *p);
    else fputc(*p, out);
  }
}

/* Set once MPI starts: from then on the caller picks the rank that prints. */
static int mpi_started;

/* Before MPI starts, every rank of a job parses the same arguments and finds the same
 * error: only the job's first rank prints it (the launcher names each rank in the
 * environment; a process started alone is the first). */
static int first_rank(void) {
  static const char *const vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"};
  for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
    const char *v = getenv(vars[i]);
    if (v && *v) return strcmp(v, "0") == 0;
  }
  return 1;
}

void sn_cli_error(const char *fmt, ...) {
  if (!mpi_started && !first_rank()) return;
  char text[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  fputs("shardnet: error: ", stderr);
  put_escaped(text, stderr);
  fputc('\n', stderr);
  fflush(stderr);
}

int sn_cli_run_mpi(int argc, char **argv, sn_status (*body)(sn_dist *d, void *ctx), void *ctx) {
  sn_dist *d = NULL;
  mpi_started = 1;  /* a rank whose MPI does not start says so itself */
  if (sn_dist_init(&argc, &argv, &d) != SN_OK) {
    sn_cli_error("%s", sn_last_error());
    return 1;
  }
  sn_status st = body(d, ctx);
  if (st != SN_OK) {
    /* After an agreement every rank holds the message: only its owner prints it. */
    int owner = sn_dist_failed_rank(d);
    if (owner < 0 || owner == sn_dist_rank(d)) sn_cli_error("%s", sn_last_error());
  }
  sn_dist_finalize(d);
  return st == SN_OK ? 0 : 1;
}

int sn_cli_take_value(int argc, char **argv, int *i, const char *name, const char **value) {
  size_t len = strlen(name);
  const char *arg = argv[*i];
  if (strncmp(arg, name, len) != 0) return 0;
  if (arg[len] == '=') {
    *value = arg + len + 1;
    return 1;
  }
  if (arg[len] != '\0') return 0;
  if (*i + 1 >= argc) {
    sn_cli_error("%s needs a value", name);
    return -1;
  }
  *value = argv[++*i];
  return 1;
}

int sn_cli_take_set(int argc, char **argv, int *i, sn_overrides *o) {
  const char *value;
  int r = sn_cli_take_value(argc, argv, i, "--set", &value);
  if (r <= 0) return r;
  if (!strchr(value, '=')) {
    sn_cli_error("--set expects key=value, got '%s'", value);
    return -1;
  }
  if (o->count == SN_MAX_OVERRIDES) {
    sn_cli_error("more than %d --set options", SN_MAX_OVERRIDES);
    return -1;
  }
  o->items[o->count++] = value;
  return 1;
}
