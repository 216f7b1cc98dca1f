/* SPDX-License-Identifier: MIT */
/* Unit tests for paths inside a root: symlink chains, absolute links, '..', loops, walks. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common.h"
#include "util/buf.h"
#include "util/root.h"

#include <fcntl.h>
#include <sys/stat.h>

/*
 * <tmp>/etc/hostname holds "host": what a path that escapes the root would reach.
 * <tmp>/root is the root; its own etc/hostname holds "image".
 */
struct fixture {
	char *tmp;
	int rootfd;
};

static void put(const char *dir, const char *name, const char *content)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void link_at(const char *dir, const char *target, const char *name)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, name);

	assert_int_equal(symlink(target, p), 0);
}

static void mkdir_at(const char *dir, const char *name)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, name);

	assert_int_equal(mkdir(p, 0755), 0);
}

static int setup(void **state)
{
	char tmpl[] = "/tmp/cairn-test-root-XXXXXX";
	struct fixture *f = xcalloc(1, sizeof(*f));
	cleanup_free char *root = NULL;

	if (!mkdtemp(tmpl))
		return -1;
	f->tmp = xstrdup(tmpl);
	root = xasprintf("%s/root", f->tmp);
	mkdir_at(f->tmp, "etc");
	put(f->tmp, "etc/hostname", "host");
	mkdir_at(f->tmp, "root");
	mkdir_at(root, "etc");
	put(root, "etc/hostname", "image");
	mkdir_at(root, "dir");
	mkdir_at(root, "dir/sub");
	put(root, "dir/sub/file", "deep");
	link_at(root, "/etc", "lnk");		 /* absolute, leads out on the host */
	link_at(root, "../../../../etc", "rel"); /* relative, climbs past the root */
	link_at(root, "etc", "inner");		 /* stays inside */
	link_at(root, "chain2", "chain1");	 /* a chain ending in an absolute link */
	link_at(root, "/lnk/hostname", "chain2");
	link_at(root, "loop2", "loop1");
	link_at(root, "loop1", "loop2");
	link_at(root, "/dir/sub/../../lnk", "mixed"); /* '..' and a link in one target */
	f->rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	*state = f;
	return f->rootfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char *cmd = xasprintf("rm -rf '%s'", f->tmp);
	int r = system(cmd);

	cairn_root_use_openat2(true);
	close(f->rootfd);
	free(cmd);
	free(f->tmp);
	free(f);
	return r == 0 ? 0 : -1;
}

struct open_case {
	const char *path;
	enum cairn_root_resolve how;
	const char *content; /* expected, or NULL when it must fail */
	int err;	     /* errno when it fails */
};

static void check_open(const struct fixture *f, const struct open_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int fd = cairn_root_open(f->rootfd, c[i].path, O_RDONLY, c[i].how);
		char buf[64] = {0};

		if (!c[i].content) {
			if (fd >= 0)
				fail_msg("'%s' (mode %d) opened, must fail", c[i].path, c[i].how);
			if (errno != c[i].err)
				fail_msg("'%s' (mode %d): errno %d, want %d", c[i].path, c[i].how,
					 errno, c[i].err);
			continue;
		}
		if (fd < 0)
			fail_msg("'%s' (mode %d): %s", c[i].path, c[i].how, strerror(errno));
		assert_true(read(fd, buf, sizeof(buf) - 1) > 0);
		close(fd);
		if (strcmp(buf, c[i].content) != 0)
			fail_msg("'%s' (mode %d): read '%s', want '%s'", c[i].path, c[i].how, buf,
				 c[i].content);
	}
}

