/* SPDX-License-Identifier: MIT */
/* Registry API v2 client: scheme discovery, Basic and Bearer auth, retries, blobs, manifests. */
#include "common.h"
#include "cairn/registry.h"
#include "cairn/version.h"
#include "registry/creds.h"
#include "registry/http.h"
#include "registry/link.h"
#include "registry/registry_internal.h"
#include "registry/www_auth.h"
#include "util/interrupt.h"
#include "util/json.h"
#include "util/parse.h"
#include "util/sha256.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#define DEFAULT_CERTS_DIR "/etc/docker/certs.d"
/* A token this close to expiry is renewed before use. */
#define TOKEN_MARGIN_SECS 10
#define TAGS_PAGE 1000
/* docker (Go's http.Client) gives up after 10 redirects too */
#define MAX_REDIRECTS 10

struct token_entry {
	char *scope; /* the scopes asked for, joined with ' ' */
	char *token;
	int64_t expires_at;
};

struct cairn_registry {
	char *domain;
	char *api_host;
	int may_use_http; /* loopback or --insecure-registry */
	int no_verify;	  /* --insecure-registry */
	char **insecure;  /* --insecure-registry hosts, as given */
	size_t n_insecure;
	struct cairn_creds creds;
	struct cairn_http_opts http_opts;
	char *ca_file, *cert_file, *key_file, *user_agent;
	int max_attempts;
	unsigned base_delay_ms, max_delay_ms;
	atomic_uint_fast64_t requests;
	cairn_http_factory_fn factory; /* NULL: libcurl */
	void *factory_ud;

	pthread_mutex_t lock; /* guards everything below */
	char *base_url;	      /* "https://host:port" once the scheme is known */
	struct cairn_auth_challenges challenges;
	struct token_entry *tokens;
	size_t n_tokens;
};

struct cairn_registry_conn {
	struct cairn_registry *r; /* borrowed */
	struct cairn_http *http;
	unsigned seed; /* backoff jitter */
};

/* One request with its auth scopes and retry policy. */
struct call {
	const char *what;      /* error context: "upload blob 'sha256:…'" */
	const char *scopes[3]; /* Bearer scopes; NULL-terminated */
	struct cairn_http_req req;
	const char *headers[8]; /* caller headers, NULL-terminated; Authorization is added */
	int no_retry;		/* a streamed body that cannot be resent */
	int follow_redirects;	/* blob downloads may redirect to storage elsewhere */
	int (*restart)(void *ud);
	void *restart_ud;
};

static int64_t now_secs(void)
{
	return (int64_t)time(NULL);
}

static int is_loopback(const char *host)
{
	struct in_addr a4;
	cleanup_free char *h = NULL;
	char *colon;

	if (host[0] == '[')
		return strncmp(host, "[::1]", 5) == 0;
	h = xstrdup(host);
	colon = strchr(h, ':');
	if (colon)
		*colon = '\0';
	if (strcasecmp(h, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, h, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return 0;
}

/*
 * Whether --insecure-registry names the host of `origin` ("scheme://host:port", as
 * cairn_url_origin() writes it): as host:port, or as host alone on the scheme's default port.
 */
static int origin_named_insecure(const struct cairn_registry *r, const char *origin)
{
	const char *hostport = strstr(origin, "://") + 3;
	const char *colon = strrchr(hostport, ':');
	size_t host_len = (size_t)(colon - hostport);
	int default_port = strcmp(colon + 1, strncmp(origin, "https:", 6) == 0 ? "443" : "80") == 0;

	for (size_t i = 0; i < r->n_insecure; i++) {
		if (strcasecmp(r->insecure[i], hostport) == 0)
			return 1;
		if (default_port && strlen(r->insecure[i]) == host_len &&
		    strncasecmp(r->insecure[i], hostport, host_len) == 0)
			return 1;
	}
	return 0;
}

/* `url` is on the registry's own origin: the only one its credentials and tokens go to. */
static int is_registry_origin(const struct cairn_registry *r, const char *url)
{
	return r->base_url && cairn_url_same_origin(url, r->base_url);
}

/* TLS is verified for every host but the registry and others --insecure-registry names. */
static int tls_relaxed(const struct cairn_registry *r, const char *url)
{
	cleanup_free char *origin = cairn_url_origin(url);

	if (!origin)
		return 0;
	return (r->no_verify && is_registry_origin(r, url)) || origin_named_insecure(r, origin);
}

/*
 * A secret (a password, an identity token) goes over plain HTTP only to loopback and to hosts
 * --insecure-registry names.
 */
static int may_get_secret(const struct cairn_registry *r, const char *url)
{
	cleanup_free char *origin = cairn_url_origin(url);

	if (!origin)
		return 0;
	if (strncmp(origin, "https:", 6) == 0)
		return 1;
	return is_loopback(origin + strlen("http://")) || origin_named_insecure(r, origin);
}

static char *file_if_exists(const char *dir, const char *host, const char *name)
{
	char *p = xasprintf("%s/%s/%s", dir, host, name);
	struct stat sb;

	if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode))
		return p;
	free(p);
	return NULL;
}

