/* SPDX-License-Identifier: MIT */
/* The generic reader: a YAML mapping read into a struct as its field table says. */
#include "common.h"
#include "util/json.h"
#include "config/config_internal.h"
#include "util/buf.h"

#include <stdarg.h>

/* ---- errors and the key path ---- */

/* `len` bytes of untrusted text fit for a message: control characters replaced, cropped. */
void cfg_show(char out[SHOWN_MAX + 4], const char *s, size_t len)
{
	size_t k = len > SHOWN_MAX ? SHOWN_MAX : len;

	for (size_t i = 0; i < k; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	memcpy(out + k, len > k ? "..." : "", len > k ? 4 : 1);
}

bool cfg_pos_before(struct cairn_config_pos a, struct cairn_config_pos b)
{
	return a.line < b.line || (a.line == b.line && a.column < b.column);
}

/* "<file>:<line>:<column>: <key>: <what>", or without the key at the top of a document */
int cfg_fail(struct ctx *x, int code, struct cairn_config_pos pos, const char *fmt, ...)
{
	CLEANUP(cairn_buf_release) struct cairn_buf why = CAIRN_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	cairn_buf_vaddf(&why, fmt, ap);
	va_end(ap);
	if (x->path.len)
		return cairn_error_set(x->err, code, "%s:%u:%u: %s: %s", x->file, pos.line,
				       pos.column, x->path.buf, why.buf);
	return cairn_error_set(x->err, code, "%s:%u:%u: %s", x->file, pos.line, pos.column,
			       why.buf);
}

/* Append ".key" to the path; returns the length to restore with cfg_path_pop(). */
size_t cfg_path_key(struct ctx *x, const char *key, size_t len)
{
	char shown[SHOWN_MAX + 4];
	size_t old = x->path.len;

	cfg_show(shown, key, len);
	if (old)
		cairn_buf_addch(&x->path, '.');
	cairn_buf_addstr(&x->path, shown);
	return old;
}

size_t cfg_path_index(struct ctx *x, size_t i)
{
	size_t old = x->path.len;

	cairn_buf_addf(&x->path, "[%zu]", i);
	return old;
}

void cfg_path_pop(struct ctx *x, size_t len)
{
	cairn_buf_setlen(&x->path, len);
}

/* Count a node read into the model: aliases and merges are counted at each use. */
int cfg_charge(struct ctx *x, const struct ynode *n)
{
	if (++x->n_read > CAIRN_CONFIG_NODES_MAX)
		return cfg_fail(x, CAIRN_ETOOBIG, n->pos,
				"more than %d YAML nodes after expanding aliases and image lists",
				CAIRN_CONFIG_NODES_MAX);
	x->text_read += n->len;
	if (x->text_read > CAIRN_CONFIG_TEXT_MAX)
		return cfg_fail(
			x, CAIRN_ETOOBIG, n->pos,
			"more than %u bytes of text after expanding aliases and image lists",
			CAIRN_CONFIG_TEXT_MAX);
	return 0;
}

/* ---- reading values ---- */

int cfg_read_str(struct ctx *x, const struct ynode *n, struct cairn_config_str *out,
		 unsigned int flags, check_fn check)
{
	const char *why;

	if (n->kind != Y_SCALAR)
		return invalid(x, n->pos, "must be a string");
	if (memchr(n->text, '\0', n->len))
		return invalid(x, n->pos, "must not contain a NUL character");
	if (!n->len && !(flags & F_EMPTY_OK))
		return invalid(x, n->pos, "must not be empty");
	why = check ? check(n->text, n->len) : NULL;
	if (why)
		return invalid(x, n->pos, "%s", why);
	free(out->s);
	out->s = xmemdup(n->text, n->len + 1);
	out->pos = n->pos;
	return 0;
}

void cfg_list_add(struct cairn_config_list *l, const char *s, struct cairn_config_pos pos)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->pos = xreallocarray(l->pos, l->n + 1, sizeof(*l->pos));
	l->v[l->n] = xstrdup(s);
	l->pos[l->n] = pos;
	l->n++;
}

void cfg_list_release(struct cairn_config_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->pos);
	memset(l, 0, sizeof(*l));
}

/*
 * Add `item` to `out`: whole, or with F_WORDS each of its whitespace-separated words, checked
 * one by one (werf handed `EXPOSE: "80 8080"` to `docker commit --change "EXPOSE 80 8080"`,
 * whose Dockerfile parser splits it, as it does VOLUME's).
 */
