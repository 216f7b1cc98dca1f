/* SPDX-License-Identifier: MIT */
/* Data in and out of templates: Sprig's toJson and fromJson, werf's fromYaml, Helm's toYaml. */
#include "common.h"
#include "config/template_internal.h"
#include "config/yaml_text.h"
#include "util/buf.h"

#include <jansson.h>
#include <libfyaml.h>

/* ---- toJson ---- */

/* A string as Go's encoding/json writes it, HTML characters escaped unless `raw`. */
static void json_str(struct cairn_buf *b, const char *s, size_t len, bool raw)
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
		else if (ch < 0x20 || (!raw && (ch == '<' || ch == '>' || ch == '&')))
			cairn_buf_addf(b, "\\u%04x", ch);
		else
			cairn_buf_addch(b, (char)ch);
	}
	cairn_buf_addch(b, '"');
}

struct jfmt {
	const char *indent; /* NULL: compact */
	bool raw;	    /* toRawJson: no HTML escapes */
};

static void newline(struct cairn_buf *b, const struct jfmt *f, unsigned depth)
{
	if (!f->indent)
		return;
	cairn_buf_addch(b, '\n');
	for (unsigned i = 0; i < depth; i++)
		cairn_buf_addstr(b, f->indent);
}

static int json_val(struct exec *x, struct cairn_buf *b, const struct val *v, const struct jfmt *f,
		    unsigned depth, size_t off, struct cairn_error **err)
{
	if (tpl_step(x, x->src, off, err) < 0)
		return CAIRN_ETOOBIG;
	if (b->err)
		return 0;
	if (depth > TPL_VALUE_DEPTH_MAX)
		return tpl_too_deep(x, off, err);
	switch (v->kind) {
	case V_NIL:
		cairn_buf_addstr(b, "null");
		return 0;
	case V_BOOL:
		cairn_buf_addstr(b, v->b ? "true" : "false");
		return 0;
	case V_INT:
		cairn_buf_addf(b, "%lld", (long long)v->i);
		return 0;
	case V_STR:
		json_str(b, v->s, v->len, f->raw);
		return 0;
	case V_FILES:
		cairn_buf_addstr(b, "{}");
		return 0;
	case V_LIST:
	case V_MAP:
		break;
	}
	cairn_buf_addch(b, v->kind == V_MAP ? '{' : '[');
	for (size_t i = 0; i < v->n; i++) {
		int ret;

		if (i)
			cairn_buf_addch(b, ',');
		newline(b, f, depth + 1);
		if (v->kind == V_MAP) {
			json_str(b, v->k[i]->s, v->k[i]->len, f->raw);
			cairn_buf_addstr(b, f->indent ? ": " : ":");
		}
		ret = json_val(x, b, v->v[i], f, depth + 1, off, err);
		if (ret < 0)
			return ret;
	}
	if (v->n)
		newline(b, f, depth);
	cairn_buf_addch(b, v->kind == V_MAP ? '}' : ']');
	return 0;
}

static int to_json(struct exec *x, struct val **out, struct val *v, const struct cmd *cmd,
		   const struct jfmt *f, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release)
	struct cairn_buf b = CAIRN_BUF_INIT_MAX(CAIRN_TEMPLATE_OUTPUT_MAX);
	int ret = json_val(x, &b, v, f, 0, cmd->off, err);

	if (ret < 0)
		return ret;
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

TPL_FN(toJson)
{
	const struct jfmt f = {0};

	(void)argc;
	return to_json(x, out, argv[0], cmd, &f, err);
}

TPL_FN(toPrettyJson)
{
	const struct jfmt f = {.indent = "  "};

	(void)argc;
	return to_json(x, out, argv[0], cmd, &f, err);
}

TPL_FN(toRawJson)
{
	const struct jfmt f = {.raw = true};

	(void)argc;
	return to_json(x, out, argv[0], cmd, &f, err);
}

/* ---- fromJson ---- */

