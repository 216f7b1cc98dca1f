/* SPDX-License-Identifier: MIT */
/* What the registry client's files share beyond the public API, and its test seam. */
#ifndef CAIRN_REGISTRY_REGISTRY_INTERNAL_H
#define CAIRN_REGISTRY_REGISTRY_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "cairn/registry.h"
#include "util/strset.h"
#include "registry/creds.h"
#include "registry/http.h"
#include "registry/www_auth.h"

/* Makes the transport of each new connection; returns 0 or a negative cairn code. */
typedef int (*cairn_http_factory_fn)(struct cairn_http **out, const struct cairn_http_opts *o,
				     void *ud, struct cairn_error **err);

/* Connections made after this call use `fn` instead of libcurl. */
void cairn_registry_set_transport(struct cairn_registry *r, cairn_http_factory_fn fn, void *ud);
/* Registries the pool opens after this call use `fn` instead of libcurl. */
void cairn_registry_pool_set_transport(struct cairn_registry_pool *p, cairn_http_factory_fn fn,
				       void *ud);

/* A Bearer token, cached for the scopes it was asked for. */
struct token_entry {
	char *scope; /* the scopes asked for, joined with ' ' */
	char *token;
	int64_t expires_at;
};

/* One registry host: its settings, credentials and tokens; shared by threads. */
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
	uint64_t put_whole_max; /* see cairn_registry_opts; 0 with a PATCH for every blob */
	atomic_uint_fast64_t requests;
	cairn_http_factory_fn factory; /* NULL: libcurl */
	void *factory_ud;

	/*
	 * Connections given back by cairn_registry_conn_put(), kept alive for the next transfer;
	 * never more than were in use at once.
	 */
	pthread_mutex_t idle_lock;
	struct cairn_registry_conn **idle;
	size_t n_idle;

	/* guards everything below; held while a token is fetched or the scheme probed */
	pthread_mutex_t lock;
	char *base_url; /* "https://host:port" once the scheme is known */
	struct cairn_auth_challenges challenges;
	struct token_entry *tokens;
	size_t n_tokens;
	/*
	 * "REPO\nDIGEST" of the blobs this process saw in a repository (found, mounted, sent),
	 * under a lock of its own: `lock` is held across token fetches.
	 */
	pthread_mutex_t known_lock;
	struct cairn_strset known;
	/* blobs a thread of this process is sending now (any repository), under known_lock */
	struct cairn_digest *sending;
	size_t n_sending, cap_sending;
	pthread_cond_t sent; /* a blob left `sending` */
	/*
	 * Until a first call to the registry is over, calls wait for it: it learns how the
	 * registry authenticates (its 401), the others then come with the right header at once.
	 */
	pthread_mutex_t first_lock;
	atomic_int answered;
};

/* One thread's connection to a registry. */
struct cairn_registry_conn {
	struct cairn_registry *r; /* borrowed */
	struct cairn_http *http;
	unsigned seed;	 /* backoff jitter */
	int token_fresh; /* the last request's token was fetched for it */
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

/*
 * Blobs this process found, mounted or sent to a repository of `r`: a later push to it (the
 * next stage of a chain, the next tag) needs no HEAD for them. A registry refusing a manifest
 * for an unknown blob makes the push check every blob again (no cache: it may have been
 * deleted since).
 */
bool cairn_registry_blob_known(struct cairn_registry *r, const char *repo,
			       const struct cairn_digest *dg);
void cairn_registry_blob_note(struct cairn_registry *r, const char *repo,
			      const struct cairn_digest *dg);
/*
 * Two pushes of this process that need one blob (two images on one base, two stage chains)
 * send it once: true when the caller may send `dg` (it gives it back with
 * cairn_registry_blob_sent()); false once another thread that was sending it is done, the
 * caller then looks again (the blob is known or can be mounted now, or that send failed).
 */
bool cairn_registry_blob_claim(struct cairn_registry *r, const struct cairn_digest *dg);
void cairn_registry_blob_sent(struct cairn_registry *r, const struct cairn_digest *dg);

/* registry.c: options, errors, the scheme, the request loop */

/* CAIRN_EINVAL for options no registry can be opened with. */
int cairn_registry_opts_check(const struct cairn_registry_opts *o, struct cairn_error **err);

/*
 * The error for an unexpected answer: its status, reason and the registry's error text; for a
 * 401/403, where the credentials of `c` (may be NULL) came from.
 */
int cairn_registry_status_error(const struct cairn_registry_conn *c,
				const struct cairn_http_resp *resp, struct cairn_error **err,
				const char *what);
/* Learn the registry's scheme (https or http) once per registry, before its first request. */
int cairn_registry_ensure_base(struct cairn_registry_conn *c, struct cairn_error **err);
/* Whether an answer with this status is worth another attempt. */
int cairn_registry_retryable_status(int status);
/* Wait before attempt `attempt` + 1: exponential with jitter, or what Retry-After asks. */
void cairn_registry_backoff(struct cairn_registry_conn *c, int attempt,
			    const struct cairn_http_resp *resp);
/*
 * Send `call` with auth, retries and the redirects it may follow; 0 with whatever status the
 * registry answered last, or the transport's error wrapped in call->what.
 */
int cairn_registry_call(struct cairn_registry_conn *c, struct call *call,
			struct cairn_http_resp *resp, struct cairn_error **err);
/* The registry's base URL followed by the formatted path, a new string. */
char *cairn_registry_api_url(struct cairn_registry_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The scope "repository:<repo>:pull[,push]" into *pull_push (the caller frees) and call->scopes. */
/* `push`: 0 pull, 1 pull and push, CAIRN_SCOPE_DELETE delete (a token for that action only) */
#define CAIRN_SCOPE_DELETE 2
void cairn_registry_scopes_for(struct call *call, char **pull_push, const char *repo, int push);
/* A call on `repo` (its pull, or pull and push, scope in *pull_push: the caller frees it). */
void cairn_registry_call_init(struct call *call, char **pull_push, const char *repo, int push,
			      const char *method, const char *url, const char *what);

/* auth.c: the origin rule, tokens and challenges */

/* Whether `host` (a port may follow) is localhost, in 127.0.0.0/8 or [::1]. */
int cairn_registry_is_loopback(const char *host);
/* `url` is on the registry's own origin: the only one its credentials and tokens go to. */
int cairn_registry_is_origin(const struct cairn_registry *r, const char *url);
/* TLS is verified for every host but the registry and others --insecure-registry names. */
int cairn_registry_tls_relaxed(const struct cairn_registry *r, const char *url);
/* Forget every cached token, wiping it from memory first. */
void cairn_registry_tokens_clear(struct cairn_registry *r);
/* The Authorization header line for a request with `scopes`, or NULL for none. */
int cairn_registry_auth_header(char **out, struct cairn_registry_conn *c, const char *const *scopes,
			       struct cairn_error **err);
/* Learn the challenges of a 401 answer; returns 1 when retrying with new auth makes sense. */
int cairn_registry_learn_challenge(struct cairn_registry_conn *c,
				   const struct cairn_http_resp *resp, const char *const *scopes);

#endif
