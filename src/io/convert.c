/* IDX and CIFAR-10 readers feeding the dataset writer (IDX images streamed through
 * it, CIFAR-10 batches gathered first: their count is known only at the end). zlib's
 * gz* functions read gzip and plain files alike. */
#include "shardnet/convert.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "io/h5util.h"
#include "shardnet/checked.h"
#include "io/image_decode.h"
#include "shardnet/config.h"
#include "shardnet/dataset_writer.h"

#define IDX_UBYTE 0x08
#define IDX_BATCH_BYTES (4u << 20)
#define CIFAR_SIDE 32
#define CIFAR_RECORD (1 + 3 * CIFAR_SIDE * CIFAR_SIDE)

static const char *const cifar10_classes[10] = {"airplane", "automobile", "bird", "cat", "deer",
                                                "dog", "frog", "horse", "ship", "truck"};

/* The one line for a read zlib refused: its own reason (a CRC mismatch is "incorrect
 * data check"). */
static sn_status gz_failure(gzFile f, const char *path) {
  int code = Z_OK;
  const char *why = gzerror(f, &code);
  const size_t len = strlen(path);
  if (why && !strncmp(why, path, len) && !strncmp(why + len, ": ", 2)) why += len + 2;  /* zlib names the file too */
  return sn_fail(SN_ERR_FORMAT, "%s is damaged: %s", path, why && why[0] ? why : "corrupt gzip data");
}

/* Reads exactly n bytes, the part after `done` of `total` bytes of `what`, or says
 * how many of the total were there. */
static sn_status read_part(gzFile f, const char *path, void *buf, size_t n, size_t done, size_t total,
                           const char *what) {
  size_t got = 0;
  while (got < n) {
    unsigned chunk = (unsigned)(n - got > (1u << 30) ? (1u << 30) : n - got);
    int r = gzread(f, (char *)buf + got, chunk);
    if (r < 0) return gz_failure(f, path);
    if (r == 0) break;
    got += (size_t)r;
  }
  if (got < n)
    return sn_fail(SN_ERR_FORMAT, "%s is truncated: expected %zu bytes of %s, found %zu", path, total, what,
                   done + got);
  return SN_OK;
}

/* After the data a header declared: the file must end there, and for gzip the
 * end is where its CRC is checked, which reading exactly the data never reaches. */
static sn_status check_end(gzFile f, const char *path) {
  char extra;
  const int r = gzread(f, &extra, 1);
  if (r < 0) return gz_failure(f, path);
  if (r > 0) return sn_fail(SN_ERR_FORMAT, "%s has more data than its header declares", path);
  return SN_OK;
}

/* deflate's largest expansion: a compressed file never holds more than this many
 * times its size (zlib's technical notes: 1032:1). */
#define DEFLATE_MAX_RATIO 1032.0

/* The header's sizes must fit in the file: what it declares is allocated and read,
 * and a few bytes declaring 200 x 65535 x 65535 pixels would take 800 GB. A
 * compressed file is held to what deflate can expand to. */
static sn_status check_declared_size(gzFile f, const char *path, int rank, const uint32_t *dims) {
  const double header = 4.0 * (1 + rank);
  double data = 1.0;
  for (int i = 0; i < rank; i++) data *= dims[i];
  struct stat info;
  if (stat(path, &info) != 0) return sn_fail(SN_ERR_IO, "cannot open %s: %s", path, strerror(errno));
  const char *what = rank == 1 ? "labels" : "image data";
  if (gzdirect(f)) {
    /* the same words as a short read later would have */
    if (header + data > (double)info.st_size)
      return sn_fail(SN_ERR_FORMAT, "%s is truncated: expected %.0f bytes of %s, found %.0f", path, data, what,
                     (double)info.st_size - header);
    return SN_OK;
  }
  if (header + data > (double)info.st_size * DEFLATE_MAX_RATIO)
    return sn_fail(SN_ERR_FORMAT, "%s declares %.0f bytes of %s in its header, more than its %lld compressed bytes can hold",
                   path, data, what, (long long)info.st_size);
  return SN_OK;
}

