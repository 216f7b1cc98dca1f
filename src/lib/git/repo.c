/* SPDX-License-Identifier: MIT */
/* Opening repositories: a local one where it is, a remote one through a bare clone in the cache. */
#include "common.h"
#include "git/git_internal.h"
#include "cairn/digest.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/parse.h"

#include <ctype.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

/* Turn the libgit2 error `gerr` (with its last message) into a cairn error. */
int cairn_git_fail(struct cairn_error **err, int gerr, enum cairn_code dflt, const char *fmt, ...)
{
	CLEANUP(cairn_buf_release) struct cairn_buf what = CAIRN_BUF_INIT;
	const git_error *e = git_error_last();
	enum cairn_code c = dflt;
	va_list ap;

	va_start(ap, fmt);
	cairn_buf_vaddf(&what, fmt, ap);
	va_end(ap);
	if (gerr == GIT_ENOTFOUND)
		c = CAIRN_ENOTFOUND;
	else if (gerr == GIT_EAUTH || gerr == GIT_ECERTIFICATE)
		c = CAIRN_EAUTH;
	else if (gerr == GIT_EINVALIDSPEC || gerr == GIT_EAMBIGUOUS)
		c = CAIRN_EINVAL;
	return cairn_error_set(err, c, "%s: %s", what.buf,
			       e && e->message ? e->message : "unknown libgit2 error");
}

int cairn_git_global_init(struct cairn_error **err)
{
	int ret = git_libgit2_init();

	if (ret < 0)
		return cairn_git_fail(err, ret, CAIRN_EINTERNAL, "start libgit2");
	ret = git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
	/*
	 * libgit2 maps pack files in windows and by default keeps up to 8 GiB of them mapped: a
	 * build of a large repository then holds most of its packs in memory. 16 MiB windows, 32
	 * MiB at most, keep a memory-limited CI container safe: the cold build of a 200 MiB pack
	 * peaked at 233 MB RSS before, 61 MB after, and took no longer.
	 */
	if (ret == 0)
		ret = git_libgit2_opts(GIT_OPT_SET_MWINDOW_SIZE, (size_t)16 * 1024 * 1024);
	if (ret == 0)
		ret = git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT, (size_t)32 * 1024 * 1024);
	if (ret == 0)
		ret = git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
	if (ret < 0) {
		ret = cairn_git_fail(err, ret, CAIRN_EINTERNAL, "configure libgit2");
		git_libgit2_shutdown();
		return ret;
	}
	return 0;
}

void cairn_git_global_cleanup(void)
{
	git_libgit2_shutdown();
}

/*
 * Repositories and identities
 */

/* The URL without "user[:password]@", in a new string. */
static char *url_strip_userinfo(const char *url)
{
	const char *sep = strstr(url, "://");
	const char *auth, *end, *at;
	const char *colon, *slash;

	if (sep) {
		auth = sep + 3;
		end = auth + strcspn(auth, "/");
		at = memrchr(auth, '@', (size_t)(end - auth));
		if (!at)
			return xstrdup(url);
		return xasprintf("%.*s%s", (int)(auth - url), url, at + 1);
	}
	/* scp-like "user@host:path": a ':' before any '/' */
	colon = strchr(url, ':');
	slash = strchr(url, '/');
	if (!colon || (slash && slash < colon))
		return xstrdup(url);
	at = memrchr(url, '@', (size_t)(colon - url));
	return xstrdup(at ? at + 1 : url);
}

char *cairn_git_url_normalise(const char *url)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	cleanup_free char *u = url_strip_userinfo(url);
	const char *sep = strstr(u, "://");
	const char *colon = strchr(u, ':');
	const char *slash = strchr(u, '/');
	const char *host_end = NULL;
	const char *p;

	if (sep)
		host_end = sep + 3 + strcspn(sep + 3, "/");
	else if (colon && (!slash || colon < slash))
		host_end = colon;
	for (p = u; *p; p++) {
		if (p < host_end)
			cairn_buf_addch(&b, (char)tolower((unsigned char)*p));
		else
			cairn_buf_addch(&b, *p);
	}
	while (b.len > 1 && b.buf[b.len - 1] == '/')
		cairn_buf_setlen(&b, b.len - 1);
	if (b.len > 4 && strcmp(b.buf + b.len - 4, ".git") == 0)
		cairn_buf_setlen(&b, b.len - 4);
	while (b.len > 1 && b.buf[b.len - 1] == '/')
		cairn_buf_setlen(&b, b.len - 1);
	return cairn_buf_detach(&b, NULL);
}

