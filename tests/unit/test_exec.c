/* SPDX-License-Identifier: MIT */
/* Unit tests of the shell-stage executor with the real runc and overlayfs (root only). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common.h"
#include "run/exec.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/interrupt.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

struct fixture {
	char *dir;   /* mkdtemp root */
	char *lower; /* dir/lower: a tiny busybox root */
	char *work;  /* dir/work */
	struct cairn_buf out;
	size_t last; /* the command the script stopped at */
};

static const char *const applets[] = {"sh",  "echo", "rm",    "mkdir", "cat",  "ls",
				      "env", "cp",   "false", "true",  "test", "printf"};

static int run(const char *cmd)
{
	return system(cmd) == 0 ? 0 : -1;
}

static int setup(void **state)
{
	char tmpl[] = "/tmp/cairn-test-exec-XXXXXX";
	struct fixture *f;
	char *cmd;
	int r;

	if (geteuid() != 0 || run("command -v runc >/dev/null") < 0 ||
	    access("/bin/busybox", X_OK) < 0) {
		/* under CI (root, runc and busybox-static installed) this never happens */
		if (getenv("CI"))
			return -1;
		skip();
	}
	if (cairn_interrupt_init(NULL) < 0)
		return -1;
	f = xcalloc(1, sizeof(*f));
	if (!mkdtemp(tmpl))
		return -1;
	f->dir = xstrdup(tmpl);
	f->lower = xasprintf("%s/lower", tmpl);
	f->work = xasprintf("%s/work", tmpl);
	cairn_buf_init(&f->out, 0);
	cmd = xasprintf("mkdir -p %s/bin %s/etc %s/data && cp /bin/busybox %s/bin/ && "
			"echo keep >%s/data/keep && echo gone >%s/data/gone",
			f->lower, f->lower, f->lower, f->lower, f->lower, f->lower);
	r = run(cmd);
	free(cmd);
	for (size_t i = 0; i < ARRAY_SIZE(applets) && r == 0; i++) {
		cmd = xasprintf("ln -s busybox %s/bin/%s", f->lower, applets[i]);
		r = run(cmd);
		free(cmd);
	}
	*state = f;
	return r;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char *cmd;
	int r;

	if (!f)
		return 0;
	cairn_exec_cleanup(f->work);
	cmd = xasprintf("rm -rf '%s'", f->dir);
	r = run(cmd);
	free(cmd);
	cairn_buf_release(&f->out);
	free(f->lower);
	free(f->work);
	free(f->dir);
	free(f);
	return r;
}

static void collect(const char *line, size_t len, void *ud)
{
	struct cairn_buf *b = ud;

	cairn_buf_add(b, line, len);
	cairn_buf_addch(b, '|');
}

static int exec_cmds(struct fixture *f, const char *const *cmds, size_t n, int *status,
		     struct cairn_error **err)
{
	struct cairn_exec_opts o = CAIRN_EXEC_OPTS_INIT;
	const char *lower[] = {f->lower};

	f->last = 0;
	o.last_command = &f->last;
	o.lowerdirs = lower;
	o.n_lower = 1;
	o.commands = cmds;
	o.n_commands = n;
	o.work_dir = f->work;
	o.output = collect;
	o.output_ud = &f->out;
	return cairn_exec_shell(status, &o, err);
}

static int mounted(const char *path)
{
	FILE *m = fopen("/proc/self/mountinfo", "r");
	char line[4096];
	int found = 0;

	assert_non_null(m);
	while (fgets(line, sizeof(line), m))
		if (strstr(line, path))
			found = 1;
	fclose(m);
	return found;
}

