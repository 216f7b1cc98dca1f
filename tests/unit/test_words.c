/* SPDX-License-Identifier: MIT */
/* Unit tests for Dockerfile words: quotes, escapes, substitution, as Docker processes them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common.h"
#include "dockerfile/words.h"
#include "util/buf.h"

static const char *lookup(const char *name, size_t len, void *ud)
{
	static const char *const env[] = {"PATH=/usr/bin:/bin", "HOME=/root", "EMPTY=", "SP=a b",
					  "Q=\"quoted\""};

	(void)ud;
	for (size_t i = 0; i < ARRAY_SIZE(env); i++)
		if (strncmp(env[i], name, len) == 0 && env[i][len] == '=')
			return env[i] + len + 1;
	return NULL;
}

static void test_words(void **state)
{
	static const struct {
		const char *in, *out;
		char escape;
	} c[] = {
		{"/opt/bin:$PATH", "/opt/bin:/usr/bin:/bin", '\\'},
		{"${PATH}:/x", "/usr/bin:/bin:/x", '\\'},
		{"\"-Xmx1g\"", "-Xmx1g", '\\'},
		{"\"-Xmx1g -Xms1g\"", "-Xmx1g -Xms1g", '\\'},
		{"'$HOME'", "$HOME", '\\'},
		{"\"$HOME\"", "/root", '\\'},
		{"\\$HOME", "$HOME", '\\'},
		{"a\\ b", "a b", '\\'},
		{"\"a\\\"b\\\\c\\d\"", "a\"b\\c\\d", '\\'},
		{"$UNSET", "", '\\'},
		{"x$", "x$", '\\'},
		{"$-x", "$-x", '\\'},
		{"cost: $5", "cost: ", '\\'},
		{"$5abc", "abc", '\\'},
		{"${UNSET:-def}", "def", '\\'},
		{"${EMPTY:-def}", "def", '\\'},
		{"${EMPTY-def}", "", '\\'},
		{"${HOME:-def}", "/root", '\\'},
		{"${HOME:+alt}", "alt", '\\'},
		{"${EMPTY:+alt}", "", '\\'},
		{"${EMPTY+alt}", "alt", '\\'},
		{"${UNSET+alt}", "", '\\'},
		{"${UNSET:-$HOME/x}", "/root/x", '\\'},
		{"${UNSET:-${HOME:+\"a}b\"}}", "a}b", '\\'},
		{"$SP", "a b", '\\'},
		{"$Q", "\"quoted\"", '\\'}, /* a value's quotes are the value's */
		{"C:\\\\dir", "C:\\dir", '\\'},
		{"C:\\dir", "C:\\dir", '`'},
		{"`$HOME", "$HOME", '`'},
		{"trailing\\", "trailing", '\\'},
		{"", "", '\\'},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		struct cairn_error *err = NULL;
		char *out = NULL;

		if (cairn_dockerfile_word(&out, c[i].in, strlen(c[i].in), c[i].escape, lookup, NULL,
					  &err) != 0)
			fail_msg("'%s': %s", c[i].in, err->msg);
		if (strcmp(out, c[i].out) != 0)
			fail_msg("'%s': got '%s', want '%s'", c[i].in, out, c[i].out);
		free(out);
	}
}

static void test_errors(void **state)
{
	static const struct {
		const char *in, *msg;
	} c[] = {
		{"\"open", "'\"' without its closing quote"},
		{"'open", "without its closing quote"},
		{"${HOME", "'${' without its '}'"},
		{"${HOME:-x", "'${' without its '}'"},
		{"${}", "'${' without a variable name"},
		{"${-x}", "'${' without a variable name"},
		{"${HOME%x}", "'${HOME': unsupported modifier"},
		{"${UNSET:?must be set}", "UNSET: must be set"},
		{"${EMPTY:?}", "EMPTY: is not set"},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		struct cairn_error *err = NULL;
		char *out = (char *)1;

		assert_int_equal(cairn_dockerfile_word(&out, c[i].in, strlen(c[i].in), '\\', lookup,
						       NULL, &err),
				 CAIRN_EINVAL);
		assert_null(out);
		if (!strstr(err->msg, c[i].msg))
			fail_msg("'%s': '%s' lacks '%s'", c[i].in, err->msg, c[i].msg);
		cairn_error_free(err);
	}
}

static void test_limits(void **state)
{
	cleanup_free char *deep = NULL;
	struct cairn_error *err = NULL;
	char *out = NULL;
	struct cairn_buf b = CAIRN_BUF_INIT;

	(void)state;
	for (int i = 0; i < 40; i++)
		cairn_buf_addstr(&b, "${UNSET:-");
	for (int i = 0; i < 40; i++)
		cairn_buf_addch(&b, '}');
	deep = cairn_buf_detach(&b, NULL);
	assert_int_equal(cairn_dockerfile_word(&out, deep, strlen(deep), '\\', lookup, NULL, &err),
			 CAIRN_EINVAL);
	assert_non_null(strstr(err->msg, "nested too deeply"));
	cairn_error_free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
