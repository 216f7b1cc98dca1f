/* SPDX-License-Identifier: MIT */
/* The local store: an OCI image layout written atomically and indexed under a lock. */
#include "common.h"
#include "cairn/store.h"
#include "store/store_internal.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/json.h"
#include "util/sha256.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#define OCI_LAYOUT "{\"imageLayoutVersion\":\"1.0.0\"}"
#define EMPTY_INDEX "{\"schemaVersion\":2,\"manifests\":[]}"
#define REF_NAME_KEY "org.opencontainers.image.ref.name"
/* index.json names every stage of every project: allow it to grow well past a manifest. */
#define INDEX_MAX (256u * 1024 * 1024)
/* cairn's own files live in a hidden directory so other OCI tools see a plain layout. */
#define PRIVATE_DIR ".cairn"
#define TMP_DIR PRIVATE_DIR "/tmp"
#define LOCK_FILE PRIVATE_DIR "/index.lock"
/* Held shared by every open store, exclusive by `host cleanup` (cairn_store_lock_exclusive()). */
#define USE_LOCK_FILE PRIVATE_DIR "/use.lock"
#define SOURCES_DIR PRIVATE_DIR "/sources"
/* Sources files are small notes; past this size a file is started afresh. */
#define SOURCES_MAX (64u * 1024)
/* A blob being written is ".cairn/tmp/blob-XXXXXXXXXXXX", flock(2)ed by its writer. */
#define TMP_BLOB_PREFIX "blob-"

struct cairn_store {
	char *root;
	int rootfd;
	int blobsfd;	  /* blobs/sha256 */
	int tmpfd;	  /* .cairn/tmp: temp files, same filesystem as blobs for rename */
	int usefd;	  /* USE_LOCK_FILE, flocked shared (exclusive after lock_exclusive) */
	atomic_int swept; /* the first writer removes what killed writers left in tmp */
	/* names, read from index.json once per version of the file (ref_get looks up here) */
	pthread_mutex_t names_lock;
	json_t *names_idx;	  /* the parsed index the names point into */
	struct index_name *names; /* sorted by name; the last entry of a name */
	size_t n_names;
	struct stat names_of; /* the index.json they were read from */
};

struct index_name {
	const char *name;
	json_t *entry;
	size_t pos; /* in the index */
};

struct cairn_blob_writer {
	struct cairn_store *st; /* borrowed */
	int fd;
	char *tmpname;
	struct cairn_sha256 hash;
	uint64_t size;
};

static int open_dir_at(int *out, int dirfd, const char *path, struct cairn_error **err)
{
	int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	*out = -1;
	if (fd < 0)
		return cairn_error_set_errno(err, "open directory '%s'", path);
	*out = fd;
	return 0;
}

/* Creates `name` with `content` unless it exists; concurrent creators write the same bytes. */
static int ensure_file(int dirfd, const char *name, const char *content, struct cairn_error **err)
{
	if (faccessat(dirfd, name, F_OK, 0) == 0)
		return 0;
	if (errno != ENOENT)
		return cairn_error_set_errno(err, "access '%s'", name);
	return cairn_fs_write_atomic_at(dirfd, name, content, strlen(content), 0644, err);
}

/* Whether the directory `fd` holds anything (an error counts as something: nothing assumed). */
static bool has_entries(int fd)
{
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	bool any = false;
	DIR *d;

	if (dfd < 0)
		return true;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return true;
	}
	while (!any && (de = readdir(d)))
		any = strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return any;
}

static int check_layout(int rootfd, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf raw = CAIRN_BUF_INIT_MAX(64 * 1024);
	cleanup_json json_t *j = NULL;
	const char *v;
	int ret;

	ret = cairn_fs_read_at(rootfd, "oci-layout", &raw, err);
	if (ret < 0)
		return ret;
	ret = cairn_json_parse(&j, raw.buf, raw.len, "oci-layout", err);
	if (ret < 0)
		return ret;
	ret = cairn_json_get_string(&v, j, "imageLayoutVersion", 1, "oci-layout", err);
	if (ret < 0)
		return ret;
	if (strcmp(v, "1.0.0") != 0)
		return cairn_error_set(err, CAIRN_EINVAL, "oci-layout: unsupported version '%s'",
				       v);
	return 0;
}

