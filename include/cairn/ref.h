/* SPDX-License-Identifier: MIT */
/* Image references: [host[:port]/]path[:tag][@digest], with Docker Hub normalisation. */
#ifndef CAIRN_REF_H
#define CAIRN_REF_H

#include <stddef.h>
#include "cairn/common.h"
#include "cairn/error.h"

#define CAIRN_TAG_MAX 128

struct cairn_ref {
	char *domain; /* "127.0.0.1:5000", "docker.io" when the reference names no host */
	char *path;   /* "team/app"; "library/alpine" for a one-component Docker Hub name */
	char *tag;    /* NULL when absent */
	char *digest; /* "sha256:<hex>", NULL when absent */
};

#define CAIRN_REF_INIT \
	{              \
		0      \
	}

/**
 * Parse an image reference. The result owns its strings (free with cairn_ref_release()). A
 * malformed reference is CAIRN_EINVAL with "invalid reference 'X': <reason>".
 */
CAIRN_API int cairn_ref_parse(struct cairn_ref *out, const char *s, struct cairn_error **err);

/**
 * Parse a repository (REPO of the publish commands): like cairn_ref_parse() but a tag or digest
 * is refused, with "invalid repository 'X': <reason>".
 */
CAIRN_API int cairn_repo_parse(struct cairn_ref *out, const char *s, struct cairn_error **err);

/** Free the strings of `r` and reset it to CAIRN_REF_INIT; accepts a released ref. */
CAIRN_API void cairn_ref_release(struct cairn_ref *r);

/** "domain/path[:tag][@digest]"; a new string the caller frees. */
CAIRN_API char *cairn_ref_format(const struct cairn_ref *r);

/** The host to send API requests to: "registry-1.docker.io" for "docker.io" (borrowed). */
CAIRN_API const char *cairn_ref_api_host(const struct cairn_ref *r);

/**
 * Check a tag: ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ and at most 128 bytes. CAIRN_EINVAL with
 * "invalid tag 'X': <reason>" otherwise.
 */
CAIRN_API int cairn_tag_validate(const char *tag, size_t len, struct cairn_error **err);

#endif
