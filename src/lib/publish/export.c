/* SPDX-License-Identifier: MIT */
/* Export an image of the store: docker-archive (docker save's format), oci-archive, oci. */
#include "common.h"
#include "cairn/export.h"
#include "cairn/publish.h"
#include "cairn/registry.h"
#include "publish/publish_internal.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/json.h"
#include "util/sha256.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#define CHUNK (256 * 1024)

int cairn_export_dest_parse(struct cairn_export_dest *out, const char *s, struct cairn_error **err)
{
	static const struct {
		const char *prefix;
		enum cairn_export_kind kind;
	} kinds[] = {
		{"docker-archive:", CAIRN_EXPORT_DOCKER_ARCHIVE},
		{"oci-archive:", CAIRN_EXPORT_OCI_ARCHIVE},
		{"oci:", CAIRN_EXPORT_OCI_DIR},
	};
	const char *rest = NULL, *colon;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < ARRAY_SIZE(kinds) && !rest; i++) {
		if (strncmp(s, kinds[i].prefix, strlen(kinds[i].prefix)) == 0) {
			out->kind = kinds[i].kind;
			rest = s + strlen(kinds[i].prefix);
		}
	}
	if (!rest || !*rest || *rest == ':')
		return cairn_error_set(err, CAIRN_EUSAGE,
				       "invalid destination '%s': want docker-archive:FILE[:NAME], "
				       "oci-archive:FILE[:NAME] or oci:DIR[:NAME]",
				       s);
	colon = strchr(rest, ':');
	out->path = colon ? xstrndup(rest, (size_t)(colon - rest)) : xstrdup(rest);
	if (colon && colon[1])
		out->name = xstrdup(colon + 1);
	return 0;
}

void cairn_export_dest_release(struct cairn_export_dest *d)
{
	free(d->path);
	free(d->name);
	memset(d, 0, sizeof(*d));
}

/* ---- reading blobs: verified as they are read, layers decompressed ---- */

struct blob_src {
	int fd;
	struct cairn_sha256 hash; /* of the stored (compressed) bytes */
	uint64_t n;		  /* stored bytes read */
	char buf[CHUNK];
};

static la_ssize_t src_read(struct archive *a, void *ud, const void **out)
{
	struct blob_src *s = ud;
	ssize_t n = read(s->fd, s->buf, sizeof(s->buf));

	if (n < 0) {
		archive_set_error(a, errno, "read: %s", strerror(errno));
		return -1;
	}
	cairn_sha256_update(&s->hash, s->buf, (size_t)n);
	s->n += (uint64_t)n;
	*out = s->buf;
	return n;
}

typedef int (*data_fn)(const void *p, size_t n, void *ud, struct cairn_error **err);

/*
 * Read stored layer `d`, decompressed, into `fn` (may be NULL); `*tar` gets the digest and size
 * of the uncompressed bytes. The stored bytes are checked against `d` at the end.
 */
static int read_layer(struct cairn_store *st, const struct cairn_descriptor *d, data_fn fn,
		      void *ud, struct cairn_digest *diff_id, uint64_t *tar_size,
		      struct cairn_error **err)
{
	struct blob_src *s = xcalloc(1, sizeof(*s));
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct cairn_sha256 th;
	struct cairn_digest got;
	uint64_t size = 0;
	int ret;

