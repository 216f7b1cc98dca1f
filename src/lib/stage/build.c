/* SPDX-License-Identifier: MIT */
/* The conveyor: each image a chain of stages, each stage cached in the store by signature. */
#include "common.h"
#include "cairn/build.h"
#include "cairn/config.h"
#include "cairn/manifest.h"
#include "cairn/ref.h"
#include "cairn/store.h"
#include "build/exec.h"
#include "build/layer.h"
#include "build/unpack.h"
#include "build/upper.h"
#include "build/workdir.h"
#include "git/git.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/parse.h"
#include "util/sha256.h"

#include <dirent.h>
#include <ftw.h>
#include <sys/mount.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#define SIG_VERSION "cairn-1"
#define LABEL_GIT_PREFIX "cairn-git-"

enum stage_id {
	S_FROM,
	S_BEFORE_INSTALL,
	S_IMPORTS_BEFORE_INSTALL,
	S_GIT_ARCHIVE,
	S_INSTALL,
	S_IMPORTS_AFTER_INSTALL,
	S_BEFORE_SETUP,
	S_IMPORTS_BEFORE_SETUP,
	S_SETUP,
	S_IMPORTS_AFTER_SETUP,
	S_GIT_CACHE,
	S_GIT_LATEST_PATCH,
	S_DOCKER,
	S_COUNT,
};

static const char *const stage_names[S_COUNT] = {
	"from",
	"beforeInstall",
	"importsBeforeInstall",
	"gitArchive",
	"install",
	"importsAfterInstall",
	"beforeSetup",
	"importsBeforeSetup",
	"setup",
	"importsAfterSetup",
	"gitCache",
	"gitLatestPatch",
	"dockerInstructions",
};

/* ---- signatures ---- */

void cairn_signature_hash(char out[CAIRN_SIGNATURE_HEX], const char *const *args, size_t n)
{
	struct cairn_sha256 h;
	struct cairn_digest d;

	cairn_sha256_init(&h);
	for (size_t i = 0; i < n; i++) {
		if (i)
			cairn_sha256_update(&h, ":::", 3);
		cairn_sha256_update(&h, args[i], strlen(args[i]));
	}
	cairn_sha256_final(&h, &d);
	memcpy(out, cairn_digest_hex(&d), CAIRN_SIGNATURE_HEX);
}

/* A growable list of owned strings: the dependencies of one stage. */
struct strv {
	char **v;
	size_t n;
};

static void strv_add(struct strv *s, const char *x)
{
	s->v = xreallocarray(s->v, s->n + 1, sizeof(*s->v));
	s->v[s->n++] = xstrdup(x);
}

