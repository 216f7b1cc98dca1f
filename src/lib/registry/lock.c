/* SPDX-License-Identifier: MIT */
/*
 * Locks between hosts in a registry that offers no atomic operation, from tags and listing:
 * each holder keeps a note tag "cairn-lock-KIND-PROJECT-ID" while it runs. A user (a build with
 * a stages storage) writes its tag, then lists: a cleanup's tag there sends it away (its tag
 * removed) to wait and try again. A cleanup writes its tag, waits until every PUT racing with
 * it must have landed, then lists and waits until no user tag is left. Each writes before it
 * reads, so of a user and a cleanup that start together at least one sees the other: never
 * both run. Of two cleanups, the one with the smaller tag goes first. A tag past its
 * `cairn-lock-until` (a killed holder) counts for nothing.
 */
#include "common.h"
#include "cairn/registry.h"
#include "util/interrupt.h"
#include "util/json.h"

#include <ctype.h>
#include <time.h>
#include <unistd.h>

#define LOCK_PREFIX CAIRN_LOCK_TAG_PREFIX
/* how long a lock counts without its holder: a build or a cleanup longer than this is not
 * protected past it */
#define TTL_USE_SECS (6 * 3600)
#define TTL_CLEAN_SECS (2 * 3600)
/* a PUT racing with ours has landed by then (distribution answers a PUT once stored) */
#define SETTLE_MS 1000
#define POLL_MS 2000

struct cairn_registry_lock {
	struct cairn_registry_pool *pool; /* borrowed */
	struct cairn_ref repo;
	char *tag;
	const char *kind;	    /* "build" or "cleanup" */
	struct cairn_digest digest; /* of the note, for the DELETE */
};

struct lock_scan {
	const char *own;
	char *user_prefix, *clean_prefix;
	char **users, **cleans; /* other holders' tags */
	size_t n_users, n_cleans;
	struct cairn_digest *dead; /* notes of those found dead (released, expired) */
	size_t n_dead;
};

static void add(char ***v, size_t *n, const char *tag)
{
	*v = xgrow1(*v, *n, sizeof(**v));
	(*v)[(*n)++] = xstrdup(tag);
}

/*
 * Whether `tag` is PREFIX then the time (10 digits) and id (16 hex digits) of a lock: project
 * names hold '-', so "app"'s prefix also starts the tags of a project "app-web".
 */
static bool lock_of(const char *tag, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(tag, prefix, n) != 0 || strlen(tag + n) != 26)
		return false;
	for (size_t i = 0; i < 26; i++)
		if (!(i < 10 ? isdigit((unsigned char)tag[n + i])
			     : isxdigit((unsigned char)tag[n + i])))
			return false;
	return true;
}

static int collect(const char *tag, void *ud)
{
	struct lock_scan *s = ud;

	if (strcmp(tag, s->own) == 0)
		return 0;
	if (lock_of(tag, s->user_prefix))
		add(&s->users, &s->n_users, tag);
	else if (lock_of(tag, s->clean_prefix))
		add(&s->cleans, &s->n_cleans, tag);
	return 0;
}

static void scan_release(struct lock_scan *s)
{
	for (size_t i = 0; i < s->n_users; i++)
		free(s->users[i]);
	for (size_t i = 0; i < s->n_cleans; i++)
		free(s->cleans[i]);
	free(s->users);
	free(s->cleans);
	free(s->dead);
	free(s->user_prefix);
	free(s->clean_prefix);
}

static const char *str(json_t *labels, const char *key)
{
	const char *v = json_string_value(json_object_get(labels, key));

	return v ? v : "0";
}

/*
 * Whether lock tag `tag` still counts (its note is there and not past its time): `who` says.
 * The note of one that does not is added to s->dead.
 */
static int live(bool *out, char **who, struct cairn_registry_conn *c, const char *repo,
		const char *tag, struct lock_scan *s, struct cairn_error **err)
{
	cleanup_free char *raw = NULL;
	cleanup_json json_t *cfg = NULL;
	struct cairn_descriptor desc = {0};
	json_t *l;
	size_t len = 0;
	long long until;
	int ret = cairn_registry_image_config(c, repo, tag, &raw, &len, &desc, err);

	*out = false;
	*who = NULL;
	if (ret == CAIRN_ENOTFOUND || ret == CAIRN_EINVAL || ret == CAIRN_EDIGEST ||
	    (ret == 0 && !raw)) {
		cairn_error_clear(err);
		return 0;
	}
	if (ret < 0)
		return ret;
	if (cairn_json_parse(&cfg, raw, len, "lock note", err) < 0) {
		cairn_error_clear(err);
		return 0;
	}
	l = json_object_get(json_object_get(cfg, "config"), "Labels");
	until = atoll(str(l, "cairn-lock-until"));
	if (until < (long long)time(NULL)) {
		s->dead = xreallocarray(s->dead, s->n_dead + 1, sizeof(*s->dead));
		s->dead[s->n_dead++] = desc.digest;
		return 0;
	}
	*out = true;
	*who = xasprintf("%s on host '%s' (pid %s) since %s (tag '%s': a killed holder's counts "
			 "until %s)",
			 str(l, "cairn-lock-kind"), str(l, "cairn-lock-host"),
			 str(l, "cairn-lock-pid"), str(l, "cairn-lock-since"), tag,
			 str(l, "cairn-lock-until"));
	return 0;
}