	if (!a)
		abort();
	s->fd = -1;
	cairn_sha256_init(&s->hash);
	cairn_sha256_init(&th);
	*tar_size = 0;
	ret = cairn_store_blob_open(&s->fd, &size, st, &d->digest, err);
	if (ret == 0 && (archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
			 archive_read_support_filter_zstd(a) != ARCHIVE_OK ||
			 archive_read_support_format_raw(a) != ARCHIVE_OK))
		ret = cairn_error_set(err, CAIRN_EINTERNAL, "libarchive lacks gzip or zstd");
	if (ret == 0 && (archive_read_open(a, s, NULL, src_read, NULL) != ARCHIVE_OK ||
			 archive_read_next_header(a, &e) != ARCHIVE_OK))
		ret = cairn_error_set(err, CAIRN_EINVAL, "layer '%s': %s", d->digest.str,
				      archive_error_string(a));
	while (ret == 0) {
		const void *p;
		size_t n;
		la_int64_t off;
		int r = archive_read_data_block(a, &p, &n, &off);

		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			ret = cairn_error_set(err, CAIRN_EINVAL, "layer '%s': %s", d->digest.str,
					      archive_error_string(a));
			break;
		}
		cairn_sha256_update(&th, p, n);
		*tar_size += n;
		if (fn)
			ret = fn(p, n, ud, err);
		if (ret == 0)
			ret = cairn_interrupt_check(err);
	}
	cairn_sha256_final(&th, diff_id);
	cairn_sha256_final(&s->hash, &got);
	if (ret == 0 && (s->n != d->size || !cairn_digest_equal(&got, &d->digest)))
		ret = cairn_error_set(err, CAIRN_EDIGEST,
				      "blob '%s' in the store is corrupt: content hashes to '%s'",
				      d->digest.str, got.str);
	archive_read_free(a);
	if (s->fd >= 0)
		close(s->fd);
	cairn_sha256_release(&s->hash);
	cairn_sha256_release(&th);
	free(s);
	return ret;
}

/* Stream stored blob `d` as it is into `fn`, checked against `d`. */
static int read_raw(struct cairn_store *st, const struct cairn_descriptor *d, data_fn fn, void *ud,
		    struct cairn_error **err)
{
	struct blob_src *s = xcalloc(1, sizeof(*s));
	struct cairn_digest got;
	uint64_t size = 0;
	int ret;

	s->fd = -1;
	cairn_sha256_init(&s->hash);
	ret = cairn_store_blob_open(&s->fd, &size, st, &d->digest, err);
	while (ret == 0) {
		ssize_t n = read(s->fd, s->buf, sizeof(s->buf));

		if (n < 0)
			ret = cairn_error_set_errno(err, "read blob '%s'", d->digest.str);
		if (n <= 0)
			break;
		cairn_sha256_update(&s->hash, s->buf, (size_t)n);
		s->n += (uint64_t)n;
		if (s->n > d->size)
			break;
		ret = fn(s->buf, (size_t)n, ud, err);
		if (ret == 0)
			ret = cairn_interrupt_check(err);
	}
	cairn_sha256_final(&s->hash, &got);
	if (ret == 0 && (s->n != d->size || !cairn_digest_equal(&got, &d->digest)))
		ret = cairn_error_set(err, CAIRN_EDIGEST,
				      "blob '%s' in the store is corrupt: content hashes to '%s'",
				      d->digest.str, got.str);
	if (s->fd >= 0)
		close(s->fd);
	cairn_sha256_release(&s->hash);
	free(s);
	return ret;
}

/* ---- writing a tar file: to a temporary name, renamed once complete ---- */

struct tar_out {
	struct archive *a;
	char *path, *tmp;
	int fd;
};

static int tar_open(struct tar_out *t, const char *path, struct cairn_error **err)
{
	t->path = xstrdup(path);
	t->tmp = xasprintf("%s.tmp-XXXXXX", path);
	t->fd = mkstemp(t->tmp);
	if (t->fd < 0)
		return cairn_error_set_errno(err, "create '%s'", t->tmp);
	(void)fchmod(t->fd, 0644);
	t->a = archive_write_new();
	if (!t->a)
		abort();
	if (archive_write_set_format_pax_restricted(t->a) != ARCHIVE_OK ||
	    archive_write_open_fd(t->a, t->fd) != ARCHIVE_OK)
		return cairn_error_set(err, CAIRN_EOS, "write '%s': %s", t->tmp,
				       archive_error_string(t->a));
	return 0;
}

static int tar_entry(struct tar_out *t, const char *name, mode_t type, uint64_t size,
		     struct cairn_error **err)
{
	struct archive_entry *e = archive_entry_new();
	int r;

	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
	archive_entry_set_size(e, type == AE_IFDIR ? 0 : (la_int64_t)size);
	r = archive_write_header(t->a, e);
	archive_entry_free(e);
	if (r != ARCHIVE_OK)
		return cairn_error_set(err, CAIRN_EOS, "write '%s': %s", t->tmp,
				       archive_error_string(t->a));
	return 0;
}

