/* SPDX-License-Identifier: MIT */
/* The image a stage builds on: its manifest, config, labels, a mounted view of its tree, and
 * storing the new stage. */
#include "common.h"
#include "stage/stage_internal.h"
#include "run/exec.h"
#include "layer/cache.h"
#include "layer/unpack.h"
#include "run/workdir.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/parse.h"
#include "util/root.h"

#include <sys/file.h>

/* Load the previous stage's manifest and config (once). */
int stage_load_prev(struct image_state *s, struct cairn_error **err)
{
	cleanup_free char *raw = NULL;
	cleanup_free char *craw = NULL;
	json_t *cfgdesc;
	const char *dg;
	struct cairn_digest cd;
	size_t len = 0;
	int ret;

	if (s->manifest)
		return 0;
	ret = cairn_store_read_doc(&raw, &len, s->b->st, &s->prev.digest, err);
	if (ret < 0)
		return ret;
	ret = cairn_json_parse(&s->manifest, raw, len, "manifest", err);
	if (ret < 0)
		return ret;
	ret = cairn_json_get_object(&cfgdesc, s->manifest, "config", 1, "manifest", err);
	if (ret < 0)
		return ret;
	ret = cairn_json_get_string(&dg, cfgdesc, "digest", 1, "manifest config", err);
	if (ret < 0)
		return ret;
	ret = cairn_digest_parse(&cd, dg, strlen(dg), err);
	if (ret < 0)
		return ret;
	ret = cairn_store_read_doc(&craw, &len, s->b->st, &cd, err);
	if (ret < 0)
		return ret;
	return cairn_json_parse(&s->config, craw, len, "image config", err);
}

static void view_close(struct rootfs_view *v);

void stage_drop_prev(struct image_state *s)
{
	view_close(s->view);
	s->view = NULL;
	json_decref(s->manifest);
	json_decref(s->config);
	s->manifest = NULL;
	s->config = NULL;
}

json_t *stage_config_section(json_t *config)
{
	json_t *c = json_object_get(config, "config");

	if (!json_is_object(c)) {
		c = json_object();
		json_object_set_new(config, "config", c);
	}
	return c;
}

const char *stage_label(struct image_state *s, const char *key)
{
	json_t *labels = json_object_get(stage_config_section(s->config), "Labels");

	return json_string_value(json_object_get(labels, key));
}

void stage_set_label(json_t *config, const char *key, const char *value)
{
	json_t *c = stage_config_section(config);
	json_t *labels = json_object_get(c, "Labels");

	if (!json_is_object(labels)) {
		labels = json_object();
		json_object_set_new(c, "Labels", labels);
	}
	json_object_set_new(labels, key, json_string(value));
}

/* OCI media types for layers the manifest lists (a Docker base keeps its bytes). */
static const char *oci_layer_type(const char *mt)
{
	if (strcmp(mt, CAIRN_MT_DOCKER_LAYER_GZIP) == 0)
		return CAIRN_MT_OCI_LAYER_GZIP;
	if (strcmp(mt, "application/vnd.docker.image.rootfs.diff.tar") == 0)
		return CAIRN_MT_OCI_LAYER;
	if (strcmp(mt, "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip") == 0)
		return "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
	return mt;
}

bool stage_runs_from(const struct image_state *s, enum stage_id from)
{
	for (int id = from; id < S_COUNT; id++)
		if (stage_command_count(s->img, (enum stage_id)id))
			return true;
	return false;
}

char *stage_unpack_to(struct image_state *s, bool later_runs)
{
	return later_runs ? cairn_layer_cache_pending(s->b->home.layers) : NULL;
}

void stage_unpacked(struct image_state *s, const struct cairn_layer_result *r, const char *pending)
{
	if (pending && r->unpacked)
		cairn_layer_cache_adopt(s->b->home.layers, &r->diff_id, pending);
}

