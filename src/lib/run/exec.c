/* SPDX-License-Identifier: MIT */
/* Shell stages: overlayfs of the previous layers plus an upper dir, run by an OCI runtime. */
#include "common.h"
#include "run/exec.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/json.h"
#include "util/parse.h"
#include "util/root.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>

extern char **environ;

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* mount(2) takes one page of options; long lowerdir lists need shorter, relative names. */
#define MOUNT_OPTS_MAX 4000
/* `<work>/runtime` names the runtime whose state `<work>/state` holds, for a later cleanup. */
#define RUNTIME_FILE "runtime"
#define RUNTIME_NAME_MAX 4096
/* Interrupted: ask the runtime to stop its container this many times, a second apart. */
#define STOP_TRIES 10

/* Where the runtime mounts things; whichever of these the image lacks it creates. */
static const char *const runtime_targets[] = {
	"/proc", "/dev", "/sys", "/etc/resolv.conf", "/etc/hosts", "/etc/hostname",
};

static const char *const capabilities[] = {
	"CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",	   "CAP_FOWNER",
	"CAP_MKNOD",   "CAP_NET_RAW",	   "CAP_SETGID",	   "CAP_SETUID",
	"CAP_SETFCAP", "CAP_SETPCAP",	   "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
	"CAP_KILL",    "CAP_AUDIT_WRITE",
};

