/* SPDX-License-Identifier: MIT */
/*
 * Copying host files into the toolchain: modes and times kept (python's caches stay valid), the
 * files of a tree that are not rewritten linked where the filesystem allows.
 */
#include "common.h"
#include "toolchain/copy.h"
#include "util/buf.h"
#include "util/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

/* Deeper than this, a tree is not one of the host's packages. */
#define TREE_DEPTH_MAX 64
/* Largest script rewritten. */
#define SCRIPT_MAX (4u << 20)

/* Make the parent directories of `to` below `root`. */
static int make_parents(int root, const char *to, struct cairn_error **err)
{
	cleanup_free char *parent = xstrdup(to);
	char *slash = strrchr(parent, '/');

	if (!slash)
		return 0;
	*slash = '\0';
	return cairn_fs_mkdirs_at(root, parent, 0755, err);
}

static int copy_data(int in, int out, const char *src, struct cairn_error **err)
{
	char buf[65536];
	ssize_t n;

	for (;;) {
		n = copy_file_range(in, NULL, out, NULL, 1u << 30, 0);
		if (n == 0)
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
	}
	if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return cairn_error_set_errno(err, "copy '%s'", src);
	/* another filesystem or an old kernel: plain reads and writes from where it stopped */
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		int ret;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cairn_error_set_errno(err, "read '%s'", src);
		ret = cairn_fs_write_all(out, buf, (size_t)n, src, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Whether the open file `fd` is an ELF object (which the toolchain rewrites). */
static bool is_elf(int fd)
{
	char magic[4];

	return pread(fd, magic, sizeof(magic), 0) == sizeof(magic) &&
	       memcmp(magic, "\177ELF", 4) == 0;
}

/* Copy the open regular file `in` (host path `src`) to `name` in `dirfd`; `rel` for on_elf. */
static int copy_fd(int in, const struct stat *st, int dirfd, const char *name, const char *rel,
		   const char *src, const struct cairn_copy_opts *o, struct cairn_error **err)
{
	cleanup_close int out = -1;
	struct timespec times[2] = {st->st_atim, st->st_mtim};
	int ret;

	out = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (out < 0)
		return cairn_error_set_errno(err, "create '%s'", rel);
	ret = copy_data(in, out, src, err);
	if (ret < 0)
		return ret;
	if (fchmod(out, st->st_mode & 07777) < 0 || futimens(out, times) < 0)
		return cairn_error_set_errno(err, "set the mode and time of '%s'", rel);
	if (o && o->on_elf && is_elf(in))
		o->on_elf(rel, src, o->ud);
	return 0;
}

int cairn_copy_file(int root, const char *to, const char *src, const struct cairn_copy_opts *o,
		    struct cairn_error **err)
{
	cleanup_close int in = open(src, O_RDONLY | O_CLOEXEC);
	struct stat st;
	int ret;

	if (in < 0 || fstat(in, &st) < 0)
		return cairn_error_set_errno(err, "open '%s'", src);
	if (!S_ISREG(st.st_mode))
		return cairn_error_set(err, CAIRN_EINVAL, "copy '%s': not a regular file", src);
	ret = make_parents(root, to, err);
	if (ret < 0)
		return ret;
	return copy_fd(in, &st, root, to, to, src, o, err);
}

static int copy_dir(int src_fd, const char *src, int dst_fd, const char *rel, int depth,
		    const struct cairn_copy_opts *o, struct cairn_error **err);

/* One entry `name` of the directory `src_fd` into `dst_fd`. */
static int copy_entry(int src_fd, const char *src, int dst_fd, const char *rel, const char *name,
		      int depth, const struct cairn_copy_opts *o, struct cairn_error **err)
{
	cleanup_free char *s = xasprintf("%s/%s", src, name);
	cleanup_free char *r = xasprintf("%s/%s", rel, name);
	struct stat st;

	if (fstatat(src_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return cairn_error_set_errno(err, "stat '%s'", s);
	if (S_ISDIR(st.st_mode)) {
		cleanup_close int sfd = -1;
		cleanup_close int dfd = -1;

		if (mkdirat(dst_fd, name, 0755) < 0 && errno != EEXIST)
			return cairn_error_set_errno(err, "create '%s'", r);
		sfd = openat(src_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		dfd = openat(dst_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0 || dfd < 0)
			return cairn_error_set_errno(err, "open '%s'", s);
		return copy_dir(sfd, s, dfd, r, depth + 1, o, err);
	}
	if (S_ISLNK(st.st_mode)) {
		char target[4096];
		ssize_t n = readlinkat(src_fd, name, target, sizeof(target) - 1);

		if (n < 0)
			return cairn_error_set_errno(err, "read link '%s'", s);
		target[n] = '\0';
		if (target[0] == '/') {
			cairn_log(CAIRN_LOG_DEBUG, "toolchain: leave out '%s' -> '%s'", s, target);
			return 0;
		}
		if (symlinkat(target, dst_fd, name) < 0)
			return cairn_error_set_errno(err, "link '%s'", r);
		return 0;
	}
	if (S_ISREG(st.st_mode)) {
		cleanup_close int in = openat(src_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

		if (in < 0)
			return cairn_error_set_errno(err, "open '%s'", s);
		/*
		 * What is not rewritten (all but ELF objects) is linked where the filesystem lets
		 * it: the toolchain is only ever mounted read-only, and dpkg replaces a file by
		 * renaming a new one over it, so the link keeps the bytes it was made with.
		 */
		if (!is_elf(in) && linkat(src_fd, name, dst_fd, name, 0) == 0)
			return 0;
		return copy_fd(in, &st, dst_fd, name, r, s, o, err);
	}
	return 0;
}

static int copy_dir(int src_fd, const char *src, int dst_fd, const char *rel, int depth,
		    const struct cairn_copy_opts *o, struct cairn_error **err)
{
	char **names = NULL;
	size_t n = 0;
	int ret = 0;

	if (depth > TREE_DEPTH_MAX)
		return cairn_error_set(err, CAIRN_EINVAL, "copy '%s': too deep", src);
	if (cairn_fs_list_dir(&names, &n, src_fd, 1) < 0)
		return cairn_error_set_errno(err, "list '%s'", src);
	for (size_t i = 0; i < n; i++) {
		bool skip = depth == 0 && o && o->skip_top && o->skip_top(names[i]);

		if (ret == 0 && !skip)
			ret = copy_entry(src_fd, src, dst_fd, rel, names[i], depth, o, err);
		free(names[i]);
	}
	free(names);
	return ret;
}

int cairn_copy_tree(int root, const char *to, const char *src, const struct cairn_copy_opts *o,
		    struct cairn_error **err)
{
	cleanup_close int sfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int dfd = -1;
	int ret;

	if (sfd < 0)
		return cairn_error_set_errno(err, "open '%s'", src);
	ret = cairn_fs_mkdirs_at(root, to, 0755, err);
	if (ret < 0)
		return ret;
	dfd = openat(root, to, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return cairn_error_set_errno(err, "open '%s'", to);
	return copy_dir(sfd, src, dfd, to, 0, o, err);
}

int cairn_copy_any(int root, const char *to, const char *src, const struct cairn_copy_opts *o,
		   struct cairn_error **err)
{
	cleanup_free char *parent = xstrdup(src);
	cleanup_free char *rel_parent = xstrdup(to);
	char *slash = strrchr(parent, '/');
	char *rslash = strrchr(rel_parent, '/');
	cleanup_close int sfd = -1;
	cleanup_close int dfd = -1;
	int ret;

	if (!slash || !rslash)
		return cairn_error_set(err, CAIRN_EINVAL, "copy '%s': not an absolute path", src);
	*slash = '\0';
	*rslash = '\0';
	ret = cairn_fs_mkdirs_at(root, rel_parent, 0755, err);
	if (ret < 0)
		return ret;
	sfd = open(*parent ? parent : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dfd = openat(root, rel_parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0 || dfd < 0)
		return cairn_error_set_errno(err, "open '%s'", sfd < 0 ? parent : rel_parent);
	/* depth 1: skip_top is for a tree's own top */
	return copy_entry(sfd, parent, dfd, rel_parent, slash + 1, 1, o, err);
}

int cairn_copy_script(int root, const char *to, const char *src, const char *interp,
		      struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf in = CAIRN_BUF_INIT_MAX(SCRIPT_MAX);
	CLEANUP(cairn_buf_release) struct cairn_buf out = CAIRN_BUF_INIT;
	cleanup_close int dfd = -1;
	const char *body;
	int ret;

	ret = cairn_fs_read_at(AT_FDCWD, src, &in, err);
	if (ret < 0)
		return ret;
	if (strncmp(in.buf, "#!", 2) != 0)
		return cairn_error_set(err, CAIRN_EINVAL, "copy '%s': not a script", src);
	body = memchr(in.buf, '\n', in.len);
	cairn_buf_addf(&out, "#!%s\n", interp);
	if (body)
		cairn_buf_add(&out, body + 1, in.len - (size_t)(body + 1 - in.buf));
	ret = make_parents(root, to, err);
	if (ret < 0)
		return ret;
	dfd = openat(root, to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0755);
	if (dfd < 0)
		return cairn_error_set_errno(err, "create '%s'", to);
	ret = cairn_fs_write_all(dfd, out.buf, out.len, to, err);
	if (ret == 0 && fchmod(dfd, 0755) < 0)
		ret = cairn_error_set_errno(err, "chmod '%s'", to);
	return ret;
}