static struct cairn_git_repo *repo_new(git_repository *repo, const char *identity, const char *name)
{
	struct cairn_git_repo *r = xcalloc(1, sizeof(*r));

	r->repo = repo;
	r->identity = xstrdup(identity);
	r->name = xstrdup(name);
	return r;
}

int cairn_git_open(struct cairn_git_repo **out, const char *dir, struct cairn_error **err)
{
	CLEANUP(git_repository_freep) git_repository *repo = NULL;
	const char *name;
	int ret;

	*out = NULL;
	ret = git_repository_open_ext(&repo, dir, 0, NULL);
	if (ret < 0)
		return cairn_git_fail(err, ret, CAIRN_EINTERNAL, "open git repository at '%s'",
				      dir);
	name = git_repository_workdir(repo);
	if (!name)
		name = git_repository_path(repo);
	*out = repo_new(TAKE_PTR(repo), "local", name);
	return 0;
}

/*
 * remote.origin.url read from the configuration: git_remote_lookup() would match every entry
 * against a regex, and libgit2 1.5 with PCRE2 leaks the match data of each entry that fails.
 */
static int origin_url(char **out, const char *dir, struct cairn_error **err)
{
	CLEANUP(git_repository_freep) git_repository *repo = NULL;
	git_config *cfg = NULL;
	git_buf url = GIT_BUF_INIT;
	int ret;

	ret = git_repository_open_ext(&repo, dir, 0, NULL);
	if (ret < 0)
		return cairn_git_fail(err, ret, CAIRN_EINTERNAL, "open git repository at '%s'",
				      dir);
	ret = git_repository_config_snapshot(&cfg, repo);
	if (ret < 0)
		return cairn_git_fail(err, ret, CAIRN_EINTERNAL, "read the git config of '%s'",
				      dir);
	ret = git_config_get_string_buf(&url, cfg, "remote.origin.url");
	git_config_free(cfg);
	if (ret == GIT_ENOTFOUND)
		return 0;
	if (ret < 0)
		return cairn_git_fail(err, ret, CAIRN_EINTERNAL, "read remote 'origin' of '%s'",
				      dir);
	if (url.size)
		*out = xstrdup(url.ptr);
	git_buf_dispose(&url);
	return 0;
}

int cairn_git_origin_url(char **out, const char *dir, struct cairn_error **err)
{
	int ret;

	*out = NULL;
	ret = cairn_git_global_init(err);
	if (ret < 0)
		return ret;
	ret = origin_url(out, dir, err);
	cairn_git_global_cleanup();
	return ret;
}

/* One fetch: its credential tries and the watch over it (see watch_fetch). */
struct fetch_watch {
	int tries;
	pthread_t fetcher;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done, stalled;
	double last; /* when the remote last sent something (monotonic seconds) */
	unsigned timeout;
};

/* Credentials for a fetch: ssh through the agent; https uses what the URL carries. */
static int credentials_cb(git_credential **out, const char *url, const char *user_from_url,
			  unsigned int allowed, void *payload)
{
	struct fetch_watch *w = payload;
	const char *user = user_from_url ? user_from_url : "git";

	(void)url;
	if (++w->tries > 3)
		return GIT_EAUTH;
	if (allowed & GIT_CREDENTIAL_USERNAME)
		return git_credential_username_new(out, user);
	if (allowed & GIT_CREDENTIAL_SSH_KEY)
		return git_credential_ssh_key_from_agent(out, user);
	return GIT_PASSTHROUGH;
}

/* Make HEAD follow the remote's HEAD (a branch, else its commit); no HEAD is no error. */
static int follow_remote_head(git_repository *repo, git_remote *remote, const char *name,
			      struct cairn_error **err)
{
	git_buf branch = GIT_BUF_INIT;
	const git_remote_head **heads = NULL;
	size_t n = 0;
	int ret;