static void tokens_clear(struct cairn_registry *r)
{
	for (size_t i = 0; i < r->n_tokens; i++) {
		free(r->tokens[i].scope);
		if (r->tokens[i].token)
			explicit_bzero(r->tokens[i].token, strlen(r->tokens[i].token));
		free(r->tokens[i].token);
	}
	free(r->tokens);
	r->tokens = NULL;
	r->n_tokens = 0;
}

void cairn_registry_free(struct cairn_registry *r)
{
	if (!r)
		return;
	tokens_clear(r);
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
	if (o->timeout_secs > CAIRN_REGISTRY_TIMEOUT_MAX)
		return cairn_error_set(err, CAIRN_EINVAL, "registry timeout %u s: at most %u s",
				       o->timeout_secs, CAIRN_REGISTRY_TIMEOUT_MAX);
	r = xcalloc(1, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->domain = xstrdup(domain);
	r->api_host = xstrdup(strcmp(domain, "docker.io") == 0 ? "registry-1.docker.io" : domain);
	r->insecure = xcalloc(o->n_insecure + 1, sizeof(*r->insecure));
	for (size_t i = 0; i < o->n_insecure; i++) {
		r->insecure[r->n_insecure++] = xstrdup(o->insecure[i]);
		if (strcasecmp(o->insecure[i], domain) == 0) {
			r->may_use_http = 1;
			r->no_verify = 1;
		}
	}
	if (is_loopback(domain))
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
	r->base_delay_ms = o->base_delay_ms ? o->base_delay_ms : 250;
	r->max_delay_ms = o->max_delay_ms ? o->max_delay_ms : 10000;
	co.username = o->username;
	co.password = o->password;
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
		cairn_buf_addf(&b, "%s%s%s", code ? code : "", code && msg ? ": " : "",
			       msg ? msg : "");
		if (detail && *detail)
			cairn_buf_addf(&b, " '%s'", detail);
	}
	if (b.err) {
		cairn_buf_reset(&b);
		cairn_buf_addstr(&b, "(registry error text too long)");
	}
	return cairn_buf_detach(&b, NULL);
}

static int status_error(const struct cairn_http_resp *resp, struct cairn_error **err,
			const char *what)
{
	cleanup_free char *text = registry_error_text(resp);
	enum cairn_code code = CAIRN_EHTTP;
	const char *phrase = reason_phrase(resp->status);
	int ret;

	if (resp->status == 401 || resp->status == 403)
		code = CAIRN_EAUTH;
	else if (resp->status == 404)
		code = CAIRN_ENOTFOUND;
	ret = cairn_error_set(err, code, "%s: HTTP %d%s%s%s%s", what, resp->status,
			      phrase[0] ? " " : "", phrase, text ? ": " : "", text ? text : "");
	if (err && *err)
		(*err)->http_status = resp->status;
	return ret;
}

/* ---- scheme discovery and auth ---- */

/*
 * Decide between https and http without sending a request, so that re-pushing unchanged
 * content costs one request: https when a TLS handshake succeeds; http only for hosts allowed
 * it whose port does not speak TLS. A certificate problem is reported, never downgraded.
 */
/*
 * What the TLS probe found, per host, for the whole process: publishing many images to one
 * registry opens it many times, and each probe costs a handshake (and loading the CA bundle).
 */
static pthread_mutex_t scheme_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char *host;
	char *base_url;
} scheme_cache[16];

