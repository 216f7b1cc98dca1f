/* SPDX-License-Identifier: MIT */
/* Fuzz target: references, repositories and tags, and the format-then-parse round trip. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/oci.h"

typedef int (*parse_fn)(struct cairn_ref *, const char *, struct cairn_error **);

static bool same(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool is_init(const struct cairn_ref *r)
{
	return !r->domain && !r->path && !r->tag && !r->digest;
}

/* What any parsed reference must look like, and that its printed form parses back the same. */
static void check_parsed(const struct cairn_ref *r, parse_fn parse)
{
	struct cairn_ref again = CAIRN_REF_INIT;
	struct cairn_error *err = NULL;
	char *s;

	if (!r->domain || !r->path || !r->domain[0] || !r->path[0])
		abort();
	if (strlen(r->domain) + 1 + strlen(r->path) > 255)
		abort();
	if (strcmp(r->domain, "docker.io") == 0 && !strchr(r->path, '/'))
		abort();
	if (r->tag && cairn_tag_validate(r->tag, strlen(r->tag), NULL) != 0)
		abort();
	if (r->digest && (strncmp(r->digest, "sha256:", 7) != 0 || strlen(r->digest) != 71))
		abort();
	if (!cairn_ref_api_host(r))
		abort();

	s = cairn_ref_format(r);
	if (parse(&again, s, &err) != 0 || err)
		abort();
	if (!same(r->domain, again.domain) || !same(r->path, again.path) ||
	    !same(r->tag, again.tag) || !same(r->digest, again.digest))
		abort();
	free(s);
	cairn_ref_release(&again);
}

static void run(parse_fn parse, const char *s, bool repo)
{
	struct cairn_ref r = CAIRN_REF_INIT;
	struct cairn_error *err = NULL;
	int ret = parse(&r, s, &err);

	if (ret == 0) {
		if (err)
			abort();
		if (repo && (r.tag || r.digest))
			abort();
		check_parsed(&r, parse);
	} else {
		if (ret != CAIRN_EINVAL || !err || err->code != CAIRN_EINVAL || !err->msg)
			abort();
		if (strncmp(err->msg, repo ? "invalid repository '" : "invalid reference '",
			    repo ? 20 : 19) != 0)
			abort();
		if (!is_init(&r))
			abort();
	}
	cairn_error_free(err);
	cairn_ref_release(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cairn_error *err = NULL;
	char *s;

	/* Tags take a length, so any bytes will do, NULs included. */
	if (cairn_tag_validate((const char *)data, size, &err) == 0) {
		if (err || size == 0 || size > CAIRN_TAG_MAX || memchr(data, 0, size))
			abort();
	} else if (!err || err->code != CAIRN_EINVAL) {
		abort();
	}
	cairn_error_free(err);

	/* References are C strings: an input with a NUL cannot be one. */
	if (memchr(data, 0, size))
		return 0;
	s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	run(cairn_ref_parse, s, false);
	run(cairn_repo_parse, s, true);
	free(s);
	return 0;
}
