/* SPDX-License-Identifier: MIT */
/* Unit tests for the filesystem helpers: mkdirs, atomic writes, capped reads. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common.h"
#include "util/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>

static int setup(void **state)
{
	char tmpl[] = "/tmp/cairn-test-fs-XXXXXX";
	char *dir = mkdtemp(tmpl);

	if (!dir)
		return -1;
	*state = xstrdup(dir);
	return 0;
}

static int teardown(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", (char *)*state);
	int r = system(cmd);

	free(cmd);
	free(*state);
	return r == 0 ? 0 : -1;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_mkdirs(void **state)
{
	cleanup_free char *path = xasprintf("%s/a/b//c/", (char *)*state);
	struct cairn_error *err = NULL;
	struct stat sb;

	assert_int_equal(cairn_fs_mkdirs_at(AT_FDCWD, path, 0755, &err), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	/* again: existing directories are fine */
	assert_int_equal(cairn_fs_mkdirs_at(AT_FDCWD, path, 0755, &err), 0);
}

static void test_mkdirs_through_file_fails(void **state)
{
	cleanup_free char *file = xasprintf("%s/file", (char *)*state);
	cleanup_free char *path = xasprintf("%s/file/sub", (char *)*state);
	struct cairn_error *err = NULL;
	int fd = open(file, O_CREAT | O_WRONLY, 0644);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(cairn_fs_mkdirs_at(AT_FDCWD, path, 0755, &err), CAIRN_EOS);
	assert_int_equal(err->sys_errno, ENOTDIR);
	assert_non_null(strstr(err->msg, "create directory"));
	cairn_error_free(err);
}

