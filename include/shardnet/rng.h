/* Counter-based random numbers (Philox4x32-10): a value depends only on its key and
 * counter, never on what was drawn before, so any rank can draw any sample's numbers
 * and no generator state ever needs saving. */
#ifndef SHARDNET_RNG_H
#define SHARDNET_RNG_H

#include <stddef.h>
#include <stdint.h>

/* Who is drawing: the run's seed, the epoch, and a stream (a layer index, a
 * parameter tensor, the data permutation...). */
typedef struct {
  uint64_t seed;
  uint32_t epoch;
  uint32_t stream;
} sn_rng_key;

/* Well-known streams beside layer indices (which count up from 0). */
enum {
  SN_RNG_STREAM_PERMUTATION = 0x7fff0001u,
  SN_RNG_STREAM_TEST_DATA = 0x7fff0002u,
  SN_RNG_STREAM_AUGMENT = 0x7fff0003u,
  SN_RNG_STREAM_SPLIT = 0x7fff0004u,   /* convert images --split: which images are held out */
  SN_RNG_STREAM_INIT_BASE = 0x40000000u /* + parameter tensor index */
};

static inline sn_rng_key sn_rng_make_key(uint64_t seed, uint32_t epoch, uint32_t stream) {
  sn_rng_key k = {seed, epoch, stream};
  return k;
}

/* The raw generator: 4 words out for a 128-bit counter and a 64-bit key. */
void sn_philox4x32(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);

/* n uniform floats in [0, 1): elements 0..n-1 of the sequence at `index` (a global
 * sample index, say) under `key`. */
void sn_rng_uniform(sn_rng_key key, uint64_t index, float *out, size_t n);

/* n standard normal floats (Box-Muller) at `index` under `key`. */
void sn_rng_normal(sn_rng_key key, uint64_t index, float *out, size_t n);

/* A uniformly random permutation of 0..n-1 determined by `key` alone. */
void sn_rng_permutation(sn_rng_key key, uint32_t *perm, size_t n);

#endif
