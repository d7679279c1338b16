/* Status codes and the last-error message every library function leaves behind. */
#ifndef SHARDNET_STATUS_H
#define SHARDNET_STATUS_H

typedef enum {
  SN_OK = 0,
  SN_ERR_INVALID,  /* a bad argument or value */
  SN_ERR_CONFIG,   /* a configuration file or key is wrong */
  SN_ERR_SHAPE,    /* shapes that cannot work together */
  SN_ERR_IO,       /* a file could not be read or written */
  SN_ERR_FORMAT,   /* a file exists but is not what it should be */
  SN_ERR_NOMEM,    /* an allocation failed */
  SN_ERR_NUMERIC,  /* NaN or Inf where a number was expected */
  SN_ERR_MPI,      /* an MPI call failed or a rank was lost */
  SN_ERR_UNSUPPORTED
} sn_status;

/* Short name of a status ("config error", ...). */
const char *sn_status_name(sn_status status);

/* Records a printf-style message as the calling thread's last error and returns
 * `status`, so failures read `return sn_fail(SN_ERR_IO, "cannot open %s", path);`. */
sn_status sn_fail(sn_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefixes the current last error with more context ("while loading X: ..."). */
sn_status sn_fail_context(sn_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The message of the most recent failure on this thread ("" when none). */
const char *sn_last_error(void);
void sn_clear_error(void);

/* Propagates a non-OK status to the caller. */
#define SN_TRY(expr)                       \
  do {                                     \
    sn_status sn_try_status_ = (expr);     \
    if (sn_try_status_ != SN_OK) return sn_try_status_; \
  } while (0)

/* An internal invariant; stays on in every build (it does not depend on NDEBUG). */
#define SN_ASSERT(cond)                                                        \
  do {                                                                         \
    if (!(cond)) sn_assert_failed(#cond, __FILE__, __LINE__);                  \
  } while (0)
_Noreturn void sn_assert_failed(const char *cond, const char *file, int line);

#endif
