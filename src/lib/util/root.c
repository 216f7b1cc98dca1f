/* SPDX-License-Identifier: MIT */
/* Paths inside a root directory, resolved with openat2(2) so that nothing reaches the host. */
#include "common.h"
#include "util/fs.h"
#include "util/root.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>

static bool openat2_disabled;

void cairn_root_use_openat2(bool enabled)
{
	__atomic_store_n(&openat2_disabled, !enabled, __ATOMIC_RELAXED);
}

/* Without openat2: one component at a time, no symlink followed, no ".." taken. */
static int open_walk(int rootfd, const char *path, int flags)
{
	cleanup_free char *p = xstrdup(path);
	int cur = rootfd;
	char *c = p;

	for (;;) {
		char *slash = strchr(c, '/');
		int next;

		if (slash)
			*slash = '\0';
		if (strcmp(c, "..") == 0) {
			next = -1;
			errno = EXDEV;
		} else if (slash && (!*c || strcmp(c, ".") == 0)) {
			next = openat(cur, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
		} else if (slash) {
			struct stat sb;

			next = openat(cur, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			/* a symlinked directory: say so, as openat2 would */
			if (next < 0 && errno == ENOTDIR &&
			    fstatat(cur, c, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(sb.st_mode))
				errno = ELOOP;
		} else {
			next = openat(cur, *c ? c : ".", flags | O_NOFOLLOW | O_CLOEXEC);
		}
		if (cur != rootfd) {
			int saved = errno;

			close(cur);
			errno = saved;
		}
		if (next < 0 || !slash)
			return next;
		cur = next;
		c = slash + 1;
	}
}

int cairn_root_open(int rootfd, const char *path, int flags, enum cairn_root_resolve how)
{
	static const uint64_t resolve[] = {
		[CAIRN_ROOT_IN] = RESOLVE_IN_ROOT,
		[CAIRN_ROOT_BENEATH] = RESOLVE_BENEATH,
		[CAIRN_ROOT_NO_SYMLINKS] = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
	};
	struct open_how oh = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = resolve[how] | RESOLVE_NO_MAGICLINKS,
	};

	assert(!(flags & O_CREAT));
	while (*path == '/')
		path++;
	if (!*path)
		path = ".";
	if (!__atomic_load_n(&openat2_disabled, __ATOMIC_RELAXED)) {
		for (int attempt = 0; attempt < 16; attempt++) {
			long fd = syscall(SYS_openat2, rootfd, path, &oh, sizeof(oh));

			if (fd >= 0)
				return (int)fd;
			if (errno != EAGAIN && errno != EINTR)
				break;
		}
		if (errno != ENOSYS)
			return -1;
		__atomic_store_n(&openat2_disabled, true, __ATOMIC_RELAXED);
	}
	return open_walk(rootfd, path, flags);
}

int cairn_root_read_file(int rootfd, const char *path, enum cairn_root_resolve how,
			 struct cairn_buf *out, const char *what, struct cairn_error **err)
{
	cleanup_close int fd = cairn_root_open(rootfd, path, O_RDONLY | O_NOCTTY | O_NONBLOCK, how);

	if (fd < 0 && errno == ENOENT)
		return cairn_error_set(err, CAIRN_ENOTFOUND, "open '%s': %s", what,
				       strerror(ENOENT));
	if (fd < 0 && errno == EXDEV)
		return cairn_error_set(err, CAIRN_EINVAL,
				       "open '%s': a symlink or '..' on the way leads outside",
				       what);
	if (fd < 0)
		return cairn_error_set_errno(err, "open '%s'", what);
	return cairn_fs_read_regular_fd(fd, out, what, err);
}

/* ---- walking a tree ---- */

struct walk {
	unsigned max_depth;
	int (*fn)(const struct cairn_root_entry *e, void *ud, struct cairn_error **err);
	void *ud;
	struct cairn_buf rel;
};

static int walk_dir(struct walk *w, int dfd, unsigned depth, struct cairn_error **err)
{
	char **names = NULL;
	size_t n = 0, base = w->rel.len;
	int ret;

	ret = cairn_fs_list_dir(&names, &n, dfd, 1);
	if (ret < 0)
		return cairn_error_set_errno(err, "read directory '%s'",
					     w->rel.len ? w->rel.buf : ".");
	for (size_t i = 0; i < n && ret == 0; i++) {
		struct cairn_root_entry e = {.dirfd = dfd, .name = names[i]};

		if (fstatat(dfd, names[i], &e.st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* gone meanwhile */
		cairn_buf_setlen(&w->rel, base);
		if (base)
			cairn_buf_addch(&w->rel, '/');
		cairn_buf_addstr(&w->rel, names[i]);
		e.rel = w->rel.buf;
		ret = w->fn(&e, w->ud, err);
		if (ret < 0 || !S_ISDIR(e.st.st_mode))
			continue;
		if (depth + 1 > w->max_depth) {
			ret = cairn_error_set(err, CAIRN_EINVAL,
					      "'%s': deeper than %u levels of directories", e.rel,
					      w->max_depth);
			continue;
		}
		{
			cleanup_close int sub =
				cairn_root_open(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW,
						CAIRN_ROOT_NO_SYMLINKS);

			if (sub < 0)
				ret = cairn_error_set_errno(err, "open directory '%s'", e.rel);
			else
				ret = walk_dir(w, sub, depth + 1, err);
		}
	}
	cairn_buf_setlen(&w->rel, base);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ret;
}

int cairn_root_walk(int dirfd, unsigned max_depth,
		    int (*fn)(const struct cairn_root_entry *e, void *ud, struct cairn_error **err),
		    void *ud, struct cairn_error **err)
{
	struct walk w = {.max_depth = max_depth, .fn = fn, .ud = ud, .rel = CAIRN_BUF_INIT};
	int ret = walk_dir(&w, dirfd, 0, err);

	cairn_buf_release(&w.rel);
	return ret;
}
