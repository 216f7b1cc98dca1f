/* SPDX-License-Identifier: MIT */
/* Job slots: a counting bound on work several threads share (blobs moved at once in a run). */
#ifndef CAIRN_UTIL_SLOTS_H
#define CAIRN_UTIL_SLOTS_H

#include <pthread.h>

struct cairn_job_slots {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	int free_slots;
};

void cairn_job_slots_init(struct cairn_job_slots *s, int n);
void cairn_job_slots_release(struct cairn_job_slots *s);
/* Wait for a free slot (NULL: none to wait for). */
void cairn_job_slot_take(struct cairn_job_slots *s);
void cairn_job_slot_give(struct cairn_job_slots *s);

#endif