static int tar_data(const void *p, size_t n, void *ud, struct cairn_error **err)
{
	struct tar_out *t = ud;

	if (archive_write_data(t->a, p, n) != (la_ssize_t)n)
		return cairn_error_set(err, CAIRN_EOS, "write '%s': %s", t->tmp,
				       archive_error_string(t->a));
	return 0;
}

static int tar_file(struct tar_out *t, const char *name, const void *p, size_t n,
		    struct cairn_error **err)
{
	int ret = tar_entry(t, name, AE_IFREG, n, err);

	return ret < 0 ? ret : tar_data(p, n, t, err);
}

/* Finish (`ok`: rename into place) or abandon (remove the temporary file). */
static int tar_close(struct tar_out *t, bool ok, struct cairn_error **err)
{
	int ret = 0;

	if (t->a && ok && archive_write_close(t->a) != ARCHIVE_OK)
		ret = cairn_error_set(err, CAIRN_EOS, "write '%s': %s", t->tmp,
				      archive_error_string(t->a));
	if (t->a)
		archive_write_free(t->a);
	if (ok && ret == 0 && fsync(t->fd) < 0)
		ret = cairn_error_set_errno(err, "write '%s'", t->tmp);
	if (t->fd >= 0)
		close(t->fd);
	if (ok && ret == 0 && rename(t->tmp, t->path) < 0)
		ret = cairn_error_set_errno(err, "rename '%s' to '%s'", t->tmp, t->path);
	if (t->fd >= 0 && (!ok || ret < 0))
		unlink(t->tmp);
	free(t->path);
	free(t->tmp);
	memset(t, 0, sizeof(*t));
	return ret;
}

/* ---- the three formats ---- */

struct image_docs {
	struct cairn_manifest *m;
	char *config;
	size_t config_len;
	char *manifest;
	size_t manifest_len;
};

static void docs_release(struct image_docs *d)
{
	cairn_manifest_free(d->m);
	free(d->config);
	free(d->manifest);
}

static int read_docs(struct image_docs *d, struct cairn_store *st,
		     const struct cairn_descriptor *manifest, struct cairn_error **err)
{
	int ret = cairn_store_read_doc(&d->manifest, &d->manifest_len, st, &manifest->digest, err);

	if (ret == 0)
		ret = cairn_manifest_parse(&d->m, manifest->media_type, d->manifest,
					   d->manifest_len, err);
	if (ret == 0 && d->m->kind != CAIRN_MANIFEST_IMAGE)
		ret = cairn_error_set(err, CAIRN_EINVAL, "'%s' is no image manifest",
				      manifest->digest.str);
	if (ret == 0)
		ret = cairn_store_read_doc(&d->config, &d->config_len, st, &d->m->config.digest,
					   err);
	return ret;
}

