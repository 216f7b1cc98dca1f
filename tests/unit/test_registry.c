/* SPDX-License-Identifier: MIT */
/* Unit tests of the registry client over a scripted fake transport: auth, retries, uploads. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common.h"
#include "cairn/image.h"
#include "cairn/registry.h"
#include "registry/http.h"
#include "registry/registry_internal.h"
#include "util/buf.h"

#define MAX_STEPS 32
#define DG_A "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

/* One scripted exchange: what the client must send, and what it gets back. */
struct step {
	const char *method;
	const char *url_has; /* substring the URL must contain */
	const char *hdr_has; /* substring one request header must contain, or NULL */
	int status;	     /* 0: a transport error instead */
	const char *headers; /* response headers, "name: value\n" lines, names lower case */
	const char *body;    /* response body */
	size_t cut_after;    /* with status 0 and a request body: bytes read before failing */
	enum cairn_http_timeout timed_out; /* a deadline ends the exchange after status and body */
};

struct script {
	const struct step *steps;
	size_t n, at;
	size_t transports; /* connections made */
	/* what was sent */
	char *urls[MAX_STEPS];
	char *auth[MAX_STEPS];
	struct cairn_buf bodies[MAX_STEPS];
};

static int fake_request(void *impl, const struct cairn_http_req *req, struct cairn_http_resp *resp,
			struct cairn_error **err)
{
	struct script *s = impl;
	const struct step *st;
	size_t i = s->at;
	int hdr_ok;

	cairn_http_resp_reset(resp);
	if (i >= s->n)
		fail_msg("unexpected request %zu: %s %s", i, req->method, req->url);
	st = &s->steps[i];
	s->at++;
	if (strcmp(req->method, st->method) != 0 || !strstr(req->url, st->url_has))
		fail_msg("request %zu: got %s %s, want %s ...%s...", i, req->method, req->url,
			 st->method, st->url_has);
	s->urls[i] = xstrdup(req->url);
	hdr_ok = st->hdr_has == NULL;
	for (const char *const *h = req->headers; h && *h; h++) {
		if (strncmp(*h, "Authorization:", 14) == 0)
			s->auth[i] = xstrdup(*h);
		if (st->hdr_has && strstr(*h, st->hdr_has))
			hdr_ok = 1;
	}
	if (!hdr_ok)
		fail_msg("request %zu (%s %s): no header with '%s'", i, req->method, req->url,
			 st->hdr_has);
	cairn_buf_init(&s->bodies[i], 0);
	if (req->read_fn) {
		char buf[4096];
		uint64_t off = 0;

		while (off < req->body_size) {
			size_t want = sizeof(buf);
			ssize_t got;

			if (st->status == 0 && st->cut_after && off >= st->cut_after)
				break;
			if (want > req->body_size - off)
				want = (size_t)(req->body_size - off);
			if (st->status == 0 && st->cut_after && off + want > st->cut_after)
				want = (size_t)(st->cut_after - off);
			got = req->read_fn(buf, want, off, req->read_ud);
			assert_true(got > 0);
			cairn_buf_add(&s->bodies[i], buf, (size_t)got);
			off += (uint64_t)got;
		}
	} else if (req->body_len) {
		cairn_buf_add(&s->bodies[i], req->body, req->body_len);
	}
	if (st->status == 0 && st->timed_out)
		resp->timed_out = st->timed_out;
	if (st->status == 0)
		return cairn_error_set(err, CAIRN_ENET, "%s %s: connection reset", req->method,
				       req->url);
	resp->status = st->status;
	if (st->headers)
		cairn_buf_addstr(&resp->headers, st->headers);
	if (st->body) {
		if (req->write_fn && st->status >= 200 && st->status < 300) {
			int r = req->write_fn(st->body, strlen(st->body), req->write_ud);

			if (r < 0)
				return cairn_error_set(err, r, "sink failed");
		} else {
			cairn_buf_addstr(&resp->body, st->body);
		}
	}
	if (st->timed_out) {
		resp->timed_out = st->timed_out;
		return cairn_error_set(err, CAIRN_ENET, "%s %s: no data", req->method, req->url);
	}
	return 0;
}

static void fake_free(void *impl)
{
	(void)impl;
}

static const struct cairn_http_ops fake_ops = {.request = fake_request, .free = fake_free};

static int fake_factory(struct cairn_http **out, const struct cairn_http_opts *o, void *ud,
			struct cairn_error **err)
{
	(void)o;
	(void)err;
	((struct script *)ud)->transports++;
	*out = cairn_http_new(&fake_ops, ud);
	return 0;
}

static void script_release(struct script *s)
{
	for (size_t i = 0; i < MAX_STEPS; i++) {
		free(s->urls[i]);
		free(s->auth[i]);
		if (i < s->at)
			cairn_buf_release(&s->bodies[i]);
	}
}

struct client {
	struct cairn_registry *r;
	struct cairn_registry_conn *c;
};

static void client_open(struct client *cl, struct script *s, const char *user, const char *pass)
{
	struct cairn_registry_opts o = CAIRN_REGISTRY_OPTS_INIT;
	struct cairn_error *err = NULL;

	o.username = user;
	o.password = pass;
	o.docker_config_dir = "/nonexistent";
	o.base_delay_ms = 1;
	o.max_delay_ms = 2;
	o.max_attempts = 4;
	o.put_whole_max = -1; /* the PATCH path; test_upload_whole_in_put sets its own */
	assert_int_equal(cairn_registry_open(&cl->r, "registry.example", &o, &err), 0);
	cairn_registry_set_transport(cl->r, fake_factory, s);
	assert_int_equal(cairn_registry_conn_new(&cl->c, cl->r, &err), 0);
}

static void client_close(struct client *cl, struct script *s)
{
	/* every scripted step was used */
	assert_int_equal(s->at, s->n);
	cairn_registry_conn_free(cl->c);
	cairn_registry_free(cl->r);
	script_release(s);
}

#define RUN(steps_, user_, pass_)                                     \
	struct script s = {.steps = steps_, .n = ARRAY_SIZE(steps_)}; \
	struct client cl;                                             \
	struct cairn_error *err = NULL;                               \
	client_open(&cl, &s, user_, pass_)

