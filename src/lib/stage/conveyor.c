/* SPDX-License-Identifier: MIT */
/* The conveyor: each image a chain of stages, each stage looked up, else built and stored. */
#include "common.h"
#include "stage/stage_internal.h"
#include "registry/progress.h"
#include "cairn/oci.h"
#include "cairn/registry.h"
#include "cairn/toolchain.h"
#include "run/exec.h"
#include "run/workdir.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/slots.h"

#include <sys/file.h>
#include <time.h>

/* ---- what the build says, one block per image ---- */

/* Command output an image keeps while the images before it build. */
#define HELD_OUTPUT_MAX (16u << 20)

/* An event kept for later: the event, pointing into the copy. */
struct event_copy {
	struct cairn_build_event ev;
	char sig[CAIRN_SIGNATURE_HEX];
	struct cairn_digest dg;
	char *line;
	char *stage; /* a Dockerfile instruction's name does not outlive its step */
};

static void *event_copy(const void *msg)
{
	const struct cairn_build_event *ev = msg;
	struct event_copy *c = xcalloc(1, sizeof(*c));

	c->ev = *ev;
	if (ev->stage) {
		c->stage = xstrdup(ev->stage);
		c->ev.stage = c->stage;
	}
	if (ev->signature) {
		snprintf(c->sig, sizeof(c->sig), "%s", ev->signature);
		c->ev.signature = c->sig;
	}
	if (ev->digest) {
		c->dg = *ev->digest;
		c->ev.digest = &c->dg;
	}
	if (ev->line) {
		c->line = xmemdup(ev->line, ev->len + 1);
		c->line[ev->len] = '\0';
		c->ev.line = c->line;
	}
	return c;
}

static void event_drop(void *copy)
{
	struct event_copy *c = copy;

	free(c->line);
	free(c->stage);
	free(c);
}

static void event_tell(const void *msg, void *ud)
{
	const struct builder *b = ud;

	b->o->event(msg, b->o->event_ud);
}

static const struct cairn_ordered_kind event_kind = {event_tell, event_copy, event_drop};

void stage_emit(struct image_state *s, const struct cairn_build_event *ev)
{
	struct builder *b = s->b;

	if (!b->o->event)
		return;
	if (!b->told) {
		b->o->event(ev, b->o->event_ud);
		return;
	}
	/* output kept for later is bounded: past that, lines are counted, not kept */
	if (ev->kind == CAIRN_BUILD_STAGE_OUTPUT && !cairn_ordered_live(b->told, s->index)) {
		if (s->held_bytes + ev->len > HELD_OUTPUT_MAX) {
			s->dropped_lines++;
			return;
		}
		s->held_bytes += ev->len;
	}
	cairn_ordered_say(b->told, s->index, &event_kind, b, ev);
}

/* What the image could not keep of its output, said at its end. */
static void tell_dropped(struct image_state *s)
{
	char line[160];
	struct cairn_build_event ev = {.kind = CAIRN_BUILD_STAGE_OUTPUT, .image = s->name};

	if (!s->dropped_lines)
		return;
	ev.len = (size_t)snprintf(
		line, sizeof(line),
		"cairn: %zu more lines of output not shown (over %u MiB kept while "
		"the images before this one built; -j 1 shows them all)",
		s->dropped_lines, HELD_OUTPUT_MAX >> 20);
	ev.line = line;
	cairn_ordered_say(s->b->told, s->index, &event_kind, s->b, &ev);
}

/* A pull's progress, to the caller's (the build's pull options), in the image's block. */
static void image_progress(const struct cairn_progress *ev, void *ud)
{
	struct image_state *s = ud;

	cairn_ordered_say(s->b->told, s->index, &cairn_progress_told, (void *)&s->b->o->pull, ev);
}

void stage_unlock(struct builder *b)
{
	if (b->threaded)
		pthread_mutex_unlock(&b->gil);
}

void stage_lock(struct builder *b)
{
	if (b->threaded)
		pthread_mutex_lock(&b->gil);
}

