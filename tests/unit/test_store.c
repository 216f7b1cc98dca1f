/* SPDX-License-Identifier: MIT */
/* Unit tests for the local store: layout creation, blobs, corruption, names in index.json. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common.h"
#include "cairn/store.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/interrupt.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

struct fixture {
	char *dir;
	char *root; /* dir/store */
	struct cairn_store *st;
};

static int setup(void **state)
{
	char tmpl[] = "/tmp/cairn-test-store-XXXXXX";
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

static char *read_file(const char *root, const char *name)
{
	cleanup_close int dfd = open(root, O_RDONLY | O_DIRECTORY);
	struct cairn_buf b = CAIRN_BUF_INIT;
	struct cairn_error *err = NULL;

	assert_int_equal(cairn_fs_read_at(dfd, name, &b, &err), 0);
	return cairn_buf_detach(&b, NULL);
}

static int count_dir(const char *root, const char *sub)
{
	cleanup_free char *path = xasprintf("%s/%s", root, sub);
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

static void corrupt(const char *root, const struct cairn_digest *dg, const char *bytes)
{
	cleanup_free char *path = xasprintf("%s/blobs/sha256/%s", root, cairn_digest_hex(dg));
	FILE *fp = fopen(path, "r+");

	assert_non_null(fp);
	fputs(bytes, fp);
	fclose(fp);
}

static void test_layout_created(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *layout = read_file(f->root, "oci-layout");
	cleanup_free char *index = read_file(f->root, "index.json");

	assert_string_equal(layout, "{\"imageLayoutVersion\":\"1.0.0\"}");
	assert_string_equal(index, "{\"schemaVersion\":2,\"manifests\":[]}");
	assert_string_equal(cairn_store_root(f->st), f->root);
}

static void test_blob_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct cairn_error *err = NULL;
	struct cairn_digest dg, want;
	cleanup_free char *blob = NULL;
	struct stat before, after;
	const struct timespec old[2] = {{.tv_sec = 1000}, {.tv_sec = 1000}};
	char *doc = NULL;
	size_t len = 0;
	uint64_t size;

	cairn_digest_of(&want, "hello", 5);
	assert_false(cairn_store_has_blob(f->st, &want));
	assert_int_equal(cairn_store_put_blob(f->st, "hello", 5, &dg, &err), 0);
	assert_true(cairn_digest_equal(&dg, &want));
	assert_true(cairn_store_has_blob(f->st, &dg));
	assert_int_equal(cairn_store_read_doc(&doc, &len, f->st, &dg, &err), 0);
	assert_int_equal(len, 5);
	assert_string_equal(doc, "hello");
	free(doc);
	assert_int_equal(cairn_store_verify_blob(f->st, &dg, &size, &err), 0);
	assert_int_equal(size, 5);
	/*
	 * storing it again is harmless, and writes nothing (the same file stays) but its time:
	 * made now, so that stages gc spares it as a blob just written
	 */
	blob = xasprintf("%s/blobs/sha256/%s", f->root, cairn_digest_hex(&dg));
	assert_int_equal(utimensat(AT_FDCWD, blob, old, 0), 0);
	assert_int_equal(stat(blob, &before), 0);
	assert_int_equal(cairn_store_put_blob(f->st, "hello", 5, &dg, &err), 0);
	assert_int_equal(stat(blob, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);
	assert_true(after.st_mtime > time(NULL) - 60);
	assert_int_equal(count_dir(f->root, "blobs/sha256"), 1);
	assert_int_equal(count_dir(f->root, ".cairn/tmp"), 0);
}

static void test_corrupt_blob_detected_and_repaired(void **state)
{
	struct fixture *f = *state;
	struct cairn_error *err = NULL;
	struct cairn_digest dg;
	char *doc = NULL;

	assert_int_equal(cairn_store_put_blob(f->st, "payload", 7, &dg, &err), 0);
	corrupt(f->root, &dg, "PAY");
	assert_int_equal(cairn_store_read_doc(&doc, NULL, f->st, &dg, &err), CAIRN_EDIGEST);
	assert_null(doc);
	assert_non_null(strstr(err->msg, "is corrupt"));
	assert_non_null(strstr(err->msg, dg.str));
	cairn_error_clear(&err);
	assert_int_equal(cairn_store_verify_blob(f->st, &dg, NULL, &err), CAIRN_EDIGEST);
	cairn_error_clear(&err);
	/* a fresh put of the right content replaces the damaged file (of the same size) */
	assert_int_equal(cairn_store_put_blob(f->st, "payload", 7, &dg, &err), 0);
	assert_int_equal(cairn_store_verify_blob(f->st, &dg, NULL, &err), 0);
}

static void test_missing_blob(void **state)
{
	struct fixture *f = *state;
	struct cairn_error *err = NULL;
	struct cairn_digest dg;

	cairn_digest_of(&dg, "absent", 6);
	assert_int_equal(cairn_store_verify_blob(f->st, &dg, NULL, &err), CAIRN_ENOTFOUND);
	assert_non_null(strstr(err->msg, "is not in store"));
	cairn_error_free(err);
}

static void test_writer_streams_and_checks(void **state)
{
	struct fixture *f = *state;
	struct cairn_blob_writer *w = NULL;
	struct cairn_error *err = NULL;
	struct cairn_digest dg, want, wrong;
	uint64_t size = 0;

	cairn_digest_of(&want, "abcdef", 6);
	cairn_digest_of(&wrong, "xyz", 3);
	/* mismatch: nothing kept, temp file removed */
	assert_int_equal(cairn_store_blob_writer_new(&w, f->st, &err), 0);
	assert_int_equal(cairn_store_blob_write(w, "abc", 3, &err), 0);
	assert_int_equal(cairn_store_blob_write(w, "def", 3, &err), 0);
	assert_int_equal(cairn_store_blob_commit(w, &wrong, &dg, &size, &err), CAIRN_EDIGEST);
	assert_non_null(strstr(err->msg, want.str));
	cairn_error_clear(&err);
	cairn_store_blob_writer_free(w);
	assert_false(cairn_store_has_blob(f->st, &want));
	assert_false(cairn_store_has_blob(f->st, &wrong));
	assert_int_equal(count_dir(f->root, ".cairn/tmp"), 0);
	/* match */
	assert_int_equal(cairn_store_blob_writer_new(&w, f->st, &err), 0);
	assert_int_equal(cairn_store_blob_write(w, "abcdef", 6, &err), 0);
	assert_int_equal(cairn_store_blob_commit(w, &want, &dg, &size, &err), 0);
	cairn_store_blob_writer_free(w);
	assert_true(cairn_digest_equal(&dg, &want));
	assert_int_equal(size, 6);
	assert_true(cairn_store_has_blob(f->st, &want));
	/* abandoned writer leaves nothing */
	assert_int_equal(cairn_store_blob_writer_new(&w, f->st, &err), 0);
	assert_int_equal(cairn_store_blob_write(w, "zzz", 3, &err), 0);
	cairn_store_blob_writer_free(w);
	assert_int_equal(count_dir(f->root, ".cairn/tmp"), 0);
	assert_int_equal(count_dir(f->root, "blobs/sha256"), 1);
}

/* Create .cairn/tmp/NAME, `age` seconds old. */
static void make_temp(struct fixture *f, const char *name, time_t age)
{
	cleanup_free char *path = xasprintf("%s/.cairn/tmp/%s", f->root, name);
	struct timespec t[2] = {{.tv_sec = time(NULL) - age}, {.tv_sec = time(NULL) - age}};
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "partial", 7), 7);
	assert_int_equal(futimens(fd, t), 0);
	close(fd);
}

