/* SPDX-License-Identifier: MIT */
/* werf.yaml: YAML (libfyaml events) to a small node tree, then a validated configuration model. */
#include "common.h"
#include "cairn/config.h"
#include "cairn/slug.h"
#include "cairn/template.h"
#include "git/git.h"
#include "util/buf.h"
#include "util/strset.h"
#include "util/fs.h"
#include "util/json.h"

#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <strings.h>
#include <unistd.h>
#include <libfyaml.h>

/* how much of a key or name a message quotes */
#define SHOWN_MAX 64

/* Looked for in this order: werf's (werf.yml first), then the 2018 tool's (dappfile.yml first). */
static const char *const default_files[] = {"werf.yml", "werf.yaml", "dappfile.yml",
					    "dappfile.yaml"};

/*
 * The YAML tree. libfyaml 0.7 gives no positions for collection nodes of its documents, and
 * resolving a document copies every alias (an alias bomb would copy exponentially), so the
 * tree is built here from parser events: an alias is a second pointer to the anchored node.
 */
enum ykind {
	Y_SCALAR,
	Y_SEQ,
	Y_MAP,
};

struct ynode {
	enum ykind kind;
	bool plain; /* scalar: plain style without a tag, so it may be null or a boolean */
	struct cairn_config_pos pos;
	char *text; /* scalar: NUL-terminated; `len` may include NULs */
	size_t len;
	const struct ynode **kids; /* sequence: items; mapping: key, value, key, value, ... */
	size_t n_kids;
	size_t alloc_kids;
	unsigned int height; /* levels of collections in it, through aliases (0 for a scalar) */
	char *anchor;	     /* until the node is complete */
};

/* An open-addressing hash map from borrowed byte strings to borrowed pointers. */
struct smap_slot {
	const char *key;
	size_t len;
	const void *value;
};

struct smap {
	struct smap_slot *slots;
	size_t n;
	size_t cap;
};

/* A key and its value in a mapping, with `<<` merges applied. */
struct entry {
	const struct ynode *key;
	const struct ynode *value;
};

struct entries {
	struct entry *v;
	size_t n;
	size_t alloc;
};

/* The keys a document used where there are aliases, so that messages name what was written. */
struct image_keys {
	const char *name;	   /* "image", "dimg" or "artifact" */
	const char *from_image;	   /* "fromImage" or "fromDimg" */
	const char *from_artifact; /* "fromImageArtifact" or "fromDimgArtifact" */
};

struct ctx {
	const char *file;
	struct cairn_error **err;
	struct cairn_buf path; /* the key being read, e.g. "git[0].to" */
	struct cairn_config *cfg;
	struct image_keys *keys; /* parallel to cfg->images */
	size_t alloc_keys;
	bool have_meta;
	bool dappfile;	   /* a dappfile: the meta document is optional */
	bool artifact;	   /* the document being read is an artifact */
	struct smap noted; /* keys already noted as ignored, to note each once */
	size_t n_built;	   /* YAML nodes built, over the whole file */
	size_t n_read;	   /* YAML nodes read into the model, aliases counted at each use */
	size_t text_read;  /* bytes of their scalars */
	struct cairn_config_pos last; /* position of the last event that had one */

	/* the document being built */
	struct ynode **nodes; /* every node, to free them */
	size_t n_nodes;
	size_t alloc_nodes;
	struct ynode **stack; /* open collections */
	size_t depth;
	size_t alloc_stack;
	const struct ynode *root;
	struct smap anchors;
};

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

static const void *cfg_smap_get(const struct smap *m, const char *key, size_t len)
{
	return m->cap ? smap_slot(m, key, len)->value : NULL;
}

/* Map `key` to `value`, replacing an earlier value. `key` must stay valid as long as `m`. */
static void cfg_smap_put(struct smap *m, const char *key, size_t len, const void *value)
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

static void cfg_smap_release(struct smap *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

static void cfg_entries_release(struct entries *e)
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
static void *cfg_grow(void *v, size_t *alloc, size_t n, size_t size)
{
	if (n <= *alloc)
		return v;
	*alloc = *alloc ? *alloc * 2 : 8;
	if (*alloc < n)
		*alloc = n;
	return xreallocarray(v, *alloc, size);
}

static bool cfg_is(const struct ynode *n, const char *s)
{
	return n->kind == Y_SCALAR && n->len == strlen(s) && memcmp(n->text, s, n->len) == 0;
}

static bool cfg_is_null(const struct ynode *n)
{
	return n->kind == Y_SCALAR && n->plain &&
	       (n->len == 0 || cfg_is(n, "~") || cfg_is(n, "null") || cfg_is(n, "Null") ||
		cfg_is(n, "NULL"));
}

static bool is_merge(const struct ynode *key)
{
	return key->plain && cfg_is(key, "<<");
}

/* `len` bytes of untrusted text fit for a message: control characters replaced, cropped. */
static void cfg_show(char out[SHOWN_MAX + 4], const char *s, size_t len)
{
	size_t k = len > SHOWN_MAX ? SHOWN_MAX : len;

	for (size_t i = 0; i < k; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	memcpy(out + k, len > k ? "..." : "", len > k ? 4 : 1);
}

static bool cfg_pos_before(struct cairn_config_pos a, struct cairn_config_pos b)
{
	return a.line < b.line || (a.line == b.line && a.column < b.column);
}

/* ---- errors and the key path ---- */

static int cfg_fail(struct ctx *x, int code, struct cairn_config_pos pos, const char *fmt, ...)
	CAIRN_PRINTF(4, 5);

/* "<file>:<line>:<column>: <key>: <what>", or without the key at the top of a document */
static int cfg_fail(struct ctx *x, int code, struct cairn_config_pos pos, const char *fmt, ...)
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

#define invalid(x, pos, ...) cfg_fail((x), CAIRN_EINVAL, (pos), __VA_ARGS__)

/* Append ".key" to the path; returns the length to restore with cfg_path_pop(). */
static size_t cfg_path_key(struct ctx *x, const char *key, size_t len)
{
	char shown[SHOWN_MAX + 4];
	size_t old = x->path.len;

	cfg_show(shown, key, len);
	if (old)
		cairn_buf_addch(&x->path, '.');
	cairn_buf_addstr(&x->path, shown);
	return old;
}

static size_t cfg_path_index(struct ctx *x, size_t i)
{
	size_t old = x->path.len;

	cairn_buf_addf(&x->path, "[%zu]", i);
	return old;
}

static void cfg_path_pop(struct ctx *x, size_t len)
{
	cairn_buf_setlen(&x->path, len);
}

/* Count a node read into the model: aliases and merges are counted at each use. */
static int cfg_charge(struct ctx *x, const struct ynode *n)
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

/* ---- building the tree from parser events ---- */

static void cfg_free_nodes(struct ctx *x)
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

static int cfg_process_document(struct ctx *x, const struct ynode *root);

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

/* ---- reading values ---- */

/*
 * The entries of mapping `map` in document order, with `<<` merges (a mapping or a list of
 * mappings) in place of the merge key: keys given explicitly win, then earlier merges.
 * Duplicate explicit keys are an error.
 */
static int cfg_map_entries(struct ctx *x, const struct ynode *map, struct entries *out);

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

static int cfg_map_entries(struct ctx *x, const struct ynode *map, struct entries *out)
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

/* Value flags of struct field */
enum {
	F_REQUIRED = 1 << 0,	/* missing (or null) is an error */
	F_EMPTY_OK = 1 << 1,	/* "" is a valid value (of a string, or of list items) */
	F_NO_ARTIFACT = 1 << 2, /* not allowed in an artifact */
	F_SHELL_FORM = 1 << 3,	/* a string S is the list {"/bin/sh", "-c", S} */
	F_IGNORED = 1 << 4,	/* werf's, checked by fn and noted at debug level, not kept */
	F_UNSUPPORTED = 1 << 5, /* werf's, not in cairn yet: an error naming `note` */
};

/* NULL, or why `s` is not a valid value */
typedef const char *(*check_fn)(const char *s, size_t len);

static int cfg_read_str(struct ctx *x, const struct ynode *n, struct cairn_config_str *out,
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

static void cfg_list_add(struct cairn_config_list *l, const char *s, struct cairn_config_pos pos)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->pos = xreallocarray(l->pos, l->n + 1, sizeof(*l->pos));
	l->v[l->n] = xstrdup(s);
	l->pos[l->n] = pos;
	l->n++;
}

static void cfg_list_release(struct cairn_config_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->pos);
	memset(l, 0, sizeof(*l));
}

/* A string or a list of strings. */
static int read_list(struct ctx *x, const struct ynode *n, struct cairn_config_list *out,
		     unsigned int flags, check_fn check)
{
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
		ret = cfg_read_str(x, n, &item, flags, check);
		if (ret < 0)
			return ret;
		if (flags & F_SHELL_FORM) {
			cfg_list_add(out, "/bin/sh", n->pos);
			cfg_list_add(out, "-c", n->pos);
		}
		cfg_list_add(out, item.s, item.pos);
		free(item.s);
		return 0;
	}
	for (size_t i = 0; i < n->n_kids; i++) {
		const struct ynode *k = n->kids[i];
		size_t old;

		ret = cfg_charge(x, k);
		if (ret < 0)
			return ret;
		old = cfg_path_index(x, i);
		ret = cfg_is_null(k) ? invalid(x, k->pos, "must be a string")
				     : cfg_read_str(x, k, &item, flags & ~F_SHELL_FORM, check);
		cfg_path_pop(x, old);
		if (ret < 0)
			return ret;
		cfg_list_add(out, item.s, item.pos);
		free(item.s);
		item.s = NULL;
	}
	return 0;
}

static int cfg_read_bool(struct ctx *x, const struct ynode *n, struct cairn_config_bool *out)
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

/* ---- value checks ---- */

static bool has_dotdot(const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n = 0;

		while (i + n < len && s[i + n] != '/')
			n++;
		if (n == 2 && s[i] == '.' && s[i + 1] == '.')
			return true;
		i += n + 1;
	}
	return false;
}

/* Paths in an image or the project: '..' could only lead out of them. */
static const char *check_abs(const char *s, size_t len)
{
	if (!len || s[0] != '/')
		return "must be an absolute path";
	return has_dotdot(s, len) ? "must not have a '..' component" : NULL;
}

static const char *check_rel(const char *s, size_t len)
{
	if (!len || s[0] == '/')
		return "must be a relative path";
	return has_dotdot(s, len) ? "must not have a '..' component" : NULL;
}

