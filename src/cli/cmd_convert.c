/* `shardnet convert idx|cifar10|images ... --out FILE`: public formats and image
 * folders to HDF5 datasets. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
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
    "       shardnet convert images DIR --size HxW --out FILE.h5 [--channels 1|3]\n"
    "                [--split FRACTION [--seed S] [--test-out FILE]] [STORAGE]\n"
    "\n"
    "  idx       MNIST / Fashion-MNIST IDX files (plain or gzip)\n"
    "  cifar10   CIFAR-10 binary batches, concatenated in the order given\n"
    "  images    one subfolder of DIR per class (ImageFolder's layout): class names are the\n"
    "            folder names sorted bytewise, .png .jpg .jpeg files in each are its images\n"
    "            (sorted by name; other files and names starting with '.' are skipped)\n"
    "\n"
    "  --size HxW          resize every image to H x W (antialiased when shrinking)\n"
    "  --channels 1|3      3: RGB (default), 1: grey (ITU-R 601 luma)\n"
    "  --split FRACTION    hold out round(FRACTION x count) images of each class (0 < FRACTION < 1)\n"
    "  --seed S            which images the split holds out (default 1)\n"
    "  --test-out FILE     the held-out file (default: FILE.h5 with .h5 replaced by -test.h5)\n"
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

static const char *plural(size_t n) { return n == 1 ? "" : "s"; }

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

/* The text values of `convert images` into opt; 0, or the exit code after an error. */
static int images_values(const char *size, const char *channels, const char *split, const char *seed,
                         sn_convert_images_options *opt) {
  if (sn_convert_parse_size(size, &opt->height, &opt->width) != SN_OK) {
    sn_cli_error("%s", sn_last_error());
    return 2;
  }
  if (channels && strcmp(channels, "1") && strcmp(channels, "3")) {
    sn_cli_error("--channels expects 1 or 3, got '%s'", channels);
    return 2;
  }
  opt->channels = channels ? channels[0] - '0' : 3;
  char *end = NULL;
  if (split) {
    errno = 0;
    opt->split = strtod(split, &end);
    if (errno || end == split || *end || !(opt->split > 0.0 && opt->split < 1.0)) {
      sn_cli_error("--split expects a fraction strictly between 0 and 1, got '%s'", split);
      return 2;
    }
  }
  if (seed) {
    errno = 0;
    opt->seed = strtoull(seed, &end, 10);
    if (errno || !all_digits(seed)) {
      sn_cli_error("--seed expects a non-negative integer, got '%s'", seed);
      return 2;
    }
  }
  return storage_error(&opt->compression);
}

static int convert_images(int argc, char **argv) {
  sn_convert_images_options opt = {.channels = 3, .seed = 1};
  const char *size = NULL, *channels = NULL, *split = NULL, *seed = NULL;
  for (int i = 2; i < argc; i++) {
    int r = sn_cli_take_value(argc, argv, &i, "--size", &size);
    if (!r) r = sn_cli_take_value(argc, argv, &i, "--out", &opt.out);
    if (!r) r = sn_cli_take_value(argc, argv, &i, "--channels", &channels);
    if (!r) r = sn_cli_take_value(argc, argv, &i, "--split", &split);
    if (!r) r = sn_cli_take_value(argc, argv, &i, "--seed", &seed);
    if (!r) r = sn_cli_take_value(argc, argv, &i, "--test-out", &opt.test_out);
    if (!r) r = take_storage(argc, argv, &i, &opt.compression);
    if (r < 0) return 2;
    if (!r && argv[i][0] != '-' && !opt.dir) opt.dir = argv[i];
    else if (!r) {
      sn_cli_error("convert images: unknown argument '%s'", argv[i]);
      return 2;
    }
  }
  if (!opt.dir || !size || !opt.out) return usage_error("shardnet convert images DIR --size HxW --out FILE.h5 [...]");
  int code = images_values(size, channels, split, seed, &opt);
  if (code) return code;
  sn_convert_images_result r;
  if (sn_convert_images(&opt, &r) != SN_OK) {
    sn_cli_error("%s", sn_last_error());
    return 1;
  }
  printf("shardnet: wrote %s (%zu image%s)", opt.out, r.train, plural(r.train));
  if (r.test) printf(" and %s (%zu image%s)", r.test_out, r.test, plural(r.test));
  printf(": %d class%s, %zu file%s skipped\n", r.classes, r.classes == 1 ? "" : "es", r.skipped, plural(r.skipped));
  return 0;
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
  if (argc >= 2 && !strcmp(argv[1], "images")) return convert_images(argc, argv);
  return usage_error("shardnet convert idx|cifar10|images ... --out FILE.h5");
}