static void strv_addf(struct strv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void strv_addf(struct strv *s, const char *fmt, ...)
{
	va_list ap;
	char *x = NULL;

	va_start(ap, fmt);
	if (vasprintf(&x, fmt, ap) < 0)
		abort();
	va_end(ap);
	s->v = xreallocarray(s->v, s->n + 1, sizeof(*s->v));
	s->v[s->n++] = x;
}

static void strv_release(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static void hash_strv(char out[CAIRN_SIGNATURE_HEX], const struct strv *s)
{
	cairn_signature_hash(out, (const char *const *)s->v, s->n);
}

static void hash_list(char out[CAIRN_SIGNATURE_HEX], const struct cairn_config_list *l)
{
	cairn_signature_hash(out, (const char *const *)l->v, l->n);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strv_sort(struct strv *s)
{
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), cmp_str);
}

/* ---- the builder ---- */

struct built_image {
	const struct cairn_config_image *cfg;
	char sig[CAIRN_SIGNATURE_HEX];
	struct cairn_descriptor desc;
};

/* A git entry's repository and the commit it builds from. */
struct git_src {
	struct cairn_git_repo *repo; /* borrowed from the builder */
	char commit[CAIRN_GIT_HEX_MAX];
	int64_t mtime; /* SOURCE_DATE_EPOCH, else the commit's time */
};

struct remote_repo {
	char *url;
	struct cairn_git_repo *repo;
};

struct builder {
	const struct cairn_build_opts *o;
	struct cairn_config *config;
	struct cairn_store *st;
	char *layers_root, *tmp_root, *builds_root;
	const char *dir;
	int git_inited;
	struct cairn_git_repo *repo; /* the project's, opened when an image has local git entries */
	char head[CAIRN_GIT_HEX_MAX];
	struct remote_repo *remotes; /* fetched once per build */
	size_t n_remotes;
	struct built_image *built;
	size_t n_built;
	struct cairn_build_result *result;
};

/* What a stage works on: the previous stage's image. */
struct image_state {
	struct builder *b;
	const struct cairn_config_image *img;
	const char *name; /* for messages: the image name or "~" */
	struct cairn_build_image *out;
	char prev_sig[CAIRN_SIGNATURE_HEX];
	struct cairn_descriptor prev; /* the previous stage's manifest */
	/* loaded on demand from `prev` */
	json_t *manifest, *config;
	int git_archived;    /* a gitArchive stage exists in this chain */
	struct git_src *git; /* one per img->git entry */
};

static void emit(struct image_state *s, enum cairn_build_event_kind kind, const char *stage,
		 const char *sig, const struct cairn_digest *dg, double secs)
{
	struct cairn_build_event ev = {.kind = kind,
				       .image = s->name,
				       .stage = stage,
				       .signature = sig,
				       .digest = dg,
				       .seconds = secs};

	if (s->b->o->event)
		s->b->o->event(&ev, s->b->o->event_ud);
}

static void on_output(const char *line, size_t len, void *ud)
{
	struct image_state *s = ud;
	struct cairn_build_event ev = {
		.kind = CAIRN_BUILD_STAGE_OUTPUT, .image = s->name, .line = line, .len = len};

	if (s->b->o->event)
		s->b->o->event(&ev, s->b->o->event_ud);
}

static double now_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *stage_name_ref(struct builder *b, const char *sig)
{
	return xasprintf("%s:%s", b->config->project.s, sig);
}

/* Load the previous stage's manifest and config (once). */
static int load_prev(struct image_state *s, struct cairn_error **err)
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

static void drop_prev(struct image_state *s)
{
	json_decref(s->manifest);
	json_decref(s->config);
	s->manifest = NULL;
	s->config = NULL;
}

static json_t *config_section(json_t *config)
{
	json_t *c = json_object_get(config, "config");

	if (!json_is_object(c)) {
		c = json_object();
		json_object_set_new(config, "config", c);
	}
	return c;
}

static const char *label(struct image_state *s, const char *key)
{
	json_t *labels = json_object_get(config_section(s->config), "Labels");

	return json_string_value(json_object_get(labels, key));
}

static void set_label(json_t *config, const char *key, const char *value)
{
	json_t *c = config_section(config);
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
	return mt;
}

struct new_layer {
	struct cairn_layer_result r;
};

/*
 * Store the stage: `config` (the previous config, changed by the stage) with `layers` added
 * after the previous stage's, under `<project>:<sig>`.
 */
static int commit_stage(struct image_state *s, enum stage_id id, const char *sig, json_t *config,
			const struct new_layer *layers, size_t n_layers,
			struct cairn_descriptor *out, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf cb = CAIRN_BUF_INIT;
	CLEANUP(cairn_buf_release) struct cairn_buf mb = CAIRN_BUF_INIT;
	cleanup_json json_t *manifest = NULL;
	cleanup_free char *name = stage_name_ref(s->b, sig);
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
	json_array_append_new(history, json_pack("{s:s, s:b}", "created_by", stage_names[id],
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
	ret = cairn_store_put_blob(s->b->st, mb.buf, mb.len, &out->digest, err);
	if (ret < 0)
		return ret;
	return cairn_store_ref_set(s->b->st, name, out, err);
}

/* ---- dependencies of each stage ---- */

static const struct cairn_config_list *stage_commands(const struct cairn_config_image *img,
						      enum stage_id id,
						      enum cairn_config_user_stage *us)
{
	switch (id) {
	case S_BEFORE_INSTALL:
		*us = CAIRN_CONFIG_STAGE_BEFORE_INSTALL;
		break;
	case S_INSTALL:
		*us = CAIRN_CONFIG_STAGE_INSTALL;
		break;
	case S_BEFORE_SETUP:
		*us = CAIRN_CONFIG_STAGE_BEFORE_SETUP;
		break;
	case S_SETUP:
		*us = CAIRN_CONFIG_STAGE_SETUP;
		break;
	default:
		return NULL;
	}
	return &img->shell.commands[*us];
}

static void git_selection(struct cairn_git_selection *sel, const struct cairn_config_git *g)
{
	sel->add = g->add.s ? g->add.s : "/";
	sel->include = (const char *const *)g->include_paths.v;
	sel->n_include = g->include_paths.n;
	sel->exclude = (const char *const *)g->exclude_paths.v;
	sel->n_exclude = g->exclude_paths.n;
}

/* The label that records which commit a stage holds of git entry `g`. */
static char *git_label(const struct git_src *src, const struct cairn_config_git *g)
{
	char h[CAIRN_SIGNATURE_HEX];
	const char *args[] = {cairn_git_identity(src->repo), g->add.s ? g->add.s : "/", g->to.s};

	cairn_signature_hash(h, args, ARRAY_SIZE(args));
	return xasprintf(LABEL_GIT_PREFIX "%.12s-commit", h);
}

static void join_list(struct cairn_buf *b, const struct cairn_config_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		cairn_buf_addf(b, "%s%s", i ? "," : "", l->v[i]);
}

/* Whether any git entry's selection changed between the commit the stage holds and HEAD. */
static int git_changed(int *changed, struct image_state *s, struct cairn_error **err)
{
	*changed = 0;
	for (size_t i = 0; i < s->img->n_git; i++) {
		const struct cairn_config_git *g = &s->img->git[i];
		const struct git_src *src = &s->git[i];
		cleanup_free char *key = git_label(src, g);
		const char *from = label(s, key);
		struct cairn_git_selection sel = CAIRN_GIT_SELECTION_INIT;
		bool ch = true;
		int ret;

		git_selection(&sel, g);
		if (from && strcmp(from, src->commit) != 0) {
			ret = cairn_git_changed(&ch, src->repo, from, src->commit, &sel, err);
			if (ret < 0)
				return ret;
		} else if (from) {
			ch = false;
		}
		if (ch)
			*changed = 1;
	}
	return 0;
}

static enum cairn_config_import_point import_point(enum stage_id id)
{
	switch (id) {
	case S_IMPORTS_BEFORE_INSTALL:
		return CAIRN_CONFIG_IMPORT_BEFORE_INSTALL;
	case S_IMPORTS_AFTER_INSTALL:
		return CAIRN_CONFIG_IMPORT_AFTER_INSTALL;
	case S_IMPORTS_BEFORE_SETUP:
		return CAIRN_CONFIG_IMPORT_BEFORE_SETUP;
	default:
		return CAIRN_CONFIG_IMPORT_AFTER_SETUP;
	}
}

static const struct built_image *find_built(struct builder *b, const struct cairn_config_image *img)
{
	for (size_t i = 0; i < b->n_built; i++)
		if (b->built[i].cfg == img)
			return &b->built[i];
	return NULL;
}

static int stage_deps(struct strv *deps, struct image_state *s, enum stage_id id,
		      struct cairn_error **err)
{
	const struct cairn_config_image *img = s->img;
	enum cairn_config_user_stage us;
	const struct cairn_config_list *cmds = stage_commands(img, id, &us);
	int ret;

	if (cmds) {
		if (cmds->n == 0)
			return 0;
		for (size_t i = 0; i < cmds->n; i++)
			strv_add(deps, cmds->v[i]);
		if (img->shell.cache_version.s)
			strv_add(deps, img->shell.cache_version.s);
		if (img->shell.stage_cache_version[us].s)
			strv_add(deps, img->shell.stage_cache_version[us].s);
		for (size_t i = 0; i < img->n_git; i++) {
			const struct cairn_config_list *pat = &img->git[i].stage_dependencies[us];
			struct cairn_git_selection sel = CAIRN_GIT_SELECTION_INIT;
			char sum[CAIRN_GIT_SUM_MAX];

			if (pat->n == 0)
				continue;
			git_selection(&sel, &img->git[i]);
			ret = cairn_git_stage_checksum(sum, s->git[i].repo, s->git[i].commit, &sel,
						       (const char *const *)pat->v, pat->n, err);
			if (ret < 0)
				return ret;
			strv_add(deps, sum);
		}
		return 0;
	}
	switch (id) {
	case S_GIT_ARCHIVE: {
		struct strv entries = {0};

		if (img->n_git == 0)
			return 0;
		for (size_t i = 0; i < img->n_git; i++) {
			const struct cairn_config_git *g = &img->git[i];
			struct cairn_buf inc = CAIRN_BUF_INIT, exc = CAIRN_BUF_INIT;
			char reset[CAIRN_GIT_HEX_MAX];
			char h[CAIRN_SIGNATURE_HEX];
			struct strv p = {0};

			ret = cairn_git_latest_reset(reset, s->git[i].repo, s->git[i].commit, err);
			if (ret < 0) {
				strv_release(&entries);
				return ret;
			}
			join_list(&inc, &g->include_paths);
			join_list(&exc, &g->exclude_paths);
			strv_add(&p, cairn_git_identity(s->git[i].repo));
			strv_add(&p, g->add.s ? g->add.s : "/");
			strv_add(&p, g->to.s);
			strv_add(&p, inc.buf);
			strv_add(&p, exc.buf);
			strv_add(&p, g->owner.s ? g->owner.s : "");
			strv_add(&p, g->group.s ? g->group.s : "");
			strv_add(&p, g->branch.s ? g->branch.s : "");
			strv_add(&p, g->tag.s ? g->tag.s : "");
			strv_add(&p, g->commit.s ? g->commit.s : "");
			strv_add(&p, reset);
			hash_strv(h, &p);
			strv_add(&entries, h);
			strv_release(&p);
			cairn_buf_release(&inc);
			cairn_buf_release(&exc);
		}
		strv_sort(&entries);
		for (size_t i = 0; i < entries.n; i++)
			strv_add(deps, entries.v[i]);
		strv_release(&entries);
		return 0;
	}
	case S_IMPORTS_BEFORE_INSTALL:
	case S_IMPORTS_AFTER_INSTALL:
	case S_IMPORTS_BEFORE_SETUP:
	case S_IMPORTS_AFTER_SETUP:
		for (size_t i = 0; i < img->n_imports; i++) {
			const struct cairn_config_import *im = &img->imports[i];
			const struct built_image *src = find_built(s->b, im->source);
			struct cairn_buf inc = CAIRN_BUF_INIT, exc = CAIRN_BUF_INIT;

			if (im->point != import_point(id))
				continue;
			if (!src)
				return cairn_error_set(err, CAIRN_EINTERNAL,
						       "image '%s': import source not built",
						       s->name);
			join_list(&inc, &im->include_paths);
			join_list(&exc, &im->exclude_paths);
			strv_add(deps, src->sig);
			strv_add(deps, im->add.s);
			strv_add(deps, im->to.s);
			strv_add(deps, im->owner.s ? im->owner.s : "");
			strv_add(deps, im->group.s ? im->group.s : "");
			strv_add(deps, inc.buf);
			strv_add(deps, exc.buf);
			cairn_buf_release(&inc);
			cairn_buf_release(&exc);
		}
		return 0;
	case S_GIT_CACHE: {
		uint64_t mib = 0;

		/* whole MiB of patch since the previous stage: it grows into a new cache stage */
		if (img->n_git == 0)
			return 0;
		ret = load_prev(s, err);
		if (ret < 0)
			return ret;
		for (size_t i = 0; i < img->n_git; i++) {
			const struct git_src *src = &s->git[i];
			cleanup_free char *key = git_label(src, &img->git[i]);
			const char *from = label(s, key);
			struct cairn_git_selection sel = CAIRN_GIT_SELECTION_INIT;
			uint64_t bytes = 0;

			git_selection(&sel, &img->git[i]);
			if (from && strcmp(from, src->commit) != 0) {
				ret = cairn_git_diff_size(&bytes, src->repo, from, src->commit,
							  &sel, err);
				if (ret < 0)
					return ret;
			}
			strv_addf(deps, "%llu", (unsigned long long)(bytes >> 20));
			mib += bytes >> 20;
		}
		/* under one MiB there is nothing to fold: the patch stage carries it */
		if (mib == 0)
			strv_release(deps);
		return 0;
	}
	case S_GIT_LATEST_PATCH: {
		int changed = 0;

		if (img->n_git == 0)
			return 0;
		ret = load_prev(s, err);
		if (ret < 0)
			return ret;
		ret = git_changed(&changed, s, err);
		if (ret < 0 || !changed)
			return ret;
		for (size_t i = 0; i < img->n_git; i++)
			strv_add(deps, s->git[i].commit);
		return 0;
	}
	case S_DOCKER: {
		const struct cairn_config_docker *d = &img->docker;
		char h[CAIRN_SIGNATURE_HEX];
		struct strv kv = {0};

		if (!d->workdir.s && !d->user.s && !d->stopsignal.s && !d->cmd.n &&
		    !d->entrypoint.n && !d->expose.n && !d->volume.n && !d->n_env && !d->n_labels &&
		    !d->healthcheck.test.n)
			return 0;
		strv_addf(deps, "WORKDIR=%s", d->workdir.s ? d->workdir.s : "");
		strv_addf(deps, "USER=%s", d->user.s ? d->user.s : "");
		strv_addf(deps, "STOPSIGNAL=%s", d->stopsignal.s ? d->stopsignal.s : "");
		hash_list(h, &d->cmd);
		strv_addf(deps, "CMD=%s:%zu", h, d->cmd.n);
		hash_list(h, &d->entrypoint);
		strv_addf(deps, "ENTRYPOINT=%s:%zu", h, d->entrypoint.n);
		hash_list(h, &d->expose);
		strv_addf(deps, "EXPOSE=%s", h);
		hash_list(h, &d->volume);
		strv_addf(deps, "VOLUME=%s", h);
		for (size_t i = 0; i < d->n_env; i++)
			strv_addf(&kv, "%s=%s", d->env[i].key, d->env[i].value);
		strv_sort(&kv);
		hash_strv(h, &kv);
		strv_addf(deps, "ENV=%s", h);
		strv_release(&kv);
		for (size_t i = 0; i < d->n_labels; i++)
			strv_addf(&kv, "%s=%s", d->labels[i].key, d->labels[i].value);
		strv_sort(&kv);
		hash_strv(h, &kv);
		strv_addf(deps, "LABEL=%s", h);
		strv_release(&kv);
		hash_list(h, &d->healthcheck.test);
		strv_addf(deps, "HEALTHCHECK=%s:%lld:%lld:%lld:%u", h,
			  (long long)d->healthcheck.interval_ns,
			  (long long)d->healthcheck.timeout_ns,
			  (long long)d->healthcheck.start_period_ns, d->healthcheck.retries);
		return 0;
	}
	default:
		/* imports: see the checks in build_image() */
		return 0;
	}
}

/* ---- building stages ---- */

/* The unpacked directories of the previous stage's layers, base first. */
static int lower_dirs(struct strv *out, struct image_state *s, struct cairn_error **err)
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
		struct cairn_digest ld, dd;
		char *dir = NULL;
		int ret;

		if (!dg || !di)
			return cairn_error_set(err, CAIRN_EINVAL, "stage '%s': bad layer %zu",
					       s->prev.digest.str, i);
		ret = cairn_digest_parse(&ld, dg, strlen(dg), err);
		if (ret == 0)
			ret = cairn_digest_parse(&dd, di, strlen(di), err);
		/* a stage reused from the stages storage brings its layers only now */
		if (ret == 0 && s->b->o->stages_storage && !cairn_store_has_blob(s->b->st, &ld))
			ret = cairn_image_fetch_blob(s->b->st, s->b->o->stages_storage, &ld,
						     &s->b->o->pull, err);
		if (ret == 0)
			ret = cairn_layer_ensure_unpacked(&dir, s->b->st, s->b->layers_root, &ld,
							  &dd, err);
		if (ret < 0)
			return ret;
		strv_add(out, dir);
		free(dir);
	}
	return 0;
}

/* A name in the image's /etc/passwd (or /etc/group), or a number. */
static int resolve_id(unsigned *out, struct image_state *s, const char *name, int group,
		      const char *what, struct cairn_error **err)
{
	struct strv lowers = {0};
	uint64_t v;
	int ret;

	*out = 0;
	if (!name || !*name)
		return 0;
	if (cairn_parse_u64(&v, name, UINT32_MAX - 1, what, NULL) == 0) {
		*out = (unsigned)v;
		return 0;
	}
	ret = lower_dirs(&lowers, s, err);
	for (size_t i = lowers.n; ret == 0 && i-- > 0;) {
		cleanup_free char *path =
			xasprintf("%s/etc/%s", lowers.v[i], group ? "group" : "passwd");
		CLEANUP(cairn_buf_release) struct cairn_buf f = CAIRN_BUF_INIT_MAX(4 << 20);
		size_t n = strlen(name);

		if (cairn_fs_read_at(AT_FDCWD, path, &f, NULL) < 0)
			continue;
		for (char *line = f.buf; line && *line;) {
			char *nl = strchr(line, '\n');
			char *c1, *c2, *c3;

			if (nl)
				*nl = '\0';
			c1 = strchr(line, ':');
			c2 = c1 ? strchr(c1 + 1, ':') : NULL;
			c3 = c2 ? strchr(c2 + 1, ':') : NULL;
			if (c1 && c2 && (size_t)(c1 - line) == n && strncmp(line, name, n) == 0) {
				if (c3)
					*c3 = '\0';
				if (cairn_parse_u64(&v, c2 + 1, UINT32_MAX - 1, what, err) < 0) {
					strv_release(&lowers);
					return CAIRN_EINVAL;
				}
				*out = (unsigned)v;
				strv_release(&lowers);
				return 0;
			}
			line = nl ? nl + 1 : NULL;
		}
		break; /* the top-most file is the image's */
	}
	strv_release(&lowers);
	if (ret < 0)
		return ret;
	return cairn_error_set(err, CAIRN_EINVAL, "%s: no %s '%s' in the image's /etc/%s", what,
			       group ? "group" : "user", name, group ? "group" : "passwd");
}

/* Write git layer content: the archive (from == NULL) or the patch since each label commit. */
static int git_layer(struct new_layer *out, int *empty, struct image_state *s, int patch,
		     json_t *config, struct cairn_error **err)
{
	struct builder *b = s->b;
	struct cairn_layer_writer *w = NULL;
	struct cairn_layer_opts lo = CAIRN_LAYER_OPTS_INIT;
	int ret, any = 0;

	*empty = 1;
	ret = cairn_layer_writer_new(&w, b->st, &lo, err);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < s->img->n_git; i++) {
		const struct cairn_config_git *g = &s->img->git[i];
		struct cairn_git_ops ops = CAIRN_GIT_OPS_INIT;
		struct cairn_git_selection sel = CAIRN_GIT_SELECTION_INIT;
		const struct git_src *src = &s->git[i];
		cleanup_free char *key = git_label(src, g);
		cleanup_free char *what = xasprintf("%s: git[%zu]", b->config->file, i);
		const char *from = patch ? label(s, key) : NULL;
		unsigned uid = 0, gid = 0;

		git_selection(&sel, g);
		ret = resolve_id(&uid, s, g->owner.s, 0, what, err);
		if (ret == 0)
			ret = resolve_id(&gid, s, g->group.s, 1, what, err);
		if (ret == 0 && patch && from && strcmp(from, src->commit) == 0) {
			set_label(config, key, src->commit);
			continue;
		}
		if (ret == 0 && patch && from)
			ret = cairn_git_patch_ops(&ops, src->repo, from, src->commit, &sel, g->to.s,
						  err);
		else if (ret == 0)
			ret = cairn_git_archive_ops(&ops, src->repo, src->commit, &sel, g->to.s,
						    err);
		if (ret == 0 && ops.n)
			any = 1;
		if (ret == 0)
			ret = cairn_git_write_ops(w, src->repo, &ops, uid, gid, src->mtime, err);
		cairn_git_ops_release(&ops);
		if (ret < 0) {
			cairn_layer_writer_free(w);
			return ret;
		}
		set_label(config, key, src->commit);
	}
	*empty = !any;
	return cairn_layer_finish(w, &out->r, err);
}

