/* SPDX-License-Identifier: MIT */
/* Import stages: files of another image or artifact, resolved inside it, into a layer. */
#include "common.h"
#include "stage/stage_internal.h"
#include "layer/cache.h"
#include "util/fs.h"
#include "util/parse.h"
#include "util/root.h"

#include <dirent.h>
#include <fnmatch.h>
#include <sys/file.h>

struct walked {
	char *rel; /* relative to the import's add */
	struct stat st;
};

struct walk_list {
	struct walked *v;
	size_t n;
};

/* Deeper than this, an import's source tree is refused rather than walked. */
#define IMPORT_DEPTH_MAX 256

static int walk_one(const struct cairn_root_entry *e, void *ud, struct cairn_error **err)
{
	struct walk_list *w = ud;

	(void)err;
	if (S_ISCHR(e->st.st_mode) || S_ISBLK(e->st.st_mode) || S_ISSOCK(e->st.st_mode))
		return 0; /* devices, sockets */
	w->v = xreallocarray(w->v, w->n + 1, sizeof(*w->v));
	w->v[w->n].rel = xstrdup(e->rel);
	w->v[w->n].st = e->st;
	w->n++;
	return 0;
}

static int import_selected(const struct cairn_config_import *im, const char *rel)
{
	for (size_t i = 0; i < im->exclude_paths.n; i++)
		if (cairn_git_path_match(im->exclude_paths.v[i], rel))
			return 0;
	if (im->include_paths.n == 0)
		return 1;
	for (size_t i = 0; i < im->include_paths.n; i++)
		if (cairn_git_path_match(im->include_paths.v[i], rel))
			return 1;
	return 0;
}

/* Whether a directory goes in: selected itself, or holding a selected entry (listed after it). */
static int dir_needed(const struct walk_list *w, size_t i, const struct cairn_config_import *im)
{
	size_t len = strlen(w->v[i].rel);

	if (import_selected(im, w->v[i].rel))
		return 1;
	for (size_t k = i + 1; k < w->n; k++) {
		if (strncmp(w->v[k].rel, w->v[i].rel, len) != 0 || w->v[k].rel[len] != '/')
			break;
		if (!S_ISDIR(w->v[k].st.st_mode) && import_selected(im, w->v[k].rel))
			return 1;
	}
	return 0;
}

/* The directories above an import's `to` that the image below lacks, as `mkdir -p` makes them. */
int stage_add_parents(struct cairn_layer_writer *w, const char *path, int below, int64_t mtime,
		      struct cairn_error **err)
{
	cleanup_free char *p = xstrdup(path);
	struct dir_policy dp = {.w = w, .below = below, .to = path};

	for (char *slash = strchr(p, '/'); slash; slash = strchr(slash + 1, '/')) {
		struct cairn_layer_entry e = {.path = p, .mode = S_IFDIR | 0755, .mtime = mtime};
		int ret;

		*slash = '\0';
		ret = stage_keep_dir(&e, &dp) ? cairn_layer_add(w, &e, err) : 0;
		*slash = '/';
		if (ret < 0)
			return ret;
	}
	return 0;
}

int stage_copy_fd(struct cairn_layer_writer *w, int fd, const char *what, uint64_t size,
		  struct cairn_error **err)
{
	char buf[65536];
	uint64_t left = size;

