/* SPDX-License-Identifier: MIT */
/* Layer writer: a deterministic ustar/pax stream, compressed in parallel and stored as a blob. */
#include "common.h"
#include "layer/layer.h"
#include "layer/unpack.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/sha256.h"
#include "util/strset.h"

#include <fcntl.h>
#include <libdeflate.h>
#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>
#include <zstd.h>

/*
 * Tar bytes per gzip member. Deflate's window is 32 KiB, so independent 1 MiB members cost
 * about 0.1% of ratio, and they let every member be compressed on its own thread.
 */
#define CHUNK_SIZE (1024 * 1024)
#define BLOCK 512
#define MAX_THREADS 64
#define DEFAULT_THREADS_MAX 8
#define GZIP_DEFAULT_LEVEL 6
#define ZSTD_DEFAULT_LEVEL 3
/* The name Python's tarfile gives pax headers: fixed, so the bytes never vary. */
#define PAX_NAME "././@PaxHeader"
#define WHITEOUT_PREFIX ".wh."
#define OPAQUE_NAME ".wh..wh..opq"

static const unsigned char zero_block[BLOCK * 2];

enum slot_state { SLOT_FREE, SLOT_FILLING, SLOT_QUEUED, SLOT_BUSY, SLOT_DONE };

/* One gzip member on its way: tar bytes in, a whole gzip member out. */
struct slot {
	unsigned char *in;
	size_t in_len;
	unsigned char *out;
	size_t out_len;
	uint64_t seq;
	enum slot_state state;
};

/*
 * The gzip pipeline. Slot `seq % n_slots` carries chunk `seq`: the caller fills one, workers
 * compress queued ones, and whichever worker finishes the next chunk in order writes out every
 * finished chunk that follows (the `writing` token), so output order is kept without a
 * separate writer thread and memory stays at n_slots chunks.
 */
struct pool {
	pthread_mutex_t lock;
	pthread_cond_t work;  /* a slot was queued, or quit */
	pthread_cond_t freed; /* a slot was written out and is free again */
	pthread_t *threads;
	size_t n_threads; /* started */
	struct slot *slots;
	size_t n_slots;
	size_t out_cap;
	uint64_t next_seq; /* the chunk being filled */
	uint64_t next_compress;
	uint64_t next_write;
	bool writing;
	bool quit;
	int err_code;		 /* first output error, 0 if none */
	struct cairn_error *err; /* its details, handed to the caller */
	int level;
	uint64_t stored;		/* chunks stored as they are (incompressible()) */
	struct cairn_blob_writer *blob; /* borrowed from the layer writer */
};

/* The tar, unpacked as it is written (cairn_layer_opts.unpack_to): a pipe and a thread. */
struct tee {
	int rfd; /* the thread's: read to the end, then closed */
	char *dest;
	pthread_t thread;
	int ret;
	struct cairn_error *err;
};

struct cairn_layer_writer {
	enum cairn_layer_compression comp;
	int tee_fd; /* the pipe's write end, or -1 */
	struct tee *tee;
	struct cairn_blob_writer *blob;
	struct cairn_sha256 diff; /* over the tar: the diff_id */
	uint64_t tar_size;
	unsigned char *chunk; /* tar bytes not yet handed on */
	size_t chunk_len;
	uint64_t remaining; /* data bytes the current file still owes */
	size_t pad;	    /* zeros after them, to the next block */
	char *cur_path;	    /* the current file, for messages */
	bool failed;
	struct cairn_strset paths; /* every entry so far: a path goes in once */
	struct cairn_buf pax;
	struct cairn_buf name;

	bool pool_started;
	struct pool pool;

	ZSTD_CCtx *zc;
	unsigned char *zout;
	size_t zout_cap;
	unsigned char *own_chunk; /* the chunk buffer without gzip */
};

const char *cairn_layer_media_type(enum cairn_layer_compression c)
{
	switch (c) {
	case CAIRN_LAYER_ZSTD:
		return CAIRN_MT_OCI_LAYER_ZSTD;
	case CAIRN_LAYER_NONE:
		return CAIRN_MT_OCI_LAYER;
	case CAIRN_LAYER_GZIP:
	default:
		return CAIRN_MT_OCI_LAYER_GZIP;
	}
}

/* ---- the gzip pool ---- */

