/* SPDX-License-Identifier: MIT */
/* The libcurl transport: one easy handle per thread, kept-alive connections, streamed bodies. */
#include "common.h"
#include "cairn/registry.h"
#include "registry/http.h"
#include "registry/registry_internal.h"
#include "util/interrupt.h"

#include <ctype.h>
#include <curl/curl.h>
#include <linux/sockios.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct curl_transport {
	CURL *curl;
	struct cairn_http_opts opts;
	char *ca_file, *cert_file, *key_file, *user_agent;
	char errbuf[CURL_ERROR_SIZE];
	/* the sockets of the handle's connections, to watch their send queues */
	curl_socket_t socks[16];
	size_t n_socks;
};

/* Per-request state shared with the callbacks. */
struct exchange {
	const struct cairn_http_req *req;
	struct cairn_http_resp *resp;
	uint64_t offset; /* next request body byte to send */
	int cb_error;	 /* cairn code a callback aborted with */
	size_t body_max;
	int over_cap;	     /* the response body reached body_max: the rest was not read */
	size_t header_bytes; /* of every response of the exchange (1xx ones included) */
	int headers_over_cap;
	/* deadlines, on the monotonic clock in ms */
	int64_t started, last_byte;
	unsigned idle_ms, total_ms; /* total_ms 0: none */
	curl_off_t down, up;	    /* body bytes seen by the progress callback */
	int unsent;		    /* bytes in the send queues at the last look; -1: unknown */
	struct curl_transport *t;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
	curl_global_cleanup();
}

void cairn_http_resp_release(struct cairn_http_resp *r)
{
	cairn_buf_release(&r->body);
	cairn_buf_release(&r->headers);
	r->status = 0;
	r->bytes_sent = 0;
	r->tls_verify_failed = 0;
	r->timed_out = CAIRN_HTTP_TIMEOUT_NONE;
}

