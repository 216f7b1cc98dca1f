/* SPDX-License-Identifier: MIT */
/* Checked number parsing (atoi and friends are banned). */
#ifndef CAIRN_UTIL_PARSE_H
#define CAIRN_UTIL_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/error.h"

/*
 * Parse all of `s` as a decimal unsigned integer no larger than `max`. No sign, no spaces, no
 * empty string. CAIRN_EINVAL names `what` on failure.
 */
int cairn_parse_u64(uint64_t *out, const char *s, uint64_t max, const char *what,
		    struct cairn_error **err);

/*
 * An RFC 3339 date-time ("2006-01-02T15:04:05.999999999Z07:00", `len` bytes, any fraction) to
 * unix seconds into *out; -1 (and *out untouched) when it is not one.
 */
int cairn_parse_rfc3339(int64_t *out, const char *s, size_t len);

/* A Go duration ("1m30s", "1.5s", "500ms") at s[0..len) in nanoseconds; false if invalid. */
bool cairn_parse_duration(int64_t *out, const char *s, size_t len);

#endif
