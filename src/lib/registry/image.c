/* SPDX-License-Identifier: MIT */
/* Push and pull whole images between the store and a registry, blobs moved by a worker pool. */
#include "common.h"
#include "cairn/image.h"
#include "cairn/oci.h"
#include "registry/progress.h"
#include "registry/registry_internal.h"
#include "util/slots.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/utsname.h>
#include <time.h>

#define DEFAULT_JOBS 4
#define MAX_JOBS 64
/* A manifest PUT refused for a blob the registry does not know: tries, first backoff. */
#define PUT_ATTEMPTS 5
#define PUT_RETRY_MS 100
/* Progress for a blob is reported every this many bytes, or this often when slower. */
#define PROGRESS_STEP (4u * 1024 * 1024)
#define PROGRESS_SECS 0.5

struct pool {
	struct cairn_registry *reg;
	struct cairn_store *st;
	const char *repo;
	const char *ref; /* for progress */
	const struct cairn_image_opts *o;
	int push;
	int fresh;    /* push: check every blob, whatever this run saw of the repository */
	int repo_new; /* push: the repository was not there (cairn_image_opts.repo_new) */
	const struct cairn_descriptor *blobs;
	size_t n_blobs;
	atomic_size_t next;
	atomic_int failed;
	pthread_mutex_t lock; /* progress calls, err, stats */
	struct cairn_error *err;
	struct cairn_transfer_stats *stats;
};

static void report(struct pool *p, enum cairn_progress_kind kind, const struct cairn_digest *dg,
		   uint64_t done, uint64_t total)
{
	struct cairn_progress ev = {.kind = kind,
				    .ref = p->ref,
				    .digest = dg,
				    .done = done,
				    .total = total,
				    .push = p->push};

	pthread_mutex_lock(&p->lock);
	switch (kind) {
	case CAIRN_PROGRESS_BLOB_EXISTS:
		p->stats->blobs_existing++;
		break;
	case CAIRN_PROGRESS_BLOB_MOUNTED:
		p->stats->blobs_mounted++;
		break;
	case CAIRN_PROGRESS_BLOB_DONE:
		p->stats->blobs_moved++;
		p->stats->bytes_moved += total;
		break;
	default:
		break;
	}
	if (p->o->progress)
		p->o->progress(&ev, p->o->progress_ud);
	pthread_mutex_unlock(&p->lock);
}

/* A progress event kept for later: the event, pointing into the copy. */
struct progress_copy {
	struct cairn_progress p;
	struct cairn_digest dg;
	char *ref;
};

static void *progress_copy(const void *msg)
{
	const struct cairn_progress *ev = msg;
	struct progress_copy *c;

	if (ev->kind == CAIRN_PROGRESS_BLOB_BYTES)
		return NULL; /* bytes moving: live only */
	c = xcalloc(1, sizeof(*c));
	c->p = *ev;
	c->ref = ev->ref ? xstrdup(ev->ref) : NULL;
	c->p.ref = c->ref;
	if (ev->digest) {
		c->dg = *ev->digest;
		c->p.digest = &c->dg;
	}
	return c;
}

static void progress_drop(void *copy)
{
	struct progress_copy *c = copy;

	free(c->ref);
	free(c);
}

static void progress_tell(const void *msg, void *ud)
{
	const struct cairn_image_opts *o = ud;

	o->progress(msg, o->progress_ud);
}

const struct cairn_ordered_kind cairn_progress_told = {progress_tell, progress_copy, progress_drop};

static double now_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Whether `now_bytes` is worth a progress report since `*reported` (at `*at`): then noted. */
static bool progress_due(uint64_t *reported, double *at, uint64_t now_bytes)
{
	double now = now_secs();

	if (now_bytes <= *reported ||
	    (now_bytes < *reported + PROGRESS_STEP && now - *at < PROGRESS_SECS))
		return false;
	*reported = now_bytes;
	*at = now;
	return true;
}

/* Blob `dg` is in the repository of `p` now: for mounts to come, and no HEAD for it again. */
static void seen_there(struct pool *p, const struct cairn_digest *dg)
{
	cairn_store_source_add(p->st, dg, cairn_registry_domain(p->reg), p->repo);
	cairn_registry_blob_note(p->reg, p->repo, dg);
}

/* ---- push side ---- */

struct upload_src {
	struct pool *p;
	const struct cairn_descriptor *d;
	int fd;
	uint64_t reported;
	double reported_at;
};

static ssize_t read_blob_at(char *buf, size_t n, uint64_t offset, void *ud)
{
	struct upload_src *u = ud;
	ssize_t got;

	do {
		got = pread(u->fd, buf, n, (off_t)offset);
	} while (got < 0 && errno == EINTR);
	if (got > 0 && progress_due(&u->reported, &u->reported_at, offset + (uint64_t)got))
		report(u->p, CAIRN_PROGRESS_BLOB_BYTES, &u->d->digest, u->reported, u->d->size);
	return got;
}

