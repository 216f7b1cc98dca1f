/* SPDX-License-Identifier: MIT */
/* The lexer of templates: text, actions and the tokens in them, with trim markers. */
#include "common.h"
#include "config/template_internal.h"
#include "util/buf.h"

#include <ctype.h>

bool tpl_is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static bool is_alnum(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_';
}

static struct tok *emit(struct lexer *l, enum tok_kind kind, size_t off)
{
	struct tok *t;

	l->v = tpl_grow(l->v, &l->alloc, l->n, sizeof(*l->v));
	t = &l->v[l->n++];
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->off = off;
	return t;
}

static void emit_text(struct lexer *l, size_t start, size_t end, bool trim_right)
{
	const char *s = l->src->text;
	struct tok *t;

	if (l->trim_next)
		while (start < end && tpl_is_space(s[start]))
			start++;
	l->trim_next = false;
	if (trim_right)
		while (end > start && tpl_is_space(s[end - 1]))
			end--;
	if (start == end)
		return;
	t = emit(l, T_TEXT, start);
	t->s = (char *)s + start;
	t->len = end - start;
}

/* At `p`: "}}" or whitespace then "-}}". Returns the length of the delimiter, or 0. */
static size_t right_delim(const char *s, size_t len, size_t p, bool *trim)
{
	*trim = false;
	if (p + 2 <= len && s[p] == '}' && s[p + 1] == '}')
		return 2;
	if (p + 4 <= len && tpl_is_space(s[p]) && s[p + 1] == '-' && s[p + 2] == '}' &&
	    s[p + 3] == '}') {
		*trim = true;
		return 4;
	}
	return 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* `n` digits of base 8 or 16 at s[p..len) as a value, or -1. */
static long digits(const char *s, size_t len, size_t p, int n, int base)
{
	long v = 0;

	if (p + (size_t)n > len)
		return -1;
	for (int i = 0; i < n; i++) {
		int d = hex_digit(s[p + (size_t)i]);

		if (d < 0 || d >= base)
			return -1;
		v = v * base + d;
	}
	return v;
}

/*
 * The escape at s[*p] (just after its backslash) into `b`, as Go's strconv.Unquote reads a
 * double-quoted string: \a \b \f \n \r \t \v \\ \", \NNN (octal, a byte), \xHH (a byte),
 * \uHHHH and \UHHHHHHHH (a code point, as UTF-8). *p ends on its last character; -1 when Go
 * would not read it (but \', which cairn always took, Go refuses).
 */
static int lex_escape(struct cairn_buf *b, const char *s, size_t len, size_t *p)
{
	static const char simple[] = "a\ab\bf\fn\nr\rt\tv\v\\\\\"\"''";
	char u[4];
	long v;

	for (size_t i = 0; simple[i]; i += 2) {
		if (s[*p] == simple[i]) {
			cairn_buf_addch(b, simple[i + 1]);
			return 0;
		}
	}
	switch (s[*p]) {
	case 'x':
		v = digits(s, len, *p + 1, 2, 16);
		if (v < 0)
			return -1;
		cairn_buf_addch(b, (char)v);
		*p += 2;
		return 0;
	case 'u':
	case 'U':
		v = digits(s, len, *p + 1, s[*p] == 'u' ? 4 : 8, 16);
		if (v < 0 || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
			return -1;
		cairn_buf_add(b, u, tpl_utf8_put(u, v));
		*p += s[*p] == 'u' ? 4 : 8;
		return 0;
	default:
		v = digits(s, len, *p, 3, 8);
		if (v < 0 || v > 255)
			return -1;
		cairn_buf_addch(b, (char)v);
		*p += 2;
		return 0;
	}
}

static int lex_string(struct lexer *l, size_t *pp, struct cairn_error **err)
{
	const char *s = l->src->text;
	size_t len = l->src->len, start = *pp, p = start + 1;
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	struct tok *t;

	if (s[start] == '`') {
		while (p < len && s[p] != '`')
			p++;
		if (p >= len)
			return tpl_fail_at(err, l->src, start, "unterminated raw quoted string");
		cairn_buf_add(&b, s + start + 1, p - start - 1);
	} else {
		for (;; p++) {
			if (p >= len || s[p] == '\n')
				return tpl_fail_at(err, l->src, start,
						   "unterminated quoted string");
			if (s[p] == '"')
				break;
			if (s[p] != '\\') {
				cairn_buf_addch(&b, s[p]);
				continue;
			}
			p++;
			if (p >= len)
				return tpl_fail_at(err, l->src, start,
						   "unterminated quoted string");
			if (lex_escape(&b, s, len, &p) < 0)
				return tpl_fail_at(err, l->src, p - 1,
						   "unsupported escape sequence '\\%c'",
						   isprint((unsigned char)s[p]) ? s[p] : '?');
		}
	}
	t = emit(l, T_STRING, start);
	t->s = tpl_nstrdup(l->c, b.buf, b.len);
	t->len = b.len;
	*pp = p + 1;
	return 0;
}

static int lex_number(struct lexer *l, size_t *pp, struct cairn_error **err)
{
	const char *s = l->src->text;
	size_t len = l->src->len, start = *pp, p = start;
	char buf[32];
	char *end = NULL;
	long long v;
	struct tok *t;

	if (s[p] == '-' || s[p] == '+')
		p++;
	while (p < len && is_alnum(s[p]))
		p++;
	if (p - start >= sizeof(buf) || (p < len && s[p] == '.'))
		return tpl_fail_at(err, l->src, start, "unsupported number");
	memcpy(buf, s + start, p - start);
	buf[p - start] = '\0';
	errno = 0;
	v = strtoll(buf, &end, 0);
	if (errno || *end)
		return tpl_fail_at(err, l->src, start, "bad number syntax: '%s'", buf);
	t = emit(l, T_NUMBER, start);
	t->num = v;
	*pp = p;
	return 0;
}

/* Lex one action from just after "{{" (and its trim marker) up to and including "}}". */
static int lex_action(struct lexer *l, size_t left, size_t *pp, struct cairn_error **err)
{
	const char *s = l->src->text;
	size_t len = l->src->len, p = *pp, n;
	bool trim, space = true;
	struct tok *t;

	emit(l, T_LEFT, left);
	for (;;) {
		n = right_delim(s, len, p, &trim);
		if (n) {
			emit(l, T_RIGHT, p);
			l->trim_next = trim;
			*pp = p + n;
			return 0;
		}
		if (p >= len)
			return tpl_fail_at(err, l->src, left, "unclosed action");
		if (tpl_is_space(s[p])) {
			space = true;
			p++;
			continue;
		}
		if (s[p] == '"' || s[p] == '`') {
			if (lex_string(l, &p, err) < 0)
				return CAIRN_EINVAL;
		} else if (isdigit((unsigned char)s[p]) ||
			   ((s[p] == '-' || s[p] == '+') && p + 1 < len &&
			    isdigit((unsigned char)s[p + 1]))) {
			if (lex_number(l, &p, err) < 0)
				return CAIRN_EINVAL;
		} else if (s[p] == '.' || s[p] == '$' || is_alnum(s[p])) {
			size_t start = p;
			enum tok_kind kind = s[p] == '.' ? T_FIELD : s[p] == '$' ? T_VAR : T_IDENT;

			if (kind != T_IDENT)
				p++;
			while (p < len && is_alnum(s[p]))
				p++;
			if (kind == T_FIELD && p == start + 1)
				kind = T_DOT;
			t = emit(l, kind, start);
			t->s = tpl_nstrdup(l->c, s + start, p - start);
			t->len = p - start;
		} else if (s[p] == ':' && p + 1 < len && s[p + 1] == '=') {
			emit(l, T_DECLARE, p);
			p += 2;
		} else {
			static const char single[] = "|()=,";
			static const enum tok_kind kinds[] = {T_PIPE, T_LPAREN, T_RPAREN, T_ASSIGN,
							      T_COMMA};
			const char *k = s[p] ? strchr(single, s[p]) : NULL;

			if (!k)
				return tpl_fail_at(err, l->src, p, "unexpected '%c' in action",
						   isprint((unsigned char)s[p]) ? s[p] : '?');
			emit(l, kinds[k - single], p);
			p++;
		}
		l->v[l->n - 1].space_before = space;
		space = false;
	}
}

int tpl_lex(struct lexer *l, struct cairn_error **err)
{
	const char *s = l->src->text;
	size_t len = l->src->len, p = 0;

	while (p < len) {
		const char *at = memmem(s + p, len - p, "{{", 2);
		size_t a, q;
		bool ltrim;

		if (!at) {
			emit_text(l, p, len, false);
			break;
		}
		a = (size_t)(at - s);
		ltrim = a + 3 < len && s[a + 2] == '-' && tpl_is_space(s[a + 3]);
		emit_text(l, p, a, ltrim);
		q = a + 2 + (ltrim ? 2 : 0);
		if (q + 1 < len && s[q] == '/' && s[q + 1] == '*') {
			const char *e = memmem(s + q + 2, len - q - 2, "*/", 2);
			size_t n;
			bool trim;

			if (!e)
				return tpl_fail_at(err, l->src, a, "unclosed comment");
			q = (size_t)(e - s) + 2;
			n = right_delim(s, len, q, &trim);
			if (!n)
				return tpl_fail_at(err, l->src, a,
						   "comment ends before closing delimiter");
			l->trim_next = trim;
			p = q + n;
			continue;
		}
		if (lex_action(l, a, &q, err) < 0)
			return CAIRN_EINVAL;
		p = q;
	}
	emit(l, T_EOF, len);
	return 0;
}
