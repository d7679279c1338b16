/* Key/value arguments with source lines, typed getters and unused-key detection. */
#define _POSIX_C_SOURCE 200809L
#include "shardnet/args.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

sn_status sn_args_new(const char *source, int line, sn_args **out) {
  sn_args *a = calloc(1, sizeof *a);
  if (!a) return sn_fail(SN_ERR_NOMEM, "cannot allocate arguments");
  a->source = strdup(source ? source : "<arguments>");
  a->what = strdup("");
  a->line = line;
  if (!a->source || !a->what) {
    sn_args_free(a);
    return sn_fail(SN_ERR_NOMEM, "cannot allocate arguments");
  }
  *out = a;
  return SN_OK;
}

void sn_args_free(sn_args *a) {
  if (!a) return;
  for (int i = 0; i < a->count; i++) {
    for (int j = 0; j < a->v[i].count; j++) free(a->v[i].items[j]);
    free(a->v[i].items);
    free(a->v[i].key);
  }
  free(a->v);
  free(a->source);
  free(a->what);
  free(a);
}

sn_status sn_args_set_what(sn_args *a, const char *what) {
  char *copy = strdup(what);
  if (!copy) return sn_fail(SN_ERR_NOMEM, "cannot allocate arguments");
  free(a->what);
  a->what = copy;
  return SN_OK;
}

sn_status sn_args_add(sn_args *a, const char *key, int line, int is_list, int count,
                      const char *const *items) {
  if (sn_args_find(a, key)) return sn_args_fail(a, key, "is given twice");
  /* keys are found by a linear search: bounded, a crafted config with 100,000 keys
   * cannot make reading it quadratic (3 s for 40,000 before this bound) */
  if (a->count >= SN_ARGS_MAX)
    return sn_args_fail(a, NULL, "has more than %d keys; a section has a few dozen", SN_ARGS_MAX);
  if (a->count == a->capacity) {
    int cap = a->capacity ? 2 * a->capacity : 8;
    sn_arg *v = realloc(a->v, (size_t)cap * sizeof *v);
    if (!v) return sn_fail(SN_ERR_NOMEM, "cannot allocate arguments");
    a->v = v;
    a->capacity = cap;
  }
  sn_arg *arg = &a->v[a->count];
  memset(arg, 0, sizeof *arg);
  arg->key = strdup(key);
  arg->items = calloc((size_t)(count > 0 ? count : 1), sizeof(char *));
  if (!arg->key || !arg->items) goto nomem;
  arg->line = line;
  arg->is_list = is_list;
  for (int i = 0; i < count; i++) {
    arg->items[i] = strdup(items[i]);
    if (!arg->items[i]) goto nomem;
    arg->count++;
  }
  a->count++;
  return SN_OK;
nomem:
  for (int i = 0; i < arg->count; i++) free(arg->items[i]);
  free(arg->items);
  free(arg->key);
  return sn_fail(SN_ERR_NOMEM, "cannot allocate arguments");
}

sn_status sn_args_from_string(const char *text, sn_args **out) {
  SN_TRY(sn_args_new("<inline>", 0, out));
  char *copy = strdup(text);
  if (!copy) return sn_fail(SN_ERR_NOMEM, "cannot allocate arguments");
  sn_status st = SN_OK;
  char *save = NULL;
  for (char *tok = strtok_r(copy, " \t\n", &save); tok && st == SN_OK;
       tok = strtok_r(NULL, " \t\n", &save)) {
    char *eq = strchr(tok, '=');
    if (!eq) {
      st = sn_fail(SN_ERR_CONFIG, "argument '%s' is not key=value", tok);
      break;
    }
    *eq = '\0';
    const char *items[16];
    int n = 0;
    char *isave = NULL;
    for (char *it = strtok_r(eq + 1, ",", &isave); it && n < 16; it = strtok_r(NULL, ",", &isave))
      items[n++] = it;
    st = sn_args_add(*out, tok, 0, strchr(text, ',') != NULL && n > 1, n, items);
  }
  free(copy);
  if (st != SN_OK) {
    sn_args_free(*out);
    *out = NULL;
  }
  return st;
}

sn_status sn_args_copy(const sn_args *a, sn_args **out) {
  SN_TRY(sn_args_new(a->source, a->line, out));
  sn_status st = sn_args_set_what(*out, a->what);
  for (int i = 0; i < a->count && st == SN_OK; i++)
    st = sn_args_add(*out, a->v[i].key, a->v[i].line, a->v[i].is_list, a->v[i].count,
                     (const char *const *)a->v[i].items);
  if (st != SN_OK) {
    sn_args_free(*out);
    *out = NULL;
  }
  return st;
}

sn_arg *sn_args_find(const sn_args *a, const char *key) {
  for (int i = 0; i < a->count; i++)
    if (strcmp(a->v[i].key, key) == 0) return &a->v[i];
  return NULL;
}

int sn_args_has(const sn_args *a, const char *key) { return sn_args_find(a, key) != NULL; }

sn_status sn_args_fail(const sn_args *a, const char *key, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  const sn_arg *arg = key ? sn_args_find(a, key) : NULL;
  int line = arg && arg->line ? arg->line : a->line;
  char where[300];
  if (line > 0)
    snprintf(where, sizeof where, "%s:%d", a->source, line);
  else
    snprintf(where, sizeof where, "%s", a->source);
  const char *sep = a->what[0] ? ": " : "";
  if (key)
    return sn_fail(SN_ERR_CONFIG, "%s: %s%skey '%s' %s", where, a->what, sep, key, msg);
  return sn_fail(SN_ERR_CONFIG, "%s: %s%s%s", where, a->what, sep, msg);
}

