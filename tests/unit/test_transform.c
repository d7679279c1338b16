/* The sample transform: bitwise the old normalisation when nothing else is asked for,
 * pad_to and channel replication with exact values, crop, flip and shift against
 * hand-worked and step-by-step references, determinism, and the errors of init. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shardnet/rng.h"
#include "shardnet/transform.h"
#include "sn_test.h"

/* The batch assembler's normalisation before the transform existed (sn_dataset_batch):
 * what training without transforms must keep computing, bit for bit. */
static void old_formula(const sn_data_config *norm, const sn_sample_format *in, const void *raw, float *dst) {
  const int c = in->c, hw = in->h * in->w;
  float scale[16], shift[16];
  for (int k = 0; k < c && k < 16; k++) {
    double mean = norm->n_mean ? norm->mean[norm->n_mean == 1 ? 0 : k] : 0.0;
    double std = norm->n_std ? norm->std[norm->n_std == 1 ? 0 : k] : 1.0;
    double s = norm->scale > 0 ? norm->scale : 1.0;
    scale[k] = (float)(s / std);
    shift[k] = (float)(-mean / std);
  }
  for (int p = 0; p < hw; p++)
    for (int k = 0; k < c; k++) {
      float v = in->is_float ? ((const float *)raw)[p * c + k] : (float)((const uint8_t *)raw)[p * c + k];
      dst[(size_t)k * hw + p] = v * scale[k] + shift[k];
    }
}

static sn_transform make(const sn_data_config *cfg, sn_sample_format in, int augment) {
  sn_transform t;
  if (sn_transform_init(&t, cfg, &in, augment, 11, "t.h5") != SN_OK) {
    fprintf(stderr, "\n  %s\n", sn_last_error());
    CU_FAIL_FATAL("sn_transform_init");
  }
  return t;
}

static size_t out_size(const sn_transform *t) { return sn_shape_size(t->out); }

/* Asserts bitwise equality and reports the first difference. */
static void assert_same_bits(const float *a, const float *b, size_t n, const char *what) {
  for (size_t i = 0; i < n; i++)
    if (memcmp(&a[i], &b[i], sizeof *a)) {
      fprintf(stderr, "\n  %s: element %zu is %.9g, expected %.9g\n", what, i, a[i], b[i]);
      CU_FAIL("bitwise equal");
      return;
    }
}

static void test_plain_is_the_old_formula(void) {
  enum { H = 4, W = 5, C = 3, N = H * W * C };
  uint8_t u8[N];
  float f32[N], want[N], got[N];
  for (int i = 0; i < N; i++) u8[i] = (uint8_t)(i * 37 % 256);
  u8[0] = 0;
  u8[1] = 255;
  sn_test_fill(f32, N, 3, -2.0f, 3.0f);
  const sn_data_config cfgs[] = {
      {.scale = 0.00392157, .n_mean = 3, .mean = {0.4914, 0.4822, 0.4465}, .n_std = 3, .std = {0.2470, 0.2435, 0.2616}},
      {.scale = 0.7, .n_mean = 1, .mean = {0.3}, .n_std = 3, .std = {0.5, 1.5, 3.0}},
      {.scale = 0, .n_mean = 0, .n_std = 1, .std = {0.25}},
      /* as-stored channels and pad_to equal to the stored size change nothing */
      {.scale = 1.0 / 3, .n_mean = 3, .mean = {1, -2, 3}, .channels = 3, .pad_to = {H, W}},
  };
  for (size_t c = 0; c < sizeof cfgs / sizeof *cfgs; c++)
    for (int is_float = 0; is_float < 2; is_float++) {
      const sn_sample_format in = {H, W, C, is_float};
      const void *raw = is_float ? (const void *)f32 : (const void *)u8;
      old_formula(&cfgs[c], &in, raw, want);
      /* with augment on but no augmentation configured, too */
      for (int augment = 0; augment < 2; augment++) {
        sn_transform t = make(&cfgs[c], in, augment);
        CU_ASSERT(sn_shape_equal(t.out, sn_shape_chw(C, H, W)));
        memset(got, 0xff, sizeof got);
        sn_transform_sample(&t, 3, 17, raw, got);
        assert_same_bits(got, want, N, is_float ? "float32 images" : "uint8 images");
      }
    }
}

