/* SPDX-License-Identifier: MIT */
/* Text from outside cairn made safe to show: control bytes and broken UTF-8 as \xNN. */
#include "common.h"
#include "util/text.h"

size_t cairn_utf8_len(const unsigned char *p, size_t n)
{
	size_t len = *p >= 0xf5 ? 0 : *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : *p >= 0xc2 ? 2 : 0;

	if (len == 0 || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	/* overlong forms, surrogates and code points past U+10FFFF */
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))
		return 0;
	return len;
}

/* Bytes of the character at `p` that show as themselves, or 0 when it must be escaped. */
static size_t shown_len(const unsigned char *p, size_t n, bool keep_newlines)
{
	size_t u;

	if (*p == '\t' || (*p == '\n' && keep_newlines))
		return 1;
	if (*p < 0x20 || *p == 0x7f)
		return 0;
	if (*p < 0x80)
		return 1;
	u = cairn_utf8_len(p, n);
	if (u == 2 && p[0] == 0xc2 && p[1] < 0xa0) /* C1: U+0080..U+009F */
		return 0;
	/*
	 * Marks that reorder or break what follows ("trojan source"): U+200E/U+200F, U+2028..U+202E
	 * (line and paragraph separators, bidi embeddings and overrides), U+2066..U+2069 (isolates)
	 */
	if (u == 3 && p[0] == 0xe2 &&
	    ((p[1] == 0x80 && (p[2] == 0x8e || p[2] == 0x8f || (p[2] >= 0xa8 && p[2] <= 0xae))) ||
	     (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9)))
		return 0;
	return u;
}

/* How many of the first `n` bytes of `p` show as themselves. */
static size_t shown_prefix(const unsigned char *p, size_t n, bool keep_newlines)
{
	size_t i = 0, u;

	while (i < n && (u = shown_len(p + i, n - i, keep_newlines)))
		i += u;
	return i;
}

bool cairn_text_shows(const char *s, size_t n, bool keep_newlines)
{
	return shown_prefix((const unsigned char *)s, n, keep_newlines) == n;
}

void cairn_buf_add_shown(struct cairn_buf *b, const char *s, size_t n, bool keep_newlines)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		size_t ok = shown_prefix(p + i, n - i, keep_newlines);

		cairn_buf_add(b, s + i, ok);
		i += ok;
		if (i < n)
			cairn_buf_addf(b, "\\x%02x", p[i++]);
	}
}

char *cairn_text_make_shown(char *s, bool keep_newlines)
{
	struct cairn_buf b = CAIRN_BUF_INIT;
	size_t n = strlen(s);

	if (cairn_text_shows(s, n, keep_newlines))
		return s;
	cairn_buf_add_shown(&b, s, n, keep_newlines);
	free(s);
	return cairn_buf_detach(&b, NULL);
}
