/* SPDX-License-Identifier: MIT */
/* Git sources over libgit2: repositories, revisions, path selection, layers and checksums. */
#include "common.h"
#include "git/git.h"
#include "build/layer.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/sha256.h"

#include <ctype.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <git2.h>

/* Deeper trees are refused rather than recursed into (a hostile repository could nest forever). */
#define TREE_DEPTH_MAX 1024

DEFINE_FREEP(git_repository, git_repository_free)
DEFINE_FREEP(git_remote, git_remote_free)
DEFINE_FREEP(git_reference, git_reference_free)
DEFINE_FREEP(git_object, git_object_free)
DEFINE_FREEP(git_commit, git_commit_free)
DEFINE_FREEP(git_tree, git_tree_free)
DEFINE_FREEP(git_blob, git_blob_free)
DEFINE_FREEP(git_revwalk, git_revwalk_free)

/* A submodule's repository: found in the project's git directory, or fetched into the cache. */
struct subrepo {
	char *key;    /* the path it was found at (local), or its URL (remote) */
	char *gitdir; /* its git directory; a local one holds its own submodules' under modules/ */
	char *url;    /* remote: its URL (it may hold credentials: never printed); local: NULL */
	char *name;   /* for messages: the git directory or the normalised URL */
};

/* One entry of a .gitmodules file. */
struct gitmodule {
	char *name;
	char *path; /* NULL when not given */
	char *url;  /* NULL when not given */
};

/*
 * A repository at a commit, as the walk meets it: the project's own tree, or below a gitlink
 * a submodule's. Kept for the life of the cairn_git_repo, so that nodes can point at it.
 */
struct modctx {
	struct subrepo *repo; /* NULL: the repository itself */
	git_oid commit;
	char *root;  /* where its tree is in the project's tree: "" or "vendor/lib" */
	bool loaded; /* its .gitmodules is read into mods */
	struct gitmodule *mods;
	size_t n_mods;
};

struct cairn_git_repo {
	git_repository *repo;
	git_odb *odb;	 /* of objects_of(), opened on first use */
	char *identity;	 /* "local" or the normalised URL */
	char *name;	 /* for messages: work tree path or the normalised URL */
	char *url;	 /* remote: the URL as given (may hold credentials); local: NULL */
	char *cache_dir; /* remote: the cache, where its submodules are fetched too */
	/*
	 * Trees and blobs are read through `objects`: the repository's objects and, as alternates,
	 * those of every submodule met so far (NULL until the first). Object ids name contents,
	 * so one database serves them all; revisions and refs stay the repository's own.
	 */
	git_repository *objects;
	struct subrepo **subs;
	size_t n_subs;
	struct modctx **ctxs;
	size_t n_ctxs;
	/* memo of cairn_git_latest_reset() */
	bool reset_valid;
	git_oid reset_for;
	char reset_hex[CAIRN_GIT_HEX_MAX];
};

static void modules_release(struct gitmodule *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].path);
		free(v[i].url);
	}
	free(v);
}

static int git_fail(struct cairn_error **err, int gerr, enum cairn_code dflt, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Turn the libgit2 error `gerr` (with its last message) into a cairn error. */
static int git_fail(struct cairn_error **err, int gerr, enum cairn_code dflt, const char *fmt, ...)
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
		return git_fail(err, ret, CAIRN_EINTERNAL, "start libgit2");
	ret = git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
	if (ret < 0) {
		ret = git_fail(err, ret, CAIRN_EINTERNAL, "configure libgit2");
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
		return git_fail(err, ret, CAIRN_EINTERNAL, "open git repository at '%s'", dir);
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
		return git_fail(err, ret, CAIRN_EINTERNAL, "open git repository at '%s'", dir);
	ret = git_repository_config_snapshot(&cfg, repo);
	if (ret < 0)
		return git_fail(err, ret, CAIRN_EINTERNAL, "read the git config of '%s'", dir);
	ret = git_config_get_string_buf(&url, cfg, "remote.origin.url");
	git_config_free(cfg);
	if (ret == GIT_ENOTFOUND)
		return 0;
	if (ret < 0)
		return git_fail(err, ret, CAIRN_EINTERNAL, "read remote 'origin' of '%s'", dir);
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

/* Credentials for a fetch: ssh through the agent; https uses what the URL carries. */
static int credentials_cb(git_credential **out, const char *url, const char *user_from_url,
			  unsigned int allowed, void *payload)
{
	int *tries = payload;
	const char *user = user_from_url ? user_from_url : "git";

	(void)url;
	if (++*tries > 3)
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
			return git_fail(err, ret, CAIRN_EINTERNAL, "set HEAD of the cache of '%s'",
					name);
		return 0;
	}
	git_buf_dispose(&branch);
	if (ret != GIT_ENOTFOUND)
		return git_fail(err, ret, CAIRN_ENET, "read the HEAD of '%s'", name);
	/* A detached remote HEAD, or an empty repository. */
	ret = git_remote_ls(&heads, &n, remote);
	if (ret < 0)
		return git_fail(err, ret, CAIRN_ENET, "list the refs of '%s'", name);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(heads[i]->name, "HEAD") != 0)
			continue;
		ret = git_repository_set_head_detached(repo, &heads[i]->oid);
		if (ret < 0)
			return git_fail(err, ret, CAIRN_EINTERNAL, "set HEAD of the cache of '%s'",
					name);
	}
	return 0;
}

/* Called as the pack comes in: a non-zero return ends the fetch at a signal. */
static int fetch_progress(const git_indexer_progress *stats, void *payload)
{
	(void)stats;
	(void)payload;
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
	int tries = 0;
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
		return git_fail(err, ret, CAIRN_EINVAL, "fetch '%s'", name);
	fo.prune = GIT_FETCH_PRUNE;
	fo.update_fetchhead = 0;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL;
	fo.proxy_opts.type = GIT_PROXY_AUTO;
	fo.callbacks.credentials = credentials_cb;
	fo.callbacks.transfer_progress = fetch_progress;
	fo.callbacks.payload = &tries;
	ret = git_remote_fetch(remote, &refspecs, &fo, "cairn: fetch");
	if (ret < 0 && cairn_interrupt_check(err) < 0)
		return cairn_error_wrap(err, "fetch '%s'", name);
	if (ret < 0)
		return git_fail(err, ret, CAIRN_ENET, "fetch '%s'", name);
	return follow_remote_head(repo, remote, name, err);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static int rm_rf(const char *path, struct cairn_error **err)
{
	if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		return cairn_error_set_errno(err, "remove '%s'", path);
	return 0;
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
		return git_fail(err, ret, CAIRN_EOS, "create git cache '%s'", tmp);
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
	while (flock(lock_fd, LOCK_EX) < 0) {
		if (errno != EINTR)
			return cairn_error_set_errno(err, "lock git cache '%s'", lock);
	}
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
				return git_fail(err, ret, CAIRN_EINTERNAL, "open git cache '%s'",
						path);
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
		modules_release(r->ctxs[i]->mods, r->ctxs[i]->n_mods);
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
static git_repository *objects_of(struct cairn_git_repo *r)
{
	return r->objects ? r->objects : r->repo;
}

static int repo_odb(git_odb **out, struct cairn_git_repo *r, struct cairn_error **err)
{
	int ret;

	if (!r->odb) {
		ret = git_repository_odb(&r->odb, objects_of(r));
		if (ret < 0)
			return git_fail(err, ret, CAIRN_EINTERNAL, "open the objects of '%s'",
					r->name);
	}
	*out = r->odb;
	return 0;
}

/*
 * Revisions
 */

static int parse_oid(git_oid *out, const char *hex, struct cairn_error **err)
{
	if (!hex || strlen(hex) != 40 || strspn(hex, "0123456789abcdef") != 40 ||
	    git_oid_fromstr(out, hex) < 0)
		return cairn_error_set(err, CAIRN_EINVAL,
				       "commit '%s': not 40 lowercase hex digits", hex ? hex : "");
	return 0;
}

static int lookup_commit(git_commit **out, struct cairn_git_repo *r, const char *hex,
			 struct cairn_error **err)
{
	git_oid oid;
	int ret;

	*out = NULL;
	ret = parse_oid(&oid, hex, err);
	if (ret < 0)
		return ret;
	ret = git_commit_lookup(out, r->repo, &oid);
	if (ret < 0)
		return git_fail(err, ret, CAIRN_EINTERNAL, "look up commit '%s' in '%s'", hex,
				r->name);
	return 0;
}

bool cairn_git_has_commit(struct cairn_git_repo *r, const char *hex)
{
	git_commit *c = NULL;
	git_oid oid;

	if (parse_oid(&oid, hex, NULL) < 0 || git_commit_lookup(&c, r->repo, &oid) < 0)
		return false;
	git_commit_free(c);
	return true;
}

int cairn_git_head(char *out, char **branch_out, struct cairn_git_repo *r, struct cairn_error **err)
{
	CLEANUP(git_reference_freep) git_reference *head = NULL;
	CLEANUP(git_object_freep) git_object *obj = NULL;
	int ret;

	out[0] = '\0';
	if (branch_out)
		*branch_out = NULL;
	ret = git_repository_head(&head, r->repo);
	if (ret == GIT_EUNBORNBRANCH || ret == GIT_ENOTFOUND)
		return cairn_error_set(err, CAIRN_ENOTFOUND, "HEAD of '%s': no commit yet",
				       r->name);
	if (ret < 0)
		return git_fail(err, ret, CAIRN_EINTERNAL, "read HEAD of '%s'", r->name);
	ret = git_reference_peel(&obj, head, GIT_OBJECT_COMMIT);
	if (ret < 0)
		return git_fail(err, ret, CAIRN_EINTERNAL, "read HEAD of '%s'", r->name);
	git_oid_tostr(out, CAIRN_GIT_HEX_MAX, git_object_id(obj));
	if (branch_out && git_reference_is_branch(head))
		*branch_out = xstrdup(git_reference_shorthand(head));
	return 0;
}

static int resolve_hex(char *out, struct cairn_git_repo *r, const char *commit,
		       struct cairn_error **err)
{
	CLEANUP(git_object_freep) git_object *obj = NULL;
	CLEANUP(git_object_freep) git_object *peeled = NULL;
	size_t len = strlen(commit);
	git_oid oid;
	int ret;

	if (len < 4 || len > 40 || strspn(commit, "0123456789abcdefABCDEF") != len ||
	    git_oid_fromstrn(&oid, commit, len) < 0)
		return cairn_error_set(err, CAIRN_EINVAL, "commit '%s': not 4 to 40 hex digits",
				       commit);
	ret = git_object_lookup_prefix(&obj, r->repo, &oid, len, GIT_OBJECT_ANY);
	if (ret == GIT_ENOTFOUND)
		return cairn_error_set(err, CAIRN_ENOTFOUND, "commit '%s' not found in '%s'",
				       commit, r->name);
	if (ret < 0)
		return git_fail(err, ret, CAIRN_EINTERNAL, "look up commit '%s' in '%s'", commit,
				r->name);
	ret = git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT);
	if (ret < 0)
		return git_fail(err, ret, CAIRN_EINVAL, "commit '%s' in '%s'", commit, r->name);
	git_oid_tostr(out, CAIRN_GIT_HEX_MAX, git_object_id(peeled));
	return 0;
}

int cairn_git_resolve(char *out, struct cairn_git_repo *r, const char *branch, const char *tag,
		      const char *commit, struct cairn_error **err)
{
	CLEANUP(git_reference_freep) git_reference *ref = NULL;
	CLEANUP(git_object_freep) git_object *obj = NULL;
	cleanup_free char *refname = NULL;
	const char *what = branch ? "branch" : "tag";
	const char *short_name = branch ? branch : tag;
	int valid = 0;
	int ret;

	out[0] = '\0';
	if (!!branch + !!tag + !!commit > 1)
		return cairn_error_set(err, CAIRN_EINVAL,
				       "revision: at most one of branch, tag and commit");
	if (commit)
		return resolve_hex(out, r, commit, err);
	if (!branch && !tag)
		return cairn_git_head(out, NULL, r, err);
	refname = xasprintf("refs/%s/%s", branch ? "heads" : "tags", short_name);
	if (git_reference_name_is_valid(&valid, refname) < 0 || !valid)
		return cairn_error_set(err, CAIRN_EINVAL, "%s '%s': not a valid name", what,
				       short_name);
	ret = git_reference_lookup(&ref, r->repo, refname);
	if (ret == GIT_ENOTFOUND)
		return cairn_error_set(err, CAIRN_ENOTFOUND, "%s '%s' not found in '%s'", what,
				       short_name, r->name);
	if (ret < 0)
		return git_fail(err, ret, CAIRN_EINTERNAL, "%s '%s' in '%s'", what, short_name,
				r->name);
	ret = git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT);
	if (ret < 0)
		return git_fail(err, ret, CAIRN_EINVAL, "%s '%s' in '%s'", what, short_name,
				r->name);
	git_oid_tostr(out, CAIRN_GIT_HEX_MAX, git_object_id(obj));
	return 0;
}

