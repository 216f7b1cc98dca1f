/* SPDX-License-Identifier: MIT */
#include "common.h"
#include "util/slots.h"

void cairn_job_slots_init(struct cairn_job_slots *s, int n)
{
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->freed, NULL);
	s->free_slots = n > 0 ? n : 1;
}

void cairn_job_slots_release(struct cairn_job_slots *s)
{
	pthread_cond_destroy(&s->freed);
	pthread_mutex_destroy(&s->lock);
}

void cairn_job_slot_take(struct cairn_job_slots *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	while (s->free_slots == 0)
		pthread_cond_wait(&s->freed, &s->lock);
	s->free_slots--;
	pthread_mutex_unlock(&s->lock);
}

void cairn_job_slot_give(struct cairn_job_slots *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->free_slots++;
	pthread_cond_signal(&s->freed);
	pthread_mutex_unlock(&s->lock);
}
