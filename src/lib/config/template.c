/* SPDX-License-Identifier: MIT */
/* werf.yaml templates: sources, the parse arena, messages, and the entry point. */
#include "common.h"
#include "config/template_internal.h"
#include "util/buf.h"
#include "util/root.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

#define WERF_DEPTH_MAX 16

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

static struct src *add_src(struct ctx *c, const char *name, const char *text, size_t len)
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

/* ---- .werf/ templates and the entry point ---- */

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collect "sub/dir/x.tmpl" paths under the directory `fd` (taken), prefixed by `prefix`. */
static int find_tmpl(char ***v, size_t *n, size_t *alloc, int fd, const char *prefix, int depth,
		     struct cairn_error **err)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;

	if (!d) {
		close(fd);
		return cairn_error_set_errno(err, "read template directory '.werf/%s'", prefix);
	}
	while ((de = readdir(d)) != NULL) {
		cleanup_free char *rel = NULL;
		size_t nl = strlen(de->d_name);
		struct stat st;

		if (de->d_name[0] == '.' &&
		    (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		rel = xasprintf("%s%s", prefix, de->d_name);
		/* a symlinked directory is not walked: it may lead out, or round in a loop */
		if (S_ISDIR(st.st_mode) && depth < WERF_DEPTH_MAX) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			cleanup_free char *p = xasprintf("%s/", rel);

			if (sub >= 0 && find_tmpl(v, n, alloc, sub, p, depth + 1, err) < 0) {
				closedir(d);
				return CAIRN_EOS;
			}
		} else if ((S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) && nl > 5 &&
			   strcmp(de->d_name + nl - 5, ".tmpl") == 0) {
			*v = tpl_grow(*v, alloc, *n, sizeof(**v));
			(*v)[(*n)++] = TAKE_PTR(rel);
		}
	}
	closedir(d);
	return 0;
}

static int load_werf_templates(struct ctx *c, struct cairn_error **err)
{
	char **names = NULL;
	size_t n = 0, alloc = 0;
	cleanup_close int dfd = -1;
	int fd, ret = 0;

	if (!c->dir)
		return 0;
	dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return 0;
	fd = openat(dfd, ".werf", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ret = find_tmpl(&names, &n, &alloc, fd, "", 0, err);
	if (ret == 0)
		qsort(names, n, sizeof(*names), cmpstr);
	for (size_t i = 0; i < n && ret == 0; i++) {
		CLEANUP(cairn_buf_release)
		struct cairn_buf b = CAIRN_BUF_INIT_MAX(CAIRN_TEMPLATE_OUTPUT_MAX);
		cleanup_free char *path = xasprintf(".werf/%s", names[i]);
		struct list body = {0};
		const struct src *s;

		/* a symlinked template is read only when it stays inside the project */
		ret = cairn_root_read_file(dfd, path, CAIRN_ROOT_BENEATH, &b, path, err);
		if (ret < 0) {
			cairn_error_wrap(err, "template");
			break;
		}
		s = add_src(c, path, b.buf, b.len);
		ret = tpl_parse_src(c, s, &body, err);
		if (ret == 0)
			tpl_add_define(c, names[i], &body);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
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
	ret = load_werf_templates(&c, err);
	if (ret < 0)
		return ret;
	s = add_src(&c, o && o->name ? o->name : "template", text, len);
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
