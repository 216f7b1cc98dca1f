/* SPDX-License-Identifier: MIT */
/* The values of templates: nil, bool, int, string, list, map and .Files, counted references. */
#include "common.h"
#include "config/template_internal.h"

struct val *tpl_vnew(enum vkind kind)
{
	struct val *v = xcalloc(1, sizeof(*v));

	v->kind = kind;
	v->refs = 1;
	return v;
}

struct val *tpl_vref(struct val *v)
{
	v->refs++;
	return v;
}

/* Drop a reference to one value; *v: last reference gone, take its children. */
static bool drop(struct val *v)
{
	return v && --v->refs == 0;
}

/*
 * Without recursion: a map that `set` made deep (each level set into the one before) must not
 * take the stack with it.
 */
void tpl_vunref(struct val *v)
{
	struct val **todo = NULL;
	size_t n = 0, alloc = 0;

	if (!drop(v))
		return;
	todo = tpl_grow(todo, &alloc, n, sizeof(*todo));
	todo[n++] = v;
	while (n) {
		struct val *cur = todo[--n];

		for (size_t i = 0; i < cur->n; i++) {
			struct val *kids[2] = {cur->v[i], cur->k ? cur->k[i] : NULL};

			for (size_t j = 0; j < 2; j++) {
				if (!drop(kids[j]))
					continue;
				todo = tpl_grow(todo, &alloc, n, sizeof(*todo));
				todo[n++] = kids[j];
			}
		}
		free(cur->v);
		free(cur->k);
		free(cur->s);
		free(cur);
	}
	free(todo);
}

void tpl_vunrefp(struct val **v)
{
	tpl_vunref(*v);
}

struct val *tpl_vstr(const char *s, size_t len)
{
	struct val *v = tpl_vnew(V_STR);

	v->s = xmalloc(len + 1);
	memcpy(v->s, s, len);
	v->s[len] = '\0';
	v->len = len;
	return v;
}

struct val *tpl_vint(int64_t i)
{
	struct val *v = tpl_vnew(V_INT);

	v->i = i;
	return v;
}

struct val *tpl_vbool(bool b)
{
	struct val *v = tpl_vnew(V_BOOL);

	v->b = b;
	return v;
}

struct val *tpl_vint64(int64_t i)
{
	struct val *v = tpl_vint(i);

	v->b = true;
	return v;
}

/* Room for one more item in the list or map `c`, growing geometrically. */
static void reserve(struct val *c)
{
	if (c->n < c->cap)
		return;
	c->cap = c->cap ? c->cap * 2 : 4;
	c->v = xreallocarray(c->v, c->cap, sizeof(*c->v));
	if (c->kind == V_MAP)
		c->k = xreallocarray(c->k, c->cap, sizeof(*c->k));
}

/* Append `v` (its reference taken) to the list `l`. */
void tpl_list_push(struct val *l, struct val *v)
{
	reserve(l);
	l->v[l->n++] = v;
	if (v->depth + 1 > l->depth)
		l->depth = v->depth + 1;
}

/* A new list of the items [from, to) of `l`. */
struct val *tpl_list_copy(const struct val *l, size_t from, size_t to)
{
	struct val *r = tpl_vnew(V_LIST);

	for (size_t i = from; i < to; i++)
		tpl_list_push(r, tpl_vref(l->v[i]));
	return r;
}

int tpl_keycmp(const struct val *a, const char *s, size_t len)
{
	int r = memcmp(a->s, s, a->len < len ? a->len : len);

	if (r)
		return r;
	return a->len < len ? -1 : a->len > len;
}

/* Insert or replace key `k` in map `m`, keeping the keys sorted; takes both references. */
void tpl_map_put(struct val *m, struct val *k, struct val *v)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int r = tpl_keycmp(m->k[mid], k->s, k->len);

		if (r == 0) {
			tpl_vunref(m->v[mid]);
			tpl_vunref(k);
			m->v[mid] = v;
			return;
		}
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	reserve(m);
	memmove(m->k + lo + 1, m->k + lo, (m->n - lo) * sizeof(*m->k));
	memmove(m->v + lo + 1, m->v + lo, (m->n - lo) * sizeof(*m->v));
	m->k[lo] = k;
	m->v[lo] = v;
	m->n++;
	if (v->depth + 1 > m->depth)
		m->depth = v->depth + 1;
}

struct val *tpl_map_get(const struct val *m, const char *s, size_t len)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int r = tpl_keycmp(m->k[mid], s, len);

		if (r == 0)
			return m->v[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

bool tpl_truth(const struct val *v)
{
	switch (v->kind) {
	case V_NIL:
		return false;
	case V_BOOL:
		return v->b;
	case V_INT:
		return v->i != 0;
	case V_STR:
		return v->len != 0;
	case V_LIST:
	case V_MAP:
		return v->n != 0;
	case V_FILES:
		return true;
	}
	return false;
}

const char *tpl_kind_name(const struct val *v)
{
	static const char *const names[] = {"nil", "bool", "int", "string", "list", "map", "files"};

	return names[v->kind];
}

/* Go's %T of the value as werf's templates would hold it. */
const char *tpl_go_type(const struct val *v)
{
	switch (v->kind) {
	case V_NIL:
		return "<nil>";
	case V_BOOL:
		return "bool";
	case V_INT:
		return v->b ? "int64" : "int";
	case V_STR:
		return "string";
	case V_LIST:
		return "[]interface {}";
	case V_MAP:
		return "map[string]interface {}";
	case V_FILES:
		return "config.files";
	}
	return "";
}

/* Go's reflect.Kind name of the value, as Sprig's kindOf gives it. */
const char *tpl_go_kind(const struct val *v)
{
	switch (v->kind) {
	case V_NIL:
		return "invalid";
	case V_LIST:
		return "slice";
	case V_MAP:
		return "map";
	case V_FILES:
		return "struct";
	default:
		return tpl_go_type(v);
	}
}