/* Called with the lock held; drops it around each write. */
static void drain_locked(struct pool *p)
{
	if (p->writing)
		return;
	p->writing = true;
	for (;;) {
		struct slot *s = &p->slots[p->next_write % p->n_slots];
		struct cairn_error *e = NULL;
		bool failed = p->err_code != 0;
		int ret = 0;

		if (s->state != SLOT_DONE)
			break;
		pthread_mutex_unlock(&p->lock);
		if (!failed)
			ret = cairn_store_blob_write(p->blob, s->out, s->out_len, &e);
		pthread_mutex_lock(&p->lock);
		if (ret < 0) {
			p->err_code = ret;
			p->err = e;
		}
		s->state = SLOT_FREE;
		p->next_write++;
		pthread_cond_broadcast(&p->freed);
	}
	p->writing = false;
}

/*
 * Data that is compressed already (images, archives, packed binaries) gains nothing from
 * deflate, which still spends longer on it than on text. A chunk is sampled first: when
 * deflate's fastest level saves less than 1/32 of PROBE_SAMPLES pieces spread over it (a tar
 * header or two among noise), the chunk is stored as it is (level 0, a copy). The choice
 * depends on the chunk's bytes alone, so a layer's bytes stay the same from run to run and
 * thread count to thread count.
 */
#define PROBE_SAMPLES 8
#define PROBE_SIZE 4096

static bool incompressible(struct libdeflate_compressor *fast, const unsigned char *in, size_t n)
{
	const size_t enough = PROBE_SAMPLES * PROBE_SIZE / 32;
	unsigned char out[PROBE_SIZE];
	size_t saved = 0;

	if (n < 2 * PROBE_SAMPLES * PROBE_SIZE)
		return false;
	for (size_t i = 0; i < PROBE_SAMPLES && saved < enough; i++) {
		size_t off = (n - PROBE_SIZE) / (PROBE_SAMPLES - 1) * i;
		/* 0: it did not fit in PROBE_SIZE bytes, nothing saved */
		size_t got =
			libdeflate_deflate_compress(fast, in + off, PROBE_SIZE, out, sizeof(out));

		if (got)
			saved += PROBE_SIZE - got;
	}
	return saved < enough;
}

static void *worker_main(void *arg)
{
	struct pool *p = arg;
	struct libdeflate_compressor *c = libdeflate_alloc_compressor(p->level);
	struct libdeflate_compressor *fast = libdeflate_alloc_compressor(1);
	struct libdeflate_compressor *store = libdeflate_alloc_compressor(0);

	if (!c || !fast || !store)
		abort(); /* out of memory: level 0 is there since libdeflate 1.7 (CMakeLists.txt) */
	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct slot *s = &p->slots[p->next_compress % p->n_slots];
		bool stored;

		if (p->quit)
			break;
		if (s->state != SLOT_QUEUED) {
			pthread_cond_wait(&p->work, &p->lock);
			continue;
		}
		assert(s->seq == p->next_compress);
		s->state = SLOT_BUSY;
		p->next_compress++;
		pthread_mutex_unlock(&p->lock);
		stored = incompressible(fast, s->in, s->in_len);
		s->out_len = libdeflate_gzip_compress(stored ? store : c, s->in, s->in_len, s->out,
						      p->out_cap);
		/* out_cap is libdeflate's own bound: running out of room is a bug */
		if (s->out_len == 0)
			abort();
		pthread_mutex_lock(&p->lock);
		p->stored += stored;
		s->state = SLOT_DONE;
		drain_locked(p);
	}
	pthread_mutex_unlock(&p->lock);
	libdeflate_free_compressor(store);
	libdeflate_free_compressor(fast);
	libdeflate_free_compressor(c);
	return NULL;
}

static void pool_stop(struct pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->quit = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	p->n_threads = 0;
}

static void pool_release(struct pool *p)
{
	pool_stop(p);
	for (size_t i = 0; i < p->n_slots; i++) {
		free(p->slots[i].in);
		free(p->slots[i].out);
	}
	free(p->slots);
	free(p->threads);
	cairn_error_free(p->err);
	pthread_cond_destroy(&p->freed);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
}

static int pool_start(struct cairn_layer_writer *w, int level, size_t threads,
		      struct cairn_error **err)
{
	struct pool *p = &w->pool;
	struct libdeflate_compressor *c = libdeflate_alloc_compressor(level);
	struct libdeflate_compressor *store = libdeflate_alloc_compressor(0);
	size_t stored_cap;

