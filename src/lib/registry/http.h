/* SPDX-License-Identifier: MIT */
/* One HTTP exchange at a time over a pluggable transport: libcurl in cairn, a fake in tests. */
#ifndef CAIRN_REGISTRY_HTTP_H
#define CAIRN_REGISTRY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cairn/error.h"
#include "util/buf.h"

/* Error bodies and other small responses kept in memory are capped at this many bytes. */
#define CAIRN_HTTP_BODY_MAX (4u * 1024 * 1024)
/* The header lines of one exchange are capped at this many bytes. */
#define CAIRN_HTTP_HEADERS_MAX (256u * 1024)

struct cairn_http_req {
	const char *method; /* "GET", "HEAD", "PUT", "POST", "PATCH", "DELETE" */
	const char *url;
	const char *const *headers; /* "Name: value", NULL-terminated; may be NULL */
	/* Request body: from memory (body, body_len), or streamed from read_fn when set. */
	const void *body;
	size_t body_len;
	/*
	 * Streamed body of body_size bytes: read_fn(buf, n, offset, ud) fills up to n bytes read at
	 * `offset` of the body and returns how many (0 at the end) or -1. Taking the offset lets a
	 * retry send the body again from the start.
	 */
	ssize_t (*read_fn)(char *buf, size_t n, uint64_t offset, void *ud);
	void *read_ud;
	uint64_t body_size;
	/*
	 * Response body: given to write_fn when set and the status is 2xx, else kept in
	 * resp->body up to body_max (CAIRN_HTTP_BODY_MAX when 0). write_fn returns 0 or a
	 * negative cairn code to abort the transfer. Nothing past body_max is read: a 2xx body
	 * over it (or announcing more in Content-Length) ends the exchange with CAIRN_ETOOBIG
	 * "... larger than N bytes"; any other body is cut there, and the exchange succeeds.
	 */
	int (*write_fn)(const void *p, size_t n, void *ud);
	void *write_ud;
	size_t body_max;
	int connect_only; /* only connect (TCP, and TLS for https); send no request */
	int no_verify;	  /* skip TLS verification (only for --insecure-registry hosts) */
};

/* Which deadline ended an exchange (see struct cairn_http_opts). */
enum cairn_http_timeout {
	CAIRN_HTTP_TIMEOUT_NONE = 0,
	CAIRN_HTTP_TIMEOUT_IDLE,  /* no byte came or went for idle_timeout_ms */
	CAIRN_HTTP_TIMEOUT_TOTAL, /* a request with small bodies ran past total_timeout_ms */
};

struct cairn_http_resp {
	int status;
	struct cairn_buf body;
	struct cairn_buf
		headers;       /* "name: value\n" lines of the final response, names lower-cased */
	uint64_t bytes_sent;   /* request body bytes the transport sent */
	int tls_verify_failed; /* the failure was the peer's certificate */
	enum cairn_http_timeout timed_out; /* the failure was a deadline */
};

#define CAIRN_HTTP_RESP_INIT                                      \
	{                                                         \
		.body = CAIRN_BUF_INIT, .headers = CAIRN_BUF_INIT \
	}

void cairn_http_resp_release(struct cairn_http_resp *r);
/* Reset for reuse (a retry): status 0, empty body and headers. */
void cairn_http_resp_reset(struct cairn_http_resp *r);
/* The value of the first header `name` (lower case) as a new string, or NULL. */
char *cairn_http_resp_header(const struct cairn_http_resp *r, const char *name);
/* Each value of header `name`, in order: calls fn(value, ud) (value borrowed for the call). */
void cairn_http_resp_each_header(const struct cairn_http_resp *r, const char *name,
				 void (*fn)(const char *value, size_t len, void *ud), void *ud);

/* The deadlines when struct cairn_http_opts gives none: docker's dial timeout, and 4 times that. */
#define CAIRN_HTTP_IDLE_TIMEOUT_MS 30000u
#define CAIRN_HTTP_TOTAL_TIMEOUT_MS (4 * CAIRN_HTTP_IDLE_TIMEOUT_MS)

struct cairn_http_opts {
	const char *ca_file;   /* extra CA certificates (PEM), or NULL */
	const char *cert_file; /* client certificate for mutual TLS, or NULL */
	const char *key_file;
	const char *user_agent;
	/*
	 * An exchange ends when no byte has come or gone for idle_timeout_ms, connecting
	 * included (0: CAIRN_HTTP_IDLE_TIMEOUT_MS). One whose bodies both live in memory (no
	 * read_fn, no write_fn: manifests, tokens, error answers) also ends total_timeout_ms
	 * after it started (0: CAIRN_HTTP_TOTAL_TIMEOUT_MS), so a registry that drips bytes cannot
	 * hold it; streamed blobs of any size have only the idle deadline.
	 */
	unsigned idle_timeout_ms;
	unsigned total_timeout_ms;
};

/*
 * The transport seam. request() performs one exchange and never follows redirects: a status of
 * any value is success (0); only transport failures (DNS, connect, TLS, reset, a deadline, a
 * callback abort) are errors: CAIRN_ENET with curl's message (resp->timed_out says which
 * deadline passed), CAIRN_ETOOBIG for a body over body_max, or the callback's code.
 */
struct cairn_http_ops {
	int (*request)(void *impl, const struct cairn_http_req *req, struct cairn_http_resp *resp,
		       struct cairn_error **err);
	void (*free)(void *impl);
};

struct cairn_http {
	const struct cairn_http_ops *ops;
	void *impl;
};

/* A libcurl transport with one kept-alive connection cache; not shared between threads. */
int cairn_http_curl_new(struct cairn_http **out, const struct cairn_http_opts *o,
			struct cairn_error **err);
/* Wraps a transport (takes ownership of nothing); free with cairn_http_free. */
struct cairn_http *cairn_http_new(const struct cairn_http_ops *ops, void *impl);
void cairn_http_free(struct cairn_http *h);

/*
 * One line of the -vv trace (without its newline) as shown, appended to `b`: a credential
 * header's value (Authorization, Proxy-Authorization, Cookie, Set-Cookie) as `<redacted>`, in
 * curl's text lines too (HTTP/2 headers come as "h2h3 [authorization: ...]"); a URL's
 * user:password@ and every query cut.
 */
void cairn_http_trace_line(struct cairn_buf *b, bool header, const char *s, size_t n);

static inline int cairn_http_request(struct cairn_http *h, const struct cairn_http_req *req,
				     struct cairn_http_resp *resp, struct cairn_error **err)
{
	return h->ops->request(h->impl, req, resp, err);
}

#endif
