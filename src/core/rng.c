/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3"). */
#include "shardnet/rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline void mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo) {
  uint64_t p = (uint64_t)a * b;
  *hi = (uint32_t)(p >> 32);
  *lo = (uint32_t)p;
}

void sn_philox4x32(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
  uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; round++) {
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(PHILOX_M0, c0, &hi0, &lo0);
    mulhilo(PHILOX_M1, c2, &hi1, &lo1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += PHILOX_W0;
    k1 += PHILOX_W1;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/* Block `block` (4 words) of the sequence at (key, index). The index fills two
 * counter words so any 64-bit sample index is distinct. */
static void rng_block(sn_rng_key key, uint64_t index, uint32_t block, uint32_t out[4]) {
  uint32_t counter[4] = {block, key.stream, (uint32_t)index,
                         (uint32_t)(index >> 32) ^ (key.epoch * 0x85EBCA6Bu)};
  uint32_t k[2] = {(uint32_t)key.seed, (uint32_t)(key.seed >> 32) ^ key.epoch};
  sn_philox4x32(counter, k, out);
}

static inline float u32_to_unit(uint32_t u) { return (float)(u >> 8) * (1.0f / 16777216.0f); }

void sn_rng_uniform(sn_rng_key key, uint64_t index, float *out, size_t n) {
  uint32_t words[4];
  for (size_t i = 0; i < n; i++) {
    if (i % 4 == 0) rng_block(key, index, (uint32_t)(i / 4), words);
    out[i] = u32_to_unit(words[i % 4]);
  }
}

void sn_rng_normal(sn_rng_key key, uint64_t index, float *out, size_t n) {
  uint32_t words[4];
  for (size_t i = 0; i < n; i += 2) {
    rng_block(key, index, (uint32_t)(i / 2), words);
    /* u1 in (0, 1] keeps the logarithm finite. */
    double u1 = ((double)(words[0] >> 8) + 1.0) / 16777216.0;
    double u2 = (double)(words[1] >> 8) / 16777216.0;
    double r = sqrt(-2.0 * log(u1));
    out[i] = (float)(r * cos(6.283185307179586 * u2));
    if (i + 1 < n) out[i + 1] = (float)(r * sin(6.283185307179586 * u2));
  }
}

void sn_rng_permutation(sn_rng_key key, uint32_t *perm, size_t n) {
  for (size_t i = 0; i < n; i++) perm[i] = (uint32_t)i;
  uint32_t words[4];
  for (size_t i = n; i > 1; i--) {
    size_t step = n - i;
    if (step % 4 == 0) rng_block(key, 0, (uint32_t)(step / 4), words);
    /* Multiply-shift maps a 32-bit word onto [0, i) without a division. */
    size_t j = (size_t)(((uint64_t)words[step % 4] * (uint64_t)i) >> 32);
    uint32_t t = perm[i - 1];
    perm[i - 1] = perm[j];
    perm[j] = t;
  }
}
