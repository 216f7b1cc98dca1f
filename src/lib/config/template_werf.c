/* SPDX-License-Identifier: MIT */
/* werf's own template functions: include and tpl. */
#include "common.h"
#include "config/template_internal.h"
#include "util/buf.h"

/* Most `tpl` calls per render, and most bytes of template text they may parse in all. */
#define TPL_CALLS_MAX 10000u
#define TPL_BYTES_MAX CAIRN_TEMPLATE_OUTPUT_MAX

/* include NAME DATA: the output of the template NAME run on DATA, as a string. */
TPL_FN(include)
{
	CLEANUP(cairn_buf_release)
	struct cairn_buf b = CAIRN_BUF_INIT_MAX(CAIRN_TEMPLATE_OUTPUT_MAX);
	int ret;

	(void)argc;
	if (tpl_want_str(x, argv[0], "include", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	ret = tpl_exec_template(x, &b, argv[0]->s, argv[1], cmd->off, err);
	if (ret < 0)
		return ret;
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

/*
 * tpl TEXT DATA: TEXT parsed as a template of the set (its defines join it, as in werf) and
 * run with `.` and `$` set to DATA; werf configs pass `$` to reach .Files and their values.
 */
TPL_FN(tpl)
{
	CLEANUP(cairn_buf_release)
	struct cairn_buf b = CAIRN_BUF_INIT_MAX(CAIRN_TEMPLATE_OUTPUT_MAX);
	cleanup_free char *name = NULL;
	const struct val *text = argv[0];
	struct list body = {0};
	const struct src *s;
	unsigned line, col;
	int ret;

	(void)argc;
	if (tpl_want_str(x, text, "tpl", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	if (x->tpl_calls >= TPL_CALLS_MAX || text->len > TPL_BYTES_MAX - x->tpl_bytes) {
		tpl_pos_of(x->src, cmd->off, &line, &col);
		return cairn_error_set(err, CAIRN_ETOOBIG,
				       "%s:%u:%u: tpl: more than %u calls or %u bytes of templates",
				       x->src->name, line, col, TPL_CALLS_MAX, TPL_BYTES_MAX);
	}
	x->tpl_calls++;
	x->tpl_bytes += text->len;
	/* messages inside name the call first: "werf.yaml:3:5: tpl:1:2: ..." */
	tpl_pos_of(x->src, cmd->off, &line, &col);
	name = xasprintf("%s:%u:%u: tpl", x->src->name, line, col);
	s = tpl_add_src(x->c, name, text->s, text->len);
	ret = tpl_parse_src(x->c, s, &body, err);
	if (ret < 0)
		return ret;
	ret = tpl_exec_body(x, &b, &body, "tpl", argv[1], cmd->off, err);
	if (ret < 0)
		return ret;
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

static const struct func funcs[] = {
	{"include", fn_include, 2, 2},
	{"tpl", fn_tpl, 2, 2},
};

const struct func_table tpl_werf_funcs = {funcs, ARRAY_SIZE(funcs)};