static int from_jansson(struct exec *x, struct val **out, json_t *j, unsigned depth, size_t off,
			struct cairn_error **err)
{
	cleanup_val struct val *r = NULL;
	const char *k;
	json_t *item;
	size_t i;

	if (tpl_step(x, x->src, off, err) < 0)
		return CAIRN_ETOOBIG;
	if (depth > TPL_VALUE_DEPTH_MAX)
		return tpl_too_deep(x, off, err);
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		r = tpl_vnew(V_MAP);
		json_object_foreach(j, k, item)
		{
			struct val *v = NULL;
			int ret = from_jansson(x, &v, item, depth + 1, off, err);

			if (ret < 0)
				return ret;
			tpl_map_put(r, tpl_vstr(k, strlen(k)), v);
		}
		break;
	case JSON_ARRAY:
		r = tpl_vnew(V_LIST);
		json_array_foreach(j, i, item)
		{
			struct val *v = NULL;
			int ret = from_jansson(x, &v, item, depth + 1, off, err);

			if (ret < 0)
				return ret;
			tpl_list_push(r, v);
		}
		break;
	case JSON_STRING:
		r = tpl_vstr(json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		r = tpl_vint(json_integer_value(j));
		break;
	case JSON_REAL:
		return tpl_xfail(x, off, err,
				 "fromJson: numbers with a fraction are not supported");
	case JSON_TRUE:
	case JSON_FALSE:
		r = tpl_vbool(json_is_true(j));
		break;
	case JSON_NULL:
		r = tpl_vnew(V_NIL);
		break;
	}
	*out = TAKE_PTR(r);
	return 0;
}

