/* SPDX-License-Identifier: MIT */
/* Git in stages: the repositories and commits of git entries, and the archive and patch layers. */
#include "common.h"
#include "stage/stage_internal.h"
#include "layer/cache.h"

#include <inttypes.h>
#include "util/fs.h"
#include "util/parse.h"

#include <sys/file.h>

/* Whether any git entry's selection changed between the commit the stage holds and HEAD. */
int stage_git_changed(int *changed, struct image_state *s, struct cairn_error **err)
{
	*changed = 0;
	for (size_t i = 0; i < s->img->n_git; i++) {
		const struct cairn_config_git *g = &s->img->git[i];
		const struct git_src *src = &s->git[i];
		cleanup_free char *key = stage_git_label(src, g);
		const char *from = stage_label(s, key);
		struct cairn_git_selection sel = CAIRN_GIT_SELECTION_INIT;
		bool ch = true;
		int ret;

		stage_git_selection(&sel, g);
		if (from && strcmp(from, src->commit) != 0) {
			ret = cairn_git_changed(&ch, src->repo, from, src->commit, &sel, err);
			if (ret < 0)
				return ret;
		} else if (from) {
			ch = false;
		}
		if (ch)
			*changed = 1;
	}
	return 0;
}

static int write_op(struct cairn_layer_writer *w, struct cairn_git_repo *r,
		    const struct cairn_git_op *op, const struct git_write_opts *o,
		    struct cairn_error **err)
{
	struct cairn_layer_entry e = {.path = op->path,
				      .mode = op->mode,
				      .uid = o->uid,
				      .gid = o->gid,
				      .mtime = o->mtime};
	struct cairn_git_blob *blob = NULL;
	cleanup_free char *target = NULL;
	const void *data = NULL;
	uint64_t size = 0;
	int ret;

	if (op->kind == CAIRN_GIT_OP_WHITEOUT)
		return cairn_layer_add_whiteout(w, op->path, e.mtime, err);
	if (op->kind == CAIRN_GIT_OP_DIR)
		return o->dir_filter && !o->dir_filter(&e, o->ud) ? 0 : cairn_layer_add(w, &e, err);
	ret = cairn_git_blob_read(&blob, &data, &size, r, op->oid, err);
	if (ret < 0)
		return cairn_error_wrap(err, "'%s'", op->path);
	if (size != op->size) {
		ret = cairn_error_set(err, CAIRN_EINTERNAL,
				      "blob '%s' for '%s': %" PRIu64 " bytes, expected %" PRIu64,
				      op->oid, op->path, size, op->size);
	} else if (op->kind == CAIRN_GIT_OP_SYMLINK) {
		target = xstrndup(data, (size_t)size);
		e.linkname = target;
		ret = cairn_layer_add(w, &e, err);
	} else {
		e.size = size;
		ret = cairn_layer_add(w, &e, err);
		if (ret == 0)
			ret = cairn_layer_write_data(w, data, (size_t)size, err);
	}
	cairn_git_blob_free(blob);
	return ret;
}

int stage_write_git_ops(struct cairn_layer_writer *w, struct cairn_git_repo *r,
			const struct cairn_git_ops *ops, const struct git_write_opts *o,
			struct cairn_error **err)
{
	for (size_t i = 0; i < ops->n; i++) {
		int ret = write_op(w, r, &ops->v[i], o, err);

		if (ret < 0)
			return cairn_error_wrap(err, "git layer entry '%s'", ops->v[i].path);
	}
	return 0;
}

/*
 * Write git layer content for stage `id`: the archive (from == NULL) or the patch since each
 * stage_label commit.
 */
