/* SPDX-License-Identifier: MIT */
/* The tags of a publish's destination repositories, listed once a tag was found missing. */
#include "common.h"
#include "publish/publish_internal.h"
#include "util/strset.h"

#include <pthread.h>

struct listed_repo {
	char *name; /* domain/path */
	struct cairn_strset tags;
	bool listing; /* asked for (by one thread) */
	bool listed;  /* `tags` is the repository's, as it was then */
	bool no_repo; /* the registry had no such repository then */
};

struct tag_index {
	pthread_mutex_t lock; /* all below */
	struct listed_repo *v;
	size_t n;
	pthread_cond_t settled; /* a claim ended */
	char **busy;		/* "domain/path:tag" claimed and being pushed */
	size_t n_busy;
	struct cairn_strset done; /* claimed and pushed */
};

struct tag_index *tag_index_new(void)
{
	struct tag_index *x = xcalloc(1, sizeof(*x));

	pthread_mutex_init(&x->lock, NULL);
	pthread_cond_init(&x->settled, NULL);
	return x;
}

void tag_index_free(struct tag_index *x)
{
	if (!x)
		return;
	for (size_t i = 0; i < x->n; i++) {
		free(x->v[i].name);
		cairn_strset_release(&x->v[i].tags);
	}
	free(x->v);
	for (size_t i = 0; i < x->n_busy; i++)
		free(x->busy[i]);
	free(x->busy);
	cairn_strset_release(&x->done);
	pthread_cond_destroy(&x->settled);
	pthread_mutex_destroy(&x->lock);
	free(x);
}

static size_t busy_find(const struct tag_index *x, const char *key)
{
	size_t i = 0;

	while (i < x->n_busy && strcmp(x->busy[i], key) != 0)
		i++;
	return i;
}

enum tag_claim tag_index_claim(struct tag_index *x, const struct cairn_ref *dest)
{
	cleanup_free char *key = NULL;
	enum tag_claim c;

	if (!x || !dest->tag)
		return TAG_CLAIM_MINE;
	key = xasprintf("%s/%s:%s", dest->domain, dest->path, dest->tag);
	pthread_mutex_lock(&x->lock);
	while (busy_find(x, key) < x->n_busy)
		pthread_cond_wait(&x->settled, &x->lock);
	c = cairn_strset_has(&x->done, key, strlen(key)) ? TAG_CLAIM_DONE : TAG_CLAIM_MINE;
	if (c == TAG_CLAIM_MINE) {
		x->busy = xreallocarray(x->busy, x->n_busy + 1, sizeof(*x->busy));
		x->busy[x->n_busy++] = TAKE_PTR(key);
	}
	pthread_mutex_unlock(&x->lock);
	return c;
}

void tag_index_unclaim(struct tag_index *x, const struct cairn_ref *dest, bool pushed)
{
	cleanup_free char *key = NULL;
	size_t i;

	if (!x || !dest->tag)
		return;
	key = xasprintf("%s/%s:%s", dest->domain, dest->path, dest->tag);
	pthread_mutex_lock(&x->lock);
	i = busy_find(x, key);
	if (i < x->n_busy) {
		free(x->busy[i]);
		x->busy[i] = x->busy[--x->n_busy];
	}
	if (pushed)
		cairn_strset_add(&x->done, key, strlen(key));
	pthread_cond_broadcast(&x->settled);
	pthread_mutex_unlock(&x->lock);
}

/* The entry of `dest`'s repository, made when `make` (under the lock); NULL when none. */
static struct listed_repo *find(struct tag_index *x, const struct cairn_ref *dest, bool make)
{
	cleanup_free char *name = xasprintf("%s/%s", dest->domain, dest->path);

	for (size_t i = 0; i < x->n; i++)
		if (strcmp(x->v[i].name, name) == 0)
			return &x->v[i];
	if (!make)
		return NULL;
	x->v = xreallocarray(x->v, x->n + 1, sizeof(*x->v));
	x->v[x->n] = (struct listed_repo){.name = TAKE_PTR(name)};
	return &x->v[x->n++];
}

bool tag_index_absent(struct tag_index *x, const struct cairn_ref *dest)
{
	struct listed_repo *r;
	bool absent;

	if (!x || !dest->tag)
		return false;
	pthread_mutex_lock(&x->lock);
	r = find(x, dest, false);
	absent = r && r->listed && !cairn_strset_has(&r->tags, dest->tag, strlen(dest->tag));
	pthread_mutex_unlock(&x->lock);
	return absent;
}

bool tag_index_repo_new(struct tag_index *x, const struct cairn_ref *dest)
{
	struct listed_repo *r;
	bool new_repo;

	if (!x)
		return false;
	pthread_mutex_lock(&x->lock);
	r = find(x, dest, false);
	new_repo = r && r->listed && r->no_repo;
	pthread_mutex_unlock(&x->lock);
	return new_repo;
}

void tag_index_put(struct tag_index *x, const struct cairn_ref *dest)
{
	struct listed_repo *r;

	if (!x || !dest->tag)
		return;
	pthread_mutex_lock(&x->lock);
	r = find(x, dest, false);
	if (r && r->listed)
		cairn_strset_add(&r->tags, dest->tag, strlen(dest->tag));
	pthread_mutex_unlock(&x->lock);
}

static int add_tag(const char *tag, void *ud)
{
	cairn_strset_add(ud, tag, strlen(tag));
	return 0;
}

void tag_index_learn(struct tag_index *x, const struct cairn_ref *dest,
		     const struct cairn_image_opts *io)
{
	struct cairn_strset tags = {0};
	struct cairn_error *err = NULL;
	struct listed_repo *r;
	bool no_repo = false;
	int ret;

	if (!x)
		return;
	pthread_mutex_lock(&x->lock);
	r = find(x, dest, true);
	if (r->listing) {
		pthread_mutex_unlock(&x->lock);
		return;
	}
	r->listing = true;
	pthread_mutex_unlock(&x->lock);
	/* listed without the lock: other images go on meanwhile */
	ret = cairn_image_remote_tags(dest, io, add_tag, &tags, &no_repo, &err);
	if (ret < 0)
		cairn_log(CAIRN_LOG_DEBUG, "list the tags of '%s/%s': %s", dest->domain, dest->path,
			  err->msg);
	cairn_error_free(err);
	pthread_mutex_lock(&x->lock);
	r = find(x, dest, false); /* `v` may have moved */
	if (ret == 0) {
		r->tags = tags;
		r->listed = true;
		r->no_repo = no_repo;
	} else {
		cairn_strset_release(&tags);
	}
	pthread_mutex_unlock(&x->lock);
}
