/* SPDX-License-Identifier: MIT */
/*
 * `images cleanup`: werf v1.0's policy by tagging scheme. A published tag records its scheme
 * and its tag in its config's labels (cairn-tag-scheme, cairn-image-tag); the git repository
 * says which branches, tags and commits still exist.
 */
#include "common.h"
#include "cairn/cleanup.h"
#include "cairn/build.h"
#include "cairn/config.h"
#include "cairn/registry.h"
#include "cairn/slug.h"
#include "cleanup/cleanup_internal.h"
#include "git/git.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/parse.h"
#include "util/strset.h"

#include <time.h>

/* What still exists in the project's repository, as publish names it in tags. */
struct live {
	struct cairn_strset branches; /* docker-tag slugs of origin's branches */
	struct cairn_strset tags;     /* docker-tag slugs of the git tags */
	struct cairn_git_repo *repo;
};

static void live_release(struct live *l)
{
	cairn_strset_release(&l->branches);
	cairn_strset_release(&l->tags);
	cairn_git_free(l->repo);
}

static int add_slug(const char *name, void *ud)
{
	struct cairn_strset *set = ud;
	cleanup_free char *slug = cairn_slugify(CAIRN_SLUG_TAG, name, strlen(name));

	if (slug)
		cairn_strset_add(set, slug, strlen(slug));
	return 0;
}

static int read_live(struct live *l, const struct cairn_cleanup_opts *o, struct cairn_error **err)
{
	const char *dir = o->dir ? o->dir : ".";
	int ret = cairn_git_open(&l->repo, dir, err);

	if (ret < 0)
		return cairn_error_wrap(err, "cleanup needs the project's git repository");
	if (cairn_git_is_shallow(l->repo) && !o->allow_shallow)
		return cairn_error_set(err, CAIRN_EINVAL,
				       "'%s' is a shallow clone: its branches and commits are not "
				       "all there (fetch with --unshallow, or --allow-git-shallow-"
				       "clone)",
				       dir);
	ret = cairn_git_each_ref(l->repo, "refs/remotes/origin/", add_slug, &l->branches, err);
	if (ret == 0 && l->branches.n == 0)
		return cairn_error_set(err, CAIRN_EINVAL,
				       "'%s' knows no branch of the remote 'origin': cleanup would "
				       "take every branch for deleted (clone the project and fetch "
				       "origin's branches, then run it there)",
				       dir);
	if (ret == 0)
		ret = cairn_git_each_ref(l->repo, "refs/tags/", add_slug, &l->tags, err);
	return ret;
}

/* One published tag: where it is, what it holds, what cleanup makes of it. */
struct tag_info {
	char *tag;
	struct cairn_descriptor d;
	char *scheme;	 /* "" when not cairn's */
	int64_t created; /* seconds since the epoch, 0 when unknown */
	bool ours;
	bool user_kept; /* in --keep-images-from */
	bool skip;	/* another image's: neither kept nor deleted here */
	bool gone;	/* deleted since the listing: no manifest to share */
	bool delete;
	char *why;
	char *sig; /* the image's stage signature (cairn-stage-signature), or NULL */
};

struct repo_tags {
	const char *path;   /* the repository in the registry */
	const char *prefix; /* monorepo: "NAME-"; else "" */
	const char *name;   /* the image's, "~" for the unnamed one */
	/* monorepo: the other images' "NAME-", whose tags a shorter prefix also matches */
	const char *const *others;
	size_t n_others;
	struct tag_info *v;
	size_t n;
	struct cleanup_history *hist; /* the git-history based policy's answer, or NULL */
};

/*
 * Every tag of the repository: those not of this image (another image's NAME- in a monorepo,
 * "app-worker-main" is app-worker's and not app's "worker-main") are `foreign`, never judged
 * here, but their manifests count when a delete would take them along.
 */