static json_t *env_of(json_t *config)
{
	return json_object_get(config_section(config), "Env");
}

struct mount_dirs {
	struct cairn_exec_mount *v;
	struct strv owned; /* sources cairn made */
	size_t n;
};

static int prepare_mounts(struct mount_dirs *m, struct image_state *s, const char *work,
			  struct cairn_error **err)
{
	struct builder *b = s->b;

	m->v = xcalloc(s->img->n_mounts + 1, sizeof(*m->v));
	for (size_t i = 0; i < s->img->n_mounts; i++) {
		const struct cairn_config_mount *cm = &s->img->mounts[i];
		char *src;
		int ret;

		if (cm->type == CAIRN_CONFIG_MOUNT_HOST_DIR) {
			src = xstrdup(cm->from_path.s);
		} else if (cm->type == CAIRN_CONFIG_MOUNT_TMP_DIR) {
			src = xasprintf("%s/mount-%zu", work, i);
		} else {
			char h[CAIRN_SIGNATURE_HEX];
			const char *args[] = {s->name, cm->to.s};

			cairn_signature_hash(h, args, 2);
			src = xasprintf("%s/%s/%.16s", b->builds_root, b->config->project.s, h);
		}
		ret = cairn_fs_mkdirs_at(AT_FDCWD, src, 0755, err);
		if (ret < 0) {
			free(src);
			return ret;
		}
		strv_add(&m->owned, src);
		free(src);
		m->v[m->n].source = m->owned.v[m->owned.n - 1];
		m->v[m->n].destination = cm->to.s;
		m->n++;
	}
	return 0;
}