/*
 * A path on the build host (mount fromPath), its own business: absolute, in the home directory
 * or relative to the project, as werf took it ("~user/" is not the home directory).
 */
static const char *check_host_path(const char *s, size_t len)
{
	if (len > 1 && s[0] == '~' && s[1] != '/')
		return "must be an absolute path, ~/PATH or a path relative to the project";
	return NULL;
}

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

#define PROJECT_MAX 49
#define PROJECT_RULE "must match ^[a-z0-9]([a-z0-9-]*[a-z0-9])?$ and be at most 49 bytes"

static const char *cfg_check_project(const char *s, size_t len)
{
	if (!len || len > PROJECT_MAX || !lower_alnum(s[0]) || !lower_alnum(s[len - 1]))
		return PROJECT_RULE;
	for (size_t i = 0; i < len; i++)
		if (!lower_alnum(s[i]) && s[i] != '-')
			return PROJECT_RULE;
	return NULL;
}

/* Image and artifact names become repository paths (REPO/NAME:TAG). */
#define NAME_MAX_LEN 128
#define NAME_RULE                                                                            \
	"must be '/'-separated components [a-z0-9]+([._-]+[a-z0-9]+)* of at most 128 bytes " \
	"in all"

static const char *check_name(const char *s, size_t len)
{
	if (!len || len > NAME_MAX_LEN)
		return NAME_RULE;
	for (size_t i = 0; i < len; i++) {
		bool sep = s[i] == '.' || s[i] == '_' || s[i] == '-';
		bool at_edge = i == 0 || i == len - 1 || s[i - 1] == '/' || s[i + 1] == '/';

		if (s[i] == '/' ? at_edge : !lower_alnum(s[i]) && (!sep || at_edge))
			return NAME_RULE;
	}
	return NULL;
}

/* Artifact names are never repository paths: werf took any string; they go into messages. */
static const char *check_artifact_name(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return "must not contain control characters";
	return NULL;
}

static const char *check_commit(const char *s, size_t len)
{
	if (len < 4 || len > 40)
		return "must be a commit id of 4 to 40 hex digits";
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F')))
			return "must be a commit id of 4 to 40 hex digits";
	return NULL;
}

static const char *check_user_stage(const char *s, size_t len)
{
	(void)len;
	return strcmp(s, "install") == 0 || strcmp(s, "setup") == 0 ? NULL
								    : "must be install or setup";
}

/* import.stage: a stage of the source image that runs commands (werf: checkInvalidStage). */
static const char *check_import_stage(const char *s, size_t len)
{
	static const char *const ok[] = {"beforeInstall", "install", "beforeSetup", "setup"};

	(void)len;
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
		if (strcmp(s, ok[i]) == 0)
			return NULL;
	return "must be beforeInstall, install, beforeSetup or setup";
}

static const char *check_mount_from(const char *s, size_t len)
{
	(void)len;
	return strcmp(s, "tmp_dir") == 0 || strcmp(s, "build_dir") == 0
		       ? NULL
		       : "must be tmp_dir or build_dir";
}

/* Parse a decimal port at *p; false unless it is 1..65535. */
static bool parse_port(const char **p)
{
	unsigned long v = 0;
	const char *s = *p;

	while (*s >= '0' && *s <= '9' && v <= 65535)
		v = v * 10 + (unsigned long)(*s++ - '0');
	if (s == *p || v == 0 || v > 65535)
		return false;
	*p = s;
	return true;
}

static const char *check_expose(const char *s, size_t len)
{
	static const char why[] = "must be PORT, PORT-PORT, optionally with /tcp, /udp or /sctp";

	(void)len;
	if (!parse_port(&s))
		return why;
	if (*s == '-') {
		s++;
		if (!parse_port(&s))
			return why;
	}
	if (!*s || strcmp(s, "/tcp") == 0 || strcmp(s, "/udp") == 0 || strcmp(s, "/sctp") == 0)
		return NULL;
	return why;
}

/* ---- the schema ---- */

enum ftype {
	T_STR,	/* struct cairn_config_str at off */
	T_LIST, /* struct cairn_config_list at off */
	T_BOOL, /* struct cairn_config_bool at off */
	T_MAP,	/* sub fields, same base; the mapping's struct cairn_config_pos at off */
	T_SEQ,	/* list of mappings: array at off, size_t count at count_off, each checked by fn */
	T_FN,	/* fn reads it */
	T_NAME, /* image, dimg, artifact: read by the document */
	T_SKIP, /* not kept: fn (optional) checks it; with F_IGNORED or F_UNSUPPORTED */
};

struct field;
typedef int (*field_fn)(struct ctx *x, const struct field *f, const struct ynode *n, void *p);

struct field {
	const char *key;
	enum ftype type;
	unsigned int flags;
	size_t off;
	check_fn check;
	const struct field *sub;
	size_t elem_size;
	size_t count_off;
	field_fn fn;
	const char *note; /* F_IGNORED: why it can be ignored; F_UNSUPPORTED: what is missing */
};

#define AT(base, off) ((void *)((char *)(base) + (off)))

static int cfg_read_fields(struct ctx *x, const struct ynode *map, const struct field *fields,
			   void *base);

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
static int cfg_read_fields(struct ctx *x, const struct ynode *map, const struct field *fields,
			   void *base)
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

/* ---- docker ---- */

