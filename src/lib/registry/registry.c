/* SPDX-License-Identifier: MIT */
/* Registry API v2 client: registries and connections, the scheme, errors, the request loop. */
#include "common.h"
#include "cairn/registry.h"
#include "cairn/version.h"
#include "registry/creds.h"
#include "registry/http.h"
#include "registry/link.h"
#include "registry/registry_internal.h"
#include "registry/www_auth.h"
#include "util/interrupt.h"
#include "util/text.h"
#include "util/json.h"
#include "util/parse.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#define DEFAULT_CERTS_DIR "/etc/docker/certs.d"
/* docker (Go's http.Client) gives up after 10 redirects too */
#define MAX_REDIRECTS 10

static char *file_if_exists(const char *dir, const char *host, const char *name)
{
	char *p = xasprintf("%s/%s/%s", dir, host, name);
	struct stat sb;

	if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode))
		return p;
	free(p);
	return NULL;
}

void cairn_registry_free(struct cairn_registry *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_idle; i++)
		cairn_registry_conn_free(r->idle[i]);
	free(r->idle);
	pthread_mutex_destroy(&r->idle_lock);
	cairn_registry_tokens_clear(r);
	cairn_strset_release(&r->known);
	free(r->sending);
	pthread_cond_destroy(&r->sent);
	pthread_mutex_destroy(&r->first_lock);
	pthread_mutex_destroy(&r->known_lock);
	cairn_auth_challenges_release(&r->challenges);
	cairn_creds_release(&r->creds);
	pthread_mutex_destroy(&r->lock);
	free(r->domain);
	free(r->api_host);
	free(r->base_url);
	free(r->ca_file);
	free(r->cert_file);
	free(r->key_file);
	free(r->user_agent);
	for (size_t i = 0; i < r->n_insecure; i++)
		free(r->insecure[i]);
	free(r->insecure);
	free(r);
}

DEFINE_FREEP(struct cairn_registry, cairn_registry_free)

int cairn_registry_opts_check(const struct cairn_registry_opts *o, struct cairn_error **err)
{
	if (o->timeout_secs > CAIRN_REGISTRY_TIMEOUT_MAX)
		return cairn_error_set(err, CAIRN_EINVAL, "registry timeout %u s: at most %u s",
				       o->timeout_secs, CAIRN_REGISTRY_TIMEOUT_MAX);
	return 0;
}