struct mount_try {
	struct cairn_registry_conn *c;
	struct pool *p;
	const struct cairn_digest *dg;
	int mounted;
	char *session; /* the upload the first declined mount opened: the upload goes there */
};

static int try_mount(const char *from, void *ud)
{
	struct mount_try *m = ud;
	struct cairn_error *e = NULL;
	char *opened = NULL;
	int ret;

	if (strcmp(from, m->p->repo) == 0)
		return 0;
	ret = m->session
		      ? cairn_registry_blob_mount(m->c, m->p->repo, from, m->dg, &e)
		      : cairn_registry_blob_mount_keep(m->c, m->p->repo, from, m->dg, &opened, &e);
	if (!m->session)
		m->session = opened;
	if (ret == 0) {
		m->mounted = 1;
		cairn_registry_blob_cancel(m->c, m->p->repo, TAKE_PTR(m->session));
		return 1;
	}
	cairn_log(CAIRN_LOG_DEBUG, "%s", e->msg);
	cairn_error_free(e);
	return 0;
}

/*
 * Send blob `d` unless the repository has it (the caller holds the blob's claim), into upload
 * `session` when there is one (taken).
 */
static int send_blob(struct pool *p, struct cairn_registry_conn *c,
		     const struct cairn_descriptor *d, char *session, struct cairn_error **err)
{
	struct upload_src u = {.p = p, .d = d, .fd = -1};
	uint64_t size = 0;
	int ret = p->repo_new && !p->fresh
			  ? CAIRN_ENOTFOUND
			  : cairn_registry_blob_head(c, p->repo, &d->digest, NULL, err);

	if (ret == 0) {
		cairn_registry_blob_cancel(c, p->repo, session);
		seen_there(p, &d->digest);
		report(p, CAIRN_PROGRESS_BLOB_EXISTS, &d->digest, d->size, d->size);
		return 0;
	}
	if (ret == CAIRN_ENOTFOUND) {
		cairn_error_clear(err);
		ret = cairn_store_blob_open(&u.fd, &size, p->st, &d->digest, err);
	}
	if (ret == 0 && size != d->size) {
		close(TAKE_FD(u.fd));
		ret = cairn_error_set(
			err, CAIRN_EDIGEST,
			"blob '%s' in the store has %llu bytes, the manifest says %llu",
			d->digest.str, (unsigned long long)size, (unsigned long long)d->size);
	}
	if (ret < 0) {
		cairn_registry_blob_cancel(c, p->repo, session);
		return ret;
	}
	report(p, CAIRN_PROGRESS_BLOB_START, &d->digest, 0, size);
	ret = cairn_registry_blob_upload_in(c, p->repo, session, &d->digest, size, read_blob_at, &u,
					    err);
	close(u.fd);
	if (ret < 0)
		return ret;
	seen_there(p, &d->digest);
	report(p, CAIRN_PROGRESS_BLOB_DONE, &d->digest, size, size);
	return 0;
}

/*
 * Blob `d` into the repository: nothing when this run saw it there, else mounted from another
 * repository of the registry known to hold it, else HEAD and upload. Pushes of this process
 * that need the same blob take turns (cairn_registry_blob_claim()): the first sends it, the
 * others find it known or mount it.
 */
static int push_blob(struct pool *p, struct cairn_registry_conn *c,
		     const struct cairn_descriptor *d, struct cairn_error **err)
{
	struct mount_try m = {.c = c, .p = p, .dg = &d->digest};
	int ret;

	do {
		/* found, mounted or sent there earlier in this run (a stage below, another tag) */
		if (!p->fresh && cairn_registry_blob_known(p->reg, p->repo, &d->digest)) {
			report(p, CAIRN_PROGRESS_BLOB_EXISTS, &d->digest, d->size, d->size);
			return 0;
		}
	} while (!cairn_registry_blob_claim(p->reg, &d->digest));
	/* one request whether or not the target already has it */
	cairn_store_source_each(p->st, &d->digest, cairn_registry_domain(p->reg), try_mount, &m);
	if (m.mounted) {
		seen_there(p, &d->digest);
		report(p, CAIRN_PROGRESS_BLOB_MOUNTED, &d->digest, d->size, d->size);
		ret = 0;
	} else {
		ret = send_blob(p, c, d, TAKE_PTR(m.session), err);
	}
	cairn_registry_blob_sent(p->reg, &d->digest);
	return ret;
}

/* ---- pull side ---- */

struct download_dst {
	struct pool *p; /* NULL for the stages storage's fetches: no progress */
	struct cairn_store *st;
	const struct cairn_descriptor *d;
	struct cairn_blob_writer *w;
	uint64_t got, reported;
	double reported_at;
	struct cairn_error *err;
};

static int download_sink(const void *buf, size_t n, void *ud)
{
	struct download_dst *dd = ud;

	if (dd->got + n > dd->d->size)
		return cairn_error_set(&dd->err, CAIRN_EDIGEST,
				       "blob '%s': more than the %llu bytes its descriptor says",
				       dd->d->digest.str, (unsigned long long)dd->d->size);
	if (cairn_store_blob_write(dd->w, buf, n, &dd->err) < 0)
		return dd->err->code;
	dd->got += n;
	if (dd->p && progress_due(&dd->reported, &dd->reported_at, dd->got))
		report(dd->p, CAIRN_PROGRESS_BLOB_BYTES, &dd->d->digest, dd->got, dd->d->size);
	return 0;
}

