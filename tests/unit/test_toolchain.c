/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the toolchain's ELF handling (reading what an object needs, and rewriting it) and
 * of its copies.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common.h"
#include "toolchain/copy.h"
#include "toolchain/elf.h"
#include "toolchain/spawn.h"
#include "util/fs.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

static int setup(void **state)
{
	char tmpl[] = "/tmp/cairn-test-toolchain-XXXXXX";

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

struct seen {
	char *path[4];
	size_t n;
};

static void on_elf(const char *path, const char *src, void *ud)
{
	struct seen *s = ud;

	(void)src;
	if (s->n < 4)
		s->path[s->n++] = xstrdup(path);
}

/* The host's loader and libc, by reading /bin/true (what the toolchain starts from too). */
static void host_true(struct cairn_elf *e)
{
	struct cairn_error *err = NULL;

	assert_int_equal(cairn_elf_read(e, AT_FDCWD, "/bin/true", &err), 1);
	assert_non_null(e->interp);
	assert_int_equal(e->n_needed, 1);
	assert_string_equal(e->needed[0], "libc.so.6");
	assert_null(e->rpath);
}

/*
 * /bin/true copied into a toolchain made at `dir`, with the host's loader and libc in its lib/,
 * rewritten to load them from there: the interpreter and DT_RPATH read back are the
 * toolchain's, and it runs.
 */
static void test_rewrite_runs_from_the_toolchain(void **state)
{
	const char *dir = *state;
	cleanup_close int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_free char *interp = NULL;
	cleanup_free char *rpath = xasprintf("%s/lib", dir);
	cleanup_free char *loader = NULL;
	cleanup_free char *exe = xasprintf("%s/bin/true", dir);
	struct cairn_copy_opts co = {.on_elf = on_elf};
	struct cairn_error *err = NULL;
	struct cairn_elf host, e;
	struct seen seen = {0};
	char *files[] = {exe};
	const char *run[] = {exe, NULL};
	const char *libc_path;
	struct stat st;
	glob_t g;

	co.ud = &seen;
	host_true(&host);
	loader = xasprintf("lib/%s", strrchr(host.interp, '/') + 1);
	interp = xasprintf("%s/%s", dir, loader);
	assert_int_equal(glob("/lib/*-linux-gnu/libc.so.6", 0, NULL, &g), 0);
	libc_path = g.gl_pathv[0];
	assert_int_equal(cairn_copy_file(root, "bin/true", "/bin/true", &co, &err), 0);
	assert_int_equal(cairn_copy_file(root, loader, host.interp, NULL, &err), 0);
	assert_int_equal(cairn_copy_file(root, "lib/libc.so.6", libc_path, &co, &err), 0);
	/* both ELF files seen, the loader was copied without asking */
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.path[0], "bin/true");
	assert_string_equal(seen.path[1], "lib/libc.so.6");
	assert_int_equal(stat(exe, &st), 0);
	assert_true(st.st_mode & 0111);

	assert_int_equal(cairn_elf_patch(files, 1, interp, rpath, "patchelf", &err), 0);
	assert_int_equal(cairn_elf_read(&e, root, "bin/true", &err), 1);
	assert_string_equal(e.interp, interp);
	assert_non_null(e.rpath);
	assert_string_equal(e.rpath, rpath);
	assert_null(e.runpath);
	assert_int_equal(e.n_needed, 1);
	assert_string_equal(e.needed[0], "libc.so.6");
	assert_int_equal(cairn_spawn_run(NULL, run, &err), 0);

	/* without the loader where the interpreter says, it cannot start at all */
	assert_int_equal(unlinkat(root, loader, 0), 0);
	assert_int_not_equal(cairn_spawn_run(NULL, run, &err), 0);
	cairn_error_free(err);

	cairn_elf_release(&e);
	cairn_elf_release(&host);
	globfree(&g);
	for (size_t i = 0; i < seen.n; i++)
		free(seen.path[i]);
}

/* A DT_RUNPATH (searched after LD_LIBRARY_PATH, for the object alone) becomes a DT_RPATH. */
static void test_rewrite_turns_runpath_into_rpath(void **state)
{
	const char *dir = *state;
	cleanup_close int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_free char *exe = xasprintf("%s/sudo", dir);
	struct cairn_error *err = NULL;
	char *files[] = {exe};
	const char *set[] = {"patchelf", "--set-rpath", "/somewhere", exe, NULL};
	struct cairn_elf e;

	assert_int_equal(cairn_copy_file(root, "sudo", "/bin/true", NULL, &err), 0);
	assert_int_equal(cairn_spawn_run(NULL, set, &err), 0);
	assert_int_equal(cairn_elf_read(&e, root, "sudo", &err), 1);
	assert_string_equal(e.runpath, "/somewhere");
	assert_null(e.rpath);
	cairn_elf_release(&e);
	assert_int_equal(cairn_elf_patch(files, 1, NULL, "/.cairn/toolchain/lib", "patchelf", &err),
			 0);
	assert_int_equal(cairn_elf_read(&e, root, "sudo", &err), 1);
	assert_string_equal(e.rpath, "/.cairn/toolchain/lib");
	assert_null(e.runpath);
	cairn_elf_release(&e);
}

