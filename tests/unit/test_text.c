/* SPDX-License-Identifier: MIT */
/* Unit tests for text shown on a terminal: escapes, UTF-8, and errors and logs using them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common.h"
#include "util/text.h"

static char *shown(const char *s, size_t n, bool keep_newlines)
{
	struct cairn_buf b = CAIRN_BUF_INIT;

	cairn_buf_add_shown(&b, s, n, keep_newlines);
	return cairn_buf_detach(&b, NULL);
}

static void check(const char *in, bool keep, const char *want)
{
	char *got = shown(in, strlen(in), keep);

	assert_string_equal(got, want);
	assert_int_equal(cairn_text_shows(in, strlen(in), keep), strcmp(in, want) == 0);
	/* what is shown shows as itself: escaping twice changes nothing */
	assert_true(cairn_text_shows(got, strlen(got), keep));
	free(got);
}

static void test_plain_text_is_kept(void **state)
{
	(void)state;
	check("", false, "");
	check("image 'app': stage 'install' failed", false, "image 'app': stage 'install' failed");
	check("tab\there", false, "tab\there");
	check("Ошибка: 画像 ✓ \xf0\x9f\x90\xb3", false, "Ошибка: 画像 ✓ \xf0\x9f\x90\xb3");
	check("two\nlines", true, "two\nlines");
}

static void test_controls_are_escaped(void **state)
{
	(void)state;
	check("denied\n[OK] forged", false, "denied\\x0a[OK] forged");
	check("\x1b]52;c;ZWNobw==\x07\x1b[31mred", true, "\\x1b]52;c;ZWNobw==\\x07\\x1b[31mred");
	check("cr\rover", true, "cr\\x0dover");
	check("del\x7f", false, "del\\x7f");
	/* bidi override and isolate, RLM, line separator; an ordinary dash of that block stays */
	check("a\xe2\x80\xae"
	      "cba",
	      false, "a\\xe2\\x80\\xaecba");
	check("\xe2\x81\xa6x\xe2\x81\xa9", false, "\\xe2\\x81\\xa6x\\xe2\\x81\\xa9");
	check("\xe2\x80\x8f|\xe2\x80\xa8", false, "\\xe2\\x80\\x8f|\\xe2\\x80\\xa8");
	check("\xe2\x80\x94", false, "\xe2\x80\x94");
	/* C1 controls as UTF-8 (U+009B is CSI on some terminals), and U+00A0 which is not one */
	check("\xc2\x9b"
	      "2J \xc2\xa0",
	      false, "\\xc2\\x9b2J \xc2\xa0");
}

static void test_broken_utf8_is_escaped(void **state)
{
	(void)state;
	check("\xff", false, "\\xff");
	check("a\x9b"
	      "b",
	      false, "a\\x9bb");				  /* a lone continuation byte */
	check("\xe2\x9c", false, "\\xe2\\x9c");			  /* cut short */
	check("\xc0\xaf", false, "\\xc0\\xaf");			  /* overlong '/' */
	check("\xed\xa0\x80", false, "\\xed\\xa0\\x80");	  /* a surrogate */
	check("\xf4\x90\x80\x80", false, "\\xf4\\x90\\x80\\x80"); /* past U+10FFFF */
	check("\xf5\x80\x80", false, "\\xf5\\x80\\x80");	  /* no such lead byte */
	check("\xf7\xbf\xbf", false, "\\xf7\\xbf\\xbf");
	check("\xe0\x80\xaf", false, "\\xe0\\x80\\xaf");	  /* overlong, 3 bytes */
	check("\xf0\x80\x80\xaf", false, "\\xf0\\x80\\x80\\xaf"); /* overlong, 4 bytes */
	check("\xf4\x8f\xbf\xbf", false, "\xf4\x8f\xbf\xbf");	  /* U+10FFFF itself */
}

static void test_make_shown_replaces_only_when_needed(void **state)
{
	char *s = xstrdup("fine");
	char *same = s;

	(void)state;
	s = cairn_text_make_shown(s, true);
	assert_ptr_equal(s, same);
	free(s);
	s = cairn_text_make_shown(xstrdup("a\x1b[2Jb"), true);
	assert_string_equal(s, "a\\x1b[2Jb");
	free(s);
}

static void test_errors_are_shown_as_text(void **state)
{
	struct cairn_error *err = NULL;

	(void)state;
	cairn_error_set(&err, CAIRN_EHTTP, "registry said '%s'", "\x1b[31mred\x1b[0m");
	cairn_error_wrap(&err, "pull '%s'", "host/\x07repo");
	assert_string_equal(err->msg,
			    "pull 'host/\\x07repo': registry said '\\x1b[31mred\\x1b[0m'");
	cairn_error_free(err);
	err = NULL;
	/* a message's own lines stay lines (rendered config excerpts) */
	cairn_error_set(&err, CAIRN_EINVAL, "werf.yaml:2:1: bad\n  > 2 | x");
	assert_string_equal(err->msg, "werf.yaml:2:1: bad\n  > 2 | x");
	cairn_error_free(err);
}

static char *logged;

static void keep_log(enum cairn_log_level level, const char *msg, void *ud)
{
	(void)level;
	(void)ud;
	free(logged);
	logged = xstrdup(msg);
}

static void test_logs_are_shown_as_text(void **state)
{
	(void)state;
	cairn_log_set_handler(keep_log, CAIRN_LOG_TRACE, NULL);
	cairn_log(CAIRN_LOG_TRACE, "< Server: %s", "evil\x1b]0;title\x07");
	assert_string_equal(logged, "< Server: evil\\x1b]0;title\\x07");
	cairn_log_set_handler(NULL, CAIRN_LOG_ERROR, NULL);
	free(logged);
	logged = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_text_is_kept),
		cmocka_unit_test(test_controls_are_escaped),
		cmocka_unit_test(test_broken_utf8_is_escaped),
		cmocka_unit_test(test_make_shown_replaces_only_when_needed),
		cmocka_unit_test(test_errors_are_shown_as_text),
		cmocka_unit_test(test_logs_are_shown_as_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
