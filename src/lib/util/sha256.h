/* SPDX-License-Identifier: MIT */
/* Streaming SHA-256 over libcrypto, producing cairn digests. */
#ifndef CAIRN_UTIL_SHA256_H
#define CAIRN_UTIL_SHA256_H

#include <stddef.h>

#include "cairn/digest.h"

struct cairn_sha256 {
	void *ctx; /* EVP_MD_CTX */
};

/* Start a hash; aborts on out-of-memory like xmalloc. */
void cairn_sha256_init(struct cairn_sha256 *h);
void cairn_sha256_update(struct cairn_sha256 *h, const void *p, size_t len);
/* Finish into `out`; the context is released and may be initialised again. */
void cairn_sha256_final(struct cairn_sha256 *h, struct cairn_digest *out);
/* Release without finishing; accepts a released context. */
void cairn_sha256_release(struct cairn_sha256 *h);

#endif
