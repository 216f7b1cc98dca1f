/* SPDX-License-Identifier: MIT */
/* The functions of templates: Go's built-ins, what all groups share, and the table of them all. */
#include "common.h"
#include "config/template_internal.h"
#include "util/buf.h"

#include <ctype.h>

/* ---- argument checks and conversions the groups share ---- */

static int want(struct exec *x, const struct val *v, enum vkind kind, const char *what,
		const char *fn, size_t off, struct cairn_error **err)
{
	if (v->kind != kind)
		return tpl_xfail(x, off, err, "%s: expected %s, got %s", fn, what,
				 tpl_kind_name(v));
	return 0;
}

int tpl_want_str(struct exec *x, const struct val *v, const char *fn, size_t off,
		 struct cairn_error **err)
{
	return want(x, v, V_STR, "a string", fn, off, err);
}

int tpl_want_int(struct exec *x, const struct val *v, const char *fn, size_t off,
		 struct cairn_error **err)
{
	return want(x, v, V_INT, "an integer", fn, off, err);
}

int tpl_want_list(struct exec *x, const struct val *v, const char *fn, size_t off,
		  struct cairn_error **err)
{
	return want(x, v, V_LIST, "a list", fn, off, err);
}

int tpl_want_map(struct exec *x, const struct val *v, const char *fn, size_t off,
		 struct cairn_error **err)
{
	return want(x, v, V_MAP, "a map", fn, off, err);
}

int tpl_too_deep(struct exec *x, size_t off, struct cairn_error **err)
{
	return tpl_xfail(x, off, err, "values nested more than %d deep", TPL_VALUE_DEPTH_MAX);
}

/* Sprig's toInt64 (spf13/cast): ints as they are, strings parsed as Go literals, else 0. */
int64_t tpl_to_int64(const struct val *v)
{
	long long n;
	char *end;

	switch (v->kind) {
	case V_INT:
		return v->i;
	case V_BOOL:
		return v->b;
	case V_STR:
		/* Go's ParseInt takes no white space, which strtoll would skip */
		if (!v->len || memchr(v->s, '\0', v->len) || isspace((unsigned char)v->s[0]))
			return 0;
		errno = 0;
		n = strtoll(v->s, &end, 0);
		/* Go reads "010" as octal and "0b1" as binary; strtoll does the first */
		if (*end || errno)
			return 0;
		return n;
	default:
		return 0;
	}
}

/* Sprig's empty: nil, false, 0, "", and an empty list or map. */
bool tpl_empty(const struct val *v)
{
	return !tpl_truth(v);
}

/* Whether `to` is `from` or held in it: a map set into itself would make a loop. */
int tpl_reaches(struct exec *x, const struct val *from, const struct val *to, unsigned depth,
		size_t off, struct cairn_error **err)
{
	if (from == to)
		return 1;
	if (from->kind != V_LIST && from->kind != V_MAP)
		return 0;
	if (depth > TPL_VALUE_DEPTH_MAX)
		return tpl_too_deep(x, off, err);
	for (size_t i = 0; i < from->n; i++) {
		int r;

		if (tpl_step(x, x->src, off, err) < 0)
			return CAIRN_ETOOBIG;
		r = tpl_reaches(x, from->v[i], to, depth + 1, off, err);
		if (r)
			return r;
	}
	return 0;
}

/* Go's reflect.DeepEqual, as Sprig's has, uniq and without use it: 1 equal, 0 not. */
int tpl_equal(struct exec *x, const struct val *a, const struct val *b, unsigned depth, size_t off,
	      struct cairn_error **err)
{
	if (a == b)
		return 1;
	if (a->kind != b->kind || (a->kind == V_INT && a->b != b->b))
		return 0;
	switch (a->kind) {
	case V_NIL:
	case V_FILES:
		return 1;
	case V_BOOL:
		return a->b == b->b;
	case V_INT:
		return a->i == b->i;
	case V_STR:
		return a->len == b->len && tpl_keycmp(a, b->s, b->len) == 0;
	case V_LIST:
	case V_MAP:
		break;
	}
	if (a->n != b->n)
		return 0;
	if (depth > TPL_VALUE_DEPTH_MAX)
		return tpl_too_deep(x, off, err);
	for (size_t i = 0; i < a->n; i++) {
		int r;

		if (tpl_step(x, x->src, off, err) < 0)
			return CAIRN_ETOOBIG;
		if (a->kind == V_MAP && tpl_keycmp(a->k[i], b->k[i]->s, b->k[i]->len) != 0)
			return 0;
		r = tpl_equal(x, a->v[i], b->v[i], depth + 1, off, err);
		if (r != 1)
			return r;
	}
	return 1;
}

/* ---- Go's built-ins: comparisons ---- */