	while (left) {
		ssize_t n = read(fd, buf, left < sizeof(buf) ? left : sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return cairn_error_set(err, CAIRN_EOS, "%s: changed while read", what);
		if (cairn_layer_write_data(w, buf, (size_t)n, err) < 0)
			return CAIRN_EOS;
		left -= (uint64_t)n;
	}
	return 0;
}

/*
 * One entry of an import into the layer at `path`: `rel` below `basefd` (a directory of the
 * source image's view), opened again inside that tree for its content or link target.
 */
int stage_copy_entry(struct cairn_layer_writer *w, const char *path, int basefd, const char *rel,
		     const struct stat *st, int64_t uid, int64_t gid, int64_t mtime,
		     const char *what, struct cairn_error **err)
{
	/* an id not given keeps the source file's, as werf's `rsync --chown=OWNER:` */
	struct cairn_layer_entry e = {.path = path,
				      .mode = st->st_mode,
				      .uid = uid < 0 ? st->st_uid : (uid_t)uid,
				      .gid = gid < 0 ? st->st_gid : (gid_t)gid,
				      .mtime = mtime};
	cleanup_close int fd = -1;
	struct stat now;
	char link[PATH_MAX];

	if (S_ISLNK(st->st_mode) || S_ISREG(st->st_mode)) {
		fd = cairn_root_open(basefd, rel,
				     (S_ISLNK(st->st_mode) ? O_PATH : O_RDONLY) | O_NOFOLLOW,
				     CAIRN_ROOT_IN);
		if (fd < 0)
			return cairn_error_set_errno(err, "%s: open '%s'", what, rel);
		if (fstat(fd, &now) < 0)
			return cairn_error_set_errno(err, "%s: stat '%s'", what, rel);
		if ((now.st_mode & S_IFMT) != (st->st_mode & S_IFMT) ||
		    (S_ISREG(st->st_mode) && now.st_size != st->st_size))
			return cairn_error_set(err, CAIRN_EOS, "%s: '%s' changed while read", what,
					       rel);
	}
	if (S_ISLNK(st->st_mode)) {
		ssize_t n = readlinkat(fd, "", link, sizeof(link) - 1);

		if (n < 0)
			return cairn_error_set_errno(err, "%s: read link '%s'", what, rel);
		link[n] = '\0';
		e.linkname = link;
	} else if (S_ISREG(st->st_mode)) {
		e.size = (uint64_t)st->st_size;
	}
	if (cairn_layer_add(w, &e, err) < 0)
		return CAIRN_EINVAL;
	if (S_ISREG(st->st_mode))
		return stage_copy_fd(w, fd, what, e.size, err);
	return 0;
}

/* What to import of a directory `add` (opened as addfd): its entries that pass the filters. */
static int import_tree(struct cairn_layer_writer *w, int addfd, const struct stat *st,
		       const struct cairn_config_import *im, const char *to, int64_t uid,
		       int64_t gid, int64_t mtime, const char *what, struct cairn_error **err)
{
	struct walk_list wl = {0};
	int ret;

	/* `to: /` is the image's root, which has no entry of its own */
	ret = to[0] ? stage_copy_entry(w, to, addfd, "", st, uid, gid, mtime, what, err) : 0;
	if (ret == 0)
		ret = cairn_root_walk(addfd, IMPORT_DEPTH_MAX, walk_one, &wl, err);
	for (size_t i = 0; i < wl.n && ret == 0; i++) {
		const struct walked *x = &wl.v[i];
		cleanup_free char *path = NULL;

		if (S_ISDIR(x->st.st_mode) ? !dir_needed(&wl, i, im) : !import_selected(im, x->rel))
			continue;
		path = to[0] ? xasprintf("%s/%s", to, x->rel) : xstrdup(x->rel);
		ret = stage_copy_entry(w, path, addfd, x->rel, &x->st, uid, gid, mtime, what, err);
	}
	for (size_t i = 0; i < wl.n; i++)
		free(wl.v[i].rel);
	free(wl.v);
	return ret;
}

/* `add` (absolute, in the source image) placed at `to` (no leading '/'). */
static int import_path(struct cairn_layer_writer *w, const struct cairn_config_import *im,
		       int srcfd, int below, const char *add, const char *to, int64_t uid,
		       int64_t gid, int64_t mtime, const char *what, struct cairn_error **err)
{
	cleanup_close int addfd = cairn_root_open(srcfd, add, O_PATH | O_NOFOLLOW, CAIRN_ROOT_IN);
	struct stat st;
	int ret;

	if (addfd < 0 || fstat(addfd, &st) < 0)
		return cairn_error_set_errno(err, "%s: '%s' in image '%s'", what, add,
					     im->source->name ? im->source->name : "~");
	ret = stage_add_parents(w, to, below, mtime, err);
	if (ret < 0)
		return ret;
	if (S_ISDIR(st.st_mode))
		return import_tree(w, addfd, &st, im, to, uid, gid, mtime, what, err);
	return stage_copy_entry(w, to, srcfd, add, &st, uid, gid, mtime, what, err);
}

bool stage_has_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/*
 * The paths a glob `add` matches in the source image, sorted: each component with '*', '?' or
 * '[' is matched against the names of a directory (found inside the image); the others are
 * taken as they are. Wildcards do not cross '/', and match names starting with '.' too, as in
 * the rsync that werf imports with.
 */
void stage_glob_paths(struct strv *out, int srcfd, const char *add)
{
	cleanup_free char *pat = xstrdup(add);
	struct strv cur = {0};
	char *save = NULL;

	strv_add(&cur, "");
	for (char *c = strtok_r(pat, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		struct strv next = {0};

		for (size_t i = 0; i < cur.n; i++) {
			char **names = NULL;
			size_t n = 0;
			int dfd;

			if (!stage_has_glob(c)) {
				strv_addf(&next, "%s/%s", cur.v[i], c);
				continue;
			}
			dfd = cairn_root_open(srcfd, cur.v[i], O_RDONLY | O_DIRECTORY,
					      CAIRN_ROOT_IN);
			if (dfd < 0)
				continue;
			if (cairn_fs_list_dir(&names, &n, dfd, 1) == 0) {
				for (size_t k = 0; k < n; k++) {
					if (fnmatch(c, names[k], 0) == 0)
						strv_addf(&next, "%s/%s", cur.v[i], names[k]);
					free(names[k]);
				}
				free(names);
			}
			close(dfd);
		}
		strv_release(&cur);
		cur = next;
	}
	*out = cur;
}

/*
 * One import into the layer: the source image's `add`, filtered, placed at `to`. `add` is
 * resolved inside the source image's tree: a symlink on the way that points out of the image
 * leads to the image's own files, as in `docker cp`; a final symlink is imported as a symlink.
 * A glob `add` imports each match into `to` under its own name.
 */
static int write_import(struct cairn_layer_writer *w, struct image_state *s,
			const struct cairn_config_import *im, int64_t mtime,
			struct cairn_error **err)
{
	struct builder *b = s->b;
	const struct built_image *src = stage_find_built(b, im->source);
	struct image_state ss = {
		.b = b, .img = im->source, .name = "import", .index = s->index, .pull = s->pull};
	cleanup_free char *what =
		xasprintf("%s:%u:%u: import", b->config->file, im->pos.line, im->pos.column);
	const char *to = im->to.s + 1; /* no leading '/' in tar paths */
	struct rootfs_view *v = NULL, *below = NULL;
	struct strv matches = {0};
	int64_t uid = -1, gid = -1;
	int ret;

	ret = stage_mapping_ids(&uid, &gid, s, im->owner.s, im->group.s, false, what, err);
	if (ret == 0)
		ret = stage_prev_view(&below, s, err);
	if (ret < 0)
		return ret;
	ss.prev = stage_import_source(src, im)->desc;
	ret = stage_prev_view(&v, &ss, err);
	if (ret == 0 && !stage_has_glob(im->add.s)) {
		ret = import_path(w, im, v->fd, below->fd, im->add.s, to, uid, gid, mtime, what,
				  err);
	} else if (ret == 0) {
		stage_glob_paths(&matches, v->fd, im->add.s);
		if (matches.n == 0)
			ret = cairn_error_set(err, CAIRN_EINVAL,
					      "%s: '%s' matches nothing in image '%s'", what,
					      im->add.s, im->source->name ? im->source->name : "~");
		for (size_t i = 0; ret == 0 && i < matches.n; i++) {
			const char *base = strrchr(matches.v[i], '/') + 1;
			cleanup_free char *dest =
				to[0] ? xasprintf("%s/%s", to, base) : xstrdup(base);

			ret = import_path(w, im, v->fd, below->fd, matches.v[i], dest, uid, gid,
					  mtime, what, err);
		}
		strv_release(&matches);
	}
	stage_drop_prev(&ss);
	return ret;
}

static int build_imports(struct new_layer *layer, struct image_state *s, enum stage_id id,
			 struct cairn_error **err)
{
	struct builder *b = s->b;
	struct cairn_layer_opts lo = CAIRN_LAYER_OPTS_INIT;
	struct cairn_layer_writer *w = NULL;
	CLEANUP(cairn_layer_cache_pending_freep)
	char *pending = stage_unpack_to(s, stage_runs_from(s, id));
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	int64_t mtime = 0;
	int ret;

	if (sde && *sde) {
		uint64_t v;

		if (cairn_parse_u64(&v, sde, INT64_MAX, "SOURCE_DATE_EPOCH", NULL) == 0)
			mtime = (int64_t)v;
	} else if (s->img->n_git) {
		mtime = s->git[0].mtime;
	}
	lo.unpack_to = pending;
	ret = cairn_layer_writer_new(&w, b->st, &lo, err);
	for (size_t i = 0; ret == 0 && i < s->img->n_imports; i++)
		if (s->img->imports[i].point == stage_import_point(id))
			ret = write_import(w, s, &s->img->imports[i], mtime, err);
	if (ret == 0)
		ret = cairn_layer_finish(w, &layer->r, err);
	else
		cairn_layer_writer_free(w);
	if (ret == 0)
		stage_unpacked(s, &layer->r, pending);
	return ret;
}

int stage_build_import(struct stage_output *o, struct image_state *s, enum stage_id id,
		       struct cairn_error **err)
{
	o->n_layers = 1;
	return build_imports(&o->layers[0], s, id, err);
}
