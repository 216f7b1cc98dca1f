/* SPDX-License-Identifier: MIT */
/*
 * The job's own docker config for `ci-env`: a copy of the user's config.json in a new private
 * directory, plus the CI registry's credentials, written the way `docker login` stores them.
 */
#include "common.h"
#include "util/base64.h"
#include "ci/ci.h"
#include "util/fs.h"
#include "util/json.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* as the registry module reads it: a config.json names a few dozen registries at most */
#define CONFIG_MAX (4u * 1024 * 1024)

/* Bytes that may hold secrets (the user's auths, the job token): zeroed before they are freed. */
static void buf_release_zero(struct cairn_buf *b)
{
	if (b->alloc)
		explicit_bzero(b->buf, b->alloc);
	cairn_buf_release(b);
}

static void free_zero(char **p)
{
	if (*p) {
		explicit_bzero(*p, strlen(*p));
		free(*p);
	}
	*p = NULL;
}

/* `from_dir`/config.json into `raw`; *found false when there is none. */
static int read_config(struct cairn_buf *raw, bool *found, const char *from_dir,
		       struct cairn_error **err)
{
	cleanup_free char *path = NULL;
	struct cairn_error *e = NULL;
	int ret;

	*found = false;
	if (!from_dir)
		return 0;
	path = xasprintf("%s/config.json", from_dir);
	ret = cairn_fs_read_at(AT_FDCWD, path, raw, &e);
	if (ret == CAIRN_ENOTFOUND) {
		cairn_error_free(e);
		return 0;
	}
	if (ret < 0) {
		*err = e;
		return cairn_error_wrap(err, "copy the docker config '%s'", path);
	}
	*found = true;
	return 0;
}

/*
 * A member of the top level that must be an object: created when absent or null. jansson's own
 * messages quote the text near the error, which may be a secret: only positions are reported.
 */
static int top_object(json_t **out, json_t *root, const char *key, bool create,
		      struct cairn_error **err)
{
	json_t *v = json_object_get(root, key);

	*out = NULL;
	if (v && json_is_object(v)) {
		*out = v;
		return 0;
	}
	if (v && !json_is_null(v))
		return cairn_error_set(err, CAIRN_EINVAL, "'%s' is not an object", key);
	if (create) {
		*out = json_object();
		if (!*out || json_object_set_new(root, key, *out) < 0)
			abort();
	}
	return 0;
}

/* Add `l` to the document in `raw` (empty: `{}`) and leave the new text in `raw`. */
static int add_login(struct cairn_buf *raw, const struct ci_login *l, struct cairn_error **err)
{
	cleanup_json json_t *root = NULL;
	CLEANUP(free_zero) char *up = NULL;
	CLEANUP(free_zero) char *b64 = NULL;
	json_t *auths = NULL, *helpers = NULL, *entry, *auth;
	json_error_t jerr;
	size_t room;
	int ret;

	root = raw->len ? json_loadb(raw->buf, raw->len, JSON_REJECT_DUPLICATES, &jerr)
			: json_object();
	if (!root)
		return cairn_error_set(err, CAIRN_EINVAL, "invalid JSON at line %d column %d",
				       jerr.line, jerr.column);
	if (!json_is_object(root))
		return cairn_error_set(err, CAIRN_EINVAL, "not a JSON object");
	ret = top_object(&auths, root, "auths", true, err);
	if (ret == 0)
		ret = top_object(&helpers, root, "credHelpers", false, err);
	if (ret < 0)
		return ret;
	/* a credential helper for the host would be asked first, and knows nothing of the job */
	if (helpers)
		json_object_del(helpers, l->host);
	up = xasprintf("%s:%s", l->user, l->secret);
	b64 = cairn_base64_encode(up, strlen(up));
	auth = json_string(b64);
	entry = json_object();
	if (!auth || !entry || json_object_set_new(entry, "auth", auth) < 0)
		abort();
	if (json_object_set_new(auths, l->host, entry) < 0)
		return cairn_error_set(err, CAIRN_EINVAL, "registry host '%s' is not valid UTF-8",
				       l->host);
	/* room enough that the dump is not moved (leaving copies behind) while it grows */
	room = 2 * raw->len + 2 * strlen(b64) + 4 * strlen(l->host) + 4096;
	buf_release_zero(raw);
	cairn_buf_init(raw, CONFIG_MAX);
	cairn_buf_grow(raw, room < CONFIG_MAX ? room : CONFIG_MAX);
	ret = cairn_json_dump(raw, root, err);
	/* jansson frees its strings without clearing them */
	explicit_bzero((char *)json_string_value(auth), json_string_length(auth));
	return ret;
}

static int write_config(const char *dir, const struct cairn_buf *raw, struct cairn_error **err)
{
	cleanup_free char *path = xasprintf("%s/config.json", dir);
	cleanup_close int fd =
		open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int ret;

	if (fd < 0)
		return cairn_error_set_errno(err, "create '%s'", path);
	if (fchmod(fd, 0600) < 0)
		return cairn_error_set_errno(err, "chmod '%s'", path);
	ret = cairn_fs_write_all(fd, raw->buf, raw->len, path, err);
	if (ret == 0 && close(TAKE_FD(fd)) < 0)
		return cairn_error_set_errno(err, "write '%s'", path);
	return ret;
}

/* The new config.json's text in `raw`; *write false when there is nothing to write. */
static int config_text(struct cairn_buf *raw, bool *write, const char *from_dir,
		       const struct ci_login *login, struct cairn_error **err)
{
	int ret = read_config(raw, write, from_dir, err);

	if (ret < 0 || !login)
		return ret;
	*write = true;
	ret = add_login(raw, login, err);
	if (ret < 0 && from_dir)
		return cairn_error_wrap(err, "docker config '%s/config.json'", from_dir);
	return ret;
}

int cairn_ci_docker_config_new(char **dir_out, const char *from_dir, const char *tmp_dir,
			       const struct ci_login *login, struct cairn_error **err)
{
	CLEANUP(buf_release_zero) struct cairn_buf raw = CAIRN_BUF_INIT_MAX(CONFIG_MAX);
	cleanup_free char *dir = xasprintf("%s/cairn-docker-config-XXXXXX", tmp_dir);
	bool write = false;
	int ret;

	*dir_out = NULL;
	ret = config_text(&raw, &write, from_dir, login, err);
	if (ret < 0)
		return ret;
	if (!mkdtemp(dir))
		return cairn_error_set_errno(err, "create the job's docker config in '%s'",
					     tmp_dir);
	/* mkdtemp's 0700 less the umask may be less than the owner needs */
	if (chmod(dir, 0700) < 0) {
		ret = cairn_error_set_errno(err, "chmod '%s'", dir);
		goto fail;
	}
	if (write) {
		ret = write_config(dir, &raw, err);
		if (ret < 0)
			goto fail;
	}
	*dir_out = TAKE_PTR(dir);
	return 0;
fail:
	cairn_fs_remove_tree(AT_FDCWD, dir, NULL);
	return ret;
}