/* -1, 0, 1; or CAIRN_EINVAL for values that cannot be compared (`ordered`: lt/le/gt/ge). */
static int compare(struct exec *x, int *out, const struct val *a, const struct val *b, bool ordered,
		   const char *fn, size_t off, struct cairn_error **err)
{
	if (!ordered && (a->kind == V_NIL || b->kind == V_NIL)) {
		*out = a->kind != b->kind;
		return 0;
	}
	if (a->kind != b->kind)
		return tpl_xfail(x, off, err, "%s: incompatible types for comparison: %s and %s",
				 fn, tpl_kind_name(a), tpl_kind_name(b));
	switch (a->kind) {
	case V_INT:
		/* int and int64 compare by value, as in Go since 1.18 */
		*out = a->i < b->i ? -1 : a->i > b->i;
		return 0;
	case V_STR:
		*out = tpl_keycmp(a, b->s, b->len);
		return 0;
	case V_BOOL:
		if (!ordered) {
			*out = a->b != b->b;
			return 0;
		}
		break;
	default:
		break;
	}
	return tpl_xfail(x, off, err, "%s: invalid type for comparison: %s", fn, tpl_kind_name(a));
}

TPL_FN(eq)
{
	int r = 1;

	/* true when the first argument equals any of the others */
	for (size_t i = 1; i < argc && r; i++)
		if (compare(x, &r, argv[0], argv[i], false, "eq", cmd->off, err) < 0)
			return CAIRN_EINVAL;
	*out = tpl_vbool(r == 0);
	return 0;
}

/* ne, lt, le, gt, ge: two arguments; `want` holds the outcomes of compare() that give true. */
static int compare2(struct exec *x, struct val **out, struct val **argv, const struct cmd *cmd,
		    const char *fn, bool lt, bool eq, bool gt, struct cairn_error **err)
{
	bool ordered = !(lt && gt);
	int r = 0;

	if (compare(x, &r, argv[0], argv[1], ordered, fn, cmd->off, err) < 0)
		return CAIRN_EINVAL;
	*out = tpl_vbool(r < 0 ? lt : r > 0 ? gt : eq);
	return 0;
}

TPL_FN(ne)
{
	(void)argc;
	return compare2(x, out, argv, cmd, "ne", true, false, true, err);
}

TPL_FN(lt)
{
	(void)argc;
	return compare2(x, out, argv, cmd, "lt", true, false, false, err);
}

TPL_FN(le)
{
	(void)argc;
	return compare2(x, out, argv, cmd, "le", true, true, false, err);
}

TPL_FN(gt)
{
	(void)argc;
	return compare2(x, out, argv, cmd, "gt", false, false, true, err);
}

TPL_FN(ge)
{
	(void)argc;
	return compare2(x, out, argv, cmd, "ge", false, true, true, err);
}

/* ---- Go's built-ins: logic, len, index ---- */

TPL_FN(not )
{
	(void)x, (void)cmd, (void)err, (void)argc;
	*out = tpl_vbool(!tpl_truth(argv[0]));
	return 0;
}

TPL_FN(len)
{
	(void)argc;
	if (argv[0]->kind == V_STR || argv[0]->kind == V_LIST || argv[0]->kind == V_MAP) {
		*out = tpl_vint(argv[0]->kind == V_STR ? (int64_t)argv[0]->len
						       : (int64_t)argv[0]->n);
		return 0;
	}
	return tpl_xfail(x, cmd->off, err, "len of %s", tpl_kind_name(argv[0]));
}

/* One step of Go's index: a list or string by an integer, a map by a string. */
static int index_one(struct exec *x, struct val **cur, const struct val *i, size_t off,
		     struct cairn_error **err)
{
	struct val *c = *cur;
	struct val *next;

	switch (c->kind) {
	case V_LIST:
	case V_STR:
		if (i->kind != V_INT)
			return tpl_xfail(x, off, err, "index: cannot index slice/array with %s",
					 i->kind == V_NIL ? "nil" : tpl_go_type(i));
		if (i->i < 0 || (uint64_t)i->i >= (c->kind == V_STR ? c->len : c->n))
			return tpl_xfail(x, off, err, "index: index out of range: %lld",
					 (long long)i->i);
		/* a string gives the byte, as a number */
		next = c->kind == V_STR ? tpl_vint((unsigned char)c->s[i->i])
					: tpl_vref(c->v[i->i]);
		break;
	case V_MAP:
		if (i->kind != V_STR)
			return tpl_xfail(x, off, err, "index: value has type %s; should be string",
					 tpl_go_type(i));
		next = tpl_map_get(c, i->s, i->len);
		/* a missing key gives the zero value of interface{}: nil */
		next = next ? tpl_vref(next) : tpl_vnew(V_NIL);
		break;
	case V_NIL:
		return tpl_xfail(x, off, err, "index: index of nil pointer");
	default:
		return tpl_xfail(x, off, err, "index: can't index item of type %s", tpl_go_type(c));
	}
	tpl_vunref(c);
	*cur = next;
	return 0;
}

