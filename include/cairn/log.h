/* SPDX-License-Identifier: MIT */
/* Library logging goes through one handler that the application installs. */
#ifndef CAIRN_LOG_H
#define CAIRN_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include "cairn/common.h"

enum cairn_log_level {
	CAIRN_LOG_ERROR = 0,
	CAIRN_LOG_WARN = 1,
	CAIRN_LOG_INFO = 2,
	CAIRN_LOG_DEBUG = 3,
	CAIRN_LOG_TRACE = 4,
};

typedef void (*cairn_log_fn)(enum cairn_log_level level, const char *msg, void *userdata);

/**
 * Install the handler that receives every message at or below `max_level`. A NULL handler
 * silences the library (the default). Not thread-safe: call before starting work.
 */
CAIRN_API void cairn_log_set_handler(cairn_log_fn fn, enum cairn_log_level max_level,
				     void *userdata);

/** True when a message at `level` would reach the handler (to skip expensive formatting). */
CAIRN_API int cairn_log_enabled(enum cairn_log_level level);

CAIRN_API void cairn_log(enum cairn_log_level level, const char *fmt, ...) CAIRN_PRINTF(2, 3);

/**
 * Length of the valid UTF-8 sequence at `p` (at most `n` bytes; no overlong form, surrogate or
 * code point past U+10FFFF), or 0: for printing text, as JSON say, that must stay UTF-8.
 */
CAIRN_API size_t cairn_utf8_len(const unsigned char *p, size_t n);

#endif
