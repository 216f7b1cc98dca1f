/* SPDX-License-Identifier: MIT */
/* Notes: small images with no layer whose config labels hold what cairn keeps in a registry. */
#include "common.h"
#include "cairn/oci.h"
#include "cairn/registry.h"
#include "util/buf.h"
#include "util/json.h"

struct mem_reader {
	const char *p;
	size_t n;
};

static ssize_t read_mem(char *buf, size_t n, uint64_t offset, void *ud)
{
	const struct mem_reader *m = ud;

	if (offset >= m->n)
		return 0;
	if (n > m->n - offset)
		n = m->n - (size_t)offset;
	memcpy(buf, m->p + offset, n);
	return (ssize_t)n;
}

int cairn_registry_put_note(struct cairn_registry_conn *c, const char *repo, const char *tag,
			    const char *const *kv, size_t n_pairs, struct cairn_digest *out,
			    struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf cb = CAIRN_BUF_INIT;
	CLEANUP(cairn_buf_release) struct cairn_buf mb = CAIRN_BUF_INIT;
	cleanup_json json_t *labels = json_object();
	cleanup_json json_t *cfg = NULL, *manifest = NULL;
	struct cairn_descriptor there;
	struct cairn_digest cd, md;
	int ret;

	for (size_t i = 0; i < n_pairs; i++)
		json_object_set_new(labels, kv[2 * i], json_string(kv[2 * i + 1]));
	cfg = json_pack("{s:s, s:s, s:{s:O}, s:{s:s, s:[]}}", "architecture", "amd64", "os",
			"linux", "config", "Labels", labels, "rootfs", "type", "layers",
			"diff_ids");
	ret = cairn_json_dump(&cb, cfg, err);
	if (ret < 0)
		return ret;
	cairn_digest_of(&cd, cb.buf, cb.len);
	manifest = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:[]}", "schemaVersion", 2, "mediaType",
			     CAIRN_MT_OCI_MANIFEST, "config", "mediaType", CAIRN_MT_OCI_CONFIG,
			     "digest", cd.str, "size", (json_int_t)cb.len, "layers");
	ret = cairn_json_dump(&mb, manifest, err);
	if (ret < 0)
		return ret;
	cairn_digest_of(&md, mb.buf, mb.len);
	ret = cairn_registry_manifest_head(c, repo, tag, &there, err);
	if (ret == 0 && cairn_digest_equal(&there.digest, &md)) {
		if (out)
			*out = md;
		return 0;
	}
	if (ret < 0 && ret != CAIRN_ENOTFOUND)
		return ret;
	cairn_error_clear(err);
	ret = cairn_registry_blob_head(c, repo, &cd, NULL, err);
	if (ret == CAIRN_ENOTFOUND) {
		struct mem_reader m = {cb.buf, cb.len};

		cairn_error_clear(err);
		ret = cairn_registry_blob_upload(c, repo, &cd, cb.len, read_mem, &m, err);
	}
	if (ret == 0)
		ret = cairn_registry_manifest_put(c, repo, tag, CAIRN_MT_OCI_MANIFEST, mb.buf,
						  mb.len, NULL, err);
	if (ret == 0 && out)
		*out = md; /* only what is there: a failed note is never deleted or rewritten */
	return ret;
}
