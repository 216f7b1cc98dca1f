/* SPDX-License-Identifier: MIT */
/* .dockerignore, after moby's dockerignore.ReadAll and patternmatcher (no regexp: a matcher). */
#include "common.h"
#include "dockerfile/ignore.h"
#include "util/buf.h"

/* Patterns longer than this are refused: matching stays cheap. */
#define PATTERN_MAX 4096

/* A pattern compiled: what the regexp patternmatcher makes of it, as an automaton. */
enum tok_kind {
	TOK_CHAR,      /* one given character */
	TOK_ANY,       /* '?': one character but '/' */
	TOK_CLASS,     /* '[...]' */
	TOK_STAR,      /* '*': any run of characters but '/' */
	TOK_DSTAR,     /* '**' (and the '/' after it) inside: any run of whole path elements */
	TOK_DSTAR_END, /* '**' at the end: anything */
};

struct tok {
	enum tok_kind kind;
	char c;
	const char *class; /* TOK_CLASS: just past its '[', in the pattern's text */
};

struct pattern {
	char *text; /* cleaned, without its '!' */
	bool exclusion;
	struct tok *toks;
	size_t n_toks;
};

struct cairn_dockerignore {
	struct pattern *v;
	size_t n;
};

/* Go's filepath.Clean on a '/'-separated path. */
static char *clean_path(const char *p, size_t n)
{
	struct cairn_buf b = CAIRN_BUF_INIT;
	bool rooted = n && p[0] == '/';
	size_t dotdot = 0; /* where ".." may no longer back up */
	size_t i = 0;

	if (rooted) {
		cairn_buf_addch(&b, '/');
		i = 1;
		dotdot = 1;
	}
	while (i < n) {
		size_t j = i;

		while (j < n && p[j] != '/')
			j++;
		if (j == i || (j - i == 1 && p[i] == '.')) {
			/* empty or "." */
		} else if (j - i == 2 && p[i] == '.' && p[i + 1] == '.') {
			if (b.len > dotdot) {
				size_t k = b.len;

				while (k > dotdot && b.buf[k - 1] != '/')
					k--;
				cairn_buf_setlen(&b, k > dotdot ? k - 1 : k);
			} else if (!rooted) {
				if (b.len)
					cairn_buf_addch(&b, '/');
				cairn_buf_addstr(&b, "..");
				dotdot = b.len;
			}
		} else {
			if (b.len && !(rooted && b.len == 1))
				cairn_buf_addch(&b, '/');
			cairn_buf_add(&b, p + i, j - i);
		}
		i = j + 1;
	}
	if (!b.len)
		cairn_buf_addch(&b, '.');
	return cairn_buf_detach(&b, NULL);
}

/* Whether `p` has a `[` class without its `]`. */
static bool bad_class(const char *p)
{
	for (; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			continue;
		}
		if (*p != '[')
			continue;
		p++;
		if (*p == '^')
			p++;
		if (*p == ']')
			p++;
		while (*p && *p != ']') {
			if (*p == '\\' && p[1])
				p++;
			p++;
		}
		if (!*p)
			return true;
	}
	return false;
}

static bool in_class(const char **pp, char c);

/* Skip the class at `p` (just past its '['): where it ends. */
static const char *class_end(const char *p)
{
	(void)in_class(&p, 0);
	return p;
}

static void compile(struct pattern *pat)
{
	const char *p = pat->text;

	pat->toks = xcalloc(strlen(p) + 1, sizeof(*pat->toks));
	while (*p) {
		struct tok *t = &pat->toks[pat->n_toks++];

		if (p[0] == '*' && p[1] == '*') {
			p += 2;
			if (*p == '/')
				p++;
			t->kind = *p ? TOK_DSTAR : TOK_DSTAR_END;
		} else if (*p == '*') {
			p++;
			t->kind = TOK_STAR;
		} else if (*p == '?') {
			p++;
			t->kind = TOK_ANY;
		} else if (*p == '[') {
			t->kind = TOK_CLASS;
			t->class = p + 1;
			p = class_end(p + 1);
		} else {
			if (*p == '\\' && p[1])
				p++;
			t->kind = TOK_CHAR;
			t->c = *p++;
		}
	}
}