/* Stop, unmount and remove what killed builds left in tmp/ (containers, mounts, layers). */
static void clean_stale(struct builder *b)
{
	cairn_workdir_clean_stale(b->tmp_root);
}

static int build_shell(struct new_layer *layers, size_t *n_layers, json_t *config,
		       struct image_state *s, enum stage_id id, struct cairn_error **err)
{
	struct builder *b = s->b;
	enum cairn_config_user_stage us;
	const struct cairn_config_list *cmds = stage_commands(s->img, id, &us);
	struct cairn_exec_opts eo = CAIRN_EXEC_OPTS_INIT;
	struct mount_dirs md = {0};
	cleanup_close int lock = -1;
	struct strv lowers = {0}, env = {0};
	cleanup_free char *work = NULL;
	json_t *e;
	size_t i;
	int status = 0, ret;

	*n_layers = 0;
	ret = cairn_workdir_new(&work, &lock, b->tmp_root, err);
	if (ret < 0)
		return ret;
	ret = lower_dirs(&lowers, s, err);
	if (ret < 0)
		goto out;
	if (s->git_archived && s->img->n_git) {
		/* A git stage that must be rebuilt takes the patch up to HEAD first. */
		int changed = 0, empty = 1;

		ret = git_changed(&changed, s, err);
		if (ret == 0 && changed)
			ret = git_layer(&layers[0], &empty, s, 1, config, err);
		if (ret < 0)
			goto out;
		if (changed && !empty) {
			char *dir = NULL;

			ret = cairn_layer_ensure_unpacked(&dir, b->st, b->layers_root,
							  &layers[0].r.desc.digest,
							  &layers[0].r.diff_id, err);
			if (ret < 0)
				goto out;
			strv_add(&lowers, dir);
			free(dir);
			*n_layers = 1;
		}
	}
	json_array_foreach(env_of(s->config), i, e) if (json_is_string(e))
		strv_add(&env, json_string_value(e));
	ret = prepare_mounts(&md, s, work, err);
	if (ret < 0)
		goto out;
	{
		cleanup_free char *exec_dir = xasprintf("%s/run", work);

		eo.runtime = b->o->runtime;
		eo.lowerdirs = (const char *const *)lowers.v;
		eo.n_lower = lowers.n;
		eo.env = env.n ? (const char *const *)env.v : NULL;
		eo.n_env = env.n;
		eo.commands = (const char *const *)cmds->v;
		eo.n_commands = cmds->n;
		eo.mounts = md.v;
		eo.n_mounts = md.n;
		eo.work_dir = exec_dir;
		eo.output = on_output;
		eo.output_ud = s;
		ret = cairn_exec_shell(&status, &eo, err);
		if (ret < 0)
			cairn_error_wrap(err, "image '%s': stage '%s'", s->name, stage_names[id]);
		if (ret == 0 && status != 0)
			ret = cairn_error_set(
				err, CAIRN_EINTERNAL,
				"%s:%u:%u: image '%s': stage '%s' failed: the commands "
				"exited with status %d",
				b->config->file, cmds->at.line, cmds->at.column, s->name,
				stage_names[id], status);
		if (ret == 0) {
			cleanup_free char *upper = xasprintf("%s/upper", exec_dir);
			struct cairn_layer_opts lo = CAIRN_LAYER_OPTS_INIT;

			ret = cairn_layer_from_dir(&layers[*n_layers].r, b->st, upper, &lo, -1,
						   err);
			if (ret == 0)
				(*n_layers)++;
		}
		cairn_exec_cleanup(exec_dir);
	}
out:
	cairn_exec_cleanup(work);
	strv_release(&lowers);
	strv_release(&env);
	strv_release(&md.owned);
	free(md.v);
	return ret;
}

/* ---- imports ---- */

struct walked {
	char *rel; /* relative to the import's add, "" for add itself */
	struct stat st;
};

struct walk_list {
	struct walked *v;
	size_t n;
	size_t base_len; /* strlen of the walked root */
};

/* nftw has no user data: the walk in progress (builds run one import at a time) */
static struct walk_list *walking;

static int walk_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	struct walk_list *w = walking;
	const char *rel = path + w->base_len;

	(void)type;
	(void)ftw;
	while (*rel == '/')
		rel++;
	if (S_ISCHR(sb->st_mode) || S_ISBLK(sb->st_mode) || S_ISSOCK(sb->st_mode))
		return 0; /* whiteouts of a single-layer view, devices */
	w->v = xreallocarray(w->v, w->n + 1, sizeof(*w->v));
	w->v[w->n].rel = xstrdup(rel);
	w->v[w->n].st = *sb;
	w->n++;
	return 0;
}

static int cmp_walked(const void *a, const void *b)
{
	return strcmp(((const struct walked *)a)->rel, ((const struct walked *)b)->rel);
}