static int collect_tag(const char *tag, void *ud)
{
	struct repo_tags *rt = ud;
	size_t n = strlen(rt->prefix);
	bool foreign = strncmp(tag, rt->prefix, n) != 0;

	/*
	 * A repository that is the stages storage too (dimg's --with-stages, or -i R -s R) holds
	 * stages, commit records, locks and marks beside the images: none is an image tag, and
	 * none shares a manifest with one.
	 */
	if (cleanup_is_stage_tag(tag, NULL) ||
	    !strncmp(tag, CAIRN_COMMIT_RECORD_PREFIX, strlen(CAIRN_COMMIT_RECORD_PREFIX)) ||
	    !strncmp(tag, CAIRN_LOCK_TAG_PREFIX, strlen(CAIRN_LOCK_TAG_PREFIX)) ||
	    !strcmp(tag, CLEANUP_MARKS_TAG))
		return 0;

	for (size_t i = 0; !foreign && i < rt->n_others; i++)
		foreign = strlen(rt->others[i]) > n &&
			  !strncmp(tag, rt->others[i], strlen(rt->others[i]));
	rt->v = xgrow1(rt->v, rt->n, sizeof(*rt->v));
	memset(&rt->v[rt->n], 0, sizeof(*rt->v));
	rt->v[rt->n].tag = xstrdup(tag);
	rt->v[rt->n].scheme = xstrdup("");
	rt->v[rt->n++].skip = foreign;
	return 0;
}

/* The labels and creation time of the image `t` names (its config's). */
static int read_labels(json_t **labels, int64_t *created, struct cairn_registry_conn *c,
		       const char *path, struct tag_info *t, struct cairn_error **err)
{
	cleanup_json json_t *cfg = NULL;
	cleanup_free char *raw = NULL;
	size_t len = 0;
	json_t *v;
	int ret;

	*labels = NULL;
	*created = 0;
	ret = cairn_registry_image_config(c, path, t->tag, &raw, &len, &t->d, err);
	if (ret < 0 || !raw)
		return ret;
	ret = cairn_json_parse(&cfg, raw, len, "image config", err);
	if (ret < 0)
		return ret;
	*labels = json_incref(json_object_get(json_object_get(cfg, "config"), "Labels"));
	v = json_object_get(cfg, "created");
	if (json_is_string(v))
		cairn_parse_rfc3339(created, json_string_value(v), json_string_length(v));
	return 0;
}

static bool is_hex40(const char *s)
{
	return strlen(s) == 40 && strspn(s, "0123456789abcdef") == 40;
}

/* The policy: whether the ref the tag was made from is gone. */
static void decide(struct tag_info *t, const char *value, const struct live *l)
{
	size_t n = strlen(value);

	if (strcmp(t->scheme, "git_branch") == 0 && !cairn_strset_has(&l->branches, value, n))
		t->why = xasprintf("no branch of origin has the slug '%s'", value);
	else if (strcmp(t->scheme, "git_tag") == 0 && !cairn_strset_has(&l->tags, value, n))
		t->why = xasprintf("no git tag has the slug '%s'", value);
	else if (strcmp(t->scheme, "git_commit") == 0 && is_hex40(value) &&
		 !cairn_git_has_commit(l->repo, value))
		t->why = xasprintf("the repository has no commit '%s'", value);
	t->delete = t->why != NULL;
	if (!t->delete)
		t->why = xasprintf("kept: %s", t->scheme[0] ? t->scheme : "not published by cairn");
}

/* The git-history based policy: kept while a kept reference reaches its signature. */
static void decide_history(struct tag_info *t, const struct repo_tags *rt, bool strict)
{
	const char *why = t->sig ? cleanup_history_why(rt->hist, t->sig) : NULL;

	if (why) {
		t->why = xasprintf("kept: %s reaches it", why);
	} else if (t->sig && cairn_strset_has(&rt->hist->recorded, t->sig, strlen(t->sig))) {
		t->delete = true;
		t->why = xstrdup("no reference the keep policies keep reaches a commit of it");
	} else if (strict) {
		t->delete = true;
		t->why = xstrdup("no commit record names it (--git-history-based-cleanup-v1.2)");
	} else {
		t->why = xstrdup("kept: no commit record names it (published without a stages "
				 "storage, or before cairn recorded commits)");
	}
}

/* In --keep-images-from as "host/repo:tag", or by digest as "host/repo@sha256:...". */
static bool kept_by_user(const struct cairn_cleanup_opts *o, const char *ref,
			 const struct cairn_digest *d)
{
	const char *colon = strrchr(ref, ':');
	cleanup_free char *by_digest =
		xasprintf("%.*s@%s", (int)(colon - ref), ref, d->str[0] ? d->str : "-");

	for (size_t i = 0; i < o->n_keep; i++)
		if (strcmp(o->keep[i], ref) == 0 || strcmp(o->keep[i], by_digest) == 0)
			return true;
	return false;
}