static void emit(struct image_state *s, enum cairn_build_event_kind kind, const char *stage,
		 const char *sig, const struct cairn_digest *dg, double secs)
{
	struct cairn_build_event ev = {.kind = kind,
				       .image = s->name,
				       .stage = stage,
				       .signature = sig,
				       .digest = dg,
				       .seconds = secs};

	stage_emit(s, &ev);
}

double stage_now_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Stop, unmount and remove what killed builds left in tmp/ (containers, mounts, layers). */
static void clean_stale(struct builder *b)
{
	cairn_workdir_clean_stale(b->home.tmp);
}

static int not_built(struct image_state *s, const char *stage, struct cairn_error **err)
{
	return cairn_error_set(err, CAIRN_ENOTFOUND,
			       "image '%s' is not built: stage '%s' missing; run build or "
			       "build-and-publish",
			       s->name, stage);
}

int stage_base_image(struct cairn_descriptor *out, struct image_state *s, const char *from,
		     const struct cairn_config_pos *pos, struct cairn_error **err)
{
	CLEANUP(cairn_ref_release) struct cairn_ref ref = CAIRN_REF_INIT;
	cleanup_free char *name = NULL;
	int ret;

	ret = cairn_ref_parse(&ref, from, err);
	if (ret < 0)
		return cairn_error_wrap(err, "%s:%u:%u: from", s->b->config->file, pos->line,
					pos->column);
	if (!ref.tag && !ref.digest)
		ref.tag = xstrdup("latest");
	name = cairn_ref_format(&ref);
	/* with fromLatest the stored copy may be older than the tag: pull (only what changed) */
	ret = s->img->from_latest.value ? CAIRN_ENOTFOUND
					: cairn_store_ref_get(s->b->st, name, out, err);
	if (ret == CAIRN_ENOTFOUND) {
		cairn_error_clear(err);
		ret = cairn_image_pull(s->b->st, &ref, name, &s->pull, NULL, err);
		if (ret < 0)
			return cairn_error_wrap(err, "image '%s': base image", s->name);
		ret = cairn_store_ref_get(s->b->st, name, out, err);
	}
	/* the stage is an OCI manifest whatever the registry sent */
	if (ret == 0)
		ret = stage_oci_base(out, s->b->st, err);
	return ret;
}

/*
 * Every kind of stage, in the order of an image's chain: how it is signed (NULL for `from`,
 * signed by stage_from_signature()) and how it is built (NULL for `from`, which stores the base).
 * A new kind of stage is an entry here and a file with its two functions.
 */
const struct stage_kind stage_kinds[S_COUNT] = {
	[S_FROM] = {"from", NULL, NULL},
	[S_BEFORE_INSTALL] = {"beforeInstall", stage_deps_user, stage_build_user},
	[S_IMPORTS_BEFORE_INSTALL] = {"importsBeforeInstall", stage_deps_imports,
				      stage_build_import},
	[S_GIT_ARCHIVE] = {"gitArchive", stage_deps_git_archive, stage_build_git_archive},
	[S_INSTALL] = {"install", stage_deps_user, stage_build_user},
	[S_IMPORTS_AFTER_INSTALL] = {"importsAfterInstall", stage_deps_imports, stage_build_import},
	[S_BEFORE_SETUP] = {"beforeSetup", stage_deps_user, stage_build_user},
	[S_IMPORTS_BEFORE_SETUP] = {"importsBeforeSetup", stage_deps_imports, stage_build_import},
	[S_SETUP] = {"setup", stage_deps_user, stage_build_user},
	[S_IMPORTS_AFTER_SETUP] = {"importsAfterSetup", stage_deps_imports, stage_build_import},
	[S_BUILD_ARTIFACT] = {"buildArtifact", stage_deps_user, stage_build_user},
	[S_GIT_CACHE] = {"gitCache", stage_deps_git_cache, stage_build_git_patch},
	[S_GIT_LATEST_PATCH] = {"gitLatestPatch", stage_deps_git_patch, stage_build_git_patch},
	[S_DOCKER] = {"dockerInstructions", stage_deps_docker, stage_build_docker},
};