void cairn_store_free(struct cairn_store *st)
{
	if (!st)
		return;
	if (st->tmpfd >= 0)
		close(st->tmpfd);
	if (st->usefd >= 0)
		close(st->usefd);
	if (st->blobsfd >= 0)
		close(st->blobsfd);
	if (st->rootfd >= 0)
		close(st->rootfd);
	json_decref(st->names_idx);
	free(st->names);
	pthread_mutex_destroy(&st->names_lock);
	free(st->root);
	free(st);
}

DEFINE_FREEP(struct cairn_store, cairn_store_free)

/*
 * The shared use lock every open store holds: a `host cleanup` (which removes stages) waits
 * until no other cairn has the store open, and a cairn opening it waits for a cleanup to end.
 */
static int use_lock(struct cairn_store *st, struct cairn_error **err)
{
	cleanup_free char *what = NULL;

	st->usefd = openat(st->rootfd, USE_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (st->usefd < 0)
		return cairn_error_set_errno(err, "open lock '%s/%s'", st->root, USE_LOCK_FILE);
	if (flock(st->usefd, LOCK_SH | LOCK_NB) == 0)
		return 0;
	if (errno != EWOULDBLOCK && errno != EINTR)
		return cairn_error_set_errno(err, "lock '%s/%s'", st->root, USE_LOCK_FILE);
	cairn_log(CAIRN_LOG_INFO, "store '%s': waiting for a host cleanup to end", st->root);
	what = xasprintf("%s/%s", st->root, USE_LOCK_FILE);
	return cairn_fs_flock(st->usefd, LOCK_SH, what, err);
}

int cairn_store_lock_exclusive(struct cairn_store *st, int64_t timeout_secs,
			       struct cairn_error **err)
{
	struct timespec pause = {0, 100 * 1000 * 1000};
	int64_t waited_ms = 0;
	bool said = false;

	/* (a failed attempt may drop this store's shared lock: Linux converts non-atomically) */
	while (flock(st->usefd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			return cairn_error_set_errno(err, "lock '%s/%s'", st->root, USE_LOCK_FILE);
		if (cairn_interrupted())
			return cairn_error_set(err, CAIRN_EINTERRUPTED, "interrupted");
		if (timeout_secs >= 0 && waited_ms >= timeout_secs * 1000)
			return cairn_error_set(
				err, CAIRN_EOS,
				"store '%s' is in use by another cairn (a build or a "
				"publish) after waiting %lld s (--lock-timeout)",
				st->root, (long long)timeout_secs);
		if (!said) {
			cairn_log(CAIRN_LOG_INFO,
				  "store '%s': waiting until no other cairn uses it", st->root);
			said = true;
		}
		nanosleep(&pause, NULL);
		waited_ms += 100;
	}
	return 0;
}

void cairn_store_touch(struct cairn_store *st, const struct cairn_digest *dg)
{
	/* best effort: the time only orders what host cleanup drops first */
	(void)utimensat(st->blobsfd, cairn_digest_hex(dg), NULL, 0);
}

static int store_open(struct cairn_store *st, struct cairn_error **err)
{
	int ret;

	ret = cairn_fs_mkdirs_at(AT_FDCWD, st->root, 0755, err);
	if (ret < 0)
		return ret;
	ret = open_dir_at(&st->rootfd, AT_FDCWD, st->root, err);
	if (ret < 0)
		return ret;
	ret = cairn_fs_mkdirs_at(st->rootfd, "blobs/sha256", 0755, err);
	if (ret < 0)
		return ret;
	ret = cairn_fs_mkdirs_at(st->rootfd, TMP_DIR, 0700, err);
	if (ret < 0)
		return ret;
	ret = cairn_fs_mkdirs_at(st->rootfd, SOURCES_DIR, 0700, err);
	if (ret < 0)
		return ret;
	ret = open_dir_at(&st->blobsfd, st->rootfd, "blobs/sha256", err);
	if (ret < 0)
		return ret;
	ret = open_dir_at(&st->tmpfd, st->rootfd, TMP_DIR, err);
	if (ret < 0)
		return ret;
	ret = ensure_file(st->rootfd, "oci-layout", OCI_LAYOUT, err);
	if (ret < 0)
		return ret;
	ret = check_layout(st->rootfd, err);
	if (ret < 0)
		return ret;
	/*
	 * A new store gets an empty index; a store whose index went missing is not made empty,
	 * or the next gc would take every blob (the index is only ever replaced by rename).
	 */
	if (faccessat(st->rootfd, "index.json", F_OK, 0) < 0 && errno == ENOENT &&
	    has_entries(st->blobsfd))
		return cairn_error_set(err, CAIRN_EINVAL,
				       "index.json is missing but blobs/sha256 holds blobs: "
				       "restore it, or remove the store to start over");
	ret = ensure_file(st->rootfd, "index.json", EMPTY_INDEX, err);
	if (ret < 0)
		return ret;
	return use_lock(st, err);
}

int cairn_store_open(struct cairn_store **out, const char *root, struct cairn_error **err)
{
	CLEANUP(cairn_store_freep) struct cairn_store *st = xcalloc(1, sizeof(*st));
	int ret;

	pthread_mutex_init(&st->names_lock, NULL);
	*out = NULL;
	st->root = xstrdup(root);
	st->rootfd = st->blobsfd = st->tmpfd = st->usefd = -1;
	ret = store_open(st, err);
	if (ret < 0)
		return cairn_error_wrap(err, "open store '%s'", root);
	*out = TAKE_PTR(st);
	return 0;
}

const char *cairn_store_root(const struct cairn_store *st)
{
	return st->root;
}

/* ---- blobs ---- */

void cairn_store_blob_writer_free(struct cairn_blob_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmpname)
		unlinkat(w->st->tmpfd, w->tmpname, 0);
	free(w->tmpname);
	cairn_sha256_release(&w->hash);
	free(w);
}

DEFINE_FREEP(struct cairn_blob_writer, cairn_store_blob_writer_free)

int cairn_store_blob_writer_new(struct cairn_blob_writer **out, struct cairn_store *st,
				struct cairn_error **err)
{
	CLEANUP(cairn_store_blob_writer_freep) struct cairn_blob_writer *w = NULL;
	int ret;

	*out = NULL;
	w = xcalloc(1, sizeof(*w));
	w->st = st;
	w->fd = -1;
	cairn_sha256_init(&w->hash);
	if (atomic_exchange(&st->swept, 1) == 0)
		cairn_store_sweep_tmp(st, CAIRN_STORE_TMP_GRACE_SECS);
	ret = cairn_fs_mktemp_at(&w->fd, &w->tmpname, st->tmpfd, TMP_BLOB_PREFIX, err);
	if (ret < 0)
		return cairn_error_wrap(err, "store '%s'", st->root);
	/* held until the blob is renamed or removed: tells a sweeper the writer still lives */
	if (flock(w->fd, LOCK_EX) < 0)
		return cairn_error_set_errno(err, "store '%s': lock '%s'", st->root, w->tmpname);
	*out = TAKE_PTR(w);
	return 0;
}

int cairn_store_blob_write(struct cairn_blob_writer *w, const void *p, size_t n,
			   struct cairn_error **err)
{
	int ret = cairn_interrupt_check(err);

	if (ret == 0)
		ret = cairn_fs_write_all(w->fd, p, n, w->tmpname, err);
	if (ret < 0)
		return cairn_error_wrap(err, "store '%s'", w->st->root);
	cairn_sha256_update(&w->hash, p, n);
	w->size += n;
	return 0;
}

int cairn_store_blob_commit(struct cairn_blob_writer *w, const struct cairn_digest *expected,
			    struct cairn_digest *out, uint64_t *size_out, struct cairn_error **err)
{
	struct cairn_digest dg;

	cairn_sha256_final(&w->hash, &dg);
	if (expected && !cairn_digest_equal(expected, &dg))
		return cairn_error_set(err, CAIRN_EDIGEST,
				       "store blob '%s': content hashes to '%s' (%llu bytes)",
				       expected->str, dg.str, (unsigned long long)w->size);
	if (fsync(w->fd) < 0)
		return cairn_error_set_errno(err, "store blob '%s': fsync", dg.str);
	if (renameat(w->st->tmpfd, w->tmpname, w->st->blobsfd, cairn_digest_hex(&dg)) < 0)
		return cairn_error_set_errno(err, "store blob '%s': rename", dg.str);
	free(w->tmpname);
	w->tmpname = NULL;
	if (fsync(w->st->blobsfd) < 0)
		return cairn_error_set_errno(err, "store blob '%s': fsync directory", dg.str);
	if (out)
		*out = dg;
	if (size_out)
		*size_out = w->size;
	return 0;
}

/* Blobs put from memory up to this size are compared with a stored copy before writing. */
#define SAME_CHECK_MAX (1024 * 1024)

/*
 * Whether blob `dg` is stored with these very bytes; then its time is made now, as a write
 * would have made it: `stages gc` spares unnamed blobs younger than its grace, which covers
 * a blob between its put and the name a build or publish gives it (or its push).
 */
static bool stored_same(struct cairn_store *st, const struct cairn_digest *dg, const void *data,
			size_t len)
{
	cleanup_close int fd = openat(st->blobsfd, cairn_digest_hex(dg),
				      O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	cleanup_free unsigned char *buf = NULL;
	struct stat sb;
	ssize_t n;

	if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != len)
		return false;
	buf = xmalloc(len + 1);
	do {
		n = pread(fd, buf, len + 1, 0);
	} while (n < 0 && errno == EINTR);
	return n == (ssize_t)len && memcmp(buf, data, len) == 0 && futimens(fd, NULL) == 0;
}

int cairn_store_put_blob(struct cairn_store *st, const void *data, size_t len,
			 struct cairn_digest *out, struct cairn_error **err)
{
	CLEANUP(cairn_store_blob_writer_freep) struct cairn_blob_writer *w = NULL;
	struct cairn_digest dg;
	int ret;

	/*
	 * Stored already with these bytes (a re-publish makes the same configs and manifests):
	 * nothing to write and sync. A copy that differs is replaced.
	 */
	if (len <= SAME_CHECK_MAX) {
		cairn_digest_of(&dg, data, len);
		if (stored_same(st, &dg, data, len)) {
			if (out)
				*out = dg;
			return 0;
		}
	}
	ret = cairn_store_blob_writer_new(&w, st, err);
	if (ret < 0)
		return ret;
	ret = cairn_store_blob_write(w, data, len, err);
	if (ret < 0)
		return ret;
	return cairn_store_blob_commit(w, NULL, out, NULL, err);
}

/* Remove tmp/blob-NAME if its writer is gone: unlocked, and still the file that was looked at. */
static int sweep_one(struct cairn_store *st, const char *name, const struct stat *seen)
{
	cleanup_close int fd =
		openat(st->tmpfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat sb;

	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, &sb) < 0 ||
	    sb.st_ino != seen->st_ino || sb.st_dev != seen->st_dev)
		return 0;
	return unlinkat(st->tmpfd, name, 0) == 0;
}

