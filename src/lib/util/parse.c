/* SPDX-License-Identifier: MIT */
/* Checked number parsing. */
#include "common.h"
#include "util/parse.h"

#include <inttypes.h>

int cairn_parse_u64(uint64_t *out, const char *s, uint64_t max, const char *what,
		    struct cairn_error **err)
{
	uint64_t v = 0;
	const char *p;

	*out = 0;
	if (!*s)
		return cairn_error_set(err, CAIRN_EINVAL, "invalid %s '': empty", what);
	for (p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return cairn_error_set(err, CAIRN_EINVAL, "invalid %s '%s': not a number",
					       what, s);
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *p - '0', &v))
			return cairn_error_set(err, CAIRN_EINVAL, "invalid %s '%s': too large",
					       what, s);
	}
	if (v > max)
		return cairn_error_set(err, CAIRN_EINVAL, "invalid %s '%s': larger than %" PRIu64,
				       what, s, max);
	*out = v;
	return 0;
}