/* Opens an IDX file of unsigned bytes with `rank` dimensions; dims receive sizes. */
static sn_status open_idx(const char *path, int rank, uint32_t *dims, gzFile *out) {
  *out = NULL;
  SN_TRY(sn_require_regular_file(path));
  *out = gzopen(path, "rb");
  if (!*out) return sn_fail(SN_ERR_IO, "cannot open %s", path);
  unsigned char head[4];
  sn_status st = read_part(*out, path, head, 4, 0, 4, "header");
  if (st == SN_OK && (head[0] != 0 || head[1] != 0 || head[2] != IDX_UBYTE || head[3] != rank))
    st = sn_fail(SN_ERR_FORMAT,
                 "%s is not an IDX file of %d-D unsigned bytes (magic %02x%02x%02x%02x, expected 000008%02x)",
                 path, rank, head[0], head[1], head[2], head[3], rank);
  for (int i = 0; i < rank && st == SN_OK; i++) {
    unsigned char b[4];
    st = read_part(*out, path, b, 4, 0, 4, "header");
    dims[i] = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
  }
  if (st == SN_OK) st = check_declared_size(*out, path, rank, dims);
  if (st != SN_OK) {
    gzclose(*out);
    *out = NULL;
  }
  return st;
}

/* IDX label files number their classes from 0: MNIST and Fashion-MNIST 10, EMNIST
 * at most 62, Kuzushiji 49. A larger byte, without class names to say the set
 * really has that many, is damage (a bit flip, the wrong file). */
#define IDX_UNNAMED_CLASSES 100

/* Labels of an IDX label file, each checked against the class names. */
static sn_status read_idx_labels(gzFile f, const char *path, size_t n, int n_class_names, int32_t *labels) {
  uint8_t *raw = malloc(n + 1);
  sn_status st = raw ? read_part(f, path, raw, n, 0, n, "labels") : sn_fail(SN_ERR_NOMEM, "cannot hold %zu labels", n);
  for (size_t i = 0; st == SN_OK && i < n; i++) {
    labels[i] = raw[i];
    if (n_class_names && labels[i] >= n_class_names)
      st = sn_fail(SN_ERR_FORMAT, "%s: label %d of sample %zu has no class name (%d given)", path, labels[i], i,
                   n_class_names);
    else if (!n_class_names && labels[i] >= IDX_UNNAMED_CLASSES)
      st = sn_fail(SN_ERR_FORMAT, "%s: label %d of sample %zu is not a class number of an IDX set (0 to %d); "
                   "if the set has that many classes, name them with --class-names", path, labels[i], i,
                   IDX_UNNAMED_CLASSES - 1);
  }
  free(raw);
  return st;
}

/* Streams the images of an open IDX file into w, IDX_BATCH_BYTES at a time. */
static sn_status copy_idx_images(gzFile f, const char *path, size_t n, size_t pix, const int32_t *labels,
                                 sn_dataset_writer *w) {
  size_t batch = pix < IDX_BATCH_BYTES ? IDX_BATCH_BYTES / pix : 1;
  uint8_t *pixels = malloc(batch * pix);
  if (!pixels) return sn_fail(SN_ERR_NOMEM, "cannot hold %zu images of %zu bytes", batch, pix);
  sn_status st = SN_OK;
  for (size_t first = 0; st == SN_OK && first < n; first += batch) {
    size_t m = n - first < batch ? n - first : batch;
    st = read_part(f, path, pixels, m * pix, first * pix, n * pix, "image data");
    if (st == SN_OK) st = sn_dataset_writer_put(w, first, m, pixels, labels + first);
  }
  free(pixels);
  return st;
}

