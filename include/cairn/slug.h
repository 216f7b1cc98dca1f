/* SPDX-License-Identifier: MIT */
/* Slugs: turning arbitrary strings (branch names, tags) into valid docker tags and names. */
#ifndef CAIRN_SLUG_H
#define CAIRN_SLUG_H

#include <stddef.h>
#include <stdint.h>
#include "cairn/common.h"
#include "cairn/error.h"

enum cairn_slug_format {
	CAIRN_SLUG_TAG = 0,	/* docker tag: ^[A-Za-z0-9_][A-Za-z0-9_.-]*$, under 128 bytes */
	CAIRN_SLUG_NS = 1,	/* kubernetes namespace: ^[a-z0-9]([a-z0-9-]*[a-z0-9])?$, < 63 */
	CAIRN_SLUG_RELEASE = 2, /* helm release: ^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$, < 53 */
};

/**
 * Parse "tag", "ns" or "release", or werf's names for them: "docker-tag",
 * "kubernetes-namespace", "helm-release" (or "r"). Anything else is CAIRN_EINVAL naming the input.
 */
CAIRN_API int cairn_slug_format_parse(enum cairn_slug_format *out, const char *name,
				      struct cairn_error **err);

/**
 * The slug of the `len` bytes at `s` in format `f`, per spec section 5: the input itself when it
 * is already valid, else a cleaned, cropped form plus "-" and the MurmurHash3 of the original
 * bytes. Returns a new NUL-terminated string the caller frees. Cannot fail.
 */
CAIRN_API char *cairn_slugify(enum cairn_slug_format f, const char *s, size_t len);

/** MurmurHash3 x86 32-bit of `len` bytes with `seed`. */
CAIRN_API uint32_t cairn_murmur3_32(const void *p, size_t len, uint32_t seed);

#endif