/* The labels that place a stage in its chain (see CAIRN_LABEL_STAGE_PARENT). */
static void chain_labels(json_t *config, struct image_state *s, int id)
{
	CLEANUP(cairn_buf_release) struct cairn_buf imports = CAIRN_BUF_INIT;
	json_t *labels;

	stage_set_label(config, CAIRN_LABEL_STAGE_PROJECT, s->b->config->project.s);
	stage_set_label(config, CAIRN_LABEL_STAGE_PARENT, s->prev_sig);
	if (id >= 0 && stage_kinds[id].deps == stage_deps_imports) {
		for (size_t i = 0; i < s->img->n_imports; i++) {
			const struct cairn_config_import *im = &s->img->imports[i];
			const struct built_image *src = stage_find_built(s->b, im->source);

			if (im->point == stage_import_point(id) && src)
				cairn_buf_addf(&imports, "%s%s", imports.len ? " " : "",
					       stage_import_source(src, im)->sig);
		}
	}
	if (imports.len) {
		stage_set_label(config, CAIRN_LABEL_STAGE_IMPORTS, imports.buf);
	} else {
		labels = json_object_get(stage_config_section(config), "Labels");
		json_object_del(labels, CAIRN_LABEL_STAGE_IMPORTS);
	}
}

int stage_make_on_prev(struct cairn_descriptor *out, struct image_state *s,
		       const struct stage_def *def,
		       int (*build)(struct stage_output *o, struct image_state *s,
				    const struct stage_def *def, struct cairn_error **err),
		       struct cairn_error **err)
{
	struct stage_output o;
	int ret;

	memset(&o, 0, sizeof(o));
	ret = stage_load_prev(s, err);
	if (ret < 0)
		return ret;
	o.config = json_deep_copy(s->config);
	/*
	 * A stapel stage is a container committed on the one below, as docker commit made werf's
	 * and dapp's: the base's ONBUILD triggers are not kept (an image gives its own in docker:)
	 */
	if (!s->img->dockerfile.pos.line)
		json_object_del(stage_config_section(o.config), "OnBuild");
	ret = build(&o, s, def, err);
	if (ret == 0)
		chain_labels(o.config, s, s->img->dockerfile.pos.line ? -1 : def->id);
	if (ret == 0)
		ret = stage_commit(s, def->history ? def->history : def->name, o.config, o.layers,
				   o.n_layers, out, err);
	/* with a signed history line, a stage without a layer follows from the one below */
	s->no_layer = ret == 0 && o.n_layers == 0 && def->history_signed;
	json_decref(o.config);
	return ret;
}

static int build_kind(struct stage_output *o, struct image_state *s, const struct stage_def *def,
		      struct cairn_error **err)
{
	return stage_kinds[def->id].build(o, s, (enum stage_id)def->id, err);
}

/* Build stapel stage `def->id` into the store. */
static int make_stage(struct cairn_descriptor *d, struct image_state *s,
		      const struct stage_def *def, struct cairn_error **err)
{
	if (def->id != S_FROM)
		return stage_make_on_prev(d, s, def, build_kind, err);
	if (s->img->from.s)
		return stage_base_image(d, s, s->img->from.s, &s->img->from.pos, err);
	/* the last stage of the base image (confirmed before its end), as it is */
	*d = stage_find_built(s->b, s->img->base)->desc;
	s->no_layer = true;
	return 0;
}

/* Stage `sig` from the first cache of the build that holds it, or CAIRN_ENOTFOUND. */
static int cache_get(struct cairn_descriptor *d, char **tag, struct image_state *s, const char *sig,
		     struct cairn_error **err)
{
	int ret = CAIRN_ENOTFOUND;

	for (size_t i = 0; i < s->b->n_caches && ret == CAIRN_ENOTFOUND; i++) {
		cairn_error_clear(err);
		ret = s->b->caches[i]->get(d, tag, s, sig, err);
	}
	return ret;
}

