/* Datasets in shardnet's HDF5 format (see DESIGN.md): /images (N, H, W, C) uint8 or
 * float32, /labels int32 (N) or /targets float32 (N, ...), optional class_names,
 * plain or chunked and compressed.
 *
 * Opening reads the file's description only. Where the samples then live is the
 * dataset's placement (data.placement): every rank holds the set (replicate), the
 * ranks of a node share one copy (node), each rank holds its 1/P and a step's samples
 * are exchanged over MPI (shard), or nothing is held and a background reader fetches
 * them from the file ahead of use (stream). Samples reach the network through an
 * sn_reader: requests queued in order, each filled ahead of time and taken in the
 * same order, so that reading and exchanging overlap the steps before. */
#ifndef SHARDNET_DATASET_H
#define SHARDNET_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "shardnet/config.h"
#include "shardnet/dist.h"
#include "shardnet/net.h"
#include "shardnet/transform.h"

#define SN_MAX_CLASSES 1024

typedef struct sn_data_store sn_data_store;  /* where the samples are held (private) */

typedef struct sn_dataset {
  char path[SN_PATH_CAP];
  size_t n;                  /* samples */
  int h, w, c;               /* stored channels-last, per sample */
  int is_float;              /* images are float32 (else uint8) */
  int has_labels;            /* /labels (classification); else /targets */
  size_t target_size;        /* values per sample of /targets (1 for labels) */
  size_t image_bytes;        /* one stored sample's pixels */
  size_t answer_bytes;       /* one sample's label or targets */
  int n_class_names;
  char **class_names;
  sn_placement placement;    /* the one in use (never auto) */
  char placement_why[256];   /* why auto chose it, or "asked for" */
  sn_data_store *store;
} sn_dataset;

/* What opening a set may use. */
typedef struct {
  sn_placement placement;    /* asked for (auto: chosen from the sizes below) */
  const char *role;          /* "training set", "test set": names the set in messages */
  size_t committed;          /* bytes per node already promised to other sets */
} sn_dataset_options;

/* Collective over all ranks of d (d may be NULL: one process). Reads the file's
 * description, checks shapes and types, chooses the placement and fills it (reading
 * each rank's part of the rows, in parallel). Any failure (missing file, not HDF5,
 * malformed or unreadable datasets, a placement that does not fit) is returned on
 * every rank with the same message. */
sn_status sn_dataset_open(sn_dist *d, const char *path, const sn_dataset_options *opt, sn_dataset **out);
void sn_dataset_free(sn_dataset *ds);

/* Bytes per node the set's placement holds (for the next set's budget). */
size_t sn_dataset_node_bytes(const sn_dataset *ds);

/* Collective. Checks the set against the model and the transform before the first
 * step: the transformed sample shape against model.input, labels within [0, classes)
 * for softmax cross-entropy (scanned from the file in bounded chunks, each rank its
 * part, so the first bad label is named with its sample index whatever the
 * placement), target size against the output for MSE. */
sn_status sn_dataset_validate(sn_dist *d, const sn_dataset *ds, const sn_net *net, const sn_transform *tf);

/* The stored sample format of ds, for sn_transform_init. */
sn_sample_format sn_dataset_format(const sn_dataset *ds);

/* A queue of sample requests on one dataset. Requests are filled ahead of their
 * turn (the stream reader's thread, the shard exchange) and taken in order. */
typedef struct sn_reader sn_reader;

/* depth: requests that may be queued at once; most: samples a request may hold.
 * With background, the stream placement's reads run in a thread of the reader's own;
 * without, they run in the caller's thread as requests are queued (for callers that
 * hold the HDF5 lock, which that thread would wait on). Collective. */
sn_status sn_reader_create(sn_dist *d, const sn_dataset *ds, int depth, int most, int background, sn_reader **out);
void sn_reader_destroy(sn_reader *r);

/* Queues this rank's part of a global batch: batch[0..b) are the global batch's
 * sample indices, and this rank gets part r of P of them (sn_part). Collective: every
 * rank queues the same global batches in the same order (the shard placement
 * exchanges samples between their owners and the ranks that need them). */
sn_status sn_reader_queue_global(sn_reader *r, const uint32_t *batch, int b);

/* Queues samples idx[0..n) for this rank alone (evaluation, prediction). Not
 * collective; the shard placement serves them from this rank's part or, when it does
 * not hold them, from the file. */
sn_status sn_reader_queue_local(sn_reader *r, const uint32_t *idx, int n);

/* Requests queued and not yet taken, and how many may be. */
int sn_reader_pending(const sn_reader *r);
int sn_reader_depth(const sn_reader *r);

/* Takes the oldest request: its samples transformed by tf (epoch keys the
 * augmentation) into x (n x the input shape), and their labels or targets (either
 * may be NULL). *n receives the request's sample count. A read that failed in the
 * background is returned here, naming the file and the sample. */
sn_status sn_reader_take(sn_reader *r, const sn_transform *tf, uint32_t epoch, float *x, int32_t *labels,
                         float *targets, int *n);

#endif
