/* SPDX-License-Identifier: MIT */
/* Version of libcairn. */
#ifndef CAIRN_VERSION_H
#define CAIRN_VERSION_H

#include "cairn/common.h"

/** The version string, e.g. "0.1.0"; static storage. */
CAIRN_API const char *cairn_version(void);

#endif
