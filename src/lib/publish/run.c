/* SPDX-License-Identifier: MIT */
/* The publish commands as library procedures: a publish plan carried out, stages pulled. */
#include "common.h"
#include "cairn/publish.h"
#include "cairn/registry.h"
#include "cairn/report.h"
#include "publish/publish_internal.h"
#include "util/buf.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static int spush_has_one_image(const struct cairn_build_result *res, struct cairn_error **err)
{
	size_t images = 0;

	for (size_t i = 0; i < res->n_images; i++)
		images += !res->images[i].artifact;
	if (images != 1)
		return cairn_error_set(err, CAIRN_EUSAGE, "spush needs exactly one DIMG");
	return 0;
}

/* The tags the requests name, with the project's git branch and commit where they need one. */
static int resolve_tags(struct cairn_tag **tags, size_t *n, const struct cairn_publish_plan *p,
			struct cairn_error **err)
{
	struct cairn_tag_context tctx = {0};
	struct cairn_error *no_repo = NULL;
	char commit[41] = "";
	char *branch = NULL;
	int ret;

	/* not in a git repository: only the tags that need one fail */
	if (cairn_project_git_head(commit, &branch, p->build.dir ? p->build.dir : ".", &no_repo) ==
	    0) {
		tctx.git_commit = commit;
		tctx.git_branch = branch;
	}
	cairn_error_free(no_repo);
	ret = cairn_tags_resolve(tags, n, p->tags, p->n_tags, &tctx, err);
	free(branch);
	if (ret < 0 && err && *err)
		(*err)->code = CAIRN_EUSAGE;
	return ret < 0 ? CAIRN_EUSAGE : 0;
}

char *cairn_commit_record_tag(const char *project, const char *name, const char *commit)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	const char *key[] = {project, name ? name : "~"};
	char hex[CAIRN_SIGNATURE_HEX];

	for (const char *p = name ? name : "_"; *p && b.len < 24; p++)
		cairn_buf_addch(&b,
				isalnum((unsigned char)*p) || *p == '.' || *p == '-' ? *p : '_');
	cairn_signature_hash(hex, key, 2);
	return xasprintf(CAIRN_COMMIT_RECORD_PREFIX "%s-%.16s-%s", b.buf, hex, commit);
}

/*
 * Record, for the git-history based cleanup, which stage signature each published image has
 * at the project's HEAD commit: a note per image in the stages storage. Best effort: a
 * publish that cannot record warns.
 */
static void record_commit(const struct cairn_build_opts *bo, const struct cairn_publish_opts *po,
			  const struct cairn_build_result *res, const bool *written)
{
	CLEANUP(cairn_ref_release) struct cairn_ref repo = CAIRN_REF_INIT;
	struct cairn_registry_conn *c = NULL;
	struct cairn_registry *reg = NULL;
	struct cairn_error *err = NULL;
	char commit[41] = "";
	char *branch = NULL;
	int ret;

	if (cairn_project_git_head(commit, &branch, bo->dir ? bo->dir : ".", &err) < 0) {
		cairn_error_free(err); /* not in a git repository: nothing to record */
		return;
	}
	free(branch);
	ret = cairn_repo_parse(&repo, bo->stages_storage, &err);
	if (ret == 0)
		ret = cairn_registry_pool_get(&reg, po->image.registries, repo.domain, &err);
	if (ret == 0)
		ret = cairn_registry_conn_get(&c, reg, &err);
	for (size_t i = 0; ret == 0 && i < res->n_images; i++) {
		const struct cairn_build_image *im = &res->images[i];
		cleanup_free char *tag = NULL;
		const char *kv[] = {"cairn-commit-record",   "true",
				    "cairn-project",	     res->project,
				    "cairn-image-name",	     im->name ? im->name : "~",
				    "cairn-commit",	     commit,
				    "cairn-stage-signature", im->signature};

		cleanup_free char *marker = NULL;

		if (im->artifact || !im->signature[0])
			continue;
		tag = cairn_commit_record_tag(res->project, im->name, commit);
		/*
		 * this host recorded it already and no tag changed: an unchanged re-publish stays
		 * one HEAD per tag (a cleanup deletes a record only with every tag of its
		 * signature, which the publish then writes again)
		 */
		if (po->record_dir && !written[i]) {
			char h[CAIRN_SIGNATURE_HEX];
			cleanup_free char *key = xasprintf("%s/%s:%s@%s", repo.domain, repo.path,
							   tag, im->signature);

			cairn_signature_hash(h, (const char *const[]){key}, 1);
			marker = xasprintf("%s/%.32s.rec", po->record_dir, h);
			if (access(marker, F_OK) == 0)
				continue;
		}
		ret = cairn_registry_put_note(c, repo.path, tag, kv, ARRAY_SIZE(kv) / 2, NULL,
					      &err);
		if (ret == 0 && marker) {
			int fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

			if (fd >= 0)
				close(fd);
		}
	}
	if (c)
		cairn_registry_conn_put(c);
	if (ret < 0) {
		cairn_log(CAIRN_LOG_WARN,
			  "could not record the images of commit %s (a history-based cleanup will "
			  "not know them): %s",
			  commit, err->msg);
		cairn_error_free(err);
	}
}