static int by_created(const void *a, const void *b)
{
	const struct tag_info *x = *(const struct tag_info *const *)a;
	const struct tag_info *y = *(const struct tag_info *const *)b;

	return (x->created > y->created) - (x->created < y->created);
}

/*
 * werf v1.0's date and limit policies over the tags of `scheme` still kept: published
 * expiry_days ago or more, then all but the `limit` newest.
 */
static void apply_policy(struct repo_tags *rt, const char *scheme,
			 const struct cairn_cleanup_policy *p, const char *option, time_t now)
{
	cleanup_free struct tag_info **v = xcalloc(rt->n + 1, sizeof(*v));
	size_t n = 0, young = 0;

	for (size_t i = 0; i < rt->n; i++)
		if (!rt->v[i].skip && !rt->v[i].delete &&!rt->v[i].user_kept &&
		    strcmp(rt->v[i].scheme, scheme) == 0)
			v[n++] = &rt->v[i];
	cairn_sort(v, n, sizeof(*v), by_created);
	for (size_t i = 0; i < n; i++) {
		/* a tag whose config has no publish time is never taken for an old one */
		if (p->expiry_days >= 0 && v[i]->created > 0 &&
		    v[i]->created <= (int64_t)now - p->expiry_days * 86400) {
			free(v[i]->why);
			v[i]->why = xasprintf(
				"published %lld days ago or more (--%s-expiry-days %lld)",
				(long long)p->expiry_days, option, (long long)p->expiry_days);
			v[i]->delete = true;
		} else {
			v[young++] = v[i];
		}
	}
	for (size_t i = 0;
	     p->limit >= 0 && young > (size_t)p->limit && i < young - (size_t)p->limit; i++) {
		free(v[i]->why);
		v[i]->why = xasprintf("older than the %lld newest (--%s-limit)",
				      (long long)p->limit, option);
		v[i]->delete = true;
	}
}

/* A delete takes every tag of the manifest: not while another tag of it stays. */
static void spare_shared(struct repo_tags *rt)
{
	for (size_t i = 0; i < rt->n; i++) {
		struct tag_info *t = &rt->v[i];

		for (size_t k = 0; t->delete &&k < rt->n; k++) {
			if (k == i || rt->v[k].delete ||
			    !cairn_digest_equal(&t->d.digest, &rt->v[k].d.digest))
				continue;
			free(t->why);
			t->why = xasprintf("kept: its manifest is also tag '%s', which stays",
					   rt->v[k].tag);
			t->delete = false;
		}
	}
}

struct repo_job {
	const struct cairn_cleanup_opts *o;
	/* the stage signatures of the tags that stay; with roots_only nothing is judged */
	struct cairn_strset *roots;
	bool roots_only;
	const char *project;
	struct cairn_cleanup_stats *stats;
	const struct live *live;
	struct cairn_registry_conn *c;
	const struct cairn_ref *repo;
	const struct cairn_config *cfg;
	bool history;			 /* the git-history based policy, not werf v1.0's */
	struct cleanup_records *records; /* with `history` */
};

/* The manifest digest of a foreign tag, for the sharing check; false when it is gone. */
static int foreign_digest(bool *there, struct repo_job *j, struct repo_tags *rt, struct tag_info *t,
			  struct cairn_error **err)
{
	int ret = cairn_registry_manifest_head(j->c, rt->path, t->tag, &t->d, err);

	*there = ret == 0;
	if (ret == CAIRN_ENOTFOUND) {
		cairn_error_clear(err);
		return 0;
	}
	return ret;
}

