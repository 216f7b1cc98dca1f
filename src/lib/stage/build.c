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
#include "dockerfile/words.h"
#include "git/git.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/parse.h"
#include "util/root.h"
#include "util/sha256.h"

#include <dirent.h>
#include <fnmatch.h>
#include <sys/mount.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#define SIG_VERSION "cairn-1"
#define LABEL_GIT_PREFIX "cairn-git-"
/*
 * Shared stages storage: how long after a stage tag was stored or read a host trusts that every
 * PUT racing with it has landed (see confirm()); the slowest check-and-PUT seen is added twice.
 */
#define SETTLE_MS 500
/* adoptions of stages another host stored differently, per image, before cairn gives up */
#define MAX_ADOPTIONS 16

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

struct new_layer {
	struct cairn_layer_result r;
};

/* What a stage builds: its layers (at most two) and its config. */
struct stage_output {
	struct new_layer layers[2];
	size_t n_layers;
	json_t *config; /* the previous stage's config, as the stage changes it */
};

struct image_state;
struct strv;

/* One kind of stage: how it is signed, and how it is built. */
struct stage_kind {
	const char *name;
	int (*deps)(struct strv *deps, struct image_state *s, enum stage_id id,
		    struct cairn_error **err);
	int (*build)(struct stage_output *o, struct image_state *s, enum stage_id id,
		     struct cairn_error **err);
};

extern const struct stage_kind stage_kinds[S_COUNT];

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

/* An image as it stands after a stage: that stage's, or the last non-empty one before it. */
struct stage_at {
	char sig[CAIRN_SIGNATURE_HEX];
	struct cairn_descriptor desc;
	bool set;
};

struct built_image {
	const struct cairn_config_image *cfg;
	char sig[CAIRN_SIGNATURE_HEX];
	struct cairn_descriptor desc;
	struct stage_at at[S_COUNT]; /* for import.stage */
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
	char *run_dir; /* this build's own work dir, made on first use */
	int run_lock;
	const char *dir;
	int git_inited;
	struct cairn_git_repo *repo; /* the project's, opened when an image has local git entries */
	char head[CAIRN_GIT_HEX_MAX];
	struct remote_repo *remotes; /* fetched once per build */
	size_t n_remotes;
	struct built_image *built;
	size_t n_built;
	struct cairn_build_result *result;
	double put_seconds; /* the slowest check-and-PUT of a stage tag so far */
	/*
	 * Stages of images taken whole from the stages storage, confirmed once at the end of the
	 * build rather than image by image (confirm()): one wait for the whole build.
	 */
	struct stored_stage *deferred;
	size_t n_deferred;
	int no_defer; /* a second pass: every image confirms its own */
	int restart;  /* a deferred stage changed under a stage to build: run the build again */
};

/* A stage taken from or stored in the stages storage by this build, not yet confirmed. */
struct stored_stage {
	enum stage_id id;
	char sig[CAIRN_SIGNATURE_HEX];
	char *tag; /* "<prefix><sig>" in the stages storage */
	struct cairn_descriptor d;
	double at;	  /* when it was stored or read */
	size_t result;	  /* its entry in the image's stages */
	int git_archived; /* image_state.git_archived above it */
};

/*
 * A read-only merged view of an image's tree, mounted in a work dir of its own. Every path
 * looked up in it goes through cairn_root_open(), so a symlink or '..' in the image resolves
 * inside the image, never on the build host.
 */
