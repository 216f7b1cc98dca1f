/* SPDX-License-Identifier: MIT */
/* Unit tests for digests: known SHA-256 values, streaming equals one-shot, strict parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common.h"
#include "util/sha256.h"

#define EMPTY "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ABC "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static void test_known_values(void **state)
{
	struct cairn_digest d;

	(void)state;
	cairn_digest_of(&d, "", 0);
	assert_string_equal(d.str, EMPTY);
	cairn_digest_of(&d, "abc", 3);
	assert_string_equal(d.str, ABC);
	assert_string_equal(cairn_digest_hex(&d), ABC + 7);
}

static void test_streaming_matches(void **state)
{
	struct cairn_sha256 h;
	struct cairn_digest a, b;
	char *big = xmalloc(1 << 20);

	(void)state;
	for (size_t i = 0; i < (1 << 20); i++)
		big[i] = (char)(i * 31 + 7);
	cairn_digest_of(&a, big, 1 << 20);
	cairn_sha256_init(&h);
	for (size_t off = 0; off < (1 << 20); off += 4093) {
		size_t n = (1 << 20) - off < 4093 ? (1 << 20) - off : 4093;

		cairn_sha256_update(&h, big + off, n);
	}
	cairn_sha256_final(&h, &b);
	assert_true(cairn_digest_equal(&a, &b));
	cairn_sha256_release(&h);
	free(big);
}

static void test_parse(void **state)
{
	static const struct {
		const char *in;
		int ret;
		const char *reason;
	} c[] = {
		{ABC, 0, NULL},
		{"sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
		 CAIRN_EINVAL, "lowercase"},
		{"sha512:ba7816bf", CAIRN_EINVAL, "unsupported algorithm"},
		{"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", CAIRN_EINVAL,
		 "no algorithm"},
		{"sha256:ba7816", CAIRN_EINVAL, "64 hex"},
		{"sha256:", CAIRN_EINVAL, "64 hex"},
		{"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0",
		 CAIRN_EINVAL, "64 hex"},
		{"sha256:za7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		 CAIRN_EINVAL, "hex"},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		struct cairn_digest d;
		struct cairn_error *err = NULL;

		assert_int_equal(cairn_digest_parse(&d, c[i].in, strlen(c[i].in), &err), c[i].ret);
		if (c[i].ret == 0) {
			assert_string_equal(d.str, c[i].in);
			assert_null(err);
		} else {
			assert_non_null(strstr(err->msg, c[i].reason));
			assert_non_null(strstr(err->msg, "invalid digest"));
		}
		cairn_error_free(err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_values),
		cmocka_unit_test(test_streaming_matches),
		cmocka_unit_test(test_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
