/* Activation files (format "shardnet-activations", see DESIGN.md): the normalised
 * input and every layer's output for chosen samples, written collectively through
 * parallel HDF5, plus an 8-bit image grid of each feature-map layer for HDFView.
 *
 * Layout of one record (the root of a `shardnet activations` file, or one
 * /step_<8 digits> group of a training run's file):
 *   input              float32 (n, C, H, W), attributes layer_type = "input", step
 *   <layer>            float32 (n, C, H, W) or (n, units), attributes layer_type, step
 *   images/<layer>     uint8 H5IM image: the first sample's maps of a layer with
 *                      (C, H, W) output, tiled ceil(sqrt(C)) per row with 1-pixel
 *                      gaps, each map scaled to 0..255 by its own min and max
 *   images/palette     the grayscale palette the images are linked to
 * and the attributes step and layer_names (layer order). A file's root carries
 * format and format_version; a command's file also checkpoint, data and samples
 * ("A:B"); a step group also samples (the dataset index of each row).
 *
 * Every sample runs through the net alone (batch 1), so no kernel's blocking can
 * depend on how samples are split: the file is bitwise the same for any rank count. */
#ifndef SHARDNET_ACTIVATIONS_H
#define SHARDNET_ACTIVATIONS_H

#include <stddef.h>

#include "shardnet/config.h"
#include "shardnet/dataset.h"
#include "shardnet/dist.h"
#include "shardnet/net.h"
#include "shardnet/transform.h"

/* Provenance of a `shardnet activations` file. */
typedef struct {
  const char *checkpoint;   /* the checkpoint file the weights came from */
  long step;                /* its step */
} sn_activations_source;

/* Collective: runs samples [first, last) of ds (transformed by tf: pad_to, channels, normalisation) through net in
 * inference mode, each rank taking a contiguous share, and writes path (replacing
 * it). Fails on every rank with one message. */
sn_status sn_activations_write(sn_dist *d, sn_net *net, const sn_dataset *ds, const sn_transform *tf,
                               size_t first, size_t last, const sn_activations_source *src, const char *path);

/* Collective, for the training loop between steps: appends group /step_<step> (the
 * same record for dataset indices samples[0..n_samples-1]) to path, creating the
 * file on first use; a step recorded before (a resumed run) is replaced. The
 * forwards run in inference mode with batch 1: parameters and batch-norm running
 * statistics are left as they are, only the net's activation buffers change. */
sn_status sn_activations_snapshot(sn_dist *d, sn_net *net, const sn_dataset *ds, const sn_transform *tf,
                                  const long *samples, int n_samples, long step, const char *path);

#endif
