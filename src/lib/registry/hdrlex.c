/* SPDX-License-Identifier: MIT */
/* The lexing HTTP header parsers share (RFC 7230 tokens, quoted strings). */
#include "common.h"
#include "registry/hdrlex.h"

#include <stdarg.h>

bool cairn_lex_is_ws(char c)
{
	return c == ' ' || c == '\t';
}

bool cairn_lex_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool cairn_lex_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 7230 tchar */
bool cairn_lex_is_tchar(char c)
{
	return cairn_lex_is_alpha(c) || cairn_lex_is_digit(c) ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/* What a quoted string may hold, bare or after a backslash: HTAB, SP, VCHAR, obs-text. */
bool cairn_lex_is_qchar(char c)
{
	unsigned char u = (unsigned char)c;

	return u == '\t' || (u >= 0x20 && u != 0x7f);
}

char cairn_lex_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* `n` bytes at `a` equal the lower-case NUL-terminated `b`, ignoring ASCII case. */
bool cairn_lex_ieq(const char *a, size_t n, const char *b)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] == '\0' || cairn_lex_lower(a[i]) != b[i])
			return false;
	return b[i] == '\0';
}

int cairn_lex_fail(struct cairn_lex *lx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(lx->why, sizeof(lx->why), fmt, ap);
	va_end(ap);
	return -1;
}

bool cairn_lex_at_end(const struct cairn_lex *lx)
{
	return lx->pos >= lx->len;
}

char cairn_lex_peek(const struct cairn_lex *lx)
{
	return cairn_lex_at_end(lx) ? '\0' : lx->s[lx->pos];
}

void cairn_lex_skip_ws(struct cairn_lex *lx)
{
	while (!cairn_lex_at_end(lx) && cairn_lex_is_ws(lx->s[lx->pos]))
		lx->pos++;
}

size_t cairn_lex_scan_token(struct cairn_lex *lx)
{
	size_t start = lx->pos;

	while (!cairn_lex_at_end(lx) && cairn_lex_is_tchar(lx->s[lx->pos]))
		lx->pos++;
	return lx->pos - start;
}

/* A quoted-string at lx->pos (on its '"'), unescaped into `val`. */
int cairn_lex_parse_quoted(struct cairn_lex *lx, struct cairn_buf *val)
{
	size_t start = lx->pos++;

	while (!cairn_lex_at_end(lx)) {
		char c = lx->s[lx->pos++];

		if (c == '"')
			return 0;
		if (c == '\\') {
			if (cairn_lex_at_end(lx))
				break;
			c = lx->s[lx->pos++];
		}
		if (!cairn_lex_is_qchar(c))
			return cairn_lex_fail(lx,
					      "control character in quoted string at offset %zu",
					      lx->pos - 1);
		cairn_buf_addch(val, c);
	}
	return cairn_lex_fail(lx, "unterminated quoted string at offset %zu", start);
}