static void test_atomic_write_and_read(void **state)
{
	const char *dir = *state;
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	struct cairn_buf b = CAIRN_BUF_INIT;
	struct cairn_error *err = NULL;
	struct stat sb;

	assert_int_equal(cairn_fs_write_atomic_at(dfd, "f", "one", 3, 0600, &err), 0);
	assert_int_equal(cairn_fs_write_atomic_at(dfd, "f", "second", 6, 0644, &err), 0);
	assert_int_equal(cairn_fs_read_at(dfd, "f", &b, &err), 0);
	assert_string_equal(b.buf, "second");
	assert_int_equal(fstatat(dfd, "f", &sb, 0), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
	/* no temporary file is left behind */
	assert_int_equal(count_entries(dir), 1);
	cairn_buf_release(&b);
}

/*
 * A path goes through a temporary file beside it, not in the working directory (which may be on
 * another filesystem, where the rename would fail): here the working directory is gone.
 */
static void test_atomic_write_beside(void **state)
{
	const char *dir = *state;
	cleanup_free char *gone = xasprintf("%s/gone", dir);
	cleanup_free char *sub = xasprintf("%s/sub", dir);
	cleanup_free char *path = xasprintf("%s/sub/f.json", dir);
	cleanup_close int cwd = open(".", O_RDONLY | O_DIRECTORY);
	struct cairn_buf b = CAIRN_BUF_INIT;
	struct cairn_error *err = NULL;
	int ret;

	assert_true(cwd >= 0);
	assert_int_equal(mkdir(gone, 0755), 0);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(chdir(gone), 0);
	assert_int_equal(rmdir(gone), 0);
	ret = cairn_fs_write_atomic_at(AT_FDCWD, path, "{}", 2, 0600, &err);
	assert_int_equal(fchdir(cwd), 0);
	if (ret < 0)
		fail_msg("%s", err->msg);
	assert_int_equal(cairn_fs_read_at(AT_FDCWD, path, &b, &err), 0);
	assert_string_equal(b.buf, "{}");
	assert_int_equal(count_entries(sub), 1); /* no temporary file left beside it */
	cairn_buf_release(&b);
}

static void test_read_missing_and_capped(void **state)
{
	cleanup_close int dfd = open((char *)*state, O_RDONLY | O_DIRECTORY);
	struct cairn_buf small = CAIRN_BUF_INIT_MAX(3);
	struct cairn_buf b = CAIRN_BUF_INIT;
	struct cairn_error *err = NULL;

	assert_int_equal(cairn_fs_read_at(dfd, "nope", &b, &err), CAIRN_ENOTFOUND);
	assert_non_null(strstr(err->msg, "open 'nope'"));
	cairn_error_clear(&err);
	assert_int_equal(cairn_fs_write_atomic_at(dfd, "big", "12345", 5, 0644, &err), 0);
	assert_int_equal(cairn_fs_read_at(dfd, "big", &small, &err), CAIRN_ETOOBIG);
	assert_non_null(strstr(err->msg, "limit of 3 bytes"));
	cairn_error_free(err);
	cairn_buf_release(&small);
	cairn_buf_release(&b);
}

/* A tree goes whole, symlinks as links; a filesystem mounted below is never entered. */
static void test_remove_tree(void **state)
{
	const char *dir = *state;
	cleanup_free char *outside = xasprintf("%s/outside", dir);
	cleanup_free char *keep = xasprintf("%s/outside/keep", dir);
	cleanup_free char *mnt = xasprintf("%s/t/a/mnt", dir);
	cleanup_free char *inmnt = xasprintf("%s/t/a/mnt/file", dir);
	cleanup_free char *lnk = xasprintf("%s/t/a/link", dir);
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct cairn_error *err = NULL;
	FILE *f;

	assert_int_equal(cairn_fs_mkdirs_at(dfd, "t/a/b/c", 0755, &err), 0);
	assert_int_equal(cairn_fs_mkdirs_at(dfd, "outside", 0755, &err), 0);
	f = fopen(keep, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(symlink(outside, lnk), 0);
	assert_int_equal(cairn_fs_remove_tree(dfd, "missing", &err), 0);
	if (geteuid() == 0) {
		assert_int_equal(cairn_fs_mkdirs_at(dfd, "t/a/mnt", 0755, &err), 0);
		assert_int_equal(mount("tmpfs", mnt, "tmpfs", 0, "size=64k"), 0);
		f = fopen(inmnt, "w");
		assert_non_null(f);
		fclose(f);
		assert_int_equal(cairn_fs_remove_tree(dfd, "t", &err), CAIRN_EOS);
		assert_non_null(strstr(err->msg, "a mount point"));
		cairn_error_clear(&err);
		assert_int_equal(access(inmnt, F_OK), 0);
		assert_int_equal(umount2(mnt, MNT_DETACH), 0);
	}
	assert_int_equal(cairn_fs_remove_tree(dfd, "t", &err), 0);
	assert_int_equal(faccessat(dfd, "t", F_OK, AT_SYMLINK_NOFOLLOW), -1);
	assert_int_equal(access(keep, F_OK), 0);
}

/* A lock file made 0600 and held exclusively; another open file description cannot take it. */
static void test_lock(void **state)
{
	const char *dir = *state;
	cleanup_free char *path = xasprintf("%s/x.lock", dir);
	cleanup_free char *missing = xasprintf("%s/no/x.lock", dir);
	struct cairn_error *err = NULL;
	struct stat sb;
	int fd = -1, other;

	assert_int_equal(cairn_fs_lock_at(&fd, AT_FDCWD, path, &err), 0);
	assert_true(fd >= 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	other = open(path, O_RDWR | O_CLOEXEC);
	assert_true(other >= 0);
	assert_int_equal(flock(other, LOCK_EX | LOCK_NB), -1);
	close(fd);
	assert_int_equal(flock(other, LOCK_EX | LOCK_NB), 0);
	close(other);
	assert_int_equal(cairn_fs_lock_at(&fd, AT_FDCWD, missing, &err), CAIRN_EOS);
	assert_int_equal(fd, -1);
	assert_non_null(strstr(err->msg, "open '"));
	cairn_error_free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mkdirs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mkdirs_through_file_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_write_and_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_write_beside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_missing_and_capped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
