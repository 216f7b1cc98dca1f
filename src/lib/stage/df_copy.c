/* SPDX-License-Identifier: MIT */
/*
 * COPY and ADD of Dockerfile images: from the context (files, globs, directories, local
 * archives ADD unpacks), heredocs, URLs, or --from another stage or image, into one layer.
 */
#include "common.h"
#include "stage/df_internal.h"
#include "layer/cache.h"
#include "layer/unpack.h"
#include "util/buf.h"
#include "util/root.h"
#include "util/sha256.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <limits.h>

static bool is_url(const char *w)
{
	return !strncmp(w, "http://", 7) || !strncmp(w, "https://", 8) || !strncmp(w, "git@", 4) ||
	       !strncmp(w, "git://", 6) || !strncmp(w, "ssh://", 6);
}

/* Fetch the URL of source `k` into the build's directory (as ADD docker fetches it). */
static int fetch_url(struct df_build *d, struct df_url *u, size_t k, struct cairn_error **err)
{
	const char *run;
	int ret = stage_run_dir(&run, d->s->b, err);

	if (ret < 0)
		return ret;
	u->file = xasprintf("%s/add-%p-%zu", run, (void *)u, k);
	stage_unlock(d->s->b); /* other images go on meanwhile */
	ret = df_fetch(&u->got, u->url, u->file, err);
	stage_lock(d->s->b);
	if (ret < 0) {
		free(u->file);
		u->file = NULL;
		return df_wrap(d, d->in, err);
	}
	if (u->checksum && strcmp(u->checksum + 7, cairn_digest_hex(&u->got.digest)) != 0)
		return df_fail(d, d->in, "%s: the content's sha256:%s is not --checksum=%s", u->url,
			       cairn_digest_hex(&u->got.digest), u->checksum);
	return 0;
}

/*
 * ADD URL: with --checksum=sha256:HEX that signs it (fetched when built); without, the URL is
 * fetched now and its content signs it, as docker fetches it on every build.
 */
static int sign_url(struct strv *deps, struct df_build *d, const struct cairn_df_instr *in,
		    size_t k, struct cairn_error **err)
{
	const char *w = d->words.v[k];
	struct df_url *u;
	const char *sum = cairn_df_flag(in, "checksum");

	if (in->cmd != CAIRN_DF_ADD)
		return df_fail(d, in, "'%s': COPY takes no URL (ADD does)", w);
	if (strncmp(w, "http://", 7) && strncmp(w, "https://", 8))
		return df_fail(d, in, "'%s': ADD of a git repository is not supported yet", w);
	u = d->urls[k] = xcalloc(1, sizeof(*u));
	u->url = xstrdup(w);
	if (sum) {
		int ret = df_word(&u->checksum, d, sum, err);

		if (ret < 0)
			return ret;
		if (strncmp(u->checksum, "sha256:", 7) || strlen(u->checksum) != 7 + 64 ||
		    strspn(u->checksum + 7, "0123456789abcdef") != 64)
			return df_fail(d, in, "--checksum=%s: not sha256:HEX", u->checksum);
		strv_addf(deps, "url:%s:%s", u->url, u->checksum);
		return 0;
	}
	{
		int ret = fetch_url(d, u, k, err);

		if (ret < 0)
			return ret;
	}
	strv_addf(deps, "url:%s:sha256:%s", u->url, cairn_digest_hex(&u->got.digest));
	return 0;
}

/* The file name ADD gives a URL's file in a directory: the last element of its path. */
static char *url_name(const char *url)
{
	const char *p = strstr(url, "://");
	size_t n;
	const char *slash;

	p = p ? strchr(p + 3, '/') : NULL;
	if (!p)
		return NULL;
	n = strcspn(p, "?#");
	slash = p + n;
	while (slash > p && slash[-1] != '/')
		slash--;
	return slash < p + n ? xstrndup(slash, (size_t)(p + n - slash)) : NULL;
}

