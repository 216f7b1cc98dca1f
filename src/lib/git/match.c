/* SPDX-License-Identifier: MIT */
/* Path selection: glob patterns with "**" and braces, normalised paths, the compiled filter. */
#include "common.h"
#include "git/git_internal.h"
#include "util/buf.h"

/*
 * Path patterns
 */

static const char *comp_end(const char *p, const char *pe)
{
	const char *slash = memchr(p, '/', (size_t)(pe - p));

	return slash ? slash : pe;
}

static bool is_globstar(const char *p, const char *pe)
{
	return pe - p == 2 && p[0] == '*' && p[1] == '*';
}

/*
 * A bracket expression at *pp against `ch`: false when it is malformed (no closing ']'), and
 * then '[' is an ordinary character. On success *pp moves past it and *hit tells the result.
 */
static bool class_match(const char **pp, const char *pe, unsigned char ch, bool *hit)
{
	const char *q = *pp + 1;
	bool neg = false, first = true, in = false;

	if (q < pe && (*q == '!' || *q == '^')) {
		neg = true;
		q++;
	}
	for (;;) {
		unsigned char lo, hi;

		if (q >= pe)
			return false;
		if (*q == ']' && !first)
			break;
		first = false;
		if (*q == '\\' && q + 1 < pe)
			q++;
		lo = (unsigned char)*q++;
		hi = lo;
		if (q + 1 < pe && *q == '-' && q[1] != ']') {
			q++;
			if (*q == '\\' && q + 1 < pe)
				q++;
			hi = (unsigned char)*q++;
		}
		if (lo <= ch && ch <= hi)
			in = true;
	}
	*pp = q + 1;
	*hit = in != neg;
	return true;
}

/* One pattern element (not '*') at *pp against `ch`; *pp moves past the element. */
static bool elem_match(const char **pp, const char *pe, unsigned char ch)
{
	const char *p = *pp;
	bool hit;

	if (*p == '?') {
		*pp = p + 1;
		return true;
	}
	if (*p == '[' && class_match(pp, pe, ch, &hit))
		return hit;
	if (*p == '\\' && p + 1 < pe)
		p++;
	*pp = p + 1;
	return (unsigned char)*p == ch;
}

/* A pattern component against a path component (neither holds '/'). */
static bool comp_match(const char *p, const char *pe, const char *s, const char *se)
{
	const char *star_p = NULL, *star_s = NULL;

	while (s < se) {
		const char *np = p;

		if (p < pe && *p == '*') {
			while (p < pe && *p == '*')
				p++;
			star_p = p;
			star_s = s;
			continue;
		}
		if (p < pe && elem_match(&np, pe, (unsigned char)*s)) {
			p = np;
			s++;
			continue;
		}
		if (!star_p)
			return false;
		p = star_p;
		s = ++star_s;
	}
	while (p < pe && *p == '*')
		p++;
	return p == pe;
}

static bool only_globstars(const char *p, const char *pe)
{
	while (p < pe) {
		const char *ce = comp_end(p, pe);

		if (!is_globstar(p, ce))
			return false;
		p = ce < pe ? ce + 1 : pe;
	}
	return true;
}

/* A whole pattern against a whole path, component by component, "**" spanning directories. */
static bool glob_match(const char *p, const char *pe, const char *s, const char *se)
{
	for (;;) {
		const char *pce = comp_end(p, pe);
		const char *sce;

		if (is_globstar(p, pce)) {
			const char *rest = pce < pe ? pce + 1 : pe;
			const char *t = s;

			if (rest == pe)
				return true;
			for (;;) {
				if (glob_match(rest, pe, t, se))
					return true;
				t = memchr(t, '/', (size_t)(se - t));
				if (!t)
					return false;
				t++;
			}
		}
		if (s >= se)
			return false;
		sce = comp_end(s, se);
		if (!comp_match(p, pce, s, sce))
			return false;
		if (pce == pe)
			return sce == se;
		if (sce == se)
			return only_globstars(pce + 1, pe);
		p = pce + 1;
		s = sce + 1;
	}
}

/* The pattern matches exactly this path (equal, or as a glob); ancestors are not tried. */
bool cairn_git_match_self(const char *pat, const char *s, size_t len)
{
	size_t plen = strlen(pat);

	if (plen == 0)
		return false;
	if (plen == len && memcmp(pat, s, len) == 0)
		return true;
	return glob_match(pat, pat + plen, s, s + len);
}

/*
 * Could the pattern match some path below directory s (which it does not match itself, nor any
 * of its ancestors)? Errs on the side of yes: it only prunes the walk.
 */
bool cairn_git_match_below(const char *pat, const char *s, size_t len)
{
	const char *p = pat, *pe = pat + strlen(pat);
	const char *se = s + len;

	if (p == pe)
		return false;
	for (;;) {
		const char *pce = comp_end(p, pe);
		const char *sce;

		if (is_globstar(p, pce))
			return true;
		sce = comp_end(s, se);
		if (!(pce - p == sce - s && memcmp(p, s, (size_t)(sce - s)) == 0) &&
		    !comp_match(p, pce, s, sce))
			return false;
		if (pce == pe || sce == se)
			return true;
		p = pce + 1;
		s = sce + 1;
	}
}