int stage_git_layer(struct new_layer *out, int *empty, struct image_state *s, enum stage_id id,
		    int patch, json_t *config, struct cairn_error **err)
{
	struct builder *b = s->b;
	struct cairn_layer_writer *w = NULL;
	struct cairn_layer_opts lo = CAIRN_LAYER_OPTS_INIT;
	CLEANUP(cairn_layer_cache_pending_freep)
	char *pending = stage_unpack_to(s, stage_runs_from(s, id));
	struct rootfs_view *v = NULL;
	int ret, any = 0;

	*empty = 1;
	/* a patch knows from git which directories exist; the archive looks */
	ret = patch ? 0 : stage_prev_view(&v, s, err);
	lo.unpack_to = pending;
	if (ret == 0)
		ret = cairn_layer_writer_new(&w, b->st, &lo, err);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < s->img->n_git; i++) {
		const struct cairn_config_git *g = &s->img->git[i];
		struct cairn_git_ops ops = CAIRN_GIT_OPS_INIT;
		struct cairn_git_selection sel = CAIRN_GIT_SELECTION_INIT;
		const struct git_src *src = &s->git[i];
		cleanup_free char *key = stage_git_label(src, g);
		cleanup_free char *what = xasprintf("%s: git[%zu]", b->config->file, i);
		const char *from = patch ? stage_label(s, key) : NULL;
		int64_t uid = -1, gid = -1;

		stage_git_selection(&sel, g);
		ret = stage_mapping_ids(&uid, &gid, s, g->owner.s, g->group.s, true, what, err);
		if (ret == 0 && patch && from && strcmp(from, src->commit) == 0) {
			stage_set_label(config, key, src->commit);
			continue;
		}
		if (ret == 0 && patch && from)
			ret = cairn_git_patch_ops(&ops, src->repo, from, src->commit, &sel, g->to.s,
						  err);
		else if (ret == 0)
			ret = cairn_git_archive_ops(&ops, src->repo, src->commit, &sel, g->to.s,
						    err);
		if (ret == 0 && ops.n)
			any = 1;
		if (ret == 0) {
			struct dir_policy dp = {
				.w = w,
				.below = v ? v->fd : -1,
				.to = g->to.s + 1,
				.archive = !patch,
				.to_uid = uid < 0 ? 0 : (unsigned)uid,
				/* install -o without -g leaves the group root's */
				.to_gid = g->group.s && gid >= 0 ? (unsigned)gid : 0,
			};
			struct git_write_opts wo = {.uid = uid < 0 ? 0 : (uid_t)uid,
						    .gid = gid < 0 ? 0 : (gid_t)gid,
						    .mtime = src->mtime,
						    .dir_filter = stage_keep_dir,
						    .ud = &dp};

			ret = stage_write_git_ops(w, src->repo, &ops, &wo, err);
		}
		cairn_git_ops_release(&ops);
		if (ret < 0) {
			cairn_layer_writer_free(w);
			return ret;
		}
		stage_set_label(config, key, src->commit);
	}
	*empty = !any;
	ret = cairn_layer_finish(w, &out->r, err);
	if (ret == 0)
		stage_unpacked(s, &out->r, pending);
	return ret;
}

static int git_init(struct builder *b, struct cairn_error **err)
{
	int ret;

	if (b->git_inited)
		return 0;
	ret = cairn_git_global_init(err);
	if (ret == 0)
		b->git_inited = 1;
	return ret;
}

int stage_project_repo(struct cairn_git_repo **out, struct builder *b, struct cairn_error **err)
{
	char *branch = NULL;
	int ret;

	*out = b->repo;
	if (b->repo)
		return 0;
	ret = git_init(b, err);
	if (ret == 0)
		ret = cairn_git_open(&b->repo, b->dir, err);
	if (ret == 0)
		ret = cairn_git_head(b->head, &branch, b->repo, err);
	free(branch);
	if (ret == 0) {
		size_t n = cairn_git_changed_files(b->repo);

		/* werf's rule: the files of git entries come from the commit */
		if (n)
			cairn_log(
				CAIRN_LOG_WARN,
				"'%s' has %zu uncommitted change%s: cairn builds git entries from "
				"commit %.12s (commit them to build them)",
				b->dir, n, n == 1 ? "" : "s", b->head);
	}
	*out = b->repo;
	return ret;
}

static int remote_repo(struct cairn_git_repo **out, struct builder *b, const char *url,
		       struct cairn_error **err)
{
	const char *cache = b->home.git;
	struct remote_repo *rr;
	int ret;

