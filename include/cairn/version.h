/* SPDX-License-Identifier: MIT */
/* Version of libcairn. */
#ifndef CAIRN_VERSION_H
#define CAIRN_VERSION_H

#include "cairn/common.h"

/** The version string, e.g. "0.1.0"; static storage. */
CAIRN_API const char *cairn_version(void);

/**
 * The libraries cairn runs with and their versions, a line each ("libcurl 7.88.1
 * (OpenSSL/3.0.15)", "libgit2 1.5.1", ...): a new string the caller frees.
 */
CAIRN_API char *cairn_version_libraries(void);

#endif
