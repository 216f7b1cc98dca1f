/* SPDX-License-Identifier: MIT */
/* Allocation wrappers that abort on out-of-memory (docs/errors.md explains why). */
#ifndef CAIRN_UTIL_XALLOC_H
#define CAIRN_UTIL_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* Grow an array of `nmemb` elements of `size` bytes, checking for overflow. */
void *xreallocarray(void *p, size_t nmemb, size_t size);
/*
 * Room for one more element in array `p` of `n` elements of `size` bytes, grown only through
 * here: its room is the power of two at or above `n`, doubled when full, so `n` appends copy
 * O(n) bytes (a realloc per append copies quadratically where realloc cannot grow in place).
 */
static inline void *xgrow1(void *p, size_t n, size_t size)
{
	if (n == 0 || (n & (n - 1)) == 0)
		return xreallocarray(p, n ? 2 * n : 1, size);
	return p;
}
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