static void test_pad_to_centred(void) {
  /* 2x3 grey into 5x4: one row above, two below; no column left, one right */
  const uint8_t img[6] = {1, 2, 3, 4, 5, 6};
  sn_data_config cfg = {.scale = 0.5, .n_mean = 1, .mean = {10}, .n_std = 1, .std = {2}, .pad_to = {5, 4}};
  sn_transform t = make(&cfg, (sn_sample_format){2, 3, 1, 0}, 0);
  CU_ASSERT(sn_shape_equal(t.out, sn_shape_chw(1, 5, 4)));
  CU_ASSERT(t.pad_top == 1 && t.pad_left == 0);
  float got[20];
  sn_transform_sample(&t, 0, 0, img, got);
  /* raw r -> r * 0.25 - 5; padding is a raw 0 -> -5 */
  const float p = -5.0f;
  const float want[20] = {p, p, p, p,
                          1 * 0.25f - 5, 2 * 0.25f - 5, 3 * 0.25f - 5, p,
                          4 * 0.25f - 5, 5 * 0.25f - 5, 6 * 0.25f - 5, p,
                          p, p, p, p,
                          p, p, p, p};
  assert_same_bits(got, want, 20, "2x3 padded to 5x4");

  /* even padding on both axes, float RGB: 1x2 into 3x4, the image at row 1, columns 1-2 */
  const float rgb[6] = {0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f};
  sn_data_config c3 = {.scale = 1, .n_mean = 3, .mean = {1, 2, 3}, .pad_to = {3, 4}};
  t = make(&c3, (sn_sample_format){1, 2, 3, 1}, 0);
  float out[36];
  sn_transform_sample(&t, 0, 0, rgb, out);
  for (int k = 0; k < 3; k++)
    for (int y = 0; y < 3; y++)
      for (int x = 0; x < 4; x++) {
        const int inside = y == 1 && (x == 1 || x == 2);
        const float v = inside ? rgb[(x - 1) * 3 + k] * 1.0f + (float)-(k + 1) : (float)-(k + 1);
        CU_ASSERT_EQUAL(out[(k * 3 + y) * 4 + x], v);
      }
}

static void test_replicate_grey(void) {
  const uint8_t img[4] = {0, 100, 200, 255};
  sn_data_config cfg = {.scale = 0.00392157, .n_mean = 3, .mean = {0.1, 0.2, 0.3}, .n_std = 3,
                        .std = {0.5, 0.25, 2}, .channels = 3};
  for (int pad = 0; pad < 2; pad++) {
    cfg.pad_to[0] = pad ? 4 : 0;
    cfg.pad_to[1] = pad ? 2 : 0;
    sn_transform t = make(&cfg, (sn_sample_format){2, 2, 1, 0}, 0);
    CU_ASSERT(t.replicate_grey);
    const int oh = pad ? 4 : 2, top = pad ? 1 : 0;
    CU_ASSERT(sn_shape_equal(t.out, sn_shape_chw(3, oh, 2)));
    float got[24];
    sn_transform_sample(&t, 0, 0, img, got);
    for (int k = 0; k < 3; k++) {
      const float a = (float)(0.00392157 / cfg.std[k]), b = (float)(-cfg.mean[k] / cfg.std[k]);
      for (int y = 0; y < oh; y++)
        for (int x = 0; x < 2; x++) {
          const int sy = y - top;
          const float raw = sy >= 0 && sy < 2 ? (float)img[sy * 2 + x] : 0.0f;
          CU_ASSERT_EQUAL(got[(k * oh + y) * 2 + x], raw * a + b);
        }
    }
  }
}

/* The stored image, raw value at channel k, row y, column x (0 outside). */
static float at(const float *img, int h, int w, int c, int k, int y, int x) {
  return y >= 0 && y < h && x >= 0 && x < w ? img[(y * w + x) * c + k] : 0.0f;
}

