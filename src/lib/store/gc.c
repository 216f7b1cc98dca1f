/* SPDX-License-Identifier: MIT */
/* What the store holds: sizes and ages of named images, and removal of unreferenced blobs. */
#include "common.h"
#include "cairn/oci.h"
#include "cairn/store.h"
#include "store/store_internal.h"
#include "util/fs.h"
#include "util/json.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

DEFINE_FREEP(struct cairn_manifest, cairn_manifest_free)

/* A set of digests (hex), kept sorted for lookups. */
struct digest_set {
	char (*v)[CAIRN_DIGEST_HEX_LEN + 1];
	size_t n, alloc;
};

static void set_add(struct digest_set *s, const struct cairn_digest *d)
{
	if (s->n == s->alloc) {
		s->alloc = s->alloc ? 2 * s->alloc : 64;
		s->v = xreallocarray(s->v, s->alloc, sizeof(*s->v));
	}
	memcpy(s->v[s->n++], cairn_digest_hex(d), CAIRN_DIGEST_HEX_LEN + 1);
}

static int cmp_hex(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int set_has(const struct digest_set *s, const char *hex)
{
	return s->n && bsearch(hex, s->v, s->n, sizeof(*s->v), cmp_hex) != NULL;
}

int cairn_store_image_info(uint64_t *size_out, int64_t *mtime_out, struct cairn_store *st,
			   const struct cairn_descriptor *d, struct cairn_error **err)
{
	CLEANUP(cairn_manifest_freep) struct cairn_manifest *m = NULL;
	cleanup_free char *raw = NULL;
	int fd = -1;
	uint64_t size = d->size, bytes;
	struct stat sb;
	size_t len = 0;
	int ret;

	*size_out = 0;
	*mtime_out = 0;
	ret = cairn_store_read_doc(&raw, &len, st, &d->digest, err);
	if (ret == 0)
		ret = cairn_manifest_parse(&m, d->media_type, raw, len, err);
	if (ret < 0)
		return ret;
	if (m->kind == CAIRN_MANIFEST_IMAGE) {
		size += m->config.size;
		for (size_t i = 0; i < m->n_layers; i++)
			size += m->layers[i].size;
	}
	ret = cairn_store_blob_open(&fd, &bytes, st, &d->digest, err);
	if (ret < 0)
		return ret;
	if (fstat(fd, &sb) == 0)
		*mtime_out = (int64_t)sb.st_mtime;
	close(fd);
	*size_out = size;
	return 0;
}

struct mark_ctx {
	struct cairn_store *st;
	struct digest_set live;
	struct digest_set diff_ids;
	int depth;
};

static void mark_config(struct mark_ctx *c, const struct cairn_digest *cfg)
{
	cleanup_free char *raw = NULL;
	cleanup_json json_t *j = NULL;
	struct cairn_error *e = NULL;
	json_t *ids, *id;
	size_t len = 0, i;

	if (cairn_store_read_doc(&raw, &len, c->st, cfg, &e) < 0 ||
	    cairn_json_parse(&j, raw, len, "config", &e) < 0) {
		cairn_error_free(e);
		return;
	}
	ids = json_object_get(json_object_get(j, "rootfs"), "diff_ids");
	json_array_foreach(ids, i, id)
	{
		struct cairn_digest d;
		const char *s = json_string_value(id);

		if (s && cairn_digest_parse(&d, s, strlen(s), NULL) == 0)
			set_add(&c->diff_ids, &d);
	}
}

/* Marks a manifest and everything it references (unreadable ones are kept as they are). */
static void mark(struct mark_ctx *c, const struct cairn_descriptor *d)
{
	CLEANUP(cairn_manifest_freep) struct cairn_manifest *m = NULL;
	cleanup_free char *raw = NULL;
	struct cairn_error *e = NULL;
	size_t len = 0;

	set_add(&c->live, &d->digest);
	if (c->depth > 8 || cairn_store_read_doc(&raw, &len, c->st, &d->digest, &e) < 0 ||
	    cairn_manifest_parse(&m, d->media_type, raw, len, &e) < 0) {
		cairn_error_free(e);
		return;
	}
	if (m->kind == CAIRN_MANIFEST_IMAGE) {
		set_add(&c->live, &m->config.digest);
		mark_config(c, &m->config.digest);
		for (size_t i = 0; i < m->n_layers; i++)
			set_add(&c->live, &m->layers[i].digest);
		return;
	}
	c->depth++;
	for (size_t i = 0; i < m->n_manifests; i++)
		mark(c, &m->manifests[i]);
	c->depth--;
}

static int mark_ref(const struct cairn_store_ref *ref, void *ud)
{
	mark(ud, &ref->desc);
	return 0;
}

/* Removes the blobs not in `live` that are older than `cutoff`. */
static void sweep_blobs(struct cairn_store *st, const struct digest_set *live, time_t cutoff,
			struct cairn_store_gc_stats *stats)
{
	cleanup_free char *dir = xasprintf("%s/blobs/sha256", cairn_store_root(st));
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		cleanup_free char *path = NULL;
		struct stat sb;

		if (strlen(e->d_name) != CAIRN_DIGEST_HEX_LEN || set_has(live, e->d_name))
			continue;
		path = xasprintf("%s/%s", dir, e->d_name);
		if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_mtime > cutoff)
			continue;
		if (unlink(path) == 0) {
			stats->blobs_removed++;
			stats->bytes_freed += (uint64_t)sb.st_size;
		}
	}
	closedir(d);
}

/* The diff_ids the stored images list, for the caches of unpacked layers. */
static void give_diff_ids(struct cairn_digest **out, size_t *n, const struct digest_set *ids)
{
	*out = xcalloc(ids->n + 1, sizeof(**out));
	*n = 0;
	for (size_t i = 0; i < ids->n; i++) {
		cleanup_free char *s = xasprintf("sha256:%s", ids->v[i]);

		if (cairn_digest_parse(&(*out)[*n], s, strlen(s), NULL) == 0)
			(*n)++;
	}
}

int cairn_store_gc(struct cairn_store *st, int64_t grace_secs, struct cairn_store_gc_stats *stats,
		   struct cairn_digest **diff_ids, size_t *n_diff_ids, struct cairn_error **err)
{
	struct mark_ctx c = {.st = st};
	time_t cutoff = time(NULL) - (time_t)grace_secs;
	int ret;

	memset(stats, 0, sizeof(*stats));
	ret = cairn_store_ref_list(st, mark_ref, &c, err);
	if (ret == 0) {
		if (c.live.n > 1)
			cairn_sort(c.live.v, c.live.n, sizeof(*c.live.v), cmp_hex);
		sweep_blobs(st, &c.live, cutoff, stats);
		stats->tmp_removed = cairn_store_sweep_tmp(st, grace_secs);
		if (diff_ids)
			give_diff_ids(diff_ids, n_diff_ids, &c.diff_ids);
	}
	free(c.live.v);
	free(c.diff_ids.v);
	return ret;
}
