/* SPDX-License-Identifier: MIT */
/* Unit tests for WWW-Authenticate challenges, token endpoint responses and token URLs. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common.h"
#include "registry/www_auth.h"
#include "util/buf.h"

/* Every bad input that holds a credential holds this; no message may repeat it. */
#define SECRET "s3cr3t"
#define NOW 1700000000 /* 2023-11-14T22:13:20Z */
#define T_2024_03_01 1709294400
#define JWT "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhY2Nlc3MiOltdfQ.c2lnbmF0dXJl"
#define EMSG "invalid WWW-Authenticate header: "

static void check_str(const char *got, const char *want, size_t i, const char *what)
{
	if (!want && !got)
		return;
	if (!want || !got || strcmp(got, want) != 0)
		fail_msg("case %zu: %s is \"%s\", want \"%s\"", i, what, got ? got : "(null)",
			 want ? want : "(null)");
}

struct chal {
	const char *scheme, *realm, *service, *scope, *error;
};

struct chal_case {
	const char *in;
	size_t n;
	struct chal c[3];
};

static void test_challenges_valid(void **state)
{
	static const struct chal_case c[] = {
		/* distribution 2.8 with token auth, and Docker Hub */
		{"Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
		 "scope=\"repository:library/alpine:pull\"",
		 1,
		 {{"bearer", "https://auth.docker.io/token", "registry.docker.io",
		   "repository:library/alpine:pull", NULL}}},
		{"Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
		 "scope=\"repository:samalba/my-app:pull,push\",error=\"insufficient_scope\"",
		 1,
		 {{"bearer", "https://auth.docker.io/token", "registry.docker.io",
		   "repository:samalba/my-app:pull,push", "insufficient_scope"}}},
		{"Bearer realm=\"https://auth.example.com/token\",service=\"registry\","
		 "error=\"invalid_token\"",
		 1,
		 {{"bearer", "https://auth.example.com/token", "registry", NULL, "invalid_token"}}},
		/* distribution 2.8 with htpasswd */
		{"Basic realm=\"Registry Realm\"",
		 1,
		 {{"basic", "Registry Realm", NULL, NULL, NULL}}},
		/* GHCR, GitLab, Quay, ECR, ACR, Harbor */
		{"Bearer realm=\"https://ghcr.io/token\",service=\"ghcr.io\","
		 "scope=\"repository:octocat/hello-world:pull\"",
		 1,
		 {{"bearer", "https://ghcr.io/token", "ghcr.io",
		   "repository:octocat/hello-world:pull", NULL}}},
		{"Bearer realm=\"https://gitlab.com/jwt/auth\",service=\"container_registry\","
		 "scope=\"repository:group/project:push,pull\"",
		 1,
		 {{"bearer", "https://gitlab.com/jwt/auth", "container_registry",
		   "repository:group/project:push,pull", NULL}}},
		{"Bearer realm=\"https://quay.io/v2/auth\",service=\"quay.io\"",
		 1,
		 {{"bearer", "https://quay.io/v2/auth", "quay.io", NULL, NULL}}},
		{"Basic realm=\"https://123456789012.dkr.ecr.us-east-1.amazonaws.com/\","
		 "service=\"ecr.amazonaws.com\"",
		 1,
		 {{"basic", "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/",
		   "ecr.amazonaws.com", NULL, NULL}}},
		{"Bearer realm=\"https://example.azurecr.io/oauth2/token\","
		 "service=\"example.azurecr.io\"",
		 1,
		 {{"bearer", "https://example.azurecr.io/oauth2/token", "example.azurecr.io", NULL,
		   NULL}}},
		{"Bearer realm=\"https://harbor.example.com/service/token\","
		 "service=\"harbor-registry\"",
		 1,
		 {{"bearer", "https://harbor.example.com/service/token", "harbor-registry", NULL,
		   NULL}}},
		/* several challenges in one value */
		{"Basic realm=\"x\", Bearer realm=\"https://auth/token\",service=\"registry\","
		 "scope=\"repository:a/b:pull,push\",error=\"insufficient_scope\"",
		 2,
		 {{"basic", "x", NULL, NULL, NULL},
		  {"bearer", "https://auth/token", "registry", "repository:a/b:pull,push",
		   "insufficient_scope"}}},
		/* RFC 7235 4.1's example */
		{"Newauth realm=\"apps\", type=1, title=\"Login to \\\"apps\\\"\", Basic "
		 "realm=\"simple\"",
		 2,
		 {{"newauth", "apps", NULL, NULL, NULL}, {"basic", "simple", NULL, NULL, NULL}}},
		/* token68 credentials and bare schemes */
		{"Negotiate YIIB3wYGKwYBBQUCoIIB0zCCAc+gMDAuBgkqhkiC9xIBAgIGCSqGSIb3EgECAgYK==, "
		 "Basic realm=\"corp\"",
		 2,
		 {{"negotiate", NULL, NULL, NULL, NULL}, {"basic", "corp", NULL, NULL, NULL}}},
		{"NTLM, Negotiate, Basic realm=\"a\"",
		 3,
		 {{"ntlm", NULL, NULL, NULL, NULL},
		  {"negotiate", NULL, NULL, NULL, NULL},
		  {"basic", "a", NULL, NULL, NULL}}},
		{"Negotiate abc==", 1, {{"negotiate", NULL, NULL, NULL, NULL}}},
		{"Basic realm=", 1, {{"basic", NULL, NULL, NULL, NULL}}}, /* a token68 */
		{"Negotiate", 1, {{"negotiate", NULL, NULL, NULL, NULL}}},
		/* case, whitespace, empty list elements */
		{"BEARER REALM=\"https://a/token\", Service=\"s\", SCOPE=\"x\"",
		 1,
		 {{"bearer", "https://a/token", "s", "x", NULL}}},
		{"  Bearer \t realm = \"https://a/t\" ,\tservice=\t\"s\"  ,  ",
		 1,
		 {{"bearer", "https://a/t", "s", NULL, NULL}}},
		{", ,Basic realm=\"x\",, ,", 1, {{"basic", "x", NULL, NULL, NULL}}},
		{"Bearer realm=\"r\",,, service=\"s\"", 1, {{"bearer", "r", "s", NULL, NULL}}},
		/* quoted strings: escapes, commas, empty, obs-text; bare tokens */
		{"Basic realm=\"a \\\"quoted\\\" \\\\ re\\alm\"",
		 1,
		 {{"basic", "a \"quoted\" \\ realm", NULL, NULL, NULL}}},
		{"Bearer realm=\"https://a/t?x=1,2\",scope=\"repository:a:pull,push\"",
		 1,
		 {{"bearer", "https://a/t?x=1,2", NULL, "repository:a:pull,push", NULL}}},
		{"Basic realm=\"\"", 1, {{"basic", "", NULL, NULL, NULL}}},
		{"Basic realm=\"caf\xc3\xa9\t!\"",
		 1,
		 {{"basic", "caf\xc3\xa9\t!", NULL, NULL, NULL}}},
		{"Bearer realm=token_realm, service=svc.1",
		 1,
		 {{"bearer", "token_realm", "svc.1", NULL, NULL}}},
		/* parameters cairn has no use for */
		{"Bearer realm=\"r\", charset=\"UTF-8\", foo=bar, error=\"invalid_token\", "
		 "error_description=\"The access token expired\"",
		 1,
		 {{"bearer", "r", NULL, NULL, "invalid_token"}}},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		struct cairn_auth_challenges got = CAIRN_AUTH_CHALLENGES_INIT;
		struct cairn_error *err = NULL;
		int ret = cairn_auth_challenges_parse(&got, c[i].in, strlen(c[i].in), &err);

		if (ret != 0)
			fail_msg("case %zu: ret %d (%s)", i, ret, err ? err->msg : "no error");
		assert_null(err);
		if (got.n != c[i].n)
			fail_msg("case %zu: %zu challenges, want %zu", i, got.n, c[i].n);
		for (size_t k = 0; k < got.n; k++) {
			check_str(got.v[k].scheme, c[i].c[k].scheme, i, "scheme");
			check_str(got.v[k].realm, c[i].c[k].realm, i, "realm");
			check_str(got.v[k].service, c[i].c[k].service, i, "service");
			check_str(got.v[k].scope, c[i].c[k].scope, i, "scope");
			check_str(got.v[k].error, c[i].c[k].error, i, "error");
		}
		cairn_auth_challenges_release(&got);
		assert_null(got.v);
		assert_int_equal(got.n, 0);
	}
}