	*out = NULL;
	for (size_t i = 0; i < b->n_remotes; i++) {
		if (strcmp(b->remotes[i].url, url) == 0) {
			*out = b->remotes[i].repo;
			return 0;
		}
	}
	ret = git_init(b, err);
	if (ret == 0)
		ret = cairn_fs_mkdirs_at(AT_FDCWD, cache, 0755, err);
	if (ret < 0)
		return ret;
	b->remotes = xreallocarray(b->remotes, b->n_remotes + 1, sizeof(*b->remotes));
	rr = &b->remotes[b->n_remotes];
	rr->url = xstrdup(url);
	rr->repo = NULL;
	ret = cairn_git_open_remote(&rr->repo, url, cache, err);
	if (ret < 0) {
		free(rr->url);
		return ret;
	}
	b->n_remotes++;
	*out = rr->repo;
	return 0;
}

/* The repository and commit of each git entry of the image; remotes are fetched once. */
int stage_resolve_git(struct image_state *s, struct cairn_error **err)
{
	struct builder *b = s->b;
	const char *sde = getenv("SOURCE_DATE_EPOCH");

	s->git = xcalloc(s->img->n_git + 1, sizeof(*s->git));
	for (size_t i = 0; i < s->img->n_git; i++) {
		const struct cairn_config_git *g = &s->img->git[i];
		struct git_src *src = &s->git[i];
		int ret;

		if (g->url.s) {
			ret = remote_repo(&src->repo, b, g->url.s, err);
			if (ret == 0)
				ret = cairn_git_resolve(src->commit, src->repo, g->branch.s,
							g->tag.s, g->commit.s, err);
		} else {
			ret = stage_project_repo(&src->repo, b, err);
			if (ret == 0)
				memcpy(src->commit, b->head, sizeof(src->commit));
		}
		if (ret < 0)
			return cairn_error_wrap(err, "%s:%u:%u: git[%zu]", b->config->file,
						g->pos.line, g->pos.column, i);
		if (sde && *sde) {
			uint64_t v;

			ret = cairn_parse_u64(&v, sde, INT64_MAX, "SOURCE_DATE_EPOCH", err);
			src->mtime = (int64_t)v;
		} else {
			ret = cairn_git_commit_time(&src->mtime, src->repo, src->commit, err);
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}

/*
 * Whether a stored stage can be built on. It records, per git entry, the commit its files are
 * at; when the repository no longer holds one (amended and collected, force-pushed away, beyond
 * a shallow clone), nothing can be patched from it: CAIRN_ENOTFOUND (no error set) has the
 * stage built again from the current commit, and the stages after it with it.
 */
int stage_usable(struct image_state *s, const struct cairn_descriptor *d, const char *stage,
		 struct cairn_error **err)
{
	struct image_state t = {.b = s->b,
				.img = s->img,
				.name = s->name,
				.prev = *d,
				.index = s->index,
				.pull = s->pull};
	int ret = stage_load_prev(&t, err);

	for (size_t i = 0; ret == 0 && i < s->img->n_git; i++) {
		cleanup_free char *key = stage_git_label(&s->git[i], &s->img->git[i]);
		const char *commit = stage_label(&t, key);

		if (commit && !cairn_git_has_commit(s->git[i].repo, commit)) {
			cairn_log(CAIRN_LOG_INFO,
				  "image '%s': stage '%s' holds commit %s of git[%zu], which the "
				  "repository lacks: building it again from the current commit",
				  s->name, stage, commit, i);
			ret = CAIRN_ENOTFOUND;
		}
	}
	stage_drop_prev(&t);
	return ret;
}

int stage_build_git_archive(struct stage_output *o, struct image_state *s, enum stage_id id,
			    struct cairn_error **err)
{
	int empty = 0;

	(void)id;
	o->n_layers = 1;
	return stage_git_layer(&o->layers[0], &empty, s, id, 0, o->config, err);
}

int stage_build_git_patch(struct stage_output *o, struct image_state *s, enum stage_id id,
			  struct cairn_error **err)
{
	int empty = 0;
	int ret = stage_git_layer(&o->layers[0], &empty, s, id, 1, o->config, err);

	(void)id;
	/* a patch with nothing in it only moves the labels */
	o->n_layers = empty ? 0 : 1;
	return ret;
}
