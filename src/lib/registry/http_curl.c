/* SPDX-License-Identifier: MIT */
/* The libcurl transport: one easy handle per thread, kept-alive connections, streamed bodies. */
#include "common.h"
#include "cairn/registry.h"
#include "registry/http.h"
#include "registry/registry_internal.h"
#include "util/interrupt.h"

#include <ctype.h>
#include <curl/curl.h>
#include <strings.h>

struct curl_transport {
	CURL *curl;
	struct cairn_http_opts opts;
	char *ca_file, *cert_file, *key_file, *user_agent;
	char errbuf[CURL_ERROR_SIZE];
};

/* Per-request state shared with the callbacks. */
struct exchange {
	const struct cairn_http_req *req;
	struct cairn_http_resp *resp;
	uint64_t offset; /* next request body byte to send */
	int cb_error;	 /* cairn code a callback aborted with */
	size_t body_max;
};

int cairn_registry_global_init(struct cairn_error **err)
{
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);

	if (rc != CURLE_OK)
		return cairn_error_set(err, CAIRN_EINTERNAL, "initialise libcurl: %s",
				       curl_easy_strerror(rc));
	return 0;
}

void cairn_registry_global_cleanup(void)
{
	cairn_registry_global_cleanup_cache();
	curl_global_cleanup();
}

void cairn_http_resp_release(struct cairn_http_resp *r)
{
	cairn_buf_release(&r->body);
	cairn_buf_release(&r->headers);
	r->status = 0;
	r->bytes_sent = 0;
	r->tls_verify_failed = 0;
}

void cairn_http_resp_reset(struct cairn_http_resp *r)
{
	cairn_buf_reset(&r->body);
	cairn_buf_reset(&r->headers);
	r->status = 0;
	r->bytes_sent = 0;
	r->tls_verify_failed = 0;
}

void cairn_http_resp_each_header(const struct cairn_http_resp *r, const char *name,
				 void (*fn)(const char *value, size_t len, void *ud), void *ud)
{
	size_t n = strlen(name);
	const char *p = r->headers.buf, *end = r->headers.buf + r->headers.len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;

		if ((size_t)(line_end - p) > n + 1 && memcmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1;

			while (v < line_end && (*v == ' ' || *v == '\t'))
				v++;
			fn(v, (size_t)(line_end - v), ud);
		}
		p = line_end + 1;
	}
}

static void first_value(const char *value, size_t len, void *ud)
{
	char **out = ud;

	if (!*out)
		*out = xstrndup(value, len);
}

char *cairn_http_resp_header(const struct cairn_http_resp *r, const char *name)
{
	char *out = NULL;

	cairn_http_resp_each_header(r, name, first_value, &out);
	return out;
}