int cairn_git_has_submodules(bool *out, struct cairn_git_repo *r, const char *commit,
			     struct cairn_error **err)
{
	CLEANUP(git_commit_freep) git_commit *c = NULL;
	CLEANUP(git_tree_freep) git_tree *tree = NULL;
	int ret;

	*out = false;
	ret = lookup_commit(&c, r, commit, err);
	if (ret < 0)
		return ret;
	ret = git_commit_tree(&tree, c);
	if (ret < 0)
		return git_fail(err, ret, CAIRN_EINTERNAL, "tree of commit '%s'", commit);
	*out = git_tree_entry_byname(tree, ".gitmodules") != NULL;
	return 0;
}

int cairn_git_commit_time(int64_t *out, struct cairn_git_repo *r, const char *commit,
			  struct cairn_error **err)
{
	CLEANUP(git_commit_freep) git_commit *c = NULL;
	int ret;

	*out = 0;
	ret = lookup_commit(&c, r, commit, err);
	if (ret < 0)
		return ret;
	*out = (int64_t)git_commit_time(c);
	return 0;
}

/* Does a raw commit object's message (after the headers' blank line) ask for a reset? */
static bool is_reset_commit(const char *raw, size_t len)
{
	const char *msg = memmem(raw, len, "\n\n", 2);
	size_t n;

	if (!msg)
		return false;
	msg += 2;
	n = len - (size_t)(msg - raw);
	return memmem(msg, n, "[cairn reset]", 13) || memmem(msg, n, "[werf reset]", 12);
}

/*
 * The newest reset commit reachable from `start` but not from `hide` (may be NULL), in
 * committer-time order, as hex into `found` ("" when none).
 */
static int reset_walk(char *found, struct cairn_git_repo *r, const git_oid *start,
		      const git_oid *hide, struct cairn_error **err)
{
	CLEANUP(git_revwalk_freep) git_revwalk *walk = NULL;
	git_odb *odb = NULL;
	git_oid cur;
	size_t n = 0;
	int ret;

	found[0] = '\0';
	ret = repo_odb(&odb, r, err);
	if (ret < 0)
		return ret;
	ret = git_revwalk_new(&walk, r->repo);
	if (ret == 0)
		ret = git_revwalk_sorting(walk, GIT_SORT_TIME);
	if (ret == 0)
		ret = git_revwalk_push(walk, start);
	if (ret == 0 && hide)
		ret = git_revwalk_hide(walk, hide);
	if (ret < 0)
		return git_fail(err, ret, CAIRN_EINTERNAL, "walk the history of '%s'", r->name);
	/* raw objects: git_commit_lookup() would parse each commit, several times slower */
	while (n < CAIRN_GIT_RESET_WALK_MAX) {
		git_odb_object *obj = NULL;
		bool hit;

		ret = git_revwalk_next(&cur, walk);
		if (ret == GIT_ITEROVER)
			return 0;
		if (ret == 0)
			ret = git_odb_read(&obj, odb, &cur);
		if (ret < 0)
			return git_fail(err, ret, CAIRN_EINTERNAL, "walk the history of '%s'",
					r->name);
		n++;
		hit = is_reset_commit(git_odb_object_data(obj), git_odb_object_size(obj));
		git_odb_object_free(obj);
		if (hit) {
			git_oid_tostr(found, CAIRN_GIT_HEX_MAX, &cur);
			return 0;
		}
	}
	cairn_log(CAIRN_LOG_DEBUG, "git: no reset commit among the %d newest of '%s'",
		  CAIRN_GIT_RESET_WALK_MAX, r->name);
	return 0;
}

/* Answer `found` ("" or 40 hex digits) for `start`, and remember it. */
static void reset_memo(char *out, struct cairn_git_repo *r, const git_oid *start, const char *found)
{
	size_t len = strlen(found) + 1;

	assert(len <= CAIRN_GIT_HEX_MAX);
	r->reset_valid = true;
	r->reset_for = *start;
	memcpy(r->reset_hex, found, len);
	memcpy(out, found, len);
}

int cairn_git_latest_reset(char *out, struct cairn_git_repo *r, const char *commit,
			   struct cairn_error **err)
{
	char found[CAIRN_GIT_HEX_MAX];
	git_oid start;
	int ret;

	out[0] = '\0';
	ret = parse_oid(&start, commit, err);
	if (ret < 0)
		return ret;
	if (r->reset_valid && git_oid_equal(&r->reset_for, &start)) {
		memcpy(out, r->reset_hex, CAIRN_GIT_HEX_MAX);
		return 0;
	}
	ret = reset_walk(found, r, &start, NULL, err);
	if (ret < 0)
		return cairn_error_wrap(err, "reset commits of '%s'", commit);
	reset_memo(out, r, &start, found);
	return 0;
}

int cairn_git_latest_reset_since(char *out, struct cairn_git_repo *r, const char *commit,
				 const char *base, const char *base_reset, struct cairn_error **err)
{
	CLEANUP(git_commit_freep) git_commit *found_c = NULL;
	CLEANUP(git_commit_freep) git_commit *base_c = NULL;
	char found[CAIRN_GIT_HEX_MAX];
	git_oid start, base_oid, reset_oid;
	int ret;

	out[0] = '\0';
	ret = parse_oid(&start, commit, err);
	if (ret == 0)
		ret = parse_oid(&base_oid, base, err);
	if (ret == 0 && base_reset[0])
		ret = parse_oid(&reset_oid, base_reset, err);
	if (ret < 0)
		return ret;
	if (git_oid_equal(&start, &base_oid)) {
		reset_memo(out, r, &start, base_reset);
		return 0;
	}
	ret = git_graph_descendant_of(r->repo, &start, &base_oid);
	if (ret < 0)
		return git_fail(err, ret, CAIRN_EINTERNAL, "reset commits of '%s'", commit);
	if (ret == 0) {
		/* history was rewritten: the earlier answer says nothing */
		return cairn_git_latest_reset(out, r, commit, err);
	}
	ret = reset_walk(found, r, &start, &base_oid, err);
	if (ret < 0)
		return cairn_error_wrap(err, "reset commits of '%s'", commit);
	if (found[0] && base_reset[0]) {
		/* the newer of the two by committer time, as a whole walk would find */
		ret = lookup_commit(&found_c, r, found, err);
		if (ret == 0)
			ret = lookup_commit(&base_c, r, base_reset, err);
		if (ret < 0)
			return ret;
		if (git_commit_time(base_c) > git_commit_time(found_c))
			memcpy(found, base_reset, CAIRN_GIT_HEX_MAX);
	} else if (!found[0]) {
		memcpy(found, base_reset, strlen(base_reset) + 1);
	}
	reset_memo(out, r, &start, found);
	return 0;
}

/*
 * Submodules
 *
 * A gitlink (a tree entry of mode 160000) names a commit of another repository, and its files
 * are that commit's tree, as `git submodule update` checks them out. The .gitmodules file of the
 * commit that holds the gitlink says which repository: the entry whose path is the gitlink's,
 * whose name places a local submodule's git directory (`.git/modules/<name>`) and whose URL a
 * remote one's.
 */

/* What a project whose submodules are not checked out needs. */
#define UPDATE_HINT " (run 'git submodule update --init --recursive')"

/* git's config syntax (its config.c), as far as .gitmodules needs it. */
struct cfg_in {
	const unsigned char *p, *end;
	unsigned int line;
	bool eof;
};

/* The next character: "\r\n" reads as '\n', and past the end every read is '\n'. */
static int cfg_next(struct cfg_in *in)
{
	int c;

	if (in->p == in->end) {
		in->eof = true;
		return '\n';
	}
	c = *in->p++;
	if (c == '\r' && in->p < in->end && *in->p == '\n')
		c = *in->p++;
	if (c == '\n')
		in->line++;
	return c;
}

static bool cfg_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool cfg_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool cfg_keychar(int c)
{
	return cfg_alpha(c) || (c >= '0' && c <= '9') || c == '-';
}

