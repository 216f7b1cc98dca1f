/* SPDX-License-Identifier: MIT */
/* Unit tests for unpacking layers (hostile ones too) and for layers made from overlay uppers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common.h"
#include "layer/layer.h"
#include "layer/cache.h"
#include "layer/unpack.h"
#include "util/fs.h"
#include "util/root.h"
#include "layer/upper.h"
#include "cairn/store.h"
#include "util/buf.h"
#include "util/interrupt.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <zlib.h>

struct fixture {
	char *dir;
	char *root;   /* dir/store */
	char *layers; /* dir/layers */
	char *dest;   /* dir/layers/x */
	struct cairn_store *st;
};

static int setup(void **state)
{
	char tmpl[] = "/tmp/cairn-test-unpack-XXXXXX";
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct cairn_error *err = NULL;

	if (!mkdtemp(tmpl))
		return -1;
	f->dir = xstrdup(tmpl);
	f->root = xasprintf("%s/store", tmpl);
	f->layers = xasprintf("%s/layers", tmpl);
	f->dest = xasprintf("%s/layers/x", tmpl);
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

	cairn_root_use_openat2(true);
	free(cmd);
	cairn_store_free(f->st);
	free(f->root);
	free(f->layers);
	free(f->dest);
	free(f->dir);
	free(f);
	return r == 0 ? 0 : -1;
}

/* mknod, chown and trusted.* xattrs need root: cmocka reports the test skipped otherwise. */
static void need_root(void)
{
	if (geteuid() != 0)
		skip();
}

static char *sub(const struct fixture *f, const char *rel)
{
	return xasprintf("%s/%s", f->dest, rel);
}

static bool exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

/* The names in `path`, sorted and joined with ' '. */
static char *listing(const char *path)
{
	struct cairn_buf b = CAIRN_BUF_INIT;
	struct dirent **names = NULL;
	int n = scandir(path, &names, NULL, alphasort);

	for (int i = 0; i < n; i++) {
		if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0) {
			if (b.len)
				cairn_buf_addch(&b, ' ');
			cairn_buf_addstr(&b, names[i]->d_name);
		}
		free(names[i]);
	}
	free(names);
	return cairn_buf_detach(&b, NULL);
}

/* Nothing but the store and the destination (when expected) around the destination. */
static void check_contained(const struct fixture *f, bool dest_expected)
{
	cleanup_free char *top = listing(f->dir);
	cleanup_free char *layers = listing(f->layers);

	assert_string_equal(top, "layers store");
	assert_string_equal(layers, dest_expected ? "x" : "");
}

static char *read_text(const char *path)
{
	struct cairn_buf b = CAIRN_BUF_INIT;
	char chunk[4096];
	FILE *fp = fopen(path, "rb");
	size_t n;

	assert_non_null(fp);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		cairn_buf_add(&b, chunk, n);
	fclose(fp);
	return cairn_buf_detach(&b, NULL);
}

/* ---- raw tars, byte by byte: nothing between the test and the reader ---- */

static void rt_add(struct cairn_buf *b, const char *name, char type, unsigned int mode,
		   const char *link, const char *data)
{
	unsigned char h[512] = {0};
	size_t dl = data ? strlen(data) : 0;
	unsigned int sum = 0;

	assert_true(strlen(name) <= 100);
	memcpy(h, name, strlen(name));
	snprintf((char *)h + 100, 8, "%07o", mode);
	snprintf((char *)h + 108, 8, "%07o", 0);
	snprintf((char *)h + 116, 8, "%07o", 0);
	snprintf((char *)h + 124, 12, "%011o", (unsigned int)dl);
	snprintf((char *)h + 136, 12, "%011o", 1000);
	h[156] = (unsigned char)type;
	if (link)
		memcpy(h + 157, link, strlen(link));
	memcpy(h + 257,
	       "ustar\0"
	       "00",
	       8);
	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	cairn_buf_add(b, h, 512);
	if (dl) {
		static const char zeros[512];

		cairn_buf_add(b, data, dl);
		cairn_buf_add(b, zeros, (512 - dl % 512) % 512);
	}
}

static void rt_end(struct cairn_buf *b)
{
	static const char zeros[1024];

	cairn_buf_add(b, zeros, sizeof(zeros));
}

static void gzip_buf(struct cairn_buf *out, const void *p, size_t n)
{
	z_stream z;
	unsigned char chunk[65536];
	int r;

	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
			 Z_OK);
	z.next_in = (unsigned char *)p;
	z.avail_in = (uInt)n;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		r = deflate(&z, Z_FINISH);
		cairn_buf_add(out, chunk, sizeof(chunk) - z.avail_out);
	} while (r != Z_STREAM_END);
	deflateEnd(&z);
}

static void put(struct fixture *f, const struct cairn_buf *b, struct cairn_digest *dg)
{
	struct cairn_error *err = NULL;

	assert_int_equal(cairn_store_put_blob(f->st, b->buf, b->len, dg, &err), 0);
}

static int unpack(struct fixture *f, const struct cairn_digest *dg, struct cairn_error **err)
{
	return cairn_layer_unpack(f->st, dg, f->dest, err);
}

/* ---- layers written by cairn ---- */

static void add_file(struct cairn_layer_writer *w, const char *path, const char *content,
		     mode_t perm, uid_t uid, int64_t mtime)
{
	struct cairn_layer_entry e = {
		.path = path,
		.mode = S_IFREG | perm,
		.uid = uid,
		.gid = uid,
		.mtime = mtime,
		.size = strlen(content),
	};
	struct cairn_error *err = NULL;

	assert_int_equal(cairn_layer_add(w, &e, &err), 0);
	assert_int_equal(cairn_layer_write_data(w, content, strlen(content), &err), 0);
}

static void add(struct cairn_layer_writer *w, const char *path, mode_t mode, const char *link,
		int hardlink, int64_t mtime)
{
	struct cairn_layer_entry e = {
		.path = path,
		.mode = mode,
		.linkname = link,
		.hardlink = hardlink,
		.mtime = mtime,
	};
	struct cairn_error *err = NULL;

	assert_int_equal(cairn_layer_add(w, &e, &err), 0);
}

static void finish(struct cairn_layer_writer *w, struct cairn_layer_result *res)
{
	struct cairn_error *err = NULL;

	if (cairn_layer_finish(w, res, &err) < 0)
		fail_msg("%s", err->msg);
}

static void sample_layer(struct fixture *f, const struct cairn_layer_opts *o,
			 struct cairn_layer_result *res)
{
	struct cairn_layer_writer *w = NULL;
	struct cairn_error *err = NULL;
	struct cairn_layer_xattr xa = {"user.note", "v1", 2};
	struct cairn_layer_entry suid = {.path = "usr/bin/su",
					 .mode = S_IFREG | 04755,
					 .uid = 0,
					 .gid = 42,
					 .mtime = 555,
					 .size = 3,
					 .xattrs = &xa,
					 .n_xattrs = 1};

