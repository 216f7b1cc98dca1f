/* SPDX-License-Identifier: MIT */
/*
 * The build context of a Dockerfile image: the files of the context directory at the project's
 * commit (werf's rule), the work tree's `contextAddFiles` over them, or the work tree alone when
 * the project is no git repository; less what .dockerignore leaves out.
 */
#include "common.h"
#include "stage/df_context.h"
#include "dockerfile/ignore.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/parse.h"
#include "util/root.h"
#include "util/sha256.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>

/* Deeper than this, a context tree is refused rather than walked. */
#define CONTEXT_DEPTH_MAX 256

static void add_file(struct df_context *c, const char *path, uint32_t mode, uint64_t size,
		     const char *oid, bool host, int64_t mtime)
{
	struct df_file *f;

	c->v = xreallocarray(c->v, c->n + 1, sizeof(*c->v));
	f = &c->v[c->n++];
	memset(f, 0, sizeof(*f));
	f->path = xstrdup(path);
	f->mode = mode;
	f->size = size;
	f->host = host;
	f->mtime = mtime;
	if (oid)
		snprintf(f->oid, sizeof(f->oid), "%s", oid);
}

struct walk_ud {
	struct df_context *c;
	const char *prefix; /* of the walked directory in the context, "" for its root */
};

static int walk_one(const struct cairn_root_entry *e, void *ud, struct cairn_error **err)
{
	struct walk_ud *w = ud;
	cleanup_free char *path =
		w->prefix[0] ? xasprintf("%s/%s", w->prefix, e->rel) : xstrdup(e->rel);

	(void)err;
	if (!S_ISREG(e->st.st_mode) && !S_ISDIR(e->st.st_mode) && !S_ISLNK(e->st.st_mode))
		return 0; /* devices, sockets, fifos: docker sends them, cairn leaves them out */
	/* the repository's own files are no part of a context taken from the work tree */
	if (!w->c->repo && (strcmp(path, ".git") == 0 || strncmp(path, ".git/", 5) == 0))
		return 0;
	add_file(w->c, path, (uint32_t)e->st.st_mode,
		 S_ISREG(e->st.st_mode) ? (uint64_t)e->st.st_size : 0, NULL, true,
		 (int64_t)e->st.st_mtime);
	return 0;
}

/* `rel` (a file or directory of the context in the work tree) and all below it. */
static int add_host(struct df_context *c, const char *rel, struct cairn_error **err)
{
	cleanup_close int fd = -1;
	struct stat st;
	struct walk_ud w = {c, rel};

	if (!rel[0] || strcmp(rel, ".") == 0) {
		w.prefix = "";
		return cairn_root_walk(c->dirfd, CONTEXT_DEPTH_MAX, walk_one, &w, err);
	}
	fd = cairn_root_open(c->dirfd, rel, O_PATH | O_NOFOLLOW, CAIRN_ROOT_BENEATH);
	if (fd < 0 || fstat(fd, &st) < 0)
		return cairn_error_set_errno(err, "contextAddFiles: '%s'", rel);
	if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
		add_file(c, rel, (uint32_t)st.st_mode,
			 S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0, NULL, true,
			 (int64_t)st.st_mtime);
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return cairn_error_set(err, CAIRN_EINVAL,
				       "contextAddFiles: '%s' is no file or directory", rel);
	add_file(c, rel, (uint32_t)st.st_mode, 0, NULL, true, (int64_t)st.st_mtime);
	close(fd);
	fd = cairn_root_open(c->dirfd, rel, O_RDONLY | O_DIRECTORY, CAIRN_ROOT_BENEATH);
	if (fd < 0)
		return cairn_error_set_errno(err, "contextAddFiles: '%s'", rel);
	return cairn_root_walk(fd, CONTEXT_DEPTH_MAX, walk_one, &w, err);
}

static int cmp_file(const void *a, const void *b)
{
	const struct df_file *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	/* the work tree's entry of a path after the commit's: the later one stays */
	return c ? c : (int)x->host - (int)y->host;
}

/* Sorted by path, each path once (the work tree's over the commit's). */
static void sort_unique(struct df_context *c)
{
	size_t k = 0;

	if (c->n > 1)
		cairn_sort(c->v, c->n, sizeof(*c->v), cmp_file);
	for (size_t i = 0; i < c->n; i++) {
		if (i + 1 < c->n && strcmp(c->v[i].path, c->v[i + 1].path) == 0) {
			free(c->v[i].path);
			continue;
		}
		c->v[k++] = c->v[i];
	}
	c->n = k;
}

