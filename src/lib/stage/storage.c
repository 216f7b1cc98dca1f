/* SPDX-License-Identifier: MIT */
/*
 * Where stages are kept and how they are named: the local store, and the distributed stages
 * storage (stages looked up, pushed, adopted and confirmed in a registry), behind one interface.
 */
#include "common.h"
#include "stage/stage_internal.h"

#include <time.h>

/*
 * Shared stages storage: how long after a stage tag was stored or read a host trusts that every
 * PUT racing with it has landed (see stage_confirm()); the slowest check-and-PUT seen is added
 * twice.
 */
#define SETTLE_MS 500

/* adoptions of stages another host stored differently, per image, before cairn gives up */
#define MAX_ADOPTIONS 16

char *cairn_stage_tag(const char *prefix, const char *signature)
{
	return xasprintf("%s%s", prefix, signature);
}

void cairn_stage_ref(struct cairn_ref *out, const struct cairn_ref *repo, const char *prefix,
		     const char *signature)
{
	cleanup_free char *tag = cairn_stage_tag(prefix, signature);

	cairn_ref_with(out, repo, tag, NULL);
}

/* A stage's name in the local store. */
char *stage_name_ref(struct builder *b, const char *sig)
{
	return xasprintf("%s:%s", b->config->project.s, sig);
}

/* The local store; after a stage was adopted, the stages above it named here are stale. */
static int local_get(struct cairn_descriptor *d, char **tag, struct image_state *s, const char *sig,
		     struct cairn_error **err)
{
	cleanup_free char *name = NULL;
	int ret;

	*tag = NULL;
	if (s->redo)
		return CAIRN_ENOTFOUND;
	name = stage_name_ref(s->b, sig);
	ret = cairn_store_ref_get(s->b->st, name, d, err);
	/*
	 * With a stages storage, a stage under this name may stand on one that was adopted from
	 * the storage since (a stage under it stored differently by another host): not this one.
	 */
	if (ret == 0 && s->b->o->stages_storage && !stage_stands_on_prev(s, d))
		return cairn_error_set(err, CAIRN_ENOTFOUND,
				       "stage '%s' stands on another image than the stage below",
				       sig);
	if (ret == 0)
		cairn_store_touch(s->b->st, &d->digest); /* host cleanup drops the unused first */
	return ret;
}

static int local_put(struct cairn_descriptor *d, char **tag, struct image_state *s,
		     const char *stage, const char *sig, int *redo, struct cairn_error **err)
{
	cleanup_free char *name = stage_name_ref(s->b, sig);

	(void)stage;
	*tag = NULL;
	*redo = -1;
	return cairn_store_ref_set(s->b->st, name, d, err);
}

const struct stage_cache stage_cache_local = {"local store", local_get, local_put};

/* The stage tag prefixes a stage is looked up (and seen) under, `werf publish`'s first. */
static const char *const stage_prefixes[] = {CAIRN_STAGE_PREFIX_PUBLISH, CAIRN_STAGE_PREFIX_DIMG};

static const char *storage_prefix(const struct builder *b)
{
	return b->o->stages_prefix ? b->o->stages_prefix : CAIRN_STAGE_PREFIX_PUBLISH;
}

/*
 * What this home has seen the stages storage hold, as the store's blob sources keep it: the
 * record of a stage tag is under a digest of the tag and the stage's manifest digest (a
 * fromImage's `from` stage is the same image as its base's last stage, under another tag).
 */
static void seen_key(struct cairn_digest *key, const char *tag, const struct cairn_digest *dg)
{
	cleanup_free char *text = xasprintf("cairn stage tag\n%s\n%s\n", tag, dg->str);

	cairn_digest_of(key, text, strlen(text));
}

/* The stages storage holds stage `d` under `tag` (found, pushed or adopted): noted. */
static void note_stored(struct builder *b, const char *tag, const struct cairn_descriptor *d)
{
	struct cairn_digest key;

	seen_key(&key, tag, &d->digest);
	cairn_store_source_add(b->st, &key, b->storage.domain, b->storage.path);
}

struct seen_walk {
	const char *path;
	bool seen;
};

static int is_storage_repo(const char *repo, void *ud)
{
	struct seen_walk *w = ud;

	w->seen = strcmp(repo, w->path) == 0;
	return w->seen;
}