/* Where each published reference goes: the report, and the caller's callback. */
struct published_to {
	struct cairn_report *report;
	const struct cairn_publish_plan *plan;
};

static void published(const struct cairn_published_ref *r, void *ud)
{
	struct published_to *to = ud;

	cairn_report_published(r, to->report);
	if (to->plan->published)
		to->plan->published(r, to->plan->published_ud);
}

/* The report of the run, for one that failed too (`ret` < 0: *err says why). */
static int write_report(const struct cairn_publish_plan *p, const struct cairn_report *report,
			const struct cairn_build_result *res, const char *stages_storage, int ret,
			struct cairn_error **err)
{
	struct cairn_error *e = NULL;

	if (!p->report)
		return ret;
	if (cairn_report_write(report, res, stages_storage, ret < 0 ? *err : NULL, p->report,
			       (enum cairn_report_format)p->report_format, &e) == 0)
		return ret;
	if (ret == 0) {
		*err = e;
		return e->code;
	}
	cairn_log(CAIRN_LOG_WARN, "%s", e->msg);
	cairn_error_free(e);
	return ret;
}

int cairn_publish_run(const struct cairn_publish_plan *p, struct cairn_error **err)
{
	struct cairn_build_opts bo = p->build;
	struct cairn_publish_opts po = p->publish;
	struct cairn_build_result *res = NULL;
	struct cairn_registry_pool *pool = NULL;
	struct cairn_store *st = NULL;
	struct cairn_tag *tags = NULL;
	struct cairn_report *report = cairn_report_new();
	struct cairn_home home;
	char *record_dir = NULL;
	size_t n_tags = 0;
	int ret;

	ret = resolve_tags(&tags, &n_tags, p, err);
	/* the build and the publish talk to each host through one client */
	if (ret == 0 && !po.image.registries) {
		ret = cairn_registry_pool_new(&pool, &po.image.registry, err);
		po.image.registries = pool;
	}
	if (ret < 0) {
		ret = write_report(p, report, NULL, NULL, ret, err);
		cairn_report_free(report);
		cairn_tags_free(tags, n_tags);
		return ret;
	}
	po.published = published;
	po.published_ud = &(struct published_to){report, p};
	po.dry_run = p->dry_run;
	po.tags = tags;
	po.n_tags = n_tags;
	cairn_home_paths(&home, bo.home);
	record_dir = xasprintf("%s/published", home.root);
	po.record_dir = record_dir;
	bo.pull = po.image;
	bo.no_build = !p->build_first;
	bo.keep_lock = !p->dry_run; /* until the last tag and record */
	bo.keep_partial = p->report != NULL;
	if (p->dry_run) {
		bo.no_build = 1;
		bo.stop_at_missing = 1;
	}
	if (p->stages_in_repo) {
		/* seeds: bp --with-stages makes REPO the stages storage of the build */
		bo.stages_storage = po.repo;
		bo.stages_prefix = po.stage_prefix;
	}
	/* open (its use lock held) from before the build: no host cleanup in between */
	ret = cairn_store_open(&st, home.store, err);
	if (ret == 0)
		ret = cairn_build(&res, &bo, err);
	if (ret == 0)
		po.written = xcalloc(res->n_images + 1, sizeof(*po.written));
	if (ret == 0 && po.as_is && bo.n_images == 0)
		ret = spush_has_one_image(res, err);
	if (ret == 0)
		ret = cairn_publish(st, res, &po, err);
	/* as werf, the records live in the stages storage (not with dimg's --with-stages) */
	if (ret == 0 && bo.stages_storage && !p->stages_in_repo && !p->dry_run)
		record_commit(&bo, &po, res, po.written);
	ret = write_report(p, report, res, bo.stages_storage, ret, err);
	cairn_report_free(report);
	cairn_home_release(&home);
	free(record_dir);
	free(po.written);
	cairn_store_free(st);
	cairn_build_result_free(res);
	cairn_tags_free(tags, n_tags);
	cairn_registry_pool_free(pool);
	return ret;
}

