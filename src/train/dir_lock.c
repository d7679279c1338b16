/* The checkpoint dir's lock: an flock on dir/.lock. The kernel drops it when the
 * holder exits, however it exits (kill -9, a node's Slurm job killed at its time
 * limit), so a requeued job never finds a stale lock, as it would with a pid file.
 * The file's text only names the holder, for the message. */
#define _DEFAULT_SOURCE
#include "train/dir_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "train/report.h"

#define LOCK_NAME ".lock"
#define HOLDER_CAP 256

/* "pid 123 on node07, Slurm job 4567, since 2026-12-07T12:00:00Z" */
static void describe_self(char *buf, size_t cap) {
  char host[64] = "?";
  gethostname(host, sizeof host - 1);
  char since[32];
  time_t now = time(NULL);
  struct tm tm;
  strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
  const char *job = getenv("SLURM_JOB_ID");
  snprintf(buf, cap, "pid %ld on %s%s%s, since %s", (long)getpid(), host, job ? ", Slurm job " : "", job ? job : "",
           since);
}

/* The holder's line from the lock file, printable, or "another process". */
static void read_holder(int fd, char *buf, size_t cap) {
  ssize_t n = pread(fd, buf, cap - 1, 0);
  buf[n > 0 ? n : 0] = '\0';
  buf[strcspn(buf, "\n")] = '\0';
  for (char *p = buf; *p; p++)
    if ((unsigned char)*p < 32 || (unsigned char)*p > 126) *p = '?';
  if (!*buf) snprintf(buf, cap, "another process");
}

sn_status sn_dir_lock(const char *dir, int *fd) {
  *fd = -1;
  SN_TRY(sn_make_dirs(dir));
  char path[SN_PATH_CAP + 16];
  snprintf(path, sizeof path, "%s/%s", dir, LOCK_NAME);
  int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (f < 0) return sn_fail(SN_ERR_IO, "cannot open %s: %s", path, strerror(errno));
  if (flock(f, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) {
      char holder[HOLDER_CAP];
      read_holder(f, holder, sizeof holder);
      close(f);
      return sn_fail(SN_ERR_CONFIG, "checkpoint.dir %s is in use by another run (%s): two runs in one dir would "
                     "prune each other's checkpoints; give this run its own checkpoint.dir", dir, holder);
    }
    /* Lustre mounted without -o flock, some NFS setups: run unguarded, but say so. */
    close(f);
    fprintf(stderr, "shardnet: warning: cannot lock %s (%s); make sure no other run uses this checkpoint.dir\n",
            path, strerror(err));
    return SN_OK;
  }
  char self[HOLDER_CAP];
  describe_self(self, sizeof self);
  const size_t len = strlen(self);
  self[len] = '\n';
  if (ftruncate(f, 0) != 0 || pwrite(f, self, len + 1, 0) != (ssize_t)(len + 1)) {
    const int err = errno;
    close(f);
    return sn_fail(SN_ERR_IO, "cannot write %s: %s", path, strerror(err));
  }
  *fd = f;
  return SN_OK;
}

void sn_dir_unlock(int fd) {
  if (fd >= 0) close(fd);
}