/* docker save's layout: CONFIGHEX.json, DIFFIDHEX/layer.tar, manifest.json. */
static int docker_archive(struct cairn_store *st, const struct image_docs *d, const char *path,
			  const char *name, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf mb = CAIRN_BUF_INIT;
	cleanup_json json_t *cfg = NULL;
	cleanup_json json_t *top = NULL;
	cleanup_free char *cfg_name = xasprintf("%s.json", cairn_digest_hex(&d->m->config.digest));
	struct tar_out t = {.fd = -1};
	json_t *diff_ids, *layers;
	int ret = cairn_json_parse(&cfg, d->config, d->config_len, "image config", err);

	if (ret < 0)
		return ret;
	diff_ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
	if (json_array_size(diff_ids) != d->m->n_layers)
		return cairn_error_set(err, CAIRN_EINVAL,
				       "image config lists %zu diff_ids for %zu layers",
				       json_array_size(diff_ids), d->m->n_layers);
	top = json_pack("[{s:s, s:[s], s:[]}]", "Config", cfg_name, "RepoTags", name, "Layers");
	layers = json_object_get(json_array_get(top, 0), "Layers");
	ret = tar_open(&t, path, err);
	if (ret == 0)
		ret = tar_file(&t, cfg_name, d->config, d->config_len, err);
	for (size_t i = 0; ret == 0 && i < d->m->n_layers; i++) {
		const struct cairn_descriptor *l = &d->m->layers[i];
		const char *want = json_string_value(json_array_get(diff_ids, i));
		cleanup_free char *dir = NULL;
		cleanup_free char *file = NULL;
		struct cairn_digest id, id2;
		uint64_t size = 0, size2 = 0;

		/* the size goes in the tar header first: one pass to learn it, one to copy */
		ret = read_layer(st, l, NULL, NULL, &id, &size, err);
		if (ret == 0 && (!want || strcmp(want, id.str) != 0))
			ret = cairn_error_set(err, CAIRN_EDIGEST,
					      "layer '%s' unpacks to '%s', the config says '%s'",
					      l->digest.str, id.str, want ? want : "nothing");
		if (ret < 0)
			break;
		dir = xstrdup(cairn_digest_hex(&id));
		file = xasprintf("%s/layer.tar", dir);
		ret = tar_entry(&t, dir, AE_IFDIR, 0, err);
		if (ret == 0)
			ret = tar_entry(&t, file, AE_IFREG, size, err);
		if (ret == 0)
			ret = read_layer(st, l, tar_data, &t, &id2, &size2, err);
		if (ret == 0 && (size2 != size || !cairn_digest_equal(&id, &id2)))
			ret = cairn_error_set(err, CAIRN_EDIGEST, "layer '%s' changed while read",
					      l->digest.str);
		json_array_append_new(layers, json_string(file));
	}
	if (ret == 0)
		ret = cairn_json_dump(&mb, top, err);
	if (ret == 0)
		ret = tar_file(&t, "manifest.json", mb.buf, mb.len, err);
	ret = ret < 0 ? (tar_close(&t, false, NULL), ret) : tar_close(&t, true, err);
	return ret;
}

/* Blob `i` of an image: its manifest, its config, then its layers. */
static const struct cairn_descriptor *image_blob(const struct cairn_descriptor *manifest,
						 const struct image_docs *d, size_t i)
{
	return i == 0 ? manifest : i == 1 ? &d->m->config : &d->m->layers[i - 2];
}

/* An OCI layout in a tar: oci-layout, index.json, blobs/sha256/HEX. */
static int oci_archive(struct cairn_store *st, const struct cairn_descriptor *manifest,
		       const struct image_docs *d, const char *path, const char *name,
		       struct cairn_error **err)
{
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	CLEANUP(cairn_buf_release) struct cairn_buf ib = CAIRN_BUF_INIT;
	cleanup_json json_t *index =
		json_pack("{s:i, s:[{s:s, s:s, s:I, s:{s:s}}]}", "schemaVersion", 2, "manifests",
			  "mediaType", manifest->media_type, "digest", manifest->digest.str, "size",
			  (json_int_t)manifest->size, "annotations",
			  "org.opencontainers.image.ref.name", name);
	struct tar_out t = {.fd = -1};
	int ret = cairn_json_dump(&ib, index, err);

	if (ret == 0)
		ret = tar_open(&t, path, err);
	if (ret == 0)
		ret = tar_file(&t, "oci-layout", layout, strlen(layout), err);
	if (ret == 0)
		ret = tar_file(&t, "index.json", ib.buf, ib.len, err);
	if (ret == 0)
		ret = tar_entry(&t, "blobs", AE_IFDIR, 0, err);
	if (ret == 0)
		ret = tar_entry(&t, "blobs/sha256", AE_IFDIR, 0, err);
	for (size_t i = 0; ret == 0 && i < d->m->n_layers + 2; i++) {
		const struct cairn_descriptor *b = image_blob(manifest, d, i);
		cleanup_free char *file =
			xasprintf("blobs/sha256/%s", cairn_digest_hex(&b->digest));

		ret = tar_entry(&t, file, AE_IFREG, b->size, err);
		if (ret == 0)
			ret = read_raw(st, b, tar_data, &t, err);
	}
	ret = ret < 0 ? (tar_close(&t, false, NULL), ret) : tar_close(&t, true, err);
	return ret;
}

