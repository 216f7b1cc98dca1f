/* SPDX-License-Identifier: MIT */
/* Revisions: HEAD, branches, tags and commits resolved to ids, commit times, reset commits. */
#include "common.h"
#include "git/git_internal.h"
#include "util/strset.h"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

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

int cairn_git_lookup_commit(git_commit **out, struct cairn_git_repo *r, const char *hex,
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
		return cairn_git_fail(err, ret, CAIRN_EINTERNAL, "look up commit '%s' in '%s'", hex,
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

/*
 * Call fn(ref, name after `prefix`) for each direct reference under `prefix` until it returns
 * non-zero (returned). An error of the iteration itself is one: a partial list would make
 * branches look deleted.
 */
static int each_direct_ref(struct cairn_git_repo *r, const char *prefix,
			   int (*fn)(git_reference *ref, const char *name, void *ud), void *ud,
			   struct cairn_error **err)
{
	cleanup_free char *glob = xasprintf("%s*", prefix);
	git_reference_iterator *it = NULL;
	git_reference *ref;
	size_t n = strlen(prefix);
	int ret = 0, gr;

	gr = git_reference_iterator_glob_new(&it, r->repo, glob);
	if (gr < 0)
		return cairn_git_fail(err, gr, CAIRN_EINTERNAL, "list '%s' of '%s'", glob, r->name);
	while (ret == 0 && (gr = git_reference_next(&ref, it)) == 0) {
		const char *name = git_reference_name(ref);

		if (git_reference_type(ref) == GIT_REFERENCE_DIRECT &&
		    strncmp(name, prefix, n) == 0)
			ret = fn(ref, name + n, ud);
		git_reference_free(ref);
	}
	git_reference_iterator_free(it);
	if (ret == 0 && gr < 0 && gr != GIT_ITEROVER)
		ret = cairn_git_fail(err, gr, CAIRN_EINTERNAL, "list '%s' of '%s'", glob, r->name);
	return ret;
}

struct name_fn {
	int (*fn)(const char *name, void *ud);
	void *ud;
};

static int call_name_fn(git_reference *ref, const char *name, void *ud)
{
	struct name_fn *f = ud;

	(void)ref;
	return f->fn(name, f->ud);
}

int cairn_git_each_ref(struct cairn_git_repo *r, const char *prefix,
		       int (*fn)(const char *name, void *ud), void *ud, struct cairn_error **err)
{
	struct name_fn f = {fn, ud};

	return each_direct_ref(r, prefix, call_name_fn, &f, err);
}

/* A submodule's entry (git's "gitlink" mode). */
#define S_ISGITLINK(m) (((m)&0170000) == 0160000)

/*
 * Whether the work tree's file of index entry `e` is another than the entry: its type,
 * executable bit or size differ, or, when its stat data is not the entry's or is racy (as
 * recent as the index), it hashes (with the repository's filters) to another blob. Nothing
 * is read for a file whose stat data matches.
 */
static bool entry_changed(git_repository *repo, const char *workdir, const git_index_entry *e,
			  int64_t index_mtime)
{
	cleanup_free char *path = xasprintf("%s%s", workdir, e->path);
	struct stat sb;
	git_oid oid;

	if (S_ISGITLINK(e->mode))
		return false; /* submodules are left out */
	if (lstat(path, &sb) < 0)
		return true;
	if (S_ISLNK(e->mode) != S_ISLNK(sb.st_mode) ||
	    (!S_ISLNK(sb.st_mode) && !S_ISREG(sb.st_mode)))
		return true;
	if (S_ISREG(sb.st_mode) && (e->mode & 0100) != (sb.st_mode & 0100))
		return true;
	if (e->file_size != (uint32_t)sb.st_size)
		return true;
	if (e->mtime.seconds == (int32_t)sb.st_mtime &&
	    e->mtime.nanoseconds == (uint32_t)sb.st_mtim.tv_nsec && e->ino == (uint32_t)sb.st_ino &&
	    (int64_t)sb.st_mtime < index_mtime)
		return false;
	if (S_ISLNK(sb.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(path, target, sizeof(target));

		if (n < 0 || git_odb_hash(&oid, target, (size_t)n, GIT_OBJECT_BLOB) < 0)
			return true;
	} else if (git_repository_hashfile(&oid, repo, path, GIT_OBJECT_BLOB, e->path) < 0) {
		return true;
	}
	return !git_oid_equal(&oid, &e->id);
}

/*
 * Staged changes come from HEAD's tree against the index (no file read); changes in the work
 * tree from each index entry's stat data, so no directory of the work tree is opened (a
 * status walk lists them all).
 */
size_t cairn_git_changed_files(struct cairn_git_repo *r)
{
	CLEANUP(cairn_strset_release) struct cairn_strset paths = CAIRN_STRSET_INIT;
	const char *workdir = git_repository_workdir(r->repo);
	git_index *index = NULL;
	git_object *tree = NULL; /* HEAD's */
	git_diff *diff = NULL;
	struct stat isb;
	int64_t index_mtime = INT64_MAX;
	size_t n;

	if (!workdir || git_repository_index(&index, r->repo) < 0)
		return 0;
	(void)git_index_read(index, 0); /* as it is on disk now */
	if (stat(git_index_path(index), &isb) == 0)
		index_mtime = (int64_t)isb.st_mtime;
	if (git_revparse_single(&tree, r->repo, "HEAD^{tree}") == 0 &&
	    git_diff_tree_to_index(&diff, r->repo, (git_tree *)tree, index, NULL) == 0) {
		for (size_t i = 0; i < git_diff_num_deltas(diff); i++) {
			const git_diff_delta *d = git_diff_get_delta(diff, i);
			const char *p = d->new_file.path ? d->new_file.path : d->old_file.path;

			if (!S_ISGITLINK(d->new_file.mode) && !S_ISGITLINK(d->old_file.mode))
				cairn_strset_add(&paths, p, strlen(p));
		}
	}
	n = git_index_entrycount(index);
	for (size_t i = 0; i < n; i++) {
		const git_index_entry *e = git_index_get_byindex(index, i);

		if (e && entry_changed(r->repo, workdir, e, index_mtime))
			cairn_strset_add(&paths, e->path, strlen(e->path));
	}
	git_diff_free(diff);
	git_object_free(tree);
	git_index_free(index);
	return paths.n;
}

bool cairn_git_is_shallow(struct cairn_git_repo *r)
{
	return git_repository_is_shallow(r->repo) == 1;
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
		return cairn_git_fail(err, ret, CAIRN_EINTERNAL, "read HEAD of '%s'", r->name);
	ret = git_reference_peel(&obj, head, GIT_OBJECT_COMMIT);
	if (ret < 0)
		return cairn_git_fail(err, ret, CAIRN_EINTERNAL, "read HEAD of '%s'", r->name);
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
		return cairn_git_fail(err, ret, CAIRN_EINTERNAL, "look up commit '%s' in '%s'",
				      commit, r->name);
	ret = git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT);
	if (ret < 0)
		return cairn_git_fail(err, ret, CAIRN_EINVAL, "commit '%s' in '%s'", commit,
				      r->name);
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
		return cairn_git_fail(err, ret, CAIRN_EINTERNAL, "%s '%s' in '%s'", what,
				      short_name, r->name);
	ret = git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT);
	if (ret < 0)
		return cairn_git_fail(err, ret, CAIRN_EINVAL, "%s '%s' in '%s'", what, short_name,
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
	ret = cairn_git_lookup_commit(&c, r, commit, err);
	if (ret < 0)
		return ret;
	ret = git_commit_tree(&tree, c);
	if (ret < 0)
		return cairn_git_fail(err, ret, CAIRN_EINTERNAL, "tree of commit '%s'", commit);
	*out = git_tree_entry_byname(tree, ".gitmodules") != NULL;
	return 0;
}

int cairn_git_commit_time(int64_t *out, struct cairn_git_repo *r, const char *commit,
			  struct cairn_error **err)
{
	CLEANUP(git_commit_freep) git_commit *c = NULL;
	int ret;

	*out = 0;
	ret = cairn_git_lookup_commit(&c, r, commit, err);
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
	ret = cairn_git_odb(&odb, r, err);
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
		return cairn_git_fail(err, ret, CAIRN_EINTERNAL, "walk the history of '%s'",
				      r->name);
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
			return cairn_git_fail(err, ret, CAIRN_EINTERNAL, "walk the history of '%s'",
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
		return cairn_git_fail(err, ret, CAIRN_EINTERNAL, "reset commits of '%s'", commit);
	if (ret == 0) {
		/* history was rewritten: the earlier answer says nothing */
		return cairn_git_latest_reset(out, r, commit, err);
	}
	ret = reset_walk(found, r, &start, &base_oid, err);
	if (ret < 0)
		return cairn_error_wrap(err, "reset commits of '%s'", commit);
	if (found[0] && base_reset[0]) {
		/* the newer of the two by committer time, as a whole walk would find */
		ret = cairn_git_lookup_commit(&found_c, r, found, err);
		if (ret == 0)
			ret = cairn_git_lookup_commit(&base_c, r, base_reset, err);
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
 * History
 */

void cairn_git_ref_infos_free(struct cairn_git_ref_info *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* The commit `ref` points at (a tag peeled) and its time: the tagger's, else the committer's. */
static int ref_info(struct cairn_git_ref_info *out, git_reference *ref)
{
	git_object *target = NULL, *peeled = NULL;
	int ret = git_reference_peel(&peeled, ref, GIT_OBJECT_COMMIT);

	if (ret < 0)
		return ret;
	git_oid_tostr(out->commit, sizeof(out->commit), git_object_id(peeled));
	out->time = (int64_t)git_commit_time((git_commit *)peeled);
	/* the object the reference names: an annotated tag has its own time */
	if (git_reference_target(ref) &&
	    git_object_lookup(&target, git_reference_owner(ref), git_reference_target(ref),
			      GIT_OBJECT_ANY) == 0 &&
	    git_object_type(target) == GIT_OBJECT_TAG) {
		const git_signature *who = git_tag_tagger((git_tag *)target);

		if (who)
			out->time = (int64_t)who->when.time;
	}
	git_object_free(target);
	git_object_free(peeled);
	return 0;
}

struct infos {
	struct cairn_git_ref_info *v;
	size_t n;
};

static int add_info(git_reference *ref, const char *name, void *ud)
{
	struct infos *in = ud;
	struct cairn_git_ref_info info = {0};

	if (ref_info(&info, ref) == 0) {
		in->v = xgrow1(in->v, in->n, sizeof(*in->v));
		info.name = xstrdup(name);
		in->v[in->n++] = info;
	}
	return 0;
}

int cairn_git_ref_infos(struct cairn_git_ref_info **out, size_t *n_out, struct cairn_git_repo *r,
			const char *prefix, struct cairn_error **err)
{
	struct infos in = {0};
	int ret = each_direct_ref(r, prefix, add_info, &in, err);

	if (ret < 0) {
		cairn_git_ref_infos_free(in.v, in.n);
		in = (struct infos){0};
	}
	*out = in.v;
	*n_out = in.n;
	return ret;
}

int cairn_git_commit_parents(char (**out)[41], size_t *n_out, int64_t *time_out,
			     struct cairn_git_repo *r, const char *commit, struct cairn_error **err)
{
	git_commit *c = NULL;
	int ret = cairn_git_lookup_commit(&c, r, commit, err);
	unsigned n;

	*out = NULL;
	*n_out = 0;
	if (ret < 0)
		return ret;
	n = git_commit_parentcount(c);
	*time_out = (int64_t)git_commit_time(c);
	*out = xcalloc(n + 1, sizeof(**out));
	for (unsigned i = 0; i < n; i++)
		git_oid_tostr((*out)[i], 41, git_commit_parent_id(c, i));
	*n_out = n;
	git_commit_free(c);
	return 0;
}
