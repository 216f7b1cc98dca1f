/* SPDX-License-Identifier: MIT */
/* Standard base64 (RFC 4648 section 4, with padding). */
#ifndef CAIRN_UTIL_BASE64_H
#define CAIRN_UTIL_BASE64_H

#include <stddef.h>

/* The encoding of `n` bytes at `p`: a new string of exactly its size (a credential may go in). */
char *cairn_base64_encode(const void *p, size_t n);

#endif
