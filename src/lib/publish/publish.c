/* SPDX-License-Identifier: MIT */
/* Publish: final images made from the last stage (labels, manifest format) and pushed. */
#include "common.h"
#include "cairn/publish.h"
#include "cairn/oci.h"
#include "cairn/build.h"
#include "cairn/log.h"
#include "publish/publish_internal.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"
#include "registry/progress.h"
#include "util/ordered.h"
#include "util/slots.h"

#include <pthread.h>

#include <fcntl.h>
#include <time.h>

static int read_json(json_t **out, struct cairn_store *st, const struct cairn_digest *dg,
		     const char *what, struct cairn_error **err)
{
	cleanup_free char *raw = NULL;
	size_t len = 0;
	int ret = cairn_store_read_doc(&raw, &len, st, dg, err);

	if (ret < 0)
		return ret;
	return cairn_json_parse(out, raw, len, what, err);
}

static int put_json(struct cairn_descriptor *d, struct cairn_store *st, const json_t *j,
		    const char *media_type, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	int ret = cairn_json_dump(&b, j, err);

	if (ret < 0)
		return ret;
	memset(d, 0, sizeof(*d));
	snprintf(d->media_type, sizeof(d->media_type), "%s", media_type);
	d->size = b.len;
	return cairn_store_put_blob(st, b.buf, b.len, &d->digest, err);
}

static const char *docker_layer_type(const char *oci, struct cairn_error **err)
{
	if (strcmp(oci, CAIRN_MT_OCI_LAYER_GZIP) == 0 ||
	    strcmp(oci, CAIRN_MT_DOCKER_LAYER_GZIP) == 0)
		return CAIRN_MT_DOCKER_LAYER_GZIP;
	cairn_error_set(err, CAIRN_EINVAL,
			"a '%s' layer cannot go in a Docker schema 2 manifest: use "
			"--manifest-format oci",
			oci);
	return NULL;
}

/*
 * The final image of tag `t` (published as `tag`): the last stage's config plus the meta
 * labels (cairn-image-tag makes each tag's manifest its own), in a new manifest (Docker
 * schema 2 unless `oci`). Deterministic: the same stage, scheme and tag give the same bytes,
 * so one HEAD tells that the registry has it.
 */
static int final_image(struct cairn_descriptor *out, struct cairn_store *st,
		       const struct cairn_build_result *built, const struct cairn_build_image *im,
		       const struct cairn_tag *t, const char *tag, const char *created, int oci,
		       struct cairn_error **err)
{
	cleanup_json json_t *manifest = NULL;
	cleanup_json json_t *config = NULL;
	cleanup_json json_t *layers = json_array();
	cleanup_json json_t *fm = NULL;
	json_t *c, *labels, *l;
	struct cairn_descriptor cfg;
	const char *dg;
	struct cairn_digest cd;
	size_t i;
	int ret;