struct bad_case {
	const char *in;
	size_t len; /* 0: strlen(in) */
	int ret;
	const char *msg;
};

static void run_bad(const struct bad_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct cairn_auth_challenges got = CAIRN_AUTH_CHALLENGES_INIT;
		struct cairn_error *err = NULL;
		size_t len = c[i].len ? c[i].len : strlen(c[i].in);
		int ret = cairn_auth_challenges_parse(&got, c[i].in, len, &err);

		if (ret != c[i].ret)
			fail_msg("case %zu: ret %d, want %d (%s)", i, ret, c[i].ret,
				 err ? err->msg : "no error");
		assert_non_null(err);
		assert_int_equal(err->code, c[i].ret);
		check_str(err->msg, c[i].msg, i, "message");
		assert_null(strstr(err->msg, SECRET));
		assert_null(got.v);
		assert_int_equal(got.n, 0);
		cairn_error_free(err);
	}
}

static void test_challenges_invalid(void **state)
{
	static const struct bad_case c[] = {
		{"", 0, CAIRN_EINVAL, EMSG "no challenge"},
		{" , ,\t", 0, CAIRN_EINVAL, EMSG "no challenge"},
		{"Bearer realm=\"" SECRET, 0, CAIRN_EINVAL,
		 EMSG "unterminated quoted string at offset 13"},
		{"Bearer realm=\"" SECRET "\\", 0, CAIRN_EINVAL,
		 EMSG "unterminated quoted string at offset 13"},
		{"Bearer realm=\"s3\x01"
		 "cr3t\"",
		 0, CAIRN_EINVAL, EMSG "control character in quoted string at offset 16"},
		{"Bearer realm=\"s3\0cr3t\"", 22, CAIRN_EINVAL,
		 EMSG "control character in quoted string at offset 16"},
		{"Bearer realm=\"" SECRET "\r\nX-Injected: 1\"", 0, CAIRN_EINVAL,
		 EMSG "control character in quoted string at offset 20"},
		{"Bearer realm=\"" SECRET "\x7f\"", 0, CAIRN_EINVAL,
		 EMSG "control character in quoted string at offset 20"},
		{"Bearer realm=\"s3\\\x01"
		 "cr3t\"",
		 0, CAIRN_EINVAL, EMSG "control character in quoted string at offset 17"},
		{"Bearer realm=\"a\" service=\"" SECRET "\"", 0, CAIRN_EINVAL,
		 EMSG "expected ',' at offset 17"},
		{"Bearer realm=\"a\", realm=\"" SECRET "\"", 0, CAIRN_EINVAL,
		 EMSG "duplicate parameter 'realm'"},
		{"Bearer REALM=\"a\", scope=x, Scope=\"" SECRET "\"", 0, CAIRN_EINVAL,
		 EMSG "duplicate parameter 'scope'"},
		{"Bearer=\"" SECRET "\"", 0, CAIRN_EINVAL,
		 EMSG "expected a space after the auth scheme at offset 6"},
		{"\"Bearer\" " SECRET, 0, CAIRN_EINVAL, EMSG "expected an auth scheme at offset 0"},
		{"Bearer realm=\"a\", \"" SECRET "\"", 0, CAIRN_EINVAL,
		 EMSG "expected an auth scheme at offset 18"},
		{"Basic, realm=\"" SECRET "\"", 0, CAIRN_EINVAL,
		 EMSG "expected a space after the auth scheme at offset 12"},
		{"Negotiate abc==" SECRET, 0, CAIRN_EINVAL, EMSG "expected ',' at offset 15"},
		{"Negotiate " SECRET " more", 0, CAIRN_EINVAL, EMSG "expected ',' at offset 17"},
		{"Bearer @" SECRET, 0, CAIRN_EINVAL, EMSG "expected a parameter at offset 7"},
		{"Bearer realm=\"a\",\0" SECRET, 24, CAIRN_EINVAL,
		 EMSG "expected an auth scheme at offset 17"},
		{"B\xc3\xa9"
		 "arer realm=\"" SECRET "\"",
		 0, CAIRN_EINVAL, EMSG "expected a space after the auth scheme at offset 1"},
		{"Bearer realm=https://" SECRET "/token", 0, CAIRN_EINVAL,
		 EMSG "expected ',' at offset 18"},
	};

	(void)state;
	run_bad(c, ARRAY_SIZE(c));
}

