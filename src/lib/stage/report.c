/* SPDX-License-Identifier: MIT */
/* The build result: stages and images, and the JSON report. */
#include "common.h"
#include "stage/stage_internal.h"
#include "util/fs.h"
#include "util/json.h"

#include <sys/file.h>

void stage_add_result(struct image_state *s, enum stage_id id, const char *sig,
		      const struct cairn_descriptor *d, int cached, double secs)
{
	struct cairn_build_image *o = s->out;
	struct cairn_build_stage *st;

	o->stages = xreallocarray(o->stages, o->n_stages + 1, sizeof(*o->stages));
	st = &o->stages[o->n_stages++];
	memset(st, 0, sizeof(*st));
	st->name = xstrdup(stage_kinds[id].name);
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

int cairn_build_result_write_json(const struct cairn_build_result *r, const char *path,
				  struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	cleanup_json json_t *doc = json_pack("{s:s, s:[]}", "project", r->project, "images");
	json_t *images = json_object_get(doc, "images");
	int ret;

	for (size_t i = 0; i < r->n_images; i++) {
		const struct cairn_build_image *im = &r->images[i];
		json_t *stages = json_array();

		for (size_t k = 0; k < im->n_stages; k++)
			json_array_append_new(stages, json_pack("{s:s, s:s, s:s, s:b, s:f}", "name",
								im->stages[k].name, "signature",
								im->stages[k].signature, "digest",
								im->stages[k].desc.digest.str,
								"cached", im->stages[k].cached,
								"seconds", im->stages[k].seconds));
		json_array_append_new(images, json_pack("{s:s?, s:b, s:s, s:s, s:o}", "name",
							im->name, "artifact", im->artifact,
							"signature", im->signature, "digest",
							im->desc.digest.str, "stages", stages));
	}
	ret = cairn_json_dump(&b, doc, err);
	if (ret < 0)
		return ret;
	cairn_buf_addch(&b, '\n');
	ret = cairn_fs_write_atomic_at(AT_FDCWD, path, b.buf, b.len, 0644, err);
	if (ret < 0)
		return cairn_error_wrap(err, "write report '%s'", path);
	return 0;
}
