/* SPDX-License-Identifier: MIT */
/* Reading blobs, for whoever writes a repository's files somewhere (layers). */
#include "common.h"
#include "git/git_internal.h"

int cairn_git_blob_read(struct cairn_git_blob **out, const void **data, uint64_t *size,
			struct cairn_git_repo *r, const char *oid, struct cairn_error **err)
{
	git_blob *blob = NULL;
	git_oid id;
	int ret;

	*out = NULL;
	*data = NULL;
	*size = 0;
	if (git_oid_fromstr(&id, oid) < 0)
		return cairn_error_set(err, CAIRN_EINVAL, "bad blob id '%s'", oid);
	ret = git_blob_lookup(&blob, cairn_git_objects(r), &id);
	if (ret < 0)
		return cairn_git_fail(err, ret, CAIRN_EINTERNAL, "read blob '%s' of '%s'", oid,
				      r->name);
	*data = git_blob_rawcontent(blob);
	*size = (uint64_t)git_blob_rawsize(blob);
	*out = (struct cairn_git_blob *)blob;
	return 0;
}

void cairn_git_blob_free(struct cairn_git_blob *b)
{
	git_blob_free((git_blob *)b);
}