static int add_item(struct ctx *x, struct cairn_config_list *out,
		    const struct cairn_config_str *item, unsigned int flags, check_fn check)
{
	const char *s = item->s, *why;

	if (!(flags & F_WORDS)) {
		cfg_list_add(out, s, item->pos);
		return 0;
	}
	if ((flags & F_JSON_WORDS) && s[strspn(s, " \t\r\n")] == '[') {
		/* VOLUME's parser takes a JSON array of strings first (parseMaybeJSONToList) */
		cleanup_json json_t *a = json_loads(s, 0, NULL);
		json_t *v;
		size_t i;
		bool strings = json_is_array(a);

		json_array_foreach(a, i, v) strings = strings && json_is_string(v);
		if (strings) {
			json_array_foreach(a, i, v)
				cfg_list_add(out, json_string_value(v), item->pos);
			return 0;
		}
	}
	for (;;) {
		size_t n;
		char *w;

		s += strspn(s, " \t\r\n");
		n = strcspn(s, " \t\r\n");
		if (!n)
			return 0;
		w = xstrndup(s, n);
		why = check ? check(w, n) : NULL;
		if (why) {
			int ret = invalid(x, item->pos, "'%s' %s", w, why);

			free(w);
			return ret;
		}
		cfg_list_add(out, w, item->pos);
		free(w);
		s += n;
	}
}

/* A string or a list of strings. */
static int read_list(struct ctx *x, const struct ynode *n, struct cairn_config_list *out,
		     unsigned int flags, check_fn check)
{
	check_fn whole = flags & F_WORDS ? NULL : check;
	struct cairn_config_str item = {0};
	int ret;

	cfg_list_release(out);
	out->at = n->pos;
	if (n->kind == Y_MAP)
		return invalid(x, n->pos, "must be a string or a list of strings");
	if (n->kind == Y_SCALAR) {
		/* a string for the shell is a command: it cannot be empty */
		if (flags & F_SHELL_FORM)
			flags &= ~(unsigned int)F_EMPTY_OK;
		ret = cfg_read_str(x, n, &item, flags, whole);
		if (ret < 0)
			return ret;
		if (flags & F_SHELL_FORM) {
			cfg_list_add(out, "/bin/sh", n->pos);
			cfg_list_add(out, "-c", n->pos);
		}
		ret = add_item(x, out, &item, flags, check);
		free(item.s);
		return ret;
	}
	for (size_t i = 0; i < n->n_kids; i++) {
		const struct ynode *k = n->kids[i];
		size_t old;

		ret = cfg_charge(x, k);
		if (ret < 0)
			return ret;
		old = cfg_path_index(x, i);
		ret = cfg_is_null(k) ? invalid(x, k->pos, "must be a string")
				     : cfg_read_str(x, k, &item, flags & ~F_SHELL_FORM, whole);
		if (ret == 0)
			ret = add_item(x, out, &item, flags, check);
		cfg_path_pop(x, old);
		free(item.s);
		item.s = NULL;
		if (ret < 0)
			return ret;
	}
	return 0;
}

int cfg_read_bool(struct ctx *x, const struct ynode *n, struct cairn_config_bool *out)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes",
					  "YES",  "on",	  "On",	  "ON"};
	static const char *const no[] = {"false", "False", "FALSE", "no", "No",
					 "NO",	  "off",   "Off",   "OFF"};

	for (size_t i = 0; n->kind == Y_SCALAR && n->plain && i < ARRAY_SIZE(yes); i++) {
		if (cfg_is(n, yes[i]) || cfg_is(n, no[i])) {
			out->value = cfg_is(n, yes[i]);
			out->pos = n->pos;
			return 0;
		}
	}
	return invalid(x, n->pos, "must be true or false");
}

/* ---- reading fields ---- */

static int read_seq(struct ctx *x, const struct field *f, const struct ynode *n, void *base)
{
	void **array = AT(base, f->off);
	size_t *count = AT(base, f->count_off);
	int ret;

	if (n->kind != Y_SEQ)
		return invalid(x, n->pos, "must be a list");
	if (!n->n_kids)
		return 0;
	*array = xcalloc(n->n_kids, f->elem_size);
	for (size_t i = 0; i < n->n_kids; i++) {
		const struct ynode *k = n->kids[i];
		void *elem = (char *)*array + i * f->elem_size;
		size_t old;

		ret = cfg_charge(x, k);
		if (ret < 0)
			return ret;
		*count = i + 1;
		old = cfg_path_index(x, i);
		if (k->kind != Y_MAP)
			return invalid(x, k->pos, "must be a mapping");
		/* each element type starts with its struct cairn_config_pos */
		*(struct cairn_config_pos *)elem = k->pos;
		ret = cfg_read_fields(x, k, f->sub, elem);
		if (ret < 0)
			return ret;
		ret = f->fn(x, f, k, elem);
		if (ret < 0)
			return ret;
		cfg_path_pop(x, old);
	}
	return 0;
}

