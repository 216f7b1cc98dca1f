/* SPDX-License-Identifier: MIT */
/* Unit tests for slugs (spec section 5 vectors) and MurmurHash3. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <locale.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/slug.h"

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* "<prefix>-<hash of in>" or just the hash when prefix is empty, as a new string */
static char *with_hash(const char *prefix, const char *in, size_t len)
{
	char *s = NULL;
	int n;

	if (prefix[0])
		n = asprintf(&s, "%s-%x", prefix, cairn_murmur3_32(in, len, 0));
	else
		n = asprintf(&s, "%x", cairn_murmur3_32(in, len, 0));
	assert_true(n > 0);
	return s;
}

static size_t max_len(enum cairn_slug_format f)
{
	return f == CAIRN_SLUG_TAG ? 128 : f == CAIRN_SLUG_NS ? 63 : 53;
}

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool alnum(char c)
{
	return lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* The format's keep-as-is regex, written out, plus the length limit of a slug. */
static bool valid_for(enum cairn_slug_format f, const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > max_len(f))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool edge = i == 0 || i == n - 1;

		switch (f) {
		case CAIRN_SLUG_TAG:
			if (!(alnum(c) || c == '_' || (i > 0 && (c == '.' || c == '-'))))
				return false;
			break;
		case CAIRN_SLUG_NS:
			if (!(lower_alnum(c) || (!edge && c == '-')))
				return false;
			break;
		case CAIRN_SLUG_RELEASE:
			if (!(alnum(c) || (!edge && (c == '-' || c == '_' || c == '.'))))
				return false;
			break;
		}
	}
	return true;
}