static void test_crop_offsets(void) {
  enum { H = 5, W = 6, C = 2, P = 2, N = H * W * C };
  float img[N], got[N];
  sn_test_fill(img, N, 9, 1.0f, 2.0f); /* no stored value is 0, so padding shows */
  sn_data_config cfg = {.scale = 1, .augment = {.crop_padding = P}};
  sn_transform t = make(&cfg, (sn_sample_format){H, W, C, 1}, 1);
  int seen_y[2 * P + 1] = {0}, seen_x[2 * P + 1] = {0};
  for (uint64_t index = 0; index < 300; index++) {
    sn_transform_sample(&t, 1, index, img, got);
    int matches = 0;
    for (int dy = 0; dy <= 2 * P; dy++)
      for (int dx = 0; dx <= 2 * P; dx++) {
        int same = 1;
        for (int k = 0; k < C && same; k++)
          for (int y = 0; y < H && same; y++)
            for (int x = 0; x < W && same; x++)
              same = got[(k * H + y) * W + x] == at(img, H, W, C, k, y + dy - P, x + dx - P);
        if (same) {
          matches++;
          seen_y[dy]++;
          seen_x[dx]++;
        }
      }
    if (matches != 1) {
      fprintf(stderr, "\n  index %d: %d crop offsets match\n", (int)index, matches);
      CU_FAIL("the output is one crop of the padded image");
    }
  }
  for (int d = 0; d <= 2 * P; d++) {
    CU_ASSERT(seen_y[d] > 20);
    CU_ASSERT(seen_x[d] > 20);
  }
}

static void test_flip(void) {
  enum { H = 2, W = 3, C = 2, N = H * W * C };
  float img[N], got[N], plain[N];
  sn_test_fill(img, N, 4, -1.0f, 1.0f);
  sn_data_config cfg = {.scale = 2, .n_mean = 1, .mean = {0.5}, .augment = {.flip_horizontal = 1}};
  old_formula(&cfg, &(sn_sample_format){H, W, C, 1}, img, plain);
  sn_transform t = make(&cfg, (sn_sample_format){H, W, C, 1}, 1);
  int flipped = 0;
  for (uint64_t index = 0; index < 200; index++) {
    sn_transform_sample(&t, 0, index, img, got);
    if (!memcmp(got, plain, sizeof got)) continue;
    flipped++;
    for (int k = 0; k < C; k++)
      for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) CU_ASSERT_EQUAL(got[(k * H + y) * W + x], plain[(k * H + y) * W + W - 1 - x]);
  }
  CU_ASSERT(flipped > 70 && flipped < 130);
}

/* The draws as documented in transform.c: uniforms 0, 1 crop y, x; 2 flip; 3, 4 shift y, x. */
typedef struct {
  int dy, dx, flip, sy, sx;
} draws;

static draws documented(uint64_t seed, uint32_t epoch, uint64_t index, const sn_augment_config *g) {
  float u[5];
  sn_rng_uniform(sn_rng_make_key(seed, epoch, SN_RNG_STREAM_AUGMENT), index, u, 5);
  const int p = 2 * g->crop_padding + 1, s = 2 * g->shift_max + 1;
  return (draws){(int)((double)u[0] * p), (int)((double)u[1] * p), g->flip_horizontal && u[2] < 0.5f,
                 (int)((double)u[3] * s) - g->shift_max, (int)((double)u[4] * s) - g->shift_max};
}

static void test_shift_fill_modes(void) {
  /* 3x4 grey: raw 10 * (y + 1) + (x + 1); shifts -2..2. Source row / column of each
   * output row / column per fill mode and shift, worked by hand; -1 is a raw 0. */
  static const int rows[3][5][3] = {
      {{2, -1, -1}, {1, 2, -1}, {0, 1, 2}, {-1, 0, 1}, {-1, -1, 0}},  /* zero */
      {{2, 2, 2}, {1, 2, 2}, {0, 1, 2}, {0, 0, 1}, {0, 0, 0}},        /* edge */
      {{2, 1, 0}, {1, 2, 1}, {0, 1, 2}, {1, 0, 1}, {2, 1, 0}}};       /* reflect */
  static const int cols[3][5][4] = {
      {{2, 3, -1, -1}, {1, 2, 3, -1}, {0, 1, 2, 3}, {-1, 0, 1, 2}, {-1, -1, 0, 1}},
      {{2, 3, 3, 3}, {1, 2, 3, 3}, {0, 1, 2, 3}, {0, 0, 1, 2}, {0, 0, 0, 1}},
      {{2, 3, 2, 1}, {1, 2, 3, 2}, {0, 1, 2, 3}, {1, 0, 1, 2}, {2, 1, 0, 1}}};
  uint8_t img[12];
  for (int y = 0; y < 3; y++)
    for (int x = 0; x < 4; x++) img[y * 4 + x] = (uint8_t)(10 * (y + 1) + x + 1);
  for (int mode = SN_FILL_ZERO; mode <= SN_FILL_REFLECT; mode++) {
    sn_data_config cfg = {.scale = 1, .augment = {.shift_max = 2, .shift_fill = (sn_fill_mode)mode}};
    sn_transform t = make(&cfg, (sn_sample_format){3, 4, 1, 0}, 1);
    int seen[5][5] = {{0}};
    for (uint64_t index = 0; index < 400; index++) {
      const draws d = documented(11, 2, index, &cfg.augment);
      seen[d.sy + 2][d.sx + 2]++;
      float got[12];
      sn_transform_sample(&t, 2, index, img, got);
      for (int y = 0; y < 3; y++)
        for (int x = 0; x < 4; x++) {
          const int r = rows[mode][d.sy + 2][y], c = cols[mode][d.sx + 2][x];
          const float want = r < 0 || c < 0 ? 0.0f : (float)img[r * 4 + c];
          if (got[y * 4 + x] != want) {
            fprintf(stderr, "\n  fill %d, shift (%d, %d), pixel (%d, %d): %g, expected %g\n", mode, d.sy, d.sx, y,
                    x, got[y * 4 + x], want);
            CU_FAIL("shifted pixel");
          }
        }
    }
    for (int i = 0; i < 25; i++) CU_ASSERT(seen[i / 5][i % 5] > 0);
  }
}

