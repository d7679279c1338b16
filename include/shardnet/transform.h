/* From a stored sample to a network input: the shape transforms a config asks for
 * (data.pad_to, data.channels), augmentation of the training set (data.augment:
 * random crop, horizontal flip, random shift) and normalisation ((value * scale -
 * mean[c]) / std[c]). Every random choice is drawn from the counter-based RNG keyed
 * by (seed, epoch, global sample index), so a sample becomes the same input on any
 * rank, for any rank count and placement, and after a resume. */
#ifndef SHARDNET_TRANSFORM_H
#define SHARDNET_TRANSFORM_H

#include <stdint.h>

#include "shardnet/config.h"
#include "shardnet/shape.h"
#include "shardnet/status.h"

/* How a dataset stores each sample: channels-last h x w x c, uint8 or float32. */
typedef struct {
  int h, w, c;
  int is_float;
} sn_sample_format;

/* Everything sn_transform_sample needs, worked out once per dataset. */
typedef struct {
  sn_sample_format in;
  sn_shape out;                 /* (C, H, W) of the network input */
  int pad_top, pad_left;        /* data.pad_to: where the stored image sits in the padded one */
  int replicate_grey;           /* data.channels: 3 on a 1-channel set */
  int augment;                  /* cfg->augment applies: asked for (training set) and any is on */
  sn_augment_config aug;
  uint64_t seed;
  float scale[16], shift[16];   /* per output channel: out = value * scale + shift */
} sn_transform;

/* Prepares t for samples of format `in` under cfg (pad_to, channels, the
 * normalisation and, when augment is non-zero, cfg->augment), with seed the run's
 * seed. Fails naming `what` (the dataset file) and the key when cfg cannot apply to
 * these samples: pad_to smaller than the stored images, channels: 3 on a set with 2
 * channels, channels: 1 on a colour set (not converted to grey: every output value
 * is one stored value), data.mean/std counts that fit neither 1 nor the output
 * channels, more than 16 channels. */
sn_status sn_transform_init(sn_transform *t, const sn_data_config *cfg, const sn_sample_format *in, int augment,
                            uint64_t seed, const char *what);

/* One stored sample `raw` (h*w*c values, channels-last), global sample index `index`
 * of epoch `epoch`, into out (t->out: C x H x W floats). Pure and thread-safe: a
 * batch is transformed in parallel.
 *
 * In order: the canvas (the stored image centred in pad_to, a grey channel repeated
 * for channels: 3); then, when t->augment, random_crop (output (y, x) reads (y + dy,
 * x + dx) of the canvas padded by P zeros, dy and dx uniform in 0..2P), flip (x ->
 * W-1-x with probability 1/2) and random_shift (output (y, x) reads (y - sy, x - sx),
 * sy and sx uniform in -S..S; outside the image: fill zero a raw 0, edge the nearest
 * pixel, reflect numpy's 'reflect', folded again for shifts past the image); last,
 * value * scale[k] + shift[k]. Pixels of no stored value are a raw 0 (so shift[k]).
 * The choices come from sn_rng_uniform(seed, epoch, SN_RNG_STREAM_AUGMENT) at
 * `index`: uniforms 0 and 1 crop dy and dx, 2 the flip (< 0.5), 3 and 4 shift sy and
 * sx, each k = floor(u * n) of its n choices, whichever augmentations are on. With
 * nothing to do it is the old batch normalisation, bit for bit. */
void sn_transform_sample(const sn_transform *t, uint32_t epoch, uint64_t index, const void *raw, float *out);

#endif
