/* SPDX-License-Identifier: MIT */
/* The lexing HTTP header parsers share (RFC 7230 tokens, quoted strings, list separators). */
#ifndef CAIRN_REGISTRY_HDRLEX_H
#define CAIRN_REGISTRY_HDRLEX_H

#include <stdbool.h>
#include <stddef.h>

#include "cairn/common.h"
#include "util/buf.h"

/* room for a reason; reasons name offsets, never input bytes (headers can hold secrets) */
#define CAIRN_LEX_WHY_MAX 128

struct cairn_lex {
	const char *s;
	size_t len;
	size_t pos;
	int code; /* for parsers that fail with several codes (CAIRN_EINVAL, CAIRN_ETOOBIG) */
	char why[CAIRN_LEX_WHY_MAX];
};

bool cairn_lex_is_ws(char c);
bool cairn_lex_is_alpha(char c);
bool cairn_lex_is_digit(char c);
/* RFC 7230 tchar */
bool cairn_lex_is_tchar(char c);
/* What a quoted string may hold, bare or after a backslash: HTAB, SP, VCHAR, obs-text. */
bool cairn_lex_is_qchar(char c);
char cairn_lex_lower(char c);
/* `n` bytes at `a` equal the lower-case NUL-terminated `b`, ignoring ASCII case. */
bool cairn_lex_ieq(const char *a, size_t n, const char *b);
/* Record why parsing stopped (in lx->why) and return -1. */
int cairn_lex_fail(struct cairn_lex *lx, const char *fmt, ...) CAIRN_PRINTF(2, 3);
bool cairn_lex_at_end(const struct cairn_lex *lx);
char cairn_lex_peek(const struct cairn_lex *lx);
void cairn_lex_skip_ws(struct cairn_lex *lx);
/* Length of the token at the position (0 when none); the position moves past it. */
size_t cairn_lex_scan_token(struct cairn_lex *lx);
/* A quoted string at the position into `val` (unescaped); -1 with lx->why when malformed. */
int cairn_lex_parse_quoted(struct cairn_lex *lx, struct cairn_buf *val);

#endif
