/* SPDX-License-Identifier: MIT */
/* werf.yaml as YAML: libfyaml parser events to a node tree, with aliases, merges and limits. */
#include "common.h"
#include "config/config_internal.h"
#include "util/buf.h"
#include "util/strset.h"

#include <libfyaml.h>

/* ---- small helpers ---- */

static struct smap_slot *smap_slot(const struct smap *m, const char *key, size_t len)
{
	size_t i = (size_t)cairn_hash_fnv1a(key, len) & (m->cap - 1);

	for (;;) {
		struct smap_slot *s = &m->slots[i];

		if (!s->key || (s->len == len && memcmp(s->key, key, len) == 0))
			return s;
		i = (i + 1) & (m->cap - 1);
	}
}

const void *cfg_smap_get(const struct smap *m, const char *key, size_t len)
{
	return m->cap ? smap_slot(m, key, len)->value : NULL;
}

/* Map `key` to `value`, replacing an earlier value. `key` must stay valid as long as `m`. */
void cfg_smap_put(struct smap *m, const char *key, size_t len, const void *value)
{
	struct smap_slot *s;

	if ((m->n + 1) * 2 > m->cap) {
		struct smap old = *m;

		m->cap = old.cap ? old.cap * 2 : 16;
		m->slots = xcalloc(m->cap, sizeof(*m->slots));
		for (size_t i = 0; i < old.cap; i++)
			if (old.slots[i].key)
				*smap_slot(m, old.slots[i].key, old.slots[i].len) = old.slots[i];
		free(old.slots);
	}
	s = smap_slot(m, key, len);
	if (!s->key) {
		s->key = key;
		s->len = len;
		m->n++;
	}
	s->value = value;
}

