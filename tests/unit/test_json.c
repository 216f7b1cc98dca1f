/* SPDX-License-Identifier: MIT */
/* Unit tests for the JSON helpers: canonical bytes, duplicate keys, typed getters, caps. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common.h"
#include "util/json.h"

static void test_canonical_output(void **state)
{
	static const char *const in[] = {
		"{\"b\": 1, \"a\": {\"z\": [1, 2], \"y\": \"é/\"}}",
		"{\n  \"a\": {\"y\": \"\\u00e9/\", \"z\": [1,2]},\n  \"b\": 1\n}",
	};
	const char *want = "{\"a\":{\"y\":\"é/\",\"z\":[1,2]},\"b\":1}";

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(in); i++) {
		struct cairn_buf b = CAIRN_BUF_INIT;
		struct cairn_error *err = NULL;
		json_t *j = NULL;

		assert_int_equal(cairn_json_parse(&j, in[i], strlen(in[i]), "doc", &err), 0);
		assert_int_equal(cairn_json_dump(&b, j, &err), 0);
		assert_string_equal(b.buf, want);
		json_decref(j);
		cairn_buf_release(&b);
	}
}

static void test_parse_errors(void **state)
{
	static const struct {
		const char *in, *want;
	} c[] = {
		{"{\"a\":1,\"a\":2}", "duplicate"},
		{"{\"a\":", "line 1"},
		{"{}\n{}", "end of file expected"},
		{"", "line"},
		{"{\n\n  x}", "line 3"},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		struct cairn_error *err = NULL;
		json_t *j = NULL;

		assert_int_equal(cairn_json_parse(&j, c[i].in, strlen(c[i].in), "manifest", &err),
				 CAIRN_EINVAL);
		assert_null(j);
		assert_non_null(strstr(err->msg, "parse manifest"));
		if (!strstr(err->msg, c[i].want))
			fail_msg("case %zu: '%s' lacks '%s'", i, err->msg, c[i].want);
		cairn_error_free(err);
	}
}

static void test_getters(void **state)
{
	const char *doc = "{\"s\":\"x\",\"n\":5,\"neg\":-1,\"o\":{},\"a\":[],\"z\":null}";
	struct cairn_error *err = NULL;
	const char *s;
	uint64_t n;
	json_t *j = NULL, *v;

	(void)state;
	assert_int_equal(cairn_json_parse(&j, doc, strlen(doc), "doc", &err), 0);
	assert_int_equal(cairn_json_get_string(&s, j, "s", 1, "doc", &err), 0);
	assert_string_equal(s, "x");
	assert_int_equal(cairn_json_get_u64(&n, j, "n", 1, "doc", &err), 0);
	assert_int_equal(n, 5);
	assert_int_equal(cairn_json_get_object(&v, j, "o", 1, "doc", &err), 0);
	assert_true(json_is_object(v));
	assert_int_equal(cairn_json_get_array(&v, j, "a", 1, "doc", &err), 0);
	assert_true(json_is_array(v));
	/* absent or null: fine when optional, ENOTFOUND when required */
	assert_int_equal(cairn_json_get_string(&s, j, "missing", 0, "doc", &err), 0);
	assert_null(s);
	assert_int_equal(cairn_json_get_string(&s, j, "z", 0, "doc", &err), 0);
	assert_null(s);
	assert_int_equal(cairn_json_get_string(&s, j, "missing", 1, "doc", &err), CAIRN_ENOTFOUND);
	assert_string_equal(err->msg, "doc: missing 'missing'");
	cairn_error_clear(&err);
	/* wrong types */
	assert_int_equal(cairn_json_get_string(&s, j, "n", 1, "doc", &err), CAIRN_EINVAL);
	cairn_error_clear(&err);
	assert_int_equal(cairn_json_get_u64(&n, j, "neg", 1, "doc", &err), CAIRN_EINVAL);
	cairn_error_clear(&err);
	assert_int_equal(cairn_json_get_object(&v, j, "a", 1, "doc", &err), CAIRN_EINVAL);
	cairn_error_clear(&err);
	assert_int_equal(cairn_json_get_array(&v, j, "o", 1, "doc", &err), CAIRN_EINVAL);
	cairn_error_clear(&err);
	json_decref(j);
}

static void test_dump_respects_cap(void **state)
{
	struct cairn_buf b = CAIRN_BUF_INIT_MAX(10);
	struct cairn_error *err = NULL;
	json_t *j = json_pack("{s:s}", "key", "a long enough value");

	(void)state;
	assert_int_equal(cairn_json_dump(&b, j, &err), CAIRN_ETOOBIG);
	cairn_error_free(err);
	json_decref(j);
	cairn_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical_output),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_getters),
		cmocka_unit_test(test_dump_respects_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