/* Whether this home saw the stages storage hold `d` under the tag of `sig` (either prefix). */
static bool seen_stored(struct builder *b, const char *sig, const struct cairn_descriptor *d)
{
	struct seen_walk w = {b->storage.path, false};

	for (size_t i = 0; i < ARRAY_SIZE(stage_prefixes) && !w.seen; i++) {
		cleanup_free char *tag = cairn_stage_tag(stage_prefixes[i], sig);
		struct cairn_digest key;

		seen_key(&key, tag, &d->digest);
		cairn_store_source_each(b->st, &key, b->storage.domain, is_storage_repo, &w);
	}
	return w.seen;
}

DEFINE_FREEP(struct cairn_manifest, cairn_manifest_free)

/* The image manifest `dg` of the local store, parsed (NULL when it cannot be read). */
static struct cairn_manifest *local_manifest(struct builder *b, const struct cairn_digest *dg)
{
	cleanup_free char *raw = NULL;
	struct cairn_manifest *m = NULL;
	size_t len = 0;

	if (cairn_store_read_doc(&raw, &len, b->st, dg, NULL) < 0 ||
	    cairn_manifest_parse(&m, NULL, raw, len, NULL) < 0 || m->kind != CAIRN_MANIFEST_IMAGE) {
		cairn_manifest_free(m);
		return NULL;
	}
	return m;
}

/* Whether every blob of the image manifest `d` is in the local store. */
static bool whole_here(struct builder *b, const struct cairn_descriptor *d)
{
	CLEANUP(cairn_manifest_freep) struct cairn_manifest *m = local_manifest(b, &d->digest);

	if (!m || !cairn_store_has_blob(b->st, &m->config.digest))
		return false;
	for (size_t i = 0; i < m->n_layers; i++)
		if (!cairn_store_has_blob(b->st, &m->layers[i].digest))
			return false;
	return true;
}

bool stage_unseeded(struct image_state *s, const char *sig, const struct cairn_descriptor *d)
{
	struct builder *b = s->b;

	if (!b->o->stages_storage || b->o->no_build || seen_stored(b, sig, d))
		return false;
	if (!whole_here(b, d)) {
		/* taken from another stages storage, its layers never came: left as it is */
		cairn_log(CAIRN_LOG_DEBUG,
			  "image '%s': stage '%s' is not all here: not stored in '%s'", s->name,
			  sig, b->o->stages_storage);
		return false;
	}
	return true;
}

bool stage_stands_on_prev(struct image_state *s, const struct cairn_descriptor *d)
{
	CLEANUP(cairn_manifest_freep) struct cairn_manifest *mine = NULL;
	CLEANUP(cairn_manifest_freep) struct cairn_manifest *below = NULL;

	if (!s->prev.digest.str[0])
		return true;
	mine = local_manifest(s->b, &d->digest);
	below = local_manifest(s->b, &s->prev.digest);
	if (!mine || !below || mine->n_layers < below->n_layers)
		return false;
	for (size_t i = 0; i < below->n_layers; i++)
		if (!cairn_digest_equal(&mine->layers[i].digest, &below->layers[i].digest))
			return false;
	return true;
}

/*
 * A stage missing here from the stages storage (either prefix): 0 and `*tag` (the one found),
 * or CAIRN_ENOTFOUND.
 */
static int registry_get(struct cairn_descriptor *d, char **tag, struct image_state *s,
			const char *sig, struct cairn_error **err)
{
	struct builder *b = s->b;
	cleanup_free char *name = stage_name_ref(b, sig);
	int ret = CAIRN_ENOTFOUND;

	stage_unlock(b); /* a registry's round trips: other images go on */
	for (size_t i = 0; i < ARRAY_SIZE(stage_prefixes) && ret == CAIRN_ENOTFOUND; i++) {
		CLEANUP(cairn_ref_release) struct cairn_ref src = CAIRN_REF_INIT;

		cairn_stage_ref(&src, &b->storage, stage_prefixes[i], sig);
		cairn_error_clear(err);
		ret = cairn_image_pull_meta(d, b->st, &src, name, &b->pull, err);
		if (ret == 0)
			*tag = cairn_stage_tag(stage_prefixes[i], sig);
	}
	stage_lock(b);
	if (ret == CAIRN_ENOTFOUND) {
		/* another image may have built it while this one asked the registry */
		cairn_error_clear(err);
		ret = local_get(d, tag, s, sig, err);
	} else if (ret == 0) {
		note_stored(b, *tag, d);
	}
	return ret;
}

/*
 * Every stage built goes to the stages storage (as `dest`) at once, unless the tag holds a
 * stage already: `*stored` is what the tag holds in the end.
 */
static int to_storage(struct cairn_descriptor *stored, struct image_state *s,
		      const struct cairn_descriptor *d, const struct cairn_ref *dest,
		      struct cairn_error **err)
{
	struct builder *b = s->b;
	struct cairn_transfer_stats stats = {0};
	int ret;