char *cairn_url_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct cairn_buf b = CAIRN_BUF_INIT;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			cairn_buf_addch(&b, (char)*p);
		} else {
			char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};

			cairn_buf_add(&b, enc, 3);
		}
	}
	return cairn_buf_detach(&b, NULL);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct exchange *x = ud;
	size_t len = size * n, end = len;
	const char *colon;

	while (end && (p[end - 1] == '\r' || p[end - 1] == '\n'))
		end--;
	if (end >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		/* A new response (after a redirect or 100 Continue): keep only the final one. */
		const char *sp = memchr(p, ' ', end);

		cairn_buf_reset(&x->resp->headers);
		x->resp->status = 0;
		if (sp && (size_t)(sp - p) + 4 <= end && isdigit((unsigned char)sp[1]) &&
		    isdigit((unsigned char)sp[2]) && isdigit((unsigned char)sp[3]))
			x->resp->status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
		return len;
	}
	colon = memchr(p, ':', end);
	if (!colon)
		return len;
	for (const char *c = p; c < colon; c++)
		cairn_buf_addch(&x->resp->headers, (char)tolower((unsigned char)*c));
	cairn_buf_add(&x->resp->headers, colon, end - (size_t)(colon - p));
	cairn_buf_addch(&x->resp->headers, '\n');
	return len;
}

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
	struct exchange *x = ud;
	size_t len = size * n;
	int st = x->resp->status;

	if (x->req->write_fn && st >= 200 && st < 300) {
		int ret = x->req->write_fn(x->req->write_ud, p, len);

		if (ret < 0) {
			x->cb_error = ret;
			return CURL_WRITEFUNC_ERROR;
		}
		return len;
	}
	/* Error bodies only explain; past the cap they are cut, not fatal. */
	if (x->resp->body.len + len <= x->body_max)
		cairn_buf_add(&x->resp->body, p, len);
	return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
	struct exchange *x = ud;
	const struct cairn_http_req *req = x->req;
	size_t want = size * n;

	if (req->read_fn) {
		ssize_t got;

		if (x->offset >= req->body_size)
			return 0;
		if (want > req->body_size - x->offset)
			want = (size_t)(req->body_size - x->offset);
		got = req->read_fn(req->read_ud, buf, want, x->offset);
		if (got < 0 || (got == 0 && want > 0)) {
			x->cb_error = CAIRN_EOS;
			return CURL_READFUNC_ABORT;
		}
		x->offset += (uint64_t)got;
		return (size_t)got;
	}
	if (x->offset >= req->body_len)
		return 0;
	if (want > req->body_len - x->offset)
		want = req->body_len - (size_t)x->offset;
	memcpy(buf, (const char *)req->body + x->offset, want);
	x->offset += want;
	return want;
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
	struct exchange *x = ud;

	/*
	 * A streamed body is never re-sent by libcurl behind the caller's back: the registry may
	 * hold part of it already, and only the caller knows how to resume an upload.
	 */
	if (origin != SEEK_SET || offset < 0 || x->req->read_fn)
		return CURL_SEEKFUNC_CANTSEEK;
	x->offset = (uint64_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* Called about once a second at least, even while nothing moves: ends a transfer at a signal. */
static int on_xferinfo(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct exchange *x = ud;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (!cairn_interrupted())
		return 0;
	x->cb_error = CAIRN_EINTERRUPTED;
	return 1;
}

/* Trace of headers only, with credentials cut: bodies may hold tokens, so they never appear. */
static int on_debug(CURL *c, curl_infotype type, char *data, size_t size, void *ud)
{
	const char *dir;

	(void)c;
	(void)ud;
	if (type == CURLINFO_HEADER_OUT)
		dir = "> ";
	else if (type == CURLINFO_HEADER_IN)
		dir = "< ";
	else if (type == CURLINFO_TEXT)
		dir = "* ";
	else
		return 0;
	while (size) {
		char *nl = memchr(data, '\n', size);
		size_t len = nl ? (size_t)(nl - data) + 1 : size;
		size_t show = len;

		while (show && (data[show - 1] == '\n' || data[show - 1] == '\r'))
			show--;
		if (show >= 14 && strncasecmp(data, "authorization:", 14) == 0)
			cairn_log(CAIRN_LOG_TRACE, "%sAuthorization: <redacted>", dir);
		else if (show)
			cairn_log(CAIRN_LOG_TRACE, "%s%.*s", dir, (int)show, data);
		data += len;
		size -= len;
	}
	return 0;
}

#define SETOPT(c, opt, val)                                                                      \
	do {                                                                                     \
		CURLcode rc_ = curl_easy_setopt((c), (opt), (val));                              \
		if (rc_ != CURLE_OK)                                                             \
			return cairn_error_set(err, CAIRN_EINTERNAL, "curl option %s: %s", #opt, \
					       curl_easy_strerror(rc_));                         \
	} while (0)

static int is_body_method(const char *m)
{
	return strcmp(m, "PUT") == 0 || strcmp(m, "POST") == 0 || strcmp(m, "PATCH") == 0;
}

static int setup(struct curl_transport *t, struct exchange *x, struct curl_slist *hdrs,
		 struct cairn_error **err)
{
	const struct cairn_http_req *req = x->req;
	CURL *c = t->curl;

	curl_easy_reset(c);
	t->errbuf[0] = '\0';
	SETOPT(c, CURLOPT_ERRORBUFFER, t->errbuf);
	SETOPT(c, CURLOPT_URL, req->url);
	SETOPT(c, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SETOPT(c, CURLOPT_NOSIGNAL, 1L);
	SETOPT(c, CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(c, CURLOPT_CONNECTTIMEOUT_MS,
	       t->opts.connect_timeout_ms ? t->opts.connect_timeout_ms : 30000L);
	SETOPT(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	SETOPT(c, CURLOPT_LOW_SPEED_TIME, t->opts.low_speed_secs ? t->opts.low_speed_secs : 60L);
	SETOPT(c, CURLOPT_USERAGENT, t->user_agent);
	SETOPT(c, CURLOPT_HTTPHEADER, hdrs);
	SETOPT(c, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(c, CURLOPT_HEADERDATA, x);
	SETOPT(c, CURLOPT_WRITEFUNCTION, on_write);
	SETOPT(c, CURLOPT_WRITEDATA, x);
	SETOPT(c, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
	SETOPT(c, CURLOPT_XFERINFODATA, x);
	SETOPT(c, CURLOPT_NOPROGRESS, 0L);
	SETOPT(c, CURLOPT_FOLLOWLOCATION, req->follow_redirects ? 1L : 0L);
	SETOPT(c, CURLOPT_MAXREDIRS, 10L);
	SETOPT(c, CURLOPT_BUFFERSIZE, 256L * 1024);
	SETOPT(c, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
	if (t->ca_file) {
		/* Extra CAs add to the system's, as docker's certs.d does. */
		SETOPT(c, CURLOPT_CAINFO, t->ca_file);
		SETOPT(c, CURLOPT_CAPATH, "/etc/ssl/certs");
	}
	if (t->opts.no_verify) {
		SETOPT(c, CURLOPT_SSL_VERIFYPEER, 0L);
		SETOPT(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (t->cert_file && t->key_file) {
		SETOPT(c, CURLOPT_SSLCERT, t->cert_file);
		SETOPT(c, CURLOPT_SSLKEY, t->key_file);
	}
	if (cairn_log_enabled(CAIRN_LOG_TRACE)) {
		SETOPT(c, CURLOPT_DEBUGFUNCTION, on_debug);
		SETOPT(c, CURLOPT_VERBOSE, 1L);
	}
	if (req->connect_only) {
		SETOPT(c, CURLOPT_CONNECT_ONLY, 1L);
	} else if (strcmp(req->method, "HEAD") == 0) {
		SETOPT(c, CURLOPT_NOBODY, 1L);
	} else if (is_body_method(req->method)) {
		SETOPT(c, CURLOPT_UPLOAD, 1L);
		SETOPT(c, CURLOPT_CUSTOMREQUEST, req->method);
		SETOPT(c, CURLOPT_READFUNCTION, on_read);
		SETOPT(c, CURLOPT_READDATA, x);
		SETOPT(c, CURLOPT_SEEKFUNCTION, on_seek);
		SETOPT(c, CURLOPT_SEEKDATA, x);
		SETOPT(c, CURLOPT_INFILESIZE_LARGE,
		       (curl_off_t)(req->read_fn ? req->body_size : req->body_len));
	} else if (strcmp(req->method, "GET") != 0) {
		SETOPT(c, CURLOPT_CUSTOMREQUEST, req->method);
	}
	return 0;
}

static int curl_request(void *impl, const struct cairn_http_req *req, struct cairn_http_resp *resp,
			struct cairn_error **err)
{
	struct curl_transport *t = impl;
	struct exchange x = {.req = req, .resp = resp};
	struct curl_slist *hdrs = NULL;
	CURLcode rc;
	int ret;

	x.body_max = req->body_max ? req->body_max : CAIRN_HTTP_BODY_MAX;
	cairn_http_resp_reset(resp);
	for (const char *const *h = req->headers; h && *h; h++)
		hdrs = curl_slist_append(hdrs, *h);
	/* No 100-continue round trip: registries answer errors before reading bodies anyway. */
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (!hdrs)
		abort();
	ret = setup(t, &x, hdrs, err);
	if (ret < 0) {
		curl_slist_free_all(hdrs);
		return ret;
	}
	rc = curl_easy_perform(t->curl);
	curl_slist_free_all(hdrs);
	resp->bytes_sent = x.offset;
	if (rc == CURLE_OK)
		return 0;
	resp->tls_verify_failed = rc == CURLE_PEER_FAILED_VERIFICATION;
	if (x.cb_error == CAIRN_EINTERRUPTED && cairn_interrupt_check(err) < 0)
		return cairn_error_wrap(err, "%s %s", req->method, req->url);
	if (x.cb_error &&
	    (rc == CURLE_WRITE_ERROR || rc == CURLE_ABORTED_BY_CALLBACK || rc == CURLE_READ_ERROR))
		return cairn_error_set(err, x.cb_error, "%s %s: transfer aborted", req->method,
				       req->url);
	return cairn_error_set(err, CAIRN_ENET, "%s %s: %s", req->method, req->url,
			       t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
}

static void curl_free_impl(void *impl)
{
	struct curl_transport *t = impl;

	if (!t)
		return;
	curl_easy_cleanup(t->curl);
	free(t->ca_file);
	free(t->cert_file);
	free(t->key_file);
	free(t->user_agent);
	free(t);
}

static const struct cairn_http_ops curl_ops = {
	.request = curl_request,
	.free = curl_free_impl,
};

struct cairn_http *cairn_http_new(const struct cairn_http_ops *ops, void *impl)
{
	struct cairn_http *h = xcalloc(1, sizeof(*h));

	h->ops = ops;
	h->impl = impl;
	return h;
}

void cairn_http_free(struct cairn_http *h)
{
	if (!h)
		return;
	if (h->ops->free)
		h->ops->free(h->impl);
	free(h);
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

int cairn_http_curl_new(struct cairn_http **out, const struct cairn_http_opts *o,
			struct cairn_error **err)
{
	struct curl_transport *t;

	*out = NULL;
	t = xcalloc(1, sizeof(*t));
	t->curl = curl_easy_init();
	if (!t->curl) {
		free(t);
		return cairn_error_set(err, CAIRN_EINTERNAL, "cannot initialise libcurl");
	}
	if (o)
		t->opts = *o;
	t->ca_file = dup_or_null(t->opts.ca_file);
	t->cert_file = dup_or_null(t->opts.cert_file);
	t->key_file = dup_or_null(t->opts.key_file);
	t->user_agent = xstrdup(t->opts.user_agent ? t->opts.user_agent : "cairn");
	*out = cairn_http_new(&curl_ops, t);
	return 0;
}