static void cfg_kv_release(struct cairn_config_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

/* ENV and LABEL: a mapping of strings, kept in document order. */
static int read_kv(struct ctx *x, const struct field *f, const struct ynode *n, void *base)
{
	CLEANUP(cfg_entries_release) struct entries e = {0};
	struct cairn_config_kv **kv = AT(base, f->off);
	size_t *count = AT(base, f->count_off);
	int ret;

	if (n->kind != Y_MAP)
		return invalid(x, n->pos, "must be a mapping");
	ret = cfg_map_entries(x, n, &e);
	if (ret < 0)
		return ret;
	if (!e.n)
		return 0;
	*kv = xcalloc(e.n, sizeof(**kv));
	for (size_t i = 0; i < e.n; i++) {
		const struct ynode *k = e.v[i].key, *v = e.v[i].value;
		struct cairn_config_kv *out = &(*kv)[i];
		size_t old = cfg_path_key(x, k->text, k->len);

		if (!k->len || memchr(k->text, '\0', k->len) ||
		    (f->check && f->check(k->text, k->len)))
			return invalid(x, k->pos, "invalid name");
		*count = i + 1;
		out->key = xmemdup(k->text, k->len + 1);
		out->key_pos = k->pos;
		out->value_pos = v->pos;
		if (cfg_is_null(v)) {
			out->value = xstrdup("");
		} else {
			if (v->kind != Y_SCALAR)
				return invalid(x, v->pos, "must be a string");
			if (memchr(v->text, '\0', v->len))
				return invalid(x, v->pos, "must not contain a NUL character");
			out->value = xmemdup(v->text, v->len + 1);
		}
		cfg_path_pop(x, old);
	}
	return 0;
}

static const char *check_env_name(const char *s, size_t len)
{
	return memchr(s, '=', len) ? "contains '='" : NULL;
}

/* A Go duration ("1m30s", "1.5s", "500ms") at s[0..len) in nanoseconds; false if invalid. */
static bool parse_duration(int64_t *out, const char *s, size_t len)
{
	static const struct {
		const char *unit;
		uint64_t ns;
	} units[] = {
		{"ns", 1},
		{"us", 1000},
		{"\xc2\xb5s", 1000},
		{"ms", 1000000},
		{"s", 1000000000ull},
		{"m", 60000000000ull},
		{"h", 3600000000000ull},
	};
	const char *end = s + len;
	uint64_t total = 0;

	*out = 0;
	if (len == 1 && s[0] == '0')
		return true;
	if (!len)
		return false;
	while (s < end) {
		uint64_t whole = 0, frac = 0, scale = 1, part, fpart;
		bool digits = false;
		size_t u, ulen = 0;

		for (; s < end && *s >= '0' && *s <= '9'; s++, digits = true)
			if (__builtin_mul_overflow(whole, 10, &whole) ||
			    __builtin_add_overflow(whole, (uint64_t)(*s - '0'), &whole))
				return false;
		if (s < end && *s == '.')
			for (s++; s < end && *s >= '0' && *s <= '9'; s++, digits = true)
				if (scale < 1000000000000ull) {
					frac = frac * 10 + (uint64_t)(*s - '0');
					scale *= 10;
				}
		if (!digits)
			return false;
		for (u = 0; u < ARRAY_SIZE(units); u++) {
			ulen = strlen(units[u].unit);
			if ((size_t)(end - s) >= ulen && memcmp(s, units[u].unit, ulen) == 0)
				break;
		}
		if (u == ARRAY_SIZE(units))
			return false;
		s += ulen;
		if (__builtin_mul_overflow(whole, units[u].ns, &part))
			return false;
		fpart = (uint64_t)((double)frac * (double)units[u].ns / (double)scale);
		if (__builtin_add_overflow(total, part, &total) ||
		    __builtin_add_overflow(total, fpart, &total) || total > INT64_MAX)
			return false;
	}
	*out = (int64_t)total;
	return true;
}

static size_t skip_spaces(const char *s, size_t i)
{
	while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
		i++;
	return i;
}

static size_t word_end(const char *s, size_t i)
{
	while (s[i] && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
		i++;
	return i;
}

/* HEALTHCHECK "[--interval=D] [--timeout=D] [--start-period=D] [--retries=N] CMD ..." */
static int read_healthcheck_options(struct ctx *x, struct cairn_config_healthcheck *h, size_t *i,
				    struct cairn_config_pos pos, bool *any)
{
	const char *s = h->text.s;
	char shown[SHOWN_MAX + 4];

	*any = false;
	for (*i = skip_spaces(s, 0); s[*i] == '-' && s[*i + 1] == '-'; *i = skip_spaces(s, *i)) {
		size_t end = word_end(s, *i), eq;
		const char *val;
		int64_t *dst = NULL;

		for (eq = *i; eq < end && s[eq] != '='; eq++)
			;
		cfg_show(shown, s + *i, end - *i);
		if (eq == end)
			return invalid(x, pos, "option '%s' needs '=VALUE'", shown);
		val = s + eq + 1;
		if (eq - *i == 10 && memcmp(s + *i, "--interval", 10) == 0)
			dst = &h->interval_ns;
		else if (eq - *i == 9 && memcmp(s + *i, "--timeout", 9) == 0)
			dst = &h->timeout_ns;
		else if (eq - *i == 14 && memcmp(s + *i, "--start-period", 14) == 0)
			dst = &h->start_period_ns;
		else if (eq - *i == 16 && memcmp(s + *i, "--start-interval", 16) == 0)
			dst = &h->start_interval_ns;
		if (dst) {
			if (!parse_duration(dst, val, (size_t)(s + end - val)) ||
			    (*dst && *dst < 1000000))
				return invalid(x, pos,
					       "option '%s': not a duration of 0 or 1ms or more",
					       shown);
		} else if (eq - *i == 9 && memcmp(s + *i, "--retries", 9) == 0) {
			unsigned long long v = 0;
			const char *p = val;

			for (; p < s + end && *p >= '0' && *p <= '9' && v <= INT_MAX; p++)
				v = v * 10 + (unsigned long long)(*p - '0');
			if (p == val || p != s + end || v > INT_MAX)
				return invalid(x, pos, "option '%s': not a number", shown);
			h->retries = (unsigned int)v;
		} else {
			return invalid(x, pos, "unknown option '%s'", shown);
		}
		*any = true;
		*i = end;
	}
	return 0;
}

/* CMD ["a", "b"] as JSON: the list, or false to read the text as a shell command (as docker). */
static bool json_argv(struct cairn_config_list *test, const char *s, struct cairn_config_pos pos)
{
	cleanup_json json_t *j = NULL;
	struct cairn_error *e = NULL;
	size_t n;

	if (cairn_json_parse(&j, s, strlen(s), "HEALTHCHECK", &e) < 0) {
		cairn_error_free(e);
		return false;
	}
	n = json_is_array(j) ? json_array_size(j) : 0;
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++) {
		const char *arg = json_string_value(json_array_get(j, i));

		if (!arg || strlen(arg) != json_string_length(json_array_get(j, i)))
			return false;
	}
	cfg_list_add(test, "CMD", pos);
	for (size_t i = 0; i < n; i++)
		cfg_list_add(test, json_string_value(json_array_get(j, i)), pos);
	return true;
}

static int read_healthcheck(struct ctx *x, const struct field *f, const struct ynode *n, void *base)
{
	struct cairn_config_healthcheck *h = AT(base, f->off);
	size_t i, end;
	const char *s;
	bool options;
	int ret;

	ret = cfg_read_str(x, n, &h->text, 0, NULL);
	if (ret < 0)
		return ret;
	ret = read_healthcheck_options(x, h, &i, n->pos, &options);
	if (ret < 0)
		return ret;
	s = h->text.s;
	end = word_end(s, i);
	h->test.at = n->pos;
	if (end - i == 4 && strncasecmp(s + i, "NONE", 4) == 0 && !s[skip_spaces(s, end)]) {
		if (options)
			return invalid(x, n->pos, "NONE takes no options");
		cfg_list_add(&h->test, "NONE", n->pos);
		return 0;
	}
	if (end - i != 3 || strncasecmp(s + i, "CMD", 3) != 0)
		return invalid(x, n->pos, "must be NONE or [OPTIONS] CMD command");
	i = skip_spaces(s, end);
	if (!s[i])
		return invalid(x, n->pos, "CMD needs a command");
	if (s[i] == '[' && json_argv(&h->test, s + i, n->pos))
		return 0;
	cfg_list_add(&h->test, "CMD-SHELL", n->pos);
	cfg_list_add(&h->test, s + i, n->pos);
	return 0;
}

/* ---- meta ---- */

static int read_config_version(struct ctx *x, const struct field *f, const struct ynode *n,
			       void *base)
{
	struct cairn_config *c = base;

	(void)f;
	if (!cfg_is(n, "1"))
		return invalid(x, n->pos, "must be 1");
	c->config_version = 1;
	c->config_version_pos = n->pos;
	return 0;
}

static int check_bool(struct ctx *x, const struct field *f, const struct ynode *n, void *base)
{
	struct cairn_config_bool b;

	(void)f;
	(void)base;
	return cfg_read_bool(x, n, &b);
}

static int check_map(struct ctx *x, const struct field *f, const struct ynode *n, void *base)
{
	(void)f;
	(void)base;
	return n->kind == Y_MAP ? 0 : invalid(x, n->pos, "must be a mapping");
}

static void cfg_value_release(struct cairn_config_value *v)
{
	for (size_t i = 0; i < v->n; i++) {
		if (v->keys)
			free(v->keys[i]);
		cfg_value_release(&v->items[i]);
	}
	free(v->keys);
	free(v->items);
	free(v->text);
	memset(v, 0, sizeof(*v));
}

static int copy_value(struct ctx *x, struct cairn_config_value *out, const struct ynode *n);

static int copy_map(struct ctx *x, struct cairn_config_value *out, const struct ynode *n)
{
	CLEANUP(cfg_entries_release) struct entries e = {0};
	int ret;

	out->kind = CAIRN_CONFIG_VALUE_MAP;
	ret = cfg_map_entries(x, n, &e);
	if (ret < 0)
		return ret;
	out->keys = xcalloc(e.n ? e.n : 1, sizeof(*out->keys));
	out->items = xcalloc(e.n ? e.n : 1, sizeof(*out->items));
	for (size_t i = 0; i < e.n; i++) {
		const struct ynode *k = e.v[i].key;
		size_t old = cfg_path_key(x, k->text, k->len);

		if (memchr(k->text, '\0', k->len))
			return invalid(x, k->pos, "must not contain a NUL character");
		out->keys[i] = xmemdup(k->text, k->len + 1);
		out->n = i + 1;
		ret = copy_value(x, &out->items[i], e.v[i].value);
		if (ret < 0)
			return ret;
		cfg_path_pop(x, old);
	}
	return 0;
}

/* A copy of `n` as a struct cairn_config_value; on failure *out holds what was copied. */
static int copy_value(struct ctx *x, struct cairn_config_value *out, const struct ynode *n)
{
	int ret;

	out->pos = n->pos;
	if (cfg_is_null(n))
		return 0;
	if (n->kind == Y_MAP)
		return copy_map(x, out, n);
	if (n->kind == Y_SCALAR) {
		if (memchr(n->text, '\0', n->len))
			return invalid(x, n->pos, "must not contain a NUL character");
		out->kind = CAIRN_CONFIG_VALUE_SCALAR;
		out->text = xmemdup(n->text, n->len + 1);
		out->plain = n->plain;
		return 0;
	}
	out->kind = CAIRN_CONFIG_VALUE_LIST;
	out->items = xcalloc(n->n_kids ? n->n_kids : 1, sizeof(*out->items));
	for (size_t i = 0; i < n->n_kids; i++) {
		size_t old;

		ret = cfg_charge(x, n->kids[i]);
		if (ret < 0)
			return ret;
		old = cfg_path_index(x, i);
		out->n = i + 1;
		ret = copy_value(x, &out->items[i], n->kids[i]);
		if (ret < 0)
			return ret;
		cfg_path_pop(x, old);
	}
	return 0;
}

/* `cleanup`: kept as written for a cleanup command to read. */
static int read_cleanup(struct ctx *x, const struct field *f, const struct ynode *n, void *base)
{
	struct cairn_config *c = base;

	(void)f;
	if (n->kind != Y_MAP)
		return invalid(x, n->pos, "must be a mapping");
	if (c->cleanup) {
		cfg_value_release(c->cleanup);
		free(c->cleanup);
	}
	c->cleanup = xcalloc(1, sizeof(*c->cleanup));
	return copy_value(x, c->cleanup, n);
}

/* ---- element checks ---- */

/*
 * At most one of the values `v` (with keys `keys`) may be given, and with `required` at least
 * one, else "<keys[0]>: missing (or <keys[1]>, ...)" at `where`. Of two given, the error names
 * the one written last.
 */
static int check_exclusive(struct ctx *x, struct cairn_config_str *const *v,
			   const char *const *keys, size_t n, bool required,
			   struct cairn_config_pos where)
{
	size_t first = n, last = n;
	size_t old;
	int ret;

	for (size_t i = 0; i < n; i++) {
		if (!v[i]->s)
			continue;
		if (first == n || cfg_pos_before(v[i]->pos, v[first]->pos))
			first = i;
		if (last == n || cfg_pos_before(v[last]->pos, v[i]->pos))
			last = i;
	}
	if (first == n && required) {
		CLEANUP(cairn_buf_release) struct cairn_buf others = CAIRN_BUF_INIT;

		for (size_t i = 1; i < n; i++)
			cairn_buf_addf(&others, "%s%s", i > 1 ? ", " : "", keys[i]);
		old = cfg_path_key(x, keys[0], strlen(keys[0]));
		ret = invalid(x, where, "missing (or %s)", others.buf);
		cfg_path_pop(x, old);
		return ret;
	}
	if (first == last)
		return 0;
	old = cfg_path_key(x, keys[last], strlen(keys[last]));
	ret = invalid(x, v[last]->pos, "cannot be used together with %s", keys[first]);
	cfg_path_pop(x, old);
	return ret;
}

static int check_git(struct ctx *x, const struct field *f, const struct ynode *n, void *p)
{
	static const char *const keys[] = {"branch", "tag", "commit"};
	struct cairn_config_git *g = p;
	struct cairn_config_str *const revs[] = {&g->branch, &g->tag, &g->commit};

	(void)f;
	(void)n;
	if (!g->add.s)
		g->add.s = xstrdup("/");
	for (size_t i = 0; !g->url.s && i < ARRAY_SIZE(revs); i++) {
		if (revs[i]->s) {
			size_t old = cfg_path_key(x, keys[i], strlen(keys[i]));
			int ret =
				invalid(x, revs[i]->pos, "only for a remote repository (with url)");

			cfg_path_pop(x, old);
			return ret;
		}
	}
	return check_exclusive(x, revs, keys, ARRAY_SIZE(revs), false, g->pos);
}

static int check_import(struct ctx *x, const struct field *f, const struct ynode *n, void *p)
{
	static const char *const source_keys[] = {"artifact", "image"};
	static const char *const point_keys[] = {"before", "after"};
	struct cairn_config_import *im = p;
	struct cairn_config_str *const sources[] = {&im->artifact, &im->image};
	struct cairn_config_str *const points[] = {&im->before, &im->after};
	bool setup;
	int ret;

	(void)f;
	if (!im->to.s)
		im->to.s = xstrdup(im->add.s);
	ret = check_exclusive(x, sources, source_keys, 2, true, n->pos);
	if (ret < 0)
		return ret;
	ret = check_exclusive(x, points, point_keys, 2, true, n->pos);
	if (ret < 0)
		return ret;
	if (im->before.s) {
		setup = strcmp(im->before.s, "setup") == 0;
		im->point = setup ? CAIRN_CONFIG_IMPORT_BEFORE_SETUP
				  : CAIRN_CONFIG_IMPORT_BEFORE_INSTALL;
	} else {
		setup = strcmp(im->after.s, "setup") == 0;
		im->point =
			setup ? CAIRN_CONFIG_IMPORT_AFTER_SETUP : CAIRN_CONFIG_IMPORT_AFTER_INSTALL;
	}
	return 0;
}

static int check_mount(struct ctx *x, const struct field *f, const struct ynode *n, void *p)
{
	static const char *const keys[] = {"from", "fromPath"};
	struct cairn_config_mount *m = p;
	struct cairn_config_str *const from[] = {&m->from, &m->from_path};
	int ret;

	(void)f;
	ret = check_exclusive(x, from, keys, 2, true, n->pos);
	if (ret < 0)
		return ret;
	if (m->from_path.s)
		m->type = CAIRN_CONFIG_MOUNT_HOST_DIR;
	else if (strcmp(m->from.s, "tmp_dir") == 0)
		m->type = CAIRN_CONFIG_MOUNT_TMP_DIR;
	else
		m->type = CAIRN_CONFIG_MOUNT_BUILD_DIR;
	return 0;
}

/* ---- field tables ---- */

#define CFG(m) offsetof(struct cairn_config, m)
#define IMG(m) offsetof(struct cairn_config_image, m)
#define GIT(m) offsetof(struct cairn_config_git, m)
#define IMP(m) offsetof(struct cairn_config_import, m)
#define MNT(m) offsetof(struct cairn_config_mount, m)

_Static_assert(GIT(pos) == 0 && IMP(pos) == 0 && MNT(pos) == 0,
	       "read_seq() sets the position of each element at its start");

static const struct field meta_fields[] = {
	{.key = "project",
	 .type = T_STR,
	 .flags = F_REQUIRED,
	 .off = CFG(project),
	 .check = cfg_check_project},
	{.key = "configVersion",
	 .type = T_FN,
	 .flags = F_REQUIRED,
	 .off = CFG(config_version),
	 .fn = read_config_version},
	{.key = "deploy",
	 .type = T_SKIP,
	 .flags = F_IGNORED,
	 .fn = check_map,
	 .note = "cairn does not deploy"},
	{.key = "cleanup",
	 .type = T_FN,
	 .flags = F_IGNORED,
	 .off = CFG(cleanup),
	 .fn = read_cleanup,
	 .note = "cairn applies no cleanup policies yet"},
	{.key = "gitWorktree",
	 .type = T_SKIP,
	 .flags = F_IGNORED,
	 .fn = check_map,
	 .note = "cairn reads the repository as it is"},
	{.key = NULL},
};

/* werf's keys that only gave werf's consent to a build that may not be reproducible */
#define ADMISSION(k)                                                            \
	{                                                                       \
		.key = k, .type = T_SKIP, .flags = F_IGNORED, .fn = check_bool, \
		.note = "cairn needs no such admission"                         \
	}
#define DOCKERFILE_KEY(k)                                                      \
	{                                                                      \
		.key = k, .type = T_SKIP, .flags = F_UNSUPPORTED,              \
		.note = "images built from a Dockerfile are not supported yet" \
	}

#define STAGE_DEP(k, stage)                                                      \
	{                                                                        \
		.key = k, .type = T_LIST, .off = GIT(stage_dependencies[stage]), \
		.check = check_rel                                               \
	}

static const struct field stage_dependencies_fields[] = {
	STAGE_DEP("install", CAIRN_CONFIG_STAGE_INSTALL),
	STAGE_DEP("beforeSetup", CAIRN_CONFIG_STAGE_BEFORE_SETUP),
	STAGE_DEP("setup", CAIRN_CONFIG_STAGE_SETUP),
	{.key = NULL},
};

static const struct field git_fields[] = {
	{.key = "url", .type = T_STR, .off = GIT(url)},
	{.key = "add", .type = T_STR, .off = GIT(add), .check = check_abs},
	{.key = "to", .type = T_STR, .flags = F_REQUIRED, .off = GIT(to), .check = check_abs},
	{.key = "includePaths", .type = T_LIST, .off = GIT(include_paths), .check = check_rel},
	{.key = "excludePaths", .type = T_LIST, .off = GIT(exclude_paths), .check = check_rel},
	{.key = "owner", .type = T_STR, .off = GIT(owner)},
	{.key = "group", .type = T_STR, .off = GIT(group)},
	{.key = "stageDependencies",
	 .type = T_MAP,
	 .off = GIT(stage_dependencies_pos),
	 .sub = stage_dependencies_fields},
	{.key = "branch", .type = T_STR, .off = GIT(branch)},
	{.key = "tag", .type = T_STR, .off = GIT(tag)},
	{.key = "commit", .type = T_STR, .off = GIT(commit), .check = check_commit},
	ADMISSION("herebyIAdmitThatBranchMightBreakReproducibility"),
	{.key = NULL},
};

#define SHELL_COMMANDS(k, stage)                                            \
	{                                                                   \
		.key = k, .type = T_LIST, .off = IMG(shell.commands[stage]) \
	}
#define SHELL_VERSION(k, stage)                               \
	{                                                     \
		.key = k, .type = T_STR, .flags = F_EMPTY_OK, \
		.off = IMG(shell.stage_cache_version[stage])  \
	}

static const struct field shell_fields[] = {
	SHELL_COMMANDS("beforeInstall", CAIRN_CONFIG_STAGE_BEFORE_INSTALL),
	SHELL_COMMANDS("install", CAIRN_CONFIG_STAGE_INSTALL),
	SHELL_COMMANDS("beforeSetup", CAIRN_CONFIG_STAGE_BEFORE_SETUP),
	SHELL_COMMANDS("setup", CAIRN_CONFIG_STAGE_SETUP),
	{.key = "cacheVersion",
	 .type = T_STR,
	 .flags = F_EMPTY_OK,
	 .off = IMG(shell.cache_version)},
	SHELL_VERSION("beforeInstallCacheVersion", CAIRN_CONFIG_STAGE_BEFORE_INSTALL),
	SHELL_VERSION("installCacheVersion", CAIRN_CONFIG_STAGE_INSTALL),
	SHELL_VERSION("beforeSetupCacheVersion", CAIRN_CONFIG_STAGE_BEFORE_SETUP),
	SHELL_VERSION("setupCacheVersion", CAIRN_CONFIG_STAGE_SETUP),
	{.key = NULL},
};

static const struct field import_fields[] = {
	{.key = "artifact", .type = T_STR, .off = IMP(artifact)},
	{.key = "image", .type = T_STR, .off = IMP(image)},
	{.key = "add", .type = T_STR, .flags = F_REQUIRED, .off = IMP(add), .check = check_abs},
	{.key = "to", .type = T_STR, .off = IMP(to), .check = check_abs},
	{.key = "owner", .type = T_STR, .off = IMP(owner)},
	{.key = "group", .type = T_STR, .off = IMP(group)},
	{.key = "includePaths", .type = T_LIST, .off = IMP(include_paths), .check = check_rel},
	{.key = "excludePaths", .type = T_LIST, .off = IMP(exclude_paths), .check = check_rel},
	{.key = "before", .type = T_STR, .off = IMP(before), .check = check_user_stage},
	{.key = "after", .type = T_STR, .off = IMP(after), .check = check_user_stage},
	{.key = "stage", .type = T_STR, .off = IMP(stage), .check = check_import_stage},
	{.key = NULL},
};

static const struct field mount_fields[] = {
	{.key = "to", .type = T_STR, .flags = F_REQUIRED, .off = MNT(to), .check = check_abs},
	{.key = "from", .type = T_STR, .off = MNT(from), .check = check_mount_from},
	{.key = "fromPath", .type = T_STR, .off = MNT(from_path), .check = check_host_path},
	{.key = NULL},
};

static const struct field cfg_docker_fields[] = {
	{.key = "WORKDIR", .type = T_STR, .off = IMG(docker.workdir)},
	{.key = "CMD", .type = T_LIST, .flags = F_EMPTY_OK | F_SHELL_FORM, .off = IMG(docker.cmd)},
	{.key = "ENTRYPOINT",
	 .type = T_LIST,
	 .flags = F_EMPTY_OK | F_SHELL_FORM,
	 .off = IMG(docker.entrypoint)},
	{.key = "EXPOSE", .type = T_LIST, .off = IMG(docker.expose), .check = check_expose},
	{.key = "ENV",
	 .type = T_FN,
	 .off = IMG(docker.env),
	 .count_off = IMG(docker.n_env),
	 .fn = read_kv,
	 .check = check_env_name},
	{.key = "LABEL",
	 .type = T_FN,
	 .off = IMG(docker.labels),
	 .count_off = IMG(docker.n_labels),
	 .fn = read_kv},
	{.key = "VOLUME", .type = T_LIST, .off = IMG(docker.volume)},
	{.key = "USER", .type = T_STR, .off = IMG(docker.user)},
	{.key = "STOPSIGNAL", .type = T_STR, .off = IMG(docker.stopsignal)},
	{.key = "HEALTHCHECK",
	 .type = T_FN,
	 .off = IMG(docker.healthcheck),
	 .fn = read_healthcheck},
	{.key = NULL},
};

static const struct field image_fields[] = {
	{.key = "image", .type = T_NAME, .off = IMG(name)},
	{.key = "dimg", .type = T_NAME, .off = IMG(name)},
	{.key = "artifact", .type = T_NAME, .off = IMG(name)},
	{.key = "from", .type = T_STR, .off = IMG(from)},
	{.key = "fromImage", .type = T_STR, .off = IMG(from_image)},
	{.key = "fromDimg", .type = T_STR, .off = IMG(from_image)},
	{.key = "fromImageArtifact", .type = T_STR, .off = IMG(from_image_artifact)},
	{.key = "fromDimgArtifact", .type = T_STR, .off = IMG(from_image_artifact)},
	{.key = "fromCacheVersion",
	 .type = T_STR,
	 .flags = F_EMPTY_OK,
	 .off = IMG(from_cache_version)},
	{.key = "fromLatest", .type = T_BOOL, .off = IMG(from_latest)},
	{.key = "git",
	 .type = T_SEQ,
	 .off = IMG(git),
	 .count_off = IMG(n_git),
	 .elem_size = sizeof(struct cairn_config_git),
	 .sub = git_fields,
	 .fn = check_git},
	{.key = "shell", .type = T_MAP, .off = IMG(shell.pos), .sub = shell_fields},
	{.key = "import",
	 .type = T_SEQ,
	 .off = IMG(imports),
	 .count_off = IMG(n_imports),
	 .elem_size = sizeof(struct cairn_config_import),
	 .sub = import_fields,
	 .fn = check_import},
	{.key = "mount",
	 .type = T_SEQ,
	 .off = IMG(mounts),
	 .count_off = IMG(n_mounts),
	 .elem_size = sizeof(struct cairn_config_mount),
	 .sub = mount_fields,
	 .fn = check_mount},
	{.key = "docker",
	 .type = T_MAP,
	 .flags = F_NO_ARTIFACT,
	 .off = IMG(docker.pos),
	 .sub = cfg_docker_fields},
	ADMISSION("herebyIAdmitThatFromLatestMightBreakReproducibility"),
	{.key = "asLayers",
	 .type = T_SKIP,
	 .flags = F_IGNORED,
	 .fn = check_bool,
	 .note = "the files built are the same without it"},
	{.key = "ansible",
	 .type = T_SKIP,
	 .flags = F_UNSUPPORTED,
	 .note = "ansible stages are not supported yet"},
	DOCKERFILE_KEY("dockerfile"),
	DOCKERFILE_KEY("context"),
	DOCKERFILE_KEY("contextAddFile"),
	DOCKERFILE_KEY("contextAddFiles"),
	DOCKERFILE_KEY("target"),
	DOCKERFILE_KEY("args"),
	DOCKERFILE_KEY("addHost"),
	DOCKERFILE_KEY("network"),
	DOCKERFILE_KEY("ssh"),
	{.key = NULL},
};

/* ---- documents ---- */

/* The value of top-level key `key` of mapping `map` as written (merges not looked at). */
static const struct ynode *raw_get(const struct ynode *map, const char *key)
{
	for (size_t i = 0; i + 1 < map->n_kids; i += 2)
		if (cfg_is(map->kids[i], key))
			return map->kids[i];
	return NULL;
}

static bool has_name_key(const struct ynode *root)
{
	return raw_get(root, "image") || raw_get(root, "dimg") || raw_get(root, "artifact");
}

static int read_meta(struct ctx *x, const struct ynode *root)
{
	if (!raw_get(root, "project") && has_name_key(root)) {
		size_t old = cfg_path_key(x, "project", 7);
		int ret = invalid(x, root->pos,
				  "missing: the first document must be the meta document "
				  "(project, configVersion)");

		cfg_path_pop(x, old);
		return ret;
	}
	return cfg_read_fields(x, root, meta_fields, x->cfg);
}

static struct cairn_config_image *new_image(struct ctx *x)
{
	struct cairn_config *c = x->cfg;
	struct cairn_config_image *img;

	c->images = xreallocarray(c->images, c->n_images + 1, sizeof(*c->images));
	x->keys = cfg_grow(x->keys, &x->alloc_keys, c->n_images + 1, sizeof(*x->keys));
	img = &c->images[c->n_images++];
	memset(img, 0, sizeof(*img));
	memset(&x->keys[c->n_images - 1], 0, sizeof(*x->keys));
	return img;
}

/* One image (or artifact) called `name` (NULL: unnamed) with the body of document `root`. */
static int read_image(struct ctx *x, const struct ynode *root, const char *name_key,
		      const struct ynode *name)
{
	struct cairn_config_str *from[3];
	const char *from_keys[3];
	struct cairn_config_image *img;
	struct image_keys *keys;
	int ret;

	if (x->cfg->n_images == CAIRN_CONFIG_IMAGES_MAX)
		return cfg_fail(x, CAIRN_ETOOBIG, name->pos, "more than %d images and artifacts",
				CAIRN_CONFIG_IMAGES_MAX);
	img = new_image(x);
	keys = &x->keys[x->cfg->n_images - 1];
	keys->name = name_key;
	keys->from_image = raw_get(root, "fromDimg") ? "fromDimg" : "fromImage";
	keys->from_artifact =
		raw_get(root, "fromDimgArtifact") ? "fromDimgArtifact" : "fromImageArtifact";
	img->artifact = x->artifact;
	img->pos = root->pos;
	img->name_pos = name->pos;
	if (!cfg_is_null(name))
		img->name = xmemdup(name->text, name->len + 1);
	ret = cfg_read_fields(x, root, image_fields, img);
	if (ret < 0)
		return ret;
	from[0] = &img->from;
	from[1] = &img->from_image;
	from[2] = &img->from_image_artifact;
	from_keys[0] = "from";
	from_keys[1] = keys->from_image;
	from_keys[2] = keys->from_artifact;
	return check_exclusive(x, from, from_keys, 3, true, root->pos);
}

static int check_image_name(struct ctx *x, const struct ynode *n)
{
	struct cairn_config_str s = {0};
	int ret;

	if (cfg_is_null(n))
		return invalid(x, n->pos, "must be a name");
	ret = cfg_read_str(x, n, &s, 0, x->artifact ? check_artifact_name : check_name);
	free(s.s);
	return ret;
}

static int read_image_document(struct ctx *x, const struct ynode *root)
{
	static const char *const name_keys[] = {"image", "dimg", "artifact"};
	CLEANUP(cfg_entries_release) struct entries e = {0};
	const struct entry *found = NULL;
	const char *name_key = NULL;
	const struct ynode *names;
	size_t old;
	int ret;

	ret = cfg_map_entries(x, root, &e);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < e.n; i++) {
		for (size_t k = 0; k < ARRAY_SIZE(name_keys); k++) {
			if (!cfg_is(e.v[i].key, name_keys[k]))
				continue;
			if (found) {
				old = cfg_path_key(x, name_keys[k], strlen(name_keys[k]));
				ret = invalid(x, e.v[i].key->pos, "cannot be used together with %s",
					      name_key);
				cfg_path_pop(x, old);
				return ret;
			}
			found = &e.v[i];
			name_key = name_keys[k];
		}
	}
	if (!found) {
		old = cfg_path_key(x, "image", 5);
		ret = invalid(x, root->pos,
			      "missing: each document after the first needs image or artifact");
		cfg_path_pop(x, old);
		return ret;
	}
	x->artifact = strcmp(name_key, "artifact") == 0;
	names = found->value;
	old = cfg_path_key(x, name_key, strlen(name_key));
	if (names->kind == Y_SEQ && !x->artifact) {
		if (!names->n_kids)
			return invalid(x, names->pos, "must name at least one image");
		for (size_t i = 0; i < names->n_kids; i++) {
			size_t old_i = cfg_path_index(x, i);

			ret = check_image_name(x, names->kids[i]);
			if (ret < 0)
				return ret;
			cfg_path_pop(x, old_i);
		}
	} else if (!cfg_is_null(names) || x->artifact) {
		ret = check_image_name(x, names);
		if (ret < 0)
			return ret;
	}
	cfg_path_pop(x, old);
	if (names->kind != Y_SEQ)
		return read_image(x, root, name_key, names);
	for (size_t i = 0; i < names->n_kids; i++) {
		ret = read_image(x, root, name_key, names->kids[i]);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int cfg_process_document(struct ctx *x, const struct ynode *root)
{
	int ret;

	if (cfg_is_null(root))
		return 0;
	if (root->kind != Y_MAP)
		return invalid(x, root->pos, "a document must be a mapping");
	if (!x->have_meta) {
		x->have_meta = true;
		/* the 2018 tool had no meta document: a dappfile may start with an image */
		if (x->dappfile && !raw_get(root, "project") && !raw_get(root, "configVersion") &&
		    has_name_key(root))
			ret = read_image_document(x, root);
		else
			ret = read_meta(x, root);
	} else {
		ret = read_image_document(x, root);
	}
	cfg_free_nodes(x);
	return ret;
}

/* ---- the whole configuration ---- */

static const char *display_name(const struct cairn_config_image *img)
{
	return img->name ? img->name : "~";
}

static int fail_image(struct ctx *x, size_t i, const char *fmt, ...) CAIRN_PRINTF(3, 4);

/* An error about the name of image i, e.g. "werf.yaml:9:8: image: duplicate name 'a'". */
static int fail_image(struct ctx *x, size_t i, const char *fmt, ...)
{
	CLEANUP(cairn_buf_release) struct cairn_buf why = CAIRN_BUF_INIT;
	const char *key = x->keys[i].name;
	size_t old;
	va_list ap;
	int ret;

	va_start(ap, fmt);
	cairn_buf_vaddf(&why, fmt, ap);
	va_end(ap);
	old = cfg_path_key(x, key, strlen(key));
	ret = invalid(x, x->cfg->images[i].name_pos, "%s", why.buf);
	cfg_path_pop(x, old);
	return ret;
}

static int cfg_check_names(struct ctx *x)
{
	const struct cairn_config *c = x->cfg;
	size_t unnamed = SIZE_MAX, named = SIZE_MAX;

	for (size_t i = 0; i < c->n_images; i++) {
		const struct cairn_config_image *img = &c->images[i];

		for (size_t j = 0; img->name && j < i; j++)
			if (c->images[j].name && strcmp(c->images[j].name, img->name) == 0)
				return fail_image(x, i, "duplicate name '%s' (first at line %u)",
						  img->name, c->images[j].name_pos.line);
		if (img->artifact)
			continue;
		if (!img->name && unnamed != SIZE_MAX)
			return fail_image(x, i, "a second unnamed image (first at line %u)",
					  c->images[unnamed].name_pos.line);
		if (!img->name && named != SIZE_MAX)
			return fail_image(x, i,
					  "the unnamed image cannot be used beside named images "
					  "('%s' at line %u)",
					  c->images[named].name, c->images[named].name_pos.line);
		if (img->name && unnamed != SIZE_MAX)
			return fail_image(x, i, "named image beside the unnamed image (at line %u)",
					  c->images[unnamed].name_pos.line);
		if (img->name && named == SIZE_MAX)
			named = i;
		if (!img->name && unnamed == SIZE_MAX)
			unnamed = i;
	}
	return 0;
}

/* Resolve `ref` (in image i, written under `key`) to an image or an artifact. */
static int resolve(struct ctx *x, const struct cairn_config_image **out,
		   const struct cairn_config_str *ref, bool artifact, const char *key)
{
	const struct cairn_config_image *t = cairn_config_find(x->cfg, ref->s);
	char shown[SHOWN_MAX + 4];
	size_t old;
	int ret;

	*out = t;
	if (t && t->artifact == artifact)
		return 0;
	cfg_show(shown, ref->s, strlen(ref->s));
	old = cfg_path_key(x, key, strlen(key));
	if (t)
		ret = invalid(x, ref->pos, "'%s' is %s, not %s", shown,
			      artifact ? "an image" : "an artifact",
			      artifact ? "an artifact" : "an image");
	else
		ret = invalid(x, ref->pos, "no %s named '%s'", artifact ? "artifact" : "image",
			      shown);
	cfg_path_pop(x, old);
	return ret;
}

static int cfg_resolve_all(struct ctx *x)
{
	struct cairn_config *c = x->cfg;
	int ret = 0;

	for (size_t i = 0; i < c->n_images && ret == 0; i++) {
		struct cairn_config_image *img = &c->images[i];

		if (img->from_image.s)
			ret = resolve(x, &img->base, &img->from_image, false,
				      x->keys[i].from_image);
		else if (img->from_image_artifact.s)
			ret = resolve(x, &img->base, &img->from_image_artifact, true,
				      x->keys[i].from_artifact);
		for (size_t k = 0; k < img->n_imports && ret == 0; k++) {
			struct cairn_config_import *im = &img->imports[k];
			bool art = im->artifact.s != NULL;

			cairn_buf_addf(&x->path, "import[%zu]", k);
			ret = resolve(x, &im->source, art ? &im->artifact : &im->image, art,
				      art ? "artifact" : "image");
			cfg_path_pop(x, 0);
		}
	}
	return ret;
}

/* The k-th dependency of `img` (its base, then its import sources), or NULL past the end. */
static const struct cairn_config_image *dependency(const struct cairn_config_image *img, size_t k)
{
	if (img->base) {
		if (k == 0)
			return img->base;
		k--;
	}
	return k < img->n_imports ? img->imports[k].source : NULL;
}

enum mark {
	WHITE = 0,
	GRAY,
	BLACK,
};

struct walk {
	const struct cairn_config *c;
	unsigned char *marks;
	const struct cairn_config_image **stack;
	size_t depth;
	const struct cairn_config_image **out; /* NULL when only looking for cycles */
	size_t n_out;
	size_t cycle_from; /* stack index of the image a cycle returns to */
	size_t cycle_edge; /* the dependency index that closes the cycle */
};

/* Depth-first: 1 and the cycle in w->stack[w->cycle_from..] on a cycle, else 0. */
static int visit(struct walk *w, const struct cairn_config_image *img)
{
	size_t i = (size_t)(img - w->c->images);
	const struct cairn_config_image *d;

	if (w->marks[i] == BLACK)
		return 0;
	w->marks[i] = GRAY;
	w->stack[w->depth++] = img;
	for (size_t k = 0; (d = dependency(img, k)); k++) {
		size_t j = (size_t)(d - w->c->images);

		if (w->marks[j] == GRAY) {
			for (w->cycle_from = 0; w->stack[w->cycle_from] != d; w->cycle_from++)
				;
			w->cycle_edge = k;
			return 1;
		}
		if (visit(w, d))
			return 1;
	}
	w->depth--;
	w->marks[i] = BLACK;
	if (w->out)
		w->out[w->n_out++] = img;
	return 0;
}

static void walk_release(struct walk *w)
{
	free(w->marks);
	free(w->stack);
	free(w->out);
}

static void walk_init(struct walk *w, const struct cairn_config *c, bool order)
{
	memset(w, 0, sizeof(*w));
	w->c = c;
	w->marks = xcalloc(c->n_images + 1, 1);
	w->stack = xcalloc(c->n_images + 1, sizeof(*w->stack));
	if (order)
		w->out = xcalloc(c->n_images + 1, sizeof(*w->out));
}

/* "a -> b -> a" */
static char *cycle_text(const struct walk *w)
{
	struct cairn_buf b = CAIRN_BUF_INIT;

	for (size_t i = w->cycle_from; i < w->depth; i++)
		cairn_buf_addf(&b, "%s -> ", display_name(w->stack[i]));
	cairn_buf_addstr(&b, display_name(w->stack[w->cycle_from]));
	return cairn_buf_detach(&b, NULL);
}

static int cfg_check_cycles(struct ctx *x)
{
	CLEANUP(walk_release) struct walk w = {0};
	const struct cairn_config *c = x->cfg;

	walk_init(&w, c, false);
	for (size_t i = 0; i < c->n_images; i++) {
		const struct cairn_config_image *last;
		const struct cairn_config_str *ref;
		cleanup_free char *text = NULL;
		const char *key;
		size_t k;

		if (!visit(&w, &c->images[i]))
			continue;
		last = w.stack[w.depth - 1];
		k = w.cycle_edge;
		text = cycle_text(&w);
		if (last->base && k == 0) {
			bool art = last->from_image_artifact.s != NULL;

			ref = art ? &last->from_image_artifact : &last->from_image;
			key = art ? x->keys[last - c->images].from_artifact
				  : x->keys[last - c->images].from_image;
			cairn_buf_addstr(&x->path, key);
		} else {
			const struct cairn_config_import *im =
				&last->imports[k - (last->base ? 1 : 0)];

			ref = im->artifact.s ? &im->artifact : &im->image;
			cairn_buf_addf(&x->path, "import[%zu].%s", (size_t)(im - last->imports),
				       im->artifact.s ? "artifact" : "image");
		}
		return invalid(x, ref->pos, "dependency cycle: %s", text);
	}
	return 0;
}

static void ctx_release(struct ctx *x)
{
	cfg_free_nodes(x);
	free(x->nodes);
	free(x->stack);
	free(x->keys);
	cfg_smap_release(&x->noted);
	cairn_buf_release(&x->path);
	cairn_config_free(x->cfg);
}

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

/*
 * YAML is Unicode and cairn reads it as UTF-8. Checked before libfyaml sees the text: 0.7.12
 * loops forever on some ill-formed sequences (e.g. in an unknown directive).
 */
static int cfg_check_utf8(struct ctx *x, const char *text, size_t len)
{
	struct cairn_config_pos pos = {1, 1};
	size_t i = 0;

	while (i < len) {
		size_t n = utf8_len((const unsigned char *)text + i, len - i);

		if (!n)
			return invalid(x, pos, "invalid UTF-8");
		if (text[i] == '\n') {
			pos.line++;
			pos.column = 1;
		} else {
			pos.column++;
		}
		i += n;
	}
	return 0;
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

static int cfg_parse_yaml(struct ctx *x, const char *text, size_t len)
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
	cfg.flags = FYPCF_QUIET | FYPCF_ALLOW_DUPLICATE_KEYS | FYPCF_JSON_NONE;
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

/* ---- exports: werf's implicit excludePaths between the git entries and imports of an image ----
 */

/* A git entry or an import as werf's exportsAutoExcluding sees it (pkg/config/export_base.go). */
struct export
{
	char what[32];		       /* "git[0]" or "import[1]" */
	struct cairn_config_pos pos;   /* of `to` (of `add` for an import's default `to`) */
	char *to;		       /* clean: "/" or "/app/static" */
	struct cairn_config_list *inc; /* includePaths, relative to `to` */
	struct cairn_config_list *exc; /* excludePaths: the implicit ones are added here */
};

/* path.Join: `a` and `b` joined by '/', without empty or "." components ("" for none). */
static char *path_join_clean(const char *a, const char *b)
{
	CLEANUP(cairn_buf_release) struct cairn_buf out = CAIRN_BUF_INIT;
	const char *parts[] = {a, b};

	for (size_t k = 0; k < ARRAY_SIZE(parts); k++) {
		for (const char *p = parts[k]; *p;) {
			size_t n = strcspn(p, "/");

			if (n && !(n == 1 && p[0] == '.'))
				cairn_buf_addf(&out, "%s%.*s", out.len ? "/" : "", (int)n, p);
			p += n + (p[n] == '/');
		}
	}
	return cairn_buf_detach(&out, NULL);
}

/* werf's isSubPath: `path` is `sub` or below it ("/" is above every absolute path). */
static bool is_sub_path(const char *sub, const char *path)
{
	size_t n = strlen(sub);

	while (n && sub[n - 1] == '/')
		n--;
	return strcmp(path, sub) == 0 || (strncmp(path, sub, n) == 0 && path[n] == '/');
}

/* GetIncludePathsForAutoExclude: the includePaths below `to` ("to" itself for none). */
static void export_includes(char ***out, size_t *n, const struct export *e)
{
	*out = NULL;
	*n = 0;
	if (!e->inc->n && e->to[1]) {
		*out = xcalloc(1, sizeof(**out));
		(*out)[(*n)++] = xstrdup(e->to + 1);
		return;
	}
	*out = xcalloc(e->inc->n + 1, sizeof(**out));
	for (size_t i = 0; i < e->inc->n; i++)
		(*out)[(*n)++] = path_join_clean(e->to + 1, e->inc->v[i]);
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* filepath.Rel(to, "/" + path) for a clean `path` at or below `to` */
static const char *rel_to(const char *to, const char *path)
{
	size_t n = strlen(to + 1);

	if (!n)
		return path[0] ? path : ".";
	return path[n] ? path + n + 1 : ".";
}

/* Is `path` (clean, from the root) below one of c's excludePaths? */
static bool export_excludes(const struct export *c, const char *path)
{
	for (size_t i = 0; i < c->exc->n; i++) {
		cleanup_free char *x = path_join_clean(c->to + 1, c->exc->v[i]);

		if (is_sub_path(x, path))
			return true;
	}
	return false;
}

/*
 * werf's AutoExcludeExportAndCheck: when `e` puts its files in c's `to`, c leaves out what e
 * includes (as excludePaths relative to c's `to`, counted in *added). False when nothing
 * tells them apart, with the path both take in *clash ("/app"; the caller frees).
 */
static bool export_auto_exclude(struct export *c, const struct export *e, size_t *added,
				char **clash)
{
	char **ci = NULL, **ei = NULL;
	size_t n_ci = 0, n_ei = 0;

	*clash = NULL;
	if (!is_sub_path(c->to, e->to))
		return true;
	export_includes(&ci, &n_ci, c);
	export_includes(&ei, &n_ei, e);
	if (!n_ci && !n_ei)
		*clash = xstrdup(c->to);
	for (size_t i = 0; !*clash && i < n_ei; i++) {
		bool covered = false;

		for (size_t j = 0; !*clash && !covered && j < n_ci; j++) {
			if (strcmp(ei[i], ci[j]) == 0)
				*clash = xasprintf("/%s", ei[i]);
			covered = is_sub_path(ei[i], ci[j]);
		}
		if (*clash || covered || export_excludes(c, ei[i]))
			continue;
		cfg_list_add(c->exc, rel_to(c->to, ei[i]), (struct cairn_config_pos){0, 0});
		(*added)++;
	}
	strv_free(ci, n_ci);
	strv_free(ei, n_ei);
	return !*clash;
}

static void export_set(struct export *e, const char *what, size_t i,
		       const struct cairn_config_str *to, struct cairn_config_pos pos,
		       struct cairn_config_list *inc, struct cairn_config_list *exc)
{
	cleanup_free char *clean = path_join_clean("", to->s);

	snprintf(e->what, sizeof(e->what), "%s[%zu]", what, i);
	e->pos = to->pos.line ? to->pos : pos;
	e->to = xasprintf("/%s", clean);
	e->inc = inc;
	e->exc = exc;
}

/* The exports of an image in werf's order: local git entries, remote ones, imports. */
static struct export *image_exports(size_t *n, struct cairn_config_image *img)
{
	struct export *v = xcalloc(img->n_git + img->n_imports + 1, sizeof(*v));

	*n = 0;
	for (int remote = 0; remote < 2; remote++) {
		for (size_t i = 0; i < img->n_git; i++) {
			struct cairn_config_git *g = &img->git[i];

			if (!g->url.s == !remote)
				export_set(&v[(*n)++], "git", i, &g->to, g->pos, &g->include_paths,
					   &g->exclude_paths);
		}
	}
	for (size_t i = 0; i < img->n_imports; i++) {
		struct cairn_config_import *im = &img->imports[i];

		export_set(&v[(*n)++], "import", i, &im->to, im->add.pos, &im->include_paths,
			   &im->exclude_paths);
	}
	return v;
}

static void exports_free(struct export *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].to);
	free(v);
}

/* "conflict between imports", at the one of `a` and `b` written last, naming the other. */
static int export_conflict(struct ctx *x, const struct export *a, const struct export *b,
			   const char *clash)
{
	int ret;

	if (cfg_pos_before(b->pos, a->pos)) {
		const struct export *t = a;

		a = b;
		b = t;
	}
	cairn_buf_addf(&x->path, "%s.to", b->what);
	ret = invalid(x, b->pos,
		      "conflict between imports: %s (%s:%u:%u) puts files in '%s' too; tell them "
		      "apart with includePaths",
		      a->what, x->file, a->pos.line, a->pos.column, clash);
	cfg_path_pop(x, 0);
	return ret;
}

/*
 * What a git entry or an import puts where another puts its files is left out of the other
 * (werf's exportsAutoExcluding, pkg/config/stapel_image_base.go): `/src -> /app` beside
 * `/assets -> /app/assets` gets excludePaths `assets`. Two with the same `to` that includePaths
 * do not tell apart are an error naming both ("Conflict between imports!" in werf).
 */
static int cfg_auto_exclude(struct ctx *x)
{
	size_t added = 0;
	int ret = 0;

	for (size_t k = 0; k < x->cfg->n_images && ret == 0; k++) {
		size_t n = 0;
		struct export *v = image_exports(&n, &x->cfg->images[k]);

		for (size_t i = 0; i < n && ret == 0; i++) {
			for (size_t j = 0; j < n && ret == 0; j++) {
				cleanup_free char *clash = NULL;

				if (i != j && !export_auto_exclude(&v[i], &v[j], &added, &clash))
					ret = export_conflict(x, &v[i], &v[j], clash);
				else if (added > CAIRN_CONFIG_NODES_MAX)
					ret = cfg_fail(
						x, CAIRN_ETOOBIG, v[i].pos,
						"more than %d excludePaths added for exports "
						"that overlap",
						CAIRN_CONFIG_NODES_MAX);
			}
		}
		exports_free(v, n);
	}
	return ret;
}

/* "dappfile.yml", "ci/dappfile.yaml": a config file named the way the 2018 tool named it */
static bool is_dappfile(const char *name)
{
	const char *base = strrchr(name, '/');

	base = base ? base + 1 : name;
	return strncmp(base, "dappfile.", 9) == 0;
}

int cairn_config_parse(struct cairn_config **out, const char *name, const char *text, size_t len,
		       struct cairn_error **err)
{
	CLEANUP(ctx_release) struct ctx x = {.path = CAIRN_BUF_INIT};
	struct cairn_config_pos start = {1, 1};
	int ret;

	*out = NULL;
	x.file = name ? name : "werf.yaml";
	x.err = err;
	if (len > CAIRN_CONFIG_FILE_MAX)
		return cairn_error_set(err, CAIRN_ETOOBIG, "%s: larger than %u bytes", x.file,
				       CAIRN_CONFIG_FILE_MAX);
	x.cfg = xcalloc(1, sizeof(*x.cfg));
	x.cfg->file = xstrdup(x.file);
	x.cfg->config_version = 1;
	x.dappfile = is_dappfile(x.file);
	ret = cfg_check_utf8(&x, text, len);
	if (ret < 0)
		return ret;
	ret = cfg_parse_yaml(&x, text, len);
	if (ret < 0)
		return ret;
	if (!x.have_meta) {
		cairn_buf_addstr(&x.path, "project");
		return invalid(&x, start, "missing: the file has no documents");
	}
	ret = cfg_check_names(&x);
	if (ret < 0)
		return ret;
	ret = cfg_resolve_all(&x);
	if (ret < 0)
		return ret;
	ret = cfg_check_cycles(&x);
	if (ret < 0)
		return ret;
	ret = cfg_auto_exclude(&x);
	if (ret < 0)
		return ret;
	*out = TAKE_PTR(x.cfg);
	return 0;
}

/* "no werf.yml, werf.yaml, dappfile.yml or dappfile.yaml in 'DIR'" */
static int not_found_any(const char *dir, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf names = CAIRN_BUF_INIT;
	size_t n = ARRAY_SIZE(default_files);

	for (size_t i = 0; i < n; i++) {
		const char *sep = i + 1 == n ? " or " : ", ";

		cairn_buf_addf(&names, "%s%s", i ? sep : "", default_files[i]);
	}
	return cairn_error_set(err, CAIRN_ENOTFOUND, "no %s in '%s'", names.buf, dir);
}

/* Find and read the config file, then render it as a template; *name: the file's name. */
static int read_rendered(char **text, size_t *len, const char **name_out, int *changed,
			 const char *dir, const char *file, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf raw = CAIRN_BUF_INIT_MAX(CAIRN_CONFIG_FILE_MAX);
	cleanup_close int dfd = -1;
	const char *name = file;
	int ret;

	*text = NULL;
	*len = 0;
	*name_out = NULL;
	dfd = open(dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return cairn_error_set_errno(err, "open project directory '%s'", dir ? dir : ".");
	if (file) {
		ret = cairn_fs_read_at(dfd, file, &raw, err);
		if (ret < 0)
			return ret;
	} else {
		for (size_t i = 0; i < ARRAY_SIZE(default_files); i++) {
			struct cairn_error *e = NULL;

			name = default_files[i];
			ret = cairn_fs_read_at(dfd, name, &raw, &e);
			if (ret == CAIRN_ENOTFOUND) {
				cairn_error_free(e);
				continue;
			}
			if (ret < 0) {
				if (err)
					*err = e;
				else
					cairn_error_free(e);
				return ret;
			}
			break;
		}
		if (ret == CAIRN_ENOTFOUND)
			return not_found_any(dir ? dir : ".", err);
	}
	{
		/* werf.yaml is a Go template: render it, then parse what it renders to */
		struct cairn_template_opts topts = {.dir = dir ? dir : ".", .name = name};

		ret = cairn_template_render(text, len, raw.buf, raw.len, &topts, err);
		if (ret < 0)
			return ret;
	}
	*name_out = name;
	*changed = *len != raw.len || memcmp(*text, raw.buf, raw.len) != 0;
	return 0;
}

/*
 * A YAML error after rendering names a line of the rendered text, which the user never saw:
 * add that line and the two around it to the message.
 */
static void show_rendered_lines(struct cairn_error *e, const char *name, const char *text,
				size_t len)
{
	size_t nlen = strlen(name), line = 0, cur = 1;
	struct cairn_buf b = CAIRN_BUF_INIT;
	const char *p = e->msg, *at;

	at = strstr(p, name);
	if (!at || at[nlen] != ':')
		return;
	for (const char *d = at + nlen + 1; *d >= '0' && *d <= '9'; d++)
		line = line * 10 + (size_t)(*d - '0');
	if (line == 0)
		return;
	cairn_buf_addf(&b, "%s\nrendered %s around line %zu:", e->msg, name, line);
	for (const char *q = text, *end = text + len; q < end && cur <= line + 2; cur++) {
		const char *nl = memchr(q, '\n', (size_t)(end - q));
		size_t n = nl ? (size_t)(nl - q) : (size_t)(end - q);

		if (cur + 2 >= line)
			cairn_buf_addf(&b, "\n%c %4zu | %.*s", cur == line ? '>' : ' ', cur,
				       (int)(n > 200 ? 200 : n), q);
		q = nl ? nl + 1 : end;
	}
	free(e->msg);
	e->msg = cairn_buf_detach(&b, NULL);
}

int cairn_config_render(char **out, size_t *len_out, const char *dir, const char *file,
			struct cairn_error **err)
{
	const char *name;
	int changed;

	return read_rendered(out, len_out, &name, &changed, dir, file, err);
}

/*
 * The project's name in a URL of its repository, as the 2018 tool took it: the last path
 * component without ".git" ("https://h/org/app.git" -> "app", "git@h:app.git" -> "app"), and
 * never a part of credentials. A new string, maybe empty.
 */
static char *url_repo_name(const char *url)
{
	size_t end = strlen(url), start;

	while (end && url[end - 1] == '/')
		end--;
	if (end >= 4 && memcmp(url + end - 4, ".git", 4) == 0)
		end -= 4;
	start = end;
	while (start && url[start - 1] != '/' && url[start - 1] != ':' && url[start - 1] != '@')
		start--;
	return xstrndup(url + start, end - start);
}

/*
 * `name` made a project name (^[a-z0-9]([a-z0-9-]*[a-z0-9])?$, at most 49 bytes): kept when it
 * is one, else its namespace slug (cleaned, plus a hash of the name); a slug too long is cut,
 * keeping the hash.
 */
static char *project_slug(const char *name)
{
	size_t len = strlen(name), cut;
	cleanup_free char *slug = NULL;
	char hash[9];
	int n;

	if (!cfg_check_project(name, len))
		return xstrdup(name);
	slug = cairn_slugify(CAIRN_SLUG_NS, name, len);
	if (strlen(slug) <= PROJECT_MAX)
		return TAKE_PTR(slug);
	n = snprintf(hash, sizeof(hash), "%x", cairn_murmur3_32(name, len, 0));
	assert(n > 0 && (size_t)n < sizeof(hash));
	cut = PROJECT_MAX - 1 - (size_t)n;
	while (cut && slug[cut - 1] == '-')
		cut--;
	return xasprintf("%.*s-%s", (int)cut, slug, hash);
}

/*
 * Name the project of a dappfile without meta document the way the 2018 tool did: after the
 * repository of the git remote `origin`, else after the directory `abs_dir`. One warning shows
 * the meta document that keeps the name; the remote's URL is never shown.
 */
static void name_project(struct cairn_config *c, const char *abs_dir)
{
	cleanup_free char *url = NULL;
	cleanup_free char *name = NULL;
	cleanup_free char *from = NULL;
	struct cairn_error *e = NULL;
	char shown[SHOWN_MAX + 4];

	if (cairn_git_origin_url(&url, abs_dir, &e) < 0 && e->code != CAIRN_ENOTFOUND)
		cairn_log(CAIRN_LOG_DEBUG, "name the project: %s", e->msg);
	cairn_error_free(e);
	name = url ? url_repo_name(url) : NULL;
	if (name && *name) {
		from = xstrdup("the git remote 'origin'");
	} else {
		const char *base = strrchr(abs_dir, '/');

		free(name);
		name = xstrdup(base && base[1] ? base + 1 : abs_dir);
		cfg_show(shown, name, strlen(name));
		from = xasprintf("the directory '%s'", shown);
	}
	c->project.s = project_slug(name);
	cairn_log(CAIRN_LOG_WARN,
		  "%s has no meta document: the project is named '%s' after %s; to keep that "
		  "name, start %s with:\nproject: %s\nconfigVersion: 1\n---",
		  c->file, c->project.s, from, c->file, c->project.s);
}

/* The user's home directory (a new string), or NULL. */
static char *home_dir(void)
{
	const char *home = getenv("HOME");
	struct passwd pw, *found = NULL;
	char buf[4096];

	if (home && home[0] == '/')
		return xstrdup(home);
	if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &found) != 0 || !found || !found->pw_dir ||
	    found->pw_dir[0] != '/')
		return NULL;
	return xstrdup(found->pw_dir);
}

/* The absolute path `p` without "", "." and ".." components (".." of "/" is "/"). */
static char *path_clean(const char *p)
{
	struct cairn_buf b = CAIRN_BUF_INIT;

	assert(p[0] == '/');
	while (*p) {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			const char *slash = memrchr(b.buf, '/', b.len);

			cairn_buf_setlen(&b, slash ? (size_t)(slash - b.buf) : 0);
		} else if (n && !(n == 1 && p[0] == '.')) {
			cairn_buf_addch(&b, '/');
			cairn_buf_add(&b, p, n);
		}
		p += n;
	}
	if (!b.len)
		cairn_buf_addch(&b, '/');
	return cairn_buf_detach(&b, NULL);
}