	ret = git_remote_default_branch(&branch, remote);
	if (ret == 0) {
		git_reference *ref = NULL;

		ret = git_reference_symbolic_create(&ref, repo, "HEAD", branch.ptr, 1,
						    "cairn: follow remote HEAD");
		git_reference_free(ref);
		git_buf_dispose(&branch);
		if (ret < 0)
			return cairn_git_fail(err, ret, CAIRN_EINTERNAL,
					      "set HEAD of the cache of '%s'", name);
		return 0;
	}
	git_buf_dispose(&branch);
	if (ret != GIT_ENOTFOUND)
		return cairn_git_fail(err, ret, CAIRN_ENET, "read the HEAD of '%s'", name);
	/* A detached remote HEAD, or an empty repository. */
	ret = git_remote_ls(&heads, &n, remote);
	if (ret < 0)
		return cairn_git_fail(err, ret, CAIRN_ENET, "list the refs of '%s'", name);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(heads[i]->name, "HEAD") != 0)
			continue;
		ret = git_repository_set_head_detached(repo, &heads[i]->oid);
		if (ret < 0)
			return cairn_git_fail(err, ret, CAIRN_EINTERNAL,
					      "set HEAD of the cache of '%s'", name);
	}
	return 0;
}

/*
 * libgit2 1.5 has no connect or read deadline, and its blocking recv(2) and connect(2) are
 * restarted after cairn's SA_RESTART signal handlers: a remote that stops answering held the
 * build forever, SIGTERM included. A watcher thread pokes the fetching thread with a signal
 * whose handler does nothing and is installed without SA_RESTART, so the blocked call fails
 * with EINTR and libgit2 gives up, once cairn is interrupted or the remote sent nothing for
 * CAIRN_GIT_TIMEOUT seconds (300 by default).
 */
#define GIT_TIMEOUT_DEFAULT 300
#define GIT_TIMEOUT_MAX 86400

static int poke_signal(void)
{
	return SIGRTMIN + 5;
}

static void on_poke(int sig)
{
	(void)sig;
}

static void install_poke(void)
{
	struct sigaction sa = {.sa_handler = on_poke}; /* no SA_RESTART: that is the point */

	sigemptyset(&sa.sa_mask);
	sigaction(poke_signal(), &sa, NULL);
}

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned git_timeout(void)
{
	const char *v = getenv("CAIRN_GIT_TIMEOUT");
	struct cairn_error *e = NULL;
	uint64_t n = 0;

	if (!v || !*v)
		return GIT_TIMEOUT_DEFAULT;
	if (cairn_parse_u64(&n, v, GIT_TIMEOUT_MAX, "CAIRN_GIT_TIMEOUT", &e) < 0 || n == 0) {
		cairn_log(CAIRN_LOG_WARN,
			  "CAIRN_GIT_TIMEOUT: not a number of seconds from 1 to %d; "
			  "%d s it is",
			  GIT_TIMEOUT_MAX, GIT_TIMEOUT_DEFAULT);
		cairn_error_free(e);
		return GIT_TIMEOUT_DEFAULT;
	}
	return (unsigned)n;
}

static void watch_alive(struct fetch_watch *w)
{
	pthread_mutex_lock(&w->lock);
	w->last = mono_now();
	pthread_mutex_unlock(&w->lock);
}

static void *watch_fetch(void *arg)
{
	struct fetch_watch *w = arg;

	pthread_mutex_lock(&w->lock);
	while (!w->done) {
		struct timespec until;

		if (cairn_interrupted() || mono_now() - w->last > w->timeout) {
			w->stalled = !cairn_interrupted();
			pthread_kill(w->fetcher, poke_signal());
		}
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += 200 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&w->cond, &w->lock, &until);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Start watching the calling thread's fetch; false when no watcher could start. */
static bool watch_start(struct fetch_watch *w, pthread_t *watcher)
{
	static pthread_once_t poke_once = PTHREAD_ONCE_INIT;
	pthread_condattr_t ca;

	pthread_once(&poke_once, install_poke);
	/* its waits count on the monotonic clock: a clock step cannot stretch them */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(watcher, NULL, watch_fetch, w) == 0)
		return true;
	pthread_cond_destroy(&w->cond);
	return false;
}