static void test_bearer_token_flow_and_cache(void **state)
{
	static const struct step steps[] = {
		{"HEAD", "https://registry.example/v2/team/app/blobs/" DG_A, NULL, 401,
		 "www-authenticate: Bearer realm=\"https://auth.example/token\",service=\"reg\","
		 "scope=\"repository:team/app:pull\"\n"},
		{"GET", "https://auth.example/token?", NULL, 200, NULL,
		 "{\"token\":\"tok-123\",\"expires_in\":300}"},
		{"HEAD", "/v2/team/app/blobs/", "Bearer tok-123", 200, "content-length: 42\n"},
		/* same scope again: the cached token, no token request */
		{"HEAD", "/v2/team/app/blobs/", "Bearer tok-123", 404},
	};
	struct cairn_digest dg;
	uint64_t size = 0;
	RUN(steps, "alice", "s3cret");

	(void)state;
	assert_int_equal(cairn_digest_parse(&dg, DG_A, strlen(DG_A), &err), 0);
	assert_int_equal(cairn_registry_blob_head(cl.c, "team/app", &dg, &size, &err), 0);
	assert_int_equal(size, 42);
	assert_non_null(strstr(s.urls[1], "service=reg"));
	assert_non_null(strstr(s.urls[1], "scope=repository%3Ateam%2Fapp%3Apull"));
	/* the token request carries the credentials as Basic auth */
	assert_non_null(s.auth[1]);
	assert_non_null(strstr(s.auth[1], "Basic YWxpY2U6czNjcmV0"));
	assert_null(s.auth[0]);
	assert_int_equal(cairn_registry_blob_head(cl.c, "team/app", &dg, NULL, &err),
			 CAIRN_ENOTFOUND);
	assert_null(strstr(err->msg, "tok-123"));
	cairn_error_free(err);
	client_close(&cl, &s);
}

static void test_basic_auth_and_refusal(void **state)
{
	static const struct step steps[] = {
		{"HEAD", "/v2/a/manifests/v1", NULL, 401,
		 "www-authenticate: Basic realm=\"Registry Realm\"\n"},
		{"HEAD", "/v2/a/manifests/v1", "Basic YWxpY2U6czNjcmV0", 401,
		 "www-authenticate: Basic realm=\"Registry Realm\"\n",
		 "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication "
		 "required\"}]}"},
	};
	struct cairn_descriptor d;
	RUN(steps, "alice", "s3cret");

	(void)state;
	assert_int_equal(cairn_registry_manifest_head(cl.c, "a", "v1", &d, &err), CAIRN_EAUTH);
	assert_int_equal(err->http_status, 401);
	assert_non_null(strstr(err->msg, "HTTP 401 Unauthorized: UNAUTHORIZED: authentication "
					 "required"));
	assert_non_null(strstr(err->msg, "registry.example/a:v1"));
	assert_null(strstr(err->msg, "s3cret"));
	assert_null(strstr(err->msg, "YWxpY2U6czNjcmV0"));
	cairn_error_free(err);
	client_close(&cl, &s);
}

static void test_retries_5xx_429_and_resets(void **state)
{
	static const struct step steps[] = {
		{"HEAD", "/v2/a/blobs/", NULL, 503},
		{"HEAD", "/v2/a/blobs/", NULL, 429, "retry-after: 0\n"},
		{"HEAD", "/v2/a/blobs/", NULL, 0},
		{"HEAD", "/v2/a/blobs/", NULL, 200},
	};
	struct cairn_digest dg;
	RUN(steps, NULL, NULL);

	(void)state;
	cairn_digest_of(&dg, "x", 1);
	assert_int_equal(cairn_registry_blob_head(cl.c, "a", &dg, NULL, &err), 0);
	assert_int_equal(cairn_registry_request_count(cl.r), 4);
	client_close(&cl, &s);
}

static void test_retries_give_up(void **state)
{
	static const struct step steps[] = {
		{"GET", "/v2/a/manifests/v1", NULL, 502},
		{"GET", "/v2/a/manifests/v1", NULL, 502},
		{"GET", "/v2/a/manifests/v1", NULL, 502},
		{"GET", "/v2/a/manifests/v1", NULL, 502, NULL, "bad gateway"},
	};
	char *body = NULL;
	RUN(steps, NULL, NULL);

	(void)state;
	assert_int_equal(cairn_registry_manifest_get(cl.c, "a", "v1", &body, NULL, NULL, &err),
			 CAIRN_EHTTP);
	assert_null(body);
	assert_int_equal(err->http_status, 502);
	assert_non_null(strstr(err->msg, "HTTP 502 Bad Gateway"));
	cairn_error_free(err);
	client_close(&cl, &s);
}

static const char blob[] = "0123456789abcdefghijklmnopqrstuvwxyz";

static ssize_t read_blob(char *buf, size_t n, uint64_t offset, void *ud)
{
	(void)ud;
	if (offset >= sizeof(blob) - 1)
		return 0;
	if (n > sizeof(blob) - 1 - offset)
		n = sizeof(blob) - 1 - (size_t)offset;
	memcpy(buf, blob + offset, n);
	return (ssize_t)n;
}

static void test_upload_post_patch_put(void **state)
{
	static const struct step steps[] = {
		{"POST", "/v2/a/blobs/uploads/", NULL, 202,
		 "location: /v2/a/blobs/uploads/u1?_state=s1\n"},
		{"PATCH", "https://registry.example/v2/a/blobs/uploads/u1?_state=s1",
		 "Content-Type: application/octet-stream", 202,
		 "location: http://registry.example/v2/a/blobs/uploads/u1?_state=s2\n"},
		{"PUT", "/v2/a/blobs/uploads/u1?_state=s2&digest=sha256%3A", NULL, 201},
	};
	struct cairn_digest dg;
	RUN(steps, NULL, NULL);

	(void)state;
	cairn_digest_of(&dg, blob, sizeof(blob) - 1);
	assert_int_equal(
		cairn_registry_blob_upload(cl.c, "a", &dg, sizeof(blob) - 1, read_blob, NULL, &err),
		0);
	assert_string_equal(s.bodies[1].buf, blob);
	/* the digest goes on the Location the registry gave, joined with '&' */
	assert_non_null(strstr(s.urls[2], dg.str + 7));
	assert_non_null(strstr(s.urls[2], "http://registry.example/"));
	client_close(&cl, &s);
}