static int scheme_cache_get(char **out, const char *host)
{
	int found = 0;

	pthread_mutex_lock(&scheme_lock);
	for (size_t i = 0; i < ARRAY_SIZE(scheme_cache) && scheme_cache[i].host; i++) {
		if (strcmp(scheme_cache[i].host, host) == 0) {
			*out = xstrdup(scheme_cache[i].base_url);
			found = 1;
			break;
		}
	}
	pthread_mutex_unlock(&scheme_lock);
	return found;
}

static void scheme_cache_put(const char *host, const char *base_url)
{
	pthread_mutex_lock(&scheme_lock);
	for (size_t i = 0; i < ARRAY_SIZE(scheme_cache); i++) {
		if (!scheme_cache[i].host) {
			scheme_cache[i].host = xstrdup(host);
			scheme_cache[i].base_url = xstrdup(base_url);
			break;
		}
		if (strcmp(scheme_cache[i].host, host) == 0)
			break;
	}
	pthread_mutex_unlock(&scheme_lock);
}

void cairn_registry_global_cleanup_cache(void)
{
	pthread_mutex_lock(&scheme_lock);
	for (size_t i = 0; i < ARRAY_SIZE(scheme_cache); i++) {
		free(scheme_cache[i].host);
		free(scheme_cache[i].base_url);
		scheme_cache[i].host = scheme_cache[i].base_url = NULL;
	}
	pthread_mutex_unlock(&scheme_lock);
}

static int choose_scheme_locked(struct cairn_registry_conn *c, struct cairn_error **err)
{
	struct cairn_registry *r = c->r;
	CLEANUP(cairn_http_resp_release) struct cairn_http_resp resp = CAIRN_HTTP_RESP_INIT;
	cleanup_free char *url = NULL;
	struct cairn_http_req req = {.method = "GET", .connect_only = 1, .no_verify = r->no_verify};
	struct cairn_error *e = NULL;

	if (!r->may_use_http) {
		r->base_url = xasprintf("https://%s", r->api_host);
		return 0;
	}
	if (scheme_cache_get(&r->base_url, r->api_host))
		return 0;
	url = xasprintf("https://%s/v2/", r->api_host);
	req.url = url;
	if (cairn_http_request(c->http, &req, &resp, &e) == 0) {
		r->base_url = xasprintf("https://%s", r->api_host);
	} else if (resp.tls_verify_failed || resp.timed_out) {
		/* a port that does not speak TLS says so at once; a silent one is no registry */
		*err = e;
		return cairn_error_wrap(err, "registry '%s'", r->domain);
	} else {
		cairn_log(CAIRN_LOG_DEBUG, "registry '%s': no TLS (%s); using http", r->domain,
			  e->msg);
		cairn_error_free(e);
		r->base_url = xasprintf("http://%s", r->api_host);
	}
	scheme_cache_put(r->api_host, r->base_url);
	return 0;
}

static int ensure_base(struct cairn_registry_conn *c, struct cairn_error **err)
{
	struct cairn_registry *r = c->r;
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	if (!r->base_url)
		ret = choose_scheme_locked(c, err);
	pthread_mutex_unlock(&r->lock);
	return ret;
}

static char *base64(const char *s)
{
	size_t n = strlen(s);
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	return out;
}

static char *join_scopes(const char *const *scopes)
{
	struct cairn_buf b = CAIRN_BUF_INIT;

	for (size_t i = 0; scopes[i]; i++) {
		if (i)
			cairn_buf_addch(&b, ' ');
		cairn_buf_addstr(&b, scopes[i]);
	}
	return cairn_buf_detach(&b, NULL);
}

static struct token_entry *token_find(struct cairn_registry *r, const char *scope)
{
	for (size_t i = 0; i < r->n_tokens; i++)
		if (strcmp(r->tokens[i].scope, scope) == 0)
			return &r->tokens[i];
	return NULL;
}

static void token_drop(struct cairn_registry *r, const char *scope)
{
	struct token_entry *t = token_find(r, scope);

	if (!t)
		return;
	free(t->scope);
	if (t->token)
		explicit_bzero(t->token, strlen(t->token));
	free(t->token);
	*t = r->tokens[--r->n_tokens];
}

/*
 * One token request: the OAuth2 form POST (refresh-token grant, for an identity token) when
 * `oauth`, else the GET flow with Basic credentials when there are any.
 */
