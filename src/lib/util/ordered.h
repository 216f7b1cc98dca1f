/* SPDX-License-Identifier: MIT */
/*
 * Told in order: what several threads say about numbered jobs (images published or built side
 * by side), passed on one job after the other. The first job not yet done is told live; what
 * later jobs say is kept (copied) and told, in the order it was said, once every job before
 * them is done. One lock serialises every telling.
 */
#ifndef CAIRN_UTIL_ORDERED_H
#define CAIRN_UTIL_ORDERED_H

#include <stdbool.h>
#include <stddef.h>

/* How to pass on one kind of message, and how to keep a copy of it for later. */
struct cairn_ordered_kind {
	void (*tell)(const void *msg, void *ud);
	void *(*copy)(const void *msg); /* a copy tell() and drop() take; NULL: live only */
	void (*drop)(void *copy);
};

struct cairn_ordered;

struct cairn_ordered *cairn_ordered_new(size_t n_jobs);
/* Say `msg` (of `kind`, told with `ud`) for job `job`. */
void cairn_ordered_say(struct cairn_ordered *o, size_t job, const struct cairn_ordered_kind *kind,
		       void *ud, const void *msg);
/* Whether what job `job` says now is told at once (no job before it is left). */
bool cairn_ordered_live(struct cairn_ordered *o, size_t job);
/* Job `job` is done: it, and the jobs after it already done, are told. */
void cairn_ordered_done(struct cairn_ordered *o, size_t job);
/* Tell whatever is kept, job by job (after a failure), and free `o`; accepts NULL. */
void cairn_ordered_free(struct cairn_ordered *o);

#endif