	ret = read_json(&manifest, st, &im->desc.digest, "manifest", err);
	if (ret < 0)
		return ret;
	ret = cairn_json_get_string(&dg, json_object_get(manifest, "config"), "digest", 1,
				    "manifest config", err);
	if (ret == 0)
		ret = cairn_digest_parse(&cd, dg, strlen(dg), err);
	if (ret == 0)
		ret = read_json(&config, st, &cd, "image config", err);
	if (ret < 0)
		return ret;
	c = json_object_get(config, "config");
	if (!json_is_object(c)) {
		c = json_object();
		json_object_set_new(config, "config", c);
	}
	labels = json_object_get(c, "Labels");
	if (!json_is_object(labels)) {
		labels = json_object();
		json_object_set_new(c, "Labels", labels);
	}
	json_object_set_new(labels, "cairn-image", json_string("true"));
	json_object_set_new(labels, "cairn-project", json_string(built->project));
	/* which image of the project: a monorepo holds them all, "~" for the unnamed one */
	json_object_set_new(labels, "cairn-image-name", json_string(im->name ? im->name : "~"));
	json_object_set_new(labels, "cairn-tag-scheme",
			    json_string(cairn_tag_scheme_name(t->scheme)));
	json_object_set_new(labels, "cairn-image-tag", json_string(tag));
	json_object_set_new(labels, "cairn-stage-signature", json_string(im->signature));
	/* the stage itself: a stage rebuilt under the same signature is other content */
	json_object_set_new(labels, "cairn-stage-digest", json_string(im->desc.digest.str));
	/* when the tag was published: werf's cleanup policies date tags by it */
	json_object_set_new(config, "created", json_string(created));
	ret = put_json(&cfg, st, config, oci ? CAIRN_MT_OCI_CONFIG : CAIRN_MT_DOCKER_CONFIG, err);
	if (ret < 0)
		return ret;
	json_array_foreach(json_object_get(manifest, "layers"), i, l)
	{
		const char *mt = json_string_value(json_object_get(l, "mediaType"));

		if (!mt)
			return cairn_error_set(err, CAIRN_EINVAL, "manifest '%s': layer %zu",
					       im->desc.digest.str, i);
		if (!oci) {
			mt = docker_layer_type(mt, err);
			if (!mt)
				return CAIRN_EINVAL;
		}
		json_array_append_new(layers, json_pack("{s:s, s:O, s:O}", "mediaType", mt,
							"digest", json_object_get(l, "digest"),
							"size", json_object_get(l, "size")));
	}
	fm = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:O}", "schemaVersion", 2, "mediaType",
		       oci ? CAIRN_MT_OCI_MANIFEST : CAIRN_MT_DOCKER_MANIFEST, "config",
		       "mediaType", cfg.media_type, "digest", cfg.digest.str, "size",
		       (json_int_t)cfg.size, "layers", layers);
	return put_json(out, st, fm, oci ? CAIRN_MT_OCI_MANIFEST : CAIRN_MT_DOCKER_MANIFEST, err);
}

/* One stage of a chain to `dest`, the tag index told what it learns. */
static int push_stage(struct cairn_store *st, const struct cairn_descriptor *desc,
		      const struct cairn_ref *dest, const struct cairn_image_opts *io,
		      struct tag_index *tags, struct cairn_transfer_stats *ts,
		      struct cairn_error **err)
{
	struct cairn_image_opts push = *io;
	int ret;

	push.tag_absent = tag_index_absent(tags, dest);
	push.repo_new = tag_index_repo_new(tags, dest);
	ret = cairn_image_push_descriptor(st, desc, dest, &push, ts, err);
	if (ret < 0)
		return ret;
	/* a stage tag was missing: the others are told by one listing */
	if (!ts->manifest_existed && !push.tag_absent)
		tag_index_learn(tags, dest, io);
	tag_index_put(tags, dest);
	return 0;
}

/* Progress for what a tag holds already: a stage another image pushed, an image another host. */
static void told_there(const struct cairn_image_opts *io, const struct cairn_ref *dest,
		       const struct cairn_descriptor *d)
{
	cleanup_free char *ref = NULL;

	if (!io->progress)
		return;
	ref = cairn_ref_format(dest);
	io->progress(&(struct cairn_progress){.kind = CAIRN_PROGRESS_MANIFEST_EXISTS,
					      .ref = ref,
					      .digest = &d->digest,
					      .done = d->size,
					      .total = d->size},
		     io->progress_ud);
}

/* Every stage of `im` as REPO:<prefix><signature>, from the descriptors the build recorded. */
static int push_stages(struct cairn_store *st, const struct cairn_build_result *built,
		       const struct cairn_build_image *im, const struct cairn_ref *repo,
		       const struct cairn_publish_opts *o, const struct cairn_image_opts *io,
		       struct tag_index *tags, bool list_first, struct cairn_error **err)
{
	/*
	 * The image's repository was new: so, likely, are its stages; one listing of the stages
	 * repository tells which stage tags are missing (a re-publish lists nothing)
	 */
	if (!o->dry_run && list_first)
		tag_index_learn(tags, repo, io);
	for (size_t k = 0; k < im->n_stages; k++) {
		CLEANUP(cairn_ref_release) struct cairn_ref dest = CAIRN_REF_INIT;
		struct cairn_transfer_stats ts = {0};
		int ret = 0;

		cairn_stage_ref(&dest, repo, o->stage_prefix, im->stages[k].signature);
		/* a stage images share (their base) goes up once, the others wait for it */
		if (!o->dry_run && tag_index_claim(tags, &dest) == TAG_CLAIM_DONE) {
			ts.manifest_existed = 1;
			told_there(io, &dest, &im->stages[k].desc);
		} else if (!o->dry_run) {
			ret = push_stage(st, &im->stages[k].desc, &dest, io, tags, &ts, err);
			tag_index_unclaim(tags, &dest, ret == 0);
		}
		if (ret < 0)
			return ret;
		if (o->published) {
			cleanup_free char *ref = cairn_ref_format(&dest);
			struct cairn_published_ref p = {.image = (size_t)(im - built->images),
							.ref = ref,
							.digest = im->stages[k].desc.digest,
							.existed = ts.manifest_existed};

			o->published(&p, o->published_ud);
		}
	}
	return 0;
}