/* A blob up to put_whole_max goes in the PUT that ends the upload: no PATCH. */
static void test_upload_whole_in_put(void **state)
{
	static const struct step steps[] = {
		{"POST", "/v2/a/blobs/uploads/", NULL, 202,
		 "location: /v2/a/blobs/uploads/u1?_state=s1\n"},
		{"PUT", "/v2/a/blobs/uploads/u1?_state=s1&digest=sha256%3A",
		 "Content-Type: application/octet-stream", 201},
	};
	struct script s = {.steps = steps, .n = ARRAY_SIZE(steps)};
	struct cairn_registry_opts o = CAIRN_REGISTRY_OPTS_INIT;
	struct cairn_error *err = NULL;
	struct client cl;
	struct cairn_digest dg;

	(void)state;
	o.docker_config_dir = "/nonexistent";
	o.put_whole_max = sizeof(blob) - 1;
	assert_int_equal(cairn_registry_open(&cl.r, "registry.example", &o, &err), 0);
	cairn_registry_set_transport(cl.r, fake_factory, &s);
	assert_int_equal(cairn_registry_conn_new(&cl.c, cl.r, &err), 0);
	cairn_digest_of(&dg, blob, sizeof(blob) - 1);
	assert_int_equal(
		cairn_registry_blob_upload(cl.c, "a", &dg, sizeof(blob) - 1, read_blob, NULL, &err),
		0);
	assert_string_equal(s.bodies[1].buf, blob);
	client_close(&cl, &s);
}

static void test_upload_resumes_after_reset(void **state)
{
	static const struct step steps[] = {
		{"POST", "/v2/a/blobs/uploads/", NULL, 202,
		 "location: /v2/a/blobs/uploads/u1?_state=s1\n"},
		{"PATCH", "/uploads/u1?_state=s1", NULL, 0, NULL, NULL, 10},
		{"GET", "/uploads/u1?_state=s1", NULL, 204,
		 "range: 0-9\nlocation: /v2/a/blobs/uploads/u1?_state=s2\n"},
		{"PATCH", "/uploads/u1?_state=s2", "Content-Range: 10-35", 202,
		 "location: /v2/a/blobs/uploads/u1?_state=s3\n"},
		{"PUT", "/uploads/u1?_state=s3&digest=", NULL, 201},
	};
	struct cairn_digest dg;
	RUN(steps, NULL, NULL);

	(void)state;
	cairn_digest_of(&dg, blob, sizeof(blob) - 1);
	assert_int_equal(
		cairn_registry_blob_upload(cl.c, "a", &dg, sizeof(blob) - 1, read_blob, NULL, &err),
		0);
	assert_int_equal(s.bodies[1].len, 10);
	/* the resumed PATCH sends only the rest */
	assert_string_equal(s.bodies[3].buf, blob + 10);
	client_close(&cl, &s);
}

static void test_upload_digest_refused(void **state)
{
	static const struct step steps[] = {
		{"POST", "/v2/a/blobs/uploads/", NULL, 202, "location: /u?_state=1\n"},
		{"PATCH", "/u?_state=1", NULL, 202, "location: /u?_state=2\n"},
		{"PUT", "/u?_state=2&digest=", NULL, 400, NULL,
		 "{\"errors\":[{\"code\":\"DIGEST_INVALID\",\"message\":\"provided digest did not "
		 "match uploaded content\"}]}"},
		/* the failed upload session is not left behind */
		{"DELETE", "/u?_state=2", NULL, 204},
	};
	struct cairn_digest dg;
	RUN(steps, NULL, NULL);

	(void)state;
	cairn_digest_of(&dg, "other", 5);
	assert_int_equal(
		cairn_registry_blob_upload(cl.c, "a", &dg, sizeof(blob) - 1, read_blob, NULL, &err),
		CAIRN_EDIGEST);
	assert_non_null(strstr(err->msg, "DIGEST_INVALID"));
	cairn_error_free(err);
	client_close(&cl, &s);
}

static void test_mount_declined_cancels_session(void **state)
{
	static const struct step steps[] = {
		{"POST", "/v2/b/blobs/uploads/?mount=sha256:", NULL, 202,
		 "location: /v2/b/blobs/uploads/u9?_state=x\n"},
		{"DELETE", "/v2/b/blobs/uploads/u9?_state=x", NULL, 204},
		{"POST", "/v2/b/blobs/uploads/?mount=", NULL, 201},
	};
	struct cairn_digest dg;
	RUN(steps, NULL, NULL);

	(void)state;
	cairn_digest_of(&dg, "x", 1);
	assert_int_equal(cairn_registry_blob_mount(cl.c, "b", "a/src", &dg, &err), CAIRN_ENOTFOUND);
	cairn_error_clear(&err);
	assert_non_null(strstr(s.urls[0], "from=a%2Fsrc"));
	assert_int_equal(cairn_registry_blob_mount(cl.c, "b", "a/src", &dg, &err), 0);
	client_close(&cl, &s);
}

/* A declined mount's upload session carries the upload: no DELETE, no second POST. */
static void test_mount_declined_session_used(void **state)
{
	static const struct step steps[] = {
		{"POST", "/v2/b/blobs/uploads/?mount=sha256:", NULL, 202,
		 "location: /v2/b/blobs/uploads/u9?_state=x\n"},
		{"PATCH", "/v2/b/blobs/uploads/u9?_state=x", NULL, 202,
		 "location: /v2/b/blobs/uploads/u9?_state=y\n"},
		{"PUT", "/v2/b/blobs/uploads/u9?_state=y&digest=sha256%3A", NULL, 201},
		{"POST", "/v2/b/blobs/uploads/?mount=sha256:", NULL, 202,
		 "location: /v2/b/blobs/uploads/u10?_state=z\n"},
		{"DELETE", "/v2/b/blobs/uploads/u10?_state=z", NULL, 204},
	};
	struct cairn_digest dg;
	char *session = NULL;
	RUN(steps, NULL, NULL);

	(void)state;
	cairn_digest_of(&dg, blob, sizeof(blob) - 1);
	assert_int_equal(cairn_registry_blob_mount_keep(cl.c, "b", "a/src", &dg, &session, &err),
			 CAIRN_ENOTFOUND);
	cairn_error_clear(&err);
	assert_non_null(session);
	assert_int_equal(cairn_registry_blob_upload_in(cl.c, "b", session, &dg, sizeof(blob) - 1,
						       read_blob, NULL, &err),
			 0);
	assert_string_equal(s.bodies[1].buf, blob);
	/* declined again, and not needed after all: the caller ends the session */
	assert_int_equal(cairn_registry_blob_mount_keep(cl.c, "b", "a/src", &dg, &session, &err),
			 CAIRN_ENOTFOUND);
	cairn_error_clear(&err);
	cairn_registry_blob_cancel(cl.c, "b", session);
	assert_int_equal(s.at, ARRAY_SIZE(steps));
	client_close(&cl, &s);
}

