/* SPDX-License-Identifier: MIT */
/* Fuzz target: slugs of any bytes are valid for their format, and valid inputs are kept. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/slug.h"

static size_t max_len(enum cairn_slug_format f)
{
	return f == CAIRN_SLUG_TAG ? 128 : f == CAIRN_SLUG_NS ? 63 : 53;
}

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool alnum(char c)
{
	return lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/*
 * The keep-as-is regexes of spec section 5, written out independently of slug.c:
 * tag ^[A-Za-z0-9_][A-Za-z0-9_.-]*$, ns ^[a-z0-9]([a-z0-9-]*[a-z0-9])?$,
 * release ^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$
 */
static bool matches(enum cairn_slug_format f, const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool edge = i == 0 || i == n - 1;

		switch (f) {
		case CAIRN_SLUG_TAG:
			if (!(alnum(c) || c == '_' || (i > 0 && (c == '.' || c == '-'))))
				return false;
			break;
		case CAIRN_SLUG_NS:
			if (!(lower_alnum(c) || (!edge && c == '-')))
				return false;
			break;
		case CAIRN_SLUG_RELEASE:
			if (!(alnum(c) || (!edge && (c == '-' || c == '_' || c == '.'))))
				return false;
			break;
		}
	}
	return true;
}

static void check(enum cairn_slug_format f, const char *in, size_t len)
{
	char *out = cairn_slugify(f, in, len);
	size_t n = strlen(out);

	if (!matches(f, out, n) || n > max_len(f))
		abort();
	/* an input that is already valid and short enough comes back unchanged */
	if (matches(f, in, len) && len < max_len(f) && (n != len || memcmp(out, in, len) != 0))
		abort();
	/* a slugged input ends in "-<hash>" (or is the hash), and a '-' never doubles before it */
	if (!(matches(f, in, len) && len < max_len(f))) {
		const char *dash = strrchr(out, '-');
		const char *hash = dash ? dash + 1 : out;

		if (strspn(hash, "0123456789abcdef") != strlen(hash) || strlen(hash) > 8)
			abort();
		if (dash && (dash == out || dash[-1] == '-'))
			abort();
	}
	/* a slug under the limit is kept as is by a second pass */
	if (n < max_len(f)) {
		char *again = cairn_slugify(f, out, n);

		if (strcmp(again, out) != 0)
			abort();
		free(again);
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum cairn_slug_format f;
	char *s;

	/* slugify takes a length: feed the raw bytes, NULs included */
	check(CAIRN_SLUG_TAG, (const char *)data, size);
	check(CAIRN_SLUG_NS, (const char *)data, size);
	check(CAIRN_SLUG_RELEASE, (const char *)data, size);

	s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	if (cairn_slug_format_parse(&f, s, NULL) == 0 && (size_t)f > CAIRN_SLUG_RELEASE)
		abort();
	free(s);
	return 0;
}
