/* SPDX-License-Identifier: MIT */
/* Overlay upper directory → layer: a sorted walk, whiteouts and opaque dirs in OCI form. */
#include "common.h"
#include "layer/upper.h"
#include "util/root.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#define READ_SIZE (256 * 1024)
#define OVERLAY_XATTR "trusted.overlay."
#define OPAQUE_XATTR OVERLAY_XATTR "opaque"

struct xattr {
	char *name;
	void *value;
	size_t len;
};

struct node {
	char *path; /* relative to the upper directory */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	int64_t mtime;
	uint64_t size;
	dev_t dev;
	ino_t ino;
	nlink_t nlink;
	dev_t rdev;
	char *target;	     /* symlink target */
	const char *primary; /* hardlinks: borrowed path of the inode's first node */
	bool opaque;
	struct xattr *xattrs; /* directories: read during the walk */
	size_t n_xattrs;
};

struct walk {
	const char *upper; /* for messages */
	int upperfd;
	struct node *nodes;
	size_t n;
};

static void xattrs_free(struct xattr *x, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(x[i].name);
		free(x[i].value);
	}
	free(x);
}

static void walk_release(struct walk *w)
{
	for (size_t i = 0; i < w->n; i++) {
		free(w->nodes[i].path);
		free(w->nodes[i].target);
		xattrs_free(w->nodes[i].xattrs, w->nodes[i].n_xattrs);
	}
	free(w->nodes);
	if (w->upperfd >= 0)
		close(w->upperfd);
}

static int cmp_xattr(const void *a, const void *b)
{
	return strcmp(((const struct xattr *)a)->name, ((const struct xattr *)b)->name);
}

/*
 * The xattrs worth keeping of an open file or directory, sorted by name; whether it is an
 * opaque directory; and a refusal of overlay features a plain tree cannot express.
 */
static int read_xattrs(struct xattr **out, size_t *n_out, bool *opaque, int fd, const char *path,
		       struct cairn_error **err)
{
	cleanup_free char *names = NULL;
	struct xattr *x = NULL;
	size_t n = 0;
	ssize_t len;

	*out = NULL;
	*n_out = 0;
	if (opaque)
		*opaque = false;
	for (;;) {
		len = flistxattr(fd, NULL, 0);
		if (len <= 0)
			break;
		free(names);
		names = xmalloc((size_t)len);
		len = flistxattr(fd, names, (size_t)len);
		if (len >= 0 || errno != ERANGE)
			break;
	}
	if (len < 0) {
		if (errno == ENOTSUP)
			return 0;
		return cairn_error_set_errno(err, "'%s': list xattrs", path);
	}
	for (char *name = names; name < names + len; name += strlen(name) + 1) {
		ssize_t vlen;

		if (strcmp(name, OVERLAY_XATTR "redirect") == 0 ||
		    strcmp(name, OVERLAY_XATTR "metacopy") == 0) {
			xattrs_free(x, n);
			return cairn_error_set(err, CAIRN_EINVAL,
					       "'%s' has xattr '%s': the overlay must be mounted "
					       "with redirect_dir=off,metacopy=off",
					       path, name);
		}
		if (opaque && strcmp(name, OPAQUE_XATTR) == 0) {
			char v = 0;

			*opaque = fgetxattr(fd, name, &v, 1) == 1 && v == 'y';
			continue;
		}
		if (strncmp(name, "user.", 5) != 0 && strcmp(name, "security.capability") != 0)
			continue;
		vlen = fgetxattr(fd, name, NULL, 0);
		if (vlen < 0)
			continue;
		x = xreallocarray(x, n + 1, sizeof(*x));
		x[n].name = xstrdup(name);
		x[n].value = xmalloc(vlen ? (size_t)vlen : 1);
		vlen = fgetxattr(fd, name, x[n].value, (size_t)vlen);
		if (vlen < 0) {
			free(x[n].name);
			free(x[n].value);
			continue;
		}
		x[n].len = (size_t)vlen;
		n++;
	}
	if (n)
		cairn_sort(x, n, sizeof(*x), cmp_xattr);
	*out = x;
	*n_out = n;
	return 0;
}

static int64_t clamp(int64_t t, int64_t max)
{
	return max >= 0 && t > max ? max : t;
}

static void add_node(struct walk *w, char *path, const struct stat *sb, char *target)
{
	struct node *nd;

	w->nodes = xreallocarray(w->nodes, w->n + 1, sizeof(*w->nodes));
	nd = &w->nodes[w->n++];
	memset(nd, 0, sizeof(*nd));
	nd->path = path;
	nd->mode = sb->st_mode;
	nd->uid = sb->st_uid;
	nd->gid = sb->st_gid;
	nd->mtime = (int64_t)sb->st_mtim.tv_sec;
	nd->size = S_ISREG(sb->st_mode) ? (uint64_t)sb->st_size : 0;
	nd->dev = sb->st_dev;
	nd->ino = sb->st_ino;
	nd->nlink = sb->st_nlink;
	nd->rdev = sb->st_rdev;
	nd->target = target;
}