const struct df_file *df_context_find(const struct df_context *c, const char *path)
{
	size_t lo = 0, hi = c->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(c->v[mid].path, path);

		if (r == 0)
			return &c->v[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int df_context_open(const struct df_context *c, const struct df_file *f, struct cairn_error **err)
{
	/* non-blocking: a fifo put in a file's place must not hang the build */
	int fd = cairn_root_open(c->dirfd, f->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK,
				 CAIRN_ROOT_BENEATH);
	struct stat st;

	if (fd < 0)
		return cairn_error_set_errno(err, "context: open '%s'", f->path), -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != f->size) {
		close(fd);
		cairn_error_set(err, CAIRN_EOS, "context: '%s' changed while read", f->path);
		return -1;
	}
	return fd;
}

int df_context_read(struct cairn_buf *out, const struct df_context *c, const struct df_file *f,
		    struct cairn_error **err)
{
	if (f->host) {
		cleanup_close int fd = df_context_open(c, f, err);

		return fd < 0 ? CAIRN_EOS : cairn_fs_read_fd(fd, out, f->path, err);
	} else {
		struct cairn_git_blob *blob = NULL;
		const void *data;
		uint64_t size;
		int ret = cairn_git_blob_read(&blob, &data, &size, c->repo, f->oid, err);

		if (ret == 0)
			cairn_buf_add(out, data, size);
		cairn_git_blob_free(blob);
		return ret;
	}
}

int df_context_sum(char out[CAIRN_SIGNATURE_HEX], const struct df_context *c, struct df_file *f,
		   struct cairn_error **err)
{
	struct cairn_sha256 h;
	struct cairn_digest d;
	char buf[65536];
	cleanup_close int fd = -1;

	if (!f->host) {
		snprintf(out, CAIRN_SIGNATURE_HEX, "git:%s", f->oid);
		return 0;
	}
	if (f->sum[0]) {
		memcpy(out, f->sum, CAIRN_SIGNATURE_HEX);
		return 0;
	}
	if (S_ISDIR(f->mode)) {
		snprintf(f->sum, sizeof(f->sum), "dir");
	} else if (S_ISLNK(f->mode)) {
		char link[PATH_MAX];
		ssize_t n;

		fd = cairn_root_open(c->dirfd, f->path, O_PATH | O_NOFOLLOW, CAIRN_ROOT_BENEATH);
		n = fd < 0 ? -1 : readlinkat(fd, "", link, sizeof(link) - 1);
		if (n < 0)
			return cairn_error_set_errno(err, "context: read link '%s'", f->path);
		cairn_digest_of(&d, link, (size_t)n);
		memcpy(f->sum, cairn_digest_hex(&d), CAIRN_SIGNATURE_HEX);
	} else {
		uint64_t total = 0;

		fd = df_context_open(c, f, err);
		if (fd < 0)
			return CAIRN_EOS;
		cairn_sha256_init(&h);
		for (;;) {
			ssize_t n = read(fd, buf, sizeof(buf));

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return cairn_error_set_errno(err, "context: read '%s'", f->path);
			if (n == 0)
				break;
			cairn_sha256_update(&h, buf, (size_t)n);
			total += (uint64_t)n;
		}
		cairn_sha256_final(&h, &d);
		if (total != f->size)
			return cairn_error_set(err, CAIRN_EOS, "context: '%s' changed while read",
					       f->path);
		memcpy(f->sum, cairn_digest_hex(&d), CAIRN_SIGNATURE_HEX);
	}
	memcpy(out, f->sum, CAIRN_SIGNATURE_HEX);
	return 0;
}

/* The commit's files of the context directory `rel` ("" for the project's root). */
static int add_commit(struct df_context *c, const char *rel, struct cairn_error **err)
{
	CLEANUP(cairn_git_ops_release) struct cairn_git_ops ops = CAIRN_GIT_OPS_INIT;
	cleanup_free char *add = xasprintf("/%s", rel);
	struct cairn_git_selection sel = CAIRN_GIT_SELECTION_INIT;
	int ret;

	sel.add = add;
	ret = cairn_git_archive_ops(&ops, c->repo, c->commit, &sel, "/", err);
	for (size_t i = 0; ret == 0 && i < ops.n; i++) {
		const struct cairn_git_op *op = &ops.v[i];

		if (!op->path[0] || op->kind == CAIRN_GIT_OP_WHITEOUT)
			continue;
		add_file(c, op->path, op->mode, op->size, op->oid, false, c->mtime);
	}
	return ret;
}

/* Leave out what .dockerignore says (the file itself stays readable to the build). */
static int apply_ignore(struct df_context *c, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf text = CAIRN_BUF_INIT_MAX(4u << 20);
	const struct df_file *f = df_context_find(c, ".dockerignore");
	size_t k = 0;
	int ret;

	if (!f || !S_ISREG(f->mode))
		return 0;
	if (f->size > text.max)
		return cairn_error_set(err, CAIRN_ETOOBIG, ".dockerignore: larger than %zu bytes",
				       text.max);
	ret = df_context_read(&text, c, f, err);
	if (ret == 0 && text.err)
		ret = cairn_error_set(err, CAIRN_ETOOBIG, ".dockerignore: larger than %zu bytes",
				      text.max);
	if (ret == 0)
		ret = cairn_dockerignore_parse(&c->ignore, text.buf ? text.buf : "", text.len,
					       ".dockerignore", err);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < c->n; i++) {
		if (cairn_dockerignore_excluded(c->ignore, c->v[i].path)) {
			free(c->v[i].path);
			continue;
		}
		c->v[k++] = c->v[i];
	}
	c->n = k;
	return 0;
}