uint64_t cairn_store_sweep_tmp(struct cairn_store *st, int64_t grace_secs)
{
	time_t cutoff = time(NULL) - (time_t)grace_secs;
	int dfd = openat(st->tmpfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	uint64_t removed = 0;
	struct dirent *e;

	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return 0;
	}
	while ((e = readdir(d))) {
		struct stat sb;

		/* the grace covers a writer between creating its file and locking it */
		if (strncmp(e->d_name, TMP_BLOB_PREFIX, strlen(TMP_BLOB_PREFIX)) != 0 ||
		    fstatat(st->tmpfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(sb.st_mode) || sb.st_mtime > cutoff)
			continue;
		if (sweep_one(st, e->d_name, &sb)) {
			cairn_log(CAIRN_LOG_DEBUG,
				  "store '%s': removed '%s', left by a killed writer", st->root,
				  e->d_name);
			removed++;
		}
	}
	closedir(d);
	return removed;
}

int cairn_store_has_blob(struct cairn_store *st, const struct cairn_digest *dg)
{
	return faccessat(st->blobsfd, cairn_digest_hex(dg), F_OK, 0) == 0;
}

int cairn_store_read_blob(struct cairn_store *st, const struct cairn_digest *dg, uint64_t max,
			  int (*sink)(const void *p, size_t n, void *userdata), void *userdata,
			  struct cairn_error **err)
{
	cleanup_close int fd = openat(st->blobsfd, cairn_digest_hex(dg), O_RDONLY | O_CLOEXEC);
	cleanup_free char *chunk = NULL;
	struct cairn_sha256 h = {0};
	struct cairn_digest got;
	struct stat sb;
	uint64_t total = 0;
	int ret;

	if (fd < 0) {
		if (errno == ENOENT)
			return cairn_error_set(err, CAIRN_ENOTFOUND,
					       "blob '%s' is not in store '%s'", dg->str, st->root);
		return cairn_error_set_errno(err, "open blob '%s'", dg->str);
	}
	if (fstat(fd, &sb) < 0)
		return cairn_error_set_errno(err, "stat blob '%s'", dg->str);
	if (max && (uint64_t)sb.st_size > max)
		return cairn_error_set(err, CAIRN_ETOOBIG,
				       "blob '%s': %lld bytes, more than the limit of %llu",
				       dg->str, (long long)sb.st_size, (unsigned long long)max);
	chunk = xmalloc(128 * 1024);
	cairn_sha256_init(&h);
	for (;;) {
		ssize_t n;

		ret = cairn_interrupt_check(err);
		if (ret < 0) {
			cairn_sha256_release(&h);
			return cairn_error_wrap(err, "read blob '%s'", dg->str);
		}
		n = read(fd, chunk, 128 * 1024);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = cairn_error_set_errno(err, "read blob '%s'", dg->str);
			cairn_sha256_release(&h);
			return ret;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		if (max && total > max) {
			cairn_sha256_release(&h);
			return cairn_error_set(err, CAIRN_ETOOBIG,
					       "blob '%s': more than the limit of %llu bytes",
					       dg->str, (unsigned long long)max);
		}
		cairn_sha256_update(&h, chunk, (size_t)n);
		if (sink) {
			ret = sink(chunk, (size_t)n, userdata);
			if (ret < 0) {
				cairn_sha256_release(&h);
				return cairn_error_set(err, ret, "read blob '%s': consumer failed",
						       dg->str);
			}
		}
	}
	cairn_sha256_final(&h, &got);
	if (!cairn_digest_equal(&got, dg))
		return cairn_error_set(err, CAIRN_EDIGEST,
				       "blob '%s' in store '%s' is corrupt: content hashes to '%s'",
				       dg->str, st->root, got.str);
	return 0;
}

int cairn_store_verify_blob(struct cairn_store *st, const struct cairn_digest *dg,
			    uint64_t *size_out, struct cairn_error **err)
{
	struct stat sb;
	int ret = cairn_store_read_blob(st, dg, 0, NULL, NULL, err);

	if (ret < 0)
		return ret;
	if (size_out) {
		*size_out = 0;
		if (fstatat(st->blobsfd, cairn_digest_hex(dg), &sb, 0) == 0)
			*size_out = (uint64_t)sb.st_size;
	}
	return 0;
}

int cairn_store_blob_open(int *fd_out, uint64_t *size_out, struct cairn_store *st,
			  const struct cairn_digest *dg, struct cairn_error **err)
{
	cleanup_close int fd = openat(st->blobsfd, cairn_digest_hex(dg), O_RDONLY | O_CLOEXEC);
	struct stat sb;

	*fd_out = -1;
	*size_out = 0;
	if (fd < 0) {
		if (errno == ENOENT)
			return cairn_error_set(err, CAIRN_ENOTFOUND,
					       "blob '%s' is not in store '%s'", dg->str, st->root);
		return cairn_error_set_errno(err, "open blob '%s'", dg->str);
	}
	if (fstat(fd, &sb) < 0)
		return cairn_error_set_errno(err, "stat blob '%s'", dg->str);
	*size_out = (uint64_t)sb.st_size;
	*fd_out = TAKE_FD(fd);
	return 0;
}

/* ---- where blobs are known to be, for cross-repository mounts ---- */

void cairn_store_source_add(struct cairn_store *st, const struct cairn_digest *dg,
			    const char *domain, const char *repo)
{
	cleanup_free char *name = xasprintf(SOURCES_DIR "/%s", cairn_digest_hex(dg));
	cleanup_free char *line = xasprintf("%s %s\n", domain, repo);
	cleanup_close int fd = -1;
	struct stat sb;

	if (strchr(domain, ' ') || strchr(domain, '\n') || strchr(repo, ' ') || strchr(repo, '\n'))
		return;
	fd = openat(st->rootfd, name, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (fstat(fd, &sb) == 0 && (uint64_t)sb.st_size > SOURCES_MAX && ftruncate(fd, 0) < 0)
		return;
	/* One short O_APPEND write: concurrent writers never interleave within a line. */
	if (write(fd, line, strlen(line)) < 0)
		cairn_log(CAIRN_LOG_DEBUG, "store: cannot note where '%s' is", dg->str);
}

void cairn_store_source_each(struct cairn_store *st, const struct cairn_digest *dg,
			     const char *domain, int (*fn)(const char *repo, void *ud), void *ud)
{
	CLEANUP(cairn_buf_release) struct cairn_buf raw = CAIRN_BUF_INIT_MAX(SOURCES_MAX * 2);
	cleanup_free char *name = xasprintf(SOURCES_DIR "/%s", cairn_digest_hex(dg));
	cleanup_free const char **repos = NULL;
	size_t dlen = strlen(domain), n = 0;

	if (cairn_fs_read_at(st->rootfd, name, &raw, NULL) < 0)
		return;
	repos = xcalloc(raw.len / 2 + 1, sizeof(*repos));
	for (char *line = raw.buf; line < raw.buf + raw.len;) {
		char *nl = memchr(line, '\n', (size_t)(raw.buf + raw.len - line));

		if (!nl)
			break; /* a torn last line is ignored */
		*nl = '\0';
		if (strncmp(line, domain, dlen) == 0 && line[dlen] == ' ' && line[dlen + 1])
			repos[n++] = line + dlen + 1;
		line = nl + 1;
	}
	/* Newest last in the file: offer from the end, each repository once. */
	for (size_t i = n; i-- > 0;) {
		int seen = 0;

		for (size_t k = i + 1; k < n && !seen; k++)
			seen = strcmp(repos[k], repos[i]) == 0;
		if (!seen && fn(repos[i], ud))
			return;
	}
}

static int buf_sink(const void *p, size_t n, void *userdata)
{
	struct cairn_buf *b = userdata;

	cairn_buf_add(b, p, n);
	return b->err ? CAIRN_ETOOBIG : 0;
}

int cairn_store_read_doc(char **out, size_t *len_out, struct cairn_store *st,
			 const struct cairn_digest *dg, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT_MAX(CAIRN_STORE_DOC_MAX);
	int ret;

	*out = NULL;
	if (len_out)
		*len_out = 0;
	ret = cairn_store_read_blob(st, dg, CAIRN_STORE_DOC_MAX, buf_sink, &b, err);
	if (ret < 0)
		return ret;
	*out = cairn_buf_detach(&b, len_out);
	return 0;
}

/* ---- index.json ---- */

/*
 * OCI ref.name grammar (image-layout spec): components of [A-Za-z0-9]+ joined by one of
 * [-._:@+] or "--", separated by '/'.
 */
static int validate_ref_name(const char *name, struct cairn_error **err)
{
	const char *p = name;
	size_t len = strlen(name);

	if (len == 0 || len > 512)
		return cairn_error_set(err, CAIRN_EINVAL, "invalid ref name '%.100s': %s", name,
				       len ? "longer than 512 bytes" : "empty");
	for (;;) {
		/* component: alphanum (separator alphanum)* */
		for (;;) {
			const char *start = p;

			while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			       (*p >= '0' && *p <= '9'))
				p++;
			if (p == start)
				goto bad;
			if (p[0] == '-' && p[1] == '-')
				p += 2;
			else if (*p && strchr("-._:@+", *p))
				p++;
			else
				break;
		}
		if (*p == '\0')
			return 0;
		if (*p != '/')
			goto bad;
		p++;
	}
bad:
	return cairn_error_set(err, CAIRN_EINVAL,
			       "invalid ref name '%.100s': unexpected character at offset %zu",
			       name, (size_t)(p - name));
}

static int lock_index(int *fd_out, struct cairn_store *st, struct cairn_error **err)
{
	int fd = openat(st->rootfd, LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	*fd_out = -1;
	if (fd < 0)
		return cairn_error_set_errno(err, "open lock '%s/%s'", st->root, LOCK_FILE);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int ret = cairn_error_set_errno(err, "lock '%s/%s'", st->root, LOCK_FILE);

			close(fd);
			return ret;
		}
	}
	*fd_out = fd;
	return 0;
}