static char cfg_lower(int c)
{
	return (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

/* A section header after its '[', as "section" or "section.sub" into `var`; -1: malformed. */
static int cfg_section(struct cfg_in *in, struct cairn_buf *var)
{
	int c;

	cairn_buf_reset(var);
	for (;;) {
		c = cfg_next(in);
		if (in->eof)
			return -1;
		if (c == ']')
			return 0;
		if (cfg_space(c))
			break;
		if (!cfg_keychar(c) && c != '.')
			return -1;
		cairn_buf_addch(var, cfg_lower(c));
	}
	/* [section "subsection"]: the subsection keeps its case, '\' quotes a character */
	while (cfg_space(c)) {
		if (c == '\n')
			return -1;
		c = cfg_next(in);
	}
	if (c != '"')
		return -1;
	cairn_buf_addch(var, '.');
	for (;;) {
		c = cfg_next(in);
		if (c == '\n')
			return -1;
		if (c == '"')
			break;
		if (c == '\\') {
			c = cfg_next(in);
			if (c == '\n')
				return -1;
		}
		cairn_buf_addch(var, (char)c);
	}
	return cfg_next(in) == ']' ? 0 : -1;
}

/* A value after its '=': quotes, escapes, comments and continued lines; -1: malformed. */
static int cfg_value(struct cfg_in *in, struct cairn_buf *v)
{
	bool quote = false, comment = false;
	size_t space = 0;
	int c;

	cairn_buf_reset(v);
	for (;;) {
		c = cfg_next(in);
		if (c == '\n')
			return quote ? -1 : 0;
		if (comment)
			continue;
		if (cfg_space(c) && !quote) {
			space += v->len > 0;
			continue;
		}
		if (!quote && (c == ';' || c == '#')) {
			comment = true;
			continue;
		}
		for (; space; space--)
			cairn_buf_addch(v, ' ');
		if (c == '"') {
			quote = !quote;
			continue;
		}
		if (c == '\\') {
			c = cfg_next(in);
			if (c == '\n')
				continue;
			if (c == 't')
				c = '\t';
			else if (c == 'b')
				c = '\b';
			else if (c == 'n')
				c = '\n';
			else if (c != '\\' && c != '"')
				return -1;
		}
		cairn_buf_addch(v, (char)c);
	}
}

/* Keep submodule.<name>.path and .url; the first value of each wins, as git reads a commit's. */
static void modules_set(struct gitmodule **v, size_t *n, const char *var, const char *value)
{
	const char *dot = strchr(var, '.'), *last = strrchr(var, '.');
	struct gitmodule *m = NULL;
	size_t name_len;
	char **field;

	if (!dot || dot == last || dot - var != 9 || strncmp(var, "submodule", 9) != 0)
		return;
	/* git warns about and skips a value that could pass for a command-line option */
	if (!value || value[0] == '-')
		return;
	if (strcmp(last + 1, "path") != 0 && strcmp(last + 1, "url") != 0)
		return;
	name_len = (size_t)(last - dot - 1);
	for (size_t i = 0; i < *n && !m; i++) {
		if (strlen((*v)[i].name) == name_len &&
		    memcmp((*v)[i].name, dot + 1, name_len) == 0)
			m = &(*v)[i];
	}
	if (!m) {
		*v = xreallocarray(*v, *n + 1, sizeof(**v));
		m = &(*v)[(*n)++];
		memset(m, 0, sizeof(*m));
		m->name = xstrndup(dot + 1, name_len);
	}
	field = strcmp(last + 1, "path") == 0 ? &m->path : &m->url;
	if (!*field)
		*field = xstrdup(value);
}

/* One section header or "key [= value]" starting with `c`; -1: malformed. */
static int cfg_item(struct cfg_in *in, int c, struct cairn_buf *var, size_t *base,
		    struct cairn_buf *value, struct gitmodule **v, size_t *n)
{
	if (c == '[') {
		if (cfg_section(in, var) < 0)
			return -1;
		cairn_buf_addch(var, '.');
		*base = var->len;
		return 0;
	}
	if (!cfg_alpha(c))
		return -1;
	cairn_buf_setlen(var, *base);
	cairn_buf_addch(var, cfg_lower(c));
	for (;;) {
		c = cfg_next(in);
		if (in->eof || !cfg_keychar(c))
			break;
		cairn_buf_addch(var, cfg_lower(c));
	}
	while (c == ' ' || c == '\t')
		c = cfg_next(in);
	if (c == '\n') {
		modules_set(v, n, var->buf, NULL);
		return 0;
	}
	if (c != '=' || cfg_value(in, value) < 0)
		return -1;
	modules_set(v, n, var->buf, value->buf);
	return 0;
}

/* The entries of a .gitmodules file; CAIRN_EINVAL naming the line of a malformed one. */
static int modules_parse(struct gitmodule **out, size_t *n_out, const char *text, size_t len,
			 struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf var = CAIRN_BUF_INIT;
	CLEANUP(cairn_buf_release) struct cairn_buf value = CAIRN_BUF_INIT;
	struct cfg_in in = {(const unsigned char *)text, (const unsigned char *)text + len, 1, 0};
	bool comment = false;
	size_t base = 0;

	*out = NULL;
	*n_out = 0;
	if (memchr(text, '\0', len))
		return cairn_error_set(err, CAIRN_EINVAL, "'.gitmodules': a NUL byte");
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		in.p += 3;
	for (;;) {
		unsigned int line = in.line;
		int c = cfg_next(&in);

		if (c == '\n' && in.eof)
			return 0;
		if (c == '\n') {
			comment = false;
		} else if (comment || cfg_space(c)) {
			continue;
		} else if (c == '#' || c == ';') {
			comment = true;
		} else if (cfg_item(&in, c, &var, &base, &value, out, n_out) < 0) {
			modules_release(*out, *n_out);
			*out = NULL;
			*n_out = 0;
			return cairn_error_set(err, CAIRN_EINVAL,
					       "'.gitmodules': bad config line %u", line);
		}
	}
}

/* git's check_submodule_name(): the name is a path below modules/, so no ".." component. */
static bool module_name_ok(const char *name)
{
	const char *p = name;

	if (!*name)
		return false;
	for (;;) {
		if (p[0] == '.' && p[1] == '.' && (!p[2] || p[2] == '/' || p[2] == '\\'))
			return false;
		p += strcspn(p, "/\\");
		if (!*p)
			return true;
		p++;
	}
}

/* A submodule URL "./x" or "../x" is relative to the superproject's, as git resolves it. */
static char *url_resolve(const char *base, const char *url)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	bool colon = false;

	if (strncmp(url, "./", 2) != 0 && strncmp(url, "../", 3) != 0)
		return xstrdup(url);
	cairn_buf_addstr(&b, base);
	if (b.len > 1 && b.buf[b.len - 1] == '/')
		cairn_buf_setlen(&b, b.len - 1);
	for (;;) {
		if (strncmp(url, "../", 3) == 0) {
			const char *cut = memrchr(b.buf, '/', b.len);

			url += 3;
			if (!cut) {
				cut = memrchr(b.buf, ':', b.len);
				colon = colon || cut;
			}
			cairn_buf_setlen(&b, cut ? (size_t)(cut - b.buf) : 0);
			if (!cut)
				cairn_buf_addch(&b, '.');
		} else if (strncmp(url, "./", 2) == 0) {
			url += 2;
		} else {
			break;
		}
	}
	cairn_buf_addf(&b, "%c%s", colon ? ':' : '/', url);
	if (b.buf[b.len - 1] == '/')
		cairn_buf_setlen(&b, b.len - 1);
	return cairn_buf_detach(&b, NULL);
}

int cairn_git_modules_check(size_t *n_out, const char *text, size_t len, const char *base,
			    struct cairn_error **err)
{
	struct gitmodule *mods = NULL;
	size_t n = 0;
	int ret = modules_parse(&mods, &n, text, len, err);

	*n_out = n;
	for (size_t i = 0; ret == 0 && i < n; i++) {
		if (!module_name_ok(mods[i].name))
			ret = cairn_error_set(err, CAIRN_EINVAL, "'%s': not a safe name",
					      mods[i].name);
		else if (mods[i].url)
			free(url_resolve(base, mods[i].url));
	}
	modules_release(mods, n);
	return ret;
}

/* A path or file:// URL: the repository is on this host, not fetched over the network. */
static bool url_is_local(const char *url)
{
	const char *colon = strchr(url, ':'), *slash = strchr(url, '/');

	if (strncmp(url, "file://", 7) == 0)
		return true;
	if (strstr(url, "://"))
		return false;
	/* scp-like "host:path" has a ':' before any '/' */
	return !colon || (slash && slash < colon);
}

/* "<dir>/<name>" without doubling a '/' that `dir` ends with. */
static char *path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir);

	return xasprintf("%.*s/%s", (int)(n && dir[n - 1] == '/' ? n - 1 : n), dir, name);
}

/* Read the objects of `objects_dir` too through r's objects repository. */
static int objects_add(struct cairn_git_repo *r, const char *objects_dir, struct cairn_error **err)
{
	git_odb *odb = NULL;
	int ret;

	if (!r->objects) {
		cleanup_free char *own = path_join(git_repository_commondir(r->repo), "objects");

		ret = git_odb_open(&odb, own);
		if (ret == 0)
			ret = git_repository_wrap_odb(&r->objects, odb);
		git_odb_free(odb);
		odb = NULL;
		if (ret < 0)
			return git_fail(err, ret, CAIRN_EINTERNAL, "open the objects of '%s'",
					r->name);
		/* blob headers are read through it from now on */
		git_odb_free(r->odb);
		r->odb = NULL;
	}
	ret = git_repository_odb(&odb, r->objects);
	if (ret == 0)
		ret = git_odb_add_disk_alternate(odb, objects_dir);
	git_odb_free(odb);
	if (ret < 0)
		return git_fail(err, ret, CAIRN_EINTERNAL, "read the objects of '%s'", objects_dir);
	return 0;
}

static struct subrepo *subrepo_find(struct cairn_git_repo *r, const char *key)
{
	for (size_t i = 0; i < r->n_subs; i++) {
		if (strcmp(r->subs[i]->key, key) == 0)
			return r->subs[i];
	}
	return NULL;
}

/* Remember the repository `repo` found as `key`, its objects readable through r. */
static int subrepo_add(struct subrepo **out, struct cairn_git_repo *r, const char *key,
		       git_repository *repo, const char *url, const char *name,
		       struct cairn_error **err)
{
	cleanup_free char *objects = path_join(git_repository_commondir(repo), "objects");
	struct subrepo *sr;
	int ret = objects_add(r, objects, err);

	*out = NULL;
	if (ret < 0)
		return ret;
	sr = xcalloc(1, sizeof(*sr));
	sr->key = xstrdup(key);
	sr->gitdir = xstrdup(git_repository_path(repo));
	sr->url = url ? xstrdup(url) : NULL;
	sr->name = name ? xstrdup(name) : xstrndup(sr->gitdir, strlen(sr->gitdir) - 1);
	r->subs = xreallocarray(r->subs, r->n_subs + 1, sizeof(*r->subs));
	r->subs[r->n_subs++] = sr;
	*out = sr;
	return 0;
}

/*
 * The repository of a local project's submodule, as git keeps it: in the git directory of the
 * repository that holds the gitlink, under modules/<name>, else (older git) the one checked out
 * at its path in the work tree. Never fetched.
 */