static json_t *string_array(const char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *mount_entry(const char *dest, const char *type, const char *source,
			   const char *const *options, size_t n_options)
{
	return json_pack("{s:s, s:s, s:s, s:o}", "destination", dest, "type", type, "source",
			 source, "options", string_array(options, n_options));
}

/*
 * The process's environment: o->env (else a default PATH), SSH_AUTH_SOCK naming the mounted
 * agent when there is one (instead of any the image sets).
 */
static json_t *process_env(const struct cairn_exec_opts *o, bool agent)
{
	static const char *const default_env[] = {DEFAULT_PATH};
	static const char agent_env[] = "SSH_AUTH_SOCK=" CAIRN_EXEC_SSH_AUTH_SOCK;
	const char *const *env = o->env ? o->env : default_env;
	size_t n = o->env ? o->n_env : 1;
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		if (!agent || strncmp(env[i], "SSH_AUTH_SOCK=", strlen("SSH_AUTH_SOCK=")) != 0)
			json_array_append_new(a, json_string(env[i]));
	if (agent)
		json_array_append_new(a, json_string(agent_env));
	return a;
}

/*
 * `agent`: the host socket of an ssh agent to mount, or NULL; `args`: the process; `hosts`: a
 * file of the work dir for /etc/hosts, or NULL (the host's).
 */
static json_t *runtime_config(const char *rootfs, const struct cairn_exec_opts *o,
			      const char *agent, const char *const *args, size_t n_args,
			      const char *hosts)
{
	static const char *const proc_o[] = {"nosuid", "noexec", "nodev"};
	static const char *const dev_o[] = {"nosuid", "strictatime", "mode=755", "size=65536k"};
	static const char *const pts_o[] = {"nosuid",	     "noexec",	  "newinstance",
					    "ptmxmode=0666", "mode=0620", "gid=5"};
	static const char *const shm_o[] = {"nosuid", "noexec", "nodev", "mode=1777",
					    "size=65536k"};
	static const char *const sys_o[] = {"nosuid", "noexec", "nodev", "ro"};
	static const char *const bind_ro[] = {"rbind", "ro"};
	static const char *const bind_rw[] = {"rbind"};
	static const char *const masked[] = {
		"/proc/kcore",	     "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
		"/proc/sched_debug", "/sys/firmware",	    "/proc/scsi"};
	static const char *const ro_paths[] = {"/proc/asound", "/proc/bus", "/proc/fs",
					       "/proc/irq",    "/proc/sys", "/proc/sysrq-trigger"};
	json_t *caps = string_array(capabilities, ARRAY_SIZE(capabilities));
	json_t *mounts = json_array();
	json_t *cfg;

	json_array_append_new(mounts, mount_entry("/proc", "proc", "proc", proc_o, 3));
	json_array_append_new(mounts, mount_entry("/dev", "tmpfs", "tmpfs", dev_o, 4));
	json_array_append_new(mounts, mount_entry("/dev/pts", "devpts", "devpts", pts_o, 6));
	json_array_append_new(mounts, mount_entry("/dev/shm", "tmpfs", "shm", shm_o, 5));
	json_array_append_new(mounts, mount_entry("/dev/mqueue", "mqueue", "mqueue", proc_o, 3));
	json_array_append_new(mounts, mount_entry("/sys", "sysfs", "sysfs", sys_o, 4));
	/* The host network is shared, so is its name resolution. */
	for (size_t i = 3; i < ARRAY_SIZE(runtime_targets); i++) {
		const char *src = runtime_targets[i];

		if (hosts && strcmp(src, "/etc/hosts") == 0)
			src = hosts;
		if (access(src, R_OK) == 0)
			json_array_append_new(
				mounts, mount_entry(runtime_targets[i], "bind", src, bind_ro, 2));
	}
	for (size_t i = 0; i < o->n_mounts; i++)
		json_array_append_new(mounts, mount_entry(o->mounts[i].destination, "bind",
							  o->mounts[i].source,
							  o->mounts[i].readonly ? bind_ro : bind_rw,
							  o->mounts[i].readonly ? 2 : 1));
	if (agent)
		json_array_append_new(
			mounts, mount_entry(CAIRN_EXEC_SSH_AUTH_SOCK, "bind", agent, bind_ro, 2));
	if (o->toolchain_dir)
		json_array_append_new(
			mounts, mount_entry(o->toolchain_at, "bind", o->toolchain_dir, bind_ro, 2));
	cfg = json_pack("{s:s, s:{s:b, s:{s:i, s:i}, s:o, s:o, s:s, s:{s:O, s:O, s:O, s:O}, s:b},"
			" s:{s:s, s:b}, s:s, s:o,"
			" s:{s:[{s:s},{s:s},{s:s},{s:s}], s:o, s:o, s:{s:[{s:b, s:s}]}}}",
			"ociVersion", "1.0.2", "process", "terminal", 0, "user", "uid", o->uid,
			"gid", o->gid, "args", string_array(args, n_args), "env",
			process_env(o, agent != NULL), "cwd", o->cwd ? o->cwd : "/", "capabilities",
			"bounding", caps, "effective", caps, "permitted", caps, "ambient", caps,
			"noNewPrivileges", 0, "root", "path", rootfs, "readonly", 0, "hostname",
			"cairn", "mounts", mounts, "linux", "namespaces", "type", "pid", "type",
			"ipc", "type", "uts", "type", "mount", "maskedPaths",
			string_array(masked, ARRAY_SIZE(masked)), "readonlyPaths",
			string_array(ro_paths, ARRAY_SIZE(ro_paths)), "resources", "devices",
			"allow", 0, "access", "rwm");
	json_decref(caps);
	if (!cfg)
		abort();
	if (o->no_network)
		json_array_append_new(json_object_get(json_object_get(cfg, "linux"), "namespaces"),
				      json_pack("{s:s}", "type", "network"));
	return cfg;
}

/*
 * "c1 && c2 && ...", after a line that sends stderr to stdout: the runtime copies the two
 * streams through separate pipes, and only one stream keeps what the commands print in order.
 */
/*
 * What the script prints before each command, so that cairn knows which one failed: a line no
 * command prints, taken out of the output (STEP_MARK then the 1-based index).
 */
/* Longer than this, a script would not fit in one argument (MAX_ARG_STRLEN). */
#define SCRIPT_MAX (128u * 1024 - 1)

#define STEP_MARK "\036cairn-command "

/*
 * The script: stderr sent to stdout first (the runtime copies the two streams through separate
 * pipes, and only one stream keeps what the commands print in order), `set -e`, then each
 * command on its own line after its marker, as werf writes its stage scripts.
 */
static char *script_of(const struct cairn_exec_opts *o)
{
	struct cairn_buf b = CAIRN_BUF_INIT;

	cairn_buf_addstr(&b, "exec 2>&1\nset -e\n");
	for (size_t i = 0; i < o->n_commands; i++)
		cairn_buf_addf(&b, "printf '" STEP_MARK "%zu\\n'\n%s\n", i + 1, o->commands[i]);
	return cairn_buf_detach(&b, NULL);
}

/* How long the arguments of o->argv are together. */
static size_t args_size(const struct cairn_exec_opts *o)
{
	size_t n = 0;

	for (size_t i = 0; i < o->n_argv; i++)
		n += strlen(o->argv[i]) + 1;
	return n;
}

/* The host's /etc/hosts, then o->extra_hosts as "IP\tHOST" lines, into `path`. */
static int write_hosts(const char *path, const struct cairn_exec_opts *o, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	struct cairn_error *e = NULL;

	if (cairn_fs_read_at(AT_FDCWD, "/etc/hosts", &b, &e) < 0)
		cairn_error_free(e);
	if (b.len && b.buf[b.len - 1] != '\n')
		cairn_buf_addstr(&b, "\n");
	for (size_t i = 0; i < o->n_extra_hosts; i++) {
		const char *h = o->extra_hosts[i];
		const char *colon = strchr(h, ':');

		if (!colon)
			continue;
		cairn_buf_addf(&b, "%s\t%.*s\n", colon + 1, (int)(colon - h), h);
	}
	return cairn_fs_write_atomic_at(AT_FDCWD, path, b.buf ? b.buf : "", b.len, 0644, err);
}

/* The image's bash (werf runs its scripts with bash), else the toolchain's, else /bin/sh. */
static const char *script_shell(int rootfd, const struct cairn_exec_opts *o)
{
	static const char *const bashes[] = {"/bin/bash", "/usr/bin/bash"};

	for (size_t i = 0; i < ARRAY_SIZE(bashes); i++) {
		cleanup_close int fd = cairn_root_open(rootfd, bashes[i], O_PATH, CAIRN_ROOT_IN);
		struct stat st;

		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111))
			return bashes[i];
	}
	if (o->toolchain_dir && o->toolchain_bash)
		return o->toolchain_bash;
	return "/bin/sh";
}

