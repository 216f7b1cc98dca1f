/* SPDX-License-Identifier: MIT */
/* Registry blobs: HEAD, cross-repository mount, resumable upload and download. */
#include "common.h"
#include "cairn/registry.h"
#include "registry/http.h"
#include "registry/link.h"
#include "registry/registry_internal.h"
#include "util/parse.h"

int cairn_registry_blob_head(struct cairn_registry_conn *c, const char *repo,
			     const struct cairn_digest *dg, uint64_t *size_out,
			     struct cairn_error **err)
{
	CLEANUP(cairn_http_resp_release) struct cairn_http_resp resp = CAIRN_HTTP_RESP_INIT;
	cleanup_free char *scope = NULL;
	cleanup_free char *url = NULL;
	cleanup_free char *what = NULL;
	cleanup_free char *len = NULL;
	struct call call = {0};
	int ret;

	if (size_out)
		*size_out = 0;
	ret = cairn_registry_ensure_base(c, err);
	if (ret < 0)
		return ret;
	what = xasprintf("check blob '%s' in '%s/%s'", dg->str, c->r->domain, repo);
	url = cairn_registry_api_url(c, "/v2/%s/blobs/%s", repo, dg->str);
	cairn_registry_call_init(&call, &scope, repo, 0, "HEAD", url, what);
	ret = cairn_registry_call(c, &call, &resp, err);
	if (ret < 0)
		return ret;
	if (resp.status == 404)
		return cairn_error_set(err, CAIRN_ENOTFOUND, "%s: not there", what);
	if (resp.status != 200)
		return cairn_registry_status_error(c, &resp, err, what);
	len = cairn_http_resp_header(&resp, "content-length");
	if (len && size_out) {
		struct cairn_error *e = NULL;

		if (cairn_parse_u64(size_out, len, UINT64_MAX, "Content-Length", &e) < 0)
			cairn_error_free(e);
	}
	return 0;
}

static int cancel_upload(struct cairn_registry_conn *c, const char *location, const char *repo)
{
	CLEANUP(cairn_http_resp_release) struct cairn_http_resp resp = CAIRN_HTTP_RESP_INIT;
	cleanup_free char *scope = NULL;
	cleanup_free char *url = cairn_url_resolve(c->r->base_url, location);
	struct cairn_error *e = NULL;
	struct call call = {0};

	cairn_registry_call_init(&call, &scope, repo, 1, "DELETE", url, "cancel upload");
	call.no_retry = 1;
	if (cairn_registry_call(c, &call, &resp, &e) < 0)
		cairn_error_free(e);
	return 0;
}

/* A mount; when the registry declines by opening an upload, `session` (or NULL: cancelled). */
static int mount(struct cairn_registry_conn *c, const char *repo, const char *from,
		 const struct cairn_digest *dg, char **session, struct cairn_error **err)
{
	CLEANUP(cairn_http_resp_release) struct cairn_http_resp resp = CAIRN_HTTP_RESP_INIT;
	cleanup_free char *push_scope = NULL;
	cleanup_free char *pull_scope = xasprintf("repository:%s:pull", from);
	cleanup_free char *url = NULL;
	cleanup_free char *what = NULL;
	cleanup_free char *from_esc = cairn_url_escape(from);
	struct call call = {0};
	int ret;

	ret = cairn_registry_ensure_base(c, err);
	if (ret < 0)
		return ret;
	what = xasprintf("mount blob '%s' from '%s' into '%s/%s'", dg->str, from, c->r->domain,
			 repo);
	url = cairn_registry_api_url(c, "/v2/%s/blobs/uploads/?mount=%s&from=%s", repo, dg->str,
				     from_esc);
	push_scope = xasprintf("repository:%s:pull,push", repo);
	/* The pull scope on the source rides along; a registry that refuses it just declines. */
	call.scopes[0] = push_scope;
	call.scopes[1] = pull_scope;
	call.scopes[2] = NULL;
	call.what = what;
	call.req.method = "POST";
	call.req.url = url;
	ret = cairn_registry_call(c, &call, &resp, err);
	if (ret < 0)
		return ret;
	if (resp.status == 201)
		return 0;
	if (resp.status == 202) {
		/* Not mounted; the registry opened an upload instead: kept, or left behind */
		cleanup_free char *loc = cairn_http_resp_header(&resp, "location");

		if (loc && session)
			*session = TAKE_PTR(loc);
		else if (loc)
			cancel_upload(c, loc, repo);
		return cairn_error_set(err, CAIRN_ENOTFOUND, "%s: declined", what);
	}
	if (resp.status == 401 || resp.status == 403 || resp.status == 404)
		return cairn_error_set(err, CAIRN_ENOTFOUND, "%s: declined (HTTP %d)", what,
				       resp.status);
	return cairn_registry_status_error(c, &resp, err, what);
}

