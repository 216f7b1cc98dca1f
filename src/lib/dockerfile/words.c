/* SPDX-License-Identifier: MIT */
/* Dockerfile word processing, after moby's shell lexer (frontend/dockerfile/shell/lex.go). */
#include "common.h"
#include "dockerfile/words.h"
#include "util/buf.h"

/* Nesting of ${...} words in one word: deeper is refused. */
#define WORD_DEPTH_MAX 32

struct lexer {
	const char *s, *end;
	char escape;
	cairn_word_lookup_fn lookup;
	void *ud;
	struct cairn_error **err;
	unsigned depth;
};

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

static int fail(struct lexer *x, const char *what)
{
	return cairn_error_set(x->err, CAIRN_EINVAL, "%s", what);
}

static int word(struct lexer *x, struct cairn_buf *out, char stop);

/* ${NAME...}: x->s is just past the '{'. */
static int braced(struct lexer *x, struct cairn_buf *out)
{
	CLEANUP(cairn_buf_release) struct cairn_buf alt = CAIRN_BUF_INIT_MAX(CAIRN_WORD_MAX);
	const char *name = x->s, *value;
	size_t n = 0;
	bool colon = false;
	char mod;
	int ret;

	while (x->s < x->end && name_char(*x->s))
		x->s++;
	n = (size_t)(x->s - name);
	if (n == 0)
		return fail(x, "'${' without a variable name");
	if (x->s >= x->end)
		return fail(x, "'${' without its '}'");
	value = x->lookup(name, n, x->ud);
	if (*x->s == '}') {
		x->s++;
		cairn_buf_addstr(out, value ? value : "");
		return 0;
	}
	if (*x->s == ':') {
		colon = true;
		x->s++;
	}
	mod = x->s < x->end ? *x->s++ : '\0';
	if (mod != '-' && mod != '+' && mod != '?')
		return cairn_error_set(x->err, CAIRN_EINVAL, "'${%.*s': unsupported modifier",
				       (int)n, name);
	if (++x->depth > WORD_DEPTH_MAX)
		return fail(x, "'${' nested too deeply");
	ret = word(x, &alt, '}');
	x->depth--;
	if (ret < 0)
		return ret;
	if (x->s >= x->end)
		return fail(x, "'${' without its '}'");
	x->s++;
	{
		bool set = value && (!colon || *value);

		if (mod == '?' && !set)
			return cairn_error_set(x->err, CAIRN_EINVAL, "%.*s: %s", (int)n, name,
					       alt.len ? alt.buf : "is not set");
		if ((mod == '-' && !set) || (mod == '+' && set))
			cairn_buf_add(out, alt.buf, alt.len);
		else if (mod != '+')
			cairn_buf_addstr(out, value ? value : "");
	}
	return 0;
}

/* A '$' at x->s - 1. */
static int dollar(struct lexer *x, struct cairn_buf *out)
{
	const char *name = x->s;
	const char *value;

	if (x->s < x->end && *x->s == '{') {
		x->s++;
		return braced(x, out);
	}
	/* as Docker: "$1abc" is $1 then "abc" */
	if (x->s < x->end && *x->s >= '0' && *x->s <= '9') {
		while (x->s < x->end && *x->s >= '0' && *x->s <= '9')
			x->s++;
	} else {
		while (x->s < x->end && name_char(*x->s))
			x->s++;
	}
	if (x->s == name) {
		cairn_buf_addch(out, '$');
		return 0;
	}
	value = x->lookup(name, (size_t)(x->s - name), x->ud);
	cairn_buf_addstr(out, value ? value : "");
	return 0;
}

static int double_quoted(struct lexer *x, struct cairn_buf *out)
{
	while (x->s < x->end) {
		char c = *x->s++;
		int ret;

		if (c == '"')
			return 0;
		if (c == '$') {
			ret = dollar(x, out);
			if (ret < 0)
				return ret;
			continue;
		}
		if (c == x->escape && x->s < x->end &&
		    (*x->s == '"' || *x->s == '$' || *x->s == x->escape))
			c = *x->s++;
		cairn_buf_addch(out, c);
	}
	return fail(x, "a '\"' without its closing quote");
}

/* Up to `stop` (not taken; '\0': the end). */
static int word(struct lexer *x, struct cairn_buf *out, char stop)
{
	while (x->s < x->end && !(stop && *x->s == stop)) {
		char c = *x->s++;
		int ret = 0;

		if (c == '\'') {
			const char *q = memchr(x->s, '\'', (size_t)(x->end - x->s));

			if (!q)
				return fail(x, "a \"'\" without its closing quote");
			cairn_buf_add(out, x->s, (size_t)(q - x->s));
			x->s = q + 1;
		} else if (c == '"') {
			ret = double_quoted(x, out);
		} else if (c == '$') {
			ret = dollar(x, out);
		} else if (c == x->escape) {
			/* a lone escape at the end is dropped, as Docker does */
			if (x->s < x->end)
				cairn_buf_addch(out, *x->s++);
		} else {
			cairn_buf_addch(out, c);
		}
		if (ret < 0)
			return ret;
		if (out->err)
			return cairn_error_set(x->err, CAIRN_ETOOBIG,
					       "expands to more than %u bytes", CAIRN_WORD_MAX);
	}
	return 0;
}

int cairn_dockerfile_word(char **out, const char *w, size_t len, char escape,
			  cairn_word_lookup_fn lookup, void *ud, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT_MAX(CAIRN_WORD_MAX);
	struct lexer x = {
		.s = w, .end = w + len, .escape = escape, .lookup = lookup, .ud = ud, .err = err};
	int ret;

	*out = NULL;
	ret = word(&x, &b, '\0');
	if (ret < 0)
		return ret;
	*out = cairn_buf_detach(&b, NULL);
	return 0;
}