/* Judge one tag of this image from its config's labels. */
static void judge(struct repo_job *j, struct repo_tags *rt, struct tag_info *t, json_t *labels,
		  const char *ref)
{
	const char *name = json_string_value(json_object_get(labels, "cairn-image-name"));
	const char *project = json_string_value(json_object_get(labels, "cairn-project"));
	const char *scheme = json_string_value(json_object_get(labels, "cairn-tag-scheme"));
	const char *value = json_string_value(json_object_get(labels, "cairn-image-tag"));

	if ((name && strcmp(name, rt->name) != 0) ||
	    (project && strcmp(project, j->project) != 0)) {
		t->skip = true; /* another image's or project's, in a shared repository */
		return;
	}
	if (json_string_value(json_object_get(labels, "cairn-stage-signature")))
		t->sig = xstrdup(
			json_string_value(json_object_get(labels, "cairn-stage-signature")));
	t->ours = json_object_get(labels, "cairn-image") != NULL;
	if (j->roots_only) {
		t->why = xstrdup("kept");
		return;
	}
	free(t->scheme);
	t->scheme = xstrdup(t->ours && scheme ? scheme : "");
	t->user_kept = kept_by_user(j->o, ref, &t->d.digest);
	if (t->user_kept) {
		t->why = xstrdup("kept: in use (--keep-images-from)");
	} else if (!t->ours) {
		t->why = xstrdup("kept: not published by cairn");
	} else if (value && strcmp(value, t->tag) != 0) {
		/* a copy (skopeo copy app:feat app:prod): cairn did not publish it as this tag */
		t->why = xasprintf("kept: a copy of '%s', not published by cairn as this tag",
				   value);
	} else {
		/* the tag as published (NAME-TAG in a monorepo), the slug of its ref after NAME- */
		value = t->tag;
		if (strncmp(value, rt->prefix, strlen(rt->prefix)) == 0)
			value += strlen(rt->prefix);
		if (j->o->purge) {
			t->delete = true;
			t->why = xstrdup("purge");
		} else if (j->history) {
			decide_history(t, rt, j->o->git_history_strict);
		} else {
			decide(t, value, j->live);
		}
	}
}

/* The stage signatures of the tags that stay: the stages cleanup keeps their chains. */
static int add_roots(struct repo_job *j, const struct repo_tags *rt)
{
	for (size_t i = 0; i < rt->n; i++) {
		const struct tag_info *t = &rt->v[i];

		if (t->skip || t->delete || !t->sig)
			continue;
		if (j->roots)
			cairn_strset_add(j->roots, t->sig, strlen(t->sig));
		/* a tag that stays (kept in use, shared, a copy) keeps its commit records */
		for (size_t k = 0; j->records && !j->o->purge && k < j->records->n; k++) {
			struct cleanup_record *r = &j->records->v[k];

			if (r->ours && strcmp(r->image, rt->name) == 0 &&
			    strcmp(r->sig, t->sig) == 0)
				r->keep = true;
		}
	}
	return 0;
}

static int clean_repo(struct repo_job *j, struct repo_tags *rt, struct cairn_error **err)
{
	int ret = cairn_registry_tags_list(j->c, rt->path, collect_tag, rt, err);

	for (size_t i = 0; ret == 0 && i < rt->n; i++) {
		struct tag_info *t = &rt->v[i];
		cleanup_json json_t *labels = NULL;
		cleanup_free char *ref = xasprintf("%s/%s:%s", j->repo->domain, rt->path, t->tag);
		bool there = true;

		if (t->skip) {
			ret = foreign_digest(&there, j, rt, t, err);
			t->gone = !there;
			continue;
		}
		ret = read_labels(&labels, &t->created, j->c, rt->path, t, err);
		if (ret == CAIRN_ENOTFOUND) {
			/* deleted since the listing */
			cairn_error_clear(err);
			t->skip = t->gone = true;
			ret = 0;
			continue;
		}
		if (ret == CAIRN_EINVAL || ret == CAIRN_EDIGEST) {
			/* not an image config cairn can read (or trust): not cairn's, kept */
			cairn_log(CAIRN_LOG_WARN, "%s: %s: kept", ref, (*err)->msg);
			cairn_error_clear(err);
			ret = 0;
		}
		if (ret < 0)
			break;
		judge(j, rt, t, labels, ref);
	}
	if (ret < 0 || j->roots_only)
		return ret < 0 ? ret : add_roots(j, rt);
	if (!j->history) {
		apply_policy(rt, "git_tag", &j->o->git_tag, "git-tag-strategy", time(NULL));
		apply_policy(rt, "git_commit", &j->o->git_commit, "git-commit-strategy",
			     time(NULL));
	}
	spare_shared(rt);
	for (size_t i = 0; ret == 0 && i < rt->n; i++) {
		struct tag_info *t = &rt->v[i];
		cleanup_free char *ref = NULL;
		struct cairn_cleanup_item it;

		if (t->skip)
			continue;
		ref = xasprintf("%s/%s:%s", j->repo->domain, rt->path, t->tag);
		it = (struct cairn_cleanup_item){ref, t->scheme ? t->scheme : "", t->why,
						 t->delete};
		j->stats->tags_seen++;
		if (t->delete &&!j->o->dry_run) {
			ret = cairn_registry_manifest_delete(j->c, rt->path, &t->d.digest, err);
			if (ret == CAIRN_ENOTFOUND) {
				cairn_error_clear(err);
				ret = 0;
			}
		}
		if (ret < 0)
			break;
		if (t->delete)
			j->stats->tags_deleted++;
		else
			j->stats->tags_kept++;
		if (j->o->report)
			j->o->report(&it, j->o->ud);
	}
	return ret < 0 ? ret : add_roots(j, rt);
}

