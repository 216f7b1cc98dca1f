/* SPDX-License-Identifier: MIT */
/* The cairn home: private to its owner, since unpacked layers keep their setuid files. */
#include "common.h"
#include "cairn/store.h"
#include "util/fs.h"

#include <fcntl.h>
#include <sys/stat.h>

/* Create `name` in dirfd as 0700, or make an existing one 0700; returns its fd. */
static int private_dir(int *fd_out, int dirfd, const char *name, const char *what,
		       struct cairn_error **err)
{
	int fd;
	struct stat st;

	*fd_out = -1;
	if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return cairn_error_set_errno(err, "create %s '%s'", what, name);
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cairn_error_set_errno(err, "open %s '%s'", what, name);
	if (fstat(fd, &st) == 0 && (st.st_mode & 077) && fchmod(fd, 0700) < 0) {
		close(fd);
		return cairn_error_set_errno(err, "make %s '%s' private", what, name);
	}
	*fd_out = fd;
	return 0;
}

int cairn_home_prepare(const char *dir, struct cairn_error **err)
{
	cleanup_free char *parent = xstrdup(dir);
	cleanup_close int fd = -1;
	cleanup_close int layers = -1;
	struct stat st;
	char *slash;
	int ret;

	while (strlen(parent) > 1 && parent[strlen(parent) - 1] == '/')
		parent[strlen(parent) - 1] = '\0';
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		ret = cairn_fs_mkdirs_at(AT_FDCWD, parent, 0755, err);
		if (ret < 0)
			return cairn_error_wrap(err, "home '%s'", dir);
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return cairn_error_set_errno(err, "create home '%s'", dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return cairn_error_set_errno(err, "open home '%s'", dir);
	/* a home the user chose may be shared on purpose: say so, but leave it */
	if (st.st_mode & 077)
		cairn_log(CAIRN_LOG_WARN,
			  "home '%s' is open to other users (mode %04o): its unpacked layers may "
			  "hold setuid files; 'chmod 700' it",
			  dir, (unsigned)(st.st_mode & 07777));
	ret = private_dir(&layers, fd, "layers", "layer cache", err);
	if (ret < 0)
		return cairn_error_wrap(err, "home '%s'", dir);
	return 0;
}

void cairn_home_paths(struct cairn_home *out, const char *root)
{
	out->root = xstrdup(root);
	out->store = xasprintf("%s/store", root);
	out->layers = xasprintf("%s/layers", root);
	out->tmp = xasprintf("%s/tmp", root);
	out->builds = xasprintf("%s/builds", root);
	out->git = xasprintf("%s/git", root);
}

void cairn_home_release(struct cairn_home *h)
{
	free(h->root);
	free(h->store);
	free(h->layers);
	free(h->tmp);
	free(h->builds);
	free(h->git);
	memset(h, 0, sizeof(*h));
}