static int load_index(json_t **out, struct cairn_store *st, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf raw = CAIRN_BUF_INIT_MAX(INDEX_MAX);
	cleanup_json json_t *j = NULL;
	json_t *manifests;
	int ret;

	*out = NULL;
	ret = cairn_fs_read_at(st->rootfd, "index.json", &raw, err);
	if (ret < 0)
		return cairn_error_wrap(err, "store '%s'", st->root);
	ret = cairn_json_parse(&j, raw.buf, raw.len, "index.json", err);
	if (ret < 0)
		return cairn_error_wrap(err, "store '%s'", st->root);
	if (!json_is_object(j))
		return cairn_error_set(err, CAIRN_EINVAL,
				       "store '%s': index.json: not a JSON object", st->root);
	ret = cairn_json_get_array(&manifests, j, "manifests", 0, "index.json", err);
	if (ret < 0)
		return cairn_error_wrap(err, "store '%s'", st->root);
	if (!manifests && json_object_set_new(j, "manifests", json_array()) < 0)
		abort();
	*out = TAKE_PTR(j);
	return 0;
}

static int save_index(struct cairn_store *st, const json_t *j, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT_MAX(INDEX_MAX);
	int ret = cairn_json_dump(&b, j, err);

	if (ret < 0)
		return cairn_error_wrap(err, "store '%s': write index.json", st->root);
	ret = cairn_fs_write_atomic_at(st->rootfd, "index.json", b.buf, b.len, 0644, err);
	if (ret < 0)
		return cairn_error_wrap(err, "store '%s'", st->root);
	return 0;
}