static int import_selected(const struct cairn_config_import *im, const char *rel)
{
	for (size_t i = 0; i < im->exclude_paths.n; i++)
		if (cairn_git_path_match(im->exclude_paths.v[i], rel))
			return 0;
	if (im->include_paths.n == 0)
		return 1;
	for (size_t i = 0; i < im->include_paths.n; i++)
		if (cairn_git_path_match(im->include_paths.v[i], rel))
			return 1;
	return 0;
}

/* Whether a directory goes in: selected itself, or holding a selected entry (sorted after it). */
static int dir_needed(const struct walk_list *w, size_t i, const struct cairn_config_import *im)
{
	size_t len = strlen(w->v[i].rel);

	if (import_selected(im, w->v[i].rel))
		return 1;
	for (size_t k = i + 1; k < w->n; k++) {
		if (strncmp(w->v[k].rel, w->v[i].rel, len) != 0 || w->v[k].rel[len] != '/')
			break;
		if (!S_ISDIR(w->v[k].st.st_mode) && import_selected(im, w->v[k].rel))
			return 1;
	}
	return 0;
}

static int add_parents(struct cairn_layer_writer *w, const char *path, int64_t mtime,
		       struct cairn_error **err)
{
	cleanup_free char *p = xstrdup(path);

	for (char *slash = strchr(p, '/'); slash; slash = strchr(slash + 1, '/')) {
		struct cairn_layer_entry e = {.path = p, .mode = S_IFDIR | 0755, .mtime = mtime};
		int ret;

		*slash = '\0';
		ret = cairn_layer_add(w, &e, err);
		*slash = '/';
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int copy_file(struct cairn_layer_writer *w, const char *path, uint64_t size,
		     struct cairn_error **err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char buf[65536];
	uint64_t left = size;

	if (fd < 0)
		return cairn_error_set_errno(err, "import: open '%s'", path);
	while (left) {
		ssize_t n = read(fd, buf, left < sizeof(buf) ? left : sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return cairn_error_set(err, CAIRN_EOS, "import: '%s' changed while read",
					       path);
		if (cairn_layer_write_data(w, buf, (size_t)n, err) < 0)
			return CAIRN_EOS;
		left -= (uint64_t)n;
	}
	return 0;
}

static int import_entry(struct cairn_layer_writer *w, const char *path, const char *full,
			const struct stat *st, unsigned uid, unsigned gid, int64_t mtime,
			struct cairn_error **err)
{
	struct cairn_layer_entry e = {
		.path = path, .mode = st->st_mode, .uid = uid, .gid = gid, .mtime = mtime};
	char link[4096];
	int ret;

	if (S_ISLNK(st->st_mode)) {
		ssize_t n = readlink(full, link, sizeof(link) - 1);

		link[n < 0 ? 0 : n] = '\0';
		e.linkname = link;
	} else if (S_ISREG(st->st_mode)) {
		e.size = (uint64_t)st->st_size;
	}
	ret = cairn_layer_add(w, &e, err);
	if (ret == 0 && S_ISREG(st->st_mode))
		ret = copy_file(w, full, e.size, err);
	return ret;
}

/* One import into the layer: the source image's `add`, filtered, placed at `to`. */
static int write_import(struct cairn_layer_writer *w, struct image_state *s,
			const struct cairn_config_import *im, size_t idx, const char *work,
			int64_t mtime, struct cairn_error **err)
{
	struct builder *b = s->b;
	const struct built_image *src = find_built(b, im->source);
	struct image_state ss = {.b = b, .img = im->source, .name = "import"};
	cleanup_free char *merged = xasprintf("%s/import-%zu", work, idx);
	cleanup_free char *empty = xasprintf("%s/empty-%zu", work, idx);
	cleanup_free char *root = NULL;
	cleanup_free char *what =
		xasprintf("%s:%u:%u: import", b->config->file, im->pos.line, im->pos.column);
	const char *to = im->to.s + 1; /* no leading '/' in tar paths */
	struct walk_list wl = {0};
	struct strv lowers = {0};
	struct stat st;
	unsigned uid = 0, gid = 0;
	int ret, mounted = 0;

	ret = resolve_id(&uid, s, im->owner.s, 0, what, err);
	if (ret == 0)
		ret = resolve_id(&gid, s, im->group.s, 1, what, err);
	if (ret < 0)
		return ret;
	ss.prev = src->desc;
	ret = load_prev(&ss, err);
	if (ret == 0)
		ret = lower_dirs(&lowers, &ss, err);
	if (ret == 0)
		ret = cairn_fs_mkdirs_at(AT_FDCWD, merged, 0755, err);
	if (ret == 0)
		ret = cairn_fs_mkdirs_at(AT_FDCWD, empty, 0755, err);
	if (ret == 0)
		ret = cairn_exec_mount_ro(merged, (const char *const *)lowers.v, lowers.n, empty,
					  err);
	if (ret < 0)
		goto out;
	mounted = 1;
	root = xasprintf("%s%s", merged, im->add.s);
	if (lstat(root, &st) < 0) {
		ret = cairn_error_set_errno(err, "%s: '%s' in image '%s'", what, im->add.s,
					    im->source->name ? im->source->name : "~");
		goto out;
	}
	ret = add_parents(w, to, mtime, err);
	if (ret < 0)
		goto out;
	if (!S_ISDIR(st.st_mode)) {
		ret = import_entry(w, to, root, &st, uid, gid, mtime, err);
		goto out;
	}
	wl.base_len = strlen(root);
	walking = &wl;
	nftw(root, walk_one, 32, FTW_PHYS | FTW_MOUNT);
	walking = NULL;
	if (wl.n > 1)
		qsort(wl.v, wl.n, sizeof(*wl.v), cmp_walked);
	for (size_t i = 0; i < wl.n && ret == 0; i++) {
		const struct walked *x = &wl.v[i];
		cleanup_free char *path = NULL;
		cleanup_free char *full = NULL;
		int keep =
			x->rel[0] == '\0' || (S_ISDIR(x->st.st_mode) ? dir_needed(&wl, i, im)
								     : import_selected(im, x->rel));

		if (!keep)
			continue;
		path = x->rel[0] ? xasprintf("%s/%s", to, x->rel) : xstrdup(to);
		full = x->rel[0] ? xasprintf("%s/%s", root, x->rel) : xstrdup(root);
		ret = import_entry(w, path, full, &x->st, uid, gid, mtime, err);
	}
out:
	if (mounted)
		umount2(merged, MNT_DETACH);
	for (size_t i = 0; i < wl.n; i++)
		free(wl.v[i].rel);
	free(wl.v);
	strv_release(&lowers);
	drop_prev(&ss);
	return ret;
}

static int build_imports(struct new_layer *layer, struct image_state *s, enum stage_id id,
			 struct cairn_error **err)
{
	struct builder *b = s->b;
	struct cairn_layer_opts lo = CAIRN_LAYER_OPTS_INIT;
	struct cairn_layer_writer *w = NULL;
	cleanup_free char *work = NULL;
	cleanup_close int lock = -1;
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	int64_t mtime = 0;
	int ret;

	ret = cairn_workdir_new(&work, &lock, b->tmp_root, err);
	if (ret < 0)
		return ret;
	if (sde && *sde) {
		uint64_t v;

		if (cairn_parse_u64(&v, sde, INT64_MAX, "SOURCE_DATE_EPOCH", NULL) == 0)
			mtime = (int64_t)v;
	} else if (s->img->n_git) {
		mtime = s->git[0].mtime;
	}
	ret = cairn_layer_writer_new(&w, b->st, &lo, err);
	for (size_t i = 0; ret == 0 && i < s->img->n_imports; i++)
		if (s->img->imports[i].point == import_point(id))
			ret = write_import(w, s, &s->img->imports[i], i, work, mtime, err);
	if (ret == 0)
		ret = cairn_layer_finish(w, &layer->r, err);
	else
		cairn_layer_writer_free(w);
	cairn_exec_cleanup(work);
	return ret;
}

static void set_string_array(json_t *c, const char *key, const struct cairn_config_list *l)
{
	json_t *a = json_array();

	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(a, json_string(l->v[i]));
	json_object_set_new(c, key, a);
}

static void set_set(json_t *c, const char *key, const struct cairn_config_list *l, int ports)
{
	json_t *o = json_object_get(c, key);

	if (!json_is_object(o)) {
		o = json_object();
		json_object_set_new(c, key, o);
	}
	for (size_t i = 0; i < l->n; i++) {
		if (ports && !strchr(l->v[i], '/')) {
			cleanup_free char *p = xasprintf("%s/tcp", l->v[i]);

			json_object_set_new(o, p, json_object());
		} else {
			json_object_set_new(o, l->v[i], json_object());
		}
	}
}

static void apply_docker(json_t *config, const struct cairn_config_docker *d)
{
	json_t *c = config_section(config);

	if (d->workdir.s)
		json_object_set_new(c, "WorkingDir", json_string(d->workdir.s));
	if (d->user.s)
		json_object_set_new(c, "User", json_string(d->user.s));
	if (d->stopsignal.s)
		json_object_set_new(c, "StopSignal", json_string(d->stopsignal.s));
	if (d->entrypoint.n) {
		set_string_array(c, "Entrypoint", &d->entrypoint);
		/* as docker does: a new ENTRYPOINT drops an inherited CMD */
		if (!d->cmd.n)
			json_object_del(c, "Cmd");
	}
	if (d->cmd.n)
		set_string_array(c, "Cmd", &d->cmd);
	if (d->expose.n)
		set_set(c, "ExposedPorts", &d->expose, 1);
	if (d->volume.n)
		set_set(c, "Volumes", &d->volume, 0);
	if (d->n_env) {
		json_t *env = json_object_get(c, "Env");

		if (!json_is_array(env)) {
			env = json_array();
			json_object_set_new(c, "Env", env);
		}
		for (size_t i = 0; i < d->n_env; i++) {
			cleanup_free char *kv = xasprintf("%s=%s", d->env[i].key, d->env[i].value);
			size_t klen = strlen(d->env[i].key), k;
			json_t *e;
			int replaced = 0;

			json_array_foreach(env, k, e)
			{
				const char *v = json_string_value(e);

				if (v && strncmp(v, d->env[i].key, klen) == 0 && v[klen] == '=') {
					json_array_set_new(env, k, json_string(kv));
					replaced = 1;
					break;
				}
			}
			if (!replaced)
				json_array_append_new(env, json_string(kv));
		}
	}
	for (size_t i = 0; i < d->n_labels; i++)
		set_label(config, d->labels[i].key, d->labels[i].value);
	if (d->healthcheck.test.n) {
		json_t *hc = json_object();

		set_string_array(hc, "Test", &d->healthcheck.test);
		if (d->healthcheck.interval_ns)
			json_object_set_new(hc, "Interval",
					    json_integer(d->healthcheck.interval_ns));
		if (d->healthcheck.timeout_ns)
			json_object_set_new(hc, "Timeout", json_integer(d->healthcheck.timeout_ns));
		if (d->healthcheck.start_period_ns)
			json_object_set_new(hc, "StartPeriod",
					    json_integer(d->healthcheck.start_period_ns));
		if (d->healthcheck.retries)
			json_object_set_new(hc, "Retries", json_integer(d->healthcheck.retries));
		json_object_set_new(c, "Healthcheck", hc);
	}
}

static int git_init(struct builder *b, struct cairn_error **err)
{
	int ret;

	if (b->git_inited)
		return 0;
	ret = cairn_git_global_init(err);
	if (ret == 0)
		b->git_inited = 1;
	return ret;
}

static int project_repo(struct cairn_git_repo **out, struct builder *b, struct cairn_error **err)
{
	char *branch = NULL;
	int ret;

	*out = b->repo;
	if (b->repo)
		return 0;
	ret = git_init(b, err);
	if (ret == 0)
		ret = cairn_git_open(&b->repo, b->dir, err);
	if (ret == 0)
		ret = cairn_git_head(b->head, &branch, b->repo, err);
	free(branch);
	*out = b->repo;
	return ret;
}

static int remote_repo(struct cairn_git_repo **out, struct builder *b, const char *url,
		       struct cairn_error **err)
{
	cleanup_free char *cache = xasprintf("%s/git", b->o->home);
	struct remote_repo *rr;
	int ret;

	*out = NULL;
	for (size_t i = 0; i < b->n_remotes; i++) {
		if (strcmp(b->remotes[i].url, url) == 0) {
			*out = b->remotes[i].repo;
			return 0;
		}
	}
	ret = git_init(b, err);
	if (ret == 0)
		ret = cairn_fs_mkdirs_at(AT_FDCWD, cache, 0755, err);
	if (ret < 0)
		return ret;
	b->remotes = xreallocarray(b->remotes, b->n_remotes + 1, sizeof(*b->remotes));
	rr = &b->remotes[b->n_remotes];
	rr->url = xstrdup(url);
	rr->repo = NULL;
	ret = cairn_git_open_remote(&rr->repo, url, cache, err);
	if (ret < 0) {
		free(rr->url);
		return ret;
	}
	b->n_remotes++;
	*out = rr->repo;
	return 0;
}

/* The repository and commit of each git entry of the image; remotes are fetched once. */
static int resolve_git(struct image_state *s, struct cairn_error **err)
{
	struct builder *b = s->b;
	const char *sde = getenv("SOURCE_DATE_EPOCH");

	s->git = xcalloc(s->img->n_git + 1, sizeof(*s->git));
	for (size_t i = 0; i < s->img->n_git; i++) {
		const struct cairn_config_git *g = &s->img->git[i];
		struct git_src *src = &s->git[i];
		int ret;

		if (g->url.s) {
			ret = remote_repo(&src->repo, b, g->url.s, err);
			if (ret == 0)
				ret = cairn_git_resolve(src->commit, src->repo, g->branch.s,
							g->tag.s, g->commit.s, err);
		} else {
			ret = project_repo(&src->repo, b, err);
			if (ret == 0)
				memcpy(src->commit, b->head, sizeof(src->commit));
		}
		if (ret < 0)
			return cairn_error_wrap(err, "%s:%u:%u: git[%zu]", b->config->file,
						g->pos.line, g->pos.column, i);
		if (sde && *sde) {
			uint64_t v;

			ret = cairn_parse_u64(&v, sde, INT64_MAX, "SOURCE_DATE_EPOCH", err);
			src->mtime = (int64_t)v;
		} else {
			ret = cairn_git_commit_time(&src->mtime, src->repo, src->commit, err);
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* ---- images ---- */

static const char *storage_prefix(const struct builder *b)
{
	return b->o->stages_prefix ? b->o->stages_prefix : "image-stage-";
}

/* A stage missing here from the stages storage (either prefix): 0, or CAIRN_ENOTFOUND. */
static int from_storage(struct cairn_descriptor *d, struct builder *b, const char *name,
			const char *sig, struct cairn_error **err)
{
	static const char *const prefixes[] = {"image-stage-", "dimgstage-"};
	int ret = CAIRN_ENOTFOUND;

	for (size_t i = 0; i < ARRAY_SIZE(prefixes) && ret == CAIRN_ENOTFOUND; i++) {
		cleanup_free char *src =
			xasprintf("%s:%s%s", b->o->stages_storage, prefixes[i], sig);

		cairn_error_clear(err);
		ret = cairn_image_pull_meta(d, b->st, src, name, &b->o->pull, err);
	}
	return ret;
}

/* Every stage built goes to the stages storage at once. */
static int to_storage(struct builder *b, const struct cairn_descriptor *d, const char *sig,
		      struct cairn_error **err)
{
	cleanup_free char *dest = NULL;

	if (!b->o->stages_storage)
		return 0;
	dest = xasprintf("%s:%s%s", b->o->stages_storage, storage_prefix(b), sig);
	return cairn_image_push_descriptor(b->st, d, dest, &b->o->pull, NULL, err);
}

static int not_built(struct image_state *s, const char *stage, struct cairn_error **err)
{
	return cairn_error_set(err, CAIRN_ENOTFOUND,
			       "image '%s' is not built: stage '%s' missing; run build or "
			       "build-and-publish",
			       s->name, stage);
}

static void add_stage_result(struct image_state *s, enum stage_id id, const char *sig,
			     const struct cairn_descriptor *d, int cached, double secs)
{
	struct cairn_build_image *o = s->out;
	struct cairn_build_stage *st;

	o->stages = xreallocarray(o->stages, o->n_stages + 1, sizeof(*o->stages));
	st = &o->stages[o->n_stages++];
	memset(st, 0, sizeof(*st));
	st->name = xstrdup(stage_names[id]);
	memcpy(st->signature, sig, CAIRN_SIGNATURE_HEX);
	st->digest = d->digest;
	st->cached = cached;
	st->seconds = secs;
}

/* The base image of a `from:` reference in the store, pulled when missing. */
static int base_image(struct cairn_descriptor *out, struct image_state *s, struct cairn_error **err)
{
	CLEANUP(cairn_ref_release) struct cairn_ref ref = CAIRN_REF_INIT;
	cleanup_free char *name = NULL;
	const struct cairn_config_str *from = &s->img->from;
	int ret;

	ret = cairn_ref_parse(&ref, from->s, err);
	if (ret < 0)
		return cairn_error_wrap(err, "%s:%u:%u: from", s->b->config->file, from->pos.line,
					from->pos.column);
	if (!ref.tag && !ref.digest)
		ref.tag = xstrdup("latest");
	name = cairn_ref_format(&ref);
	/* with fromLatest the stored copy may be older than the tag: pull (only what changed) */
	ret = s->img->from_latest.value ? CAIRN_ENOTFOUND
					: cairn_store_ref_get(s->b->st, name, out, err);
	if (ret != CAIRN_ENOTFOUND)
		return ret;
	cairn_error_clear(err);
	ret = cairn_image_pull(s->b->st, name, name, &s->b->o->pull, NULL, err);
	if (ret < 0)
		return cairn_error_wrap(err, "image '%s': base image", s->name);
	return cairn_store_ref_get(s->b->st, name, out, err);
}

static int build_stage(struct cairn_descriptor *out, struct image_state *s, enum stage_id id,
		       const char *sig, struct cairn_error **err)
{
	struct new_layer layers[2];
	cleanup_json json_t *config = NULL;
	size_t n = 0;
	int ret, empty = 0;

	memset(layers, 0, sizeof(layers));
	ret = load_prev(s, err);
	if (ret < 0)
		return ret;
	config = json_deep_copy(s->config);
	switch (id) {
	case S_GIT_ARCHIVE:
		ret = git_layer(&layers[0], &empty, s, 0, config, err);
		n = 1;
		break;
	case S_GIT_CACHE:
	case S_GIT_LATEST_PATCH:
		ret = git_layer(&layers[0], &empty, s, 1, config, err);
		/* a patch with nothing in it only moves the labels */
		n = empty ? 0 : 1;
		break;
	case S_DOCKER:
		apply_docker(config, &s->img->docker);
		break;
	case S_IMPORTS_BEFORE_INSTALL:
	case S_IMPORTS_AFTER_INSTALL:
	case S_IMPORTS_BEFORE_SETUP:
	case S_IMPORTS_AFTER_SETUP:
		ret = build_imports(&layers[0], s, id, err);
		n = 1;
		break;
	default:
		ret = build_shell(layers, &n, config, s, id, err);
		break;
	}
	if (ret < 0)
		return ret;
	return commit_stage(s, id, sig, config, layers, n, out, err);
}

static int build_image(struct builder *b, const struct cairn_config_image *img,
		       struct cairn_build_image *out, struct cairn_error **err)
{
	struct image_state s = {.b = b, .img = img, .out = out};
	struct strv deps = {0};
	struct cairn_descriptor d;
	cleanup_free char *name = NULL;
	int ret;

	s.name = img->name ? img->name : "~";
	out->name = img->name ? xstrdup(img->name) : NULL;
	out->artifact = img->artifact;
	emit(&s, CAIRN_BUILD_IMAGE_BEGIN, NULL, NULL, NULL, 0);
	ret = resolve_git(&s, err);
	if (ret < 0)
		goto fail;
	/* from */
	if (img->from.s) {
		strv_add(&deps, img->from.s);
	} else {
		const struct built_image *base = find_built(b, img->base);

		if (!base) {
			ret = cairn_error_set(err, CAIRN_EINTERNAL, "image '%s': base not built",
					      s.name);
			goto fail;
		}
		strv_add(&deps, base->sig);
	}
	if (img->from_cache_version.s)
		strv_add(&deps, img->from_cache_version.s);
	if (img->from.s && img->from_latest.value) {
		struct cairn_descriptor remote;

		/* the base's registry digest: a new image under the tag rebuilds from here */
		ret = cairn_image_remote_digest(&remote, img->from.s, &b->o->pull, err);
		if (ret < 0) {
			cairn_error_wrap(err, "%s:%u:%u: image '%s': fromLatest", b->config->file,
					 img->from_latest.pos.line, img->from_latest.pos.column,
					 s.name);
			goto fail;
		}
		strv_add(&deps, remote.digest.str);
	}
	for (size_t i = 0; i < img->n_mounts; i++)
		strv_addf(&deps, "%s:%s:%s", img->mounts[i].to.s,
			  img->mounts[i].from.s ? img->mounts[i].from.s : "",
			  img->mounts[i].from_path.s ? img->mounts[i].from_path.s : "");
	strv_add(&deps, SIG_VERSION);
	hash_strv(s.prev_sig, &deps);
	strv_release(&deps);
	name = stage_name_ref(b, s.prev_sig);
	ret = cairn_store_ref_get(b->st, name, &d, err);
	if (ret == CAIRN_ENOTFOUND && b->o->stages_storage)
		ret = from_storage(&d, b, name, s.prev_sig, err);
	if (ret == CAIRN_ENOTFOUND && b->o->no_build && b->o->stop_at_missing) {
		/* nothing of this image is there: an empty entry */
		cairn_error_clear(err);
		free(s.git);
		return 0;
	}
	if (ret == CAIRN_ENOTFOUND && b->o->no_build) {
		cairn_error_clear(err);
		ret = not_built(&s, "from", err);
		goto fail;
	}
	if (ret == CAIRN_ENOTFOUND) {
		double t0 = now_secs();

		cairn_error_clear(err);
		emit(&s, CAIRN_BUILD_STAGE_BEGIN, "from", s.prev_sig, NULL, 0);
		if (img->from.s)
			ret = base_image(&d, &s, err);
		else
			d = find_built(b, img->base)->desc;
		if (ret == 0)
			ret = cairn_store_ref_set(b->st, name, &d, err);
		if (ret == 0)
			ret = to_storage(b, &d, s.prev_sig, err);
		if (ret < 0) {
			emit(&s, CAIRN_BUILD_STAGE_FAILED, "from", s.prev_sig, NULL,
			     now_secs() - t0);
			goto fail;
		}
		emit(&s, CAIRN_BUILD_STAGE_DONE, "from", s.prev_sig, &d.digest, now_secs() - t0);
		add_stage_result(&s, S_FROM, s.prev_sig, &d, 0, now_secs() - t0);
	} else if (ret < 0) {
		goto fail;
	} else {
		emit(&s, CAIRN_BUILD_STAGE_CACHED, "from", s.prev_sig, &d.digest, 0);
		add_stage_result(&s, S_FROM, s.prev_sig, &d, 1, 0);
	}
	s.prev = d;
	for (int id = S_FROM + 1; id < S_COUNT; id++) {
		char sig[CAIRN_SIGNATURE_HEX];
		double t0;

		ret = stage_deps(&deps, &s, id, err);
		if (ret < 0)
			goto fail;
		if (deps.n == 0)
			continue;
		strv_add(&deps, SIG_VERSION);
		strv_add(&deps, s.prev_sig);
		hash_strv(sig, &deps);
		strv_release(&deps);
		free(name);
		name = stage_name_ref(b, sig);
		ret = cairn_store_ref_get(b->st, name, &d, err);
		if (ret == CAIRN_ENOTFOUND && b->o->stages_storage)
			ret = from_storage(&d, b, name, sig, err);
		if (ret == 0) {
			emit(&s, CAIRN_BUILD_STAGE_CACHED, stage_names[id], sig, &d.digest, 0);
			add_stage_result(&s, id, sig, &d, 1, 0);
		} else if (ret == CAIRN_ENOTFOUND && b->o->no_build && b->o->stop_at_missing) {
			cairn_error_clear(err);
			break;
		} else if (ret == CAIRN_ENOTFOUND && b->o->no_build) {
			cairn_error_clear(err);
			ret = not_built(&s, stage_names[id], err);
			goto fail;
		} else if (ret == CAIRN_ENOTFOUND) {
			cairn_error_clear(err);
			t0 = now_secs();
			emit(&s, CAIRN_BUILD_STAGE_BEGIN, stage_names[id], sig, NULL, 0);
			ret = build_stage(&d, &s, id, sig, err);
			if (ret == 0)
				ret = to_storage(b, &d, sig, err);
			if (ret < 0) {
				emit(&s, CAIRN_BUILD_STAGE_FAILED, stage_names[id], sig, NULL,
				     now_secs() - t0);
				goto fail;
			}
			emit(&s, CAIRN_BUILD_STAGE_DONE, stage_names[id], sig, &d.digest,
			     now_secs() - t0);
			add_stage_result(&s, id, sig, &d, 0, now_secs() - t0);
		} else {
			goto fail;
		}
		if (id == S_GIT_ARCHIVE)
			s.git_archived = 1;
		memcpy(s.prev_sig, sig, CAIRN_SIGNATURE_HEX);
		s.prev = d;
		drop_prev(&s);
	}
	memcpy(out->signature, s.prev_sig, CAIRN_SIGNATURE_HEX);
	out->digest = s.prev.digest;
	b->built = xreallocarray(b->built, b->n_built + 1, sizeof(*b->built));
	b->built[b->n_built].cfg = img;
	memcpy(b->built[b->n_built].sig, s.prev_sig, CAIRN_SIGNATURE_HEX);
	b->built[b->n_built].desc = s.prev;
	b->n_built++;
	emit(&s, CAIRN_BUILD_IMAGE_DONE, NULL, s.prev_sig, &s.prev.digest, 0);
	drop_prev(&s);
	free(s.git);
	return 0;
fail:
	strv_release(&deps);
	drop_prev(&s);
	free(s.git);
	return ret;
}

void cairn_build_result_free(struct cairn_build_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_images; i++) {
		for (size_t k = 0; k < r->images[i].n_stages; k++)
			free(r->images[i].stages[k].name);
		free(r->images[i].stages);
		free(r->images[i].name);
	}
	free(r->images);
	free(r->project);
	free(r);
}

int cairn_build(struct cairn_build_result **out, const struct cairn_build_opts *o,
		struct cairn_error **err)
{
	struct builder b = {.o = o, .dir = o->dir ? o->dir : "."};
	const struct cairn_config_image **order = NULL;
	cleanup_free char *store_root = NULL;
	const char *dir = o->dir ? o->dir : ".";
	size_t n = 0;
	int ret;

	*out = NULL;
	ret = cairn_config_load(&b.config, dir, o->config_file, err);
	if (ret < 0)
		return ret;
	ret = cairn_config_order(&order, &n, b.config, o->images, o->n_images, err);
	if (ret < 0)
		goto out;
	store_root = xasprintf("%s/store", o->home);
	b.layers_root = xasprintf("%s/layers", o->home);
	b.tmp_root = xasprintf("%s/tmp", o->home);
	b.builds_root = xasprintf("%s/builds", o->home);
	ret = cairn_store_open(&b.st, store_root, err);
	if (ret == 0)
		ret = cairn_fs_mkdirs_at(AT_FDCWD, b.layers_root, 0755, err);
	if (ret == 0)
		ret = cairn_fs_mkdirs_at(AT_FDCWD, b.tmp_root, 0700, err);
	if (ret == 0)
		clean_stale(&b);
	if (ret < 0)
		goto out;
	b.result = xcalloc(1, sizeof(*b.result));
	b.result->project = xstrdup(b.config->project.s);
	b.result->images = xcalloc(n ? n : 1, sizeof(*b.result->images));
	for (size_t i = 0; i < n; i++) {
		ret = build_image(&b, order[i], &b.result->images[i], err);
		b.result->n_images = i + 1;
		if (ret < 0)
			goto out;
	}
	*out = TAKE_PTR(b.result);
out:
	cairn_build_result_free(b.result);
	free(order);
	free(b.built);
	cairn_git_free(b.repo);
	for (size_t i = 0; i < b.n_remotes; i++) {
		cairn_git_free(b.remotes[i].repo);
		free(b.remotes[i].url);
	}
	free(b.remotes);
	if (b.git_inited)
		cairn_git_global_cleanup();
	cairn_store_free(b.st);
	free(b.layers_root);
	free(b.tmp_root);
	free(b.builds_root);
	cairn_config_free(b.config);
	return ret;
}

int cairn_build_result_write_json(const struct cairn_build_result *r, const char *path,
				  struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	cleanup_json json_t *doc = json_pack("{s:s, s:[]}", "project", r->project, "images");
	json_t *images = json_object_get(doc, "images");
	int ret;

	for (size_t i = 0; i < r->n_images; i++) {
		const struct cairn_build_image *im = &r->images[i];
		json_t *stages = json_array();

		for (size_t k = 0; k < im->n_stages; k++)
			json_array_append_new(stages, json_pack("{s:s, s:s, s:s, s:b, s:f}", "name",
								im->stages[k].name, "signature",
								im->stages[k].signature, "digest",
								im->stages[k].digest.str, "cached",
								im->stages[k].cached, "seconds",
								im->stages[k].seconds));
		json_array_append_new(images, json_pack("{s:s?, s:b, s:s, s:s, s:o}", "name",
							im->name, "artifact", im->artifact,
							"signature", im->signature, "digest",
							im->digest.str, "stages", stages));
	}
	ret = cairn_json_dump(&b, doc, err);
	if (ret < 0)
		return ret;
	cairn_buf_addch(&b, '\n');
	ret = cairn_fs_write_atomic_at(AT_FDCWD, path, b.buf, b.len, 0644, err);
	if (ret < 0)
		return cairn_error_wrap(err, "write report '%s'", path);
	return 0;
}

int cairn_project_git_head(char commit[41], char **branch, const char *dir,
			   struct cairn_error **err)
{
	struct cairn_git_repo *r = NULL;
	int ret;

	*branch = NULL;
	commit[0] = '\0';
	ret = cairn_git_global_init(err);
	if (ret < 0)
		return ret;
	ret = cairn_git_open(&r, dir, err);
	if (ret == 0)
		ret = cairn_git_head(commit, branch, r, err);
	if (ret < 0) {
		/* not a repository, or no commit yet: one reason for the caller to report */
		cairn_error_clear(err);
		ret = cairn_error_set(err, CAIRN_ENOTFOUND,
				      "'%s' is not in a git repository with a commit", dir);
	}
	cairn_git_free(r);
	cairn_git_global_cleanup();
	return ret;
}