	if (!c || !store)
		abort();
	/* room for either: the chunk compressed at `level`, or stored (worker_main) */
	p->out_cap = libdeflate_gzip_compress_bound(c, CHUNK_SIZE);
	stored_cap = libdeflate_gzip_compress_bound(store, CHUNK_SIZE);
	if (stored_cap > p->out_cap)
		p->out_cap = stored_cap;
	libdeflate_free_compressor(store);
	libdeflate_free_compressor(c);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->freed, NULL);
	w->pool_started = true;
	p->level = level;
	p->blob = w->blob;
	/* one being filled, one per worker, one finished and waiting for its turn to be written */
	p->n_slots = threads + 2;
	p->slots = xcalloc(p->n_slots, sizeof(*p->slots));
	for (size_t i = 0; i < p->n_slots; i++) {
		p->slots[i].in = xmalloc(CHUNK_SIZE);
		p->slots[i].out = xmalloc(p->out_cap);
	}
	p->slots[0].state = SLOT_FILLING;
	w->chunk = p->slots[0].in;
	p->threads = xcalloc(threads, sizeof(*p->threads));
	for (size_t i = 0; i < threads; i++) {
		int r = pthread_create(&p->threads[i], NULL, worker_main, p);

		if (r != 0) {
			errno = r;
			return cairn_error_set_errno(err, "layer writer: start compression thread");
		}
		p->n_threads++;
	}
	return 0;
}

static int take_pool_error_locked(struct pool *p, struct cairn_error **err)
{
	int code = p->err_code;

	if (err && !*err)
		*err = TAKE_PTR(p->err);
	return code;
}

/* Queue the filled chunk and take the next free slot to fill. */
static int pool_submit(struct cairn_layer_writer *w, struct cairn_error **err)
{
	struct pool *p = &w->pool;
	struct slot *s;
	int ret;

	pthread_mutex_lock(&p->lock);
	s = &p->slots[p->next_seq % p->n_slots];
	s->in_len = w->chunk_len;
	s->seq = p->next_seq++;
	s->state = SLOT_QUEUED;
	pthread_cond_signal(&p->work);
	s = &p->slots[p->next_seq % p->n_slots];
	while (s->state != SLOT_FREE)
		pthread_cond_wait(&p->freed, &p->lock);
	s->state = SLOT_FILLING;
	w->chunk = s->in;
	w->chunk_len = 0;
	ret = take_pool_error_locked(p, err);
	pthread_mutex_unlock(&p->lock);
	return ret;
}

static int pool_finish(struct cairn_layer_writer *w, struct cairn_error **err)
{
	struct pool *p = &w->pool;
	int ret;

	if (w->chunk_len) {
		ret = pool_submit(w, err);
		if (ret < 0)
			return ret;
	}
	pthread_mutex_lock(&p->lock);
	while (p->next_write < p->next_seq)
		pthread_cond_wait(&p->freed, &p->lock);
	ret = take_pool_error_locked(p, err);
	pthread_mutex_unlock(&p->lock);
	return ret;
}

/* ---- zstd and plain output ---- */

static int zstd_run(struct cairn_layer_writer *w, const void *p, size_t n, ZSTD_EndDirective end,
		    struct cairn_error **err)
{
	ZSTD_inBuffer in = {p, n, 0};

	for (;;) {
		ZSTD_outBuffer out = {w->zout, w->zout_cap, 0};
		size_t left = ZSTD_compressStream2(w->zc, &out, &in, end);
		int ret;

		if (ZSTD_isError(left))
			return cairn_error_set(err, CAIRN_EINTERNAL, "layer writer: zstd: %s",
					       ZSTD_getErrorName(left));
		if (out.pos) {
			ret = cairn_store_blob_write(w->blob, w->zout, out.pos, err);
			if (ret < 0)
				return ret;
		}
		if (end == ZSTD_e_end ? left == 0 : in.pos == in.size)
			return 0;
	}
}

static int flush_chunk(struct cairn_layer_writer *w, struct cairn_error **err)
{
	int ret = 0;

	switch (w->comp) {
	case CAIRN_LAYER_GZIP:
		return pool_submit(w, err);
	case CAIRN_LAYER_ZSTD:
		ret = zstd_run(w, w->chunk, w->chunk_len, ZSTD_e_continue, err);
		break;
	case CAIRN_LAYER_NONE:
		ret = cairn_store_blob_write(w->blob, w->chunk, w->chunk_len, err);
		break;
	}
	w->chunk_len = 0;
	return ret;
}

