/* SPDX-License-Identifier: MIT */
/* Registry manifests (GET, HEAD, PUT) and tag lists. */
#include "common.h"
#include "cairn/registry.h"
#include "registry/http.h"
#include "registry/link.h"
#include "registry/registry_internal.h"
#include "util/json.h"
#include "util/parse.h"

#define TAGS_PAGE 1000
/* A repository listing stops past these: a stages storage of years holds tens of thousands. */
#define TAGS_MAX 500000
#define TAG_BYTES_MAX (64 << 20)

/* ---- manifests ---- */

/*
 * What every manifest request starts with: the scheme known, the context errors carry
 * ("get manifest 'host/repo:tag'"), the URL and the scopes. The strings are the caller's.
 */
static int manifest_call(struct call *call, char **what, char **url, char **scope,
			 struct cairn_registry_conn *c, const char *verb, const char *repo,
			 const char *reference, int push, struct cairn_error **err)
{
	int ret = cairn_registry_ensure_base(c, err);

	if (ret < 0)
		return ret;
	*what = xasprintf("%s manifest '%s/%s%s%s'", verb, c->r->domain, repo,
			  strncmp(reference, "sha256:", 7) == 0 ? "@" : ":", reference);
	*url = cairn_registry_api_url(c, "/v2/%s/manifests/%s", repo, reference);
	cairn_registry_scopes_for(call, scope, repo, push);
	call->what = *what;
	call->req.url = *url;
	return 0;
}

/* `type/subtype` of RFC 6838's restricted names, short enough to be kept whole */
static bool media_type_name(const char *s)
{
	static const char name_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					 "0123456789!#$&^_.+-";
	size_t type = strspn(s, name_chars), sub;

	if (type == 0 || s[type] != '/')
		return false;
	sub = strspn(s + type + 1, name_chars);
	return sub > 0 && s[type + 1 + sub] == '\0' && type + 1 + sub < CAIRN_MEDIA_TYPE_MAX;
}

static int descriptor_from(struct cairn_descriptor *out, const struct cairn_http_resp *resp,
			   const char *what, struct cairn_error **err)
{
	cleanup_free char *ct = cairn_http_resp_header(resp, "content-type");
	cleanup_free char *dg = cairn_http_resp_header(resp, "docker-content-digest");
	cleanup_free char *len = cairn_http_resp_header(resp, "content-length");
	struct cairn_error *e = NULL;
	char *semi;

	memset(out, 0, sizeof(*out));
	if (ct) {
		semi = strchr(ct, ';');
		if (semi)
			*semi = '\0';
		/* only a media type (RFC 6838 names) is taken; the body's mediaType decides else */
		if (media_type_name(ct))
			snprintf(out->media_type, sizeof(out->media_type), "%s", ct);
	}
	if (len && cairn_parse_u64(&out->size, len, UINT64_MAX, "Content-Length", &e) < 0)
		cairn_error_free(e);
	if (dg && cairn_digest_parse(&out->digest, dg, strlen(dg), err) < 0)
		return cairn_error_wrap(err, "%s: Docker-Content-Digest", what);
	return 0;
}

int cairn_registry_manifest_get(struct cairn_registry_conn *c, const char *repo,
				const char *reference, char **body_out, size_t *len_out,
				struct cairn_descriptor *desc_out, struct cairn_error **err)
{
	CLEANUP(cairn_http_resp_release) struct cairn_http_resp resp = CAIRN_HTTP_RESP_INIT;
	cleanup_free char *scope = NULL;
	cleanup_free char *url = NULL;
	cleanup_free char *what = NULL;
	struct cairn_descriptor d;
	struct cairn_digest got;
	struct call call = {0};
	int ret;

