/* SPDX-License-Identifier: MIT */
/* Sprig's list functions: list, append, first, rest, uniq, has, slice, until, seq... */
#include "common.h"
#include "config/template_internal.h"
#include "util/buf.h"

/* Most items `until`, `untilStep` and `seq` make: a config cannot ask for unbounded memory. */
#define LIST_MAX 100000

/* Sprig's "Cannot <what> on type <kind>" for a value that is not a list. */
static int not_list(struct exec *x, const struct val *v, const char *what, size_t off,
		    struct cairn_error **err)
{
	return tpl_xfail(x, off, err, "Cannot %s on type %s", what, tpl_go_kind(v));
}

/* Charge the steps of copying `n` items, so that copies in a loop stay bounded. */
static int charge(struct exec *x, size_t n, size_t off, struct cairn_error **err)
{
	x->steps += n;
	return tpl_step(x, x->src, off, err);
}

TPL_FN(list)
{
	cleanup_val struct val *r = tpl_vnew(V_LIST);

	for (size_t i = 0; i < argc; i++)
		tpl_list_push(r, tpl_vref(argv[i]));
	if (r->depth > TPL_VALUE_DEPTH_MAX)
		return tpl_xfail(x, cmd->off, err, "list: values nested more than %d deep",
				 TPL_VALUE_DEPTH_MAX);
	*out = TAKE_PTR(r);
	return 0;
}

/* append/push and prepend: a new list, the value added at the end or the start. */
static int add_item(struct exec *x, struct val **out, struct val **argv, const struct cmd *cmd,
		    bool front, struct cairn_error **err)
{
	const struct val *l = argv[0];
	cleanup_val struct val *r = NULL;

	if (l->kind != V_LIST)
		return not_list(x, l, front ? "prepend" : "push", cmd->off, err);
	if (charge(x, l->n, cmd->off, err) < 0)
		return CAIRN_ETOOBIG;
	r = tpl_vnew(V_LIST);
	if (front)
		tpl_list_push(r, tpl_vref(argv[1]));
	for (size_t i = 0; i < l->n; i++)
		tpl_list_push(r, tpl_vref(l->v[i]));
	if (!front)
		tpl_list_push(r, tpl_vref(argv[1]));
	if (r->depth > TPL_VALUE_DEPTH_MAX)
		return tpl_too_deep(x, cmd->off, err);
	*out = TAKE_PTR(r);
	return 0;
}

TPL_FN(append)
{
	(void)argc;
	return add_item(x, out, argv, cmd, false, err);
}

TPL_FN(prepend)
{
	(void)argc;
	return add_item(x, out, argv, cmd, true, err);
}

/* first, last, rest, initial: nil for an empty list. */
static int ends(struct exec *x, struct val **out, struct val *l, const struct cmd *cmd,
		const char *fn, struct cairn_error **err)
{
	if (l->kind != V_LIST)
		return tpl_xfail(x, cmd->off, err, "Cannot find %s on type %s", fn, tpl_go_kind(l));
	if (!l->n) {
		*out = tpl_vnew(V_NIL);
		return 0;
	}
	if (charge(x, l->n, cmd->off, err) < 0)
		return CAIRN_ETOOBIG;
	if (strcmp(fn, "first") == 0)
		*out = tpl_vref(l->v[0]);
	else if (strcmp(fn, "last") == 0)
		*out = tpl_vref(l->v[l->n - 1]);
	else if (strcmp(fn, "rest") == 0)
		*out = tpl_list_copy(l, 1, l->n);
	else
		*out = tpl_list_copy(l, 0, l->n - 1);
	return 0;
}

TPL_FN(first)
{
	(void)argc;
	return ends(x, out, argv[0], cmd, "first", err);
}

TPL_FN(last)
{
	(void)argc;
	return ends(x, out, argv[0], cmd, "last", err);
}

TPL_FN(rest)
{
	(void)argc;
	return ends(x, out, argv[0], cmd, "rest", err);
}

TPL_FN(initial)
{
	(void)argc;
	return ends(x, out, argv[0], cmd, "initial", err);
}

TPL_FN(reverse)
{
	const struct val *l = argv[0];
	struct val *r;

	(void)argc;
	if (l->kind != V_LIST)
		return tpl_xfail(x, cmd->off, err, "Cannot find reverse on type %s",
				 tpl_go_kind(l));
	if (charge(x, l->n, cmd->off, err) < 0)
		return CAIRN_ETOOBIG;
	r = tpl_vnew(V_LIST);
	for (size_t i = l->n; i > 0; i--)
		tpl_list_push(r, tpl_vref(l->v[i - 1]));
	*out = r;
	return 0;
}