static void test_challenges_caps(void **state)
{
	struct cairn_auth_challenges got = CAIRN_AUTH_CHALLENGES_INIT;
	struct cairn_buf b = CAIRN_BUF_INIT;
	struct cairn_error *err = NULL;

	(void)state;
	/* exactly CAIRN_WWW_AUTH_MAX bytes parse; one more is too big */
	cairn_buf_addstr(&b, "Basic realm=\"");
	while (b.len < CAIRN_WWW_AUTH_MAX - 1)
		cairn_buf_addch(&b, 'x');
	cairn_buf_addch(&b, '"');
	assert_int_equal(cairn_auth_challenges_parse(&got, b.buf, b.len, &err), 0);
	assert_int_equal(got.n, 1);
	assert_int_equal(strlen(got.v[0].realm), CAIRN_WWW_AUTH_MAX - 14);
	cairn_auth_challenges_release(&got);
	cairn_buf_addch(&b, ' ');
	assert_int_equal(cairn_auth_challenges_parse(&got, b.buf, b.len, &err), CAIRN_ETOOBIG);
	assert_string_equal(err->msg, EMSG "longer than 16384 bytes");
	assert_int_equal(got.n, 0);
	cairn_error_clear(&err);

	/* 16 challenges in one value parse; 17 are too many */
	cairn_buf_reset(&b);
	for (int i = 0; i < CAIRN_AUTH_CHALLENGES_MAX; i++)
		cairn_buf_addstr(&b, "Basic, ");
	assert_int_equal(cairn_auth_challenges_parse(&got, b.buf, b.len, &err), 0);
	assert_int_equal(got.n, CAIRN_AUTH_CHALLENGES_MAX);
	cairn_auth_challenges_release(&got);
	cairn_buf_addstr(&b, "Bearer realm=\"" SECRET "\"");
	assert_int_equal(cairn_auth_challenges_parse(&got, b.buf, b.len, &err), CAIRN_ETOOBIG);
	assert_string_equal(err->msg, EMSG "more than 16 challenges");
	assert_int_equal(got.n, 0);
	cairn_error_clear(&err);
	cairn_buf_release(&b);
}

