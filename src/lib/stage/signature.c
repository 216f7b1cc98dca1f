/* SPDX-License-Identifier: MIT */
/* Stage signatures: what each kind of stage depends on, hashed. */
#include "common.h"
#include "stage/stage_internal.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/root.h"
#include "util/sha256.h"

#include <fcntl.h>

void cairn_signature_hash(char out[CAIRN_SIGNATURE_HEX], const char *const *args, size_t n)
{
	struct cairn_sha256 h;
	struct cairn_digest d;

	cairn_sha256_init(&h);
	for (size_t i = 0; i < n; i++) {
		if (i)
			cairn_sha256_update(&h, ":::", 3);
		cairn_sha256_update(&h, args[i], strlen(args[i]));
	}
	cairn_sha256_final(&h, &d);
	memcpy(out, cairn_digest_hex(&d), CAIRN_SIGNATURE_HEX);
}

static void hash_strv(char out[CAIRN_SIGNATURE_HEX], const struct strv *s)
{
	cairn_signature_hash(out, (const char *const *)s->v, s->n);
}

static void hash_list(char out[CAIRN_SIGNATURE_HEX], const struct cairn_config_list *l)
{
	cairn_signature_hash(out, (const char *const *)l->v, l->n);
}

const struct cairn_config_list *stage_commands(const struct cairn_config_image *img,
					       enum stage_id id, enum cairn_config_user_stage *us)
{
	*us = CAIRN_CONFIG_STAGE_BEFORE_INSTALL;
	switch (id) {
	case S_BEFORE_INSTALL:
		*us = CAIRN_CONFIG_STAGE_BEFORE_INSTALL;
		break;
	case S_INSTALL:
		*us = CAIRN_CONFIG_STAGE_INSTALL;
		break;
	case S_BEFORE_SETUP:
		*us = CAIRN_CONFIG_STAGE_BEFORE_SETUP;
		break;
	case S_SETUP:
		*us = CAIRN_CONFIG_STAGE_SETUP;
		break;
	case S_BUILD_ARTIFACT:
		*us = CAIRN_CONFIG_STAGE_BUILD_ARTIFACT;
		break;
	default:
		return NULL;
	}
	return &img->shell.commands[*us];
}

size_t stage_command_count(const struct cairn_config_image *img, enum stage_id id)
{
	enum cairn_config_user_stage us;
	const struct cairn_config_list *cmds = stage_commands(img, id, &us);

	if (!cmds)
		return 0;
	return img->ansible.pos.line ? img->ansible.tasks[us].n : cmds->n;
}

void stage_git_selection(struct cairn_git_selection *sel, const struct cairn_config_git *g)
{
	sel->add = g->add.s ? g->add.s : "/";
	sel->include = (const char *const *)g->include_paths.v;
	sel->n_include = g->include_paths.n;
	sel->exclude = (const char *const *)g->exclude_paths.v;
	sel->n_exclude = g->exclude_paths.n;
}

/* The stage_label that records which commit a stage holds of git entry `g`. */
char *stage_git_label(const struct git_src *src, const struct cairn_config_git *g)
{
	char h[CAIRN_SIGNATURE_HEX];
	const char *args[] = {cairn_git_identity(src->repo), g->add.s ? g->add.s : "/", g->to.s};

	cairn_signature_hash(h, args, ARRAY_SIZE(args));
	return xasprintf(LABEL_GIT_PREFIX "%.12s-commit", h);
}

static void join_list(struct cairn_buf *b, const struct cairn_config_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		cairn_buf_addf(b, "%s%s", i ? "," : "", l->v[i]);
}

enum cairn_config_import_point stage_import_point(enum stage_id id)
{
	switch (id) {
	case S_IMPORTS_BEFORE_INSTALL:
		return CAIRN_CONFIG_IMPORT_BEFORE_INSTALL;
	case S_IMPORTS_AFTER_INSTALL:
		return CAIRN_CONFIG_IMPORT_AFTER_INSTALL;
	case S_IMPORTS_BEFORE_SETUP:
		return CAIRN_CONFIG_IMPORT_BEFORE_SETUP;
	default:
		return CAIRN_CONFIG_IMPORT_AFTER_SETUP;
	}
}

