/* SPDX-License-Identifier: MIT */
/* Fuzz target: WWW-Authenticate challenges, token URLs and token responses from one input. */
#include "common.h"
#include "registry/www_auth.h"

#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static void check_challenges(const struct cairn_auth_challenges *c)
{
	if (c->n == 0 || c->n > CAIRN_AUTH_CHALLENGES_MAX || !c->v)
		abort();
	for (size_t i = 0; i < c->n; i++) {
		const char *s = c->v[i].scheme;
		const struct cairn_auth_challenge *found;

		if (!s || !*s)
			abort();
		for (; *s; s++)
			if (is_upper(*s) || (unsigned char)*s <= 0x20 ||
			    (unsigned char)*s >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", *s))
				abort();
		found = cairn_auth_challenges_find(c, c->v[i].scheme);
		if (!found || found > &c->v[i] || strcmp(found->scheme, c->v[i].scheme) != 0)
			abort();
	}
}

/* A token URL is printable ASCII, starts with an http(s) realm and holds what it was given. */
static void check_url(const char *url, const struct cairn_auth_challenge *ch)
{
	size_t realm_len = strcspn(ch->realm, "#");

	if (strncasecmp(url, "http", 4) != 0 || strncmp(url, ch->realm, realm_len) != 0)
		abort();
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			abort();
	if (strchr(url + realm_len, '#'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const scopes[] = {"repository:a/b:pull,push", "", NULL, "x y&z=%#"};
	struct cairn_auth_challenges c = CAIRN_AUTH_CHALLENGES_INIT;
	struct cairn_token t = CAIRN_TOKEN_INIT;
	struct cairn_error *err = NULL;
	const char *in = (const char *)data;

	if (cairn_auth_challenges_parse(&c, in, size, &err) == 0) {
		size_t n = c.n;

		if (err)
			abort();
		check_challenges(&c);
		for (size_t i = 0; i < c.n; i++) {
			char *url = cairn_token_url(&c.v[i], scopes, ARRAY_SIZE(scopes));

			if (url)
				check_url(url, &c.v[i]);
			free(url);
		}
		/* a second line appends the same, or fails and keeps what was there */
		if (cairn_auth_challenges_parse(&c, in, size, &err) == 0) {
			if (c.n != 2 * n)
				abort();
			check_challenges(&c);
		} else if (c.n != n || !err || err->code != CAIRN_ETOOBIG) {
			abort();
		}
	} else if (c.n != 0 || c.v || !err ||
		   (err->code != CAIRN_EINVAL && err->code != CAIRN_ETOOBIG)) {
		abort();
	}
	cairn_error_clear(&err);
	cairn_auth_challenges_release(&c);

	if (cairn_token_response_parse(&t, in, size, 1700000000, &err) == 0) {
		if (err || !t.token || !*t.token || t.expires_at <= CAIRN_TOKEN_MIN_LIFETIME)
			abort();
		for (const char *p = t.token; *p; p++)
			if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
				abort();
	} else if (t.token || !err) {
		abort();
	}
	cairn_error_free(err);
	cairn_token_release(&t);
	return 0;
}