void cfg_smap_release(struct smap *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

void cfg_entries_release(struct entries *e)
{
	free(e->v);
	memset(e, 0, sizeof(*e));
}

static void entries_add(struct entries *e, const struct ynode *key, const struct ynode *value)
{
	if (e->n == e->alloc) {
		e->alloc = e->alloc ? e->alloc * 2 : 8;
		e->v = xreallocarray(e->v, e->alloc, sizeof(*e->v));
	}
	e->v[e->n].key = key;
	e->v[e->n].value = value;
	e->n++;
}

/* Grow `*v` (of `*alloc` elements of `size` bytes) to hold at least `n`. */
void *cfg_grow(void *v, size_t *alloc, size_t n, size_t size)
{
	if (n <= *alloc)
		return v;
	*alloc = *alloc ? *alloc * 2 : 8;
	if (*alloc < n)
		*alloc = n;
	return xreallocarray(v, *alloc, size);
}

bool cfg_is(const struct ynode *n, const char *s)
{
	return n->kind == Y_SCALAR && n->len == strlen(s) && memcmp(n->text, s, n->len) == 0;
}

bool cfg_is_null(const struct ynode *n)
{
	return n->kind == Y_SCALAR && n->plain &&
	       (n->len == 0 || cfg_is(n, "~") || cfg_is(n, "null") || cfg_is(n, "Null") ||
		cfg_is(n, "NULL"));
}

static bool is_merge(const struct ynode *key)
{
	return key->plain && cfg_is(key, "<<");
}

/* ---- building the tree from parser events ---- */

void cfg_free_nodes(struct ctx *x)
{
	for (size_t i = 0; i < x->n_nodes; i++) {
		free(x->nodes[i]->text);
		free(x->nodes[i]->kids);
		free(x->nodes[i]->anchor);
		free(x->nodes[i]);
	}
	x->n_nodes = 0;
	x->depth = 0;
	x->root = NULL;
	cfg_smap_release(&x->anchors);
}

static struct cairn_config_pos event_pos(struct ctx *x, struct fy_event *ev)
{
	const struct fy_mark *m = fy_event_start_mark(ev);

	/* implicit nodes (an empty value) have no mark: use the last one, usually their key */
	if (m && m->line >= 0 && m->column >= 0) {
		x->last.line = (unsigned int)m->line + 1;
		x->last.column = (unsigned int)m->column + 1;
	}
	if (!x->last.line)
		x->last.line = x->last.column = 1;
	return x->last;
}

/*
 * A copy of the token's text, NUL-terminated (the text itself may hold NULs). Read through an
 * iterator: fy_token_get_text() caches the text in the token, and libfyaml 0.7.12 leaks that
 * cache when a syntax error follows.
 */
static char *token_text(struct fy_token *t, size_t *len)
{
	struct fy_token_iter *it = t ? fy_token_iter_create(t) : NULL;
	struct cairn_buf b = CAIRN_BUF_INIT;
	const struct fy_iter_chunk *c = NULL;
	int error = 0;

	if (it) {
		while ((c = fy_token_iter_chunk_next(it, c, &error)))
			cairn_buf_add(&b, c->str, c->len);
		fy_token_iter_destroy(it);
	}
	return cairn_buf_detach(&b, len);
}

/* Hang `n` (a new node, or an anchored one for an alias) under the open collection. */
static int attach(struct ctx *x, const struct ynode *n, struct cairn_config_pos pos)
{
	struct ynode *parent;

	if (!x->depth) {
		if (x->root)
			return invalid(x, pos, "more than one node at the top of a document");
		x->root = n;
		return 0;
	}
	parent = x->stack[x->depth - 1];
	parent->kids = cfg_grow(parent->kids, &parent->alloc_kids, parent->n_kids + 1,
				sizeof(*parent->kids));
	parent->kids[parent->n_kids++] = n;
	return 0;
}

/* A new node at `pos`, attached; a collection is also opened. */
static int new_node(struct ynode **out, struct ctx *x, enum ykind kind, struct cairn_config_pos pos,
		    struct fy_token *anchor)
{
	struct ynode *n;
	size_t len;
	int ret;

	*out = NULL;
	if (++x->n_built > CAIRN_CONFIG_NODES_MAX)
		return cfg_fail(x, CAIRN_ETOOBIG, pos, "more than %d YAML nodes",
				CAIRN_CONFIG_NODES_MAX);
	if (x->depth + (kind != Y_SCALAR) > CAIRN_CONFIG_DEPTH_MAX)
		return cfg_fail(x, CAIRN_ETOOBIG, pos, "nested deeper than %d levels",
				CAIRN_CONFIG_DEPTH_MAX);
	n = xcalloc(1, sizeof(*n));
	n->kind = kind;
	n->pos = pos;
	if (anchor)
		n->anchor = token_text(anchor, &len);
	x->nodes = cfg_grow(x->nodes, &x->alloc_nodes, x->n_nodes + 1, sizeof(*x->nodes));
	x->nodes[x->n_nodes++] = n;
	ret = attach(x, n, pos);
	if (ret < 0)
		return ret;
	if (kind != Y_SCALAR) {
		x->stack = cfg_grow(x->stack, &x->alloc_stack, x->depth + 1, sizeof(*x->stack));
		x->stack[x->depth++] = n;
	}
	*out = n;
	return 0;
}

/* A node is complete: its height is known and its anchor may be used from now on. */
static void complete(struct ctx *x, struct ynode *n)
{
	if (n->kind != Y_SCALAR) {
		n->height = 1;
		for (size_t i = 0; i < n->n_kids; i++)
			if (n->kids[i]->height + 1 > n->height)
				n->height = n->kids[i]->height + 1;
	}
	/*
	 * Registered only now, so an alias inside its own anchored node finds an earlier anchor
	 * or none: the tree stays acyclic.
	 */
	if (n->anchor)
		cfg_smap_put(&x->anchors, n->anchor, strlen(n->anchor), n);
}

static int on_alias(struct ctx *x, struct fy_event *ev, struct cairn_config_pos pos)
{
	cleanup_free char *name = NULL;
	char shown[SHOWN_MAX + 4];
	const struct ynode *target;
	size_t len;

	/* the mark of an alias is after its '*' */
	if (pos.column > 1)
		pos.column--;
	name = token_text(ev->alias.anchor, &len);
	target = cfg_smap_get(&x->anchors, name, len);
	cfg_show(shown, name, len);
	if (!target)
		return invalid(x, pos, "alias '*%s' has no anchor before it", shown);
	if (x->depth + target->height > CAIRN_CONFIG_DEPTH_MAX)
		return cfg_fail(x, CAIRN_ETOOBIG, pos, "alias '*%s': nested deeper than %d levels",
				shown, CAIRN_CONFIG_DEPTH_MAX);
	return attach(x, target, pos);
}

static int on_scalar(struct ctx *x, struct fy_event *ev, struct cairn_config_pos pos)
{
	enum fy_scalar_style style =
		ev->scalar.value ? fy_token_scalar_style(ev->scalar.value) : FYSS_PLAIN;
	struct ynode *n;
	int ret;

	/* the mark of a quoted scalar is after its opening quote */
	if ((style == FYSS_SINGLE_QUOTED || style == FYSS_DOUBLE_QUOTED) && pos.column > 1)
		pos.column--;
	ret = new_node(&n, x, Y_SCALAR, pos, ev->scalar.anchor);
	if (ret < 0)
		return ret;
	n->text = token_text(ev->scalar.value, &n->len);
	n->plain = !ev->scalar.tag && style == FYSS_PLAIN;
	complete(x, n);
	return 0;
}

static int on_event(struct ctx *x, struct fy_event *ev)
{
	struct cairn_config_pos pos = event_pos(x, ev);
	struct ynode *n;

	switch (ev->type) {
	case FYET_DOCUMENT_START:
		cfg_free_nodes(x);
		return 0;
	case FYET_DOCUMENT_END:
		return x->root ? cfg_process_document(x, x->root) : 0;
	case FYET_SCALAR:
		return on_scalar(x, ev, pos);
	case FYET_ALIAS:
		return on_alias(x, ev, pos);
	case FYET_SEQUENCE_START:
		return new_node(&n, x, Y_SEQ, pos, ev->sequence_start.anchor);
	case FYET_MAPPING_START:
		return new_node(&n, x, Y_MAP, pos, ev->mapping_start.anchor);
	case FYET_SEQUENCE_END:
	case FYET_MAPPING_END:
		assert(x->depth > 0);
		complete(x, x->stack[--x->depth]);
		return 0;
	default:
		return 0;
	}
}

/* ---- mappings and merge keys ---- */

static int merge_map(struct ctx *x, const struct ynode *m, struct smap *seen, struct entries *out)
{
	CLEANUP(cfg_entries_release) struct entries sub = {0};
	int ret;

	if (m->kind != Y_MAP)
		return invalid(x, m->pos, "<<: must be a mapping or a list of mappings");
	ret = cfg_map_entries(x, m, &sub);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < sub.n; i++) {
		const struct ynode *k = sub.v[i].key;

		if (cfg_smap_get(seen, k->text, k->len))
			continue;
		cfg_smap_put(seen, k->text, k->len, k);
		entries_add(out, k, sub.v[i].value);
	}
	return 0;
}