static size_t path_parts(const char *path)
{
	size_t n = 1;

	for (const char *p = path; *p; p++)
		n += *p == '/';
	return n;
}

int cairn_repo_mode_resolve(enum cairn_repo_mode *out, const char *mode, const char *implementation,
			    const struct cairn_ref *repo, struct cairn_error **err)
{
	const char *impl = implementation;
	size_t parts = path_parts(repo->path);

	*out = CAIRN_REPO_MULTIREPO;
	if (mode && strcmp(mode, "monorepo") == 0) {
		*out = CAIRN_REPO_MONOREPO;
		return 0;
	}
	if (mode && strcmp(mode, "multirepo") == 0)
		return 0;
	if (mode && *mode && strcmp(mode, "auto") != 0)
		return cairn_error_set(err, CAIRN_EINVAL,
				       "invalid images repo mode '%s': want multirepo, monorepo or "
				       "auto",
				       mode);
	if (!impl || !*impl) {
		impl = strcmp(repo->domain, "docker.io") == 0		    ? "dockerhub"
		       : strcmp(repo->domain, "quay.io") == 0		    ? "quay"
		       : strcmp(repo->domain, "docker.pkg.github.com") == 0 ? "github"
									    : "default";
	}
	/* werf: a Docker Hub "library/X" is the account X alone */
	if (strcmp(impl, "dockerhub") == 0 && strncmp(repo->path, "library/", 8) == 0)
		parts = 1;
	if ((strcmp(impl, "dockerhub") == 0 || strcmp(impl, "quay") == 0) && parts >= 2)
		*out = CAIRN_REPO_MONOREPO;
	if (strcmp(impl, "github") == 0 && parts >= 3)
		*out = CAIRN_REPO_MONOREPO;
	return 0;
}

/*
 * The repository image `im` goes to: REPO for the unnamed image, as_is, or in monorepo mode;
 * else REPO/NAME.
 */
static int image_repo(struct cairn_ref *out, const struct cairn_ref *repo,
		      const struct cairn_build_image *im, const struct cairn_publish_opts *o,
		      struct cairn_error **err)
{
	cleanup_free char *s = NULL;

	if (o->as_is || !im->name || o->repo_mode == CAIRN_REPO_MONOREPO) {
		cairn_ref_with(out, repo, NULL, NULL);
		return 0;
	}
	s = xasprintf("%s/%s/%s", repo->domain, repo->path, im->name);
	if (cairn_repo_parse(out, s, err) < 0)
		return cairn_error_wrap(err, "publish image '%s'", im->name);
	return 0;
}

/*
 * The reference of tag `t` of image `im` in `repo`: the image's signature for the stages
 * signature scheme, and NAME-TAG for a named image in monorepo mode.
 */
static int image_tag(struct cairn_ref *out, const struct cairn_ref *repo,
		     const struct cairn_build_image *im, const struct cairn_tag *t,
		     const struct cairn_publish_opts *o, struct cairn_error **err)
{
	const char *base = t->scheme == CAIRN_TAG_SCHEME_STAGES_SIGNATURE ? im->signature : t->tag;
	cleanup_free char *tag = NULL;

	if (o->repo_mode != CAIRN_REPO_MONOREPO || o->as_is || !im->name) {
		cairn_ref_with(out, repo, base, NULL);
		return 0;
	}
	tag = xasprintf("%s-%s", im->name, base);
	if (cairn_tag_validate(tag, strlen(tag), err) < 0)
		return cairn_error_wrap(err, "publish image '%s' in monorepo mode", im->name);
	cairn_ref_with(out, repo, tag, NULL);
	return 0;
}

