/* `shardnet convert idx|cifar10 ... --out FILE`: public formats to HDF5 datasets. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "shardnet/convert.h"

#define MAX_CLASSES 1024
#define DEFAULT_DEFLATE_LEVEL 4

static const char convert_help[] =
    "usage: shardnet convert idx --images FILE --labels FILE --out FILE.h5 [--class-names a,b,...] [STORAGE]\n"
    "       shardnet convert cifar10 --out FILE.h5 [STORAGE] data_batch_1.bin [...]\n"
    "\n"
    "  idx       MNIST / Fashion-MNIST IDX files (plain or gzip)\n"
    "  cifar10   CIFAR-10 binary batches, concatenated in the order given\n"
    "\n"
    "STORAGE:\n"
    "  --compress [LEVEL]  deflate (gzip) every dataset, LEVEL 1 to 9 (default 4)\n"
    "  --shuffle           the shuffle filter before deflate (only with --compress)\n";

static int usage_error(const char *usage) {
  sn_cli_error("usage: %s (run 'shardnet convert --help')", usage);
  return 2;
}

/* Splits "a,b,c" in place into names. */
static int split_names(char *list, const char **names) {
  int n = 0;
  for (char *p = strtok(list, ","); p && n < MAX_CLASSES; p = strtok(NULL, ",")) names[n++] = p;
  return n;
}

static int all_digits(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return 0;
  return 1;
}

/* If argv[*i] is --compress [LEVEL], --compress=LEVEL or --shuffle, records it and
 * returns 1 (-1 after printing the error for a bad level), else 0. */
static int take_storage(int argc, char **argv, int *i, sn_dataset_compression *z) {
  const char *arg = argv[*i], *level = NULL;
  if (!strcmp(arg, "--shuffle")) {
    z->shuffle = 1;
    return 1;
  }
  if (!strncmp(arg, "--compress=", 11)) level = arg + 11;
  else if (strcmp(arg, "--compress")) return 0;
  else if (*i + 1 < argc && all_digits(argv[*i + 1])) level = argv[++*i];
  if (!level) {
    z->level = DEFAULT_DEFLATE_LEVEL;
    return 1;
  }
  if (strlen(level) != 1 || level[0] < '1' || level[0] > '9') {
    sn_cli_error("--compress expects a deflate level from 1 to 9, got '%s'", level);
    return -1;
  }
  z->level = level[0] - '0';
  return 1;
}

/* The checks of the storage options once all are read; 0 when they are fine. */
static int storage_error(const sn_dataset_compression *z) {
  if (z->shuffle && !z->level) {
    sn_cli_error("--shuffle needs --compress (the shuffle filter only helps deflate)");
    return 2;
  }
  return 0;
}

static int report(sn_status st, const char *out) {
  if (st != SN_OK) {
    sn_cli_error("%s", sn_last_error());
    return 1;
  }
  printf("shardnet: wrote %s\n", out);
  return 0;
}

static int convert_idx(int argc, char **argv) {
  const char *images = NULL, *labels = NULL, *out = NULL, *classes = NULL;
  sn_dataset_compression z = {0};
  for (int i = 2; i < argc; i++) {
    int r = sn_cli_take_value(argc, argv, &i, "--images", &images);
    if (!r) r = sn_cli_take_value(argc, argv, &i, "--labels", &labels);
    if (!r) r = sn_cli_take_value(argc, argv, &i, "--out", &out);
    if (!r) r = sn_cli_take_value(argc, argv, &i, "--class-names", &classes);
    if (!r) r = take_storage(argc, argv, &i, &z);
    if (r < 0) return 2;
    if (!r) {
      sn_cli_error("convert idx: unknown argument '%s'", argv[i]);
      return 2;
    }
  }
  if (!images || !labels || !out)
    return usage_error("shardnet convert idx --images FILE --labels FILE --out FILE.h5 [--class-names a,b,...]");
  if (storage_error(&z)) return 2;
  static const char *names[MAX_CLASSES];
  char *list = classes ? strdup(classes) : NULL;
  int n = list ? split_names(list, names) : 0;
  sn_status st = sn_convert_idx(images, labels, out, n ? names : NULL, n, z);
  free(list);
  return report(st, out);
}

static int convert_cifar10(int argc, char **argv) {
  const char *out = NULL;
  const char **batches = calloc((size_t)argc, sizeof *batches);
  sn_dataset_compression z = {0};
  int n = 0;
  for (int i = 2; i < argc; i++) {
    int r = sn_cli_take_value(argc, argv, &i, "--out", &out);
    if (!r) r = take_storage(argc, argv, &i, &z);
    if (r < 0) {
      free(batches);
      return 2;
    }
    if (!r) batches[n++] = argv[i];
  }
  if (!out || n == 0 || storage_error(&z)) {
    free(batches);
    return !out || n == 0 ? usage_error("shardnet convert cifar10 --out FILE.h5 data_batch_1.bin [...]") : 2;
  }
  sn_status st = sn_convert_cifar10(batches, n, out, z);
  free(batches);
  return report(st, out);
}

static int wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
  return 0;
}

int sn_cmd_convert(int argc, char **argv) {
  if (wants_help(argc, argv)) {
    fputs(convert_help, stdout);
    return 0;
  }
  if (argc >= 2 && !strcmp(argv[1], "idx")) return convert_idx(argc, argv);
  if (argc >= 2 && !strcmp(argv[1], "cifar10")) return convert_cifar10(argc, argv);
  return usage_error("shardnet convert idx|cifar10 ... --out FILE.h5");
}
