/* The sample transform: stored channels-last sample -> normalised CHW network input,
 * through pad_to, channel replication, random crop, flip and shift, each a map from an
 * output pixel to the stored pixel it reads (or to none: a raw 0). */
#include "shardnet/transform.h"

#include <stddef.h>
#include <stdint.h>

#include "shardnet/rng.h"

/* Forced, so each call with a constant is_float becomes its own branch-free loop. */
#define SPECIALISED static inline __attribute__((always_inline))

/* Columns mapped at a time: the per-sample column table lives on the stack. */
#define COL_TILE 512

/* Uniforms drawn per sample, one per choice, each at a fixed place whichever
 * augmentations are on, so enabling one never changes another's draws. */
enum { U_CROP_Y, U_CROP_X, U_FLIP, U_SHIFT_Y, U_SHIFT_X, U_COUNT };

/* One axis of a sample's map, output coordinate i -> stored coordinate:
 * j = fill(i - shift) on the canvas of n, mirrored if flip, then j + offset, which
 * is a stored coordinate when it lies in [0, m) and a raw 0 otherwise. */
typedef struct {
  int n, m;            /* output (canvas) size, stored size */
  int shift, flip, offset;
  sn_fill_mode fill;
} axis_map;

/* numpy's 'reflect' (the edge pixel is not repeated), folded as often as it takes. */
static int reflect(int j, int n) {
  if (n == 1) return 0;
  const int period = 2 * (n - 1);
  j %= period;
  if (j < 0) j += period;
  return j < n ? j : period - j;
}

/* The stored coordinate output coordinate i reads, or -1 for a raw 0. */
static int axis_source(const axis_map *a, int i) {
  int j = i - a->shift;
  if (j < 0 || j >= a->n) {
    if (a->fill == SN_FILL_ZERO) return -1;
    j = a->fill == SN_FILL_EDGE ? (j < 0 ? 0 : a->n - 1) : reflect(j, a->n);
  }
  if (a->flip) j = a->n - 1 - j;
  j += a->offset;
  return j >= 0 && j < a->m ? j : -1;
}

static int axis_is_identity(const axis_map *a) {
  return a->n == a->m && a->shift == 0 && !a->flip && a->offset == 0;
}

SPECIALISED float load(const void *raw, size_t i, int is_float) {
  return is_float ? ((const float *)raw)[i] : (float)((const uint8_t *)raw)[i];
}

/* The hot path, stored size = output size and no augmentation: the loop of the old
 * batch assembler, value * scale + shift, channels-last into channels-first. */
SPECIALISED void plain(const sn_transform *t, const void *raw, float *out, int is_float) {
  const int cin = t->in.c, channels = t->out.d[0];
  const size_t hw = (size_t)t->in.h * t->in.w;
  for (int k = 0; k < channels; k++) {
    const float a = t->scale[k], b = t->shift[k];
    const int from = t->replicate_grey ? 0 : k;
    float *o = out + (size_t)k * hw;
    for (size_t p = 0; p < hw; p++) o[p] = load(raw, p * cin + from, is_float) * a + b;
  }
}

/* Any map: rows and columns are independent, so a row's source is found once per row
 * and a column's once per tile of columns. */
SPECIALISED void mapped(const sn_transform *t, const axis_map *ym, const axis_map *xm, const void *raw,
                        float *out, int is_float) {
  const int cin = t->in.c, channels = t->out.d[0], oh = t->out.d[1], ow = t->out.d[2];
  const size_t row_stride = (size_t)t->in.w * cin;
  float zero[16]; /* a raw 0, normalised */
  for (int k = 0; k < channels; k++) zero[k] = 0.0f * t->scale[k] + t->shift[k];
  int cols[COL_TILE]; /* offset of the stored pixel within its row, -1 for a raw 0 */
  for (int x0 = 0; x0 < ow; x0 += COL_TILE) {
    const int n = ow - x0 < COL_TILE ? ow - x0 : COL_TILE;
    for (int i = 0; i < n; i++) {
      const int s = axis_source(xm, x0 + i);
      cols[i] = s < 0 ? -1 : s * cin;
    }
    for (int y = 0; y < oh; y++) {
      const int r = axis_source(ym, y);
      for (int k = 0; k < channels; k++) {
        float *o = out + ((size_t)k * oh + y) * ow + x0;
        if (r < 0) {
          for (int i = 0; i < n; i++) o[i] = zero[k];
          continue;
        }
        const float a = t->scale[k], b = t->shift[k];
        const size_t base = (size_t)r * row_stride + (t->replicate_grey ? 0 : k);
        for (int i = 0; i < n; i++) {
          const int c = cols[i];
          /* the load reads a real pixel either way, so this can be a select */
          const float v = load(raw, base + (size_t)(c < 0 ? 0 : c), is_float);
          o[i] = c < 0 ? zero[k] : v * a + b;
        }
      }
    }
  }
}

/* An integer uniform in [0, n): the product in double is exact, so it stays below n. */
static int uniform_int(float u, int n) { return (int)((double)u * n); }