struct blob_copy {
	struct cairn_blob_writer *w;
};

static int copy_data(const void *p, size_t n, void *ud, struct cairn_error **err)
{
	struct blob_copy *c = ud;

	return cairn_store_blob_write(c->w, p, n, err);
}

/* An OCI layout directory: the blobs it lacks, then the name. */
static int oci_dir(struct cairn_store *st, const struct cairn_descriptor *manifest,
		   const struct image_docs *d, const char *path, const char *name,
		   struct cairn_error **err)
{
	struct cairn_store *out = NULL;
	int ret = cairn_store_open(&out, path, err);

	for (size_t i = 0; ret == 0 && i < d->m->n_layers + 2; i++) {
		const struct cairn_descriptor *b = image_blob(manifest, d, i);
		struct blob_copy c = {0};

		if (cairn_store_has_blob(out, &b->digest))
			continue;
		ret = cairn_store_blob_writer_new(&c.w, out, err);
		if (ret == 0)
			ret = read_raw(st, b, copy_data, &c, err);
		if (ret == 0)
			ret = cairn_store_blob_commit(c.w, &b->digest, NULL, NULL, err);
		cairn_store_blob_writer_free(c.w);
	}
	if (ret == 0)
		ret = cairn_store_ref_set(out, name, manifest, err);
	cairn_store_free(out);
	return ret;
}

int cairn_export(struct cairn_store *st, const struct cairn_descriptor *manifest,
		 const struct cairn_export_dest *dest, const char *default_name,
		 struct cairn_error **err)
{
	CLEANUP(docs_release) struct image_docs d = {0};
	const char *name = dest->name ? dest->name : default_name;
	int ret = read_docs(&d, st, manifest, err);

	if (ret == 0 && dest->kind == CAIRN_EXPORT_DOCKER_ARCHIVE)
		ret = docker_archive(st, &d, dest->path, name, err);
	else if (ret == 0 && dest->kind == CAIRN_EXPORT_OCI_ARCHIVE)
		ret = oci_archive(st, manifest, &d, dest->path, name, err);
	else if (ret == 0)
		ret = oci_dir(st, manifest, &d, dest->path, name, err);
	if (ret < 0)
		return cairn_error_wrap(err, "export to '%s'", dest->path);
	return 0;
}

/* ---- cairn export ---- */

static const struct cairn_build_image *pick(const struct cairn_build_result *res, const char *image,
					    struct cairn_error **err)
{
	const struct cairn_build_image *found = NULL;
	size_t n = 0;

	for (size_t i = 0; i < res->n_images; i++) {
		const struct cairn_build_image *im = &res->images[i];
		const char *nm = im->name ? im->name : "~";

		if (im->artifact && !image)
			continue;
		if (image ? strcmp(image, nm) == 0 : n++ == 0)
			found = im;
	}
	if (!image && n != 1)
		found = NULL;
	if (!found && image)
		cairn_error_set(err, CAIRN_EUSAGE, "no image '%s' in the config", image);
	else if (!found)
		cairn_error_set(err, CAIRN_EUSAGE,
				"the config has %zu images: name the one to export", n);
	return found;
}

/* A built image of the project, found without building: what export and inspect work on. */
struct found {
	struct cairn_registry_pool *pool; /* own, when the options bring none */
	struct cairn_build_opts bo;
	struct cairn_build_result *res;
	struct cairn_store *st;
	const struct cairn_build_image *im;
};

static void found_release(struct found *f)
{
	cairn_build_result_free(f->res);
	cairn_store_free(f->st);
	cairn_registry_pool_free(f->pool);
}

static int find_built(struct found *f, const struct cairn_build_opts *o, const char *image,
		      struct cairn_error **err)
{
	struct cairn_home home;
	int ret = 0;