int cairn_registry_blob_mount(struct cairn_registry_conn *c, const char *repo, const char *from,
			      const struct cairn_digest *dg, struct cairn_error **err)
{
	return mount(c, repo, from, dg, NULL, err);
}

int cairn_registry_blob_mount_keep(struct cairn_registry_conn *c, const char *repo,
				   const char *from, const struct cairn_digest *dg, char **session,
				   struct cairn_error **err)
{
	*session = NULL;
	return mount(c, repo, from, dg, session, err);
}

void cairn_registry_blob_cancel(struct cairn_registry_conn *c, const char *repo, char *session)
{
	if (session)
		cancel_upload(c, session, repo);
	free(session);
}

struct offset_reader {
	cairn_read_at_fn read_at;
	void *ud;
	uint64_t base;
};

static ssize_t read_from_base(char *buf, size_t n, uint64_t offset, void *ud)
{
	struct offset_reader *o = ud;

	return o->read_at(buf, n, o->base + offset, o->ud);
}

/* Where an interrupted upload stands: bytes the registry has, from GET on the session. */
static int upload_status(struct cairn_registry_conn *c, const char *repo, const char *location,
			 uint64_t *have, char **new_location)
{
	CLEANUP(cairn_http_resp_release) struct cairn_http_resp resp = CAIRN_HTTP_RESP_INIT;
	cleanup_free char *scope = NULL;
	cleanup_free char *url = cairn_url_resolve(c->r->base_url, location);
	cleanup_free char *range = NULL;
	struct cairn_error *e = NULL;
	struct call call = {0};
	const char *dash;
	uint64_t end;

	*have = 0;
	*new_location = NULL;
	cairn_registry_call_init(&call, &scope, repo, 1, "GET", url, "upload status");
	if (cairn_registry_call(c, &call, &resp, &e) < 0) {
		cairn_error_free(e);
		return -1;
	}
	if (resp.status != 204)
		return -1;
	range = cairn_http_resp_header(&resp, "range");
	*new_location = cairn_http_resp_header(&resp, "location");
	dash = range ? strrchr(range, '-') : NULL;
	if (!dash || cairn_parse_u64(&end, dash + 1, UINT64_MAX, "Range", &e) < 0) {
		cairn_error_free(e);
		return 0; /* nothing received yet */
	}
	*have = end + 1;
	return 0;
}

/*
 * An answer that means the upload session is lost or out of step (a retried or cut PATCH the
 * registry half took): starting again with a new POST fixes it.
 */
static int upload_broken(const struct cairn_http_resp *resp)
{
	return cairn_registry_retryable_status(resp->status) || resp->status == 404 ||
	       resp->status == 416 ||
	       (resp->status == 400 && resp->body.len && strstr(resp->body.buf, "BLOB_UPLOAD"));
}

static int upload_once(struct cairn_registry_conn *c, const char *repo,
		       const struct cairn_digest *dg, uint64_t size, cairn_read_at_fn read_at,
		       void *ud, const char *what, int *transport_failed, char **session,
		       struct cairn_error **err)
{
	CLEANUP(cairn_http_resp_release) struct cairn_http_resp resp = CAIRN_HTTP_RESP_INIT;
	cleanup_free char *scope = NULL;
	cleanup_free char *url = cairn_registry_api_url(c, "/v2/%s/blobs/uploads/", repo);
	cleanup_free char *put_url = NULL;
	struct offset_reader rd = {.read_at = read_at, .ud = ud};
	uint64_t sent = 0;
	struct call call = {0};
	bool whole = c->r->put_whole_max && size <= c->r->put_whole_max;
	int ret, resumes = 0;