static void test_challenges_append_find(void **state)
{
	static const char *const lines[] = {
		"Basic realm=\"Registry Realm\"",
		"Bearer realm=\"https://auth/token\",service=\"registry\"",
	};
	struct cairn_auth_challenges got = CAIRN_AUTH_CHALLENGES_INIT;
	const struct cairn_auth_challenge *ch;
	struct cairn_error *err = NULL;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(lines); i++)
		assert_int_equal(
			cairn_auth_challenges_parse(&got, lines[i], strlen(lines[i]), &err), 0);
	assert_int_equal(got.n, 2);
	ch = cairn_auth_challenges_find(&got, "BEARER");
	assert_ptr_equal(ch, &got.v[1]);
	assert_string_equal(ch->service, "registry");
	assert_ptr_equal(cairn_auth_challenges_find(&got, "basic"), &got.v[0]);
	assert_null(cairn_auth_challenges_find(&got, "bear"));
	assert_null(cairn_auth_challenges_find(&got, "bearerx"));
	assert_null(cairn_auth_challenges_find(&got, "digest"));

	/* a bad line leaves what was there */
	assert_int_equal(cairn_auth_challenges_parse(&got, "Basic realm=\"", 13, &err),
			 CAIRN_EINVAL);
	cairn_error_clear(&err);
	assert_int_equal(got.n, 2);
	assert_string_equal(got.v[0].realm, "Registry Realm");

	/* the cap counts every line */
	for (int i = 2; i < CAIRN_AUTH_CHALLENGES_MAX; i++)
		assert_int_equal(cairn_auth_challenges_parse(&got, "Digest", 6, &err), 0);
	assert_int_equal(got.n, CAIRN_AUTH_CHALLENGES_MAX);
	assert_int_equal(cairn_auth_challenges_parse(&got, "Digest", 6, &err), CAIRN_ETOOBIG);
	assert_string_equal(err->msg, EMSG "more than 16 challenges");
	cairn_error_clear(&err);
	assert_int_equal(got.n, CAIRN_AUTH_CHALLENGES_MAX);

	cairn_auth_challenges_release(&got);
	cairn_auth_challenges_release(&got);
	assert_null(cairn_auth_challenges_find(&got, "basic"));
}

