/* SPDX-License-Identifier: MIT */
/* Unit tests for the layer writer: tar bytes, gzip members, zstd, digests, reproducibility. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common.h"
#include "layer/layer.h"
#include "cairn/store.h"
#include "util/buf.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>

struct fixture {
	char *dir;
	char *root; /* dir/store */
	struct cairn_store *st;
};

static int setup(void **state)
{
	char tmpl[] = "/tmp/cairn-test-layer-XXXXXX";
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct cairn_error *err = NULL;

	if (!mkdtemp(tmpl))
		return -1;
	f->dir = xstrdup(tmpl);
	f->root = xasprintf("%s/store", tmpl);
	if (cairn_store_open(&f->st, f->root, &err) < 0) {
		fprintf(stderr, "%s\n", err->msg);
		cairn_error_free(err);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char *cmd = xasprintf("rm -rf '%s'", f->dir);
	int r = system(cmd);

	free(cmd);
	cairn_store_free(f->st);
	free(f->root);
	free(f->dir);
	free(f);
	return r == 0 ? 0 : -1;
}

static char *blob_path(struct fixture *f, const struct cairn_digest *dg)
{
	return xasprintf("%s/blobs/sha256/%s", f->root, cairn_digest_hex(dg));
}

static void read_whole(const char *path, struct cairn_buf *out)
{
	FILE *fp = fopen(path, "rb");
	char chunk[65536];
	size_t n;

	assert_non_null(fp);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		cairn_buf_add(out, chunk, n);
	fclose(fp);
}

/* gzread reads concatenated members as one stream, as Go's and zlib's readers do. */
static void gunzip_file(const char *path, struct cairn_buf *out)
{
	gzFile gz = gzopen(path, "rb");
	char chunk[65536];
	int n;

	assert_non_null(gz);
	while ((n = gzread(gz, chunk, sizeof(chunk))) > 0)
		cairn_buf_add(out, chunk, (size_t)n);
	assert_true(n == 0);
	gzclose(gz);
}

static void unzstd_file(const char *path, struct cairn_buf *out)
{
	CLEANUP(cairn_buf_release) struct cairn_buf in = CAIRN_BUF_INIT;
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	ZSTD_inBuffer ib;
	char chunk[65536];

	read_whole(path, &in);
	ib.src = in.buf;
	ib.size = in.len;
	ib.pos = 0;
	for (;;) {
		ZSTD_outBuffer ob = {chunk, sizeof(chunk), 0};
		size_t r = ZSTD_decompressStream(dc, &ob, &ib);

		assert_false(ZSTD_isError(r));
		cairn_buf_add(out, chunk, ob.pos);
		if (ib.pos == ib.size && ob.pos < ob.size)
			break;
	}
	ZSTD_freeDCtx(dc);
}

/* Count the gzip members and check each header: no mtime, no name, OS 255. */
/* The gzip members of a blob; kinds[i] (when not NULL): 's' when member i is stored as is. */
static int gzip_members(const char *path, char *kinds, size_t max)
{
	CLEANUP(cairn_buf_release) struct cairn_buf in = CAIRN_BUF_INIT;
	unsigned char out[65536];
	z_stream z;
	int members = 0;

	read_whole(path, &in);
	memset(&z, 0, sizeof(z));
	assert_int_equal(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
	z.next_in = (unsigned char *)in.buf;
	z.avail_in = (uInt)in.len;
	while (z.avail_in) {
		const unsigned char *h = z.next_in;
		int r;

		assert_true(z.avail_in >= 10);
		assert_int_equal(h[0], 0x1f);
		assert_int_equal(h[1], 0x8b);
		assert_int_equal(h[3], 0); /* FLG: no name, comment or extra */
		assert_int_equal(h[4] | h[5] | h[6] | h[7], 0);
		assert_int_equal(h[9], 255);
		/* the first deflate block's header: BFINAL, then BTYPE (00: stored) */
		if (kinds && (size_t)members < max)
			kinds[members] = z.avail_in > 10 && ((h[10] >> 1) & 3) == 0 ? 's' : 'c';
		do {
			z.next_out = out;
			z.avail_out = sizeof(out);
			r = inflate(&z, Z_NO_FLUSH);
			assert_true(r == Z_OK || r == Z_STREAM_END);
		} while (r != Z_STREAM_END);
		members++;
		assert_int_equal(inflateReset(&z), Z_OK);
	}
	inflateEnd(&z);
	return members;
}

struct got {
	char *path;
	int type; /* AE_IF* */
	unsigned int perm;
	int64_t uid, gid, mtime;
	char *link;
	int hardlink;
	char *uname, *gname;
	char *data;
	size_t size;
	char *xattr; /* "name=<hex value>;" for each xattr */
};

struct tarlist {
	struct got e[64];
	size_t n;
};

static void tarlist_release(struct tarlist *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->e[i].path);
		free(t->e[i].link);
		free(t->e[i].uname);
		free(t->e[i].gname);
		free(t->e[i].data);
		free(t->e[i].xattr);
	}
	t->n = 0;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void parse_tar(const void *p, size_t len, struct tarlist *t)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	int r;

	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_memory(a, p, len), ARCHIVE_OK);
	t->n = 0;
	while ((r = archive_read_next_header(a, &ae)) != ARCHIVE_EOF) {
		struct got *g = &t->e[t->n++];
		CLEANUP(cairn_buf_release) struct cairn_buf data = CAIRN_BUF_INIT;
		const char *xn;
		const void *xv;
		size_t xl;
		char chunk[8192];
		la_ssize_t n;

		assert_true(r >= ARCHIVE_WARN);
		assert_true(t->n <= ARRAY_SIZE(t->e));
		g->path = xstrdup(archive_entry_pathname(ae));
		g->type = (int)archive_entry_filetype(ae);
		g->perm = archive_entry_perm(ae);
		g->uid = archive_entry_uid(ae);
		g->gid = archive_entry_gid(ae);
		g->mtime = archive_entry_mtime(ae);
		g->hardlink = archive_entry_hardlink(ae) != NULL;
		g->link = dup_or_null(g->hardlink ? archive_entry_hardlink(ae)
						  : archive_entry_symlink(ae));
		g->uname = dup_or_null(archive_entry_uname(ae));
		g->gname = dup_or_null(archive_entry_gname(ae));
		assert_int_equal(archive_entry_atime_is_set(ae), 0);
		assert_int_equal(archive_entry_ctime_is_set(ae), 0);
		if (archive_entry_xattr_reset(ae) > 0) {
			struct cairn_buf x = CAIRN_BUF_INIT;

			while (archive_entry_xattr_next(ae, &xn, &xv, &xl) == ARCHIVE_OK) {
				cairn_buf_addf(&x, "%s=", xn);
				for (size_t k = 0; k < xl; k++)
					cairn_buf_addf(&x, "%02x", ((const unsigned char *)xv)[k]);
				cairn_buf_addch(&x, ';');
			}
			g->xattr = cairn_buf_detach(&x, NULL);
		}
		while ((n = archive_read_data(a, chunk, sizeof(chunk))) > 0)
			cairn_buf_add(&data, chunk, (size_t)n);
		assert_true(n == 0);
		g->size = data.len;
		g->data = cairn_buf_detach(&data, NULL);
	}
	archive_read_free(a);
}

