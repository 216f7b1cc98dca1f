/* SPDX-License-Identifier: MIT */
/* A private ssh-agent holding the keys of --ssh-key, for the containers and git of one run. */
#include "common.h"
#include "cairn/build.h"
#include "run/exec.h"
#include "util/buf.h"
#include "util/interrupt.h"
#include "util/parse.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

#define SOCKET_NAME "agent.sock"
#define SOCKET_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
/* what the agent's command prints first (its pid), or ssh-agent's complaint */
#define FIRST_LINE_MAX 512
/* what ssh-add prints (for the error message): key names and complaints, never a key */
#define ADD_OUTPUT_MAX 1024
#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 5000

/*
 * The command ssh-agent runs, and which it lives no longer than (it checks every 10 s): it
 * prints the agent's pid, then waits for the end of its stdin, which only cairn holds open. A
 * killed cairn closes it, so the agent never outlives cairn by more than those 10 s. (A parent
 * death signal would not do: Debian's ssh-agent is setgid, and executing it clears that.)
 */
static const char keeper_script[] = "echo \"$SSH_AGENT_PID\"; exec cat >/dev/null";

struct cairn_ssh_agent {
	char *dir;     /* private directory (0700) holding the socket */
	char *socket;  /* <dir>/agent.sock */
	pid_t keeper;  /* cairn's child: ssh-agent's command */
	int keeper_in; /* the write end of its stdin */
	pid_t pid;     /* the agent (the keeper's child) */
	int pidfd;     /* of the agent */
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* The program `name` in $PATH (a new string), or NULL. */
static char *find_program(const char *name)
{
	const char *path = getenv("PATH");
	cleanup_free char *copy = xstrdup(path && *path ? path : "/usr/bin:/bin");
	char *save = NULL;

	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char *p = xasprintf("%s/%s", *d ? d : ".", name);

		if (access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

static int need_program(char **out, const char *name, struct cairn_error **err)
{
	*out = find_program(name);
	if (!*out)
		return cairn_error_set(err, CAIRN_ENOTFOUND,
				       "'%s' not found in PATH (Debian: openssh-client)", name);
	return 0;
}

/* Each key must be a regular file cairn can read; it is never read here. */
static int check_keys(const char *const *keys, size_t n, struct cairn_error **err)
{
	for (size_t i = 0; i < n; i++) {
		cleanup_close int fd = open(keys[i], O_RDONLY | O_CLOEXEC | O_NOCTTY);
		struct stat st;

		if (fd < 0 && errno == ENOENT)
			return cairn_error_set(err, CAIRN_ENOTFOUND, "ssh key '%s': no such file",
					       keys[i]);
		if (fd < 0 || fstat(fd, &st) < 0)
			return cairn_error_set_errno(err, "ssh key '%s'", keys[i]);
		if (!S_ISREG(st.st_mode))
			return cairn_error_set(err, CAIRN_EINVAL,
					       "ssh key '%s': not a regular file", keys[i]);
	}
	return 0;
}

/*
 * Read what `fd` gives into `b` (up to its max; the rest is dropped) until end of file, or
 * until a newline with `line`; gives up at `deadline` (ms) or when cairn is interrupted.
 */
static void read_until(struct cairn_buf *b, int fd, bool line, double deadline)
{
	char chunk[256];

	while (!cairn_interrupted() && !(line && memchr(b->buf, '\n', b->len))) {
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
				      {.fd = cairn_interrupt_fd(), .events = POLLIN}};
		double left = deadline - now_ms();
		ssize_t n;

		if (left <= 0)
			break;
		if (poll(p, 2, left > 100 ? 100 : (int)left + 1) < 0 && errno != EINTR)
			break;
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (b->len + (size_t)n <= b->max)
			cairn_buf_add(b, chunk, (size_t)n);
	}
}

/* What a child printed, on one line, for a message: newlines joined, trailing space cut. */
static void one_line(struct cairn_buf *b)
{
	for (size_t i = 0; i < b->len; i++)
		if (b->buf[i] == '\n' || b->buf[i] == '\r' || (unsigned char)b->buf[i] < 0x20)
			b->buf[i] = ' ';
	while (b->len && b->buf[b->len - 1] == ' ')
		cairn_buf_setlen(b, b->len - 1);
}

/* Wait for the child `pid`; its status as a shell gives it (128+N for a signal), or -1. */
static int reap(pid_t pid)
{
	int wst;

	while (waitpid(pid, &wst, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(wst))
		return WEXITSTATUS(wst);
	return WIFSIGNALED(wst) ? 128 + WTERMSIG(wst) : -1;
}

/* Whether `pidfd`'s process has exited, waiting up to `ms` for it. */
static bool gone_within(int pidfd, int ms)
{
	double deadline = now_ms() + ms;

	for (;;) {
		struct pollfd p = {.fd = pidfd, .events = POLLIN};
		double left = deadline - now_ms();
		int r;

		if (left < 0)
			return false;
		r = poll(&p, 1, (int)left + 1);
		if (r >= 0 || errno != EINTR)
			return r > 0;
	}
}

void cairn_ssh_agent_free(struct cairn_ssh_agent *a)
{
	if (!a)
		return;
	if (a->pidfd >= 0) {
		/* SIGTERM: ssh-agent removes its socket and exits */
		pidfd_send_signal(a->pidfd, SIGTERM, NULL, 0);
		if (!gone_within(a->pidfd, STOP_TIMEOUT_MS)) {
			pidfd_send_signal(a->pidfd, SIGKILL, NULL, 0);
			gone_within(a->pidfd, STOP_TIMEOUT_MS);
		}
		close(a->pidfd);
	}
	if (a->keeper_in >= 0)
		close(a->keeper_in);
	if (a->keeper > 0) {
		kill(a->keeper, SIGTERM);
		reap(a->keeper);
	}
	if (a->socket)
		unlink(a->socket);
	if (a->dir)
		rmdir(a->dir);
	free(a->socket);
	free(a->dir);
	free(a);
}

DEFINE_FREEP(struct cairn_ssh_agent, cairn_ssh_agent_free)

const char *cairn_ssh_agent_socket(const struct cairn_ssh_agent *a)
{
	return a->socket;
}

/* A private directory for the socket, under $TMPDIR (else /tmp): short, as sockets need. */
static int make_dir(struct cairn_ssh_agent *a, struct cairn_error **err)
{
	const char *tmp = getenv("TMPDIR");
	cleanup_free char *tmpl = xasprintf("%s/cairn-ssh-XXXXXX", tmp && *tmp ? tmp : "/tmp");

	if (strlen(tmpl) + strlen("/" SOCKET_NAME) > SOCKET_PATH_MAX)
		return cairn_error_set(err, CAIRN_EINVAL,
				       "start 'ssh-agent': its socket in '%s' would have a path "
				       "longer than %zu bytes; set TMPDIR to a shorter directory",
				       tmp, SOCKET_PATH_MAX);
	if (!mkdtemp(tmpl))
		return cairn_error_set_errno(err, "start 'ssh-agent': create a directory in '%s'",
					     tmp && *tmp ? tmp : "/tmp");
	a->dir = TAKE_PTR(tmpl);
	a->socket = xasprintf("%s/" SOCKET_NAME, a->dir);
	return 0;
}

/* Run `ssh-agent -a SOCKET sh -c KEEPER`, its stdin from a pipe, its output into `*out_fd`. */
static int spawn_agent(struct cairn_ssh_agent *a, const char *program, int *out_fd,
		       struct cairn_error **err)
{
	cleanup_free char *prog = xstrdup(program);
	char a_addr[] = "-a", a_sh[] = "/bin/sh", a_c[] = "-c";
	cleanup_free char *script = xstrdup(keeper_script);
	char *argv[] = {prog, a_addr, a->socket, a_sh, a_c, script, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int in[2], out[2], rc;

	if (pipe2(in, O_CLOEXEC) < 0)
		return cairn_error_set_errno(err, "start 'ssh-agent': pipe");
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return cairn_error_set_errno(err, "start 'ssh-agent': pipe");
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, out[1], 2);
	cairn_exec_spawn_attr_init(&attr);
	rc = posix_spawn(&a->keeper, program, &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	if (rc != 0) {
		a->keeper = 0;
		close(in[1]);
		close(out[0]);
		errno = rc;
		return cairn_error_set_errno(err, "run '%s'", program);
	}
	a->keeper_in = in[1];
	*out_fd = out[0];
	return 0;
}

/* The agent's pid, the first line its command prints; ssh-agent's complaint else. */
static int agent_pid(struct cairn_ssh_agent *a, int fd, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf first = CAIRN_BUF_INIT_MAX(FIRST_LINE_MAX);
	char *nl;
	uint64_t v;
	int ret;

	read_until(&first, fd, true, now_ms() + START_TIMEOUT_MS);
	ret = cairn_interrupt_check(err);
	if (ret < 0)
		return ret;
	nl = memchr(first.buf, '\n', first.len);
	if (nl) {
		*nl = '\0';
		if (cairn_parse_u64(&v, first.buf, INT32_MAX, "pid", NULL) == 0 && v > 1) {
			a->pid = (pid_t)v;
			a->pidfd = pidfd_open(a->pid, 0);
			if (a->pidfd < 0)
				return cairn_error_set_errno(err, "start 'ssh-agent': watch pid %d",
							     (int)a->pid);
			return 0;
		}
		*nl = '\n';
	}
	one_line(&first);
	if (first.len)
		return cairn_error_set(err, CAIRN_EOS, "start 'ssh-agent' on '%s': %s", a->socket,
				       first.buf);
	return cairn_error_set(err, CAIRN_EOS, "start 'ssh-agent' on '%s': no answer in %d s",
			       a->socket, START_TIMEOUT_MS / 1000);
}

/*
 * The environment of ssh-add: cairn's, the agent's socket in SSH_AUTH_SOCK, and no way to ask
 * for a passphrase (no askpass program, no terminal: it runs in a session of its own).
 */
static char **add_env(const char *socket)
{
	static const char *const drop[] = {"SSH_AUTH_SOCK=", "SSH_AGENT_PID=", "SSH_ASKPASS=",
					   "SSH_ASKPASS_REQUIRE=", "DISPLAY="};
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = xcalloc(n + 3, sizeof(*env));
	for (size_t i = 0; i < n; i++) {
		bool skip = false;

		for (size_t j = 0; j < ARRAY_SIZE(drop); j++)
			skip = skip || strncmp(environ[i], drop[j], strlen(drop[j])) == 0;
		if (!skip)
			env[k++] = xstrdup(environ[i]);
	}
	env[k++] = xasprintf("SSH_AUTH_SOCK=%s", socket);
	env[k++] = xstrdup("SSH_ASKPASS_REQUIRE=never");
	return env;
}

static void env_free(char **env)
{
	for (char **p = env; p && *p; p++)
		free(*p);
	free(env);
}

DEFINE_FREEP(char *, env_free)

/* `ssh-add -q -- KEY` against the agent; what it says when it refuses the key goes in the error. */
static int add_key(struct cairn_ssh_agent *a, const char *program, const char *key,
		   struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf said = CAIRN_BUF_INIT_MAX(ADD_OUTPUT_MAX);
	CLEANUP(env_freep) char **env = add_env(a->socket);
	cleanup_free char *prog = xstrdup(program);
	cleanup_free char *file = xstrdup(key);
	char a_q[] = "-q", a_end[] = "--";
	char *argv[] = {prog, a_q, a_end, file, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	short flags = 0;
	int out[2], rc, status;
	pid_t pid;

	if (pipe2(out, O_CLOEXEC) < 0)
		return cairn_error_set_errno(err, "add ssh key '%s': pipe", key);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, out[1], 2);
	cairn_exec_spawn_attr_init(&attr);
	/* a session of its own instead of a process group: no terminal to ask a passphrase on */
	posix_spawnattr_getflags(&attr, &flags);
	posix_spawnattr_setflags(&attr,
				 (short)((flags & ~POSIX_SPAWN_SETPGROUP) | POSIX_SPAWN_SETSID));
	rc = posix_spawn(&pid, program, &fa, &attr, argv, env);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	if (rc != 0) {
		close(out[0]);
		errno = rc;
		return cairn_error_set_errno(err, "add ssh key '%s': run '%s'", key, program);
	}
	read_until(&said, out[0], false, now_ms() + START_TIMEOUT_MS);
	close(out[0]);
	if (cairn_interrupted())
		kill(pid, SIGKILL);
	status = reap(pid);
	rc = cairn_interrupt_check(err);
	if (rc < 0)
		return rc;
	if (status == 0)
		return 0;
	one_line(&said);
	return cairn_error_set(err, CAIRN_EINVAL,
			       "add ssh key '%s': ssh-add exited with status %d%s%s", key, status,
			       said.len ? ": " : "", said.buf);
}

int cairn_ssh_agent_start(struct cairn_ssh_agent **out, const char *const *keys, size_t n_keys,
			  struct cairn_error **err)
{
	CLEANUP(cairn_ssh_agent_freep) struct cairn_ssh_agent *a = NULL;
	cleanup_free char *agent_prog = NULL;
	cleanup_free char *add_prog = NULL;
	cleanup_close int first = -1;
	int ret;

	*out = NULL;
	ret = check_keys(keys, n_keys, err);
	if (ret == 0)
		ret = need_program(&agent_prog, "ssh-agent", err);
	if (ret == 0)
		ret = need_program(&add_prog, "ssh-add", err);
	if (ret < 0)
		return ret;
	a = xcalloc(1, sizeof(*a));
	a->keeper_in = -1;
	a->pidfd = -1;
	ret = make_dir(a, err);
	if (ret == 0)
		ret = spawn_agent(a, agent_prog, &first, err);
	if (ret == 0)
		ret = agent_pid(a, first, err);
	for (size_t i = 0; ret == 0 && i < n_keys; i++)
		ret = add_key(a, add_prog, keys[i], err);
	if (ret < 0)
		return ret;
	cairn_log(CAIRN_LOG_DEBUG, "ssh-agent %d on '%s' holds %zu key(s)", (int)a->pid, a->socket,
		  n_keys);
	*out = TAKE_PTR(a);
	return 0;
}
