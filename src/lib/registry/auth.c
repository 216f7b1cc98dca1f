/* SPDX-License-Identifier: MIT */
/* Registry auth: who gets credentials (the origin rule), Basic, Bearer tokens and challenges. */
#include "common.h"
#include "util/base64.h"
#include "registry/creds.h"
#include "registry/http.h"
#include "registry/link.h"
#include "registry/registry_internal.h"
#include "registry/www_auth.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>
#include <time.h>

/* A token this close to expiry is renewed before use. */
#define TOKEN_MARGIN_SECS 10

/* ---- origins: where credentials, tokens and relaxed TLS may go ---- */

int cairn_registry_is_loopback(const char *host)
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
		if (strcmp(r->insecure[i], "*") == 0 || strcasecmp(r->insecure[i], hostport) == 0)
			return 1;
		if (default_port && strlen(r->insecure[i]) == host_len &&
		    strncasecmp(r->insecure[i], hostport, host_len) == 0)
			return 1;
	}
	return 0;
}

/* `url` is on the registry's own origin: the only one its credentials and tokens go to. */
int cairn_registry_is_origin(const struct cairn_registry *r, const char *url)
{
	return r->base_url && cairn_url_same_origin(url, r->base_url);
}

/* TLS is verified for every host but the registry and others --insecure-registry names. */
int cairn_registry_tls_relaxed(const struct cairn_registry *r, const char *url)
{
	cleanup_free char *origin = cairn_url_origin(url);

	if (!origin)
		return 0;
	return (r->no_verify && cairn_registry_is_origin(r, url)) ||
	       origin_named_insecure(r, origin);
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
	return cairn_registry_is_loopback(origin + strlen("http://")) ||
	       origin_named_insecure(r, origin);
}

/* ---- tokens and challenges ---- */

static int64_t now_secs(void)
{
	return (int64_t)time(NULL);
}

void cairn_registry_tokens_clear(struct cairn_registry *r)
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
			cleanup_free char *b64 = cairn_base64_encode(up, strlen(up));

			explicit_bzero(up, strlen(up));
			auth = xasprintf("Authorization: Basic %s", b64);
			explicit_bzero(b64, strlen(b64));
			headers[0] = auth;
		}
	}
	req.url = url;
	req.headers = headers;
	req.no_verify = cairn_registry_tls_relaxed(r, url);
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
		if ((resp.status == 401 || resp.status == 403) && r->creds.username)
			return cairn_error_set(
				err, CAIRN_EAUTH,
				"registry '%s': token server refused the credentials "
				"from %s (HTTP %d): check the username and password",
				r->domain, r->creds.source ? r->creds.source : "?", resp.status);
		if (resp.status == 401 || resp.status == 403)
			return cairn_error_set(
				err, CAIRN_EAUTH,
				"registry '%s': token server refused the anonymous "
				"request (HTTP %d): give credentials with 'cairn login "
				"%s', the docker config or --registry-username",
				r->domain, resp.status, r->domain);
		return cairn_registry_status_error(c, &resp, err, "get token");
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
int cairn_registry_auth_header(char **out, struct cairn_registry_conn *c, const char *const *scopes,
			       struct cairn_error **err)
{
	struct cairn_registry *r = c->r;
	const struct cairn_auth_challenge *bearer, *basic;
	int ret = 0;

	*out = NULL;
	c->token_fresh = 0;
	pthread_mutex_lock(&r->lock);
	bearer = cairn_auth_challenges_find(&r->challenges, "bearer");
	basic = cairn_auth_challenges_find(&r->challenges, "basic");
	if (bearer && scopes[0]) {
		cleanup_free char *key = join_scopes(scopes);
		struct token_entry *t = token_find(r, key);

		if (!t || t->expires_at - TOKEN_MARGIN_SECS <= now_secs()) {
			ret = fetch_token_locked(c, bearer, scopes, key, err);
			t = ret < 0 ? NULL : token_find(r, key);
			c->token_fresh = t != NULL;
		}
		if (t)
			*out = xasprintf("Authorization: Bearer %s", t->token);
	} else if ((basic || bearer) && r->creds.username && r->creds.password) {
		cleanup_free char *up = xasprintf("%s:%s", r->creds.username, r->creds.password);
		cleanup_free char *b64 = cairn_base64_encode(up, strlen(up));

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

static int same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Whether `a` and `b` send a token request to the same place. */
static int same_bearer(const struct cairn_auth_challenges *a, const struct cairn_auth_challenges *b)
{
	const struct cairn_auth_challenge *x = cairn_auth_challenges_find(a, "bearer");
	const struct cairn_auth_challenge *y = cairn_auth_challenges_find(b, "bearer");

	return x && y && same_str(x->realm, y->realm) && same_str(x->service, y->service);
}

/*
 * Learn the challenges of a 401 answer; returns 1 when retrying with new auth makes sense: not
 * when the token refused was fetched for this very request from the same token server (it
 * grants no more a second time; the scope is not the user's).
 */
int cairn_registry_learn_challenge(struct cairn_registry_conn *c,
				   const struct cairn_http_resp *resp, const char *const *scopes)
{
	struct cairn_registry *r = c->r;
	struct cairn_auth_challenges fresh = CAIRN_AUTH_CHALLENGES_INIT;
	int useful = 0;

	cairn_http_resp_each_header(resp, "www-authenticate", add_challenge, &fresh);
	pthread_mutex_lock(&r->lock);
	if (fresh.n) {
		useful = !(c->token_fresh && same_bearer(&r->challenges, &fresh));
		cairn_auth_challenges_release(&r->challenges);
		r->challenges = fresh;
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