/* Keep stage `id` just built in every cache of the build, in order (see struct stage_cache). */
static int cache_put(struct cairn_descriptor *d, char **tag, struct image_state *s,
		     const char *stage, const char *sig, int *redo, struct cairn_error **err)
{
	int ret = 0;

	*redo = -1;
	for (size_t i = 0; i < s->b->n_caches && ret == 0 && *redo < 0; i++) {
		char *t = NULL;

		ret = s->b->caches[i]->put(d, &t, s, stage, sig, redo, err);
		if (t) {
			free(*tag);
			*tag = t;
		}
	}
	return ret;
}

/*
 * Images side by side may need the same stage (two targets of one Dockerfile, two images on
 * one base): the first builds it, the others wait for it (the gil let go meanwhile) and find it
 * in the caches. Whether stage `sig` was being built (and is done now).
 */
static bool building_wait(struct builder *b, const char *sig)
{
	bool waited = false;

	for (;;) {
		bool found = false;

		for (size_t i = 0; i < b->building.n && !found; i++)
			found = strcmp(b->building.v[i], sig) == 0;
		if (!found || !b->threaded)
			return waited;
		pthread_cond_wait(&b->image_done, &b->gil);
		waited = true;
	}
}

static void building_done(struct builder *b, const char *sig)
{
	for (size_t i = 0; i < b->building.n; i++) {
		if (strcmp(b->building.v[i], sig) == 0) {
			free(b->building.v[i]);
			b->building.v[i] = b->building.v[--b->building.n];
			break;
		}
	}
	if (b->threaded)
		pthread_cond_broadcast(&b->image_done);
}

/* One stage: reused from the store or the stages storage, else built and stored. */
int stage_step(struct image_state *s, const struct stage_def *def, const char *sig, int *next,
	       int *stop, struct cairn_error **err)
{
	struct builder *b = s->b;
	const char *stage = def->name;
	char *tag = NULL;
	struct cairn_descriptor d;
	struct cairn_digest made;
	double t0 = stage_now_secs();
	bool confirmed = false;
	int ret, redo = -1;

	*next = def->id + 1;
	/*
	 * Another image building this stage has it in the local store before the stages storage
	 * has confirmed it (or given another host's in its place): its end is waited for first.
	 */
	if (building_wait(b, sig) && b->failed) {
		s->cancelled = true;
		*stop = 1;
		return 0;
	}
	ret = cache_get(&d, &tag, s, sig, err);
	/*
	 * Another image began this stage while this one asked the stages storage (which lets the
	 * others go): found here before it is stored there, or not at all. Its end, then again.
	 */
	if ((ret == 0 || ret == CAIRN_ENOTFOUND) && !b->o->no_build && building_wait(b, sig)) {
		free(tag);
		cairn_error_clear(err);
		if (b->failed) {
			s->cancelled = true;
			*stop = 1;
			return 0;
		}
		return stage_step(s, def, sig, next, stop, err);
	}
	if (ret == 0 && !b->o->no_build && s->img->n_git &&
	    (s->git_archived || def->id == S_GIT_ARCHIVE)) {
		ret = stage_usable(s, &d, stage, err);
		if (ret == CAIRN_ENOTFOUND) {
			/* built again, it replaces the stored one (there too) */
			s->rejected = d.digest;
			free(TAKE_PTR(tag));
		}
	}
	if (ret == 0 && !tag && stage_unseeded(s, sig, &d)) {
		/* built by this host without the stages storage: it goes there now */
		ret = stage_seed(&d, &tag, s, stage, sig, &redo, err);
		if (ret < 0 || redo >= 0) {
			free(tag);
			*next = redo;
			return ret;
		}
	}
	if (ret == 0) {
		emit(s, CAIRN_BUILD_STAGE_CACHED, stage, sig, &d.digest, 0);
		stage_add_result(s, stage, sig, &d, 1, 0);
	} else if (ret == CAIRN_ENOTFOUND && b->o->no_build) {
		cairn_error_clear(err);
		*stop = b->o->stop_at_missing;
		if (*stop)
			emit(s, CAIRN_BUILD_STAGE_MISSING, stage, sig, NULL, 0);
		return *stop ? 0 : not_built(s, stage, err);
	} else if (ret == CAIRN_ENOTFOUND) {
		cairn_error_clear(err);
		if (b->restart) {
			/*
			 * Another image found a stage of the stages storage changed: the build runs
			 * again, and nothing is built (or pushed) meanwhile on what may be stale.
			 */
			s->cancelled = true;
			*stop = 1;
			return 0;
		}
		if (b->n_deferred) {
			/* what this stage may stand on must be confirmed before it is pushed */
			bool changed = false;

			ret = stage_confirm_deferred(b, &changed, err);
			stage_forget_deferred(b);
			if (ret < 0)
				return ret;
			if (changed) {
				b->restart = 1;
				*stop = 1;
				return 0;
			}
		}
		emit(s, CAIRN_BUILD_STAGE_BEGIN, stage, sig, NULL, 0);
		s->built = 1;
		strv_add(&b->building, sig);
		s->no_layer = false;
		ret = def->make(&d, s, def, err);
		made = d.digest;
		if (ret == 0)
			ret = cache_put(&d, &tag, s, stage, sig, &redo, err);
		building_done(b, sig);
		if (ret < 0) {
			emit(s, CAIRN_BUILD_STAGE_FAILED, stage, sig, NULL, stage_now_secs() - t0);
			free(tag);
			return ret;
		}
		emit(s, CAIRN_BUILD_STAGE_DONE, stage, sig, &d.digest, stage_now_secs() - t0);
		if (redo >= 0) {
			*next = redo;
			return 0;
		}
		stage_add_result(s, stage, sig, &d, 0, stage_now_secs() - t0);
		/*
		 * Stored on confirmed stages (cache_put() confirmed them first), a stage without a
		 * layer of its own is what any host makes of them, byte for byte: a racing PUT of
		 * its tag writes the same manifest, so there is nothing to confirm (and no wait).
		 */
		confirmed = s->no_layer && cairn_digest_equal(&made, &d.digest);
	} else {
		return ret;
	}
	if (def->at) {
		if (def->id == S_GIT_ARCHIVE)
			s->git_archived = 1;
		memcpy(def->at->sig, sig, CAIRN_SIGNATURE_HEX);
		def->at->desc = d;
		def->at->set = true;
	}
	memcpy(s->prev_sig, sig, CAIRN_SIGNATURE_HEX);
	s->prev = d;
	stage_drop_prev(s);
	if (tag && !b->o->no_build && !confirmed)
		stage_remember(s, def->id, stage, sig, tag, &d);
	else
		free(tag);
	return 0;
}