/*
 * Each mount's fromPath as a host path, as werf resolved it: "~" and "~/x" in the home
 * directory, a relative path in the project directory `abs_dir`.
 */
static int resolve_mounts(struct cairn_config *c, const char *abs_dir, struct cairn_error **err)
{
	cleanup_free char *home = NULL;

	for (size_t i = 0; i < c->n_images; i++) {
		for (size_t k = 0; k < c->images[i].n_mounts; k++) {
			struct cairn_config_mount *m = &c->images[i].mounts[k];
			const char *p = m->from_path.s;
			cleanup_free char *joined = NULL;

			if (!p)
				continue;
			if (p[0] == '~' && !home)
				home = home_dir();
			if (p[0] == '~' && !home)
				return cairn_error_set(err, CAIRN_EINVAL,
						       "%s:%u:%u: mount[%zu].fromPath: no home "
						       "directory for '~' (HOME is not set)",
						       c->file, m->from_path.pos.line,
						       m->from_path.pos.column, k);
			if (p[0] == '~')
				joined = xasprintf("%s/%s", home, p + 1);
			else if (p[0] != '/')
				joined = xasprintf("%s/%s", abs_dir, p);
			m->host_path = path_clean(joined ? joined : p);
		}
	}
	return 0;
}

/* What parsing leaves to loading: the project's name and host paths. */
static int finish_load(struct cairn_config *c, const char *dir, struct cairn_error **err)
{
	cleanup_free char *abs_dir = realpath(dir, NULL);

	if (!abs_dir)
		return cairn_error_set_errno(err, "resolve project directory '%s'", dir);
	if (!c->project.s)
		name_project(c, abs_dir);
	return resolve_mounts(c, abs_dir, err);
}

