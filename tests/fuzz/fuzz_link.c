/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: Link headers, URI resolution with the input as reference and as base, and the
 * origin of the input (which decides where credentials go).
 */
#include "common.h"
#include "registry/link.h"

#include <ctype.h>

#define BASE "http://127.0.0.1:5000/v2/x/tags/list?n=100"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool has_scheme(const char *s)
{
	size_t n = strcspn(s, ":/?#");

	if (n == 0 || s[n] != ':' || !isalpha((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("+-.", s[i]))
			return false;
	return true;
}

/* A resolved relative reference keeps BASE's scheme (and authority) and has no dot segments. */
static void check_resolved(const char *url, const char *ref)
{
	const char *p;

	if (!url)
		abort();
	if (has_scheme(ref)) {
		if (strcmp(url, ref) != 0)
			abort();
		return;
	}
	if (strncmp(url, "http://", 7) != 0)
		abort();
	if (strncmp(ref, "//", 2) != 0 && strncmp(url, "http://127.0.0.1:5000", 21) != 0)
		abort();
	p = url + 7 + strcspn(url + 7, "/?#");
	while (*p == '/') {
		size_t n = strcspn(p + 1, "/?#");

		if ((n == 1 && p[1] == '.') || (n == 2 && p[1] == '.' && p[2] == '.'))
			abort();
		p += 1 + n;
	}
	if (*p && *p != '?' && *p != '#')
		abort();
}

/* An origin is "http[s]://host:port", lower case, and its own origin: a fixed point. */
static void check_origin(const char *url)
{
	char *o = cairn_url_origin(url), *again;
	const char *host, *colon;

	if (!o)
		return;
	if (strncmp(o, "http://", 7) == 0)
		host = o + 7;
	else if (strncmp(o, "https://", 8) == 0)
		host = o + 8;
	else
		abort();
	colon = strrchr(host, ':');
	if (!colon || colon == host || !colon[1] ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		abort();
	for (const char *p = host; *p; p++)
		if (isupper((unsigned char)*p) || *p == '@' || *p == '/' || *p == '?' || *p == '#')
			abort();
	again = cairn_url_origin(o);
	if (!again || strcmp(again, o) != 0 || !cairn_url_same_origin(url, o))
		abort();
	free(again);
	free(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cairn_error *err = NULL;
	char *next = NULL, *ref, *url;

	if (cairn_link_next(&next, (const char *)data, size, &err) == 0) {
		if (err)
			abort();
		if (next) {
			if (!*next)
				abort();
			for (const char *p = next; *p; p++)
				if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f ||
				    *p == '<' || *p == '>')
					abort();
			url = cairn_url_resolve(BASE, next);
			check_resolved(url, next);
			free(url);
		}
	} else if (next || !err || (err->code != CAIRN_EINVAL && err->code != CAIRN_ETOOBIG)) {
		abort();
	}
	free(next);
	cairn_error_free(err);

	ref = xstrndup((const char *)data, size);
	url = cairn_url_resolve(BASE, ref);
	check_resolved(url, ref);
	check_origin(url);
	free(url);
	check_origin(ref);
	url = cairn_url_resolve(ref, "../x/./y?z#w");
	if ((url != NULL) != has_scheme(ref))
		abort();
	free(url);
	free(ref);
	return 0;
}