static int temp_exists(struct fixture *f, const char *name)
{
	cleanup_free char *path = xasprintf("%s/.cairn/tmp/%s", f->root, name);

	return access(path, F_OK) == 0;
}

static void test_killed_writers_temp_removed(void **state)
{
	struct fixture *f = *state;
	struct cairn_error *err = NULL;
	struct cairn_store_gc_stats stats;
	cleanup_free char *locked = xasprintf("%s/.cairn/tmp/blob-locked00000", f->root);
	struct cairn_digest dg;
	int fd;

	make_temp(f, "blob-killed00000", 7200);
	make_temp(f, "blob-fresh000000", 10);
	make_temp(f, "blob-locked00000", 7200);
	make_temp(f, "other-old0000000", 7200);
	/* a writer that still runs holds a lock on its temp blob, however slow it is */
	fd = open(locked, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	/* the first writer sweeps what killed writers left */
	assert_int_equal(cairn_store_put_blob(f->st, "x", 1, &dg, &err), 0);
	assert_false(temp_exists(f, "blob-killed00000"));
	assert_true(temp_exists(f, "blob-fresh000000"));
	assert_true(temp_exists(f, "blob-locked00000"));
	assert_true(temp_exists(f, "other-old0000000"));
	/* gc too, with its own grace; the lock gone, the old temp blob goes */
	assert_int_equal(cairn_store_gc(f->st, 3600, &stats, NULL, NULL, &err), 0);
	assert_int_equal(stats.tmp_removed, 0);
	close(fd);
	assert_int_equal(cairn_store_gc(f->st, 3600, &stats, NULL, NULL, &err), 0);
	assert_int_equal(stats.tmp_removed, 1);
	assert_false(temp_exists(f, "blob-locked00000"));
	assert_true(temp_exists(f, "blob-fresh000000"));
	assert_int_equal(cairn_store_gc(f->st, 5, &stats, NULL, NULL, &err), 0);
	assert_int_equal(stats.tmp_removed, 1);
	assert_false(temp_exists(f, "blob-fresh000000"));
	assert_true(temp_exists(f, "other-old0000000"));
}

static void test_interrupted_writer(void **state)
{
	struct fixture *f = *state;
	struct cairn_blob_writer *w = NULL;
	struct cairn_error *err = NULL;
	struct cairn_digest dg;

	assert_int_equal(cairn_store_blob_writer_new(&w, f->st, &err), 0);
	assert_int_equal(cairn_store_blob_write(w, "abc", 3, &err), 0);
	cairn_interrupt(SIGTERM);
	assert_int_equal(cairn_store_blob_write(w, "def", 3, &err), CAIRN_EINTERRUPTED);
	assert_non_null(strstr(err->msg, "interrupted by SIGTERM"));
	cairn_error_clear(&err);
	cairn_store_blob_writer_free(w);
	assert_int_equal(count_dir(f->root, ".cairn/tmp"), 0);
	assert_int_equal(cairn_store_put_blob(f->st, "x", 1, &dg, &err), CAIRN_EINTERRUPTED);
	cairn_error_clear(&err);
	cairn_interrupt_reset();
	assert_int_equal(cairn_store_put_blob(f->st, "x", 1, &dg, &err), 0);
}

static void put_desc(struct fixture *f, const char *content, struct cairn_descriptor *d)
{
	struct cairn_error *err = NULL;

	memset(d, 0, sizeof(*d));
	snprintf(d->media_type, sizeof(d->media_type), "%s", CAIRN_MT_OCI_MANIFEST);
	d->size = strlen(content);
	assert_int_equal(cairn_store_put_blob(f->st, content, strlen(content), &d->digest, &err),
			 0);
}

static int collect(const struct cairn_store_ref *ref, void *userdata)
{
	struct cairn_buf *b = userdata;

	cairn_buf_addf(b, "%s=%s;", ref->name, ref->desc.digest.str + 7 + 60);
	return 0;
}

static void test_refs(void **state)
{
	struct fixture *f = *state;
	struct cairn_descriptor a, b, got;
	struct cairn_error *err = NULL;
	struct cairn_buf list = CAIRN_BUF_INIT;
	char want[128];

	put_desc(f, "{\"a\":1}", &a);
	put_desc(f, "{\"b\":2}", &b);
	assert_int_equal(cairn_store_ref_get(f->st, "proj:sig", &got, &err), CAIRN_ENOTFOUND);
	assert_non_null(strstr(err->msg, "'proj:sig' is not in store"));
	cairn_error_clear(&err);
	assert_int_equal(cairn_store_ref_set(f->st, "proj:sig", &a, &err), 0);
	assert_int_equal(cairn_store_ref_set(f->st, "127.0.0.1:5000/base/busybox:1", &b, &err), 0);
	assert_int_equal(cairn_store_ref_get(f->st, "proj:sig", &got, &err), 0);
	assert_true(cairn_digest_equal(&got.digest, &a.digest));
	assert_string_equal(got.media_type, CAIRN_MT_OCI_MANIFEST);
	assert_int_equal(got.size, a.size);
	/* re-pointing a name replaces the entry */
	assert_int_equal(cairn_store_ref_set(f->st, "proj:sig", &b, &err), 0);
	assert_int_equal(cairn_store_ref_get(f->st, "proj:sig", &got, &err), 0);
	assert_true(cairn_digest_equal(&got.digest, &b.digest));
	assert_int_equal(cairn_store_ref_list(f->st, collect, &list, &err), 0);
	snprintf(want, sizeof(want), "127.0.0.1:5000/base/busybox:1=%s;proj:sig=%s;",
		 b.digest.str + 67, b.digest.str + 67);
	assert_string_equal(list.buf, want);
	assert_int_equal(cairn_store_ref_remove(f->st, "proj:sig", &err), 0);
	assert_int_equal(cairn_store_ref_remove(f->st, "proj:sig", &err), CAIRN_ENOTFOUND);
	cairn_error_clear(&err);
	assert_int_equal(cairn_store_ref_get(f->st, "proj:sig", &got, &err), CAIRN_ENOTFOUND);
	cairn_error_clear(&err);
	/* the blob stays until gc */
	assert_true(cairn_store_has_blob(f->st, &b.digest));
	cairn_buf_release(&list);
}

/* Names are read once per version of index.json: another process's change is seen at once,
 * and of two entries with one name the last counts. */
static void test_refs_follow_the_file(void **state)
{
	struct fixture *f = *state;
	struct cairn_descriptor a, b, got;
	struct cairn_store *other = NULL;
	struct cairn_error *err = NULL;
	char index[1024];

	put_desc(f, "{\"a\":1}", &a);
	put_desc(f, "{\"b\":2}", &b);
	assert_int_equal(cairn_store_ref_set(f->st, "p:x", &a, &err), 0);
	assert_int_equal(cairn_store_ref_get(f->st, "p:x", &got, &err), 0);
	assert_true(cairn_digest_equal(&got.digest, &a.digest));
	/* another cairn with the same store re-points the name */
	assert_int_equal(cairn_store_open(&other, cairn_store_root(f->st), &err), 0);
	assert_int_equal(cairn_store_ref_set(other, "p:x", &b, &err), 0);
	assert_int_equal(cairn_store_ref_get(f->st, "p:x", &got, &err), 0);
	assert_true(cairn_digest_equal(&got.digest, &b.digest));
	assert_int_equal(cairn_store_ref_remove(other, "p:x", &err), 0);
	assert_int_equal(cairn_store_ref_get(f->st, "p:x", &got, &err), CAIRN_ENOTFOUND);
	cairn_error_clear(&err);
	cairn_store_free(other);
	/* another tool wrote one name twice: the last entry counts */
	snprintf(index, sizeof(index),
		 "{\"schemaVersion\":2,\"manifests\":["
		 "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%llu,"
		 "\"annotations\":{\"org.opencontainers.image.ref.name\":\"d:1\"}},"
		 "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%llu,"
		 "\"annotations\":{\"org.opencontainers.image.ref.name\":\"d:1\"}}]}",
		 a.media_type, a.digest.str, (unsigned long long)a.size, b.media_type, b.digest.str,
		 (unsigned long long)b.size);
	{
		char *path = xasprintf("%s/index.json", cairn_store_root(f->st));

		assert_int_equal(
			cairn_fs_write_atomic_at(AT_FDCWD, path, index, strlen(index), 0644, &err),
			0);
		free(path);
	}
	assert_int_equal(cairn_store_ref_get(f->st, "d:1", &got, &err), 0);
	assert_true(cairn_digest_equal(&got.digest, &b.digest));
}

static void test_ref_errors(void **state)
{
	static const char *const bad[] = {"", "a b", "/a", "a/", "a//b", "-a", "a:", "ü", "a\n"};
	struct fixture *f = *state;
	struct cairn_descriptor a, missing;
	struct cairn_error *err = NULL;

	put_desc(f, "{}", &a);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(cairn_store_ref_set(f->st, bad[i], &a, &err), CAIRN_EINVAL);
		assert_non_null(strstr(err->msg, "invalid ref name"));
		cairn_error_clear(&err);
	}
	missing = a;
	cairn_digest_of(&missing.digest, "never stored", 12);
	assert_int_equal(cairn_store_ref_set(f->st, "x:1", &missing, &err), CAIRN_ENOTFOUND);
	cairn_error_clear(&err);
}

