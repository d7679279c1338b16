/* Reading a file's HDF5 metadata in a child process before the real open.
 *
 * libhdf5 trusts what a file says about itself: a damaged global heap or B-tree
 * makes it read past its buffers or loop forever (HDF5 1.10's own fuzzing CVEs), and
 * no check of ours can come before its parsers. So a child walks the metadata first:
 * every object, every attribute read whole (variable-length strings included), each
 * dataset's type, shape, filters and first element. A child that dies or runs past
 * the time limit makes the file corrupt, reported by the parent in one line; one
 * that finishes means the parent's own reads of the same metadata are safe. The
 * walk costs a fork and a few milliseconds per file opened. */
#define _POSIX_C_SOURCE 200809L
#include "io/h5util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SN_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SN_SANITIZED 1
#endif
#ifdef SN_SANITIZED
#include <sanitizer/common_interface_defs.h>
#endif

#define PREFLIGHT_SECONDS 20  /* a walk takes milliseconds; a parallel file system may stall */
#define ATTR_READ_MAX (64u << 20)  /* larger attributes are refused by the readers anyway */

/* Every callback carries on after an HDF5 error: the walk must reach all the metadata
 * the parent may read, and an error early on (a checksum that does not match) must not
 * leave a later attribute unread, to crash or hang the parent instead. */
static herr_t read_attr(hid_t obj, const char *name, const H5A_info_t *info, void *data) {
  (void)info;
  (void)data;
  hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
  if (attr < 0) return 0;
  hid_t type = H5Aget_type(attr), space = H5Aget_space(attr);
  hid_t mem = type < 0 ? -1 : H5Tget_native_type(type, H5T_DIR_DEFAULT);
  const hssize_t n = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
  const size_t size = mem < 0 ? 0 : H5Tget_size(mem);
  /* variable-length values are read only when what they claim is small and matches
   * their heap objects: the parent refuses the others unread (io/h5_vlen_claims.c) */
  sn_h5_vlen_claims claims;
  const int claims_fit =
      sn_h5_attr_vlen_claims(attr, &claims) == 0 && !claims.damaged && claims.total <= ATTR_READ_MAX;
  if (claims_fit && n > 0 && size > 0 && (size_t)n <= ATTR_READ_MAX / size) {
    void *buf = calloc((size_t)n, size);
    if (buf && H5Aread(attr, mem, buf) >= 0 && (H5Tdetect_class(mem, H5T_VLEN) > 0 || H5Tis_variable_str(mem) > 0))
      H5Dvlen_reclaim(mem, space, H5P_DEFAULT, buf);
    free(buf);
  }
  if (mem >= 0) H5Tclose(mem);
  if (type >= 0) H5Tclose(type);
  if (space >= 0) H5Sclose(space);
  H5Aclose(attr);
  return 0;
}

/* The attributes shardnet's readers open by name (h5util.c): read the same way here,
 * since a damaged attribute index can stop an iteration before it reaches one that
 * the parent would still find by name. */
static const char *const read_by_name[] = {"format", "format_version", "config",     "overrides", "class_names",
                                           "layer_names", "weight_names", "type", "step",      "epoch",
                                           "samples_seen", "seed",        "world_size"};

static void read_attrs(hid_t obj) {
  for (size_t k = 0; k < sizeof read_by_name / sizeof *read_by_name; k++)
    if (H5Aexists(obj, read_by_name[k]) > 0) read_attr(obj, read_by_name[k], NULL, NULL);
  H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, read_attr, NULL);
}

/* A dataset's description and its first element, which takes HDF5 through its
 * chunk index and filters. */
static void touch_dataset(hid_t set) {
  hid_t type = H5Dget_type(set), space = H5Dget_space(set), dcpl = H5Dget_create_plist(set);
  herr_t err = type < 0 || space < 0 || dcpl < 0 ? -1 : 0;
  if (err == 0 && H5Pget_nfilters(dcpl) < 0) err = -1;
  const int nd = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
  hsize_t dims[H5S_MAX_RANK] = {0};
  if (err == 0 && (nd < 0 || H5Sget_simple_extent_dims(space, dims, NULL) < 0)) err = -1;
  const H5T_class_t cls = type < 0 ? H5T_NO_CLASS : H5Tget_class(type);
  int empty = 0;
  for (int d = 0; d < nd; d++) empty |= dims[d] == 0;
  if (err == 0 && !empty && (cls == H5T_INTEGER || cls == H5T_FLOAT)) {
    hsize_t start[H5S_MAX_RANK] = {0}, one[H5S_MAX_RANK];
    for (int d = 0; d < nd; d++) one[d] = 1;
    hid_t mem = H5Screate_simple(nd > 0 ? nd : 1, one, NULL);
    double value[2];
    if (nd > 0) err = H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, one, NULL);
    if (err >= 0)
      err = H5Dread(set, cls == H5T_FLOAT ? H5T_NATIVE_DOUBLE : H5T_NATIVE_LLONG, mem, space, H5P_DEFAULT, value);
    H5Sclose(mem);
  }
  if (dcpl >= 0) H5Pclose(dcpl);
  if (type >= 0) H5Tclose(type);
  if (space >= 0) H5Sclose(space);
}