static int subrepo_local(struct subrepo **out, struct cairn_git_repo *r, const struct modctx *in,
			 const struct gitmodule *m, const char *full, struct cairn_error **err)
{
	const char *gitdir = in->repo ? in->repo->gitdir : git_repository_path(r->repo);
	const char *common = git_repository_commondir(r->repo);
	const char *work = git_repository_workdir(r->repo);
	cleanup_free char *modules = path_join(gitdir, "modules");
	cleanup_free char *c0 = path_join(modules, m->name);
	cleanup_free char *common_modules = path_join(common, "modules");
	cleanup_free char *c1 = in->repo ? NULL : path_join(common_modules, m->name);
	cleanup_free char *checkout = work ? path_join(work, full) : NULL;
	cleanup_free char *c2 = checkout ? path_join(checkout, ".git") : NULL;
	const char *cand[] = {c0, c1, c2};

	*out = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(cand); i++) {
		git_repository *repo = NULL;
		int ret;

		if (!cand[i] || (i == 1 && strcmp(c0, c1) == 0))
			continue;
		*out = subrepo_find(r, cand[i]);
		if (*out)
			return 0;
		/*
		 * As a bare repository: its config's core.worktree may name a checkout that is
		 * gone (the submodule removed since), and only its objects are read.
		 */
		ret = git_repository_open_ext(
			&repo, cand[i], GIT_REPOSITORY_OPEN_NO_SEARCH | GIT_REPOSITORY_OPEN_BARE,
			NULL);
		if (ret == GIT_ENOTFOUND)
			continue;
		if (ret < 0)
			return git_fail(err, ret, CAIRN_EINTERNAL, "open '%s'", cand[i]);
		ret = subrepo_add(out, r, cand[i], repo, NULL, NULL, err);
		git_repository_free(repo);
		return ret;
	}
	return cairn_error_set(err, CAIRN_ENOTFOUND, "no repository at '%s'%s", c0, UPDATE_HINT);
}

/*
 * The repository of a remote repository's submodule: its URL (relative to the superproject's,
 * or absolute) fetched into the same cache, once per cairn_git_repo. A repository fetched over
 * the network may not point at this host's files: a local URL is taken only from a local one.
 */
static int subrepo_remote(struct subrepo **out, struct cairn_git_repo *r, const struct modctx *in,
			  const struct gitmodule *m, struct cairn_error **err)
{
	const char *base = in->repo ? in->repo->url : r->url;
	const char *base_name = in->repo ? in->repo->name : r->name;
	struct cairn_git_repo *sub = NULL;
	cleanup_free char *url = NULL;
	int ret;

	*out = NULL;
	if (!m->url)
		return cairn_error_set(err, CAIRN_EINVAL, "no url for '%s' in '.gitmodules'",
				       m->name);
	url = url_resolve(base, m->url);
	*out = subrepo_find(r, url);
	if (*out)
		return 0;
	if (url_is_local(url) && !url_is_local(base)) {
		cleanup_free char *shown = cairn_git_url_normalise(url);

		return cairn_error_set(err, CAIRN_EINVAL,
				       "url '%s' is a path on this host, and '%s' is not local",
				       shown, base_name);
	}
	ret = cairn_git_open_remote(&sub, url, r->cache_dir, err);
	if (ret < 0)
		return ret;
	ret = subrepo_add(out, r, url, sub->repo, url, sub->name, err);
	cairn_git_free(sub);
	return ret;
}

/* The repository at a commit, the same object for the same one (kept in r). */
static struct modctx *modctx_get(struct cairn_git_repo *r, struct subrepo *sr,
				 const git_oid *commit, const char *root)
{
	struct modctx *m;

	for (size_t i = 0; i < r->n_ctxs; i++) {
		m = r->ctxs[i];
		if (m->repo == sr && git_oid_equal(&m->commit, commit) &&
		    strcmp(m->root, root) == 0)
			return m;
	}
	m = xcalloc(1, sizeof(*m));
	m->repo = sr;
	git_oid_cpy(&m->commit, commit);
	m->root = xstrdup(root);
	r->ctxs = xreallocarray(r->ctxs, r->n_ctxs + 1, sizeof(*r->ctxs));
	r->ctxs[r->n_ctxs++] = m;
	return m;
}

/* Read the .gitmodules file of m's commit (none: no entries). */
static int modctx_load(struct cairn_git_repo *r, struct modctx *m, struct cairn_error **err)
{
	CLEANUP(git_commit_freep) git_commit *c = NULL;
	CLEANUP(git_tree_freep) git_tree *tree = NULL;
	CLEANUP(git_blob_freep) git_blob *blob = NULL;
	const git_tree_entry *e;
	int ret;

	if (m->loaded)
		return 0;
	ret = git_commit_lookup(&c, objects_of(r), &m->commit);
	if (ret == 0)
		ret = git_commit_tree(&tree, c);
	if (ret < 0)
		return git_fail(err, ret, CAIRN_EINTERNAL, "read the tree of '%s'",
				git_oid_tostr_s(&m->commit));
	e = git_tree_entry_byname(tree, ".gitmodules");
	if (e && (git_tree_entry_filemode(e) == GIT_FILEMODE_BLOB ||
		  git_tree_entry_filemode(e) == GIT_FILEMODE_BLOB_EXECUTABLE)) {
		ret = git_blob_lookup(&blob, objects_of(r), git_tree_entry_id(e));
		if (ret < 0)
			return git_fail(err, ret, CAIRN_EINTERNAL, "read '.gitmodules'");
		ret = modules_parse(&m->mods, &m->n_mods, git_blob_rawcontent(blob),
				    (size_t)git_blob_rawsize(blob), err);
		if (ret < 0)
			return ret;
	}
	m->loaded = true;
	return 0;
}

static const struct gitmodule *module_at(const struct modctx *m, const char *path)
{
	size_t len = strlen(path);

	for (size_t i = 0; i < m->n_mods; i++) {
		const char *p = m->mods[i].path;
		size_t n = p ? strlen(p) : 0;

		while (n > 1 && p[n - 1] == '/')
			n--;
		if (p && n == len && memcmp(p, path, len) == 0)
			return &m->mods[i];
	}
	return NULL;
}

/*
 * Enter the gitlink at `full` (from the project's root; in the tree of `in`) to `commit`: the
 * tree to walk into *tree_out and the repository at that commit into *ctx_out.
 * CAIRN_ENOTFOUND when the submodule or its commit is not available.
 */
static int submodule_enter(struct modctx **ctx_out, git_oid *tree_out, struct cairn_git_repo *r,
			   struct modctx *in, const char *full, const git_oid *commit,
			   struct cairn_error **err)
{
	const char *path = full + strlen(in->root) + (in->root[0] ? 1 : 0);
	CLEANUP(git_commit_freep) git_commit *c = NULL;
	char hex[CAIRN_GIT_HEX_MAX];
	const struct gitmodule *m;
	struct subrepo *sr = NULL;
	int ret;

	git_oid_tostr(hex, sizeof(hex), commit);
	ret = modctx_load(r, in, err);
	if (ret == 0) {
		m = module_at(in, path);
		if (!m)
			ret = cairn_error_set(err, CAIRN_ENOTFOUND, "no entry in '.gitmodules'");
		else if (!module_name_ok(m->name))
			ret = cairn_error_set(err, CAIRN_EINVAL,
					      "'.gitmodules' names it '%s': not a safe name",
					      m->name);
		else if (r->url)
			ret = subrepo_remote(&sr, r, in, m, err);
		else
			ret = subrepo_local(&sr, r, in, m, full, err);
	}
	if (ret == 0) {
		ret = git_commit_lookup(&c, objects_of(r), commit);
		if (ret == GIT_ENOTFOUND)
			ret = cairn_error_set(err, CAIRN_ENOTFOUND, "commit not found in '%s'%s",
					      sr->name, r->url ? "" : UPDATE_HINT);
		else if (ret < 0)
			ret = git_fail(err, ret, CAIRN_EINTERNAL, "read the commit");
	}
	if (ret < 0)
		return cairn_error_wrap(err, "submodule '%s' at commit %s", full, hex);
	git_oid_cpy(tree_out, git_commit_tree_id(c));
	*ctx_out = modctx_get(r, sr, commit, full);
	return 0;
}

/*
 * The entry at `path` (from the project's root) of the tree `root` of the repository at
 * `ctx`, through submodules: a copy into *out (NULL when there is none), and the repository at
 * a commit whose tree holds it into *ctx_out.
 */
static int entry_bypath(git_tree_entry **out, struct modctx **ctx_out, struct cairn_git_repo *r,
			git_tree *root, struct modctx *ctx, const char *path,
			struct cairn_error **err)
{
	CLEANUP(git_tree_freep) git_tree *held = NULL;
	git_tree *tree = root;
	const char *p = path;
	int ret;

	*out = NULL;
	*ctx_out = ctx;
	for (;;) {
		const char *slash = strchr(p, '/');
		cleanup_free char *name = slash ? xstrndup(p, (size_t)(slash - p)) : xstrdup(p);
		const git_tree_entry *e = git_tree_entry_byname(tree, name);
		git_tree *next = NULL;
		git_oid id;

		if (!e)
			return 0;
		if (!slash) {
			ret = git_tree_entry_dup(out, e);
			return ret < 0 ? git_fail(err, ret, CAIRN_EINTERNAL, "read '/%s'", path)
				       : 0;
		}
		git_oid_cpy(&id, git_tree_entry_id(e));
		if (git_tree_entry_filemode(e) == GIT_FILEMODE_COMMIT) {
			cleanup_free char *full = xstrndup(path, (size_t)(slash - path));

			git_oid commit;

			git_oid_cpy(&commit, &id);
			ret = submodule_enter(ctx_out, &id, r, *ctx_out, full, &commit, err);
			if (ret < 0)
				return ret;
		} else if (git_tree_entry_filemode(e) != GIT_FILEMODE_TREE) {
			return 0;
		}
		ret = git_tree_lookup(&next, objects_of(r), &id);
		if (ret < 0)
			return git_fail(err, ret, CAIRN_EINTERNAL, "read the tree of '/%.*s'",
					(int)(slash - path), path);
		git_tree_free(held);
		held = next;
		tree = next;
		p = slash + 1;
	}
}

/*
 * Path patterns
 */

static const char *comp_end(const char *p, const char *pe)
{
	const char *slash = memchr(p, '/', (size_t)(pe - p));

	return slash ? slash : pe;
}

static bool is_globstar(const char *p, const char *pe)
{
	return pe - p == 2 && p[0] == '*' && p[1] == '*';
}

/*
 * A bracket expression at *pp against `ch`: false when it is malformed (no closing ']'), and
 * then '[' is an ordinary character. On success *pp moves past it and *hit tells the result.
 */
static bool class_match(const char **pp, const char *pe, unsigned char ch, bool *hit)
{
	const char *q = *pp + 1;
	bool neg = false, first = true, in = false;

	if (q < pe && (*q == '!' || *q == '^')) {
		neg = true;
		q++;
	}
	for (;;) {
		unsigned char lo, hi;

		if (q >= pe)
			return false;
		if (*q == ']' && !first)
			break;
		first = false;
		if (*q == '\\' && q + 1 < pe)
			q++;
		lo = (unsigned char)*q++;
		hi = lo;
		if (q + 1 < pe && *q == '-' && q[1] != ']') {
			q++;
			if (*q == '\\' && q + 1 < pe)
				q++;
			hi = (unsigned char)*q++;
		}
		if (lo <= ch && ch <= hi)
			in = true;
	}
	*pp = q + 1;
	*hit = in != neg;
	return true;
}