int stage_oci_base(struct cairn_descriptor *d, struct cairn_store *st, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	cleanup_json json_t *m = NULL;
	cleanup_free char *raw = NULL;
	json_t *layer, *config;
	size_t len = 0, i;
	int ret;

	if (strcmp(d->media_type, CAIRN_MT_DOCKER_MANIFEST) != 0)
		return 0;
	ret = cairn_store_read_doc(&raw, &len, st, &d->digest, err);
	if (ret == 0)
		ret = cairn_json_parse(&m, raw, len, "base image manifest", err);
	if (ret < 0)
		return ret;
	config = json_object_get(m, "config");
	if (!json_is_object(config) || !json_is_array(json_object_get(m, "layers")))
		return cairn_error_set(err, CAIRN_EINVAL, "base image manifest '%s': no config",
				       d->digest.str);
	json_object_set_new(m, "mediaType", json_string(CAIRN_MT_OCI_MANIFEST));
	json_object_set_new(config, "mediaType", json_string(CAIRN_MT_OCI_CONFIG));
	json_array_foreach(json_object_get(m, "layers"), i, layer)
	{
		const char *mt = json_string_value(json_object_get(layer, "mediaType"));

		if (mt)
			json_object_set_new(layer, "mediaType", json_string(oci_layer_type(mt)));
	}
	ret = cairn_json_dump(&b, m, err);
	if (ret < 0)
		return ret;
	memset(d, 0, sizeof(*d));
	snprintf(d->media_type, sizeof(d->media_type), "%s", CAIRN_MT_OCI_MANIFEST);
	d->size = b.len;
	return cairn_store_put_blob(st, b.buf, b.len, &d->digest, err);
}

/*
 * Write the stage into the store: `config` (the previous config, changed by the stage) with
 * `layers` added after the previous stage's; the stage caches name it.
 */
int stage_commit(struct image_state *s, const char *created_by, json_t *config,
		 const struct new_layer *layers, size_t n_layers, struct cairn_descriptor *out,
		 struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf cb = CAIRN_BUF_INIT;
	CLEANUP(cairn_buf_release) struct cairn_buf mb = CAIRN_BUF_INIT;
	cleanup_json json_t *manifest = NULL;
	json_t *rootfs, *diff_ids, *history, *mlayers, *old;
	struct cairn_descriptor cfg;
	size_t i;
	int ret;

	rootfs = json_object_get(config, "rootfs");
	if (!json_is_object(rootfs)) {
		rootfs = json_pack("{s:s, s:[]}", "type", "layers", "diff_ids");
		json_object_set_new(config, "rootfs", rootfs);
	}
	diff_ids = json_object_get(rootfs, "diff_ids");
	history = json_object_get(config, "history");
	if (!json_is_array(history)) {
		history = json_array();
		json_object_set_new(config, "history", history);
	}
	for (i = 0; i < n_layers; i++)
		json_array_append_new(diff_ids, json_string(layers[i].r.diff_id.str));
	json_array_append_new(history, json_pack("{s:s, s:b}", "created_by", created_by,
						 "empty_layer", n_layers == 0));
	ret = cairn_json_dump(&cb, config, err);
	if (ret < 0)
		return ret;
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.media_type, sizeof(cfg.media_type), "%s", CAIRN_MT_OCI_CONFIG);
	cfg.size = cb.len;
	ret = cairn_store_put_blob(s->b->st, cb.buf, cb.len, &cfg.digest, err);
	if (ret < 0)
		return ret;
	mlayers = json_array();
	old = json_object_get(s->manifest, "layers");
	json_array_foreach(old, i, rootfs)
	{
		const char *mt = json_string_value(json_object_get(rootfs, "mediaType"));

		json_array_append_new(mlayers,
				      json_pack("{s:s, s:O, s:O}", "mediaType",
						oci_layer_type(mt ? mt : CAIRN_MT_OCI_LAYER_GZIP),
						"digest", json_object_get(rootfs, "digest"), "size",
						json_object_get(rootfs, "size")));
	}
	for (i = 0; i < n_layers; i++)
		json_array_append_new(mlayers, json_pack("{s:s, s:s, s:I}", "mediaType",
							 layers[i].r.desc.media_type, "digest",
							 layers[i].r.desc.digest.str, "size",
							 (json_int_t)layers[i].r.desc.size));
	manifest = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType",
			     CAIRN_MT_OCI_MANIFEST, "config", "mediaType", CAIRN_MT_OCI_CONFIG,
			     "digest", cfg.digest.str, "size", (json_int_t)cfg.size, "layers",
			     mlayers);
	ret = cairn_json_dump(&mb, manifest, err);
	if (ret < 0)
		return ret;
	memset(out, 0, sizeof(*out));
	snprintf(out->media_type, sizeof(out->media_type), "%s", CAIRN_MT_OCI_MANIFEST);
	out->size = mb.len;
	return cairn_store_put_blob(s->b->st, mb.buf, mb.len, &out->digest, err);
}

