/* SPDX-License-Identifier: MIT */
/* First include of every libcairn source file: feature macros, basic helpers, banned calls. */
#ifndef CAIRN_LIB_COMMON_H
#define CAIRN_LIB_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/error.h"
#include "cairn/log.h"
#include "util/xalloc.h"
#include "util/cleanup.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* qsort() that takes an empty array too: C leaves qsort(NULL, 0, ...) undefined. */
static inline void cairn_sort(void *v, size_t n, size_t size,
			      int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(v, n, size, cmp);
}

#include "util/banned.h"

#endif