/* One pattern element (not '*') at *pp against `ch`; *pp moves past the element. */
static bool elem_match(const char **pp, const char *pe, unsigned char ch)
{
	const char *p = *pp;
	bool hit;

	if (*p == '?') {
		*pp = p + 1;
		return true;
	}
	if (*p == '[' && class_match(pp, pe, ch, &hit))
		return hit;
	if (*p == '\\' && p + 1 < pe)
		p++;
	*pp = p + 1;
	return (unsigned char)*p == ch;
}

/* A pattern component against a path component (neither holds '/'). */
static bool comp_match(const char *p, const char *pe, const char *s, const char *se)
{
	const char *star_p = NULL, *star_s = NULL;

	while (s < se) {
		const char *np = p;

		if (p < pe && *p == '*') {
			while (p < pe && *p == '*')
				p++;
			star_p = p;
			star_s = s;
			continue;
		}
		if (p < pe && elem_match(&np, pe, (unsigned char)*s)) {
			p = np;
			s++;
			continue;
		}
		if (!star_p)
			return false;
		p = star_p;
		s = ++star_s;
	}
	while (p < pe && *p == '*')
		p++;
	return p == pe;
}

static bool only_globstars(const char *p, const char *pe)
{
	while (p < pe) {
		const char *ce = comp_end(p, pe);

		if (!is_globstar(p, ce))
			return false;
		p = ce < pe ? ce + 1 : pe;
	}
	return true;
}

/* A whole pattern against a whole path, component by component, "**" spanning directories. */
static bool glob_match(const char *p, const char *pe, const char *s, const char *se)
{
	for (;;) {
		const char *pce = comp_end(p, pe);
		const char *sce;

		if (is_globstar(p, pce)) {
			const char *rest = pce < pe ? pce + 1 : pe;
			const char *t = s;

			if (rest == pe)
				return true;
			for (;;) {
				if (glob_match(rest, pe, t, se))
					return true;
				t = memchr(t, '/', (size_t)(se - t));
				if (!t)
					return false;
				t++;
			}
		}
		if (s >= se)
			return false;
		sce = comp_end(s, se);
		if (!comp_match(p, pce, s, sce))
			return false;
		if (pce == pe)
			return sce == se;
		if (sce == se)
			return only_globstars(pce + 1, pe);
		p = pce + 1;
		s = sce + 1;
	}
}

/* The pattern matches exactly this path (equal, or as a glob); ancestors are not tried. */
static bool match_self(const char *pat, const char *s, size_t len)
{
	size_t plen = strlen(pat);

	if (plen == 0)
		return false;
	if (plen == len && memcmp(pat, s, len) == 0)
		return true;
	return glob_match(pat, pat + plen, s, s + len);
}

/*
 * Could the pattern match some path below directory s (which it does not match itself, nor any
 * of its ancestors)? Errs on the side of yes: it only prunes the walk.
 */
static bool match_below(const char *pat, const char *s, size_t len)
{
	const char *p = pat, *pe = pat + strlen(pat);
	const char *se = s + len;

	if (p == pe)
		return false;
	for (;;) {
		const char *pce = comp_end(p, pe);
		const char *sce;

		if (is_globstar(p, pce))
			return true;
		sce = comp_end(s, se);
		if (!(pce - p == sce - s && memcmp(p, s, (size_t)(sce - s)) == 0) &&
		    !comp_match(p, pce, s, sce))
			return false;
		if (pce == pe || sce == se)
			return true;
		p = pce + 1;
		s = sce + 1;
	}
}

/* Drop leading "./" and '/', repeated and trailing '/': "./app//x/" -> "app/x". */
static char *pattern_normalise(const char *pat)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;

	for (;;) {
		if (pat[0] == '/')
			pat++;
		else if (pat[0] == '.' && pat[1] == '/')
			pat += 2;
		else
			break;
	}
	for (; *pat; pat++) {
		if (*pat == '/' && (b.len == 0 || b.buf[b.len - 1] == '/'))
			continue;
		cairn_buf_addch(&b, *pat);
	}
	while (b.len && b.buf[b.len - 1] == '/')
		cairn_buf_setlen(&b, b.len - 1);
	return cairn_buf_detach(&b, NULL);
}

/* Does the (normalised) pattern match the path or one of its parent directories? */
static bool match_any_level(const char *pat, const char *path, size_t len)
{
	for (size_t i = 0; i <= len; i++) {
		if ((i == len || path[i] == '/') && i > 0 && match_self(pat, path, i))
			return true;
	}
	return false;
}

static char **patterns_dup(size_t *n_out, const char *const *v, size_t n);

bool cairn_git_path_match(const char *pattern, const char *path)
{
	size_t n = 0;
	char **pats = patterns_dup(&n, &pattern, 1);
	bool hit = false;

	for (size_t i = 0; i < n; i++) {
		hit = hit || match_any_level(pats[i], path, strlen(path));
		free(pats[i]);
	}
	free(pats);
	return hit;
}

/*
 * Selections
 */

struct filter {
	char *add;	/* "" for the root, else "src" or "etc/app.conf" */
	char *to;	/* "" for the root, else "app" */
	char *add_base; /* last component of add */
	char **inc;
	size_t n_inc;
	char **exc;
	size_t n_exc;
	char **stage; /* stageDependencies patterns, or NULL */
	size_t n_stage;
};

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void filter_release(struct filter *f)
{
	free(f->add);
	free(f->to);
	free(f->add_base);
	free_list(f->inc, f->n_inc);
	free_list(f->exc, f->n_exc);
	free_list(f->stage, f->n_stage);
	memset(f, 0, sizeof(*f));
}

/* More alternatives than this from one pattern: the rest of its braces stay literal. */
#define BRACE_EXPANSION_MAX 256

/* The first "{...}" of p (not quoted by '\\'), with *open at '{' and *close at its '}'. */
static bool find_braces(const char *p, const char **open, const char **close)
{
	int depth = 0;

	*open = NULL;
	for (; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
		} else if (*p == '{') {
			if (depth++ == 0)
				*open = p;
		} else if (*p == '}' && depth > 0 && --depth == 0) {
			*close = p;
			return true;
		}
	}
	return false;
}

/* Append p to the list with every "{a,b}" expanded (as doublestar does), normalised. */
static void pattern_expand(char ***v, size_t *n, const char *p, size_t *budget)
{
	const char *open, *close, *alt;
	int depth = 0;

	if (*budget == 0 || !find_braces(p, &open, &close)) {
		*v = xreallocarray(*v, *n + 1, sizeof(**v));
		(*v)[(*n)++] = pattern_normalise(p);
		if (*budget)
			(*budget)--;
		return;
	}
	alt = open + 1;
	for (const char *c = open + 1; c <= close; c++) {
		if (*c == '\\' && c + 1 < close) {
			c++;
		} else if (*c == '{') {
			depth++;
		} else if (*c == '}' && depth > 0) {
			depth--;
		} else if ((*c == ',' && depth == 0) || c == close) {
			cleanup_free char *one = xasprintf("%.*s%.*s%s", (int)(open - p), p,
							   (int)(c - alt), alt, close + 1);

			pattern_expand(v, n, one, budget);
			alt = c + 1;
		}
	}
}

static char **patterns_dup(size_t *n_out, const char *const *v, size_t n)
{
	char **out = NULL;

	*n_out = 0;
	for (size_t i = 0; i < n; i++) {
		size_t budget = BRACE_EXPANSION_MAX;

		pattern_expand(&out, n_out, v[i], &budget);
	}
	return out;
}

/* "/a//b/" -> "a/b", "/" -> ""; CAIRN_EINVAL for a relative path or a "." or ".." part. */
static int abs_path_normalise(char **out, const char *p, const char *what, struct cairn_error **err)
{
	cleanup_free char *n = NULL;
	const char *s;

	*out = NULL;
	if (p[0] != '/')
		return cairn_error_set(err, CAIRN_EINVAL, "%s '%s': not an absolute path", what, p);
	n = pattern_normalise(p);
	for (s = n; *s;) {
		const char *e = comp_end(s, s + strlen(s));

		if ((e - s == 1 && s[0] == '.') || (e - s == 2 && s[0] == '.' && s[1] == '.'))
			return cairn_error_set(err, CAIRN_EINVAL, "%s '%s': '.' or '..' in path",
					       what, p);
		s = *e ? e + 1 : e;
	}
	*out = TAKE_PTR(n);
	return 0;
}

static int filter_init(struct filter *f, const struct cairn_git_selection *sel, const char *to,
		       struct cairn_error **err)
{
	const char *slash;
	int ret;

	memset(f, 0, sizeof(*f));
	ret = abs_path_normalise(&f->add, sel->add ? sel->add : "/", "add", err);
	if (ret == 0 && to)
		ret = abs_path_normalise(&f->to, to, "to", err);
	if (ret < 0) {
		filter_release(f);
		return ret;
	}
	if (!f->to)
		f->to = xstrdup("");
	slash = strrchr(f->add, '/');
	f->add_base = xstrdup(slash ? slash + 1 : f->add);
	f->inc = patterns_dup(&f->n_inc, sel->include, sel->n_include);
	f->exc = patterns_dup(&f->n_exc, sel->exclude, sel->n_exclude);
	return 0;
}

/* One side of a comparison at one path: a tree entry, or nothing. */
struct node {
	const git_oid *oid; /* NULL: absent */
	uint32_t mode;	    /* git file mode; a gitlink (submodule) counts as a directory */
	struct modctx *mod; /* the repository at a commit whose tree holds it */
};

static const struct node no_node = {NULL, 0, NULL};

/* The commit and the tree entry `add` names in it (if any). */
struct side {
	git_commit *commit;
	git_tree *root;
	struct modctx *root_mod; /* the repository at that commit */
	git_tree_entry *entry;
	struct node node;
};

static void side_release(struct side *s)
{
	git_tree_entry_free(s->entry);
	git_tree_free(s->root);
	git_commit_free(s->commit);
	memset(s, 0, sizeof(*s));
}