static int token_request(struct cairn_registry_conn *c, const struct cairn_auth_challenge *ch,
			 const char *const *scopes, int oauth, struct cairn_http_resp *resp,
			 struct cairn_error **err)
{
	struct cairn_registry *r = c->r;
	cleanup_free char *auth = NULL;
	cleanup_free char *form = NULL;
	cleanup_free char *url = NULL;
	const char *headers[2] = {NULL, NULL};
	struct cairn_http_req req = {.body_max = CAIRN_TOKEN_RESPONSE_MAX};
	int basic = !oauth && r->creds.username && r->creds.password && !r->creds.identity_token;
	size_t n_scopes = 0;
	int ret;

	while (scopes[n_scopes])
		n_scopes++;
	url = cairn_token_url(ch, scopes, n_scopes);
	if (!url)
		return cairn_error_set(err, CAIRN_EAUTH,
				       "registry '%s': the Bearer realm is not an http(s) URL",
				       r->domain);
	/* The realm may be elsewhere (auth.docker.io): it gets the credentials, as with docker. */
	if ((oauth || basic) && !may_get_secret(r, url)) {
		cleanup_free char *origin = cairn_url_origin(url);

		return cairn_error_set(err, CAIRN_EAUTH,
				       "registry '%s': the Bearer realm '%s' is plain HTTP: "
				       "credentials go there only with --insecure-registry",
				       r->domain, origin ? origin : "?");
	}
	if (oauth) {
		struct cairn_buf b = CAIRN_BUF_INIT;
		cleanup_free char *svc = cairn_url_escape(ch->service ? ch->service : "");
		cleanup_free char *rt = cairn_url_escape(r->creds.identity_token);

		cairn_buf_addf(&b, "grant_type=refresh_token&client_id=cairn&service=%s", svc);
		cairn_buf_addf(&b, "&refresh_token=%s", rt);
		explicit_bzero(rt, strlen(rt));
		for (size_t i = 0; i < n_scopes; i++) {
			cleanup_free char *sc = cairn_url_escape(scopes[i]);

			cairn_buf_addf(&b, "&scope=%s", sc);
		}
		form = cairn_buf_detach(&b, NULL);
		free(url);
		url = xstrdup(ch->realm);
		req.method = "POST";
		req.body = form;
		req.body_len = strlen(form);
		headers[0] = "Content-Type: application/x-www-form-urlencoded";
	} else {
		req.method = "GET";
		if (basic) {
			cleanup_free char *up =
				xasprintf("%s:%s", r->creds.username, r->creds.password);
			cleanup_free char *b64 = base64(up);

			explicit_bzero(up, strlen(up));
			auth = xasprintf("Authorization: Basic %s", b64);
			explicit_bzero(b64, strlen(b64));
			headers[0] = auth;
		}
	}
	req.url = url;
	req.headers = headers;
	req.no_verify = tls_relaxed(r, url);
	atomic_fetch_add(&r->requests, 1);
	ret = cairn_http_request(c->http, &req, resp, err);
	if (form)
		explicit_bzero(form, strlen(form));
	if (auth)
		explicit_bzero(auth, strlen(auth));
	return ret;
}