static void repo_tags_release(struct repo_tags *rt)
{
	for (size_t i = 0; i < rt->n; i++) {
		free(rt->v[i].tag);
		free(rt->v[i].scheme);
		free(rt->v[i].why);
		free(rt->v[i].sig);
	}
	free(rt->v);
	rt->v = NULL;
	rt->n = 0;
}

/* The records of image `name` through the keep policies; each record learns if it stays. */
static int scan_history(struct repo_job *j, struct cleanup_history *h, const char *name,
			struct cairn_error **err)
{
	struct cleanup_records *r = j->records;
	cleanup_free const char **commits = xcalloc(r->n + 1, sizeof(*commits));
	cleanup_free const char **sigs = xcalloc(r->n + 1, sizeof(*sigs));
	size_t n = 0;
	int ret;

	for (size_t i = 0; i < r->n; i++) {
		if (!r->v[i].ours || strcmp(r->v[i].image, name) != 0)
			continue;
		commits[n] = r->v[i].commit;
		sigs[n++] = r->v[i].sig;
	}
	ret = cleanup_history_scan(h, j->cfg, j->live->repo, commits, sigs, n, err);
	for (size_t i = 0; ret == 0 && i < r->n; i++)
		if (r->v[i].ours && strcmp(r->v[i].image, name) == 0)
			r->v[i].keep =
				cairn_strset_has(&h->reached, r->v[i].sig, strlen(r->v[i].sig));
	return ret;
}

static int clean_image(struct repo_job *j, const struct cairn_config *cfg,
		       const struct cairn_config_image *img, struct cairn_error **err)
{
	cleanup_free char *path = NULL;
	cleanup_free char *prefix = NULL;
	cleanup_free char **others = xcalloc(cfg->n_images + 1, sizeof(*others));
	struct repo_tags rt = {.name = img->name ? img->name : "~"};
	struct cleanup_history hist = {0};
	int ret;

	if (!img->name || j->o->repo_mode == CAIRN_REPO_MONOREPO) {
		path = xstrdup(j->repo->path);
		prefix = img->name ? xasprintf("%s-", img->name) : xstrdup("");
	} else {
		path = xasprintf("%s/%s", j->repo->path, img->name);
		prefix = xstrdup("");
	}
	rt.path = path;
	rt.prefix = prefix;
	if (j->o->repo_mode == CAIRN_REPO_MONOREPO || !img->name) {
		/* the repository holds the other images' tags too: NAME-TAG */
		for (size_t i = 0; i < cfg->n_images; i++)
			if (!cfg->images[i].artifact && cfg->images[i].name &&
			    &cfg->images[i] != img)
				others[rt.n_others++] = xasprintf("%s-", cfg->images[i].name);
	}
	if (j->o->repo_mode == CAIRN_REPO_MONOREPO)
		rt.others = (const char *const *)others;
	else
		rt.n_others = 0; /* multirepo: REPO holds the unnamed image alone */
	ret = j->history ? scan_history(j, &hist, rt.name, err) : 0;
	rt.hist = &hist;
	if (ret == 0)
		ret = clean_repo(j, &rt, err);
	cleanup_history_release(&hist);
	repo_tags_release(&rt);
	for (size_t i = 0; others[i]; i++)
		free(others[i]);
	return ret;
}