static int read_value(struct ctx *x, const struct field *f, const struct ynode *v, void *base)
{
	switch (f->type) {
	case T_STR:
		return cfg_read_str(x, v, AT(base, f->off), f->flags, f->check);
	case T_LIST:
		return read_list(x, v, AT(base, f->off), f->flags, f->check);
	case T_BOOL:
		return cfg_read_bool(x, v, AT(base, f->off));
	case T_MAP:
		if (v->kind != Y_MAP)
			return invalid(x, v->pos, "must be a mapping");
		*(struct cairn_config_pos *)AT(base, f->off) = v->pos;
		return cfg_read_fields(x, v, f->sub, base);
	case T_SEQ:
		return read_seq(x, f, v, base);
	case T_FN:
		return f->fn(x, f, v, base);
	case T_NAME:
		return 0;
	case T_SKIP:
		return f->fn ? f->fn(x, f, v, base) : 0;
	}
	return cairn_error_set(x->err, CAIRN_EINTERNAL, "config: bad field type");
}

#define FIELDS_MAX 48

/* A key of werf's that cairn accepts without using it: noted once per key at debug level. */
static void note_ignored(struct ctx *x, const struct ynode *key, const struct field *f)
{
	if (cfg_smap_get(&x->noted, f->key, strlen(f->key)))
		return;
	cfg_smap_put(&x->noted, f->key, strlen(f->key), f);
	cairn_log(CAIRN_LOG_DEBUG, "%s:%u:%u: %s: ignored: %s", x->file, key->pos.line,
		  key->pos.column, x->path.buf, f->note);
}

/*
 * Read mapping `map` into `base` as `fields` (NULL-key terminated) say: unknown keys, keys of
 * the wrong document kind, two spellings of one key, and missing required keys are errors. A
 * null value is the same as an absent key.
 */
int cfg_read_fields(struct ctx *x, const struct ynode *map, const struct field *fields, void *base)
{
	CLEANUP(cfg_entries_release) struct entries e = {0};
	bool given[FIELDS_MAX] = {false};
	size_t n_fields = 0;
	int ret;

	while (fields[n_fields].key)
		n_fields++;
	assert(n_fields <= FIELDS_MAX);
	if (map->kind != Y_MAP)
		return invalid(x, map->pos, "must be a mapping");
	ret = cfg_map_entries(x, map, &e);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < e.n; i++) {
		const struct ynode *k = e.v[i].key, *v = e.v[i].value;
		size_t f, old = cfg_path_key(x, k->text, k->len);

		for (f = 0; f < n_fields; f++)
			if (cfg_is(k, fields[f].key))
				break;
		if (f == n_fields)
			return invalid(x, k->pos, "unknown key");
		if ((fields[f].flags & F_NO_ARTIFACT) && x->artifact)
			return invalid(x, k->pos, "not allowed in an artifact");
		if ((fields[f].flags & F_DAPPFILE) && !x->dappfile)
			return invalid(x, k->pos,
				       "unknown key (the 2018 dappfile's; werf.yaml has none)");
		if ((fields[f].flags & F_DAPP_ARTIFACT) && !x->dappfile)
			return invalid(x, k->pos,
				       "unknown key (a stage of the 2018 dappfile's artifacts; "
				       "werf.yaml has none: use setup)");
		if ((fields[f].flags & F_DAPP_ARTIFACT) && !x->artifact)
			return invalid(x, k->pos, "only an artifact has this stage, not a dimg");
		for (size_t g = 0; g < n_fields; g++)
			if (g != f && given[g] && fields[g].off == fields[f].off &&
			    fields[g].type == fields[f].type && fields[f].type != T_SKIP)
				return invalid(x, k->pos, "cannot be used together with %s",
					       fields[g].key);
		if (!cfg_is_null(v) && (fields[f].flags & F_UNSUPPORTED))
			return invalid(x, k->pos, "%s", fields[f].note);
		if (!cfg_is_null(v)) {
			given[f] = true;
			ret = read_value(x, &fields[f], v, base);
			if (ret < 0)
				return ret;
			if (fields[f].flags & F_IGNORED)
				note_ignored(x, k, &fields[f]);
		}
		cfg_path_pop(x, old);
	}
	for (size_t f = 0; f < n_fields; f++) {
		bool found = false;
		size_t old;

		if (!(fields[f].flags & F_REQUIRED))
			continue;
		for (size_t g = 0; g < n_fields; g++)
			found |= given[g] && fields[g].off == fields[f].off;
		if (found)
			continue;
		old = cfg_path_key(x, fields[f].key, strlen(fields[f].key));
		ret = invalid(x, map->pos, "missing");
		cfg_path_pop(x, old);
		return ret;
	}
	return 0;
}
