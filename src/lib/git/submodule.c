/* SPDX-License-Identifier: MIT */
/* Submodules: the .gitmodules parser, their repositories (local or fetched), gitlinks entered. */
#include "common.h"
#include "git/git_internal.h"
#include "util/buf.h"

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

void cairn_git_modules_release(struct gitmodule *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].path);
		free(v[i].url);
	}
	free(v);
}

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
			cairn_git_modules_release(*out, *n_out);
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
	cairn_git_modules_release(mods, n);
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
			return cairn_git_fail(err, ret, CAIRN_EINTERNAL, "open the objects of '%s'",
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
		return cairn_git_fail(err, ret, CAIRN_EINTERNAL, "read the objects of '%s'",
				      objects_dir);
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
			return cairn_git_fail(err, ret, CAIRN_EINTERNAL, "open '%s'", cand[i]);
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
struct modctx *cairn_git_modctx_get(struct cairn_git_repo *r, struct subrepo *sr,
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
	ret = git_commit_lookup(&c, cairn_git_objects(r), &m->commit);
	if (ret == 0)
		ret = git_commit_tree(&tree, c);
	if (ret < 0)
		return cairn_git_fail(err, ret, CAIRN_EINTERNAL, "read the tree of '%s'",
				      git_oid_tostr_s(&m->commit));
	e = git_tree_entry_byname(tree, ".gitmodules");
	if (e && (git_tree_entry_filemode(e) == GIT_FILEMODE_BLOB ||
		  git_tree_entry_filemode(e) == GIT_FILEMODE_BLOB_EXECUTABLE)) {
		ret = git_blob_lookup(&blob, cairn_git_objects(r), git_tree_entry_id(e));
		if (ret < 0)
			return cairn_git_fail(err, ret, CAIRN_EINTERNAL, "read '.gitmodules'");
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
int cairn_git_submodule_enter(struct modctx **ctx_out, git_oid *tree_out, struct cairn_git_repo *r,
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
		ret = git_commit_lookup(&c, cairn_git_objects(r), commit);
		if (ret == GIT_ENOTFOUND)
			ret = cairn_error_set(err, CAIRN_ENOTFOUND, "commit not found in '%s'%s",
					      sr->name, r->url ? "" : UPDATE_HINT);
		else if (ret < 0)
			ret = cairn_git_fail(err, ret, CAIRN_EINTERNAL, "read the commit");
	}
	if (ret < 0)
		return cairn_error_wrap(err, "submodule '%s' at commit %s", full, hex);
	git_oid_cpy(tree_out, git_commit_tree_id(c));
	*ctx_out = cairn_git_modctx_get(r, sr, commit, full);
	return 0;
}

/*
 * The entry at `path` (from the project's root) of the tree `root` of the repository at
 * `ctx`, through submodules: a copy into *out (NULL when there is none), and the repository at
 * a commit whose tree holds it into *ctx_out.
 */
int cairn_git_entry_bypath(git_tree_entry **out, struct modctx **ctx_out, struct cairn_git_repo *r,
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
			return ret < 0 ? cairn_git_fail(err, ret, CAIRN_EINTERNAL, "read '/%s'",
							path)
				       : 0;
		}
		git_oid_cpy(&id, git_tree_entry_id(e));
		if (git_tree_entry_filemode(e) == GIT_FILEMODE_COMMIT) {
			cleanup_free char *full = xstrndup(path, (size_t)(slash - path));

			git_oid commit;

			git_oid_cpy(&commit, &id);
			ret = cairn_git_submodule_enter(ctx_out, &id, r, *ctx_out, full, &commit,
							err);
			if (ret < 0)
				return ret;
		} else if (git_tree_entry_filemode(e) != GIT_FILEMODE_TREE) {
			return 0;
		}
		ret = git_tree_lookup(&next, cairn_git_objects(r), &id);
		if (ret < 0)
			return cairn_git_fail(err, ret, CAIRN_EINTERNAL, "read the tree of '/%.*s'",
					      (int)(slash - path), path);
		git_tree_free(held);
		held = next;
		tree = next;
		p = slash + 1;
	}
}
