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

/* ---- RFC 3339 dates ---- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int month_days(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/* Exactly `n` decimal digits at `s`. */
static int digits(int *out, const char *s, size_t n)
{
	*out = 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		*out = *out * 10 + (s[i] - '0');
	}
	return 0;
}

int cairn_parse_rfc3339(int64_t *out, const char *s, size_t len)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	size_t i = 19;

	if (len < 20)
		return -1;
	if (digits(&y, s, 4) < 0 || s[4] != '-' || digits(&mo, s + 5, 2) < 0 || s[7] != '-' ||
	    digits(&d, s + 8, 2) < 0 || (s[10] != 'T' && s[10] != 't') ||
	    digits(&h, s + 11, 2) < 0 || s[13] != ':' || digits(&mi, s + 14, 2) < 0 ||
	    s[16] != ':' || digits(&sec, s + 17, 2) < 0)
		return -1;
	if (s[i] == '.') {
		size_t start = ++i;

		while (i < len && is_digit(s[i]))
			i++;
		if (i == start)
			return -1;
	}
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		sign = s[i] == '-' ? -1 : 1;
		if (len - i < 6 || digits(&oh, s + i + 1, 2) < 0 || s[i + 3] != ':' ||
		    digits(&om, s + i + 4, 2) < 0)
			return -1;
		i += 6;
	} else {
		return -1;
	}
	if (i != len || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 || mi > 59 ||
	    sec > 60 || oh > 23 || om > 59)
		return -1;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
	       sign * (oh * 3600 + om * 60);
	return 0;
}

/* A Go duration ("1m30s", "1.5s", "500ms") at s[0..len) in nanoseconds; false if invalid. */
bool cairn_parse_duration(int64_t *out, const char *s, size_t len)
{
	static const struct {
		const char *unit;
		uint64_t ns;
	} units[] = {
		{"ns", 1},
		{"us", 1000},
		{"\xc2\xb5s", 1000},
		{"ms", 1000000},
		{"s", 1000000000ull},
		{"m", 60000000000ull},
		{"h", 3600000000000ull},
	};
	const char *end = s + len;
	uint64_t total = 0;

	*out = 0;
	if (len == 1 && s[0] == '0')
		return true;
	if (!len)
		return false;
	while (s < end) {
		uint64_t whole = 0, frac = 0, scale = 1, part, fpart;
		bool digits = false;
		size_t u, ulen = 0;

		for (; s < end && *s >= '0' && *s <= '9'; s++, digits = true)
			if (__builtin_mul_overflow(whole, 10, &whole) ||
			    __builtin_add_overflow(whole, (uint64_t)(*s - '0'), &whole))
				return false;
		if (s < end && *s == '.')
			for (s++; s < end && *s >= '0' && *s <= '9'; s++, digits = true)
				if (scale < 1000000000000ull) {
					frac = frac * 10 + (uint64_t)(*s - '0');
					scale *= 10;
				}
		if (!digits)
			return false;
		for (u = 0; u < ARRAY_SIZE(units); u++) {
			ulen = strlen(units[u].unit);
			if ((size_t)(end - s) >= ulen && memcmp(s, units[u].unit, ulen) == 0)
				break;
		}
		if (u == ARRAY_SIZE(units))
			return false;
		s += ulen;
		if (__builtin_mul_overflow(whole, units[u].ns, &part))
			return false;
		fpart = (uint64_t)((double)frac * (double)units[u].ns / (double)scale);
		if (__builtin_add_overflow(total, part, &total) ||
		    __builtin_add_overflow(total, fpart, &total) || total > INT64_MAX)
			return false;
	}
	*out = (int64_t)total;
	return true;
}