static int side_load(struct side *s, struct cairn_git_repo *r, const char *commit,
		     const struct filter *f, struct cairn_error **err)
{
	int ret;

	memset(s, 0, sizeof(*s));
	ret = lookup_commit(&s->commit, r, commit, err);
	if (ret < 0)
		return ret;
	ret = git_commit_tree(&s->root, s->commit);
	if (ret < 0) {
		ret = git_fail(err, ret, CAIRN_EINTERNAL, "tree of commit '%s'", commit);
		side_release(s);
		return ret;
	}
	s->root_mod = modctx_get(r, NULL, git_commit_id(s->commit), "");
	s->node.mod = s->root_mod;
	if (!f->add[0]) {
		s->node.oid = git_tree_id(s->root);
		s->node.mode = GIT_FILEMODE_TREE;
		return 0;
	}
	ret = entry_bypath(&s->entry, &s->node.mod, r, s->root, s->root_mod, f->add, err);
	if (ret < 0) {
		side_release(s);
		return cairn_error_wrap(err, "'/%s' in commit '%s'", f->add, commit);
	}
	if (!s->entry) {
		cairn_log(CAIRN_LOG_DEBUG, "git: '/%s' does not exist in commit '%s'", f->add,
			  commit);
		return 0;
	}
	s->node.oid = git_tree_entry_id(s->entry);
	s->node.mode = git_tree_entry_filemode(s->entry);
	return 0;
}

/*
 * The walk: compares two versions of the selection (either may be absent) tree by tree,
 * skipping subtrees whose ids are equal, and reports each selected file that is new or changed
 * (CH_ADD, the new version) or gone (CH_DEL, the old version).
 */
enum change { CH_ADD, CH_DEL };

/* Whether everything below a directory passes the include patterns, or the stage's. */
struct sel_state {
	bool inc_all;
	bool stage_all;
};

struct walk {
	struct cairn_git_repo *r;
	const struct filter *f;
	struct cairn_buf rel;  /* path relative to add: what patterns see */
	struct cairn_buf dest; /* path in the image */
	struct cairn_buf full; /* path from the project's root, through submodules */
	unsigned depth;
	/* <0 error, 0 go on, 1 stop the walk */
	int (*emit)(struct walk *w, enum change ch, const struct node *n, struct cairn_error **err);
	void *ud;
};

/* A directory: a tree, or a gitlink (the tree of the submodule's commit). */
static bool is_tree(const struct node *n)
{
	return n->oid && (n->mode == GIT_FILEMODE_TREE || n->mode == GIT_FILEMODE_COMMIT);
}

static bool any_self(char *const *pats, size_t n, const struct cairn_buf *rel)
{
	for (size_t i = 0; i < n; i++) {
		if (match_self(pats[i], rel->buf, rel->len))
			return true;
	}
	return false;
}

static bool any_below(char *const *pats, size_t n, const struct cairn_buf *rel)
{
	for (size_t i = 0; i < n; i++) {
		if (match_below(pats[i], rel->buf, rel->len))
			return true;
	}
	return false;
}

static bool leaf_selected(const struct walk *w, struct sel_state st)
{
	const struct filter *f = w->f;

	if (any_self(f->exc, f->n_exc, &w->rel))
		return false;
	if (!st.stage_all && !any_self(f->stage, f->n_stage, &w->rel))
		return false;
	return st.inc_all || any_self(f->inc, f->n_inc, &w->rel);
}

/* Would this leaf be written into a layer? */
static bool leaf_wanted(const struct walk *w, const struct node *n, struct sel_state st)
{
	return n->oid && leaf_selected(w, st);
}

static int visit(struct walk *w, const struct node *a, const struct node *b, struct sel_state st,
		 struct cairn_error **err);

static void path_push(struct cairn_buf *b, const char *name)
{
	if (b->len)
		cairn_buf_addch(b, '/');
	cairn_buf_addstr(b, name);
}

/* git's tree order: names compared as if a tree's had a trailing '/'. */
static int entry_cmp(const git_tree_entry *a, const git_tree_entry *b)
{
	const char *na = git_tree_entry_name(a), *nb = git_tree_entry_name(b);
	size_t la = strlen(na), lb = strlen(nb), n = la < lb ? la : lb;
	unsigned char ca, cb;
	int c = memcmp(na, nb, n);

	if (c)
		return c;
	ca = la > n ? (unsigned char)na[n]
		    : (git_tree_entry_filemode(a) == GIT_FILEMODE_TREE ? '/' : '\0');
	cb = lb > n ? (unsigned char)nb[n]
		    : (git_tree_entry_filemode(b) == GIT_FILEMODE_TREE ? '/' : '\0');
	return ca < cb ? -1 : ca > cb;
}

static bool name_ok(const char *name)
{
	return name[0] && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 && !strchr(name, '/');
}

/* The tree of a directory node (entering a submodule), and the repository it is in. */
static int lookup_tree(git_tree **out, struct modctx **mod, struct walk *w, const struct node *n,
		       struct cairn_error **err)
{
	const git_oid *id = n->oid;
	git_oid sub;
	int ret;

	*out = NULL;
	*mod = n->mod;
	if (!is_tree(n))
		return 0;
	if (n->mode == GIT_FILEMODE_COMMIT) {
		ret = submodule_enter(mod, &sub, w->r, n->mod, w->full.buf, n->oid, err);
		if (ret < 0)
			return ret;
		id = &sub;
	}
	ret = git_tree_lookup(out, objects_of(w->r), id);
	if (ret < 0)
		return git_fail(err, ret, CAIRN_EINTERNAL, "read tree '/%s%s%s' of '%s'", w->f->add,
				w->f->add[0] && w->rel.len ? "/" : "", w->rel.buf, w->r->name);
	return 0;
}

/*
 * A name only one side has in tree order may still be in the other side's tree as another
 * kind (file "x" here, directory "x" there): tree order puts the two apart. Pair them at the
 * file, which comes first on both sides, and skip the directory later; false means skip.
 */
static bool pair_kind_change(struct node *x, struct node *y, git_tree *other,
			     struct modctx *other_mod, const char *name)
{
	struct node *mine = x->oid ? x : y, *theirs = x->oid ? y : x;
	const git_tree_entry *e = other ? git_tree_entry_byname(other, name) : NULL;

	if (!e)
		return true;
	if (is_tree(mine))
		return false;
	theirs->oid = git_tree_entry_id(e);
	theirs->mode = git_tree_entry_filemode(e);
	theirs->mod = other_mod;
	return true;
}

static int visit_tree(struct walk *w, const struct node *a, const struct node *b,
		      struct sel_state st, struct cairn_error **err)
{
	CLEANUP(git_tree_freep) git_tree *ta = NULL;
	CLEANUP(git_tree_freep) git_tree *tb = NULL;
	struct modctx *ma = NULL, *mb = NULL;
	const struct filter *f = w->f;
	size_t rel_len = w->rel.len, dest_len = w->dest.len, full_len = w->full.len;
	size_t i = 0, j = 0, na, nb;
	int ret = 0;

	if (rel_len) {
		if (any_self(f->exc, f->n_exc, &w->rel))
			return 0;
		if (!st.inc_all) {
			st.inc_all = any_self(f->inc, f->n_inc, &w->rel);
			if (!st.inc_all && !any_below(f->inc, f->n_inc, &w->rel))
				return 0;
		}
		if (!st.stage_all) {
			st.stage_all = any_self(f->stage, f->n_stage, &w->rel);
			if (!st.stage_all && !any_below(f->stage, f->n_stage, &w->rel))
				return 0;
		}
	}
	if (w->depth >= TREE_DEPTH_MAX)
		return cairn_error_set(err, CAIRN_EINVAL, "tree '%s' of '%s': nested too deeply",
				       w->rel.buf, w->r->name);
	ret = lookup_tree(&ta, &ma, w, a, err);
	if (ret == 0)
		ret = lookup_tree(&tb, &mb, w, b, err);
	if (ret < 0)
		return ret;
	/* a submodule at another commit, or in place of a directory, may hold the same files */
	if (ta && tb && git_oid_equal(git_tree_id(ta), git_tree_id(tb)))
		return 0;
	na = ta ? git_tree_entrycount(ta) : 0;
	nb = tb ? git_tree_entrycount(tb) : 0;
	w->depth++;
	while (ret == 0 && (i < na || j < nb)) {
		const git_tree_entry *ea = i < na ? git_tree_entry_byindex(ta, i) : NULL;
		const git_tree_entry *eb = j < nb ? git_tree_entry_byindex(tb, j) : NULL;
		int c = !ea ? 1 : !eb ? -1 : entry_cmp(ea, eb);
		struct node x = no_node, y = no_node;
		const char *name = git_tree_entry_name(c <= 0 ? ea : eb);

		if (c <= 0) {
			x.oid = git_tree_entry_id(ea);
			x.mode = git_tree_entry_filemode(ea);
			x.mod = ma;
			i++;
		}
		if (c >= 0) {
			y.oid = git_tree_entry_id(eb);
			y.mode = git_tree_entry_filemode(eb);
			y.mod = mb;
			j++;
		}
		if (!name_ok(name)) {
			cairn_log(CAIRN_LOG_WARN, "git: skip tree entry '%s' in '%s' of '%s'", name,
				  w->rel.buf, w->r->name);
			continue;
		}
		if (c != 0 && !pair_kind_change(&x, &y, c < 0 ? tb : ta, c < 0 ? mb : ma, name))
			continue;
		path_push(&w->rel, name);
		path_push(&w->dest, name);
		path_push(&w->full, name);
		ret = visit(w, &x, &y, st, err);
		cairn_buf_setlen(&w->rel, rel_len);
		cairn_buf_setlen(&w->dest, dest_len);
		cairn_buf_setlen(&w->full, full_len);
	}
	w->depth--;
	return ret;
}

static int emit_probe(struct walk *w, enum change ch, const struct node *n,
		      struct cairn_error **err)
{
	(void)w;
	(void)ch;
	(void)n;
	(void)err;
	return 1;
}

/* Whether the walk selects anything in the tree `a` (at the walk's current path). */
static int wanted_below(bool *out, struct walk *w, const struct node *a, struct sel_state st,
			struct cairn_error **err)
{
	int (*emit)(struct walk *, enum change, const struct node *, struct cairn_error **) =
		w->emit;
	int ret;

	w->emit = emit_probe;
	ret = visit_tree(w, a, &no_node, st, err);
	w->emit = emit;
	*out = ret == 1;
	return ret < 0 ? ret : 0;
}

static int visit(struct walk *w, const struct node *a, const struct node *b, struct sel_state st,
		 struct cairn_error **err)
{
	int ret;

	if (a->oid && b->oid && a->mode == b->mode && git_oid_equal(a->oid, b->oid))
		return 0;
	if (a->oid && b->oid && is_tree(a) != is_tree(b)) {
		/*
		 * A directory became a file or the reverse. When a file or symlink replaces a
		 * directory, the directory goes as a whole: whatever else is in it (from other
		 * stages too) cannot stay under a file.
		 */
		if (is_tree(a) && leaf_wanted(w, b, st)) {
			ret = w->emit(w, CH_DEL, a, err);
			return ret ? ret : w->emit(w, CH_ADD, b, err);
		}
		ret = visit(w, a, &no_node, st, err);
		return ret ? ret : visit(w, &no_node, b, st, err);
	}
	if (is_tree(a) && !b->oid && w->rel.len) {
		bool any = false;

		/*
		 * A directory gone with all its files goes as a whole, as `git apply` removes
		 * the directories it empties: one whiteout, when it held anything selected.
		 */
		ret = wanted_below(&any, w, a, st, err);
		return ret < 0 || !any ? ret : w->emit(w, CH_DEL, a, err);
	}
	if (is_tree(a) || is_tree(b))
		return visit_tree(w, a, b, st, err);
	if (leaf_wanted(w, b, st))
		return w->emit(w, CH_ADD, b, err);
	if (leaf_wanted(w, a, st))
		return w->emit(w, CH_DEL, a, err);
	return 0;
}

