/* SPDX-License-Identifier: MIT */
/* Sprig's integer math and conversions: add, sub, mul, div, mod, max, min, int, atoi... */
#include "common.h"
#include "config/template_internal.h"

/* int64 arithmetic that wraps as Go's does, without C's undefined behaviour. */
static int64_t wrap(uint64_t u)
{
	return (int64_t)u;
}

TPL_FN(add)
{
	uint64_t r = 0;

	(void)x, (void)cmd, (void)err;
	for (size_t i = 0; i < argc; i++)
		r += (uint64_t)tpl_to_int64(argv[i]);
	*out = tpl_vint64(wrap(r));
	return 0;
}

TPL_FN(add1)
{
	(void)x, (void)cmd, (void)err, (void)argc;
	*out = tpl_vint64(wrap((uint64_t)tpl_to_int64(argv[0]) + 1));
	return 0;
}

TPL_FN(sub)
{
	(void)x, (void)cmd, (void)err, (void)argc;
	*out = tpl_vint64(wrap((uint64_t)tpl_to_int64(argv[0]) - (uint64_t)tpl_to_int64(argv[1])));
	return 0;
}

TPL_FN(mul)
{
	uint64_t r = (uint64_t)tpl_to_int64(argv[0]);

	(void)x, (void)cmd, (void)err;
	for (size_t i = 1; i < argc; i++)
		r *= (uint64_t)tpl_to_int64(argv[i]);
	*out = tpl_vint64(wrap(r));
	return 0;
}

/* div and mod: Go panics on a zero divisor; MinInt64 / -1 wraps to MinInt64, remainder 0. */
static int divide(struct exec *x, struct val **out, struct val **argv, const struct cmd *cmd,
		  bool mod, struct cairn_error **err)
{
	int64_t a = tpl_to_int64(argv[0]), b = tpl_to_int64(argv[1]);

	if (b == 0)
		return tpl_xfail(x, cmd->off, err, "%s: integer divide by zero",
				 mod ? "mod" : "div");
	if (b == -1)
		*out = tpl_vint64(mod ? 0 : wrap(-(uint64_t)a));
	else
		*out = tpl_vint64(mod ? a % b : a / b);
	return 0;
}

TPL_FN(div)
{
	(void)argc;
	return divide(x, out, argv, cmd, false, err);
}

TPL_FN(mod)
{
	(void)argc;
	return divide(x, out, argv, cmd, true, err);
}

static int64_t extreme(struct val **argv, size_t argc, bool max)
{
	int64_t r = tpl_to_int64(argv[0]);

	for (size_t i = 1; i < argc; i++) {
		int64_t v = tpl_to_int64(argv[i]);

		if (max ? v > r : v < r)
			r = v;
	}
	return r;
}

TPL_FN(max)
{
	(void)x, (void)cmd, (void)err;
	*out = tpl_vint64(extreme(argv, argc, true));
	return 0;
}

TPL_FN(min)
{
	(void)x, (void)cmd, (void)err;
	*out = tpl_vint64(extreme(argv, argc, false));
	return 0;
}

TPL_FN(int)
{
	(void)x, (void)cmd, (void)err, (void)argc;
	*out = tpl_vint(tpl_to_int64(argv[0]));
	return 0;
}

TPL_FN(int64)
{
	(void)x, (void)cmd, (void)err, (void)argc;
	*out = tpl_vint64(tpl_to_int64(argv[0]));
	return 0;
}

/* atoi "s": Go's strconv.Atoi, decimal only; 0 for bad syntax, clamped when out of range. */
TPL_FN(atoi)
{
	const struct val *s = argv[0];
	size_t i = 0;
	bool neg = false, big = false;
	uint64_t n = 0;

	(void)argc;
	if (tpl_want_str(x, s, "atoi", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	if (i < s->len && (s->s[i] == '+' || s->s[i] == '-'))
		neg = s->s[i++] == '-';
	if (i == s->len) {
		*out = tpl_vint(0);
		return 0;
	}
	for (; i < s->len; i++) {
		if (s->s[i] < '0' || s->s[i] > '9') {
			*out = tpl_vint(0);
			return 0;
		}
		if (n > ((uint64_t)INT64_MAX + 1) / 10)
			big = true;
		else
			n = n * 10 + (uint64_t)(s->s[i] - '0');
	}
	if (big || n > (uint64_t)INT64_MAX + neg)
		*out = tpl_vint(neg ? INT64_MIN : INT64_MAX);
	else
		*out = tpl_vint(neg ? wrap(-n) : (int64_t)n);
	return 0;
}

static const struct func funcs[] = {
	{"add", fn_add, 0, -1},	    {"add1", fn_add1, 1, 1}, {"atoi", fn_atoi, 1, 1},
	{"biggest", fn_max, 1, -1}, {"div", fn_div, 2, 2},   {"int", fn_int, 1, 1},
	{"int64", fn_int64, 1, 1},  {"max", fn_max, 1, -1},  {"min", fn_min, 1, -1},
	{"mod", fn_mod, 2, 2},	    {"mul", fn_mul, 1, -1},  {"sub", fn_sub, 2, 2},
};

const struct func_table tpl_sprig_math_funcs = {funcs, ARRAY_SIZE(funcs)};
