/* Converters from the formats public datasets ship in to shardnet's HDF5 dataset
 * format: IDX (MNIST, Fashion-MNIST; plain or gzip) and CIFAR-10 binary batches. */
#ifndef SHARDNET_CONVERT_H
#define SHARDNET_CONVERT_H

#include "shardnet/dataset_writer.h"
#include "shardnet/status.h"

/* images and labels are IDX files (.gz or plain). class_names may be NULL. */
sn_status sn_convert_idx(const char *images, const char *labels, const char *out,
                         const char *const *class_names, int n_class_names, sn_dataset_compression compression);

/* Concatenates CIFAR-10 binary batches (records of 1 label + 3072 pixel bytes). */
sn_status sn_convert_cifar10(const char *const *batches, int n_batches, const char *out,
                             sn_dataset_compression compression);

#endif
