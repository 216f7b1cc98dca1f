/* SPDX-License-Identifier: MIT */
/* Sprig's regular expressions, on POSIX extended ones: Go's RE2 syntax is translated where
 * the two agree, and what POSIX cannot do as RE2 does is refused rather than done otherwise. */
#include "common.h"
#include "config/regexp_limits.h"
#include "config/template_internal.h"
#include "util/buf.h"

#include <ctype.h>
#include <regex.h>

/* Longest pattern taken: regcomp's work grows with it. */
#define PATTERN_MAX 4096
/* Groups a replacement may name ($0 to $9). */
#define GROUPS 10

struct re {
	regex_t r;
	bool ok;
};

static void re_release(struct re *re)
{
	if (re->ok)
		regfree(&re->r);
}

/* RE2's \d and \D, written for POSIX; "" when the pattern uses what POSIX lacks. */
static const char *translate(struct cairn_buf *b, const char *p, size_t n)
{
	bool in_class = false;
	size_t len;

	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (c == '\\' && i + 1 < n) {
			char e = p[++i];

			if (e >= '1' && e <= '9')
				return "backreferences are not in RE2";
			if (e == ']' && in_class)
				return "'\\]' inside brackets is not supported (write ']' first: '[]a]')";
			if ((e == 'd' || e == 'D') && !in_class)
				cairn_buf_addstr(b, e == 'd' ? "[0-9]" : "[^0-9]");
			else if (e == 'd' || e == 'D' || e == 'p' || e == 'P' || e == 'z' ||
				 e == 'A' || e == 'Q')
				return "this escape is not supported";
			else
				cairn_buf_add(b, p + i - 1, 2);
			continue;
		}
		if (in_class && c == '[' && (len = cfg_regexp_class_name(p, n, i))) {
			cairn_buf_add(b, p + i, len); /* [:alpha:] */
			i += len - 1;
			continue;
		}
		if (in_class) {
			in_class = c != ']';
		} else if (c == '[') {
			in_class = true;
			cairn_buf_addch(b, c);
			if (i + 1 < n && p[i + 1] == '^')
				cairn_buf_addch(b, p[++i]);
			if (i + 1 < n && p[i + 1] == ']')
				cairn_buf_addch(b, p[++i]);
			continue;
		} else if (c == '(' && i + 1 < n && p[i + 1] == '?') {
			return "flags and non-capturing groups are not supported";
		} else if (strchr("*+?", c) && i + 1 < n && p[i + 1] == '?') {
			return "non-greedy repetition is not supported";
		} else if (c == '{' && !(len = cfg_regexp_go_repeat(p, n, i))) {
			cairn_buf_addstr(b, "\\{"); /* a literal, as Go reads it */
			continue;
		} else if (c == '{') {
			if (i + len < n && p[i + len] == '?')
				return "non-greedy repetition is not supported";
			cairn_buf_add(b, p + i, len);
			i += len - 1;
			continue;
		}
		cairn_buf_addch(b, c);
	}
	return NULL;
}

static int re_compile(struct exec *x, struct re *re, const struct val *pat, const char *fn,
		      size_t off, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	const char *p = pat->s, *why;
	size_t n = pat->len;
	int flags = REG_EXTENDED, rc;
	char msg[256];

	if (tpl_want_str(x, pat, fn, off, err) < 0)
		return CAIRN_EINVAL;
	if (n > PATTERN_MAX || memchr(p, '\0', n))
		return tpl_xfail(x, off, err, "%s: pattern longer than %d bytes or holding NUL", fn,
				 PATTERN_MAX);
	if (n >= 4 && memcmp(p, "(?i)", 4) == 0) {
		flags |= REG_ICASE;
		p += 4;
		n -= 4;
	}
	why = translate(&b, p, n);
	if (!why) /* what regcomp gets, read as glibc reads it */
		why = cfg_regexp_limits(b.buf ? b.buf : "", b.len);
	if (why)
		return tpl_xfail(x, off, err, "%s: pattern '%s': %s", fn, pat->s, why);
	rc = regcomp(&re->r, b.buf, flags);
	if (rc) {
		regerror(rc, &re->r, msg, sizeof(msg));
		regfree(&re->r);
		return tpl_xfail(x, off, err, "%s: pattern '%s': %s", fn, pat->s, msg);
	}
	re->ok = true;
	return 0;
}