sn_status sn_convert_idx(const char *images, const char *labels, const char *out,
                         const char *const *class_names, int n_class_names, sn_dataset_compression compression) {
  uint32_t idims[3], ldims[1];
  gzFile fi = NULL, fl = NULL;
  int32_t *labs = NULL;
  sn_dataset_writer *w = NULL;
  size_t all = 0;
  sn_status st = open_idx(images, 3, idims, &fi);
  if (st == SN_OK) st = open_idx(labels, 1, ldims, &fl);
  if (st == SN_OK && idims[0] != ldims[0])
    st = sn_fail(SN_ERR_FORMAT, "%s has %u images but %s has %u labels", images, idims[0], labels, ldims[0]);
  const size_t n = st == SN_OK ? idims[0] : 0, shape[3] = {n, st == SN_OK ? idims[1] : 0, st == SN_OK ? idims[2] : 0};
  size_t pix = 0;
  if (st == SN_OK && n == 0) st = sn_fail(SN_ERR_FORMAT, "%s holds no images (its header says 0)", images);
  if (st == SN_OK && (!sn_size_product(shape + 1, 2, &pix) || pix == 0 || idims[1] > SN_IMAGE_MAX_SIDE ||
                      idims[2] > SN_IMAGE_MAX_SIDE || !sn_size_product(shape, 3, &all)))
    st = sn_fail(SN_ERR_FORMAT, "%s: %zu images of %ux%u pixels cannot be stored", images, n, idims[1], idims[2]);
  if (st == SN_OK && !(labs = malloc((n + 1) * sizeof *labs))) st = sn_fail(SN_ERR_NOMEM, "cannot hold %zu labels", n);
  if (st == SN_OK) st = read_idx_labels(fl, labels, n, n_class_names, labs);
  if (st == SN_OK) {
    char source[2 * SN_PATH_CAP + 8];
    snprintf(source, sizeof source, "%s + %s", images, labels);
    sn_dataset_header h = {.n = n, .h = (int)idims[1], .w = (int)idims[2], .c = 1, .has_labels = 1,
                           .n_class_names = n_class_names, .class_names = class_names, .source = source,
                           .compression = compression};
    st = sn_dataset_writer_open(out, &h, &w);
  }
  if (st == SN_OK) st = copy_idx_images(fi, images, n, pix, labs, w);
  if (st == SN_OK) st = check_end(fi, images);
  if (st == SN_OK) st = check_end(fl, labels);
  if (w && st == SN_OK) st = sn_dataset_writer_close(w);
  else sn_dataset_writer_discard(w);
  if (fi) gzclose(fi);
  if (fl) gzclose(fl);
  free(labs);
  return st;
}

/* Appends the records of one batch file, planar RGB turned channels-last. */
static sn_status read_cifar_batch(const char *path, uint8_t **pixels, int32_t **labels, size_t *n) {
  SN_TRY(sn_require_regular_file(path));
  gzFile f = gzopen(path, "rb");
  if (!f) return sn_fail(SN_ERR_IO, "cannot open %s", path);
  unsigned char record[CIFAR_RECORD];
  sn_status st = SN_OK;
  for (;;) {
    int got = gzread(f, record, CIFAR_RECORD);
    if (got == 0) break;
    if (got != CIFAR_RECORD) {
      st = got < 0 ? gz_failure(f, path)
                   : sn_fail(SN_ERR_FORMAT, "%s is truncated: its last record has %d of %d bytes", path, got,
                             CIFAR_RECORD);
      break;
    }
    if (record[0] >= 10) {
      st = sn_fail(SN_ERR_FORMAT, "%s: record %zu has label %d, CIFAR-10 labels are 0..9 (not a CIFAR-10 file?)",
                   path, *n, record[0]);
      break;
    }
    if ((*n & (*n - 1)) == 0) {  /* grow at powers of two */
      size_t cap = *n ? 2 * *n : 1024;
      uint8_t *p = realloc(*pixels, cap * (CIFAR_RECORD - 1));
      int32_t *l = realloc(*labels, cap * sizeof *l);
      if (p) *pixels = p;
      if (l) *labels = l;
      if (!p || !l) {
        st = sn_fail(SN_ERR_NOMEM, "cannot hold the CIFAR-10 images");
        break;
      }
    }
    const int plane = CIFAR_SIDE * CIFAR_SIDE;
    uint8_t *dst = *pixels + *n * (CIFAR_RECORD - 1);
    for (int p = 0; p < plane; p++)
      for (int c = 0; c < 3; c++) dst[p * 3 + c] = record[1 + c * plane + p];
    (*labels)[*n] = record[0];
    (*n)++;
  }
  gzclose(f);
  return st;
}

sn_status sn_convert_cifar10(const char *const *batches, int n_batches, const char *out,
                             sn_dataset_compression compression) {
  if (n_batches < 1) return sn_fail(SN_ERR_INVALID, "convert cifar10 needs at least one batch file");
  uint8_t *pixels = NULL;
  int32_t *labels = NULL;
  size_t n = 0;
  sn_status st = SN_OK;
  for (int i = 0; i < n_batches && st == SN_OK; i++) {
    size_t before = n;
    st = read_cifar_batch(batches[i], &pixels, &labels, &n);
    if (st == SN_OK && n == before) st = sn_fail(SN_ERR_FORMAT, "%s holds no records", batches[i]);
  }
  if (st == SN_OK) {
    sn_dataset_contents c = {.n = n, .h = CIFAR_SIDE, .w = CIFAR_SIDE, .c = 3, .images = pixels,
                             .labels = labels, .n_class_names = 10, .class_names = cifar10_classes,
                             .source = "CIFAR-10 binary batches", .compression = compression};
    st = sn_dataset_write(out, &c);
  }
  free(pixels);
  free(labels);
  return st;
}