static void watch_stop(struct fetch_watch *w, pthread_t watcher)
{
	pthread_mutex_lock(&w->lock);
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(watcher, NULL);
	pthread_cond_destroy(&w->cond);
}

/* Called as the pack comes in: a non-zero return ends the fetch at a signal. */
static int fetch_progress(const git_indexer_progress *stats, void *payload)
{
	(void)stats;
	watch_alive(payload);
	return cairn_interrupted() ? -1 : 0;
}

/* The remote's own progress lines ("Counting objects"): it is alive. */
static int fetch_sideband(const char *str, int len, void *payload)
{
	(void)str;
	(void)len;
	watch_alive(payload);
	return cairn_interrupted() ? -1 : 0;
}

static int fetch_all(git_repository *repo, const char *url, const char *name,
		     struct cairn_error **err)
{
	char heads[] = "+refs/heads/*:refs/heads/*";
	char tags[] = "+refs/tags/*:refs/tags/*";
	char *specs[] = {heads, tags};
	git_strarray refspecs = {specs, ARRAY_SIZE(specs)};
	git_remote_create_options co;
	git_fetch_options fo;
	CLEANUP(git_remote_freep) git_remote *remote = NULL;
	struct fetch_watch w = {.fetcher = pthread_self(),
				.lock = PTHREAD_MUTEX_INITIALIZER,
				.last = mono_now(),
				.timeout = git_timeout()};
	pthread_t watcher;
	bool watching;
	int ret;

	/*
	 * An anonymous remote: nothing (credentials in the URL included) is written to the
	 * cache's config. url.<base>.insteadOf is not applied: libgit2 1.5.1 leaks a PCRE2 match
	 * block per config entry while looking for it (fixed upstream in libgit2 #6382), and a
	 * user's git config should not change what a build fetches anyway.
	 */
	ret = git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	if (ret == 0)
		ret = git_remote_create_options_init(&co, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	if (ret == 0) {
		co.repository = repo;
		co.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF;
		ret = git_remote_create_with_opts(&remote, url, &co);
	}
	if (ret < 0)
		return cairn_git_fail(err, ret, CAIRN_EINVAL, "fetch '%s'", name);
	fo.prune = GIT_FETCH_PRUNE;
	fo.update_fetchhead = 0;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL;
	fo.proxy_opts.type = GIT_PROXY_AUTO;
	fo.callbacks.credentials = credentials_cb;
	fo.callbacks.transfer_progress = fetch_progress;
	fo.callbacks.sideband_progress = fetch_sideband;
	fo.callbacks.payload = &w;
	watching = watch_start(&w, &watcher);
	ret = git_remote_fetch(remote, &refspecs, &fo, "cairn: fetch");
	if (watching)
		watch_stop(&w, watcher);
	if (ret < 0 && cairn_interrupt_check(err) < 0)
		return cairn_error_wrap(err, "fetch '%s'", name);
	if (ret < 0 && w.stalled)
		return cairn_error_set(err, CAIRN_ENET,
				       "fetch '%s': the remote sent nothing for %u s "
				       "(CAIRN_GIT_TIMEOUT)",
				       name, w.timeout);
	if (ret < 0)
		return cairn_git_fail(err, ret, CAIRN_ENET, "fetch '%s'", name);
	return follow_remote_head(repo, remote, name, err);
}

static int rm_rf(const char *path, struct cairn_error **err)
{
	return cairn_fs_remove_tree(AT_FDCWD, path, err);
}

/* Clone into "<path>.tmp" and rename, so a crash never leaves a half-made cache behind. */
static int clone_bare(const char *path, const char *url, const char *name, struct cairn_error **err)
{
	cleanup_free char *tmp = xasprintf("%s.tmp", path);
	git_repository *repo = NULL;
	int ret;

	ret = rm_rf(tmp, err);
	if (ret < 0)
		return ret;
	ret = git_repository_init(&repo, tmp, 1);
	if (ret < 0)
		return cairn_git_fail(err, ret, CAIRN_EOS, "create git cache '%s'", tmp);
	ret = fetch_all(repo, url, name, err);
	git_repository_free(repo);
	if (ret < 0) {
		rm_rf(tmp, NULL);
		return ret;
	}
	if (rename(tmp, path) < 0) {
		ret = cairn_error_set_errno(err, "rename '%s' to '%s'", tmp, path);
		rm_rf(tmp, NULL);
		return ret;
	}
	return 0;
}

int cairn_git_open_remote(struct cairn_git_repo **out, const char *url, const char *cache_dir,
			  struct cairn_error **err)
{
	cleanup_free char *key = url_strip_userinfo(url);
	cleanup_free char *name = cairn_git_url_normalise(url);
	cleanup_free char *path = NULL;
	cleanup_free char *lock = NULL;
	cleanup_close int lock_fd = -1;
	CLEANUP(git_repository_freep) git_repository *repo = NULL;
	struct cairn_digest dg;
	int ret;