/* Where a side's `add` entry lands: the patterns' path and the image path. */
static void walk_root(struct walk *w, const struct node *n)
{
	const struct filter *f = w->f;

	cairn_buf_reset(&w->rel);
	cairn_buf_reset(&w->dest);
	cairn_buf_reset(&w->full);
	cairn_buf_addstr(&w->full, f->add);
	if (is_tree(n)) {
		cairn_buf_addstr(&w->dest, f->to);
		return;
	}
	/* `add` is a file: patterns see its name, and it is written at `to` */
	cairn_buf_addstr(&w->rel, f->add_base);
	cairn_buf_addstr(&w->dest, f->to[0] ? f->to : f->add_base);
}

static int walk_run(struct walk *w, const struct node *a, const struct node *b,
		    struct cairn_error **err)
{
	struct sel_state st = {.inc_all = !w->f->n_inc, .stage_all = !w->f->stage};
	int ret;

	if (a->oid && b->oid && is_tree(a) != is_tree(b)) {
		/* `add` changed between a directory and a file */
		if (w->f->to[0] && is_tree(a)) {
			walk_root(w, b);
			if (leaf_wanted(w, b, st)) {
				ret = w->emit(w, CH_DEL, a, err);
				return ret ? ret : w->emit(w, CH_ADD, b, err);
			}
		}
		ret = walk_run(w, a, &no_node, err);
		return ret ? ret : walk_run(w, &no_node, b, err);
	}
	if (!a->oid && !b->oid)
		return 0;
	walk_root(w, b->oid ? b : a);
	return visit(w, a, b, st, err);
}

static void walk_init(struct walk *w, struct cairn_git_repo *r, const struct filter *f)
{
	memset(w, 0, sizeof(*w));
	w->r = r;
	w->f = f;
	cairn_buf_init(&w->rel, 0);
	cairn_buf_init(&w->dest, 0);
	cairn_buf_init(&w->full, 0);
}

static void walk_release(struct walk *w)
{
	cairn_buf_release(&w->rel);
	cairn_buf_release(&w->dest);
	cairn_buf_release(&w->full);
}

/* Run a walk between two commits (`from` may be NULL: everything is new). */
static int walk_commits(struct walk *w, const char *from, const char *to_commit,
			struct cairn_error **err)
{
	struct side a = {0}, b = {0};
	int ret = 0;

	if (from)
		ret = side_load(&a, w->r, from, w->f, err);
	if (ret == 0)
		ret = side_load(&b, w->r, to_commit, w->f, err);
	if (ret == 0)
		ret = walk_run(w, &a.node, &b.node, err);
	side_release(&a);
	side_release(&b);
	return ret;
}

/*
 * Operation lists
 */

void cairn_git_ops_release(struct cairn_git_ops *ops)
{
	for (size_t i = 0; i < ops->n; i++)
		free(ops->v[i].path);
	free(ops->v);
	memset(ops, 0, sizeof(*ops));
}

static struct cairn_git_op *ops_push(struct cairn_git_ops *ops, enum cairn_git_op_kind kind,
				     const char *path, size_t len, uint32_t mode)
{
	struct cairn_git_op *op;

	if (ops->n == ops->alloc) {
		ops->alloc = ops->alloc ? ops->alloc * 2 : 64;
		ops->v = xreallocarray(ops->v, ops->alloc, sizeof(*ops->v));
	}
	op = &ops->v[ops->n++];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->path = xstrndup(path, len);
	op->mode = mode;
	return op;
}

/*
 * Directory entries for every parent of path[0..len). Those shared with the previous file's
 * directory (`last`) were pushed already; the rest would be dropped as repeats by ops_finish()
 * anyway, this only keeps the list short.
 */
static void ops_push_parents(struct cairn_git_ops *ops, struct cairn_buf *last, const char *path,
			     size_t len)
{
	const char *slash = memrchr(path, '/', len);
	size_t dir_len = slash ? (size_t)(slash - path) : 0;
	size_t i = 0, common;

	while (i < dir_len && i < last->len && path[i] == last->buf[i])
		i++;
	if ((i == dir_len || path[i] == '/') && (i == last->len || last->buf[i] == '/')) {
		common = i;
	} else {
		while (i > 0 && path[i - 1] != '/')
			i--;
		common = i ? i - 1 : 0;
	}
	for (size_t j = common + 1; j <= dir_len; j++) {
		if (j == dir_len || path[j] == '/')
			ops_push(ops, CAIRN_GIT_OP_DIR, path, j, S_IFDIR | 0755);
	}
	cairn_buf_reset(last);
	cairn_buf_add(last, path, dir_len);
}

struct ops_ctx {
	struct cairn_git_ops *ops;
	struct cairn_buf last_dir;
};

static int blob_size(uint64_t *out, const git_oid *oid, struct walk *w, struct cairn_error **err)
{
	git_object_t type;
	git_odb *odb = NULL;
	size_t len;
	int ret;

	*out = 0;
	/* not kept across the walk: entering a submodule changes where objects are read */
	ret = repo_odb(&odb, w->r, err);
	if (ret < 0)
		return ret;
	ret = git_odb_read_header(&len, &type, odb, oid);
	if (ret < 0)
		return git_fail(err, ret, CAIRN_EINTERNAL, "read blob of '%s' in '%s'", w->rel.buf,
				w->r->name);
	if (type != GIT_OBJECT_BLOB)
		return cairn_error_set(err, CAIRN_EINTERNAL, "'%s' in '%s': not a blob", w->rel.buf,
				       w->r->name);
	*out = len;
	return 0;
}

static int emit_op(struct walk *w, enum change ch, const struct node *n, struct cairn_error **err)
{
	struct ops_ctx *oc = w->ud;
	struct cairn_git_op *op;
	enum cairn_git_op_kind kind = CAIRN_GIT_OP_FILE;
	uint32_t mode = S_IFREG | 0644;
	uint64_t size;
	int ret;

	if (ch == CH_DEL) {
		ops_push(oc->ops, CAIRN_GIT_OP_WHITEOUT, w->dest.buf, w->dest.len, 0);
		return 0;
	}
	if (n->mode == GIT_FILEMODE_LINK) {
		kind = CAIRN_GIT_OP_SYMLINK;
		mode = S_IFLNK | 0777;
	} else if (n->mode == GIT_FILEMODE_BLOB_EXECUTABLE) {
		mode = S_IFREG | 0755;
	}
	ret = blob_size(&size, n->oid, w, err);
	if (ret < 0)
		return ret;
	op = ops_push(oc->ops, kind, w->dest.buf, w->dest.len, mode);
	op->size = size;
	git_oid_tostr(op->oid, sizeof(op->oid), n->oid);
	ops_push_parents(oc->ops, &oc->last_dir, w->dest.buf, w->dest.len);
	return 0;
}

static int op_cmp(const void *x, const void *y)
{
	const struct cairn_git_op *a = x, *b = y;
	int c = strcmp(a->path, b->path);

	if (c)
		return c;
	return (int)a->kind - (int)b->kind;
}

/* Sort by path (whiteouts first on a tie) and drop repeated directories. */
static void ops_finish(struct cairn_git_ops *ops)
{
	size_t out = 0;

	if (ops->n > 1)
		qsort(ops->v, ops->n, sizeof(*ops->v), op_cmp);
	for (size_t i = 0; i < ops->n; i++) {
		if (out > 0 && op_cmp(&ops->v[out - 1], &ops->v[i]) == 0) {
			free(ops->v[i].path);
			continue;
		}
		ops->v[out++] = ops->v[i];
	}
	ops->n = out;
}

/* Whether `dir` is `to` or above it (both "" or "a/b" style). */
static bool at_or_above(const char *dir, const char *to)
{
	size_t n = strlen(dir);

	return n == 0 || (strncmp(to, dir, n) == 0 && (to[n] == '\0' || to[n] == '/'));
}

/*
 * A patch writes the directories it needs and leaves the others as they are (as `git apply`
 * does): drop the directory entries for `to`, what is above it, and what the selection already
 * had as a directory at `from`, so a chmod or chown of a shell stage stays.
 */
static int drop_existing_dirs(struct cairn_git_ops *ops, struct cairn_git_repo *r, const char *from,
			      const struct filter *f, struct cairn_error **err)
{
	struct side a;
	size_t out = 0, to_len = strlen(f->to);
	int ret = side_load(&a, r, from, f, err);

	if (ret < 0)
		return ret;
	for (size_t i = 0; i < ops->n; i++) {
		struct cairn_git_op *op = &ops->v[i];
		bool replaced = out > 0 && ops->v[out - 1].kind == CAIRN_GIT_OP_WHITEOUT &&
				strcmp(ops->v[out - 1].path, op->path) == 0;
		bool drop = false;

		if (replaced) {
			/* a directory where a file was: it must be written */
		} else if (op->kind == CAIRN_GIT_OP_DIR && at_or_above(op->path, f->to)) {
			drop = true;
		} else if (ret == 0 && op->kind == CAIRN_GIT_OP_DIR && a.root) {
			const char *rel = op->path + (to_len ? to_len + 1 : 0);
			cleanup_free char *repo_path =
				f->add[0] ? xasprintf("%s/%s", f->add, rel) : xstrdup(rel);
			git_tree_entry *e = NULL;
			struct modctx *mod;

			/* after an error every entry is kept, for the caller to free */
			ret = entry_bypath(&e, &mod, r, a.root, a.root_mod, repo_path, err);
			drop = e && (git_tree_entry_filemode(e) == GIT_FILEMODE_TREE ||
				     git_tree_entry_filemode(e) == GIT_FILEMODE_COMMIT);
			git_tree_entry_free(e);
		}
		if (drop)
			free(op->path);
		else
			ops->v[out++] = *op;
	}
	ops->n = out;
	side_release(&a);
	return ret;
}