void cairn_http_resp_reset(struct cairn_http_resp *r)
{
	cairn_buf_reset(&r->body);
	cairn_buf_reset(&r->headers);
	r->status = 0;
	r->bytes_sent = 0;
	r->tls_verify_failed = 0;
	r->timed_out = CAIRN_HTTP_TIMEOUT_NONE;
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

static int is_2xx(int status)
{
	return status >= 200 && status < 300;
}

/*
 * At the end of a response's headers: a body kept in memory that announces more than its cap
 * is refused before a byte of it is read.
 */
static int announces_too_much(struct exchange *x)
{
	cleanup_free char *cl = NULL;
	unsigned long long n;
	char *end;

	if (x->req->write_fn || x->req->connect_only || !is_2xx(x->resp->status) ||
	    strcmp(x->req->method, "HEAD") == 0)
		return 0;
	cl = cairn_http_resp_header(x->resp, "content-length");
	if (!cl || !isdigit((unsigned char)cl[0]))
		return 0;
	errno = 0;
	n = strtoull(cl, &end, 10);
	if (*end != '\0' || (errno == 0 && n <= x->body_max))
		return 0; /* a malformed length is libcurl's to refuse; the cap still holds */
	x->over_cap = 1;
	return 1;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct exchange *x = ud;
	size_t len = size * n, end = len;
	const char *colon;

	x->last_byte = mono_ms();
	x->header_bytes += len;
	if (x->header_bytes > CAIRN_HTTP_HEADERS_MAX) {
		x->headers_over_cap = 1;
		return 0;
	}
	while (end && (p[end - 1] == '\r' || p[end - 1] == '\n'))
		end--;
	if (end == 0)
		return announces_too_much(x) ? 0 : len;
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
	struct cairn_buf *body = &x->resp->body;
	size_t len = size * n;

	x->last_byte = mono_ms();
	if (x->req->write_fn && is_2xx(x->resp->status)) {
		int ret = x->req->write_fn(p, len, x->req->write_ud);

		if (ret < 0) {
			x->cb_error = ret;
			return CURL_WRITEFUNC_ERROR;
		}
		return len;
	}
	/* Nothing past the cap is read: an endless body must not hold cairn. */
	if (len > x->body_max - body->len) {
		cairn_buf_add(body, p, x->body_max - body->len);
		x->over_cap = 1;
		return CURL_WRITEFUNC_ERROR;
	}
	cairn_buf_add(body, p, len);
	return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
	struct exchange *x = ud;
	const struct cairn_http_req *req = x->req;
	size_t want = size * n;

	x->last_byte = mono_ms();
	if (req->read_fn) {
		ssize_t got;

		if (x->offset >= req->body_size)
			return 0;
		if (want > req->body_size - x->offset)
			want = (size_t)(req->body_size - x->offset);
		got = req->read_fn(buf, want, x->offset, req->read_ud);
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

/*
 * Whether bytes left the socket's send queue since the last look. The end of a request body
 * sits there, handed over but not yet sent, while a slow link or server takes it in: that is
 * progress too, though no callback sees it.
 */
static int send_queue_moved(struct exchange *x)
{
	struct curl_transport *t = x->t;
	int unsent = 0, moved;

	if (!x->req->read_fn && !x->req->body_len)
		return 0;
	/* one transfer at a time: the other (idle, kept-alive) connections have nothing queued */
	for (size_t i = 0; i < t->n_socks && unsent >= 0; i++) {
		int n;

		if (ioctl(t->socks[i], SIOCOUTQ, &n) < 0)
			unsent = -1;
		else
			unsent += n;
	}
	moved = unsent >= 0 && x->unsent >= 0 && unsent < x->unsent;
	x->unsent = unsent;
	return moved;
}

static curl_socket_t on_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct curl_transport *t = ud;
	curl_socket_t fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);

	(void)purpose;
	if (fd >= 0 && t->n_socks < ARRAY_SIZE(t->socks))
		t->socks[t->n_socks++] = fd;
	return fd >= 0 ? fd : CURL_SOCKET_BAD;
}

static int on_close_socket(void *ud, curl_socket_t fd)
{
	struct curl_transport *t = ud;

	for (size_t i = 0; i < t->n_socks; i++) {
		if (t->socks[i] == fd) {
			t->socks[i] = t->socks[--t->n_socks];
			break;
		}
	}
	return close(fd);
}

/*
 * The deadlines. libcurl calls this at least once a second, also while nothing moves; the
 * callbacks above note each byte, and the counters catch what moves between them.
 */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct exchange *x = ud;
	int64_t now = mono_ms();

	(void)dltotal;
	(void)ultotal;
	/* a signal ends the transfer at once */
	if (cairn_interrupted()) {
		x->cb_error = CAIRN_EINTERRUPTED;
		return 1;
	}
	if (send_queue_moved(x) || dlnow != x->down || ulnow != x->up) {
		x->down = dlnow;
		x->up = ulnow;
		x->last_byte = now;
	}
	if (now - x->last_byte >= x->idle_ms) {
		x->resp->timed_out = CAIRN_HTTP_TIMEOUT_IDLE;
		return 1;
	}
	if (x->total_ms && now - x->started >= x->total_ms) {
		x->resp->timed_out = CAIRN_HTTP_TIMEOUT_TOTAL;
		return 1;
	}
	return 0;
}

/*
 * The length of the name of a header whose value is a credential (Authorization,
 * Proxy-Authorization, cookies), else 0.
 */
static size_t secret_header(const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	size_t name = colon ? (size_t)(colon - s) : 0;
	static const char *const names[] = {"cookie", "set-cookie"};

	if (name >= 13 && strncasecmp(colon - 13, "authorization", 13) == 0)
		return name;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (name == strlen(names[i]) && strncasecmp(s, names[i], name) == 0)
			return name;
	return 0;
}

/*
 * One trace line as shown: a URL's `user:password@` and every query (signed storage URLs carry
 * credentials there) are cut; control bytes are escaped by the log itself.
 */
