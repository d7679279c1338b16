/* Thread-local last-error message and status names. */
#include "shardnet/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SN_ERROR_CAPACITY 1024
static _Thread_local char last_error[SN_ERROR_CAPACITY];

const char *sn_status_name(sn_status status) {
  switch (status) {
    case SN_OK: return "ok";
    case SN_ERR_INVALID: return "invalid argument";
    case SN_ERR_CONFIG: return "config error";
    case SN_ERR_SHAPE: return "shape error";
    case SN_ERR_IO: return "I/O error";
    case SN_ERR_FORMAT: return "format error";
    case SN_ERR_NOMEM: return "out of memory";
    case SN_ERR_NUMERIC: return "numeric error";
    case SN_ERR_MPI: return "MPI error";
    case SN_ERR_UNSUPPORTED: return "unsupported";
  }
  return "unknown status";
}

sn_status sn_fail(sn_status status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return status;
}

sn_status sn_fail_context(sn_status status, const char *fmt, ...) {
  char previous[SN_ERROR_CAPACITY];
  memcpy(previous, last_error, sizeof previous);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  if (previous[0]) {
    /* "context: previous message", cut at the buffer's end */
    size_t used = strlen(last_error);
    const char *parts[2] = {": ", previous};
    for (int i = 0; i < 2; i++) {
      size_t room = sizeof last_error - 1 - used, len = strlen(parts[i]);
      if (len > room) len = room;
      memcpy(last_error + used, parts[i], len);
      used += len;
    }
    last_error[used] = '\0';
  }
  return status;
}

const char *sn_last_error(void) { return last_error; }

void sn_clear_error(void) { last_error[0] = '\0'; }

void sn_assert_failed(const char *cond, const char *file, int line) {
  fprintf(stderr, "shardnet: internal error: assertion '%s' failed at %s:%d\n", cond, file, line);
  abort();
}