static int ops_walk(struct cairn_git_ops *out, struct cairn_git_repo *r, const char *from,
		    const char *to_commit, const struct cairn_git_selection *sel, const char *to,
		    bool archive, struct cairn_error **err)
{
	struct filter f;
	struct walk w;
	struct ops_ctx oc = {.ops = out};
	int ret;

	assert(out->n == 0);
	ret = filter_init(&f, sel, to, err);
	if (ret < 0)
		return ret;
	cairn_buf_init(&oc.last_dir, 0);
	walk_init(&w, r, &f);
	w.emit = emit_op;
	w.ud = &oc;
	ret = walk_commits(&w, from, to_commit, err);
	if (ret == 0 && archive) {
		struct side s;

		/* the directories above `to`, and `to` itself unless `add` is a file */
		ret = side_load(&s, r, to_commit, &f, err);
		if (ret == 0) {
			size_t len = strlen(f.to);

			if (len && (!s.node.oid || is_tree(&s.node)))
				ops_push(out, CAIRN_GIT_OP_DIR, f.to, len, S_IFDIR | 0755);
			for (size_t i = 1; i < len; i++) {
				if (f.to[i] == '/')
					ops_push(out, CAIRN_GIT_OP_DIR, f.to, i, S_IFDIR | 0755);
			}
			side_release(&s);
		}
	}
	walk_release(&w);
	cairn_buf_release(&oc.last_dir);
	if (ret == 0)
		ops_finish(out);
	if (ret == 0 && from)
		ret = drop_existing_dirs(out, r, from, &f, err);
	filter_release(&f);
	if (ret < 0) {
		cairn_git_ops_release(out);
		return ret;
	}
	return 0;
}

int cairn_git_archive_ops(struct cairn_git_ops *out, struct cairn_git_repo *r, const char *commit,
			  const struct cairn_git_selection *sel, const char *to,
			  struct cairn_error **err)
{
	return ops_walk(out, r, NULL, commit, sel, to, true, err);
}

int cairn_git_patch_ops(struct cairn_git_ops *out, struct cairn_git_repo *r, const char *from,
			const char *to_commit, const struct cairn_git_selection *sel,
			const char *to, struct cairn_error **err)
{
	return ops_walk(out, r, from, to_commit, sel, to, false, err);
}

/*
 * Checks over two commits
 */

static int emit_stop(struct walk *w, enum change ch, const struct node *n, struct cairn_error **err)
{
	(void)w;
	(void)ch;
	(void)n;
	(void)err;
	return 1;
}

int cairn_git_changed(bool *out, struct cairn_git_repo *r, const char *from, const char *to_commit,
		      const struct cairn_git_selection *sel, struct cairn_error **err)
{
	struct filter f;
	struct walk w;
	int ret;

	*out = false;
	ret = filter_init(&f, sel, NULL, err);
	if (ret < 0)
		return ret;
	walk_init(&w, r, &f);
	w.emit = emit_stop;
	ret = walk_commits(&w, from, to_commit, err);
	walk_release(&w);
	filter_release(&f);
	if (ret < 0)
		return ret;
	*out = ret > 0;
	return 0;
}

struct size_ctx {
	uint64_t total;
};

static int emit_size(struct walk *w, enum change ch, const struct node *n, struct cairn_error **err)
{
	struct size_ctx *sc = w->ud;
	uint64_t size;
	int ret;

	if (ch == CH_DEL || is_tree(n))
		return 0;
	ret = blob_size(&size, n->oid, w, err);
	if (ret < 0)
		return ret;
	sc->total += size;
	return 0;
}

int cairn_git_diff_size(uint64_t *out, struct cairn_git_repo *r, const char *from,
			const char *to_commit, const struct cairn_git_selection *sel,
			struct cairn_error **err)
{
	struct size_ctx sc = {0};
	struct filter f;
	struct walk w;
	int ret;

	*out = 0;
	ret = filter_init(&f, sel, NULL, err);
	if (ret < 0)
		return ret;
	walk_init(&w, r, &f);
	w.emit = emit_size;
	w.ud = &sc;
	ret = walk_commits(&w, from, to_commit, err);
	walk_release(&w);
	filter_release(&f);
	if (ret < 0)
		return ret;
	*out = sc.total;
	return 0;
}

/*
 * stageDependencies checksums
 */

struct dep {
	char *rel;
	git_oid oid;
	uint32_t mode;
};

struct dep_ctx {
	struct dep *v;
	size_t n, alloc;
	size_t *from;  /* the caller's pattern each of the filter's came from */
	bool *matched; /* per caller's pattern: it matched a file; or NULL */
};

static int emit_dep(struct walk *w, enum change ch, const struct node *n, struct cairn_error **err)
{
	struct dep_ctx *dc = w->ud;

	(void)ch;
	(void)err;
	assert(ch == CH_ADD);
	for (size_t k = 0; dc->matched && k < w->f->n_stage; k++) {
		bool *hit = &dc->matched[dc->from[k]];

		if (!*hit && match_any_level(w->f->stage[k], w->rel.buf, w->rel.len))
			*hit = true;
	}
	if (dc->n == dc->alloc) {
		dc->alloc = dc->alloc ? dc->alloc * 2 : 32;
		dc->v = xreallocarray(dc->v, dc->alloc, sizeof(*dc->v));
	}
	dc->v[dc->n].rel = xstrndup(w->rel.buf, w->rel.len);
	git_oid_cpy(&dc->v[dc->n].oid, n->oid);
	dc->v[dc->n].mode = n->mode;
	dc->n++;
	return 0;
}

static int dep_cmp(const void *x, const void *y)
{
	const struct dep *a = x, *b = y;

	return strcmp(a->rel, b->rel);
}

static int hash_deps(struct cairn_sha256 *h, struct cairn_git_repo *r, const struct dep_ctx *dc,
		     struct cairn_error **err)
{
	for (size_t i = 0; i < dc->n; i++) {
		CLEANUP(git_blob_freep) git_blob *blob = NULL;
		char head[64];
		uint64_t size;
		int len;
		int ret;

		ret = git_blob_lookup(&blob, objects_of(r), &dc->v[i].oid);
		if (ret < 0)
			return git_fail(err, ret, CAIRN_EINTERNAL, "read '%s' of '%s'",
					dc->v[i].rel, r->name);
		size = (uint64_t)git_blob_rawsize(blob);
		cairn_sha256_update(h, dc->v[i].rel, strlen(dc->v[i].rel) + 1);
		len = snprintf(head, sizeof(head), "%o%c%" PRIu64 "%c", (unsigned)dc->v[i].mode,
			       '\0', size, '\0');
		assert(len > 0 && (size_t)len < sizeof(head));
		cairn_sha256_update(h, head, (size_t)len);
		cairn_sha256_update(h, git_blob_rawcontent(blob), (size_t)size);
	}
	return 0;
}

/* The stageDependencies patterns, braces expanded, each remembering which it came from. */
static void stage_patterns(struct filter *f, size_t **from, const char *const *patterns, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		char **one = patterns_dup(&k, &patterns[i], 1);

		f->stage = xreallocarray(f->stage, f->n_stage + k, sizeof(*f->stage));
		*from = xreallocarray(*from, f->n_stage + k, sizeof(**from));
		for (size_t j = 0; j < k; j++) {
			(*from)[f->n_stage] = i;
			f->stage[f->n_stage++] = one[j];
		}
		free(one);
	}
}

int cairn_git_stage_checksum(char *out, bool *matched, struct cairn_git_repo *r, const char *commit,
			     const struct cairn_git_selection *sel, const char *const *patterns,
			     size_t n_patterns, struct cairn_error **err)
{
	struct dep_ctx dc = {.matched = matched};
	struct cairn_sha256 h;
	struct cairn_digest dg;
	struct filter f;
	struct walk w;
	int ret;

	out[0] = '\0';
	for (size_t i = 0; matched && i < n_patterns; i++)
		matched[i] = false;
	ret = filter_init(&f, sel, NULL, err);
	if (ret < 0)
		return ret;
	stage_patterns(&f, &dc.from, patterns, n_patterns);
	walk_init(&w, r, &f);
	w.emit = emit_dep;
	w.ud = &dc;
	ret = n_patterns ? walk_commits(&w, NULL, commit, err) : 0;
	walk_release(&w);
	filter_release(&f);
	cairn_sha256_init(&h);
	if (ret == 0) {
		if (dc.n > 1)
			qsort(dc.v, dc.n, sizeof(*dc.v), dep_cmp);
		ret = hash_deps(&h, r, &dc, err);
	}
	for (size_t i = 0; i < dc.n; i++)
		free(dc.v[i].rel);
	free(dc.v);
	free(dc.from);
	if (ret < 0) {
		cairn_sha256_release(&h);
		return ret;
	}
	cairn_sha256_final(&h, &dg);
	memcpy(out, cairn_digest_hex(&dg), CAIRN_GIT_SUM_MAX);
	return 0;
}

/*
 * Writing layers
 */

static int write_op(struct cairn_layer_writer *w, struct cairn_git_repo *r,
		    const struct cairn_git_op *op, const struct cairn_git_write_opts *o,
		    struct cairn_error **err)
{
	const struct cairn_layer_entry tmpl = {.uid = o->uid, .gid = o->gid, .mtime = o->mtime};
	CLEANUP(git_blob_freep) git_blob *blob = NULL;
	cleanup_free char *target = NULL;
	struct cairn_layer_entry e = tmpl;
	git_oid oid;
	int ret;

	e.path = op->path;
	e.mode = op->mode;
	if (op->kind == CAIRN_GIT_OP_WHITEOUT)
		return cairn_layer_add_whiteout(w, op->path, e.mtime, err);
	if (op->kind == CAIRN_GIT_OP_DIR)
		return o->dir_filter && !o->dir_filter(&e, o->ud) ? 0 : cairn_layer_add(w, &e, err);
	if (git_oid_fromstr(&oid, op->oid) < 0)
		return cairn_error_set(err, CAIRN_EINVAL, "'%s': bad blob id '%s'", op->path,
				       op->oid);
	ret = git_blob_lookup(&blob, objects_of(r), &oid);
	if (ret < 0)
		return git_fail(err, ret, CAIRN_EINTERNAL, "read blob '%s' for '%s' of '%s'",
				op->oid, op->path, r->name);
	if ((uint64_t)git_blob_rawsize(blob) != op->size)
		return cairn_error_set(err, CAIRN_EINTERNAL,
				       "blob '%s' for '%s': %" PRIu64 " bytes, expected %" PRIu64,
				       op->oid, op->path, (uint64_t)git_blob_rawsize(blob),
				       op->size);
	if (op->kind == CAIRN_GIT_OP_SYMLINK) {
		target = xstrndup(git_blob_rawcontent(blob), (size_t)op->size);
		e.linkname = target;
		return cairn_layer_add(w, &e, err);
	}
	e.size = op->size;
	ret = cairn_layer_add(w, &e, err);
	if (ret == 0)
		ret = cairn_layer_write_data(w, git_blob_rawcontent(blob), (size_t)op->size, err);
	return ret;
}

int cairn_git_write_ops(struct cairn_layer_writer *w, struct cairn_git_repo *r,
			const struct cairn_git_ops *ops, const struct cairn_git_write_opts *o,
			struct cairn_error **err)
{
	for (size_t i = 0; i < ops->n; i++) {
		int ret = write_op(w, r, &ops->v[i], o, err);

		if (ret < 0)
			return cairn_error_wrap(err, "git layer entry '%s'", ops->v[i].path);
	}
	return 0;
}