/* Whether stage `id` stands on an image that stopped short of its end (stop_at_missing). */
static bool stands_on_missing(struct image_state *s, enum stage_id id)
{
	const struct cairn_config_image *img = s->img;

	if (id == S_FROM)
		return img->base && !stage_find_built(s->b, img->base);
	if (stage_kinds[id].deps != stage_deps_imports)
		return false;
	for (size_t i = 0; i < img->n_imports; i++)
		if (img->imports[i].point == stage_import_point(id) && img->imports[i].source &&
		    !stage_find_built(s->b, img->imports[i].source))
			return true;
	return false;
}

/* Stapel stage `id`: skipped when it is empty, else stage_step(). */
static int stapel_step(struct image_state *s, enum stage_id id, int *next, int *stop,
		       struct cairn_error **err)
{
	const struct stage_def def = {.id = (int)id,
				      .name = stage_kinds[id].name,
				      .history = stage_kinds[id].name,
				      .history_signed = true,
				      .make = make_stage,
				      .at = &s->at[id]};
	char sig[CAIRN_SIGNATURE_HEX];
	int ret;

	*next = (int)id + 1;
	if (s->b->o->stop_at_missing && stands_on_missing(s, id)) {
		/* its base (or an import's source) is to build: so is this stage, unsigned yet */
		*stop = 1;
		emit(s, CAIRN_BUILD_STAGE_MISSING, def.name, NULL, NULL, 0);
		return 0;
	}
	ret = stage_signature(sig, s, id, err);
	if (ret < 0 || !sig[0])
		return ret;
	return stage_step(s, &def, sig, next, stop, err);
}