/* The directory all of `dirs` live in, when they share one; else NULL. */
static char *common_parent(const char *const *dirs, size_t n)
{
	const char *slash;
	size_t len;

	if (n == 0)
		return NULL;
	slash = strrchr(dirs[0], '/');
	if (!slash || slash == dirs[0])
		return NULL;
	len = (size_t)(slash - dirs[0]);
	for (size_t i = 1; i < n; i++)
		if (strncmp(dirs[i], dirs[0], len) != 0 || dirs[i][len] != '/' ||
		    strchr(dirs[i] + len + 1, '/'))
			return NULL;
	return xstrndup(dirs[0], len);
}

/* An overlay mount done on a thread of its own (see overlay_mount()). */
struct mount_job {
	const char *parent; /* entered first, NULL: none */
	const char *target;
	struct cairn_buf *opts;
	unsigned long flags;
	bool entered;
	int err_no; /* 0: mounted */
};

static void *mount_thread(void *arg)
{
	struct mount_job *j = arg;
	size_t base = j->opts->len;
	int rc;

	if (j->parent && (unshare(CLONE_FS) < 0 || chdir(j->parent) < 0)) {
		j->err_no = errno;
		return NULL;
	}
	j->entered = true;
	/*
	 * Without redirects and metacopy the upper dir holds plain files and whiteouts only,
	 * which is what the layer converter takes; older kernels lack the options.
	 */
	cairn_buf_addstr(j->opts, ",redirect_dir=off,metacopy=off");
	rc = mount("overlay", j->target, "overlay", j->flags, j->opts->buf);
	if (rc < 0 && errno == EINVAL) {
		cairn_buf_setlen(j->opts, base);
		rc = mount("overlay", j->target, "overlay", j->flags, j->opts->buf);
	}
	j->err_no = rc < 0 ? errno : 0;
	return NULL;
}

/*
 * Mount an overlay of `lowers` (base first) at `target`: writable into `work`/upper when
 * `work` is set, else read-only. An empty list stands for `empty_dir`.
 */
