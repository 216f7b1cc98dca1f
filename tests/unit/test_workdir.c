/* SPDX-License-Identifier: MIT */
/* Unit tests of stage work directories: lock and owner decide what a cleaner may remove. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common.h"
#include "run/workdir.h"
#include "util/buf.h"
#include "util/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static int setup(void **state)
{
	char tmpl[] = "/tmp/cairn-test-workdir-XXXXXX";

	if (!mkdtemp(tmpl))
		return -1;
	*state = xstrdup(tmpl);
	return 0;
}

static int teardown(void **state)
{
	char *root = *state;
	char *cmd = xasprintf("rm -rf '%s'", root);
	int r = system(cmd);

	free(cmd);
	free(root);
	return r == 0 ? 0 : -1;
}

static void set_owner(const char *work, const char *owner)
{
	cleanup_close int dfd = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct cairn_error *err = NULL;

	assert_int_equal(cairn_fs_write_atomic_at(dfd, "owner", owner, strlen(owner), 0600, &err),
			 0);
}

static void test_new_is_locked_and_owned(void **state)
{
	const char *root = *state;
	struct cairn_error *err = NULL;
	cleanup_free char *work = NULL;
	cleanup_free char *owner = NULL;
	struct cairn_buf b = CAIRN_BUF_INIT;
	long pid = 0;
	unsigned long long start = 0;
	int lock = -1;

	assert_int_equal(cairn_workdir_new(&work, &lock, root, &err), 0);
	assert_true(lock >= 0);
	assert_non_null(strstr(work, "/stage-"));
	owner = xasprintf("%s/owner", work);
	assert_int_equal(cairn_fs_read_at(AT_FDCWD, owner, &b, &err), 0);
	assert_int_equal(sscanf(b.buf, "%ld %llu", &pid, &start), 2);
	assert_int_equal(pid, (long)getpid());
	assert_true(start > 0);
	cairn_buf_release(&b);
	/* locked: kept */
	cairn_workdir_clean_stale(root);
	assert_int_equal(access(work, F_OK), 0);
	/* unlocked, but its owner (this process) runs: kept */
	close(lock);
	cairn_workdir_clean_stale(root);
	assert_int_equal(access(work, F_OK), 0);
}

static void test_dead_owner_removed(void **state)
{
	const char *root = *state;
	struct cairn_error *err = NULL;
	cleanup_free char *a = NULL;
	cleanup_free char *b = NULL;
	cleanup_free char *c = NULL;
	cleanup_free char *mine = xasprintf("%ld 1\n", (long)getpid());
	int la = -1, lb = -1, lc = -1;

	assert_int_equal(cairn_workdir_new(&a, &la, root, &err), 0);
	assert_int_equal(cairn_workdir_new(&b, &lb, root, &err), 0);
	assert_int_equal(cairn_workdir_new(&c, &lc, root, &err), 0);
	/* a pid that is not running; this pid, but another process's start time (pid reuse) */
	set_owner(a, "2147483646 12345\n");
	set_owner(b, mine);
	close(la);
	close(lb);
	cairn_workdir_clean_stale(root);
	assert_int_equal(access(a, F_OK), -1);
	assert_int_equal(access(b, F_OK), -1);
	/* the owner is dead but the lock is held: whoever holds it still uses the directory */
	set_owner(c, "2147483646 12345\n");
	cairn_workdir_clean_stale(root);
	assert_int_equal(access(c, F_OK), 0);
	close(lc);
	cairn_workdir_clean_stale(root);
	assert_int_equal(access(c, F_OK), -1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_new_is_locked_and_owned),
		T(test_dead_owner_removed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
