/* The resampler: constants stay constant, the same size is the identity, shrinking
 * averages (every input pixel reaches the output), enlarging is bilinear. */
#include <stdlib.h>
#include <string.h>

#include "io/image_resize.h"
#include "sn_test.h"

static void test_constant_stays_constant(void) {
  const int sizes[][2] = {{3, 2}, {13, 11}, {4, 9}, {1, 1}, {7, 5}, {50, 1}};
  uint8_t src[7 * 5 * 3], dst[50 * 11 * 3];
  memset(src, 77, sizeof src);
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    int h = sizes[i][0], w = sizes[i][1];
    memset(dst, 0, sizeof dst);
    CU_ASSERT_EQUAL_FATAL(sn_image_resize(dst, h, w, src, 7, 5, 3), SN_OK);
    int same = 1;
    for (int k = 0; k < h * w * 3; k++) same &= dst[k] == 77;
    CU_ASSERT(same);
  }
}

static void test_same_size_is_identity(void) {
  uint8_t src[6 * 5 * 3], dst[6 * 5 * 3];
  for (size_t i = 0; i < sizeof src; i++) src[i] = (uint8_t)(i * 37 + 11);
  CU_ASSERT_EQUAL_FATAL(sn_image_resize(dst, 6, 5, src, 6, 5, 3), SN_OK);
  CU_ASSERT_EQUAL(memcmp(dst, src, sizeof src), 0);
  /* one axis resized, the other filtered at its own size: rows stay the rows */
  uint8_t wide[6 * 10 * 3];
  CU_ASSERT_EQUAL_FATAL(sn_image_resize(wide, 6, 10, src, 6, 5, 3), SN_OK);
  for (int y = 0; y < 6; y++)
    for (int k = 0; k < 3; k++) {
      CU_ASSERT_EQUAL(wide[(y * 10 + 0) * 3 + k], src[(y * 5 + 0) * 3 + k]);  /* edges clamp */
      CU_ASSERT_EQUAL(wide[(y * 10 + 9) * 3 + k], src[(y * 5 + 4) * 3 + k]);
    }
}

static void test_halving_averages(void) {
  /* 2x2 to 1x1: the four pixels weigh the same */
  const uint8_t four[4] = {10, 20, 30, 44};
  uint8_t one;
  CU_ASSERT_EQUAL_FATAL(sn_image_resize(&one, 1, 1, four, 2, 2, 1), SN_OK);
  CU_ASSERT_EQUAL(one, 26);  /* 104 / 4 */
  /* stripes 0, 200, 0, 200... of 8 columns halved: inside, the triangle of radius 2
   * weighs 1/8 3/8 3/8 1/8 and gives the mean 100; at the edges the weights left
   * in the image are renormalised (0.75 0.75 0.25 / 1.75) */
  uint8_t stripes[8 * 8], half[4 * 4];
  for (int y = 0; y < 8; y++)
    for (int x = 0; x < 8; x++) stripes[y * 8 + x] = x % 2 ? 200 : 0;
  CU_ASSERT_EQUAL_FATAL(sn_image_resize(half, 4, 4, stripes, 8, 8, 1), SN_OK);
  for (int y = 0; y < 4; y++) {
    CU_ASSERT_EQUAL(half[y * 4 + 0], 86);  /* 0.75 * 200 / 1.75 */
    CU_ASSERT_EQUAL(half[y * 4 + 1], 100);
    CU_ASSERT_EQUAL(half[y * 4 + 2], 100);
    CU_ASSERT_EQUAL(half[y * 4 + 3], 114);  /* 200 / 1.75 */
  }
}

/* Shrinking by 4, the filter reaches 4 input pixels to each side: a lone bright
 * pixel still shows (sampling bilinearly at the output centres would miss it). */
static void test_shrinking_sees_every_pixel(void) {
  uint8_t row[8] = {255, 0, 0, 0, 0, 0, 0, 0}, out[2];
  CU_ASSERT_EQUAL_FATAL(sn_image_resize(out, 1, 2, row, 1, 8, 1), SN_OK);
  /* weights at centre 2: 0.625 0.875 0.875 0.625 0.375 0.125, sum 3.5 */
  CU_ASSERT_EQUAL(out[0], 46);
  CU_ASSERT_EQUAL(out[1], 0);
}

static void test_enlarging_is_bilinear(void) {
  /* multiples of 16, so every bilinear value is a whole number */
  const uint8_t src[2 * 2 * 2] = {0, 16, 160, 32, 240, 48, 64, 224};
  const double w[4][2] = {{1, 0}, {0.75, 0.25}, {0.25, 0.75}, {0, 1}};  /* half-pixel centres, clamped */
  uint8_t dst[4 * 4 * 2];
  CU_ASSERT_EQUAL_FATAL(sn_image_resize(dst, 4, 4, src, 2, 2, 2), SN_OK);
  for (int y = 0; y < 4; y++)
    for (int x = 0; x < 4; x++)
      for (int k = 0; k < 2; k++) {
        double v = 0;
        for (int a = 0; a < 2; a++)
          for (int b = 0; b < 2; b++) v += w[y][a] * w[x][b] * src[(a * 2 + b) * 2 + k];
        CU_ASSERT_EQUAL(dst[(y * 4 + x) * 2 + k], (int)v);
      }
}

static void test_odd_factors_stay_in_range(void) {
  /* extreme values through many non-integer factors: no overflow past 0..255 */
  uint8_t src[9 * 7];
  for (int i = 0; i < 9 * 7; i++) src[i] = i % 3 ? 255 : 0;
  uint8_t dst[31 * 23];
  const int sizes[][2] = {{31, 23}, {5, 3}, {2, 6}, {9, 1}, {1, 7}};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
    CU_ASSERT_EQUAL(sn_image_resize(dst, sizes[i][0], sizes[i][1], src, 9, 7, 1), SN_OK);
}

int main(void) {
  const sn_test_case cases[] = {{"a constant image stays constant at any size", test_constant_stays_constant},
                                {"the same size is the identity", test_same_size_is_identity},
                                {"halving averages with the widened triangle", test_halving_averages},
                                {"shrinking by 4 sees every input pixel", test_shrinking_sees_every_pixel},
                                {"enlarging 2x2 gives the bilinear values", test_enlarging_is_bilinear},
                                {"non-integer factors stay in range", test_odd_factors_stay_in_range},
                                {NULL, NULL}};
  return sn_test_main("image resize", cases);
}