/*
 * A declined mount's session on another origin gets no credentials; when it fails, the upload
 * starts again on a new session of the registry's own.
 */
static void test_mount_declined_session_elsewhere(void **state)
{
	static const struct step steps[] = {
		{"POST", "/v2/b/blobs/uploads/?mount=sha256:", NULL, 401,
		 "www-authenticate: Basic realm=\"r\"\n"},
		{"POST", "/v2/b/blobs/uploads/?mount=sha256:", "Basic YWxpY2U6czNjcmV0", 202,
		 "location: https://storage.example/up/9?_state=x\n"},
		{"PATCH", "https://storage.example/up/9?_state=x", NULL, 404},
		{"DELETE", "https://storage.example/up/9?_state=x", NULL, 204},
		{"POST", "/v2/b/blobs/uploads/", "Basic YWxpY2U6czNjcmV0", 202,
		 "location: /v2/b/blobs/uploads/u2?_state=y\n"},
		{"PATCH", "/v2/b/blobs/uploads/u2?_state=y", "Basic", 202,
		 "location: /v2/b/blobs/uploads/u2?_state=z\n"},
		{"PUT", "/v2/b/blobs/uploads/u2?_state=z&digest=sha256%3A", "Basic", 201},
	};
	struct cairn_digest dg;
	char *session = NULL;
	RUN(steps, "alice", "s3cret");

	(void)state;
	cairn_digest_of(&dg, blob, sizeof(blob) - 1);
	assert_int_equal(cairn_registry_blob_mount_keep(cl.c, "b", "a/src", &dg, &session, &err),
			 CAIRN_ENOTFOUND);
	cairn_error_clear(&err);
	assert_int_equal(cairn_registry_blob_upload_in(cl.c, "b", session, &dg, sizeof(blob) - 1,
						       read_blob, NULL, &err),
			 0);
	assert_null(s.auth[2]);
	assert_null(s.auth[3]);
	assert_string_equal(s.bodies[5].buf, blob);
	client_close(&cl, &s);
}

static void test_manifest_get_verifies_digest(void **state)
{
	static const struct step steps[] = {
		{"GET",
		 "/v2/a/manifests/sha256:", "Accept: application/vnd.oci.image.manifest.v1+json",
		 200, "content-type: application/vnd.oci.image.manifest.v1+json\n", "{}"},
		{"GET", "/v2/a/manifests/v1", NULL, 200,
		 "content-type: application/vnd.docker.distribution.manifest.v2+json; "
		 "charset=utf-8\n",
		 "{\"schemaVersion\":2}"},
	};
	struct cairn_descriptor d;
	char *body = NULL;
	size_t len = 0;
	RUN(steps, NULL, NULL);

	(void)state;
	assert_int_equal(cairn_registry_manifest_get(cl.c, "a", DG_A, &body, &len, &d, &err),
			 CAIRN_EDIGEST);
	assert_non_null(strstr(err->msg, "content hashes to"));
	cairn_error_clear(&err);
	assert_int_equal(cairn_registry_manifest_get(cl.c, "a", "v1", &body, &len, &d, &err), 0);
	assert_string_equal(body, "{\"schemaVersion\":2}");
	assert_string_equal(d.media_type, "application/vnd.docker.distribution.manifest.v2+json");
	assert_int_equal(d.size, len);
	free(body);
	client_close(&cl, &s);
}

static int collect_tag(const char *tag, void *ud)
{
	cairn_buf_addf(ud, "%s,", tag);
	return 0;
}

static void test_tags_pagination(void **state)
{
	static const struct step steps[] = {
		{"GET", "/v2/a/tags/list?n=1000", NULL, 200,
		 "link: </v2/a/tags/list?n=1000&last=b>; rel=\"next\"\n",
		 "{\"name\":\"a\",\"tags\":[\"a\",\"b\"]}"},
		{"GET", "https://registry.example/v2/a/tags/list?n=1000&last=b", NULL, 200, NULL,
		 "{\"name\":\"a\",\"tags\":[\"c\",\"x\\u001b[2J\",\"../up\",\"\",\"d\"]}"},
	};
	struct cairn_buf tags = CAIRN_BUF_INIT;
	RUN(steps, NULL, NULL);

	(void)state;
	assert_int_equal(cairn_registry_tags_list(cl.c, "a", collect_tag, &tags, &err), 0);
	/* names no reference can hold (escapes, "..", "") are skipped */
	assert_string_equal(tags.buf, "a,b,c,d,");
	cairn_buf_release(&tags);
	client_close(&cl, &s);
}

static void test_manifest_put(void **state)
{
	static const struct step steps[] = {
		{"PUT", "/v2/a/manifests/v1",
		 "Content-Type: application/vnd.oci.image.manifest.v1+json", 201,
		 "docker-content-digest: " DG_A "\n"},
		{"PUT", "/v2/a/manifests/v2", NULL, 201},
	};
	struct cairn_digest dg;
	RUN(steps, NULL, NULL);

	(void)state;
	/* the registry claims another digest than what was sent: refused */
	assert_int_equal(cairn_registry_manifest_put(cl.c, "a", "v1",
						     "application/vnd.oci.image.manifest.v1+json",
						     "{}", 2, &dg, &err),
			 CAIRN_EDIGEST);
	cairn_error_clear(&err);
	assert_int_equal(cairn_registry_manifest_put(cl.c, "a", "v2",
						     "application/vnd.oci.image.manifest.v1+json",
						     "{}", 2, &dg, &err),
			 0);
	assert_string_equal(s.bodies[1].buf, "{}");
	client_close(&cl, &s);
}