/* ---- when a tag was published ---- */

/*
 * A tag as published: what it holds (the image's stage, by digest; the scheme; the manifest
 * format) and when it was published with that content. A re-publish of the same content keeps
 * the time, so its bytes are the same and one HEAD finds them; new content, or a tag that holds
 * something else now (deleted, or published by another host since), is published now.
 */
struct published {
	const char *stage;  /* the last stage's manifest digest */
	const char *scheme; /* cairn_tag_scheme_name() */
	int oci;
	char *ref;		   /* "host/repo:tag" */
	char *record;		   /* this host's file for it, or NULL */
	char *created;		   /* RFC 3339 */
	struct cairn_digest final; /* recorded: the manifest published */
};

static void published_release(struct published *p)
{
	free(p->ref);
	free(p->record);
	free(p->created);
}

static char *now_rfc3339(void)
{
	char buf[32];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return xstrdup(buf);
}

/* This host's record of the tag, when it holds the same content: its time and manifest. */
static bool recorded(struct published *p)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT_MAX(64 * 1024);
	cleanup_json json_t *j = NULL;
	struct cairn_error *e = NULL;
	const char *stage, *scheme, *ref, *created, *final;

	if (!p->record || cairn_fs_read_at(AT_FDCWD, p->record, &b, &e) < 0 ||
	    cairn_json_parse(&j, b.buf, b.len, "publish record", &e) < 0) {
		cairn_error_free(e);
		return false;
	}
	ref = json_string_value(json_object_get(j, "ref"));
	stage = json_string_value(json_object_get(j, "stage"));
	scheme = json_string_value(json_object_get(j, "scheme"));
	created = json_string_value(json_object_get(j, "created"));
	final = json_string_value(json_object_get(j, "manifest"));
	if (!ref || !stage || !scheme || !created || !final || strcmp(ref, p->ref) != 0 ||
	    strcmp(stage, p->stage) != 0 || strcmp(scheme, p->scheme) != 0 ||
	    json_integer_value(json_object_get(j, "oci")) != p->oci ||
	    cairn_digest_parse(&p->final, final, strlen(final), NULL) < 0)
		return false;
	p->created = xstrdup(created);
	return true;
}

/*
 * The registry's image under the tag, when it holds the same content: its time; `*absent` when
 * the tag holds nothing, else in `there` the manifest it holds.
 */
static int registry_time(char **out, bool *absent, struct cairn_descriptor *there,
			 const struct published *p, const struct cairn_ref *dest,
			 const struct cairn_image_opts *io, struct cairn_error **err)
{
	cleanup_json json_t *cfg = NULL;
	cleanup_free char *raw = NULL;
	json_t *labels;
	const char *stage, *scheme, *tag, *created;
	size_t len = 0;
	int ret = cairn_image_remote_config(&raw, &len, there, dest, io, err);

	*out = NULL;
	*absent = ret == CAIRN_ENOTFOUND;
	if (ret == CAIRN_ENOTFOUND) {
		cairn_error_clear(err);
		return 0;
	}
	if (ret < 0 || !raw || cairn_json_parse(&cfg, raw, len, "image config", NULL) < 0)
		return ret;
	labels = json_object_get(json_object_get(cfg, "config"), "Labels");
	stage = json_string_value(json_object_get(labels, "cairn-stage-digest"));
	scheme = json_string_value(json_object_get(labels, "cairn-tag-scheme"));
	tag = json_string_value(json_object_get(labels, "cairn-image-tag"));
	created = json_string_value(json_object_get(cfg, "created"));
	if (stage && scheme && tag && created && strcmp(stage, p->stage) == 0 &&
	    strcmp(scheme, p->scheme) == 0 && strcmp(tag, dest->tag) == 0)
		*out = xstrdup(created);
	return 0;
}