/* Image `img`, built to its end: a base and an import source for the images after it. */
static void add_built(struct builder *b, const struct cairn_config_image *img,
		      struct image_state *s)
{
	if (b->n_built == b->cap_built) {
		b->cap_built = b->cap_built ? 2 * b->cap_built : 8;
		b->built = xreallocarray(b->built, b->cap_built, sizeof(*b->built));
	}
	b->built[b->n_built].cfg = img;
	memcpy(b->built[b->n_built].sig, s->prev_sig, CAIRN_SIGNATURE_HEX);
	b->built[b->n_built].desc = s->prev;
	/* an empty stage stands for the last one before it; a Dockerfile image is its last */
	for (int i = S_FROM; i < S_COUNT && img->dockerfile.pos.line; i++) {
		memcpy(s->at[i].sig, s->prev_sig, CAIRN_SIGNATURE_HEX);
		s->at[i].desc = s->prev;
		s->at[i].set = true;
	}
	for (int i = S_FROM + 1; i < S_COUNT; i++)
		if (!s->at[i].set)
			s->at[i] = s->at[i - 1];
	memcpy(b->built[b->n_built].at, s->at, sizeof(s->at));
	b->n_built++;
}

static int build_image(struct builder *b, const struct cairn_config_image *img, size_t index,
		       struct cairn_error **err)
{
	struct cairn_build_image *out = &b->result->images[index];
	struct image_state s = {.b = b, .img = img, .out = out, .index = index, .pull = b->pull};
	int ret, id = S_FROM, stop = 0;

	s.name = img->name ? img->name : "~";
	if (b->told && s.pull.progress) {
		s.pull.progress = image_progress;
		s.pull.progress_ud = &s;
	}
	out->name = img->name ? xstrdup(img->name) : NULL;
	out->artifact = img->artifact;
	emit(&s, CAIRN_BUILD_IMAGE_BEGIN, NULL, NULL, NULL, 0);
	ret = stage_resolve_git(&s, err);
	while (ret == 0 && !stop) {
		if (b->failed) {
			/* another image failed: this one stops, and says nothing of it */
			s.cancelled = true;
			break;
		}
		if (id < S_COUNT && img->dockerfile.pos.line) {
			/* all of a Dockerfile image's stages, again from the top after a redo */
			ret = stage_build_dockerfile_image(&s, &stop, err);
			id = S_COUNT;
			continue;
		}
		if (id < S_COUNT) {
			ret = stapel_step(&s, (enum stage_id)id, &id, &stop, err);
			continue;
		}
		/* taken whole from the stages storage: confirmed with the others at the end */
		if (!s.built && !b->no_defer) {
			stage_defer(b, &s);
			break;
		}
		/* done once every stage it stands on is confirmed */
		ret = stage_confirm(&s, &id, err);
		if (id < 0)
			break;
		if (img->dockerfile.pos.line)
			id = S_FROM; /* a Dockerfile image goes again from its top */
	}
	tell_dropped(&s);
	if (ret < 0 || out->n_stages == 0 || s.cancelled) {
		/* with stop_at_missing, nothing of this image is there: an empty entry */
		stage_forget(&s);
		stage_drop_prev(&s);
		free(s.git);
		return ret;
	}
	memcpy(out->signature, s.prev_sig, CAIRN_SIGNATURE_HEX);
	out->desc = s.prev;
	out->incomplete = stop && b->o->stop_at_missing;
	/* one that stopped short is no base: what stands on it stops where it does */
	if (!out->incomplete) {
		add_built(b, img, &s);
		emit(&s, CAIRN_BUILD_IMAGE_DONE, NULL, s.prev_sig, &s.prev.digest, 0);
	}
	stage_forget(&s);
	stage_drop_prev(&s);
	free(s.git);
	return 0;
}

/* ---- images side by side ---- */

#define BUILD_MAX_JOBS 64

struct image_jobs {
	struct builder *b;
	const struct cairn_config_image **order;
	size_t n;
	size_t next;		 /* the next image to take; under the gil */
	size_t err_image;	 /* the first image (in order) that failed */
	struct cairn_error *err; /* its error */
};