/* Stage `sig` of the project from the stages storage (either prefix) into the store. */
static int pull_stage(struct cairn_store *st, const struct cairn_ref *repo, const char *project,
		      const char *sig, const struct cairn_image_opts *io, struct cairn_error **err)
{
	static const char *const prefixes[] = {CAIRN_STAGE_PREFIX_DIMG, CAIRN_STAGE_PREFIX_PUBLISH};
	cleanup_free char *name = xasprintf("%s:%s", project, sig);
	int ret = CAIRN_ENOTFOUND;

	for (size_t p = 0; p < ARRAY_SIZE(prefixes) && ret == CAIRN_ENOTFOUND; p++) {
		CLEANUP(cairn_ref_release) struct cairn_ref src = CAIRN_REF_INIT;

		cairn_stage_ref(&src, repo, prefixes[p], sig);
		cairn_error_clear(err);
		ret = cairn_image_pull(st, &src, name, io, NULL, err);
	}
	return ret;
}

int publish_ensure_layers(struct cairn_store *st, const char *storage, const char *project,
			  const struct cairn_build_image *im, const struct cairn_image_opts *io,
			  struct cairn_error **err)
{
	CLEANUP(cairn_ref_release) struct cairn_ref repo = CAIRN_REF_INIT;
	cleanup_free char *raw = NULL;
	struct cairn_manifest *m = NULL;
	size_t len = 0;
	bool missing = false;
	int ret = cairn_store_read_doc(&raw, &len, st, &im->desc.digest, err);

	if (ret == 0)
		ret = cairn_manifest_parse(&m, im->desc.media_type, raw, len, err);
	for (size_t i = 0; ret == 0 && i < m->n_layers && !missing; i++)
		missing = !cairn_store_has_blob(st, &m->layers[i].digest);
	cairn_manifest_free(m);
	if (ret == 0 && missing)
		ret = cairn_repo_parse(&repo, storage, err);
	if (ret == 0 && missing)
		ret = pull_stage(st, &repo, project, im->signature, io, err);
	return ret;
}

int cairn_stages_pull(const struct cairn_build_opts *o, const char *repo, int all,
		      cairn_stage_pulled_fn pulled, void *ud, struct cairn_error **err)
{
	struct cairn_build_opts bo = *o;
	struct cairn_build_result *res = NULL;
	struct cairn_registry_pool *pool = NULL;
	struct cairn_store *st = NULL;
	CLEANUP(cairn_ref_release) struct cairn_ref repo_ref = CAIRN_REF_INIT;
	struct cairn_home home;
	int ret;

	ret = cairn_repo_parse(&repo_ref, repo, err);
	if (ret < 0)
		return ret;
	if (!bo.pull.registries) {
		ret = cairn_registry_pool_new(&pool, &bo.pull.registry, err);
		if (ret < 0)
			return ret;
		bo.pull.registries = pool;
	}
	bo.no_build = 1;
	bo.stop_at_missing = 1;
	bo.stages_storage = repo;
	cairn_home_paths(&home, o->home);
	ret = cairn_store_open(&st, home.store, err);
	if (ret == 0)
		ret = cairn_build(&res, &bo, err);
	cairn_home_release(&home);
	for (size_t i = 0; ret == 0 && i < res->n_images; i++) {
		const struct cairn_build_image *im = &res->images[i];
		size_t first = all || im->n_stages == 0 ? 0 : im->n_stages - 1;

		for (size_t k = first; ret == 0 && k < im->n_stages; k++) {
			ret = pull_stage(st, &repo_ref, res->project, im->stages[k].signature,
					 &bo.pull, err);
			if (ret == 0 && pulled)
				pulled(im->name ? im->name : "~", im->stages[k].name,
				       im->stages[k].signature, ud);
		}
	}
	cairn_store_free(st);
	cairn_build_result_free(res);
	cairn_registry_pool_free(pool);
	return ret;
}