static void test_murmur3_known(void **state)
{
	static const struct {
		const char *in;
		uint32_t seed, want;
	} c[] = {
		{"", 0, 0},
		{"", 1, 0x514e28b7},
		{"", 0xffffffff, 0x81f16f39},
		{"hello", 0, 0x248bfa47},
		{"abc", 0, 0xb3dd93fa},
		{"aaaa", 0x9747b28c, 0x5a97808a},
		{"Hello, world!", 1234, 0xfaf6cdb3},
		{"The quick brown fox jumps over the lazy dog", 0x9747b28c, 0x2fa826cd},
		/* the hashes of werf's slug vectors */
		{"-data", 0, 0xa871d86e},
		{"da/ta", 0, 0x0afa96f8},
		{"helo/ehlo", 0, 0xb6f6ab1f},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		assert_int_equal(cairn_murmur3_32(c[i].in, strlen(c[i].in), c[i].seed), c[i].want);
}

static void test_murmur3_unaligned(void **state)
{
	static const char text[] = "The quick brown fox jumps over the lazy dog";
	char buf[sizeof(text) + 8];
	uint32_t want = cairn_murmur3_32(text, strlen(text), 7);

	(void)state;
	for (size_t off = 1; off < 8; off++) {
		memcpy(buf + off, text, strlen(text));
		assert_int_equal(cairn_murmur3_32(buf + off, strlen(text), 7), want);
	}
}

static void test_format_parse(void **state)
{
	static const struct {
		const char *in;
		enum cairn_slug_format f;
		int ret;
	} c[] = {
		{"tag", CAIRN_SLUG_TAG, 0},
		{"ns", CAIRN_SLUG_NS, 0},
		{"release", CAIRN_SLUG_RELEASE, 0},
		{"", 0, CAIRN_EINVAL},
		{"TAG", 0, CAIRN_EINVAL},
		{"namespace", 0, CAIRN_EINVAL},
		/* werf's names */
		{"docker-tag", CAIRN_SLUG_TAG, 0},
		{"kubernetes-namespace", CAIRN_SLUG_NS, 0},
		{"helm-release", CAIRN_SLUG_RELEASE, 0},
		{"r", CAIRN_SLUG_RELEASE, 0},
		{"docker", 0, CAIRN_EINVAL},
		{"helm-release ", 0, CAIRN_EINVAL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		enum cairn_slug_format f = CAIRN_SLUG_RELEASE;
		struct cairn_error *err = NULL;

		assert_int_equal(cairn_slug_format_parse(&f, c[i].in, &err), c[i].ret);
		if (c[i].ret == 0) {
			assert_null(err);
			assert_int_equal(f, c[i].f);
		} else {
			assert_non_null(err);
			assert_int_equal(err->code, CAIRN_EINVAL);
			assert_non_null(strstr(err->msg, "unknown slug format"));
		}
		cairn_error_free(err);
	}
}

/* Vectors with a literal result; "" in `out` means "the input itself". */
static void test_slug_vectors(void **state)
{
	static const struct {
		enum cairn_slug_format f;
		const char *in, *out;
	} c[] = {
		/* spec section 5 */
		{CAIRN_SLUG_TAG, "-data", "data-a871d86e"},
		{CAIRN_SLUG_TAG, "da/ta", "da-ta-afa96f8"},
		{CAIRN_SLUG_TAG, "helo/ehlo", "helo-ehlo-b6f6ab1f"},
		{CAIRN_SLUG_TAG, "16.04", ""},
		{CAIRN_SLUG_NS, "feature-fix-2", ""},
		{CAIRN_SLUG_NS, "branch/one/!@#4.4-3", "branch-one-4-4-3-4fe08955"},
		{CAIRN_SLUG_NS, "My_branch", "my-branch-8ebf2d1d"},
		/* werf's own tests */
		{CAIRN_SLUG_NS, "data", ""},
		{CAIRN_SLUG_NS, "da_ta", "da-ta-3b339d14"},
		{CAIRN_SLUG_NS, "kubernetes.namespace", "kubernetes-namespace-1507f75c"},
		{CAIRN_SLUG_NS, "A", "a-54dcf7ce"},
		{CAIRN_SLUG_RELEASE, "data", ""},
		{CAIRN_SLUG_RELEASE, "release.name", ""},
		{CAIRN_SLUG_RELEASE, "-data", "data-a871d86e"},
		{CAIRN_SLUG_RELEASE, "da/ta", "da-ta-afa96f8"},
		/* kept as is: each format's own alphabet */
		{CAIRN_SLUG_TAG, "A", ""},
		{CAIRN_SLUG_TAG, "My_branch", ""},
		{CAIRN_SLUG_TAG, "_x", ""},
		{CAIRN_SLUG_TAG, "v1.2.3-rc.1", ""},
		{CAIRN_SLUG_RELEASE, "My_release.v1", ""},
		{CAIRN_SLUG_RELEASE, "a", ""},
		/* not kept */
		{CAIRN_SLUG_TAG, ".hidden", "hidden-829fcfc"},
		{CAIRN_SLUG_NS, "-a", "a-f0a1fd66"},
		{CAIRN_SLUG_NS, "a-", "a-188f675b"},
		{CAIRN_SLUG_RELEASE, "_a", "a-d9fef6dc"},
		{CAIRN_SLUG_RELEASE, "a.", "a-3c55d70e"},
		/* every separator becomes one '-'; the rest goes; case folds */
		{CAIRN_SLUG_TAG, "a &()+,-./:;<=>[]_{}~b", "a-b-6011a0e7"},
		{CAIRN_SLUG_TAG, "A!b@C#d$e%f^g*h|i\"j'k`l?m\\n", "abcdefghijklmn-e7b0d909"},
		{CAIRN_SLUG_NS, "--a--b--", "a-b-d7acd5e6"},
		/* nothing left of the input: the hash alone */
		{CAIRN_SLUG_TAG, "!!!", "4e4955fc"},
		{CAIRN_SLUG_NS, "", "0"},
		{CAIRN_SLUG_TAG, "", "0"},
		{CAIRN_SLUG_RELEASE, "---", "e1945464"},
		/* transliteration, independent of the locale */
		{CAIRN_SLUG_TAG, "Ünïcödé/ветка", "unicode-vetka-f973ea5f"},
		{CAIRN_SLUG_NS, "Straße-Æsir-Łódź-Œuvre", "strasse-aesir-lodz-oeuvre-d3fd1a83"},
		{CAIRN_SLUG_TAG, "smile😀face", "smileface-be7a0c9b"},
		/* malformed UTF-8 bytes are dropped */
		{CAIRN_SLUG_TAG,
		 "a\xff\xfe"
		 "b\xc3",
		 "ab-9d6a344d"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char *got = cairn_slugify(c[i].f, c[i].in, strlen(c[i].in));
		const char *want = c[i].out[0] ? c[i].out : c[i].in;

		if (strcmp(got, want) != 0)
			fail_msg("case %zu: slugify(%d, \"%s\") = \"%s\", want \"%s\"", i, c[i].f,
				 c[i].in, got, want);
		assert_true(valid_for(c[i].f, got));
		free(got);
	}
}

/* Length limits: kept under the limit, cropped to exactly the limit otherwise. */
static void test_slug_lengths(void **state)
{
	static const struct {
		enum cairn_slug_format f;
		size_t n;
		const char *hash; /* NULL: kept as is */
		size_t kept;	  /* bytes of input left before "-hash" */
	} c[] = {
		{CAIRN_SLUG_TAG, 129, "8cca70eb", 119},
		{CAIRN_SLUG_TAG, 128, NULL, 119},
		{CAIRN_SLUG_TAG, 127, NULL, 0},
		{CAIRN_SLUG_NS, 64, "afd4efcd", 54},
		{CAIRN_SLUG_NS, 63, NULL, 54},
		{CAIRN_SLUG_NS, 62, NULL, 0},
		{CAIRN_SLUG_RELEASE, 54, "18c5dfb9", 44},
		{CAIRN_SLUG_RELEASE, 53, NULL, 44},
		{CAIRN_SLUG_RELEASE, 52, NULL, 0},
		{CAIRN_SLUG_TAG, 4000, NULL, 119},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char *in = repeat('x', c[i].n);
		char *got = cairn_slugify(c[i].f, in, c[i].n);
		char *want;

		if (c[i].kept == 0) {
			want = strdup(in);
		} else {
			char *prefix = repeat('x', c[i].kept);

			want = with_hash(prefix, in, c[i].n);
			free(prefix);
		}
		if (c[i].hash)
			assert_non_null(strstr(want, c[i].hash));
		assert_string_equal(got, want);
		if (c[i].kept)
			assert_int_equal(strlen(got), max_len(c[i].f));
		assert_true(valid_for(c[i].f, got));
		free(want);
		free(got);
		free(in);
	}
}

/*
 * A crop that ends on a '-' drops it, so the slug never holds "--" before the hash: the input
 * is as many 'a' as fit before "-" + hash, less one, then a separator run and more text.
 */
static void test_slug_crop_trailing_dash(void **state)
{
	static const char *const seps[] = {"/", "/ _", "/.-.", "~~"};

	(void)state;
	for (int f = CAIRN_SLUG_TAG; f <= CAIRN_SLUG_RELEASE; f++) {
		for (size_t k = 0; k < sizeof(seps) / sizeof(seps[0]); k++) {
			char *prefix = repeat('a', max_len(f) - 10);
			char *in = NULL, *got, *want;

			assert_true(asprintf(&in, "%s%stail", prefix, seps[k]) > 0);
			/* with a shorter hash the crop would keep the 't' */
			assert_true(cairn_murmur3_32(in, strlen(in), 0) >= 0x10000000);
			got = cairn_slugify(f, in, strlen(in));
			want = with_hash(prefix, in, strlen(in));
			assert_string_equal(got, want);
			assert_true(valid_for(f, got));
			free(want);
			free(got);
			free(in);
			free(prefix);
		}
	}
}

/* A slug shorter than its limit is a fixed point: slugging it again changes nothing. */
static void test_slug_idempotent(void **state)
{
	static const char *const in[] = {
		"-data", "da/ta",     "feature/ABC-123", "Ünïcödé/ветка", "!!!",
		"",	 "My_branch", "release/2024.01", "a  b",	  "x.y.z",
	};

	(void)state;
	for (int f = CAIRN_SLUG_TAG; f <= CAIRN_SLUG_RELEASE; f++) {
		for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
			char *once = cairn_slugify(f, in[i], strlen(in[i]));
			char *twice = cairn_slugify(f, once, strlen(once));

			assert_true(strlen(once) < max_len(f));
			assert_string_equal(once, twice);
			free(once);
			free(twice);
		}
	}
}

/* The length argument is honoured: bytes after it are not read, embedded NULs are data. */
static void test_slug_len(void **state)
{
	static const char in[] = "ab\0cd";
	char *got;
	char *want;

	(void)state;
	got = cairn_slugify(CAIRN_SLUG_TAG, "abcdef", 3);
	assert_string_equal(got, "abc");
	free(got);

	got = cairn_slugify(CAIRN_SLUG_TAG, in, sizeof(in) - 1);
	want = with_hash("abcd", in, sizeof(in) - 1);
	assert_string_equal(got, want);
	free(got);
	free(want);
}

/*
 * The result does not depend on the caller's locale (glibc transliterates differently under
 * C.UTF-8), and slugify leaves the caller's locale alone.
 */
static void test_slug_locale(void **state)
{
	static const char in[] = "Ünïcödé/ветка-Straße";
	char *in_c, *in_utf8;

	(void)state;
	in_c = cairn_slugify(CAIRN_SLUG_TAG, in, strlen(in));
	if (!setlocale(LC_ALL, "C.UTF-8")) {
		free(in_c);
		skip();
	}
	in_utf8 = cairn_slugify(CAIRN_SLUG_TAG, in, strlen(in));
	assert_true(uselocale((locale_t)0) == LC_GLOBAL_LOCALE);
	assert_string_equal(setlocale(LC_CTYPE, NULL), "C.UTF-8");
	setlocale(LC_ALL, "C");
	assert_string_equal(in_c, in_utf8);
	assert_non_null(strstr(in_c, "unicode-vetka-strasse-"));
	free(in_c);
	free(in_utf8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_murmur3_known),
		cmocka_unit_test(test_murmur3_unaligned),
		cmocka_unit_test(test_format_parse),
		cmocka_unit_test(test_slug_vectors),
		cmocka_unit_test(test_slug_lengths),
		cmocka_unit_test(test_slug_crop_trailing_dash),
		cmocka_unit_test(test_slug_idempotent),
		cmocka_unit_test(test_slug_len),
		cmocka_unit_test(test_slug_locale),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