int cairn_registry_open(struct cairn_registry **out, const char *domain,
			const struct cairn_registry_opts *o, struct cairn_error **err)
{
	static const struct cairn_registry_opts defaults = CAIRN_REGISTRY_OPTS_INIT;
	CLEANUP(cairn_registry_freep) struct cairn_registry *r = NULL;
	struct cairn_creds_opts co = CAIRN_CREDS_OPTS_INIT;
	const char *certs_dir;
	int ret;

	*out = NULL;
	if (!o)
		o = &defaults;
	ret = cairn_registry_opts_check(o, err);
	if (ret < 0)
		return ret;
	r = xcalloc(1, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	pthread_mutex_init(&r->idle_lock, NULL);
	pthread_mutex_init(&r->known_lock, NULL);
	pthread_cond_init(&r->sent, NULL);
	pthread_mutex_init(&r->first_lock, NULL);
	r->domain = xstrdup(domain);
	r->api_host = xstrdup(strcmp(domain, "docker.io") == 0 ? "registry-1.docker.io" : domain);
	r->insecure = xcalloc(o->n_insecure + 1, sizeof(*r->insecure));
	for (size_t i = 0; i < o->n_insecure; i++) {
		r->insecure[r->n_insecure++] = xstrdup(o->insecure[i]);
		if (strcmp(o->insecure[i], "*") == 0 || strcasecmp(o->insecure[i], domain) == 0) {
			r->may_use_http = 1;
			r->no_verify = 1;
		}
	}
	if (cairn_registry_is_loopback(domain))
		r->may_use_http = 1;
	certs_dir = o->certs_dir ? o->certs_dir : DEFAULT_CERTS_DIR;
	r->ca_file = file_if_exists(certs_dir, domain, "ca.crt");
	r->cert_file = file_if_exists(certs_dir, domain, "client.cert");
	r->key_file = file_if_exists(certs_dir, domain, "client.key");
	r->user_agent =
		o->user_agent ? xstrdup(o->user_agent) : xasprintf("cairn/%s", cairn_version());
	r->http_opts.ca_file = r->ca_file;
	r->http_opts.cert_file = r->cert_file;
	r->http_opts.key_file = r->key_file;
	r->http_opts.user_agent = r->user_agent;
	if (o->timeout_secs) {
		r->http_opts.idle_timeout_ms = o->timeout_secs * 1000;
		r->http_opts.total_timeout_ms = o->timeout_secs * 4000;
	}
	r->max_attempts = o->max_attempts > 0 ? o->max_attempts : 5;
	r->put_whole_max = o->put_whole_max < 0	   ? 0
			   : o->put_whole_max == 0 ? CAIRN_REGISTRY_PUT_WHOLE_MAX
						   : (uint64_t)o->put_whole_max;
	r->base_delay_ms = o->base_delay_ms ? o->base_delay_ms : 250;
	r->max_delay_ms = o->max_delay_ms ? o->max_delay_ms : 10000;
	co.username = o->username;
	co.password = o->password;
	if (o->n_credential_hosts) {
		bool ours = false;

		for (size_t i = 0; i < o->n_credential_hosts && !ours; i++)
			ours = strcasecmp(o->credential_hosts[i], domain) == 0;
		if (!ours)
			co.username = co.password = NULL;
	}
	co.docker_config_dir = o->docker_config_dir;
	ret = cairn_creds_lookup(&r->creds, &co, domain, err);
	if (ret < 0)
		return cairn_error_wrap(err, "registry '%s'", domain);
	cairn_log(CAIRN_LOG_DEBUG, "registry '%s': credentials from %s", domain,
		  r->creds.source ? r->creds.source : "nowhere");
	*out = TAKE_PTR(r);
	return 0;
}

const char *cairn_registry_domain(const struct cairn_registry *r)
{
	return r->domain;
}

uint64_t cairn_registry_request_count(const struct cairn_registry *r)
{
	return atomic_load(&((struct cairn_registry *)r)->requests);
}

int cairn_registry_conn_new(struct cairn_registry_conn **out, struct cairn_registry *r,
			    struct cairn_error **err)
{
	struct cairn_registry_conn *c = xcalloc(1, sizeof(*c));
	int ret;

	*out = NULL;
	c->r = r;
	c->seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)c;
	if (r->factory)
		ret = r->factory(&c->http, &r->http_opts, r->factory_ud, err);
	else
		ret = cairn_http_curl_new(&c->http, &r->http_opts, err);
	if (ret < 0) {
		free(c);
		return ret;
	}
	*out = c;
	return 0;
}

void cairn_registry_set_transport(struct cairn_registry *r, cairn_http_factory_fn fn, void *ud)
{
	r->factory = fn;
	r->factory_ud = ud;
}

void cairn_registry_conn_free(struct cairn_registry_conn *c)
{
	if (!c)
		return;
	cairn_http_free(c->http);
	free(c);
}

int cairn_registry_conn_get(struct cairn_registry_conn **out, struct cairn_registry *r,
			    struct cairn_error **err)
{
	*out = NULL;
	pthread_mutex_lock(&r->idle_lock);
	if (r->n_idle)
		*out = r->idle[--r->n_idle];
	pthread_mutex_unlock(&r->idle_lock);
	if (*out)
		return 0;
	return cairn_registry_conn_new(out, r, err);
}

void cairn_registry_conn_put(struct cairn_registry_conn *c)
{
	struct cairn_registry *r;

	if (!c)
		return;
	r = c->r;
	pthread_mutex_lock(&r->idle_lock);
	r->idle = xreallocarray(r->idle, r->n_idle + 1, sizeof(*r->idle));
	r->idle[r->n_idle++] = c;
	pthread_mutex_unlock(&r->idle_lock);
}

/* ---- errors ---- */

static const char *reason_phrase(int status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 416:
		return "Range Not Satisfiable";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "";
	}
}