static void test_in_root(void **state)
{
	static const struct open_case c[] = {
		{"etc/hostname", CAIRN_ROOT_IN, "image", 0},
		{"/etc/hostname", CAIRN_ROOT_IN, "image", 0},
		{"lnk/hostname", CAIRN_ROOT_IN, "image", 0},
		{"/lnk/./hostname", CAIRN_ROOT_IN, "image", 0},
		{"rel/hostname", CAIRN_ROOT_IN, "image", 0},
		{"../etc/hostname", CAIRN_ROOT_IN, "image", 0},
		{"/../../../../etc/hostname", CAIRN_ROOT_IN, "image", 0},
		{"dir/../../etc/hostname", CAIRN_ROOT_IN, "image", 0},
		{"chain1", CAIRN_ROOT_IN, "image", 0},
		{"mixed/hostname", CAIRN_ROOT_IN, "image", 0},
		{"dir/sub/file", CAIRN_ROOT_IN, "deep", 0},
		{"loop1", CAIRN_ROOT_IN, NULL, ELOOP},
		{"loop1/x", CAIRN_ROOT_IN, NULL, ELOOP},
		{"missing", CAIRN_ROOT_IN, NULL, ENOENT},
		{"/proc/self/root/etc/hostname", CAIRN_ROOT_IN, NULL, ENOENT},
	};

	check_open(*state, c, ARRAY_SIZE(c));
}

static void test_beneath(void **state)
{
	static const struct open_case c[] = {
		{"etc/hostname", CAIRN_ROOT_BENEATH, "image", 0},
		{"inner/hostname", CAIRN_ROOT_BENEATH, "image", 0},
		{"dir/sub/../../etc/hostname", CAIRN_ROOT_BENEATH, "image", 0},
		{"lnk/hostname", CAIRN_ROOT_BENEATH, NULL, EXDEV},
		{"rel/hostname", CAIRN_ROOT_BENEATH, NULL, EXDEV},
		{"chain1", CAIRN_ROOT_BENEATH, NULL, EXDEV},
		{"../etc/hostname", CAIRN_ROOT_BENEATH, NULL, EXDEV},
		{"loop1", CAIRN_ROOT_BENEATH, NULL, ELOOP},
		{"etc/hostname", CAIRN_ROOT_NO_SYMLINKS, "image", 0},
		{"inner/hostname", CAIRN_ROOT_NO_SYMLINKS, NULL, ELOOP},
		{"lnk/hostname", CAIRN_ROOT_NO_SYMLINKS, NULL, ELOOP},
		{"../etc/hostname", CAIRN_ROOT_NO_SYMLINKS, NULL, EXDEV},
	};

	check_open(*state, c, ARRAY_SIZE(c));
}

/* Without openat2, every symlink and every '..' is refused: never the host's file. */
static void test_without_openat2(void **state)
{
	static const struct open_case c[] = {
		{"etc/hostname", CAIRN_ROOT_IN, "image", 0},
		{"/dir//sub/./file", CAIRN_ROOT_IN, "deep", 0},
		{"lnk/hostname", CAIRN_ROOT_IN, NULL, ELOOP},
		{"inner/hostname", CAIRN_ROOT_BENEATH, NULL, ELOOP},
		{"chain1", CAIRN_ROOT_IN, NULL, ELOOP},
		{"../etc/hostname", CAIRN_ROOT_IN, NULL, EXDEV},
		{"dir/../etc/hostname", CAIRN_ROOT_BENEATH, NULL, EXDEV},
	};

	cairn_root_use_openat2(false);
	check_open(*state, c, ARRAY_SIZE(c));
	cairn_root_use_openat2(true);
}

/* A final symlink is kept with O_NOFOLLOW: the link itself, never its target. */
static void test_final_symlink(void **state)
{
	const struct fixture *f = *state;
	int fd = cairn_root_open(f->rootfd, "/dir/../lnk", O_PATH | O_NOFOLLOW, CAIRN_ROOT_IN);
	char target[64] = {0};
	struct stat st;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(readlinkat(fd, "", target, sizeof(target) - 1), 4);
	assert_string_equal(target, "/etc");
	close(fd);
	/* "lnk/." follows it, inside the root */
	fd = cairn_root_open(f->rootfd, "lnk/.", O_PATH | O_NOFOLLOW, CAIRN_ROOT_IN);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(faccessat(fd, "hostname", F_OK, AT_SYMLINK_NOFOLLOW), 0);
	close(fd);
}