	stage_unlock(b); /* the upload: other images go on */
	ret = cairn_image_push_stage(stored, b->st, d, dest, &s->pull, &stats, err);
	stage_lock(b);
	if (ret == 0 && !stats.manifest_existed)
		cairn_log(CAIRN_LOG_DEBUG, "stages storage: '%s' checked and stored in %.3f s",
			  dest->tag, stats.manifest_seconds);
	if (stats.manifest_seconds > b->put_seconds)
		b->put_seconds = stats.manifest_seconds;
	return ret;
}

void stage_remember(struct image_state *s, int id, const char *name, const char *sig, char *tag,
		    const struct cairn_descriptor *d)
{
	struct stored_stage *u;

	s->unconfirmed =
		xreallocarray(s->unconfirmed, s->n_unconfirmed + 1, sizeof(*s->unconfirmed));
	u = &s->unconfirmed[s->n_unconfirmed++];
	u->id = id;
	u->name = xstrdup(name);
	memcpy(u->sig, sig, CAIRN_SIGNATURE_HEX);
	u->tag = tag;
	u->d = *d;
	u->at = stage_now_secs();
	u->result = s->out->n_stages - 1;
	u->git_archived = s->git_archived;
}

void stage_forget(struct image_state *s)
{
	for (size_t i = 0; i < s->n_unconfirmed; i++) {
		free(s->unconfirmed[i].tag);
		free(s->unconfirmed[i].name);
	}
	free(s->unconfirmed);
	s->unconfirmed = NULL;
	s->n_unconfirmed = 0;
}

/*
 * Take the stage the stages storage holds as `stored` in place of `*d` (`name`: its local ref);
 * `how` another host stored it, for the log.
 */
static int adopt(struct cairn_descriptor *d, struct image_state *s, const char *stage,
		 const char *name, const struct cairn_digest *stored, const char *how,
		 struct cairn_error **err)
{
	struct builder *b = s->b;
	CLEANUP(cairn_ref_release) struct cairn_ref src = CAIRN_REF_INIT;

	cairn_ref_with(&src, &b->storage, NULL, stored->str);
	cairn_log(CAIRN_LOG_INFO,
		  "image '%s': stage '%s': another host stored it %s '%s': "
		  "discarding '%s'",
		  s->name, stage, how, stored->str, d->digest.str);
	return cairn_image_pull_meta(d, b->st, &src, name, &b->pull, err);
}

static void sleep_until(double t)
{
	double left = t - stage_now_secs();
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
	ret = adopt(&d, s, u->name, name, stored, "last, as", err);
	if (ret < 0)
		return ret;
	note_stored(s->b, u->tag, &d);
	while (o->n_stages > u->result + 1)
		free(o->stages[--o->n_stages].name);
	o->stages[u->result].desc = d;
	memcpy(s->prev_sig, u->sig, CAIRN_SIGNATURE_HEX);
	s->prev = d;
	s->git_archived = u->git_archived;
	s->redo = 1;
	stage_drop_prev(s);
	return 0;
}

/*
 * What the stages storage holds now under the tags of `v` (an empty digest: gone), read once
 * every PUT racing with them must have landed. *out is a new array the caller frees. With
 * `let_go` (`v` is one image's), other images go on meanwhile.
 */
static int read_again(struct cairn_descriptor **out, struct builder *b,
		      const struct stored_stage *v, size_t n, bool let_go, struct cairn_error **err)
{
	cleanup_free const char **tags = xcalloc(n, sizeof(*tags));
	double last = 0, until;
	int ret;

	*out = xcalloc(n, sizeof(**out));
	for (size_t i = 0; i < n; i++) {
		tags[i] = v[i].tag;
		if (v[i].at > last)
			last = v[i].at;
	}
	until = last + SETTLE_MS / 1000.0 + 2 * b->put_seconds;
	if (let_go)
		stage_unlock(b);
	sleep_until(until);
	ret = cairn_image_remote_digests(*out, &b->storage, tags, n, &b->pull, err);
	if (let_go)
		stage_lock(b);
	return ret;
}

/*
 * Two hosts that check a stage tag at the same moment both push it, and the tag keeps the last
 * PUT; a host may also read a tag just before a racing PUT lands. So the stages this image took
 * from the stages storage or stored there are read again once every such PUT must have landed,
 * before a stage above them is stored and before the image is done. A stage whose tag holds
 * another image now is adopted, and every stage above it is looked up (or built) again on top
 * of it: `*redo` is the stage to go on from, or -1.
 */