/* "CODE: message" of the registry's JSON error body, cut to a readable length; NULL if none. */
static char *registry_error_text(const struct cairn_http_resp *resp)
{
	cleanup_json json_t *j = NULL;
	struct cairn_buf b = CAIRN_BUF_INIT_MAX(300);
	json_t *errors, *e;
	size_t i;

	if (resp->body.len == 0)
		return NULL;
	j = json_loadb(resp->body.buf, resp->body.len, 0, NULL);
	errors = j ? json_object_get(j, "errors") : NULL;
	if (!json_is_array(errors) || json_array_size(errors) == 0)
		return NULL;
	json_array_foreach(errors, i, e)
	{
		const char *code = json_string_value(json_object_get(e, "code"));
		const char *msg = json_string_value(json_object_get(e, "message"));
		/* a plain string detail names the subject, e.g. the digest of an unknown blob */
		const char *detail = json_string_value(json_object_get(e, "detail"));

		if (i)
			cairn_buf_addstr(&b, "; ");
		/* the registry's words, on one line: no newline or escape sequence of theirs */
		if (code)
			cairn_buf_add_shown(&b, code, strlen(code), false);
		if (code && msg)
			cairn_buf_addstr(&b, ": ");
		if (msg)
			cairn_buf_add_shown(&b, msg, strlen(msg), false);
		if (detail && *detail) {
			cairn_buf_addstr(&b, " '");
			cairn_buf_add_shown(&b, detail, strlen(detail), false);
			cairn_buf_addch(&b, '\'');
		}
	}
	if (b.err) {
		cairn_buf_reset(&b);
		cairn_buf_addstr(&b, "(registry error text too long)");
	}
	return cairn_buf_detach(&b, NULL);
}

/* For a refusal: where the credentials sent came from (never what they are). */
static char *creds_note(const struct cairn_registry_conn *c)
{
	const struct cairn_registry *r = c->r;

	if (r->creds.username)
		return xasprintf(" (credentials from %s)", r->creds.source ? r->creds.source : "?");
	return xasprintf(" (anonymous: no credentials for '%s'; give them with 'cairn login "
			 "%s', the docker config or --registry-username)",
			 r->domain, r->domain);
}

int cairn_registry_status_error(const struct cairn_registry_conn *c,
				const struct cairn_http_resp *resp, struct cairn_error **err,
				const char *what)
{
	cleanup_free char *text = registry_error_text(resp);
	cleanup_free char *note = NULL;
	enum cairn_code code = CAIRN_EHTTP;
	const char *phrase = reason_phrase(resp->status);
	int ret;

	if (resp->status == 401 || resp->status == 403)
		code = CAIRN_EAUTH;
	else if (resp->status == 404)
		code = CAIRN_ENOTFOUND;
	if (code == CAIRN_EAUTH && c)
		note = creds_note(c);
	ret = cairn_error_set(err, code, "%s: HTTP %d%s%s%s%s%s", what, resp->status,
			      phrase[0] ? " " : "", phrase, text ? ": " : "", text ? text : "",
			      note ? note : "");
	if (err && *err)
		(*err)->http_status = resp->status;
	return ret;
}

/* ---- scheme discovery ---- */

/*
 * Decide between https and http without sending a request, so that re-pushing unchanged
 * content costs one request: https when a TLS handshake succeeds; http only for hosts allowed
 * it whose port does not speak TLS. A certificate problem is reported by the first request on
 * https, never downgraded. Each
 * registry probes once; a run that keeps its registries in a pool (cairn_registry_pool_get())
 * probes each host once.
 */