static void test_foreign_entries_kept(void **state)
{
	struct fixture *f = *state;
	cleanup_close int dfd = open(f->root, O_RDONLY | O_DIRECTORY);
	struct cairn_descriptor a, got;
	struct cairn_error *err = NULL;
	cleanup_free char *index = NULL;
	cleanup_free char *foreign = NULL;

	put_desc(f, "{\"x\":1}", &a);
	/* as another tool writes it: an unnamed entry with a platform, and an extra field */
	foreign = xasprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"%s\","
			    "\"digest\":\"%s\",\"size\":%llu,\"platform\":{\"os\":\"linux\"}}],"
			    "\"annotations\":{\"k\":\"v\"}}",
			    CAIRN_MT_OCI_MANIFEST, a.digest.str, (unsigned long long)a.size);
	assert_int_equal(
		cairn_fs_write_atomic_at(dfd, "index.json", foreign, strlen(foreign), 0644, &err),
		0);
	assert_int_equal(cairn_store_ref_set(f->st, "n:1", &a, &err), 0);
	index = read_file(f->root, "index.json");
	assert_non_null(strstr(index, "\"platform\":{\"os\":\"linux\"}"));
	assert_non_null(strstr(index, "\"annotations\":{\"k\":\"v\"}"));
	assert_int_equal(cairn_store_ref_get(f->st, "n:1", &got, &err), 0);
}