	assert_int_equal(cairn_layer_writer_new(&w, f->st, o, &err), 0);
	add(w, "etc", S_IFDIR | 0750, NULL, 0, 111);
	add_file(w, "etc/hosts", "127.0.0.1 localhost\n", 0644, 1000, 222);
	add(w, "etc/hosts2", S_IFREG | 0644, "etc/hosts", 1, 0);
	add(w, "etc/link", S_IFLNK | 0777, "hosts", 0, 333);
	add(w, "etc/abs", S_IFLNK | 0777, "/etc/shadow", 0, 333);
	add(w, "run/fifo", S_IFIFO | 0640, NULL, 0, 444);
	assert_int_equal(cairn_layer_add(w, &suid, &err), 0);
	assert_int_equal(cairn_layer_write_data(w, "su\n", 3, &err), 0);
	finish(w, res);
}

static void check_sample(const struct fixture *f)
{
	cleanup_free char *etc = sub(f, "etc");
	cleanup_free char *hosts = sub(f, "etc/hosts");
	cleanup_free char *hosts2 = sub(f, "etc/hosts2");
	cleanup_free char *link = sub(f, "etc/link");
	cleanup_free char *abs = sub(f, "etc/abs");
	cleanup_free char *fifo = sub(f, "run/fifo");
	cleanup_free char *su = sub(f, "usr/bin/su");
	cleanup_free char *text = read_text(hosts);
	char target[64] = {0}, note[8] = {0};
	struct stat a, b;

	assert_int_equal(lstat(f->dest, &a), 0);
	assert_int_equal(a.st_mode & 07777, 0755);
	assert_int_equal(lstat(etc, &a), 0);
	assert_true(S_ISDIR(a.st_mode));
	assert_int_equal(a.st_mode & 07777, 0750);
	assert_int_equal(a.st_mtime, 111);
	assert_string_equal(text, "127.0.0.1 localhost\n");
	assert_int_equal(lstat(hosts, &a), 0);
	assert_int_equal(a.st_mode & 07777, 0644);
	assert_int_equal(a.st_uid, 1000);
	assert_int_equal(a.st_gid, 1000);
	assert_int_equal(a.st_mtime, 222);
	assert_int_equal(lstat(hosts2, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_nlink, 2);
	assert_int_equal(readlink(link, target, sizeof(target) - 1), 5);
	assert_string_equal(target, "hosts");
	assert_int_equal(lstat(link, &a), 0);
	assert_int_equal(a.st_mtime, 333);
	memset(target, 0, sizeof(target));
	assert_int_equal(readlink(abs, target, sizeof(target) - 1), 11);
	assert_string_equal(target, "/etc/shadow");
	assert_int_equal(lstat(fifo, &a), 0);
	assert_true(S_ISFIFO(a.st_mode));
	assert_int_equal(a.st_mode & 07777, 0640);
	assert_int_equal(a.st_mtime, 444);
	assert_int_equal(lstat(su, &a), 0);
	assert_int_equal(a.st_mode & 07777, 04755);
	assert_int_equal(a.st_gid, 42);
	assert_int_equal(a.st_mtime, 555);
	assert_int_equal(lgetxattr(su, "user.note", note, sizeof(note)), 2);
	assert_string_equal(note, "v1");
}

static void test_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct cairn_layer_result res;
	struct cairn_error *err = NULL;

	need_root();
	sample_layer(f, NULL, &res);
	if (unpack(f, &res.desc.digest, &err) < 0)
		fail_msg("%s", err->msg);
	check_sample(f);
	check_contained(f, true);
}

/* A signal mid-unpack: CAIRN_EINTERRUPTED, no half-unpacked directory left; a retry works. */
static void test_interrupted(void **state)
{
	struct fixture *f = *state;
	struct cairn_layer_result res;
	struct cairn_error *err = NULL;

	need_root();
	sample_layer(f, NULL, &res);
	cairn_interrupt(SIGINT);
	assert_int_equal(unpack(f, &res.desc.digest, &err), CAIRN_EINTERRUPTED);
	cairn_interrupt_reset();
	assert_non_null(strstr(err->msg, "interrupted by SIGINT"));
	cairn_error_free(err);
	err = NULL;
	check_contained(f, false);
	assert_false(exists(f->dest));
	if (unpack(f, &res.desc.digest, &err) < 0)
		fail_msg("%s", err->msg);
	check_sample(f);
}

static void test_formats(void **state)
{
	static const enum cairn_layer_compression comps[] = {CAIRN_LAYER_GZIP, CAIRN_LAYER_ZSTD,
							     CAIRN_LAYER_NONE};
	struct fixture *f = *state;

	need_root();
	for (size_t i = 0; i < ARRAY_SIZE(comps); i++) {
		struct cairn_layer_opts o = {.compression = comps[i]};
		struct cairn_layer_result res;
		struct cairn_error *err = NULL;
		cleanup_free char *cmd = xasprintf("rm -rf '%s'", f->dest);

		sample_layer(f, &o, &res);
		if (unpack(f, &res.desc.digest, &err) < 0)
			fail_msg("%s", err->msg);
		check_sample(f);
		assert_int_equal(system(cmd), 0);
	}
}

/* Several gzip members (a 2.5 MiB file), from zlib's gzip too. */
static void test_multi_member_and_zlib(void **state)
{
	struct fixture *f = *state;
	const size_t size = 5 * 512 * 1024;
	cleanup_free char *data = xmalloc(size + 1);
	cleanup_free char *big = NULL;
	cleanup_free char *text = NULL;
	struct cairn_layer_writer *w = NULL;
	struct cairn_layer_result res;
	struct cairn_error *err = NULL;
	CLEANUP(cairn_buf_release) struct cairn_buf tar = CAIRN_BUF_INIT;
	CLEANUP(cairn_buf_release) struct cairn_buf gz = CAIRN_BUF_INIT;
	cleanup_free char *cmd = xasprintf("rm -rf '%s'", f->dest);
	struct cairn_digest dg;

	need_root();
	for (size_t i = 0; i < size; i++)
		data[i] = (char)('a' + (i * 7919) % 26);
	data[size] = '\0';
	assert_int_equal(cairn_layer_writer_new(&w, f->st, NULL, &err), 0);
	add_file(w, "big", data, 0644, 0, 1);
	finish(w, &res);
	if (unpack(f, &res.desc.digest, &err) < 0)
		fail_msg("%s", err->msg);
	big = sub(f, "big");
	text = read_text(big);
	assert_string_equal(text, data);
	assert_int_equal(system(cmd), 0);
	/* a single-member gzip of a tar written byte by byte */
	rt_add(&tar, "dir/", '5', 0755, NULL, NULL);
	rt_add(&tar, "dir/file", '0', 0644, NULL, "zlib");
	rt_end(&tar);
	gzip_buf(&gz, tar.buf, tar.len);
	put(f, &gz, &dg);
	if (unpack(f, &dg, &err) < 0)
		fail_msg("%s", err->msg);
	free(big);
	free(text);
	big = sub(f, "dir/file");
	text = read_text(big);
	assert_string_equal(text, "zlib");
}