	char **location = session; /* the caller cancels the session if this fails */

	*transport_failed = 0;
	cairn_registry_call_init(&call, &scope, repo, 1, "POST", url, what);
	/* a session the caller has (a declined mount opened it) is used as it is */
	if (!*location) {
		ret = cairn_registry_call(c, &call, &resp, err);
		if (ret < 0)
			return ret;
		if (resp.status != 202)
			return cairn_registry_status_error(c, &resp, err, what);
		(*location) = cairn_http_resp_header(&resp, "location");
		if (!(*location))
			return cairn_error_set(err, CAIRN_EHTTP,
					       "%s: upload started without a Location", what);
	}
	/*
	 * A small blob goes whole in the PUT that ends the upload (see put_whole_max); a big one
	 * in one streaming PATCH that resumes where the registry stands after a broken connection.
	 */
	while (!whole && (sent < size || size == 0)) {
		cleanup_free char *patch_url = cairn_url_resolve(c->r->base_url, (*location));
		char range_hdr[80];
		struct cairn_error *e = NULL;
		struct call patch = {0};

		patch.what = what;
		patch.scopes[0] = scope;
		patch.headers[0] = "Content-Type: application/octet-stream";
		if (sent) {
			snprintf(range_hdr, sizeof(range_hdr), "Content-Range: %llu-%llu",
				 (unsigned long long)sent, (unsigned long long)size - 1);
			patch.headers[1] = range_hdr;
		}
		patch.no_retry = 1;
		patch.req.method = "PATCH";
		patch.req.url = patch_url;
		rd.base = sent;
		patch.req.read_fn = read_from_base;
		patch.req.read_ud = &rd;
		patch.req.body_size = size - sent;
		ret = cairn_registry_call(c, &patch, &resp, &e);
		if (ret == 0 && resp.status == 202) {
			cairn_error_free(e);
			free(*location);
			(*location) = cairn_http_resp_header(&resp, "location");
			if (!(*location))
				return cairn_error_set(err, CAIRN_EHTTP,
						       "%s: PATCH answered without a Location",
						       what);
			sent = size;
			break;
		}
		if (ret == 0) {
			cairn_error_free(e);
			*transport_failed = upload_broken(&resp);
			return cairn_registry_status_error(c, &resp, err, what);
		}
		if (ret != CAIRN_ENET || ++resumes >= c->r->max_attempts) {
			*err = e;
			*transport_failed = ret == CAIRN_ENET;
			return ret;
		}
		{
			uint64_t have;
			char *newloc = NULL;

			cairn_log(CAIRN_LOG_WARN, "%s: %s; resuming", what, e->msg);
			cairn_error_free(e);
			cairn_registry_backoff(c, resumes - 1, NULL);
			if (upload_status(c, repo, (*location), &have, &newloc) < 0 ||
			    have > size) {
				free(newloc);
				*transport_failed = 1;
				return cairn_error_set(err, CAIRN_ENET,
						       "%s: upload broke and cannot be resumed",
						       what);
			}
			if (newloc) {
				free(*location);
				(*location) = newloc;
			}
			sent = have;
			cairn_log(CAIRN_LOG_DEBUG, "%s: registry has %llu of %llu bytes", what,
				  (unsigned long long)have, (unsigned long long)size);
			if (have == size)
				break;
		}
	}
	{
		cleanup_free char *base = cairn_url_resolve(c->r->base_url, (*location));
		cleanup_free char *dg_esc = cairn_url_escape(dg->str);
		struct call put = {0};

		/* distribution's Location already holds "?_state=": join the digest with '&'. */
		put_url = xasprintf("%s%sdigest=%s", base, strchr(base, '?') ? "&" : "?", dg_esc);
		put.what = what;
		put.scopes[0] = scope;
		put.req.method = "PUT";
		put.req.url = put_url;
		if (whole) {
			/* a body cut short cannot be sent again on this session: a new one, then */
			put.no_retry = 1;
			put.headers[0] = "Content-Type: application/octet-stream";
			rd.base = 0;
			put.req.read_fn = read_from_base;
			put.req.read_ud = &rd;
			put.req.body_size = size;
		}
		ret = cairn_registry_call(c, &put, &resp, err);
		if (ret < 0) {
			*transport_failed = whole && ret == CAIRN_ENET;
			return ret;
		}
		if (resp.status == 201 || resp.status == 204)
			return 0;
		*transport_failed = upload_broken(&resp);
		if (resp.status == 400 && resp.body.len &&
		    strstr(resp.body.buf, "DIGEST_INVALID")) {
			ret = cairn_registry_status_error(c, &resp, err, what);
			(*err)->code = CAIRN_EDIGEST;
			return CAIRN_EDIGEST;
		}
		return cairn_registry_status_error(c, &resp, err, what);
	}
}