static int overlay_mount(const char *target, const char *const *lowers, size_t n_lower,
			 const char *empty_dir, const char *work, struct cairn_error **err)
{
	cleanup_free char *parent = common_parent(lowers, n_lower);
	struct cairn_buf opts = CAIRN_BUF_INIT;
	int ret = 0;

	if (!work && n_lower <= 1) {
		/* overlayfs wants two layers to stack read-only; one (or none) is a plain bind */
		const char *src = n_lower ? lowers[0] : empty_dir;

		if (mount(src, target, NULL, MS_BIND, NULL) < 0 ||
		    mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
			return cairn_error_set_errno(err, "bind '%s' on '%s'", src, target);
		return 0;
	}
	cairn_buf_addstr(&opts, work ? "lowerdir=" : "ro,lowerdir=");
	if (n_lower == 0)
		cairn_buf_addstr(&opts, empty_dir);
	/* overlayfs lists the top-most layer first */
	for (size_t i = n_lower; i-- > 0;) {
		const char *d = parent ? lowers[i] + strlen(parent) + 1 : lowers[i];

		cairn_buf_addf(&opts, "%s%s", i + 1 == n_lower ? "" : ":", d);
	}
	if (work)
		cairn_buf_addf(&opts, ",upperdir=%s/upper,workdir=%s/work", work, work);
	if (opts.len > MOUNT_OPTS_MAX) {
		ret = cairn_error_set(err, CAIRN_ETOOBIG,
				      "mount overlay: %zu layers make %zu bytes of options, more "
				      "than the kernel takes",
				      n_lower, opts.len);
		goto out;
	}
	{
		struct mount_job j = {.parent = parent,
				      .target = target,
				      .opts = &opts,
				      .flags = work ? 0 : MS_RDONLY};
		pthread_t t;

		/*
		 * Relative lowerdirs resolve against the working directory at mount time: a
		 * thread with a working directory of its own enters `parent` and mounts, so that
		 * the process's (other threads' relative paths) never moves.
		 */
		if (pthread_create(&t, NULL, mount_thread, &j) != 0) {
			ret = cairn_error_set(err, CAIRN_EOS, "mount overlay: no thread");
			goto out;
		}
		pthread_join(t, NULL);
		errno = j.err_no;
		if (!j.entered)
			ret = cairn_error_set_errno(err, "mount overlay: enter '%s'", parent);
		else if (j.err_no)
			ret = cairn_error_set_errno(err, "mount overlay on '%s'", target);
	}
out:
	cairn_buf_release(&opts);
	return ret;
}

static int mount_overlay(const char *work, const struct cairn_exec_opts *o,
			 struct cairn_error **err)
{
	cleanup_free char *merged = xasprintf("%s/merged", work);
	cleanup_free char *empty = xasprintf("%s/empty", work);

	return overlay_mount(merged, o->lowerdirs, o->n_lower, empty, work, err);
}

int cairn_exec_mount_ro(const char *target, const char *const *lowerdirs, size_t n_lower,
			const char *empty_dir, struct cairn_error **err)
{
	return overlay_mount(target, lowerdirs, n_lower, empty_dir, NULL, err);
}

void cairn_exec_spawn_attr_init(posix_spawnattr_t *a)
{
	sigset_t def, none;

	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGHUP);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGQUIT);
	posix_spawnattr_init(a);
	posix_spawnattr_setsigdefault(a, &def);
	posix_spawnattr_setsigmask(a, &none);
	posix_spawnattr_setpgroup(a, 0);
	posix_spawnattr_setflags(a, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
					    POSIX_SPAWN_SETPGROUP);
}

/* Run `argv` with no input and its output dropped, and wait for it. */
static void run_quiet(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	pid_t pid;
	int wst, rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	cairn_exec_spawn_attr_init(&attr);
	rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return;
	while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
		;
}

/* The runtime recorded in `work`, else "runc" (a new string). */
static char *recorded_runtime(const char *work)
{
	cleanup_free char *path = xasprintf("%s/" RUNTIME_FILE, work);
	struct cairn_buf b = CAIRN_BUF_INIT_MAX(RUNTIME_NAME_MAX);
	struct cairn_error *e = NULL;

	if (cairn_fs_read_at(AT_FDCWD, path, &b, &e) < 0 || b.len == 0 ||
	    memchr(b.buf, '\0', b.len)) {
		cairn_error_free(e);
		cairn_buf_release(&b);
		return xstrdup("runc");
	}
	return cairn_buf_detach(&b, NULL);
}

/* `runtime kill ID KILL`, then `runtime delete --force ID`, which waits until it is gone. */
static void stop_container(const char *runtime, const char *state, const char *id)
{
	cleanup_free char *rt = xstrdup(runtime);
	cleanup_free char *root = xstrdup(state);
	cleanup_free char *name = xstrdup(id);
	char a_root[] = "--root", a_kill[] = "kill", a_sig[] = "KILL", a_delete[] = "delete",
	     a_force[] = "--force";
	char *kill_argv[] = {rt, a_root, root, a_kill, name, a_sig, NULL};
	char *delete_argv[] = {rt, a_root, root, a_delete, a_force, name, NULL};

	cairn_log(CAIRN_LOG_DEBUG, "stop container '%s' of runtime '%s' in '%s'", id, runtime,
		  state);
	run_quiet(kill_argv);
	run_quiet(delete_argv);
}