const struct built_image *stage_find_built(struct builder *b, const struct cairn_config_image *img)
{
	for (size_t i = 0; i < b->n_built; i++)
		if (b->built[i].cfg == img)
			return &b->built[i];
	return NULL;
}

/* The stage of the source an import takes: `stage` (as werf's import.stage), else the last. */
const struct stage_at *stage_import_source(const struct built_image *src,
					   const struct cairn_config_import *im)
{
	static const struct {
		const char *name;
		enum stage_id id;
	} user[] = {{"beforeInstall", S_BEFORE_INSTALL},
		    {"install", S_INSTALL},
		    {"beforeSetup", S_BEFORE_SETUP},
		    {"setup", S_SETUP}};

	for (size_t i = 0; im->stage.s && i < ARRAY_SIZE(user); i++)
		if (strcmp(im->stage.s, user[i].name) == 0)
			return &src->at[user[i].id];
	return &src->at[S_COUNT - 1];
}

/*
 * The patch of git entry `i` since the commit the previous stage holds, as a hash of what it
 * changes (paths, modes, blob ids): commits that give the same files give the same stage, an
 * amend or a commit outside the selection no new one. `*empty` when there is nothing to patch.
 */
static int patch_hash(char out[CAIRN_SIGNATURE_HEX], bool *empty, struct image_state *s, size_t i,
		      struct cairn_error **err)
{
	const struct cairn_config_git *g = &s->img->git[i];
	const struct git_src *src = &s->git[i];
	cleanup_free char *key = stage_git_label(src, g);
	const char *from = stage_label(s, key);
	struct cairn_git_selection sel = CAIRN_GIT_SELECTION_INIT;
	struct cairn_git_ops ops = CAIRN_GIT_OPS_INIT;
	const char *commit = src->commit;
	struct cairn_sha256 h;
	struct cairn_digest d;
	int ret;

	*empty = from && strcmp(from, commit) == 0;
	if (*empty || !from) {
		/* no patch, or nothing to patch from: the commit stands for the files */
		cairn_signature_hash(out, &commit, 1);
		return 0;
	}
	stage_git_selection(&sel, g);
	ret = cairn_git_patch_ops(&ops, src->repo, from, src->commit, &sel, g->to.s, err);
	if (ret < 0)
		return ret;
	cairn_sha256_init(&h);
	for (size_t k = 0; k < ops.n; k++) {
		const struct cairn_git_op *op = &ops.v[k];
		char line[64];
		int n = snprintf(line, sizeof(line), "%d:%o:%s:", (int)op->kind, op->mode, op->oid);

		cairn_sha256_update(&h, line, (size_t)n);
		cairn_sha256_update(&h, op->path, strlen(op->path) + 1);
	}
	cairn_sha256_final(&h, &d);
	memcpy(out, cairn_digest_hex(&d), CAIRN_SIGNATURE_HEX);
	*empty = ops.n == 0;
	cairn_git_ops_release(&ops);
	return 0;
}

static bool nonempty(const char *s)
{
	return s && *s;
}

/* A stageDependencies pattern that matches no file is warned about, as werf warns and goes on. */
static void warn_unmatched(const struct image_state *s, enum stage_id id, size_t i,
			   const struct cairn_config_list *pat, const bool *hit)
{
	for (size_t k = 0; k < pat->n; k++) {
		if (!hit[k])
			cairn_log(CAIRN_LOG_WARN,
				  "%s:%u:%u: image '%s', stage %s: stageDependencies pattern '%s' "
				  "of git[%zu] matches no file at commit %.12s",
				  s->b->config->file, pat->pos[k].line, pat->pos[k].column, s->name,
				  stage_kinds[id].name, pat->v[k], i, s->git[i].commit);
	}
}

/*
 * The stageDependencies checksum of git entry `i` for `pat`, remembered in the home by commit,
 * selection and patterns (HOME/git/checksums/KEY: the sum, then a 0/1 per pattern for the
 * warning about patterns that match nothing): the files of a commit never change, so a no-op
 * build reads none of them again, whatever their size.
 */