int cairn_registry_blob_upload(struct cairn_registry_conn *c, const char *repo,
			       const struct cairn_digest *dg, uint64_t size,
			       cairn_read_at_fn read_at, void *ud, struct cairn_error **err)
{
	return cairn_registry_blob_upload_in(c, repo, NULL, dg, size, read_at, ud, err);
}

int cairn_registry_blob_upload_in(struct cairn_registry_conn *c, const char *repo, char *session,
				  const struct cairn_digest *dg, uint64_t size,
				  cairn_read_at_fn read_at, void *ud, struct cairn_error **err)
{
	cleanup_free char *first = session;
	cleanup_free char *what = NULL;
	int ret;

	ret = cairn_registry_ensure_base(c, err);
	if (ret < 0) {
		if (first)
			cancel_upload(c, first, repo);
		return ret;
	}
	what = xasprintf("upload blob '%s' to '%s/%s'", dg->str, c->r->domain, repo);
	for (int attempt = 0;; attempt++) {
		struct cairn_error *e = NULL;
		cleanup_free char *loc = TAKE_PTR(first); /* the first attempt's, else NULL */
		int transport_failed = 0;

		ret = upload_once(c, repo, dg, size, read_at, ud, what, &transport_failed, &loc,
				  &e);
		if (ret == 0)
			return 0;
		if (loc)
			cancel_upload(c, loc, repo);
		if (!transport_failed || attempt + 1 >= c->r->max_attempts) {
			*err = e;
			return ret;
		}
		cairn_log(CAIRN_LOG_WARN, "%s; starting the upload again", e->msg);
		cairn_error_free(e);
		cairn_registry_backoff(c, attempt, NULL);
	}
}

int cairn_registry_blob_get(struct cairn_registry_conn *c, const char *repo,
			    const struct cairn_digest *dg, cairn_sink_fn sink,
			    int (*restart)(void *ud), void *ud, struct cairn_error **err)
{
	CLEANUP(cairn_http_resp_release) struct cairn_http_resp resp = CAIRN_HTTP_RESP_INIT;
	cleanup_free char *scope = NULL;
	cleanup_free char *url = NULL;
	cleanup_free char *what = NULL;
	struct call call = {0};
	int ret;

	ret = cairn_registry_ensure_base(c, err);
	if (ret < 0)
		return ret;
	what = xasprintf("download blob '%s' from '%s/%s'", dg->str, c->r->domain, repo);
	url = cairn_registry_api_url(c, "/v2/%s/blobs/%s", repo, dg->str);
	cairn_registry_call_init(&call, &scope, repo, 0, "GET", url, what);
	call.req.write_fn = sink;
	call.req.write_ud = ud;
	call.follow_redirects = 1;
	call.restart = restart;
	call.restart_ud = ud;
	ret = cairn_registry_call(c, &call, &resp, err);
	if (ret < 0)
		return ret;
	if (resp.status != 200)
		return cairn_registry_status_error(c, &resp, err, what);
	return 0;
}