/* Fetch a Bearer token for `scopes` from the challenge's realm. Called with the lock held. */
static int fetch_token_locked(struct cairn_registry_conn *c, const struct cairn_auth_challenge *ch,
			      const char *const *scopes, const char *key, struct cairn_error **err)
{
	struct cairn_registry *r = c->r;
	CLEANUP(cairn_http_resp_release) struct cairn_http_resp resp = CAIRN_HTTP_RESP_INIT;
	CLEANUP(cairn_token_release) struct cairn_token tok = {0};
	int oauth = r->creds.identity_token != NULL;
	struct token_entry *t;
	int ret;

	if (!ch->realm)
		return cairn_error_set(err, CAIRN_EAUTH,
				       "registry '%s': Bearer challenge without a realm",
				       r->domain);
	ret = token_request(c, ch, scopes, oauth, &resp, err);
	if (ret == 0 && oauth && (resp.status == 404 || resp.status == 405)) {
		/* A token server without the OAuth2 endpoint: the GET flow instead. */
		cairn_log(CAIRN_LOG_DEBUG, "registry '%s': no OAuth2 token endpoint; using GET",
			  r->domain);
		ret = token_request(c, ch, scopes, 0, &resp, err);
	}
	if (ret < 0)
		return cairn_error_wrap(err, "registry '%s': get token", r->domain);
	if (resp.status != 200) {
		explicit_bzero(resp.body.buf, resp.body.len);
		if (resp.status == 401 || resp.status == 403)
			return cairn_error_set(
				err, CAIRN_EAUTH,
				"registry '%s': token server refused the %s "
				"(HTTP %d): check the username and password",
				r->domain, r->creds.username ? "credentials" : "anonymous request",
				resp.status);
		return status_error(&resp, err, "get token");
	}
	ret = cairn_token_response_parse(&tok, resp.body.buf, resp.body.len, now_secs(), err);
	explicit_bzero(resp.body.buf, resp.body.len);
	if (ret < 0)
		return cairn_error_wrap(err, "registry '%s': token server response", r->domain);
	token_drop(r, key);
	r->tokens = xreallocarray(r->tokens, r->n_tokens + 1, sizeof(*r->tokens));
	t = &r->tokens[r->n_tokens++];
	t->scope = xstrdup(key);
	t->token = TAKE_PTR(tok.token);
	t->expires_at = tok.expires_at;
	cairn_log(CAIRN_LOG_DEBUG, "registry '%s': token for '%s' valid for %lld s", r->domain, key,
		  (long long)(t->expires_at - now_secs()));
	return 0;
}

/* The Authorization header line for a request with `scopes`, or NULL for none. */
static int auth_header(char **out, struct cairn_registry_conn *c, const char *const *scopes,
		       struct cairn_error **err)
{
	struct cairn_registry *r = c->r;
	const struct cairn_auth_challenge *bearer, *basic;
	int ret = 0;

	*out = NULL;
	pthread_mutex_lock(&r->lock);
	bearer = cairn_auth_challenges_find(&r->challenges, "bearer");
	basic = cairn_auth_challenges_find(&r->challenges, "basic");
	if (bearer && scopes[0]) {
		cleanup_free char *key = join_scopes(scopes);
		struct token_entry *t = token_find(r, key);

		if (!t || t->expires_at - TOKEN_MARGIN_SECS <= now_secs()) {
			ret = fetch_token_locked(c, bearer, scopes, key, err);
			t = ret < 0 ? NULL : token_find(r, key);
		}
		if (t)
			*out = xasprintf("Authorization: Bearer %s", t->token);
	} else if ((basic || bearer) && r->creds.username && r->creds.password) {
		cleanup_free char *up = xasprintf("%s:%s", r->creds.username, r->creds.password);
		cleanup_free char *b64 = base64(up);

		*out = xasprintf("Authorization: Basic %s", b64);
		explicit_bzero(up, strlen(up));
		explicit_bzero(b64, strlen(b64));
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

static void add_challenge(const char *value, size_t len, void *ud)
{
	struct cairn_auth_challenges *ch = ud;
	struct cairn_error *e = NULL;

	/* A malformed challenge is ignored: the 401 it came with is reported instead. */
	if (cairn_auth_challenges_parse(ch, value, len, &e) < 0)
		cairn_error_free(e);
}

/* Learn the challenges of a 401 answer; returns 1 when retrying with new auth makes sense. */
static int learn_challenge(struct cairn_registry_conn *c, const struct cairn_http_resp *resp,
			   const char *const *scopes)
{
	struct cairn_registry *r = c->r;
	struct cairn_auth_challenges fresh = CAIRN_AUTH_CHALLENGES_INIT;
	int useful = 0;

	cairn_http_resp_each_header(resp, "www-authenticate", add_challenge, &fresh);
	pthread_mutex_lock(&r->lock);
	if (fresh.n) {
		cairn_auth_challenges_release(&r->challenges);
		r->challenges = fresh;
		useful = 1;
	} else {
		cairn_auth_challenges_release(&fresh);
	}
	if (scopes[0]) {
		cleanup_free char *key = join_scopes(scopes);

		token_drop(r, key);
	}
	pthread_mutex_unlock(&r->lock);
	return useful;
}

/* ---- the request loop: auth, retries with backoff ---- */

static int retryable_status(int status)
{
	return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
	       status == 504;
}

static void backoff(struct cairn_registry_conn *c, int attempt, const struct cairn_http_resp *resp)
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
	req.no_verify = tls_relaxed(c->r, url);
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

		if (is_registry_origin(c->r, url))
			ret = auth_header(&auth, c, call->scopes, err);
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

static int do_call(struct cairn_registry_conn *c, struct call *call, struct cairn_http_resp *resp,
		   struct cairn_error **err)
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
			backoff(c, attempt_no, NULL);
			continue;
		}
		/* only the registry's own challenges are learnt */
		if (resp->status == 401 && !auth_retried && is_registry_origin(r, url) &&
		    learn_challenge(c, resp, call->scopes)) {
			auth_retried = 1;
			attempt_no--;
			continue;
		}
		if (retryable_status(resp->status) && !call->no_retry &&
		    attempt_no + 1 < r->max_attempts) {
			cairn_log(CAIRN_LOG_WARN, "%s: HTTP %d; retrying", call->what,
				  resp->status);
			backoff(c, attempt_no, resp);
			continue;
		}
		return 0;
	}
}

