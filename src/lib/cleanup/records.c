/* SPDX-License-Identifier: MIT */
/*
 * The commit records publish keeps in the stages storage (cairn_commit_record_tag()): read for
 * the git-history based cleanup, and deleted with what they name.
 */
#include "common.h"
#include "cairn/publish.h"
#include "cleanup/cleanup_internal.h"
#include "util/json.h"

static int collect(const char *tag, void *ud)
{
	struct cleanup_records *r = ud;

	if (strncmp(tag, CAIRN_COMMIT_RECORD_PREFIX, strlen(CAIRN_COMMIT_RECORD_PREFIX)) != 0)
		return 0;
	r->v = xgrow1(r->v, r->n, sizeof(*r->v));
	memset(&r->v[r->n], 0, sizeof(*r->v));
	r->v[r->n++].tag = xstrdup(tag);
	return 0;
}

static char *label(json_t *labels, const char *key)
{
	const char *v = json_string_value(json_object_get(labels, key));

	return v ? xstrdup(v) : NULL;
}

/* One record's labels; `ours` when it is of `project` and complete. */
static int read_one(struct cleanup_records *r, struct cleanup_record *rec, const char *project,
		    struct cairn_error **err)
{
	cleanup_free char *raw = NULL;
	cleanup_json json_t *cfg = NULL;
	json_t *labels;
	size_t len = 0;
	char *p;
	int ret =
		cairn_registry_image_config(r->c, r->repo.path, rec->tag, &raw, &len, &rec->d, err);

	if (ret == CAIRN_ENOTFOUND || ret == CAIRN_EINVAL || (ret == 0 && !raw)) {
		cairn_error_clear(err);
		return 0;
	}
	if (ret < 0 || cairn_json_parse(&cfg, raw, len, "commit record", err) < 0) {
		if (ret < 0)
			return ret;
		cairn_error_clear(err);
		return 0;
	}
	labels = json_object_get(json_object_get(cfg, "config"), "Labels");
	p = label(labels, "cairn-project");
	rec->image = label(labels, "cairn-image-name");
	rec->commit = label(labels, "cairn-commit");
	rec->sig = label(labels, "cairn-stage-signature");
	rec->ours = p && strcmp(p, project) == 0 && rec->image && rec->commit && rec->sig;
	free(p);
	return 0;
}

int cleanup_records_read(struct cleanup_records *r, const char *storage, const char *project,
			 struct cairn_registry_pool *pool, struct cairn_error **err)
{
	struct cairn_registry *reg = NULL;
	int ret = cairn_repo_parse(&r->repo, storage, err);

	if (ret == 0)
		ret = cairn_registry_pool_get(&reg, pool, r->repo.domain, err);
	if (ret == 0)
		ret = cairn_registry_conn_get(&r->c, reg, err);
	if (ret == 0)
		ret = cairn_registry_tags_list(r->c, r->repo.path, collect, r, err);
	for (size_t i = 0; ret == 0 && i < r->n; i++)
		ret = read_one(r, &r->v[i], project, err);
	if (ret < 0)
		return cairn_error_wrap(err, "commit records in '%s'", storage);
	return 0;
}

int cleanup_records_delete(struct cleanup_records *r, struct cleanup_record *rec,
			   struct cairn_error **err)
{
	int ret = cairn_registry_manifest_delete(r->c, r->repo.path, &rec->d.digest, err);

	if (ret == CAIRN_ENOTFOUND) {
		cairn_error_clear(err);
		ret = 0;
	}
	if (ret == 0)
		cairn_log(CAIRN_LOG_INFO, "%s/%s:%s: commit record deleted", r->repo.domain,
			  r->repo.path, rec->tag);
	return ret;
}

void cleanup_records_release(struct cleanup_records *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].tag);
		free(r->v[i].image);
		free(r->v[i].commit);
		free(r->v[i].sig);
	}
	free(r->v);
	if (r->c)
		cairn_registry_conn_put(r->c);
	cairn_ref_release(&r->repo);
	memset(r, 0, sizeof(*r));
}
