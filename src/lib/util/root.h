/* SPDX-License-Identifier: MIT */
/* Paths inside a root directory (an image's tree, a project): resolved there, never on the host. */
#ifndef CAIRN_UTIL_ROOT_H
#define CAIRN_UTIL_ROOT_H

#include <stdbool.h>
#include <sys/stat.h>

#include "cairn/error.h"
#include "util/buf.h"

/* How symlinks and ".." met on the way are treated. */
enum cairn_root_resolve {
	/*
	 * As if rootfd were "/" (chroot semantics, as `docker cp` resolves paths in a container):
	 * an absolute symlink starts again at rootfd and ".." stops at rootfd. For image trees.
	 */
	CAIRN_ROOT_IN,
	/* A symlink or ".." that would leave rootfd fails with EXDEV. For project trees. */
	CAIRN_ROOT_BENEATH,
	/* Any symlink on the way fails (ELOOP), ".." leaving rootfd fails (EXDEV). */
	CAIRN_ROOT_NO_SYMLINKS,
};

/*
 * Open `path` (relative to rootfd; a leading '/' is taken as rootfd itself; "" or "/" is rootfd)
 * with open(2) `flags` (O_CLOEXEC is added). Every component, intermediate ones included, is
 * resolved by `how` with openat2(2), so no symlink or ".." in the tree reaches the host;
 * O_NOFOLLOW in `flags` keeps a final symlink itself (open it with O_PATH). Magic links
 * (/proc/self/...) are refused. Without openat2 (kernels before 5.6) every symlink on the way
 * is refused and ".." fails with EXDEV. Returns the fd, or -1 with errno set.
 */
int cairn_root_open(int rootfd, const char *path, int flags, enum cairn_root_resolve how);

/*
 * Append the regular file `path` inside rootfd (resolved as cairn_root_open says) to `out`,
 * honouring out->max. CAIRN_ENOTFOUND when it is missing, CAIRN_EINVAL when it is not a
 * regular file, CAIRN_ETOOBIG past out->max, CAIRN_EOS otherwise. `what` names it in messages.
 */
int cairn_root_read_file(int rootfd, const char *path, enum cairn_root_resolve how,
			 struct cairn_buf *out, const char *what, struct cairn_error **err);

/* One entry met by cairn_root_walk(). */
struct cairn_root_entry {
	const char *rel;  /* below the walked directory, "a/b"; never "" */
	int dirfd;	  /* the directory holding it; valid during the callback only */
	const char *name; /* its name in dirfd */
	struct stat st;	  /* lstat of it */
};

/*
 * Visit everything below the directory `dirfd` (not dirfd itself), depth first, each
 * directory's entries in byte order of their names, a directory before what it holds.
 * Symlinks are reported, never followed; only real directories are entered, each opened from
 * its parent's fd through cairn_root_open(), so the walk never leaves the tree. Up to
 * `max_depth` levels (deeper is CAIRN_EINVAL). `fn` returns 0 to go on, or a negative code to
 * stop the walk with it. CAIRN_EOS when a directory cannot be read.
 */
int cairn_root_walk(int dirfd, unsigned max_depth,
		    int (*fn)(const struct cairn_root_entry *e, void *ud, struct cairn_error **err),
		    void *ud, struct cairn_error **err);

/* Tests only: pretend the kernel lacks openat2 (false), or use it again (true). */
void cairn_root_use_openat2(bool enabled);

#endif