/* The single scalar value of a key, or an error if it is a list. */
static sn_status scalar_of(sn_args *a, const char *key, const char **value) {
  sn_arg *arg = sn_args_find(a, key);
  *value = NULL;
  if (!arg) return SN_OK;
  arg->used = 1;
  if (arg->is_list || arg->count != 1)
    return sn_args_fail(a, key, "expects a single value, got a list of %d", arg->count);
  *value = arg->items[0];
  return SN_OK;
}

static int parse_long(const char *s, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  while (*end && isspace((unsigned char)*end)) end++;
  if (errno || end == s || *end) return 0;
  *out = v;
  return 1;
}

static int parse_double(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  while (*end && isspace((unsigned char)*end)) end++;
  if (errno || end == s || *end || !isfinite(v)) return 0;
  *out = v;
  return 1;
}

static sn_status int_value(sn_args *a, const char *key, const char *s, int min, int max,
                           int *out) {
  long v;
  if (!parse_long(s, &v)) return sn_args_fail(a, key, "expects an integer, got '%s'", s);
  if (v < min || v > max)
    return sn_args_fail(a, key, "must be between %d and %d, got %ld", min, max, v);
  *out = (int)v;
  return SN_OK;
}

sn_status sn_args_int(sn_args *a, const char *key, int dflt, int min, int max, int *out) {
  const char *s;
  SN_TRY(scalar_of(a, key, &s));
  if (!s) {
    *out = dflt;
    return SN_OK;
  }
  return int_value(a, key, s, min, max, out);
}

sn_status sn_args_float(sn_args *a, const char *key, double dflt, double min, double max,
                        double *out) {
  const char *s;
  SN_TRY(scalar_of(a, key, &s));
  if (!s) {
    *out = dflt;
    return SN_OK;
  }
  double v;
  if (!parse_double(s, &v)) return sn_args_fail(a, key, "expects a number, got '%s'", s);
  if (v < min || v > max)
    return sn_args_fail(a, key, "must be between %g and %g, got %g", min, max, v);
  *out = v;
  return SN_OK;
}

sn_status sn_args_bool(sn_args *a, const char *key, int dflt, int *out) {
  const char *s;
  SN_TRY(scalar_of(a, key, &s));
  if (!s) {
    *out = dflt;
    return SN_OK;
  }
  if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcmp(s, "1")) {
    *out = 1;
  } else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcmp(s, "0")) {
    *out = 0;
  } else {
    return sn_args_fail(a, key, "expects true or false, got '%s'", s);
  }
  return SN_OK;
}

sn_status sn_args_string(sn_args *a, const char *key, const char *dflt, char *out, size_t cap) {
  const char *s;
  SN_TRY(scalar_of(a, key, &s));
  if (!s) {
    if (!dflt) return sn_args_fail(a, NULL, "needs the key '%s'", key);
    s = dflt;
  }
  if (strlen(s) >= cap) return sn_args_fail(a, key, "is longer than %zu characters", cap - 1);
  memcpy(out, s, strlen(s) + 1);
  return SN_OK;
}

sn_status sn_args_choice(sn_args *a, const char *key, const char *const *names, int n,
                         int dflt, int *out) {
  const char *s;
  SN_TRY(scalar_of(a, key, &s));
  if (!s) {
    if (dflt < 0) return sn_args_fail(a, NULL, "needs the key '%s'", key);
    *out = dflt;
    return SN_OK;
  }
  for (int i = 0; i < n; i++)
    if (!strcmp(s, names[i])) {
      *out = i;
      return SN_OK;
    }
  char allowed[256] = "";
  for (int i = 0; i < n; i++) {
    strncat(allowed, names[i], sizeof allowed - strlen(allowed) - 1);
    if (i + 1 < n) strncat(allowed, ", ", sizeof allowed - strlen(allowed) - 1);
  }
  return sn_args_fail(a, key, "must be one of %s, got '%s'", allowed, s);
}

sn_status sn_args_int_pair(sn_args *a, const char *key, int dflt, int min, int max,
                           int out[2]) {
  sn_arg *arg = sn_args_find(a, key);
  if (!arg) {
    out[0] = out[1] = dflt;
    return SN_OK;
  }
  arg->used = 1;
  if (arg->count == 1) {
    SN_TRY(int_value(a, key, arg->items[0], min, max, &out[0]));
    out[1] = out[0];
    return SN_OK;
  }
  if (arg->count != 2)
    return sn_args_fail(a, key, "expects one integer or a pair [h, w], got %d values",
                        arg->count);
  SN_TRY(int_value(a, key, arg->items[0], min, max, &out[0]));
  return int_value(a, key, arg->items[1], min, max, &out[1]);
}

sn_status sn_args_int_list(sn_args *a, const char *key, int *out, int cap, int *n) {
  sn_arg *arg = sn_args_find(a, key);
  *n = 0;
  if (!arg) return SN_OK;
  arg->used = 1;
  if (arg->count > cap) return sn_args_fail(a, key, "has more than %d values", cap);
  for (int i = 0; i < arg->count; i++)
    SN_TRY(int_value(a, key, arg->items[i], -2147483647, 2147483647, &out[i]));
  *n = arg->count;
  return SN_OK;
}

sn_status sn_args_check_unused(const sn_args *a) {
  for (int i = 0; i < a->count; i++)
    if (!a->v[i].used) return sn_args_fail(a, a->v[i].key, "is not a known key");
  return SN_OK;
}
