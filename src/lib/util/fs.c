/* SPDX-License-Identifier: MIT */
/* Filesystem helpers. */
#include "common.h"
#include "util/fs.h"
#include "util/interrupt.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

int cairn_fs_mkdirs_at(int dirfd, const char *path, mode_t mode, struct cairn_error **err)
{
	cleanup_free char *p = xstrdup(path);
	char *s = p;

	while (*s == '/')
		s++;
	for (;;) {
		char *slash = strchr(s, '/');

		if (slash)
			*slash = '\0';
		if (*s && mkdirat(dirfd, p, mode) < 0 && errno != EEXIST)
			return cairn_error_set_errno(err, "create directory '%s'", p);
		if (!slash)
			break;
		*slash = '/';
		s = slash + 1;
	}
	return 0;
}

int cairn_fs_read_fd(int fd, struct cairn_buf *out, const char *what, struct cairn_error **err)
{
	char chunk[65536];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return cairn_error_set_errno(err, "read '%s'", what);
		}
		if (n == 0)
			return 0;
		cairn_buf_add(out, chunk, (size_t)n);
		if (out->err)
			return cairn_error_set(err, CAIRN_ETOOBIG,
					       "read '%s': larger than the limit of %zu bytes",
					       what, out->max);
	}
}

int cairn_fs_read_regular_fd(int fd, struct cairn_buf *out, const char *what,
			     struct cairn_error **err)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return cairn_error_set_errno(err, "stat '%s'", what);
	if (!S_ISREG(st.st_mode))
		return cairn_error_set(err, CAIRN_EINVAL, "read '%s': not a regular file", what);
	return cairn_fs_read_fd(fd, out, what, err);
}

int cairn_fs_read_at(int dirfd, const char *name, struct cairn_buf *out, struct cairn_error **err)
{
	cleanup_close int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT) {
			cairn_error_set(err, CAIRN_ENOTFOUND, "open '%s': %s", name,
					strerror(ENOENT));
			if (err && *err)
				(*err)->sys_errno = ENOENT;
			return CAIRN_ENOTFOUND;
		}
		return cairn_error_set_errno(err, "open '%s'", name);
	}
	return cairn_fs_read_fd(fd, out, name, err);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int cairn_fs_list_dir(char ***out, size_t *n_out, int fd, int sorted)
{
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	DIR *d;

	*out = NULL;
	*n_out = 0;
	if (dfd < 0)
		return -1;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -1;
	}
	errno = 0;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		names = xgrow1(names, n, sizeof(*names));
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (sorted && n > 1)
		cairn_sort(names, n, sizeof(*names), cmp_name);
	*out = names;
	*n_out = n;
	return 0;
}

int cairn_fs_write_all(int fd, const void *p, size_t len, const char *what,
		       struct cairn_error **err)
{
	const char *c = p;

	while (len) {
		ssize_t n = write(fd, c, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return cairn_error_set_errno(err, "write '%s'", what);
		}
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

int cairn_fs_mktemp_at(int *fd_out, char **name_out, int dirfd, const char *prefix,
		       struct cairn_error **err)
{
	static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned long seed;

	*fd_out = -1;
	*name_out = NULL;
	seed = (unsigned long)getpid() ^ ((unsigned long)(uintptr_t)name_out << 7);
	for (int attempt = 0; attempt < 100; attempt++) {
		char suffix[13];
		char *name;
		int fd;
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = seed * 6364136223846793005UL + (unsigned long)ts.tv_nsec +
		       1442695040888963407UL;
		for (size_t i = 0; i < sizeof(suffix) - 1; i++)
			suffix[i] = chars[(seed >> (i * 5 % 59)) % (sizeof(chars) - 1)];
		suffix[sizeof(suffix) - 1] = '\0';
		name = xasprintf("%s%s", prefix, suffix);
		fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			*fd_out = fd;
			*name_out = name;
			return 0;
		}
		free(name);
		if (errno != EEXIST)
			return cairn_error_set_errno(err, "create temporary file '%s...'", prefix);
	}
	return cairn_error_set(err, CAIRN_EOS, "create temporary file '%s...': too many attempts",
			       prefix);
}

int cairn_fs_write_atomic_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
			     struct cairn_error **err)
{
	cleanup_close int fd = -1;
	cleanup_free char *tmp = NULL;
	const char *slash = strrchr(name, '/');
	/*
	 * The temporary file goes beside `name` ("dir/.base.tmp-XXX"), so the rename stays in one
	 * directory: never across filesystems, never in the working directory.
	 */
	cleanup_free char *prefix =
		slash ? xasprintf("%.*s/.%s.tmp-", (int)(slash - name), name, slash + 1)
		      : xasprintf(".%s.tmp-", name);
	int ret;

	ret = cairn_fs_mktemp_at(&fd, &tmp, dirfd, prefix, err);
	if (ret < 0)
		return ret;
	ret = cairn_fs_write_all(fd, data, len, name, err);
	if (ret < 0)
		goto fail;
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
		ret = cairn_error_set_errno(err, "write '%s'", name);
		goto fail;
	}
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		ret = cairn_error_set_errno(err, "rename '%s' to '%s'", tmp, name);
		goto fail;
	}
	if (dirfd != AT_FDCWD && !slash)
		fsync(dirfd);
	return 0;
