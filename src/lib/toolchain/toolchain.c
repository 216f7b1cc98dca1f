/* SPDX-License-Identifier: MIT */
/* The toolchain in cairn's home: made once per content hash, under a lock, renamed into place. */
#include "common.h"
#include "cairn/toolchain.h"
#include "toolchain/source.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#define DIR_NAME "toolchain"
#define LOCK_NAME ".lock"
#define TMP_PREFIX "tmp-"
/* Written last into a toolchain: what it is made of; a directory without it is not one. */
#define MANIFEST "toolchain.json"
#define MANIFEST_MAX (1u << 20)

void cairn_toolchain_free(struct cairn_toolchain *t)
{
	if (!t)
		return;
	free(t->id);
	free(t->dir);
	free(t->source);
	free(t->bash);
	free(t->python);
	for (size_t i = 0; i < t->n_packages; i++) {
		free(t->packages[i].name);
		free(t->packages[i].version);
	}
	free(t->packages);
	free(t);
}

DEFINE_FREEP(struct cairn_toolchain, cairn_toolchain_free)

static double now_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Bytes and entries below the directory `fd` (closed here). */
static void measure(int fd, uint64_t *size, uint64_t *files)
{
	DIR *d = fdopendir(fd);
	struct dirent *e;

	if (!d) {
		close(fd);
		return;
	}
	while ((e = readdir(d))) {
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		(*files)++;
		*size += (uint64_t)st.st_size;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), e->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0)
				measure(sub, size, files);
		}
	}
	closedir(d);
}

static char *in_mount(const char *rel)
{
	return rel ? xasprintf("%s/%s", CAIRN_TOOLCHAIN_MOUNT, rel) : NULL;
}

static json_t *manifest_of(const struct cairn_toolchain *t, const struct toolchain_plan *p)
{
	return json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:O, s:I, s:I, s:f}", "id", t->id, "source",
			 t->source, "mount", t->mount, "bash", t->bash, "python", t->python,
			 "packages", p->packages, "size", (json_int_t)t->size, "files",
			 (json_int_t)t->files, "seconds", t->seconds);
}

/* The packages of `t`, from {"name": "version"}. */
static void fill_packages(struct cairn_toolchain *t, const json_t *pk)
{
	const char *key;
	json_t *v;

	t->packages = xcalloc(json_object_size(pk) + 1, sizeof(*t->packages));
	json_object_foreach((json_t *)pk, key, v)
	{
		if (!json_is_string(v))
			continue;
		t->packages[t->n_packages].name = xstrdup(key);
		t->packages[t->n_packages].version = xstrdup(json_string_value(v));
		t->n_packages++;
	}
}

/* Fill `t` from the manifest of the toolchain in `dir`; CAIRN_ENOTFOUND when there is none. */
static int load_manifest(struct cairn_toolchain *t, const char *dir, struct cairn_error **err)
{
	cleanup_free char *path = xasprintf("%s/" MANIFEST, dir);
	CLEANUP(cairn_buf_release) struct cairn_buf raw = CAIRN_BUF_INIT_MAX(MANIFEST_MAX);
	cleanup_json json_t *m = NULL;
	json_t *pk = NULL, *v;
	int ret;

	if (access(path, F_OK) < 0 && errno == ENOENT)
		return cairn_error_set(err, CAIRN_ENOTFOUND, "no toolchain in '%s'", dir);
	ret = cairn_fs_read_at(AT_FDCWD, path, &raw, err);
	if (ret == 0)
		ret = cairn_json_parse(&m, raw.buf, raw.len, path, err);
	if (ret == 0)
		ret = cairn_json_get_object(&pk, m, "packages", 1, path, err);
	if (ret == 0)
		ret = cairn_json_get_u64(&t->size, m, "size", 1, path, err);
	if (ret == 0)
		ret = cairn_json_get_u64(&t->files, m, "files", 1, path, err);
	if (ret < 0)
		return ret;
	v = json_object_get(m, "seconds");
	t->seconds = json_is_number(v) ? json_number_value(v) : 0;
	fill_packages(t, pk);
	return 0;
}

/* Remove what killed assemblies left (the caller holds the lock: none is running). */
static void remove_stale(int root)
{
	char **names = NULL;
	size_t n = 0;

	if (cairn_fs_list_dir(&names, &n, root, 0) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(names[i], TMP_PREFIX, strlen(TMP_PREFIX)) == 0)
			cairn_fs_remove_tree(root, names[i], NULL);
		free(names[i]);
	}
	free(names);
}