/* ---- URLs ---- */

static char *api_url(struct cairn_registry_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static char *api_url(struct cairn_registry_conn *c, const char *fmt, ...)
{
	cleanup_free char *path = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&path, fmt, ap) < 0)
		abort();
	va_end(ap);
	return xasprintf("%s%s", c->r->base_url, path);
}

static void scopes_for(struct call *call, char **pull_push, const char *repo, int push)
{
	*pull_push = xasprintf("repository:%s:%s", repo, push ? "pull,push" : "pull");
	call->scopes[0] = *pull_push;
	call->scopes[1] = NULL;
}

/* ---- blobs ---- */

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
	ret = ensure_base(c, err);
	if (ret < 0)
		return ret;
	what = xasprintf("check blob '%s' in '%s/%s'", dg->str, c->r->domain, repo);
	url = api_url(c, "/v2/%s/blobs/%s", repo, dg->str);
	scopes_for(&call, &scope, repo, 0);
	call.what = what;
	call.req.method = "HEAD";
	call.req.url = url;
	ret = do_call(c, &call, &resp, err);
	if (ret < 0)
		return ret;
	if (resp.status == 404)
		return cairn_error_set(err, CAIRN_ENOTFOUND, "%s: not there", what);
	if (resp.status != 200)
		return status_error(&resp, err, what);
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

	scopes_for(&call, &scope, repo, 1);
	call.what = "cancel upload";
	call.no_retry = 1;
	call.req.method = "DELETE";
	call.req.url = url;
	if (do_call(c, &call, &resp, &e) < 0)
		cairn_error_free(e);
	return 0;
}

int cairn_registry_blob_mount(struct cairn_registry_conn *c, const char *repo, const char *from,
			      const struct cairn_digest *dg, struct cairn_error **err)
{
	CLEANUP(cairn_http_resp_release) struct cairn_http_resp resp = CAIRN_HTTP_RESP_INIT;
	cleanup_free char *push_scope = NULL;
	cleanup_free char *pull_scope = xasprintf("repository:%s:pull", from);
	cleanup_free char *url = NULL;
	cleanup_free char *what = NULL;
	cleanup_free char *from_esc = cairn_url_escape(from);
	struct call call = {0};
	int ret;

	ret = ensure_base(c, err);
	if (ret < 0)
		return ret;
	what = xasprintf("mount blob '%s' from '%s' into '%s/%s'", dg->str, from, c->r->domain,
			 repo);
	url = api_url(c, "/v2/%s/blobs/uploads/?mount=%s&from=%s", repo, dg->str, from_esc);
	push_scope = xasprintf("repository:%s:pull,push", repo);
	/* The pull scope on the source rides along; a registry that refuses it just declines. */
	call.scopes[0] = push_scope;
	call.scopes[1] = pull_scope;
	call.scopes[2] = NULL;
	call.what = what;
	call.req.method = "POST";
	call.req.url = url;
	ret = do_call(c, &call, &resp, err);
	if (ret < 0)
		return ret;
	if (resp.status == 201)
		return 0;
	if (resp.status == 202) {
		/* Not mounted; the registry opened an upload instead. Leave nothing behind. */
		cleanup_free char *loc = cairn_http_resp_header(&resp, "location");

		if (loc)
			cancel_upload(c, loc, repo);
		return cairn_error_set(err, CAIRN_ENOTFOUND, "%s: declined", what);
	}
	if (resp.status == 401 || resp.status == 403 || resp.status == 404)
		return cairn_error_set(err, CAIRN_ENOTFOUND, "%s: declined (HTTP %d)", what,
				       resp.status);
	return status_error(&resp, err, what);
}

