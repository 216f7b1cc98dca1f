/* SPDX-License-Identifier: MIT */
/* Layer unpacking: hostile tar streams into overlayfs lower directories, atomically. */
#include "common.h"
#include "layer/unpack.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/root.h"
#include "util/sha256.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#define READ_SIZE (128 * 1024)
#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_META_PREFIX ".wh..wh."
#define OPAQUE_NAME ".wh..wh..opq"
#define OPAQUE_XATTR "trusted.overlay.opaque"

/* ---- paths ---- */

int cairn_layer_clean_path(char **out, const char *name, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;

	*out = NULL;
	for (const char *c = name; *c;) {
		size_t n = strcspn(c, "/");

		if (n == 2 && c[0] == '.' && c[1] == '.')
			return cairn_error_set(err, CAIRN_EINVAL, "path has a '..' component");
		if (n > 0 && !(n == 1 && c[0] == '.')) {
			if (b.len)
				cairn_buf_addch(&b, '/');
			cairn_buf_add(&b, c, n);
			if (b.len >= PATH_MAX)
				return cairn_error_set(err, CAIRN_EINVAL, "path too long");
		}
		c += n;
		if (*c)
			c++;
	}
	*out = cairn_buf_detach(&b, NULL);
	return 0;
}

/* A name from the layer, fit for a message: at most 200 bytes, control bytes as '?'. */
static char *quote(const char *s)
{
	char *q = xstrndup(s ? s : "", 200);

	for (char *c = q; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return q;
}

/* ---- reading: blob → (filters) → tar, hashing both ---- */

struct source {
	int fd;
	unsigned char *buf;
	struct cairn_sha256 blob_hash;
	struct cairn_sha256 tar_hash;
	bool hash_blob, hash_tar; /* only what a caller will check */
	struct archive *outer;	  /* detects and undoes the compression */
	bool outer_eof;
};

static la_ssize_t outer_read(struct archive *a, void *ud, const void **buf)
{
	struct source *s = ud;
	ssize_t n;

	do {
		n = read(s->fd, s->buf, READ_SIZE);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		archive_set_error(a, errno, "read layer: %s", strerror(errno));
		return -1;
	}
	if (s->hash_blob)
		cairn_sha256_update(&s->blob_hash, s->buf, (size_t)n);
	*buf = s->buf;
	return n;
}

static la_ssize_t inner_read(struct archive *a, void *ud, const void **buf)
{
	struct source *s = ud;
	const void *p = NULL;
	size_t n = 0;
	la_int64_t off;
	int r;

	if (s->outer_eof)
		return 0;
	r = archive_read_data_block(s->outer, &p, &n, &off);
	if (r == ARCHIVE_EOF) {
		s->outer_eof = true;
		return 0;
	}
	if (r < ARCHIVE_WARN) {
		archive_set_error(a, EINVAL, "decompress: %s", archive_error_string(s->outer));
		return -1;
	}
	if (s->hash_tar)
		cairn_sha256_update(&s->tar_hash, p, n);
	*buf = p;
	return (la_ssize_t)n;
}

/* Read what is left of the decompressed stream (padding after the tar's end) into the hash. */
static int drain_outer(struct source *s)
{
	const void *p;
	size_t n;
	la_int64_t off;

	while (!s->outer_eof) {
		int r = archive_read_data_block(s->outer, &p, &n, &off);

		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return -1;
		if (s->hash_tar)
			cairn_sha256_update(&s->tar_hash, p, n);
	}
	s->outer_eof = true;
	return 0;
}

/* Hash the rest of the blob, past wherever the decompressor stopped reading. */
static int drain_fd(struct source *s)
{
	for (;;) {
		ssize_t n = read(s->fd, s->buf, READ_SIZE);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return (int)n;
		cairn_sha256_update(&s->blob_hash, s->buf, (size_t)n);
	}
}

/* ---- writing entries ---- */

struct dir_time {
	char *path;
	struct timespec mtime;
};

struct unpacker {
	const char *what; /* names the layer in messages */
	struct archive *tar;
	int rootfd;
	char *parent_path; /* the directory opened last: entries come grouped */
	int parent_fd;
	/* directory mtimes are set last: creating their entries changes them */
	struct dir_time *dirs;
	size_t n_dirs;
	char *entry; /* the current entry's name, quoted for messages */
};

static void forget_parent(struct unpacker *u)
{
	if (u->parent_fd >= 0)
		close(u->parent_fd);
	u->parent_fd = -1;
	free(u->parent_path);
	u->parent_path = NULL;
}

/* mkdir -p of `dir` inside the root, each step resolved in the root like everything else. */
static int make_parents(struct unpacker *u, const char *dir, int *fd_out)
{
	cleanup_free char *p = xstrdup(dir);
	int cur = -1;
	char *c = p;

	*fd_out = -1;
	for (;;) {
		char *slash = strchr(c, '/');
		int next;

		if (slash)
			*slash = '\0';
		next = cairn_root_open(u->rootfd, p, O_RDONLY | O_DIRECTORY, CAIRN_ROOT_IN);
		if (next < 0 && errno == ENOENT) {
			if (mkdirat(cur >= 0 ? cur : u->rootfd, c, 0755) < 0 && errno != EEXIST)
				goto fail;
			next = cairn_root_open(u->rootfd, p, O_RDONLY | O_DIRECTORY, CAIRN_ROOT_IN);
		}
		if (next < 0)
			goto fail;
		if (cur >= 0)
			close(cur);
		cur = next;
		if (!slash)
			break;
		*slash = '/';
		c = slash + 1;
	}
	*fd_out = cur;
	return 0;
fail:
	if (cur >= 0) {
		int saved = errno;

		close(cur);
		errno = saved;
	}
	return -1;
}

static int open_parent(struct unpacker *u, const char *dir, int *fd_out, struct cairn_error **err)
{
	int fd;

	*fd_out = -1;
	if (!dir[0]) {
		*fd_out = u->rootfd;
		return 0;
	}
	if (u->parent_path && strcmp(u->parent_path, dir) == 0) {
		*fd_out = u->parent_fd;
		return 0;
	}
	forget_parent(u);
	fd = cairn_root_open(u->rootfd, dir, O_RDONLY | O_DIRECTORY, CAIRN_ROOT_IN);
	if (fd < 0 && errno == ENOENT && make_parents(u, dir, &fd) < 0)
		fd = -1;
	if (fd < 0) {
		if (errno == ENOTDIR || errno == ELOOP || errno == EXDEV || errno == ENOENT)
			return cairn_error_set(err, CAIRN_EINVAL,
					       "entry '%s': parent is not a directory inside the "
					       "layer (%s)",
					       u->entry, strerror(errno));
		return cairn_error_set_errno(err, "entry '%s': open parent", u->entry);
	}
	u->parent_path = xstrdup(dir);
	u->parent_fd = fd;
	*fd_out = fd;
	return 0;
}

/*
 * Make room for entry `name` in `pfd`: a later tar entry replaces an earlier one, except that
 * a directory over a directory merges. Sets *is_dir when a directory stays.
 */
static int make_room(struct unpacker *u, int pfd, const char *name, bool want_dir, bool *is_dir,
		     struct cairn_error **err)
{
	struct stat sb;

	if (is_dir)
		*is_dir = false;
	if (fstatat(pfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return cairn_error_set_errno(err, "entry '%s': stat", u->entry);
	}
	if (S_ISDIR(sb.st_mode) && want_dir) {
		*is_dir = true;
		return 0;
	}
	/* the cached parent may lie below what goes away */
	forget_parent(u);
	if (unlinkat(pfd, name, S_ISDIR(sb.st_mode) ? AT_REMOVEDIR : 0) < 0) {
		if (errno == ENOTEMPTY || errno == EEXIST)
			return cairn_error_set(err, CAIRN_EINVAL,
					       "entry '%s': replaces a non-empty directory",
					       u->entry);
		return cairn_error_set_errno(err, "entry '%s': remove the earlier entry", u->entry);
	}
	return 0;
}

static int entry_owner(struct unpacker *u, struct archive_entry *e, uid_t *uid, gid_t *gid,
		       struct cairn_error **err)
{
	la_int64_t su = archive_entry_uid(e), sg = archive_entry_gid(e);

	/* (uid_t)-1 means "leave unchanged" to chown(2): never let a layer say that */
	if (su < 0 || su >= (la_int64_t)UINT32_MAX || sg < 0 || sg >= (la_int64_t)UINT32_MAX)
		return cairn_error_set(err, CAIRN_EINVAL,
				       "entry '%s': owner %lld:%lld out of range", u->entry,
				       (long long)su, (long long)sg);
	*uid = (uid_t)su;
	*gid = (gid_t)sg;
	return 0;
}

static void entry_times(struct archive_entry *e, struct timespec ts[2])
{
	long nsec = archive_entry_mtime_is_set(e) ? archive_entry_mtime_nsec(e) : 0;

	ts[1].tv_sec = archive_entry_mtime_is_set(e) ? (time_t)archive_entry_mtime(e) : 0;
	ts[1].tv_nsec = nsec >= 0 && nsec < 1000000000 ? nsec : 0;
	ts[0] = ts[1];
}

/* Only xattrs that mean something inside a container: trusted.* could steer overlayfs. */
static bool xattr_allowed(const char *name)
{
	return strncmp(name, "user.", 5) == 0 || strcmp(name, "security.capability") == 0;
}

/* Owner, mode (after chown, which clears setuid bits) and xattrs of an open file or dir. */
static int apply_meta_fd(struct unpacker *u, int fd, struct archive_entry *e,
			 struct cairn_error **err)
{
	const char *name;
	const void *value;
	size_t size;
	uid_t uid = 0;
	gid_t gid = 0;
	int ret = entry_owner(u, e, &uid, &gid, err);

	if (ret < 0)
		return ret;
	if (fchown(fd, uid, gid) < 0)
		return cairn_error_set_errno(err, "entry '%s': chown", u->entry);
	if (fchmod(fd, archive_entry_perm(e) & 07777) < 0)
		return cairn_error_set_errno(err, "entry '%s': chmod", u->entry);
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
		if (!name || !xattr_allowed(name)) {
			cairn_log(CAIRN_LOG_DEBUG, "%s: entry '%s': xattr '%s' skipped", u->what,
				  u->entry, name ? name : "");
			continue;
		}
		if (fsetxattr(fd, name, value, size, 0) < 0)
			cairn_log(CAIRN_LOG_DEBUG, "%s: entry '%s': set xattr '%s': %s", u->what,
				  u->entry, name, strerror(errno));
	}
	return 0;
}

static int write_all_at(int fd, const void *p, size_t n, la_int64_t off)
{
	const char *c = p;

	while (n) {
		ssize_t k = pwrite(fd, c, n, (off_t)off);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += k;
		n -= (size_t)k;
		off += k;
	}
	return 0;
}

static int extract_file(struct unpacker *u, int pfd, const char *base, struct archive_entry *e,
			struct cairn_error **err)
{
	cleanup_close int fd = -1;
	struct timespec ts[2];
	int ret = make_room(u, pfd, base, false, NULL, err);

	if (ret < 0)
		return ret;
	fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return cairn_error_set_errno(err, "entry '%s': create", u->entry);
	for (;;) {
		const void *p;
		size_t n;
		la_int64_t off;
		int r = archive_read_data_block(u->tar, &p, &n, &off);

		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return cairn_error_set(err, CAIRN_EINVAL, "entry '%s': read data: %s",
					       u->entry, archive_error_string(u->tar));
		if (off < 0)
			return cairn_error_set(err, CAIRN_EINVAL, "entry '%s': bad data offset",
					       u->entry);
		if (n && write_all_at(fd, p, n, off) < 0)
			return cairn_error_set_errno(err, "entry '%s': write", u->entry);
	}
	/* sparse files may end in a hole */
	if (archive_entry_size_is_set(e) && archive_entry_size(e) > 0 &&
	    ftruncate(fd, (off_t)archive_entry_size(e)) < 0)
		return cairn_error_set_errno(err, "entry '%s': truncate", u->entry);
	ret = apply_meta_fd(u, fd, e, err);
	if (ret < 0)
		return ret;
	entry_times(e, ts);
	if (futimens(fd, ts) < 0)
		return cairn_error_set_errno(err, "entry '%s': set times", u->entry);
	return 0;
}

static void note_dir_time(struct unpacker *u, const char *path, struct archive_entry *e)
{
	struct timespec ts[2];

	entry_times(e, ts);
	u->dirs = xreallocarray(u->dirs, u->n_dirs + 1, sizeof(*u->dirs));
	u->dirs[u->n_dirs].path = xstrdup(path);
	u->dirs[u->n_dirs].mtime = ts[1];
	u->n_dirs++;
}

static int extract_dir(struct unpacker *u, int pfd, const char *path, const char *base,
		       struct archive_entry *e, struct cairn_error **err)
{
	cleanup_close int fd = -1;
	bool exists = false;
	int ret;

	if (!path[0]) {
		ret = apply_meta_fd(u, u->rootfd, e, err);
	} else {
		ret = make_room(u, pfd, base, true, &exists, err);
		if (ret < 0)
			return ret;
		if (!exists && mkdirat(pfd, base, 0700) < 0)
			return cairn_error_set_errno(err, "entry '%s': create directory", u->entry);
		fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return cairn_error_set_errno(err, "entry '%s': open directory", u->entry);
		ret = apply_meta_fd(u, fd, e, err);
	}
	if (ret < 0)
		return ret;
	note_dir_time(u, path, e);
	return 0;
}

/* Owner and times of something that cannot be opened for writing (symlink, fifo). */
static int apply_meta_at(struct unpacker *u, int pfd, const char *base, struct archive_entry *e,
			 bool chmod_too, struct cairn_error **err)
{
	struct timespec ts[2];
	uid_t uid = 0;
	gid_t gid = 0;
	int ret = entry_owner(u, e, &uid, &gid, err);

	if (ret < 0)
		return ret;
	if (fchownat(pfd, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return cairn_error_set_errno(err, "entry '%s': chown", u->entry);
	/* only for what this unpack just created as a non-symlink */
	if (chmod_too && fchmodat(pfd, base, archive_entry_perm(e) & 07777, 0) < 0)
		return cairn_error_set_errno(err, "entry '%s': chmod", u->entry);
	entry_times(e, ts);
	if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return cairn_error_set_errno(err, "entry '%s': set times", u->entry);
	return 0;
}

static int extract_symlink(struct unpacker *u, int pfd, const char *base, struct archive_entry *e,
			   struct cairn_error **err)
{
	const char *target = archive_entry_symlink(e);
	int ret;

	if (!target)
		target = archive_entry_symlink_utf8(e);
	if (!target || !target[0])
		return cairn_error_set(err, CAIRN_EINVAL, "entry '%s': symlink without a target",
				       u->entry);
	ret = make_room(u, pfd, base, false, NULL, err);
	if (ret < 0)
		return ret;
	/* The target is only data: it is never followed while unpacking. */
	if (symlinkat(target, pfd, base) < 0)
		return cairn_error_set_errno(err, "entry '%s': create symlink", u->entry);
	return apply_meta_at(u, pfd, base, e, false, err);
}

static int extract_fifo(struct unpacker *u, int pfd, const char *base, struct archive_entry *e,
			struct cairn_error **err)
{
	int ret = make_room(u, pfd, base, false, NULL, err);

	if (ret < 0)
		return ret;
	if (mknodat(pfd, base, S_IFIFO | 0600, 0) < 0)
		return cairn_error_set_errno(err, "entry '%s': create fifo", u->entry);
	return apply_meta_at(u, pfd, base, e, true, err);
}

static int extract_hardlink(struct unpacker *u, int pfd, const char *base, const char *link,
			    struct cairn_error **err)
{
	cleanup_free char *target = NULL;
	cleanup_free char *qt = quote(link);
	cleanup_close int tfd = -1;
	struct stat tsb, sb;
	int ret = cairn_layer_clean_path(&target, link, err);

	if (ret < 0)
		return cairn_error_wrap(err, "entry '%s': hardlink target '%s'", u->entry, qt);
	if (!target[0])
		return cairn_error_set(err, CAIRN_EINVAL, "entry '%s': hardlink to the root",
				       u->entry);
	tfd = cairn_root_open(u->rootfd, target, O_PATH | O_NOFOLLOW, CAIRN_ROOT_IN);
	if (tfd < 0) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP || errno == EXDEV)
			return cairn_error_set(err, CAIRN_EINVAL,
					       "entry '%s': hardlink target '%s' is not an "
					       "earlier entry of the layer",
					       u->entry, qt);
		return cairn_error_set_errno(err, "entry '%s': open hardlink target", u->entry);
	}
	if (fstat(tfd, &tsb) < 0)
		return cairn_error_set_errno(err, "entry '%s': stat hardlink target", u->entry);
	if (S_ISDIR(tsb.st_mode))
		return cairn_error_set(err, CAIRN_EINVAL, "entry '%s': hardlink to directory '%s'",
				       u->entry, qt);
	if (fstatat(pfd, base, &sb, AT_SYMLINK_NOFOLLOW) == 0 && sb.st_dev == tsb.st_dev &&
	    sb.st_ino == tsb.st_ino)
		return 0;
	ret = make_room(u, pfd, base, false, NULL, err);
	if (ret < 0)
		return ret;
	if (linkat(tfd, "", pfd, base, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno == ENOENT || errno == EPERM) {
		/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc does not */
		cleanup_free char *proc = xasprintf("/proc/self/fd/%d", tfd);

		if (linkat(AT_FDCWD, proc, pfd, base, AT_SYMLINK_FOLLOW) == 0)
			return 0;
	}
	return cairn_error_set_errno(err, "entry '%s': create hardlink", u->entry);
}

/* ".wh.<name>": hide <name> of the layers below with an overlayfs whiteout. */
static int extract_whiteout(struct unpacker *u, int pfd, const char *name, struct cairn_error **err)
{
	struct stat sb;

	if (!name[0] || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return cairn_error_set(err, CAIRN_EINVAL, "entry '%s': invalid whiteout", u->entry);
	/* a whiteout hides lower layers only: what this layer adds itself stays */
	if (fstatat(pfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != ENOENT)
		return cairn_error_set_errno(err, "entry '%s': stat", u->entry);
	if (mknodat(pfd, name, S_IFCHR | 0, makedev(0, 0)) < 0)
		return cairn_error_set_errno(err, "entry '%s': create overlay whiteout", u->entry);
	return 0;
}

static int extract_entry(struct unpacker *u, struct archive_entry *e, struct cairn_error **err)
{
	cleanup_free char *path = NULL;
	const char *name = archive_entry_pathname(e);
	const char *link, *base;
	cleanup_free char *dir = NULL;
	char *slash;
	int pfd, ret;

	if (!name)
		name = archive_entry_pathname_utf8(e);
	free(u->entry);
	u->entry = quote(name);
	if (!name)
		return cairn_error_set(err, CAIRN_EINVAL, "entry without a name");
	ret = cairn_layer_clean_path(&path, name, err);
	if (ret < 0)
		return cairn_error_wrap(err, "entry '%s'", u->entry);
	link = archive_entry_hardlink(e);
	if (!link)
		link = archive_entry_hardlink_utf8(e);
	if (!path[0]) {
		if (link || archive_entry_filetype(e) != AE_IFDIR)
			return cairn_error_set(err, CAIRN_EINVAL,
					       "entry '%s': replaces the root directory", u->entry);
		return extract_dir(u, u->rootfd, "", "", e, err);
	}
	slash = strrchr(path, '/');
	dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup("");
	base = slash ? slash + 1 : path;
	if (strncmp(base, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX)) == 0) {
		if (strcmp(base, OPAQUE_NAME) != 0 &&
		    strncmp(base, WHITEOUT_META_PREFIX, strlen(WHITEOUT_META_PREFIX)) == 0) {
			cairn_log(CAIRN_LOG_DEBUG, "%s: entry '%s': aufs metadata skipped", u->what,
				  u->entry);
			return 0;
		}
		ret = open_parent(u, dir, &pfd, err);
		if (ret < 0)
			return ret;
		if (strcmp(base, OPAQUE_NAME) == 0) {
			if (fsetxattr(pfd, OPAQUE_XATTR, "y", 1, 0) < 0)
				return cairn_error_set_errno(err, "entry '%s': set " OPAQUE_XATTR,
							     u->entry);
			return 0;
		}
		return extract_whiteout(u, pfd, base + strlen(WHITEOUT_PREFIX), err);
	}
	if (!link) {
		switch (archive_entry_filetype(e)) {
		case AE_IFREG:
		case AE_IFDIR:
		case AE_IFLNK:
		case AE_IFIFO:
			break;
		default:
			cairn_log(CAIRN_LOG_DEBUG, "%s: entry '%s': type 0%o skipped", u->what,
				  u->entry, (unsigned int)archive_entry_filetype(e));
			return 0;
		}
	}
	ret = open_parent(u, dir, &pfd, err);
	if (ret < 0)
		return ret;
	if (link)
		return extract_hardlink(u, pfd, base, link, err);
	switch (archive_entry_filetype(e)) {
	case AE_IFREG:
		return extract_file(u, pfd, base, e, err);
	case AE_IFDIR:
		return extract_dir(u, pfd, path, base, e, err);
	case AE_IFLNK:
		return extract_symlink(u, pfd, base, e, err);
	default:
		return extract_fifo(u, pfd, base, e, err);
	}
}

static int set_dir_times(struct unpacker *u, struct cairn_error **err)
{
	for (size_t i = 0; i < u->n_dirs; i++) {
		struct timespec ts[2] = {u->dirs[i].mtime, u->dirs[i].mtime};
		int fd = u->dirs[i].path[0] ? cairn_root_open(u->rootfd, u->dirs[i].path,
							      O_RDONLY | O_DIRECTORY | O_NOFOLLOW,
							      CAIRN_ROOT_IN)
					    : u->rootfd;

		/* a later entry may have replaced the directory: its time is gone with it */
		if (fd < 0)
			continue;
		if (futimens(fd, ts) < 0) {
			int ret = cairn_error_set_errno(err, "directory '%s': set times",
							u->dirs[i].path);

			if (fd != u->rootfd)
				close(fd);
			return ret;
		}
		if (fd != u->rootfd)
			close(fd);
	}
	return 0;
}

static void unpacker_release(struct unpacker *u)
{
	forget_parent(u);
	for (size_t i = 0; i < u->n_dirs; i++)
		free(u->dirs[i].path);
	free(u->dirs);
	free(u->entry);
	if (u->tar)
		archive_read_free(u->tar);
}

static void source_release(struct source *s)
{
	if (s->outer)
		archive_read_free(s->outer);
	cairn_sha256_release(&s->blob_hash);
	cairn_sha256_release(&s->tar_hash);
	free(s->buf);
}

static int open_outer(struct source *s, struct cairn_error **err)
{
	struct archive_entry *e;
	int r;

	s->outer = archive_read_new();
	if (!s->outer)
		abort();
	/* only what layers use: gzip and zstd, else the bytes are taken as a plain tar */
	if (archive_read_support_filter_gzip(s->outer) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(s->outer) != ARCHIVE_OK ||
	    archive_read_support_format_raw(s->outer) != ARCHIVE_OK)
		return cairn_error_set(err, CAIRN_EINTERNAL,
				       "libarchive lacks built-in gzip or zstd support");
	if (archive_read_open(s->outer, s, NULL, outer_read, NULL) != ARCHIVE_OK)
		return cairn_error_set(err, CAIRN_EINVAL, "open: %s",
				       archive_error_string(s->outer));
	r = archive_read_next_header(s->outer, &e);
	if (r == ARCHIVE_EOF)
		return cairn_error_set(err, CAIRN_EINVAL, "empty layer");
	if (r < ARCHIVE_WARN)
		return cairn_error_set(err, CAIRN_EINVAL, "decompress: %s",
				       archive_error_string(s->outer));
	return 0;
}

static int read_entries(struct unpacker *u, struct source *s, struct cairn_error **err)
{
	int ret;

	ret = open_outer(s, err);
	if (ret < 0)
		return ret;
	u->tar = archive_read_new();
	if (!u->tar)
		abort();
	if (archive_read_support_format_tar(u->tar) != ARCHIVE_OK)
		return cairn_error_set(err, CAIRN_EINTERNAL, "libarchive lacks tar support");
	if (archive_read_open(u->tar, s, NULL, inner_read, NULL) != ARCHIVE_OK)
		return cairn_error_set(err, CAIRN_EINVAL, "read tar: %s",
				       archive_error_string(u->tar));
	for (;;) {
		struct archive_entry *e;
		int r;

		ret = cairn_interrupt_check(err);
		if (ret < 0)
			return ret;
		r = archive_read_next_header(u->tar, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return cairn_error_set(err, CAIRN_EINVAL, "read tar: %s",
					       archive_error_string(u->tar));
		/* e.g. a UTF-8 name with a non-UTF-8 locale: the bytes are kept as they are */
		if (r == ARCHIVE_WARN)
			cairn_log(CAIRN_LOG_DEBUG, "%s: %s", u->what, archive_error_string(u->tar));
		ret = extract_entry(u, e, err);
		if (ret < 0)
			return ret;
	}
	if (drain_outer(s) < 0)
		return cairn_error_set(err, CAIRN_EINVAL, "decompress: %s",
				       archive_error_string(s->outer));
	ret = set_dir_times(u, err);
	if (ret < 0)
		return ret;
	forget_parent(u);
	return 0;
}

/* The checks that explain a failure best come first: a corrupt blob explains anything. */
static int check_digests(struct source *s, const struct cairn_digest *digest,
			 const struct cairn_digest *diff_id, bool tar_done,
			 struct cairn_error **err)
{
	struct cairn_digest got;

	if (digest) {
		if (drain_fd(s) < 0)
			return cairn_error_set_errno(err, "read layer");
		cairn_sha256_final(&s->blob_hash, &got);
		if (!cairn_digest_equal(&got, digest))
			return cairn_error_set(err, CAIRN_EDIGEST,
					       "blob is corrupt: content hashes to '%s'", got.str);
	}
	if (diff_id && tar_done) {
		cairn_sha256_final(&s->tar_hash, &got);
		if (!cairn_digest_equal(&got, diff_id))
			return cairn_error_set(err, CAIRN_EDIGEST,
					       "tar hashes to '%s', not to diff_id '%s'", got.str,
					       diff_id->str);
	}
	return 0;
}

static int unpack_into(int rootfd, int fd, const char *what, const struct cairn_digest *digest,
		       const struct cairn_digest *diff_id, struct cairn_error **err)
{
	/* a tar cairn is writing itself (the layer writer's tee) is hashed by its writer */
	struct source s = {.fd = fd, .hash_blob = digest != NULL, .hash_tar = diff_id != NULL};
	struct unpacker u = {.what = what, .rootfd = rootfd, .parent_fd = -1};
	struct cairn_error *tar_err = NULL;
	int ret, dret;

	s.buf = xmalloc(READ_SIZE);
	cairn_sha256_init(&s.blob_hash);
	cairn_sha256_init(&s.tar_hash);
	ret = read_entries(&u, &s, &tar_err);
	unpacker_release(&u);
	/* a digest mismatch, found by reading on, is the root cause of any tar error */
	dret = ret == CAIRN_EINTERRUPTED ? 0 : check_digests(&s, digest, diff_id, ret == 0, err);
	source_release(&s);
	if (dret < 0) {
		cairn_error_free(tar_err);
		return dret;
	}
	if (ret < 0) {
		if (err && !*err)
			*err = tar_err;
		else
			cairn_error_free(tar_err);
	}
	return ret;
}

static int split_dest(char **parent, char **base, const char *dest, struct cairn_error **err)
{
	cleanup_free char *d = xstrdup(dest);
	size_t len = strlen(d);
	char *slash;

	*parent = *base = NULL;
	while (len > 1 && d[len - 1] == '/')
		d[--len] = '\0';
	slash = strrchr(d, '/');
	if (!slash) {
		*parent = xstrdup(".");
		*base = xstrdup(d);
	} else {
		*base = xstrdup(slash + 1);
		*parent = slash == d ? xstrdup("/") : xstrndup(d, (size_t)(slash - d));
	}
	if (!**base || strcmp(*base, ".") == 0 || strcmp(*base, "..") == 0) {
		free(*parent);
		free(*base);
		*parent = *base = NULL;
		return cairn_error_set(err, CAIRN_EINVAL, "invalid destination '%s'", dest);
	}
	return 0;
}

int cairn_layer_unpack_fd(int fd, const char *what, const struct cairn_digest *digest,
			  const struct cairn_digest *diff_id, const char *dest_dir,
			  unsigned int flags, struct cairn_error **err)
{
	cleanup_free char *parent = NULL;
	cleanup_free char *base = NULL;
	cleanup_free char *tmpl = NULL;
	cleanup_close int pfd = -1;
	cleanup_close int rootfd = -1;
	const char *tmpname;
	struct stat sb;
	int ret;

	if (!what)
		what = digest ? digest->str : "layer";
	ret = split_dest(&parent, &base, dest_dir, err);
	if (ret < 0)
		return ret;
	ret = cairn_fs_mkdirs_at(AT_FDCWD, parent, 0755, err);
	if (ret < 0)
		return cairn_error_wrap(err, "unpack layer '%s'", what);
	pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return cairn_error_set_errno(err, "unpack layer '%s': open '%s'", what, parent);
	if (fstatat(pfd, base, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISDIR(sb.st_mode))
			return cairn_error_set(err, CAIRN_EINVAL,
					       "unpack layer '%s': '%s' exists and is not a "
					       "directory",
					       what, dest_dir);
		cairn_log(CAIRN_LOG_DEBUG, "layer '%s' is already unpacked in '%s'", what,
			  dest_dir);
		return 0;
	}
	tmpl = xasprintf("%s/.%s" CAIRN_UNPACK_TMP_INFIX "XXXXXX", parent, base);
	if (!mkdtemp(tmpl))
		return cairn_error_set_errno(err, "unpack layer '%s': create temporary directory",
					     what);
	tmpname = strrchr(tmpl, '/') + 1;
	rootfd = openat(pfd, tmpname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (rootfd < 0 || fchmod(rootfd, 0755) < 0) {
		ret = cairn_error_set_errno(err, "open '%s'", tmpl);
		goto fail;
	}
	ret = unpack_into(rootfd, fd, what, digest, diff_id, err);
	if (ret < 0)
		goto fail;
	if (!(flags & CAIRN_UNPACK_NO_SYNC) && syncfs(rootfd) < 0) {
		ret = cairn_error_set_errno(err, "sync '%s'", tmpl);
		goto fail;
	}
	if (renameat(pfd, tmpname, pfd, base) < 0) {
		if (errno != EEXIST && errno != ENOTEMPTY) {
			ret = cairn_error_set_errno(err, "rename '%s' to '%s'", tmpl, dest_dir);
			goto fail;
		}
		/* someone else finished the same layer first */
		cairn_fs_remove_tree(pfd, tmpname, NULL);
		return 0;
	}
	if (!(flags & CAIRN_UNPACK_NO_SYNC))
		fsync(pfd);
	return 0;
fail:
	cairn_fs_remove_tree(pfd, tmpname, NULL);
	return cairn_error_wrap(err, "unpack layer '%s'", what);
}

int cairn_layer_unpack(struct cairn_store *st, const struct cairn_digest *layer,
		       const char *dest_dir, struct cairn_error **err)
{
	cleanup_close int fd = -1;
	uint64_t size;
	int ret = cairn_store_blob_open(&fd, &size, st, layer, err);

	if (ret < 0)
		return cairn_error_wrap(err, "unpack layer '%s'", layer->str);
	return cairn_layer_unpack_fd(fd, layer->str, layer, NULL, dest_dir, 0, err);
}
