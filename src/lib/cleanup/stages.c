/* SPDX-License-Identifier: MIT */
/*
 * `stages cleanup` and the stages half of `purge`. Every stage cairn builds names the stage it
 * stands on and the stages it imports from (CAIRN_LABEL_STAGE_*), and every published image
 * names its last stage (cairn-stage-signature): the chains are walked back from the images
 * that stay, and the stage tags of the project no chain reaches are deleted.
 *
 * Stage configs hold no time (two hosts building a git stage make the same digest), so the
 * grace that spares the stages of builds in progress counts from the first cleanup that found
 * a stage unused: the stages storage keeps those times under the tag CLEANUP_MARKS_TAG.
 */
#include "common.h"
#include "cairn/cleanup.h"
#include "cairn/build.h"
#include "cairn/config.h"
#include "cairn/oci.h"
#include "cairn/registry.h"
#include "cleanup/cleanup_internal.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/strset.h"

#include <time.h>

/* werf's stages cleanup spares the stages of the last two hours */
#define DEFAULT_GRACE_SECONDS 7200
#define MARK_PREFIX "cairn-stage-unused-"

struct stage_entry {
	char *tag;
	const char *sig; /* in `tag`, after its prefix */
	struct cairn_descriptor d;
	char *parent;  /* CAIRN_LABEL_STAGE_PARENT, or NULL: no chain labels */
	char *imports; /* CAIRN_LABEL_STAGE_IMPORTS, or NULL */
	char *project; /* CAIRN_LABEL_STAGE_PROJECT, or NULL */
	int64_t unused_since;
	bool reached, delete, gone, unreadable;
	char *why;
};

struct stages_job {
	const struct cairn_cleanup_opts *o;
	const char *project;
	struct cairn_cleanup_stats *stats;
	struct cairn_registry_conn *c;
	struct cairn_ref repo;
	struct stage_entry *v; /* sorted by signature once read */
	size_t n;
	char **others; /* the repository's other tags: a delete must not take them along */
	size_t n_others;
	struct cairn_descriptor *other_d; /* their manifests (read once) */
	bool changed;			  /* a pass kept something more */
	json_t *marks; /* the labels of CLEANUP_MARKS_TAG: MARK_PREFIX<sig> -> seconds */
	bool had_marks;
	int64_t now;
};

bool cleanup_is_stage_tag(const char *tag, const char **sig)
{
	static const char *const prefixes[] = {CAIRN_STAGE_PREFIX_PUBLISH, CAIRN_STAGE_PREFIX_DIMG};

	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
		size_t n = strlen(prefixes[i]);

		if (!strncmp(tag, prefixes[i], n) && strlen(tag + n) == 64 &&
		    strspn(tag + n, "0123456789abcdef") == 64) {
			if (sig)
				*sig = tag + n;
			return true;
		}
	}
	return false;
}

static int collect(const char *tag, void *ud)
{
	struct stages_job *j = ud;
	const char *sig;

	if (cleanup_is_stage_tag(tag, &sig)) {
		j->v = xgrow1(j->v, j->n, sizeof(*j->v));
		memset(&j->v[j->n], 0, sizeof(*j->v));
		j->v[j->n].tag = xstrdup(tag);
		j->v[j->n].sig = j->v[j->n].tag + (sig - tag);
		j->n++;
	} else if (strcmp(tag, CLEANUP_MARKS_TAG) != 0) {
		j->others = xgrow1(j->others, j->n_others, sizeof(*j->others));
		j->others[j->n_others++] = xstrdup(tag);
	}
	return 0;
}

static char *label(json_t *labels, const char *key)
{
	const char *v = json_string_value(json_object_get(labels, key));

	return v ? xstrdup(v) : NULL;
}

/* The labels of an image config (`raw`), or NULL. */
static json_t *config_labels(const char *raw, size_t len, const char *what,
			     struct cairn_error **err)
{
	cleanup_json json_t *cfg = NULL;

	if (!raw || cairn_json_parse(&cfg, raw, len, what, err) < 0)
		return NULL;
	return json_incref(json_object_get(json_object_get(cfg, "config"), "Labels"));
}

