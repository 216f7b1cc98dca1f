/* SPDX-License-Identifier: MIT */
/* Link headers (RFC 8288) for pagination; resolution, origins and escaping of registry URLs. */
#ifndef CAIRN_REGISTRY_LINK_H
#define CAIRN_REGISTRY_LINK_H

#include <stdbool.h>
#include <stddef.h>

#include "cairn/error.h"

/* Longest Link header value accepted. */
#define CAIRN_LINK_MAX (16u * 1024)

/*
 * Find the link with relation type "next" in one Link header value of `len` bytes (not
 * NUL-terminated): `*out` is a new string holding its URI-reference as sent (resolve it with
 * cairn_url_resolve()), or NULL when no link has that relation. The rel parameter may be quoted
 * and list several types; names and types are matched without regard to case; only the first
 * rel of a link counts (RFC 8288 3.3); the first "next" link wins. CAIRN_EINVAL "invalid Link
 * header: <reason>" when any part of the value is malformed or the next link is "<>",
 * CAIRN_ETOOBIG past CAIRN_LINK_MAX bytes.
 */
int cairn_link_next(char **out, const char *value, size_t len, struct cairn_error **err);

/*
 * Resolve the URI reference `ref` against the absolute URI `base` (RFC 3986 5.2, strict: a
 * reference with a scheme is returned as it is; dot segments of the other forms are removed).
 * A new string the caller frees, or NULL when `base` has no scheme.
 */
char *cairn_url_resolve(const char *base, const char *ref);

/*
 * The origin (RFC 6454) of the absolute http or https URL `url`, as "scheme://host:port" with
 * scheme and host in lower case and the port always written (80 or 443 when the URL has none).
 * A new string the caller frees, or NULL for any other URL: another scheme, no host, a bad port,
 * or userinfo ("user@host": such a URL is nobody's origin, so it never gets credentials).
 */
char *cairn_url_origin(const char *url);

/*
 * Whether `a` and `b` have one origin. The registry client sends a registry's credentials and
 * tokens only to URLs of the registry's own origin; false when either URL has no origin.
 */
bool cairn_url_same_origin(const char *a, const char *b);

/*
 * Percent-encode `s` for a URL query or path segment: every byte but the RFC 3986 unreserved
 * characters (letters, digits, '-', '.', '_', '~') becomes %XX, in upper-case hex. A new
 * string the caller frees.
 */
char *cairn_url_escape(const char *s);

#endif
