/* SPDX-License-Identifier: MIT */
/* Checked number parsing (atoi and friends are banned). */
#ifndef CAIRN_UTIL_PARSE_H
#define CAIRN_UTIL_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/error.h"

/*
 * Parse all of `s` as a decimal unsigned integer no larger than `max`. No sign, no spaces, no
 * empty string. CAIRN_EINVAL names `what` on failure.
 */
int cairn_parse_u64(uint64_t *out, const char *s, uint64_t max, const char *what,
		    struct cairn_error **err);

#endif