	*body_out = NULL;
	if (len_out)
		*len_out = 0;
	ret = manifest_call(&call, &what, &url, &scope, c, "get", repo, reference, 0, err);
	if (ret < 0)
		return ret;
	call.headers[0] = "Accept: " CAIRN_MANIFEST_ACCEPT;
	call.req.method = "GET";
	call.req.body_max = CAIRN_OCI_DOC_MAX;
	ret = cairn_registry_call(c, &call, &resp, err);
	if (ret < 0)
		return ret;
	if (resp.status != 200)
		return cairn_registry_status_error(c, &resp, err, what);
	ret = descriptor_from(&d, &resp, what, err);
	if (ret < 0)
		return ret;
	cairn_digest_of(&got, resp.body.buf, resp.body.len);
	if (strncmp(reference, "sha256:", 7) == 0 && strcmp(reference, got.str) != 0)
		return cairn_error_set(err, CAIRN_EDIGEST, "%s: content hashes to '%s'", what,
				       got.str);
	d.digest = got;
	d.size = resp.body.len;
	if (desc_out)
		*desc_out = d;
	*body_out = cairn_buf_detach(&resp.body, len_out);
	return 0;
}

int cairn_registry_manifest_head(struct cairn_registry_conn *c, const char *repo,
				 const char *reference, struct cairn_descriptor *out,
				 struct cairn_error **err)
{
	CLEANUP(cairn_http_resp_release) struct cairn_http_resp resp = CAIRN_HTTP_RESP_INIT;
	cleanup_free char *scope = NULL;
	cleanup_free char *url = NULL;
	cleanup_free char *what = NULL;
	struct call call = {0};
	int ret;

	memset(out, 0, sizeof(*out));
	ret = manifest_call(&call, &what, &url, &scope, c, "check", repo, reference, 0, err);
	if (ret < 0)
		return ret;
	call.headers[0] = "Accept: " CAIRN_MANIFEST_ACCEPT;
	call.req.method = "HEAD";
	ret = cairn_registry_call(c, &call, &resp, err);
	if (ret < 0)
		return ret;
	if (resp.status == 404)
		return cairn_error_set(err, CAIRN_ENOTFOUND, "%s: not there", what);
	if (resp.status != 200)
		return cairn_registry_status_error(c, &resp, err, what);
	ret = descriptor_from(out, &resp, what, err);
	if (ret < 0)
		return ret;
	if (!out->digest.str[0]) {
		/* No digest header: fetch and hash instead. */
		char *body = NULL;

		ret = cairn_registry_manifest_get(c, repo, reference, &body, NULL, out, err);
		free(body);
		return ret;
	}
	return 0;
}

/*
 * Whether a refused manifest names a blob the registry does not know. Distribution's filesystem
 * driver rewrites a blob's link in place each time a client uploads or mounts the blob, so a
 * manifest PUT that reads the link meanwhile gets DIGEST_INVALID and MANIFEST_BLOB_UNKNOWN for
 * a blob it has.
 */
static int names_unknown_blob(const struct cairn_http_resp *resp)
{
	cleanup_json json_t *j = NULL;
	json_t *e;
	size_t i;

	if (resp->status != 400 || resp->body.len == 0)
		return 0;
	j = json_loadb(resp->body.buf, resp->body.len, 0, NULL);
	json_array_foreach(json_object_get(j, "errors"), i, e)
	{
		const char *code = json_string_value(json_object_get(e, "code"));

		if (code &&
		    (strcmp(code, "MANIFEST_BLOB_UNKNOWN") == 0 ||
		     strcmp(code, "BLOB_UNKNOWN") == 0 || strcmp(code, "DIGEST_INVALID") == 0))
			return 1;
	}
	return 0;
}