/* Stop every container whose runtime state is in `<work>/state`. */
static void stop_containers(const char *work)
{
	cleanup_free char *state = xasprintf("%s/state", work);
	cleanup_free char *runtime = NULL;
	char **ids = NULL;
	size_t n = 0;
	DIR *d = opendir(state);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		ids = xreallocarray(ids, n + 1, sizeof(*ids));
		ids[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (n)
		runtime = recorded_runtime(work);
	for (size_t i = 0; i < n; i++) {
		stop_container(runtime, state, ids[i]);
		free(ids[i]);
	}
	free(ids);
}

/* Undo mountinfo's octal escapes ("\040" for a space...) in place. */
static void unescape_mount_point(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* Detach every mount at or below `dir`, the last mounted (the innermost) first. */
static void unmount_below(const char *dir)
{
	cleanup_free char *root = realpath(dir, NULL);
	cleanup_free char *line = NULL;
	char **points = NULL;
	size_t cap = 0, len, n = 0;
	FILE *f;

	if (!root)
		return;
	len = strlen(root);
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return;
	while (getline(&line, &cap, f) > 0) {
		/* "ID PARENT MAJOR:MINOR ROOT MOUNT-POINT OPTIONS ..." */
		char *save = NULL, *p = strtok_r(line, " ", &save);

		for (int field = 1; p && field < 5; field++)
			p = strtok_r(NULL, " ", &save);
		if (!p)
			continue;
		unescape_mount_point(p);
		if (strncmp(p, root, len) == 0 && (p[len] == '\0' || p[len] == '/')) {
			points = xreallocarray(points, n + 1, sizeof(*points));
			points[n++] = xstrdup(p);
		}
	}
	fclose(f);
	while (n-- > 0) {
		umount2(points[n], MNT_DETACH);
		free(points[n]);
	}
	free(points);
}

void cairn_exec_cleanup(const char *work_dir)
{
	stop_containers(work_dir);
	unmount_below(work_dir);
	cairn_fs_remove_tree(AT_FDCWD, work_dir, NULL);
}

/* One line of output to o->output, the script's command markers taken out of it. */
static void emit_line(const struct cairn_exec_opts *o, struct cairn_buf *line)
{
	/* a command that printed no final newline has the next marker after its text */
	char *mark = memmem(line->buf, line->len, STEP_MARK, strlen(STEP_MARK));
	size_t len = mark ? (size_t)(mark - line->buf) : line->len;
	uint64_t v;

	if (mark && o->last_command &&
	    cairn_parse_u64(&v, mark + strlen(STEP_MARK), o->n_commands, "command", NULL) == 0)
		*o->last_command = (size_t)v;
	if (o->output && (len || !mark))
		o->output(line->buf, len, o->output_ud);
}

/* Pass the runtime's output to o->output line by line until it ends or cairn is interrupted. */
static void stream_output(int fd, const struct cairn_exec_opts *o)
{
	struct cairn_buf line = CAIRN_BUF_INIT_MAX(64 * 1024);
	char buf[8192];

	while (!cairn_interrupted()) {
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
				      {.fd = cairn_interrupt_fd(), .events = POLLIN}};
		ssize_t n;
		int r;

		/* without the wake-up pipe, a signal just before poll() is seen 100 ms late */
		r = poll(p, 2, p[1].fd >= 0 ? -1 : 100);
		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0 || !p[0].revents)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n' || line.err) {
				emit_line(o, &line);
				cairn_buf_reset(&line);
				if (buf[i] == '\n')
					continue;
			}
			cairn_buf_addch(&line, buf[i]);
		}
	}
	if (line.len)
		emit_line(o, &line);
	cairn_buf_release(&line);
}

/* 1 once the child has exited (its status in *wst), 0 while it runs, -1 with errno. */
static int reaped(pid_t pid, int *wst)
{
	pid_t r;

	do
		r = waitpid(pid, wst, WNOHANG);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -1 : r != 0;
}

/*
 * Wait for the runtime to exit. Once interrupted, stop its container (and should the runtime
 * still not exit, kill it and stop the container again): nothing of the run outlives this.
 * 0, or -1 with errno when it cannot be waited for.
 */
