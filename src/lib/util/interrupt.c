/* SPDX-License-Identifier: MIT */
/* The interrupt flag: set from a signal handler, read by every loop that may run long. */
#include "common.h"
#include "util/interrupt.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

static atomic_int interrupted_by;
/* Never read: once a byte is in, the read end stays readable for every poll(2) in any thread. */
static int wake[2] = {-1, -1};

int cairn_interrupt_init(struct cairn_error **err)
{
	if (wake[0] >= 0)
		return 0;
	if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) < 0)
		return cairn_error_set_errno(err, "create the interrupt pipe");
	return 0;
}

void cairn_interrupt(int signo)
{
	int none = 0, saved = errno;

	if (signo > 0 && atomic_compare_exchange_strong(&interrupted_by, &none, signo) &&
	    wake[1] >= 0) {
		ssize_t n = write(wake[1], "!", 1);

		(void)n; /* only the first call writes, so the pipe cannot be full */
	}
	errno = saved;
}

int cairn_interrupted(void)
{
	return atomic_load(&interrupted_by);
}

int cairn_interrupt_fd(void)
{
	return wake[0];
}

int cairn_interrupt_check(struct cairn_error **err)
{
	int signo = cairn_interrupted();
	const char *name;

	if (!signo)
		return 0;
	name = sigabbrev_np(signo);
	if (name)
		return cairn_error_set(err, CAIRN_EINTERRUPTED, "interrupted by SIG%s", name);
	return cairn_error_set(err, CAIRN_EINTERRUPTED, "interrupted by signal %d", signo);
}

void cairn_interrupt_sleep(unsigned long ms)
{
	struct timespec end, now;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += (time_t)(ms / 1000);
	end.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	while (!cairn_interrupted()) {
		struct pollfd p = {.fd = wake[0], .events = POLLIN};
		long left;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (long)(end.tv_sec - now.tv_sec) * 1000 +
		       (end.tv_nsec - now.tv_nsec) / 1000000;
		if (left <= 0)
			break;
		/* without the pipe, look at the flag ten times a second */
		poll(&p, wake[0] >= 0 ? 1 : 0, wake[0] >= 0 || left < 100 ? (int)left : 100);
	}
}

void cairn_interrupt_reset(void)
{
	char buf[64];

	if (wake[0] >= 0)
		while (read(wake[0], buf, sizeof(buf)) > 0)
			;
	atomic_store(&interrupted_by, 0);
}