/* The leftmost match at or after `pos`: m[0] the whole, m[1..] the groups; false if none. */
static bool re_exec(const struct re *re, const struct val *s, size_t pos, regmatch_t *m)
{
	m[0].rm_so = (regoff_t)pos;
	m[0].rm_eo = (regoff_t)s->len;
	return regexec(&re->r, s->s, GROUPS, m, REG_STARTEND | (pos ? REG_NOTBOL : 0)) == 0;
}

static size_t rune_width(const struct val *s, size_t pos)
{
	size_t n = 1;

	if (pos >= s->len)
		return 1;
	while (pos + n < s->len && ((unsigned char)s->s[pos + n] & 0xc0) == 0x80)
		n++;
	return n;
}

TPL_FN(regexMatch)
{
	CLEANUP(re_release) struct re re = {0};
	regmatch_t m[GROUPS];

	(void)argc;
	if (re_compile(x, &re, argv[0], "regexMatch", cmd->off, err) < 0 ||
	    tpl_want_str(x, argv[1], "regexMatch", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	*out = tpl_vbool(re_exec(&re, argv[1], 0, m));
	return 0;
}

/*
 * Go's allMatches: each match after the last; an empty match right after a match is
 * skipped, and after an empty match the search moves on by one rune. At most `n` (< 0: all).
 */
static int find_all(struct exec *x, struct val **out, const struct re *re, const struct val *s,
		    int64_t n, bool split, size_t off, struct cairn_error **err)
{
	cleanup_val struct val *r = tpl_vnew(V_LIST);
	size_t pos = 0, beg = 0, end = 0;
	long prev_end = -1;
	int64_t count = 0;
	regmatch_t m[GROUPS];

	while ((n < 0 || count < n) && pos <= s->len && re_exec(re, s, pos, m)) {
		size_t a = (size_t)m[0].rm_so, e = (size_t)m[0].rm_eo;
		bool accept = !(e == pos && (long)a == prev_end);

		if (tpl_step(x, x->src, off, err) < 0)
			return CAIRN_ETOOBIG;
		pos = e == pos ? pos + rune_width(s, pos) : e;
		prev_end = (long)e;
		if (!accept)
			continue;
		count++;
		if (!split) {
			tpl_list_push(r, tpl_vstr(s->s + a, e - a));
			continue;
		}
		/* Go's Split: the text before each match, the last part after the loop */
		if (n > 0 && (int64_t)r->n == n - 1)
			break;
		end = a;
		if (e != 0)
			tpl_list_push(r, tpl_vstr(s->s + beg, end - beg));
		beg = e;
	}
	if (split && end != s->len)
		tpl_list_push(r, tpl_vstr(s->s + beg, s->len - beg));
	*out = TAKE_PTR(r);
	return 0;
}

TPL_FN(regexFindAll)
{
	CLEANUP(re_release) struct re re = {0};

	(void)argc;
	if (re_compile(x, &re, argv[0], "regexFindAll", cmd->off, err) < 0 ||
	    tpl_want_str(x, argv[1], "regexFindAll", cmd->off, err) < 0 ||
	    tpl_want_int(x, argv[2], "regexFindAll", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	return find_all(x, out, &re, argv[1], argv[2]->i, false, cmd->off, err);
}

TPL_FN(regexSplit)
{
	CLEANUP(re_release) struct re re = {0};

	(void)argc;
	if (re_compile(x, &re, argv[0], "regexSplit", cmd->off, err) < 0 ||
	    tpl_want_str(x, argv[1], "regexSplit", cmd->off, err) < 0 ||
	    tpl_want_int(x, argv[2], "regexSplit", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	if (argv[2]->i == 0) {
		*out = tpl_vnew(V_LIST);
		return 0;
	}
	if (argv[0]->len && !argv[1]->len) {
		*out = tpl_vnew(V_LIST);
		tpl_list_push(*out, tpl_vstr("", 0));
		return 0;
	}
	return find_all(x, out, &re, argv[1], argv[2]->i, true, cmd->off, err);
}

TPL_FN(regexFind)
{
	CLEANUP(re_release) struct re re = {0};
	regmatch_t m[GROUPS];

	(void)argc;
	if (re_compile(x, &re, argv[0], "regexFind", cmd->off, err) < 0 ||
	    tpl_want_str(x, argv[1], "regexFind", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	if (re_exec(&re, argv[1], 0, m))
		*out = tpl_vstr(argv[1]->s + m[0].rm_so, (size_t)(m[0].rm_eo - m[0].rm_so));
	else
		*out = tpl_vstr("", 0);
	return 0;
}

/* Go's Regexp.Expand: $1, ${1}, $$; a name that is no group number gives "". */
static void expand(struct cairn_buf *b, const struct val *repl, const struct val *s,
		   const regmatch_t *m)
{
	for (size_t i = 0; i < repl->len; i++) {
		const char *p = repl->s;
		size_t start, end, g = 0;
		bool brace, digits = true;

		if (p[i] != '$' || i + 1 >= repl->len) {
			cairn_buf_addch(b, p[i]);
			continue;
		}
		if (p[i + 1] == '$') {
			cairn_buf_addch(b, '$');
			i++;
			continue;
		}
		brace = p[i + 1] == '{';
		start = end = i + 1 + brace;
		while (end < repl->len && (p[end] == '_' || isalnum((unsigned char)p[end])))
			end++;
		if (end == start || (brace && (end >= repl->len || p[end] != '}'))) {
			/* not a reference: the '$' stays */
			cairn_buf_addch(b, '$');
			continue;
		}
		for (size_t k = start; k < end; k++) {
			digits = digits && isdigit((unsigned char)p[k]);
			if (digits && g < 1000)
				g = g * 10 + (size_t)(p[k] - '0');
		}
		if (digits && g < GROUPS && m[g].rm_so >= 0)
			cairn_buf_add(b, s->s + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
		i = end - 1 + brace;
	}
}

/* Go's replaceAll: every match replaced; an empty match right after a match is not. */
static int replace_all(struct exec *x, struct val **out, struct val **argv, const struct cmd *cmd,
		       bool literal, struct cairn_error **err)
{
	const char *fn = literal ? "regexReplaceAllLiteral" : "regexReplaceAll";
	CLEANUP(cairn_buf_release)
	struct cairn_buf b = CAIRN_BUF_INIT_MAX(CAIRN_TEMPLATE_OUTPUT_MAX);
	CLEANUP(re_release) struct re re = {0};
	const struct val *s = argv[1], *repl = argv[2];
	size_t pos = 0, last = 0;
	regmatch_t m[GROUPS];

	if (re_compile(x, &re, argv[0], fn, cmd->off, err) < 0 ||
	    tpl_want_str(x, s, fn, cmd->off, err) < 0 ||
	    tpl_want_str(x, repl, fn, cmd->off, err) < 0)
		return CAIRN_EINVAL;
	while (pos <= s->len && !b.err && re_exec(&re, s, pos, m)) {
		size_t a = (size_t)m[0].rm_so, e = (size_t)m[0].rm_eo;
		size_t w = rune_width(s, pos);

		if (tpl_step(x, x->src, cmd->off, err) < 0)
			return CAIRN_ETOOBIG;
		cairn_buf_add(&b, s->s + last, a - last);
		if (e > last || a == 0) {
			if (literal)
				cairn_buf_add(&b, repl->s, repl->len);
			else
				expand(&b, repl, s, m);
		}
		last = e;
		pos = pos + w > e ? pos + w : e;
	}
	cairn_buf_add(&b, s->s + last, s->len - last);
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

TPL_FN(regexReplaceAll)
{
	(void)argc;
	return replace_all(x, out, argv, cmd, false, err);
}

TPL_FN(regexReplaceAllLiteral)
{
	(void)argc;
	return replace_all(x, out, argv, cmd, true, err);
}

TPL_FN(regexQuoteMeta)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;

	(void)argc;
	if (tpl_want_str(x, argv[0], "regexQuoteMeta", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	for (size_t i = 0; i < argv[0]->len; i++) {
		if (argv[0]->s[i] && strchr("\\.+*?()|[]{}^$", argv[0]->s[i]))
			cairn_buf_addch(&b, '\\');
		cairn_buf_addch(&b, argv[0]->s[i]);
	}
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

static const struct func funcs[] = {
	{"regexFind", fn_regexFind, 2, 2},
	{"regexFindAll", fn_regexFindAll, 3, 3},
	{"regexMatch", fn_regexMatch, 2, 2},
	{"regexQuoteMeta", fn_regexQuoteMeta, 1, 1},
	{"regexReplaceAll", fn_regexReplaceAll, 3, 3},
	{"regexReplaceAllLiteral", fn_regexReplaceAllLiteral, 3, 3},
	{"regexSplit", fn_regexSplit, 3, 3},
};

const struct func_table tpl_sprig_regex_funcs = {funcs, ARRAY_SIZE(funcs)};