struct token_case {
	const char *body;
	size_t len; /* 0: strlen(body) */
	int ret;
	const char *token; /* or the expected message when ret < 0 */
	int64_t expires_at;
};

#define TMSG "invalid token response: "

static void test_token_response(void **state)
{
	static const struct token_case c[] = {
		/* Docker Hub */
		{"{\"token\":\"" JWT "\",\"access_token\":\"" JWT "\",\"expires_in\":300,"
		 "\"issued_at\":\"2024-03-01T12:00:00.123456789Z\"}",
		 0, 0, JWT, T_2024_03_01 + 300},
		/* GHCR, Quay: a token and nothing else */
		{"{\"token\":\"djE6b2N0b2NhdC9oZWxsbzoxNzAwMDAwMDAw\"}", 0, 0,
		 "djE6b2N0b2NhdC9oZWxsbzoxNzAwMDAwMDAw", NOW + 60},
		/* distribution's token server */
		{"{\"token\": \"t.u.v\", \"expires_in\": 900, "
		 "\"issued_at\": \"2024-03-01T12:00:00Z\"}",
		 0, 0, "t.u.v", T_2024_03_01 + 900},
		/* OAuth2 (ACR, GCR): access_token, a refresh token to ignore */
		{"{\"access_token\":\"at-123\",\"refresh_token\":\"rt-456\",\"expires_in\":3600,"
		 "\"scope\":\"repository:a:pull\",\"token_type\":\"Bearer\"}",
		 0, 0, "at-123", NOW + 3600},
		{"{\"token\":\"tok\",\"access_token\":\"at\"}", 0, 0, "tok", NOW + 60},
		{"{\"token\":\"\",\"access_token\":\"at\"}", 0, 0, "at", NOW + 60},
		{"{\"token\":null,\"access_token\":\"at\"}", 0, 0, "at", NOW + 60},
		/* short, absent or odd lifetimes get docker's minimum */
		{"{\"token\":\"t\",\"expires_in\":30}", 0, 0, "t", NOW + 60},
		{"{\"token\":\"t\",\"expires_in\":0}", 0, 0, "t", NOW + 60},
		{"{\"token\":\"t\",\"expires_in\":-5}", 0, 0, "t", NOW + 60},
		{"{\"token\":\"t\",\"expires_in\":null}", 0, 0, "t", NOW + 60},
		{"{\"token\":\"t\",\"expires_in\":60}", 0, 0, "t", NOW + 60},
		{"{\"token\":\"t\",\"expires_in\":61}", 0, 0, "t", NOW + 61},
		{"{\"token\":\"t\",\"expires_in\":9223372036854775807}", 0, 0, "t", INT64_MAX},
		/* issued_at forms */
		{"{\"token\":\"t\",\"expires_in\":300,\"issued_at\":\"2024-03-01T14:00:00+02:00\"}",
		 0, 0, "t", T_2024_03_01 + 300},
		{"{\"token\":\"t\",\"expires_in\":300,"
		 "\"issued_at\":\"2024-03-01T06:30:00.5-05:30\"}",
		 0, 0, "t", T_2024_03_01 + 300},
		{"{\"token\":\"t\",\"expires_in\":300,\"issued_at\":\"2024-03-01t12:00:00z\"}", 0,
		 0, "t", T_2024_03_01 + 300},
		{"{\"token\":\"t\",\"issued_at\":\"2024-02-29T00:00:00Z\"}", 0, 0, "t",
		 1709164800 + 60},
		{"{\"token\":\"t\",\"issued_at\":\"2024-02-29T23:59:60Z\"}", 0, 0, "t",
		 T_2024_03_01 - 12 * 3600 + 60},
		{"{\"token\":\"t\",\"issued_at\":\"9999-12-31T23:59:59Z\"}", 0, 0, "t",
		 253402300799 + 60},
		/* unusable issued_at: counted from now */
		{"{\"token\":\"t\",\"issued_at\":\"0001-01-01T00:00:00Z\"}", 0, 0, "t", NOW + 60},
		{"{\"token\":\"t\",\"issued_at\":\"2023-02-29T00:00:00Z\"}", 0, 0, "t", NOW + 60},
		{"{\"token\":\"t\",\"issued_at\":\"2024-13-01T00:00:00Z\"}", 0, 0, "t", NOW + 60},
		{"{\"token\":\"t\",\"issued_at\":\"2024-03-01T24:00:00Z\"}", 0, 0, "t", NOW + 60},
		{"{\"token\":\"t\",\"issued_at\":\"2024-03-01T12:00:00\"}", 0, 0, "t", NOW + 60},
		{"{\"token\":\"t\",\"issued_at\":\"2024-03-01T12:00:00.Z\"}", 0, 0, "t", NOW + 60},
		{"{\"token\":\"t\",\"issued_at\":\"2024-03-01T12:00:00+0200\"}", 0, 0, "t",
		 NOW + 60},
		{"{\"token\":\"t\",\"issued_at\":\"2024-03-01 12:00:00Z\"}", 0, 0, "t", NOW + 60},
		{"{\"token\":\"t\",\"issued_at\":\"2024-03-01T12:00:00Zjunk\"}", 0, 0, "t",
		 NOW + 60},
		{"{\"token\":\"t\",\"issued_at\":\"yesterday\"}", 0, 0, "t", NOW + 60},
		{"{\"token\":\"t\",\"issued_at\":1709294400}", 0, 0, "t", NOW + 60},

		/* errors never show the token */
		{"not json " SECRET, 0, CAIRN_EINVAL, TMSG "not valid JSON", 0},
		{"{\"token\":\"" SECRET "\" \"x\"}", 0, CAIRN_EINVAL, TMSG "not valid JSON", 0},
		{"{\"token\":\"" SECRET "\",\"token\":\"x\"}", 0, CAIRN_EINVAL,
		 TMSG "not valid JSON", 0},
		{"[\"" SECRET "\"]", 0, CAIRN_EINVAL, TMSG "not a JSON object", 0},
		{"{}", 0, CAIRN_EINVAL, TMSG "no 'token' or 'access_token'", 0},
		{"{\"token\":\"\"}", 0, CAIRN_EINVAL, TMSG "no 'token' or 'access_token'", 0},
		{"{\"refresh_token\":\"" SECRET "\"}", 0, CAIRN_EINVAL,
		 TMSG "no 'token' or 'access_token'", 0},
		{"{\"token\":42}", 0, CAIRN_EINVAL, TMSG "'token' is not a string", 0},
		{"{\"access_token\":[\"" SECRET "\"]}", 0, CAIRN_EINVAL,
		 TMSG "'access_token' is not a string", 0},
		{"{\"token\":\"" SECRET "\\r\\nX-Injected: 1\"}", 0, CAIRN_EINVAL,
		 TMSG "'token' holds characters not allowed in a header", 0},
		{"{\"token\":\"s3 cr3t\"}", 0, CAIRN_EINVAL,
		 TMSG "'token' holds characters not allowed in a header", 0},
		{"{\"token\":\"" SECRET "\\u0000\"}", 0, CAIRN_EINVAL,
		 TMSG "'token' holds characters not allowed in a header", 0},
		{"{\"access_token\":\"caf\\u00e9\"}", 0, CAIRN_EINVAL,
		 TMSG "'access_token' holds characters not allowed in a header", 0},
		{"{\"token\":\"" SECRET "\",\"expires_in\":\"300\"}", 0, CAIRN_EINVAL,
		 TMSG "'expires_in' is not an integer", 0},
		{"{\"token\":\"" SECRET "\",\"expires_in\":300.5}", 0, CAIRN_EINVAL,
		 TMSG "'expires_in' is not an integer", 0},
		{"{\"token\":\"" SECRET "\"}\0", 19, CAIRN_EINVAL, TMSG "not valid JSON", 0},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		struct cairn_token t = CAIRN_TOKEN_INIT;
		struct cairn_error *err = NULL;
		size_t len = c[i].len ? c[i].len : strlen(c[i].body);
		int ret = cairn_token_response_parse(&t, c[i].body, len, NOW, &err);

		if (ret != c[i].ret)
			fail_msg("case %zu: ret %d, want %d (%s)", i, ret, c[i].ret,
				 err ? err->msg : "no error");
		if (ret == 0) {
			assert_null(err);
			check_str(t.token, c[i].token, i, "token");
			if (t.expires_at != c[i].expires_at)
				fail_msg("case %zu: expires_at %lld, want %lld", i,
					 (long long)t.expires_at, (long long)c[i].expires_at);
		} else {
			assert_non_null(err);
			check_str(err->msg, c[i].token, i, "message");
			assert_null(strstr(err->msg, SECRET));
			assert_null(t.token);
		}
		cairn_error_free(err);
		cairn_token_release(&t);
		assert_null(t.token);
	}
}