struct rootfs_view {
	char *work;
	char *mnt;
	int lock;
	int fd; /* O_PATH of the mount's root */
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
	int git_archived;	      /* a gitArchive stage exists in this chain */
	struct git_src *git;	      /* one per img->git entry */
	struct rootfs_view *view;     /* of `prev`, mounted on demand; closed with drop_prev() */
	struct stage_at at[S_COUNT];  /* each stage done so far */
	struct cairn_digest rejected; /* a stored stage that holds a lost commit */
	struct stored_stage *unconfirmed;
	size_t n_unconfirmed;
	int built;     /* this image built a stage (and pushed it) */
	int redo;      /* a stage was adopted: local stages above it are not trusted */
	int adoptions; /* how many */
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

static void view_close(struct rootfs_view *v);

static void drop_prev(struct image_state *s)
{
	view_close(s->view);
	s->view = NULL;
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
	json_array_append_new(history, json_pack("{s:s, s:b}", "created_by", stage_kinds[id].name,
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

/* The stage of the source an import takes: `stage` (as werf's import.stage), else the last. */
static const struct stage_at *import_source(const struct built_image *src,
					    const struct cairn_config_import *im)
{
	static const struct {
		const char *name;
		enum stage_id id;
	} user[] = {{"beforeInstall", S_BEFORE_INSTALL},
		    {"install", S_INSTALL},
		    {"beforeSetup", S_BEFORE_SETUP},
		    {"setup", S_SETUP}};

	for (size_t i = 0; im->stage.s && i < ARRAY_SIZE(user); i++)
		if (strcmp(im->stage.s, user[i].name) == 0)
			return &src->at[user[i].id];
	return &src->at[S_COUNT - 1];
}

/*
 * The patch of git entry `i` since the commit the previous stage holds, as a hash of what it
 * changes (paths, modes, blob ids): commits that give the same files give the same stage, an
 * amend or a commit outside the selection no new one. `*empty` when there is nothing to patch.
 */
static int patch_hash(char out[CAIRN_SIGNATURE_HEX], bool *empty, struct image_state *s, size_t i,
		      struct cairn_error **err)
{
	const struct cairn_config_git *g = &s->img->git[i];
	const struct git_src *src = &s->git[i];
	cleanup_free char *key = git_label(src, g);
	const char *from = label(s, key);
	struct cairn_git_selection sel = CAIRN_GIT_SELECTION_INIT;
	struct cairn_git_ops ops = CAIRN_GIT_OPS_INIT;
	const char *commit = src->commit;
	struct cairn_sha256 h;
	struct cairn_digest d;
	int ret;

	*empty = from && strcmp(from, commit) == 0;
	if (*empty || !from) {
		/* no patch, or nothing to patch from: the commit stands for the files */
		cairn_signature_hash(out, &commit, 1);
		return 0;
	}
	git_selection(&sel, g);
	ret = cairn_git_patch_ops(&ops, src->repo, from, src->commit, &sel, g->to.s, err);
	if (ret < 0)
		return ret;
	cairn_sha256_init(&h);
	for (size_t k = 0; k < ops.n; k++) {
		const struct cairn_git_op *op = &ops.v[k];
		char line[64];
		int n = snprintf(line, sizeof(line), "%d:%o:%s:", (int)op->kind, op->mode, op->oid);

		cairn_sha256_update(&h, line, (size_t)n);
		cairn_sha256_update(&h, op->path, strlen(op->path) + 1);
	}
	cairn_sha256_final(&h, &d);
	memcpy(out, cairn_digest_hex(&d), CAIRN_SIGNATURE_HEX);
	*empty = ops.n == 0;
	cairn_git_ops_release(&ops);
	return 0;
}

static bool nonempty(const char *s)
{
	return s && *s;
}

/* A stageDependencies pattern that matches no file is warned about, as werf warns and goes on. */
static void warn_unmatched(const struct image_state *s, enum stage_id id, size_t i,
			   const struct cairn_config_list *pat, const bool *hit)
{
	for (size_t k = 0; k < pat->n; k++) {
		if (!hit[k])
			cairn_log(CAIRN_LOG_WARN,
				  "%s:%u:%u: image '%s', stage %s: stageDependencies pattern '%s' "
				  "of git[%zu] matches no file at commit %.12s",
				  s->b->config->file, pat->pos[k].line, pat->pos[k].column, s->name,
				  stage_kinds[id].name, pat->v[k], i, s->git[i].commit);
	}
}

/* beforeInstall, install, beforeSetup, setup: the commands, cache versions, stageDependencies. */
static int deps_user(struct strv *deps, struct image_state *s, enum stage_id id,
                     struct cairn_error **err)
{
	const struct cairn_config_image *img = s->img;
	enum cairn_config_user_stage us;
	const struct cairn_config_list *cmds = stage_commands(img, id, &us);
	int ret;

	/* as werf: a cache version alone makes the stage (and its stageDependencies) */
	if (cmds->n == 0 && !nonempty(img->shell.cache_version.s) &&
	    !nonempty(img->shell.stage_cache_version[us].s))
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
		cleanup_free bool *hit = NULL;

		if (pat->n == 0)
			continue;
		git_selection(&sel, &img->git[i]);
		hit = xcalloc(pat->n, sizeof(*hit));
		ret = cairn_git_stage_checksum(sum, hit, s->git[i].repo, s->git[i].commit,
					       &sel, (const char *const *)pat->v, pat->n,
					       err);
		if (ret < 0)
			return ret;
		warn_unmatched(s, id, i, pat, hit);
		strv_add(deps, sum);
	}
	return 0;
}

/* gitArchive: each git entry's parameters and latest reset commit, sorted. */
static int deps_git_archive(struct strv *deps, struct image_state *s, enum stage_id id,
                            struct cairn_error **err)
{
	const struct cairn_config_image *img = s->img;
	int ret;

	(void)id;
	struct strv entries = {0};

	if (img->n_git == 0)
		return 0;
	for (size_t i = 0; i < img->n_git; i++) {
		const struct cairn_config_git *g = &img->git[i];
		struct cairn_buf inc = CAIRN_BUF_INIT, exc = CAIRN_BUF_INIT;
		char reset[CAIRN_GIT_HEX_MAX];
		char h[CAIRN_SIGNATURE_HEX];
		struct strv p = {0};
		bool mods = false;

		ret = cairn_git_latest_reset(reset, s->git[i].repo, s->git[i].commit, err);
		if (ret == 0)
			ret = cairn_git_has_submodules(&mods, s->git[i].repo,
						       s->git[i].commit, err);
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
		/* archives made before cairn took submodules in lack their files */
		if (mods)
			strv_add(&p, "submodules");
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

/* The imports at one point: each source's signature and the import's parameters. */
static int deps_imports(struct strv *deps, struct image_state *s, enum stage_id id,
                        struct cairn_error **err)
{
	const struct cairn_config_image *img = s->img;

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
		strv_add(deps, import_source(src, im)->sig);
		if (im->stage.s)
			strv_add(deps, im->stage.s);
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
}

/* gitCache: the whole MiB of patch since the previous stage, per git entry. */
static int deps_git_cache(struct strv *deps, struct image_state *s, enum stage_id id,
                          struct cairn_error **err)
{
	const struct cairn_config_image *img = s->img;
	int ret;

	(void)id;
	uint64_t mib = 0;

	/* werf: an artifact's files change through stageDependencies only */
	if (img->artifact)
		return 0;
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

/* gitLatestPatch: what the patch of each git entry changes. */
static int deps_git_patch(struct strv *deps, struct image_state *s, enum stage_id id,
                          struct cairn_error **err)
{
	const struct cairn_config_image *img = s->img;
	int ret;

	(void)id;
	bool changed = false;

	if (img->artifact)
		return 0;
	if (img->n_git == 0)
		return 0;
	ret = load_prev(s, err);
	for (size_t i = 0; ret == 0 && i < img->n_git; i++) {
		char h[CAIRN_SIGNATURE_HEX];
		bool empty = true;

		ret = patch_hash(h, &empty, s, i, err);
		strv_add(deps, h);
		changed = changed || !empty;
	}
	/* nothing selected changed since the previous stage: no patch stage */
	if (ret < 0 || !changed)
		strv_release(deps);
	return ret;
}

/* dockerInstructions: every directive, in a fixed order. */
static int deps_docker(struct strv *deps, struct image_state *s, enum stage_id id,
                       struct cairn_error **err)
{
	const struct cairn_config_docker *d = &s->img->docker;
	char h[CAIRN_SIGNATURE_HEX];
	struct strv kv = {0};

	(void)id;
	(void)err;
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

static int mapping_ids(int64_t *uid, int64_t *gid, struct image_state *s, const char *owner,
		       const char *group, bool primary, const char *what, struct cairn_error **err);
static int prev_view(struct rootfs_view **out, struct image_state *s, struct cairn_error **err);

/* Whether the image below has something at `path` (no symlink on the way is followed). */
static bool below_has(int rootfd, const char *path)
{
	int fd = cairn_root_open(rootfd, path, O_PATH | O_NOFOLLOW, CAIRN_ROOT_NO_SYMLINKS);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/*
 * Which directory entries a layer of git files or imports writes: each once (entries share
 * parents); none for a directory the image below has (its mode and owner stay, as `git apply`,
 * `mkdir -p` and `install -d` leave them), except `to` itself in a git archive, which is made
 * with the mapping's owner as werf's `install -o -g -d TO`; a directory above `to` that must be
 * made belongs to root.
 */
struct dir_policy {
	struct cairn_layer_writer *w;
	int below;	 /* root of the image below; -1: not looked at */
	const char *to;	 /* the mapping's `to`, without the leading '/' */
	bool archive;	 /* `to` is (re)made */
	unsigned to_uid; /* for `to` */
	unsigned to_gid;
};

static bool keep_dir(struct cairn_layer_entry *e, void *ud)
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

/* Write git layer content: the archive (from == NULL) or the patch since each label commit. */
static int git_layer(struct new_layer *out, int *empty, struct image_state *s, int patch,
		     json_t *config, struct cairn_error **err)
{
	struct builder *b = s->b;
	struct cairn_layer_writer *w = NULL;
	struct cairn_layer_opts lo = CAIRN_LAYER_OPTS_INIT;
	struct rootfs_view *v = NULL;
	int ret, any = 0;

	*empty = 1;
	/* a patch knows from git which directories exist; the archive looks */
	ret = patch ? 0 : prev_view(&v, s, err);
	if (ret == 0)
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
		int64_t uid = -1, gid = -1;

		git_selection(&sel, g);
		ret = mapping_ids(&uid, &gid, s, g->owner.s, g->group.s, true, what, err);
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
		if (ret == 0) {
			struct dir_policy dp = {
				.w = w,
				.below = v ? v->fd : -1,
				.to = g->to.s + 1,
				.archive = !patch,
				.to_uid = uid < 0 ? 0 : (unsigned)uid,
				/* install -o without -g leaves the group root's */
				.to_gid = g->group.s && gid >= 0 ? (unsigned)gid : 0,
			};
			struct cairn_git_write_opts wo = {.uid = uid < 0 ? 0 : (uid_t)uid,
							  .gid = gid < 0 ? 0 : (gid_t)gid,
							  .mtime = src->mtime,
							  .dir_filter = keep_dir,
							  .ud = &dp};

			ret = cairn_git_write_ops(w, src->repo, &ops, &wo, err);
		}
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

/* This build's own directory (tmp_dir mounts live there until the build ends). */
static int run_dir(const char **out, struct builder *b, struct cairn_error **err)
{
	int ret = 0;

	if (!b->run_dir)
		ret = cairn_workdir_new(&b->run_dir, &b->run_lock, b->tmp_root, err);
	*out = b->run_dir;
	return ret;
}

/* Where a mount's host directory is; the caller frees it. */
static int mount_source(char **out, struct image_state *s, const struct cairn_config_mount *cm,
			struct cairn_error **err)
{
	struct builder *b = s->b;
	char h[CAIRN_SIGNATURE_HEX];
	const char *run;
	int ret;

	*out = NULL;
	if (cm->type == CAIRN_CONFIG_MOUNT_HOST_DIR) {
		*out = xstrdup(cm->host_path ? cm->host_path : cm->from_path.s);
		return 0;
	}
	if (cm->type == CAIRN_CONFIG_MOUNT_BUILD_DIR) {
		/* one per project and mount point, kept between builds, shared by the images */
		const char *args[] = {cm->to.s};

		cairn_signature_hash(h, args, 1);
		*out = xasprintf("%s/%s/%.16s", b->builds_root, b->config->project.s, h);
		return 0;
	}
	/* tmp_dir: one per image and mount point for this build, shared by its stages */
	ret = run_dir(&run, b, err);
	if (ret == 0) {
		const char *args[] = {s->name, cm->to.s};

		cairn_signature_hash(h, args, 2);
		*out = xasprintf("%s/tmp-%.16s", run, h);
	}
	return ret;
}

/* The image's mounts, then those of its fromImage bases that it does not mount itself. */
static int prepare_mounts(struct mount_dirs *m, struct image_state *s, struct cairn_error **err)
{
	size_t n = 0;

	for (const struct cairn_config_image *i = s->img; i; i = i->base)
		n += i->n_mounts;
	m->v = xcalloc(n + 1, sizeof(*m->v));
	for (const struct cairn_config_image *i = s->img; i; i = i->base) {
		for (size_t k = 0; k < i->n_mounts; k++) {
			const struct cairn_config_mount *cm = &i->mounts[k];
			char *src = NULL;
			bool shadowed = false;
			int ret;

			for (size_t j = 0; j < m->n; j++)
				shadowed = shadowed || strcmp(m->v[j].destination, cm->to.s) == 0;
			if (shadowed)
				continue;
			ret = mount_source(&src, s, cm, err);
			if (ret == 0)
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
	}
	return 0;
}

/* Stop, unmount and remove what killed builds left in tmp/ (containers, mounts, layers). */
static void clean_stale(struct builder *b)
{
	cairn_workdir_clean_stale(b->tmp_root);
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

/* Mount the view of the image `s->prev` (loaded with load_prev) and open its root. */
static int view_open(struct rootfs_view **out, struct image_state *s, struct cairn_error **err)
{
	CLEANUP(view_closep) struct rootfs_view *v = xcalloc(1, sizeof(*v));
	cleanup_free char *empty = NULL;
	struct strv lowers = {0};
	int ret;

	*out = NULL;
	v->fd = v->lock = -1;
	ret = cairn_workdir_new(&v->work, &v->lock, s->b->tmp_root, err);
	if (ret < 0)
		return ret;
	/* "merged": what cairn_exec_cleanup() unmounts, here and after a kill */
	v->mnt = xasprintf("%s/merged", v->work);
	empty = xasprintf("%s/empty", v->work);
	ret = lower_dirs(&lowers, s, err);
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
static int prev_view(struct rootfs_view **out, struct image_state *s, struct cairn_error **err)
{
	int ret = 0;

	if (!s->view) {
		ret = load_prev(s, err);
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
	ret = prev_view(&v, s, err);
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
static int mapping_ids(int64_t *uid, int64_t *gid, struct image_state *s, const char *owner,
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

/* The script stopped at command `last` (1-based; 0: before any) with `status`. */
static int command_failed(struct image_state *s, enum stage_id id,
			  const struct cairn_config_list *cmds, size_t last, int status,
			  struct cairn_error **err)
{
	const struct cairn_config_pos *at = last ? &cmds->pos[last - 1] : &cmds->at;
	const char *cmd = last ? cmds->v[last - 1] : "";
	int n = (int)strcspn(cmd, "\n");

	if (!last)
		return cairn_error_set(err, CAIRN_EINTERNAL,
				       "%s:%u:%u: image '%s': stage '%s' failed: the shell exited "
				       "with status %d before its first command",
				       s->b->config->file, at->line, at->column, s->name,
				       stage_kinds[id].name, status);
	return cairn_error_set(err, CAIRN_EINTERNAL,
			       "%s:%u:%u: image '%s': stage '%s' failed: command %zu ('%.*s%s') "
			       "exited with status %d",
			       s->b->config->file, at->line, at->column, s->name, stage_kinds[id].name,
			       last, n > 120 ? 120 : n, cmd, cmd[n] || n > 120 ? "..." : "",
			       status);
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
	size_t last = 0;
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
	if (cmds->n == 0)
		goto out; /* a stage made by its cache version alone: the patch, if any */
	json_array_foreach(env_of(s->config), i, e) if (json_is_string(e))
		strv_add(&env, json_string_value(e));
	ret = prepare_mounts(&md, s, err);
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
		eo.last_command = &last;
		ret = cairn_exec_shell(&status, &eo, err);
		if (ret < 0)
			cairn_error_wrap(err, "image '%s': stage '%s'", s->name, stage_kinds[id].name);
		if (ret == 0 && status != 0)
			ret = command_failed(s, id, cmds, last, status, err);
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
	char *rel; /* relative to the import's add */
	struct stat st;
};

struct walk_list {
	struct walked *v;
	size_t n;
};

/* Deeper than this, an import's source tree is refused rather than walked. */
#define IMPORT_DEPTH_MAX 256

static int walk_one(const struct cairn_root_entry *e, void *ud, struct cairn_error **err)
{
	struct walk_list *w = ud;

	(void)err;
	if (S_ISCHR(e->st.st_mode) || S_ISBLK(e->st.st_mode) || S_ISSOCK(e->st.st_mode))
		return 0; /* devices, sockets */
	w->v = xreallocarray(w->v, w->n + 1, sizeof(*w->v));
	w->v[w->n].rel = xstrdup(e->rel);
	w->v[w->n].st = e->st;
	w->n++;
	return 0;
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

/* Whether a directory goes in: selected itself, or holding a selected entry (listed after it). */
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

/* The directories above an import's `to` that the image below lacks, as `mkdir -p` makes them. */
static int add_parents(struct cairn_layer_writer *w, const char *path, int below, int64_t mtime,
		       struct cairn_error **err)
{
	cleanup_free char *p = xstrdup(path);
	struct dir_policy dp = {.w = w, .below = below, .to = path};

	for (char *slash = strchr(p, '/'); slash; slash = strchr(slash + 1, '/')) {
		struct cairn_layer_entry e = {.path = p, .mode = S_IFDIR | 0755, .mtime = mtime};
		int ret;

		*slash = '\0';
		ret = keep_dir(&e, &dp) ? cairn_layer_add(w, &e, err) : 0;
		*slash = '/';
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int copy_file(struct cairn_layer_writer *w, int fd, const char *what, uint64_t size,
		     struct cairn_error **err)
{
	char buf[65536];
	uint64_t left = size;

	while (left) {
		ssize_t n = read(fd, buf, left < sizeof(buf) ? left : sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return cairn_error_set(err, CAIRN_EOS, "%s: changed while read", what);
		if (cairn_layer_write_data(w, buf, (size_t)n, err) < 0)
			return CAIRN_EOS;
		left -= (uint64_t)n;
	}
	return 0;
}

/*
 * One entry of an import into the layer at `path`: `rel` below `basefd` (a directory of the
 * source image's view), opened again inside that tree for its content or link target.
 */
static int import_entry(struct cairn_layer_writer *w, const char *path, int basefd, const char *rel,
			const struct stat *st, int64_t uid, int64_t gid, int64_t mtime,
			const char *what, struct cairn_error **err)
{
	/* an id not given keeps the source file's, as werf's `rsync --chown=OWNER:` */
	struct cairn_layer_entry e = {.path = path,
				      .mode = st->st_mode,
				      .uid = uid < 0 ? st->st_uid : (uid_t)uid,
				      .gid = gid < 0 ? st->st_gid : (gid_t)gid,
				      .mtime = mtime};
	cleanup_close int fd = -1;
	struct stat now;
	char link[PATH_MAX];

	if (S_ISLNK(st->st_mode) || S_ISREG(st->st_mode)) {
		fd = cairn_root_open(basefd, rel,
				     (S_ISLNK(st->st_mode) ? O_PATH : O_RDONLY) | O_NOFOLLOW,
				     CAIRN_ROOT_IN);
		if (fd < 0)
			return cairn_error_set_errno(err, "%s: open '%s'", what, rel);
		if (fstat(fd, &now) < 0)
			return cairn_error_set_errno(err, "%s: stat '%s'", what, rel);
		if ((now.st_mode & S_IFMT) != (st->st_mode & S_IFMT) ||
		    (S_ISREG(st->st_mode) && now.st_size != st->st_size))
			return cairn_error_set(err, CAIRN_EOS, "%s: '%s' changed while read", what,
					       rel);
	}
	if (S_ISLNK(st->st_mode)) {
		ssize_t n = readlinkat(fd, "", link, sizeof(link) - 1);

		if (n < 0)
			return cairn_error_set_errno(err, "%s: read link '%s'", what, rel);
		link[n] = '\0';
		e.linkname = link;
	} else if (S_ISREG(st->st_mode)) {
		e.size = (uint64_t)st->st_size;
	}
	if (cairn_layer_add(w, &e, err) < 0)
		return CAIRN_EINVAL;
	if (S_ISREG(st->st_mode))
		return copy_file(w, fd, what, e.size, err);
	return 0;
}

/* What to import of a directory `add` (opened as addfd): its entries that pass the filters. */
static int import_tree(struct cairn_layer_writer *w, int addfd, const struct stat *st,
		       const struct cairn_config_import *im, const char *to, int64_t uid,
		       int64_t gid, int64_t mtime, const char *what, struct cairn_error **err)
{
	struct walk_list wl = {0};
	int ret;

	/* `to: /` is the image's root, which has no entry of its own */
	ret = to[0] ? import_entry(w, to, addfd, "", st, uid, gid, mtime, what, err) : 0;
	if (ret == 0)
		ret = cairn_root_walk(addfd, IMPORT_DEPTH_MAX, walk_one, &wl, err);
	for (size_t i = 0; i < wl.n && ret == 0; i++) {
		const struct walked *x = &wl.v[i];
		cleanup_free char *path = NULL;

		if (S_ISDIR(x->st.st_mode) ? !dir_needed(&wl, i, im) : !import_selected(im, x->rel))
			continue;
		path = to[0] ? xasprintf("%s/%s", to, x->rel) : xstrdup(x->rel);
		ret = import_entry(w, path, addfd, x->rel, &x->st, uid, gid, mtime, what, err);
	}
	for (size_t i = 0; i < wl.n; i++)
		free(wl.v[i].rel);
	free(wl.v);
	return ret;
}

/* `add` (absolute, in the source image) placed at `to` (no leading '/'). */
static int import_path(struct cairn_layer_writer *w, const struct cairn_config_import *im,
		       int srcfd, int below, const char *add, const char *to, int64_t uid,
		       int64_t gid, int64_t mtime, const char *what, struct cairn_error **err)
{
	cleanup_close int addfd = cairn_root_open(srcfd, add, O_PATH | O_NOFOLLOW, CAIRN_ROOT_IN);
	struct stat st;
	int ret;

	if (addfd < 0 || fstat(addfd, &st) < 0)
		return cairn_error_set_errno(err, "%s: '%s' in image '%s'", what, add,
					     im->source->name ? im->source->name : "~");
	ret = add_parents(w, to, below, mtime, err);
	if (ret < 0)
		return ret;
	if (S_ISDIR(st.st_mode))
		return import_tree(w, addfd, &st, im, to, uid, gid, mtime, what, err);
	return import_entry(w, to, srcfd, add, &st, uid, gid, mtime, what, err);
}

static bool has_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/*
 * The paths a glob `add` matches in the source image, sorted: each component with '*', '?' or
 * '[' is matched against the names of a directory (found inside the image); the others are
 * taken as they are. Wildcards do not cross '/', and match names starting with '.' too, as in
 * the rsync that werf imports with.
 */
static void glob_paths(struct strv *out, int srcfd, const char *add)
{
	cleanup_free char *pat = xstrdup(add);
	struct strv cur = {0};
	char *save = NULL;

	strv_add(&cur, "");
	for (char *c = strtok_r(pat, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		struct strv next = {0};

		for (size_t i = 0; i < cur.n; i++) {
			char **names = NULL;
			size_t n = 0;
			int dfd;

			if (!has_glob(c)) {
				strv_addf(&next, "%s/%s", cur.v[i], c);
				continue;
			}
			dfd = cairn_root_open(srcfd, cur.v[i], O_RDONLY | O_DIRECTORY,
					      CAIRN_ROOT_IN);
			if (dfd < 0)
				continue;
			if (cairn_fs_list_dir(&names, &n, dfd, 1) == 0) {
				for (size_t k = 0; k < n; k++) {
					if (fnmatch(c, names[k], 0) == 0)
						strv_addf(&next, "%s/%s", cur.v[i], names[k]);
					free(names[k]);
				}
				free(names);
			}
			close(dfd);
		}
		strv_release(&cur);
		cur = next;
	}
	*out = cur;
}

/*
 * One import into the layer: the source image's `add`, filtered, placed at `to`. `add` is
 * resolved inside the source image's tree: a symlink on the way that points out of the image
 * leads to the image's own files, as in `docker cp`; a final symlink is imported as a symlink.
 * A glob `add` imports each match into `to` under its own name.
 */
static int write_import(struct cairn_layer_writer *w, struct image_state *s,
			const struct cairn_config_import *im, int64_t mtime,
			struct cairn_error **err)
{
	struct builder *b = s->b;
	const struct built_image *src = find_built(b, im->source);
	struct image_state ss = {.b = b, .img = im->source, .name = "import"};
	cleanup_free char *what =
		xasprintf("%s:%u:%u: import", b->config->file, im->pos.line, im->pos.column);
	const char *to = im->to.s + 1; /* no leading '/' in tar paths */
	struct rootfs_view *v = NULL, *below = NULL;
	struct strv matches = {0};
	int64_t uid = -1, gid = -1;
	int ret;

	ret = mapping_ids(&uid, &gid, s, im->owner.s, im->group.s, false, what, err);
	if (ret == 0)
		ret = prev_view(&below, s, err);
	if (ret < 0)
		return ret;
	ss.prev = import_source(src, im)->desc;
	ret = prev_view(&v, &ss, err);
	if (ret == 0 && !has_glob(im->add.s)) {
		ret = import_path(w, im, v->fd, below->fd, im->add.s, to, uid, gid, mtime, what,
				  err);
	} else if (ret == 0) {
		glob_paths(&matches, v->fd, im->add.s);
		if (matches.n == 0)
			ret = cairn_error_set(err, CAIRN_EINVAL,
					      "%s: '%s' matches nothing in image '%s'", what,
					      im->add.s, im->source->name ? im->source->name : "~");
		for (size_t i = 0; ret == 0 && i < matches.n; i++) {
			const char *base = strrchr(matches.v[i], '/') + 1;
			cleanup_free char *dest =
				to[0] ? xasprintf("%s/%s", to, base) : xstrdup(base);

			ret = import_path(w, im, v->fd, below->fd, matches.v[i], dest, uid, gid,
					  mtime, what, err);
		}
		strv_release(&matches);
	}
	drop_prev(&ss);
	return ret;
}

static int build_imports(struct new_layer *layer, struct image_state *s, enum stage_id id,
			 struct cairn_error **err)
{
	struct builder *b = s->b;
	struct cairn_layer_opts lo = CAIRN_LAYER_OPTS_INIT;
	struct cairn_layer_writer *w = NULL;
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	int64_t mtime = 0;
	int ret;

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
			ret = write_import(w, s, &s->img->imports[i], mtime, err);
	if (ret == 0)
		ret = cairn_layer_finish(w, &layer->r, err);
	else
		cairn_layer_writer_free(w);
	return ret;
}

static void set_string_array(json_t *c, const char *key, const struct cairn_config_list *l)
{
	json_t *a = json_array();

	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(a, json_string(l->v[i]));
	json_object_set_new(c, key, a);
}

/* A variable of the image below, for Dockerfile words. */
static const char *env_lookup(const char *name, size_t len, void *ud)
{
	json_t *e;
	size_t i;

	json_array_foreach((json_t *)ud, i, e)
	{
		const char *v = json_string_value(e);

		if (v && strncmp(v, name, len) == 0 && v[len] == '=')
			return v + len + 1;
	}
	return NULL;
}

/*
 * A `docker:` value as werf has Docker take it (`docker commit --change "ENV K=V"`): one
 * Dockerfile word, its quotes removed and $VAR / ${VAR} expanded against the image below.
 */
static int docker_word(char **out, struct image_state *s, const char *v,
		       const struct cairn_config_pos *pos, const char *what,
		       struct cairn_error **err)
{
	int ret =
		cairn_dockerfile_word(out, v, strlen(v), '\\', env_lookup, env_of(s->config), err);

	if (ret < 0)
		return cairn_error_wrap(err, "%s:%u:%u: docker.%s", s->b->config->file, pos->line,
					pos->column, what);
	return 0;
}

/* Set c[key] to the word `v`; skipped when v is NULL. */
static int set_word(json_t *c, const char *key, struct image_state *s,
		    const struct cairn_config_str *v, struct cairn_error **err)
{
	cleanup_free char *w = NULL;
	int ret;

	if (!v->s)
		return 0;
	ret = docker_word(&w, s, v->s, &v->pos, key, err);
	if (ret == 0)
		json_object_set_new(c, key, json_string(w));
	return ret;
}

/* Add each word of `l` as a key of the set c[key] ("8080" taken as "8080/tcp" for ports). */
static int set_set(json_t *c, const char *key, struct image_state *s,
		   const struct cairn_config_list *l, int ports, struct cairn_error **err)
{
	json_t *o = json_object_get(c, key);

	if (!json_is_object(o)) {
		o = json_object();
		json_object_set_new(c, key, o);
	}
	for (size_t i = 0; i < l->n; i++) {
		cleanup_free char *w = NULL;
		int ret = docker_word(&w, s, l->v[i], &l->pos[i], key, err);

		if (ret < 0)
			return ret;
		if (ports && !strchr(w, '/')) {
			cleanup_free char *p = xasprintf("%s/tcp", w);

			json_object_set_new(o, p, json_object());
		} else {
			json_object_set_new(o, w, json_object());
		}
	}
	return 0;
}

static int apply_env(json_t *c, struct image_state *s, const struct cairn_config_docker *d,
		     struct cairn_error **err)
{
	json_t *env = json_object_get(c, "Env");

	if (!json_is_array(env)) {
		env = json_array();
		json_object_set_new(c, "Env", env);
	}
	for (size_t i = 0; i < d->n_env; i++) {
		cleanup_free char *w = NULL;
		cleanup_free char *kv = NULL;
		size_t klen = strlen(d->env[i].key), k;
		json_t *e;
		int ret = docker_word(&w, s, d->env[i].value, &d->env[i].value_pos, "ENV", err);

		if (ret < 0)
			return ret;
		kv = xasprintf("%s=%s", d->env[i].key, w);
		json_array_foreach(env, k, e)
		{
			const char *v = json_string_value(e);

			if (v && strncmp(v, d->env[i].key, klen) == 0 && v[klen] == '=')
				break;
		}
		if (k < json_array_size(env))
			json_array_set_new(env, k, json_string(kv));
		else
			json_array_append_new(env, json_string(kv));
	}
	return 0;
}

static void apply_healthcheck(json_t *c, const struct cairn_config_healthcheck *h)
{
	json_t *hc = json_object();

	set_string_array(hc, "Test", &h->test);
	if (h->interval_ns)
		json_object_set_new(hc, "Interval", json_integer(h->interval_ns));
	if (h->timeout_ns)
		json_object_set_new(hc, "Timeout", json_integer(h->timeout_ns));
	if (h->start_period_ns)
		json_object_set_new(hc, "StartPeriod", json_integer(h->start_period_ns));
	if (h->retries)
		json_object_set_new(hc, "Retries", json_integer(h->retries));
	json_object_set_new(c, "Healthcheck", hc);
}

/*
 * The docker: directives on `config` (a copy of the image below's, which s->config still is).
 * CMD, ENTRYPOINT and HEALTHCHECK are exec lists, taken as written; the rest are words.
 */
static int apply_docker(json_t *config, struct image_state *s, struct cairn_error **err)
{
	const struct cairn_config_docker *d = &s->img->docker;
	json_t *c = config_section(config);
	int ret;

	ret = set_word(c, "WorkingDir", s, &d->workdir, err);
	if (ret == 0)
		ret = set_word(c, "User", s, &d->user, err);
	if (ret == 0)
		ret = set_word(c, "StopSignal", s, &d->stopsignal, err);
	if (ret == 0 && d->expose.n)
		ret = set_set(c, "ExposedPorts", s, &d->expose, 1, err);
	if (ret == 0 && d->volume.n)
		ret = set_set(c, "Volumes", s, &d->volume, 0, err);
	if (ret == 0)
		ret = apply_env(c, s, d, err);
	for (size_t i = 0; ret == 0 && i < d->n_labels; i++) {
		cleanup_free char *k = NULL;
		cleanup_free char *v = NULL;

		ret = docker_word(&k, s, d->labels[i].key, &d->labels[i].key_pos, "LABEL", err);
		if (ret == 0)
			ret = docker_word(&v, s, d->labels[i].value, &d->labels[i].value_pos,
					  "LABEL", err);
		if (ret == 0)
			set_label(config, k, v);
	}
	if (ret < 0)
		return ret;
	if (d->entrypoint.n) {
		set_string_array(c, "Entrypoint", &d->entrypoint);
		/* as docker does: a new ENTRYPOINT drops an inherited CMD */
		if (!d->cmd.n)
			json_object_del(c, "Cmd");
	}
	if (d->cmd.n)
		set_string_array(c, "Cmd", &d->cmd);
	if (d->healthcheck.test.n)
		apply_healthcheck(c, &d->healthcheck);
	return 0;
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

/*
 * A stage missing here from the stages storage (either prefix): 0 and `*tag` (the one found),
 * or CAIRN_ENOTFOUND.
 */
static int from_storage(struct cairn_descriptor *d, char **tag, struct builder *b, const char *name,
			const char *sig, struct cairn_error **err)
{
	static const char *const prefixes[] = {"image-stage-", "dimgstage-"};
	int ret = CAIRN_ENOTFOUND;

	for (size_t i = 0; i < ARRAY_SIZE(prefixes) && ret == CAIRN_ENOTFOUND; i++) {
		cleanup_free char *src =
			xasprintf("%s:%s%s", b->o->stages_storage, prefixes[i], sig);

		cairn_error_clear(err);
		ret = cairn_image_pull_meta(d, b->st, src, name, &b->o->pull, err);
		if (ret == 0)
			*tag = xasprintf("%s%s", prefixes[i], sig);
	}
	return ret;
}

/*
 * Every stage built goes to the stages storage at once, unless the tag holds a stage already:
 * `*stored` is what the tag holds in the end.
 */
static int to_storage(struct cairn_descriptor *stored, struct builder *b,
		      const struct cairn_descriptor *d, const char *tag, struct cairn_error **err)
{
	cleanup_free char *dest = xasprintf("%s:%s", b->o->stages_storage, tag);
	struct cairn_transfer_stats stats = {0};
	int ret = cairn_image_push_stage(stored, b->st, d, dest, &b->o->pull, &stats, err);

	if (ret == 0 && !stats.manifest_existed)
		cairn_log(CAIRN_LOG_DEBUG, "stages storage: '%s' checked and stored in %.3f s",
			  dest, stats.manifest_seconds);
	if (stats.manifest_seconds > b->put_seconds)
		b->put_seconds = stats.manifest_seconds;
	return ret;
}

/*
 * Whether a stored stage can be built on. It records, per git entry, the commit its files are
 * at; when the repository no longer holds one (amended and collected, force-pushed away, beyond
 * a shallow clone), nothing can be patched from it: CAIRN_ENOTFOUND (no error set) has the
 * stage built again from the current commit, and the stages after it with it.
 */
static int stage_usable(struct image_state *s, const struct cairn_descriptor *d, const char *stage,
			struct cairn_error **err)
{
	struct image_state t = {.b = s->b, .img = s->img, .name = s->name, .prev = *d};
	int ret = load_prev(&t, err);

	for (size_t i = 0; ret == 0 && i < s->img->n_git; i++) {
		cleanup_free char *key = git_label(&s->git[i], &s->img->git[i]);
		const char *commit = label(&t, key);

		if (commit && !cairn_git_has_commit(s->git[i].repo, commit)) {
			cairn_log(CAIRN_LOG_INFO,
				  "image '%s': stage '%s' holds commit %s of git[%zu], which the "
				  "repository lacks: building it again from the current commit",
				  s->name, stage, commit, i);
			ret = CAIRN_ENOTFOUND;
		}
	}
	drop_prev(&t);
	return ret;
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
	st->name = xstrdup(stage_kinds[id].name);
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

static int build_git_archive(struct stage_output *o, struct image_state *s, enum stage_id id,
			     struct cairn_error **err)
{
	int empty = 0;

	(void)id;
	o->n_layers = 1;
	return git_layer(&o->layers[0], &empty, s, 0, o->config, err);
}

static int build_git_patch(struct stage_output *o, struct image_state *s, enum stage_id id,
			   struct cairn_error **err)
{
	int empty = 0;
	int ret = git_layer(&o->layers[0], &empty, s, 1, o->config, err);

	(void)id;
	/* a patch with nothing in it only moves the labels */
	o->n_layers = empty ? 0 : 1;
	return ret;
}

static int build_docker(struct stage_output *o, struct image_state *s, enum stage_id id,
			struct cairn_error **err)
{
	(void)id;
	return apply_docker(o->config, s, err);
}

static int build_import_stage(struct stage_output *o, struct image_state *s, enum stage_id id,
			      struct cairn_error **err)
{
	o->n_layers = 1;
	return build_imports(&o->layers[0], s, id, err);
}

static int build_user(struct stage_output *o, struct image_state *s, enum stage_id id,
		      struct cairn_error **err)
{
	return build_shell(o->layers, &o->n_layers, o->config, s, id, err);
}

/*
 * Every kind of stage, in the order of an image's chain: how it is signed (NULL for `from`,
 * signed by from_signature()) and how it is built (NULL for `from`, which stores the base).
 * A new kind of stage is an entry here and a file with its two functions.
 */
const struct stage_kind stage_kinds[S_COUNT] = {
	[S_FROM] = {"from", NULL, NULL},
	[S_BEFORE_INSTALL] = {"beforeInstall", deps_user, build_user},
	[S_IMPORTS_BEFORE_INSTALL] = {"importsBeforeInstall", deps_imports, build_import_stage},
	[S_GIT_ARCHIVE] = {"gitArchive", deps_git_archive, build_git_archive},
	[S_INSTALL] = {"install", deps_user, build_user},
	[S_IMPORTS_AFTER_INSTALL] = {"importsAfterInstall", deps_imports, build_import_stage},
	[S_BEFORE_SETUP] = {"beforeSetup", deps_user, build_user},
	[S_IMPORTS_BEFORE_SETUP] = {"importsBeforeSetup", deps_imports, build_import_stage},
	[S_SETUP] = {"setup", deps_user, build_user},
	[S_IMPORTS_AFTER_SETUP] = {"importsAfterSetup", deps_imports, build_import_stage},
	[S_GIT_CACHE] = {"gitCache", deps_git_cache, build_git_patch},
	[S_GIT_LATEST_PATCH] = {"gitLatestPatch", deps_git_patch, build_git_patch},
	[S_DOCKER] = {"dockerInstructions", deps_docker, build_docker},
};

static int build_stage(struct cairn_descriptor *out, struct image_state *s, enum stage_id id,
		       const char *sig, struct cairn_error **err)
{
	struct stage_output o;
	int ret;

	memset(&o, 0, sizeof(o));
	ret = load_prev(s, err);
	if (ret < 0)
		return ret;
	o.config = json_deep_copy(s->config);
	ret = stage_kinds[id].build(&o, s, id, err);
	if (ret == 0)
		ret = commit_stage(s, id, sig, o.config, o.layers, o.n_layers, out, err);
	json_decref(o.config);
	return ret;
}

/* The signature of the `from` stage. */
static int from_signature(char sig[CAIRN_SIGNATURE_HEX], struct image_state *s,
			  struct cairn_error **err)
{
	struct builder *b = s->b;
	const struct cairn_config_image *img = s->img;
	struct strv deps = {0};

	if (img->from.s) {
		strv_add(&deps, img->from.s);
	} else {
		const struct built_image *base = find_built(b, img->base);

		if (!base)
			return cairn_error_set(err, CAIRN_EINTERNAL, "image '%s': base not built",
					       s->name);
		strv_add(&deps, base->sig);
	}
	if (img->from_cache_version.s)
		strv_add(&deps, img->from_cache_version.s);
	if (img->from.s && img->from_latest.value) {
		struct cairn_descriptor remote;
		int ret;

		/* the base's registry digest: a new image under the tag rebuilds from here */
		ret = cairn_image_remote_digest(&remote, img->from.s, &b->o->pull, err);
		if (ret < 0) {
			strv_release(&deps);
			return cairn_error_wrap(err, "%s:%u:%u: image '%s': fromLatest",
						b->config->file, img->from_latest.pos.line,
						img->from_latest.pos.column, s->name);
		}
		strv_add(&deps, remote.digest.str);
	}
	for (size_t i = 0; i < img->n_mounts; i++)
		strv_addf(&deps, "%s:%s:%s", img->mounts[i].to.s,
			  img->mounts[i].from.s ? img->mounts[i].from.s : "",
			  img->mounts[i].from_path.s ? img->mounts[i].from_path.s : "");
	strv_add(&deps, SIG_VERSION);
	hash_strv(sig, &deps);
	strv_release(&deps);
	return 0;
}

/* The signature of stage `id` on top of the previous one; "" when the stage is empty. */
static int stage_signature(char sig[CAIRN_SIGNATURE_HEX], struct image_state *s, enum stage_id id,
			   struct cairn_error **err)
{
	struct strv deps = {0};
	int ret;

	sig[0] = '\0';
	if (id == S_FROM)
		return from_signature(sig, s, err);
	ret = stage_kinds[id].deps(&deps, s, id, err);
	if (ret == 0 && deps.n) {
		strv_add(&deps, SIG_VERSION);
		strv_add(&deps, s->prev_sig);
		hash_strv(sig, &deps);
	}
	strv_release(&deps);
	return ret;
}

static void remember(struct image_state *s, enum stage_id id, const char *sig, char *tag,
		     const struct cairn_descriptor *d)
{
	struct stored_stage *u;

	s->unconfirmed =
		xreallocarray(s->unconfirmed, s->n_unconfirmed + 1, sizeof(*s->unconfirmed));
	u = &s->unconfirmed[s->n_unconfirmed++];
	u->id = id;
	memcpy(u->sig, sig, CAIRN_SIGNATURE_HEX);
	u->tag = tag;
	u->d = *d;
	u->at = now_secs();
	u->result = s->out->n_stages - 1;
	u->git_archived = s->git_archived;
}

static void forget(struct image_state *s)
{
	for (size_t i = 0; i < s->n_unconfirmed; i++)
		free(s->unconfirmed[i].tag);
	free(s->unconfirmed);
	s->unconfirmed = NULL;
	s->n_unconfirmed = 0;
}

/*
 * Take the stage the stages storage holds as `stored` in place of `*d` (`name`: its local ref);
 * `how` another host stored it, for the log.
 */
static int adopt(struct cairn_descriptor *d, struct image_state *s, enum stage_id id,
		 const char *name, const struct cairn_digest *stored, const char *how,
		 struct cairn_error **err)
{
	struct builder *b = s->b;
	cleanup_free char *src = xasprintf("%s@%s", b->o->stages_storage, stored->str);

	cairn_log(CAIRN_LOG_INFO,
		  "image '%s': stage '%s': another host stored it %s '%s': "
		  "discarding '%s'",
		  s->name, stage_kinds[id].name, how, stored->str, d->digest.str);
	return cairn_image_pull_meta(d, b->st, src, name, &b->o->pull, err);
}

static void sleep_until(double t)
{
	double left = t - now_secs();
	struct timespec ts;

	if (left <= 0)
		return;
	ts.tv_sec = (time_t)left;
	ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Stage `u` is stored as `stored` after all: the image goes on from there. */
static int readopt(struct image_state *s, const struct stored_stage *u,
		   const struct cairn_digest *stored, struct cairn_error **err)
{
	struct cairn_build_image *o = s->out;
	cleanup_free char *name = stage_name_ref(s->b, u->sig);
	struct cairn_descriptor d = u->d;
	int ret;

	if (++s->adoptions > MAX_ADOPTIONS)
		return cairn_error_set(err, CAIRN_EHTTP,
				       "image '%s': the stage tags in '%s' keep changing", s->name,
				       s->b->o->stages_storage);
	ret = adopt(&d, s, u->id, name, stored, "last, as", err);
	if (ret < 0)
		return ret;
	while (o->n_stages > u->result + 1)
		free(o->stages[--o->n_stages].name);
	o->stages[u->result].digest = d.digest;
	memcpy(s->prev_sig, u->sig, CAIRN_SIGNATURE_HEX);
	s->prev = d;
	s->git_archived = u->git_archived;
	s->redo = 1;
	drop_prev(s);
	return 0;
}

/*
 * What the stages storage holds now under the tags of `v` (an empty digest: gone), read once
 * every PUT racing with them must have landed. *out is a new array the caller frees.
 */
static int read_again(struct cairn_descriptor **out, struct builder *b,
		      const struct stored_stage *v, size_t n, struct cairn_error **err)
{
	cleanup_free const char **tags = xcalloc(n, sizeof(*tags));
	double last = 0;

	*out = xcalloc(n, sizeof(**out));
	for (size_t i = 0; i < n; i++) {
		tags[i] = v[i].tag;
		if (v[i].at > last)
			last = v[i].at;
	}
	sleep_until(last + SETTLE_MS / 1000.0 + 2 * b->put_seconds);
	return cairn_image_remote_digests(*out, b->o->stages_storage, tags, n, &b->o->pull, err);
}

/*
 * Two hosts that check a stage tag at the same moment both push it, and the tag keeps the last
 * PUT; a host may also read a tag just before a racing PUT lands. So the stages this image took
 * from the stages storage or stored there are read again once every such PUT must have landed,
 * before a stage above them is stored and before the image is done. A stage whose tag holds
 * another image now is adopted, and every stage above it is looked up (or built) again on top
 * of it: `*redo` is the stage to go on from, or -1.
 */
static int confirm(struct image_state *s, int *redo, struct cairn_error **err)
{
	struct builder *b = s->b;
	cleanup_free struct cairn_descriptor *now = NULL;
	int ret;

	*redo = -1;
	if (s->n_unconfirmed == 0)
		return 0;
	ret = read_again(&now, b, s->unconfirmed, s->n_unconfirmed, err);
	if (ret < 0)
		cairn_error_wrap(err, "image '%s': stages storage '%s'", s->name,
				 b->o->stages_storage);
	for (size_t i = 0; ret == 0 && i < s->n_unconfirmed; i++) {
		const struct stored_stage *u = &s->unconfirmed[i];

		/* a tag gone meanwhile (a cleanup) leaves nothing to adopt */
		if (!now[i].digest.str[0] || cairn_digest_equal(&now[i].digest, &u->d.digest))
			continue;
		ret = readopt(s, u, &now[i].digest, err);
		if (ret == 0)
			*redo = (int)u->id + 1;
		break;
	}
	forget(s);
	return ret;
}

/*
 * Store a stage just built, once the stages under it are confirmed (else `*redo` is set, and
 * the build is discarded): pushed, unless another host stored the stage meanwhile; then that
 * one is adopted.
 */
static int store_stage(struct cairn_descriptor *d, char **tag, struct image_state *s,
		       enum stage_id id, const char *name, const char *sig, int *redo,
		       struct cairn_error **err)
{
	struct builder *b = s->b;
	struct cairn_descriptor stored;
	int ret = confirm(s, redo, err);

	if (ret < 0 || *redo >= 0)
		return ret;
	*tag = xasprintf("%s%s", storage_prefix(b), sig);
	ret = to_storage(&stored, b, d, *tag, err);
	if (ret == 0 && cairn_digest_equal(&stored.digest, &s->rejected)) {
		/* the stored stage holds a commit the repository lost: this one replaces it */
		cleanup_free char *dest = xasprintf("%s:%s", b->o->stages_storage, *tag);

		ret = cairn_image_push_descriptor(b->st, d, dest, &b->o->pull, NULL, err);
	} else if (ret == 0 && !cairn_digest_equal(&stored.digest, &d->digest)) {
		ret = adopt(d, s, id, name, &stored.digest, "first, as", err);
	}
	return ret;
}

/* Build stage `id` and store it under `name` in the store. */
static int make_stage(struct cairn_descriptor *d, struct image_state *s, enum stage_id id,
		      const char *name, const char *sig, struct cairn_error **err)
{
	int ret = 0;

	if (id != S_FROM)
		return build_stage(d, s, id, sig, err);
	if (s->img->from.s)
		ret = base_image(d, s, err);
	else
		*d = find_built(s->b, s->img->base)->desc;
	if (ret == 0)
		ret = cairn_store_ref_set(s->b->st, name, d, err);
	return ret;
}

static void defer(struct builder *b, struct image_state *s)
{
	if (s->n_unconfirmed == 0)
		return;
	b->deferred = xreallocarray(b->deferred, b->n_deferred + s->n_unconfirmed + 1,
				    sizeof(*b->deferred));
	memcpy(b->deferred + b->n_deferred, s->unconfirmed,
	       s->n_unconfirmed * sizeof(*s->unconfirmed));
	b->n_deferred += s->n_unconfirmed;
	free(s->unconfirmed);
	s->unconfirmed = NULL;
	s->n_unconfirmed = 0;
}

static void forget_deferred(struct builder *b)
{
	for (size_t i = 0; i < b->n_deferred; i++)
		free(b->deferred[i].tag);
	free(b->deferred);
	b->deferred = NULL;
	b->n_deferred = 0;
}

/*
 * The deferred stages, read again once every racing PUT must have landed (as confirm() does).
 * A tag that holds another image now is adopted into the store; *changed then asks for the
 * build to run again, each image confirming its own stages.
 */
static int confirm_deferred(struct builder *b, bool *changed, struct cairn_error **err)
{
	cleanup_free struct cairn_descriptor *now = NULL;
	int ret;

	*changed = false;
	if (b->n_deferred == 0)
		return 0;
	ret = read_again(&now, b, b->deferred, b->n_deferred, err);
	if (ret < 0)
		return cairn_error_wrap(err, "stages storage '%s'", b->o->stages_storage);
	for (size_t i = 0; ret == 0 && i < b->n_deferred; i++) {
		const struct stored_stage *u = &b->deferred[i];
		cleanup_free char *name = NULL;
		cleanup_free char *src = NULL;
		struct cairn_descriptor d;

		if (!now[i].digest.str[0] || cairn_digest_equal(&now[i].digest, &u->d.digest))
			continue;
		name = stage_name_ref(b, u->sig);
		src = xasprintf("%s@%s", b->o->stages_storage, now[i].digest.str);
		cairn_log(CAIRN_LOG_INFO,
			  "stage '%s': another host stored it last, as '%s': discarding '%s'",
			  stage_kinds[u->id].name, now[i].digest.str, u->d.digest.str);
		ret = cairn_image_pull_meta(&d, b->st, src, name, &b->o->pull, err);
		*changed = true;
	}
	return ret;
}

/*
 * One stage: reused from the store or the stages storage, else built and stored. `*next` is
 * the stage to go on with (an earlier one when a stage under this one was adopted meanwhile);
 * `*stop`: with no_build and stop_at_missing, the stage is missing.
 */
static int stage_step(struct image_state *s, enum stage_id id, int *next, int *stop,
		      struct cairn_error **err)
{
	struct builder *b = s->b;
	cleanup_free char *name = NULL;
	char *tag = NULL;
	char sig[CAIRN_SIGNATURE_HEX];
	struct cairn_descriptor d;
	double t0 = now_secs();
	int ret, redo = -1;

	*next = (int)id + 1;
	ret = stage_signature(sig, s, id, err);
	if (ret < 0 || !sig[0])
		return ret;
	name = stage_name_ref(b, sig);
	ret = s->redo ? CAIRN_ENOTFOUND : cairn_store_ref_get(b->st, name, &d, err);
	if (ret == CAIRN_ENOTFOUND && b->o->stages_storage)
		ret = from_storage(&d, &tag, b, name, sig, err);
	if (ret == 0 && !b->o->no_build && s->img->n_git &&
	    (s->git_archived || id == S_GIT_ARCHIVE)) {
		ret = stage_usable(s, &d, stage_kinds[id].name, err);
		if (ret == CAIRN_ENOTFOUND) {
			/* built again, it replaces the stored one (there too) */
			s->rejected = d.digest;
			free(TAKE_PTR(tag));
		}
	}
	if (ret == 0) {
		emit(s, CAIRN_BUILD_STAGE_CACHED, stage_kinds[id].name, sig, &d.digest, 0);
		add_stage_result(s, id, sig, &d, 1, 0);
	} else if (ret == CAIRN_ENOTFOUND && b->o->no_build) {
		cairn_error_clear(err);
		*stop = b->o->stop_at_missing;
		return *stop ? 0 : not_built(s, stage_kinds[id].name, err);
	} else if (ret == CAIRN_ENOTFOUND) {
		cairn_error_clear(err);
		if (b->n_deferred) {
			/* what this stage may stand on must be confirmed before it is pushed */
			bool changed = false;

			ret = confirm_deferred(b, &changed, err);
			forget_deferred(b);
			if (ret < 0)
				return ret;
			if (changed) {
				b->restart = 1;
				*stop = 1;
				return 0;
			}
		}
		emit(s, CAIRN_BUILD_STAGE_BEGIN, stage_kinds[id].name, sig, NULL, 0);
		s->built = 1;
		ret = make_stage(&d, s, id, name, sig, err);
		if (ret == 0 && b->o->stages_storage)
			ret = store_stage(&d, &tag, s, id, name, sig, &redo, err);
		if (ret < 0) {
			emit(s, CAIRN_BUILD_STAGE_FAILED, stage_kinds[id].name, sig, NULL,
			     now_secs() - t0);
			free(tag);
			return ret;
		}
		emit(s, CAIRN_BUILD_STAGE_DONE, stage_kinds[id].name, sig, &d.digest, now_secs() - t0);
		if (redo >= 0) {
			*next = redo;
			return 0;
		}
		add_stage_result(s, id, sig, &d, 0, now_secs() - t0);
	} else {
		return ret;
	}
	if (id == S_GIT_ARCHIVE)
		s->git_archived = 1;
	memcpy(s->prev_sig, sig, CAIRN_SIGNATURE_HEX);
	s->prev = d;
	memcpy(s->at[id].sig, sig, CAIRN_SIGNATURE_HEX);
	s->at[id].desc = d;
	s->at[id].set = true;
	drop_prev(s);
	if (tag && !b->o->no_build)
		remember(s, id, sig, tag, &d);
	else
		free(tag);
	return 0;
}

static int build_image(struct builder *b, const struct cairn_config_image *img,
		       struct cairn_build_image *out, struct cairn_error **err)
{
	struct image_state s = {.b = b, .img = img, .out = out};
	int ret, id = S_FROM, stop = 0;

	s.name = img->name ? img->name : "~";
	out->name = img->name ? xstrdup(img->name) : NULL;
	out->artifact = img->artifact;
	emit(&s, CAIRN_BUILD_IMAGE_BEGIN, NULL, NULL, NULL, 0);
	ret = resolve_git(&s, err);
	while (ret == 0 && !stop) {
		if (id < S_COUNT) {
			ret = stage_step(&s, (enum stage_id)id, &id, &stop, err);
			continue;
		}
		/* taken whole from the stages storage: confirmed with the others at the end */
		if (!s.built && !b->no_defer) {
			defer(b, &s);
			break;
		}
		/* done once every stage it stands on is confirmed */
		ret = confirm(&s, &id, err);
		if (id < 0)
			break;
	}
	if (ret < 0 || out->n_stages == 0) {
		/* with stop_at_missing, nothing of this image is there: an empty entry */
		forget(&s);
		drop_prev(&s);
		free(s.git);
		return ret;
	}
	memcpy(out->signature, s.prev_sig, CAIRN_SIGNATURE_HEX);
	out->digest = s.prev.digest;
	b->built = xreallocarray(b->built, b->n_built + 1, sizeof(*b->built));
	b->built[b->n_built].cfg = img;
	memcpy(b->built[b->n_built].sig, s.prev_sig, CAIRN_SIGNATURE_HEX);
	b->built[b->n_built].desc = s.prev;
	/* an empty stage stands for the last one before it */
	for (int i = S_FROM + 1; i < S_COUNT; i++)
		if (!s.at[i].set)
			s.at[i] = s.at[i - 1];
	memcpy(b->built[b->n_built].at, s.at, sizeof(s.at));
	b->n_built++;
	emit(&s, CAIRN_BUILD_IMAGE_DONE, NULL, s.prev_sig, &s.prev.digest, 0);
	forget(&s);
	drop_prev(&s);
	free(s.git);
	return 0;
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
	struct builder b = {.o = o, .dir = o->dir ? o->dir : ".", .run_lock = -1};
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
		ret = cairn_fs_mkdirs_at(AT_FDCWD, b.layers_root, 0700, err);
	if (ret == 0)
		ret = cairn_fs_mkdirs_at(AT_FDCWD, b.tmp_root, 0700, err);
	if (ret == 0)
		clean_stale(&b);
	if (ret < 0)
		goto out;
	for (int pass = 0; pass < 2; pass++) {
		bool changed = false;

		cairn_build_result_free(b.result);
		b.n_built = 0;
		b.result = xcalloc(1, sizeof(*b.result));
		b.result->project = xstrdup(b.config->project.s);
		b.result->images = xcalloc(n ? n : 1, sizeof(*b.result->images));
		for (size_t i = 0; i < n && !b.restart; i++) {
			ret = build_image(&b, order[i], &b.result->images[i], err);
			b.result->n_images = i + 1;
			if (ret < 0)
				goto out;
		}
		ret = confirm_deferred(&b, &changed, err);
		forget_deferred(&b);
		if (ret < 0 || !(changed || b.restart))
			break;
		b.restart = 0;
		/* another host's stage won a tag this build read: once more, image by image */
		b.no_defer = 1;
	}
	if (ret < 0)
		goto out;
	*out = TAKE_PTR(b.result);
out:
	forget_deferred(&b);
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
	if (b.run_dir)
		cairn_exec_cleanup(b.run_dir);
	free(b.run_dir);
	if (b.run_lock >= 0)
		close(b.run_lock);
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
