/* SPDX-License-Identifier: MIT */
/* WWW-Authenticate challenges (RFC 7235), token endpoint responses and Bearer token URLs. */
#include "common.h"
#include "util/parse.h"
#include "registry/hdrlex.h"
#include "registry/link.h"
#include "registry/www_auth.h"
#include "util/buf.h"
#include "util/json.h"

#include <stdarg.h>

/* RFC 7235 token68, without its trailing '=' padding */
static bool is_token68(char c)
{
	return cairn_lex_is_alpha(c) || cairn_lex_is_digit(c) || (c != '\0' && strchr("-._~+/", c));
}

/* The empty elements a #rule list allows: OWS and commas. */
static void skip_list_sep(struct cairn_lex *lx)
{
	while (!cairn_lex_at_end(lx) && (cairn_lex_is_ws(lx->s[lx->pos]) || lx->s[lx->pos] == ','))
		lx->pos++;
}

static char **known_param(struct cairn_auth_challenge *ch, const char *name, size_t n,
			  const char **canon)
{
	static const char *const names[] = {"realm", "service", "scope", "error"};
	char **slots[] = {&ch->realm, &ch->service, &ch->scope, &ch->error};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (cairn_lex_ieq(name, n, names[i])) {
			*canon = names[i];
			return slots[i];
		}
	}
	return NULL;
}

/*
 * An auth-param (token BWS "=" BWS (token / quoted-string)) at lx->pos: 1 when parsed, 0 when
 * the input is not one (lx->pos unchanged), -1 on a malformed quoted string or a duplicate.
 */
static int parse_param(struct cairn_lex *lx, struct cairn_auth_challenge *ch)
{
	CLEANUP(cairn_buf_release) struct cairn_buf val = CAIRN_BUF_INIT;
	size_t start = lx->pos, name_len, vstart;
	const char *name = lx->s + lx->pos, *canon = NULL;
	char **slot;

	name_len = cairn_lex_scan_token(lx);
	cairn_lex_skip_ws(lx);
	if (name_len == 0 || cairn_lex_peek(lx) != '=')
		goto not_param;
	lx->pos++;
	cairn_lex_skip_ws(lx);
	if (cairn_lex_peek(lx) == '"') {
		if (cairn_lex_parse_quoted(lx, &val) < 0)
			return -1;
	} else {
		vstart = lx->pos;
		if (cairn_lex_scan_token(lx) == 0)
			goto not_param;
		cairn_buf_add(&val, lx->s + vstart, lx->pos - vstart);
	}
	slot = known_param(ch, name, name_len, &canon);
	if (slot) {
		if (*slot)
			return cairn_lex_fail(lx, "duplicate parameter '%s'", canon);
		*slot = cairn_buf_detach(&val, NULL);
	}
	return 1;

not_param:
	lx->pos = start;
	return 0;
}

/* After an element: OWS, then the end or a ','. */
static int expect_sep(struct cairn_lex *lx)
{
	cairn_lex_skip_ws(lx);
	if (!cairn_lex_at_end(lx) && cairn_lex_peek(lx) != ',')
		return cairn_lex_fail(lx, "expected ',' at offset %zu", lx->pos);
	return 0;
}

static int parse_challenge(struct cairn_lex *lx, struct cairn_auth_challenge *ch)
{
	size_t start = lx->pos, n;
	int ret;

	n = cairn_lex_scan_token(lx);
	if (n == 0)
		return cairn_lex_fail(lx, "expected an auth scheme at offset %zu", start);
	ch->scheme = xstrndup(lx->s + start, n);
	for (char *p = ch->scheme; *p; p++)
		*p = cairn_lex_lower(*p);
	if (cairn_lex_at_end(lx) || cairn_lex_peek(lx) == ',')
		return 0;
	if (!cairn_lex_is_ws(cairn_lex_peek(lx)))
		return cairn_lex_fail(lx, "expected a space after the auth scheme at offset %zu",
				      lx->pos);
	cairn_lex_skip_ws(lx);
	if (cairn_lex_at_end(lx) || cairn_lex_peek(lx) == ',')
		return 0;

	ret = parse_param(lx, ch);
	if (ret < 0)
		return ret;
	if (ret == 0) {
		/* token68 credentials stand alone; cairn has no use for them */
		start = lx->pos;
		while (!cairn_lex_at_end(lx) && is_token68(cairn_lex_peek(lx)))
			lx->pos++;
		if (lx->pos == start)
			return cairn_lex_fail(lx, "expected a parameter at offset %zu", start);
		while (cairn_lex_peek(lx) == '=')
			lx->pos++;
		return expect_sep(lx);
	}
	for (;;) {
		size_t next;

		if (expect_sep(lx) < 0)
			return -1;
		skip_list_sep(lx);
		if (cairn_lex_at_end(lx))
			return 0;
		next = lx->pos;
		ret = parse_param(lx, ch);
		if (ret < 0)
			return ret;
		if (ret == 0) {
			/* not a parameter: the next challenge starts here */
			lx->pos = next;
			return 0;
		}
	}
}