static int choose_scheme_locked(struct cairn_registry_conn *c, struct cairn_error **err)
{
	struct cairn_registry *r = c->r;
	CLEANUP(cairn_http_resp_release) struct cairn_http_resp resp = CAIRN_HTTP_RESP_INIT;
	cleanup_free char *url = NULL;
	/*
	 * Only "does this port speak TLS" is asked: no certificate is checked (reading the CA
	 * bundle was a third of a loopback re-push), the first request on https checks it.
	 */
	struct cairn_http_req req = {.method = "GET", .connect_only = 1, .no_verify = 1};
	struct cairn_error *e = NULL;

	if (!r->may_use_http) {
		r->base_url = xasprintf("https://%s", r->api_host);
		return 0;
	}
	url = xasprintf("https://%s/v2/", r->api_host);
	req.url = url;
	if (cairn_http_request(c->http, &req, &resp, &e) == 0) {
		r->base_url = xasprintf("https://%s", r->api_host);
	} else if (resp.timed_out) {
		/* a port that does not speak TLS says so at once; a silent one is no registry */
		*err = e;
		return cairn_error_wrap(err, "registry '%s'", r->domain);
	} else {
		cairn_log(CAIRN_LOG_DEBUG, "registry '%s': no TLS (%s); using http", r->domain,
			  e->msg);
		cairn_error_free(e);
		r->base_url = xasprintf("http://%s", r->api_host);
	}
	return 0;
}

int cairn_registry_ensure_base(struct cairn_registry_conn *c, struct cairn_error **err)
{
	struct cairn_registry *r = c->r;
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	if (!r->base_url)
		ret = choose_scheme_locked(c, err);
	pthread_mutex_unlock(&r->lock);
	return ret;
}

/* ---- the request loop: auth, retries with backoff ---- */

int cairn_registry_retryable_status(int status)
{
	return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
	       status == 504;
}

void cairn_registry_backoff(struct cairn_registry_conn *c, int attempt,
			    const struct cairn_http_resp *resp)
{
	struct cairn_registry *r = c->r;
	uint64_t delay = (uint64_t)r->base_delay_ms << (attempt < 16 ? attempt : 16);
	cleanup_free char *retry_after = resp ? cairn_http_resp_header(resp, "retry-after") : NULL;
	if (delay > r->max_delay_ms)
		delay = r->max_delay_ms;
	/* Full jitter on the upper half keeps parallel workers from retrying in lockstep. */
	delay = delay / 2 + (uint64_t)rand_r(&c->seed) % (delay / 2 + 1);
	if (retry_after) {
		uint64_t secs;
		struct cairn_error *e = NULL;

		if (cairn_parse_u64(&secs, retry_after, 3600, "Retry-After", &e) == 0)
			delay = secs * 1000 > 60000 ? 60000 : secs * 1000;
		cairn_error_free(e);
	}
	cairn_log(CAIRN_LOG_DEBUG, "registry '%s': retrying in %llu ms", r->domain,
		  (unsigned long long)delay);
	cairn_interrupt_sleep(delay);
}

static int is_http_url(const char *url)
{
	cleanup_free char *origin = cairn_url_origin(url);

	return origin != NULL;
}