int cairn_dockerignore_parse(struct cairn_dockerignore **out, const char *text, size_t len,
			     const char *file, struct cairn_error **err)
{
	struct cairn_dockerignore *di = xcalloc(1, sizeof(*di));
	const char *p = text, *end = text + len;
	unsigned line = 0;

	*out = NULL;
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *s = p, *e = nl ? nl : end;
		struct pattern pat = {0};

		p = nl ? nl + 1 : end;
		line++;
		if (s < e && *s == '#')
			continue; /* a comment only where the line starts */
		while (s < e && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\v' || *s == '\f'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\v' ||
				 e[-1] == '\f'))
			e--;
		if (s == e)
			continue;
		if (*s == '!') {
			pat.exclusion = true;
			s++;
			while (s < e && (*s == ' ' || *s == '\t'))
				s++;
		}
		if ((size_t)(e - s) > PATTERN_MAX) {
			cairn_dockerignore_free(di);
			return cairn_error_set(err, CAIRN_EINVAL, "%s:%u: pattern over %u bytes",
					       file, line, PATTERN_MAX);
		}
		pat.text = s < e ? clean_path(s, (size_t)(e - s)) : xstrdup("");
		if (pat.text[0] == '/' && pat.text[1])
			memmove(pat.text, pat.text + 1, strlen(pat.text));
		if (bad_class(pat.text)) {
			cairn_dockerignore_free(di);
			free(pat.text);
			return cairn_error_set(err, CAIRN_EINVAL,
					       "%s:%u: syntax error in pattern: a '[' without its "
					       "']'",
					       file, line);
		}
		compile(&pat);
		di->v = xreallocarray(di->v, di->n + 1, sizeof(*di->v));
		di->v[di->n++] = pat;
	}
	*out = di;
	return 0;
}

void cairn_dockerignore_free(struct cairn_dockerignore *di)
{
	if (!di)
		return;
	for (size_t i = 0; i < di->n; i++) {
		free(di->v[i].text);
		free(di->v[i].toks);
	}
	free(di->v);
	free(di);
}

size_t cairn_dockerignore_count(const struct cairn_dockerignore *di)
{
	return di ? di->n : 0;
}

/* `c` in the class at `*pp` (just past '['); *pp is left past its ']'. */
static bool in_class(const char **pp, char c)
{
	const char *p = *pp;
	bool neg = false, hit = false, first = true;

	if (*p == '^') {
		neg = true;
		p++;
	}
	while (*p && (*p != ']' || first)) {
		char lo = *p, hi;

		first = false;
		if (lo == '\\' && p[1])
			lo = *++p;
		p++;
		hi = lo;
		if (*p == '-' && p[1] && p[1] != ']') {
			hi = p[1];
			p += 2;
			if (hi == '\\' && *p)
				hi = *p++;
		}
		if ((unsigned char)c >= (unsigned char)lo && (unsigned char)c <= (unsigned char)hi)
			hit = true;
	}
	if (*p == ']')
		p++;
	*pp = p;
	return hit != neg;
}

/* Add position `i` of `pat` to `set`, with the positions a star lets it skip to. */
static void reach(const struct pattern *pat, unsigned char *set, size_t i)
{
	while (i <= pat->n_toks && !set[i]) {
		set[i] = 1;
		if (i == pat->n_toks ||
		    (pat->toks[i].kind != TOK_STAR && pat->toks[i].kind != TOK_DSTAR &&
		     pat->toks[i].kind != TOK_DSTAR_END))
			return;
		i++; /* a star may match nothing */
	}
}

static bool accepts(const struct pattern *pat, const unsigned char *set)
{
	return set[pat->n_toks] != 0;
}

/*
 * Whether `path`, or a parent directory of it, matches `pat` whole: the pattern's automaton
 * run once over the path, O(path x pattern) whatever the stars, looked at where each parent
 * directory ends and at the end.
 */
static bool pattern_matches(const struct pattern *pat, const char *path)
{
	size_t n = pat->n_toks + 1;
	unsigned char *cur = xcalloc(2 * n, 1), *next = cur + n;
	bool hit = false;

	reach(pat, cur, 0);
	for (const char *q = path; *q && !hit; q++) {
		char c = *q;

		memset(next, 0, n);
		for (size_t i = 0; i < pat->n_toks; i++) {
			const struct tok *t = &pat->toks[i];
			const char *cl = t->class;

			if (!cur[i])
				continue;
			switch (t->kind) {
			case TOK_CHAR:
				if (c == t->c)
					reach(pat, next, i + 1);
				break;
			case TOK_ANY:
				if (c != '/')
					reach(pat, next, i + 1);
				break;
			case TOK_CLASS:
				if (in_class(&cl, c))
					reach(pat, next, i + 1);
				break;
			case TOK_STAR:
				if (c != '/')
					reach(pat, next, i);
				break;
			case TOK_DSTAR:
				reach(pat, next, i);
				if (c == '/')
					reach(pat, next, i + 1);
				break;
			case TOK_DSTAR_END:
				reach(pat, next, i);
				break;
			}
		}
		memcpy(cur, next, n);
		/* a parent directory of the path, matched whole */
		hit = q[1] == '/' && accepts(pat, cur);
	}
	hit = hit || accepts(pat, cur);
	free(cur); /* next is in the same allocation */
	return hit;
}

bool cairn_dockerignore_excluded(const struct cairn_dockerignore *di, const char *path)
{
	bool excluded = false;

	for (size_t i = 0; di && i < di->n; i++) {
		const struct pattern *pat = &di->v[i];

		/* only a pattern that can change the answer is looked at */
		if (pat->exclusion != excluded)
			continue;
		if (pattern_matches(pat, path))
			excluded = !pat->exclusion;
	}
	return excluded;
}
