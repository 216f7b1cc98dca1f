/* SPDX-License-Identifier: MIT */
/* Sprig's dictionary functions: dict, set, unset, get, hasKey, keys, values, merge... */
#include "common.h"
#include "config/template_internal.h"
#include "util/buf.h"

/*
 * Maps are shared, as Go's are: `set` and `merge` change the map every holder sees. A value
 * put into a map must not hold that map (a loop Go would print until its stack runs out).
 */
static int put(struct exec *x, struct val *m, struct val *k, struct val *v, size_t off,
	       struct cairn_error **err)
{
	int r = tpl_reaches(x, v, m, 0, off, err);

	if (r) {
		tpl_vunref(k);
		tpl_vunref(v);
		if (r < 0)
			return r;
		return tpl_xfail(x, off, err, "a map cannot hold itself");
	}
	tpl_map_put(m, k, v);
	return 0;
}

TPL_FN(dict)
{
	cleanup_val struct val *r = tpl_vnew(V_MAP);

	for (size_t i = 0; i < argc; i += 2) {
		struct val *k = NULL;
		int ret = tpl_to_str(x, &k, argv[i], cmd->off, err);

		if (ret < 0)
			return ret;
		tpl_map_put(r, k, i + 1 < argc ? tpl_vref(argv[i + 1]) : tpl_vstr("", 0));
	}
	if (r->depth > TPL_VALUE_DEPTH_MAX)
		return tpl_xfail(x, cmd->off, err, "dict: values nested more than %d deep",
				 TPL_VALUE_DEPTH_MAX);
	*out = TAKE_PTR(r);
	return 0;
}

/* A map argument; nil, which Go passes as a nil map, reads as an empty one (`reads`). */
static int want_map(struct exec *x, const struct val *v, bool reads, const char *fn, size_t off,
		    struct cairn_error **err)
{
	if (reads && v->kind == V_NIL)
		return 0;
	return tpl_want_map(x, v, fn, off, err);
}

static int want_map_key(struct exec *x, struct val **argv, bool reads, const char *fn, size_t off,
			struct cairn_error **err)
{
	if (want_map(x, argv[0], reads, fn, off, err) < 0 ||
	    tpl_want_str(x, argv[1], fn, off, err) < 0)
		return CAIRN_EINVAL;
	return 0;
}

/* The value of a key; none in nil. */
static struct val *lookup(const struct val *m, const struct val *k)
{
	return m->kind == V_MAP ? tpl_map_get(m, k->s, k->len) : NULL;
}

