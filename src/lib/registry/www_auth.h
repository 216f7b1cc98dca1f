/* SPDX-License-Identifier: MIT */
/* Registry authentication input: WWW-Authenticate challenges, token responses, token URLs. */
#ifndef CAIRN_REGISTRY_WWW_AUTH_H
#define CAIRN_REGISTRY_WWW_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/error.h"

/* Longest WWW-Authenticate value accepted (one header line). */
#define CAIRN_WWW_AUTH_MAX (16u * 1024)
/* Most challenges kept over all the header lines of one response. */
#define CAIRN_AUTH_CHALLENGES_MAX 16
/* Largest token endpoint response body accepted. */
#define CAIRN_TOKEN_RESPONSE_MAX (1u * 1024 * 1024)
/* Lifetime given to tokens that state none or less (docker's minimumTokenLifetimeSeconds). */
#define CAIRN_TOKEN_MIN_LIFETIME 60

/* One challenge; the parameters cairn does not use are dropped. */
struct cairn_auth_challenge {
	char *scheme; /* lower case: "basic", "bearer", ... */
	char *realm;  /* NULL when absent (as are the others) */
	char *service;
	char *scope;
	char *error; /* "invalid_token", "insufficient_scope", ... */
};

struct cairn_auth_challenges {
	struct cairn_auth_challenge *v;
	size_t n;
};

#define CAIRN_AUTH_CHALLENGES_INIT \
	{                          \
		0                  \
	}

/*
 * Parse one WWW-Authenticate header value of `len` bytes (not NUL-terminated) and append its
 * challenges to `out`; call once per header line. Scheme and parameter names are matched
 * without regard to case, quoted strings are unescaped, token68 credentials (Negotiate) are
 * skipped. On failure `out` is left as it was: CAIRN_EINVAL "invalid WWW-Authenticate header:
 * <reason>" (never quoting the value, which may hold tokens), CAIRN_ETOOBIG past
 * CAIRN_WWW_AUTH_MAX bytes or CAIRN_AUTH_CHALLENGES_MAX challenges in all.
 */
int cairn_auth_challenges_parse(struct cairn_auth_challenges *out, const char *value, size_t len,
				struct cairn_error **err);

/* Free the challenges and reset `c` to CAIRN_AUTH_CHALLENGES_INIT; accepts a released set. */
void cairn_auth_challenges_release(struct cairn_auth_challenges *c);

/* The first challenge of `scheme` (any case), or NULL. Borrowed from `c`. */
const struct cairn_auth_challenge *cairn_auth_challenges_find(const struct cairn_auth_challenges *c,
							      const char *scheme);

struct cairn_token {
	char *token;	    /* what goes after "Authorization: Bearer " */
	int64_t expires_at; /* unix seconds */
};

#define CAIRN_TOKEN_INIT \
	{                \
		0        \
	}

/*
 * Parse a token endpoint response body (docker's token API or OAuth2's): `token`, else
 * `access_token`; `expires_in` (at least CAIRN_TOKEN_MIN_LIFETIME, also when absent) counted
 * from `issued_at` when it is valid RFC 3339, else from `now` (unix seconds). Refresh tokens
 * are ignored. CAIRN_EINVAL "invalid token response: <reason>" (never quoting the token),
 * CAIRN_ETOOBIG past CAIRN_TOKEN_RESPONSE_MAX. `out` is untouched on failure; free it with
 * cairn_token_release().
 */
int cairn_token_response_parse(struct cairn_token *out, const char *body, size_t len, int64_t now,
			       struct cairn_error **err);

/* Free the token and reset `t` to CAIRN_TOKEN_INIT; accepts a released token. */
void cairn_token_release(struct cairn_token *t);

/*
 * The URL to request a Bearer token from: the challenge's realm (without its fragment) plus
 * service= (when set) and one scope= per non-empty entry of `scopes`, percent-encoded, joined
 * with '&' when the realm already holds a query. A new string the caller frees, or NULL when
 * the realm is absent or not a plain http(s) URL (printable ASCII, a host after "//").
 */
char *cairn_token_url(const struct cairn_auth_challenge *c, const char *const *scopes,
		      size_t n_scopes);

#endif