/* Stage `e`'s digest and chain labels; `gone` when deleted since the listing. */
static int read_stage(struct stages_job *j, struct stage_entry *e, struct cairn_error **err)
{
	cleanup_free char *raw = NULL;
	cleanup_json json_t *labels = NULL;
	size_t len = 0;
	int ret = cairn_registry_image_config(j->c, j->repo.path, e->tag, &raw, &len, &e->d, err);

	if (ret == CAIRN_ENOTFOUND) {
		cairn_error_clear(err);
		e->gone = true;
		return 0;
	}
	/* a config that is not JSON, or not the one its manifest names: kept, with a warning */
	if (ret < 0 && ret != CAIRN_EINVAL && ret != CAIRN_EDIGEST)
		return ret;
	labels = ret == 0 ? config_labels(raw, len, "stage config", err) : NULL;
	if (!labels && *err) {
		cairn_log(CAIRN_LOG_WARN, "%s/%s:%s: %s: kept", j->repo.domain, j->repo.path,
			  e->tag, (*err)->msg);
		cairn_error_clear(err);
		e->unreadable = true;
		return 0;
	}
	e->parent = label(labels, CAIRN_LABEL_STAGE_PARENT);
	e->imports = label(labels, CAIRN_LABEL_STAGE_IMPORTS);
	e->project = label(labels, CAIRN_LABEL_STAGE_PROJECT);
	return 0;
}

static int by_sig(const void *a, const void *b)
{
	return strcmp(((const struct stage_entry *)a)->sig, ((const struct stage_entry *)b)->sig);
}

/* The first entry of signature `sig` (the entries of one signature are next to each other). */
static struct stage_entry *find(struct stages_job *j, const char *sig, size_t len)
{
	size_t lo = 0, hi = j->n;

	if (len != 64)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strncmp(j->v[mid].sig, sig, 64) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < j->n && strncmp(j->v[lo].sig, sig, 64) == 0 ? &j->v[lo] : NULL;
}

/* The signatures still to visit, each once. */
struct sig_queue {
	struct cairn_strset seen;
	char **v;
	size_t n;
};

static void push_sigs(struct sig_queue *q, const char *list)
{
	while (list && *list) {
		size_t n = strcspn(list, " ");

		if (n && cairn_strset_add(&q->seen, list, n)) {
			q->v = xgrow1(q->v, q->n, sizeof(*q->v));
			q->v[q->n++] = xstrndup(list, n);
		}
		list += n + strspn(list + n, " ");
	}
}

/*
 * Every stage the chains from the signatures in `q` reach (the stage, the one below, the ones
 * imported): fn(j, e) for each. `q` is consumed.
 */
static void walk_queue(struct stages_job *j, struct sig_queue *q,
		       void (*fn)(struct stages_job *j, struct stage_entry *e))
{
	for (size_t k = 0; k < q->n; k++) {
		struct stage_entry *e = find(j, q->v[k], strlen(q->v[k]));

		for (; e && e < j->v + j->n && strcmp(e->sig, q->v[k]) == 0; e++) {
			fn(j, e);
			push_sigs(q, e->parent);
			push_sigs(q, e->imports);
		}
	}
	for (size_t k = 0; k < q->n; k++)
		free(q->v[k]);
	free(q->v);
	cairn_strset_release(&q->seen);
}

static void mark_reached(struct stages_job *j, struct stage_entry *e)
{
	(void)j;
	e->reached = true;
}

/* Mark every stage the published images' chains reach. */
static void walk(struct stages_job *j, const struct cairn_strset *roots)
{
	struct sig_queue q = {CAIRN_STRSET_INIT, NULL, 0};

	for (size_t i = 0; roots && i < roots->cap; i++)
		if (roots->slots[i])
			push_sigs(&q, roots->slots[i]);
	walk_queue(j, &q, mark_reached);
}

static int64_t mark_of(const struct stages_job *j, const char *sig)
{
	cleanup_free char *key = xasprintf(MARK_PREFIX "%s", sig);
	const char *v = json_string_value(json_object_get(j->marks, key));
	int64_t t = v ? strtoll(v, NULL, 10) : 0;

	return t > 0 && t <= j->now ? t : j->now;
}

static bool ours(const struct stages_job *j, const struct stage_entry *e)
{
	return e->project && strcmp(e->project, j->project) == 0;
}