/* A URL source into the layer at `path` (0600 unless --chmod, as docker). */
static int write_url(struct cairn_layer_writer *w, struct df_build *d, struct df_url *u, size_t k,
		     const char *path, const struct copy_opts *o, struct cairn_error **err)
{
	struct cairn_layer_entry e = {.path = path,
				      .mode = S_IFREG | (o->chmod >= 0 ? (mode_t)o->chmod : 0600),
				      .uid = (uid_t)o->uid,
				      .gid = (gid_t)o->gid};
	cleanup_close int fd = -1;
	int ret = u->file ? 0 : fetch_url(d, u, k, err);

	if (ret < 0)
		return ret;
	fd = open(u->file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cairn_error_set_errno(err, "ADD: '%s'", u->file);
	e.mtime = u->got.mtime;
	e.size = u->got.size;
	ret = cairn_layer_add(w, &e, err);
	return ret < 0 ? ret : stage_copy_fd(w, fd, u->url, u->got.size, err);
}

/* COPY/ADD: the sources and destination substituted; from the context, the files selected. */
int df_sign_copy(struct strv *deps, struct df_build *d, const struct cairn_df_instr *in,
		 struct cairn_error **err)
{
	const char *from = cairn_df_flag(in, "from");
	size_t n_src;
	int ret;

	if (in->n_args < 2)
		return df_fail(d, in, "requires at least two arguments");
	for (size_t i = 0; i < in->n_args; i++) {
		char *w = NULL;

		ret = df_word(&w, d, in->args[i], err);
		if (ret < 0)
			return ret;
		strv_add(&d->words, w);
		strv_add(deps, w);
		free(w);
	}
	n_src = d->words.n - 1;
	d->n_src = n_src;
	d->dest = d->words.v[n_src];
	if (n_src > ARRAY_SIZE(d->sel))
		return df_fail(d, in, "more than %zu sources", ARRAY_SIZE(d->sel));
	/* substituted as BuildKit expands them, and signed so */
	if (cairn_df_flag(in, "chown")) {
		ret = df_word(&d->chown, d, cairn_df_flag(in, "chown"), err);
		if (ret < 0)
			return ret;
		strv_addf(deps, "--chown=%s", d->chown);
	}
	if (cairn_df_flag(in, "chmod")) {
		ret = df_word(&d->chmod, d, cairn_df_flag(in, "chmod"), err);
		if (ret < 0)
			return ret;
		strv_addf(deps, "--chmod=%s", d->chmod);
	}
	if (from) {
		cleanup_free char *ref = NULL;
		long st;

		ret = df_word(&ref, d, from, err);
		if (ret < 0)
			return ret;
		st = df_from_stage(d, ref);
		if (st >= 0) {
			if (!d->done[st].set)
				return df_fail(d, in, "--from=%s: stage not built", ref);
			d->from = d->done[st].desc;
			d->from_set = true;
			strv_addf(deps, "from-stage:%s", d->done[st].sig);
		} else {
			/* an image: the reference as written signs it, as `from:` does */
			strv_addf(deps, "from-image:%s", ref);
			strv_add(&d->words, ref);
			d->from_image = d->words.v[d->words.n - 1];
			d->dest = d->words.v[n_src];
		}
		return 0;
	}
	for (size_t k = 0, h = 0; k < n_src; k++) {
		/* COPY <<EOF /file: the heredocs, in their order, are sources of their own */
		if (strncmp(in->args[k], "<<", 2) != 0 || h == in->n_heredocs)
			continue;
		d->hd[k] = &in->heredocs[h++];
		strv_addf(deps, "heredoc:%zu:%s:%s", k, d->hd[k]->name, d->hd[k]->content);
	}
	ret = df_load_context(d, err);
	for (size_t k = 0; ret == 0 && k < n_src; k++) {
		cleanup_free char *src = df_clean_source(d->words.v[k]);

		if (d->hd[k]) {
			d->sel[k].roots = 1;
			d->n_sel = k + 1;
			continue;
		}
		if (is_url(d->words.v[k])) {
			ret = sign_url(deps, d, in, k, err);
			d->n_sel = k + 1;
			if (ret < 0)
				return ret;
			d->sel[k].roots = 1;
			continue;
		}
		ret = df_context_select(&d->sel[k], &d->ctx, src, err);
		d->n_sel = k + 1;
		if (ret < 0)
			return df_wrap(d, in, err);
	}
	return ret < 0 ? ret : df_copy_deps(deps, d, err);
}

/*
 * What the signature of COPY/ADD from the context covers: each file selected, its path where
 * it goes, mode, size and content.
 */
int df_copy_deps(struct strv *deps, struct df_build *d, struct cairn_error **err)
{
	if (!d->ctx_loaded)
		return cairn_error_set(err, CAIRN_EINTERNAL, "context not loaded");
	for (size_t k = 0; k < d->n_sel; k++) {
		for (size_t i = 0; i < d->sel[k].n; i++) {
			struct df_file *f = &d->ctx.v[d->sel[k].v[i].file];
			char sum[CAIRN_SIGNATURE_HEX];
			int ret = df_context_sum(sum, &d->ctx, f, err);

			if (ret < 0)
				return ret;
			strv_addf(deps, "%zu:%s:%o:%s", k, d->sel[k].v[i].rel, (unsigned)f->mode,
				  sum);
		}
	}
	return 0;
}

static int parse_chmod(int *out, struct df_build *d, const struct cairn_df_instr *in)
{
	const char *v = d->chmod;
	char *end = NULL;
	long m;

	*out = -1;
	if (!v)
		return 0;
	m = strtol(v, &end, 8);
	if (!*v || *end || m < 0 || m > 07777)
		return df_fail(d, in, "--chmod=%s: not an octal mode", v);
	*out = (int)m;
	return 0;
}

static int copy_opts_of(struct copy_opts *o, struct df_build *d, const struct cairn_df_instr *in,
			struct cairn_error **err)
{
	int ret = parse_chmod(&o->chmod, d, in);

	o->uid = o->gid = 0;
	if (ret < 0 || !d->chown)
		return ret;
	return df_user_ids(&o->uid, &o->gid, d, d->chown, true, err);
}

/* Whether `p` starts as an archive docker's ADD extracts does: tar, gzip, bzip2, xz. */
static bool is_archive(const char *p, size_t n)
{
	return (n >= 2 && (unsigned char)p[0] == 0x1f && (unsigned char)p[1] == 0x8b) ||
	       (n >= 3 && !memcmp(p, "BZh", 3)) ||
	       (n >= 6 && !memcmp(p,
				  "\xfd"
				  "7zXZ\0",
				  6)) ||
	       (n >= 262 && !memcmp(p + 257, "ustar", 5));
}

/*
 * ADD of a local tar archive (compressed or not), a source of its own: its entries under `dir`
 * (no leading '/'),
 * paths cleaned inside it, owners and modes as the archive has them. *extracted: it was one
 * (else the file is copied as it is, as docker does with what is no tar).
 */
static int add_archive(bool *extracted, struct cairn_layer_writer *w, struct df_build *d, int below,
		       const char *dir, int fd, const struct cairn_buf *mem,
		       const struct df_file *f, struct cairn_error **err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	int r, ret = 0;

	*extracted = false;
	if (!a)
		abort();
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	r = fd >= 0 ? archive_read_open_fd(a, fd, 65536)
		    : archive_read_open_memory(a, mem->buf, mem->len);
	if (r != ARCHIVE_OK || archive_read_next_header(a, &ae) != ARCHIVE_OK) {
		archive_read_free(a);
		return 0;
	}
	*extracted = true;
	ret = df_ensure_dir(w, below, dir, 0755, 0, 0, f->mtime, err);
	for (r = ARCHIVE_OK; ret == 0 && r == ARCHIVE_OK; r = archive_read_next_header(a, &ae)) {
		cleanup_free char *clean = NULL;
		cleanup_free char *path = NULL;
		cleanup_free char *link = NULL;
		const char *hard = archive_entry_hardlink(ae);
		mode_t type = archive_entry_filetype(ae);
		struct cairn_layer_entry e = {.mode = type | (archive_entry_perm(ae) & 07777),
					      .uid = (uid_t)archive_entry_uid(ae),
					      .gid = (gid_t)archive_entry_gid(ae),
					      .mtime = archive_entry_mtime(ae)};
		const char *slash;

		ret = cairn_layer_clean_path(
			&clean, archive_entry_pathname(ae) ? archive_entry_pathname(ae) : "", err);
		if (ret < 0)
			break;
		if (!clean[0])
			continue;
		path = dir[0] ? xasprintf("%s/%s", dir, clean) : xstrdup(clean);
		e.path = path;
		slash = strrchr(path, '/');
		if (slash) {
			cleanup_free char *parent = xstrndup(path, (size_t)(slash - path));

			ret = df_ensure_dir(w, below, parent, 0755, 0, 0, f->mtime, err);
			if (ret < 0)
				break;
		}
		if (hard) {
			cleanup_free char *target = NULL;

			ret = cairn_layer_clean_path(&target, hard, err);
			if (ret < 0)
				break;
			link = dir[0] ? xasprintf("%s/%s", dir, target) : xstrdup(target);
			e.mode = S_IFREG | (e.mode & 07777);
			e.hardlink = 1;
			e.linkname = link;
			ret = cairn_layer_add(w, &e, err);
		} else if (type == AE_IFDIR) {
			ret = cairn_layer_has(w, path) ? 0 : cairn_layer_add(w, &e, err);
		} else if (type == AE_IFLNK) {
			e.linkname = archive_entry_symlink(ae) ? archive_entry_symlink(ae) : "";
			ret = cairn_layer_add(w, &e, err);
		} else if (type == AE_IFIFO) {
			ret = cairn_layer_add(w, &e, err);
		} else if (type == AE_IFREG) {
			const void *p;
			size_t n;
			la_int64_t off;

			e.size = (uint64_t)archive_entry_size(ae);
			ret = cairn_layer_add(w, &e, err);
			while (ret == 0 &&
			       (r = archive_read_data_block(a, &p, &n, &off)) == ARCHIVE_OK)
				ret = cairn_layer_write_data(w, p, n, err);
			if (ret == 0 && r != ARCHIVE_EOF)
				break;
			r = ARCHIVE_OK;
		}
		/* devices and sockets: not in an image cairn writes */
	}
	if (ret < 0)
		cairn_error_wrap(err, "'%s'", f->path);
	else if (r != ARCHIVE_EOF)
		ret = df_fail(d, d->in, "'%s': a broken archive: %s", f->path,
			      archive_error_string(a) ? archive_error_string(a) : "read error");
	archive_read_free(a);
	return ret < 0 ? ret : 0;
}

/*
 * The `f->size` bytes of work tree file `fd` as the data of the entry just added, checked
 * against the content its stage was signed with (a file changed in between fails the stage).
 */
static int copy_signed(struct cairn_layer_writer *w, int fd, struct df_file *f,
		       struct cairn_error **err)
{
	struct cairn_sha256 h;
	struct cairn_digest dg;
	char buf[65536];
	uint64_t left = f->size;

	cairn_sha256_init(&h);
	while (left) {
		ssize_t n = read(fd, buf, left < sizeof(buf) ? left : sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return cairn_error_set(err, CAIRN_EOS, "context: '%s' changed while read",
					       f->path);
		cairn_sha256_update(&h, buf, (size_t)n);
		if (cairn_layer_write_data(w, buf, (size_t)n, err) < 0)
			return CAIRN_EOS;
		left -= (uint64_t)n;
	}
	cairn_sha256_final(&h, &dg);
	if (f->sum[0] && strcmp(f->sum, cairn_digest_hex(&dg)) != 0)
		return cairn_error_set(err, CAIRN_EOS, "context: '%s' changed while read", f->path);
	return 0;
}

/* One context file into the layer at `path`. */
static int write_context_file(struct cairn_layer_writer *w, struct df_build *d, struct df_file *f,
			      const char *path, const struct copy_opts *o, int below,
			      const char *archive_dir, struct cairn_error **err)
{
	bool extracted = false;
	CLEANUP(cairn_buf_release) struct cairn_buf data = CAIRN_BUF_INIT;
	struct cairn_layer_entry e = {.path = path,
				      .mode = f->mode,
				      .uid = (uid_t)o->uid,
				      .gid = (gid_t)o->gid,
				      .mtime = f->mtime};
	int ret;

	if (o->chmod >= 0)
		e.mode = (f->mode & S_IFMT) | (mode_t)o->chmod;
	if (S_ISDIR(f->mode))
		return cairn_layer_has(w, path) ? 0 : cairn_layer_add(w, &e, err);
	if (S_ISLNK(f->mode) && f->host) {
		char link[PATH_MAX];
		cleanup_close int fd = cairn_root_open(d->ctx.dirfd, f->path, O_PATH | O_NOFOLLOW,
						       CAIRN_ROOT_BENEATH);
		ssize_t n = fd < 0 ? -1 : readlinkat(fd, "", link, sizeof(link) - 1);

		if (n < 0)
			return cairn_error_set_errno(err, "context: read link '%s'", f->path);
		link[n] = '\0';
		e.linkname = link;
		return cairn_layer_add(w, &e, err);
	}
	if (f->host) {
		/* a work tree file streams into the layer */
		char head[512];
		cleanup_close int fd = df_context_open(&d->ctx, f, err);
		ssize_t n;

		if (fd < 0)
			return CAIRN_EOS;
		n = pread(fd, head, sizeof(head), 0);
		if (archive_dir && d->in->cmd == CAIRN_DF_ADD && n > 0 &&
		    is_archive(head, (size_t)n)) {
			ret = add_archive(&extracted, w, d, below, archive_dir, fd, NULL, f, err);
			if (ret < 0 || extracted)
				return ret;
			if (lseek(fd, 0, SEEK_SET) != 0)
				return cairn_error_set_errno(err, "context: '%s'", f->path);
		}
		e.size = f->size;
		ret = cairn_layer_add(w, &e, err);
		return ret < 0 ? ret : copy_signed(w, fd, f, err);
	}
	/* a blob of the commit, written from libgit2's copy */
	{
		struct cairn_git_blob *blob = NULL;
		const void *p;
		uint64_t size;

		ret = cairn_git_blob_read(&blob, &p, &size, d->ctx.repo, f->oid, err);
		if (ret == 0 && S_ISLNK(f->mode)) {
			cairn_buf_add(&data, p, size);
			cairn_buf_addstr(&data, "");
			e.linkname = data.buf ? data.buf : "";
			ret = cairn_layer_add(w, &e, err);
		} else if (ret == 0) {
			if (archive_dir && d->in->cmd == CAIRN_DF_ADD && is_archive(p, size)) {
				const struct cairn_buf mem = {.buf = (char *)p, .len = size};

				ret = add_archive(&extracted, w, d, below, archive_dir, -1, &mem, f,
						  err);
			}
			e.size = size;
			if (ret == 0 && !extracted)
				ret = cairn_layer_add(w, &e, err);
			if (ret == 0 && !extracted && size)
				ret = cairn_layer_write_data(w, p, size, err);
		}
		cairn_git_blob_free(blob);
	}
	return ret;
}

/*
 * Where the files of COPY/ADD go (no leading '/'), and whether that is a directory: written so,
 * with several sources, or one the image has.
 */
static void copy_dest(char **out, bool *as_dir, struct df_build *d, int below, json_t *c)
{
	const char *dest = d->dest;
	cleanup_free char *abs = df_image_path(c, dest);
	size_t len = strlen(dest);

	*as_dir = (len && dest[len - 1] == '/') || d->n_src > 1 || !strcmp(dest, ".") ||
		  df_below_is_dir(below, abs);
	*out = xstrdup(abs + 1);
}

/* A heredoc source of COPY/ADD: a file of its text at `path`. */
static int write_heredoc(struct cairn_layer_writer *w, struct df_build *d,
			 const struct cairn_df_heredoc *hd, const char *path,
			 const struct copy_opts *o, struct cairn_error **err)
{
	struct cairn_layer_entry e = {.path = path,
				      .mode = S_IFREG | (o->chmod >= 0 ? (mode_t)o->chmod : 0644),
				      .uid = (uid_t)o->uid,
				      .gid = (gid_t)o->gid,
				      .mtime = d->ctx.mtime,
				      .size = strlen(hd->content)};
	int ret = cairn_layer_add(w, &e, err);

	return ret < 0 || !e.size ? ret : cairn_layer_write_data(w, hd->content, e.size, err);
}

static int copy_context(struct cairn_layer_writer *w, struct df_build *d, int below, json_t *c,
			const struct copy_opts *o, struct cairn_error **err)
{
	cleanup_free char *dest = NULL;
	bool as_dir;
	int ret;

	copy_dest(&dest, &as_dir, d, below, c);
	for (size_t k = 0; k < d->n_sel; k++)
		as_dir = as_dir || d->sel[k].dirs || d->sel[k].roots > 1;
	if (!as_dir && d->n_sel == 1 && (d->sel[0].n == 1 || d->hd[0] || d->urls[0])) {
		/* one file to a path of its own */
		const char *slash = strrchr(dest, '/');
		cleanup_free char *parent = slash ? xstrndup(dest, (size_t)(slash - dest)) : NULL;

		ret = parent ? df_ensure_dir(w, below, parent, 0755, o->uid, o->gid, d->ctx.mtime,
					     err)
			     : 0;
		if (ret == 0 && d->hd[0])
			ret = write_heredoc(w, d, d->hd[0], dest, o, err);
		else if (ret == 0 && d->urls[0])
			ret = write_url(w, d, d->urls[0], 0, dest, o, err);
		else if (ret == 0)
			ret = write_context_file(w, d, &d->ctx.v[d->sel[0].v[0].file], dest, o,
						 below, dest, err);
		return ret;
	}
	ret = df_ensure_dir(w, below, dest, 0755, o->uid, o->gid, d->ctx.mtime, err);
	for (size_t k = 0; ret == 0 && k < d->n_sel; k++) {
		if (d->hd[k]) {
			cleanup_free char *path = dest[0] ? xasprintf("%s/%s", dest, d->hd[k]->name)
							  : xstrdup(d->hd[k]->name);

			ret = write_heredoc(w, d, d->hd[k], path, o, err);
			continue;
		}
		if (d->urls[k]) {
			cleanup_free char *name = url_name(d->urls[k]->url);
			cleanup_free char *path = NULL;

			if (!name) {
				ret = df_fail(d, d->in, "'%s': no file name in the URL for '%s/'",
					      d->urls[k]->url, dest);
				break;
			}
			path = dest[0] ? xasprintf("%s/%s", dest, name) : xstrdup(name);
			ret = write_url(w, d, d->urls[k], k, path, o, err);
			continue;
		}
		for (size_t i = 0; ret == 0 && i < d->sel[k].n; i++) {
			struct df_file *f = &d->ctx.v[d->sel[k].v[i].file];
			cleanup_free char *path =
				dest[0] ? xasprintf("%s/%s", dest, d->sel[k].v[i].rel)
					: xstrdup(d->sel[k].v[i].rel);
			const char *slash = strrchr(path, '/');

			if (slash) {
				/* a directory .dockerignore left out, with files kept in it */
				cleanup_free char *parent = xstrndup(path, (size_t)(slash - path));

				ret = df_ensure_dir(w, below, parent, 0755, o->uid, o->gid,
						    d->ctx.mtime, err);
			}
			if (ret == 0)
				/* a source that is a file, not one in a directory, is unpacked */
				ret = write_context_file(w, d, f, path, o, below,
							 d->sel[k].dirs ? NULL : dest, err);
		}
	}
	return ret;
}

struct tree_walk {
	struct strv rel;
	struct stat *st;
	size_t n;
};

static int tree_one(const struct cairn_root_entry *e, void *ud, struct cairn_error **err)
{
	struct tree_walk *t = ud;

	(void)err;
	if (S_ISCHR(e->st.st_mode) || S_ISBLK(e->st.st_mode) || S_ISSOCK(e->st.st_mode))
		return 0;
	strv_add(&t->rel, e->rel);
	t->st = xreallocarray(t->st, t->n + 1, sizeof(*t->st));
	t->st[t->n++] = e->st;
	return 0;
}

/* One path of another image (its view `src`) into the layer at `to` (a directory's content). */
static int copy_image_path(struct cairn_layer_writer *w, struct df_build *d, int src, int below,
			   const char *path, const char *to, const struct copy_opts *o,
			   int64_t mtime, struct cairn_error **err)
{
	cleanup_close int fd = cairn_root_open(src, path, O_PATH | O_NOFOLLOW, CAIRN_ROOT_IN);
	cleanup_free char *what = xasprintf("%s:%u: COPY --from", d->file, d->in->line);
	struct tree_walk t = {0};
	struct stat st;
	int ret;

	if (fd < 0 || fstat(fd, &st) < 0)
		return cairn_error_set_errno(err, "%s: '%s'", what, path);
	if (!S_ISDIR(st.st_mode)) {
		if (o->chmod >= 0)
			st.st_mode = (st.st_mode & S_IFMT) | (mode_t)o->chmod;
		return stage_copy_entry(w, to, src, path, &st, o->uid, o->gid, st.st_mtime, what,
					err);
	}
	ret = df_ensure_dir(w, below, to, 0755, o->uid, o->gid, mtime, err);
	close(fd);
	fd = cairn_root_open(src, path, O_RDONLY | O_DIRECTORY, CAIRN_ROOT_IN);
	if (fd < 0)
		return cairn_error_set_errno(err, "%s: '%s'", what, path);
	if (ret == 0)
		ret = cairn_root_walk(fd, 256, tree_one, &t, err);
	for (size_t i = 0; ret == 0 && i < t.n; i++) {
		cleanup_free char *p =
			to[0] ? xasprintf("%s/%s", to, t.rel.v[i]) : xstrdup(t.rel.v[i]);

		if (o->chmod >= 0)
			t.st[i].st_mode = (t.st[i].st_mode & S_IFMT) | (mode_t)o->chmod;
		ret = stage_copy_entry(w, p, fd, t.rel.v[i], &t.st[i], o->uid, o->gid,
				       t.st[i].st_mtime, what, err);
	}
	strv_release(&t.rel);
	free(t.st);
	return ret;
}

/*
 * Where `path` leads inside the view `v` once its symlinks are followed (inside the image):
 * the path in the image, or NULL when it leads nowhere.
 */
char *df_view_path(const struct rootfs_view *v, const char *path)
{
	cleanup_close int fd = cairn_root_open(v->fd, path, O_PATH, CAIRN_ROOT_IN);
	cleanup_free char *mnt = realpath(v->mnt, NULL);
	char proc[64], host[PATH_MAX];
	size_t n = mnt ? strlen(mnt) : 0;
	ssize_t len;

	if (fd < 0 || !mnt)
		return NULL;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	len = readlink(proc, host, sizeof(host) - 1);
	if (len < 0 || (size_t)len < n || strncmp(host, mnt, n) != 0 ||
	    (host[n] != '/' && host[n] != '\0'))
		return NULL;
	host[len] = '\0';
	return xstrdup(host[n] ? host + n : "/");
}

/* COPY --from: the sources found in the other stage or image. */
static int copy_from(struct cairn_layer_writer *w, struct df_build *d, int below, json_t *c,
		     const struct copy_opts *o, struct cairn_error **err)
{
	struct image_state src = {.b = d->s->b,
				  .img = d->s->img,
				  .name = d->s->name,
				  .index = d->s->index,
				  .pull = d->s->pull};
	struct rootfs_view *v = NULL;
	cleanup_free char *dest = NULL;
	size_t n_src = d->n_src;
	int64_t mtime = 0;
	bool as_dir;
	int ret = 0;

	if (!d->from_set) {
		struct cairn_config_pos pos = {.line = d->in->line};

		ret = stage_base_image(&src.prev, d->s, d->from_image, &pos, err);
	} else {
		src.prev = d->from;
	}
	if (ret == 0)
		ret = stage_prev_view(&v, &src, err);
	if (ret < 0) {
		stage_drop_prev(&src);
		return ret;
	}
	copy_dest(&dest, &as_dir, d, below, c);
	for (size_t k = 0; ret == 0 && k < n_src; k++) {
		struct strv matches = {0};
		cleanup_free char *abs = df_image_path(NULL, d->words.v[k]);

		if (stage_has_glob(abs))
			stage_glob_paths(&matches, v->fd, abs);
		else
			strv_add(&matches, abs);
		if (matches.n == 0)
			ret = df_fail(d, d->in, "'%s' matches nothing", d->words.v[k]);
		for (size_t i = 0; ret == 0 && i < matches.n; i++) {
			/* a source that is a symlink is followed (inside the image), as docker */
			cleanup_free char *real = df_view_path(v, matches.v[i]);
			cleanup_close int fd =
				real ? cairn_root_open(v->fd, real, O_PATH | O_NOFOLLOW,
						       CAIRN_ROOT_IN)
				     : -1;
			struct stat st;
			bool dir = fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
			const char *base = strrchr(matches.v[i], '/');
			cleanup_free char *to = NULL;

			if (fd < 0) {
				ret = df_fail(d, d->in, "'%s' not found in the source",
					      matches.v[i]);
				break;
			}
			if (dir)
				to = xstrdup(dest);
			else if (as_dir || matches.n > 1)
				to = dest[0] ? xasprintf("%s/%s", dest, base + 1)
					     : xstrdup(base + 1);
			else
				to = xstrdup(dest);
			if (!dir) {
				const char *slash = strrchr(to, '/');
				cleanup_free char *parent =
					slash ? xstrndup(to, (size_t)(slash - to)) : NULL;

				ret = parent ? df_ensure_dir(w, below, parent, 0755, o->uid, o->gid,
							     mtime, err)
					     : 0;
			}
			if (ret == 0)
				ret = copy_image_path(w, d, v->fd, below, real, to, o, mtime, err);
		}
		strv_release(&matches);
	}
	stage_drop_prev(&src);
	return ret;
}

static int fill_copy(struct cairn_layer_writer *w, struct df_build *d, int below, json_t *c,
		     void *ud, struct cairn_error **err)
{
	if (cairn_df_flag(d->in, "from"))
		return copy_from(w, d, below, c, ud, err);
	return copy_context(w, d, below, c, ud, err);
}

/* COPY/ADD: one layer. */
int df_build_copy(struct stage_output *o, struct image_state *s, const struct stage_def *def,
		  struct cairn_error **err)
{
	struct df_build *d = def->ud;
	struct copy_opts co;
	int ret = copy_opts_of(&co, d, d->in, err);

	if (ret == 0)
		ret = df_layer(o, s, d, fill_copy, &co, err);
	return ret < 0 ? df_wrap(d, d->in, err) : 0;
}