DEFINE_FREEP(struct cairn_config, cairn_config_free)
DEFINE_FREEP(struct cairn_registry_pool, cairn_registry_pool_free)

int cleanup_images(const struct cairn_cleanup_opts *o, struct cairn_cleanup_stats *stats,
		   struct cairn_strset *roots, bool roots_only, char **project,
		   struct cairn_registry_pool *pool, struct cairn_registry_lock **lock,
		   struct cairn_error **err)
{
	CLEANUP(cairn_config_freep) struct cairn_config *cfg = NULL;
	CLEANUP(cairn_ref_release) struct cairn_ref repo = CAIRN_REF_INIT;
	CLEANUP(live_release) struct live live = {0};
	CLEANUP(cleanup_records_release) struct cleanup_records records = {0};
	struct cairn_config_source src = {o->dir, o->config_file, o->templates_dir};
	struct cairn_cleanup_stats ignored;
	struct repo_job j = {.o = o,
			     .roots = roots,
			     .roots_only = roots_only,
			     .stats = roots_only ? &ignored : stats,
			     .live = &live,
			     .repo = &repo};
	struct cairn_registry *reg = NULL;
	int ret;

	memset(j.stats, 0, sizeof(*j.stats));
	ret = cairn_repo_parse(&repo, o->repo, err);
	if (ret == 0)
		ret = cairn_config_load(&cfg, &src, err);
	if (ret < 0)
		return ret;
	j.project = cfg->project.s;
	j.cfg = cfg;
	j.records = &records;
	j.history = !o->purge && !roots_only &&
		    (o->git_history || o->git_history_strict || cfg->n_keep_policies > 0);
	if (j.history && !o->stages_storage)
		return cairn_error_set(
			err, CAIRN_EUSAGE,
			"the git-history based cleanup (%s) reads the commit records "
			"publish keeps in the stages storage: give --stages-storage",
			cfg->n_keep_policies ? "cleanup.keepPolicies of the config"
					     : "--git-history-based-cleanup");
	ret = cairn_git_global_init(err);
	if (ret < 0)
		return ret;
	if (project)
		*project = xstrdup(cfg->project.s);
	ret = o->purge || roots_only ? 0 : read_live(&live, o, err);
	if (ret == 0)
		ret = cairn_registry_pool_get(&reg, pool, repo.domain, err);
	if (ret == 0)
		ret = cairn_registry_conn_get(&j.c, reg, err);
	/* no publish through the stages storage meanwhile (its lock holds until its last tag) */
	if (ret == 0 && lock && o->stages_storage && !o->dry_run)
		ret = cairn_registry_lock(lock, pool, o->stages_storage, j.project,
					  CAIRN_REGISTRY_LOCK_CLEAN, o->lock_timeout_secs, err);
	if (ret == 0 && (j.history || (o->purge && o->stages_storage)))
		ret = cleanup_records_read(&records, o->stages_storage, j.project, pool, err);
	for (size_t i = 0; ret == 0 && i < cfg->n_images; i++)
		if (!cfg->images[i].artifact)
			ret = clean_image(&j, cfg, &cfg->images[i], err);
	/* the records of signatures no reference keeps go too (purge: all of the project's) */
	for (size_t i = 0; ret == 0 && !o->dry_run && i < records.n; i++)
		if (records.v[i].ours && !records.v[i].keep)
			ret = cleanup_records_delete(&records, &records.v[i], err);
	if (j.c)
		cairn_registry_conn_put(j.c);
	cairn_git_free(TAKE_PTR(live.repo));
	cairn_git_global_cleanup();
	return ret;
}

int cairn_images_cleanup(const struct cairn_cleanup_opts *o, struct cairn_cleanup_stats *stats,
			 struct cairn_error **err)
{
	CLEANUP(cairn_registry_pool_freep) struct cairn_registry_pool *pool = NULL;
	struct cairn_registry_lock *lock = NULL;
	int ret = o->image.registries ? 0 : cairn_registry_pool_new(&pool, &o->image.registry, err);

	if (ret == 0)
		ret = cleanup_images(o, stats, NULL, false, NULL,
				     o->image.registries ? o->image.registries : pool, &lock, err);
	cairn_registry_unlock(lock); /* before the pool */
	return ret;
}
