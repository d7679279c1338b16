/* Writing checkpoints from the training loop. */
#ifndef SN_TRAIN_SAVE_H
#define SN_TRAIN_SAVE_H

#include "shardnet/trainer.h"

/* Collective: rank 0 writes <checkpoint.dir>/ckpt-<step>.h5 and moves latest.h5 to
 * it; every rank returns the outcome. */
sn_status sn_trainer_save(sn_trainer *t);

#endif
