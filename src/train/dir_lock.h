/* One run per checkpoint dir: two jobs writing one dir prune each other's
 * checkpoints and swap latest.h5 under each other. */
#ifndef SN_TRAIN_DIR_LOCK_H
#define SN_TRAIN_DIR_LOCK_H

#include "shardnet/status.h"

/* Locks dir (created if missing) for this process until sn_dir_unlock or its exit,
 * and writes who holds it into dir/.lock. When another process holds it, fails
 * naming that process's host, pid, Slurm job and start time. *fd receives the lock
 * (-1 where the file system has no locks: then a warning, and no lock). */
sn_status sn_dir_lock(const char *dir, int *fd);
void sn_dir_unlock(int fd);

#endif
