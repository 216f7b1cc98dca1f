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

#include "util/banned.h"

#endif
