/* SPDX-License-Identifier: MIT */
/* What library code checks to stop early: the interrupt flag and its wake-up pipe. */
#ifndef CAIRN_UTIL_INTERRUPT_H
#define CAIRN_UTIL_INTERRUPT_H

#include "cairn/error.h"
#include "cairn/interrupt.h"

/* The read end of the wake-up pipe, for poll(2): readable once interrupted; -1 before init. */
int cairn_interrupt_fd(void);

/* 0, or CAIRN_EINTERRUPTED with `*err` set to "interrupted by SIGTERM" (the signal's name). */
int cairn_interrupt_check(struct cairn_error **err);

/* Sleep `ms` milliseconds, or less when interrupted. */
void cairn_interrupt_sleep(unsigned long ms);

/* Forget an interruption, so that work can start again (tests). */
void cairn_interrupt_reset(void);

#endif
