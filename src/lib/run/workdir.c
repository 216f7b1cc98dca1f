/* SPDX-License-Identifier: MIT */
/* Work directories of stages: owned by one cairn process, locked, and removed after a crash. */
#include "common.h"
#include "run/exec.h"
#include "run/workdir.h"
#include "util/buf.h"
#include "util/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#define PREFIX "stage-"
/*
 * `<root>/.lock`: shared while a directory is made (mkdtemp to its own lock), exclusive while a
 * cleaner picks the stale ones, so that no cleaner sees a new directory before it is locked.
 */
#define ROOT_LOCK ".lock"
#define DIR_LOCK ".lock"   /* held by the owner while it uses the directory */
#define OWNER_FILE "owner" /* "PID START-TIME\n" of the owner, START-TIME from /proc/PID/stat */

static int lock_file(const char *dir, const char *name, int how)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, name);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return -1;
	while (flock(fd, how) < 0) {
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* Start time of live process `pid` in clock ticks since boot; 0 if it is gone or a zombie. */
static unsigned long long start_time(long pid)
{
	cleanup_free char *path = xasprintf("/proc/%ld/stat", pid);
	struct cairn_buf b = CAIRN_BUF_INIT_MAX(4096);
	struct cairn_error *e = NULL;
	unsigned long long t = 0;
	char *p;

	if (cairn_fs_read_at(AT_FDCWD, path, &b, &e) < 0) {
		cairn_error_free(e);
		cairn_buf_release(&b);
		return 0;
	}
	/* "PID (COMM) STATE PPID ...": COMM may hold anything, so fields count from the last ')' */
	p = strrchr(b.buf, ')');
	if (p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X') {
		p += 2;
		for (int field = 3; p && field < 22; field++) {
			p = strchr(p, ' ');
			if (p)
				p++;
		}
		if (p)
			t = strtoull(p, NULL, 10);
	}
	cairn_buf_release(&b);
	return t;
}

static int write_owner(const char *work, struct cairn_error **err)
{
	cleanup_free char *owner = xasprintf("%ld %llu\n", (long)getpid(), start_time(getpid()));
	cleanup_close int dfd = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return cairn_error_set_errno(err, "open '%s'", work);
	return cairn_fs_write_atomic_at(dfd, OWNER_FILE, owner, strlen(owner), 0600, err);
}

/* Is the process recorded as the owner of `work` still running? */
static int owner_alive(const char *work)
{
	cleanup_free char *path = xasprintf("%s/" OWNER_FILE, work);
	struct cairn_buf b = CAIRN_BUF_INIT_MAX(128);
	struct cairn_error *e = NULL;
	unsigned long long t = 0;
	long pid = 0;
	int alive = 0;

	if (cairn_fs_read_at(AT_FDCWD, path, &b, &e) == 0 &&
	    sscanf(b.buf, "%ld %llu", &pid, &t) == 2)
		alive = pid > 0 && t != 0 && start_time(pid) == t;
	cairn_error_free(e);
	cairn_buf_release(&b);
	return alive;
}

int cairn_workdir_new(char **path_out, int *lock_out, const char *root, struct cairn_error **err)
{
	cleanup_free char *work = xasprintf("%s/" PREFIX "XXXXXX", root);
	cleanup_close int guard = lock_file(root, ROOT_LOCK, LOCK_SH);
	int lock, ret;

	*path_out = NULL;
	*lock_out = -1;
	if (guard < 0)
		return cairn_error_set_errno(err, "lock '%s/" ROOT_LOCK "'", root);
	if (!mkdtemp(work))
		return cairn_error_set_errno(err, "create '%s'", work);
	lock = lock_file(work, DIR_LOCK, LOCK_EX);
	if (lock < 0) {
		ret = cairn_error_set_errno(err, "lock '%s/" DIR_LOCK "'", work);
		rmdir(work);
		return ret;
	}
	ret = write_owner(work, err);
	if (ret < 0) {
		cairn_exec_cleanup(work);
		close(lock);
		return ret;
	}
	*path_out = TAKE_PTR(work);
	*lock_out = lock;
	return 0;
}

struct stale {
	char *path;
	int lock;
};

/* The stale work directories under `root`, each locked by this process; `*n` of them. */
static struct stale *pick_stale(const char *root, size_t *n)
{
	cleanup_close int guard = lock_file(root, ROOT_LOCK, LOCK_EX);
	struct stale *v = NULL;
	struct dirent *e;
	DIR *d;

	*n = 0;
	d = guard >= 0 ? opendir(root) : NULL;
	if (!d)
		return NULL;
	while ((e = readdir(d))) {
		cleanup_free char *work = NULL;
		int fd;

		if (strncmp(e->d_name, PREFIX, strlen(PREFIX)) != 0)
			continue;
		work = xasprintf("%s/%s", root, e->d_name);
		fd = lock_file(work, DIR_LOCK, LOCK_EX | LOCK_NB);
		if (fd < 0)
			continue; /* in use */
		if (owner_alive(work)) {
			/* unlocked, yet its owner runs: another pid namespace's, say; leave it */
			close(fd);
			continue;
		}
		v = xreallocarray(v, *n + 1, sizeof(*v));
		v[*n].path = TAKE_PTR(work);
		v[*n].lock = fd;
		(*n)++;
	}
	closedir(d);
	return v;
}

void cairn_workdir_clean_stale(const char *root)
{
	size_t n = 0;
	struct stale *v = pick_stale(root, &n);

	for (size_t i = 0; i < n; i++) {
		cleanup_free char *run = xasprintf("%s/run", v[i].path);

		cairn_log(CAIRN_LOG_DEBUG, "removing '%s', left by a killed build", v[i].path);
		/* a shell stage's container and overlay live in run/, an import's mounts beside it
		 */
		cairn_exec_cleanup(run);
		cairn_exec_cleanup(v[i].path);
		close(v[i].lock);
		free(v[i].path);
	}
	free(v);
}