static void test_whiteouts(void **state)
{
	struct fixture *f = *state;
	struct cairn_layer_writer *w = NULL;
	struct cairn_layer_result res;
	struct cairn_error *err = NULL;
	cleanup_free char *gone = sub(f, "gone");
	cleanup_free char *deep = sub(f, "dir/sub");
	cleanup_free char *opq = sub(f, "opq");
	cleanup_free char *opqnew = sub(f, "opq/new");
	cleanup_free char *keep = sub(f, "keep");
	char v[4] = {0};
	struct stat sb;

	need_root();
	assert_int_equal(cairn_layer_writer_new(&w, f->st, NULL, &err), 0);
	add_file(w, "keep", "kept", 0644, 0, 1);
	assert_int_equal(cairn_layer_add_whiteout(w, "dir/sub", 1, &err), 0);
	assert_int_equal(cairn_layer_add_whiteout(w, "gone", 1, &err), 0);
	/* a whiteout hides lower layers only: "keep" of this layer stays */
	assert_int_equal(cairn_layer_add_whiteout(w, "keep", 1, &err), 0);
	add(w, "opq", S_IFDIR | 0755, NULL, 0, 1);
	assert_int_equal(cairn_layer_add_opaque(w, "opq", 1, &err), 0);
	add_file(w, "opq/new", "new", 0644, 0, 1);
	finish(w, &res);
	if (unpack(f, &res.desc.digest, &err) < 0)
		fail_msg("%s", err->msg);
	assert_int_equal(lstat(gone, &sb), 0);
	assert_true(S_ISCHR(sb.st_mode));
	assert_int_equal(sb.st_rdev, makedev(0, 0));
	assert_int_equal(lstat(deep, &sb), 0);
	assert_true(S_ISCHR(sb.st_mode));
	assert_int_equal(lstat(keep, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(lgetxattr(opq, "trusted.overlay.opaque", v, sizeof(v)), 1);
	assert_string_equal(v, "y");
	assert_true(exists(opqnew));
}

/* Only user.* and security.capability come out of a layer: trusted.* could steer overlayfs. */
static void test_xattr_filter(void **state)
{
	struct fixture *f = *state;
	struct cairn_layer_xattr xa[] = {
		{"trusted.overlay.redirect", "/etc", 4},
		{"trusted.overlay.opaque", "y", 1},
		{"user.keep", "k", 1},
	};
	struct cairn_layer_entry d = {
		.path = "d", .mode = S_IFDIR | 0755, .xattrs = xa, .n_xattrs = ARRAY_SIZE(xa)};
	struct cairn_layer_writer *w = NULL;
	struct cairn_layer_result res;
	struct cairn_error *err = NULL;
	cleanup_free char *dir = sub(f, "d");
	char names[256];
	ssize_t n;

	need_root();
	assert_int_equal(cairn_layer_writer_new(&w, f->st, NULL, &err), 0);
	assert_int_equal(cairn_layer_add(w, &d, &err), 0);
	finish(w, &res);
	assert_int_equal(unpack(f, &res.desc.digest, &err), 0);
	n = llistxattr(dir, names, sizeof(names));
	assert_int_equal(n, (ssize_t)sizeof("user.keep"));
	assert_string_equal(names, "user.keep");
}

static void test_clean_path(void **state)
{
	static const struct {
		const char *in, *out;
	} c[] = {
		{"a/b", "a/b"},	    {"/a/b", "a/b"},	{"///a//b/", "a/b"},
		{"./a/./b", "a/b"}, {".", ""},		{"/", ""},
		{"./", ""},	    {"", ""},		{"..", NULL},
		{"a/../b", NULL},   {"../x", NULL},	{"a/..", NULL},
		{"...", "..."},	    {"a/..b", "a/..b"}, {".wh..wh..opq", ".wh..wh..opq"},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		char *out = NULL;
		struct cairn_error *err = NULL;
		int ret = cairn_layer_clean_path(&out, c[i].in, &err);

		if (c[i].out) {
			assert_int_equal(ret, 0);
			assert_string_equal(out, c[i].out);
		} else {
			assert_int_equal(ret, CAIRN_EINVAL);
			assert_null(out);
			assert_non_null(strstr(err->msg, "'..'"));
		}
		free(out);
		cairn_error_free(err);
	}
}

/* ---- hostile layers ---- */

enum outcome { REFUSED, CONTAINED };

struct hostile {
	const char *name;
	void (*build)(struct cairn_buf *b, const char *tag);
	enum outcome want;
	const char *inside;  /* CONTAINED: this exists below dest ('@': the tag) */
	const char *outside; /* must never exist ('@': the tag) */
	bool via_symlink;    /* goes through a symlink: refused when openat2 is missing */
};

static void h_dotdot(struct cairn_buf *b, const char *tag)
{
	(void)tag;
	rt_add(b, "../etc/passwd", '0', 0644, NULL, "x");
}

static void h_dotdot_deep(struct cairn_buf *b, const char *tag)
{
	cleanup_free char *n = xasprintf("a/../../%s", tag);

	rt_add(b, "a/", '5', 0755, NULL, NULL);
	rt_add(b, n, '0', 0644, NULL, "x");
}

static void h_absolute(struct cairn_buf *b, const char *tag)
{
	cleanup_free char *n = xasprintf("/tmp/%s", tag);

	rt_add(b, n, '0', 0644, NULL, "x");
}

static void h_symlink_root(struct cairn_buf *b, const char *tag)
{
	cleanup_free char *n = xasprintf("a/%s", tag);

	rt_add(b, "a", '2', 0777, "/", NULL);
	rt_add(b, n, '0', 0644, NULL, "x");
}

static void h_symlink_up(struct cairn_buf *b, const char *tag)
{
	cleanup_free char *n = xasprintf("up/%s", tag);

	rt_add(b, "up", '2', 0777, "..", NULL);
	rt_add(b, n, '0', 0644, NULL, "x");
}

static void h_symlink_up_deep(struct cairn_buf *b, const char *tag)
{
	cleanup_free char *n = xasprintf("d/up/%s", tag);

	rt_add(b, "d/", '5', 0755, NULL, NULL);
	rt_add(b, "d/up", '2', 0777, "../../../..", NULL);
	rt_add(b, n, '0', 0644, NULL, "x");
}

static void h_symlink_tmp(struct cairn_buf *b, const char *tag)
{
	cleanup_free char *n = xasprintf("t/%s", tag);

	rt_add(b, "t", '2', 0777, "/tmp", NULL);
	rt_add(b, n, '0', 0644, NULL, "x");
}

static void h_symlink_dir_in_tree(struct cairn_buf *b, const char *tag)
{
	cleanup_free char *n = xasprintf("l/%s", tag);

	rt_add(b, "real/", '5', 0755, NULL, NULL);
	rt_add(b, "l", '2', 0777, "/real", NULL);
	rt_add(b, n, '0', 0644, NULL, "x");
}

static void h_hardlink_abs(struct cairn_buf *b, const char *tag)
{
	(void)tag;
	rt_add(b, "h", '1', 0644, "/etc/passwd", NULL);
}

static void h_hardlink_up(struct cairn_buf *b, const char *tag)
{
	(void)tag;
	rt_add(b, "h", '1', 0644, "../store/oci-layout", NULL);
}

static void h_hardlink_via_symlink(struct cairn_buf *b, const char *tag)
{
	(void)tag;
	rt_add(b, "e", '2', 0777, "/etc", NULL);
	rt_add(b, "h", '1', 0644, "e/passwd", NULL);
}

static void h_hardlink_via_symlink_up(struct cairn_buf *b, const char *tag)
{
	(void)tag;
	rt_add(b, "s", '2', 0777, "..", NULL);
	rt_add(b, "h", '1', 0644, "s/store/oci-layout", NULL);
}

static void h_file_over_symlink(struct cairn_buf *b, const char *tag)
{
	cleanup_free char *t = xasprintf("/tmp/%s", tag);

	rt_add(b, "s", '2', 0777, t, NULL);
	rt_add(b, "s", '0', 0644, NULL, "overwrite");
}

static void h_device(struct cairn_buf *b, const char *tag)
{
	(void)tag;
	rt_add(b, "dev/", '5', 0755, NULL, NULL);
	rt_add(b, "dev/sda", '4', 0600, NULL, NULL);
	rt_add(b, "dev/null", '3', 0666, NULL, NULL);
	rt_add(b, "dev/ok", '0', 0644, NULL, "x");
}

static void h_loop(struct cairn_buf *b, const char *tag)
{
	(void)tag;
	rt_add(b, "loop", '2', 0777, "loop", NULL);
	rt_add(b, "loop/x", '0', 0644, NULL, "x");
}

static void h_file_as_parent(struct cairn_buf *b, const char *tag)
{
	(void)tag;
	rt_add(b, "f", '0', 0644, NULL, "x");
	rt_add(b, "f/x", '0', 0644, NULL, "x");
}

static void h_whiteout_dot(struct cairn_buf *b, const char *tag)
{
	(void)tag;
	rt_add(b, "d/.wh...", '0', 0644, NULL, NULL);
}

static void h_opaque_through_symlink(struct cairn_buf *b, const char *tag)
{
	(void)tag;
	rt_add(b, "o", '2', 0777, "/", NULL);
	rt_add(b, "o/.wh..wh..opq", '0', 0644, NULL, NULL);
}

static void h_garbage(struct cairn_buf *b, const char *tag)
{
	(void)tag;
	cairn_buf_addstr(b, "this is not a tar file at all, just some bytes...");
}

/* `tmpl` with its '@' replaced by `tag`. */
static char *subst(const char *tmpl, const char *tag)
{
	const char *at = strchr(tmpl, '@');

	if (!at)
		return xstrdup(tmpl);
	return xasprintf("%.*s%s%s", (int)(at - tmpl), tmpl, tag, at + 1);
}

static void check_outcome(struct fixture *f, const struct hostile *h, const char *tag, bool openat2)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	cleanup_free char *outside = h->outside ? subst(h->outside, tag) : NULL;
	cleanup_free char *rel = h->inside ? subst(h->inside, tag) : NULL;
	cleanup_free char *inside = rel ? sub(f, rel) : NULL;
	cleanup_free char *cmd = xasprintf("rm -rf '%s'", f->dest);
	struct cairn_error *err = NULL;
	struct cairn_digest dg;
	enum outcome want = h->want;
	struct stat pw0, pw1;
	int ret;

	/* without openat2 a symlink on the way is refused rather than resolved in the root */
	if (!openat2 && h->via_symlink)
		want = REFUSED;
	assert_int_equal(stat("/etc/passwd", &pw0), 0);
	h->build(&b, tag);
	if (h->build != h_garbage)
		rt_end(&b);
	put(f, &b, &dg);
	ret = unpack(f, &dg, &err);
	if (want == REFUSED) {
		if (ret != CAIRN_EINVAL)
			fail_msg("%s: got %d (%s)", h->name, ret, err ? err->msg : "no error");
		assert_non_null(strstr(err->msg, dg.str));
		if (h->build != h_garbage)
			assert_non_null(strstr(err->msg, ": entry '"));
		check_contained(f, false);
	} else {
		if (ret != 0)
			fail_msg("%s: %s", h->name, err->msg);
		check_contained(f, true);
		if (inside && !exists(inside))
			fail_msg("%s: '%s' missing", h->name, inside);
	}
	if (outside && exists(outside))
		fail_msg("%s: '%s' was created", h->name, outside);
	assert_int_equal(stat("/etc/passwd", &pw1), 0);
	assert_int_equal(pw0.st_nlink, pw1.st_nlink);
	cairn_error_free(err);
	assert_int_equal(system(cmd), 0);
}

static const struct hostile hostile[] = {
	{"../etc/passwd", h_dotdot, REFUSED, NULL, NULL},
	{"a/../../x", h_dotdot_deep, REFUSED, NULL, "../../@"},
	{"absolute path", h_absolute, CONTAINED, "tmp/@", "/tmp/@"},
	{"symlink to / then through it", h_symlink_root, CONTAINED, "@", "/@", true},
	{"symlink to .. then through it", h_symlink_up, CONTAINED, "@", "../@", true},
	{"symlink to ../../.. below a dir", h_symlink_up_deep, CONTAINED, "@", "../@", true},
	{"symlink to /tmp then through it", h_symlink_tmp, REFUSED, NULL, "/tmp/@"},
	{"absolute symlink to a dir of the layer", h_symlink_dir_in_tree, CONTAINED, "real/@",
	 "/real/@", true},
	{"hardlink to /etc/passwd", h_hardlink_abs, REFUSED, NULL, NULL},
	{"hardlink to ../", h_hardlink_up, REFUSED, NULL, NULL},
	{"hardlink through a symlink to /etc", h_hardlink_via_symlink, REFUSED, NULL, NULL},
	{"hardlink through a symlink to ..", h_hardlink_via_symlink_up, REFUSED, NULL, NULL},
	{"file over a symlink", h_file_over_symlink, CONTAINED, "s", "/tmp/@"},
	{"device nodes", h_device, CONTAINED, "dev/ok", NULL},
	{"symlink loop", h_loop, REFUSED, NULL, NULL},
	{"file as a parent", h_file_as_parent, REFUSED, NULL, NULL},
	{"whiteout of '..'", h_whiteout_dot, REFUSED, NULL, NULL},
	{"opaque marker through a symlink", h_opaque_through_symlink, CONTAINED, NULL, NULL, true},
	{"not a tar", h_garbage, REFUSED, NULL, NULL},
};

static void run_hostile(struct fixture *f, bool openat2)
{
	cairn_root_use_openat2(openat2);
	for (size_t i = 0; i < ARRAY_SIZE(hostile); i++) {
		cleanup_free char *tag = xasprintf("cairn-escape-%d-%zu", (int)getpid(), i);

		check_outcome(f, &hostile[i], tag, openat2);
	}
	cairn_root_use_openat2(true);
}

static void test_hostile(void **state)
{
	need_root();
	run_hostile(*state, true);
}

static void test_hostile_without_openat2(void **state)
{
	need_root();
	run_hostile(*state, false);
}

static void test_device_skipped(void **state)
{
	struct fixture *f = *state;
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	cleanup_free char *null = sub(f, "dev/null");
	cleanup_free char *sda = sub(f, "dev/sda");
	struct cairn_error *err = NULL;
	struct cairn_digest dg;

	need_root();
	h_device(&b, "");
	rt_end(&b);
	put(f, &b, &dg);
	assert_int_equal(unpack(f, &dg, &err), 0);
	assert_false(exists(null));
	assert_false(exists(sda));
}

/* ---- digests, atomicity, unpack once ---- */

static void corrupt(struct fixture *f, const struct cairn_digest *dg)
{
	cleanup_free char *path = xasprintf("%s/blobs/sha256/%s", f->root, cairn_digest_hex(dg));
	struct stat sb;
	FILE *fp;

	assert_int_equal(stat(path, &sb), 0);
	fp = fopen(path, "r+");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, sb.st_size / 2, SEEK_SET), 0);
	fputs("CORRUPT", fp);
	fclose(fp);
}