	f->bo = *o;
	f->bo.no_build = 1;
	if (!f->bo.pull.registries) {
		ret = cairn_registry_pool_new(&f->pool, &f->bo.pull.registry, err);
		f->bo.pull.registries = f->pool;
	}
	cairn_home_paths(&home, o->home);
	if (ret == 0)
		ret = cairn_store_open(&f->st, home.store, err);
	cairn_home_release(&home);
	if (ret == 0)
		ret = cairn_build(&f->res, &f->bo, err);
	if (ret == 0) {
		f->im = pick(f->res, image, err);
		ret = f->im ? 0 : CAIRN_EUSAGE;
	}
	return ret;
}

int cairn_export_run(const struct cairn_build_opts *o, const char *image, const char *dest,
		     struct cairn_error **err)
{
	CLEANUP(cairn_export_dest_release) struct cairn_export_dest d = {0};
	CLEANUP(found_release) struct found f = {0};
	cleanup_free char *name = NULL;
	int ret = cairn_export_dest_parse(&d, dest, err);

	if (ret == 0)
		ret = find_built(&f, o, image, err);
	/* a stage taken from the stages storage has its layers there */
	if (ret == 0 && f.bo.stages_storage)
		ret = publish_ensure_layers(f.st, f.bo.stages_storage, f.res->project, f.im,
					    &f.bo.pull, err);
	if (ret < 0)
		return ret;
	name = f.im->name ? xasprintf("%s/%s:%s", f.res->project, f.im->name, f.im->signature)
			  : xasprintf("%s:%s", f.res->project, f.im->signature);
	/* a repository name has no capitals (docker load refuses them); an image name may */
	for (char *c = name; *c && *c != ':'; c++)
		*c = (char)tolower((unsigned char)*c);
	return cairn_export(f.st, &f.im->desc, &d, name, err);
}

/* ---- cairn inspect ---- */

static json_t *inspect_json(const struct cairn_build_result *res,
			    const struct cairn_build_image *im, const struct image_docs *d,
			    struct cairn_error **err)
{
	json_t *cfg = NULL, *layers = json_array(), *stages = json_array(), *doc;

	if (cairn_json_parse(&cfg, d->config, d->config_len, "image config", err) < 0) {
		json_decref(layers);
		json_decref(stages);
		return NULL;
	}
	for (size_t i = 0; i < d->m->n_layers; i++)
		json_array_append_new(layers, json_pack("{s:s, s:I, s:s}", "digest",
							d->m->layers[i].digest.str, "size",
							(json_int_t)d->m->layers[i].size,
							"mediaType", d->m->layers[i].media_type));
	for (size_t k = 0; k < im->n_stages; k++)
		json_array_append_new(stages,
				      json_pack("{s:s, s:s, s:s}", "name", im->stages[k].name,
						"signature", im->stages[k].signature, "digest",
						im->stages[k].desc.digest.str));
	doc = json_pack("{s:s, s:s?, s:s, s:s, s:s, s:I, s:o, s:o, s:o}", "project", res->project,
			"name", im->name, "signature", im->signature, "digest", im->desc.digest.str,
			"mediaType", im->desc.media_type, "size", (json_int_t)im->desc.size,
			"config", cfg, "layers", layers, "stages", stages);
	return doc;
}

int cairn_inspect_run(char **out, const struct cairn_build_opts *o, const char *image,
		      struct cairn_error **err)
{
	CLEANUP(found_release) struct found f = {0};
	CLEANUP(docs_release) struct image_docs d = {0};
	cleanup_json json_t *doc = NULL;
	int ret = find_built(&f, o, image, err);

	*out = NULL;
	if (ret == 0)
		ret = read_docs(&d, f.st, &f.im->desc, err);
	if (ret == 0) {
		doc = inspect_json(f.res, f.im, &d, err);
		ret = doc ? 0 : CAIRN_EINVAL;
	}
	/* indented, as docker inspect prints */
	if (ret == 0 && !(*out = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS)))
		ret = cairn_error_set(err, CAIRN_EINVAL, "cannot serialise JSON");
	return ret;
}
