/* Aligned allocation for arenas and activations; how much memory is left to use. */
#define _POSIX_C_SOURCE 200809L
#include "shardnet/memory.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SN_ALIGNMENT 64

sn_status sn_alloc_floats(size_t n, float **out) {
  *out = NULL;
  if (n == 0) return SN_OK;
  size_t bytes = (n * sizeof(float) + SN_ALIGNMENT - 1) / SN_ALIGNMENT * SN_ALIGNMENT;
  void *p = aligned_alloc(SN_ALIGNMENT, bytes);
  if (!p) return sn_fail(SN_ERR_NOMEM, "cannot allocate %zu MiB", bytes >> 20);
  memset(p, 0, bytes);
  *out = p;
  return SN_OK;
}

void sn_free(void *p) { free(p); }

/* The value of `key` in a "key value" file such as /proc/meminfo or memory.stat. */
static int read_keyed(const char *path, const char *key, unsigned long long *out) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char line[256];
  const size_t len = strlen(key);
  int found = 0;
  while (!found && fgets(line, sizeof line, f))
    if (!strncmp(line, key, len) && (line[len] == ' ' || line[len] == ':'))
      found = sscanf(line + len + 1, " %llu", out) == 1;
  fclose(f);
  return found;
}

/* A file holding one number ("max" counts as none). */
static int read_number(const char *path, unsigned long long *out) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  int ok = fscanf(f, "%llu", out) == 1;
  fclose(f);
  return ok;
}

/* This process's cgroup path for a v1 controller ("memory"), or the v2 path (""). */
static int cgroup_path(const char *controller, char *out, size_t cap) {
  FILE *f = fopen("/proc/self/cgroup", "r");
  if (!f) return 0;
  char line[1024];
  int found = 0;
  while (!found && fgets(line, sizeof line, f)) {
    char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
    if (!b) continue;
    *b = '\0';
    b[strcspn(b + 1, "\n") + 1] = '\0';
    if (!strcmp(a + 1, controller)) found = snprintf(out, cap, "%s", b + 1) < (int)cap;
  }
  fclose(f);
  return found;
}

/* cgroup v1: the hierarchical limit less what is in use and cannot be reclaimed. */
static size_t cgroup_v1_available(void) {
  char rel[768], dir[1024], file[1100];
  if (!cgroup_path("memory", rel, sizeof rel)) return SIZE_MAX;
  snprintf(dir, sizeof dir, "/sys/fs/cgroup/memory%s", rel);
  unsigned long long limit, usage, cache = 0, shmem = 0;
  snprintf(file, sizeof file, "%s/memory.stat", dir);
  if (!read_keyed(file, "hierarchical_memory_limit", &limit)) return SIZE_MAX;
  read_keyed(file, "total_cache", &cache);
  read_keyed(file, "total_shmem", &shmem);
  snprintf(file, sizeof file, "%s/memory.usage_in_bytes", dir);
  if (!read_number(file, &usage)) return SIZE_MAX;
  const unsigned long long held = usage > cache ? usage - cache + shmem : shmem;
  return limit > held ? (size_t)(limit - held) : 0;
}

/* cgroup v2: the tightest memory.max up the hierarchy, less what is not page cache. */
static size_t cgroup_v2_available(void) {
  char rel[768], dir[1024], file[1100];
  if (!cgroup_path("", rel, sizeof rel)) return SIZE_MAX;
  const char *root = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 ? "/sys/fs/cgroup"
                                                                            : "/sys/fs/cgroup/unified";
  size_t best = SIZE_MAX;
  for (;;) {
    snprintf(dir, sizeof dir, "%s%s", root, rel);
    unsigned long long limit, current, file_pages = 0, shmem = 0;
    snprintf(file, sizeof file, "%s/memory.max", dir);
    const int limited = read_number(file, &limit);
    snprintf(file, sizeof file, "%s/memory.current", dir);
    if (limited && read_number(file, &current)) {
      snprintf(file, sizeof file, "%s/memory.stat", dir);
      read_keyed(file, "file", &file_pages);
      read_keyed(file, "shmem", &shmem);
      const unsigned long long held = current > file_pages ? current - file_pages + shmem : shmem;
      const size_t here = limit > held ? (size_t)(limit - held) : 0;
      if (here < best) best = here;
    }
    char *slash = strrchr(rel, '/');
    if (!slash || !rel[0] || !strcmp(rel, "/")) break;
    *slash = '\0';
    if (!rel[0]) snprintf(rel, sizeof rel, "/");
  }
  return best;
}

size_t sn_memory_available(void) {
  unsigned long long kb = 0;
  size_t avail = read_keyed("/proc/meminfo", "MemAvailable", &kb) ? (size_t)kb * 1024 : SIZE_MAX;
  const size_t v1 = cgroup_v1_available(), v2 = cgroup_v2_available();
  if (v1 < avail) avail = v1;
  if (v2 < avail) avail = v2;
  return avail;
}