/* numpy 'reflect', mirrored step by step until it lands inside. */
static int mirror(int j, int n) {
  if (n == 1) return 0;
  while (j < 0 || j >= n) j = j < 0 ? -j : 2 * (n - 1) - j;
  return j;
}

/* The transform as separate whole-image steps: canvas (pad_to, channels), crop of the
 * canvas padded by P, flip, shift, normalisation. */
static void reference(const sn_data_config *cfg, const sn_sample_format *in, const void *raw, const draws *d,
                      float *out) {
  const int c = cfg->channels ? cfg->channels : in->c, h = cfg->pad_to[0] ? cfg->pad_to[0] : in->h,
            w = cfg->pad_to[0] ? cfg->pad_to[1] : in->w, n = c * h * w, p = cfg->augment.crop_padding;
  float *canvas = calloc((size_t)n, sizeof *canvas), *crop = calloc((size_t)n, sizeof *crop),
        *flip = calloc((size_t)n, sizeof *flip);
  const int top = (h - in->h) / 2, left = (w - in->w) / 2;
  for (int k = 0; k < c; k++)
    for (int y = 0; y < in->h; y++)
      for (int x = 0; x < in->w; x++) {
        const size_t i = ((size_t)y * in->w + x) * in->c + (c == in->c ? k : 0);
        canvas[(k * h + y + top) * w + x + left] =
            in->is_float ? ((const float *)raw)[i] : (float)((const uint8_t *)raw)[i];
      }
  for (int k = 0; k < c; k++)
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        const int sy = y + d->dy - p, sx = x + d->dx - p;
        crop[(k * h + y) * w + x] = sy >= 0 && sy < h && sx >= 0 && sx < w ? canvas[(k * h + sy) * w + sx] : 0;
      }
  for (int k = 0; k < c; k++)
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) flip[(k * h + y) * w + x] = crop[(k * h + y) * w + (d->flip ? w - 1 - x : x)];
  for (int k = 0; k < c; k++) {
    const double mean = cfg->n_mean ? cfg->mean[cfg->n_mean == 1 ? 0 : k] : 0.0;
    const double std = cfg->n_std ? cfg->std[cfg->n_std == 1 ? 0 : k] : 1.0;
    const float a = (float)(cfg->scale / std), b = (float)(-mean / std);
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        int sy = y - d->sy, sx = x - d->sx;
        float v = 0;
        const int inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
        if (!inside && cfg->augment.shift_fill == SN_FILL_EDGE) {
          sy = sy < 0 ? 0 : sy >= h ? h - 1 : sy;
          sx = sx < 0 ? 0 : sx >= w ? w - 1 : sx;
        } else if (!inside && cfg->augment.shift_fill == SN_FILL_REFLECT) {
          sy = mirror(sy, h);
          sx = mirror(sx, w);
        }
        if (inside || cfg->augment.shift_fill != SN_FILL_ZERO) v = flip[(k * h + sy) * w + sx];
        out[(k * h + y) * w + x] = v * a + b;
      }
  }
  free(canvas);
  free(crop);
  free(flip);
}