static void test_token_response_cap(void **state)
{
	struct cairn_buf b = CAIRN_BUF_INIT;
	struct cairn_token t = CAIRN_TOKEN_INIT;
	struct cairn_error *err = NULL;

	(void)state;
	cairn_buf_addstr(&b, "{\"token\":\"t\",\"pad\":\"");
	while (b.len < CAIRN_TOKEN_RESPONSE_MAX - 2)
		cairn_buf_addch(&b, 'x');
	cairn_buf_addstr(&b, "\"}");
	assert_int_equal(cairn_token_response_parse(&t, b.buf, b.len, NOW, &err), 0);
	assert_string_equal(t.token, "t");
	cairn_token_release(&t);
	cairn_buf_addch(&b, ' ');
	assert_int_equal(cairn_token_response_parse(&t, b.buf, b.len, NOW, &err), CAIRN_ETOOBIG);
	assert_string_equal(err->msg, TMSG "larger than 1048576 bytes");
	assert_null(t.token);
	cairn_error_free(err);
	cairn_buf_release(&b);
}

struct url_case {
	const char *realm, *service;
	const char *scopes[3];
	size_t n_scopes;
	const char *want; /* NULL: no URL */
};

static void test_token_url(void **state)
{
	static const struct url_case c[] = {
		{"https://auth.docker.io/token",
		 "registry.docker.io",
		 {"repository:library/alpine:pull"},
		 1,
		 "https://auth.docker.io/token?service=registry.docker.io"
		 "&scope=repository%3Alibrary%2Falpine%3Apull"},
		{"https://ghcr.io/token",
		 "ghcr.io",
		 {"repository:a/b:pull,push", "repository:c/d:pull"},
		 2,
		 "https://ghcr.io/token?service=ghcr.io&scope=repository%3Aa%2Fb%3Apull%2Cpush"
		 "&scope=repository%3Ac%2Fd%3Apull"},
		{"https://gitlab.example.com/jwt/auth?client_id=docker",
		 "container_registry",
		 {"repository:g/p:pull"},
		 1,
		 "https://gitlab.example.com/jwt/auth?client_id=docker&service=container_registry"
		 "&scope=repository%3Ag%2Fp%3Apull"},
		{"http://127.0.0.1:5001/auth",
		 "registry",
		 {NULL},
		 0,
		 "http://127.0.0.1:5001/auth?service=registry"},
		{"https://a/token?", "s", {NULL}, 0, "https://a/token?service=s"},
		{"https://a/token?x=1&", "s", {NULL}, 0, "https://a/token?x=1&service=s"},
		{"https://a/token", NULL, {NULL}, 0, "https://a/token"},
		{"https://a/token", "", {NULL, "", "x"}, 3, "https://a/token?scope=x"},
		{"https://a/token#frag", "s", {NULL}, 0, "https://a/token?service=s"},
		{"HTTPS://A/token", "s", {NULL}, 0, "HTTPS://A/token?service=s"},
		{"https://a/t",
		 "my registry/\xc3\xa9",
		 {"a-b.c_d~e f+g&h=i"},
		 1,
		 "https://a/t?service=my%20registry%2F%C3%A9&scope=a-b.c_d~e%20f%2Bg%26h%3Di"},
		/* realms that are no URL to fetch a token from */
		{NULL, "s", {NULL}, 0, NULL},
		{"Registry Realm", NULL, {NULL}, 0, NULL},
		{"ftp://a/token", NULL, {NULL}, 0, NULL},
		{"file:///etc/passwd", NULL, {NULL}, 0, NULL},
		{"https://", NULL, {NULL}, 0, NULL},
		{"https:///token", NULL, {NULL}, 0, NULL},
		{"https://?x", NULL, {NULL}, 0, NULL},
		{"https://a/t oken", NULL, {NULL}, 0, NULL},
		{"https://a/t\xc3\xa9", NULL, {NULL}, 0, NULL},
		{"//a/token", NULL, {NULL}, 0, NULL},
		{"#https://a/token", NULL, {NULL}, 0, NULL},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		struct cairn_auth_challenge ch = {
			.scheme = (char *)"bearer",
			.realm = (char *)c[i].realm,
			.service = (char *)c[i].service,
		};
		char *url = cairn_token_url(&ch, c[i].scopes, c[i].n_scopes);

		check_str(url, c[i].want, i, "url");
		free(url);
	}
	assert_null(cairn_token_url(NULL, NULL, 0));
}