/* fromJson "s": the value; Sprig gives nil (and no error) for text that is not JSON. */
TPL_FN(fromJson)
{
	json_error_t je;
	json_t *j;
	int ret;

	(void)argc;
	if (tpl_want_str(x, argv[0], "fromJson", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	j = json_loadb(argv[0]->s, argv[0]->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (!j) {
		*out = tpl_vnew(V_NIL);
		return 0;
	}
	ret = from_jansson(x, out, j, 0, cmd->off, err);
	json_decref(j);
	return ret;
}

/* ---- fromYaml ---- */

/* YAML 1.1 plain scalars as gopkg.in/yaml.v2 resolves them: null, bool, int, else string. */
static struct val *plain_scalar(const char *s, size_t n)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
	static const char *const yes[] = {"y",	  "Y",	  "yes", "Yes", "YES", "true",
					  "True", "TRUE", "on",	 "On",	"ON"};
	static const char *const no[] = {"n",	  "N",	   "no",  "No",	 "NO", "false",
					 "False", "FALSE", "off", "Off", "OFF"};
	cleanup_free char *t = xstrndup(s, n);
	long long v;
	char *end;

	for (size_t i = 0; i < ARRAY_SIZE(nulls); i++)
		if (strcmp(t, nulls[i]) == 0)
			return tpl_vnew(V_NIL);
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
		if (strcmp(t, yes[i]) == 0)
			return tpl_vbool(true);
	for (size_t i = 0; i < ARRAY_SIZE(no); i++)
		if (strcmp(t, no[i]) == 0)
			return tpl_vbool(false);
	if (n && strlen(t) == n && (t[0] == '-' || t[0] == '+' || (t[0] >= '0' && t[0] <= '9'))) {
		errno = 0;
		v = strtoll(t, &end, 0);
		if (!*end && !errno)
			return tpl_vint(v);
	}
	return tpl_vstr(s, n);
}

struct yconv {
	struct exec *x;
	size_t off;
	struct fy_node *anchors[TPL_VALUE_DEPTH_MAX]; /* aliased nodes already made, and ... */
	struct val *made[TPL_VALUE_DEPTH_MAX];	      /* ... what they made */
	size_t n;
};

static int from_fy(struct yconv *y, struct val **out, struct fy_node *fn, unsigned depth,
		   struct cairn_error **err);

/* An alias: its node made once, then shared, so that nested aliases cannot blow up. */
static int from_alias(struct yconv *y, struct val **out, struct fy_node *fn, unsigned depth,
		      struct cairn_error **err)
{
	struct fy_node *t = fy_node_resolve_alias(fn);
	int ret;

	if (!t)
		return tpl_xfail(y->x, y->off, err, "fromYaml: unknown alias");
	for (size_t i = 0; i < y->n; i++) {
		if (y->anchors[i] == t) {
			*out = tpl_vref(y->made[i]);
			return 0;
		}
	}
	if (y->n >= ARRAY_SIZE(y->anchors))
		return tpl_xfail(y->x, y->off, err, "fromYaml: more than %zu aliases",
				 ARRAY_SIZE(y->anchors));
	ret = from_fy(y, out, t, depth, err);
	if (ret < 0)
		return ret;
	y->anchors[y->n] = t;
	y->made[y->n++] = tpl_vref(*out);
	return 0;
}

static int from_fy(struct yconv *y, struct val **out, struct fy_node *fn, unsigned depth,
		   struct cairn_error **err)
{
	cleanup_val struct val *r = NULL;
	void *it = NULL;
	const char *s;
	size_t n = 0, tn = 0;
	int ret;

	if (tpl_step(y->x, y->x->src, y->off, err) < 0)
		return CAIRN_ETOOBIG;
	if (depth > TPL_VALUE_DEPTH_MAX)
		return tpl_too_deep(y->x, y->off, err);
	if (!fn) {
		*out = tpl_vnew(V_NIL);
		return 0;
	}
	if (fy_node_is_alias(fn))
		return from_alias(y, out, fn, depth, err);
	switch (fy_node_get_type(fn)) {
	case FYNT_SCALAR:
		s = fy_node_get_scalar(fn, &n);
		fy_node_get_tag(fn, &tn);
		if (fy_node_get_style(fn) == FYNS_PLAIN && !tn)
			*out = plain_scalar(s ? s : "", n);
		else
			*out = tpl_vstr(s ? s : "", n);
		return 0;
	case FYNT_SEQUENCE:
		r = tpl_vnew(V_LIST);
		for (struct fy_node *i; (i = fy_node_sequence_iterate(fn, &it));) {
			struct val *v = NULL;

			ret = from_fy(y, &v, i, depth + 1, err);
			if (ret < 0)
				return ret;
			tpl_list_push(r, v);
		}
		break;
	case FYNT_MAPPING:
		r = tpl_vnew(V_MAP);
		for (struct fy_node_pair *p; (p = fy_node_mapping_iterate(fn, &it));) {
			struct val *k = NULL, *ks = NULL, *v = NULL;

			ret = from_fy(y, &k, fy_node_pair_key(p), depth + 1, err);
			if (ret == 0)
				ret = tpl_to_str(y->x, &ks, k, y->off, err);
			tpl_vunref(k);
			if (ret == 0)
				ret = from_fy(y, &v, fy_node_pair_value(p), depth + 1, err);
			if (ret < 0) {
				tpl_vunref(ks);
				return ret;
			}
			tpl_map_put(r, ks, v);
		}
		break;
	}
	*out = TAKE_PTR(r);
	return 0;
}

DEFINE_FREEP(struct fy_document, fy_document_destroy)
DEFINE_FREEP(struct fy_diag, fy_diag_destroy)
DEFINE_FREEP(struct fy_parser, fy_parser_destroy)

/*
 * libfyaml's first message, kept for the error instead of printed: "LINE:COL: TEXT", without
 * the name it gives the input ("<memory-@ADDRESS-ADDRESS>") nor "error: ".
 */
static void diag_output(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
	static const char type[] = "error: ";
	const char *end = buf + len, *p;
	char *msg = user;

	(void)diag;
	if (msg[0])
		return;
	if (len && buf[0] == '<' && (p = memchr(buf, '>', len)) && p + 1 < end && p[1] == ':') {
		buf = p + 2;
		len = (size_t)(end - buf);
	}
	p = memmem(buf, len, type, sizeof(type) - 1);
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		len--;
	if (p && p + sizeof(type) - 1 <= buf + len)
		snprintf(msg, 200, "%.*s%.*s", (int)(p - buf), buf,
			 (int)(buf + len - p - (sizeof(type) - 1)), p + sizeof(type) - 1);
	else
		snprintf(msg, 200, "%.*s", (int)len, buf);
}

/*
 * The first document of `s`, as go-yaml's Unmarshal reads it (what follows is not parsed); NULL
 * with `msg` empty when there is none (only comments, say), else with libfyaml's message.
 */
static struct fy_document *parse_yaml(const struct val *s, char *msg)
{
	struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET | FYPCF_JSON_NONE |
					    FYPCF_SLOPPY_FLOW_INDENTATION}; /* as go-yaml */
	CLEANUP(fy_diag_destroyp) struct fy_diag *diag = NULL;
	CLEANUP(fy_parser_destroyp) struct fy_parser *fyp = NULL;
	struct fy_document *d;
	struct fy_diag_cfg dcfg;

	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = diag_output;
	dcfg.user = msg;
	dcfg.level = FYET_ERROR;
	dcfg.colorize = false;
	dcfg.show_source = false;
	dcfg.show_position = true;
	dcfg.show_type = false;
	dcfg.show_module = false;
	diag = fy_diag_create(&dcfg);
	if (!diag)
		goto fail;
	cfg.diag = diag;
	fyp = fy_parser_create(&cfg);
	if (!fyp || fy_parser_set_string(fyp, s->s, s->len) != 0)
		goto fail;
	d = fy_parse_load_document(fyp);
	if (!d && (fy_parser_get_stream_error(fyp) || msg[0]))
		goto fail;
	return d;
fail:
	if (!msg[0])
		snprintf(msg, 200, "not YAML");
	return NULL;
}

/* fromYaml "s" (werf's): a map; "" is an empty one. */
TPL_FN(fromYaml)
{
	CLEANUP(fy_document_destroyp) struct fy_document *d = NULL;
	struct yconv y = {.x = x, .off = cmd->off};
	char msg[256] = "";
	uint32_t c = 0;
	int ret;

	(void)argc;
	if (tpl_want_str(x, argv[0], "fromYaml", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	if (cfg_yaml_unreadable(argv[0]->s, argv[0]->len, &c) < argv[0]->len) {
		if (c == CFG_NOT_UTF8)
			return tpl_xfail(x, cmd->off, err, "fromYaml: invalid UTF-8");
		return tpl_xfail(x, cmd->off, err,
				 "fromYaml: control character U+%04X is not allowed in YAML",
				 (unsigned)c);
	}
	if (cfg_yaml_trap(argv[0]->s, argv[0]->len) < argv[0]->len)
		return tpl_xfail(
			x, cmd->off, err,
			"fromYaml: a tab after ':' (in a text with '?' keys): write spaces");
	if (argv[0]->len)
		d = parse_yaml(argv[0], msg);
	if (msg[0])
		return tpl_xfail(x, cmd->off, err, "fromYaml: %s", msg);
	if (!d || !fy_document_root(d)) {
		*out = tpl_vnew(V_MAP);
		return 0;
	}
	ret = from_fy(&y, out, fy_document_root(d), 0, err);
	for (size_t i = 0; i < y.n; i++)
		tpl_vunref(y.made[i]);
	if (ret == 0 && (*out)->kind != V_MAP && (*out)->kind != V_NIL) {
		const char *k = tpl_kind_name(*out);

		tpl_vunref(*out);
		*out = NULL;
		return tpl_xfail(x, cmd->off, err, "fromYaml: cannot unmarshal a %s into a map", k);
	}
	if (ret == 0 && (*out)->kind == V_NIL) {
		tpl_vunref(*out);
		*out = tpl_vnew(V_MAP);
	}
	return ret;
}

/* ---- toYaml ---- */

/* Whether a string can be written plain: it would not read back as another type or break. */
static bool yaml_plain(const struct val *s)
{
	cleanup_val struct val *back = NULL;

	if (!s->len || memchr(s->s, '\0', s->len))
		return false;
	back = plain_scalar(s->s, s->len);
	if (back->kind != V_STR || strchr("-?:,[]{}#&*!|>'\"%@` \t", s->s[0]) ||
	    s->s[s->len - 1] == ' ' || s->s[s->len - 1] == ':')
		return false;
	for (size_t i = 0; i < s->len; i++) {
		unsigned char c = (unsigned char)s->s[i];

		if (c < 0x20 || c == 0x7f || (c == ':' && s->s[i + 1] == ' ') ||
		    (c == '#' && s->s[i - 1] == ' '))
			return false;
	}
	return true;
}

static void yaml_scalar(struct cairn_buf *b, const struct val *v)
{
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
		if (yaml_plain(v))
			cairn_buf_add(b, v->s, v->len);
		else
			json_str(b, v->s, v->len, true);
		break;
	default:
		cairn_buf_addstr(b, "{}");
		break;
	}
}

static void spaces(struct cairn_buf *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		cairn_buf_addch(b, ' ');
}

/*
 * Block style as yaml.v2 writes it: maps indented by two, list items level with their key.
 * `inline_first`: the first entry follows "- " on the same line.
 */
static int yaml_val(struct exec *x, struct cairn_buf *b, const struct val *v, unsigned ind,
		    bool inline_first, unsigned depth, size_t off, struct cairn_error **err)
{
	if (tpl_step(x, x->src, off, err) < 0)
		return CAIRN_ETOOBIG;
	if (depth > TPL_VALUE_DEPTH_MAX)
		return tpl_too_deep(x, off, err);
	if ((v->kind != V_LIST && v->kind != V_MAP) || !v->n) {
		if (v->kind == V_LIST || v->kind == V_MAP)
			cairn_buf_addstr(b, v->kind == V_LIST ? "[]" : "{}");
		else
			yaml_scalar(b, v);
		cairn_buf_addch(b, '\n');
		return 0;
	}
	for (size_t i = 0; i < v->n && !b->err; i++) {
		const struct val *item = v->v[i];
		bool nested = (item->kind == V_LIST || item->kind == V_MAP) && item->n;
		int ret;

		if (i || !inline_first)
			spaces(b, ind);
		if (v->kind == V_MAP) {
			yaml_scalar(b, v->k[i]);
			cairn_buf_addstr(b, nested ? ":\n" : ": ");
			ret = yaml_val(x, b, item, item->kind == V_MAP ? ind + 2 : ind, !nested,
				       depth + 1, off, err);
		} else {
			cairn_buf_addstr(b, "- ");
			ret = yaml_val(x, b, item, ind + 2, true, depth + 1, off, err);
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* toYaml V (Helm's): V as YAML, without the final newline. */
TPL_FN(toYaml)
{
	CLEANUP(cairn_buf_release)
	struct cairn_buf b = CAIRN_BUF_INIT_MAX(CAIRN_TEMPLATE_OUTPUT_MAX);
	int ret;

	(void)argc;
	ret = yaml_val(x, &b, argv[0], 0, true, 0, cmd->off, err);
	if (ret < 0)
		return ret;
	if (b.len && b.buf[b.len - 1] == '\n')
		cairn_buf_setlen(&b, b.len - 1);
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

static const struct func funcs[] = {
	{"fromJson", fn_fromJson, 1, 1},   {"fromYaml", fn_fromYaml, 1, 1},
	{"toJson", fn_toJson, 1, 1},	   {"toPrettyJson", fn_toPrettyJson, 1, 1},
	{"toRawJson", fn_toRawJson, 1, 1}, {"toYaml", fn_toYaml, 1, 1},
};

const struct func_table tpl_sprig_json_funcs = {funcs, ARRAY_SIZE(funcs)};
