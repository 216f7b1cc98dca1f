/* SPDX-License-Identifier: MIT */
/* The images as a graph: names, fromImage and import targets, cycles, order, auto-excludes. */
#include "common.h"
#include "config/config_internal.h"
#include "util/buf.h"

#include <stdarg.h>

/* ---- names and references ---- */

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

int cfg_check_names(struct ctx *x)
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

int cfg_resolve_all(struct ctx *x)
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

int cfg_check_cycles(struct ctx *x)
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
int cfg_auto_exclude(struct ctx *x)
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
		return cairn_error_set(err, CAIRN_EUSAGE,
				       "the unnamed image is not in %s; images: %s", c->file, have);
	cfg_show(shown, name, strlen(name));
	return cairn_error_set(err, CAIRN_EUSAGE, "image '%s' is not in %s%s; images: %s", shown,
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
