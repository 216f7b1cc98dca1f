/* SPDX-License-Identifier: MIT */
/* ADD of a URL (df_fetch.c). */
#ifndef CAIRN_STAGE_DF_FETCH_H
#define CAIRN_STAGE_DF_FETCH_H

#include <stdint.h>

#include "cairn/digest.h"
#include "cairn/error.h"

struct df_fetched {
	struct cairn_digest digest; /* sha256 of the bytes */
	uint64_t size;
	int64_t mtime; /* the server's Last-Modified, else 0 */
};

/*
 * GET `url` (http or https, redirects followed, at most 8 GiB, a minute without a byte fails)
 * into the new file `path` (0600). CAIRN_EHTTP naming the URL for a failed transfer or a
 * status other than 2xx; the file is removed then.
 */
int df_fetch(struct df_fetched *out, const char *url, const char *path, struct cairn_error **err);

#endif
