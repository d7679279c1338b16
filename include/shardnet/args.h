/* Key/value arguments of one configuration block (a layer, an optimizer...), each
 * remembering its source line, so that whoever reads a key can report
 * "file:line: key: what is wrong". The YAML loader fills them; tests and benchmarks
 * build them from a short "key=value" string. Every getter marks its key used, and
 * sn_args_check_unused() turns a misspelled key into an error instead of a silent
 * default. */
#ifndef SHARDNET_ARGS_H
#define SHARDNET_ARGS_H

#include <stddef.h>

#include "shardnet/status.h"

/* The most keys one section or layer may have. */
#define SN_ARGS_MAX 1024

typedef struct sn_arg {
  char *key;
  int line;
  int is_list;   /* written as a sequence ([a, b]) */
  int count;     /* number of items (1 for a scalar) */
  char **items;
  int used;
} sn_arg;

typedef struct sn_args {
  char *source;  /* file name for messages */
  int line;      /* line of the block itself */
  char *what;    /* "layer 'conv1' (conv2d)" for messages */
  int count, capacity;
  sn_arg *v;
} sn_args;

sn_status sn_args_new(const char *source, int line, sn_args **out);
void sn_args_free(sn_args *a);
/* Describes the block for messages, e.g. "layer 'conv1' (conv2d)". */
sn_status sn_args_set_what(sn_args *a, const char *what);
sn_status sn_args_add(sn_args *a, const char *key, int line, int is_list, int count,
                      const char *const *items);
/* Parses "filters=3 kernel=3,5 padding=same" (a comma makes a list). */
sn_status sn_args_from_string(const char *text, sn_args **out);
sn_status sn_args_copy(const sn_args *a, sn_args **out);

/* The argument named key, or NULL; does not mark it used. */
sn_arg *sn_args_find(const sn_args *a, const char *key);
int sn_args_has(const sn_args *a, const char *key);

/* Getters. A missing key yields the default; a present key of the wrong type or
 * out of range is an SN_ERR_CONFIG naming file, line and key. */
sn_status sn_args_int(sn_args *a, const char *key, int dflt, int min, int max, int *out);
sn_status sn_args_float(sn_args *a, const char *key, double dflt, double min, double max,
                        double *out);
sn_status sn_args_bool(sn_args *a, const char *key, int dflt, int *out);
/* String value copied into out (cap bytes); dflt may be NULL for "required". */
sn_status sn_args_string(sn_args *a, const char *key, const char *dflt, char *out, size_t cap);
/* One of names[0..n-1]; *out is its index. dflt < 0 means the key is required. */
sn_status sn_args_choice(sn_args *a, const char *key, const char *const *names, int n,
                         int dflt, int *out);
/* An int given as a scalar (used for both) or as a pair [a, b] (e.g. kernel, stride). */
sn_status sn_args_int_pair(sn_args *a, const char *key, int dflt, int min, int max,
                           int out[2]);
/* A list of up to cap ints (a scalar is a list of one); *n receives the count. */
sn_status sn_args_int_list(sn_args *a, const char *key, int *out, int cap, int *n);

/* SN_ERR_CONFIG at the key's line: "source:line: what: key 'k': message". key may be
 * NULL to point at the block itself. */
sn_status sn_args_fail(const sn_args *a, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* SN_ERR_CONFIG for the first key no getter asked for. */
sn_status sn_args_check_unused(const sn_args *a);

#endif
