/* SPDX-License-Identifier: MIT */
/* Unit tests for the error object: codes, errno capture, wrapping, first root cause wins. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common.h"
#include "util/parse.h"

static void test_set_and_wrap(void **state)
{
	struct cairn_error *err = NULL;

	(void)state;
	assert_int_equal(cairn_error_set(&err, CAIRN_ENOTFOUND, "blob '%s'", "sha256:ab"),
			 CAIRN_ENOTFOUND);
	assert_string_equal(err->msg, "blob 'sha256:ab'");
	assert_int_equal(cairn_error_wrap(&err, "push '%s'", "x:1"), CAIRN_ENOTFOUND);
	assert_string_equal(err->msg, "push 'x:1': blob 'sha256:ab'");
	assert_int_equal(err->code, CAIRN_ENOTFOUND);
	cairn_error_clear(&err);
	assert_null(err);
}

static void test_first_root_cause_is_kept(void **state)
{
	struct cairn_error *err = NULL;

	(void)state;
	cairn_error_set(&err, CAIRN_EAUTH, "first");
	assert_int_equal(cairn_error_set(&err, CAIRN_ENET, "second"), CAIRN_EAUTH);
	assert_string_equal(err->msg, "first");
	cairn_error_free(err);
}

static void test_errno(void **state)
{
	struct cairn_error *err = NULL;

	(void)state;
	errno = ENOENT;
	assert_int_equal(cairn_error_set_errno(&err, "open '%s'", "/x"), CAIRN_EOS);
	assert_int_equal(err->sys_errno, ENOENT);
	assert_string_equal(err->msg, "open '/x': No such file or directory");
	cairn_error_free(err);
}

static void test_null_err_is_allowed(void **state)
{
	(void)state;
	assert_int_equal(cairn_error_set(NULL, CAIRN_EINVAL, "ignored"), CAIRN_EINVAL);
	cairn_error_free(NULL);
}

static void test_wrap_without_error(void **state)
{
	struct cairn_error *err = NULL;

	(void)state;
	assert_int_equal(cairn_error_wrap(&err, "ctx"), CAIRN_EINTERNAL);
	assert_string_equal(err->msg, "ctx: unknown error");
	cairn_error_free(err);
}

static void test_code_names(void **state)
{
	(void)state;
	assert_string_equal(cairn_code_name(CAIRN_OK), "OK");
	assert_string_equal(cairn_code_name(CAIRN_EDIGEST), "EDIGEST");
	assert_string_equal(cairn_code_name(CAIRN_EOS), "EOS");
	assert_string_equal(cairn_code_name(CAIRN_EUSAGE), "EUSAGE");
	assert_string_equal(cairn_code_name(-99), "EUNKNOWN");
	assert_string_equal(cairn_code_name(5), "EUNKNOWN");
}

static void test_parse_u64(void **state)
{
	static const struct {
		const char *in;
		uint64_t max, want;
		int ret;
	} c[] = {
		{"0", 10, 0, 0},
		{"10", 10, 10, 0},
		{"11", 10, 0, CAIRN_EINVAL},
		{"18446744073709551615", UINT64_MAX, UINT64_MAX, 0},
		{"18446744073709551616", UINT64_MAX, 0, CAIRN_EINVAL},
		{"", 10, 0, CAIRN_EINVAL},
		{"-1", 10, 0, CAIRN_EINVAL},
		{" 1", 10, 0, CAIRN_EINVAL},
		{"1x", 10, 0, CAIRN_EINVAL},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		struct cairn_error *err = NULL;
		uint64_t v = 7;

		assert_int_equal(cairn_parse_u64(&v, c[i].in, c[i].max, "count", &err), c[i].ret);
		assert_true(v == c[i].want);
		if (c[i].ret)
			assert_non_null(strstr(err->msg, "invalid count"));
		cairn_error_free(err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_and_wrap),
		cmocka_unit_test(test_first_root_cause_is_kept),
		cmocka_unit_test(test_errno),
		cmocka_unit_test(test_null_err_is_allowed),
		cmocka_unit_test(test_wrap_without_error),
		cmocka_unit_test(test_code_names),
		cmocka_unit_test(test_parse_u64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