	*out = NULL;
	ret = cairn_fs_mkdirs_at(AT_FDCWD, cache_dir, 0755, err);
	if (ret < 0)
		return cairn_error_wrap(err, "git cache of '%s'", name);
	cairn_digest_of(&dg, key, strlen(key));
	path = xasprintf("%s/%s", cache_dir, cairn_digest_hex(&dg));
	lock = xasprintf("%s.lock", path);
	lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lock_fd < 0)
		return cairn_error_set_errno(err, "lock git cache '%s'", lock);
	ret = cairn_fs_flock(lock_fd, LOCK_EX, lock, err);
	if (ret < 0)
		return cairn_error_wrap(err, "git cache of '%s'", name);
	if (access(path, F_OK) == 0) {
		ret = git_repository_open_bare(&repo, path);
		if (ret < 0) {
			cairn_log(CAIRN_LOG_WARN, "git cache '%s' is broken, cloning again", path);
			ret = rm_rf(path, err);
			if (ret < 0)
				return ret;
		}
	}
	if (repo) {
		cairn_log(CAIRN_LOG_DEBUG, "git: fetch '%s' into '%s'", name, path);
		ret = fetch_all(repo, url, name, err);
	} else {
		cairn_log(CAIRN_LOG_DEBUG, "git: clone '%s' into '%s'", name, path);
		ret = clone_bare(path, url, name, err);
		if (ret == 0) {
			ret = git_repository_open_bare(&repo, path);
			if (ret < 0)
				return cairn_git_fail(err, ret, CAIRN_EINTERNAL,
						      "open git cache '%s'", path);
		}
	}
	if (ret < 0)
		return ret;
	*out = repo_new(TAKE_PTR(repo), name, name);
	(*out)->url = xstrdup(url);
	(*out)->cache_dir = xstrdup(cache_dir);
	return 0;
}

void cairn_git_free(struct cairn_git_repo *r)
{
	if (!r)
		return;
	git_odb_free(r->odb);
	git_repository_free(r->objects);
	git_repository_free(r->repo);
	for (size_t i = 0; i < r->n_subs; i++) {
		free(r->subs[i]->key);
		free(r->subs[i]->gitdir);
		free(r->subs[i]->url);
		free(r->subs[i]->name);
		free(r->subs[i]);
	}
	free(r->subs);
	for (size_t i = 0; i < r->n_ctxs; i++) {
		cairn_git_modules_release(r->ctxs[i]->mods, r->ctxs[i]->n_mods);
		free(r->ctxs[i]->root);
		free(r->ctxs[i]);
	}
	free(r->ctxs);
	free(r->identity);
	free(r->name);
	free(r->url);
	free(r->cache_dir);
	free(r);
}

const char *cairn_git_identity(const struct cairn_git_repo *r)
{
	return r->identity;
}

/* Where trees and blobs are read: the repository, or it and its submodules. */
git_repository *cairn_git_objects(struct cairn_git_repo *r)
{
	return r->objects ? r->objects : r->repo;
}

int cairn_git_odb(git_odb **out, struct cairn_git_repo *r, struct cairn_error **err)
{
	int ret;

	if (!r->odb) {
		ret = git_repository_odb(&r->odb, cairn_git_objects(r));
		if (ret < 0)
			return cairn_git_fail(err, ret, CAIRN_EINTERNAL, "open the objects of '%s'",
					      r->name);
	}
	*out = r->odb;
	return 0;
}