static void test_read_other_files(void **state)
{
	const char *dir = *state;
	cleanup_close int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	static const char script[] = "#!/bin/sh\necho hi\n";
	static const char bad[] = "\177ELF\2\1\1";
	struct cairn_error *err = NULL;
	struct cairn_elf e;

	assert_int_equal(
		cairn_fs_write_atomic_at(root, "script", script, strlen(script), 0755, &err), 0);
	assert_int_equal(cairn_elf_read(&e, root, "script", &err), 0);
	assert_null(e.interp);
	/* an ELF magic with nothing behind it */
	assert_int_equal(cairn_fs_write_atomic_at(root, "short", bad, sizeof(bad) - 1, 0644, &err),
			 0);
	assert_int_equal(cairn_elf_read(&e, root, "short", &err), CAIRN_EINVAL);
	assert_non_null(strstr(err->msg, "'short'"));
	cairn_error_free(err);
	err = NULL;
	assert_int_equal(cairn_elf_read(&e, root, "missing", &err), CAIRN_EOS);
	cairn_error_free(err);
}

/* A script's "#!" line points at the toolchain's python; the rest is the same. */
static void test_copy_script(void **state)
{
	const char *dir = *state;
	cleanup_close int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	static const char script[] = "#! /usr/bin/python3\nimport sys\nprint(1)\n";
	cleanup_free char *src = xasprintf("%s/src.py", dir);
	struct cairn_buf b = CAIRN_BUF_INIT;
	struct cairn_error *err = NULL;
	struct stat st;

	assert_int_equal(
		cairn_fs_write_atomic_at(root, "src.py", script, strlen(script), 0644, &err), 0);
	assert_int_equal(
		cairn_copy_script(root, "bin/tool", src, "/.cairn/toolchain/bin/python3", &err), 0);
	assert_int_equal(cairn_fs_read_at(root, "bin/tool", &b, &err), 0);
	assert_string_equal(b.buf, "#!/.cairn/toolchain/bin/python3\nimport sys\nprint(1)\n");
	assert_int_equal(fstatat(root, "bin/tool", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	cairn_buf_release(&b);
}

/*
 * A tree copy links what it does not rewrite (a text file keeps its inode, mode and time) and
 * copies ELF objects (a new inode, reported to on_elf for rewriting, so the host's file is
 * never patched); a relative symlink is copied, an absolute one left out.
 */
static void test_copy_tree_links_all_but_elf(void **state)
{
	const char *dir = *state;
	cleanup_close int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_free char *src = xasprintf("%s/src", dir);
	cleanup_free char *elf = xasprintf("%s/src/sub/true", dir);
	cleanup_free char *cmd = xasprintf("cp -p /bin/true '%s'", elf);
	struct cairn_copy_opts o = {.on_elf = on_elf};
	struct seen seen = {0};
	struct cairn_error *err = NULL;
	struct stat a, b;
	char target[64];
	ssize_t n;

	o.ud = &seen;
	assert_int_equal(cairn_fs_mkdirs_at(root, "src/sub", 0755, &err), 0);
	assert_int_equal(cairn_fs_write_atomic_at(root, "src/sub/mod.py", "x = 1\n", 6, 0640, &err),
			 0);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(symlinkat("mod.py", root, "src/sub/rel"), 0);
	assert_int_equal(symlinkat("/etc/passwd", root, "src/sub/abs"), 0);
	assert_int_equal(cairn_copy_tree(root, "out/tree", src, &o, &err), 0);

	assert_int_equal(fstatat(root, "src/sub/mod.py", &a, 0), 0);
	assert_int_equal(fstatat(root, "out/tree/sub/mod.py", &b, 0), 0);
	assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	assert_int_equal(b.st_mode & 07777, 0640);

	assert_int_equal(fstatat(root, "src/sub/true", &a, 0), 0);
	assert_int_equal(fstatat(root, "out/tree/sub/true", &b, 0), 0);
	assert_true(a.st_ino != b.st_ino);
	assert_int_equal(b.st_mode & 07777, a.st_mode & 07777);
	assert_int_equal(b.st_size, a.st_size);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.path[0], "out/tree/sub/true");
	free(seen.path[0]);

	n = readlinkat(root, "out/tree/sub/rel", target, sizeof(target) - 1);
	assert_int_equal(n, 6);
	target[n] = '\0';
	assert_string_equal(target, "mod.py");
	assert_int_equal(fstatat(root, "out/tree/sub/abs", &b, AT_SYMLINK_NOFOLLOW), -1);
	assert_int_equal(errno, ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rewrite_runs_from_the_toolchain, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rewrite_turns_runpath_into_rpath, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_read_other_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_script, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_tree_links_all_but_elf, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
