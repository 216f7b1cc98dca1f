/* SPDX-License-Identifier: MIT */
/* Content digests ("sha256:<64 lowercase hex>"), the names of every blob cairn handles. */
#ifndef CAIRN_DIGEST_H
#define CAIRN_DIGEST_H

#include <stddef.h>
#include "cairn/common.h"
#include "cairn/error.h"

#define CAIRN_DIGEST_HEX_LEN 64
/* "sha256:" + 64 hex digits + NUL */
#define CAIRN_DIGEST_STR_MAX 72

struct cairn_digest {
	char str[CAIRN_DIGEST_STR_MAX]; /* "sha256:<hex>", NUL-terminated */
};

/**
 * Parse and validate a digest string of `len` bytes. Only sha256 is supported; anything else,
 * upper-case hex or a wrong length is CAIRN_EINVAL naming the input.
 */
CAIRN_API int cairn_digest_parse(struct cairn_digest *out, const char *s, size_t len,
				 struct cairn_error **err);

/** The SHA-256 digest of `len` bytes at `p`. Cannot fail. */
CAIRN_API void cairn_digest_of(struct cairn_digest *out, const void *p, size_t len);

/** The 64 hex digits of `d` (borrowed from d). */
CAIRN_API const char *cairn_digest_hex(const struct cairn_digest *d);

/** True when both digests are the same. */
CAIRN_API int cairn_digest_equal(const struct cairn_digest *a, const struct cairn_digest *b);

#endif
