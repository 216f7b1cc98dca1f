/* SPDX-License-Identifier: MIT */
/* Scope-bound cleanup built on the compiler's cleanup attribute. */
#ifndef CAIRN_UTIL_CLEANUP_H
#define CAIRN_UTIL_CLEANUP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define CLEANUP(fn) __attribute__((cleanup(fn)))
#define cleanup_free CLEANUP(freep)
#define cleanup_close CLEANUP(closep)
#define cleanup_fclose CLEANUP(fclosep)
#define DEFINE_FREEP(type, fn)             \
	static inline void fn##p(type **p) \
	{                                  \
		fn(*p);                    \
	}
#define TAKE_PTR(p)                      \
	({                               \
		__typeof__(p) _tp = (p); \
		(p) = NULL;              \
		_tp;                     \
	})
#define TAKE_FD(fd)              \
	({                       \
		int _tfd = (fd); \
		(fd) = -1;       \
		_tfd;            \
	})

#endif