/* DELETE asks for a token with the delete action; 404 is "gone"; 405 says what to enable. */
static void test_manifest_delete(void **state)
{
	static const struct step steps[] = {
		{"DELETE", "https://registry.example/v2/team/app/manifests/" DG_A, NULL, 401,
		 "www-authenticate: Bearer realm=\"https://auth.example/token\",service=\"reg\","
		 "scope=\"repository:team/app:delete\"\n"},
		{"GET", "https://auth.example/token?", NULL, 200, NULL, "{\"token\":\"tok-del\"}"},
		{"DELETE", "/v2/team/app/manifests/" DG_A, "Bearer tok-del", 202},
		{"DELETE", "/v2/team/app/manifests/" DG_A, "Bearer tok-del", 404, NULL,
		 "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}"},
		{"DELETE", "/v2/team/app/manifests/" DG_A, "Bearer tok-del", 405, NULL,
		 "{\"errors\":[{\"code\":\"UNSUPPORTED\",\"message\":\"The operation is "
		 "unsupported.\"}]}"},
	};
	struct cairn_digest dg;
	RUN(steps, "alice", "s3cret");

	(void)state;
	assert_int_equal(cairn_digest_parse(&dg, DG_A, strlen(DG_A), &err), 0);
	assert_int_equal(cairn_registry_manifest_delete(cl.c, "team/app", &dg, &err), 0);
	assert_non_null(strstr(s.urls[1], "scope=repository%3Ateam%2Fapp%3Adelete"));
	assert_int_equal(cairn_registry_manifest_delete(cl.c, "team/app", &dg, &err),
			 CAIRN_ENOTFOUND);
	cairn_error_clear(&err);
	assert_int_equal(cairn_registry_manifest_delete(cl.c, "team/app", &dg, &err), CAIRN_EHTTP);
	assert_non_null(strstr(err->msg, "does not allow deleting images"));
	assert_non_null(strstr(err->msg, "UNSUPPORTED"));
	cairn_error_free(err);
	client_close(&cl, &s);
}

static void test_manifest_put_blob_unknown(void **state)
{
	static const struct step steps[] = {
		/* what distribution answers while another client rewrites a blob's link */
		{"PUT", "/v2/a/manifests/v1", NULL, 400, NULL,
		 "{\"errors\":[{\"code\":\"DIGEST_INVALID\",\"message\":\"provided digest did "
		 "not match uploaded content\"},{\"code\":\"MANIFEST_BLOB_UNKNOWN\",\"message\":"
		 "\"blob unknown to registry\",\"detail\":\"" DG_A "\"}]}"},
		{"PUT", "/v2/a/manifests/v1", NULL, 400, NULL,
		 "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\",\"message\":\"blob unknown\"}]}"},
		/* any other refusal stays a plain HTTP error */
		{"PUT", "/v2/a/manifests/v1", NULL, 400, NULL,
		 "{\"errors\":[{\"code\":\"MANIFEST_INVALID\",\"message\":\"manifest invalid\"}]}"},
	};
	RUN(steps, NULL, NULL);

	(void)state;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(
			cairn_registry_manifest_put(cl.c, "a", "v1",
						    "application/vnd.oci.image.manifest.v1+json",
						    "{}", 2, NULL, &err),
			i < 2 ? CAIRN_ENOTFOUND : CAIRN_EHTTP);
		assert_int_equal(err->code, i < 2 ? CAIRN_ENOTFOUND : CAIRN_EHTTP);
		assert_int_equal(err->http_status, 400);
		assert_non_null(strstr(err->msg, i == 0 ? "MANIFEST_BLOB_UNKNOWN: blob unknown to "
							  "registry '" DG_A "'"
							: "HTTP 400"));
		cairn_error_clear(&err);
	}
	client_close(&cl, &s);
}

static void test_identity_token_oauth2_with_fallback(void **state)
{
	static const struct step steps[] = {
		{"GET", "/v2/a/tags/list", NULL, 401,
		 "www-authenticate: Bearer realm=\"https://auth.example/token\",service=\"reg\"\n"},
		/* the OAuth2 refresh-token grant first */
		{"POST", "https://auth.example/token",
		 "Content-Type: application/x-www-form-urlencoded", 404},
		/* no such endpoint: the GET flow */
		{"GET", "https://auth.example/token?", NULL, 200, NULL,
		 "{\"access_token\":\"tok-9\",\"expires_in\":300}"},
		{"GET", "/v2/a/tags/list", "Bearer tok-9", 200, NULL, "{\"tags\":[]}"},
	};
	char dir[] = "/tmp/cairn-test-registry-XXXXXX";
	struct cairn_registry_opts o = CAIRN_REGISTRY_OPTS_INIT;
	struct script s = {.steps = steps, .n = ARRAY_SIZE(steps)};
	struct cairn_buf tags = CAIRN_BUF_INIT;
	struct cairn_error *err = NULL;
	struct client cl;
	char *path, *cmd;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = xasprintf("%s/config.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	/* "PHRva2VuPjo=" is base64 of "<token>:" */
	fputs("{\"auths\":{\"registry.example\":{\"auth\":\"PHRva2VuPjo=\","
	      "\"identitytoken\":\"refresh-abc\"}}}",
	      f);
	fclose(f);
	o.docker_config_dir = dir;
	o.base_delay_ms = 1;
	assert_int_equal(cairn_registry_open(&cl.r, "registry.example", &o, &err), 0);
	cairn_registry_set_transport(cl.r, fake_factory, &s);
	assert_int_equal(cairn_registry_conn_new(&cl.c, cl.r, &err), 0);
	assert_int_equal(cairn_registry_tags_list(cl.c, "a", collect_tag, &tags, &err), 0);
	assert_non_null(strstr(s.bodies[1].buf, "grant_type=refresh_token"));
	assert_non_null(strstr(s.bodies[1].buf, "refresh_token=refresh-abc"));
	assert_non_null(strstr(s.bodies[1].buf, "service=reg"));
	assert_non_null(strstr(s.bodies[1].buf, "scope=repository%3Aa%3Apull"));
	cairn_buf_release(&tags);
	client_close(&cl, &s);
	cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(path);
}

/*
 * The registry's credentials go to its own origin only: an upload Location elsewhere (another
 * scheme, host or port) gets neither the Basic credentials nor a token.
 */
static void test_upload_location_origin(void **state)
{
	static const struct {
		const char *location;
		int gets_auth;
	} c[] = {
		{"/v2/a/blobs/uploads/u1?_state=s", 1},
		{"https://REGISTRY.example/v2/a/blobs/uploads/u1", 1},
		{"https://registry.example:443/v2/a/blobs/uploads/u1", 1},
		{"http://registry.example/v2/a/blobs/uploads/u1", 0},
		{"https://registry.example:5000/v2/a/blobs/uploads/u1", 0},
		{"https://storage.example/v2/a/blobs/uploads/u1", 0},
		{"https://registry.example@storage.example/u1", 0},
		{"https://registry.example.storage.example/u1", 0},
		{"//storage.example/u1", 0},
	};
	struct cairn_digest dg;

	(void)state;
	cairn_digest_of(&dg, blob, sizeof(blob) - 1);
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		cleanup_free char *loc = xasprintf("location: %s\n", c[i].location);
		const struct step steps[] = {
			{"POST", "/v2/a/blobs/uploads/", NULL, 401,
			 "www-authenticate: Basic realm=\"r\"\n"},
			{"POST", "/v2/a/blobs/uploads/", "Basic YWxpY2U6czNjcmV0", 202, loc},
			{"PATCH", "/u1", NULL, 202, loc},
			{"PUT", "/u1", NULL, 201},
		};
		RUN(steps, "alice", "s3cret");

		assert_int_equal(cairn_registry_blob_upload(cl.c, "a", &dg, sizeof(blob) - 1,
							    read_blob, NULL, &err),
				 0);
		for (size_t k = 2; k < 4; k++)
			if (!s.auth[k] != !c[i].gets_auth)
				fail_msg("%s: request %zu %s credentials", c[i].location, k,
					 s.auth[k] ? "got" : "lacks");
		client_close(&cl, &s);
	}
}

