/* `shardnet convert idx|cifar10 ... --out FILE`: public formats to HDF5 datasets. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "shardnet/convert.h"

#define MAX_CLASSES 1024

/* Splits "a,b,c" in place into names. */
static int split_names(char *list, const char **names) {
  int n = 0;
  for (char *p = strtok(list, ","); p && n < MAX_CLASSES; p = strtok(NULL, ",")) names[n++] = p;
  return n;
}

static int convert_idx(int argc, char **argv) {
  const char *images = NULL, *labels = NULL, *out = NULL, *classes = NULL;
  for (int i = 2; i < argc; i++) {
    int r = sn_cli_take_value(argc, argv, &i, "--images", &images);
    if (!r) r = sn_cli_take_value(argc, argv, &i, "--labels", &labels);
    if (!r) r = sn_cli_take_value(argc, argv, &i, "--out", &out);
    if (!r) r = sn_cli_take_value(argc, argv, &i, "--class-names", &classes);
    if (r < 0) return 2;
    if (!r) {
      sn_cli_error("convert idx: unknown argument '%s'", argv[i]);
      return 2;
    }
  }
  if (!images || !labels || !out) {
    sn_cli_error("usage: shardnet convert idx --images FILE --labels FILE --out FILE.h5 [--class-names a,b,...]");
    return 2;
  }
  static const char *names[MAX_CLASSES];
  char *list = classes ? strdup(classes) : NULL;
  int n = list ? split_names(list, names) : 0;
  sn_status st = sn_convert_idx(images, labels, out, n ? names : NULL, n);
  free(list);
  if (st != SN_OK) {
    sn_cli_error("%s", sn_last_error());
    return 1;
  }
  printf("shardnet: wrote %s\n", out);
  return 0;
}

static int convert_cifar10(int argc, char **argv) {
  const char *out = NULL;
  const char **batches = calloc((size_t)argc, sizeof *batches);
  int n = 0;
  for (int i = 2; i < argc; i++) {
    int r = sn_cli_take_value(argc, argv, &i, "--out", &out);
    if (r < 0) {
      free(batches);
      return 2;
    }
    if (!r) batches[n++] = argv[i];
  }
  if (!out || n == 0) {
    free(batches);
    sn_cli_error("usage: shardnet convert cifar10 --out FILE.h5 data_batch_1.bin [...]");
    return 2;
  }
  sn_status st = sn_convert_cifar10(batches, n, out);
  free(batches);
  if (st != SN_OK) {
    sn_cli_error("%s", sn_last_error());
    return 1;
  }
  printf("shardnet: wrote %s\n", out);
  return 0;
}

int sn_cmd_convert(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "idx")) return convert_idx(argc, argv);
  if (argc >= 2 && !strcmp(argv[1], "cifar10")) return convert_cifar10(argc, argv);
  sn_cli_error("usage: shardnet convert idx|cifar10 ... --out FILE.h5");
  return 2;
}
