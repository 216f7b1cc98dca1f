/* SPDX-License-Identifier: MIT */
/* Git sources of images over libgit2: revisions, path selection, archives, patches, checksums. */
#ifndef CAIRN_GIT_GIT_H
#define CAIRN_GIT_GIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cairn/error.h"

/* A commit id: 40 lowercase hex digits + NUL. */
#define CAIRN_GIT_HEX_MAX 41
/* A stageDependencies checksum: 64 lowercase hex digits + NUL. */
#define CAIRN_GIT_SUM_MAX 65
/* Commits the reset-commit walk looks at before giving up (newest first). */
#define CAIRN_GIT_RESET_WALK_MAX 100000

struct cairn_git_repo;

/*
 * Process-wide libgit2 setup. Every successful init pairs with one cleanup; the last cleanup
 * frees libgit2's global state (LeakSanitizer wants it). Repository ownership checks
 * (safe.directory) are turned off: cairn only reads, runs no hooks or filters, and often runs as
 * root over a checkout owned by someone else. CAIRN_EINTERNAL if libgit2 fails to start.
 */
int cairn_git_global_init(struct cairn_error **err);
void cairn_git_global_cleanup(void);

/*
 * Open the repository holding `dir`, searching upward like git does. Free with cairn_git_free().
 * A repository object is for one thread at a time. CAIRN_ENOTFOUND when `dir` is in no
 * repository, CAIRN_EINTERNAL for a broken one.
 */
int cairn_git_open(struct cairn_git_repo **out, const char *dir, struct cairn_error **err);

/*
 * Open a remote repository through a bare cache: on first use it is cloned to
 * `cache_dir`/<sha256 hex of `url` without credentials>, afterwards every call fetches all
 * branches and tags (forced, pruned) and the remote HEAD. Mirrored refs keep their names
 * (refs/heads/..., refs/tags/...), and the cache's HEAD follows the remote's. `url` may be
 * https://, ssh://, scp-like, file:// or a local path; credentials in an https URL are used but
 * never written to the cache; ssh authenticates through ssh-agent. url.<base>.insteadOf from git
 * config is not applied. Concurrent callers on one cache serialise on a lock file beside it. A
 * failed fetch is an error even when an older copy is cached: CAIRN_ENET (or CAIRN_EAUTH,
 * CAIRN_ENOTFOUND); CAIRN_EOS for the cache directory.
 */
int cairn_git_open_remote(struct cairn_git_repo **out, const char *url, const char *cache_dir,
			  struct cairn_error **err);

/* Close a repository; accepts NULL. */
void cairn_git_free(struct cairn_git_repo *r);

/*
 * The URL of the `origin` remote of the repository holding `dir` (searched upward like
 * cairn_git_open()) into *out, a new string the caller frees; NULL (and 0) when the repository
 * has no `origin` URL. The URL may carry credentials: never print it. Initialises libgit2 for the
 * call (see cairn_git_global_init()). CAIRN_ENOTFOUND when `dir` is in no repository,
 * CAIRN_EINTERNAL for a broken one.
 */
int cairn_git_origin_url(char **out, const char *dir, struct cairn_error **err);

/*
 * The repository identity that goes into signatures (borrowed; valid until cairn_git_free()):
 * "local" for cairn_git_open() (moving the project must not change signatures), for a remote
 * the normalised URL (see cairn_git_url_normalise()).
 */
const char *cairn_git_identity(const struct cairn_git_repo *r);

/*
 * Normalise a remote URL for identities, into a new string the caller frees: credentials
 * ("user:pass@", "git@") are dropped, scheme and host are lower-cased, and trailing '/' and
 * ".git" are removed. "https://Tok@GitHub.com/org/app.git/" -> "https://github.com/org/app",
 * "git@github.com:org/app.git" -> "github.com:org/app", "/srv/app.git" -> "/srv/app".
 */
char *cairn_git_url_normalise(const char *url);

/*
 * The commit HEAD points at, as hex into `out` (CAIRN_GIT_HEX_MAX bytes), and the current branch
 * ("main") into *branch_out (the caller frees; NULL when HEAD is detached). `branch_out` may be
 * NULL. CAIRN_ENOTFOUND when HEAD has no commit yet.
 */