static const char *entry_name(const json_t *entry)
{
	json_t *ann = json_object_get(entry, "annotations");
	json_t *v = ann ? json_object_get(ann, REF_NAME_KEY) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int parse_entry(struct cairn_descriptor *out, const json_t *entry, struct cairn_error **err)
{
	const char *mt, *dg;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = cairn_json_get_string(&mt, entry, "mediaType", 1, "index.json entry", err);
	if (ret < 0)
		return ret;
	if (strlen(mt) >= sizeof(out->media_type))
		return cairn_error_set(err, CAIRN_EINVAL, "index.json entry: media type too long");
	memcpy(out->media_type, mt, strlen(mt) + 1);
	ret = cairn_json_get_string(&dg, entry, "digest", 1, "index.json entry", err);
	if (ret < 0)
		return ret;
	ret = cairn_digest_parse(&out->digest, dg, strlen(dg), err);
	if (ret < 0)
		return ret;
	return cairn_json_get_u64(&out->size, entry, "size", 1, "index.json entry", err);
}

/* Removes every entry named `name`; returns how many went. */
static size_t remove_named(json_t *manifests, const char *name)
{
	size_t removed = 0;

	for (size_t i = json_array_size(manifests); i-- > 0;) {
		const char *n = entry_name(json_array_get(manifests, i));

		if (n && strcmp(n, name) == 0) {
			json_array_remove(manifests, i);
			removed++;
		}
	}
	return removed;
}

int cairn_store_ref_set(struct cairn_store *st, const char *name,
			const struct cairn_descriptor *desc, struct cairn_error **err)
{
	cleanup_close int lockfd = -1;
	cleanup_json json_t *idx = NULL;
	json_t *entry;
	int ret;

	ret = validate_ref_name(name, err);
	if (ret < 0)
		return ret;
	if (!cairn_store_has_blob(st, &desc->digest))
		return cairn_error_set(err, CAIRN_ENOTFOUND,
				       "name '%s': blob '%s' is not in store '%s'", name,
				       desc->digest.str, st->root);
	ret = lock_index(&lockfd, st, err);
	if (ret < 0)
		return ret;
	ret = load_index(&idx, st, err);
	if (ret < 0)
		return ret;
	remove_named(json_object_get(idx, "manifests"), name);
	entry = json_pack("{s:s, s:s, s:I, s:{s:s}}", "mediaType", desc->media_type, "digest",
			  desc->digest.str, "size", (json_int_t)desc->size, "annotations",
			  REF_NAME_KEY, name);
	if (!entry) /* not UTF-8: json_pack refuses it */
		return cairn_error_set(err, CAIRN_EINVAL, "name '%s': media type is not text",
				       name);
	if (json_array_append_new(json_object_get(idx, "manifests"), entry) < 0)
		abort();
	return save_index(st, idx, err);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct index_name *)a)->name, ((const struct index_name *)b)->name);
}