/* Put the finished `tmp` in place as `id`, replacing one there (swapped in one step). */
static int put_in_place(int root, const char *tmp, const char *id, struct cairn_error **err)
{
	if (renameat2(root, tmp, root, id, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EEXIST)
		return cairn_error_set_errno(err, "rename the toolchain into place");
	if (renameat2(root, tmp, root, id, RENAME_EXCHANGE) < 0)
		return cairn_error_set_errno(err, "replace the toolchain '%s'", id);
	/* `tmp` now holds the old one; a build that has it mounted keeps it until it ends */
	cairn_fs_remove_tree(root, tmp, NULL);
	return 0;
}

static int assemble(struct cairn_toolchain *t, const struct toolchain_source *src,
		    const struct toolchain_plan *p, const char *root_dir, int root,
		    struct cairn_error **err)
{
	cleanup_free char *tmp = xasprintf("%s/" TMP_PREFIX "XXXXXX", root_dir);
	CLEANUP(cairn_buf_release) struct cairn_buf mb = CAIRN_BUF_INIT;
	cleanup_json json_t *m = NULL;
	cleanup_close int fd = -1;
	double t0 = now_secs();
	const char *name;
	int ret;

	if (!mkdtemp(tmp))
		return cairn_error_set_errno(err, "create a directory in '%s'", root_dir);
	name = strrchr(tmp, '/') + 1;
	cairn_log(CAIRN_LOG_DEBUG, "assemble the toolchain '%.12s' from the host's packages",
		  t->id);
	if (chmod(tmp, 0755) < 0) {
		ret = cairn_error_set_errno(err, "chmod '%s'", tmp);
		goto fail;
	}
	ret = src->assemble(p, tmp, CAIRN_TOOLCHAIN_MOUNT, err);
	if (ret < 0)
		goto fail;
	fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		ret = cairn_error_set_errno(err, "open '%s'", tmp);
		goto fail;
	}
	measure(fcntl(fd, F_DUPFD_CLOEXEC, 0), &t->size, &t->files);
	t->seconds = now_secs() - t0;
	m = manifest_of(t, p);
	ret = cairn_json_dump(&mb, m, err);
	if (ret == 0)
		ret = cairn_fs_write_atomic_at(fd, MANIFEST, mb.buf, mb.len, 0644, err);
	if (ret == 0)
		ret = put_in_place(root, name, t->id, err);
	if (ret < 0)
		goto fail;
	t->assembled = 1;
	fill_packages(t, p->packages);
	cairn_log(CAIRN_LOG_DEBUG, "toolchain '%.12s': %llu files, %llu MB in %.2f s", t->id,
		  (unsigned long long)t->files, (unsigned long long)(t->size >> 20), t->seconds);
	return 0;
fail:
	cairn_fs_remove_tree(root, name, NULL);
	return cairn_error_wrap(err, "assemble the toolchain");
}

static int lock_root(int *out, const char *root_dir, struct cairn_error **err)
{
	cleanup_free char *path = xasprintf("%s/" LOCK_NAME, root_dir);

	return cairn_fs_lock_at(out, AT_FDCWD, path, err);
}

static int get_locked(struct cairn_toolchain *t, const struct toolchain_source *src,
		      const struct toolchain_plan *p, const char *root_dir, unsigned flags,
		      struct cairn_error **err)
{
	cleanup_close int root = -1;
	cleanup_close int lock = -1;
	int ret;

	ret = cairn_fs_mkdirs_at(AT_FDCWD, root_dir, 0755, err);
	if (ret == 0)
		ret = lock_root(&lock, root_dir, err);
	if (ret < 0)
		return ret;
	root = open(root_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return cairn_error_set_errno(err, "open '%s'", root_dir);
	remove_stale(root);
	if (!(flags & CAIRN_TOOLCHAIN_REBUILD)) {
		ret = load_manifest(t, t->dir, err);
		if (ret != CAIRN_ENOTFOUND) {
			if (ret == 0)
				cairn_log(CAIRN_LOG_DEBUG, "toolchain '%.12s': reuse '%s'", t->id,
					  t->dir);
			return ret;
		}
		cairn_error_clear(err);
	}
	return assemble(t, src, p, root_dir, root, err);
}

int cairn_toolchain_get(struct cairn_toolchain **out, const struct cairn_toolchain_opts *o,
			struct cairn_error **err)
{
	const struct toolchain_source *src = &toolchain_debian;
	CLEANUP(cairn_toolchain_freep) struct cairn_toolchain *t = NULL;
	cleanup_free char *root_dir = xasprintf("%s/" DIR_NAME, o->home);
	struct toolchain_plan p;
	int ret;

	*out = NULL;
	ret = src->plan(&p, CAIRN_TOOLCHAIN_MOUNT, err);
	if (ret < 0)
		return ret;
	t = xcalloc(1, sizeof(*t));
	t->id = xstrdup(p.id);
	t->dir = xasprintf("%s/%s", root_dir, p.id);
	t->mount = CAIRN_TOOLCHAIN_MOUNT;
	t->source = xstrdup(src->name);
	t->bash = in_mount(src->bash);
	t->python = in_mount(src->python);
	ret = get_locked(t, src, &p, root_dir, o->flags, err);
	src->release(&p);
	if (ret < 0)
		return ret;
	*out = TAKE_PTR(t);
	return 0;
}