/* The first live tag of `v` (for a cleanup: only those that sort before `before`), or NULL. */
static int first_live(char **who, struct cairn_registry_conn *c, const char *repo, char **v,
		      size_t n, const char *before, struct lock_scan *s, struct cairn_error **err)
{
	*who = NULL;
	for (size_t i = 0; i < n; i++) {
		bool is = false;
		int ret;

		if (before && strcmp(v[i], before) > 0)
			continue;
		ret = live(&is, who, c, repo, v[i], s, err);
		if (ret < 0 || is)
			return ret;
	}
	return 0;
}

/* Write the lock's note, counting for `ttl` seconds (< 0: a released lock, counting for nothing).
 */
static int put(struct cairn_registry_lock *l, struct cairn_registry_conn *c, int64_t ttl,
	       struct cairn_error **err)
{
	const char *kind = l->kind;
	char host[256] = "?", pid[32], until[32], since[64];
	time_t now = time(NULL);
	struct tm tm;
	const char *kv[] = {"cairn-lock-kind",	kind, "cairn-lock-host",  host,
			    "cairn-lock-pid",	pid,  "cairn-lock-since", since,
			    "cairn-lock-until", until};

	if (gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "?");
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	snprintf(until, sizeof(until), "%lld", ttl < 0 ? 0LL : (long long)now + (long long)ttl);
	gmtime_r(&now, &tm);
	strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return cairn_registry_put_note(c, l->repo.path, l->tag, kv, ARRAY_SIZE(kv) / 2, &l->digest,
				       err);
}

/*
 * Give the lock up: its tag removed, or where the registry or the credentials allow no
 * deleting, its note rewritten as released (a stages cleanup, which may delete, removes it).
 */
static void drop(struct cairn_registry_lock *l, struct cairn_registry_conn *c)
{
	struct cairn_error *e = NULL;
	int ret;

	if (!l->digest.str[0])
		return;
	ret = cairn_registry_manifest_delete(c, l->repo.path, &l->digest, &e);
	if (ret < 0 && ret != CAIRN_ENOTFOUND) {
		cairn_log(CAIRN_LOG_DEBUG, "%s/%s: lock '%s' not deleted (%s); marking it released",
			  l->repo.domain, l->repo.path, l->tag, e->msg);
		cairn_error_clear(&e);
		if (put(l, c, -1, &e) < 0)
			cairn_log(CAIRN_LOG_WARN, "%s/%s: could not release the lock '%s': %s",
				  l->repo.domain, l->repo.path, l->tag, e->msg);
	}
	cairn_error_free(e);
	l->digest.str[0] = 0;
}

void cairn_registry_unlock(struct cairn_registry_lock *l)
{
	struct cairn_registry_conn *c = NULL;
	struct cairn_registry *reg = NULL;
	struct cairn_error *e = NULL;

	if (!l)
		return;
	if (l->digest.str[0] && cairn_registry_pool_get(&reg, l->pool, l->repo.domain, &e) == 0 &&
	    cairn_registry_conn_get(&c, reg, &e) == 0) {
		drop(l, c);
		cairn_registry_conn_put(c);
	}
	cairn_error_free(e);
	cairn_ref_release(&l->repo);
	free(l->tag);
	free(l);
}

/*
 * One attempt: 1 when held, 0 to wait and try again (`*who` says for whom), 2 for a user whose
 * credentials may not write the lock (it goes on without), < 0 an error.
 */
static int attempt(struct cairn_registry_lock *l, struct cairn_registry_conn *c,
		   enum cairn_registry_lock_kind kind, struct lock_scan *s, char **who,
		   struct cairn_error **err)
{
	bool clean = kind == CAIRN_REGISTRY_LOCK_CLEAN;
	int ret = put(l, c, clean ? TTL_CLEAN_SECS : TTL_USE_SECS, err);

