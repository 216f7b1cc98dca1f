/* SPDX-License-Identifier: MIT */
/* Unit tests of the interrupt flag: first signal kept, wake-up pipe, early end of sleeps. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common.h"
#include "util/interrupt.h"

#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

static int setup(void **state)
{
	struct cairn_error *err = NULL;

	(void)state;
	if (cairn_interrupt_init(&err) < 0) {
		cairn_error_free(err);
		return -1;
	}
	cairn_interrupt_reset();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cairn_interrupt_reset();
	return 0;
}

static int wake_readable(void)
{
	struct pollfd p = {.fd = cairn_interrupt_fd(), .events = POLLIN};

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_first_signal_kept(void **state)
{
	struct cairn_error *err = NULL;

	(void)state;
	assert_int_equal(cairn_interrupted(), 0);
	assert_int_equal(cairn_interrupt_check(&err), 0);
	assert_null(err);
	assert_false(wake_readable());
	cairn_interrupt(SIGPIPE);
	cairn_interrupt(SIGTERM);
	assert_int_equal(cairn_interrupted(), SIGPIPE);
	assert_int_equal(cairn_interrupt_check(&err), CAIRN_EINTERRUPTED);
	assert_string_equal(err->msg, "interrupted by SIGPIPE");
	assert_string_equal(cairn_code_name(err->code), "EINTERRUPTED");
	cairn_error_free(err);
	/* readable for every waiter, however many look */
	assert_true(wake_readable());
	assert_true(wake_readable());
	cairn_interrupt_reset();
	assert_int_equal(cairn_interrupted(), 0);
	assert_false(wake_readable());
}

static void test_sleep_runs_its_time(void **state)
{
	double t0 = now();

	(void)state;
	cairn_interrupt_sleep(120);
	assert_true(now() - t0 >= 0.115);
}

static void on_alarm(int signo)
{
	cairn_interrupt(signo);
}

static void test_signal_ends_sleep(void **state)
{
	struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART}, old;
	double t0;

	(void)state;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	t0 = now();
	alarm(1);
	cairn_interrupt_sleep(30000);
	assert_true(now() - t0 < 10);
	assert_int_equal(cairn_interrupted(), SIGALRM);
	sigaction(SIGALRM, &old, NULL);
	/* once interrupted, a sleep does not start */
	t0 = now();
	cairn_interrupt_sleep(30000);
	assert_true(now() - t0 < 1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_first_signal_kept),
		T(test_sleep_runs_its_time),
		T(test_signal_ends_sleep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