static void test_changes_land_in_upper(void **state)
{
	static const char *const cmds[] = {"echo new >/data/new", "rm /data/gone",
					   "mkdir -p /app/sub"};
	struct fixture *f = *state;
	struct cairn_error *err = NULL;
	cleanup_free char *newf = xasprintf("%s/upper/data/new", f->work);
	cleanup_free char *gone = xasprintf("%s/upper/data/gone", f->work);
	cleanup_free char *keep = xasprintf("%s/upper/data/keep", f->work);
	cleanup_free char *app = xasprintf("%s/upper/app/sub", f->work);
	cleanup_free char *proc = xasprintf("%s/upper/proc", f->work);
	cleanup_free char *dev = xasprintf("%s/upper/dev", f->work);
	struct stat sb;
	int status = -1;

	assert_int_equal(exec_cmds(f, cmds, ARRAY_SIZE(cmds), &status, &err), 0);
	assert_int_equal(status, 0);
	assert_int_equal(stat(newf, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	/* a deleted lower file is an overlay whiteout: a 0/0 character device */
	assert_int_equal(lstat(gone, &sb), 0);
	assert_true(S_ISCHR(sb.st_mode));
	assert_int_equal(major(sb.st_rdev), 0);
	assert_int_equal(minor(sb.st_rdev), 0);
	assert_int_equal(lstat(keep, &sb), -1);
	assert_int_equal(stat(app, &sb), 0);
	/* mount points the runtime had to create are not part of the change */
	assert_int_equal(lstat(proc, &sb), -1);
	assert_int_equal(lstat(dev, &sb), -1);
	assert_false(mounted(f->work));
}

static void test_exit_status_and_output(void **state)
{
	static const char *const ok[] = {"echo one", "echo two >&2", "echo three"};
	static const char *const bad[] = {"echo before", "exit 7", "echo never"};
	struct fixture *f = *state;
	struct cairn_error *err = NULL;
	int status = -1;

	assert_int_equal(exec_cmds(f, ok, ARRAY_SIZE(ok), &status, &err), 0);
	assert_int_equal(status, 0);
	assert_string_equal(f->out.buf, "one|two|three|");
	cairn_exec_cleanup(f->work);
	cairn_buf_reset(&f->out);
	assert_int_equal(exec_cmds(f, bad, ARRAY_SIZE(bad), &status, &err), 0);
	assert_int_equal(status, 7);
	assert_string_equal(f->out.buf, "before|");
	assert_int_equal(f->last, 2);
	assert_false(mounted(f->work));
}

/* One command per line: a comment, a ';' or '&' at the end, a heredoc; output without markers. */
static void test_script_lines(void **state)
{
	static const char *const cmds[] = {"printf 'no newline'",
					   "echo a # comment",
					   "echo b;",
					   "true &",
					   "cat <<EOF\nhere\nEOF",
					   "false",
					   "echo never"};
	struct fixture *f = *state;
	struct cairn_error *err = NULL;
	int status = -1;

	assert_int_equal(exec_cmds(f, cmds, ARRAY_SIZE(cmds), &status, &err), 0);
	assert_int_equal(status, 1);
	assert_int_equal(f->last, 6);
	assert_string_equal(f->out.buf, "no newline|a|b|here|");
}

static void test_env_and_bind_mount(void **state)
{
	static const char *const cmds[] = {"echo \"$GREETING\" >/greeting",
					   "cp /mnt/host/file /copied"};
	static const char *const env[] = {"PATH=/bin", "GREETING=hello there"};
	struct fixture *f = *state;
	struct cairn_exec_opts o = CAIRN_EXEC_OPTS_INIT;
	struct cairn_exec_mount m = {0};
	struct cairn_error *err = NULL;
	const char *lower[] = {f->lower};
	cleanup_free char *host = xasprintf("%s/host", f->dir);
	cleanup_free char *mk = xasprintf("mkdir -p %s && echo from-host >%s/file", host, host);
	cleanup_free char *greeting = xasprintf("%s/upper/greeting", f->work);
	cleanup_free char *copied = xasprintf("%s/upper/copied", f->work);
	cleanup_free char *mnt = xasprintf("%s/upper/mnt/host", f->work);
	struct cairn_buf b = CAIRN_BUF_INIT;
	struct stat sb;
	int status = -1;

	assert_int_equal(run(mk), 0);
	m.source = host;
	m.destination = "/mnt/host";
	m.readonly = 1;
	o.lowerdirs = lower;
	o.n_lower = 1;
	o.env = env;
	o.n_env = ARRAY_SIZE(env);
	o.commands = cmds;
	o.n_commands = ARRAY_SIZE(cmds);
	o.mounts = &m;
	o.n_mounts = 1;
	o.work_dir = f->work;
	assert_int_equal(cairn_exec_shell(&status, &o, &err), 0);
	assert_int_equal(status, 0);
	assert_int_equal(cairn_fs_read_at(AT_FDCWD, greeting, &b, &err), 0);
	assert_string_equal(b.buf, "hello there\n");
	cairn_buf_reset(&b);
	assert_int_equal(cairn_fs_read_at(AT_FDCWD, copied, &b, &err), 0);
	assert_string_equal(b.buf, "from-host\n");
	/* the mount point is empty in the image: it is not in the change at all */
	assert_int_equal(lstat(mnt, &sb), -1);
	cairn_buf_release(&b);
}

static void test_missing_runtime(void **state)
{
	static const char *const cmds[] = {"true"};
	struct fixture *f = *state;
	struct cairn_exec_opts o = CAIRN_EXEC_OPTS_INIT;
	struct cairn_error *err = NULL;
	const char *lower[] = {f->lower};
	int status = -1;

	o.runtime = "cairn-no-such-runtime";
	o.lowerdirs = lower;
	o.n_lower = 1;
	o.commands = cmds;
	o.n_commands = 1;
	o.work_dir = f->work;
	assert_int_equal(cairn_exec_shell(&status, &o, &err), CAIRN_EOS);
	assert_non_null(strstr(err->msg, "cairn-no-such-runtime"));
	cairn_error_free(err);
	assert_false(mounted(f->work));
}

static void interrupt_on_output(const char *line, size_t len, void *ud)
{
	collect(line, len, ud);
	cairn_interrupt(SIGTERM);
}

static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void test_interrupt_stops_container(void **state)
{
	static const char *const cmds[] = {"echo started", "sleep 30", "echo never"};
	struct fixture *f = *state;
	struct cairn_exec_opts o = CAIRN_EXEC_OPTS_INIT;
	struct cairn_error *err = NULL;
	const char *lower[] = {f->lower};
	cleanup_free char *runtime_state = xasprintf("%s/state", f->work);
	struct timespec t0, t1;
	int status = -1;

	o.lowerdirs = lower;
	o.n_lower = 1;
	o.commands = cmds;
	o.n_commands = ARRAY_SIZE(cmds);
	o.work_dir = f->work;
	o.output = interrupt_on_output;
	o.output_ud = &f->out;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(cairn_exec_shell(&status, &o, &err), CAIRN_EINTERRUPTED);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cairn_interrupt_reset();
	assert_true(t1.tv_sec - t0.tv_sec < 15);
	assert_string_equal(err->msg, "interrupted by SIGTERM");
	cairn_error_free(err);
	assert_string_equal(f->out.buf, "started|");
	/* runc deleted the container (it keeps a state directory per container until then) */
	assert_int_equal(entries(runtime_state), 0);
	assert_false(mounted(f->work));
}

/* Everything mounted below the work dir goes, whatever its name, before the files do. */
static void test_cleanup_unmounts_all_below(void **state)
{
	struct fixture *f = *state;
	struct cairn_error *err = NULL;
	cleanup_free char *lower2 = xasprintf("%s/lower2", f->dir);
	const char *lower[] = {f->lower, lower2};
	cleanup_free char *a = xasprintf("%s/merged", f->work);
	cleanup_free char *b = xasprintf("%s/import 1", f->work);
	cleanup_free char *empty = xasprintf("%s/empty", f->work);

	assert_int_equal(cairn_fs_mkdirs_at(AT_FDCWD, lower2, 0755, &err), 0);
	assert_int_equal(cairn_fs_mkdirs_at(AT_FDCWD, a, 0755, &err), 0);
	assert_int_equal(cairn_fs_mkdirs_at(AT_FDCWD, b, 0755, &err), 0);
	assert_int_equal(cairn_fs_mkdirs_at(AT_FDCWD, empty, 0755, &err), 0);
	assert_int_equal(cairn_exec_mount_ro(a, lower, 1, empty, &err), 0);
	assert_int_equal(cairn_exec_mount_ro(b, lower, 2, empty, &err), 0);
	/* mountinfo shows the space as "\040" */
	assert_true(mounted("/import\\0401 "));

	cairn_exec_cleanup(f->work);
	assert_false(mounted(f->work));
	assert_int_equal(access(f->work, F_OK), -1);
}

/* What a host lacks for shell stages, all of it in one message (fake hosts). */
static void test_check_host(void **state)
{
	static const char fs[] = "nodev\tsysfs\nnodev\ttmpfs\n\text4\nnodev\toverlay\n";
	static const char no_overlay[] = "nodev\tsysfs\n\text4\nnodev\toverlayx\n";
	struct cairn_exec_host ok = {.euid = 0, .path = "/nonexistent:/bin", .filesystems = fs};
	struct cairn_exec_host bad = {
		.euid = 1000, .path = "/nonexistent", .filesystems = no_overlay};
	struct cairn_error *err = NULL;

	(void)state;
	/* sh stands for the runtime: any executable found in $PATH, or named by its path */
	assert_int_equal(cairn_exec_check_host(&ok, "sh", &err), 0);
	assert_int_equal(cairn_exec_check_host(&ok, "/bin/sh", &err), 0);
	assert_int_equal(cairn_exec_check_host(&bad, "sh", &err), CAIRN_EOS);
	assert_string_equal(
		err->msg, "this host cannot run shell stages: not root (uid 1000): shell stages "
			  "mount overlayfs and run containers, which takes root (run cairn as "
			  "root, e.g. with sudo); the OCI runtime 'sh' is not in $PATH (install "
			  "runc: apt-get install runc; or name another with --runtime); the kernel "
			  "has no overlayfs (load it: modprobe overlay)");
	cairn_error_free(err);
	err = NULL;
	/* a loadable module will do; a path that is no executable will not */
	bad.euid = 0;
	bad.overlay_module = true;
	assert_int_equal(cairn_exec_check_host(&bad, "/etc/passwd", &err), CAIRN_EOS);
	assert_string_equal(err->msg, "this host cannot run shell stages: the OCI runtime "
				      "'/etc/passwd' is not an executable file (install runc: "
				      "apt-get install runc; or name another with --runtime)");
	cairn_error_free(err);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_changes_land_in_upper),
		T(test_exit_status_and_output),
		T(test_env_and_bind_mount),
		T(test_missing_runtime),
		T(test_interrupt_stops_container),
		T(test_cleanup_unmounts_all_below),
		T(test_script_lines),
		cmocka_unit_test(test_check_host),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