/* ---- the tar unpacked as it is written ---- */

static void *tee_main(void *arg)
{
	struct tee *t = arg;
	char buf[16384];
	ssize_t n;

	t->ret = cairn_layer_unpack_fd(t->rfd, "the layer being written", NULL, NULL, t->dest, 0,
				       &t->err);
	/* the writer never blocks on a reader that stopped */
	while ((n = read(t->rfd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		;
	close(t->rfd);
	return NULL;
}

static void tee_start(struct cairn_layer_writer *w, const char *dest)
{
	struct tee *t;
	int fds[2];

	w->tee_fd = -1;
	if (!dest || pipe2(fds, O_CLOEXEC) < 0)
		return;
	(void)fcntl(fds[1], F_SETPIPE_SZ, CHUNK_SIZE); /* best effort: fewer switches */
	t = xcalloc(1, sizeof(*t));
	t->rfd = fds[0];
	t->dest = xstrdup(dest);
	if (pthread_create(&t->thread, NULL, tee_main, t) != 0) {
		close(fds[0]);
		close(fds[1]);
		free(t->dest);
		free(t);
		return;
	}
	w->tee = t;
	w->tee_fd = fds[1];
}

static void tee_write(struct cairn_layer_writer *w, const void *p, size_t n)
{
	const char *c = p;

	while (w->tee_fd >= 0 && n) {
		ssize_t k = write(w->tee_fd, c, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			close(w->tee_fd); /* the tree stays incomplete: thrown away at the end */
			w->tee_fd = -1;
			break;
		}
		c += k;
		n -= (size_t)k;
	}
}

/* The end of the tar (`whole`) or of the writer: whether the tree is complete in its place. */
static bool tee_end(struct cairn_layer_writer *w, bool whole)
{
	struct tee *t = w->tee;
	bool ok;

	if (!t)
		return false;
	whole = whole && w->tee_fd >= 0;
	if (w->tee_fd >= 0)
		close(w->tee_fd);
	w->tee_fd = -1;
	pthread_join(t->thread, NULL);
	ok = whole && t->ret == 0;
	if (!ok) {
		if (t->err)
			cairn_log(CAIRN_LOG_DEBUG, "layer writer: unpack as written: %s",
				  t->err->msg);
		cairn_fs_remove_tree(AT_FDCWD, t->dest, NULL);
	}
	cairn_error_free(t->err);
	free(t->dest);
	free(t);
	w->tee = NULL;
	return ok;
}

/* Append tar bytes: hashed for the diff_id, then on to compression in whole chunks. */
static int emit(struct cairn_layer_writer *w, const void *p, size_t n, struct cairn_error **err)
{
	const unsigned char *c = p;

	cairn_sha256_update(&w->diff, p, n);
	w->tar_size += n;
	while (n) {
		size_t k = CHUNK_SIZE - w->chunk_len;
		int ret;

		if (k > n)
			k = n;
		memcpy(w->chunk + w->chunk_len, c, k);
		w->chunk_len += k;
		c += k;
		n -= k;
		if (w->chunk_len == CHUNK_SIZE) {
			/* the unpacker reads whole chunks: big writes, fewer wake-ups */
			tee_write(w, w->chunk, w->chunk_len);
			ret = flush_chunk(w, err);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

/* ---- tar headers ---- */

/* `width - 1` zero-padded octal digits and a NUL, as Go's archive/tar writes them. */
static int put_octal(unsigned char *field, size_t width, uint64_t v)
{
	size_t digits = width - 1;

	if (digits < 22 && (v >> (3 * digits)) != 0)
		return -1;
	field[digits] = '\0';
	for (size_t i = digits; i-- > 0;) {
		field[i] = (unsigned char)('0' + (v & 7));
		v >>= 3;
	}
	return 0;
}

static size_t count_digits(size_t v)
{
	size_t d = 1;

	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

/* One pax record "<len> <key>=<value>\n", where <len> counts the whole record. */
static void pax_add(struct cairn_buf *pax, const char *key, const void *value, size_t len)
{
	size_t base = 1 + strlen(key) + 1 + len + 1;
	size_t total = base + count_digits(base);

	if (count_digits(total) != count_digits(base))
		total = base + count_digits(total);
	cairn_buf_addf(pax, "%zu %s=", total, key);
	cairn_buf_add(pax, value, len);
	cairn_buf_addch(pax, '\n');
}

static void pax_add_int(struct cairn_buf *pax, const char *key, int64_t v)
{
	char num[32];
	int n = snprintf(num, sizeof(num), "%lld", (long long)v);

	pax_add(pax, key, num, (size_t)n);
}

static void put_checksum(unsigned char *blk)
{
	unsigned int sum = 0;

	memset(blk + 148, ' ', 8);
	for (size_t i = 0; i < BLOCK; i++)
		sum += blk[i];
	put_octal(blk + 148, 7, sum);
}

static void fill_header(unsigned char *blk, const char *name, size_t name_len, char type,
			mode_t perm, uint64_t size, const char *link, size_t link_len)
{
	memset(blk, 0, BLOCK);
	memcpy(blk, name, name_len < 100 ? name_len : 100);
	put_octal(blk + 100, 8, perm & 07777);
	put_octal(blk + 108, 8, 0);
	put_octal(blk + 116, 8, 0);
	put_octal(blk + 124, 12, size);
	put_octal(blk + 136, 12, 0);
	blk[156] = (unsigned char)type;
	if (link)
		memcpy(blk + 157, link, link_len < 100 ? link_len : 100);
	memcpy(blk + 257, "ustar", 6);
	memcpy(blk + 263, "00", 2);
	/* uname and gname stay empty: ownership is numeric only */
	put_octal(blk + 329, 8, 0);
	put_octal(blk + 337, 8, 0);
}

struct hdr {
	const char *name; /* with the trailing '/' of directories */
	char type;
	mode_t perm;
	uid_t uid;
	gid_t gid;
	int64_t mtime;
	uint64_t size;
	const char *link;
	const struct cairn_layer_xattr *xattrs;
	size_t n_xattrs;
};

static int write_header(struct cairn_layer_writer *w, const struct hdr *h, struct cairn_error **err)
{
	unsigned char blk[BLOCK];
	size_t name_len = strlen(h->name), link_len = h->link ? strlen(h->link) : 0;
	struct cairn_buf *pax = &w->pax;
	int ret;

	cairn_buf_reset(pax);
	fill_header(blk, h->name, name_len, h->type, h->perm, h->size, h->link, link_len);
	/* Whatever does not fit the ustar fields goes to pax records, in this fixed order. */
	if (name_len > 100)
		pax_add(pax, "path", h->name, name_len);
	if (link_len > 100)
		pax_add(pax, "linkpath", h->link, link_len);
	if (put_octal(blk + 108, 8, h->uid) < 0) {
		pax_add_int(pax, "uid", (int64_t)h->uid);
		put_octal(blk + 108, 8, 0);
	}
	if (put_octal(blk + 116, 8, h->gid) < 0) {
		pax_add_int(pax, "gid", (int64_t)h->gid);
		put_octal(blk + 116, 8, 0);
	}
	if (put_octal(blk + 124, 12, h->size) < 0) {
		pax_add_int(pax, "size", (int64_t)h->size);
		put_octal(blk + 124, 12, 0);
	}
	if (h->mtime < 0 || put_octal(blk + 136, 12, (uint64_t)h->mtime) < 0) {
		pax_add_int(pax, "mtime", h->mtime);
		put_octal(blk + 136, 12, 0);
	}
	for (size_t i = 0; i < h->n_xattrs; i++) {
		const struct cairn_layer_xattr *x = &h->xattrs[i];
		cleanup_free char *key = NULL;

		if (!x->name[0] || strpbrk(x->name, "=\n") || (x->len && !x->value))
			return cairn_error_set(err, CAIRN_EINVAL,
					       "layer entry '%s': invalid extended attribute '%s'",
					       h->name, x->name);
		key = xasprintf("SCHILY.xattr.%s", x->name);
		pax_add(pax, key, x->value, x->len);
	}
	if (pax->len) {
		unsigned char xb[BLOCK];

		fill_header(xb, PAX_NAME, strlen(PAX_NAME), 'x', 0, pax->len, NULL, 0);
		put_checksum(xb);
		ret = emit(w, xb, BLOCK, err);
		if (ret < 0)
			return ret;
		ret = emit(w, pax->buf, pax->len, err);
		if (ret < 0)
			return ret;
		ret = emit(w, zero_block, (BLOCK - pax->len % BLOCK) % BLOCK, err);
		if (ret < 0)
			return ret;
	}
	put_checksum(blk);
	return emit(w, blk, BLOCK, err);
}

/* A relative path of non-empty components other than "." and "..". */
static int check_path(const char *what, const char *path, struct cairn_error **err)
{
	const char *why = NULL;
	size_t len = strlen(path);

	if (len == 0)
		why = "empty";
	else if (len >= PATH_MAX)
		why = "too long";
	else if (path[0] == '/')
		why = "absolute";
	for (const char *c = path; !why && *c;) {
		size_t n = strcspn(c, "/");

		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			why = "empty, '.' or '..' component";
		c += n;
		if (*c == '/')
			c++;
		if (!why && c[-1] == '/' && !*c)
			why = "trailing '/'";
	}
	if (why)
		return cairn_error_set(err, CAIRN_EINVAL, "layer entry: invalid %s '%.200s': %s",
				       what, path, why);
	return 0;
}

/* The end of the current file: its data must be complete; then pad to a block. */
static int end_data(struct cairn_layer_writer *w, struct cairn_error **err)
{
	int ret;

	if (w->remaining)
		return cairn_error_set(err, CAIRN_EINVAL,
				       "layer entry '%s': %llu bytes of data missing", w->cur_path,
				       (unsigned long long)w->remaining);
	ret = emit(w, zero_block, w->pad, err);
	w->pad = 0;
	return ret;
}

static int check_usable(struct cairn_layer_writer *w, struct cairn_error **err)
{
	if (w->failed)
		return cairn_error_set(err, CAIRN_EINVAL,
				       "layer writer: unusable after an earlier error");
	return 0;
}

static int add_entry(struct cairn_layer_writer *w, const struct cairn_layer_entry *e,
		     struct cairn_error **err)
{
	struct hdr h = {
		.name = e->path,
		.perm = e->mode & 07777,
		.uid = e->uid,
		.gid = e->gid,
		.mtime = e->mtime,
		.xattrs = e->xattrs,
		.n_xattrs = e->n_xattrs,
	};
	int ret;

	ret = end_data(w, err);
	if (ret < 0)
		return ret;
	ret = check_path("path", e->path, err);
	if (ret < 0)
		return ret;
	/* docker refuses a layer that holds a path twice */
	if (!cairn_strset_add(&w->paths, e->path, strlen(e->path)))
		return cairn_error_set(err, CAIRN_EINVAL, "layer entry '%s': already in the layer",
				       e->path);
	if (e->hardlink) {
		if (!e->linkname)
			return cairn_error_set(err, CAIRN_EINVAL,
					       "layer entry '%s': hardlink without a target",
					       e->path);
		ret = check_path("hardlink target", e->linkname, err);
		if (ret < 0)
			return ret;
		h.type = '1';
		h.link = e->linkname;
	} else {
		switch (e->mode & S_IFMT) {
		case S_IFREG:
			h.type = '0';
			h.size = e->size;
			break;
		case S_IFDIR:
			h.type = '5';
			cairn_buf_reset(&w->name);
			cairn_buf_addf(&w->name, "%s/", e->path);
			h.name = w->name.buf;
			break;
		case S_IFLNK:
			if (!e->linkname || !e->linkname[0])
				return cairn_error_set(err, CAIRN_EINVAL,
						       "layer entry '%s': symlink without a target",
						       e->path);
			h.type = '2';
			h.link = e->linkname;
			break;
		case S_IFIFO:
			h.type = '6';
			break;
		default:
			return cairn_error_set(err, CAIRN_EINVAL,
					       "layer entry '%s': unsupported file type 0%o",
					       e->path, (unsigned int)(e->mode & S_IFMT));
		}
	}
	ret = write_header(w, &h, err);
	if (ret < 0)
		return ret;
	free(w->cur_path);
	w->cur_path = xstrdup(e->path);
	w->remaining = h.size;
	w->pad = (BLOCK - h.size % BLOCK) % BLOCK;
	return 0;
}

bool cairn_layer_has(const struct cairn_layer_writer *w, const char *path)
{
	return cairn_strset_has(&w->paths, path, strlen(path));
}

int cairn_layer_add(struct cairn_layer_writer *w, const struct cairn_layer_entry *e,
		    struct cairn_error **err)
{
	int ret = check_usable(w, err);

	if (ret < 0)
		return ret;
	ret = add_entry(w, e, err);
	if (ret < 0)
		w->failed = true;
	return ret;
}

int cairn_layer_write_data(struct cairn_layer_writer *w, const void *p, size_t n,
			   struct cairn_error **err)
{
	int ret = check_usable(w, err);

	if (ret < 0)
		return ret;
	if (n > w->remaining) {
		w->failed = true;
		return cairn_error_set(
			err, CAIRN_EINVAL, "layer entry '%s': %zu bytes of data, %llu expected",
			w->cur_path ? w->cur_path : "", n, (unsigned long long)w->remaining);
	}
	ret = emit(w, p, n, err);
	if (ret < 0) {
		w->failed = true;
		return ret;
	}
	w->remaining -= n;
	return 0;
}

/* A marker file `name` in directory `dir` ("" for the root). */
static int add_marker(struct cairn_layer_writer *w, const char *dir, const char *name,
		      int64_t mtime, struct cairn_error **err)
{
	cleanup_free char *path = dir[0] ? xasprintf("%s/%s", dir, name) : xstrdup(name);
	struct cairn_layer_entry e = {.path = path, .mode = S_IFREG, .mtime = mtime};

	return cairn_layer_add(w, &e, err);
}

int cairn_layer_add_whiteout(struct cairn_layer_writer *w, const char *path, int64_t mtime,
			     struct cairn_error **err)
{
	cleanup_free char *dir = NULL;
	cleanup_free char *name = NULL;
	const char *slash;
	int ret = check_usable(w, err);

	if (ret < 0)
		return ret;
	ret = check_path("whiteout path", path, err);
	if (ret < 0) {
		w->failed = true;
		return ret;
	}
	slash = strrchr(path, '/');
	dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup("");
	name = xasprintf(WHITEOUT_PREFIX "%s", slash ? slash + 1 : path);
	return add_marker(w, dir, name, mtime, err);
}

int cairn_layer_add_opaque(struct cairn_layer_writer *w, const char *dir, int64_t mtime,
			   struct cairn_error **err)
{
	int ret = check_usable(w, err);

	if (ret < 0)
		return ret;
	ret = check_path("opaque directory", dir, err);
	if (ret < 0) {
		w->failed = true;
		return ret;
	}
	return add_marker(w, dir, OPAQUE_NAME, mtime, err);
}

/* ---- lifecycle ---- */

void cairn_layer_writer_free(struct cairn_layer_writer *w)
{
	if (!w)
		return;
	tee_end(w, false);
	if (w->pool_started)
		pool_release(&w->pool);
	ZSTD_freeCCtx(w->zc);
	free(w->zout);
	free(w->own_chunk);
	cairn_store_blob_writer_free(w->blob);
	cairn_sha256_release(&w->diff);
	cairn_buf_release(&w->pax);
	cairn_buf_release(&w->name);
	cairn_strset_release(&w->paths);
	free(w->cur_path);
	free(w);
}

DEFINE_FREEP(struct cairn_layer_writer, cairn_layer_writer_free)

static size_t default_threads(int requested)
{
	long n;

	if (requested > 0)
		return requested > MAX_THREADS ? MAX_THREADS : (size_t)requested;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > DEFAULT_THREADS_MAX ? DEFAULT_THREADS_MAX : (size_t)n;
}

static int zstd_start(struct cairn_layer_writer *w, int level, size_t threads,
		      struct cairn_error **err)
{
	size_t r;

	w->zc = ZSTD_createCCtx();
	if (!w->zc)
		abort();
	r = ZSTD_CCtx_setParameter(w->zc, ZSTD_c_compressionLevel, level);
	if (ZSTD_isError(r))
		return cairn_error_set(err, CAIRN_EINVAL, "layer writer: zstd level %d: %s", level,
				       ZSTD_getErrorName(r));
	/*
	 * libzstd's output is the same for any worker count from 1 up, but differs from its
	 * single-threaded mode: always at least one worker keeps digests machine-independent.
	 */
	r = ZSTD_CCtx_setParameter(w->zc, ZSTD_c_nbWorkers, (int)threads);
	if (ZSTD_isError(r))
		cairn_log(CAIRN_LOG_WARN,
			  "layer writer: libzstd without threads: zstd layers will not match "
			  "other hosts' (%s)",
			  ZSTD_getErrorName(r));
	w->zout_cap = ZSTD_CStreamOutSize();
	w->zout = xmalloc(w->zout_cap);
	return 0;
}

int cairn_layer_writer_new(struct cairn_layer_writer **out, struct cairn_store *st,
			   const struct cairn_layer_opts *o, struct cairn_error **err)
{
	static const struct cairn_layer_opts defaults = CAIRN_LAYER_OPTS_INIT;
	CLEANUP(cairn_layer_writer_freep) struct cairn_layer_writer *w = NULL;
	size_t threads;
	int level, ret;

	*out = NULL;
	if (!o)
		o = &defaults;
	w = xcalloc(1, sizeof(*w));
	w->tee_fd = -1;
	w->comp = o->compression;
	cairn_buf_init(&w->pax, 0);
	cairn_buf_init(&w->name, 0);
	cairn_sha256_init(&w->diff);
	threads = default_threads(o->threads);
	level = o->level;
	switch (o->compression) {
	case CAIRN_LAYER_GZIP:
		if (level == 0)
			level = GZIP_DEFAULT_LEVEL;
		if (level < 1 || level > 12)
			return cairn_error_set(err, CAIRN_EINVAL,
					       "layer writer: gzip level %d not in 1..12", level);
		break;
	case CAIRN_LAYER_ZSTD:
		if (level == 0)
			level = ZSTD_DEFAULT_LEVEL;
		if (level < 1 || level > ZSTD_maxCLevel())
			return cairn_error_set(err, CAIRN_EINVAL,
					       "layer writer: zstd level %d not in 1..%d", level,
					       ZSTD_maxCLevel());
		break;
	case CAIRN_LAYER_NONE:
		break;
	default:
		return cairn_error_set(err, CAIRN_EINVAL, "layer writer: unknown compression %d",
				       (int)o->compression);
	}
	ret = cairn_store_blob_writer_new(&w->blob, st, err);
	if (ret < 0)
		return cairn_error_wrap(err, "layer writer");
	if (o->compression == CAIRN_LAYER_GZIP) {
		ret = pool_start(w, level, threads, err);
	} else {
		w->own_chunk = xmalloc(CHUNK_SIZE);
		w->chunk = w->own_chunk;
		if (o->compression == CAIRN_LAYER_ZSTD)
			ret = zstd_start(w, level, threads, err);
	}
	if (ret < 0)
		return ret;
	tee_start(w, o->unpack_to);
	*out = TAKE_PTR(w);
	return 0;
}

static int finish(struct cairn_layer_writer *w, struct cairn_layer_result *out,
		  struct cairn_error **err)
{
	int ret = check_usable(w, err);

	if (ret < 0)
		return ret;
	ret = end_data(w, err);
	if (ret < 0)
		return ret;
	/* end of archive: two zero blocks, no padding to a record size (as Go writes it) */
	ret = emit(w, zero_block, sizeof(zero_block), err);
	if (ret < 0)
		return ret;
	tee_write(w, w->chunk, w->chunk_len); /* the chunk not yet handed on */
	switch (w->comp) {
	case CAIRN_LAYER_GZIP:
		ret = pool_finish(w, err);
		break;
	case CAIRN_LAYER_ZSTD:
		ret = flush_chunk(w, err);
		if (ret == 0)
			ret = zstd_run(w, NULL, 0, ZSTD_e_end, err);
		break;
	case CAIRN_LAYER_NONE:
		ret = flush_chunk(w, err);
		break;
	}
	if (ret < 0)
		return ret;
	ret = cairn_store_blob_commit(w->blob, NULL, &out->desc.digest, &out->desc.size, err);
	if (ret < 0)
		return ret;
	cairn_sha256_final(&w->diff, &out->diff_id);
	out->tar_size = w->tar_size;
	out->chunks_stored = w->pool_started ? w->pool.stored : 0;
	out->unpacked = tee_end(w, true);
	snprintf(out->desc.media_type, sizeof(out->desc.media_type), "%s",
		 cairn_layer_media_type(w->comp));
	return 0;
}

int cairn_layer_finish(struct cairn_layer_writer *w, struct cairn_layer_result *out,
		       struct cairn_error **err)
{
	int ret;

	memset(out, 0, sizeof(*out));
	ret = finish(w, out, err);
	if (ret < 0) {
		memset(out, 0, sizeof(*out));
		ret = cairn_error_wrap(err, "write layer");
	}
	cairn_layer_writer_free(w);
	return ret;
}