/* Whether `v` equals one of the `n` values of `in` (reflect.DeepEqual); <0 on error. */
static int in_list(struct exec *x, struct val *const *in, size_t n, const struct val *v, size_t off,
		   struct cairn_error **err)
{
	for (size_t i = 0; i < n; i++) {
		int r = tpl_equal(x, in[i], v, 0, off, err);

		if (r)
			return r;
	}
	return 0;
}

/*
 * uniq, without, compact: the items of argv[0] kept by `keep`; argv[1..] are the values
 * `without` leaves out.
 */
static int filter(struct exec *x, struct val **out, struct val **argv, size_t argc,
		  const struct cmd *cmd, const char *fn, struct cairn_error **err)
{
	const struct val *l = argv[0];
	cleanup_val struct val *r = NULL;

	if (l->kind != V_LIST)
		return tpl_xfail(x, cmd->off, err, "Cannot %s on type %s", fn, tpl_go_kind(l));
	r = tpl_vnew(V_LIST);
	for (size_t i = 0; i < l->n; i++) {
		const struct val *v = l->v[i];
		int hit = 0;

		if (fn[0] == 'c')
			hit = tpl_empty(v);
		else if (fn[0] == 'u')
			hit = in_list(x, r->v, r->n, v, cmd->off, err);
		else
			hit = in_list(x, argv + 1, argc - 1, v, cmd->off, err);
		if (hit < 0)
			return hit;
		if (!hit)
			tpl_list_push(r, tpl_vref(l->v[i]));
	}
	*out = TAKE_PTR(r);
	return 0;
}

TPL_FN(uniq)
{
	return filter(x, out, argv, argc, cmd, "uniq", err);
}

TPL_FN(without)
{
	return filter(x, out, argv, argc, cmd, "without", err);
}

TPL_FN(compact)
{
	return filter(x, out, argv, argc, cmd, "compact", err);
}

/* has NEEDLE LIST: whether the list holds the needle; false for a nil list. */
TPL_FN(has)
{
	const struct val *l = argv[1];
	int r;

	(void)argc;
	if (l->kind == V_NIL) {
		*out = tpl_vbool(false);
		return 0;
	}
	if (l->kind != V_LIST)
		return tpl_xfail(x, cmd->off, err, "Cannot find has on type %s", tpl_go_kind(l));
	r = in_list(x, l->v, l->n, argv[0], cmd->off, err);
	if (r < 0)
		return r;
	*out = tpl_vbool(r);
	return 0;
}

/* slice LIST [START [END]]: Sprig's, which replaces Go's built-in; nil for an empty list. */
TPL_FN(slice)
{
	const struct val *l = argv[0];
	int64_t a = 0, e;

	if (l->kind != V_LIST)
		return tpl_xfail(x, cmd->off, err, "list should be type of slice or array but %s",
				 tpl_go_kind(l));
	if (!l->n) {
		*out = tpl_vnew(V_NIL);
		return 0;
	}
	e = (int64_t)l->n;
	if (argc > 1)
		a = tpl_to_int64(argv[1]);
	if (argc > 2)
		e = tpl_to_int64(argv[2]);
	if (a < 0 || e < a || e > (int64_t)l->n)
		return tpl_xfail(x, cmd->off, err, "slice: slice bounds out of range [%lld:%lld]",
				 (long long)a, (long long)e);
	if (charge(x, (size_t)(e - a), cmd->off, err) < 0)
		return CAIRN_ETOOBIG;
	*out = tpl_list_copy(l, (size_t)a, (size_t)e);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	const struct val *x = *(struct val *const *)a, *y = *(struct val *const *)b;

	return tpl_keycmp(x, y->s, y->len);
}

/* sortAlpha: the items as strings, sorted; a value that is not a list: [it as a string]. */
TPL_FN(sortAlpha)
{
	cleanup_val struct val *r = tpl_vnew(V_LIST);
	const struct val *l = argv[0];
	int ret;

	(void)argc;
	if (l->kind != V_LIST) {
		struct val *s = NULL;

		ret = tpl_to_str(x, &s, argv[0], cmd->off, err);
		if (ret < 0)
			return ret;
		tpl_list_push(r, s);
		*out = TAKE_PTR(r);
		return 0;
	}
	for (size_t i = 0; i < l->n; i++) {
		struct val *s = NULL;

		if (l->v[i]->kind == V_NIL)
			continue;
		ret = tpl_to_str(x, &s, l->v[i], cmd->off, err);
		if (ret < 0)
			return ret;
		tpl_list_push(r, s);
	}
	cairn_sort(r->v, r->n, sizeof(*r->v), cmp_str);
	*out = TAKE_PTR(r);
	return 0;
}