/* Keep the tag's time on this host (best effort: without it the registry is asked). */
static void remember(const struct published *p, const struct cairn_publish_opts *o,
		     const struct cairn_digest *final)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	cleanup_json json_t *j = NULL;
	struct cairn_error *e = NULL;

	if (!p->record)
		return;
	j = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s}", "ref", p->ref, "stage", p->stage, "scheme",
		      p->scheme, "oci", p->oci, "created", p->created, "manifest", final->str);
	if (cairn_fs_mkdirs_at(AT_FDCWD, o->record_dir, 0700, &e) < 0 ||
	    cairn_json_dump(&b, j, &e) < 0 ||
	    cairn_fs_write_atomic_at(AT_FDCWD, p->record, b.buf, b.len, 0600, &e) < 0)
		cairn_log(CAIRN_LOG_DEBUG, "remember when '%s' was published: %s", p->ref,
			  e ? e->msg : "?");
	cairn_error_free(e);
}

/*
 * Publish tag `t` of image `im` as `dest`: with this host's recorded time when the tag still
 * holds what it recorded (one HEAD), else with the time the registry's image under the tag has
 * for the same content, else now.
 */
static void tell(const struct cairn_publish_opts *o, const struct cairn_build_result *built,
		 const struct cairn_build_image *im, const struct cairn_tag *t,
		 const struct cairn_ref *dest, const char *ref, const struct cairn_digest *dg,
		 int existed)
{
	struct cairn_published_ref p = {.image = (size_t)(im - built->images),
					.tag = dest->tag,
					.scheme = cairn_tag_scheme_name(t->scheme),
					.ref = ref,
					.digest = *dg,
					.existed = existed};

	if (o->published)
		o->published(&p, o->published_ud);
}

static int publish_tag(struct cairn_store *st, const struct cairn_build_result *built,
		       const struct cairn_build_image *im, const struct cairn_tag *t,
		       const struct cairn_ref *dest, const struct cairn_publish_opts *o,
		       const struct cairn_image_opts *io, struct tag_index *tags,
		       struct cairn_error **err)
{
	struct published p = {.stage = im->desc.digest.str,
			      .scheme = cairn_tag_scheme_name(t->scheme),
			      .oci = o->oci};
	struct cairn_transfer_stats ts = {0};
	struct cairn_image_opts push = *io;
	struct cairn_descriptor final, there = {0};
	bool absent = false;
	int ret;

	p.ref = cairn_ref_format(dest);
	if (o->record_dir) {
		char h[CAIRN_SIGNATURE_HEX];
		const char *args[] = {p.ref};

		cairn_signature_hash(h, args, 1);
		p.record = xasprintf("%s/%.32s.json", o->record_dir, h);
	}
	if (recorded(&p)) {
		struct cairn_image_opts check = *io;

		check.only_if_there = 1;
		ret = final_image(&final, st, built, im, t, dest->tag, p.created, o->oci, err);
		if (ret == 0 && cairn_digest_equal(&final.digest, &p.final))
			ret = cairn_image_push_descriptor(st, &final, dest, &check, &ts, err);
		else if (ret == 0)
			ret = CAIRN_ENOTFOUND;
		if (ret == 0)
			tell(o, built, im, t, dest, p.ref, &final.digest, 1);
		if (ret != CAIRN_ENOTFOUND) {
			published_release(&p);
			return ret;
		}
		/* deleted, or another host published the tag since: published now */
		cairn_error_clear(err);
		free(TAKE_PTR(p.created));
	}
	absent = tag_index_absent(tags, dest);
	ret = absent ? 0 : registry_time(&p.created, &absent, &there, &p, dest, io, err);
	if (ret == 0 && absent)
		tag_index_learn(tags, dest, io); /* the other tags of the repository, at once */
	if (ret == 0 && !p.created)
		p.created = now_rfc3339();
	if (ret == 0)
		ret = final_image(&final, st, built, im, t, dest->tag, p.created, o->oci, err);
	push.tag_absent = absent; /* no second look at the tag */
	push.repo_new = tag_index_repo_new(tags, dest);
	if (ret == 0 && !absent && cairn_digest_equal(&final.digest, &there.digest)) {
		/* the tag holds this very image (another host published it): nothing to send */
		ts.manifest_existed = 1;
		told_there(io, dest, &final);
	} else if (ret == 0) {
		ret = cairn_image_push_descriptor(st, &final, dest, &push, &ts, err);
	}
	if (ret == 0 && !ts.manifest_existed && o->written)
		o->written[im - built->images] = true;
	if (ret == 0)
		tag_index_put(tags, dest);
	if (ret == 0)
		remember(&p, o, &final.digest);
	if (ret == 0)
		tell(o, built, im, t, dest, p.ref, &final.digest, ts.manifest_existed);
	published_release(&p);
	return ret;
}