int cairn_git_head(char *out, char **branch_out, struct cairn_git_repo *r,
		   struct cairn_error **err);

/*
 * Resolve a git entry's revision to a commit (hex into `out`, CAIRN_GIT_HEX_MAX bytes). At most
 * one of `branch` (refs/heads/<branch>), `tag` (refs/tags/<tag>, annotated tags peeled) and
 * `commit` (4 to 40 hex digits) is set; all NULL means HEAD (for a remote: the remote's HEAD).
 * CAIRN_ENOTFOUND when it does not exist, CAIRN_EINVAL for a malformed or ambiguous name.
 */
int cairn_git_resolve(char *out, struct cairn_git_repo *r, const char *branch, const char *tag,
		      const char *commit, struct cairn_error **err);

/*
 * Whether the repository holds the commit `hex` (40 hex digits). A commit recorded by an earlier
 * build may be gone: amended and collected, force-pushed away, or beyond a shallow clone.
 */
bool cairn_git_has_commit(struct cairn_git_repo *r, const char *hex);

/*
 * Each reference whose full name starts with `prefix` ("refs/remotes/origin/", "refs/tags/"):
 * fn(name without the prefix, ud); stops on fn < 0. Symbolic references (origin/HEAD) are left
 * out.
 */
int cairn_git_each_ref(struct cairn_git_repo *r, const char *prefix,
		       int (*fn)(const char *name, void *ud), void *ud, struct cairn_error **err);

/*
 * How many tracked files of the work tree differ from HEAD (staged or not; untracked files and
 * submodules left out): 0 for a clean tree or a bare repository.
 */
size_t cairn_git_changed_files(struct cairn_git_repo *r);

/* A reference as history-based cleanup reads it. */
struct cairn_git_ref_info {
	char *name;	 /* without the prefix asked for ("main", "v1.0") */
	char commit[41]; /* the commit it points at, an annotated tag peeled */
	int64_t time;	 /* the tagger's time of an annotated tag, else the commit's */
};

/*
 * Every direct reference under `prefix` ("refs/remotes/origin/", "refs/tags/") that peels to
 * a commit, into a new array (free with cairn_git_ref_infos_free()).
 */
int cairn_git_ref_infos(struct cairn_git_ref_info **out, size_t *n_out, struct cairn_git_repo *r,
			const char *prefix, struct cairn_error **err);
void cairn_git_ref_infos_free(struct cairn_git_ref_info *v, size_t n);

/*
 * The parents of `commit` (40 hex) into a new array of 41-byte strings (the caller frees it)
 * and its committer time. CAIRN_ENOTFOUND, CAIRN_EINVAL as cairn_git_commit_time().
 */
int cairn_git_commit_parents(char (**out)[41], size_t *n_out, int64_t *time_out,
			     struct cairn_git_repo *r, const char *commit,
			     struct cairn_error **err);

/* Whether the repository is a shallow clone (its history is cut). */
bool cairn_git_is_shallow(struct cairn_git_repo *r);

/*
 * Whether `commit` (40 hex) has a .gitmodules file at its root: werf's test for a commit with
 * submodules (HasSubmodulesInCommit in pkg/git_repo/base.go). CAIRN_ENOTFOUND, EINVAL.
 */
int cairn_git_has_submodules(bool *out, struct cairn_git_repo *r, const char *commit,
			     struct cairn_error **err);

/* The committer time of `commit` (40 hex), seconds since the epoch. CAIRN_ENOTFOUND, EINVAL. */
int cairn_git_commit_time(int64_t *out, struct cairn_git_repo *r, const char *commit,
			  struct cairn_error **err);

/*
 * The newest commit reachable from `commit` (itself included) whose message contains
 * "[cairn reset]" or "[werf reset]", by committer time, into `out` (CAIRN_GIT_HEX_MAX bytes);
 * "" when none is found among the CAIRN_GIT_RESET_WALK_MAX newest. The last answer is memoised
 * in `r`, so asking again for the same commit costs nothing.
 */
int cairn_git_latest_reset(char *out, struct cairn_git_repo *r, const char *commit,
			   struct cairn_error **err);