int cairn_config_load(struct cairn_config **out, const char *dir, const char *file,
		      struct cairn_error **err)
{
	cleanup_free char *text = NULL;
	const char *name;
	size_t len = 0;
	int ret, changed = 0;

	*out = NULL;
	ret = read_rendered(&text, &len, &name, &changed, dir, file, err);
	if (ret < 0)
		return ret;
	ret = cairn_config_parse(out, name, text, len, err);
	if (ret < 0 && changed && err && *err)
		show_rendered_lines(*err, name, text, len);
	if (ret < 0)
		return ret;
	ret = finish_load(*out, dir ? dir : ".", err);
	if (ret < 0) {
		cairn_config_free(*out);
		*out = NULL;
	}
	return ret;
}

/* ---- freeing ---- */

static void str_release(struct cairn_config_str *s)
{
	free(s->s);
}

static void release_image(struct cairn_config_image *img)
{
	free(img->name);
	str_release(&img->from);
	str_release(&img->from_image);
	str_release(&img->from_image_artifact);
	str_release(&img->from_cache_version);
	for (size_t i = 0; i < img->n_git; i++) {
		struct cairn_config_git *g = &img->git[i];

		str_release(&g->url);
		str_release(&g->add);
		str_release(&g->to);
		cfg_list_release(&g->include_paths);
		cfg_list_release(&g->exclude_paths);
		str_release(&g->owner);
		str_release(&g->group);
		for (size_t s = 0; s < CAIRN_CONFIG_STAGE_COUNT; s++)
			cfg_list_release(&g->stage_dependencies[s]);
		str_release(&g->branch);
		str_release(&g->tag);
		str_release(&g->commit);
	}
	free(img->git);
	for (size_t s = 0; s < CAIRN_CONFIG_STAGE_COUNT; s++) {
		cfg_list_release(&img->shell.commands[s]);
		str_release(&img->shell.stage_cache_version[s]);
	}
	str_release(&img->shell.cache_version);
	for (size_t i = 0; i < img->n_imports; i++) {
		struct cairn_config_import *im = &img->imports[i];

		str_release(&im->artifact);
		str_release(&im->image);
		str_release(&im->add);
		str_release(&im->to);
		str_release(&im->owner);
		str_release(&im->group);
		cfg_list_release(&im->include_paths);
		cfg_list_release(&im->exclude_paths);
		str_release(&im->before);
		str_release(&im->after);
		str_release(&im->stage);
	}
	free(img->imports);
	for (size_t i = 0; i < img->n_mounts; i++) {
		str_release(&img->mounts[i].to);
		str_release(&img->mounts[i].from);
		str_release(&img->mounts[i].from_path);
		free(img->mounts[i].host_path);
	}
	free(img->mounts);
	str_release(&img->docker.workdir);
	str_release(&img->docker.user);
	str_release(&img->docker.stopsignal);
	cfg_list_release(&img->docker.cmd);
	cfg_list_release(&img->docker.entrypoint);
	cfg_list_release(&img->docker.expose);
	cfg_list_release(&img->docker.volume);
	cfg_kv_release(img->docker.env, img->docker.n_env);
	cfg_kv_release(img->docker.labels, img->docker.n_labels);
	str_release(&img->docker.healthcheck.text);
	cfg_list_release(&img->docker.healthcheck.test);
}

