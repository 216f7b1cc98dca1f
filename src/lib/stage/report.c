/* SPDX-License-Identifier: MIT */
/* The build result: stages and images. */
#include "common.h"
#include "stage/stage_internal.h"

void stage_add_result(struct image_state *s, const char *name, const char *sig,
		      const struct cairn_descriptor *d, int cached, double secs)
{
	struct cairn_build_image *o = s->out;
	struct cairn_build_stage *st;

	o->stages = xreallocarray(o->stages, o->n_stages + 1, sizeof(*o->stages));
	st = &o->stages[o->n_stages++];
	memset(st, 0, sizeof(*st));
	st->name = xstrdup(name);
	memcpy(st->signature, sig, CAIRN_SIGNATURE_HEX);
	st->desc = *d;
	st->cached = cached;
	st->seconds = secs;
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
	cairn_registry_unlock(r->lock);
	free(r);
}