static void test_bad_layout_and_index(void **state)
{
	struct fixture *f = *state;
	cleanup_close int dfd = open(f->root, O_RDONLY | O_DIRECTORY);
	struct cairn_store *st2 = NULL;
	struct cairn_descriptor got;
	struct cairn_error *err = NULL;

	assert_int_equal(
		cairn_fs_write_atomic_at(dfd, "index.json", "{\"manifests\":", 13, 0644, &err), 0);
	assert_int_equal(cairn_store_ref_get(f->st, "a", &got, &err), CAIRN_EINVAL);
	assert_non_null(strstr(err->msg, "index.json"));
	cairn_error_clear(&err);
	assert_int_equal(cairn_fs_write_atomic_at(dfd, "oci-layout",
						  "{\"imageLayoutVersion\":\"2.0.0\"}", 30, 0644,
						  &err),
			 0);
	assert_int_equal(cairn_store_open(&st2, f->root, &err), CAIRN_EINVAL);
	assert_null(st2);
	assert_non_null(strstr(err->msg, "unsupported version '2.0.0'"));
	cairn_error_free(err);
}

/* Every open store holds the use lock shared; an exclusive lock waits for the others. */
static void test_use_lock(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *other = NULL, *third = NULL;
	struct cairn_error *err = NULL;

	assert_int_equal(cairn_store_open(&other, f->root, &err), 0);
	assert_int_equal(cairn_store_lock_exclusive(f->st, 0, &err), CAIRN_EOS);
	assert_non_null(strstr(err->msg, "in use by another cairn"));
	cairn_error_free(err);
	err = NULL;
	cairn_store_free(other);
	assert_int_equal(cairn_store_lock_exclusive(f->st, 0, &err), 0);
	/* a store opened meanwhile would wait: its shared lock cannot be had now */
	{
		cleanup_free char *path = xasprintf("%s/.cairn/use.lock", f->root);
		cleanup_close int fd = open(path, O_RDWR);

		assert_true(fd >= 0);
		assert_int_equal(flock(fd, LOCK_SH | LOCK_NB), -1);
	}
	cairn_store_free(f->st);
	f->st = NULL;
	assert_int_equal(cairn_store_open(&third, f->root, &err), 0);
	f->st = third;
}

/* Touching a blob makes its mtime now: host cleanup orders stages by it. */
static void test_touch(void **state)
{
	struct fixture *f = *state;
	struct cairn_error *err = NULL;
	struct cairn_digest dg;
	struct timespec old[2] = {{1000, 0}, {1000, 0}};
	cleanup_free char *path = NULL;
	struct stat sb;

	assert_int_equal(cairn_store_put_blob(f->st, "abc", 3, &dg, &err), 0);
	path = xasprintf("%s/blobs/sha256/%s", f->root, cairn_digest_hex(&dg));
	assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
	cairn_store_touch(f->st, &dg);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(sb.st_mtime > time(NULL) - 60);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_layout_created),
		T(test_blob_roundtrip),
		T(test_corrupt_blob_detected_and_repaired),
		T(test_missing_blob),
		T(test_writer_streams_and_checks),
		T(test_killed_writers_temp_removed),
		T(test_interrupted_writer),
		T(test_refs),
		T(test_refs_follow_the_file),
		T(test_ref_errors),
		T(test_foreign_entries_kept),
		T(test_bad_layout_and_index),
		T(test_use_lock),
		T(test_touch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