static void test_read_file(void **state)
{
	const struct fixture *f = *state;
	struct cairn_buf b = CAIRN_BUF_INIT_MAX(3);
	struct cairn_error *err = NULL;

	assert_int_equal(cairn_root_read_file(f->rootfd, "lnk/hostname", CAIRN_ROOT_IN, &b,
					      "/etc/hostname", &err),
			 CAIRN_ETOOBIG);
	cairn_error_free(err);
	err = NULL;
	cairn_buf_release(&b);
	cairn_buf_init(&b, 0);
	assert_int_equal(cairn_root_read_file(f->rootfd, "chain1", CAIRN_ROOT_IN, &b, "c", &err),
			 0);
	assert_string_equal(b.buf, "image");
	cairn_buf_reset(&b);
	assert_int_equal(
		cairn_root_read_file(f->rootfd, "lnk/hostname", CAIRN_ROOT_BENEATH, &b, "x", &err),
		CAIRN_EINVAL);
	assert_non_null(strstr(err->msg, "leads outside"));
	assert_int_equal(b.len, 0);
	cairn_error_free(err);
	err = NULL;
	assert_int_equal(cairn_root_read_file(f->rootfd, "dir", CAIRN_ROOT_IN, &b, "d", &err),
			 CAIRN_EINVAL);
	cairn_error_free(err);
	err = NULL;
	assert_int_equal(cairn_root_read_file(f->rootfd, "nope", CAIRN_ROOT_IN, &b, "n", &err),
			 CAIRN_ENOTFOUND);
	cairn_error_free(err);
	cairn_buf_release(&b);
}

struct seen {
	struct cairn_buf list;
	int stop_at_depth;
};

static int record(const struct cairn_root_entry *e, void *ud, struct cairn_error **err)
{
	struct seen *s = ud;
	struct stat st;

	(void)err;
	/* dirfd and name name the entry itself */
	assert_int_equal(fstatat(e->dirfd, e->name, &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_ino, e->st.st_ino);
	cairn_buf_addf(&s->list, "%s%s ", e->rel, S_ISLNK(e->st.st_mode) ? "@" : "");
	return 0;
}

static void test_walk(void **state)
{
	const struct fixture *f = *state;
	struct seen s = {.list = CAIRN_BUF_INIT};
	struct cairn_error *err = NULL;
	cleanup_free char *root = xasprintf("%s/root", f->tmp);
	int dirfd;

	put(root, "dir-x", "");
	dirfd = cairn_root_open(f->rootfd, "dir", O_RDONLY | O_DIRECTORY, CAIRN_ROOT_IN);
	assert_true(dirfd >= 0);
	/* a directory's entries follow it at once ("dir-x" after everything in "dir") */
	assert_int_equal(cairn_root_walk(f->rootfd, 8, record, &s, &err), 0);
	assert_string_equal(s.list.buf, "chain1@ chain2@ dir dir/sub dir/sub/file dir-x etc "
					"etc/hostname inner@ lnk@ loop1@ loop2@ mixed@ rel@ ");
	cairn_buf_reset(&s.list);
	/* links that lead out are listed, never entered */
	assert_int_equal(cairn_root_walk(dirfd, 8, record, &s, &err), 0);
	assert_string_equal(s.list.buf, "sub sub/file ");
	cairn_buf_reset(&s.list);
	assert_int_equal(cairn_root_walk(dirfd, 0, record, &s, &err), CAIRN_EINVAL);
	assert_non_null(strstr(err->msg, "deeper than 0 levels"));
	cairn_error_free(err);
	close(dirfd);
	cairn_buf_release(&s.list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_in_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_beneath, setup, teardown),
		cmocka_unit_test_setup_teardown(test_without_openat2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_final_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