static int by_name_pos(const void *a, const void *b)
{
	const struct index_name *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : x->pos < y->pos ? -1 : x->pos > y->pos;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/*
 * The names of index.json, parsed again only when the file changed (it is only ever replaced
 * by rename, by this process or another): a build looks a name up per stage, and parsing the
 * whole index each time made a no-op build cost images x stored names. Called locked.
 */
static int names_fresh(struct cairn_store *st, struct cairn_error **err)
{
	cleanup_json json_t *idx = NULL;
	struct index_name *v;
	struct stat now;
	json_t *manifests;
	size_t n = 0;
	int ret;

	if (fstatat(st->rootfd, "index.json", &now, 0) < 0)
		memset(&now, 0, sizeof(now));
	if (st->names_idx && now.st_ino && same_file(&now, &st->names_of))
		return 0;
	ret = load_index(&idx, st, err);
	if (ret < 0)
		return ret;
	manifests = json_object_get(idx, "manifests");
	v = xcalloc(json_array_size(manifests) + 1, sizeof(*v));
	for (size_t i = 0; i < json_array_size(manifests); i++) {
		json_t *entry = json_array_get(manifests, i);
		const char *name = entry_name(entry);

		if (name)
			v[n++] = (struct index_name){name, entry, i};
	}
	/* of entries with one name (written by other tools), the last counts, as it always did */
	cairn_sort(v, n, sizeof(*v), by_name_pos);
	json_decref(st->names_idx);
	free(st->names);
	st->names_idx = TAKE_PTR(idx);
	st->names = v;
	st->n_names = n;
	st->names_of = now;
	return 0;
}

int cairn_store_ref_get(struct cairn_store *st, const char *name, struct cairn_descriptor *out,
			struct cairn_error **err)
{
	struct index_name key = {name, NULL, 0}, *hit = NULL;
	int ret;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&st->names_lock);
	/* index.json is replaced by rename, so a reader without the lock sees a whole version. */
	ret = names_fresh(st, err);
	if (ret == 0)
		hit = bsearch(&key, st->names, st->n_names, sizeof(*st->names), by_name);
	/* the last of equal names */
	while (hit && hit + 1 < st->names + st->n_names && strcmp(hit[1].name, name) == 0)
		hit++;
	if (ret == 0 && hit) {
		ret = parse_entry(out, hit->entry, err);
		if (ret < 0)
			cairn_error_wrap(err, "store '%s': name '%s'", st->root, name);
	} else if (ret == 0) {
		ret = cairn_error_set(err, CAIRN_ENOTFOUND, "name '%s' is not in store '%s'", name,
				      st->root);
	}
	pthread_mutex_unlock(&st->names_lock);
	return ret;
}