static int stage_deps_checksum(char *sum, bool *hit, struct image_state *s, size_t i,
			       const struct cairn_git_selection *sel,
			       const struct cairn_config_list *pat, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf cached = CAIRN_BUF_INIT_MAX(4096 + 2 * pat->n);
	CLEANUP(cairn_buf_release) struct cairn_buf val = CAIRN_BUF_INIT;
	struct cairn_sha256 h;
	struct cairn_digest key;
	cleanup_free char *dir = xasprintf("%s/checksums", s->b->home.git);
	cleanup_free char *file = NULL;
	struct cairn_error *e = NULL;
	int ret;

	cairn_sha256_init(&h);
	cairn_sha256_update(&h, "stageDependencies-v1", 21);
	cairn_sha256_update(&h, s->git[i].commit, strlen(s->git[i].commit) + 1);
	cairn_sha256_update(&h, sel->add ? sel->add : "/", strlen(sel->add ? sel->add : "/") + 1);
	for (size_t k = 0; k < sel->n_include; k++)
		cairn_sha256_update(&h, sel->include[k], strlen(sel->include[k]) + 1);
	cairn_sha256_update(&h, "\1", 2);
	for (size_t k = 0; k < sel->n_exclude; k++)
		cairn_sha256_update(&h, sel->exclude[k], strlen(sel->exclude[k]) + 1);
	cairn_sha256_update(&h, "\1", 2);
	for (size_t k = 0; k < pat->n; k++)
		cairn_sha256_update(&h, pat->v[k], strlen(pat->v[k]) + 1);
	cairn_sha256_final(&h, &key);
	file = xasprintf("%s/%s", dir, cairn_digest_hex(&key));
	if (cairn_fs_read_at(AT_FDCWD, file, &cached, &e) == 0 &&
	    cached.len == CAIRN_GIT_SUM_MAX - 1 + 1 + pat->n + 1 &&
	    cached.buf[CAIRN_GIT_SUM_MAX - 1] == '\n') {
		memcpy(sum, cached.buf, CAIRN_GIT_SUM_MAX - 1);
		sum[CAIRN_GIT_SUM_MAX - 1] = 0;
		for (size_t k = 0; k < pat->n; k++)
			hit[k] = cached.buf[CAIRN_GIT_SUM_MAX + k] == '1';
		return 0;
	}
	cairn_error_clear(&e);
	ret = cairn_git_stage_checksum(sum, hit, s->git[i].repo, s->git[i].commit, sel,
				       (const char *const *)pat->v, pat->n, err);
	if (ret < 0)
		return ret;
	/* best effort: a home that cannot keep it computes it again next time */
	cairn_buf_addf(&val, "%s\n", sum);
	for (size_t k = 0; k < pat->n; k++)
		cairn_buf_addch(&val, hit[k] ? '1' : '0');
	cairn_buf_addch(&val, '\n');
	if (cairn_fs_mkdirs_at(AT_FDCWD, dir, 0700, &e) < 0 ||
	    cairn_fs_write_atomic_at(AT_FDCWD, file, val.buf, val.len, 0600, &e) < 0)
		cairn_log(CAIRN_LOG_DEBUG, "%s", e->msg);
	cairn_error_free(e);
	return 0;
}

/* A user stage (beforeInstall ... buildArtifact): commands, cache versions, stageDependencies. */
int stage_deps_user(struct strv *deps, struct image_state *s, enum stage_id id,
		    struct cairn_error **err)
{
	const struct cairn_config_image *img = s->img;
	enum cairn_config_user_stage us;
	const struct cairn_config_list *cmds = stage_commands(img, id, &us);
	bool ansible = img->ansible.pos.line != 0;
	const struct cairn_config_str *cv =
		ansible ? &img->ansible.cache_version : &img->shell.cache_version;
	const struct cairn_config_str *scv = ansible ? &img->ansible.stage_cache_version[us]
						     : &img->shell.stage_cache_version[us];
	size_t n = stage_command_count(img, id);
	int ret;