/* The unpacked directories of the previous stage's layers, base first. */
int stage_lower_dirs(struct strv *out, struct image_state *s, struct cairn_error **err)
{
	json_t *layers = json_object_get(s->manifest, "layers");
	json_t *diff_ids = json_object_get(json_object_get(s->config, "rootfs"), "diff_ids");
	size_t i;
	json_t *l;

	if (json_array_size(layers) != json_array_size(diff_ids))
		return cairn_error_set(
			err, CAIRN_EINVAL, "stage '%s': %zu layers but %zu diff_ids in its config",
			s->prev.digest.str, json_array_size(layers), json_array_size(diff_ids));
	json_array_foreach(layers, i, l)
	{
		const char *dg = json_string_value(json_object_get(l, "digest"));
		const char *di = json_string_value(json_array_get(diff_ids, i));
		json_t *size = json_object_get(l, "size");
		struct cairn_descriptor ld = {0};
		struct cairn_digest dd;
		char *dir = NULL;
		int ret;

		if (!dg || !di || !json_is_integer(size) || json_integer_value(size) < 0)
			return cairn_error_set(err, CAIRN_EINVAL, "stage '%s': bad layer %zu",
					       s->prev.digest.str, i);
		ld.size = (uint64_t)json_integer_value(size);
		ret = cairn_digest_parse(&ld.digest, dg, strlen(dg), err);
		if (ret == 0)
			ret = cairn_digest_parse(&dd, di, strlen(di), err);
		/* a stage reused from the stages storage brings its layers only now */
		if (ret == 0 && s->b->o->stages_storage &&
		    !cairn_store_has_blob(s->b->st, &ld.digest))
			ret = cairn_image_fetch_blob(s->b->st, &s->b->storage, &ld, &s->pull, err);
		if (ret == 0)
			ret = cairn_layer_ensure_unpacked(&dir, s->b->st, s->b->home.layers,
							  &ld.digest, &dd, err);
		if (ret < 0)
			return ret;
		strv_add(out, dir);
		free(dir);
	}
	return 0;
}

