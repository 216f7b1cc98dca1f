/* SPDX-License-Identifier: MIT */
/* Sprig's case functions: title, untitle, and xstrings' camelcase, snakecase and kebabcase. */
#include "common.h"
#include "config/template_internal.h"
#include "util/buf.h"

/*
 * Runes are classed as Go's unicode package would class ASCII ones; a rune past ASCII is
 * "other" (neither letter, digit, punctuation nor space), which is where cairn differs from
 * Sprig for non-ASCII letters.
 */
enum rclass { R_CONN, R_PUNCT, R_UPPER, R_LOWER, R_DIGIT, R_OTHER };

static size_t rune_at(const char *s, size_t len, size_t i, enum rclass *cls)
{
	unsigned char c = (unsigned char)s[i];
	size_t n = 1;

	if (c >= 0x80) {
		while (i + n < len && ((unsigned char)s[i + n] & 0xc0) == 0x80)
			n++;
		*cls = R_OTHER;
	} else if (c == '-' || c == '_' || c == ' ' || (c >= '\t' && c <= '\r')) {
		*cls = R_CONN; /* xstrings' isConnector: '-', '_' and white space */
	} else if (c >= 'A' && c <= 'Z') {
		*cls = R_UPPER;
	} else if (c >= 'a' && c <= 'z') {
		*cls = R_LOWER;
	} else if (c >= '0' && c <= '9') {
		*cls = R_DIGIT;
	} else if (strchr("!\"#%&'()*,./:;?@[\\]{}", c)) {
		*cls = R_PUNCT; /* unicode.IsPunct; $+<=>^`|~ are symbols */
	} else {
		*cls = R_OTHER;
	}
	return n;
}