/* ---- images side by side ---- */

#define CAIRN_PUBLISH_DEFAULT_JOBS 4 /* as cairn_image_opts.jobs */
#define CAIRN_PUBLISH_MAX_JOBS 64

struct publish_run;

/* The progress callback's data for one image. */
struct image_ud {
	struct publish_run *run;
	size_t image;
};

/*
 * One publish of several images: up to --jobs images go at once (their blobs share --jobs
 * slots), each image's tags and then its stages in order. The caller hears of each image in
 * image order, one block each (util/ordered.h).
 */
struct publish_run {
	struct cairn_store *st;
	const struct cairn_build_result *built;
	const struct cairn_publish_opts *user; /* the caller's options and callbacks */
	struct cairn_publish_opts o;	       /* with the callbacks below */
	const struct cairn_ref *repo;
	struct image_ud *ud; /* per image */
	struct cairn_ordered *told;
	struct tag_index *tags; /* of the repositories written to */
	pthread_mutex_t lock;	/* all below */
	size_t next;		/* the next image to take */
	bool failed;
	size_t err_image; /* the first image (in order) that failed */
	struct cairn_error *err;
};

static void run_progress(const struct cairn_progress *ev, void *ud)
{
	struct image_ud *iu = ud;

	cairn_ordered_say(iu->run->told, iu->image, &cairn_progress_told,
			  (void *)&iu->run->user->image, ev);
}

/* A published reference kept for later. */
struct published_copy {
	struct cairn_published_ref r;
	char *tag, *scheme, *ref;
};

static void *published_copy(const void *msg)
{
	const struct cairn_published_ref *r = msg;
	struct published_copy *c = xcalloc(1, sizeof(*c));

	c->r = *r;
	c->tag = r->tag ? xstrdup(r->tag) : NULL;
	c->scheme = r->scheme ? xstrdup(r->scheme) : NULL;
	c->ref = r->ref ? xstrdup(r->ref) : NULL;
	c->r.tag = c->tag;
	c->r.scheme = c->scheme;
	c->r.ref = c->ref;
	return c;
}

static void published_drop(void *copy)
{
	struct published_copy *c = copy;

	free(c->tag);
	free(c->scheme);
	free(c->ref);
	free(c);
}

static void published_tell(const void *msg, void *ud)
{
	const struct publish_run *run = ud;

	run->user->published(msg, run->user->published_ud);
}

static const struct cairn_ordered_kind published_kind = {published_tell, published_copy,
							 published_drop};

static void run_published(const struct cairn_published_ref *r, void *ud)
{
	struct publish_run *run = ud;

	cairn_ordered_say(run->told, r->image, &published_kind, run, r);
}

static int publish_image(struct publish_run *run, size_t i, struct cairn_error **err)
{
	const struct cairn_publish_opts *o = &run->o;
	const struct cairn_build_image *im = &run->built->images[i];
	CLEANUP(cairn_ref_release) struct cairn_ref dest_repo = CAIRN_REF_INIT;
	struct cairn_image_opts image = o->image;
	int ret;

	if (image.progress)
		image.progress_ud = &run->ud[i];
	if (im->artifact || (o->dry_run && (!im->signature[0] || im->incomplete)))
		return 0;
	ret = image_repo(&dest_repo, run->repo, im, o, err);
	if (ret < 0)
		return ret;
	/*
	 * Each tag has a manifest of its own (its tag in the labels), so that cleanup can delete
	 * one tag without another; the layers go up once per image.
	 */
	for (size_t t = 0; t < o->n_tags; t++) {
		CLEANUP(cairn_ref_release) struct cairn_ref dest = CAIRN_REF_INIT;
		struct cairn_image_opts io = image;

		ret = image_tag(&dest, &dest_repo, im, &o->tags[t], o, err);
		if (ret < 0)
			return cairn_error_wrap(err, "publish image '%s'",
						im->name ? im->name : "~");
		io.layers_known = t > 0;
		if (o->dry_run) {
			cleanup_free char *ref = cairn_ref_format(&dest);
			struct cairn_digest none = {0};

			tell(o, run->built, im, &o->tags[t], &dest, ref, &none, 0);
			continue;
		}
		ret = publish_tag(run->st, run->built, im, &o->tags[t], &dest, o, &io, run->tags,
				  err);
		if (ret < 0)
			return ret;
	}
	if (o->with_stages)
		return push_stages(run->st, run->built, im, run->repo, o, &image, run->tags,
				   tag_index_repo_new(run->tags, &dest_repo), err);
	return 0;
}