int stage_confirm(struct image_state *s, int *redo, struct cairn_error **err)
{
	struct builder *b = s->b;
	cleanup_free struct cairn_descriptor *now = NULL;
	int ret;

	*redo = -1;
	if (s->n_unconfirmed == 0)
		return 0;
	ret = read_again(&now, b, s->unconfirmed, s->n_unconfirmed, true, err);
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
	stage_forget(s);
	return ret;
}

/*
 * Store a stage just built, once the stages under it are confirmed (else `*redo` is set, and
 * the build is discarded): pushed, unless another host stored the stage meanwhile; then that
 * one is adopted.
 */
static int registry_put(struct cairn_descriptor *d, char **tag, struct image_state *s,
			const char *stage, const char *sig, int *redo, struct cairn_error **err)
{
	struct builder *b = s->b;
	CLEANUP(cairn_ref_release) struct cairn_ref dest = CAIRN_REF_INIT;
	cleanup_free char *name = stage_name_ref(b, sig);
	struct cairn_descriptor stored;
	int ret = stage_confirm(s, redo, err);

	if (ret < 0 || *redo >= 0)
		return ret;
	*tag = cairn_stage_tag(storage_prefix(b), sig);
	cairn_stage_ref(&dest, &b->storage, storage_prefix(b), sig);
	ret = to_storage(&stored, s, d, &dest, err);
	if (ret == 0 && cairn_digest_equal(&stored.digest, &s->rejected)) {
		/* the stored stage holds a commit the repository lost: this one replaces it */
		ret = cairn_image_push_descriptor(b->st, d, &dest, &s->pull, NULL, err);
	} else if (ret == 0 && !cairn_digest_equal(&stored.digest, &d->digest)) {
		ret = adopt(d, s, stage, name, &stored.digest, "first, as", err);
	}
	if (ret == 0)
		note_stored(b, *tag, d);
	return ret;
}

int stage_seed(struct cairn_descriptor *d, char **tag, struct image_state *s, const char *stage,
	       const char *sig, int *redo, struct cairn_error **err)
{
	struct cairn_digest had = d->digest;
	int ret;

	cairn_log(CAIRN_LOG_DEBUG, "image '%s': stage '%s': into the stages storage", s->name,
		  stage);
	ret = registry_put(d, tag, s, stage, sig, redo, err);
	if (ret < 0)
		return cairn_error_wrap(err, "image '%s': stage '%s': store it in '%s'", s->name,
					stage, s->b->o->stages_storage);
	/* another host's is stored: local stages above this one stand on the discarded one */
	if (*redo < 0 && !cairn_digest_equal(&had, &d->digest))
		s->redo = 1;
	return 0;
}

const struct stage_cache stage_cache_registry = {"stages storage", registry_get, registry_put};

void stage_defer(struct builder *b, struct image_state *s)
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

void stage_forget_deferred(struct builder *b)
{
	for (size_t i = 0; i < b->n_deferred; i++) {
		free(b->deferred[i].tag);
		free(b->deferred[i].name);
	}
	free(b->deferred);
	b->deferred = NULL;
	b->n_deferred = 0;
}

/*
 * The deferred stages, read again once every racing PUT must have landed (as stage_confirm() does).
 * A tag that holds another image now is adopted into the store; *changed then asks for the
 * build to run again, each image confirming its own stages.
 */
int stage_confirm_deferred(struct builder *b, bool *changed, struct cairn_error **err)
{
	cleanup_free struct cairn_descriptor *now = NULL;
	int ret;

	*changed = false;
	if (b->n_deferred == 0)
		return 0;
	ret = read_again(&now, b, b->deferred, b->n_deferred, false, err);
	if (ret < 0)
		return cairn_error_wrap(err, "stages storage '%s'", b->o->stages_storage);
	for (size_t i = 0; ret == 0 && i < b->n_deferred; i++) {
		const struct stored_stage *u = &b->deferred[i];
		CLEANUP(cairn_ref_release) struct cairn_ref src = CAIRN_REF_INIT;
		cleanup_free char *name = NULL;
		struct cairn_descriptor d;

		if (!now[i].digest.str[0] || cairn_digest_equal(&now[i].digest, &u->d.digest))
			continue;
		name = stage_name_ref(b, u->sig);
		cairn_ref_with(&src, &b->storage, NULL, now[i].digest.str);
		cairn_log(CAIRN_LOG_INFO,
			  "stage '%s': another host stored it last, as '%s': discarding '%s'",
			  u->name, now[i].digest.str, u->d.digest.str);
		ret = cairn_image_pull_meta(&d, b->st, &src, name, &b->pull, err);
		*changed = true;
	}
	return ret;
}