/* Whether every image `img` stands on (its base, the sources of its imports) is built. */
static bool deps_built(struct builder *b, const struct cairn_config_image *img)
{
	if (img->base && !stage_find_built(b, img->base))
		return false;
	for (size_t k = 0; k < img->n_imports; k++)
		if (img->imports[k].source && !stage_find_built(b, img->imports[k].source))
			return false;
	return true;
}

static void *image_worker(void *arg)
{
	struct image_jobs *j = arg;
	struct builder *b = j->b;

	pthread_mutex_lock(&b->gil);
	while (j->next < j->n && !b->failed && !b->restart) {
		size_t i = j->next++;
		struct cairn_error *e = NULL;
		int ret;

		/* images are taken in order: what one stands on was taken before it */
		while (!deps_built(b, j->order[i]) && !b->failed && !b->restart)
			pthread_cond_wait(&b->image_done, &b->gil);
		ret = b->failed || b->restart ? 0 : build_image(b, j->order[i], i, &e);
		if (ret == 0 && !b->failed && !b->restart && !stage_find_built(b, j->order[i]))
			ret = cairn_error_set(&e, CAIRN_EINTERNAL, "image '%s' ended unbuilt",
					      j->order[i]->name ? j->order[i]->name : "~");
		if (b->result->n_images < i + 1)
			b->result->n_images = i + 1;
		if (ret < 0) {
			b->failed = true;
			if (!j->err || i < j->err_image) {
				cairn_error_free(j->err);
				j->err = e;
				j->err_image = i;
			} else {
				cairn_error_free(e);
			}
		}
		cairn_ordered_done(b->told, i);
		pthread_cond_broadcast(&b->image_done);
	}
	pthread_mutex_unlock(&b->gil);
	return NULL;
}

/*
 * The images of `order`, up to --jobs side by side when there is work to overlap (a build
 * that may run containers), else one after the other.
 */