void cairn_config_free(struct cairn_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_images; i++)
		release_image(&c->images[i]);
	free(c->images);
	str_release(&c->project);
	if (c->cleanup) {
		cfg_value_release(c->cleanup);
		free(c->cleanup);
	}
	free(c->file);
	free(c);
}

/* ---- queries ---- */

const struct cairn_config_image *cairn_config_find(const struct cairn_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_images; i++) {
		const struct cairn_config_image *img = &c->images[i];

		if (name ? img->name && strcmp(img->name, name) == 0 : !img->name && !img->artifact)
			return img;
	}
	return NULL;
}

/* "a, b, ~" (the images, not artifacts), or "none" */
static char *list_images(const struct cairn_config *c)
{
	struct cairn_buf b = CAIRN_BUF_INIT;

	for (size_t i = 0; i < c->n_images; i++) {
		if (c->images[i].artifact)
			continue;
		cairn_buf_addf(&b, "%s%s", b.len ? ", " : "", display_name(&c->images[i]));
	}
	if (!b.len)
		cairn_buf_addstr(&b, "none");
	return cairn_buf_detach(&b, NULL);
}

static int not_found(const struct cairn_config *c, const char *name,
		     const struct cairn_config_image *artifact, struct cairn_error **err)
{
	cleanup_free char *have = list_images(c);
	char shown[SHOWN_MAX + 4];

	if (!name)
		return cairn_error_set(err, CAIRN_ENOTFOUND,
				       "the unnamed image is not in %s; images: %s", c->file, have);
	cfg_show(shown, name, strlen(name));
	return cairn_error_set(err, CAIRN_ENOTFOUND, "image '%s' is not in %s%s; images: %s", shown,
			       c->file, artifact ? " (it is an artifact)" : "", have);
}

int cairn_config_order(const struct cairn_config_image ***out, size_t *n,
		       const struct cairn_config *c, const char *const *names, size_t n_names,
		       struct cairn_error **err)
{
	CLEANUP(walk_release) struct walk w = {0};
	size_t count = n_names ? n_names : c->n_images;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < n_names; i++) {
		const struct cairn_config_image *img = cairn_config_find(c, names[i]);

		if (!img || img->artifact)
			return not_found(c, names[i], img, err);
	}
	walk_init(&w, c, true);
	for (size_t i = 0; i < count; i++) {
		const struct cairn_config_image *img =
			n_names ? cairn_config_find(c, names[i]) : &c->images[i];

		if (img->artifact)
			continue;
		if (visit(&w, img)) {
			cleanup_free char *text = cycle_text(&w);

			return cairn_error_set(err, CAIRN_EINVAL, "%s: dependency cycle: %s",
					       c->file, text);
		}
	}
	*n = w.n_out;
	*out = TAKE_PTR(w.out);
	return 0;
}
