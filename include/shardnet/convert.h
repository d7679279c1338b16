/* Converters from the formats public datasets ship in to shardnet's HDF5 dataset
 * format: IDX (MNIST, Fashion-MNIST; plain or gzip), CIFAR-10 binary batches, and
 * folders of PNG and JPEG images with one subfolder per class (the layout of
 * torchvision's ImageFolder and Keras's image_dataset_from_directory). */
#ifndef SHARDNET_CONVERT_H
#define SHARDNET_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "shardnet/config.h"
#include "shardnet/dataset_writer.h"
#include "shardnet/status.h"

/* images and labels are IDX files (.gz or plain). class_names may be NULL. */
sn_status sn_convert_idx(const char *images, const char *labels, const char *out,
                         const char *const *class_names, int n_class_names, sn_dataset_compression compression);

/* Concatenates CIFAR-10 binary batches (records of 1 label + 3072 pixel bytes). */
sn_status sn_convert_cifar10(const char *const *batches, int n_batches, const char *out,
                             sn_dataset_compression compression);

/* Parses "HxW" (positive integers up to 65535) for --size. */
sn_status sn_convert_parse_size(const char *text, int *height, int *width);

typedef struct {
  const char *dir;        /* one subfolder per class */
  const char *out;        /* the training file (every image without a split) */
  const char *test_out;   /* the held-out file; NULL: out with .h5 replaced by -test.h5 */
  int height, width;      /* every image is resized to this */
  int channels;           /* 3: RGB, 1: grey (ITU-R 601 luma) */
  double split;           /* 0: no test file; else the fraction of each class held out, in (0, 1) */
  uint64_t seed;          /* which images the split holds out */
  sn_dataset_compression compression;
  size_t batch_bytes;     /* decoded pixels held at once; 0: 32 MiB */
} sn_convert_images_options;

/* What a successful conversion wrote, for the caller to report. */
typedef struct {
  size_t train, test;     /* images in each file (test 0 without a split) */
  int classes;
  size_t skipped;         /* entries that are not images: other files, nested folders */
  char test_out[SN_PATH_CAP];    /* the test file's name when there is one */
} sn_convert_images_result;

/* Scans opt->dir (class folders sorted bytewise, files in each sorted by name,
 * names starting with '.' skipped, .png .jpg .jpeg in any case taken as images),
 * decodes the images in parallel batches, resizes each to height x width and writes
 * uint8 /images (N, H, W, C), int32 /labels, class_names and source. With a split,
 * round(split * count) images of each class chosen by the seed go to the test file. */
sn_status sn_convert_images(const sn_convert_images_options *opt, sn_convert_images_result *result);

#endif