static int wait_runtime(pid_t pid, int *wst, const char *work)
{
	cleanup_close int pidfd = pidfd_open(pid, 0);
	int tries = 0, done;

	while ((done = reaped(pid, wst)) == 0) {
		struct pollfd p[2] = {{.fd = pidfd, .events = POLLIN},
				      {.fd = cairn_interrupt_fd(), .events = POLLIN}};
		int timeout = pidfd >= 0 && p[1].fd >= 0 ? -1 : 100;

		if (cairn_interrupted()) {
			if (tries++ < STOP_TRIES)
				stop_containers(work);
			else
				kill(pid, SIGKILL);
			p[1].fd = -1; /* readable for good now */
			timeout = 1000;
		}
		poll(p, 2, timeout);
	}
	if (tries > STOP_TRIES)
		stop_containers(work);
	return done < 0 ? -1 : 0;
}

/* Run the runtime, streaming its output line by line; returns the exit status in *status. */
static int run_runtime(int *status, const char *work, const char *id,
		       const struct cairn_exec_opts *o, struct cairn_error **err)
{
	const char *runtime = o->runtime ? o->runtime : "runc";
	cleanup_free char *state = xasprintf("%s/state", work);
	cleanup_free char *bundle = xasprintf("%s/bundle", work);
	cleanup_free char *rt = xstrdup(runtime);
	cleanup_free char *id_copy = xstrdup(id);
	char a_root[] = "--root", a_run[] = "run", a_bundle[] = "--bundle";
	char *argv[] = {rt, a_root, state, a_run, a_bundle, bundle, id_copy, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int pipefd[2], wst = 0, ret;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return cairn_error_set_errno(err, "run '%s': pipe", runtime);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	cairn_exec_spawn_attr_init(&attr);
	ret = posix_spawnp(&pid, runtime, &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (ret != 0) {
		close(pipefd[0]);
		errno = ret;
		return cairn_error_set_errno(err, "run OCI runtime '%s'", runtime);
	}
	stream_output(pipefd[0], o);
	close(pipefd[0]);
	ret = wait_runtime(pid, &wst, work);
	/* interrupted while the container ran: its status is cairn's doing, not the commands' */
	if (cairn_interrupted())
		return cairn_interrupt_check(err);
	if (ret < 0)
		return cairn_error_set_errno(err, "wait for '%s'", runtime);
	if (WIFEXITED(wst))
		*status = WEXITSTATUS(wst);
	else if (WIFSIGNALED(wst))
		*status = 128 + WTERMSIG(wst);
	return 0;
}

/* Whether `path` exists in the image, looked up inside it (a final symlink counts). */
static bool in_image(int rootfd, const char *path)
{
	int fd = cairn_root_open(rootfd, path, O_PATH | O_NOFOLLOW, CAIRN_ROOT_IN);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/*
 * A mount point the runtime creates because the image lacks it: `path`, whose first `top`
 * bytes name the highest directory above it (or the point itself) that the image lacks too.
 */
struct mount_point {
	const char *path;
	size_t top;
};

/* Add `path` to `v` when the image lacks it (the runtime will create it, parents included). */
static void note_mount_point(struct mount_point *v, size_t *n, int rootfd, const char *path)
{
	size_t top = strlen(path);

	if (in_image(rootfd, path))
		return;
	for (const char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
		cleanup_free char *dir = xstrndup(path, (size_t)(s - path));

		if (!in_image(rootfd, dir)) {
			top = (size_t)(s - path);
			break;
		}
	}
	v[(*n)++] = (struct mount_point){.path = path, .top = top};
}

/*
 * Remove `name` in `dirfd` of the upper dir: a mount point (`leaf`) when it holds nothing of
 * the commands, a directory above one when empty. Whether it is gone.
 */
static bool drop_one(int dirfd, const char *name, bool leaf)
{
	struct stat sb;

	if (!leaf)
		return unlinkat(dirfd, name, AT_REMOVEDIR) == 0;
	if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	/* /dev or /proc left with only runtime leftovers: both are empty trees */
	if (S_ISDIR(sb.st_mode))
		return cairn_fs_remove_tree(dirfd, name, NULL) == 0;
	return S_ISREG(sb.st_mode) && sb.st_size == 0 && unlinkat(dirfd, name, 0) == 0;
}

/*
 * Remove from the upper dir what the runtime created only to mount on: each mount point, then
 * the directories it made above it, as long as the commands left them empty. The commands may
 * have replaced a parent with a symlink: those are left alone, nothing is resolved on the host.
 */
static void drop_mount_points(const char *work, const struct mount_point *created, size_t n)
{
	cleanup_free char *upper = xasprintf("%s/upper", work);
	cleanup_close int ufd = open(upper, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	for (size_t i = 0; ufd >= 0 && i < n; i++) {
		cleanup_free char *path = xstrdup(created[i].path);
		bool leaf = true;
		char *slash;

		while (strlen(path) >= created[i].top && (slash = strrchr(path, '/'))) {
			cleanup_close int pfd = -1;

			*slash = '\0';
			pfd = cairn_root_open(ufd, path, O_PATH | O_DIRECTORY | O_NOFOLLOW,
					      CAIRN_ROOT_NO_SYMLINKS);
			if (pfd < 0 || !drop_one(pfd, slash + 1, leaf))
				break;
			leaf = false;
		}
	}
}

/* The agent socket to mount: o->ssh_auth_sock made absolute, when it is a socket (a new string). */
static char *agent_socket(const struct cairn_exec_opts *o)
{
	char *path;
	struct stat st;

	if (!o->ssh_auth_sock || !*o->ssh_auth_sock)
		return NULL;
	path = realpath(o->ssh_auth_sock, NULL);
	if (!path || stat(path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		cairn_log(CAIRN_LOG_DEBUG,
			  "SSH_AUTH_SOCK '%s' is no socket: no ssh agent in the run",
			  o->ssh_auth_sock);
		free(path);
		return NULL;
	}
	return path;
}

int cairn_exec_shell(int *status, const struct cairn_exec_opts *o, struct cairn_error **err)
{
	static atomic_uint counter;
	static const char *const subdirs[] = {"upper",	"work",	 "merged",
					      "bundle", "state", "empty"};
	const char *work = o->work_dir;
	const char *runtime = o->runtime ? o->runtime : "runc";
	cleanup_free char *merged = xasprintf("%s/merged", work);
	cleanup_free char *script = script_of(o);
	cleanup_free char *id = NULL;
	cleanup_json json_t *cfg = NULL;
	CLEANUP(cairn_buf_release) struct cairn_buf cfgbuf = CAIRN_BUF_INIT;
	cleanup_free char *agent = agent_socket(o);
	cleanup_free char *hosts = NULL;
	cleanup_free struct mount_point *created =
		xcalloc(ARRAY_SIZE(runtime_targets) + o->n_mounts + 2, sizeof(*created));
	size_t n_created = 0;
	cleanup_close int mfd = -1;
	cleanup_close int bfd = -1;
	int ret;

	*status = -1;
	ret = cairn_interrupt_check(err);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < ARRAY_SIZE(subdirs); i++) {
		cleanup_free char *d = xasprintf("%s/%s", work, subdirs[i]);

		ret = cairn_fs_mkdirs_at(AT_FDCWD, d, 0755, err);
		if (ret < 0)
			return ret;
	}
	ret = mount_overlay(work, o, err);
	if (ret < 0)
		return ret;
	mfd = open(merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0) {
		ret = cairn_error_set_errno(err, "open '%s'", merged);
		goto out;
	}
	for (size_t i = 0; i < ARRAY_SIZE(runtime_targets); i++)
		note_mount_point(created, &n_created, mfd, runtime_targets[i]);
	for (size_t i = 0; i < o->n_mounts; i++)
		note_mount_point(created, &n_created, mfd, o->mounts[i].destination);
	if (agent)
		note_mount_point(created, &n_created, mfd, CAIRN_EXEC_SSH_AUTH_SOCK);
	if (o->toolchain_dir)
		note_mount_point(created, &n_created, mfd, o->toolchain_at);
	if (strlen(script) >= SCRIPT_MAX || args_size(o) >= SCRIPT_MAX) {
		ret = cairn_error_set(err, CAIRN_EINVAL,
				      "the commands are longer than the %u bytes a script may have",
				      SCRIPT_MAX);
		goto out;
	}
	if (o->n_extra_hosts) {
		hosts = xasprintf("%s/hosts", work);
		ret = write_hosts(hosts, o, err);
		if (ret < 0)
			goto out;
	}
	if (o->argv) {
		cfg = runtime_config(merged, o, agent, o->argv, o->n_argv, hosts);
	} else {
		const char *args[] = {script_shell(mfd, o), "-c", script};

		cfg = runtime_config(merged, o, agent, args, 3, hosts);
	}
	ret = cairn_json_dump(&cfgbuf, cfg, err);
	if (ret < 0)
		goto out;
	bfd = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0) {
		ret = cairn_error_set_errno(err, "open '%s'", work);
		goto out;
	}
	ret = cairn_fs_write_atomic_at(bfd, "bundle/config.json", cfgbuf.buf, cfgbuf.len, 0600,
				       err);
	if (ret == 0)
		ret = cairn_fs_write_atomic_at(bfd, RUNTIME_FILE, runtime, strlen(runtime), 0600,
					       err);
	if (ret < 0)
		goto out;
	id = xasprintf("cairn-%d-%u", (int)getpid(), atomic_fetch_add(&counter, 1));
	cairn_log(CAIRN_LOG_DEBUG, "run '%s' in %s", o->argv ? o->argv[o->n_argv - 1] : script,
		  work);
	ret = run_runtime(status, work, id, o, err);
out:
	close(mfd);
	mfd = -1;
	if (umount2(merged, 0) < 0 && umount2(merged, MNT_DETACH) < 0 && ret == 0)
		ret = cairn_error_set_errno(err, "unmount '%s'", merged);
	if (ret == 0)
		drop_mount_points(work, created, n_created);
	return ret;
}

/* ---- what the host must offer ---- */

/* Whether `name` (a path when it holds '/') is an executable file, looked up in `path`. */
static bool runnable(const char *name, const char *path)
{
	const char *p = path;

	if (strchr(name, '/'))
		return access(name, X_OK) == 0;
	while (p && *p) {
		size_t n = strcspn(p, ":");
		cleanup_free char *f = xasprintf("%.*s/%s", (int)(n ? n : 1), n ? p : ".", name);
		struct stat st;

		if (stat(f, &st) == 0 && S_ISREG(st.st_mode) && access(f, X_OK) == 0)
			return true;
		p += n + (p[n] == ':');
	}
	return false;
}

static bool has_overlay(const struct cairn_exec_host *h)
{
	const char *p = h->filesystems;

	while (p && *p) {
		size_t n = strcspn(p, "\n");
		const char *name = memchr(p, '\t', n);

		name = name ? name + 1 : p;
		if ((size_t)(p + n - name) == 7 && memcmp(name, "overlay", 7) == 0)
			return true;
		p += n + (p[n] == '\n');
	}
	return h->overlay_module;
}

int cairn_exec_check_host(const struct cairn_exec_host *h, const char *runtime,
			  struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	const char *rt = runtime ? runtime : "runc";

	if (h->euid != 0)
		cairn_buf_addf(&b,
			       "; not root (uid %u): shell stages mount overlayfs and run "
			       "containers, which takes root (run cairn as root, e.g. with sudo)",
			       h->euid);
	if (!runnable(rt, h->path))
		cairn_buf_addf(&b,
			       "; the OCI runtime '%s' is not %s (install runc: apt-get install "
			       "runc; or name another with --runtime)",
			       rt, strchr(rt, '/') ? "an executable file" : "in $PATH");
	if (!has_overlay(h))
		cairn_buf_addstr(&b, "; the kernel has no overlayfs (load it: modprobe overlay)");
	if (!b.len)
		return 0;
	return cairn_error_set(err, CAIRN_EOS, "this host cannot run shell stages:%s", b.buf + 1);
}

int cairn_exec_check(const char *runtime, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf fs = CAIRN_BUF_INIT;
	struct cairn_exec_host h = {.euid = geteuid(), .path = getenv("PATH")};
	struct cairn_error *e = NULL;
	struct utsname u;

	if (cairn_fs_read_at(AT_FDCWD, "/proc/filesystems", &fs, &e) == 0 && fs.len)
		h.filesystems = fs.buf;
	cairn_error_free(e);
	if (uname(&u) == 0) {
		cleanup_free char *mod =
			xasprintf("/lib/modules/%s/kernel/fs/overlayfs", u.release);

		h.overlay_module = access(mod, F_OK) == 0;
	}
	return cairn_exec_check_host(&h, runtime, err);
}