/* A token realm elsewhere gets the Basic credentials; the token stays with the registry. */
static void test_token_stays_with_registry(void **state)
{
	static const struct step steps[] = {
		{"POST", "/v2/a/blobs/uploads/", NULL, 401,
		 "www-authenticate: Bearer realm=\"https://auth.example/token\",service=\"reg\"\n"},
		{"GET", "https://auth.example/token?", "Basic YWxpY2U6czNjcmV0", 200, NULL,
		 "{\"token\":\"tok-1\",\"expires_in\":300}"},
		{"POST", "/v2/a/blobs/uploads/", "Bearer tok-1", 202,
		 "location: https://storage.example/up/1?_state=x\n"},
		{"PATCH", "https://storage.example/up/1?_state=x", NULL, 202,
		 "location: https://registry.example/v2/a/blobs/uploads/1?_state=y\n"},
		{"PUT", "https://registry.example/v2/a/blobs/uploads/1?_state=y&digest=",
		 "Bearer tok-1", 201},
	};
	struct cairn_digest dg;
	RUN(steps, "alice", "s3cret");

	(void)state;
	cairn_digest_of(&dg, blob, sizeof(blob) - 1);
	assert_int_equal(
		cairn_registry_blob_upload(cl.c, "a", &dg, sizeof(blob) - 1, read_blob, NULL, &err),
		0);
	assert_null(s.auth[3]);
	client_close(&cl, &s);
}

static int sink_buf(const void *p, size_t n, void *ud)
{
	cairn_buf_add(ud, p, n);
	return 0;
}

static int sink_restart(void *ud)
{
	cairn_buf_reset(ud);
	return 0;
}

/*
 * A blob download follows redirects itself: storage elsewhere gets no credentials, and its 401
 * teaches nothing; back on the registry's origin the token is sent again.
 */
static void test_blob_redirects(void **state)
{
	static const struct step steps[] = {
		{"GET", "/v2/a/blobs/" DG_A, NULL, 401,
		 "www-authenticate: Bearer realm=\"https://auth.example/token\"\n"},
		{"GET", "https://auth.example/token?", NULL, 200, NULL, "{\"token\":\"tok-2\"}"},
		{"GET", "/v2/a/blobs/" DG_A, "Bearer tok-2", 307,
		 "location: https://storage.example/b?sig=1\n"},
		{"GET", "https://storage.example/b?sig=1", NULL, 302, "location: /c\n"},
		{"GET", "https://storage.example/c", NULL, 307,
		 "location: https://registry.example/v2/a/blobs/x\n"},
		{"GET", "https://registry.example/v2/a/blobs/x", "Bearer tok-2", 302,
		 "location: https://storage.example/d\n"},
		{"GET", "https://storage.example/d", NULL, 200, NULL, "blob bytes"},
		/* a 401 from storage is its own business: no token fetch, no retry */
		{"GET", "/v2/a/blobs/" DG_A, "Bearer tok-2", 307,
		 "location: https://storage.example/e\n"},
		{"GET", "https://storage.example/e", NULL, 401,
		 "www-authenticate: Bearer realm=\"https://evil.example/token\"\n"},
		/* only http(s) */
		{"GET", "/v2/a/blobs/" DG_A, "Bearer tok-2", 307, "location: file:///etc/passwd\n"},
	};
	struct cairn_buf got = CAIRN_BUF_INIT;
	struct cairn_digest dg;
	RUN(steps, "alice", "s3cret");

	(void)state;
	assert_int_equal(cairn_digest_parse(&dg, DG_A, strlen(DG_A), &err), 0);
	assert_int_equal(
		cairn_registry_blob_get(cl.c, "a", &dg, sink_buf, sink_restart, &got, &err), 0);
	assert_string_equal(got.buf, "blob bytes");
	assert_null(s.auth[3]);
	assert_null(s.auth[4]);
	assert_null(s.auth[6]);
	assert_int_equal(
		cairn_registry_blob_get(cl.c, "a", &dg, sink_buf, sink_restart, &got, &err),
		CAIRN_EAUTH);
	assert_null(s.auth[8]);
	cairn_error_clear(&err);
	assert_int_equal(
		cairn_registry_blob_get(cl.c, "a", &dg, sink_buf, sink_restart, &got, &err),
		CAIRN_EHTTP);
	assert_non_null(strstr(err->msg, "not http(s)"));
	cairn_error_free(err);
	cairn_buf_release(&got);
	client_close(&cl, &s);
}