struct offset_reader {
	cairn_read_at_fn read_at;
	void *ud;
	uint64_t base;
};

static ssize_t read_from_base(void *ud, char *buf, size_t n, uint64_t offset)
{
	struct offset_reader *o = ud;

	return o->read_at(o->ud, buf, n, o->base + offset);
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
	scopes_for(&call, &scope, repo, 1);
	call.what = "upload status";
	call.req.method = "GET";
	call.req.url = url;
	if (do_call(c, &call, &resp, &e) < 0) {
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
	return retryable_status(resp->status) || resp->status == 404 || resp->status == 416 ||
	       (resp->status == 400 && resp->body.len && strstr(resp->body.buf, "BLOB_UPLOAD"));
}

static int upload_once(struct cairn_registry_conn *c, const char *repo,
		       const struct cairn_digest *dg, uint64_t size, cairn_read_at_fn read_at,
		       void *ud, const char *what, int *transport_failed, char **session,
		       struct cairn_error **err)
{
	CLEANUP(cairn_http_resp_release) struct cairn_http_resp resp = CAIRN_HTTP_RESP_INIT;
	cleanup_free char *scope = NULL;
	cleanup_free char *url = api_url(c, "/v2/%s/blobs/uploads/", repo);
	cleanup_free char *put_url = NULL;
	struct offset_reader rd = {.read_at = read_at, .ud = ud};
	uint64_t sent = 0;
	struct call call = {0};
	int ret, resumes = 0;

	char **location = session; /* the caller cancels the session if this fails */

	*transport_failed = 0;
	scopes_for(&call, &scope, repo, 1);
	call.what = what;
	call.req.method = "POST";
	call.req.url = url;
	ret = do_call(c, &call, &resp, err);
	if (ret < 0)
		return ret;
	if (resp.status != 202)
		return status_error(&resp, err, what);
	(*location) = cairn_http_resp_header(&resp, "location");
	if (!(*location))
		return cairn_error_set(err, CAIRN_EHTTP, "%s: upload started without a Location",
				       what);
	/* One streaming PATCH; after a broken connection, resume where the registry stands. */
	while (sent < size || size == 0) {
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
		ret = do_call(c, &patch, &resp, &e);
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
			return status_error(&resp, err, what);
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
			backoff(c, resumes - 1, NULL);
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
		ret = do_call(c, &put, &resp, err);
		if (ret < 0)
			return ret;
		if (resp.status == 201 || resp.status == 204)
			return 0;
		*transport_failed = upload_broken(&resp);
		if (resp.status == 400 && resp.body.len &&
		    strstr(resp.body.buf, "DIGEST_INVALID")) {
			ret = status_error(&resp, err, what);
			(*err)->code = CAIRN_EDIGEST;
			return CAIRN_EDIGEST;
		}
		return status_error(&resp, err, what);
	}
}

int cairn_registry_blob_upload(struct cairn_registry_conn *c, const char *repo,
			       const struct cairn_digest *dg, uint64_t size,
			       cairn_read_at_fn read_at, void *ud, struct cairn_error **err)
{
	cleanup_free char *what = NULL;
	int ret;

	ret = ensure_base(c, err);
	if (ret < 0)
		return ret;
	what = xasprintf("upload blob '%s' to '%s/%s'", dg->str, c->r->domain, repo);
	for (int attempt = 0;; attempt++) {
		struct cairn_error *e = NULL;
		cleanup_free char *session = NULL;
		int transport_failed = 0;

		ret = upload_once(c, repo, dg, size, read_at, ud, what, &transport_failed, &session,
				  &e);
		if (ret == 0)
			return 0;
		if (session)
			cancel_upload(c, session, repo);
		if (!transport_failed || attempt + 1 >= c->r->max_attempts) {
			*err = e;
			return ret;
		}
		cairn_log(CAIRN_LOG_WARN, "%s; starting the upload again", e->msg);
		cairn_error_free(e);
		backoff(c, attempt, NULL);
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

	ret = ensure_base(c, err);
	if (ret < 0)
		return ret;
	what = xasprintf("download blob '%s' from '%s/%s'", dg->str, c->r->domain, repo);
	url = api_url(c, "/v2/%s/blobs/%s", repo, dg->str);
	scopes_for(&call, &scope, repo, 0);
	call.what = what;
	call.req.method = "GET";
	call.req.url = url;
	call.req.write_fn = sink;
	call.req.write_ud = ud;
	call.follow_redirects = 1;
	call.restart = restart;
	call.restart_ud = ud;
	ret = do_call(c, &call, &resp, err);
	if (ret < 0)
		return ret;
	if (resp.status != 200)
		return status_error(&resp, err, what);
	return 0;
}

/* ---- manifests ---- */

/*
 * What every manifest request starts with: the scheme known, the context errors carry
 * ("get manifest 'host/repo:tag'"), the URL and the scopes. The strings are the caller's.
 */
static int manifest_call(struct call *call, char **what, char **url, char **scope,
			 struct cairn_registry_conn *c, const char *verb, const char *repo,
			 const char *reference, int push, struct cairn_error **err)
{
	int ret = ensure_base(c, err);

	if (ret < 0)
		return ret;
	*what = xasprintf("%s manifest '%s/%s%s%s'", verb, c->r->domain, repo,
			  strncmp(reference, "sha256:", 7) == 0 ? "@" : ":", reference);
	*url = api_url(c, "/v2/%s/manifests/%s", repo, reference);
	scopes_for(call, scope, repo, push);
	call->what = *what;
	call->req.url = *url;
	return 0;
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
	call.req.body_max = CAIRN_STORE_DOC_MAX;
	ret = do_call(c, &call, &resp, err);
	if (ret < 0)
		return ret;
	if (resp.status != 200)
		return status_error(&resp, err, what);
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
	ret = do_call(c, &call, &resp, err);
	if (ret < 0)
		return ret;
	if (resp.status == 404)
		return cairn_error_set(err, CAIRN_ENOTFOUND, "%s: not there", what);
	if (resp.status != 200)
		return status_error(&resp, err, what);
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
	ret = do_call(c, &call, &resp, err);
	if (ret < 0)
		return ret;
	if (names_unknown_blob(&resp)) {
		status_error(&resp, err, what);
		if (err && *err)
			(*err)->code = CAIRN_ENOTFOUND;
		return CAIRN_ENOTFOUND;
	}
	if (resp.status != 201 && resp.status != 200)
		return status_error(&resp, err, what);
	cairn_digest_of(&mine, body, len);
	dg = cairn_http_resp_header(&resp, "docker-content-digest");
	if (dg && strcmp(dg, mine.str) != 0)
		return cairn_error_set(err, CAIRN_EDIGEST, "%s: registry stored '%s', sent '%s'",
				       what, dg, mine.str);
	if (out)
		*out = mine;
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
	cleanup_free char *scope = NULL;
	cleanup_free char *what = NULL;
	cleanup_free char *url = NULL;
	int ret, pages = 0;

	ret = ensure_base(c, err);
	if (ret < 0)
		return ret;
	what = xasprintf("list tags of '%s/%s'", c->r->domain, repo);
	url = api_url(c, "/v2/%s/tags/list?n=%d", repo, TAGS_PAGE);
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
		scopes_for(&call, &scope, repo, 0);
		call.what = what;
		call.req.method = "GET";
		call.req.url = url;
		ret = do_call(c, &call, &resp, err);
		if (ret < 0)
			return ret;
		if (resp.status == 404 && pages == 1)
			return 0; /* no such repository: no tags */
		if (resp.status != 200)
			return status_error(&resp, err, what);
		ret = cairn_json_parse(&j, resp.body.buf, resp.body.len, "tag list", err);
		if (ret < 0)
			return cairn_error_wrap(err, "%s", what);
		tags = json_object_get(j, "tags");
		json_array_foreach(tags, i, t)
		{
			if (!json_is_string(t))
				continue;
			ret = fn(json_string_value(t), ud);
			if (ret < 0)
				return ret;
		}
		cairn_http_resp_each_header(&resp, "link", next_link, &next);
		free(url);
		url = next ? cairn_url_resolve(c->r->base_url, next) : NULL;
		free(next);
		/* Tags come from the registry only: a next page elsewhere is not followed. */
		if (url && !is_registry_origin(c->r, url))
			return cairn_error_set(err, CAIRN_EHTTP,
					       "%s: the next page is on another host", what);
	}
	return 0;
}
