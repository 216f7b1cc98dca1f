/* SPDX-License-Identifier: MIT */
/*
 * The unpacked-layer cache: `<home>/layers/<hex of diff_id>`, each layer unpacked once (under a
 * lock) as the lower directory of every overlay that needs it, and swept by `stages gc`.
 */
#include "common.h"
#include "layer/cache.h"
#include "layer/unpack.h"
#include "util/fs.h"
#include "util/strset.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* A layer unpacked as it was written, before it goes under its name (cache_pending()). */
#define PENDING_PREFIX ".w-"
#define PENDING_TREE "tree"

int cairn_layer_dir_path(char **out, const char *layers_root, const struct cairn_digest *diff_id)
{
	const char *hex = cairn_digest_hex(diff_id);

	*out = NULL;
	if (strncmp(diff_id->str, "sha256:", 7) != 0 ||
	    strspn(hex, "0123456789abcdef") != CAIRN_DIGEST_HEX_LEN || hex[CAIRN_DIGEST_HEX_LEN])
		return CAIRN_EINVAL;
	*out = xasprintf("%s/%s", layers_root, hex);
	return 0;
}

/* Leftovers of unpacks of this layer that were killed: only lock holders make them. */
static void remove_stale(int rootfd, const char *hex)
{
	cleanup_free char *prefix = xasprintf(".%s" CAIRN_UNPACK_TMP_INFIX, hex);
	char **names = NULL;
	size_t n = 0;

	if (cairn_fs_list_dir(&names, &n, rootfd, 0) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(names[i], prefix, strlen(prefix)) == 0) {
			cairn_log(CAIRN_LOG_DEBUG, "removing leftover '%s'", names[i]);
			cairn_fs_remove_tree(rootfd, names[i], NULL);
		}
		free(names[i]);
	}
	free(names);
}

static int is_dir(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Take the lock of layer `hex` of the cache (an fd that holds it until closed). */
static int lock_layer(int *fd, const char *layers_root, const char *hex, struct cairn_error **err)
{
	cleanup_free char *path = xasprintf("%s/.%s.lock", layers_root, hex);

	return cairn_fs_lock_at(fd, AT_FDCWD, path, err);
}

char *cairn_layer_cache_pending(const char *layers_root)
{
	cleanup_free char *tmpl = xasprintf("%s/" PENDING_PREFIX "XXXXXX", layers_root);

	if (cairn_fs_mkdirs_at(AT_FDCWD, layers_root, 0755, NULL) < 0 || !mkdtemp(tmpl))
		return NULL;
	/* in a directory of its own: no other unpack can take the name */
	return xasprintf("%s/" PENDING_TREE, tmpl);
}

/* The pending directory `dir` is in, and all it holds, removed. */
static void remove_pending(const char *dir)
{
	cleanup_free char *parent = xstrdup(dir);
	char *slash = strrchr(parent, '/');

	if (!slash || strcmp(slash + 1, PENDING_TREE) != 0)
		return;
	*slash = '\0';
	cairn_fs_remove_tree(AT_FDCWD, parent, NULL);
}

void cairn_layer_cache_pending_free(char *dir)
{
	if (dir)
		remove_pending(dir);
	free(dir);
}

void cairn_layer_cache_adopt(const char *layers_root, const struct cairn_digest *diff_id,
			     const char *dir)
{
	cleanup_free char *dest = NULL;
	cleanup_close int lockfd = -1;

	if (diff_id && cairn_layer_dir_path(&dest, layers_root, diff_id) == 0 &&
	    lock_layer(&lockfd, layers_root, cairn_digest_hex(diff_id), NULL) == 0 && !is_dir(dest))
		(void)rename(dir, dest);
	remove_pending(dir); /* what was not adopted goes with its directory */
}

int cairn_layer_ensure_unpacked(char **out, struct cairn_store *st, const char *layers_root,
				const struct cairn_digest *layer,
				const struct cairn_digest *diff_id, struct cairn_error **err)
{
	cleanup_free char *dir = NULL;
	cleanup_close int rootfd = -1;
	cleanup_close int lockfd = -1;
	cleanup_close int fd = -1;
	uint64_t size;
	int ret;

	*out = NULL;
	if (cairn_layer_dir_path(&dir, layers_root, diff_id) < 0)
		return cairn_error_set(err, CAIRN_EINVAL, "invalid diff_id '%.80s'", diff_id->str);
	if (is_dir(dir)) {
		*out = TAKE_PTR(dir);
		return 0;
	}
	ret = cairn_fs_mkdirs_at(AT_FDCWD, layers_root, 0755, err);
	if (ret < 0)
		return cairn_error_wrap(err, "unpack layer '%s'", layer->str);
	rootfd = open(layers_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return cairn_error_set_errno(err, "open '%s'", layers_root);
	ret = lock_layer(&lockfd, layers_root, cairn_digest_hex(diff_id), err);
	if (ret < 0)
		return ret;
	if (!is_dir(dir)) {
		remove_stale(rootfd, cairn_digest_hex(diff_id));
		ret = cairn_store_blob_open(&fd, &size, st, layer, err);
		if (ret < 0)
			return cairn_error_wrap(err, "unpack layer '%s'", layer->str);
		ret = cairn_layer_unpack_fd(fd, layer->str, layer, diff_id, dir, 0, err);
		if (ret < 0)
			return ret;
	}
	*out = TAKE_PTR(dir);
	return 0;
}

uint64_t cairn_layer_cache_sweep(const char *layers_root, const struct cairn_digest *live,
				 size_t n_live, time_t cutoff)
{
	CLEANUP(cairn_strset_release) struct cairn_strset keep = CAIRN_STRSET_INIT;
	DIR *d = layers_root ? opendir(layers_root) : NULL;
	struct dirent *e;
	uint64_t removed = 0;

	if (!d)
		return 0;
	for (size_t i = 0; i < n_live; i++)
		cairn_strset_add(&keep, cairn_digest_hex(&live[i]), CAIRN_DIGEST_HEX_LEN);
	while ((e = readdir(d))) {
		cleanup_free char *path = NULL;
		struct stat sb;

		/* a pending tree, or the temporary tree of an unpack (its leftover when old) */
		bool leftover = strncmp(e->d_name, PENDING_PREFIX, strlen(PENDING_PREFIX)) == 0 ||
				(e->d_name[0] == '.' && strstr(e->d_name, CAIRN_UNPACK_TMP_INFIX));

		if (!leftover && (strlen(e->d_name) != CAIRN_DIGEST_HEX_LEN ||
				  cairn_strset_has(&keep, e->d_name, CAIRN_DIGEST_HEX_LEN)))
			continue;
		path = xasprintf("%s/%s", layers_root, e->d_name);
		if (lstat(path, &sb) < 0 || !S_ISDIR(sb.st_mode) || sb.st_mtime > cutoff)
			continue;
		if (cairn_fs_remove_tree(AT_FDCWD, path, NULL) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}
