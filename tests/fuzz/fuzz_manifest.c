/* SPDX-License-Identifier: MIT */
/* Fuzz target: manifest and index parsing (checking the result's invariants) and selection. */
#include "common.h"
#include "cairn/oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const content_types[] = {
	NULL,
	CAIRN_MT_OCI_MANIFEST,
	CAIRN_MT_OCI_INDEX "; charset=utf-8",
	CAIRN_MT_DOCKER_MANIFEST,
	" application/vnd.docker.distribution.manifest.list.v2+JSON ",
	CAIRN_MT_DOCKER_MANIFEST_V1_SIGNED,
	"application/json",
	"",
};

/* A NUL-terminated string of `size` bytes at most, printable ASCII (no '/' for platforms). */
static void check_text(const char *s, size_t size, bool platform)
{
	const char *end = memchr(s, '\0', size);

	if (!end)
		abort();
	for (; s < end; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f ||
		    (platform && (*s == '/' || *s == ' ')))
			abort();
}

static void check_descriptor(const struct cairn_descriptor *d)
{
	struct cairn_digest dg;

	check_text(d->media_type, sizeof(d->media_type), false);
	if (!d->media_type[0] || !memchr(d->digest.str, '\0', sizeof(d->digest.str)))
		abort();
	if (cairn_digest_parse(&dg, d->digest.str, strlen(d->digest.str), NULL) < 0 ||
	    !cairn_digest_equal(&dg, &d->digest))
		abort();
	if (d->size > INT64_MAX)
		abort();
}

static void check_image(const struct cairn_manifest *m)
{
	if (strcmp(m->media_type, CAIRN_MT_OCI_MANIFEST) != 0 &&
	    strcmp(m->media_type, CAIRN_MT_DOCKER_MANIFEST) != 0)
		abort();
	if (m->manifests || m->platforms || m->n_manifests)
		abort();
	if (m->n_layers > CAIRN_MANIFEST_ENTRIES_MAX || (m->n_layers == 0) != (m->layers == NULL))
		abort();
	check_descriptor(&m->config);
	for (size_t i = 0; i < m->n_layers; i++)
		check_descriptor(&m->layers[i]);
}

static void check_index(const struct cairn_manifest *m)
{
	static const struct cairn_descriptor zero;

	if (strcmp(m->media_type, CAIRN_MT_OCI_INDEX) != 0 &&
	    strcmp(m->media_type, CAIRN_MT_DOCKER_LIST) != 0)
		abort();
	if (m->layers || m->n_layers || memcmp(&m->config, &zero, sizeof(zero)) != 0)
		abort();
	if (m->n_manifests > CAIRN_MANIFEST_ENTRIES_MAX ||
	    (m->n_manifests == 0) != (m->manifests == NULL) ||
	    (m->n_manifests == 0) != (m->platforms == NULL))
		abort();
	for (size_t i = 0; i < m->n_manifests; i++) {
		const struct cairn_platform *p = &m->platforms[i];

		check_descriptor(&m->manifests[i]);
		check_text(p->os, sizeof(p->os), true);
		check_text(p->architecture, sizeof(p->architecture), true);
		check_text(p->variant, sizeof(p->variant), true);
		if (!p->os[0] != !p->architecture[0] || (!p->os[0] && p->variant[0]))
			abort();
	}
}

/* Selecting finds the first entry of a platform, or fails with ENOTFOUND. */
static void check_select(const struct cairn_manifest *m, const char *os, const char *arch,
			 const char *variant, bool must_find)
{
	const struct cairn_descriptor *d = NULL;
	struct cairn_error *err = NULL;
	int ret = cairn_manifest_select(&d, m, os, arch, variant, &err);

	if (m->kind == CAIRN_MANIFEST_IMAGE) {
		if (ret != CAIRN_EINVAL || d || !err)
			abort();
	} else if (ret == 0) {
		size_t i = (size_t)(d - m->manifests);

		if (err || d < m->manifests || i >= m->n_manifests)
			abort();
		if (strcmp(m->platforms[i].os, os) != 0 ||
		    strcmp(m->platforms[i].architecture, arch) != 0)
			abort();
		for (size_t k = 0; k < i; k++)
			if (strcmp(m->platforms[k].os, os) == 0 &&
			    strcmp(m->platforms[k].architecture, arch) == 0 &&
			    (!variant || strcmp(m->platforms[k].variant, variant) == 0))
				abort();
	} else if (ret != CAIRN_ENOTFOUND || d || !err || must_find) {
		abort();
	}
	cairn_error_free(err);
}

static void run(const char *content_type, const uint8_t *data, size_t size)
{
	struct cairn_manifest *m = (struct cairn_manifest *)&m;
	struct cairn_error *err = NULL;

	if (cairn_manifest_parse(&m, content_type, data, size, &err) == 0) {
		if (err)
			abort();
		if (m->kind == CAIRN_MANIFEST_IMAGE)
			check_image(m);
		else if (m->kind == CAIRN_MANIFEST_INDEX)
			check_index(m);
		else
			abort();
		check_select(m, "linux", "amd64", NULL, false);
		check_select(m, "linux", "arm64", "v8", false);
		check_select(m, "linux", "arm", "v7", false);
		if (m->n_manifests && m->platforms[0].os[0])
			check_select(m, m->platforms[0].os, m->platforms[0].architecture,
				     m->platforms[0].variant, true);
		cairn_manifest_free(m);
	} else if (m || !err || (err->code != CAIRN_EINVAL && err->code != CAIRN_ETOOBIG)) {
		abort();
	}
	cairn_error_free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run(NULL, data, size);
	run(content_types[size % ARRAY_SIZE(content_types)], data, size);
	return 0;
}