static int is_redirect(int status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* Send `call` to `url` once, with the Authorization header line `auth` (or none). */
static int send_to(struct cairn_registry_conn *c, const struct call *call, const char *url,
		   const char *auth, struct cairn_http_resp *resp, struct cairn_error **err)
{
	const char *headers[ARRAY_SIZE(call->headers) + 1];
	struct cairn_http_req req = call->req;
	size_t n = 0;

	for (; n < ARRAY_SIZE(call->headers) && call->headers[n]; n++)
		headers[n] = call->headers[n];
	if (auth)
		headers[n++] = auth;
	headers[n] = NULL;
	req.url = url;
	req.headers = headers;
	req.no_verify = cairn_registry_tls_relaxed(c->r, url);
	atomic_fetch_add(&c->r->requests, 1);
	return cairn_http_request(c->http, &req, resp, err);
}

/*
 * One attempt at `call`: its request, then the redirects it may follow. The registry's
 * credentials go to URLs of its own origin only, so an upload Location or a redirect to
 * another scheme, host or port gets none (docker keys its challenges by origin, to the same
 * effect). *url_out: the URL that gave the final answer. A failure to get credentials sets
 * *auth_failed: it is no transport failure, and no retry helps.
 */
static int send_following(struct cairn_registry_conn *c, const struct call *call,
			  struct cairn_http_resp *resp, char **url_out, int *auth_failed,
			  struct cairn_error **err)
{
	cleanup_free char *url = xstrdup(call->req.url);

	*url_out = NULL;
	*auth_failed = 0;
	for (int hops = 0;; hops++) {
		cleanup_free char *auth = NULL;
		cleanup_free char *loc = NULL;
		char *next;
		int ret = 0;

		if (cairn_registry_is_origin(c->r, url))
			ret = cairn_registry_auth_header(&auth, c, call->scopes, err);
		if (ret < 0) {
			*auth_failed = 1;
			return ret;
		}
		ret = send_to(c, call, url, auth, resp, err);
		if (auth)
			explicit_bzero(auth, strlen(auth));
		if (ret < 0)
			return ret;
		if (call->follow_redirects && is_redirect(resp->status))
			loc = cairn_http_resp_header(resp, "location");
		if (!loc)
			break;
		if (hops == MAX_REDIRECTS)
			return cairn_error_set(err, CAIRN_EHTTP, "more than %d redirects",
					       MAX_REDIRECTS);
		next = cairn_url_resolve(url, loc);
		free(url);
		url = next;
		if (!url || !is_http_url(url))
			return cairn_error_set(err, CAIRN_EHTTP,
					       "redirected to a URL that is not http(s)");
	}
	*url_out = TAKE_PTR(url);
	return 0;
}

/*
 * Whether a failed attempt is worth another: a broken connection is, within max_attempts, when
 * the body can go (and come) again. A deadline is the user's bound on waiting, so it ends the
 * call, but for a download that stalled mid-body: that is a broken connection.
 */
static int may_retry(const struct cairn_registry_conn *c, const struct call *call, int ret,
		     const struct cairn_http_resp *resp, int attempt_no)
{
	if (ret != CAIRN_ENET || call->no_retry || attempt_no + 1 >= c->r->max_attempts)
		return 0;
	if (call->req.write_fn && !call->restart)
		return 0;
	if (resp->timed_out)
		return resp->timed_out == CAIRN_HTTP_TIMEOUT_IDLE && call->req.write_fn &&
		       resp->status;
	return 1;
}

static int call_retrying(struct cairn_registry_conn *c, struct call *call,
			 struct cairn_http_resp *resp, struct cairn_error **err);

int cairn_registry_call(struct cairn_registry_conn *c, struct call *call,
			struct cairn_http_resp *resp, struct cairn_error **err)
{
	struct cairn_registry *r = c->r;
	int ret;

	if (atomic_load(&r->answered))
		return call_retrying(c, call, resp, err);
	pthread_mutex_lock(&r->first_lock);
	if (atomic_load(&r->answered)) {
		/* waited for the first call: now side by side */
		pthread_mutex_unlock(&r->first_lock);
		return call_retrying(c, call, resp, err);
	}
	/* answered or not: the others then go at once (failing alike, without waiting more) */
	ret = call_retrying(c, call, resp, err);
	atomic_store(&r->answered, 1);
	pthread_mutex_unlock(&r->first_lock);
	return ret;
}

static int call_retrying(struct cairn_registry_conn *c, struct call *call,
			 struct cairn_http_resp *resp, struct cairn_error **err)
{
	struct cairn_registry *r = c->r;
	int auth_retried = 0;

	for (int attempt_no = 0;; attempt_no++) {
		cleanup_free char *url = NULL;
		struct cairn_error *e = NULL;
		int auth_failed, ret;

		ret = cairn_interrupt_check(err);
		if (ret < 0)
			return cairn_error_wrap(err, "%s", call->what);
		ret = send_following(c, call, resp, &url, &auth_failed, &e);
		if (ret < 0 && (auth_failed || !may_retry(c, call, ret, resp, attempt_no))) {
			*err = e;
			return cairn_error_wrap(err, "%s", call->what);
		}
		if (ret < 0) {
			cairn_log(CAIRN_LOG_WARN, "%s: %s; retrying", call->what, e->msg);
			cairn_error_free(e);
			if (call->req.write_fn && call->restart &&
			    call->restart(call->restart_ud) < 0)
				return cairn_error_set(err, CAIRN_EINTERNAL, "%s: cannot restart",
						       call->what);
			cairn_registry_backoff(c, attempt_no, NULL);
			continue;
		}
		/* only the registry's own challenges are learnt */
		if (resp->status == 401 && !auth_retried && cairn_registry_is_origin(r, url) &&
		    cairn_registry_learn_challenge(c, resp, call->scopes)) {
			auth_retried = 1;
			attempt_no--;
			continue;
		}
		if (cairn_registry_retryable_status(resp->status) && !call->no_retry &&
		    attempt_no + 1 < r->max_attempts) {
			cairn_log(CAIRN_LOG_WARN, "%s: HTTP %d; retrying", call->what,
				  resp->status);
			cairn_registry_backoff(c, attempt_no, resp);
			continue;
		}
		return 0;
	}
}

/* ---- URLs ---- */

char *cairn_registry_api_url(struct cairn_registry_conn *c, const char *fmt, ...)
{
	cleanup_free char *path = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&path, fmt, ap) < 0)
		abort();
	va_end(ap);
	return xasprintf("%s%s", c->r->base_url, path);
}

