/* SPDX-License-Identifier: MIT */
/*
 * The git-history based policy of werf v1.1.20+ (pkg/cleaning/images_cleanup_reference_to_scan.go
 * and images_cleanup_scanner.go): keepPolicies select branches of origin and tags, each walks
 * its history from its head (a tag: its commit only), and the stage signatures that publishes
 * recorded at the commits reached are kept, at most `imagesPerReference.last` per reference
 * (the newest by commit time) and only those of commits within `imagesPerReference.in`.
 * werf's "stop commits" (an optimisation that lets a reference scanned later stop where an
 * earlier one found everything) are left out: each reference counts its own images.
 */
#include "common.h"
#include "cairn/config.h"
#include "cleanup/cleanup_internal.h"
#include "git/git.h"

#include <time.h>

#define WEEK (7 * 24 * 3600)

struct scan_ref {
	struct cairn_git_ref_info info;
	bool tag;
	bool selected;
	const struct cairn_config_keep_limit *per; /* the last policy that selected it */
};

/* werf's policies when werf.yaml has none (getReferencesToScan). */
static const struct cairn_config_keep_policy *default_policies(size_t *n)
{
	static const struct cairn_config_keep_policy d[] = {
		{.tag = true,
		 .pattern = (char *)"/.*/",
		 .limit = {.set = true, .last = 10, .in_secs = -1},
		 .per_reference = {.last = -2, .in_secs = -1}},
		{.pattern = (char *)"/.*/",
		 .limit = {.set = true, .last = 10, .in_secs = WEEK},
		 .per_reference = {.set = true, .last = 2, .in_secs = WEEK}},
		{.pattern = (char *)"/^(master|staging|production)$/",
		 .limit = {.last = -2, .in_secs = -1},
		 .per_reference = {.set = true, .last = 10, .in_secs = -1}},
	};

	*n = ARRAY_SIZE(d);
	return d;
}

static int newest_first(const void *a, const void *b)
{
	const struct scan_ref *x = *(const struct scan_ref *const *)a;
	const struct scan_ref *y = *(const struct scan_ref *const *)b;

	return (x->info.time < y->info.time) - (x->info.time > y->info.time);
}

/* references.limit over the references a policy matched (werf's applyReferencesLimit). */
static void apply_limit(struct scan_ref **v, size_t n, const struct cairn_config_keep_limit *l,
			const struct cairn_config_keep_policy *p, int64_t now)
{
	bool has_last = l->set && l->last >= 0, has_in = l->set && l->in_secs >= 0;

	cairn_sort(v, n, sizeof(*v), newest_first);
	for (size_t i = 0; i < n; i++) {
		bool by_last = !has_last || i < (size_t)l->last;
		bool by_in = !has_in || v[i]->info.time > now - l->in_secs;
		bool keep;

		if (has_last && has_in)
			keep = l->or_operator ? (by_last || by_in) : (by_last && by_in);
		else
			keep = by_last && by_in;
		if (keep) {
			v[i]->selected = true;
			v[i]->per = &p->per_reference;
		}
	}
}

/* One commit record: which signature the image had at a commit. */
struct record {
	char commit[41];
	const char *sig;
	int64_t time; /* the commit's, once known to exist */
};

static int by_commit(const void *a, const void *b)
{
	return strcmp(((const struct record *)a)->commit, ((const struct record *)b)->commit);
}

static const struct record *find_record(const struct record *v, size_t n, const char *commit)
{
	struct record key;

	snprintf(key.commit, sizeof(key.commit), "%s", commit);
	return bsearch(&key, v, n, sizeof(*v), by_commit);
}

/* A signature a reference reached, and its newest commit there. */
struct hit {
	const char *sig;
	int64_t latest;
};

static int hit_newest_first(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;

	return (x->latest < y->latest) - (x->latest > y->latest);
}

static void add_hit(struct hit **v, size_t *n, const char *sig, int64_t t)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i].sig, sig) == 0) {
			if (t > (*v)[i].latest)
				(*v)[i].latest = t;
			return;
		}
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = (struct hit){sig, t};
}

/*
 * Walk the history of `r` (breadth first, each commit once; a tag only its commit) and mark
 * the signatures its records reach within its imagesPerReference into `reached`.
 */
static int scan_ref(struct cleanup_history *h, const struct scan_ref *r, const struct record *recs,
		    size_t n_recs, struct cairn_git_repo *repo, int64_t now,
		    struct cairn_error **err)
{
	const struct cairn_config_keep_limit *per = r->per;
	bool has_last = per && per->set && per->last >= 0;
	bool has_in = per && per->set && per->in_secs >= 0;
	/* `in` filters the commits while scanning unless it is Or'ed with `last` */
	bool in_filters = has_in && !(has_last && per->or_operator);
	CLEANUP(cairn_strset_release) struct cairn_strset seen = CAIRN_STRSET_INIT;
	char(*queue)[41] = xcalloc(1, sizeof(*queue));
	size_t head = 0, tail = 0, n_hits = 0, met = 0;
	struct hit *hits = NULL;
	int ret = 0;