static void test_against_reference(void) {
  /* a grey set made RGB and padded, an RGB float set, and images smaller than the
   * shift (folded reflections, a one-pixel-wide image) */
  const struct {
    sn_sample_format in;
    int channels, pad_h, pad_w, crop, flip, shift;
  } cases[] = {
      {{5, 4, 1, 0}, 3, 8, 7, 3, 1, 2},
      {{6, 5, 3, 1}, 0, 0, 0, 2, 1, 3},
      {{2, 3, 1, 0}, 0, 0, 0, 1, 1, 9},
      {{3, 1, 2, 1}, 0, 0, 0, 0, 1, 5},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
    for (int mode = SN_FILL_ZERO; mode <= SN_FILL_REFLECT; mode++) {
      const sn_sample_format in = cases[c].in;
      const size_t n = (size_t)in.h * in.w * in.c;
      uint8_t *u8 = malloc(n);
      float *f32 = malloc(n * sizeof *f32);
      sn_test_fill(f32, n, (unsigned)c, 0.5f, 255.0f);
      for (size_t i = 0; i < n; i++) u8[i] = (uint8_t)f32[i];
      sn_data_config cfg = {.scale = 0.01, .n_mean = 1, .mean = {0.3}, .n_std = 1, .std = {0.7},
                            .channels = cases[c].channels, .pad_to = {cases[c].pad_h, cases[c].pad_w},
                            .augment = {cases[c].crop, cases[c].flip, cases[c].shift, (sn_fill_mode)mode}};
      sn_transform t = make(&cfg, in, 1);
      const size_t m = out_size(&t);
      float *got = malloc(m * sizeof *got), *want = malloc(m * sizeof *want);
      for (uint64_t index = 0; index < 150; index++) {
        const draws d = documented(11, 5, index, &cfg.augment);
        sn_transform_sample(&t, 5, index, in.is_float ? (const void *)f32 : (const void *)u8, got);
        reference(&cfg, &in, in.is_float ? (const void *)f32 : (const void *)u8, &d, want);
        char what[96];
        snprintf(what, sizeof what, "case %zu, fill %d, index %d", c, mode, (int)index);
        assert_same_bits(got, want, m, what);
      }
      free(got);
      free(want);
      free(u8);
      free(f32);
    }
}

static void test_deterministic(void) {
  enum { H = 6, W = 6, N = H * W };
  uint8_t img[N];
  for (int i = 0; i < N; i++) img[i] = (uint8_t)(i * 7 + 1);
  sn_data_config cfg = {.scale = 1, .augment = {.crop_padding = 2, .flip_horizontal = 1, .shift_max = 2}};
  sn_transform t = make(&cfg, (sn_sample_format){H, W, 1, 0}, 1), u = make(&cfg, (sn_sample_format){H, W, 1, 0}, 1);
  float a[N], b[N];
  int other_epoch = 0, other_index = 0, other_seed = 0;
  for (int i = 1; i <= 20; i++) {
    sn_transform_sample(&t, 3, 40, img, a);
    sn_transform_sample(&u, 3, 40, img, b);
    CU_ASSERT_EQUAL(memcmp(a, b, sizeof a), 0);
    sn_transform_sample(&t, 3 + (uint32_t)i, 40, img, b);
    other_epoch += memcmp(a, b, sizeof a) != 0;
    sn_transform_sample(&t, 3, 40 + (uint64_t)i, img, b);
    other_index += memcmp(a, b, sizeof a) != 0;
  }
  sn_transform v;
  CU_ASSERT_EQUAL_FATAL(sn_transform_init(&v, &cfg, &(sn_sample_format){H, W, 1, 0}, 1, 12, "t.h5"), SN_OK);
  for (uint64_t index = 0; index < 20; index++) {
    sn_transform_sample(&t, 3, index, img, a);
    sn_transform_sample(&v, 3, index, img, b);
    other_seed += memcmp(a, b, sizeof a) != 0;
  }
  /* 25 crops x 2 flips x 25 shifts: a repeat now and then, not often */
  CU_ASSERT(other_epoch >= 17);
  CU_ASSERT(other_index >= 17);
  CU_ASSERT(other_seed >= 17);
  /* the evaluation sets are never augmented */
  sn_transform e = make(&cfg, (sn_sample_format){H, W, 1, 0}, 0);
  CU_ASSERT_FALSE(e.augment);
  sn_transform_sample(&e, 9, 5, img, a);
  old_formula(&cfg, &(sn_sample_format){H, W, 1, 0}, img, b);
  CU_ASSERT_EQUAL(memcmp(a, b, sizeof a), 0);
}

static void expect_init_error(const sn_data_config *cfg, sn_sample_format in, const char *want, int line) {
  sn_transform t;
  const sn_status st = sn_transform_init(&t, cfg, &in, 1, 1, "sets/x.h5");
  CU_assertImplementation(st != SN_OK, (unsigned)line, "sn_transform_init fails", __FILE__, "", CU_FALSE);
  if (strcmp(sn_last_error(), want)) {
    fprintf(stderr, "\n  line %d: message '%s'\n           expected '%s'\n", line, sn_last_error(), want);
    CU_assertImplementation(CU_FALSE, (unsigned)line, "exact error message", __FILE__, "", CU_FALSE);
  }
}

static void test_init_errors(void) {
  sn_data_config cfg = {.scale = 1, .pad_to = {32, 27}};
  expect_init_error(&cfg, (sn_sample_format){28, 28, 1, 0},
                    "sets/x.h5: data.pad_to [32, 27] is smaller than its images (28 x 28)", __LINE__);
  cfg = (sn_data_config){.scale = 1, .channels = 3};
  expect_init_error(&cfg, (sn_sample_format){4, 4, 2, 0},
                    "sets/x.h5: data.channels: 3 cannot apply to images with 2 channels (it can only repeat a "
                    "grey channel into 3)", __LINE__);
  cfg.channels = 1;
  expect_init_error(&cfg, (sn_sample_format){4, 4, 3, 1},
                    "sets/x.h5: data.channels: 1 cannot apply to images with 3 channels (it can only repeat a "
                    "grey channel into 3)", __LINE__);
  cfg.channels = 0;
  expect_init_error(&cfg, (sn_sample_format){4, 4, 17, 0},
                    "sets/x.h5: images have 17 channels; at most 16 are supported", __LINE__);
  expect_init_error(&cfg, (sn_sample_format){0, 4, 1, 0},
                    "sets/x.h5: images are 0x4x1 (H x W x C); every size must be at least 1", __LINE__);
  cfg = (sn_data_config){.scale = 1, .channels = 3, .n_mean = 2, .mean = {1, 2}};
  expect_init_error(&cfg, (sn_sample_format){4, 4, 1, 0},
                    "sets/x.h5: data.mean and data.std need one value or 3 (one per channel), got 2 and 0", __LINE__);
  cfg = (sn_data_config){.scale = 1, .augment = {.crop_padding = -1}};
  expect_init_error(&cfg, (sn_sample_format){4, 4, 1, 0},
                    "sets/x.h5: data.augment.random_crop.padding must be between 0 and 1024, got -1", __LINE__);
  cfg = (sn_data_config){.scale = 1, .augment = {.shift_max = 1025}};
  expect_init_error(&cfg, (sn_sample_format){4, 4, 1, 0},
                    "sets/x.h5: data.augment.random_shift.max must be between 0 and 1024, got 1025", __LINE__);
  /* channels: 1 on a grey set is no change */
  cfg = (sn_data_config){.scale = 1, .channels = 1};
  sn_transform t = make(&cfg, (sn_sample_format){4, 4, 1, 0}, 0);
  CU_ASSERT_FALSE(t.replicate_grey);
}

int main(void) {
  const sn_test_case cases[] = {
      {"no transform: bitwise the old normalisation (uint8, float32)", test_plain_is_the_old_formula},
      {"pad_to centres the image, the odd row and column at bottom and right", test_pad_to_centred},
      {"channels: 3 repeats a grey channel, normalised per output channel", test_replicate_grey},
      {"random crop: one padded crop per sample, every offset drawn", test_crop_offsets},
      {"flip_horizontal mirrors about half the samples", test_flip},
      {"random shift: zero, edge and reflect fills, worked by hand", test_shift_fill_modes},
      {"everything at once equals the steps one after another", test_against_reference},
      {"draws depend on seed, epoch and index only", test_deterministic},
      {"init names the set and the key it cannot apply", test_init_errors},
      {NULL, NULL}};
  return sn_test_main("transform", cases);
}