static int build_images(struct builder *b, const struct cairn_config_image **order, size_t n,
			bool side_by_side, struct cairn_error **err)
{
	struct image_jobs j = {.b = b, .order = order, .n = n};
	pthread_t threads[BUILD_MAX_JOBS];
	struct cairn_job_slots slots;
	const int slots_n = b->o->pull.jobs > 0 ? b->o->pull.jobs : 4;
	int jobs = slots_n;
	int started = 0, ret = 0;

	if (jobs > BUILD_MAX_JOBS)
		jobs = BUILD_MAX_JOBS;
	if ((size_t)jobs > n)
		jobs = (int)n;
	if (jobs <= 1 || b->o->no_build || !side_by_side) {
		for (size_t i = 0; i < n && !b->restart && ret == 0; i++) {
			ret = build_image(b, order[i], i, err);
			b->result->n_images = i + 1;
		}
		return ret;
	}
	b->threaded = true;
	/* images side by side move --jobs blobs at once in all, on as many connections a host */
	cairn_job_slots_init(&slots, slots_n);
	if (!b->pull.slots)
		b->pull.slots = &slots;
	b->told = cairn_ordered_new(n);
	pthread_mutex_init(&b->gil, NULL);
	pthread_cond_init(&b->image_done, NULL);
	for (int i = 1; i < jobs; i++) {
		if (pthread_create(&threads[started], NULL, image_worker, &j) != 0)
			break;
		started++;
	}
	image_worker(&j);
	for (int i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	cairn_ordered_free(b->told);
	b->told = NULL;
	if (b->pull.slots == &slots)
		b->pull.slots = NULL;
	cairn_job_slots_release(&slots);
	b->threaded = false;
	pthread_cond_destroy(&b->image_done);
	pthread_mutex_destroy(&b->gil);
	b->failed = false;
	if (j.err) {
		*err = j.err;
		return j.err->code;
	}
	return 0;
}

int cairn_build(struct cairn_build_result **out, const struct cairn_build_opts *o,
		struct cairn_error **err)
{
	struct builder b = {.o = o, .dir = o->dir ? o->dir : ".", .run_lock = -1};
	bool keep_lock = o->keep_lock && o->pull.registries;
	const struct cairn_config_image **order = NULL;
	const char *dir = o->dir ? o->dir : ".";
	size_t n = 0;
	int ret;

	*out = NULL;
	b.pull = o->pull;
	if (!b.pull.registries) {
		ret = cairn_registry_pool_new(&b.registries, &o->pull.registry, err);
		if (ret < 0)
			return ret;
		b.pull.registries = b.registries;
	}
	pthread_mutex_init(&b.toolchain_lock, NULL);
	if (o->dockerfile) {
		struct cairn_config_dockerfile_source src = *o->dockerfile;

		src.dir = dir;
		ret = cairn_config_from_dockerfile(&b.config, &src, err);
	} else {
		ret = cairn_config_load(
			&b.config,
			&(struct cairn_config_source){dir, o->config_file, o->config_templates_dir},
			err);
	}
	if (ret < 0)
		goto out;
	ret = cairn_config_order(&order, &n, b.config, o->images, o->n_images, err);
	if (ret < 0)
		goto out;
	/* room for every image at once: `built` never moves under a thread's pointers */
	b.cap_built = n ? n : 1;
	b.built = xcalloc(b.cap_built, sizeof(*b.built));
	cairn_home_paths(&b.home, o->home);
	b.caches[b.n_caches++] = &stage_cache_local;
	if (o->stages_storage) {
		b.caches[b.n_caches++] = &stage_cache_registry;
		ret = cairn_repo_parse(&b.storage, o->stages_storage, err);
		/* no stages cleanup while this build stores or stands on stages there */
		if (ret == 0 && (!o->no_build || keep_lock))
			ret = cairn_registry_lock(&b.lock, b.pull.registries, o->stages_storage,
						  b.config->project.s, CAIRN_REGISTRY_LOCK_USE, -1,
						  err);
		if (ret < 0) {
			cairn_error_wrap(err, "stages storage '%s'", o->stages_storage);
			goto out;
		}
	}
	ret = cairn_store_open(&b.st, b.home.store, err);
	if (ret == 0)
		ret = cairn_fs_mkdirs_at(AT_FDCWD, b.home.layers, 0700, err);
	if (ret == 0)
		ret = cairn_fs_mkdirs_at(AT_FDCWD, b.home.tmp, 0700, err);
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
		/* the second pass goes image by image */
		ret = build_images(&b, order, n, pass == 0, err);
		if (ret < 0)
			goto out;
		ret = stage_confirm_deferred(&b, &changed, err);
		stage_forget_deferred(&b);
		if (ret < 0 || !(changed || b.restart))
			break;
		b.restart = 0;
		/* another host's stage won a tag this build read: once more, image by image */
		b.no_defer = 1;
	}
	if (ret < 0)
		goto out;
	if (keep_lock)
		b.result->lock = TAKE_PTR(b.lock);
	*out = TAKE_PTR(b.result);
out:
	stage_forget_deferred(&b);
	if (ret < 0 && o->keep_partial)
		*out = TAKE_PTR(b.result);
	cairn_build_result_free(b.result);
	free(order);
	free(b.built);
	strv_release(&b.building);
	cairn_git_free(b.repo);
	for (size_t i = 0; i < b.n_remotes; i++) {
		cairn_git_free(b.remotes[i].repo);
		free(b.remotes[i].url);
	}
	free(b.remotes);
	if (b.git_inited)
		cairn_git_global_cleanup();
	cairn_store_free(b.st);
	cairn_registry_unlock(b.lock); /* before the pool it talks through */
	cairn_ref_release(&b.storage);
	cairn_home_release(&b.home);
	cairn_toolchain_free(b.toolchain);
	pthread_mutex_destroy(&b.toolchain_lock);
	if (b.stage_run_dir)
		cairn_exec_cleanup(b.stage_run_dir);
	free(b.stage_run_dir);
	if (b.run_lock >= 0)
		close(b.run_lock);
	cairn_config_free(b.config);
	cairn_registry_pool_free(b.registries);
	return ret;
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