/* Credentials never go over plain HTTP to a realm that is neither loopback nor named insecure. */
static void test_plain_http_realm(void **state)
{
	static const struct step refused[] = {
		{"HEAD", "/v2/a/manifests/v1", NULL, 401,
		 "www-authenticate: Bearer realm=\"http://auth.example/token\"\n"},
	};
	static const struct step anonymous[] = {
		{"HEAD", "/v2/a/manifests/v1", NULL, 401,
		 "www-authenticate: Bearer realm=\"http://auth.example/token\"\n"},
		{"GET", "http://auth.example/token?", NULL, 200, NULL, "{\"token\":\"tok-3\"}"},
		{"HEAD", "/v2/a/manifests/v1", "Bearer tok-3", 200,
		 "docker-content-digest: " DG_A "\n"},
	};
	struct cairn_descriptor d;

	(void)state;
	{
		RUN(refused, "alice", "s3cret");

		assert_int_equal(cairn_registry_manifest_head(cl.c, "a", "v1", &d, &err),
				 CAIRN_EAUTH);
		assert_non_null(strstr(err->msg, "'http://auth.example:80' is plain HTTP"));
		cairn_error_free(err);
		client_close(&cl, &s);
	}
	{
		RUN(anonymous, NULL, NULL);

		assert_int_equal(cairn_registry_manifest_head(cl.c, "a", "v1", &d, &err), 0);
		assert_null(s.auth[1]);
		client_close(&cl, &s);
	}
}

/*
 * A deadline is final: no retry of a registry that does not answer, or of a small body that
 * stalls; a blob download that stalls mid-body starts over, like a broken one.
 */
static void test_deadlines_end_calls(void **state)
{
	static const struct step steps[] = {
		{"GET", "/v2/a/manifests/v1", NULL, 0, NULL, NULL, 0, CAIRN_HTTP_TIMEOUT_IDLE},
		{"GET", "/v2/a/manifests/v1", NULL, 200, NULL, "{", 0, CAIRN_HTTP_TIMEOUT_IDLE},
		{"GET", "/v2/a/manifests/v1", NULL, 200, NULL, "{", 0, CAIRN_HTTP_TIMEOUT_TOTAL},
		{"GET", "/v2/a/blobs/" DG_A, NULL, 0, NULL, NULL, 0, CAIRN_HTTP_TIMEOUT_IDLE},
		{"GET", "/v2/a/blobs/" DG_A, NULL, 200, NULL, "par", 0, CAIRN_HTTP_TIMEOUT_IDLE},
		{"GET", "/v2/a/blobs/" DG_A, NULL, 200, NULL, "whole"},
	};
	struct cairn_buf got = CAIRN_BUF_INIT;
	struct cairn_digest dg;
	char *body = NULL;
	RUN(steps, NULL, NULL);

	(void)state;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(
			cairn_registry_manifest_get(cl.c, "a", "v1", &body, NULL, NULL, &err),
			CAIRN_ENET);
		assert_int_equal(s.at, (size_t)i + 1);
		cairn_error_clear(&err);
	}
	assert_int_equal(cairn_digest_parse(&dg, DG_A, strlen(DG_A), &err), 0);
	assert_int_equal(
		cairn_registry_blob_get(cl.c, "a", &dg, sink_buf, sink_restart, &got, &err),
		CAIRN_ENET);
	assert_int_equal(s.at, 4);
	cairn_error_clear(&err);
	assert_int_equal(
		cairn_registry_blob_get(cl.c, "a", &dg, sink_buf, sink_restart, &got, &err), 0);
	assert_string_equal(got.buf, "whole");
	cairn_buf_release(&got);
	client_close(&cl, &s);
}

/*
 * A build or a publish passes one pool to every image call: the registry of a host is opened
 * once (its credentials looked up once), its scheme probed once, each token fetched once, and
 * the connection of one call serves the next.
 */
static void test_pool_one_registry_per_host(void **state)
{
	static const struct step steps[] = {
		/* the TLS probe of a loopback registry, once */
		{"GET", "https://127.0.0.1:5000/v2/", NULL, 200},
		{"HEAD", "https://127.0.0.1:5000/v2/team/app/manifests/1", NULL, 401,
		 "www-authenticate: Bearer realm=\"https://auth.example/token\",service=\"reg\"\n"},
		{"GET", "https://auth.example/token?", "Basic YWxpY2U6czNjcmV0", 200, NULL,
		 "{\"token\":\"tok-123\",\"expires_in\":300}"},
		{"HEAD", "/v2/team/app/manifests/1", "Bearer tok-123", 200,
		 "content-type: application/vnd.oci.image.manifest.v1+json\n"
		 "docker-content-digest: " DG_A "\ncontent-length: 2\n"},
		/* the next call: no probe, no 401, no token request, the same connection */
		{"HEAD", "/v2/team/app/manifests/2", "Bearer tok-123", 200,
		 "content-type: application/vnd.oci.image.manifest.v1+json\n"
		 "docker-content-digest: " DG_A "\ncontent-length: 2\n"},
		{"HEAD", "/v2/team/app/manifests/3", "Bearer tok-123", 404},
	};
	struct script s = {.steps = steps, .n = ARRAY_SIZE(steps)};
	struct cairn_image_opts o = CAIRN_IMAGE_OPTS_INIT;
	struct cairn_registry_pool *pool = NULL;
	struct cairn_registry *r1 = NULL, *r2 = NULL, *other = NULL;
	const char *tags[] = {"2", "3"};
	struct cairn_descriptor d, two[2];
	struct cairn_ref app1 = CAIRN_REF_INIT, app = CAIRN_REF_INIT;
	struct cairn_error *err = NULL;

	(void)state;
	assert_int_equal(cairn_ref_parse(&app1, "127.0.0.1:5000/team/app:1", &err), 0);
	assert_int_equal(cairn_repo_parse(&app, "127.0.0.1:5000/team/app", &err), 0);
	o.registry.username = "alice";
	o.registry.password = "s3cret";
	o.registry.docker_config_dir = "/nonexistent";
	assert_int_equal(cairn_registry_pool_new(&pool, &o.registry, &err), 0);
	cairn_registry_pool_set_transport(pool, fake_factory, &s);
	o.registries = pool;
	assert_int_equal(cairn_image_remote_digest(&d, &app1, &o, &err), 0);
	assert_string_equal(d.digest.str, DG_A);
	assert_int_equal(cairn_image_remote_digests(two, &app, tags, 2, &o, &err), 0);
	assert_string_equal(two[0].digest.str, DG_A);
	assert_string_equal(two[1].digest.str, "");
	assert_int_equal(s.at, s.n);
	assert_int_equal(s.transports, 1);
	/* one registry per host */
	assert_int_equal(cairn_registry_pool_get(&r1, pool, "127.0.0.1:5000", &err), 0);
	assert_int_equal(cairn_registry_pool_get(&r2, pool, "127.0.0.1:5000", &err), 0);
	assert_ptr_equal(r1, r2);
	/* the probe is a handshake, no request */
	assert_int_equal(cairn_registry_request_count(r1), s.n - 1);
	assert_int_equal(cairn_registry_pool_get(&other, pool, "registry.example", &err), 0);
	assert_ptr_not_equal(other, r1);
	cairn_registry_pool_free(pool);
	cairn_ref_release(&app1);
	cairn_ref_release(&app);
	script_release(&s);
}