	memcpy(queue[tail++], r->info.commit, 41);
	cairn_strset_add(&seen, r->info.commit, 40);
	while (ret == 0 && head < tail) {
		char c[41], (*parents)[41] = NULL;
		const struct record *rec;
		size_t n_parents = 0;
		int64_t t = 0;

		memcpy(c, queue[head++], 41);
		ret = cairn_git_commit_parents(&parents, &n_parents, &t, repo, c, err);
		if (ret < 0)
			break;
		rec = find_record(recs, n_recs, c);
		if (rec && (!in_filters || t > now - per->in_secs))
			add_hit(&hits, &n_hits, rec->sig, t);
		/* every recorded commit met: older history has nothing more (werf stops too) */
		if (rec && ++met == n_recs) {
			free(parents);
			break;
		}
		for (size_t i = 0; !r->tag && i < n_parents; i++) {
			if (!cairn_strset_add(&seen, parents[i], 40))
				continue;
			queue = xreallocarray(queue, tail + 1, sizeof(*queue));
			memcpy(queue[tail++], parents[i], 41);
		}
		free(parents);
	}
	free(queue);
	if (ret == CAIRN_ENOTFOUND) {
		/* a shallow clone's history ends: what was reached stands */
		cairn_error_clear(err);
		ret = 0;
	}
	cairn_sort(hits, n_hits, sizeof(*hits), hit_newest_first);
	for (size_t i = 0; ret == 0 && i < n_hits; i++) {
		bool by_last = !has_last || i < (size_t)per->last;
		bool by_in = !has_in || hits[i].latest > now - per->in_secs;
		bool keep = has_last && has_in && per->or_operator
				    ? (by_last || by_in)
				    : (by_last && (!has_last || !has_in || by_in));

		if (keep)
			cleanup_history_reach(h, hits[i].sig, r->info.name, r->tag);
	}
	free(hits);
	return ret;
}

static void refs_release(struct scan_ref *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].info.name);
	free(v);
}

/* Origin's branches and the tags, as references to scan. */
static int read_refs(struct scan_ref **out, size_t *n_out, struct cairn_git_repo *repo,
		     struct cairn_error **err)
{
	static const struct {
		const char *prefix;
		bool tag;
	} kinds[] = {{"refs/remotes/origin/", false}, {"refs/tags/", true}};
	int ret = 0;

	*out = NULL;
	*n_out = 0;
	for (size_t k = 0; ret == 0 && k < ARRAY_SIZE(kinds); k++) {
		struct cairn_git_ref_info *v = NULL;
		size_t n = 0;

		ret = cairn_git_ref_infos(&v, &n, repo, kinds[k].prefix, err);
		for (size_t i = 0; ret == 0 && i < n; i++) {
			if (!kinds[k].tag && strcmp(v[i].name, "HEAD") == 0) {
				free(v[i].name);
				continue;
			}
			*out = xreallocarray(*out, *n_out + 1, sizeof(**out));
			(*out)[(*n_out)++] = (struct scan_ref){.info = v[i], .tag = kinds[k].tag};
		}
		free(v);
	}
	return ret;
}

void cleanup_history_reach(struct cleanup_history *h, const char *sig, const char *ref, bool tag)
{
	if (cairn_strset_has(&h->reached, sig, strlen(sig)))
		return;
	cairn_strset_add(&h->reached, sig, strlen(sig));
	h->why = xreallocarray(h->why, h->n_why + 1, sizeof(*h->why));
	h->why[h->n_why].sig = xstrdup(sig);
	h->why[h->n_why++].ref = xasprintf("%s '%s'", tag ? "tag" : "branch", ref);
}

const char *cleanup_history_why(const struct cleanup_history *h, const char *sig)
{
	for (size_t i = 0; i < h->n_why; i++)
		if (strcmp(h->why[i].sig, sig) == 0)
			return h->why[i].ref;
	return NULL;
}

void cleanup_history_release(struct cleanup_history *h)
{
	cairn_strset_release(&h->reached);
	cairn_strset_release(&h->recorded);
	for (size_t i = 0; i < h->n_why; i++) {
		free(h->why[i].sig);
		free(h->why[i].ref);
	}
	free(h->why);
	memset(h, 0, sizeof(*h));
}

int cleanup_history_scan(struct cleanup_history *h, const struct cairn_config *cfg,
			 struct cairn_git_repo *repo, const char *const *commits,
			 const char *const *sigs, size_t n, struct cairn_error **err)
{
	const struct cairn_config_keep_policy *pol = cfg->keep_policies;
	size_t n_pol = cfg->n_keep_policies, n_refs = 0, n_recs = 0;
	struct scan_ref *refs = NULL;
	struct record *recs = xcalloc(n + 1, sizeof(*recs));
	int64_t now = (int64_t)time(NULL);
	int ret;

	if (n_pol == 0)
		pol = default_policies(&n_pol);
	/* the records whose commit the repository holds; every recorded signature counts */
	for (size_t i = 0; i < n; i++) {
		cairn_strset_add(&h->recorded, sigs[i], strlen(sigs[i]));
		if (strlen(commits[i]) != 40 || !cairn_git_has_commit(repo, commits[i]))
			continue;
		memcpy(recs[n_recs].commit, commits[i], 41);
		recs[n_recs++].sig = sigs[i];
	}
	cairn_sort(recs, n_recs, sizeof(*recs), by_commit);
	ret = read_refs(&refs, &n_refs, repo, err);
	for (size_t p = 0; ret == 0 && p < n_pol; p++) {
		cleanup_free struct scan_ref **match = xcalloc(n_refs + 1, sizeof(*match));
		size_t m = 0;

		for (size_t i = 0; i < n_refs; i++)
			if (refs[i].tag == pol[p].tag &&
			    cairn_config_keep_policy_matches(&pol[p], refs[i].info.name))
				match[m++] = &refs[i];
		apply_limit(match, m, &pol[p].limit, &pol[p], now);
	}
	for (size_t i = 0; ret == 0 && i < n_refs; i++)
		if (refs[i].selected && n_recs)
			ret = scan_ref(h, &refs[i], recs, n_recs, repo, now, err);
	refs_release(refs, n_refs);
	free(recs);
	return ret;
}