/* ---- counting: until, untilStep, seq ---- */

/* Sprig's untilStep: start, start+step, ... up to stop (exclusive), either way. */
static int count(struct exec *x, struct val **out, int64_t start, int64_t stop, int64_t step,
		 const struct cmd *cmd, const char *fn, struct cairn_error **err)
{
	cleanup_val struct val *r = tpl_vnew(V_LIST);
	bool down = stop < start;

	if ((down && step >= 0) || (!down && step <= 0)) {
		*out = TAKE_PTR(r);
		return 0;
	}
	for (int64_t i = start; down ? i > stop : i < stop;) {
		if (r->n >= LIST_MAX)
			return tpl_xfail(x, cmd->off, err, "%s: more than %d numbers", fn,
					 LIST_MAX);
		tpl_list_push(r, tpl_vint(i));
		if (__builtin_add_overflow(i, step, &i))
			break;
	}
	if (charge(x, r->n, cmd->off, err) < 0)
		return CAIRN_ETOOBIG;
	*out = TAKE_PTR(r);
	return 0;
}

TPL_FN(until)
{
	(void)argc;
	if (tpl_want_int(x, argv[0], "until", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	return count(x, out, 0, argv[0]->i, argv[0]->i < 0 ? -1 : 1, cmd, "until", err);
}

TPL_FN(untilStep)
{
	(void)argc;
	for (size_t i = 0; i < 3; i++)
		if (tpl_want_int(x, argv[i], "untilStep", cmd->off, err) < 0)
			return CAIRN_EINVAL;
	return count(x, out, argv[0]->i, argv[1]->i, argv[2]->i, cmd, "untilStep", err);
}

/* seq [START [STEP]] END, like seq(1): the numbers as a string, END included. */
TPL_FN(seq)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	cleanup_val struct val *l = NULL;
	int64_t start = 1, end, step = 1;
	int ret;

	for (size_t i = 0; i < argc; i++)
		if (tpl_want_int(x, argv[i], "seq", cmd->off, err) < 0)
			return CAIRN_EINVAL;
	if (argc == 0 || argc > 3) {
		*out = tpl_vstr("", 0);
		return 0;
	}
	end = argv[argc - 1]->i;
	if (argc > 1)
		start = argv[0]->i;
	if (argc == 3)
		step = argv[1]->i;
	else if (end < start)
		step = -1;
	if (argc == 3 && end < start && step > 0) {
		*out = tpl_vstr("", 0);
		return 0;
	}
	/* Sprig counts to end+1 (or end-1 downwards), excluded */
	if (__builtin_add_overflow(end, end < start ? -1 : 1, &end))
		return tpl_xfail(x, cmd->off, err, "seq: %lld is out of range", (long long)end);
	ret = count(x, &l, start, end, step, cmd, "seq", err);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < l->n; i++)
		cairn_buf_addf(&b, "%s%lld", i ? " " : "", (long long)l->v[i]->i);
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

static const struct func funcs[] = {
	{"append", fn_append, 2, 2},	{"compact", fn_compact, 1, 1},
	{"first", fn_first, 1, 1},	{"has", fn_has, 2, 2},
	{"initial", fn_initial, 1, 1},	{"last", fn_last, 1, 1},
	{"list", fn_list, 0, -1},	{"prepend", fn_prepend, 2, 2},
	{"push", fn_append, 2, 2},	{"rest", fn_rest, 1, 1},
	{"reverse", fn_reverse, 1, 1},	{"seq", fn_seq, 0, -1},
	{"slice", fn_slice, 1, 3},	{"sortAlpha", fn_sortAlpha, 1, 1},
	{"tuple", fn_list, 0, -1},	{"uniq", fn_uniq, 1, 1},
	{"until", fn_until, 1, 1},	{"untilStep", fn_untilStep, 3, 3},
	{"without", fn_without, 1, -1},
};

const struct func_table tpl_sprig_list_funcs = {funcs, ARRAY_SIZE(funcs)};