int cairn_registry_manifest_put(struct cairn_registry_conn *c, const char *repo,
				const char *reference, const char *media_type, const void *body,
				size_t len, struct cairn_digest *out, struct cairn_error **err)
{
	CLEANUP(cairn_http_resp_release) struct cairn_http_resp resp = CAIRN_HTTP_RESP_INIT;
	cleanup_free char *scope = NULL;
	cleanup_free char *url = NULL;
	cleanup_free char *what = NULL;
	cleanup_free char *ct = xasprintf("Content-Type: %s", media_type);
	cleanup_free char *dg = NULL;
	struct cairn_digest mine;
	struct call call = {0};
	int ret;

	ret = manifest_call(&call, &what, &url, &scope, c, "put", repo, reference, 1, err);
	if (ret < 0)
		return ret;
	call.headers[0] = ct;
	call.req.method = "PUT";
	call.req.body = body;
	call.req.body_len = len;
	ret = cairn_registry_call(c, &call, &resp, err);
	if (ret < 0)
		return ret;
	if (names_unknown_blob(&resp)) {
		cairn_registry_status_error(c, &resp, err, what);
		if (err && *err)
			(*err)->code = CAIRN_ENOTFOUND;
		return CAIRN_ENOTFOUND;
	}
	if (resp.status != 201 && resp.status != 200)
		return cairn_registry_status_error(c, &resp, err, what);
	cairn_digest_of(&mine, body, len);
	dg = cairn_http_resp_header(&resp, "docker-content-digest");
	if (dg && strcmp(dg, mine.str) != 0)
		return cairn_error_set(err, CAIRN_EDIGEST, "%s: registry stored '%s', sent '%s'",
				       what, dg, mine.str);
	if (out)
		*out = mine;
	return 0;
}

int cairn_registry_manifest_delete(struct cairn_registry_conn *c, const char *repo,
				   const struct cairn_digest *dg, struct cairn_error **err)
{
	CLEANUP(cairn_http_resp_release) struct cairn_http_resp resp = CAIRN_HTTP_RESP_INIT;
	cleanup_free char *scope = NULL;
	cleanup_free char *url = NULL;
	cleanup_free char *what = NULL;
	struct call call = {0};
	int ret;

	ret = manifest_call(&call, &what, &url, &scope, c, "delete", repo, dg->str,
			    CAIRN_SCOPE_DELETE, err);
	if (ret < 0)
		return ret;
	call.req.method = "DELETE";
	ret = cairn_registry_call(c, &call, &resp, err);
	if (ret < 0)
		return ret;
	if (resp.status == 202 || resp.status == 200 || resp.status == 204)
		return 0;
	if (resp.status == 404) {
		cairn_registry_status_error(c, &resp, err, what);
		if (err && *err)
			(*err)->code = CAIRN_ENOTFOUND;
		return CAIRN_ENOTFOUND;
	}
	cairn_registry_status_error(c, &resp, err, what);
	if (resp.status == 405)
		cairn_error_wrap(err, "the registry does not allow deleting images (distribution "
				      "needs storage.delete.enabled: true)");
	return err && *err ? (*err)->code : CAIRN_EHTTP;
}

static int config_sink(const void *p, size_t n, void *ud)
{
	struct cairn_buf *b = ud;

	cairn_buf_add(b, p, n);
	return b->err ? CAIRN_ETOOBIG : 0;
}

static int config_restart(void *ud)
{
	cairn_buf_reset(ud);
	return 0;
}

int cairn_registry_image_config(struct cairn_registry_conn *c, const char *repo,
				const char *reference, char **out, size_t *len_out,
				struct cairn_descriptor *desc_out, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf cb = CAIRN_BUF_INIT_MAX(CAIRN_OCI_DOC_MAX);
	cleanup_json json_t *m = NULL;
	cleanup_free char *raw = NULL;
	struct cairn_descriptor d;
	struct cairn_digest cd, got;
	const char *dg;
	size_t len = 0;
	int ret;

	*out = NULL;
	*len_out = 0;
	ret = cairn_registry_manifest_get(c, repo, reference, &raw, &len, &d, err);
	if (ret == 0)
		ret = cairn_json_parse(&m, raw, len, "manifest", err);
	if (ret < 0)
		return ret;
	if (desc_out)
		*desc_out = d;
	dg = json_string_value(json_object_get(json_object_get(m, "config"), "digest"));
	if (!dg || cairn_digest_parse(&cd, dg, strlen(dg), NULL) < 0)
		return 0; /* an index: no config */
	ret = cairn_registry_blob_get(c, repo, &cd, config_sink, config_restart, &cb, err);
	if (ret < 0)
		return ret;
	/* labels of this config steer cleanup and locks: only the bytes the manifest names */
	cairn_digest_of(&got, cb.buf, cb.len);
	if (!cairn_digest_equal(&got, &cd))
		return cairn_error_set(
			err, CAIRN_EDIGEST,
			"%s:%s: config blob '%s' does not match its digest (got '%s')", repo,
			reference, cd.str, got.str);
	*len_out = cb.len;
	*out = cairn_buf_detach(&cb, NULL);
	return 0;
}

