/* SPDX-License-Identifier: MIT */
/* The cleanup commands' pure parts: --max-size of host cleanup. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common.h"
#include "cairn/cleanup.h"

#include <sys/statvfs.h>

static void test_max_size(void **state)
{
	static const struct {
		const char *arg;
		uint64_t want;
	} good[] = {
		{"0", 0},
		{"1", 1},
		{"1024", 1024},
		{"1K", 1024},
		{"1k", 1024},
		{"10M", 10ull << 20},
		{"10G", 10ull << 30},
		{"10Gi", 10ull << 30},
		{"10GiB", 10ull << 30},
		{"10GB", 10ull << 30},
		{"1.5G", 3ull << 29},
		{"2T", 2ull << 40},
	};
	static const char *const bad[] = {"",	  "G", "-1",   "10X",  "10GiBs", "1e30", "nan",
					  "101%", "%", "10 G", "0x10", "inf",	 "1e3"};
	struct cairn_error *err = NULL;
	struct statvfs vfs;
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		assert_int_equal(cairn_host_max_bytes(&v, "/tmp", good[i].arg, &err), 0);
		assert_true(v == good[i].want);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(cairn_host_max_bytes(&v, "/tmp", bad[i], &err), CAIRN_EUSAGE);
		assert_non_null(strstr(err->msg, "invalid size"));
		cairn_error_free(err);
		err = NULL;
	}
	assert_int_equal(statvfs("/tmp", &vfs), 0);
	assert_int_equal(cairn_host_max_bytes(&v, "/tmp", "50%", &err), 0);
	assert_true(v == (uint64_t)((double)vfs.f_blocks * (double)vfs.f_frsize * 0.5));
	assert_int_equal(cairn_host_max_bytes(&v, "/nonexistent/home", "50%", &err), CAIRN_EOS);
	cairn_error_free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_max_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