static int read_target(char **out, int dfd, const char *name, const char *path,
		       struct cairn_error **err)
{
	size_t cap = 256;

	*out = NULL;
	for (;;) {
		char *buf = xmalloc(cap);
		ssize_t n = readlinkat(dfd, name, buf, cap);

		if (n < 0) {
			free(buf);
			return cairn_error_set_errno(err, "'%s': read symlink", path);
		}
		if ((size_t)n < cap) {
			buf[n] = '\0';
			*out = buf;
			return 0;
		}
		free(buf);
		cap *= 2;
	}
}

/* List directory `rel` ("" for the top), adding a node per entry; `self` is its own node. */
static int scan_dir(struct walk *w, const char *rel, size_t self, struct cairn_error **err)
{
	int fd = rel[0] ? cairn_root_open(w->upperfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW,
					  CAIRN_ROOT_NO_SYMLINKS)
			: openat(w->upperfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	int ret = 0;

	if (fd < 0)
		return cairn_error_set_errno(err, "open directory '%s'", rel[0] ? rel : ".");
	if (rel[0]) {
		struct node *nd = &w->nodes[self];

		ret = read_xattrs(&nd->xattrs, &nd->n_xattrs, &nd->opaque, fd, rel, err);
		if (ret < 0) {
			close(fd);
			return ret;
		}
	}
	d = fdopendir(fd);
	if (!d) {
		ret = cairn_error_set_errno(err, "open directory '%s'", rel);
		close(fd);
		return ret;
	}
	while ((de = readdir(d))) {
		char *path, *target = NULL;
		struct stat sb;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			ret = cairn_error_set_errno(err, "stat '%s/%s'", rel, de->d_name);
			break;
		}
		path = rel[0] ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
		if (S_ISLNK(sb.st_mode)) {
			ret = read_target(&target, dirfd(d), de->d_name, path, err);
			if (ret < 0) {
				free(path);
				break;
			}
		}
		add_node(w, path, &sb, target);
	}
	closedir(d);
	return ret;
}

/* Every entry below the top, breadth first (the order is set by sorting afterwards). */
static int walk_tree(struct walk *w, struct cairn_error **err)
{
	int ret = scan_dir(w, "", 0, err);

	for (size_t i = 0; ret == 0 && i < w->n; i++) {
		if (S_ISDIR(w->nodes[i].mode)) {
			/* scan_dir may move w->nodes: pass the index, copy the path */
			cleanup_free char *rel = xstrdup(w->nodes[i].path);

			ret = scan_dir(w, rel, i, err);
		}
	}
	return ret;
}

static int cmp_path(const void *a, const void *b)
{
	return strcmp(((const struct node *)a)->path, ((const struct node *)b)->path);
}

static bool is_whiteout(const struct node *nd)
{
	return S_ISCHR(nd->mode) && major(nd->rdev) == 0 && minor(nd->rdev) == 0;
}

static bool linkable(const struct node *nd)
{
	return (S_ISREG(nd->mode) || S_ISLNK(nd->mode) || S_ISFIFO(nd->mode)) && nd->nlink > 1;
}

static int cmp_inode(const void *a, const void *b)
{
	const struct node *x = *(const struct node *const *)a, *y = *(const struct node *const *)b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	/* nodes are sorted by path already: their addresses keep that order */
	return x < y ? -1 : x > y;
}

/* Every later path of an inode (in path order) becomes a hardlink to its first path. */
static void find_hardlinks(struct walk *w)
{
	cleanup_free struct node **v = NULL;
	size_t n = 0;

	for (size_t i = 0; i < w->n; i++)
		if (linkable(&w->nodes[i]))
			n++;
	if (n < 2)
		return;
	v = xcalloc(n, sizeof(*v));
	n = 0;
	for (size_t i = 0; i < w->n; i++)
		if (linkable(&w->nodes[i]))
			v[n++] = &w->nodes[i];
	cairn_sort(v, n, sizeof(*v), cmp_inode);
	for (size_t i = 1, first = 0; i < n; i++) {
		if (v[i]->dev == v[first]->dev && v[i]->ino == v[first]->ino)
			v[i]->primary = v[first]->path;
		else
			first = i;
	}
}

static void to_layer_xattrs(struct cairn_layer_xattr **out, const struct xattr *x, size_t n)
{
	*out = n ? xcalloc(n, sizeof(**out)) : NULL;
	for (size_t i = 0; i < n; i++) {
		(*out)[i].name = x[i].name;
		(*out)[i].value = x[i].value;
		(*out)[i].len = x[i].len;
	}
}

static int add_file(struct walk *w, struct cairn_layer_writer *lw, const struct node *nd,
		    struct cairn_layer_entry *e, unsigned char *buf, struct cairn_error **err)
{
	cleanup_close int fd = cairn_root_open(w->upperfd, nd->path, O_RDONLY | O_NOFOLLOW,
					       CAIRN_ROOT_NO_SYMLINKS);
	cleanup_free struct cairn_layer_xattr *lx = NULL;
	struct xattr *x = NULL;
	size_t n_x = 0;
	uint64_t left = nd->size;
	struct stat sb;
	int ret;