/* The way a client uses all three: a 401's header, then the token request. */
static void test_challenge_to_url(void **state)
{
	static const char hdr[] =
		"Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
		"scope=\"repository:library/alpine:pull\"";
	struct cairn_auth_challenges got = CAIRN_AUTH_CHALLENGES_INIT;
	const struct cairn_auth_challenge *ch;
	struct cairn_error *err = NULL;
	const char *scopes[1];
	char *url;

	(void)state;
	assert_int_equal(cairn_auth_challenges_parse(&got, hdr, sizeof(hdr) - 1, &err), 0);
	ch = cairn_auth_challenges_find(&got, "bearer");
	assert_non_null(ch);
	scopes[0] = ch->scope;
	url = cairn_token_url(ch, scopes, 1);
	assert_string_equal(url, "https://auth.docker.io/token?service=registry.docker.io"
				 "&scope=repository%3Alibrary%2Falpine%3Apull");
	free(url);
	cairn_auth_challenges_release(&got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_challenges_valid),
		cmocka_unit_test(test_challenges_invalid),
		cmocka_unit_test(test_challenges_caps),
		cmocka_unit_test(test_challenges_append_find),
		cmocka_unit_test(test_token_response),
		cmocka_unit_test(test_token_response_cap),
		cmocka_unit_test(test_token_url),
		cmocka_unit_test(test_challenge_to_url),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