/*
 * cairn_git_latest_reset() for a history that grew: `base_reset` ("" for none) is the latest
 * reset commit of `base`, as an earlier build found it. When `base` is an ancestor of `commit`
 * only the commits in between are read; otherwise (history rewritten) this is a whole walk.
 * The answer is the same as cairn_git_latest_reset()'s, except that a tie in committer time
 * between an old and a new reset commit goes to the new one.
 */
int cairn_git_latest_reset_since(char *out, struct cairn_git_repo *r, const char *commit,
				 const char *base, const char *base_reset,
				 struct cairn_error **err);

/*
 * Path patterns (includePaths, excludePaths, stageDependencies), relative to `add`: a pattern
 * matches a path when it is equal to the path or to one of its parent directories, or matches
 * one of them as a glob: '*' and '?' stay within one path component, a whole component "**"
 * spans any number of directories (none included), "[a-z]", "[!x]" / "[^x]" are classes,
 * "{a,b}" are alternatives (nested, any characters, as werf's doublestar; up to 256 per pattern)
 * and '\' quotes the next character. Leading "./" or '/' and trailing '/' of a pattern are
 * ignored; an empty pattern matches nothing. Returns true on a match.
 */
bool cairn_git_path_match(const char *pattern, const char *path);

/*
 * What one git entry takes from the repository. All pointers are borrowed for the duration of
 * each call. A path is selected when it lies under `add` and, taken relative to `add`, matches
 * an include pattern (or there are none) and no exclude pattern: exclude wins. When `add` names a
 * file, the patterns see its base name.
 *
 * A submodule (a gitlink) is the directory of the files of its commit, nested ones too, as
 * `git submodule update --init --recursive` checks them out: every function below walks into
 * it, `add` and the patterns see paths through it like any other, and a submodule moved to
 * another commit changes the files that differ. Its repository is the one the .gitmodules file
 * at the commit holding the gitlink names: for cairn_git_open(), the repository git keeps in
 * the project's git directory (modules/<name>, else the checkout at its path), never fetched;
 * for cairn_git_open_remote(), its URL (relative URLs against the superproject's) fetched into
 * the same cache once per repository object (a local URL only for a local superproject).
 * Submodules an exclude pattern leaves out are never looked at. A selected submodule whose
 * repository or commit is not available is CAIRN_ENOTFOUND "submodule 'PATH' at commit HEX:
 * ...", a malformed .gitmodules CAIRN_EINVAL.
 */
struct cairn_git_selection {
	const char *add; /* absolute: "/" (or NULL) for everything, "/src", "/etc/app.conf" */
	const char *const *include;
	size_t n_include;
	const char *const *exclude;
	size_t n_exclude;
};

#define CAIRN_GIT_SELECTION_INIT \
	{                        \
		.add = "/"       \
	}

/*
 * The stageDependencies checksum of one stage: over the files of the selection at `commit` that
 * also match one of `patterns` (same rules, relative to `add`), in byte order of that relative
 * path, SHA-256 of, per file:
 *
 *   <path relative to add> NUL <git mode in octal, "100644" | "100755" | "120000"> NUL
 *   <size in decimal> NUL <content bytes (a symlink's target)>
 *
 * Lowercase hex into `out` (CAIRN_GIT_SUM_MAX bytes). No matching file (or no patterns) gives
 * the hash of nothing, "e3b0c442...b855". This is the one check that reads file contents.
 * `matched` (NULL, or `n_patterns` flags) tells for each pattern whether it matched a file.
 */
int cairn_git_stage_checksum(char *out, bool *matched, /* OUT: per pattern, or NULL */
			     struct cairn_git_repo *r, const char *commit,
			     const struct cairn_git_selection *sel, const char *const *patterns,
			     size_t n_patterns, struct cairn_error **err);

/*
 * True in *out when a selected path differs between commits `from` and `to_commit` (added,
 * deleted, content or mode changed). Compares tree and blob ids only, and skips unchanged
 * subtrees by id, so it is cheap whatever the size of the repository.
 */
int cairn_git_changed(bool *out, struct cairn_git_repo *r, const char *from, const char *to_commit,
		      const struct cairn_git_selection *sel, struct cairn_error **err);