static void challenge_release(struct cairn_auth_challenge *ch)
{
	free(ch->scheme);
	free(ch->realm);
	free(ch->service);
	free(ch->scope);
	free(ch->error);
	memset(ch, 0, sizeof(*ch));
}

void cairn_auth_challenges_release(struct cairn_auth_challenges *c)
{
	for (size_t i = 0; i < c->n; i++)
		challenge_release(&c->v[i]);
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

static int parse_challenges(struct cairn_lex *lx, struct cairn_auth_challenges *got, size_t room)
{
	for (;;) {
		skip_list_sep(lx);
		if (cairn_lex_at_end(lx))
			break;
		if (got->n == room) {
			lx->code = CAIRN_ETOOBIG;
			return cairn_lex_fail(lx, "more than %d challenges",
					      CAIRN_AUTH_CHALLENGES_MAX);
		}
		got->v = xreallocarray(got->v, got->n + 1, sizeof(*got->v));
		memset(&got->v[got->n], 0, sizeof(got->v[got->n]));
		got->n++;
		if (parse_challenge(lx, &got->v[got->n - 1]) < 0)
			return -1;
	}
	if (got->n == 0)
		return cairn_lex_fail(lx, "no challenge");
	return 0;
}

int cairn_auth_challenges_parse(struct cairn_auth_challenges *out, const char *value, size_t len,
				struct cairn_error **err)
{
	CLEANUP(cairn_auth_challenges_release)
	struct cairn_auth_challenges got = CAIRN_AUTH_CHALLENGES_INIT;
	struct cairn_lex lx = {.s = value, .len = len, .code = CAIRN_EINVAL};
	size_t room = out->n < CAIRN_AUTH_CHALLENGES_MAX ? CAIRN_AUTH_CHALLENGES_MAX - out->n : 0;

	if (len > CAIRN_WWW_AUTH_MAX)
		return cairn_error_set(err, CAIRN_ETOOBIG,
				       "invalid WWW-Authenticate header: longer than %u bytes",
				       CAIRN_WWW_AUTH_MAX);
	if (parse_challenges(&lx, &got, room) < 0)
		return cairn_error_set(err, lx.code, "invalid WWW-Authenticate header: %s", lx.why);
	out->v = xreallocarray(out->v, out->n + got.n, sizeof(*out->v));
	memcpy(out->v + out->n, got.v, got.n * sizeof(*got.v));
	out->n += got.n;
	free(got.v);
	got.v = NULL;
	got.n = 0;
	return 0;
}

const struct cairn_auth_challenge *cairn_auth_challenges_find(const struct cairn_auth_challenges *c,
							      const char *scheme)
{
	size_t n = strlen(scheme);

	for (size_t i = 0; i < c->n; i++)
		if (cairn_lex_ieq(scheme, n, c->v[i].scheme))
			return &c->v[i];
	return NULL;
}

/* ---- token responses ---- */

/* Days from 1970-01-01 to the proleptic Gregorian y-m-d (H. Hinnant's days_from_civil). */
/* Printable ASCII without spaces: what can follow "Bearer " in a header line. */
static bool token_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static int pick_token(const char **out, const json_t *j, struct cairn_error **err)
{
	static const char *const keys[] = {"token", "access_token"};

	*out = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		json_t *v = json_object_get(j, keys[i]);

		if (!v || json_is_null(v))
			continue;
		if (!json_is_string(v))
			return cairn_error_set(err, CAIRN_EINVAL,
					       "invalid token response: '%s' is not a string",
					       keys[i]);
		if (json_string_length(v) == 0)
			continue;
		if (!token_ok(json_string_value(v), json_string_length(v)))
			return cairn_error_set(err, CAIRN_EINVAL,
					       "invalid token response: '%s' holds characters not "
					       "allowed in a header",
					       keys[i]);
		*out = json_string_value(v);
		return 0;
	}
	return cairn_error_set(err, CAIRN_EINVAL,
			       "invalid token response: no 'token' or 'access_token'");
}

