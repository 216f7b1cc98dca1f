/* SPDX-License-Identifier: MIT */
/* The one error convention of libcairn: negative codes plus an explicit error object. */
#ifndef CAIRN_ERROR_H
#define CAIRN_ERROR_H

#include "cairn/common.h"

/**
 * Every fallible function returns 0 on success or one of these negative codes, and on failure
 * only sets its `struct cairn_error **err` argument (the last one). The codes are stable.
 */
enum cairn_code {
	CAIRN_OK = 0,
	CAIRN_EINTERNAL = -1,
	CAIRN_EINVAL = -2,
	CAIRN_ENOTFOUND = -3,
	CAIRN_EDIGEST = -4,
	CAIRN_EAUTH = -5,
	CAIRN_ENET = -6,
	CAIRN_EHTTP = -7,
	CAIRN_ETOOBIG = -8,
	CAIRN_EOS = -9,
	CAIRN_EINTERRUPTED = -10, /* stopped by cairn_interrupt() (a signal) */
	CAIRN_EUSAGE = -11,	  /* the request does not fit together (the CLI exits 2) */
};

struct cairn_error {
	enum cairn_code code;
	int sys_errno;	 /* errno at the root cause, or 0 */
	int http_status; /* HTTP status at the root cause, or 0 */
	char *msg;	 /* "outer context: inner context: root cause" */
};

/**
 * Set `*err` (which must be NULL or is replaced only if NULL) to a new error with code `c` and a
 * printf-formatted message. Returns `c`, so callers write `return cairn_error_set(...)`. If `err`
 * is NULL the error is discarded.
 */
CAIRN_API int cairn_error_set(struct cairn_error **err, enum cairn_code c, const char *fmt, ...)
	CAIRN_PRINTF(3, 4);

/**
 * Like cairn_error_set() with CAIRN_EOS, appending ": strerror(errno)" and keeping errno in
 * `sys_errno`. errno is read before anything else happens.
 */
CAIRN_API int cairn_error_set_errno(struct cairn_error **err, const char *fmt, ...)
	CAIRN_PRINTF(2, 3);

/**
 * Prefix the message of `*err` with a printf-formatted context and ": ". Returns the error's code
 * (CAIRN_EINTERNAL if `*err` is unexpectedly NULL, in which case an error is created).
 */
CAIRN_API int cairn_error_wrap(struct cairn_error **err, const char *fmt, ...) CAIRN_PRINTF(2, 3);

/** Free an error; accepts NULL. */
CAIRN_API void cairn_error_free(struct cairn_error *err);

/** Free `*err` and set it to NULL: for callers that handle an error and carry on. */
CAIRN_API void cairn_error_clear(struct cairn_error **err);

/** A short stable name for a code, e.g. "EINVAL". */
CAIRN_API const char *cairn_code_name(int code);

#endif
