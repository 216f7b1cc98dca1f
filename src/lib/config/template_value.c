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

void tpl_vunref(struct val *v)
{
	if (!v || --v->refs)
		return;
	for (size_t i = 0; i < v->n; i++) {
		tpl_vunref(v->v[i]);
		if (v->k)
			tpl_vunref(v->k[i]);
	}
	free(v->v);
	free(v->k);
	free(v->s);
	free(v);
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
	m->k = xreallocarray(m->k, m->n + 1, sizeof(*m->k));
	m->v = xreallocarray(m->v, m->n + 1, sizeof(*m->v));
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