int cairn_store_ref_remove(struct cairn_store *st, const char *name, struct cairn_error **err)
{
	cleanup_close int lockfd = -1;
	cleanup_json json_t *idx = NULL;
	int ret;

	ret = lock_index(&lockfd, st, err);
	if (ret < 0)
		return ret;
	ret = load_index(&idx, st, err);
	if (ret < 0)
		return ret;
	if (remove_named(json_object_get(idx, "manifests"), name) == 0)
		return cairn_error_set(err, CAIRN_ENOTFOUND, "name '%s' is not in store '%s'", name,
				       st->root);
	return save_index(st, idx, err);
}

int cairn_store_ref_list(struct cairn_store *st,
			 int (*fn)(const struct cairn_store_ref *ref, void *userdata),
			 void *userdata, struct cairn_error **err)
{
	cleanup_json json_t *idx = NULL;
	json_t *manifests;
	int ret;

	ret = load_index(&idx, st, err);
	if (ret < 0)
		return ret;
	manifests = json_object_get(idx, "manifests");
	for (size_t i = 0; i < json_array_size(manifests); i++) {
		json_t *entry = json_array_get(manifests, i);
		struct cairn_store_ref r;

		r.name = entry_name(entry);
		if (!r.name)
			continue;
		ret = parse_entry(&r.desc, entry, err);
		if (ret < 0)
			return cairn_error_wrap(err, "store '%s': name '%s'", st->root, r.name);
		ret = fn(&r, userdata);
		if (ret < 0)
			return ret;
	}
	return 0;
}
