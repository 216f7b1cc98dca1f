/* SPDX-License-Identifier: MIT */
/* Sprig's string functions: trimming, case, quoting, splitting, joining, searching. */
#include "common.h"
#include "config/template_internal.h"
#include "util/buf.h"

/* Two string arguments checked, as a Go func(string, string) has them. */
static int want_strs(struct exec *x, struct val **argv, size_t n, const char *fn, size_t off,
		     struct cairn_error **err)
{
	for (size_t i = 0; i < n; i++)
		if (tpl_want_str(x, argv[i], fn, off, err) < 0)
			return CAIRN_EINVAL;
	return 0;
}

static int quote_common(struct exec *x, struct val **out, struct val **argv, size_t argc,
			const struct cmd *cmd, bool dbl, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	bool first = true;

	for (size_t i = 0; i < argc; i++) {
		cleanup_val struct val *s = NULL;

		if (argv[i]->kind == V_NIL)
			continue;
		if (tpl_to_str(x, &s, argv[i], cmd->off, err) < 0)
			return CAIRN_ETOOBIG;
		if (!first)
			cairn_buf_addch(&b, ' ');
		first = false;
		if (dbl) {
			tpl_go_quote(&b, s->s, s->len);
		} else {
			cairn_buf_addch(&b, '\'');
			cairn_buf_add(&b, s->s, s->len);
			cairn_buf_addch(&b, '\'');
		}
		if (b.len > CAIRN_TEMPLATE_OUTPUT_MAX)
			break;
	}
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

TPL_FN(quote)
{
	return quote_common(x, out, argv, argc, cmd, true, err);
}

TPL_FN(squote)
{
	return quote_common(x, out, argv, argc, cmd, false, err);
}

static int indent_common(struct exec *x, struct val **out, struct val **argv, const struct cmd *cmd,
			 bool nl, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	cleanup_val struct val *s = NULL;
	int64_t n;

	if (tpl_want_int(x, argv[0], nl ? "nindent" : "indent", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	if (tpl_to_str(x, &s, argv[1], cmd->off, err) < 0)
		return CAIRN_ETOOBIG;
	n = argv[0]->i < 0 ? 0 : argv[0]->i;
	if (n > 4096)
		return tpl_xfail(x, cmd->off, err, "indent: %lld is too wide", (long long)n);
	if (nl)
		cairn_buf_addch(&b, '\n');
	for (int64_t k = 0; k < n; k++)
		cairn_buf_addch(&b, ' ');
	for (size_t i = 0; i < s->len && b.len <= CAIRN_TEMPLATE_OUTPUT_MAX; i++) {
		cairn_buf_addch(&b, s->s[i]);
		if (s->s[i] == '\n')
			for (int64_t k = 0; k < n; k++)
				cairn_buf_addch(&b, ' ');
	}
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

TPL_FN(indent)
{
	(void)argc;
	return indent_common(x, out, argv, cmd, false, err);
}

TPL_FN(nindent)
{
	(void)argc;
	return indent_common(x, out, argv, cmd, true, err);
}

TPL_FN(trim)
{
	cleanup_val struct val *s = NULL;
	size_t a = 0, e;

	(void)argc;
	if (tpl_to_str(x, &s, argv[0], cmd->off, err) < 0)
		return CAIRN_ETOOBIG;
	e = s->len;
	while (a < e && (tpl_is_space(s->s[a]) || s->s[a] == '\v' || s->s[a] == '\f'))
		a++;
	while (e > a && (tpl_is_space(s->s[e - 1]) || s->s[e - 1] == '\v' || s->s[e - 1] == '\f'))
		e--;
	*out = tpl_vstr(s->s + a, e - a);
	return 0;
}

static int case_common(struct exec *x, struct val **out, struct val *v, const struct cmd *cmd,
		       bool up, struct cairn_error **err)
{
	cleanup_val struct val *s = NULL;

	if (tpl_to_str(x, &s, v, cmd->off, err) < 0)
		return CAIRN_ETOOBIG;
	*out = tpl_vstr(s->s, s->len);
	for (size_t i = 0; i < (*out)->len; i++) {
		char ch = (*out)->s[i];

		if (ch >= 'a' && ch <= 'z' && up)
			(*out)->s[i] = (char)(ch - 'a' + 'A');
		else if (ch >= 'A' && ch <= 'Z' && !up)
			(*out)->s[i] = (char)(ch - 'A' + 'a');
	}
	return 0;
}

TPL_FN(upper)
{
	(void)argc;
	return case_common(x, out, argv[0], cmd, true, err);
}

TPL_FN(lower)
{
	(void)argc;
	return case_common(x, out, argv[0], cmd, false, err);
}

TPL_FN(replace)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	cleanup_val struct val *old = NULL;
	cleanup_val struct val *new = NULL;
	cleanup_val struct val *s = NULL;

	(void)argc;
	if (tpl_to_str(x, &old, argv[0], cmd->off, err) < 0 ||
	    tpl_to_str(x, &new, argv[1], cmd->off, err) < 0 ||
	    tpl_to_str(x, &s, argv[2], cmd->off, err) < 0)
		return CAIRN_ETOOBIG;
	for (size_t i = 0; i <= s->len && b.len <= CAIRN_TEMPLATE_OUTPUT_MAX;) {
		if (!old->len) {
			/* like Go: the replacement goes before each UTF-8 sequence and at the end
			 */
			cairn_buf_add(&b, new->s, new->len);
			if (i == s->len)
				break;
			do
				cairn_buf_addch(&b, s->s[i++]);
			while (i < s->len && ((unsigned char)s->s[i] & 0xc0) == 0x80);
			continue;
		}
		if (i + old->len <= s->len && memcmp(s->s + i, old->s, old->len) == 0) {
			cairn_buf_add(&b, new->s, new->len);
			i += old->len;
		} else if (i < s->len) {
			cairn_buf_addch(&b, s->s[i++]);
		} else {
			break;
		}
	}
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

/* Go's strings.SplitN of argv[1] by argv[0] into at most `limit` parts (-1: all). */
static int split_common(struct exec *x, struct val **out, struct val **argv, const struct cmd *cmd,
			bool as_map, int64_t limit, struct cairn_error **err)
{
	cleanup_val struct val *sep = NULL;
	cleanup_val struct val *s = NULL;
	cleanup_val struct val *r = tpl_vnew(as_map ? V_MAP : V_LIST);
	size_t start = 0, idx = 0;

	if (tpl_to_str(x, &sep, argv[0], cmd->off, err) < 0 ||
	    tpl_to_str(x, &s, argv[1], cmd->off, err) < 0)
		return CAIRN_ETOOBIG;
	for (size_t i = 0; limit != 0; idx++) {
		size_t end;
		struct val *part;

		if (tpl_step(x, x->src, cmd->off, err) < 0)
			return CAIRN_ETOOBIG;
		if (!sep->len) {
			/* Go splits an empty separator into UTF-8 sequences */
			if (i >= s->len)
				break;
			end = i + 1;
			while (end < s->len && ((unsigned char)s->s[end] & 0xc0) == 0x80)
				end++;
			if (limit > 0 && idx + 1 >= (uint64_t)limit)
				end = s->len;
			start = i;
			i = end;
		} else {
			const char *hit = limit > 0 && idx + 1 >= (uint64_t)limit
						  ? NULL
						  : memmem(s->s + i, s->len - i, sep->s, sep->len);

			start = i;
			end = hit ? (size_t)(hit - s->s) : s->len;
			i = end + sep->len;
		}
		part = tpl_vstr(s->s + start, end - start);
		if (as_map) {
			char key[32];
			int kl = snprintf(key, sizeof(key), "_%zu", idx);

			tpl_map_put(r, tpl_vstr(key, (size_t)kl), part);
		} else {
			tpl_list_push(r, part);
		}
		if (sep->len && end == s->len)
			break;
	}
	*out = TAKE_PTR(r);
	return 0;
}

TPL_FN(split)
{
	(void)argc;
	return split_common(x, out, argv, cmd, true, -1, err);
}

TPL_FN(splitn)
{
	struct val *v[2] = {argv[0], argv[2]};

	(void)argc;
	if (tpl_want_int(x, argv[1], "splitn", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	return split_common(x, out, v, cmd, true, argv[1]->i < 0 ? -1 : argv[1]->i, err);
}

TPL_FN(splitList)
{
	(void)argc;
	return split_common(x, out, argv, cmd, false, -1, err);
}

TPL_FN(join)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	cleanup_val struct val *sep = NULL;
	const struct val *l = argv[1];
	bool first = true;

	(void)argc;
	if (tpl_to_str(x, &sep, argv[0], cmd->off, err) < 0)
		return CAIRN_ETOOBIG;
	if (l->kind != V_LIST)
		return tpl_to_str(x, out, argv[1], cmd->off, err);
	for (size_t i = 0; i < l->n && b.len <= CAIRN_TEMPLATE_OUTPUT_MAX; i++) {
		cleanup_val struct val *s = NULL;

		if (l->v[i]->kind == V_NIL)
			continue;
		if (tpl_to_str(x, &s, l->v[i], cmd->off, err) < 0)
			return CAIRN_ETOOBIG;
		if (!first)
			cairn_buf_add(&b, sep->s, sep->len);
		first = false;
		cairn_buf_add(&b, s->s, s->len);
	}
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

/* ---- trimming ---- */

static size_t rune_len(const char *s, size_t len)
{
	size_t n = 1;

	while (n < len && ((unsigned char)s[n] & 0xc0) == 0x80)
		n++;
	return n;
}

/* Whether the rune at s (n bytes) is one of those of `set`. */
static bool in_set(const struct val *set, const char *s, size_t n)
{
	for (size_t i = 0; i < set->len;) {
		size_t m = rune_len(set->s + i, set->len - i);

		if (m == n && memcmp(set->s + i, s, n) == 0)
			return true;
		i += m;
	}
	return false;
}

/* trimAll "cut" "s": Go's strings.Trim(s, cut), the runes of `cut` off both ends. */
TPL_FN(trimAll)
{
	const struct val *s = argv[1];
	size_t a = 0, e;

	(void)argc;
	if (want_strs(x, argv, 2, "trimAll", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	e = s->len;
	while (a < e) {
		size_t n = rune_len(s->s + a, e - a);

		if (!in_set(argv[0], s->s + a, n))
			break;
		a += n;
	}
	while (e > a) {
		size_t b = e - 1;

		while (b > a && ((unsigned char)s->s[b] & 0xc0) == 0x80)
			b--;
		if (!in_set(argv[0], s->s + b, e - b))
			break;
		e = b;
	}
	*out = tpl_vstr(s->s + a, e - a);
	return 0;
}

static bool has_prefix(const struct val *s, const struct val *p)
{
	return p->len <= s->len && memcmp(s->s, p->s, p->len) == 0;
}

static bool has_suffix(const struct val *s, const struct val *p)
{
	return p->len <= s->len && memcmp(s->s + s->len - p->len, p->s, p->len) == 0;
}

TPL_FN(trimPrefix)
{
	const struct val *s = argv[1];

	(void)argc;
	if (want_strs(x, argv, 2, "trimPrefix", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	if (has_prefix(s, argv[0]))
		*out = tpl_vstr(s->s + argv[0]->len, s->len - argv[0]->len);
	else
		*out = tpl_vref(argv[1]);
	return 0;
}

TPL_FN(trimSuffix)
{
	const struct val *s = argv[1];

	(void)argc;
	if (want_strs(x, argv, 2, "trimSuffix", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	if (has_suffix(s, argv[0]))
		*out = tpl_vstr(s->s, s->len - argv[0]->len);
	else
		*out = tpl_vref(argv[1]);
	return 0;
}

/* nospace: every Unicode white space removed (ASCII ones here). */
TPL_FN(nospace)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;

	(void)argc;
	if (tpl_want_str(x, argv[0], "nospace", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	for (size_t i = 0; i < argv[0]->len; i++)
		if (!strchr(" \t\n\v\f\r", argv[0]->s[i]) || !argv[0]->s[i])
			cairn_buf_addch(&b, argv[0]->s[i]);
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

/* ---- searching ---- */

/* contains, hasPrefix, hasSuffix: the needle first, so that `s | contains "x"` reads well. */
static int search(struct exec *x, struct val **out, struct val **argv, const struct cmd *cmd,
		  const char *fn, struct cairn_error **err)
{
	const struct val *n = argv[0], *s = argv[1];
	bool r;

	if (want_strs(x, argv, 2, fn, cmd->off, err) < 0)
		return CAIRN_EINVAL;
	if (fn[0] == 'c')
		r = !n->len || (n->len <= s->len && memmem(s->s, s->len, n->s, n->len));
	else if (fn[3] == 'P')
		r = has_prefix(s, n);
	else
		r = has_suffix(s, n);
	*out = tpl_vbool(r);
	return 0;
}

TPL_FN(contains)
{
	(void)argc;
	return search(x, out, argv, cmd, "contains", err);
}

TPL_FN(hasPrefix)
{
	(void)argc;
	return search(x, out, argv, cmd, "hasPrefix", err);
}

TPL_FN(hasSuffix)
{
	(void)argc;
	return search(x, out, argv, cmd, "hasSuffix", err);
}

/* ---- cutting and repeating ---- */

/* repeat N "s": the output cap stands in for Go's out-of-memory panic. */
TPL_FN(repeat)
{
	CLEANUP(cairn_buf_release)
	struct cairn_buf b = CAIRN_BUF_INIT_MAX(CAIRN_TEMPLATE_OUTPUT_MAX);
	const struct val *s = argv[1];

	(void)argc;
	if (tpl_want_int(x, argv[0], "repeat", cmd->off, err) < 0 ||
	    tpl_want_str(x, s, "repeat", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	if (argv[0]->i < 0)
		return tpl_xfail(x, cmd->off, err, "repeat: negative Repeat count");
	if (s->len && (uint64_t)argv[0]->i > CAIRN_TEMPLATE_OUTPUT_MAX / s->len)
		return tpl_too_big(x, cmd->off, err);
	for (int64_t i = 0; i < argv[0]->i && s->len; i++)
		cairn_buf_add(&b, s->s, s->len);
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

/* substr START END "s": Sprig's substring, whose bad bounds make Go panic: an error here. */
TPL_FN(substr)
{
	const struct val *s = argv[2];
	int64_t a = argv[0]->i, e = argv[1]->i, len;

	(void)argc;
	if (tpl_want_int(x, argv[0], "substr", cmd->off, err) < 0 ||
	    tpl_want_int(x, argv[1], "substr", cmd->off, err) < 0 ||
	    tpl_want_str(x, s, "substr", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	len = (int64_t)s->len;
	if (a < 0)
		a = 0;
	else if (e < 0 || e > len)
		e = len;
	if (e < 0 || e > len || a > e)
		return tpl_xfail(x, cmd->off, err, "substr: slice bounds out of range [%lld:%lld]",
				 (long long)a, (long long)e);
	*out = tpl_vstr(s->s + a, (size_t)(e - a));
	return 0;
}

/* trunc N "s": the first N bytes, or with N < 0 the last -N. */
TPL_FN(trunc)
{
	const struct val *s = argv[1];
	int64_t c = argv[0]->i, len;

	(void)argc;
	if (tpl_want_int(x, argv[0], "trunc", cmd->off, err) < 0 ||
	    tpl_want_str(x, s, "trunc", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	len = (int64_t)s->len;
	if (c < 0 && len + c > 0)
		*out = tpl_vstr(s->s + len + c, (size_t)-c);
	else if (c >= 0 && len > c)
		*out = tpl_vstr(s->s, (size_t)c);
	else
		*out = tpl_vref(argv[1]);
	return 0;
}

/* ---- conversions ---- */

/* cat: the non-nil arguments as %v, joined by spaces. */
TPL_FN(cat)
{
	CLEANUP(cairn_buf_release)
	struct cairn_buf b = CAIRN_BUF_INIT_MAX(CAIRN_TEMPLATE_OUTPUT_MAX);
	bool first = true;

	for (size_t i = 0; i < argc; i++) {
		int ret;

		if (argv[i]->kind == V_NIL)
			continue;
		if (!first)
			cairn_buf_addch(&b, ' ');
		first = false;
		ret = tpl_print_val(x, &b, argv[i], false, cmd->off, err);
		if (ret < 0)
			return ret;
	}
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

TPL_FN(toString)
{
	(void)argc;
	return tpl_to_str(x, out, argv[0], cmd->off, err);
}

/* toStrings: a list of the items as strings, nils left out (Sprig 3); another value: [it]. */
TPL_FN(toStrings)
{
	cleanup_val struct val *r = tpl_vnew(V_LIST);
	const struct val *l = argv[0];

	(void)argc;
	if (l->kind != V_LIST) {
		struct val *s = NULL;
		int ret;

		if (l->kind != V_NIL) {
			ret = tpl_to_str(x, &s, argv[0], cmd->off, err);
			if (ret < 0)
				return ret;
			tpl_list_push(r, s);
		}
		*out = TAKE_PTR(r);
		return 0;
	}
	for (size_t i = 0; i < l->n; i++) {
		struct val *s = NULL;
		int ret;

		if (l->v[i]->kind == V_NIL)
			continue;
		ret = tpl_to_str(x, &s, l->v[i], cmd->off, err);
		if (ret < 0)
			return ret;
		tpl_list_push(r, s);
	}
	*out = TAKE_PTR(r);
	return 0;
}

static const struct func funcs[] = {
	{"cat", fn_cat, 0, -1},
	{"contains", fn_contains, 2, 2},
	{"hasPrefix", fn_hasPrefix, 2, 2},
	{"hasSuffix", fn_hasSuffix, 2, 2},
	{"indent", fn_indent, 2, 2},
	{"join", fn_join, 2, 2},
	{"lower", fn_lower, 1, 1},
	{"nindent", fn_nindent, 2, 2},
	{"nospace", fn_nospace, 1, 1},
	{"quote", fn_quote, 0, -1},
	{"repeat", fn_repeat, 2, 2},
	{"replace", fn_replace, 3, 3},
	{"split", fn_split, 2, 2},
	{"splitList", fn_splitList, 2, 2},
	{"splitn", fn_splitn, 3, 3},
	{"squote", fn_squote, 0, -1},
	{"substr", fn_substr, 3, 3},
	{"toString", fn_toString, 1, 1},
	{"toStrings", fn_toStrings, 1, 1},
	{"trim", fn_trim, 1, 1},
	{"trimAll", fn_trimAll, 2, 2},
	{"trimPrefix", fn_trimPrefix, 2, 2},
	{"trimSuffix", fn_trimSuffix, 2, 2},
	{"trimall", fn_trimAll, 2, 2},
	{"trunc", fn_trunc, 2, 2},
	{"upper", fn_upper, 1, 1},
};

const struct func_table tpl_sprig_string_funcs = {funcs, ARRAY_SIZE(funcs)};
