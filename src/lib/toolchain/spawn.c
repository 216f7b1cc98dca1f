/* SPDX-License-Identifier: MIT */
/* Running the host's tools the toolchain is assembled with (dpkg-query, patchelf). */
#include "common.h"
#include "toolchain/spawn.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

extern char **environ;

/* What is kept of a tool's stderr for the error message. */
#define STDERR_MAX 4096

/* The last non-empty line of `b`, at most 300 bytes of it. */
static const char *last_line(struct cairn_buf *b)
{
	char *nl;

	while (b->len && (b->buf[b->len - 1] == '\n' || b->buf[b->len - 1] == '\r'))
		cairn_buf_setlen(b, b->len - 1);
	nl = strrchr(b->buf, '\n');
	return nl ? nl + 1 : b->buf;
}

/* Copy both pipes into their buffers until both end. */
static void drain(int out_fd, int err_fd, struct cairn_buf *out, struct cairn_buf *errs)
{
	struct pollfd p[2] = {{.fd = out_fd, .events = POLLIN}, {.fd = err_fd, .events = POLLIN}};
	char buf[16384];

	while (p[0].fd >= 0 || p[1].fd >= 0) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			n = read(p[i].fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				p[i].fd = -1;
				continue;
			}
			if (i == 1 && errs->len + (size_t)n > STDERR_MAX)
				cairn_buf_reset(errs); /* the end is what tells what went wrong */
			cairn_buf_add(i == 0 ? out : errs, buf, (size_t)n);
		}
	}
}

int cairn_spawn_run(struct cairn_buf *out, const char *const *argv, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf dropped = CAIRN_BUF_INIT_MAX(1);
	CLEANUP(cairn_buf_release) struct cairn_buf errs = CAIRN_BUF_INIT;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int po[2], pe[2], rc, wst = 0;
	sigset_t none, def;
	pid_t pid;

	if (pipe2(po, O_CLOEXEC) < 0)
		return cairn_error_set_errno(err, "run '%s': pipe", argv[0]);
	if (pipe2(pe, O_CLOEXEC) < 0) {
		close(po[0]);
		close(po[1]);
		return cairn_error_set_errno(err, "run '%s': pipe", argv[0]);
	}
	sigemptyset(&none);
	sigfillset(&def);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	rc = posix_spawnp(&pid, argv[0], &fa, &attr, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(po[1]);
	close(pe[1]);
	if (rc == 0)
		drain(po[0], pe[0], out ? out : &dropped, &errs);
	close(po[0]);
	close(pe[0]);
	if (rc == ENOENT)
		return cairn_error_set(err, CAIRN_ENOTFOUND, "run '%s': no such program", argv[0]);
	if (rc != 0) {
		errno = rc;
		return cairn_error_set_errno(err, "run '%s'", argv[0]);
	}
	while (waitpid(pid, &wst, 0) < 0)
		if (errno != EINTR)
			return cairn_error_set_errno(err, "wait for '%s'", argv[0]);
	if (WIFSIGNALED(wst))
		return cairn_error_set(err, CAIRN_EINTERNAL, "'%s' was killed by signal %d",
				       argv[0], WTERMSIG(wst));
	if (WEXITSTATUS(wst) != 0)
		return cairn_error_set(err, CAIRN_EINTERNAL, "'%s' exited with status %d: %.300s",
				       argv[0], WEXITSTATUS(wst), last_line(&errs));
	return out ? cairn_buf_check(out, err) : 0;
}