	if (ret == CAIRN_EAUTH && !clean) {
		cairn_log(CAIRN_LOG_WARN,
			  "%s/%s: no lock against stages cleanups (the credentials may not "
			  "push there): %s",
			  l->repo.domain, l->repo.path, (*err)->msg);
		cairn_error_clear(err);
		return 2;
	}
	if (ret == 0 && clean)
		cairn_interrupt_sleep(SETTLE_MS);
	if (ret == 0)
		ret = cairn_registry_tags_list(c, l->repo.path, collect, s, err);
	/* a user gives way to any cleanup; a cleanup to an earlier cleanup, and waits for users */
	if (ret == 0)
		ret = first_live(who, c, l->repo.path, s->cleans, s->n_cleans,
				 clean ? l->tag : NULL, s, err);
	if (ret == 0 && !*who && clean)
		ret = first_live(who, c, l->repo.path, s->users, s->n_users, NULL, s, err);
	if (ret < 0)
		return ret;
	if (*who)
		return 0;
	/* held: a cleanup removes the locks of killed holders and of builds that could not */
	for (size_t i = 0; clean && i < s->n_dead; i++) {
		struct cairn_error *e = NULL;

		if (cairn_registry_manifest_delete(c, l->repo.path, &s->dead[i], &e) < 0 &&
		    e->code != CAIRN_ENOTFOUND)
			cairn_log(CAIRN_LOG_DEBUG, "%s/%s: old lock %s not removed: %s",
				  l->repo.domain, l->repo.path, s->dead[i].str, e->msg);
		cairn_error_free(e);
	}
	return 1;
}

int cairn_registry_lock(struct cairn_registry_lock **out, struct cairn_registry_pool *pool,
			const char *repo, const char *project, enum cairn_registry_lock_kind kind,
			int64_t timeout_secs, struct cairn_error **err)
{
	struct cairn_registry_lock *l = xcalloc(1, sizeof(*l));
	struct cairn_registry_conn *c = NULL;
	struct cairn_registry *reg = NULL;
	const char *k = kind == CAIRN_REGISTRY_LOCK_CLEAN ? "clean" : "use";
	unsigned char rnd[8];
	char id[17];
	int64_t waited_ms = 0;
	bool said = false;
	int ret;

	*out = NULL;
	l->pool = pool;
	l->kind = kind == CAIRN_REGISTRY_LOCK_CLEAN ? "cleanup" : "build";
	if (getentropy(rnd, sizeof(rnd)) < 0)
		memset(rnd, (int)getpid(), sizeof(rnd));
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(id + 2 * i, 3, "%02x", rnd[i]);
	/* the time first: of two cleanups, the earlier sorts first */
	l->tag = xasprintf(LOCK_PREFIX "%s-%s-%010lld%s", k, project, (long long)time(NULL), id);
	ret = cairn_repo_parse(&l->repo, repo, err);
	if (ret == 0)
		ret = cairn_registry_pool_get(&reg, pool, l->repo.domain, err);
	if (ret == 0)
		ret = cairn_registry_conn_get(&c, reg, err);
	while (ret == 0) {
		struct lock_scan s = {.own = l->tag,
				      .user_prefix = xasprintf(LOCK_PREFIX "use-%s-", project),
				      .clean_prefix = xasprintf(LOCK_PREFIX "clean-%s-", project)};
		cleanup_free char *who = NULL;

		ret = attempt(l, c, kind, &s, &who, err);
		scan_release(&s);
		if (ret == 2) {
			cairn_registry_conn_put(c);
			cairn_registry_unlock(l);
			return 0;
		}
		if (ret == 1) {
			ret = 0;
			break;
		}
		if (ret < 0)
			break;
		/* a user steps back while it waits; a cleanup keeps its place */
		if (kind == CAIRN_REGISTRY_LOCK_USE)
			drop(l, c);
		if (timeout_secs >= 0 && waited_ms >= timeout_secs * 1000) {
			ret = cairn_error_set(
				err, CAIRN_EOS,
				"%s/%s: project '%s' is locked by a %s; gave up after "
				"%lld s (--lock-timeout)",
				l->repo.domain, l->repo.path, project, who,
				(long long)timeout_secs);
			break;
		}
		if (!said)
			cairn_log(CAIRN_LOG_INFO, "%s/%s: waiting for a %s", l->repo.domain,
				  l->repo.path, who);
		said = true;
		ret = cairn_interrupt_check(err);
		if (ret < 0)
			break;
		{
			long ms = POLL_MS;

			if (timeout_secs >= 0 && timeout_secs * 1000 - waited_ms < ms)
				ms = (long)(timeout_secs * 1000 - waited_ms);
			cairn_interrupt_sleep((unsigned long)ms);
			waited_ms += ms;
		}
	}
	if (ret < 0 && c)
		drop(l, c);
	if (c)
		cairn_registry_conn_put(c);
	if (ret < 0) {
		cairn_registry_unlock(l);
		return ret;
	}
	*out = l;
	return 0;
}