	/*
	 * as werf: a cache version alone makes the stage (and its stageDependencies); the 2018
	 * buildArtifact stage, which werf never had, only by its own
	 */
	if (n == 0 && !nonempty(scv->s) &&
	    (us == CAIRN_CONFIG_STAGE_BUILD_ARTIFACT || !nonempty(cv->s)))
		return 0;
	if (ansible) {
		/* tasks and commands never give the same signature */
		strv_add(deps, "ansible");
		ret = stage_deps_ansible(deps, img, us, err);
		if (ret < 0)
			return ret;
	}
	for (size_t i = 0; !ansible && i < cmds->n; i++)
		strv_add(deps, cmds->v[i]);
	if (cv->s)
		strv_add(deps, cv->s);
	if (scv->s)
		strv_add(deps, scv->s);
	for (size_t i = 0; i < img->n_git; i++) {
		const struct cairn_config_list *pat = &img->git[i].stage_dependencies[us];
		struct cairn_git_selection sel = CAIRN_GIT_SELECTION_INIT;
		char sum[CAIRN_GIT_SUM_MAX];
		cleanup_free bool *hit = NULL;

		if (pat->n == 0)
			continue;
		stage_git_selection(&sel, &img->git[i]);
		hit = xcalloc(pat->n, sizeof(*hit));
		ret = stage_deps_checksum(sum, hit, s, i, &sel, pat, err);
		if (ret < 0)
			return ret;
		warn_unmatched(s, id, i, pat, hit);
		strv_add(deps, sum);
	}
	return 0;
}

/* gitArchive: each git entry's parameters and latest reset commit, sorted. */
int stage_deps_git_archive(struct strv *deps, struct image_state *s, enum stage_id id,
			   struct cairn_error **err)
{
	const struct cairn_config_image *img = s->img;
	int ret;

	(void)id;
	struct strv entries = {0};

	if (img->n_git == 0)
		return 0;
	for (size_t i = 0; i < img->n_git; i++) {
		const struct cairn_config_git *g = &img->git[i];
		struct cairn_buf inc = CAIRN_BUF_INIT, exc = CAIRN_BUF_INIT;
		char reset[CAIRN_GIT_HEX_MAX];
		char h[CAIRN_SIGNATURE_HEX];
		struct strv p = {0};
		bool mods = false;

		ret = cairn_git_latest_reset(reset, s->git[i].repo, s->git[i].commit, err);
		if (ret == 0)
			ret = cairn_git_has_submodules(&mods, s->git[i].repo, s->git[i].commit,
						       err);
		if (ret < 0) {
			strv_release(&entries);
			return ret;
		}
		join_list(&inc, &g->include_paths);
		join_list(&exc, &g->exclude_paths);
		strv_add(&p, cairn_git_identity(s->git[i].repo));
		strv_add(&p, g->add.s ? g->add.s : "/");
		strv_add(&p, g->to.s);
		strv_add(&p, inc.buf);
		strv_add(&p, exc.buf);
		strv_add(&p, g->owner.s ? g->owner.s : "");
		strv_add(&p, g->group.s ? g->group.s : "");
		strv_add(&p, g->branch.s ? g->branch.s : "");
		strv_add(&p, g->tag.s ? g->tag.s : "");
		strv_add(&p, g->commit.s ? g->commit.s : "");
		strv_add(&p, reset);
		/* archives made before cairn took submodules in lack their files */
		if (mods)
			strv_add(&p, "submodules");
		hash_strv(h, &p);
		strv_add(&entries, h);
		strv_release(&p);
		cairn_buf_release(&inc);
		cairn_buf_release(&exc);
	}
	strv_sort(&entries);
	for (size_t i = 0; i < entries.n; i++)
		strv_add(deps, entries.v[i]);
	strv_release(&entries);
	return 0;
}

/* The imports at one point: each source's signature and the import's parameters. */
int stage_deps_imports(struct strv *deps, struct image_state *s, enum stage_id id,
		       struct cairn_error **err)
{
	const struct cairn_config_image *img = s->img;