static int count_tmp(struct fixture *f)
{
	cleanup_free char *path = xasprintf("%s/.cairn/tmp", f->root);
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void add_file(struct cairn_layer_writer *w, const char *path, const char *content,
		     mode_t perm, int64_t mtime)
{
	struct cairn_layer_entry e = {
		.path = path,
		.mode = S_IFREG | perm,
		.mtime = mtime,
		.size = strlen(content),
	};
	struct cairn_error *err = NULL;

	assert_int_equal(cairn_layer_add(w, &e, &err), 0);
	assert_int_equal(cairn_layer_write_data(w, content, strlen(content), &err), 0);
}

static const char long_name[] =
	"usr/share/a-directory-with-a-rather-long-name/and-another-long-component-below-it/"
	"file-name-that-pushes-past-one-hundred-bytes.txt";
static const char long_target[] =
	"../../../../some/target/that/is/longer/than/one/hundred/bytes/so/it/needs/a/pax/"
	"linkpath/record/to/be/stored";

/* Every kind of entry the writer supports, in a fixed order. */
static void write_sample(struct cairn_layer_writer *w)
{
	static const char cap[] = "\x01\x00\x00\x02\x00\x20\x00\x00";
	struct cairn_layer_xattr xa[] = {
		{"security.capability", cap, sizeof(cap) - 1},
		{"user.note", "hi", 2},
	};
	struct cairn_layer_entry dir = {.path = "etc", .mode = S_IFDIR | 0755, .mtime = 1000};
	struct cairn_layer_entry sym = {
		.path = "etc/link", .mode = S_IFLNK | 0777, .linkname = "passwd", .mtime = 1001};
	struct cairn_layer_entry hard = {.path = "etc/passwd-hard",
					 .mode = S_IFREG | 0644,
					 .hardlink = 1,
					 .linkname = "etc/passwd",
					 .mtime = 1002};
	struct cairn_layer_entry fifo = {.path = "run/fifo", .mode = S_IFIFO | 0600, .mtime = 3};
	struct cairn_layer_entry big = {.path = "big-ids",
					.mode = S_IFREG | 04755,
					.uid = 3000000,
					.gid = 4000000,
					.mtime = -5,
					.xattrs = xa,
					.n_xattrs = ARRAY_SIZE(xa)};
	struct cairn_layer_entry lsym = {.path = "longlink",
					 .mode = S_IFLNK | 0777,
					 .linkname = long_target,
					 .mtime = 99999999999LL};
	struct cairn_error *err = NULL;

	assert_int_equal(cairn_layer_add(w, &dir, &err), 0);
	add_file(w, "etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0644, 1234567890);
	assert_int_equal(cairn_layer_add(w, &sym, &err), 0);
	assert_int_equal(cairn_layer_add(w, &hard, &err), 0);
	assert_int_equal(cairn_layer_add(w, &fifo, &err), 0);
	assert_int_equal(cairn_layer_add(w, &big, &err), 0);
	assert_int_equal(cairn_layer_add(w, &lsym, &err), 0);
	add_file(w, long_name, "long", 0600, 7);
	assert_int_equal(cairn_layer_add_whiteout(w, "var/gone", 5, &err), 0);
	assert_int_equal(cairn_layer_add_whiteout(w, "top", 5, &err), 0);
	assert_int_equal(cairn_layer_add_opaque(w, "opq", 6, &err), 0);
	assert_null(err);
}

static void write_layer(struct fixture *f, const struct cairn_layer_opts *o,
			void (*fill)(struct cairn_layer_writer *), struct cairn_layer_result *res)
{
	struct cairn_layer_writer *w = NULL;
	struct cairn_error *err = NULL;

	assert_int_equal(cairn_layer_writer_new(&w, f->st, o, &err), 0);
	fill(w);
	if (cairn_layer_finish(w, res, &err) < 0)
		fail_msg("%s", err->msg);
}

static void check_sample(const struct tarlist *t)
{
	static const struct {
		const char *path;
		int type;
		unsigned int perm;
		int64_t uid, gid, mtime;
		const char *link;
		int hardlink;
		const char *data;
	} want[] = {
		{"etc/", AE_IFDIR, 0755, 0, 0, 1000, NULL, 0, ""},
		{"etc/passwd", AE_IFREG, 0644, 0, 0, 1234567890, NULL, 0,
		 "root:x:0:0::/root:/bin/sh\n"},
		{"etc/link", AE_IFLNK, 0777, 0, 0, 1001, "passwd", 0, ""},
		{"etc/passwd-hard", AE_IFREG, 0644, 0, 0, 1002, "etc/passwd", 1, ""},
		{"run/fifo", AE_IFIFO, 0600, 0, 0, 3, NULL, 0, ""},
		{"big-ids", AE_IFREG, 04755, 3000000, 4000000, -5, NULL, 0, ""},
		{"longlink", AE_IFLNK, 0777, 0, 0, 99999999999LL, long_target, 0, ""},
		{long_name, AE_IFREG, 0600, 0, 0, 7, NULL, 0, "long"},
		{"var/.wh.gone", AE_IFREG, 0, 0, 0, 5, NULL, 0, ""},
		{".wh.top", AE_IFREG, 0, 0, 0, 5, NULL, 0, ""},
		{"opq/.wh..wh..opq", AE_IFREG, 0, 0, 0, 6, NULL, 0, ""},
	};

	assert_int_equal(t->n, ARRAY_SIZE(want));
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		const struct got *g = &t->e[i];

		assert_string_equal(g->path, want[i].path);
		if (!want[i].hardlink)
			assert_int_equal(g->type, want[i].type);
		assert_int_equal(g->perm, want[i].perm);
		assert_int_equal(g->uid, want[i].uid);
		assert_int_equal(g->gid, want[i].gid);
		assert_int_equal(g->mtime, want[i].mtime);
		assert_int_equal(g->hardlink, want[i].hardlink);
		if (want[i].link)
			assert_string_equal(g->link, want[i].link);
		else
			assert_null(g->link);
		assert_true(!g->uname || !g->uname[0]);
		assert_true(!g->gname || !g->gname[0]);
		assert_int_equal(g->size, strlen(want[i].data));
		assert_memory_equal(g->data, want[i].data, g->size);
	}
	assert_non_null(t->e[5].xattr);
	assert_non_null(strstr(t->e[5].xattr, "security.capability=0100000200200000;"));
	assert_non_null(strstr(t->e[5].xattr, "user.note=6869;"));
}

static void test_gzip_layer(void **state)
{
	struct fixture *f = *state;
	struct cairn_layer_result res;
	CLEANUP(cairn_buf_release) struct cairn_buf raw = CAIRN_BUF_INIT;
	CLEANUP(cairn_buf_release) struct cairn_buf tar = CAIRN_BUF_INIT;
	cleanup_free char *path = NULL;
	cleanup_free char *cmd = NULL;
	struct tarlist t = {0};
	struct cairn_digest dg;

	write_layer(f, NULL, write_sample, &res);
	assert_string_equal(res.desc.media_type, CAIRN_MT_OCI_LAYER_GZIP);
	path = blob_path(f, &res.desc.digest);
	read_whole(path, &raw);
	assert_int_equal(res.desc.size, raw.len);
	cairn_digest_of(&dg, raw.buf, raw.len);
	assert_true(cairn_digest_equal(&dg, &res.desc.digest));
	gunzip_file(path, &tar);
	assert_int_equal(res.tar_size, tar.len);
	assert_int_equal(tar.len % 512, 0);
	cairn_digest_of(&dg, tar.buf, tar.len);
	assert_true(cairn_digest_equal(&dg, &res.diff_id));
	parse_tar(tar.buf, tar.len, &t);
	check_sample(&t);
	tarlist_release(&t);
	assert_int_equal(gzip_members(path, NULL, 0), 1);
	assert_int_equal(count_tmp(f), 0);
	/* other readers agree */
	cmd = xasprintf("gzip -t '%s' && tar -tzf '%s' >/dev/null", path, path);
	assert_int_equal(system(cmd), 0);
}

/* The header block of a plain file, byte by byte. */
static void test_header_bytes(void **state)
{
	struct fixture *f = *state;
	struct cairn_layer_opts o = {.compression = CAIRN_LAYER_NONE};
	struct cairn_layer_writer *w = NULL;
	struct cairn_layer_entry e = {
		.path = "a", .mode = S_IFREG | 0644, .uid = 1, .gid = 2, .mtime = 8, .size = 1};
	struct cairn_error *err = NULL;
	struct cairn_layer_result res;
	CLEANUP(cairn_buf_release) struct cairn_buf tar = CAIRN_BUF_INIT;
	cleanup_free char *path = NULL;
	unsigned char want[512] = {0};
	unsigned int sum = 0;

	assert_int_equal(cairn_layer_writer_new(&w, f->st, &o, &err), 0);
	assert_int_equal(cairn_layer_add(w, &e, &err), 0);
	assert_int_equal(cairn_layer_write_data(w, "x", 1, &err), 0);
	assert_int_equal(cairn_layer_finish(w, &res, &err), 0);
	assert_string_equal(res.desc.media_type, CAIRN_MT_OCI_LAYER);
	path = blob_path(f, &res.desc.digest);
	read_whole(path, &tar);
	assert_int_equal(tar.len, 512 * 4);
	memcpy(want, "a", 1);
	memcpy(want + 100, "0000644", 8);
	memcpy(want + 108, "0000001", 8);
	memcpy(want + 116, "0000002", 8);
	memcpy(want + 124, "00000000001", 12);
	memcpy(want + 136, "00000000010", 12);
	memset(want + 148, ' ', 8);
	want[156] = '0';
	memcpy(want + 257,
	       "ustar\0"
	       "00",
	       8);
	memcpy(want + 329, "0000000", 8);
	memcpy(want + 337, "0000000", 8);
	for (size_t i = 0; i < 512; i++)
		sum += want[i];
	snprintf((char *)want + 148, 8, "%06o", sum);
	assert_memory_equal(tar.buf, want, 512);
	assert_int_equal(tar.buf[512], 'x');
	for (size_t i = 513; i < tar.len; i++)
		assert_int_equal(tar.buf[i], 0);
	assert_true(cairn_digest_equal(&res.diff_id, &res.desc.digest));
}

static void test_empty_layer(void **state)
{
	struct fixture *f = *state;
	struct cairn_layer_writer *w = NULL;
	struct cairn_error *err = NULL;
	struct cairn_layer_result res;

	assert_int_equal(cairn_layer_writer_new(&w, f->st, NULL, &err), 0);
	assert_int_equal(cairn_layer_finish(w, &res, &err), 0);
	/* the well-known diff_id of an empty tar (1024 zero bytes) */
	assert_string_equal(res.diff_id.str, "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41"
					     "755b6cddfaf10ace3c6ef");
	assert_int_equal(res.tar_size, 1024);
}

/* Same entries, any thread count, another writer: the same bytes. */
static void test_reproducible(void **state)
{
	struct fixture *f = *state;
	struct cairn_layer_opts one = {.threads = 1}, four = {.threads = 4};
	struct cairn_layer_opts z1 = {.compression = CAIRN_LAYER_ZSTD, .threads = 1};
	struct cairn_layer_opts z3 = {.compression = CAIRN_LAYER_ZSTD, .threads = 3};
	struct cairn_layer_result a, b, c, d;

	write_layer(f, &one, write_sample, &a);
	write_layer(f, &four, write_sample, &b);
	write_layer(f, NULL, write_sample, &c);
	assert_string_equal(a.desc.digest.str, b.desc.digest.str);
	assert_string_equal(a.desc.digest.str, c.desc.digest.str);
	assert_string_equal(a.diff_id.str, b.diff_id.str);
	/* pinned: a change here changes every digest cairn ever wrote for these entries */
	assert_string_equal(
		a.diff_id.str,
		"sha256:07915bd845c5aa2221eed8285dcd6a57ed0761fb360d9178a72ea24de38427af");
	write_layer(f, &z1, write_sample, &c);
	write_layer(f, &z3, write_sample, &d);
	assert_string_equal(c.desc.digest.str, d.desc.digest.str);
	assert_string_equal(c.diff_id.str, a.diff_id.str);
	assert_int_equal(count_tmp(f), 0);
}

static uint32_t rng_state;

static uint32_t rng(void)
{
	rng_state = rng_state * 1664525u + 1013904223u;
	return rng_state >> 8;
}

/* 3.5 MiB of text-like data: several gzip members, compressed on several threads. */
static void write_big(struct cairn_layer_writer *w)
{
	const size_t size = 3 * 1024 * 1024 + 512 * 1024 + 77;
	cleanup_free char *buf = xmalloc(size);
	struct cairn_layer_entry e = {.path = "big.bin", .mode = S_IFREG | 0644, .size = size};
	struct cairn_error *err = NULL;

	rng_state = 42;
	for (size_t i = 0; i < size; i++)
		buf[i] = "abcdefgh \n"[rng() % 10];
	assert_int_equal(cairn_layer_add(w, &e, &err), 0);
	/* uneven pieces cross chunk boundaries everywhere */
	for (size_t off = 0; off < size;) {
		size_t n = 1 + rng() % 300000;

		if (n > size - off)
			n = size - off;
		assert_int_equal(cairn_layer_write_data(w, buf + off, n, &err), 0);
		off += n;
	}
	add_file(w, "small", "after", 0644, 1);
}

static void check_big(const struct cairn_buf *tar)
{
	struct tarlist t = {0};

	parse_tar(tar->buf, tar->len, &t);
	assert_int_equal(t.n, 2);
	assert_string_equal(t.e[0].path, "big.bin");
	assert_int_equal(t.e[0].size, 3 * 1024 * 1024 + 512 * 1024 + 77);
	rng_state = 42;
	for (size_t i = 0; i < t.e[0].size; i++)
		if (t.e[0].data[i] != "abcdefgh \n"[rng() % 10])
			fail_msg("byte %zu differs", i);
	assert_string_equal(t.e[1].data, "after");
	tarlist_release(&t);
}

static void test_multi_member(void **state)
{
	struct fixture *f = *state;
	struct cairn_layer_opts o = {.threads = 2};
	struct cairn_layer_result res, res1;
	CLEANUP(cairn_buf_release) struct cairn_buf tar = CAIRN_BUF_INIT;
	cleanup_free char *path = NULL;
	cleanup_free char *cmd = NULL;
	struct cairn_digest dg;

	write_layer(f, &o, write_big, &res);
	path = blob_path(f, &res.desc.digest);
	assert_int_equal(gzip_members(path, NULL, 0), 4);
	gunzip_file(path, &tar);
	cairn_digest_of(&dg, tar.buf, tar.len);
	assert_true(cairn_digest_equal(&dg, &res.diff_id));
	check_big(&tar);
	cmd = xasprintf("gzip -t '%s' && tar -tzf '%s' >/dev/null", path, path);
	assert_int_equal(system(cmd), 0);
	o.threads = 1;
	write_layer(f, &o, write_big, &res1);
	assert_string_equal(res.desc.digest.str, res1.desc.digest.str);
}

/* 2 MiB of noise (compressed already, say), then 2 MiB of text. */
static void write_noise_text(struct cairn_layer_writer *w)
{
	const size_t size = 2 * 1024 * 1024;
	cleanup_free unsigned char *buf = xmalloc(size);
	struct cairn_layer_entry noise = {
		.path = "noise.bin", .mode = S_IFREG | 0644, .size = size};
	struct cairn_layer_entry text = {.path = "text.txt", .mode = S_IFREG | 0644, .size = size};
	struct cairn_error *err = NULL;

	rng_state = 7;
	for (size_t i = 0; i < size; i++)
		buf[i] = (unsigned char)(rng() >> 8);
	assert_int_equal(cairn_layer_add(w, &noise, &err), 0);
	assert_int_equal(cairn_layer_write_data(w, buf, size, &err), 0);
	for (size_t i = 0; i < size; i++)
		buf[i] = (unsigned char)"abcdefgh \n"[rng() % 10];
	assert_int_equal(cairn_layer_add(w, &text, &err), 0);
	assert_int_equal(cairn_layer_write_data(w, buf, size, &err), 0);
}

/*
 * A chunk deflate cannot shrink is stored as it is (no time spent on it), the others are
 * compressed; the same bytes on any thread count, and a tar that matches its diff_id.
 */
static void test_incompressible_stored(void **state)
{
	struct fixture *f = *state;
	struct cairn_layer_opts one = {.threads = 1}, three = {.threads = 3};
	struct cairn_layer_result res, res3;
	CLEANUP(cairn_buf_release) struct cairn_buf tar = CAIRN_BUF_INIT;
	cleanup_free char *path = NULL;
	struct cairn_digest dg;
	char kinds[8] = "";

	write_layer(f, &one, write_noise_text, &res);
	path = blob_path(f, &res.desc.digest);
	/* 4 MiB and some of tar: 5 members, the two of noise alone stored (not deflated) */
	assert_int_equal(res.chunks_stored, 2);
	assert_int_equal(gzip_members(path, kinds, sizeof(kinds) - 1), 5);
	assert_string_equal(kinds, "sscc"
				   "c");
	assert_true(res.desc.size > 2 * 1024 * 1024);
	assert_true(res.desc.size < 3 * 1024 * 1024);
	gunzip_file(path, &tar);
	cairn_digest_of(&dg, tar.buf, tar.len);
	assert_true(cairn_digest_equal(&dg, &res.diff_id));
	write_layer(f, &three, write_noise_text, &res3);
	assert_string_equal(res.desc.digest.str, res3.desc.digest.str);
	assert_int_equal(res3.chunks_stored, 2);
	/* text alone: every chunk deflated */
	write_layer(f, &three, write_big, &res3);
	assert_int_equal(res3.chunks_stored, 0);
}

static void test_zstd_and_none(void **state)
{
	struct fixture *f = *state;
	struct cairn_layer_opts z = {.compression = CAIRN_LAYER_ZSTD};
	struct cairn_layer_opts n = {.compression = CAIRN_LAYER_NONE};
	struct cairn_layer_result rz, rn;
	CLEANUP(cairn_buf_release) struct cairn_buf tz = CAIRN_BUF_INIT;
	CLEANUP(cairn_buf_release) struct cairn_buf tn = CAIRN_BUF_INIT;
	cleanup_free char *pz = NULL;
	cleanup_free char *pn = NULL;
	struct tarlist t = {0};

	write_layer(f, &z, write_big, &rz);
	write_layer(f, &n, write_big, &rn);
	assert_string_equal(rz.desc.media_type, CAIRN_MT_OCI_LAYER_ZSTD);
	assert_string_equal(rn.desc.media_type, CAIRN_MT_OCI_LAYER);
	assert_string_equal(rz.diff_id.str, rn.diff_id.str);
	assert_string_equal(rn.diff_id.str, rn.desc.digest.str);
	pz = blob_path(f, &rz.desc.digest);
	pn = blob_path(f, &rn.desc.digest);
	unzstd_file(pz, &tz);
	read_whole(pn, &tn);
	assert_int_equal(tz.len, tn.len);
	assert_memory_equal(tz.buf, tn.buf, tn.len);
	assert_true(rz.desc.size < rn.desc.size / 2);
	check_big(&tz);
	/* the small sample too: pax records and all */
	write_layer(f, &z, write_sample, &rz);
	free(pz);
	pz = blob_path(f, &rz.desc.digest);
	cairn_buf_reset(&tz);
	unzstd_file(pz, &tz);
	parse_tar(tz.buf, tz.len, &t);
	check_sample(&t);
	tarlist_release(&t);
}

static void test_invalid_entries(void **state)
{
	static const char *const bad[] = {"",	  "/etc/passwd", "a/../b", "..", ".",
					  "a//b", "a/",		 "./a",	   "a/."};
	struct fixture *f = *state;
	struct cairn_layer_writer *w = NULL;
	struct cairn_error *err = NULL;
	struct cairn_layer_result res;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct cairn_layer_entry e = {.path = bad[i], .mode = S_IFDIR | 0755};

		assert_int_equal(cairn_layer_writer_new(&w, f->st, NULL, &err), 0);
		assert_int_equal(cairn_layer_add(w, &e, &err), CAIRN_EINVAL);
		assert_non_null(strstr(err->msg, "invalid path"));
		cairn_error_clear(&err);
		/* unusable afterwards */
		assert_int_equal(cairn_layer_finish(w, &res, &err), CAIRN_EINVAL);
		cairn_error_clear(&err);
	}
	{
		struct cairn_layer_entry h = {
			.path = "h", .mode = S_IFREG, .hardlink = 1, .linkname = "../x"};
		struct cairn_layer_entry s = {.path = "s", .mode = S_IFLNK | 0777};
		struct cairn_layer_entry d = {.path = "dev", .mode = S_IFCHR | 0600};
		struct cairn_layer_entry x = {.path = "x",
					      .mode = S_IFREG | 0644,
					      .size = 0,
					      .xattrs = &(struct cairn_layer_xattr){"a=b", "", 0},
					      .n_xattrs = 1};
		const struct cairn_layer_entry *es[] = {&h, &s, &d, &x};

		for (size_t i = 0; i < ARRAY_SIZE(es); i++) {
			assert_int_equal(cairn_layer_writer_new(&w, f->st, NULL, &err), 0);
			assert_int_equal(cairn_layer_add(w, es[i], &err), CAIRN_EINVAL);
			cairn_error_clear(&err);
			cairn_layer_writer_free(w);
		}
	}
	/* short data */
	{
		struct cairn_layer_entry e = {.path = "f", .mode = S_IFREG | 0644, .size = 10};

		assert_int_equal(cairn_layer_writer_new(&w, f->st, NULL, &err), 0);
		assert_int_equal(cairn_layer_add(w, &e, &err), 0);
		assert_int_equal(cairn_layer_write_data(w, "12345", 5, &err), 0);
		assert_int_equal(cairn_layer_finish(w, &res, &err), CAIRN_EINVAL);
		assert_non_null(strstr(err->msg, "'f': 5 bytes of data missing"));
		cairn_error_clear(&err);
	}
	/* too much data */
	{
		struct cairn_layer_entry e = {.path = "f", .mode = S_IFREG | 0644, .size = 2};

		assert_int_equal(cairn_layer_writer_new(&w, f->st, NULL, &err), 0);
		assert_int_equal(cairn_layer_add(w, &e, &err), 0);
		assert_int_equal(cairn_layer_write_data(w, "123", 3, &err), CAIRN_EINVAL);
		cairn_error_clear(&err);
		cairn_layer_writer_free(w);
	}
	/* a path goes in once, whatever its type: docker refuses a layer that repeats one */
	{
		struct cairn_layer_entry d = {.path = "app", .mode = S_IFDIR | 0755};
		struct cairn_layer_entry l = {
			.path = "app", .mode = S_IFLNK | 0777, .linkname = "x"};
		struct cairn_layer_entry wh = {.path = "app/.wh.x", .mode = S_IFREG};

		assert_int_equal(cairn_layer_writer_new(&w, f->st, NULL, &err), 0);
		assert_false(cairn_layer_has(w, "app"));
		assert_int_equal(cairn_layer_add(w, &d, &err), 0);
		assert_true(cairn_layer_has(w, "app"));
		assert_false(cairn_layer_has(w, "ap"));
		assert_int_equal(cairn_layer_add(w, &wh, &err), 0);
		assert_int_equal(cairn_layer_add(w, &l, &err), CAIRN_EINVAL);
		assert_non_null(strstr(err->msg, "layer entry 'app': already in the layer"));
		cairn_error_clear(&err);
		cairn_layer_writer_free(w);
	}
	/* bad levels */
	{
		struct cairn_layer_opts g = {.level = 13};
		struct cairn_layer_opts z = {.compression = CAIRN_LAYER_ZSTD, .level = 99};

		assert_int_equal(cairn_layer_writer_new(&w, f->st, &g, &err), CAIRN_EINVAL);
		assert_null(w);
		cairn_error_clear(&err);
		assert_int_equal(cairn_layer_writer_new(&w, f->st, &z, &err), CAIRN_EINVAL);
		cairn_error_clear(&err);
	}
	assert_int_equal(count_tmp(f), 0);
}

/* Abandoning a writer mid-file, with chunks in flight, stores nothing and leaks nothing. */
static void test_abandon(void **state)
{
	struct fixture *f = *state;
	struct cairn_layer_opts o = {.threads = 3};
	struct cairn_layer_writer *w = NULL;
	struct cairn_error *err = NULL;
	const size_t size = 8 * 1024 * 1024;
	cleanup_free char *buf = xcalloc(1, size);
	struct cairn_layer_entry e = {.path = "f", .mode = S_IFREG | 0644, .size = size * 2};

	assert_int_equal(cairn_layer_writer_new(&w, f->st, &o, &err), 0);
	assert_int_equal(cairn_layer_add(w, &e, &err), 0);
	assert_int_equal(cairn_layer_write_data(w, buf, size, &err), 0);
	cairn_layer_writer_free(w);
	cairn_layer_writer_free(NULL);
	assert_int_equal(count_tmp(f), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_gzip_layer),	 T(test_header_bytes), T(test_empty_layer),
		T(test_reproducible),	 T(test_multi_member), T(test_zstd_and_none),
		T(test_invalid_entries), T(test_abandon),      T(test_incompressible_stored),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