static int download_restart(void *ud)
{
	struct download_dst *dd = ud;

	cairn_store_blob_writer_free(dd->w);
	dd->w = NULL;
	dd->got = 0;
	return cairn_store_blob_writer_new(&dd->w, dd->st, &dd->err);
}

/*
 * Blob dd->d of `repo` into dd->st: no more bytes than its descriptor says (the sink), all of
 * them, and kept only under the digest they hash to.
 */
static int download(struct download_dst *dd, struct cairn_registry_conn *c, const char *repo,
		    struct cairn_error **err)
{
	const struct cairn_descriptor *d = dd->d;
	int ret = cairn_store_blob_writer_new(&dd->w, dd->st, err);

	if (ret < 0)
		return ret;
	ret = cairn_registry_blob_get(c, repo, &d->digest, download_sink, download_restart, dd,
				      err);
	if (ret < 0 && dd->err) {
		/* The sink's own error explains better than "transfer aborted". */
		cairn_error_free(*err);
		*err = TAKE_PTR(dd->err);
	}
	if (ret == 0 && dd->got != d->size)
		ret = cairn_error_set(err, CAIRN_EDIGEST, "blob '%s': got %llu bytes, want %llu",
				      d->digest.str, (unsigned long long)dd->got,
				      (unsigned long long)d->size);
	if (ret == 0)
		ret = cairn_store_blob_commit(dd->w, &d->digest, NULL, NULL, err);
	cairn_store_blob_writer_free(dd->w);
	dd->w = NULL;
	cairn_error_free(TAKE_PTR(dd->err));
	return ret;
}

static int pull_blob(struct pool *p, struct cairn_registry_conn *c,
		     const struct cairn_descriptor *d, struct cairn_error **err)
{
	struct download_dst dd = {.p = p, .st = p->st, .d = d};
	int ret;

	if (cairn_store_has_blob(p->st, &d->digest)) {
		report(p, CAIRN_PROGRESS_BLOB_EXISTS, &d->digest, d->size, d->size);
		return 0;
	}
	report(p, CAIRN_PROGRESS_BLOB_START, &d->digest, 0, d->size);
	ret = download(&dd, c, p->repo, err);
	if (ret < 0)
		return ret;
	seen_there(p, &d->digest);
	report(p, CAIRN_PROGRESS_BLOB_DONE, &d->digest, d->size, d->size);
	return 0;
}

/* ---- the pool ---- */

static void fail(struct pool *p, struct cairn_error *e)
{
	pthread_mutex_lock(&p->lock);
	if (!p->err)
		p->err = e;
	else
		cairn_error_free(e);
	atomic_store(&p->failed, 1);
	pthread_mutex_unlock(&p->lock);
}

/*
 * Each blob takes a slot of the run (when calls share them) and a connection for its time
 * only: pushes side by side keep to --jobs connections between them.
 */
static void *worker(void *arg)
{
	struct pool *p = arg;
	struct cairn_error *e = NULL;

	while (!atomic_load(&p->failed)) {
		size_t i = atomic_fetch_add(&p->next, 1);
		struct cairn_registry_conn *c = NULL;
		int ret;

		if (i >= p->n_blobs)
			break;
		cairn_job_slot_take(p->o->slots);
		ret = cairn_registry_conn_get(&c, p->reg, &e);
		if (ret == 0)
			ret = p->push ? push_blob(p, c, &p->blobs[i], &e)
				      : pull_blob(p, c, &p->blobs[i], &e);
		cairn_registry_conn_put(c);
		cairn_job_slot_give(p->o->slots);
		if (ret < 0) {
			fail(p, e);
			e = NULL;
		}
	}
	return NULL;
}

