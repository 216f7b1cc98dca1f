/* SPDX-License-Identifier: MIT */
/* Version of libcairn. */
#include "common.h"
#include "cairn/version.h"

const char *cairn_version(void)
{
	return CAIRN_VERSION_STRING;
}