int df_context_load(struct df_context *c, const struct df_context_source *src,
		    struct cairn_error **err)
{
	cleanup_close int proj = -1;
	const char *rel = src->context ? src->context : "";
	int ret = 0;

	memset(c, 0, sizeof(*c));
	c->dirfd = -1;
	c->repo = src->repo;
	c->mtime = src->mtime;
	if (src->commit)
		snprintf(c->commit, sizeof(c->commit), "%s", src->commit);
	proj = open(src->project_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (proj < 0)
		return cairn_error_set_errno(err, "project '%s'", src->project_dir);
	c->dirfd =
		cairn_root_open(proj, rel[0] ? rel : ".", O_PATH | O_DIRECTORY, CAIRN_ROOT_BENEATH);
	if (c->dirfd < 0 && (c->repo == NULL || src->n_add_files))
		return cairn_error_set_errno(err, "context '%s'", rel[0] ? rel : ".");
	if (c->repo)
		ret = add_commit(c, rel, err);
	else
		ret = add_host(c, "", err);
	for (size_t i = 0; ret == 0 && c->repo && i < src->n_add_files; i++)
		ret = add_host(c, src->add_files[i], err);
	if (ret < 0)
		return ret;
	sort_unique(c);
	return apply_ignore(c, err);
}

void df_context_release(struct df_context *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].path);
	free(c->v);
	if (c->dirfd >= 0)
		close(c->dirfd);
	cairn_dockerignore_free(c->ignore);
	memset(c, 0, sizeof(*c));
	c->dirfd = -1;
}

/* Whether `pattern` (a clean path, maybe with wildcards) matches the context's `path`. */
static bool matches(const char *pattern, const char *path)
{
	return fnmatch(pattern, path, FNM_PATHNAME) == 0;
}

int df_context_select(struct df_selection *out, const struct df_context *c, const char *src,
		      struct cairn_error **err)
{
	bool glob = strpbrk(src, "*?[") != NULL;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < c->n; i++) {
		const char *p = c->v[i].path;
		size_t len;

		if (!src[0]) {
			/* the whole context: its entries, below the root */
			df_selection_add(out, i, p);
			continue;
		}
		if (glob ? !matches(src, p) : strcmp(src, p) != 0)
			continue;
		if (!S_ISDIR(c->v[i].mode)) {
			const char *base = strrchr(p, '/');

			df_selection_add(out, i, base ? base + 1 : p);
			out->roots++;
			continue;
		}
		/* a directory: what is in it */
		out->roots++;
		out->dirs++;
		len = strlen(p);
		/* sorted: "a", "a.txt", "a/b": what shares the prefix is together, not only "a/" */
		for (size_t k = i + 1; k < c->n; k++) {
			if (strncmp(c->v[k].path, p, len) != 0)
				break;
			if (c->v[k].path[len] == '/')
				df_selection_add(out, k, c->v[k].path + len + 1);
		}
	}
	if (!src[0]) {
		out->roots = 1;
		out->dirs = 1;
	}
	if (!out->roots && !glob) {
		/* a directory the commit has only files in (git lists no empty ones) */
		size_t len = strlen(src);

		for (size_t k = 0; k < c->n; k++) {
			if (strncmp(c->v[k].path, src, len) != 0 || c->v[k].path[len] != '/')
				continue;
			df_selection_add(out, k, c->v[k].path + len + 1);
			out->roots = out->dirs = 1;
		}
	}
	if (!out->roots && !glob)
		return cairn_error_set(err, CAIRN_ENOTFOUND, "'%s' not found in the build context",
				       src);
	return 0;
}

void df_selection_add(struct df_selection *s, size_t file, const char *rel)
{
	s->v = xreallocarray(s->v, s->n + 1, sizeof(*s->v));
	s->v[s->n].file = file;
	s->v[s->n].rel = xstrdup(rel);
	s->n++;
}

void df_selection_release(struct df_selection *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].rel);
	free(s->v);
	memset(s, 0, sizeof(*s));
}
