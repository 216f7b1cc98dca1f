/* SPDX-License-Identifier: MIT */
/* The functions of templates: the table of Go's and Sprig's that cairn has, and their calls. */
#include "common.h"
#include "config/template_internal.h"
#include "util/buf.h"

#include <ctype.h>

#define VALUE_DEPTH_MAX 64

#define FN(name)                                                                               \
	static int fn_##name(struct exec *x, struct val **out, struct val **argv, size_t argc, \
			     const struct cmd *cmd, struct cairn_error **err)

static int want_str(struct exec *x, const struct val *v, const char *fn, size_t off,
		    struct cairn_error **err)
{
	if (v->kind != V_STR)
		return tpl_xfail(x, off, err, "%s: expected a string, got %s", fn,
				 tpl_kind_name(v));
	return 0;
}

static int want_int(struct exec *x, const struct val *v, const char *fn, size_t off,
		    struct cairn_error **err)
{
	if (v->kind != V_INT)
		return tpl_xfail(x, off, err, "%s: expected an integer, got %s", fn,
				 tpl_kind_name(v));
	return 0;
}

FN(env)
{
	const char *v;

	(void)argc;
	if (want_str(x, argv[0], "env", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	v = x->c->getenv_fn(argv[0]->s);
	*out = tpl_vstr(v ? v : "", v ? strlen(v) : 0);
	return 0;
}

FN(default)
{
	(void)x, (void)cmd, (void)err;
	if (argc < 2 || !tpl_truth(argv[1]))
		*out = tpl_vref(argv[0]);
	else
		*out = tpl_vref(argv[1]);
	return 0;
}

FN(empty)
{
	(void)x, (void)cmd, (void)err, (void)argc;
	*out = tpl_vbool(!tpl_truth(argv[0]));
	return 0;
}

FN(required)
{
	cleanup_val struct val *msg = NULL;

	(void)argc;
	if (argv[1]->kind == V_NIL || (argv[1]->kind == V_STR && !argv[1]->len)) {
		if (tpl_to_str(x, &msg, argv[0], cmd->off, err) < 0)
			return CAIRN_ETOOBIG;
		return tpl_xfail(x, cmd->off, err, "%s", msg->s);
	}
	*out = tpl_vref(argv[1]);
	return 0;
}

static void go_quote(struct cairn_buf *b, const char *s, size_t len)
{
	cairn_buf_addch(b, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		switch (ch) {
		case '"':
			cairn_buf_addstr(b, "\\\"");
			break;
		case '\\':
			cairn_buf_addstr(b, "\\\\");
			break;
		case '\n':
			cairn_buf_addstr(b, "\\n");
			break;
		case '\t':
			cairn_buf_addstr(b, "\\t");
			break;
		case '\r':
			cairn_buf_addstr(b, "\\r");
			break;
		default:
			if (ch < 0x20 || ch == 0x7f)
				cairn_buf_addf(b, "\\x%02x", ch);
			else
				cairn_buf_addch(b, (char)ch);
		}
	}
	cairn_buf_addch(b, '"');
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
			go_quote(&b, s->s, s->len);
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

FN(quote)
{
	return quote_common(x, out, argv, argc, cmd, true, err);
}

FN(squote)
{
	return quote_common(x, out, argv, argc, cmd, false, err);
}

static int indent_common(struct exec *x, struct val **out, struct val **argv, const struct cmd *cmd,
			 bool nl, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	cleanup_val struct val *s = NULL;
	int64_t n;

	if (want_int(x, argv[0], nl ? "nindent" : "indent", cmd->off, err) < 0)
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

FN(indent)
{
	(void)argc;
	return indent_common(x, out, argv, cmd, false, err);
}

FN(nindent)
{
	(void)argc;
	return indent_common(x, out, argv, cmd, true, err);
}

FN(trim)
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

FN(upper)
{
	(void)argc;
	return case_common(x, out, argv[0], cmd, true, err);
}

FN(lower)
{
	(void)argc;
	return case_common(x, out, argv[0], cmd, false, err);
}

FN(replace)
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

static int split_common(struct exec *x, struct val **out, struct val **argv, const struct cmd *cmd,
			bool as_map, struct cairn_error **err)
{
	cleanup_val struct val *sep = NULL;
	cleanup_val struct val *s = NULL;
	cleanup_val struct val *r = tpl_vnew(as_map ? V_MAP : V_LIST);
	size_t start = 0, idx = 0;

	if (tpl_to_str(x, &sep, argv[0], cmd->off, err) < 0 ||
	    tpl_to_str(x, &s, argv[1], cmd->off, err) < 0)
		return CAIRN_ETOOBIG;
	for (size_t i = 0;; idx++) {
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
			start = i;
			i = end;
		} else {
			const char *hit = memmem(s->s + i, s->len - i, sep->s, sep->len);

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
			r->v = xreallocarray(r->v, r->n + 1, sizeof(*r->v));
			r->v[r->n++] = part;
			r->depth = 1;
		}
		if (sep->len && end == s->len)
			break;
	}
	*out = TAKE_PTR(r);
	return 0;
}

FN(split)
{
	(void)argc;
	return split_common(x, out, argv, cmd, true, err);
}

FN(splitList)
{
	(void)argc;
	return split_common(x, out, argv, cmd, false, err);
}

FN(join)
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

FN(list)
{
	struct val *r = tpl_vnew(V_LIST);

	if (argc) {
		r->v = xreallocarray(NULL, argc, sizeof(*r->v));
		for (size_t i = 0; i < argc; i++) {
			r->v[i] = tpl_vref(argv[i]);
			if (argv[i]->depth + 1 > r->depth)
				r->depth = argv[i]->depth + 1;
		}
	}
	r->n = argc;
	if (r->depth > VALUE_DEPTH_MAX) {
		tpl_vunref(r);
		return tpl_xfail(x, cmd->off, err, "list: values nested more than %d deep",
				 VALUE_DEPTH_MAX);
	}
	*out = r;
	return 0;
}

FN(dict)
{
	cleanup_val struct val *r = tpl_vnew(V_MAP);

	for (size_t i = 0; i < argc; i += 2) {
		struct val *k = NULL;

		if (tpl_to_str(x, &k, argv[i], cmd->off, err) < 0)
			return CAIRN_ETOOBIG;
		tpl_map_put(r, k, i + 1 < argc ? tpl_vref(argv[i + 1]) : tpl_vstr("", 0));
	}
	if (r->depth > VALUE_DEPTH_MAX)
		return tpl_xfail(x, cmd->off, err, "dict: values nested more than %d deep",
				 VALUE_DEPTH_MAX);
	*out = TAKE_PTR(r);
	return 0;
}

static void json_str(struct cairn_buf *b, const char *s, size_t len)
{
	cairn_buf_addch(b, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\')
			cairn_buf_addf(b, "\\%c", ch);
		else if (ch == '\n')
			cairn_buf_addstr(b, "\\n");
		else if (ch == '\r')
			cairn_buf_addstr(b, "\\r");
		else if (ch == '\t')
			cairn_buf_addstr(b, "\\t");
		else if (ch < 0x20 || ch == '<' || ch == '>' || ch == '&')
			/* Go's encoding/json escapes HTML characters too */
			cairn_buf_addf(b, "\\u%04x", ch);
		else
			cairn_buf_addch(b, (char)ch);
	}
	cairn_buf_addch(b, '"');
}

static int json_val(struct exec *x, struct cairn_buf *b, const struct val *v, size_t off,
		    struct cairn_error **err)
{
	if (tpl_step(x, x->src, off, err) < 0)
		return CAIRN_ETOOBIG;
	if (b->len > CAIRN_TEMPLATE_OUTPUT_MAX)
		return 0;
	switch (v->kind) {
	case V_NIL:
		cairn_buf_addstr(b, "null");
		break;
	case V_BOOL:
		cairn_buf_addstr(b, v->b ? "true" : "false");
		break;
	case V_INT:
		cairn_buf_addf(b, "%lld", (long long)v->i);
		break;
	case V_STR:
		json_str(b, v->s, v->len);
		break;
	case V_FILES:
		cairn_buf_addstr(b, "{}");
		break;
	case V_LIST:
	case V_MAP:
		cairn_buf_addch(b, v->kind == V_MAP ? '{' : '[');
		for (size_t i = 0; i < v->n; i++) {
			if (i)
				cairn_buf_addch(b, ',');
			if (v->kind == V_MAP) {
				json_str(b, v->k[i]->s, v->k[i]->len);
				cairn_buf_addch(b, ':');
			}
			if (json_val(x, b, v->v[i], off, err) < 0)
				return CAIRN_ETOOBIG;
		}
		cairn_buf_addch(b, v->kind == V_MAP ? '}' : ']');
		break;
	}
	return 0;
}

FN(toJson)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;

	(void)argc;
	if (json_val(x, &b, argv[0], cmd->off, err) < 0)
		return CAIRN_ETOOBIG;
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

FN(b64enc)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	cleanup_val struct val *s = NULL;
	const unsigned char *p;

	(void)argc;
	if (tpl_to_str(x, &s, argv[0], cmd->off, err) < 0)
		return CAIRN_ETOOBIG;
	if (s->len > CAIRN_TEMPLATE_OUTPUT_MAX / 4 * 3)
		return tpl_too_big(x, cmd->off, err);
	p = (const unsigned char *)s->s;
	for (size_t i = 0; i < s->len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t n = s->len - i;

		if (n > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (n > 2)
			v |= p[i + 2];
		cairn_buf_addch(&b, tab[v >> 18 & 63]);
		cairn_buf_addch(&b, tab[v >> 12 & 63]);
		cairn_buf_addch(&b, n > 1 ? tab[v >> 6 & 63] : '=');
		cairn_buf_addch(&b, n > 2 ? tab[v & 63] : '=');
	}
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

/* -1, 0, 1; or CAIRN_EINVAL for values that cannot be compared (`ordered`: lt/gt). */
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

FN(eq)
{
	int r = 1;

	for (size_t i = 1; i < argc && r; i++)
		if (compare(x, &r, argv[0], argv[i], false, "eq", cmd->off, err) < 0)
			return CAIRN_EINVAL;
	*out = tpl_vbool(r == 0);
	return 0;
}

FN(ne)
{
	int r = 0;

	(void)argc;
	if (compare(x, &r, argv[0], argv[1], false, "ne", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	*out = tpl_vbool(r != 0);
	return 0;
}

FN(lt)
{
	int r = 0;

	(void)argc;
	if (compare(x, &r, argv[0], argv[1], true, "lt", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	*out = tpl_vbool(r < 0);
	return 0;
}

FN(gt)
{
	int r = 0;

	(void)argc;
	if (compare(x, &r, argv[0], argv[1], true, "gt", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	*out = tpl_vbool(r > 0);
	return 0;
}

FN(not )
{
	(void)x, (void)cmd, (void)err, (void)argc;
	*out = tpl_vbool(!tpl_truth(argv[0]));
	return 0;
}

FN(len)
{
	(void)argc;
	if (argv[0]->kind == V_STR || argv[0]->kind == V_LIST || argv[0]->kind == V_MAP) {
		*out = tpl_vint(argv[0]->kind == V_STR ? (int64_t)argv[0]->len
						       : (int64_t)argv[0]->n);
		return 0;
	}
	return tpl_xfail(x, cmd->off, err, "len of %s", tpl_kind_name(argv[0]));
}

FN(printf)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	const struct val *f = argv[0];
	size_t next_arg = 1;

	if (want_str(x, f, "printf", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	for (size_t i = 0; i < f->len && b.len <= CAIRN_TEMPLATE_OUTPUT_MAX; i++) {
		CLEANUP(cairn_buf_release) struct cairn_buf one = CAIRN_BUF_INIT;
		bool minus = false, zero = false;
		size_t width = 0, pad;
		const struct val *a;
		char verb;

		if (f->s[i] != '%') {
			cairn_buf_addch(&b, f->s[i]);
			continue;
		}
		for (i++; i < f->len && (f->s[i] == '-' || f->s[i] == '0'); i++)
			*(f->s[i] == '-' ? &minus : &zero) = true;
		for (; i < f->len && isdigit((unsigned char)f->s[i]) && width < 4096; i++)
			width = width * 10 + (size_t)(f->s[i] - '0');
		if (i >= f->len) {
			cairn_buf_addstr(&b, "%!(NOVERB)");
			break;
		}
		verb = f->s[i];
		if (verb == '%') {
			cairn_buf_addch(&b, '%');
			continue;
		}
		if (next_arg >= argc) {
			cairn_buf_addf(&b, "%%!%c(MISSING)", verb);
			continue;
		}
		a = argv[next_arg++];
		if (verb == 'v' || (verb == 's' && a->kind == V_STR) ||
		    (verb == 'd' && a->kind == V_INT)) {
			if (tpl_print_val(x, &one, a, false, cmd->off, err) < 0)
				return CAIRN_ETOOBIG;
		} else if (verb == 'q' && a->kind == V_STR) {
			go_quote(&one, a->s, a->len);
		} else {
			cairn_buf_addf(&one, "%%!%c(%s=", verb, tpl_kind_name(a));
			if (tpl_print_val(x, &one, a, false, cmd->off, err) < 0)
				return CAIRN_ETOOBIG;
			cairn_buf_addch(&one, ')');
		}
		pad = width > one.len ? width - one.len : 0;
		if (minus) {
			cairn_buf_add(&b, one.buf, one.len);
			for (size_t k = 0; k < pad; k++)
				cairn_buf_addch(&b, ' ');
		} else if (zero && verb == 'd' && a->kind == V_INT) {
			size_t sign = one.buf[0] == '-';

			cairn_buf_add(&b, one.buf, sign);
			for (size_t k = 0; k < pad; k++)
				cairn_buf_addch(&b, '0');
			cairn_buf_add(&b, one.buf + sign, one.len - sign);
		} else {
			for (size_t k = 0; k < pad; k++)
				cairn_buf_addch(&b, ' ');
			cairn_buf_add(&b, one.buf, one.len);
		}
	}
	if (next_arg < argc) {
		cairn_buf_addstr(&b, "%!(EXTRA ");
		for (size_t i = next_arg; i < argc; i++) {
			if (i > next_arg)
				cairn_buf_addstr(&b, ", ");
			cairn_buf_addf(&b, "%s=", tpl_kind_name(argv[i]));
			if (tpl_print_val(x, &b, argv[i], false, cmd->off, err) < 0)
				return CAIRN_ETOOBIG;
		}
		cairn_buf_addch(&b, ')');
	}
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

FN(include)
{
	CLEANUP(cairn_buf_release)
	struct cairn_buf b = CAIRN_BUF_INIT_MAX(CAIRN_TEMPLATE_OUTPUT_MAX);
	const struct src *src = x->src;
	int ret;

	(void)argc;
	if (want_str(x, argv[0], "include", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	ret = tpl_exec_template(x, &b, argv[0]->s, argv[1], cmd->off, err);
	x->src = src;
	if (ret < 0)
		return ret;
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

/* `and` and `or` are evaluated in tpl_call(): they stop at the first deciding argument. */
FN(and)
{
	(void)x, (void)out, (void)argv, (void)argc, (void)cmd, (void)err;
	return 0;
}

static const struct func funcs[] = {
	{"and", fn_and, 1, -1},
	{"b64enc", fn_b64enc, 1, 1},
	{"default", fn_default, 1, 2},
	{"dict", fn_dict, 0, -1},
	{"empty", fn_empty, 1, 1},
	{"env", fn_env, 1, 1},
	{"eq", fn_eq, 2, -1},
	{"gt", fn_gt, 2, 2},
	{"include", fn_include, 2, 2},
	{"indent", fn_indent, 2, 2},
	{"join", fn_join, 2, 2},
	{"len", fn_len, 1, 1},
	{"list", fn_list, 0, -1},
	{"lower", fn_lower, 1, 1},
	{"lt", fn_lt, 2, 2},
	{"ne", fn_ne, 2, 2},
	{"nindent", fn_nindent, 2, 2},
	{"not", fn_not, 1, 1},
	{"or", fn_and, 1, -1},
	{"printf", fn_printf, 1, -1},
	{"quote", fn_quote, 0, -1},
	{"replace", fn_replace, 3, 3},
	{"required", fn_required, 2, 2},
	{"split", fn_split, 2, 2},
	{"splitList", fn_splitList, 2, 2},
	{"squote", fn_squote, 0, -1},
	{"toJson", fn_toJson, 1, 1},
	{"trim", fn_trim, 1, 1},
	{"upper", fn_upper, 1, 1},
};

const struct func *tpl_find_func(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(funcs); i++)
		if (strcmp(funcs[i].name, name) == 0)
			return &funcs[i];
	return NULL;
}

static void unref_all(struct val **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tpl_vunref(v[i]);
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
	argv = xreallocarray(NULL, argc + 1, sizeof(*argv));
	if (f->fn == fn_and) {
		bool is_and = f->name[0] == 'a';

		/* Go: the first false (and) or true (or) argument, else the last one */
		for (size_t i = 1; i <= argc; i++) {
			struct val *v = NULL;

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