static void *publish_worker(void *arg)
{
	struct publish_run *run = arg;

	for (;;) {
		struct cairn_error *e = NULL;
		size_t i;
		int ret;

		pthread_mutex_lock(&run->lock);
		i = run->failed ? run->built->n_images : run->next++;
		pthread_mutex_unlock(&run->lock);
		if (i >= run->built->n_images)
			return NULL;
		ret = publish_image(run, i, &e);
		if (ret == 0) {
			cairn_ordered_done(run->told, i);
			continue;
		}
		pthread_mutex_lock(&run->lock);
		run->failed = true;
		if (!run->err || i < run->err_image) {
			cairn_error_free(run->err);
			run->err = e;
			run->err_image = i;
		} else {
			cairn_error_free(e);
		}
		pthread_mutex_unlock(&run->lock);
	}
}

DEFINE_FREEP(struct cairn_registry_pool, cairn_registry_pool_free)

int cairn_publish(struct cairn_store *st, const struct cairn_build_result *built,
		  const struct cairn_publish_opts *o, struct cairn_error **err)
{
	CLEANUP(cairn_ref_release) struct cairn_ref repo = CAIRN_REF_INIT;
	CLEANUP(cairn_registry_pool_freep) struct cairn_registry_pool *own = NULL;
	struct publish_run run = {.st = st, .built = built, .user = o, .o = *o, .repo = &repo};
	struct cairn_job_slots slots;
	pthread_t threads[CAIRN_PUBLISH_MAX_JOBS];
	const int slots_n = o->image.jobs > 0 ? o->image.jobs : CAIRN_PUBLISH_DEFAULT_JOBS;
	int jobs = slots_n; /* images at once: no more than there are */
	int started = 0;
	int ret;

	ret = cairn_repo_parse(&repo, o->repo, err);
	if (ret < 0)
		return ret;
	/* one client per registry host for the whole publish */
	if (!run.o.image.registries) {
		ret = cairn_registry_pool_new(&own, &run.o.image.registry, err);
		if (ret < 0)
			return ret;
		run.o.image.registries = own;
	}
	if (jobs > CAIRN_PUBLISH_MAX_JOBS)
		jobs = CAIRN_PUBLISH_MAX_JOBS;
	if ((size_t)jobs > built->n_images)
		jobs = (int)built->n_images;
	cairn_job_slots_init(&slots, slots_n);
	if (!run.o.image.slots)
		run.o.image.slots = &slots;
	run.ud = xcalloc(built->n_images + 1, sizeof(*run.ud));
	for (size_t i = 0; i < built->n_images; i++)
		run.ud[i] = (struct image_ud){&run, i};
	if (o->image.progress)
		run.o.image.progress = run_progress;
	if (o->published) {
		run.o.published = run_published;
		run.o.published_ud = &run;
	}
	pthread_mutex_init(&run.lock, NULL);
	run.told = cairn_ordered_new(built->n_images);
	run.tags = tag_index_new();
	for (int i = 1; i < jobs; i++) {
		if (pthread_create(&threads[started], NULL, publish_worker, &run) != 0)
			break;
		started++;
	}
	publish_worker(&run);
	for (int i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	/* after a failure: what was published is still told (a report lists it) */
	cairn_ordered_free(run.told);
	tag_index_free(run.tags);
	free(run.ud);
	pthread_mutex_destroy(&run.lock);
	cairn_job_slots_release(&slots);
	if (run.err) {
		*err = run.err;
		return run.err->code;
	}
	return 0;
}