static void test_pool_bad_options(void **state)
{
	struct cairn_registry_opts o = CAIRN_REGISTRY_OPTS_INIT;
	struct cairn_registry_pool *pool = NULL;
	struct cairn_error *err = NULL;

	(void)state;
	o.timeout_secs = CAIRN_REGISTRY_TIMEOUT_MAX + 1;
	assert_int_equal(cairn_registry_pool_new(&pool, &o, &err), CAIRN_EINVAL);
	assert_null(pool);
	cairn_error_free(err);
	cairn_registry_pool_free(NULL);
}

/* A connection given back serves the next caller; one in use is never handed out twice. */
static void test_conn_get_put(void **state)
{
	struct script s = {0};
	struct cairn_registry_conn *a = NULL, *b = NULL, *c = NULL;
	struct cairn_registry *r = NULL;
	struct cairn_error *err = NULL;

	(void)state;
	assert_int_equal(cairn_registry_open(&r, "registry.example", NULL, &err), 0);
	cairn_registry_set_transport(r, fake_factory, &s);
	assert_int_equal(cairn_registry_conn_get(&a, r, &err), 0);
	assert_int_equal(cairn_registry_conn_get(&b, r, &err), 0);
	assert_ptr_not_equal(a, b);
	cairn_registry_conn_put(a);
	assert_int_equal(cairn_registry_conn_get(&c, r, &err), 0);
	assert_ptr_equal(c, a);
	assert_int_equal(s.transports, 2);
	cairn_registry_conn_put(b);
	cairn_registry_conn_put(c);
	cairn_registry_conn_put(NULL);
	/* the registry frees the connections it holds */
	cairn_registry_free(r);
}

static void trace_is(bool header, const char *in, const char *want)
{
	struct cairn_buf b = CAIRN_BUF_INIT;

	cairn_http_trace_line(&b, header, in, strlen(in));
	assert_string_equal(b.buf, want);
	cairn_buf_release(&b);
}

/* -vv: no credential in a traced header or curl text line, no URL user info or query */
static void test_trace_lines(void **state)
{
	(void)state;
	trace_is(true, "Authorization: Bearer s3cret", "Authorization: <redacted>");
	trace_is(true, "proxy-authorization: Basic cHU6cHc=", "proxy-authorization: <redacted>");
	trace_is(true, "Set-Cookie: sid=s3cret; Path=/", "Set-Cookie: <redacted>");
	trace_is(true, "Content-Type: application/json", "Content-Type: application/json");
	trace_is(false, "h2h3 [authorization: Bearer s3cret]", "h2h3 [authorization: <redacted>");
	trace_is(false, "[HTTP/2] [1] [Authorization: Basic YTpi]",
		 "[HTTP/2] [1] [Authorization: <redacted>");
	trace_is(false, "[HTTP/2] [1] [cookie: a=b]", "[HTTP/2] [1] [cookie: <redacted>");
	trace_is(false, "Uses proxy env variable http_proxy == 'http://u:p@127.0.0.1:3128'",
		 "Uses proxy env variable http_proxy == 'http://<userinfo cut>@127.0.0.1:3128'");
	trace_is(true, "Location: https://s3.example/b?X-Amz-Signature=s3cret&a=b",
		 "Location: https://s3.example/b?<query cut>");
	trace_is(true, "GET /v2/a/blobs/sha256:00?X-Amz-Signature=s3cret HTTP/1.1",
		 "GET /v2/a/blobs/sha256:00?<query cut> HTTP/1.1");
	trace_is(false, "Connected to h (127.0.0.1) port 5000 (#0)",
		 "Connected to h (127.0.0.1) port 5000 (#0)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trace_lines),
		cmocka_unit_test(test_bearer_token_flow_and_cache),
		cmocka_unit_test(test_basic_auth_and_refusal),
		cmocka_unit_test(test_retries_5xx_429_and_resets),
		cmocka_unit_test(test_retries_give_up),
		cmocka_unit_test(test_upload_post_patch_put),
		cmocka_unit_test(test_upload_whole_in_put),
		cmocka_unit_test(test_upload_resumes_after_reset),
		cmocka_unit_test(test_upload_digest_refused),
		cmocka_unit_test(test_mount_declined_cancels_session),
		cmocka_unit_test(test_mount_declined_session_used),
		cmocka_unit_test(test_mount_declined_session_elsewhere),
		cmocka_unit_test(test_manifest_get_verifies_digest),
		cmocka_unit_test(test_tags_pagination),
		cmocka_unit_test(test_manifest_put),
		cmocka_unit_test(test_manifest_delete),
		cmocka_unit_test(test_manifest_put_blob_unknown),
		cmocka_unit_test(test_identity_token_oauth2_with_fallback),
		cmocka_unit_test(test_upload_location_origin),
		cmocka_unit_test(test_token_stays_with_registry),
		cmocka_unit_test(test_blob_redirects),
		cmocka_unit_test(test_plain_http_realm),
		cmocka_unit_test(test_deadlines_end_calls),
		cmocka_unit_test(test_pool_one_registry_per_host),
		cmocka_unit_test(test_pool_bad_options),
		cmocka_unit_test(test_conn_get_put),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