static void test_corrupt_blob(void **state)
{
	static const enum cairn_layer_compression comps[] = {CAIRN_LAYER_GZIP, CAIRN_LAYER_NONE};
	struct fixture *f = *state;

	need_root();
	for (size_t i = 0; i < ARRAY_SIZE(comps); i++) {
		struct cairn_layer_opts o = {.compression = comps[i]};
		struct cairn_layer_result res;
		struct cairn_error *err = NULL;

		sample_layer(f, &o, &res);
		corrupt(f, &res.desc.digest);
		assert_int_equal(unpack(f, &res.desc.digest, &err), CAIRN_EDIGEST);
		assert_non_null(strstr(err->msg, "corrupt"));
		assert_non_null(strstr(err->msg, res.desc.digest.str));
		cairn_error_free(err);
		check_contained(f, false);
	}
}

static void test_missing_blob(void **state)
{
	struct fixture *f = *state;
	struct cairn_error *err = NULL;
	struct cairn_digest dg;

	cairn_digest_of(&dg, "nothing", 7);
	assert_int_equal(unpack(f, &dg, &err), CAIRN_ENOTFOUND);
	cairn_error_free(err);
	assert_false(exists(f->dest));
}

static void test_unpack_twice(void **state)
{
	struct fixture *f = *state;
	struct cairn_layer_result res;
	struct cairn_error *err = NULL;
	struct stat a, b;

	need_root();
	sample_layer(f, NULL, &res);
	assert_int_equal(unpack(f, &res.desc.digest, &err), 0);
	assert_int_equal(stat(f->dest, &a), 0);
	assert_int_equal(unpack(f, &res.desc.digest, &err), 0);
	assert_int_equal(stat(f->dest, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	check_contained(f, true);
}

static void test_ensure_unpacked(void **state)
{
	struct fixture *f = *state;
	struct cairn_layer_result res;
	struct cairn_error *err = NULL;
	cleanup_free char *path = NULL;
	cleanup_free char *again = NULL;
	cleanup_free char *want = NULL;
	cleanup_free char *stale = NULL;
	cleanup_free char *mk = NULL;
	cleanup_free char *list = NULL;
	cleanup_free char *want_list = NULL;
	struct cairn_digest wrong;
	struct stat a, b;

	need_root();
	sample_layer(f, NULL, &res);
	assert_int_equal(cairn_layer_dir_path(&want, f->layers, &res.diff_id), 0);
	assert_string_equal(want + strlen(f->layers) + 1, cairn_digest_hex(&res.diff_id));
	/* a killed earlier unpack left this */
	stale = xasprintf("%s/.%s.tmp-abc123", f->layers, cairn_digest_hex(&res.diff_id));
	mk = xasprintf("mkdir -p '%s/x/y' && touch '%s/x/y/z'", stale, stale);
	assert_int_equal(system(mk), 0);
	/* the wrong diff_id: refused, nothing kept */
	cairn_digest_of(&wrong, "other", 5);
	assert_int_equal(cairn_layer_ensure_unpacked(&path, f->st, f->layers, &res.desc.digest,
						     &wrong, &err),
			 CAIRN_EDIGEST);
	assert_null(path);
	assert_non_null(strstr(err->msg, "diff_id"));
	cairn_error_clear(&err);
	if (cairn_layer_ensure_unpacked(&path, f->st, f->layers, &res.desc.digest, &res.diff_id,
					&err) < 0)
		fail_msg("%s", err->msg);
	assert_string_equal(path, want);
	assert_false(exists(stale));
	assert_int_equal(stat(path, &a), 0);
	assert_int_equal(cairn_layer_ensure_unpacked(&again, f->st, f->layers, &res.desc.digest,
						     &res.diff_id, &err),
			 0);
	assert_string_equal(again, path);
	assert_int_equal(stat(again, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	/* the directory and a lock file per diff_id tried, nothing else */
	list = listing(f->layers);
	assert_int_equal(strlen(list), 3 * 64 + 2 * 6 + 2);
	free(want_list);
	want_list = xasprintf(".%s.lock", cairn_digest_hex(&wrong));
	assert_non_null(strstr(list, want_list));
	free(want_list);
	want_list = xasprintf(".%s.lock", cairn_digest_hex(&res.diff_id));
	assert_non_null(strstr(list, want_list));
	assert_non_null(strstr(list, cairn_digest_hex(&res.diff_id)));
}

struct racer {
	struct fixture *f;
	const struct cairn_layer_result *res;
	char *path;
	int ret;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct cairn_error *err = NULL;

	r->ret = cairn_layer_ensure_unpacked(&r->path, r->f->st, r->f->layers, &r->res->desc.digest,
					     &r->res->diff_id, &err);
	cairn_error_free(err);
	return NULL;
}

static void test_ensure_concurrent(void **state)
{
	struct fixture *f = *state;
	struct cairn_layer_result res;
	struct racer r[4];
	pthread_t t[4];
	cleanup_free char *list = NULL;

	need_root();
	sample_layer(f, NULL, &res);
	for (size_t i = 0; i < ARRAY_SIZE(r); i++) {
		r[i] = (struct racer){.f = f, .res = &res};
		assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
	}
	for (size_t i = 0; i < ARRAY_SIZE(r); i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(r[i].ret, 0);
		assert_string_equal(r[i].path, r[0].path);
	}
	for (size_t i = 0; i < ARRAY_SIZE(r); i++)
		free(r[i].path);
	list = listing(f->layers);
	assert_int_equal(strlen(list), 1 + 64 + 5 + 1 + 64);
}

static void test_dir_path(void **state)
{
	struct cairn_digest dg;
	char *out = NULL;

	(void)state;
	cairn_digest_of(&dg, "x", 1);
	assert_int_equal(cairn_layer_dir_path(&out, "/l", &dg), 0);
	assert_int_equal(strlen(out), 3 + 64);
	free(out);
	memcpy(dg.str + 7, "../", 3);
	assert_int_equal(cairn_layer_dir_path(&out, "/l", &dg), CAIRN_EINVAL);
	assert_null(out);
}

/* The sweep keeps the live, the young and what is not a layer directory; removes the rest. */
static void test_cache_sweep(void **state)
{
	struct fixture *f = *state;
	struct cairn_digest live[1], dead, young;
	struct timespec old[2] = {{.tv_sec = 1000}, {.tv_sec = 1000}};
	char *paths[4];

	cairn_digest_of(&live[0], "live", 4);
	cairn_digest_of(&dead, "dead", 4);
	cairn_digest_of(&young, "young", 5);
	assert_int_equal(mkdir(f->layers, 0700), 0);
	assert_int_equal(cairn_layer_dir_path(&paths[0], f->layers, &live[0]), 0);
	assert_int_equal(cairn_layer_dir_path(&paths[1], f->layers, &dead), 0);
	assert_int_equal(cairn_layer_dir_path(&paths[2], f->layers, &young), 0);
	paths[3] = xasprintf("%s/not-a-layer", f->layers);
	for (int i = 0; i < 4; i++)
		assert_int_equal(mkdir(paths[i], 0700), 0);
	for (int i = 0; i < 4; i++)
		if (i != 2)
			assert_int_equal(utimensat(AT_FDCWD, paths[i], old, 0), 0);
	assert_int_equal(cairn_layer_cache_sweep(f->layers, live, 1, time(NULL) - 60), 1);
	assert_int_equal(access(paths[0], F_OK), 0);
	assert_int_equal(access(paths[1], F_OK), -1);
	assert_int_equal(access(paths[2], F_OK), 0);
	assert_int_equal(access(paths[3], F_OK), 0);
	/* nothing live: the young one stays until it is old */
	assert_int_equal(cairn_layer_cache_sweep(f->layers, NULL, 0, time(NULL) - 60), 1);
	assert_int_equal(cairn_layer_cache_sweep(NULL, NULL, 0, time(NULL)), 0);
	for (int i = 0; i < 4; i++)
		free(paths[i]);
}

/* Deeper than PATH_MAX and than the fd limit: removal must not care. */
static void test_remove_deep_tree(void **state)
{
	struct fixture *f = *state;
	int top = open(f->dir, O_RDONLY | O_DIRECTORY);
	int fd;
	struct cairn_error *err = NULL;
	cleanup_free char *deep = xasprintf("%s/deep", f->dir);

	assert_true(top >= 0);
	assert_int_equal(mkdirat(top, "deep", 0755), 0);
	fd = openat(top, "deep", O_RDONLY | O_DIRECTORY);
	for (int i = 0; i < 3000; i++) {
		int next;

		assert_int_equal(mkdirat(fd, "dd", 0755), 0);
		assert_int_equal(symlinkat("/", fd, "to-root"), 0);
		next = openat(fd, "dd", O_RDONLY | O_DIRECTORY);
		assert_true(next >= 0);
		close(fd);
		fd = next;
	}
	close(openat(fd, "file", O_CREAT | O_WRONLY, 0644));
	close(fd);
	assert_int_equal(cairn_fs_remove_tree(top, "deep", &err), 0);
	assert_false(exists(deep));
	assert_int_equal(cairn_fs_remove_tree(top, "deep", &err), 0);
	close(top);
}

/* ---- overlay upper directories ---- */

static void set_times(const char *path, time_t t)
{
	struct timespec ts[2] = {{t, 0}, {t, 0}};

	assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static char *make_upper(struct fixture *f)
{
	char *up = xasprintf("%s/upper", f->dir);
	cleanup_free char *cmd =
		xasprintf("set -e; cd '%s'; mkdir -p upper/a upper/b upper/opq; cd upper; "
			  "printf hello > a/file.txt; printf linked > a/h1; ln a/h1 b/h2; "
			  "printf x > a-b; printf new > opq/new; printf f > future; "
			  "printf s > suid; chmod 4755 suid; chown 1000:1001 a/file.txt; "
			  "ln -s a/file.txt sym; mkfifo pipe; mknod gone c 0 0; "
			  "mknod null c 1 3",
			  f->dir);
	static const char *const names[] = {"a/file.txt", "a/h1", "a-b",  "opq/new", "suid", "sym",
					    "pipe",	  "gone", "null", "a",	     "b",    "opq"};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int s;

	assert_int_equal(system(cmd), 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", up);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(s);
	{
		cleanup_free char *p = xasprintf("%s/a/file.txt", up);
		cleanup_free char *o = xasprintf("%s/opq", up);

		assert_int_equal(lsetxattr(p, "user.note", "v", 1, 0), 0);
		assert_int_equal(lsetxattr(p, "trusted.other", "no", 2, 0), 0);
		assert_int_equal(lsetxattr(o, "trusted.overlay.opaque", "y", 1, 0), 0);
	}
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		cleanup_free char *p = xasprintf("%s/%s", up, names[i]);

		set_times(p, 1000 + (time_t)i);
	}
	{
		cleanup_free char *p = xasprintf("%s/future", up);

		set_times(p, 4000000000);
	}
	return up;
}

static void read_layer_tar(struct fixture *f, const struct cairn_digest *dg, struct cairn_buf *out)
{
	cleanup_free char *path = xasprintf("%s/blobs/sha256/%s", f->root, cairn_digest_hex(dg));
	gzFile gz = gzopen(path, "rb");
	char chunk[65536];
	int n;

	assert_non_null(gz);
	while ((n = gzread(gz, chunk, sizeof(chunk))) > 0)
		cairn_buf_add(out, chunk, (size_t)n);
	gzclose(gz);
}

static void test_upper_to_layer(void **state)
{
	static const struct {
		const char *path;
		int type;
		const char *link;
		int hardlink;
		int64_t mtime;
	} want[] = {
		{"a/", AE_IFDIR, NULL, 0, 1009},
		{"a-b", AE_IFREG, NULL, 0, 1002},
		{"a/file.txt", AE_IFREG, NULL, 0, 1000},
		{"a/h1", AE_IFREG, NULL, 0, 1001},
		{"b/", AE_IFDIR, NULL, 0, 1010},
		{"b/h2", AE_IFREG, "a/h1", 1, 1001},
		{"future", AE_IFREG, NULL, 0, 3000000000LL},
		{".wh.gone", AE_IFREG, NULL, 0, 1007},
		{"opq/", AE_IFDIR, NULL, 0, 1011},
		{"opq/.wh..wh..opq", AE_IFREG, NULL, 0, 1011},
		{"opq/new", AE_IFREG, NULL, 0, 1003},
		{"pipe", AE_IFIFO, NULL, 0, 1006},
		{"suid", AE_IFREG, NULL, 0, 1004},
		{"sym", AE_IFLNK, "a/file.txt", 0, 1005},
	};
	struct fixture *f = *state;
	cleanup_free char *up = NULL;
	struct cairn_layer_result res, res2;
	struct cairn_error *err = NULL;
	CLEANUP(cairn_buf_release) struct cairn_buf tar = CAIRN_BUF_INIT;
	struct archive *a;
	struct archive_entry *ae;
	size_t i = 0;

	need_root();
	up = make_upper(f);
	if (cairn_layer_from_dir(&res, f->st, up, NULL, 3000000000LL, &err) < 0)
		fail_msg("%s", err->msg);
	read_layer_tar(f, &res.desc.digest, &tar);
	a = archive_read_new();
	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_memory(a, tar.buf, tar.len), ARCHIVE_OK);
	while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
		assert_true(i < ARRAY_SIZE(want));
		assert_string_equal(archive_entry_pathname(ae), want[i].path);
		assert_int_equal(archive_entry_mtime(ae), want[i].mtime);
		if (want[i].hardlink) {
			assert_string_equal(archive_entry_hardlink(ae), want[i].link);
		} else {
			assert_int_equal(archive_entry_filetype(ae), want[i].type);
			if (want[i].link)
				assert_string_equal(archive_entry_symlink(ae), want[i].link);
		}
		if (strcmp(want[i].path, "a/file.txt") == 0) {
			const char *xn;
			const void *xv;
			size_t xl;

			assert_int_equal(archive_entry_uid(ae), 1000);
			assert_int_equal(archive_entry_gid(ae), 1001);
			assert_int_equal(archive_entry_xattr_reset(ae), 1);
			assert_int_equal(archive_entry_xattr_next(ae, &xn, &xv, &xl), ARCHIVE_OK);
			assert_string_equal(xn, "user.note");
		}
		if (strcmp(want[i].path, "suid") == 0)
			assert_int_equal(archive_entry_perm(ae), 04755);
		i++;
	}
	archive_read_free(a);
	assert_int_equal(i, ARRAY_SIZE(want));
	/* the same tree gives the same layer */
	assert_int_equal(cairn_layer_from_dir(&res2, f->st, up, NULL, 3000000000LL, &err), 0);
	assert_string_equal(res.desc.digest.str, res2.desc.digest.str);
	/* and back: whiteouts and opaque directories return to overlayfs form */
	if (cairn_layer_unpack(f->st, &res.desc.digest, f->dest, &err) < 0)
		fail_msg("%s", err->msg);
	{
		cleanup_free char *gone = sub(f, "gone");
		cleanup_free char *opq = sub(f, "opq");
		cleanup_free char *h1 = sub(f, "a/h1");
		cleanup_free char *h2 = sub(f, "b/h2");
		char v[2] = {0};
		struct stat s1, s2;

		assert_int_equal(lstat(gone, &s1), 0);
		assert_true(S_ISCHR(s1.st_mode) && s1.st_rdev == makedev(0, 0));
		assert_int_equal(lgetxattr(opq, "trusted.overlay.opaque", v, 1), 1);
		assert_int_equal(v[0], 'y');
		assert_int_equal(lstat(h1, &s1), 0);
		assert_int_equal(lstat(h2, &s2), 0);
		assert_int_equal(s1.st_ino, s2.st_ino);
	}
}

static void test_upper_refuses_redirect(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *up = xasprintf("%s/upper", f->dir);
	cleanup_free char *d = xasprintf("%s/upper/moved", f->dir);
	struct cairn_layer_result res;
	struct cairn_error *err = NULL;

	need_root();
	assert_int_equal(mkdir(up, 0755), 0);
	assert_int_equal(mkdir(d, 0755), 0);
	assert_int_equal(lsetxattr(d, "trusted.overlay.redirect", "/old", 4, 0), 0);
	assert_int_equal(cairn_layer_from_dir(&res, f->st, up, NULL, -1, &err), CAIRN_EINVAL);
	assert_non_null(strstr(err->msg, "redirect_dir=off"));
	cairn_error_free(err);
}

static void test_upper_missing(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *up = xasprintf("%s/nope", f->dir);
	struct cairn_layer_result res;
	struct cairn_error *err = NULL;

	assert_int_equal(cairn_layer_from_dir(&res, f->st, up, NULL, -1, &err), CAIRN_EOS);
	cairn_error_free(err);
}

/* The tree unpacked as the layer is written: what unpacking the stored layer gives. */
static void test_unpack_as_written(void **state)
{
	static const enum cairn_layer_compression comps[] = {CAIRN_LAYER_GZIP, CAIRN_LAYER_ZSTD,
							     CAIRN_LAYER_NONE};
	struct fixture *f = *state;
	struct cairn_layer_result res, again;
	struct cairn_error *err = NULL;
	cleanup_free char *moved = xasprintf("%s/moved", f->dir);

	need_root();
	assert_int_equal(mkdir(f->layers, 0755), 0);
	for (size_t i = 0; i < ARRAY_SIZE(comps); i++) {
		struct cairn_layer_opts o = {.compression = comps[i], .unpack_to = f->dest};

		sample_layer(f, &o, &res);
		assert_true(res.unpacked);
		check_sample(f);
		check_contained(f, true);
		/* the same layer, unpacked from the store: the same tree */
		assert_int_equal(rename(f->dest, moved), 0);
		if (unpack(f, &res.desc.digest, &err) < 0)
			fail_msg("%s", err->msg);
		check_sample(f);
		assert_int_equal(cairn_fs_remove_tree(AT_FDCWD, f->dest, NULL), 0);
		assert_int_equal(cairn_fs_remove_tree(AT_FDCWD, moved, NULL), 0);
	}
	/* without unpack_to: nothing unpacked, the same layer (the last one was plain tar) */
	{
		struct cairn_layer_opts plain = {.compression = CAIRN_LAYER_NONE};

		sample_layer(f, &plain, &again);
	}
	assert_false(again.unpacked);
	assert_true(cairn_digest_equal(&again.desc.digest, &res.desc.digest));
	check_contained(f, false);
}

/* `size` bytes of a pattern that repeats neither within a chunk nor from file to file. */
static void pattern(unsigned char *buf, size_t size, unsigned seed)
{
	for (size_t i = 0; i < size; i++)
		buf[i] = (unsigned char)((i * 2654435761u + seed) >> 13);
}

/*
 * Layers over several 1 MiB chunks, one of them ending exactly on a chunk's end, written in
 * uneven pieces: the tree unpacked as written has every byte of every file.
 */
static void test_unpack_as_written_chunks(void **state)
{
	static const enum cairn_layer_compression comps[] = {CAIRN_LAYER_GZIP, CAIRN_LAYER_ZSTD,
							     CAIRN_LAYER_NONE};
	/* a 512-byte header, the data, the two zero blocks that end a tar: exactly 1 MiB */
	static const size_t sizes[][2] = {{3 * 1024 * 1024 + 77, 5000},
					  {1024 * 1024 - 512 - 1024, 0}};
	struct fixture *f = *state;
	struct cairn_error *err = NULL;

	need_root();
	assert_int_equal(mkdir(f->layers, 0755), 0);
	for (size_t c = 0; c < ARRAY_SIZE(comps); c++) {
		for (size_t k = 0; k < ARRAY_SIZE(sizes); k++) {
			struct cairn_layer_opts o = {.compression = comps[c], .unpack_to = f->dest};
			struct cairn_layer_writer *w = NULL;
			struct cairn_layer_result res;

			assert_int_equal(cairn_layer_writer_new(&w, f->st, &o, &err), 0);
			for (size_t i = 0; i < 2 && sizes[k][i]; i++) {
				const size_t size = sizes[k][i];
				cleanup_free unsigned char *buf = xmalloc(size);
				cleanup_free unsigned char *got = NULL;
				cleanup_free char *name = xasprintf("f%zu", i);
				struct cairn_layer_entry e = {
					.path = name, .mode = S_IFREG | 0644, .size = size};

				pattern(buf, size, (unsigned)i);
				assert_int_equal(cairn_layer_add(w, &e, &err), 0);
				for (size_t off = 0, n = 1; off < size; off += n, n = n * 7 + 3) {
					if (n > size - off)
						n = size - off;
					assert_int_equal(
						cairn_layer_write_data(w, buf + off, n, &err), 0);
				}
			}
			assert_int_equal(cairn_layer_finish(w, &res, &err), 0); /* frees w */
			assert_true(res.unpacked);
			if (k == 1)
				assert_int_equal(res.tar_size, 1024 * 1024);
			for (size_t i = 0; i < 2 && sizes[k][i]; i++) {
				const size_t size = sizes[k][i];
				cleanup_free unsigned char *want = xmalloc(size);
				cleanup_free char *path = xasprintf("%s/f%zu", f->dest, i);
				struct cairn_buf b = CAIRN_BUF_INIT;

				pattern(want, size, (unsigned)i);
				assert_int_equal(cairn_fs_read_at(AT_FDCWD, path, &b, &err), 0);
				assert_int_equal(b.len, size);
				assert_memory_equal(b.buf, want, size);
				cairn_buf_release(&b);
			}
			assert_int_equal(cairn_fs_remove_tree(AT_FDCWD, f->dest, NULL), 0);
		}
	}
}

/* A layer abandoned (or failing) half-way leaves no tree. */
static void test_unpack_as_written_abandoned(void **state)
{
	struct fixture *f = *state;
	struct cairn_layer_opts o = {.unpack_to = f->dest};
	struct cairn_layer_writer *w = NULL;
	struct cairn_layer_result res;
	struct cairn_error *err = NULL;
	struct cairn_layer_entry big = {.path = "big", .mode = S_IFREG | 0644, .size = 100};

	assert_int_equal(mkdir(f->layers, 0755), 0);
	assert_int_equal(cairn_layer_writer_new(&w, f->st, &o, &err), 0);
	add(w, "etc", S_IFDIR | 0755, NULL, 0, 1);
	add_file(w, "etc/a", "a\n", 0644, 0, 1);
	cairn_layer_writer_free(w);
	check_contained(f, false);
	/* a short file fails the layer: no tree either */
	assert_int_equal(cairn_layer_writer_new(&w, f->st, &o, &err), 0);
	assert_int_equal(cairn_layer_add(w, &big, &err), 0);
	assert_int_equal(cairn_layer_write_data(w, "xy", 2, &err), 0);
	assert_int_not_equal(cairn_layer_finish(w, &res, &err), 0);
	cairn_error_free(err);
	check_contained(f, false);
}

/* A pending tree goes under its diff_id once; a second is dropped; old leftovers are swept. */
static void test_cache_adopt(void **state)
{
	struct fixture *f = *state;
	struct cairn_digest id;
	struct timespec old[2] = {{.tv_sec = 1000}, {.tv_sec = 1000}};
	char *p1 = cairn_layer_cache_pending(f->layers);
	char *p2 = cairn_layer_cache_pending(f->layers);
	char *p3 = cairn_layer_cache_pending(f->layers);
	cleanup_free char *dest = NULL;
	cleanup_free char *mark = NULL;
	cleanup_free char *dir3 = NULL;

	cairn_digest_of(&id, "layer", 5);
	assert_non_null(p1);
	assert_non_null(p2);
	assert_string_not_equal(p1, p2);
	/* the name is free, in a directory of its own no other pending name shares */
	assert_false(exists(p1));
	assert_int_equal(mkdir(p1, 0755), 0);
	assert_int_equal(mkdir(p2, 0755), 0);
	mark = xasprintf("%s/first", p1);
	assert_int_equal(mkdir(mark, 0755), 0);
	cairn_layer_cache_adopt(f->layers, &id, p1);
	assert_int_equal(cairn_layer_dir_path(&dest, f->layers, &id), 0);
	free(mark);
	mark = xasprintf("%s/first", dest);
	assert_true(exists(mark));
	cairn_layer_cache_adopt(f->layers, &id, p2);
	assert_false(exists(p2));
	assert_true(exists(mark));
	cairn_layer_cache_pending_free(p1);
	cairn_layer_cache_pending_free(p2);
	/* nothing of the first two is left beside the layer, its lock and the third */
	dir3 = xstrdup(p3);
	*strrchr(dir3, '/') = '\0';
	{
		cleanup_free char *names = listing(f->layers);
		cleanup_free char *want = xasprintf(".%s.lock %s %s", cairn_digest_hex(&id),
						    strrchr(dir3, '/') + 1, cairn_digest_hex(&id));

		assert_string_equal(names, want);
	}
	/* a killed build's pending directory: swept once old, not while young */
	assert_int_equal(mkdir(p3, 0755), 0);
	assert_int_equal(cairn_layer_cache_sweep(f->layers, &id, 1, time(NULL) - 60), 0);
	assert_true(exists(p3));
	assert_int_equal(utimensat(AT_FDCWD, dir3, old, 0), 0);
	assert_int_equal(cairn_layer_cache_sweep(f->layers, &id, 1, time(NULL) - 60), 1);
	assert_false(exists(dir3));
	assert_true(exists(mark));
	free(p3);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_roundtrip),
		T(test_interrupted),
		T(test_formats),
		T(test_multi_member_and_zlib),
		T(test_whiteouts),
		T(test_xattr_filter),
		T(test_clean_path),
		T(test_hostile),
		T(test_hostile_without_openat2),
		T(test_device_skipped),
		T(test_corrupt_blob),
		T(test_missing_blob),
		T(test_unpack_twice),
		T(test_ensure_unpacked),
		T(test_ensure_concurrent),
		T(test_dir_path),
		T(test_cache_sweep),
		T(test_remove_deep_tree),
		T(test_upper_to_layer),
		T(test_upper_refuses_redirect),
		T(test_upper_missing),
		T(test_unpack_as_written),
		T(test_unpack_as_written_chunks),
		T(test_unpack_as_written_abandoned),
		T(test_cache_adopt),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