/* ---- tags ---- */

static void next_link(const char *value, size_t len, void *ud)
{
	char **out = ud;
	struct cairn_error *e = NULL;
	char *next = NULL;

	if (*out)
		return;
	if (cairn_link_next(&next, value, len, &e) < 0)
		cairn_error_free(e);
	*out = next;
}

int cairn_registry_tags_list(struct cairn_registry_conn *c, const char *repo,
			     int (*fn)(const char *tag, void *ud), void *ud,
			     struct cairn_error **err)
{
	return cairn_registry_tags_list2(c, repo, fn, ud, NULL, err);
}

int cairn_registry_tags_list2(struct cairn_registry_conn *c, const char *repo,
			      int (*fn)(const char *tag, void *ud), void *ud, bool *no_repo,
			      struct cairn_error **err)
{
	cleanup_free char *scope = NULL;
	cleanup_free char *what = NULL;
	cleanup_free char *url = NULL;
	size_t n_tags = 0, tag_bytes = 0;
	int ret, pages = 0;

	ret = cairn_registry_ensure_base(c, err);
	if (ret < 0)
		return ret;
	what = xasprintf("list tags of '%s/%s'", c->r->domain, repo);
	url = cairn_registry_api_url(c, "/v2/%s/tags/list?n=%d", repo, TAGS_PAGE);
	while (url) {
		CLEANUP(cairn_http_resp_release) struct cairn_http_resp resp = CAIRN_HTTP_RESP_INIT;
		cleanup_json json_t *j = NULL;
		char *next = NULL;
		struct call call = {0};
		json_t *tags, *t;
		size_t i;

		if (++pages > 100000)
			return cairn_error_set(err, CAIRN_ETOOBIG, "%s: too many pages", what);
		free(scope);
		cairn_registry_call_init(&call, &scope, repo, 0, "GET", url, what);
		ret = cairn_registry_call(c, &call, &resp, err);
		if (ret < 0)
			return ret;
		if (resp.status == 404 && pages == 1) {
			if (no_repo)
				*no_repo = true;
			return 0; /* no such repository: no tags */
		}
		if (resp.status != 200)
			return cairn_registry_status_error(c, &resp, err, what);
		ret = cairn_json_parse(&j, resp.body.buf, resp.body.len, "tag list", err);
		if (ret < 0)
			return cairn_error_wrap(err, "%s", what);
		tags = json_object_get(j, "tags");
		json_array_foreach(tags, i, t)
		{
			if (!json_is_string(t))
				continue;
			/* a name no reference can hold is none of cairn's, and goes nowhere */
			if (cairn_tag_validate(json_string_value(t), json_string_length(t), NULL) <
			    0) {
				cairn_log(CAIRN_LOG_DEBUG, "%s: not a tag name, skipped: '%s'",
					  what, json_string_value(t));
				continue;
			}
			/* what the caller keeps of a registry that never stops listing is bounded
			 */
			tag_bytes += json_string_length(t);
			if (++n_tags > TAGS_MAX || tag_bytes > TAG_BYTES_MAX)
				return cairn_error_set(err, CAIRN_ETOOBIG,
						       "%s: more than %d tags or %d MiB of names",
						       what, TAGS_MAX, TAG_BYTES_MAX >> 20);
			ret = fn(json_string_value(t), ud);
			if (ret < 0)
				return ret;
		}
		cairn_http_resp_each_header(&resp, "link", next_link, &next);
		free(url);
		url = next ? cairn_url_resolve(c->r->base_url, next) : NULL;
		free(next);
		/* Tags come from the registry only: a next page elsewhere is not followed. */
		if (url && !cairn_registry_is_origin(c->r, url))
			return cairn_error_set(err, CAIRN_EHTTP,
					       "%s: the next page is on another host", what);
	}
	return 0;
}