/* Whether the image below has something at `path` (no symlink on the way is followed). */
static bool below_has(int rootfd, const char *path)
{
	int fd = cairn_root_open(rootfd, path, O_PATH | O_NOFOLLOW, CAIRN_ROOT_NO_SYMLINKS);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

bool stage_keep_dir(struct cairn_layer_entry *e, void *ud)
{
	const struct dir_policy *p = ud;
	size_t n = strlen(e->path);

	if (cairn_layer_has(p->w, e->path))
		return false;
	if (p->archive && strcmp(e->path, p->to) == 0) {
		e->uid = p->to_uid;
		e->gid = p->to_gid;
		return true;
	}
	if (p->below >= 0 && below_has(p->below, e->path))
		return false;
	if (strncmp(p->to, e->path, n) == 0 && p->to[n] == '/')
		e->uid = e->gid = 0;
	return true;
}

json_t *stage_env_of(json_t *config)
{
	return json_object_get(stage_config_section(config), "Env");
}

static void view_close(struct rootfs_view *v)
{
	if (!v)
		return;
	if (v->fd >= 0)
		close(v->fd);
	cairn_exec_cleanup(v->work); /* unmounts first */
	if (v->lock >= 0)
		close(v->lock);
	free(v->mnt);
	free(v->work);
	free(v);
}

DEFINE_FREEP(struct rootfs_view, view_close)

/* Mount the view of the image `s->prev` (loaded with stage_load_prev) and open its root. */
static int view_open(struct rootfs_view **out, struct image_state *s, struct cairn_error **err)
{
	CLEANUP(view_closep) struct rootfs_view *v = xcalloc(1, sizeof(*v));
	cleanup_free char *empty = NULL;
	struct strv lowers = {0};
	int ret;

	*out = NULL;
	v->fd = v->lock = -1;
	ret = cairn_workdir_new(&v->work, &v->lock, s->b->home.tmp, err);
	if (ret < 0)
		return ret;
	/* "merged": what cairn_exec_cleanup() unmounts, here and after a kill */
	v->mnt = xasprintf("%s/merged", v->work);
	empty = xasprintf("%s/empty", v->work);
	ret = stage_lower_dirs(&lowers, s, err);
	if (ret == 0)
		ret = cairn_fs_mkdirs_at(AT_FDCWD, v->mnt, 0700, err);
	if (ret == 0)
		ret = cairn_fs_mkdirs_at(AT_FDCWD, empty, 0700, err);
	if (ret == 0)
		ret = cairn_exec_mount_ro(v->mnt, (const char *const *)lowers.v, lowers.n, empty,
					  err);
	strv_release(&lowers);
	if (ret < 0)
		return ret;
	v->fd = open(v->mnt, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (v->fd < 0)
		return cairn_error_set_errno(err, "open '%s'", v->mnt);
	*out = TAKE_PTR(v);
	return 0;
}

/* The view of the image a stage of `s` builds on (mounted once per stage). */
int stage_prev_view(struct rootfs_view **out, struct image_state *s, struct cairn_error **err)
{
	int ret = 0;

	if (!s->view) {
		ret = stage_load_prev(s, err);
		if (ret == 0)
			ret = view_open(&s->view, s, err);
	}
	*out = s->view;
	return ret;
}

/* The third and fourth fields of a passwd or group line ("name:x:ID:GID:..."), or false. */
static bool account_fields(char *line, char **name_end, uint64_t *id, uint64_t *gid)
{
	char *f[4] = {line, NULL, NULL, NULL};

	for (int i = 1; i < 4 && f[i - 1]; i++) {
		f[i] = strchr(f[i - 1], ':');
		if (f[i])
			*f[i]++ = '\0';
	}
	*name_end = f[0] + strlen(f[0]);
	*gid = 0;
	if (!f[2] || cairn_parse_u64(id, f[2], UINT32_MAX - 1, "id", NULL) < 0)
		return false;
	if (f[3]) {
		char *end = strchr(f[3], ':');

		if (end)
			*end = '\0';
		if (cairn_parse_u64(gid, f[3], UINT32_MAX - 1, "gid", NULL) < 0)
			*gid = 0;
	}
	return true;
}

/*
 * A user (group) of the image below: a name in its /etc/passwd (/etc/group), or a number.
 * `*primary` (users only; may be NULL) is the user's group in /etc/passwd, 0 when unknown.
 */
static int lookup_account(unsigned *id, unsigned *primary, struct image_state *s, const char *name,
			  int group, const char *what, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf f = CAIRN_BUF_INIT_MAX(4 << 20);
	const char *file = group ? "/etc/group" : "/etc/passwd";
	struct rootfs_view *v;
	uint64_t num = 0;
	bool numeric = cairn_parse_u64(&num, name, UINT32_MAX - 1, what, NULL) == 0;
	int ret;

	*id = (unsigned)num;
	if (primary)
		*primary = 0;
	if (numeric && (group || !primary))
		return 0;
	ret = stage_prev_view(&v, s, err);
	if (ret == 0)
		ret = cairn_root_read_file(v->fd, file, CAIRN_ROOT_IN, &f, file, err);
	if (ret == CAIRN_ENOTFOUND)
		cairn_error_clear(err);
	else if (ret < 0)
		return cairn_error_wrap(err, "%s", what);
	for (char *line = f.buf; ret == 0 && *line;) {
		char *nl = strchr(line, '\n');
		char *name_end;
		uint64_t line_id, line_gid;

		if (nl)
			*nl = '\0';
		if (account_fields(line, &name_end, &line_id, &line_gid) &&
		    (numeric ? line_id == num : strcmp(line, name) == 0)) {
			*id = (unsigned)line_id;
			if (primary)
				*primary = (unsigned)line_gid;
			return 0;
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	if (numeric)
		return 0; /* a number the image does not name is fine */
	return cairn_error_set(err, CAIRN_EINVAL, "%s: no %s '%s' in the image's %s", what,
			       group ? "group" : "user", name, file);
}

/*
 * The ids `owner` and `group` of a git entry or import stand for in the image below; -1 where
 * one is not given. With `primary`, a missing group is the owner's group in /etc/passwd, as
 * werf's `sudo -u OWNER` gives the files it writes.
 */
int stage_mapping_ids(int64_t *uid, int64_t *gid, struct image_state *s, const char *owner,
		      const char *group, bool primary, const char *what, struct cairn_error **err)
{
	unsigned id, pg = 0;
	int ret = 0;

	*uid = *gid = -1;
	if (owner && *owner) {
		ret = lookup_account(&id, primary ? &pg : NULL, s, owner, 0, what, err);
		*uid = id;
		if (primary)
			*gid = pg;
	}
	if (ret == 0 && group && *group) {
		ret = lookup_account(&id, NULL, s, group, 1, what, err);
		*gid = id;
	}
	return ret;
}
