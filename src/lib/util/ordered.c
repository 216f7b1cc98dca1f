/* SPDX-License-Identifier: MIT */
#include "common.h"
#include "util/ordered.h"

#include <pthread.h>

struct kept {
	const struct cairn_ordered_kind *kind;
	void *ud;
	void *copy;
};

struct cairn_ordered {
	pthread_mutex_t lock;
	size_t n_jobs;
	size_t told; /* jobs [0, told) done and told; `told` is told live */
	bool *done;
	struct kept **kept; /* per job */
	size_t *n_kept;
};

struct cairn_ordered *cairn_ordered_new(size_t n_jobs)
{
	struct cairn_ordered *o = xcalloc(1, sizeof(*o));

	pthread_mutex_init(&o->lock, NULL);
	o->n_jobs = n_jobs;
	o->done = xcalloc(n_jobs + 1, sizeof(*o->done));
	o->kept = xcalloc(n_jobs + 1, sizeof(*o->kept));
	o->n_kept = xcalloc(n_jobs + 1, sizeof(*o->n_kept));
	return o;
}

/* Tell and drop what job `job` kept. Under the lock. */
static void tell_kept(struct cairn_ordered *o, size_t job)
{
	for (size_t k = 0; k < o->n_kept[job]; k++) {
		struct kept *m = &o->kept[job][k];

		m->kind->tell(m->copy, m->ud);
		m->kind->drop(m->copy);
	}
	free(o->kept[job]);
	o->kept[job] = NULL;
	o->n_kept[job] = 0;
}

void cairn_ordered_say(struct cairn_ordered *o, size_t job, const struct cairn_ordered_kind *kind,
		       void *ud, const void *msg)
{
	pthread_mutex_lock(&o->lock);
	if (job <= o->told || job >= o->n_jobs) {
		kind->tell(msg, ud);
	} else {
		void *copy = kind->copy(msg);

		if (copy) {
			o->kept[job] = xreallocarray(o->kept[job], o->n_kept[job] + 1,
						     sizeof(*o->kept[job]));
			o->kept[job][o->n_kept[job]++] = (struct kept){kind, ud, copy};
		}
	}
	pthread_mutex_unlock(&o->lock);
}

bool cairn_ordered_live(struct cairn_ordered *o, size_t job)
{
	bool live;

	pthread_mutex_lock(&o->lock);
	live = job <= o->told || job >= o->n_jobs;
	pthread_mutex_unlock(&o->lock);
	return live;
}

void cairn_ordered_done(struct cairn_ordered *o, size_t job)
{
	pthread_mutex_lock(&o->lock);
	if (job < o->n_jobs)
		o->done[job] = true;
	while (o->told < o->n_jobs && o->done[o->told]) {
		o->told++;
		/* the next job's messages so far; the rest of them live */
		if (o->told < o->n_jobs)
			tell_kept(o, o->told);
	}
	pthread_mutex_unlock(&o->lock);
}

void cairn_ordered_free(struct cairn_ordered *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->n_jobs; i++)
		tell_kept(o, i);
	free(o->done);
	free(o->kept);
	free(o->n_kept);
	pthread_mutex_destroy(&o->lock);
	free(o);
}