	for (size_t i = 0; i < img->n_imports; i++) {
		const struct cairn_config_import *im = &img->imports[i];
		const struct built_image *src = stage_find_built(s->b, im->source);
		struct cairn_buf inc = CAIRN_BUF_INIT, exc = CAIRN_BUF_INIT;

		if (im->point != stage_import_point(id))
			continue;
		if (!src)
			return cairn_error_set(err, CAIRN_EINTERNAL,
					       "image '%s': import source not built", s->name);
		join_list(&inc, &im->include_paths);
		join_list(&exc, &im->exclude_paths);
		strv_add(deps, stage_import_source(src, im)->sig);
		if (im->stage.s)
			strv_add(deps, im->stage.s);
		strv_add(deps, im->add.s);
		strv_add(deps, im->to.s);
		strv_add(deps, im->owner.s ? im->owner.s : "");
		strv_add(deps, im->group.s ? im->group.s : "");
		strv_add(deps, inc.buf);
		strv_add(deps, exc.buf);
		cairn_buf_release(&inc);
		cairn_buf_release(&exc);
	}
	return 0;
}

/* gitCache: the whole MiB of patch since the previous stage, per git entry. */
int stage_deps_git_cache(struct strv *deps, struct image_state *s, enum stage_id id,
			 struct cairn_error **err)
{
	const struct cairn_config_image *img = s->img;
	int ret;

	(void)id;
	uint64_t mib = 0;

	/* werf: an artifact's files change through stageDependencies only */
	if (img->artifact)
		return 0;
	/* whole MiB of patch since the previous stage: it grows into a new cache stage */
	if (img->n_git == 0)
		return 0;
	ret = stage_load_prev(s, err);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < img->n_git; i++) {
		const struct git_src *src = &s->git[i];
		cleanup_free char *key = stage_git_label(src, &img->git[i]);
		const char *from = stage_label(s, key);
		struct cairn_git_selection sel = CAIRN_GIT_SELECTION_INIT;
		uint64_t bytes = 0;

		stage_git_selection(&sel, &img->git[i]);
		if (from && strcmp(from, src->commit) != 0) {
			ret = cairn_git_diff_size(&bytes, src->repo, from, src->commit, &sel, err);
			if (ret < 0)
				return ret;
		}
		strv_addf(deps, "%llu", (unsigned long long)(bytes >> 20));
		mib += bytes >> 20;
	}
	/* under one MiB there is nothing to fold: the patch stage carries it */
	if (mib == 0)
		strv_release(deps);
	return 0;
}

/* gitLatestPatch: what the patch of each git entry changes. */
int stage_deps_git_patch(struct strv *deps, struct image_state *s, enum stage_id id,
			 struct cairn_error **err)
{
	const struct cairn_config_image *img = s->img;
	int ret;

	(void)id;
	bool changed = false;

	if (img->artifact)
		return 0;
	if (img->n_git == 0)
		return 0;
	ret = stage_load_prev(s, err);
	for (size_t i = 0; ret == 0 && i < img->n_git; i++) {
		char h[CAIRN_SIGNATURE_HEX];
		bool empty = true;

		ret = patch_hash(h, &empty, s, i, err);
		strv_add(deps, h);
		changed = changed || !empty;
	}
	/* nothing selected changed since the previous stage: no patch stage */
	if (ret < 0 || !changed)
		strv_release(deps);
	return ret;
}

/* dockerInstructions: every directive, in a fixed order. */
int stage_deps_docker(struct strv *deps, struct image_state *s, enum stage_id id,
		      struct cairn_error **err)
{
	const struct cairn_config_docker *d = &s->img->docker;
	char h[CAIRN_SIGNATURE_HEX];
	struct strv kv = {0};