static void trace_text(struct cairn_buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		if (s[i] == '?' && i + 1 < n && !strchr(" \t'\"<>", s[i + 1])) {
			cairn_buf_addstr(b, "?<query cut>");
			while (i < n && !strchr(" \t'\"<>", s[i]))
				i++;
			continue;
		}
		if (i + 3 <= n && memcmp(s + i, "://", 3) == 0) {
			size_t end = i + 3, at = 0;

			while (end < n && !strchr("/?# \t'\"<>", s[end])) {
				if (s[end] == '@')
					at = end;
				end++;
			}
			cairn_buf_addstr(b, "://");
			i += 3;
			if (at) {
				cairn_buf_addstr(b, "<userinfo cut>@");
				i = at + 1;
			}
			continue;
		}
		cairn_buf_addch(b, s[i++]);
	}
}

void cairn_http_trace_line(struct cairn_buf *b, bool header, const char *s, size_t n)
{
	/* curl's HTTP/2 request headers are text lines: "h2h3 [authorization: Bearer ...]" */
	static const char *const secret_in_text[] = {"authorization:", "cookie:"};
	size_t name = header ? secret_header(s, n) : 0;

	if (name) {
		cairn_buf_add(b, s, name);
		cairn_buf_addstr(b, ": <redacted>");
		return;
	}
	trace_text(b, s, n);
	for (size_t i = 0; !header && !b->err && i < ARRAY_SIZE(secret_in_text); i++) {
		const char *at = strcasestr(b->buf, secret_in_text[i]);

		if (at) {
			cairn_buf_setlen(b, (size_t)(at - b->buf) + strlen(secret_in_text[i]));
			cairn_buf_addstr(b, " <redacted>");
		}
	}
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
		if (show) {
			CLEANUP(cairn_buf_release)
			struct cairn_buf b = CAIRN_BUF_INIT_MAX(64 * 1024);

			cairn_http_trace_line(&b, type != CURLINFO_TEXT, data, show);
			if (!b.err)
				cairn_log(CAIRN_LOG_TRACE, "%s%s", dir, b.buf);
		}
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
	/* a TCP or TLS peer that never answers is "no byte" too */
	SETOPT(c, CURLOPT_CONNECTTIMEOUT_MS, (long)x->idle_ms);
	SETOPT(c, CURLOPT_NOPROGRESS, 0L);
	SETOPT(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	SETOPT(c, CURLOPT_XFERINFODATA, x);
	SETOPT(c, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	SETOPT(c, CURLOPT_OPENSOCKETDATA, t);
	SETOPT(c, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
	SETOPT(c, CURLOPT_CLOSESOCKETDATA, t);
	SETOPT(c, CURLOPT_USERAGENT, t->user_agent);
	SETOPT(c, CURLOPT_HTTPHEADER, hdrs);
	SETOPT(c, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(c, CURLOPT_HEADERDATA, x);
	SETOPT(c, CURLOPT_WRITEFUNCTION, on_write);
	SETOPT(c, CURLOPT_WRITEDATA, x);
	/*
	 * Redirects are the registry client's to follow, so that its one rule on where
	 * credentials go holds for every hop, whatever libcurl does with a custom Authorization
	 * header (7.83 and later drop it on another host, port or scheme; older ones did not).
	 */
	SETOPT(c, CURLOPT_FOLLOWLOCATION, 0L);
	/*
	 * Larger buffers are for speed only: libcurl refuses to resize them on a handle whose
	 * connection attempt just failed, and that must not hide the network's own error.
	 */
	(void)curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L * 1024);
	(void)curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
	if (t->ca_file) {
		/* Extra CAs add to the system's, as docker's certs.d does. */
		SETOPT(c, CURLOPT_CAINFO, t->ca_file);
		SETOPT(c, CURLOPT_CAPATH, "/etc/ssl/certs");
	}
	if (req->no_verify) {
		SETOPT(c, CURLOPT_SSL_VERIFYPEER, 0L);
		SETOPT(c, CURLOPT_SSL_VERIFYHOST, 0L);
		/* nothing to verify against: the system's CA bundle is not even read */
		SETOPT(c, CURLOPT_CAINFO, NULL);
		SETOPT(c, CURLOPT_CAPATH, NULL);
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

/* "2 s", "0.5 s" */
static const char *secs(char *buf, size_t n, unsigned ms)
{
	snprintf(buf, n, "%g s", ms / 1000.0);
	return buf;
}

/*
 * The error of a transfer libcurl ended with `rc`; 0 when the exchange still counts as done.
 * URLs are shown without their query: signed storage URLs carry credentials there.
 */
static int transfer_error(struct curl_transport *t, struct exchange *x, CURLcode rc,
			  struct cairn_error **err)
{
	const struct cairn_http_req *req = x->req;
	struct cairn_http_resp *resp = x->resp;
	const char *verb = req->connect_only ? "connect to" : req->method;
	int n = (int)strcspn(req->url, "?#");
	char s[32];

	resp->tls_verify_failed = rc == CURLE_PEER_FAILED_VERIFICATION;
	if (x->cb_error == CAIRN_EINTERRUPTED && cairn_interrupt_check(err) < 0)
		return cairn_error_wrap(err, "%s %.*s", verb, n, req->url);
	if (rc == CURLE_OPERATION_TIMEDOUT)
		resp->timed_out = CAIRN_HTTP_TIMEOUT_IDLE;
	if (x->headers_over_cap)
		return cairn_error_set(err, CAIRN_ETOOBIG,
				       "%s %.*s: response headers larger than %u bytes", verb, n,
				       req->url, CAIRN_HTTP_HEADERS_MAX);
	if (x->over_cap && !is_2xx(resp->status))
		return 0; /* an error body, cut: the status says what happened */
	if (x->over_cap)
		return cairn_error_set(err, CAIRN_ETOOBIG,
				       "%s %.*s: response larger than %zu bytes", verb, n, req->url,
				       x->body_max);
	if (resp->timed_out == CAIRN_HTTP_TIMEOUT_TOTAL)
		return cairn_error_set(err, CAIRN_ENET, "%s %.*s: no complete answer within %s",
				       verb, n, req->url, secs(s, sizeof(s), x->total_ms));
	if (resp->timed_out)
		return cairn_error_set(err, CAIRN_ENET, "%s %.*s: %s %s", verb, n, req->url,
				       resp->status ? "no data for" : "no answer within",
				       secs(s, sizeof(s), x->idle_ms));
	if (x->cb_error &&
	    (rc == CURLE_WRITE_ERROR || rc == CURLE_ABORTED_BY_CALLBACK || rc == CURLE_READ_ERROR))
		return cairn_error_set(err, x->cb_error, "%s %.*s: transfer aborted", verb, n,
				       req->url);
	return cairn_error_set(err, CAIRN_ENET, "%s %.*s: %s", verb, n, req->url,
			       t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
}

static int curl_request(void *impl, const struct cairn_http_req *req, struct cairn_http_resp *resp,
			struct cairn_error **err)
{
	struct curl_transport *t = impl;
	struct exchange x = {.req = req, .resp = resp, .unsent = -1, .t = t};
	struct curl_slist *hdrs = NULL;
	CURLcode rc;
	int ret;

	x.body_max = req->body_max ? req->body_max : CAIRN_HTTP_BODY_MAX;
	x.idle_ms = t->opts.idle_timeout_ms ? t->opts.idle_timeout_ms : CAIRN_HTTP_IDLE_TIMEOUT_MS;
	if (!req->read_fn && !req->write_fn)
		x.total_ms = t->opts.total_timeout_ms ? t->opts.total_timeout_ms
						      : CAIRN_HTTP_TOTAL_TIMEOUT_MS;
	x.started = x.last_byte = mono_ms();
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
	return transfer_error(t, &x, rc, err);
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
