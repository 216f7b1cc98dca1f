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
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