TPL_FN(index)
{
	cleanup_val struct val *cur = tpl_vref(argv[0]);

	if (cur->kind == V_NIL)
		return tpl_xfail(x, cmd->off, err, "index: index of untyped nil");
	for (size_t i = 1; i < argc; i++)
		if (index_one(x, &cur, argv[i], cmd->off, err) < 0)
			return CAIRN_EINVAL;
	*out = TAKE_PTR(cur);
	return 0;
}

/* `and` and `or` are evaluated in tpl_call(): they stop at the first deciding argument. */
TPL_FN(and)
{
	(void)x, (void)out, (void)argv, (void)argc, (void)cmd, (void)err;
	return 0;
}

static const struct func go_funcs[] = {
	{"and", fn_and, 1, -1}, {"eq", fn_eq, 2, -1},	    {"ge", fn_ge, 2, 2},
	{"gt", fn_gt, 2, 2},	{"index", fn_index, 1, -1}, {"le", fn_le, 2, 2},
	{"len", fn_len, 1, 1},	{"lt", fn_lt, 2, 2},	    {"ne", fn_ne, 2, 2},
	{"not", fn_not, 1, 1},	{"or", fn_and, 1, -1},
};

static const struct func_table go_table = {go_funcs, ARRAY_SIZE(go_funcs)};

/* werf's functions win over Sprig's, Sprig's over Go's, as in werf's funcMap. */
static const struct func_table *const tables[] = {
	&tpl_werf_funcs,
	&tpl_sprig_data_funcs,
	&tpl_sprig_string_funcs,
	&tpl_sprig_case_funcs,
	&tpl_sprig_list_funcs,
	&tpl_sprig_dict_funcs,
	&tpl_sprig_math_funcs,
	&tpl_sprig_json_funcs,
	&tpl_sprig_regex_funcs,
	&tpl_fmt_funcs,
	&go_table,
};

const struct func *tpl_find_func(const char *name)
{
	for (size_t t = 0; t < ARRAY_SIZE(tables); t++)
		for (size_t i = 0; i < tables[t]->n; i++)
			if (strcmp(tables[t]->v[i].name, name) == 0)
				return &tables[t]->v[i];
	return NULL;
}

static void unref_all(struct val **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tpl_vunref(v[i]);
}

/* Go: the first false (and) or true (or) argument, else the last one; the rest not evaluated. */
static int call_logic(struct exec *x, struct val **out, const struct cmd *cmd, struct val *dot,
		      struct val *piped, size_t argc, struct cairn_error **err)
{
	bool is_and = cmd->args[0]->fn->name[0] == 'a';

	for (size_t i = 1; i <= argc; i++) {
		struct val *v = NULL;
		int ret = 0;

		if (i < cmd->n)
			ret = tpl_eval_arg(x, &v, cmd->args[i], dot, err);
		else
			v = tpl_vref(piped);
		if (ret < 0)
			return ret;
		if (tpl_truth(v) != is_and || i == argc) {
			*out = v;
			return 0;
		}
		tpl_vunref(v);
	}
	return 0;
}

int tpl_call(struct exec *x, struct val **out, const struct cmd *cmd, struct val *dot,
	     struct val *piped, struct cairn_error **err)
{
	const struct func *f = cmd->args[0]->fn;
	size_t argc = cmd->n - 1 + (piped != NULL);
	CLEANUP(freep) struct val **argv = NULL;
	size_t n = 0;
	int ret = 0;

	*out = NULL;
	if ((int64_t)argc < f->min || (f->max >= 0 && argc > (size_t)f->max))
		return tpl_xfail(x, cmd->args[0]->off, err,
				 "wrong number of args for %s: want %s%d got %zu", f->name,
				 f->max < 0 ? "at least " : "", f->min, argc);
	if (tpl_step(x, x->src, cmd->off, err) < 0)
		return CAIRN_ETOOBIG;
	if (f->fn == fn_and)
		return call_logic(x, out, cmd, dot, piped, argc, err);
	argv = xreallocarray(NULL, argc + 1, sizeof(*argv));
	for (size_t i = 1; i < cmd->n; i++) {
		ret = tpl_eval_arg(x, &argv[n], cmd->args[i], dot, err);
		if (ret < 0) {
			unref_all(argv, n);
			return ret;
		}
		n++;
	}
	if (piped)
		argv[n++] = tpl_vref(piped);
	ret = f->fn(x, out, argv, n, cmd, err);
	unref_all(argv, n);
	return ret;
}
