/* SPDX-License-Identifier: MIT */
/* Stopping cairn's work early: one process-wide flag that a signal handler may set. */
#ifndef CAIRN_INTERRUPT_H
#define CAIRN_INTERRUPT_H

#include "cairn/common.h"
#include "cairn/error.h"

/**
 * Create the pipe that wakes cairn's waits (for a container, a child process, a retry delay)
 * when cairn_interrupt() is called. Call once, before installing the signal handlers; without
 * it the flag still works, but only loops that poll it see it. CAIRN_EOS if pipe2() fails.
 */
CAIRN_API int cairn_interrupt_init(struct cairn_error **err);

/**
 * Ask every cairn operation in progress, in any thread, to stop. Async-signal-safe: meant to be
 * called from a signal handler. The first caller's `signo` is kept. Each operation notices at its
 * next check, undoes what it started (stops its container, unmounts its overlays, aborts its
 * transfers, removes its temporary files) and fails with CAIRN_EINTERRUPTED.
 */
CAIRN_API void cairn_interrupt(int signo);

/** The signal number given to the first cairn_interrupt(), or 0 while not interrupted. */
CAIRN_API int cairn_interrupted(void);

#endif