/*
 * The bytes of selected files that are new or changed in `to_commit` relative to `from` (sum of
 * their new sizes; deletions count nothing), for the gitCache MiB count. Reads object headers,
 * not contents.
 */
int cairn_git_diff_size(uint64_t *out, struct cairn_git_repo *r, const char *from,
			const char *to_commit, const struct cairn_git_selection *sel,
			struct cairn_error **err);

enum cairn_git_op_kind {
	CAIRN_GIT_OP_WHITEOUT = 0, /* first: a whiteout precedes a new entry of the same path */
	CAIRN_GIT_OP_DIR = 1,
	CAIRN_GIT_OP_FILE = 2,
	CAIRN_GIT_OP_SYMLINK = 3,
};

/* One entry of a git layer. */
struct cairn_git_op {
	enum cairn_git_op_kind kind;
	char *path;    /* in the image, no leading '/': "app/src/main.py" (owned) */
	uint32_t mode; /* S_IFDIR|0755, S_IFREG|0644 or 0755, S_IFLNK|0777; 0 whiteout */
	char oid[CAIRN_GIT_HEX_MAX]; /* blob of a file or symlink, "" otherwise */
	uint64_t size;		     /* file: content bytes; symlink: target bytes; else 0 */
};

/* A layer as a list of operations, sorted by path (byte order), whiteouts first on a tie. */
struct cairn_git_ops {
	struct cairn_git_op *v;
	size_t n;
	size_t alloc;
};

#define CAIRN_GIT_OPS_INIT \
	{                  \
		0          \
	}

/* Free the operations; the list is left empty and reusable. */
void cairn_git_ops_release(struct cairn_git_ops *ops);

/*
 * The gitArchive layer of one entry at `commit`, appended to `out` (which must be empty): every
 * selected file under `to` (absolute; `add` stripped; when `add` is a file, `to` is its path),
 * the directories above `to`, `to` itself unless `add` is a file, and every directory above a
 * file. File modes come from git (0644 or 0755). A missing `add` gives just those directories.
 * Reads tree objects and blob headers, not contents. CAIRN_EINVAL for a bad `add`/`to`.
 */
int cairn_git_archive_ops(struct cairn_git_ops *out, struct cairn_git_repo *r, const char *commit,
			  const struct cairn_git_selection *sel, const char *to,
			  struct cairn_error **err);

/*
 * The patch layer from `from` to `to_commit`, appended to `out` (which must be empty): new and
 * changed files (content, mode or type) in full, with the directories above them that are new
 * (those the selection had at `from`, `to` and what is above it exist already and are left
 * alone, as `git apply` leaves them); a whiteout for each selected file that is gone (a rename is
 * both). A directory that is gone with everything in it is whited out as a whole (when it held
 * something selected), as `git apply` removes the directories it empties; so is a directory a file
 * or symlink replaces. No change gives an empty list (the gitLatestPatch stage is then empty).
 */
int cairn_git_patch_ops(struct cairn_git_ops *out, struct cairn_git_repo *r, const char *from,
			const char *to_commit, const struct cairn_git_selection *sel,
			const char *to, struct cairn_error **err);

struct cairn_git_blob;

/*
 * The bytes of blob `oid` (40 hex) of `r`, a submodule's read from the repository `r` found it
 * in (read with the `r` that listed it): *data and *size stay valid until
 * cairn_git_blob_free(*out). CAIRN_EINVAL for a bad id, CAIRN_EINTERNAL when it is missing.
 */
int cairn_git_blob_read(struct cairn_git_blob **out, const void **data, uint64_t *size,
			struct cairn_git_repo *r, const char *oid, struct cairn_error **err);

/* Release a blob of cairn_git_blob_read(); accepts NULL. */
void cairn_git_blob_free(struct cairn_git_blob *b);

/*
 * Parse the .gitmodules text `text` (`len` bytes, from a repository: untrusted) as cairn reads
 * it, check each entry's name and resolve its URL against `base`; *n_out entries. For tests and
 * fuzzing. CAIRN_EINVAL for a malformed file or an unsafe name.
 */
int cairn_git_modules_check(size_t *n_out, const char *text, size_t len, const char *base,
			    struct cairn_error **err);

#endif