int cairn_token_response_parse(struct cairn_token *out, const char *body, size_t len, int64_t now,
			       struct cairn_error **err)
{
	cleanup_json json_t *j = NULL;
	struct cairn_error *jerr = NULL;
	int64_t lifetime = 0, from = now, expires_at;
	const char *token;
	json_t *v;
	int ret;

	if (len > CAIRN_TOKEN_RESPONSE_MAX)
		return cairn_error_set(err, CAIRN_ETOOBIG,
				       "invalid token response: larger than %u bytes",
				       CAIRN_TOKEN_RESPONSE_MAX);
	/* jansson's messages quote the text near the error, which may be the token */
	ret = cairn_json_parse(&j, body, len, "token response", &jerr);
	cairn_error_free(jerr);
	if (ret < 0)
		return cairn_error_set(err, CAIRN_EINVAL, "invalid token response: not valid JSON");
	if (!json_is_object(j))
		return cairn_error_set(err, CAIRN_EINVAL,
				       "invalid token response: not a JSON object");
	ret = pick_token(&token, j, err);
	if (ret < 0)
		return ret;

	v = json_object_get(j, "expires_in");
	if (v && !json_is_null(v)) {
		if (!json_is_integer(v))
			return cairn_error_set(err, CAIRN_EINVAL,
					       "invalid token response: 'expires_in' is not an "
					       "integer");
		lifetime = json_integer_value(v);
	}
	if (lifetime < CAIRN_TOKEN_MIN_LIFETIME)
		lifetime = CAIRN_TOKEN_MIN_LIFETIME;

	/*
	 * Like docker, a missing, unreadable or zero issued_at means now. Go token servers send
	 * their zero time, "0001-01-01T00:00:00Z", when they set none: anything up to the epoch
	 * counts as unset.
	 */
	v = json_object_get(j, "issued_at");
	if (!json_is_string(v) ||
	    cairn_parse_rfc3339(&from, json_string_value(v), json_string_length(v)) < 0 ||
	    from <= 0)
		from = now;
	if (__builtin_add_overflow(from, lifetime, &expires_at))
		expires_at = INT64_MAX;

	out->token = xstrdup(token);
	out->expires_at = expires_at;
	return 0;
}

void cairn_token_release(struct cairn_token *t)
{
	free(t->token);
	t->token = NULL;
	t->expires_at = 0;
}

/* ---- token URLs ---- */

static bool realm_ok(const char *r, size_t n)
{
	size_t skip;

	if (n >= 7 && cairn_lex_ieq(r, 7, "http://"))
		skip = 7;
	else if (n >= 8 && cairn_lex_ieq(r, 8, "https://"))
		skip = 8;
	else
		return false;
	if (n == skip || r[skip] == '/' || r[skip] == '?')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)r[i] <= 0x20 || (unsigned char)r[i] >= 0x7f)
			return false;
	return true;
}

static void add_param(struct cairn_buf *b, char *sep, const char *name, const char *value)
{
	cleanup_free char *enc = cairn_url_escape(value);

	if (*sep)
		cairn_buf_addch(b, *sep);
	*sep = '&';
	cairn_buf_addstr(b, name);
	cairn_buf_addch(b, '=');
	cairn_buf_addstr(b, enc);
}

char *cairn_token_url(const struct cairn_auth_challenge *c, const char *const *scopes,
		      size_t n_scopes)
{
	struct cairn_buf b = CAIRN_BUF_INIT;
	const char *realm = c ? c->realm : NULL;
	size_t n;
	char sep;

	if (!realm)
		return NULL;
	/* a fragment is never sent; parameters after it would be lost */
	n = strcspn(realm, "#");
	if (!realm_ok(realm, n))
		return NULL;
	cairn_buf_add(&b, realm, n);
	if (!memchr(realm, '?', n))
		sep = '?';
	else if (realm[n - 1] == '?' || realm[n - 1] == '&')
		sep = '\0';
	else
		sep = '&';
	if (c->service && *c->service)
		add_param(&b, &sep, "service", c->service);
	for (size_t i = 0; i < n_scopes; i++)
		if (scopes[i] && *scopes[i])
			add_param(&b, &sep, "scope", scopes[i]);
	return cairn_buf_detach(&b, NULL);
}