/* Drop leading "./" and '/', repeated and trailing '/': "./app//x/" -> "app/x". */
static char *pattern_normalise(const char *pat)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;

	for (;;) {
		if (pat[0] == '/')
			pat++;
		else if (pat[0] == '.' && pat[1] == '/')
			pat += 2;
		else
			break;
	}
	for (; *pat; pat++) {
		if (*pat == '/' && (b.len == 0 || b.buf[b.len - 1] == '/'))
			continue;
		cairn_buf_addch(&b, *pat);
	}
	while (b.len && b.buf[b.len - 1] == '/')
		cairn_buf_setlen(&b, b.len - 1);
	return cairn_buf_detach(&b, NULL);
}

/* Does the (normalised) pattern match the path or one of its parent directories? */
bool cairn_git_match_any_level(const char *pat, const char *path, size_t len)
{
	for (size_t i = 0; i <= len; i++) {
		if ((i == len || path[i] == '/') && i > 0 && cairn_git_match_self(pat, path, i))
			return true;
	}
	return false;
}

bool cairn_git_path_match(const char *pattern, const char *path)
{
	size_t n = 0;
	char **pats = cairn_git_patterns_dup(&n, &pattern, 1);
	bool hit = false;

	for (size_t i = 0; i < n; i++) {
		hit = hit || cairn_git_match_any_level(pats[i], path, strlen(path));
		free(pats[i]);
	}
	free(pats);
	return hit;
}

/*
 * Selections
 */

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void cairn_git_filter_release(struct filter *f)
{
	free(f->add);
	free(f->to);
	free(f->add_base);
	free_list(f->inc, f->n_inc);
	free_list(f->exc, f->n_exc);
	free_list(f->stage, f->n_stage);
	memset(f, 0, sizeof(*f));
}

/* More alternatives than this from one pattern: the rest of its braces stay literal. */
#define BRACE_EXPANSION_MAX 256

/* The first "{...}" of p (not quoted by '\\'), with *open at '{' and *close at its '}'. */
static bool find_braces(const char *p, const char **open, const char **close)
{
	int depth = 0;

	*open = NULL;
	for (; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
		} else if (*p == '{') {
			if (depth++ == 0)
				*open = p;
		} else if (*p == '}' && depth > 0 && --depth == 0) {
			*close = p;
			return true;
		}
	}
	return false;
}

/* Append p to the list with every "{a,b}" expanded (as doublestar does), normalised. */
static void pattern_expand(char ***v, size_t *n, const char *p, size_t *budget)
{
	const char *open, *close, *alt;
	int depth = 0;

	if (*budget == 0 || !find_braces(p, &open, &close)) {
		*v = xreallocarray(*v, *n + 1, sizeof(**v));
		(*v)[(*n)++] = pattern_normalise(p);
		if (*budget)
			(*budget)--;
		return;
	}
	alt = open + 1;
	for (const char *c = open + 1; c <= close; c++) {
		if (*c == '\\' && c + 1 < close) {
			c++;
		} else if (*c == '{') {
			depth++;
		} else if (*c == '}' && depth > 0) {
			depth--;
		} else if ((*c == ',' && depth == 0) || c == close) {
			cleanup_free char *one = xasprintf("%.*s%.*s%s", (int)(open - p), p,
							   (int)(c - alt), alt, close + 1);

			pattern_expand(v, n, one, budget);
			alt = c + 1;
		}
	}
}

char **cairn_git_patterns_dup(size_t *n_out, const char *const *v, size_t n)
{
	char **out = NULL;

	*n_out = 0;
	for (size_t i = 0; i < n; i++) {
		size_t budget = BRACE_EXPANSION_MAX;

		pattern_expand(&out, n_out, v[i], &budget);
	}
	return out;
}

/* "/a//b/" -> "a/b", "/" -> ""; CAIRN_EINVAL for a relative path or a "." or ".." part. */
static int abs_path_normalise(char **out, const char *p, const char *what, struct cairn_error **err)
{
	cleanup_free char *n = NULL;
	const char *s;

	*out = NULL;
	if (p[0] != '/')
		return cairn_error_set(err, CAIRN_EINVAL, "%s '%s': not an absolute path", what, p);
	n = pattern_normalise(p);
	for (s = n; *s;) {
		const char *e = comp_end(s, s + strlen(s));

		if ((e - s == 1 && s[0] == '.') || (e - s == 2 && s[0] == '.' && s[1] == '.'))
			return cairn_error_set(err, CAIRN_EINVAL, "%s '%s': '.' or '..' in path",
					       what, p);
		s = *e ? e + 1 : e;
	}
	*out = TAKE_PTR(n);
	return 0;
}

int cairn_git_filter_init(struct filter *f, const struct cairn_git_selection *sel, const char *to,
			  struct cairn_error **err)
{
	const char *slash;
	int ret;

	memset(f, 0, sizeof(*f));
	ret = abs_path_normalise(&f->add, sel->add ? sel->add : "/", "add", err);
	if (ret == 0 && to)
		ret = abs_path_normalise(&f->to, to, "to", err);
	if (ret < 0) {
		cairn_git_filter_release(f);
		return ret;
	}
	if (!f->to)
		f->to = xstrdup("");
	slash = strrchr(f->add, '/');
	f->add_base = xstrdup(slash ? slash + 1 : f->add);
	f->inc = cairn_git_patterns_dup(&f->n_inc, sel->include, sel->n_include);
	f->exc = cairn_git_patterns_dup(&f->n_exc, sel->exclude, sel->n_exclude);
	return 0;
}