/* What becomes of one stage no image stands on. */
static void judge(struct stages_job *j, struct stage_entry *e, int64_t grace)
{
	if (e->reached) {
		e->why = xstrdup("kept: a published image stands on it");
	} else if (e->unreadable) {
		e->why = xstrdup("kept: not a stage cairn can read");
	} else if (e->project && strcmp(e->project, j->project) != 0) {
		e->why = xasprintf("kept: a stage of the project '%s'", e->project);
	} else if (j->o->purge && ours(j, e)) {
		e->delete = true;
		e->why = xstrdup("purge");
	} else if (j->o->purge) {
		/* a base stage under the project's stages goes with them (purge_bases()) */
		e->why = xstrdup("kept: not known to be this project's (no cairn-stage-project)");
	} else if (!e->parent) {
		e->why = xstrdup("kept: it names no stage below it (a base image, or stored by "
				 "a cairn that did not record chains)");
	} else if ((e->unused_since = mark_of(j, e->sig)) > j->now - grace) {
		e->why = xasprintf("kept: unused for %lld s of the --grace %lld s",
				   (long long)(j->now - e->unused_since), (long long)grace);
	} else {
		e->delete = true;
		e->why = xstrdup("no published image stands on it");
	}
}

static void purge_base(struct stages_job *j, struct stage_entry *e)
{
	if (e->delete || e->project || e->unreadable)
		return;
	(void)j;
	e->delete = true;
	free(e->why);
	e->why = xstrdup("purge: a base stage the project's stages stand on");
}

/* purge: the unlabelled stages (base images) the project's own stages stand on go too. */
static void purge_bases(struct stages_job *j)
{
	struct sig_queue q = {CAIRN_STRSET_INIT, NULL, 0};

	for (size_t i = 0; i < j->n; i++)
		if (!j->v[i].gone && ours(j, &j->v[i]))
			push_sigs(&q, j->v[i].sig);
	walk_queue(j, &q, purge_base);
}

static void protect(struct stages_job *j, struct stage_entry *e)
{
	if (!e->delete)
		return;
	e->delete = false;
	j->changed = true;
	free(e->why);
	e->why = xstrdup("kept: a stage that stays stands on it");
}

/*
 * A stage kept (in its grace, another project's, a shared manifest) keeps what it stands on:
 * a build in progress may have just stored a stage on top of an old one.
 */
static void protect_chains(struct stages_job *j)
{
	struct sig_queue q = {CAIRN_STRSET_INIT, NULL, 0};

	for (size_t i = 0; i < j->n; i++)
		if (!j->v[i].gone && !j->v[i].delete)
			push_sigs(&q, j->v[i].sig);
	walk_queue(j, &q, protect);
}