	if (fd < 0)
		return cairn_error_set_errno(err, "open '%s'", nd->path);
	if (fstat(fd, &sb) < 0)
		return cairn_error_set_errno(err, "stat '%s'", nd->path);
	if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != nd->size)
		return cairn_error_set(err, CAIRN_EINVAL,
				       "'%s' changed while the layer was written", nd->path);
	ret = read_xattrs(&x, &n_x, NULL, fd, nd->path, err);
	if (ret < 0)
		return ret;
	to_layer_xattrs(&lx, x, n_x);
	e->xattrs = lx;
	e->n_xattrs = n_x;
	e->size = nd->size;
	ret = cairn_layer_add(lw, e, err);
	xattrs_free(x, n_x);
	e->xattrs = NULL;
	if (ret < 0)
		return ret;
	while (left) {
		ssize_t k = read(fd, buf, left < READ_SIZE ? (size_t)left : READ_SIZE);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return cairn_error_set_errno(err, "read '%s'", nd->path);
		if (k == 0)
			return cairn_error_set(err, CAIRN_EINVAL,
					       "'%s' shrank while the layer was written", nd->path);
		ret = cairn_layer_write_data(lw, buf, (size_t)k, err);
		if (ret < 0)
			return ret;
		left -= (uint64_t)k;
	}
	return 0;
}

static int add_node_entry(struct walk *w, struct cairn_layer_writer *lw, const struct node *nd,
			  int64_t clamp_mtime, unsigned char *buf, struct cairn_error **err)
{
	struct cairn_layer_entry e = {
		.path = nd->path,
		.mode = nd->mode,
		.uid = nd->uid,
		.gid = nd->gid,
		.mtime = clamp(nd->mtime, clamp_mtime),
	};
	cleanup_free struct cairn_layer_xattr *lx = NULL;
	int ret;

	if (is_whiteout(nd))
		return cairn_layer_add_whiteout(lw, nd->path, e.mtime, err);
	if (nd->primary) {
		e.hardlink = 1;
		e.linkname = nd->primary;
		e.mode = (nd->mode & 07777) | S_IFREG;
		return cairn_layer_add(lw, &e, err);
	}
	switch (nd->mode & S_IFMT) {
	case S_IFREG:
		return add_file(w, lw, nd, &e, buf, err);
	case S_IFDIR:
		to_layer_xattrs(&lx, nd->xattrs, nd->n_xattrs);
		e.xattrs = lx;
		e.n_xattrs = nd->n_xattrs;
		ret = cairn_layer_add(lw, &e, err);
		if (ret < 0 || !nd->opaque)
			return ret;
		return cairn_layer_add_opaque(lw, nd->path, e.mtime, err);
	case S_IFLNK:
		e.linkname = nd->target;
		return cairn_layer_add(lw, &e, err);
	case S_IFIFO:
		return cairn_layer_add(lw, &e, err);
	default:
		cairn_log(CAIRN_LOG_DEBUG, "layer from '%s': '%s' (type 0%o) skipped", w->upper,
			  nd->path, (unsigned int)(nd->mode & S_IFMT));
		return 0;
	}
}

static int write_nodes(struct walk *w, struct cairn_layer_result *out, struct cairn_store *st,
		       const struct cairn_layer_opts *o, int64_t clamp_mtime,
		       struct cairn_error **err)
{
	struct cairn_layer_writer *lw = NULL;
	cleanup_free unsigned char *buf = xmalloc(READ_SIZE);
	int ret = cairn_layer_writer_new(&lw, st, o, err);

	if (ret < 0)
		return ret;
	for (size_t i = 0; i < w->n; i++) {
		ret = add_node_entry(w, lw, &w->nodes[i], clamp_mtime, buf, err);
		if (ret < 0) {
			cairn_layer_writer_free(lw);
			return ret;
		}
	}
	return cairn_layer_finish(lw, out, err);
}

int cairn_layer_from_dir(struct cairn_layer_result *out, struct cairn_store *st,
			 const char *upper_dir, const struct cairn_layer_opts *o,
			 int64_t clamp_mtime, struct cairn_error **err)
{
	struct walk w = {.upper = upper_dir, .upperfd = -1};
	int ret;

	memset(out, 0, sizeof(*out));
	w.upperfd = open(upper_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w.upperfd < 0)
		return cairn_error_set_errno(err, "layer from '%s': open", upper_dir);
	ret = walk_tree(&w, err);
	if (ret == 0) {
		if (w.n)
			cairn_sort(w.nodes, w.n, sizeof(*w.nodes), cmp_path);
		find_hardlinks(&w);
		ret = write_nodes(&w, out, st, o, clamp_mtime, err);
	}
	walk_release(&w);
	if (ret < 0)
		return cairn_error_wrap(err, "layer from '%s'", upper_dir);
	return 0;
}