/* The sample's two axis maps: pad_to, then the augmentation drawn for it. */
static void plan(const sn_transform *t, uint32_t epoch, uint64_t index, axis_map *ym, axis_map *xm) {
  *ym = (axis_map){t->out.d[1], t->in.h, 0, 0, -t->pad_top, SN_FILL_ZERO};
  *xm = (axis_map){t->out.d[2], t->in.w, 0, 0, -t->pad_left, SN_FILL_ZERO};
  if (!t->augment) return;
  float u[U_COUNT];
  sn_rng_uniform(sn_rng_make_key(t->seed, epoch, SN_RNG_STREAM_AUGMENT), index, u, U_COUNT);
  const sn_augment_config *g = &t->aug;
  const int p = g->crop_padding, s = g->shift_max;
  /* output (y, x) reads (y + dy, x + dx) of the canvas padded by p: canvas (y + dy - p, ...) */
  ym->offset += uniform_int(u[U_CROP_Y], 2 * p + 1) - p;
  xm->offset += uniform_int(u[U_CROP_X], 2 * p + 1) - p;
  xm->flip = g->flip_horizontal && u[U_FLIP] < 0.5f;
  ym->shift = uniform_int(u[U_SHIFT_Y], 2 * s + 1) - s;
  xm->shift = uniform_int(u[U_SHIFT_X], 2 * s + 1) - s;
  ym->fill = xm->fill = g->shift_fill;
}

void sn_transform_sample(const sn_transform *t, uint32_t epoch, uint64_t index, const void *raw, float *out) {
  axis_map ym, xm;
  plan(t, epoch, index, &ym, &xm);
  const int same = axis_is_identity(&ym) && axis_is_identity(&xm);
  if (same && t->in.is_float)
    plain(t, raw, out, 1);
  else if (same)
    plain(t, raw, out, 0);
  else if (t->in.is_float)
    mapped(t, &ym, &xm, raw, out, 1);
  else
    mapped(t, &ym, &xm, raw, out, 0);
}

/* (value * s - mean) / std folded into one multiply-add per value, per output channel:
 * the formula and rounding of the batch assembler this replaces, so that training
 * without transforms gives bitwise the same inputs. */
static void normalisation(sn_transform *t, const sn_data_config *cfg) {
  const double s = cfg->scale > 0 ? cfg->scale : 1.0;
  for (int k = 0; k < t->out.d[0]; k++) {
    const double mean = cfg->n_mean ? cfg->mean[cfg->n_mean == 1 ? 0 : k] : 0.0;
    const double std = cfg->n_std ? cfg->std[cfg->n_std == 1 ? 0 : k] : 1.0;
    t->scale[k] = (float)(s / std);
    t->shift[k] = (float)(-mean / std);
  }
}

static sn_status check_channels(const sn_data_config *cfg, const sn_sample_format *in, const char *what) {
  if (in->c > 16) return sn_fail(SN_ERR_SHAPE, "%s: images have %d channels; at most 16 are supported", what, in->c);
  if (cfg->channels && cfg->channels != in->c && !(cfg->channels == 3 && in->c == 1))
    return sn_fail(SN_ERR_SHAPE, "%s: data.channels: %d cannot apply to images with %d channel%s (it can only "
                   "repeat a grey channel into 3)", what, cfg->channels, in->c, in->c == 1 ? "" : "s");
  const int c = cfg->channels ? cfg->channels : in->c;
  if ((cfg->n_mean > 1 && cfg->n_mean != c) || (cfg->n_std > 1 && cfg->n_std != c))
    return sn_fail(SN_ERR_SHAPE, "%s: data.mean and data.std need one value or %d (one per channel), got %d and %d",
                   what, c, cfg->n_mean, cfg->n_std);
  return SN_OK;
}

/* What the parser guarantees, checked again for configurations built in code. */
static sn_status check_augment(const sn_augment_config *g, const char *what) {
  if (g->crop_padding < 0 || g->crop_padding > 1024)
    return sn_fail(SN_ERR_INVALID, "%s: data.augment.random_crop.padding must be between 0 and 1024, got %d", what,
                   g->crop_padding);
  if (g->shift_max < 0 || g->shift_max > 1024)
    return sn_fail(SN_ERR_INVALID, "%s: data.augment.random_shift.max must be between 0 and 1024, got %d", what,
                   g->shift_max);
  if ((unsigned)g->shift_fill > SN_FILL_REFLECT)
    return sn_fail(SN_ERR_INVALID, "%s: data.augment.random_shift.fill %d is not a fill mode", what,
                   (int)g->shift_fill);
  return SN_OK;
}

sn_status sn_transform_init(sn_transform *t, const sn_data_config *cfg, const sn_sample_format *in, int augment,
                            uint64_t seed, const char *what) {
  *t = (sn_transform){.in = *in, .seed = seed};
  if (in->h < 1 || in->w < 1 || in->c < 1)
    return sn_fail(SN_ERR_SHAPE, "%s: images are %dx%dx%d (H x W x C); every size must be at least 1", what,
                   in->h, in->w, in->c);
  SN_TRY(check_channels(cfg, in, what));
  const int oh = cfg->pad_to[0] ? cfg->pad_to[0] : in->h, ow = cfg->pad_to[0] ? cfg->pad_to[1] : in->w;
  if (oh < in->h || ow < in->w)
    return sn_fail(SN_ERR_SHAPE, "%s: data.pad_to [%d, %d] is smaller than its images (%d x %d)", what, oh, ow,
                   in->h, in->w);
  t->out = sn_shape_chw(cfg->channels ? cfg->channels : in->c, oh, ow);
  /* centred; an odd remainder goes to the bottom and right */
  t->pad_top = (oh - in->h) / 2;
  t->pad_left = (ow - in->w) / 2;
  t->replicate_grey = t->out.d[0] != in->c;
  if (augment) {
    SN_TRY(check_augment(&cfg->augment, what));
    t->aug = cfg->augment;
    t->augment = t->aug.crop_padding > 0 || t->aug.flip_horizontal || t->aug.shift_max > 0;
  }
  normalisation(t, cfg);
  return SN_OK;
}
