/* `convert images`: a folder of class subfolders (ImageFolder's layout) scanned in
 * a fixed order, split per class by the counter-based RNG, decoded and resized in
 * parallel batches and written through the incremental dataset writer, so only
 * one batch of pixels is held at a time. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "io/image_decode.h"
#include "io/image_resize.h"
#include "shardnet/convert.h"
#include "shardnet/dataset.h"
#include "shardnet/rng.h"

#define DEFAULT_BATCH_BYTES (32u << 20)
#define MAX_BATCH_FILES 4096

typedef struct {
  char *path;      /* DIR/class/file */
  int32_t label;   /* the class's index in the sorted class names */
  int test;        /* held out by the split */
} image_entry;

typedef struct {
  char *dir;                /* opt->dir without trailing slashes */
  char **classes;
  int n_classes;
  image_entry *files;       /* class by class, each class's files in name order */
  size_t n_files, cap_files;
  size_t skipped;
} folder_scan;

static int compare_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_image_name(const char *name) {
  const char *dot = strrchr(name, '.');
  return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

static char *join(const char *dir, const char *name) {
  size_t len = strlen(dir) + strlen(name) + 2;
  char *p = malloc(len);
  if (p) snprintf(p, len, "%s/%s", dir, name);
  return p;
}

static void free_names(char **names, size_t n) {
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
}

/* The names in dir that do not start with '.', sorted bytewise. */
static sn_status list_names(const char *dir, char ***out, size_t *n) {
  *out = NULL;
  *n = 0;
  DIR *d = opendir(dir);
  if (!d) return sn_fail(SN_ERR_IO, "cannot read the folder %s: %s", dir, strerror(errno));
  size_t cap = 0;
  sn_status st = SN_OK;
  for (struct dirent *e = readdir(d); e && st == SN_OK; e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    if (*n == cap) {
      cap = cap ? 2 * cap : 64;
      char **grown = realloc(*out, cap * sizeof *grown);
      if (!grown) {
        st = sn_fail(SN_ERR_NOMEM, "cannot list %s", dir);
        break;
      }
      *out = grown;
    }
    if (!((*out)[*n] = strdup(e->d_name))) st = sn_fail(SN_ERR_NOMEM, "cannot list %s", dir);
    else (*n)++;
  }
  closedir(d);
  if (st != SN_OK) {
    free_names(*out, *n);
    *out = NULL;
    *n = 0;
    return st;
  }
  if (*n) qsort(*out, *n, sizeof **out, compare_names);
  return SN_OK;
}

static int is_dir(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Appends the images of class `label` (folder path) to s, counting what is skipped. */
static sn_status scan_class(folder_scan *s, const char *path, int32_t label) {
  char **names;
  size_t n, before = s->n_files;
  SN_TRY(list_names(path, &names, &n));
  sn_status st = SN_OK;
  for (size_t i = 0; i < n && st == SN_OK; i++) {
    char *file = join(path, names[i]);
    struct stat sb;
    if (!file) {
      st = sn_fail(SN_ERR_NOMEM, "cannot list %s", path);
    } else if (!is_image_name(names[i]) || stat(file, &sb) != 0 || !S_ISREG(sb.st_mode)) {
      s->skipped++;
      free(file);
    } else {
      if (s->n_files == s->cap_files) {
        size_t cap = s->cap_files ? 2 * s->cap_files : 1024;
        image_entry *grown = realloc(s->files, cap * sizeof *grown);
        if (!grown) {
          free(file);
          st = sn_fail(SN_ERR_NOMEM, "cannot list the images of %s", path);
          break;
        }
        s->files = grown;
        s->cap_files = cap;
      }
      s->files[s->n_files++] = (image_entry){.path = file, .label = label};
    }
  }
  free_names(names, n);
  if (st == SN_OK && s->n_files == before)
    st = sn_fail(SN_ERR_FORMAT, "%s has no images (.png, .jpg or .jpeg files)", path);
  return st;
}

/* Class folders in bytewise order, and their images. */
static sn_status scan_folder(folder_scan *s, const char *dir) {
  struct stat sb;
  if (stat(dir, &sb) != 0) return sn_fail(SN_ERR_IO, "cannot open the image folder %s: %s", dir, strerror(errno));
  if (!S_ISDIR(sb.st_mode)) return sn_fail(SN_ERR_INVALID, "%s is not a directory", dir);
  size_t len = strlen(dir);
  while (len > 1 && dir[len - 1] == '/') len--;
  if (!(s->dir = strndup(dir, len))) return sn_fail(SN_ERR_NOMEM, "cannot list %s", dir);
  char **names;
  size_t n;
  SN_TRY(list_names(s->dir, &names, &n));
  sn_status st = SN_OK;
  s->classes = calloc(n + 1, sizeof *s->classes);
  if (!s->classes) st = sn_fail(SN_ERR_NOMEM, "cannot list %s", s->dir);
  for (size_t i = 0; i < n && st == SN_OK; i++) {
    char *path = join(s->dir, names[i]);
    if (!path) st = sn_fail(SN_ERR_NOMEM, "cannot list %s", s->dir);
    else if (!is_dir(path)) s->skipped++;
    else if (s->n_classes == SN_MAX_CLASSES)
      st = sn_fail(SN_ERR_UNSUPPORTED, "%s has more than %d class folders", s->dir, SN_MAX_CLASSES);
    else if ((st = scan_class(s, path, s->n_classes)) == SN_OK) {
      s->classes[s->n_classes++] = names[i];  /* the scan owns the name now */
      names[i] = NULL;
    }
    free(path);
  }
  free_names(names, n);
  if (st == SN_OK && s->n_classes == 0)
    st = sn_fail(SN_ERR_FORMAT, "%s has no class folders (expected one subfolder per class, as ImageFolder uses)",
                 s->dir);
  return st;
}

static void free_scan(folder_scan *s) {
  for (size_t i = 0; i < s->n_files; i++) free(s->files[i].path);
  free(s->files);
  for (int i = 0; i < s->n_classes; i++) free(s->classes[i]);
  free(s->classes);
  free(s->dir);
}

/* Marks round(split * count) images of each class as test, chosen by a
 * permutation keyed by (seed, class index); *n_test receives their number. */
static sn_status choose_split(folder_scan *s, double split, uint64_t seed, size_t *n_test) {
  *n_test = 0;
  size_t begin = 0;
  for (int c = 0; c < s->n_classes; c++) {
    size_t end = begin;
    while (end < s->n_files && s->files[end].label == c) end++;
    size_t count = end - begin, held = (size_t)floor(split * (double)count + 0.5);
    if (held >= count)
      return sn_fail(SN_ERR_INVALID, "--split %g leaves class '%s' (%zu image%s) with no training image", split,
                     s->classes[c], count, count == 1 ? "" : "s");
    uint32_t *perm = malloc(count * sizeof *perm);
    if (!perm) return sn_fail(SN_ERR_NOMEM, "cannot split the %zu images of class '%s'", count, s->classes[c]);
    sn_rng_permutation(sn_rng_make_key(seed, (uint32_t)c, SN_RNG_STREAM_SPLIT), perm, count);
    for (size_t i = 0; i < held; i++) s->files[begin + perm[i]].test = 1;
    free(perm);
    *n_test += held;
    begin = end;
  }
  if (*n_test == 0)
    return sn_fail(SN_ERR_INVALID, "--split %g holds out no image (round(%g x images) is 0 in every class)", split,
                   split);
  return SN_OK;
}

/* Decodes todo[0..m-1] into pixels (m samples of h x w x c) in parallel; on
 * failure returns the error of the first failing file in todo's order. */
static sn_status decode_batch(uint8_t *pixels, int32_t *labels, const image_entry *const *todo, size_t m,
                              const sn_convert_images_options *opt) {
  const size_t sample = (size_t)opt->height * opt->width * opt->channels;
  size_t first_failure = m;
  sn_status failure = SN_OK;
  char message[1024] = "";
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t i = 0; i < m; i++) {
    sn_image img;
    labels[i] = todo[i]->label;
    sn_status st = sn_image_decode(todo[i]->path, opt->channels, &img);
    if (st == SN_OK) {
      st = sn_image_resize(pixels + i * sample, opt->height, opt->width, img.pixels, img.height, img.width,
                           opt->channels);
      if (st != SN_OK) sn_fail_context(st, "%s", todo[i]->path);
      sn_image_free(&img);
    }
    if (st != SN_OK) {
#pragma omp critical(sn_convert_images_failure)
      if (i < first_failure) {
        first_failure = i;
        failure = st;
        snprintf(message, sizeof message, "%s", sn_last_error());  /* the message is this thread's */
      }
    }
  }
  return failure == SN_OK ? SN_OK : sn_fail(failure, "%s", message);
}

/* Writes the images of s whose `test` is `which` into w, batch files at a time. */
static sn_status write_part(sn_dataset_writer *w, const folder_scan *s, int which, size_t batch,
                            const sn_convert_images_options *opt) {
  const size_t sample = (size_t)opt->height * opt->width * opt->channels;
  uint8_t *pixels = malloc(batch * sample);
  int32_t *labels = malloc(batch * sizeof *labels);
  const image_entry **todo = malloc(batch * sizeof *todo);
  sn_status st = SN_OK;
  if (!pixels || !labels || !todo)
    st = sn_fail(SN_ERR_NOMEM, "cannot hold a batch of %zu images of %dx%dx%d", batch, opt->height, opt->width,
                 opt->channels);
  size_t next = 0, row = 0;
  while (st == SN_OK) {
    size_t m = 0;
    for (; next < s->n_files && m < batch; next++)
      if (s->files[next].test == which) todo[m++] = &s->files[next];
    if (m == 0) break;
    st = decode_batch(pixels, labels, todo, m, opt);
    if (st == SN_OK) st = sn_dataset_writer_put(w, row, m, pixels, labels);
    row += m;
  }
  free(pixels);
  free(labels);
  free(todo);
  return st;
}

/* The value of the digits at p (capped just above SN_IMAGE_MAX_SIDE), -1 when
 * there are none; *end is the first other character. */
static long parse_side(const char *p, const char **end) {
  long v = 0;
  const char *q = p;
  for (; *q >= '0' && *q <= '9'; q++)
    if (v <= SN_IMAGE_MAX_SIDE) v = 10 * v + (*q - '0');
  *end = q;
  return q == p ? -1 : v;
}

sn_status sn_convert_parse_size(const char *text, int *height, int *width) {
  const char *p;
  long h = parse_side(text, &p), w = -1;
  if (h >= 0 && (*p == 'x' || *p == 'X')) w = parse_side(p + 1, &p);
  if (h < 1 || w < 1 || *p)
    return sn_fail(SN_ERR_INVALID, "--size expects HxW with positive integers, got '%s'", text);
  if (h > SN_IMAGE_MAX_SIDE || w > SN_IMAGE_MAX_SIDE)
    return sn_fail(SN_ERR_INVALID, "--size %s is too large: sides are at most %d pixels", text, SN_IMAGE_MAX_SIDE);
  *height = (int)h;
  *width = (int)w;
  return SN_OK;
}

/* Option checks for callers other than the CLI (which checks its text first), and
 * the test file's default name. */
static sn_status check_options(const sn_convert_images_options *opt, char *test_out) {
  if (opt->height < 1 || opt->width < 1 || opt->height > SN_IMAGE_MAX_SIDE || opt->width > SN_IMAGE_MAX_SIDE)
    return sn_fail(SN_ERR_INVALID, "the image size %dx%d is outside 1x1 to %dx%d", opt->height, opt->width,
                   SN_IMAGE_MAX_SIDE, SN_IMAGE_MAX_SIDE);
  if (opt->channels != 1 && opt->channels != 3)
    return sn_fail(SN_ERR_INVALID, "--channels expects 1 or 3, got %d", opt->channels);
  if (!(opt->split >= 0.0 && opt->split < 1.0))
    return sn_fail(SN_ERR_INVALID, "--split expects a fraction strictly between 0 and 1, got %g", opt->split);
  test_out[0] = '\0';
  if (opt->split == 0.0) {
    if (opt->test_out) return sn_fail(SN_ERR_INVALID, "--test-out needs --split (there is no test file without it)");
    return SN_OK;
  }
  size_t len = strlen(opt->out);
  if (opt->test_out) snprintf(test_out, SN_PATH_CAP, "%s", opt->test_out);
  else if (len >= 3 && !strcmp(opt->out + len - 3, ".h5"))
    snprintf(test_out, SN_PATH_CAP, "%.*s-test.h5", (int)(len - 3), opt->out);
  else snprintf(test_out, SN_PATH_CAP, "%s-test.h5", opt->out);
  if (!strcmp(test_out, opt->out))
    return sn_fail(SN_ERR_INVALID, "--test-out names the same file as --out (%s)", opt->out);
  return SN_OK;
}

/* Opens the writer of one split (test: the held-out images) and writes it. */
static sn_status convert_part(const folder_scan *s, const sn_convert_images_options *opt, const char *path,
                              int test, size_t n, sn_dataset_writer **w) {
  char source[SN_PATH_CAP + 96];
  if (opt->split > 0.0)
    snprintf(source, sizeof source, "images:%s (%s split %g, seed %llu)", s->dir, test ? "test" : "train",
             opt->split, (unsigned long long)opt->seed);
  else
    snprintf(source, sizeof source, "images:%s", s->dir);
  sn_dataset_header h = {.n = n, .h = opt->height, .w = opt->width, .c = opt->channels, .has_labels = 1,
                         .n_class_names = s->n_classes, .class_names = (const char *const *)s->classes,
                         .source = source, .compression = opt->compression};
  SN_TRY(sn_dataset_writer_open(path, &h, w));
  size_t sample = (size_t)opt->height * opt->width * opt->channels;
  size_t bytes = opt->batch_bytes ? opt->batch_bytes : DEFAULT_BATCH_BYTES, batch = bytes / sample;
  batch = batch < 1 ? 1 : batch > MAX_BATCH_FILES ? MAX_BATCH_FILES : batch;
  return write_part(*w, s, test, batch, opt);
}

sn_status sn_convert_images(const sn_convert_images_options *opt, sn_convert_images_result *result) {
  memset(result, 0, sizeof *result);
  char test_out[SN_PATH_CAP];
  SN_TRY(check_options(opt, test_out));
  folder_scan s = {0};
  size_t n_test = 0;
  sn_dataset_writer *train = NULL, *test = NULL;
  sn_status st = scan_folder(&s, opt->dir);
  if (st == SN_OK && opt->split > 0.0) st = choose_split(&s, opt->split, opt->seed, &n_test);
  if (st == SN_OK) st = convert_part(&s, opt, opt->out, 0, s.n_files - n_test, &train);
  if (st == SN_OK && n_test) st = convert_part(&s, opt, test_out, 1, n_test, &test);
  if (st == SN_OK) {
    st = sn_dataset_writer_close(train);
    train = NULL;
  }
  if (st == SN_OK && test) {
    st = sn_dataset_writer_close(test);
    test = NULL;
    if (st != SN_OK) remove(opt->out);  /* both files or neither */
  }
  sn_dataset_writer_discard(train);
  sn_dataset_writer_discard(test);
  if (st == SN_OK)
    *result = (sn_convert_images_result){.train = s.n_files - n_test, .test = n_test, .classes = s.n_classes,
                                         .skipped = s.skipped};
  if (st == SN_OK) snprintf(result->test_out, sizeof result->test_out, "%s", test_out);
  free_scan(&s);
  return st;
}