	(void)id;
	(void)err;
	if (!d->workdir.s && !d->user.s && !d->stopsignal.s && !d->cmd.n && !d->entrypoint.n &&
	    !d->expose.n && !d->volume.n && !d->n_env && !d->n_labels && !d->healthcheck.test.n &&
	    !d->onbuild.n)
		return 0;
	strv_addf(deps, "WORKDIR=%s", d->workdir.s ? d->workdir.s : "");
	strv_addf(deps, "USER=%s", d->user.s ? d->user.s : "");
	strv_addf(deps, "STOPSIGNAL=%s", d->stopsignal.s ? d->stopsignal.s : "");
	hash_list(h, &d->cmd);
	strv_addf(deps, "CMD=%s:%zu", h, d->cmd.n);
	hash_list(h, &d->entrypoint);
	strv_addf(deps, "ENTRYPOINT=%s:%zu", h, d->entrypoint.n);
	hash_list(h, &d->expose);
	strv_addf(deps, "EXPOSE=%s", h);
	hash_list(h, &d->volume);
	strv_addf(deps, "VOLUME=%s", h);
	for (size_t i = 0; i < d->n_env; i++)
		strv_addf(&kv, "%s=%s", d->env[i].key, d->env[i].value);
	strv_sort(&kv);
	hash_strv(h, &kv);
	strv_addf(deps, "ENV=%s", h);
	strv_release(&kv);
	for (size_t i = 0; i < d->n_labels; i++)
		strv_addf(&kv, "%s=%s", d->labels[i].key, d->labels[i].value);
	strv_sort(&kv);
	hash_strv(h, &kv);
	strv_addf(deps, "LABEL=%s", h);
	strv_release(&kv);
	hash_list(h, &d->healthcheck.test);
	strv_addf(deps, "HEALTHCHECK=%s:%lld:%lld:%lld:%u", h,
		  (long long)d->healthcheck.interval_ns, (long long)d->healthcheck.timeout_ns,
		  (long long)d->healthcheck.start_period_ns, d->healthcheck.retries);
	if (d->onbuild.n) {
		/* only when given: the signatures of images without it stay as they were */
		hash_list(h, &d->onbuild);
		strv_addf(deps, "ONBUILD=%s:%zu", h, d->onbuild.n);
	}
	return 0;
}

/* The signature of the `from` stage. */
int stage_from_signature(char sig[CAIRN_SIGNATURE_HEX], struct image_state *s,
			 struct cairn_error **err)
{
	struct builder *b = s->b;
	const struct cairn_config_image *img = s->img;
	CLEANUP(cairn_ref_release) struct cairn_ref ref = CAIRN_REF_INIT;
	struct strv deps = {0};

	if (img->from.s) {
		/* a reference no build could pull is an error here, --dry-run's too */
		if (cairn_ref_parse(&ref, img->from.s, err) < 0)
			return cairn_error_wrap(err, "%s:%u:%u: from", b->config->file,
						img->from.pos.line, img->from.pos.column);
		strv_add(&deps, img->from.s);
	} else {
		const struct built_image *base = stage_find_built(b, img->base);

		if (!base)
			return cairn_error_set(err, CAIRN_EINTERNAL, "image '%s': base not built",
					       s->name);
		strv_add(&deps, base->sig);
	}
	if (img->from_cache_version.s)
		strv_add(&deps, img->from_cache_version.s);
	if (img->from.s && img->from_latest.value) {
		struct cairn_descriptor remote;
		/* the base's registry digest: a new image under the tag rebuilds from here */
		int ret = cairn_image_remote_digest(&remote, &ref, &b->pull, err);

		if (ret < 0) {
			strv_release(&deps);
			return cairn_error_wrap(err, "%s:%u:%u: image '%s': fromLatest",
						b->config->file, img->from_latest.pos.line,
						img->from_latest.pos.column, s->name);
		}
		strv_add(&deps, remote.digest.str);
	}
	for (size_t i = 0; i < img->n_mounts; i++)
		strv_addf(&deps, "%s:%s:%s", img->mounts[i].to.s,
			  img->mounts[i].from.s ? img->mounts[i].from.s : "",
			  img->mounts[i].from_path.s ? img->mounts[i].from_path.s : "");
	strv_add(&deps, SIG_VERSION);
	hash_strv(sig, &deps);
	strv_release(&deps);
	return 0;
}

/* The signature of stage `id` on top of the previous one; "" when the stage is empty. */
int stage_signature(char sig[CAIRN_SIGNATURE_HEX], struct image_state *s, enum stage_id id,
		    struct cairn_error **err)
{
	struct strv deps = {0};
	int ret;

	sig[0] = '\0';
	if (id == S_FROM)
		return stage_from_signature(sig, s, err);
	ret = stage_kinds[id].deps(&deps, s, id, err);
	if (ret == 0 && deps.n) {
		strv_add(&deps, SIG_VERSION);
		strv_add(&deps, s->prev_sig);
		hash_strv(sig, &deps);
	}
	strv_release(&deps);
	return ret;
}
