/* SPDX-License-Identifier: MIT */
/* Running a shell stage: overlayfs over the previous stage's layers, an OCI runtime on top. */
#ifndef CAIRN_RUN_EXEC_H
#define CAIRN_RUN_EXEC_H

#include <spawn.h>
#include <stdbool.h>
#include <stddef.h>

#include "cairn/error.h"

/*
 * Where a run finds the ssh agent it is given (werf mounts it at /.werf/tmp/ssh-auth-sock): a
 * mount point, like every other one the runtime creates, that never enters the layer.
 */
#define CAIRN_EXEC_SSH_AUTH_SOCK "/.cairn/ssh-auth-sock"

struct cairn_exec_mount {
	const char *source;	 /* host path */
	const char *destination; /* absolute path in the container */
	int readonly;
};

struct cairn_exec_opts {
	const char *runtime;	      /* OCI runtime binary; NULL: "runc" */
	const char *const *lowerdirs; /* unpacked layers, the base first; may be empty */
	size_t n_lower;
	const char *const *env; /* "NAME=value" for the process; NULL: a default PATH */
	size_t n_env;
	/*
	 * A script, one command per line, stopping at the first that fails (`set -e`), as werf
	 * runs `bash -e`: with the image's bash when it has /bin/bash or /usr/bin/bash, else the
	 * toolchain's bash, else /bin/sh. A command may span lines (a heredoc).
	 */
	const char *const *commands;
	size_t n_commands;
	size_t *last_command; /* OUT (may be NULL): 1-based index of the last command started */
	const struct cairn_exec_mount *mounts; /* extra bind mounts (werf `mount:`) */
	size_t n_mounts;
	/*
	 * The host socket of an ssh agent, bind-mounted at CAIRN_EXEC_SSH_AUTH_SOCK with
	 * SSH_AUTH_SOCK set to that; NULL, or a path that is no socket: none.
	 */
	const char *ssh_auth_sock;
	/*
	 * cairn's toolchain, or NULL: the host directory `toolchain_dir` mounted read-only at
	 * `toolchain_at`, and `toolchain_bash` (a path in the container, or NULL) runs the
	 * script when the image has no bash. The upper dir keeps neither its mount point nor the
	 * directories made for it.
	 */
	const char *toolchain_dir;
	const char *toolchain_at;
	const char *toolchain_bash;
	const char *work_dir; /* an empty directory of cairn's that this run may fill */
	/*
	 * Instead of the script: the process's arguments as they are (a Dockerfile RUN: the
	 * image's SHELL and the command, or its exec form), run as `uid`:`gid` in `cwd` (NULL:
	 * "/"), the runtime's search of $PATH in `env` finding argv[0].
	 */
	const char *const *argv;
	size_t n_argv;
	unsigned uid, gid;
	const char *cwd;
	/* "HOST:IP" entries added to the container's /etc/hosts (docker build --add-host) */
	const char *const *extra_hosts;
	size_t n_extra_hosts;
	bool no_network; /* a network namespace of its own, loopback only (--network none) */
	/* Each line the commands print (stdout and stderr, in order), without the newline. */
	void (*output)(const char *line, size_t len, void *ud);
	void *output_ud;
};

#define CAIRN_EXEC_OPTS_INIT \
	{                    \
		0            \
	}

/*
 * Run the commands in a container whose root is an overlay of `lowerdirs` (read-only) and an
 * upper directory `<work_dir>/upper`, which holds every change when this returns (overlayfs
 * whiteouts for deletions; mount points cairn itself created are removed again). `*status` is
 * the shell's exit status (128+N for a signal). 0 when the container ran, whatever its status;
 * CAIRN_EOS / CAIRN_EINTERNAL when it could not be set up or the runtime failed to start.
 */
int cairn_exec_shell(int *status, const struct cairn_exec_opts *o, struct cairn_error **err);

/* What running a shell stage needs from the host, for cairn_exec_check_host(). */
struct cairn_exec_host {
	unsigned euid;
	const char *path;	 /* $PATH */
	const char *filesystems; /* the text of /proc/filesystems; NULL: unreadable */
	bool overlay_module;	 /* an overlay module the kernel can load is installed */
};

/*
 * Whether `h` can run shell stages with `runtime` (NULL: "runc", else a name looked up in
 * $PATH or a path): root, the runtime, overlayfs. CAIRN_EOS listing everything missing, with
 * what to do, in one message.
 */
int cairn_exec_check_host(const struct cairn_exec_host *h, const char *runtime,
			  struct cairn_error **err);

/* cairn_exec_check_host() for this host. */
int cairn_exec_check(const char *runtime, struct cairn_error **err);

/*
 * Mount the read-only merged view of `lowerdirs` (base first; none: `empty_dir`) at `target`,
 * an existing empty directory; undo with umount2(target, MNT_DETACH) or cairn_exec_cleanup.
 */
int cairn_exec_mount_ro(const char *target, const char *const *lowerdirs, size_t n_lower,
			const char *empty_dir, struct cairn_error **err);

/*
 * Attributes for a child of cairn: the default action for the signals cairn catches, no signal
 * blocked, and a process group of its own, so that a ^C on the terminal reaches cairn alone,
 * which then stops its children in order. Destroy with posix_spawnattr_destroy().
 */
void cairn_exec_spawn_attr_init(posix_spawnattr_t *a);

/*
 * Remove `<work_dir>` and all in it, best effort: first stop the containers whose runtime state
 * is in `<work_dir>/state` (even those of a killed cairn), then detach every mount below it.
 */
void cairn_exec_cleanup(const char *work_dir);

#endif