static herr_t visit(hid_t group, const char *name, const H5L_info_t *info, void *data) {
  (void)data;
  if (info->type != H5L_TYPE_HARD) return 0;  /* soft and external links lead elsewhere */
  hid_t obj = H5Oopen(group, name, H5P_DEFAULT);
  if (obj < 0) return 0;
  read_attrs(obj);
  if (H5Iget_type(obj) == H5I_DATASET) touch_dataset(obj);
  H5Oclose(obj);
  return 0;
}

/* In the child: the whole walk. HDF5's own errors (a checksum that does not match,
 * say) are left for the parent's reads to report; only a crash or a hang counts. */
static int walk(const char *path) {
  sn_h5_quiet();
  hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) return 1;
  read_attrs(file);
  H5Lvisit(file, H5_INDEX_NAME, H5_ITER_NATIVE, visit, NULL);
  H5Fclose(file);
  return 0;
}

static void child(const char *path) {
  /* the child's crash is the parent's finding: no inherited handler (a fuzzer's, a
   * sanitizer's death callback) may report it as the parent's, and no report is
   * printed on the user's terminal */
  static const int deadly[] = {SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE, SIGTERM, SIGUSR1};
  for (size_t i = 0; i < sizeof deadly / sizeof *deadly; i++) signal(deadly[i], SIG_DFL);
#ifdef SN_SANITIZED
  __sanitizer_set_death_callback(NULL);
#endif
  int null = open("/dev/null", O_WRONLY);
  if (null >= 0) {
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
  }
  _exit(walk(path));
}

/* SHARDNET_H5_PREFLIGHT: the time limit in seconds, 0 for no preflight. */
static int time_limit(void) {
  const char *text = getenv("SHARDNET_H5_PREFLIGHT");
  if (!text || !*text) return PREFLIGHT_SECONDS;
  char *end;
  const long seconds = strtol(text, &end, 10);
  return *end || seconds < 0 || seconds > 86400 ? PREFLIGHT_SECONDS : (int)seconds;
}

sn_status sn_h5_preflight(const char *path) {
  const int limit = time_limit();
  if (limit == 0) return SN_OK;
  /* the child's end of the pipe closes when it exits, however it exits: the parent
   * sleeps in poll until then, or until the limit */
  int done[2];
  if (pipe(done) != 0) return SN_OK;  /* no descriptors to spare: read unguarded, as before */
  /* no thread of ours may be inside HDF5 (not thread-safe) while the child copies it */
  sn_h5_lock();
  const pid_t pid = fork();
  if (pid == 0) {
    close(done[0]);
    child(path);
  }
  sn_h5_unlock();
  close(done[1]);
  if (pid < 0) {
    close(done[0]);
    return SN_OK;
  }
  struct pollfd wait_for = {.fd = done[0], .events = POLLIN};
  int ready;
  do ready = poll(&wait_for, 1, limit * 1000);
  while (ready < 0 && errno == EINTR);
  close(done[0]);
  int status = 0;
  /* (a process forked meanwhile by another thread may hold the pipe open too) */
  if (ready == 0 && waitpid(pid, &status, WNOHANG) != pid) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return sn_fail(SN_ERR_FORMAT, "%s is corrupt: reading its HDF5 metadata did not finish in %d s "
                   "(SHARDNET_H5_PREFLIGHT sets the limit)", path, limit);
  }
  while (ready != 0 && waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return SN_OK;  /* someone else reaped it (SIGCHLD ignored) */
  if (WIFSIGNALED(status))
    return sn_fail(SN_ERR_FORMAT, "%s is corrupt: its HDF5 metadata crashed the HDF5 library (signal %d) "
                   "when read in a separate process", path, WTERMSIG(status));
  return SN_OK;
}
