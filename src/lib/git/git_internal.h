/* SPDX-License-Identifier: MIT */
/* What the files of git/ share: the repository object, submodules, patterns and the tree walk. */
#ifndef CAIRN_GIT_GIT_INTERNAL_H
#define CAIRN_GIT_GIT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <git2.h>

#include "git/git.h"
#include "util/buf.h"

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
	git_odb *odb;	 /* of cairn_git_objects(), opened on first use */
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

/* repo.c */

/* Turn the libgit2 error `gerr` (with its last message) into a cairn error. */
int cairn_git_fail(struct cairn_error **err, int gerr, enum cairn_code dflt, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Where trees and blobs are read: the repository, or it and its submodules. */
git_repository *cairn_git_objects(struct cairn_git_repo *r);
/* The objects of cairn_git_objects(r), opened on first use: borrowed until a submodule is met. */
int cairn_git_odb(git_odb **out, struct cairn_git_repo *r, struct cairn_error **err);

/* rev.c */

/*
 * The commit `hex` (40 lowercase hex digits) of r: CAIRN_EINVAL for another string,
 * CAIRN_ENOTFOUND when r has no such commit.
 */
int cairn_git_lookup_commit(git_commit **out, struct cairn_git_repo *r, const char *hex,
			    struct cairn_error **err);

/* submodule.c */

void cairn_git_modules_release(struct gitmodule *v, size_t n);
/* The repository at a commit, the same object for the same one (kept in r). */
struct modctx *cairn_git_modctx_get(struct cairn_git_repo *r, struct subrepo *sr,
				    const git_oid *commit, const char *root);
/*
 * Enter the gitlink at `full` (from the project's root; in the tree of `in`) to `commit`: the
 * tree to walk into *tree_out and the repository at that commit into *ctx_out.
 * CAIRN_ENOTFOUND when the submodule or its commit is not available.
 */
int cairn_git_submodule_enter(struct modctx **ctx_out, git_oid *tree_out, struct cairn_git_repo *r,
			      struct modctx *in, const char *full, const git_oid *commit,
			      struct cairn_error **err);
/*
 * The entry at `path` (from the project's root) of the tree `root` of the repository at
 * `ctx`, through submodules: a copy into *out (NULL when there is none), and the repository at
 * a commit whose tree holds it into *ctx_out.
 */
int cairn_git_entry_bypath(git_tree_entry **out, struct modctx **ctx_out, struct cairn_git_repo *r,
			   git_tree *root, struct modctx *ctx, const char *path,
			   struct cairn_error **err);

/* match.c */

/* A selection made ready for the walk: paths normalised, patterns with braces expanded. */
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

/* The pattern matches exactly this path (equal, or as a glob); ancestors are not tried. */
bool cairn_git_match_self(const char *pat, const char *s, size_t len);
/* Could the pattern match some path below directory s? Errs on the side of yes. */
bool cairn_git_match_below(const char *pat, const char *s, size_t len);
/* Does the (normalised) pattern match the path or one of its parent directories? */
bool cairn_git_match_any_level(const char *pat, const char *path, size_t len);
/* The patterns with every "{a,b}" expanded and normalised, in a new array of new strings. */
char **cairn_git_patterns_dup(size_t *n_out, const char *const *v, size_t n);
/* The filter of a selection whose files are written at `to` (NULL: the root). */
int cairn_git_filter_init(struct filter *f, const struct cairn_git_selection *sel, const char *to,
			  struct cairn_error **err);
void cairn_git_filter_release(struct filter *f);

/* walk.c */

/* One side of a comparison at one path: a tree entry, or nothing. */
struct node {
	const git_oid *oid; /* NULL: absent */
	uint32_t mode;	    /* git file mode; a gitlink (submodule) counts as a directory */
	struct modctx *mod; /* the repository at a commit whose tree holds it */
};

/*
 * The walk: compares two versions of the selection (either may be absent) tree by tree,
 * skipping subtrees whose ids are equal, and reports each selected file that is new or changed
 * (CH_ADD, the new version) or gone (CH_DEL, the old version).
 */
enum change { CH_ADD, CH_DEL };

/* One walk: where it is, and what it reports each change to. */
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

void cairn_git_walk_init(struct walk *w, struct cairn_git_repo *r, const struct filter *f);
void cairn_git_walk_release(struct walk *w);
/* Run a walk between two commits (`from` may be NULL: everything is new). */
int cairn_git_walk_commits(struct walk *w, const char *from, const char *to_commit,
			   struct cairn_error **err);

#endif