/* set MAP KEY VALUE: the map, changed. */
TPL_FN(set)
{
	int ret;

	(void)argc;
	if (want_map_key(x, argv, false, "set", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	ret = put(x, argv[0], tpl_vref(argv[1]), tpl_vref(argv[2]), cmd->off, err);
	if (ret < 0)
		return ret;
	*out = tpl_vref(argv[0]);
	return 0;
}

/* unset MAP KEY: the map, the key gone. */
TPL_FN(unset)
{
	struct val *m = argv[0];

	(void)argc;
	if (want_map_key(x, argv, false, "unset", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	for (size_t i = 0; i < m->n; i++) {
		if (tpl_keycmp(m->k[i], argv[1]->s, argv[1]->len) != 0 ||
		    m->k[i]->len != argv[1]->len)
			continue;
		tpl_vunref(m->k[i]);
		tpl_vunref(m->v[i]);
		memmove(m->k + i, m->k + i + 1, (m->n - i - 1) * sizeof(*m->k));
		memmove(m->v + i, m->v + i + 1, (m->n - i - 1) * sizeof(*m->v));
		m->n--;
		break;
	}
	*out = tpl_vref(m);
	return 0;
}

/* get MAP KEY: the value, or "" when the key is missing. */
TPL_FN(get)
{
	struct val *v;

	(void)argc;
	if (want_map_key(x, argv, true, "get", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	v = lookup(argv[0], argv[1]);
	*out = v ? tpl_vref(v) : tpl_vstr("", 0);
	return 0;
}

TPL_FN(hasKey)
{
	(void)argc;
	if (want_map_key(x, argv, true, "hasKey", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	*out = tpl_vbool(lookup(argv[0], argv[1]) != NULL);
	return 0;
}

/* keys MAP...: their keys; Go's order is random, cairn's sorted (and `sortAlpha` agrees). */
TPL_FN(keys)
{
	cleanup_val struct val *r = tpl_vnew(V_LIST);

	for (size_t i = 0; i < argc; i++) {
		if (want_map(x, argv[i], true, "keys", cmd->off, err) < 0)
			return CAIRN_EINVAL;
		for (size_t j = 0; j < argv[i]->n; j++)
			tpl_list_push(r, tpl_vref(argv[i]->k[j]));
	}
	*out = TAKE_PTR(r);
	return 0;
}

/* values MAP: its values, in the order of the sorted keys. */
TPL_FN(values)
{
	(void)argc;
	if (want_map(x, argv[0], true, "values", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	*out = tpl_list_copy(argv[0], 0, argv[0]->n);
	return 0;
}

/* pick MAP KEY... and omit MAP KEY...: a new map with only, or without, those keys. */
static int pick_omit(struct exec *x, struct val **out, struct val **argv, size_t argc,
		     const struct cmd *cmd, bool pick, struct cairn_error **err)
{
	cleanup_val struct val *r = tpl_vnew(V_MAP);
	const struct val *m = argv[0];

	for (size_t i = 1; i < argc; i++)
		if (tpl_want_str(x, argv[i], pick ? "pick" : "omit", cmd->off, err) < 0)
			return CAIRN_EINVAL;
	if (tpl_want_map(x, m, pick ? "pick" : "omit", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	for (size_t j = 0; j < m->n; j++) {
		bool named = false;

		for (size_t i = 1; i < argc && !named; i++)
			named = m->k[j]->len == argv[i]->len &&
				tpl_keycmp(m->k[j], argv[i]->s, argv[i]->len) == 0;
		if (named == pick)
			tpl_map_put(r, tpl_vref(m->k[j]), tpl_vref(m->v[j]));
	}
	*out = TAKE_PTR(r);
	return 0;
}

TPL_FN(pick)
{
	return pick_omit(x, out, argv, argc, cmd, true, err);
}

TPL_FN(omit)
{
	return pick_omit(x, out, argv, argc, cmd, false, err);
}

/* pluck KEY MAP...: the values of KEY in the maps that have it. */
TPL_FN(pluck)
{
	cleanup_val struct val *r = tpl_vnew(V_LIST);

	if (tpl_want_str(x, argv[0], "pluck", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	for (size_t i = 1; i < argc; i++) {
		struct val *v;

		if (want_map(x, argv[i], true, "pluck", cmd->off, err) < 0)
			return CAIRN_EINVAL;
		v = lookup(argv[i], argv[0]);
		if (v)
			tpl_list_push(r, tpl_vref(v));
	}
	*out = TAKE_PTR(r);
	return 0;
}

/*
 * mergo's Merge of `src` into `dst`, as Sprig's merge uses it: a key dst lacks is added, two
 * maps under one key are merged in turn; otherwise dst keeps its value, unless `overwrite`
 * (mergeOverwrite) where a src value that is not nil wins.
 */
static int merge_into(struct exec *x, struct val *dst, const struct val *src, bool overwrite,
		      unsigned depth, size_t off, struct cairn_error **err)
{
	if (depth > TPL_VALUE_DEPTH_MAX)
		return tpl_too_deep(x, off, err);
	for (size_t i = 0; i < src->n; i++) {
		/* held: merging may replace what src holds when src is inside dst */
		cleanup_val struct val *k = tpl_vref(src->k[i]);
		cleanup_val struct val *sv = tpl_vref(src->v[i]);
		cleanup_val struct val *dv = tpl_map_get(dst, k->s, k->len);
		int ret = 0;

		if (dv)
			tpl_vref(dv);
		if (tpl_step(x, x->src, off, err) < 0)
			return CAIRN_ETOOBIG;
		if (dv && dv->kind == V_MAP && sv->kind == V_MAP && dv != sv)
			ret = merge_into(x, dv, sv, overwrite, depth + 1, off, err);
		else if (!dv || (overwrite && sv->kind != V_NIL))
			ret = put(x, dst, tpl_vref(k), tpl_vref(sv), off, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int merge(struct exec *x, struct val **out, struct val **argv, size_t argc,
		 const struct cmd *cmd, bool overwrite, struct cairn_error **err)
{
	const char *fn = overwrite ? "mergeOverwrite" : "merge";

	for (size_t i = 0; i < argc; i++)
		if (tpl_want_map(x, argv[i], fn, cmd->off, err) < 0)
			return CAIRN_EINVAL;
	for (size_t i = 1; i < argc; i++) {
		int ret = merge_into(x, argv[0], argv[i], overwrite, 0, cmd->off, err);

		if (ret < 0)
			return ret;
	}
	*out = tpl_vref(argv[0]);
	return 0;
}

TPL_FN(merge)
{
	return merge(x, out, argv, argc, cmd, false, err);
}

TPL_FN(mergeOverwrite)
{
	return merge(x, out, argv, argc, cmd, true, err);
}

/* dig KEY... DEFAULT MAP: the value at the path of keys, or DEFAULT where one is missing. */
TPL_FN(dig)
{
	const struct val *cur = argv[argc - 1];

	if (tpl_want_map(x, cur, "dig", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	for (size_t i = 0; i + 2 < argc; i++) {
		const struct val *v;

		if (tpl_want_str(x, argv[i], "dig", cmd->off, err) < 0)
			return CAIRN_EINVAL;
		if (cur->kind != V_MAP)
			return tpl_xfail(x, cmd->off, err, "dig: '%s' is not in a map", argv[i]->s);
		v = tpl_map_get(cur, argv[i]->s, argv[i]->len);
		if (!v) {
			*out = tpl_vref(argv[argc - 2]);
			return 0;
		}
		cur = v;
	}
	*out = tpl_vref((struct val *)cur);
	return 0;
}

static const struct func funcs[] = {
	{"dict", fn_dict, 0, -1},
	{"dig", fn_dig, 3, -1},
	{"get", fn_get, 2, 2},
	{"hasKey", fn_hasKey, 2, 2},
	{"keys", fn_keys, 0, -1},
	{"merge", fn_merge, 1, -1},
	{"mergeOverwrite", fn_mergeOverwrite, 1, -1},
	{"omit", fn_omit, 1, -1},
	{"pick", fn_pick, 1, -1},
	{"pluck", fn_pluck, 1, -1},
	{"set", fn_set, 3, 3},
	{"unset", fn_unset, 2, 2},
	{"values", fn_values, 1, 1},
};

const struct func_table tpl_sprig_dict_funcs = {funcs, ARRAY_SIZE(funcs)};