/* The digests of the repository's other tags, once, when something is to be deleted. */
static int read_others(struct stages_job *j, struct cairn_error **err)
{
	bool any = false;

	for (size_t i = 0; i < j->n; i++)
		any |= j->v[i].delete;
	j->other_d = xcalloc(j->n_others + 1, sizeof(*j->other_d));
	for (size_t i = 0; any && i < j->n_others; i++) {
		int ret = cairn_registry_manifest_head(j->c, j->repo.path, j->others[i],
						       &j->other_d[i], err);

		if (ret == CAIRN_ENOTFOUND) {
			cairn_error_clear(err);
			continue;
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* A delete takes every tag of the manifest: not while another tag of it stays. */
static void spare_shared(struct stages_job *j)
{
	for (size_t i = 0; i < j->n; i++) {
		struct stage_entry *e = &j->v[i];

		for (size_t k = 0; e->delete &&k < j->n_others; k++) {
			if (!cairn_digest_equal(&e->d.digest, &j->other_d[k].digest))
				continue;
			free(e->why);
			e->why = xasprintf("kept: its manifest is also tag '%s'", j->others[k]);
			e->delete = false;
			j->changed = true;
		}
		for (size_t k = 0; e->delete &&k < j->n; k++) {
			if (k == i || j->v[k].delete || j->v[k].gone ||
			    !cairn_digest_equal(&e->d.digest, &j->v[k].d.digest))
				continue;
			free(e->why);
			e->why = xasprintf("kept: its manifest is also tag '%s', which stays",
					   j->v[k].tag);
			e->delete = false;
			j->changed = true;
		}
	}
}

static int read_marks(struct stages_job *j, struct cairn_error **err)
{
	cleanup_free char *raw = NULL;
	size_t len = 0;
	int ret = cairn_registry_image_config(j->c, j->repo.path, CLEANUP_MARKS_TAG, &raw, &len,
					      NULL, err);

	if (ret == CAIRN_ENOTFOUND || ret == CAIRN_EINVAL) {
		cairn_error_clear(err);
		j->marks = json_object();
		return 0;
	}
	if (ret < 0)
		return ret;
	j->had_marks = true;
	j->marks = config_labels(raw, len, "cleanup marks", err);
	if (!j->marks) {
		cairn_error_clear(err);
		j->marks = json_object();
	}
	return 0;
}

/*
 * Keep in CLEANUP_MARKS_TAG when each stage still unused was first found so (an image config
 * with no layer, the times in its labels); the tag goes when no stage is left to wait for.
 */
static int write_marks(struct stages_job *j, struct cairn_error **err)
{
	cleanup_json json_t *labels = json_object();
	cleanup_free const char **kv = NULL;
	struct cairn_descriptor old;
	const char *key;
	json_t *v;
	size_t n = 0;
	int ret;

	for (size_t i = 0; i < j->n; i++) {
		const struct stage_entry *e = &j->v[i];
		cleanup_free char *k = xasprintf(MARK_PREFIX "%s", e->sig);

		if (e->unused_since && !e->delete &&!e->reached && !e->gone)
			json_object_set_new(labels, k,
					    json_sprintf("%lld", (long long)e->unused_since));
	}
	if (json_equal(labels, j->marks))
		return 0;
	if (json_object_size(labels) > 0) {
		kv = xcalloc(2 * json_object_size(labels) + 1, sizeof(*kv));
		json_object_foreach(labels, key, v)
		{
			kv[2 * n] = key;
			kv[2 * n++ + 1] = json_string_value(v);
		}
		return cairn_registry_put_note(j->c, j->repo.path, CLEANUP_MARKS_TAG, kv, n, NULL,
					       err);
	}
	ret = cairn_registry_manifest_head(j->c, j->repo.path, CLEANUP_MARKS_TAG, &old, err);
	if (ret == 0)
		ret = cairn_registry_manifest_delete(j->c, j->repo.path, &old.digest, err);
	if (ret == CAIRN_ENOTFOUND) {
		cairn_error_clear(err);
		ret = 0;
	}
	return ret;
}

/* Delete what was decided, report every stage. */
static int apply(struct stages_job *j, struct cairn_error **err)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < j->n; i++) {
		struct stage_entry *e = &j->v[i];
		cleanup_free char *ref = NULL;
		struct cairn_cleanup_item it;

		if (e->gone)
			continue;
		ref = xasprintf("%s/%s:%s", j->repo.domain, j->repo.path, e->tag);
		it = (struct cairn_cleanup_item){ref, "stage", e->why, e->delete};
		if (e->delete &&!j->o->dry_run) {
			ret = cairn_registry_manifest_delete(j->c, j->repo.path, &e->d.digest, err);
			if (ret == CAIRN_ENOTFOUND) {
				cairn_error_clear(err);
				ret = 0;
			}
			if (ret < 0)
				break;
		}
		j->stats->stages_seen++;
		if (e->delete)
			j->stats->stages_deleted++;
		else
			j->stats->stages_kept++;
		if (j->o->report)
			j->o->report(&it, j->o->ud);
	}
	return ret;
}

static void job_release(struct stages_job *j)
{
	for (size_t i = 0; i < j->n; i++) {
		free(j->v[i].tag);
		free(j->v[i].parent);
		free(j->v[i].imports);
		free(j->v[i].project);
		free(j->v[i].why);
	}
	free(j->v);
	for (size_t i = 0; i < j->n_others; i++)
		free(j->others[i]);
	free(j->others);
	free(j->other_d);
	json_decref(j->marks);
	if (j->c)
		cairn_registry_conn_put(j->c);
	cairn_ref_release(&j->repo);
}

int cleanup_stages(const struct cairn_cleanup_opts *o, const char *project,
		   const struct cairn_strset *roots, struct cairn_cleanup_stats *stats,
		   struct cairn_registry_pool *pool, struct cairn_error **err)
{
	CLEANUP(job_release) struct stages_job j = {.o = o, .project = project, .stats = stats};
	struct cairn_registry *reg = NULL;
	int64_t grace = o->grace_seconds >= 0 ? o->grace_seconds : DEFAULT_GRACE_SECONDS;
	int ret = cairn_repo_parse(&j.repo, o->stages_storage, err);

	j.now = (int64_t)time(NULL);
	if (ret == 0)
		ret = cairn_registry_pool_get(&reg, pool, j.repo.domain, err);
	if (ret == 0)
		ret = cairn_registry_conn_get(&j.c, reg, err);
	if (ret == 0)
		ret = cairn_registry_tags_list(j.c, j.repo.path, collect, &j, err);
	if (ret == 0)
		ret = read_marks(&j, err);
	for (size_t i = 0; ret == 0 && i < j.n; i++)
		ret = read_stage(&j, &j.v[i], err);
	if (ret < 0)
		return cairn_error_wrap(err, "stages storage '%s'", o->stages_storage);
	cairn_sort(j.v, j.n, sizeof(*j.v), by_sig);
	if (!o->purge)
		walk(&j, roots);
	for (size_t i = 0; i < j.n; i++)
		if (!j.v[i].gone)
			judge(&j, &j.v[i], grace);
	if (o->purge)
		purge_bases(&j);
	ret = read_others(&j, err);
	/* what stays keeps what it stands on and what it shares a manifest with, and so on */
	do {
		j.changed = false;
		spare_shared(&j);
		protect_chains(&j);
	} while (ret == 0 && j.changed);
	if (ret == 0)
		ret = apply(&j, err);
	if (ret == 0 && !o->dry_run && !o->purge)
		ret = write_marks(&j, err);
	if (ret == 0 && !o->dry_run && o->purge && j.had_marks)
		ret = write_marks(&j, err); /* no stage is left to wait for: the tag goes */
	if (ret < 0)
		return cairn_error_wrap(err, "stages storage '%s'", o->stages_storage);
	return 0;
}

DEFINE_FREEP(struct cairn_registry_pool, cairn_registry_pool_free)

/* The images half (`mode`), then the stages half when there is a stages storage. */
static int run(const struct cairn_cleanup_opts *o, struct cairn_cleanup_stats *stats,
	       bool stages_only, struct cairn_error **err)
{
	CLEANUP(cairn_registry_pool_freep) struct cairn_registry_pool *own = NULL;
	CLEANUP(cairn_strset_release) struct cairn_strset roots = CAIRN_STRSET_INIT;
	struct cairn_registry_pool *pool = o->image.registries;
	struct cairn_registry_lock *lock = NULL;
	cleanup_free char *project = NULL;
	int ret = 0;

	memset(stats, 0, sizeof(*stats));
	if (!pool)
		ret = cairn_registry_pool_new(&own, &o->image.registry, err);
	pool = pool ? pool : own;
	/* one lock for both halves: no build or publish through the storage meanwhile */
	if (ret == 0)
		ret = cleanup_images(o, stats, &roots, stages_only, &project, pool, &lock, err);
	if (ret == 0 && o->stages_storage)
		ret = cleanup_stages(o, project, &roots, stats, pool, err);
	cairn_registry_unlock(lock); /* before the pool it talks through */
	return ret;
}

int cairn_stages_cleanup(const struct cairn_cleanup_opts *o, struct cairn_cleanup_stats *stats,
			 struct cairn_error **err)
{
	if (!o->stages_storage)
		return cairn_error_set(err, CAIRN_EINVAL,
				       "stages cleanup needs --stages-storage REPO (the registry "
				       "the stages are kept in)");
	return run(o, stats, true, err);
}

int cairn_cleanup(const struct cairn_cleanup_opts *o, struct cairn_cleanup_stats *stats,
		  struct cairn_error **err)
{
	return run(o, stats, false, err);
}

int cairn_purge(const struct cairn_cleanup_opts *o, struct cairn_cleanup_stats *stats,
		struct cairn_error **err)
{
	struct cairn_cleanup_opts po = *o;

	po.purge = true;
	return run(&po, stats, false, err);
}
