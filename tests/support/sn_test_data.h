/* A dataset file read whole through shardnet's own reader, for tests that check
 * what a writer or converter stored. */
#ifndef SN_TEST_DATA_H
#define SN_TEST_DATA_H

#include <stdint.h>

#include "shardnet/dataset.h"

typedef struct {
  sn_dataset *ds;
  float *values;     /* N x H x W x C stored values, channels-last as in the file */
  uint8_t *u8;       /* the same as bytes, for uint8 sets (else NULL) */
  int32_t *labels;   /* N, for classification sets (else NULL) */
} sn_test_data;

/* Opens path in placement p and reads every sample through a reader. */
sn_status sn_test_load(const char *path, sn_placement p, sn_test_data *out);
void sn_test_data_free(sn_test_data *d);

#endif