void cairn_registry_scopes_for(struct call *call, char **pull_push, const char *repo, int push)
{
	static const char *const actions[] = {"pull", "pull,push", "delete"};

	*pull_push = xasprintf("repository:%s:%s", repo, actions[push < 0 || push > 2 ? 0 : push]);
	call->scopes[0] = *pull_push;
	call->scopes[1] = NULL;
}

void cairn_registry_call_init(struct call *call, char **pull_push, const char *repo, int push,
			      const char *method, const char *url, const char *what)
{
	cairn_registry_scopes_for(call, pull_push, repo, push);
	call->what = what;
	call->req.method = method;
	call->req.url = url;
}

/* ---- blobs known to be in a repository, for the rest of the run ---- */

/* "REPO\nDIGEST" into buf, its length; 0 when it does not fit (the blob is then never noted). */
static size_t known_key(char *buf, size_t n, const char *repo, const struct cairn_digest *dg)
{
	int len = snprintf(buf, n, "%s\n%s", repo, dg->str);

	return len > 0 && (size_t)len < n ? (size_t)len : 0;
}

bool cairn_registry_blob_known(struct cairn_registry *r, const char *repo,
			       const struct cairn_digest *dg)
{
	char k[512];
	size_t len = known_key(k, sizeof(k), repo, dg);
	bool has;

	if (!len)
		return false;
	pthread_mutex_lock(&r->known_lock);
	has = cairn_strset_has(&r->known, k, len);
	pthread_mutex_unlock(&r->known_lock);
	return has;
}

void cairn_registry_blob_note(struct cairn_registry *r, const char *repo,
			      const struct cairn_digest *dg)
{
	char k[512];
	size_t len = known_key(k, sizeof(k), repo, dg);

	if (!len)
		return;
	pthread_mutex_lock(&r->known_lock);
	cairn_strset_add(&r->known, k, len);
	pthread_mutex_unlock(&r->known_lock);
}

static size_t sending_find(const struct cairn_registry *r, const struct cairn_digest *dg)
{
	size_t i = 0;

	while (i < r->n_sending && !cairn_digest_equal(&r->sending[i], dg))
		i++;
	return i;
}

bool cairn_registry_blob_claim(struct cairn_registry *r, const struct cairn_digest *dg)
{
	bool waited = false;

	pthread_mutex_lock(&r->known_lock);
	while (sending_find(r, dg) < r->n_sending) {
		pthread_cond_wait(&r->sent, &r->known_lock);
		waited = true;
	}
	if (!waited) {
		if (r->n_sending == r->cap_sending) {
			r->cap_sending = r->cap_sending ? 2 * r->cap_sending : 8;
			r->sending = xreallocarray(r->sending, r->cap_sending, sizeof(*r->sending));
		}
		r->sending[r->n_sending++] = *dg;
	}
	pthread_mutex_unlock(&r->known_lock);
	return !waited;
}

void cairn_registry_blob_sent(struct cairn_registry *r, const struct cairn_digest *dg)
{
	size_t i;

	pthread_mutex_lock(&r->known_lock);
	i = sending_find(r, dg);
	if (i < r->n_sending)
		r->sending[i] = r->sending[--r->n_sending];
	pthread_cond_broadcast(&r->sent);
	pthread_mutex_unlock(&r->known_lock);
}
