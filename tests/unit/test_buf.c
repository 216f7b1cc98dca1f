/* SPDX-License-Identifier: MIT */
/* Unit tests for the growable buffer: invariants, the cap and its sticky error, detach. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common.h"
#include "util/buf.h"

static void test_empty_is_valid_string(void **state)
{
	struct cairn_buf b = CAIRN_BUF_INIT;

	(void)state;
	assert_non_null(b.buf);
	assert_string_equal(b.buf, "");
	assert_int_equal(b.len, 0);
	cairn_buf_release(&b);
	assert_string_equal(b.buf, "");
}

static void test_add_and_format(void **state)
{
	struct cairn_buf b = CAIRN_BUF_INIT;

	(void)state;
	cairn_buf_addstr(&b, "hello");
	cairn_buf_addch(&b, ' ');
	cairn_buf_addf(&b, "%s-%d", "world", 42);
	assert_string_equal(b.buf, "hello world-42");
	assert_int_equal(b.len, 14);
	cairn_buf_add(&b, "\0x", 2);
	assert_int_equal(b.len, 16);
	assert_int_equal(b.buf[14], '\0');
	assert_int_equal(b.buf[16], '\0');
	cairn_buf_setlen(&b, 5);
	assert_string_equal(b.buf, "hello");
	cairn_buf_release(&b);
}

static void test_grows_past_many_doublings(void **state)
{
	struct cairn_buf b = CAIRN_BUF_INIT;

	(void)state;
	for (int i = 0; i < 100000; i++)
		cairn_buf_addch(&b, (char)('a' + i % 26));
	assert_int_equal(b.len, 100000);
	assert_int_equal(b.buf[99999], 'a' + 99999 % 26);
	assert_true(b.alloc > b.len);
	cairn_buf_release(&b);
}

static void test_cap_is_sticky(void **state)
{
	struct cairn_buf b = CAIRN_BUF_INIT_MAX(8);
	struct cairn_error *err = NULL;

	(void)state;
	cairn_buf_addstr(&b, "12345678");
	assert_int_equal(cairn_buf_check(&b, &err), 0);
	cairn_buf_addch(&b, '9');
	assert_int_equal(b.len, 8);
	assert_string_equal(b.buf, "12345678");
	/* Later appends that would fit on their own still do nothing: the data is incomplete. */
	cairn_buf_setlen(&b, 0);
	cairn_buf_addstr(&b, "x");
	assert_int_equal(b.len, 0);
	assert_int_equal(cairn_buf_check(&b, &err), CAIRN_ETOOBIG);
	assert_non_null(err);
	assert_non_null(strstr(err->msg, "8 bytes"));
	cairn_error_free(err);
	cairn_buf_reset(&b);
	cairn_buf_addstr(&b, "ok");
	assert_string_equal(b.buf, "ok");
	cairn_buf_release(&b);
}

static void test_addf_respects_cap(void **state)
{
	struct cairn_buf b = CAIRN_BUF_INIT_MAX(4);

	(void)state;
	cairn_buf_addf(&b, "%d", 123456);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.err, CAIRN_ETOOBIG);
	cairn_buf_release(&b);
}

static void test_detach(void **state)
{
	struct cairn_buf b = CAIRN_BUF_INIT;
	size_t len;
	char *p;

	(void)state;
	p = cairn_buf_detach(&b, &len);
	assert_string_equal(p, "");
	assert_int_equal(len, 0);
	free(p);
	cairn_buf_addstr(&b, "abc");
	p = cairn_buf_detach(&b, &len);
	assert_string_equal(p, "abc");
	assert_int_equal(len, 3);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.buf, "");
	free(p);
	cairn_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_is_valid_string),
		cmocka_unit_test(test_add_and_format),
		cmocka_unit_test(test_grows_past_many_doublings),
		cmocka_unit_test(test_cap_is_sticky),
		cmocka_unit_test(test_addf_respects_cap),
		cmocka_unit_test(test_detach),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
