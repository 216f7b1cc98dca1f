/* SPDX-License-Identifier: MIT */
/* Writing operation lists into layers: blobs read from the repository. */
#include "common.h"
#include "git/git_internal.h"
#include "layer/layer.h"

#include <inttypes.h>

/*
 * Writing layers
 */

static int write_op(struct cairn_layer_writer *w, struct cairn_git_repo *r,
		    const struct cairn_git_op *op, const struct cairn_git_write_opts *o,
		    struct cairn_error **err)
{
	const struct cairn_layer_entry tmpl = {.uid = o->uid, .gid = o->gid, .mtime = o->mtime};
	CLEANUP(git_blob_freep) git_blob *blob = NULL;
	cleanup_free char *target = NULL;
	struct cairn_layer_entry e = tmpl;
	git_oid oid;
	int ret;

	e.path = op->path;
	e.mode = op->mode;
	if (op->kind == CAIRN_GIT_OP_WHITEOUT)
		return cairn_layer_add_whiteout(w, op->path, e.mtime, err);
	if (op->kind == CAIRN_GIT_OP_DIR)
		return o->dir_filter && !o->dir_filter(&e, o->ud) ? 0 : cairn_layer_add(w, &e, err);
	if (git_oid_fromstr(&oid, op->oid) < 0)
		return cairn_error_set(err, CAIRN_EINVAL, "'%s': bad blob id '%s'", op->path,
				       op->oid);
	ret = git_blob_lookup(&blob, cairn_git_objects(r), &oid);
	if (ret < 0)
		return cairn_git_fail(err, ret, CAIRN_EINTERNAL, "read blob '%s' for '%s' of '%s'",
				      op->oid, op->path, r->name);
	if ((uint64_t)git_blob_rawsize(blob) != op->size)
		return cairn_error_set(err, CAIRN_EINTERNAL,
				       "blob '%s' for '%s': %" PRIu64 " bytes, expected %" PRIu64,
				       op->oid, op->path, (uint64_t)git_blob_rawsize(blob),
				       op->size);
	if (op->kind == CAIRN_GIT_OP_SYMLINK) {
		target = xstrndup(git_blob_rawcontent(blob), (size_t)op->size);
		e.linkname = target;
		return cairn_layer_add(w, &e, err);
	}
	e.size = op->size;
	ret = cairn_layer_add(w, &e, err);
	if (ret == 0)
		ret = cairn_layer_write_data(w, git_blob_rawcontent(blob), (size_t)op->size, err);
	return ret;
}

int cairn_git_write_ops(struct cairn_layer_writer *w, struct cairn_git_repo *r,
			const struct cairn_git_ops *ops, const struct cairn_git_write_opts *o,
			struct cairn_error **err)
{
	for (size_t i = 0; i < ops->n; i++) {
		int ret = write_op(w, r, &ops->v[i], o, err);

		if (ret < 0)
			return cairn_error_wrap(err, "git layer entry '%s'", ops->v[i].path);
	}
	return 0;
}