static bool is_alpha(enum rclass c)
{
	return c == R_UPPER || c == R_LOWER;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static char upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

enum wtype { W_INVALID, W_NUMBER, W_UPPER, W_ALPHA, W_CONN, W_PUNCT, W_OTHER };

struct word {
	enum wtype t;
	const char *s;
	size_t len;
};

/* Go's xstrings nextWord: the word that starts `s` (len bytes), W_INVALID at the end. */
static struct word next_word(const char *s, size_t len)
{
	struct word w = {W_INVALID, s, 0};
	enum rclass c, first;
	size_t off, n, prev;

	if (!len)
		return w;
	off = rune_at(s, len, 0, &first);
	switch (first) {
	case R_CONN:
	case R_PUNCT:
	case R_LOWER:
	case R_DIGIT:
		w.t = first == R_CONN	 ? W_CONN
		      : first == R_PUNCT ? W_PUNCT
		      : first == R_LOWER ? W_ALPHA
					 : W_NUMBER;
		while (off < len && (n = rune_at(s, len, off, &c), c == first))
			off += n;
		break;
	case R_UPPER:
		w.t = W_UPPER;
		if (off >= len)
			break;
		n = rune_at(s, len, off, &c);
		if (c == R_UPPER) {
			prev = n;
			off += n;
			while (off < len && (n = rune_at(s, len, off, &c), c == R_UPPER)) {
				prev = n;
				off += n;
			}
			/* "HTTPServer": the last capital starts the next word */
			if (off < len && is_alpha(c))
				off -= prev;
		} else if (c == R_LOWER) {
			off += n;
			while (off < len && (n = rune_at(s, len, off, &c), c == R_LOWER))
				off += n;
		}
		break;
	case R_OTHER:
		w.t = W_OTHER;
		while (off < len && (n = rune_at(s, len, off, &c), c == R_OTHER))
			off += n;
		break;
	}
	w.len = off;
	return w;
}

/* xstrings toLower: capitals and connectors of an upper-case or connector word changed. */
static void put_lower(struct cairn_buf *b, const struct word *w, char conn)
{
	if (w->t != W_UPPER && w->t != W_CONN) {
		cairn_buf_add(b, w->s, w->len);
		return;
	}
	for (size_t i = 0; i < w->len;) {
		enum rclass c;
		size_t n = rune_at(w->s, w->len, i, &c);

		if (c == R_CONN)
			cairn_buf_addch(b, conn);
		else
			cairn_buf_addch(b, lower(w->s[i]));
		for (size_t k = 1; k < n; k++)
			cairn_buf_addch(b, w->s[i + k]);
		i += n;
	}
}

/* The word after `w` in the string that ends at `end`. */
static struct word after(const struct word *w, const char *end)
{
	return next_word(w->s + w->len, (size_t)(end - (w->s + w->len)));
}

static bool more(const struct word *w, const char *end)
{
	return w->s + w->len < end;
}

/* A number word and the letters and digits after it, lowered; returns the word after them. */
static struct word digits_run(struct cairn_buf *b, struct word w, const char *end, char conn)
{
	while (w.t == W_ALPHA || w.t == W_NUMBER) {
		put_lower(b, &w, conn);
		w = after(&w, end);
	}
	return w;
}

/* xstrings camelCaseToLowerCase, the heart of snakecase and kebabcase, step for step. */
static void to_lower_case(struct cairn_buf *b, const char *s, size_t len, char conn)
{
	const char *end = s + len;
	struct word w = next_word(s, len);

	while (more(&w, end)) {
		struct word prev = w, last;

		if (w.t != W_CONN)
			put_lower(b, &w, conn);
		w = after(&w, end);
		switch (prev.t) {
		case W_NUMBER:
			w = digits_run(b, w, end, conn);
			if (w.t != W_INVALID && w.t != W_PUNCT)
				cairn_buf_addch(b, conn);
			break;
		case W_CONN:
			put_lower(b, &prev, conn);
			break;
		case W_PUNCT:
			break;
		default:
			if (w.t != W_NUMBER) {
				if (w.t != W_CONN && w.t != W_PUNCT)
					cairn_buf_addch(b, conn);
				break;
			}
			if (!more(&w, end))
				break;
			last = w;
			w = after(&w, end);
			if (w.t != W_ALPHA) {
				last.t = W_NUMBER;
				put_lower(b, &last, conn);
				if (w.t != W_CONN && w.t != W_PUNCT)
					cairn_buf_addch(b, conn);
				break;
			}
			cairn_buf_addch(b, conn);
			last.t = W_NUMBER;
			put_lower(b, &last, conn);
			w = digits_run(b, w, end, conn);
			if (w.t != W_INVALID && w.t != W_CONN && w.t != W_PUNCT)
				cairn_buf_addch(b, conn);
		}
	}
	put_lower(b, &w, conn);
}

static int lower_case(struct exec *x, struct val **out, struct val *s, const struct cmd *cmd,
		      const char *fn, char conn, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;

	if (tpl_want_str(x, s, fn, cmd->off, err) < 0)
		return CAIRN_EINVAL;
	to_lower_case(&b, s->s, s->len, conn);
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

TPL_FN(snakecase)
{
	(void)argc;
	return lower_case(x, out, argv[0], cmd, "snakecase", '_', err);
}

TPL_FN(kebabcase)
{
	(void)argc;
	return lower_case(x, out, argv[0], cmd, "kebabcase", '-', err);
}

/* xstrings ToCamelCase: connectors dropped, the letter after one upper-cased, others lowered. */
TPL_FN(camelcase)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	const struct val *s = argv[0];
	enum rclass c0 = R_OTHER, c1;
	size_t i = 0, n0 = 0, n1, r0 = 0, r1;

	(void)argc;
	if (tpl_want_str(x, s, "camelcase", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	/* leading connectors are kept; the first other rune is upper-cased */
	while (i < s->len) {
		r0 = i;
		n0 = rune_at(s->s, s->len, i, &c0);
		i += n0;
		if (c0 != R_CONN)
			break;
		cairn_buf_add(&b, s->s + r0, n0);
	}
	if (!s->len)
		return tpl_str_from_buf(x, out, &b, cmd->off, err);
	if (c0 == R_CONN) {
		/* all connectors: xstrings writes the last one twice */
		cairn_buf_add(&b, s->s + r0, n0);
		return tpl_str_from_buf(x, out, &b, cmd->off, err);
	}
	cairn_buf_addch(&b, upper(s->s[r0]));
	cairn_buf_add(&b, s->s + r0 + 1, n0 - 1);
	while (i < s->len) {
		r1 = r0, n1 = n0, c1 = c0;
		r0 = i;
		n0 = rune_at(s->s, s->len, i, &c0);
		i += n0;
		if (c0 == R_CONN && c1 == R_CONN) {
			/* a run of connectors keeps all but its last */
			cairn_buf_add(&b, s->s + r1, n1);
			continue;
		}
		if (c0 == R_CONN)
			continue;
		cairn_buf_addch(&b, c1 == R_CONN ? upper(s->s[r0]) : lower(s->s[r0]));
		cairn_buf_add(&b, s->s + r0 + 1, n0 - 1);
	}
	if (c0 == R_CONN)
		cairn_buf_add(&b, s->s + r0, n0);
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

/* Go's strings.Title: the first letter after a separator (not a letter, digit or '_'). */
TPL_FN(title)
{
	cleanup_val struct val *r = NULL;
	bool sep = true;

	(void)argc;
	if (tpl_want_str(x, argv[0], "title", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	r = tpl_vstr(argv[0]->s, argv[0]->len);
	for (size_t i = 0; i < r->len; i++) {
		unsigned char c = (unsigned char)r->s[i];

		if (sep)
			r->s[i] = upper(r->s[i]);
		sep = c < 0x80 && !(c == '_' || (c >= '0' && c <= '9') ||
				    ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'));
	}
	*out = TAKE_PTR(r);
	return 0;
}

/* goutils' Uncapitalize: the first letter of each word split by white space lowered. */
TPL_FN(untitle)
{
	cleanup_val struct val *r = NULL;
	bool next = true;

	(void)argc;
	if (tpl_want_str(x, argv[0], "untitle", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	r = tpl_vstr(argv[0]->s, argv[0]->len);
	for (size_t i = 0; i < r->len; i++) {
		char c = r->s[i];

		if (c == ' ' || (c >= '\t' && c <= '\r')) {
			next = true;
		} else if (next) {
			r->s[i] = lower(c);
			next = false;
		}
	}
	*out = TAKE_PTR(r);
	return 0;
}

static const struct func funcs[] = {
	{"camelcase", fn_camelcase, 1, 1}, {"kebabcase", fn_kebabcase, 1, 1},
	{"snakecase", fn_snakecase, 1, 1}, {"title", fn_title, 1, 1},
	{"untitle", fn_untitle, 1, 1},
};

const struct func_table tpl_sprig_case_funcs = {funcs, ARRAY_SIZE(funcs)};
