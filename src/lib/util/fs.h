/* SPDX-License-Identifier: MIT */
/* Filesystem helpers: directory creation, whole-file reads, atomic replacement. */
#ifndef CAIRN_UTIL_FS_H
#define CAIRN_UTIL_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "cairn/error.h"
#include "util/buf.h"

/* mkdir -p relative to `dirfd` (AT_FDCWD for the cwd); existing directories are fine. */
int cairn_fs_mkdirs_at(int dirfd, const char *path, mode_t mode, struct cairn_error **err);

/*
 * Open (creating it, 0600) the lock file `path` (relative to dirfd) and take an exclusive
 * flock(2) on it, waiting for it: the fd holds the lock until closed. CAIRN_EOS "open 'PATH'"
 * or "lock 'PATH'".
 */
int cairn_fs_lock_at(int *fd_out, int dirfd, const char *path, struct cairn_error **err);

/*
 * flock(fd, how) (LOCK_SH or LOCK_EX), waiting for it until it is granted or cairn is
 * interrupted: CAIRN_EINTERRUPTED "waiting for lock 'WHAT': interrupted by SIGTERM", CAIRN_EOS.
 */
int cairn_fs_flock(int fd, int how, const char *what, struct cairn_error **err);

/* Append the whole file `name` (relative to dirfd) to `out`, honouring out->max. */
int cairn_fs_read_at(int dirfd, const char *name, struct cairn_buf *out, struct cairn_error **err);

/* Append what is left to read from `fd` to `out`, honouring out->max; `what` names it. */
int cairn_fs_read_fd(int fd, struct cairn_buf *out, const char *what, struct cairn_error **err);

/* cairn_fs_read_fd() of `fd` when it is a regular file (a FIFO or a device would block or never
 * end): CAIRN_EINVAL "read 'WHAT': not a regular file" otherwise. */
int cairn_fs_read_regular_fd(int fd, struct cairn_buf *out, const char *what,
			     struct cairn_error **err);

/*
 * The names in the directory `fd` except "." and "..", sorted by bytes when `sorted`; the
 * directory's own offset is left alone. The caller frees each name and the array. -1 with
 * errno when the directory cannot be read.
 */
int cairn_fs_list_dir(char ***out, size_t *n_out, int fd, int sorted);

/*
 * Write `len` bytes to a temporary file beside `name` (in `dirfd`), fsync it and rename it over
 * `name`, so readers see either the old or the new content, never a part; `dirfd` is fsynced
 * too when it is the file's directory (not AT_FDCWD, `name` without a '/').
 */
int cairn_fs_write_atomic_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
			     struct cairn_error **err);

/* Create an unnamed-looking temporary file "<prefix>XXXXXX" in dirfd; returns fd, name in *out. */
int cairn_fs_mktemp_at(int *fd_out, char **name_out, int dirfd, const char *prefix,
		       struct cairn_error **err);

/*
 * The absolute path `p` without "", "." and ".." components ('..' of "/" is "/"): a new
 * string, "/" at least. Only text: nothing is looked up.
 */
char *cairn_fs_path_clean(const char *p);

/* write(2) all of it, retrying on EINTR and short writes. */
int cairn_fs_write_all(int fd, const void *p, size_t len, const char *what,
		       struct cairn_error **err);

/*
 * Remove `name` in `dirfd` and everything below it, never following symlinks and never entering
 * another filesystem (a mount point below is an error, and stays), at any depth with a constant
 * number of file descriptors. A missing `name` is not an error. The one way cairn removes a
 * tree.
 */
int cairn_fs_remove_tree(int dirfd, const char *name, struct cairn_error **err);

#endif