static int run_pool(struct pool *p, struct cairn_error **err)
{
	int jobs = p->o->jobs > 0 ? p->o->jobs : DEFAULT_JOBS;
	pthread_t threads[MAX_JOBS];
	int started = 0;

	if (jobs > MAX_JOBS)
		jobs = MAX_JOBS;
	if ((size_t)jobs > p->n_blobs)
		jobs = (int)p->n_blobs;
	for (int i = 0; i < jobs; i++) {
		if (pthread_create(&threads[i], NULL, worker, p) != 0)
			break;
		started++;
	}
	if (started == 0 && p->n_blobs > 0)
		worker(p);
	for (int i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	if (p->err) {
		*err = TAKE_PTR(p->err);
		return (*err)->code;
	}
	return 0;
}

static void pool_init(struct pool *p, struct cairn_registry *reg, struct cairn_store *st,
		      const char *repo, const char *ref, const struct cairn_image_opts *o,
		      struct cairn_transfer_stats *stats, int push)
{
	memset(p, 0, sizeof(*p));
	p->reg = reg;
	p->st = st;
	p->repo = repo;
	p->ref = ref;
	p->o = o;
	p->push = push;
	p->stats = stats;
	atomic_init(&p->next, 0);
	atomic_init(&p->failed, 0);
	pthread_mutex_init(&p->lock, NULL);
}

/* config first, then layers: one array for the pool */
static struct cairn_descriptor *image_blobs(const struct cairn_manifest *m, size_t *n)
{
	struct cairn_descriptor *v = xcalloc(m->n_layers + 1, sizeof(*v));

	v[0] = m->config;
	if (m->n_layers)
		memcpy(v + 1, m->layers, m->n_layers * sizeof(*v));
	*n = m->n_layers + 1;
	return v;
}

DEFINE_FREEP(struct cairn_manifest, cairn_manifest_free)

/*
 * One call's hold on a registry: its client, from the caller's pool (o->registries) or else a
 * pool of the call's own, and a connection.
 */
struct remote {
	struct cairn_registry_pool *own; /* without o->registries */
	struct cairn_registry *reg;	 /* borrowed from the pool */
	struct cairn_registry_conn *c;	 /* given back by remote_release() */
	uint64_t requests;		 /* what the registry had sent when the call began */
	struct cairn_job_slots *slots;	 /* the call's options' */
	bool slot;			 /* one of `slots` is held */
};

#define REMOTE_INIT \
	{           \
		0   \
	}

static int remote_open(struct remote *rm, const struct cairn_image_opts *o, const char *domain,
		       struct cairn_error **err)
{
	struct cairn_registry_pool *pool = o->registries;
	int ret;

	if (!pool) {
		ret = cairn_registry_pool_new(&rm->own, &o->registry, err);
		if (ret < 0)
			return ret;
		pool = rm->own;
	}
	ret = cairn_registry_pool_get(&rm->reg, pool, domain, err);
	if (ret < 0)
		return ret;
	rm->requests = cairn_registry_request_count(rm->reg);
	rm->slots = o->slots;
	cairn_job_slot_take(rm->slots);
	rm->slot = true;
	return cairn_registry_conn_get(&rm->c, rm->reg, err);
}

/*
 * The call's connection and slot go back while a pool of workers moves its blobs (they may
 * take them): calls side by side keep to the slots they share, and to as many connections.
 */
static void remote_pause(struct remote *rm)
{
	cairn_registry_conn_put(rm->c);
	rm->c = NULL;
	if (rm->slot)
		cairn_job_slot_give(rm->slots);
	rm->slot = false;
}

static int remote_resume(struct remote *rm, struct cairn_error **err)
{
	cairn_job_slot_take(rm->slots);
	rm->slot = true;
	return cairn_registry_conn_get(&rm->c, rm->reg, err);
}

/* The requests sent to the registry since remote_open(). */
static uint64_t remote_requests(const struct remote *rm)
{
	return rm->reg ? cairn_registry_request_count(rm->reg) - rm->requests : 0;
}

static void remote_release(struct remote *rm)
{
	cairn_registry_conn_put(rm->c);
	if (rm->slot)
		cairn_job_slot_give(rm->slots);
	cairn_registry_pool_free(rm->own);
	memset(rm, 0, sizeof(*rm));
}

/* ---- push ---- */

/* The one-line outcome of a whole image: its manifest is there, or went there. */
static void report_manifest(const struct cairn_image_opts *o, enum cairn_progress_kind kind,
			    const char *refstr, const struct cairn_descriptor *d)
{
	struct cairn_progress ev = {.kind = kind,
				    .ref = refstr,
				    .digest = &d->digest,
				    .done = d->size,
				    .total = d->size};

	if (o->progress)
		o->progress(&ev, o->progress_ud);
}

static int push_manifest_blobs(struct cairn_store *st, struct cairn_registry *reg,
			       const struct cairn_ref *ref, const char *refstr,
			       const struct cairn_manifest *m, const struct cairn_image_opts *o,
			       bool layers_known, bool recheck, struct cairn_transfer_stats *stats,
			       struct cairn_error **err)
{
	cleanup_free struct cairn_descriptor *blobs = NULL;
	struct pool p;
	int ret;

	pool_init(&p, reg, st, ref->path, refstr, o, stats, 1);
	p.fresh = recheck;
	p.repo_new = o->repo_new;
	blobs = image_blobs(m, &p.n_blobs);
	if (layers_known && !recheck)
		p.n_blobs = 1; /* the config, first */
	p.blobs = blobs;
	ret = run_pool(&p, err);
	pthread_mutex_destroy(&p.lock);
	return ret;
}

static int load_manifest(struct cairn_manifest **m, char **raw, size_t *len, struct cairn_store *st,
			 const struct cairn_descriptor *d, struct cairn_error **err);

/*
 * An index goes up after every image it lists: their blobs, then each image manifest by
 * digest. Every listed image must be in the store.
 */
static int push_index_children(struct cairn_store *st, struct remote *rm,
			       const struct cairn_ref *ref, const char *refstr,
			       const struct cairn_manifest *index, const struct cairn_image_opts *o,
			       struct cairn_transfer_stats *stats, struct cairn_error **err)
{
	for (size_t i = 0; i < index->n_manifests; i++) {
		CLEANUP(cairn_manifest_freep) struct cairn_manifest *child = NULL;
		const struct cairn_descriptor *d = &index->manifests[i];
		cleanup_free char *raw = NULL;
		struct cairn_descriptor remote;
		size_t len = 0;
		int ret;

		ret = load_manifest(&child, &raw, &len, st, d, err);
		if (ret < 0)
			return ret;
		if (child->kind != CAIRN_MANIFEST_IMAGE)
			return cairn_error_set(err, CAIRN_EINVAL, "manifest '%s': nested index",
					       d->digest.str);
		ret = cairn_registry_manifest_head(rm->c, ref->path, d->digest.str, &remote, err);
		if (ret == 0)
			continue;
		if (ret != CAIRN_ENOTFOUND)
			return ret;
		cairn_error_clear(err);
		remote_pause(rm);
		ret = push_manifest_blobs(st, rm->reg, ref, refstr, child, o, false, false, stats,
					  err);
		if (ret == 0)
			ret = remote_resume(rm, err);
		if (ret < 0)
			return ret;
		ret = cairn_registry_manifest_put(rm->c, ref->path, d->digest.str, d->media_type,
						  raw, len, NULL, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int load_manifest(struct cairn_manifest **m, char **raw, size_t *len, struct cairn_store *st,
			 const struct cairn_descriptor *d, struct cairn_error **err)
{
	int ret = cairn_store_read_doc(raw, len, st, &d->digest, err);

	if (ret < 0)
		return ret;
	ret = cairn_manifest_parse(m, d->media_type, *raw, *len, err);
	if (ret < 0)
		return cairn_error_wrap(err, "manifest '%s'", d->digest.str);
	return 0;
}

int cairn_image_push(struct cairn_store *st, const char *name, const struct cairn_ref *dest,
		     const struct cairn_image_opts *o, struct cairn_transfer_stats *stats,
		     struct cairn_error **err)
{
	struct cairn_descriptor d;
	int ret = cairn_store_ref_get(st, name, &d, err);

	if (ret < 0)
		return ret;
	return cairn_image_push_descriptor(st, &d, dest, o, stats, err);
}

/* One image going up: what every step of the push needs. */
struct push_job {
	struct cairn_store *st;
	struct remote *rm;
	struct cairn_registry *reg;
	struct cairn_registry_conn *c; /* rm's, while it holds one */
	const struct cairn_ref *ref;
	const char *refstr;
	const char *reference; /* the tag, or the digest */
	const struct cairn_manifest *m;
	const char *raw;
	size_t len;
	const struct cairn_descriptor *d;
	const struct cairn_image_opts *o;
	struct cairn_transfer_stats *stats;
	/* stages storage: an image the tag holds stays; `stored` gets what it holds */
	int keep;
	int recheck; /* the registry refused the manifest for a blob: check the layers too */
	struct cairn_descriptor *stored;
	struct cairn_descriptor remote; /* what the tag held when last checked */
};

static int push_blobs(struct push_job *j, struct cairn_error **err)
{
	int ret;

	if (j->m->kind == CAIRN_MANIFEST_INDEX) {
		ret = push_index_children(j->st, j->rm, j->ref, j->refstr, j->m, j->o, j->stats,
					  err);
		j->c = j->rm->c;
		return ret;
	}
	remote_pause(j->rm);
	j->c = NULL;
	ret = push_manifest_blobs(j->st, j->reg, j->ref, j->refstr, j->m, j->o, j->o->layers_known,
				  j->recheck, j->stats, err);
	if (ret == 0)
		ret = remote_resume(j->rm, err);
	j->c = j->rm->c;
	return ret;
}

/* Before attempt `attempt` (2, 3, ...) of a manifest PUT: 100, 200, 400... ms, jittered. */
static void put_backoff(int attempt)
{
	static _Thread_local unsigned seed;
	uint64_t ms = (uint64_t)PUT_RETRY_MS << (attempt - 2);
	struct timespec ts;

	if (!seed)
		seed = (unsigned)getpid() ^ (unsigned)(now_secs() * 1e6);
	ms = ms / 2 + (uint64_t)rand_r(&seed) % (ms / 2 + 1);
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Whether the tag holds this image already, or with `keep` any image: 1 (`remote` is what it
 * holds), 0, or an error. The manifest is deterministic, so one request tells that nothing
 * changed.
 */
static int tag_holds(struct push_job *j, struct cairn_error **err)
{
	int ret = cairn_registry_manifest_head(j->c, j->ref->path, j->reference, &j->remote, err);

	if (ret == CAIRN_ENOTFOUND) {
		cairn_error_clear(err);
		return 0;
	}
	if (ret < 0)
		return ret;
	return j->keep || cairn_digest_equal(&j->remote.digest, &j->d->digest);
}

/*
 * The manifest, once its blobs are there: 0, 1 when (with `keep`) the tag was taken meanwhile,
 * or an error. A registry may refuse it for a blob it does not know (see
 * cairn_registry_manifest_put()), even one it has while another client uploads or mounts that
 * blob: then every blob is checked again (HEAD; uploaded when really missing) and the PUT
 * retried, a few times with backoff; a blob that stays missing ends in the registry's error.
 * With `keep`, the tag is checked right before each PUT, so that a stage another host stored
 * meanwhile is not replaced.
 */
static int put_manifest(struct push_job *j, struct cairn_error **err)
{
	for (int attempt = 1;; attempt++) {
		double t0 = now_secs();
		int ret = j->keep ? tag_holds(j, err) : 0;

		if (ret != 0)
			return ret;
		ret = cairn_registry_manifest_put(j->c, j->ref->path, j->reference,
						  j->d->media_type, j->raw, j->len, NULL, err);
		j->stats->manifest_seconds = now_secs() - t0;
		if (ret != CAIRN_ENOTFOUND || attempt == PUT_ATTEMPTS)
			return ret;
		cairn_log(CAIRN_LOG_WARN, "%s: checking the blobs again, then retrying",
			  (*err)->msg);
		cairn_error_clear(err);
		put_backoff(attempt + 1);
		j->recheck = 1;
		ret = push_blobs(j, err);
		if (ret < 0)
			return ret;
	}
}

static int push_image(struct push_job *j, const struct cairn_ref *dest, struct cairn_error **err)
{
	CLEANUP(cairn_ref_release) struct cairn_ref ref = CAIRN_REF_INIT;
	CLEANUP(cairn_manifest_freep) struct cairn_manifest *m = NULL;
	CLEANUP(remote_release) struct remote rm = REMOTE_INIT;
	cleanup_free char *raw = NULL;
	cleanup_free char *refstr = NULL;
	size_t len = 0;
	int ret;

	cairn_ref_with(&ref, dest, dest->tag || dest->digest ? dest->tag : "latest", dest->digest);
	refstr = cairn_ref_format(&ref);
	j->ref = &ref;
	j->refstr = refstr;
	j->reference = ref.tag ? ref.tag : ref.digest;
	j->stats->digest = j->d->digest;
	ret = load_manifest(&m, &raw, &len, j->st, j->d, err);
	if (ret < 0)
		return ret;
	j->m = m;
	j->raw = raw;
	j->len = len;
	if (ref.digest && strcmp(ref.digest, j->d->digest.str) != 0)
		return cairn_error_set(err, CAIRN_EDIGEST, "push '%s': the image's digest is '%s'",
				       refstr, j->d->digest.str);
	ret = remote_open(&rm, j->o, ref.domain, err);
	if (ret < 0)
		return ret;
	j->rm = &rm;
	j->reg = rm.reg;
	j->c = rm.c;
	ret = j->o->tag_absent && !j->keep ? 0 : tag_holds(j, err);
	if (ret == 0 && j->o->only_if_there) {
		j->stats->requests = remote_requests(&rm);
		return cairn_error_set(err, CAIRN_ENOTFOUND,
				       "push '%s': the tag holds another image", refstr);
	}
	if (ret == 0)
		ret = push_blobs(j, err);
	if (ret == 0)
		ret = put_manifest(j, err);
	j->stats->requests = remote_requests(&rm);
	if (ret < 0)
		return cairn_error_wrap(err, "push '%s'", refstr);
	j->stats->manifest_existed = ret;
	if (j->stored)
		*j->stored = ret ? j->remote : *j->d;
	report_manifest(j->o, ret ? CAIRN_PROGRESS_MANIFEST_EXISTS : CAIRN_PROGRESS_MANIFEST_DONE,
			refstr, ret ? &j->remote : j->d);
	return 0;
}

int cairn_image_push_descriptor(struct cairn_store *st, const struct cairn_descriptor *desc,
				const struct cairn_ref *dest, const struct cairn_image_opts *o,
				struct cairn_transfer_stats *stats, struct cairn_error **err)
{
	static const struct cairn_image_opts defaults = CAIRN_IMAGE_OPTS_INIT;
	struct cairn_transfer_stats local = {0};
	struct push_job j = {.st = st, .d = desc, .o = o ? o : &defaults};

	j.stats = stats ? stats : &local;
	memset(j.stats, 0, sizeof(*j.stats));
	return push_image(&j, dest, err);
}

int cairn_image_push_stage(struct cairn_descriptor *stored, struct cairn_store *st,
			   const struct cairn_descriptor *desc, const struct cairn_ref *dest,
			   const struct cairn_image_opts *o, struct cairn_transfer_stats *stats,
			   struct cairn_error **err)
{
	static const struct cairn_image_opts defaults = CAIRN_IMAGE_OPTS_INIT;
	struct cairn_transfer_stats local = {0};
	struct push_job j = {
		.st = st, .d = desc, .o = o ? o : &defaults, .keep = 1, .stored = stored};

	*stored = *desc;
	j.stats = stats ? stats : &local;
	memset(j.stats, 0, sizeof(*j.stats));
	return push_image(&j, dest, err);
}

/* ---- pull ---- */

const char *cairn_image_host_arch(void)
{
	static char arch[sizeof(((struct utsname *)0)->machine)];
	struct utsname u;

	if (uname(&u) < 0)
		return "amd64";
	if (strcmp(u.machine, "x86_64") == 0)
		return "amd64";
	if (strcmp(u.machine, "aarch64") == 0)
		return "arm64";
	if (strncmp(u.machine, "armv7", 5) == 0)
		return "arm";
	snprintf(arch, sizeof(arch), "%s", u.machine);
	return arch;
}

int cairn_image_pull(struct cairn_store *st, const struct cairn_ref *src, const char *name,
		     const struct cairn_image_opts *o, struct cairn_transfer_stats *stats,
		     struct cairn_error **err)
{
	static const struct cairn_image_opts defaults = CAIRN_IMAGE_OPTS_INIT;
	CLEANUP(cairn_ref_release) struct cairn_ref ref = CAIRN_REF_INIT;
	CLEANUP(cairn_manifest_freep) struct cairn_manifest *m = NULL;
	CLEANUP(remote_release) struct remote rm = REMOTE_INIT;
	struct cairn_transfer_stats local = {0};
	cleanup_free struct cairn_descriptor *blobs = NULL;
	cleanup_free char *raw = NULL;
	cleanup_free char *refstr = NULL;
	struct cairn_descriptor d;
	struct cairn_digest stored;
	struct pool p;
	size_t len = 0;
	int ret;

	if (!o)
		o = &defaults;
	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof(*stats));
	cairn_ref_with(&ref, src, src->tag || src->digest ? src->tag : "latest", src->digest);
	refstr = cairn_ref_format(&ref);
	ret = remote_open(&rm, o, ref.domain, err);
	if (ret < 0)
		return ret;
	ret = cairn_registry_manifest_get(rm.c, ref.path, ref.digest ? ref.digest : ref.tag, &raw,
					  &len, &d, err);
	if (ret < 0)
		goto fail;
	ret = cairn_manifest_parse(&m, d.media_type, raw, len, err);
	if (ret < 0)
		goto fail;
	if (m->kind == CAIRN_MANIFEST_INDEX) {
		const struct cairn_descriptor *pick;
		const char *os = o->os ? o->os : "linux";
		const char *arch = o->arch ? o->arch : cairn_image_host_arch();
		struct cairn_digest want;

		ret = cairn_manifest_select(&pick, m, os, arch, o->variant, err);
		if (ret < 0)
			goto fail;
		want = pick->digest;
		cairn_manifest_free(m);
		m = NULL;
		free(raw);
		raw = NULL;
		ret = cairn_registry_manifest_get(rm.c, ref.path, want.str, &raw, &len, &d, err);
		if (ret < 0)
			goto fail;
		ret = cairn_manifest_parse(&m, d.media_type, raw, len, err);
		if (ret < 0)
			goto fail;
		if (m->kind != CAIRN_MANIFEST_IMAGE) {
			ret = cairn_error_set(err, CAIRN_EINVAL, "nested index '%s'", want.str);
			goto fail;
		}
	}
	if (!d.media_type[0])
		snprintf(d.media_type, sizeof(d.media_type), "%s", m->media_type);
	stats->digest = d.digest;
	pool_init(&p, rm.reg, st, ref.path, refstr, o, stats, 0);
	blobs = image_blobs(m, &p.n_blobs);
	p.blobs = blobs;
	remote_pause(&rm); /* nothing more to ask the registry */
	ret = run_pool(&p, err);
	pthread_mutex_destroy(&p.lock);
	if (ret < 0)
		goto fail;
	/* Blobs first, the manifest last, then the name: a reader never sees a half image. */
	ret = cairn_store_put_blob(st, raw, len, &stored, err);
	if (ret < 0)
		goto fail;
	ret = cairn_store_ref_set(st, name ? name : refstr, &d, err);
	if (ret < 0)
		goto fail;
	stats->requests = remote_requests(&rm);
	report_manifest(o, CAIRN_PROGRESS_MANIFEST_DONE, refstr, &d);
	return 0;
fail:
	stats->requests = remote_requests(&rm);
	return cairn_error_wrap(err, "pull '%s'", refstr);
}

static int open_ref(struct remote *rm, const struct cairn_ref *ref,
		    const struct cairn_image_opts *o, struct cairn_error **err)
{
	static const struct cairn_image_opts defaults = CAIRN_IMAGE_OPTS_INIT;

	return remote_open(rm, o ? o : &defaults, ref->domain, err);
}

int cairn_image_remote_config(char **out, size_t *len, struct cairn_descriptor *manifest,
			      const struct cairn_ref *ref, const struct cairn_image_opts *o,
			      struct cairn_error **err)
{
	CLEANUP(remote_release) struct remote rm = REMOTE_INIT;
	int ret = open_ref(&rm, ref, o, err);

	*out = NULL;
	*len = 0;
	if (manifest)
		memset(manifest, 0, sizeof(*manifest));
	if (ret == 0)
		ret = cairn_registry_image_config(rm.c, ref->path,
						  ref->digest ? ref->digest : ref->tag, out, len,
						  manifest, err);
	return ret;
}

int cairn_image_remote_digest(struct cairn_descriptor *out, const struct cairn_ref *ref,
			      const struct cairn_image_opts *o, struct cairn_error **err)
{
	CLEANUP(remote_release) struct remote rm = REMOTE_INIT;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = open_ref(&rm, ref, o, err);
	if (ret == 0)
		ret = cairn_registry_manifest_head(
			rm.c, ref->path,
			ref->digest ? ref->digest : (ref->tag ? ref->tag : "latest"), out, err);
	return ret;
}

/* ---- stages storage: manifests and configs now, layers when a stage must run on them ---- */

/* Blob `d` of the stages storage into the store (no progress reported). */
static int fetch_one(struct cairn_registry_conn *c, struct cairn_store *st, const char *repo,
		     const struct cairn_descriptor *d, struct cairn_error **err)
{
	struct download_dst dd = {.st = st, .d = d};

	if (cairn_store_has_blob(st, &d->digest))
		return 0;
	return download(&dd, c, repo, err);
}

int cairn_image_pull_meta(struct cairn_descriptor *out, struct cairn_store *st,
			  const struct cairn_ref *src, const char *name,
			  const struct cairn_image_opts *o, struct cairn_error **err)
{
	CLEANUP(cairn_manifest_freep) struct cairn_manifest *m = NULL;
	CLEANUP(remote_release) struct remote rm = REMOTE_INIT;
	cleanup_free char *raw = NULL;
	cleanup_free char *refstr = cairn_ref_format(src);
	struct cairn_digest stored;
	size_t len = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = open_ref(&rm, src, o, err);
	if (ret == 0)
		ret = cairn_registry_manifest_get(
			rm.c, src->path, src->tag ? src->tag : src->digest, &raw, &len, out, err);
	if (ret == 0)
		ret = cairn_manifest_parse(&m, out->media_type, raw, len, err);
	if (ret == 0 && m->kind != CAIRN_MANIFEST_IMAGE)
		ret = cairn_error_set(err, CAIRN_EINVAL, "'%s' is not an image manifest", refstr);
	if (ret == 0 && !out->media_type[0])
		snprintf(out->media_type, sizeof(out->media_type), "%s", m->media_type);
	if (ret == 0)
		ret = fetch_one(rm.c, st, src->path, &m->config, err);
	if (ret == 0)
		ret = cairn_store_put_blob(st, raw, len, &stored, err);
	if (ret == 0)
		ret = cairn_store_ref_set(st, name, out, err);
	if (ret < 0)
		return ret == CAIRN_ENOTFOUND
			       ? ret
			       : cairn_error_wrap(err, "stages storage '%s'", refstr);
	/* where the layers are, so a publish to this registry mounts them */
	for (size_t i = 0; i < m->n_layers; i++)
		cairn_store_source_add(st, &m->layers[i].digest, src->domain, src->path);
	cairn_store_source_add(st, &m->config.digest, src->domain, src->path);
	return 0;
}

int cairn_image_fetch_blob(struct cairn_store *st, const struct cairn_ref *repo,
			   const struct cairn_descriptor *d, const struct cairn_image_opts *o,
			   struct cairn_error **err)
{
	CLEANUP(remote_release) struct remote rm = REMOTE_INIT;
	int ret = open_ref(&rm, repo, o, err);

	if (ret == 0)
		ret = fetch_one(rm.c, st, repo->path, d, err);
	if (ret < 0)
		return cairn_error_wrap(err, "stages storage '%s/%s'", repo->domain, repo->path);
	cairn_store_source_add(st, &d->digest, repo->domain, repo->path);
	return 0;
}

int cairn_image_remote_tags(const struct cairn_ref *repo, const struct cairn_image_opts *o,
			    int (*fn)(const char *tag, void *ud), void *ud, bool *no_repo,
			    struct cairn_error **err)
{
	CLEANUP(remote_release) struct remote rm = REMOTE_INIT;
	int ret = open_ref(&rm, repo, o, err);

	if (ret == 0)
		ret = cairn_registry_tags_list2(rm.c, repo->path, fn, ud, no_repo, err);
	return ret;
}

int cairn_image_remote_digests(struct cairn_descriptor *out, const struct cairn_ref *repo,
			       const char *const *tags, size_t n, const struct cairn_image_opts *o,
			       struct cairn_error **err)
{
	CLEANUP(remote_release) struct remote rm = REMOTE_INIT;
	int ret;

	memset(out, 0, n * sizeof(*out));
	ret = open_ref(&rm, repo, o, err);
	for (size_t i = 0; ret == 0 && i < n; i++) {
		ret = cairn_registry_manifest_head(rm.c, repo->path, tags[i], &out[i], err);
		if (ret == CAIRN_ENOTFOUND) {
			cairn_error_clear(err);
			ret = 0;
		}
	}
	return ret;
}