/*
 * The entries of mapping `map` in document order, with `<<` merges (a mapping or a list of
 * mappings) in place of the merge key: keys given explicitly win, then earlier merges.
 * Duplicate explicit keys are an error.
 */
int cfg_map_entries(struct ctx *x, const struct ynode *map, struct entries *out)
{
	CLEANUP(cfg_smap_release) struct smap seen = {0};
	size_t n_pairs = map->n_kids / 2;
	int ret;

	assert(map->kind == Y_MAP);
	for (size_t i = 0; i < n_pairs; i++) {
		const struct ynode *k = map->kids[2 * i], *first;
		size_t old;

		ret = cfg_charge(x, k);
		if (ret < 0)
			return ret;
		ret = cfg_charge(x, map->kids[2 * i + 1]);
		if (ret < 0)
			return ret;
		if (k->kind != Y_SCALAR)
			return invalid(x, k->pos, "a key must be a string");
		if (is_merge(k))
			continue;
		first = cfg_smap_get(&seen, k->text, k->len);
		if (first) {
			old = cfg_path_key(x, k->text, k->len);
			ret = invalid(x, k->pos, "duplicate key (first at line %u)",
				      first->pos.line);
			cfg_path_pop(x, old);
			return ret;
		}
		cfg_smap_put(&seen, k->text, k->len, k);
	}
	for (size_t i = 0; i < n_pairs; i++) {
		const struct ynode *k = map->kids[2 * i], *v = map->kids[2 * i + 1];

		if (!is_merge(k)) {
			entries_add(out, k, v);
			continue;
		}
		if (v->kind == Y_SEQ) {
			for (size_t j = 0; j < v->n_kids; j++) {
				ret = merge_map(x, v->kids[j], &seen, out);
				if (ret < 0)
					return ret;
			}
			continue;
		}
		ret = merge_map(x, v, &seen, out);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* ---- the parser ---- */

/*
 * The length of the well-formed UTF-8 sequence at s[0..n), or 0 (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF).
 */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* Whether YAML allows code point `c` in a stream (1.2, c-printable). */
static bool printable(uint32_t c)
{
	return c == 0x09 || c == 0x0a || c == 0x0d || (c >= 0x20 && c <= 0x7e) || c == 0x85 ||
	       (c >= 0xa0 && c <= 0xfffd) || c >= 0x10000;
}

size_t cfg_yaml_unreadable(const char *text, size_t len, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0;

	while (i < len) {
		size_t n = utf8_len(s + i, len - i);
		uint32_t c;

		if (!n) {
			*cp = CFG_NOT_UTF8;
			return i;
		}
		c = n == 1 ? s[i] : s[i] & (0x7fu >> n);
		for (size_t k = 1; k < n; k++)
			c = (c << 6) | (s[i + k] & 0x3fu);
		if (!printable(c)) {
			*cp = c;
			return i;
		}
		i += n;
	}
	return len;
}

/*
 * A blank, a line break or the end at text[i]; YAML 1.1's NEL, LS and PS count, as libfyaml
 * reads them under "%YAML 1.1".
 */
static bool blankz(const char *text, size_t len, size_t i)
{
	const unsigned char *u = (const unsigned char *)text + i;

	if (i >= len || *u == ' ' || *u == '\t' || *u == '\r' || *u == '\n')
		return true;
	if (len - i >= 2 && u[0] == 0xc2 && u[1] == 0x85)
		return true;
	return len - i >= 3 && u[0] == 0xe2 && u[1] == 0x80 && (u[2] == 0xa8 || u[2] == 0xa9);
}

size_t cfg_yaml_trap(const char *text, size_t len)
{
	bool question = false;

	for (size_t i = 0; i < len && !question; i++)
		question = text[i] == '?' && blankz(text, len, i + 1);
	for (size_t i = 0; question && i < len; i++) {
		size_t k = i + 1, tab = len;

		if (text[i] != ':')
			continue;
		for (; k < len && (text[k] == ' ' || text[k] == '\t'); k++)
			if (text[k] == '\t' && tab == len)
				tab = k;
		if (tab < len && k < len && text[k] &&
		    (strchr("?:|>", text[k]) || (text[k] == '-' && blankz(text, len, k + 1))))
			return tab;
	}
	return len;
}

/*
 * YAML is Unicode and cairn reads it as UTF-8. Checked before libfyaml sees the text: 0.7.12
 * loops forever on some ill-formed sequences (e.g. in an unknown directive), and corrupts its
 * memory on the tab cfg_yaml_trap() finds.
 */
int cfg_check_text(struct ctx *x, const char *text, size_t len)
{
	struct cairn_config_pos pos = {1, 1};
	uint32_t c = 0;
	size_t end = cfg_yaml_unreadable(text, len, &c);
	size_t trap = end == len ? cfg_yaml_trap(text, len) : len;

	if (end == len && trap == len)
		return 0;
	if (end == len)
		end = trap;
	for (size_t i = 0; i < end; i += utf8_len((const unsigned char *)text + i, end - i)) {
		if (text[i] == '\n') {
			pos.line++;
			pos.column = 1;
		} else {
			pos.column++;
		}
	}
	if (trap < len)
		return invalid(
			x, pos,
			"a tab after ':' before '%c' (in a file with '?' keys): write spaces",
			text[trap + strspn(text + trap, " \t")]);
	if (c == CFG_NOT_UTF8)
		return invalid(x, pos, "invalid UTF-8");
	/* (libfyaml 0.7.12 misreads some: a NUL after a tab in a complex key crashed it) */
	return invalid(x, pos, "control character U+%04X is not allowed in YAML", (unsigned)c);
}

/*
 * The first error libfyaml reports, from its formatted output "<input>:L:C: error: <msg>".
 * (Its structured error collection leaks on some errors in 0.7.12.)
 */
struct yaml_error {
	bool have;
	unsigned int line;
	unsigned int column;
	char msg[SHOWN_MAX * 2 + 1];
};

/* The decimal number ending at *p (after `start`), preceded by ':'; *p moves to the ':'. */
static bool number_before(unsigned int *out, const char *start, const char **p)
{
	unsigned int mult = 1;

	*out = 0;
	while (*p > start && (*p)[-1] >= '0' && (*p)[-1] <= '9' && mult <= 100000000) {
		*out += (unsigned int)((*p)[-1] - '0') * mult;
		mult *= 10;
		(*p)--;
	}
	if (mult == 1 || *p == start || (*p)[-1] != ':')
		return false;
	(*p)--;
	return true;
}

/* libfyaml prints diagnostics to stderr unless given an output function: this one keeps one. */
static void diag_output(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
	static const char tag[] = ": error: ";
	struct yaml_error *ye = user;
	const char *e = memmem(buf, len, tag, sizeof(tag) - 1), *p = e, *msg;
	size_t n;

	(void)diag;
	if (ye->have || !e || !number_before(&ye->column, buf, &p) ||
	    !number_before(&ye->line, buf, &p))
		return;
	msg = e + sizeof(tag) - 1;
	n = (size_t)(buf + len - msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		n--;
	if (n > sizeof(ye->msg) - 1)
		n = sizeof(ye->msg) - 1;
	for (size_t i = 0; i < n; i++)
		ye->msg[i] = (unsigned char)msg[i] < 0x20 ? ' ' : msg[i];
	ye->msg[n] = '\0';
	ye->have = true;
}

static int syntax_error(struct ctx *x, const struct yaml_error *ye)
{
	if (!ye->have)
		return cairn_error_set(x->err, CAIRN_EINVAL, "%s: invalid YAML", x->file);
	return cairn_error_set(x->err, CAIRN_EINVAL, "%s:%u:%u: %s", x->file,
			       ye->line ? ye->line : 1, ye->column ? ye->column : 1, ye->msg);
}

static void fy_diag_destroyp(struct fy_diag **d)
{
	if (*d)
		fy_diag_destroy(*d);
}

static void fy_parser_destroyp(struct fy_parser **p)
{
	if (*p)
		fy_parser_destroy(*p);
}

int cfg_parse_yaml(struct ctx *x, const char *text, size_t len)
{
	CLEANUP(fy_diag_destroyp) struct fy_diag *diag = NULL;
	CLEANUP(fy_parser_destroyp) struct fy_parser *fyp = NULL;
	struct yaml_error ye = {.have = false};
	struct fy_parse_cfg cfg;
	struct fy_diag_cfg dcfg;
	struct fy_event *ev;
	int ret = 0;

	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = diag_output;
	dcfg.user = &ye;
	dcfg.level = FYET_ERROR;
	dcfg.colorize = false;
	dcfg.show_source = false;
	dcfg.show_position = true;
	dcfg.show_type = true;
	dcfg.show_module = false;
	diag = fy_diag_create(&dcfg);
	if (!diag)
		return cairn_error_set(x->err, CAIRN_EINTERNAL, "%s: cannot create a YAML parser",
				       x->file);
	memset(&cfg, 0, sizeof(cfg));
	/*
	 * Flow collections as go-yaml (libyaml) reads them, whatever their lines' indentation: real
	 * configs close a list at its key's column ("name: [" ... "]" under "name")
	 */
	cfg.flags = FYPCF_QUIET | FYPCF_ALLOW_DUPLICATE_KEYS | FYPCF_JSON_NONE |
		    FYPCF_SLOPPY_FLOW_INDENTATION;
	cfg.diag = diag;
	fyp = fy_parser_create(&cfg);
	if (!fyp || fy_parser_set_string(fyp, text, len) != 0)
		return cairn_error_set(x->err, CAIRN_EINTERNAL, "%s: cannot create a YAML parser",
				       x->file);
	while (ret == 0) {
		ev = fy_parser_parse(fyp);
		if (!ev)
			break;
		ret = on_event(x, ev);
		fy_parser_event_free(fyp, ev);
	}
	if (ret < 0)
		return ret;
	if (fy_parser_get_stream_error(fyp))
		return syntax_error(x, &ye);
	return 0;
}
