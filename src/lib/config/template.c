/* SPDX-License-Identifier: MIT */
/* werf.yaml templates: sources, the parse arena, messages, and the entry point. */
#include "common.h"
#include "config/template_internal.h"
#include "util/buf.h"

#include <stdarg.h>

/* ---- sources and the parse arena ---- */

void *tpl_grow(void *v, size_t *alloc, size_t n, size_t size)
{
	if (n < *alloc)
		return v;
	*alloc = *alloc ? *alloc * 2 : 8;
	return xreallocarray(v, *alloc, size);
}

void *tpl_nalloc(struct ctx *c, size_t size)
{
	void *p = xcalloc(1, size);

	c->arena = tpl_grow(c->arena, &c->alloc_arena, c->n_arena, sizeof(*c->arena));
	c->arena[c->n_arena++] = p;
	return p;
}

char *tpl_nstrdup(struct ctx *c, const char *s, size_t len)
{
	char *p = tpl_nalloc(c, len + 1);

	memcpy(p, s, len);
	return p;
}

/* Append to an array that lives in the arena: a full array is copied, the old one freed later. */
void tpl_push_ptr(struct ctx *c, void ***v, size_t *n, size_t *alloc, void *p)
{
	if (*n == *alloc) {
		void **nv;

		*alloc = *alloc ? *alloc * 2 : 4;
		nv = tpl_nalloc(c, *alloc * sizeof(void *));
		if (*n)
			memcpy(nv, *v, *n * sizeof(void *));
		*v = nv;
	}
	(*v)[(*n)++] = p;
}

void tpl_pos_of(const struct src *s, size_t off, unsigned *line, unsigned *col)
{
	size_t bol = 0;

	*line = 1;
	for (size_t i = 0; i < off && i < s->len; i++) {
		if (s->text[i] == '\n') {
			(*line)++;
			bol = i + 1;
		}
	}
	*col = (unsigned)(off - bol + 1);
}

int tpl_failv(struct cairn_error **err, int code, const struct src *s, size_t off, const char *fmt,
	      va_list ap)
{
	CLEANUP(cairn_buf_release) struct cairn_buf why = CAIRN_BUF_INIT;
	unsigned line, col;

	cairn_buf_vaddf(&why, fmt, ap);
	tpl_pos_of(s, off, &line, &col);
	return cairn_error_set(err, code, "%s:%u:%u: %s", s->name, line, col, why.buf);
}

int tpl_fail_at(struct cairn_error **err, const struct src *s, size_t off, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = tpl_failv(err, CAIRN_EINVAL, s, off, fmt, ap);
	va_end(ap);
	return ret;
}

const struct src *tpl_add_src(struct ctx *c, const char *name, const char *text, size_t len)
{
	struct src *s = xcalloc(1, sizeof(*s));

	s->name = xstrdup(name);
	s->text = xmalloc(len + 1);
	memcpy(s->text, text, len);
	s->text[len] = '\0';
	s->len = len;
	c->srcs = tpl_grow(c->srcs, &c->alloc_srcs, c->n_srcs, sizeof(*c->srcs));
	c->srcs[c->n_srcs++] = s;
	return s;
}

/* ---- the entry point ---- */

/* A .werf/ template: parsed, its defines registered, and itself defined under `name`. */
static int add_werf_template(const char *name, const char *path, const char *text, size_t len,
			     void *ud, struct cairn_error **err)
{
	struct ctx *c = ud;
	struct list body = {0};
	const struct src *s = tpl_add_src(c, path, text, len);
	int ret = tpl_parse_src(c, s, &body, err);

	if (ret == 0)
		tpl_add_define(c, name, &body);
	return ret;
}

static void ctx_release(struct ctx *c)
{
	for (size_t i = 0; i < c->n_arena; i++)
		free(c->arena[i]);
	free(c->arena);
	for (size_t i = 0; i < c->n_srcs; i++) {
		free(c->srcs[i]->name);
		free(c->srcs[i]->text);
		free(c->srcs[i]);
	}
	free(c->srcs);
	free(c->defs);
}

static const char *default_getenv(const char *name)
{
	return getenv(name);
}

int cairn_template_render(char **out, size_t *out_len, const char *text, size_t len,
			  const struct cairn_template_opts *o, struct cairn_error **err)
{
	cairn_template_werf_dir_fn werf_dir = o && o->werf_dir_fn ? o->werf_dir_fn : tpl_werf_dir;
	const char *templates_dir = o && !o->werf_dir_fn ? o->templates_dir : NULL;
	CLEANUP(ctx_release) struct ctx c = {0};
	CLEANUP(cairn_buf_release)
	struct cairn_buf b = CAIRN_BUF_INIT_MAX(CAIRN_TEMPLATE_OUTPUT_MAX);
	cleanup_val struct val *root = tpl_vnew(V_MAP);
	struct exec x = {.c = &c, .out = &b};
	struct list body = {0};
	const struct src *s;
	int ret;

	*out = NULL;
	if (out_len)
		*out_len = 0;
	c.o = o;
	c.dir = o ? o->dir : NULL;
	c.getenv_fn = o && o->getenv_fn ? o->getenv_fn : default_getenv;
	c.read_file_fn = o && o->read_file_fn ? o->read_file_fn : tpl_read_file;
	c.glob_fn = o && o->glob_fn ? o->glob_fn : tpl_glob;
	if (templates_dir)
		ret = tpl_templates_dir(templates_dir, add_werf_template, &c, err);
	else
		ret = werf_dir(c.dir, add_werf_template, &c, err);
	if (ret < 0)
		return ret;
	s = tpl_add_src(&c, o && o->name ? o->name : "template", text, len);
	ret = tpl_parse_src(&c, s, &body, err);
	if (ret < 0)
		return ret;
	tpl_map_put(root, tpl_vstr("Files", 5), tpl_vnew(V_FILES));
	x.root = root;
	x.src = s;
	tpl_push_var(&x, "$", root);
	ret = tpl_exec_list(&x, &body, root, err);
	tpl_pop_vars(&x, 0);
	free(x.vars);
	if (ret < 0)
		return ret;
	ret = cairn_buf_check(&b, err);
	if (ret < 0)
		return ret;
	*out = cairn_buf_detach(&b, out_len);
	return 0;
}