fail:
	unlinkat(dirfd, tmp, 0);
	return ret;
}

struct rm_level {
	char **names;
	size_t n, i;
	char *name; /* of this directory in its parent */
};

static void rm_level_release(struct rm_level *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	free(l->name);
}

/*
 * Depth-first with an explicit stack and one directory fd at a time (returning upwards via
 * ".."), so neither the C stack nor the fd table limits how deep a hostile tree may go.
 */
int cairn_fs_remove_tree(int dirfd, const char *name, struct cairn_error **err)
{
	struct rm_level *stack = NULL;
	size_t depth = 0;
	struct stat sb;
	dev_t dev;
	int fd, ret = 0;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR)
		return cairn_error_set_errno(err, "remove '%s'", name);
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cairn_error_set_errno(err, "open directory '%s'", name);
	if (fstat(fd, &sb) < 0) {
		close(fd);
		return cairn_error_set_errno(err, "stat '%s'", name);
	}
	dev = sb.st_dev;
	stack = xcalloc(1, sizeof(*stack));
	depth = 1;
	if (cairn_fs_list_dir(&stack[0].names, &stack[0].n, fd, 0) < 0) {
		ret = cairn_error_set_errno(err, "read directory '%s'", name);
		goto out;
	}
	while (depth) {
		struct rm_level *l = &stack[depth - 1];
		int next;

		if (l->i < l->n) {
			const char *child = l->names[l->i++];

			if (unlinkat(fd, child, 0) == 0 || errno == ENOENT)
				continue;
			if (errno != EISDIR) {
				ret = cairn_error_set_errno(err, "remove '%s' below '%s'", child,
							    name);
				goto out;
			}
			next = openat(fd, child, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (next < 0) {
				ret = cairn_error_set_errno(err, "open '%s' below '%s'", child,
							    name);
				goto out;
			}
			/* a mount point: what is mounted there is not ours to remove */
			if (fstat(next, &sb) < 0 || sb.st_dev != dev) {
				close(next);
				ret = cairn_error_set(err, CAIRN_EOS,
						      "remove '%s' below '%s': a mount point",
						      child, name);
				goto out;
			}
			close(fd);
			fd = next;
			stack = xreallocarray(stack, depth + 1, sizeof(*stack));
			memset(&stack[depth], 0, sizeof(*stack));
			stack[depth].name = xstrdup(child);
			depth++;
			if (cairn_fs_list_dir(&stack[depth - 1].names, &stack[depth - 1].n, fd, 0) <
			    0) {
				ret = cairn_error_set_errno(err, "read directory below '%s'", name);
				goto out;
			}
			continue;
		}
		if (depth == 1)
			break;
		next = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (next < 0) {
			ret = cairn_error_set_errno(err, "open parent below '%s'", name);
			goto out;
		}
		close(fd);
		fd = next;
		if (unlinkat(fd, l->name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
			ret = cairn_error_set_errno(err, "remove directory '%s' below '%s'",
						    l->name, name);
			goto out;
		}
		rm_level_release(l);
		depth--;
	}
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		ret = cairn_error_set_errno(err, "remove directory '%s'", name);
out:
	while (depth)
		rm_level_release(&stack[--depth]);
	free(stack);
	close(fd);
	return ret;
}

int cairn_fs_flock(int fd, int how, const char *what, struct cairn_error **err)
{
	unsigned long pause_ms = 10;
	bool said = false;

	/*
	 * A blocking flock(2) is restarted after cairn's signal handlers (SA_RESTART), so a lock
	 * held for long (a build_dir under a running container) would hold SIGTERM off: poll.
	 */
	while (flock(fd, how | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			return cairn_error_set_errno(err, "lock '%s'", what);
		if (cairn_interrupt_check(err) < 0)
			return cairn_error_wrap(err, "waiting for lock '%s'", what);
		if (!said) /* builds of one run wait for each other's layers: no more than debug */
			cairn_log(CAIRN_LOG_DEBUG, "waiting for lock '%s'", what);
		said = true;
		cairn_interrupt_sleep(pause_ms);
		if (pause_ms < 200)
			pause_ms *= 2;
	}
	return 0;
}

int cairn_fs_lock_at(int *fd_out, int dirfd, const char *path, struct cairn_error **err)
{
	int fd = openat(dirfd, path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	int ret;

	*fd_out = -1;
	if (fd < 0)
		return cairn_error_set_errno(err, "open '%s'", path);
	ret = cairn_fs_flock(fd, LOCK_EX, path, err);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	*fd_out = fd;
	return 0;
}

/* The absolute path `p` without "", "." and ".." components (".." of "/" is "/"). */
char *cairn_fs_path_clean(const char *p)
{
	struct cairn_buf b = CAIRN_BUF_INIT;

	assert(p[0] == '/');
	while (*p) {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			const char *slash = memrchr(b.buf, '/', b.len);

			cairn_buf_setlen(&b, slash ? (size_t)(slash - b.buf) : 0);
		} else if (n && !(n == 1 && p[0] == '.')) {
			cairn_buf_addch(&b, '/');
			cairn_buf_add(&b, p, n);
		}
		p += n;
	}
	if (!b.len)
		cairn_buf_addch(&b, '/');
	return cairn_buf_detach(&b, NULL);
}
