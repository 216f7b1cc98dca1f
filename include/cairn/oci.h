/* SPDX-License-Identifier: MIT */
/*
 * The OCI vocabulary every module shares: media types, content descriptors, manifests and
 * indexes (OCI and Docker schema 2) as registries and stores hold them, and image references
 * ([host[:port]/]path[:tag][@digest], with Docker Hub normalisation).
 */
#ifndef CAIRN_OCI_H
#define CAIRN_OCI_H

#include <stddef.h>
#include <stdint.h>
#include "cairn/common.h"
#include "cairn/digest.h"
#include "cairn/error.h"

#define CAIRN_MEDIA_TYPE_MAX 128
/* Largest manifest, index or config cairn reads into memory, from a registry or the store. */
#define CAIRN_OCI_DOC_MAX (4u * 1024 * 1024)

#define CAIRN_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define CAIRN_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define CAIRN_MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define CAIRN_MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define CAIRN_MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define CAIRN_MT_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define CAIRN_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define CAIRN_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define CAIRN_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define CAIRN_MT_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"

/** A content descriptor: what index.json and manifests point at. */
struct cairn_descriptor {
	char media_type[CAIRN_MEDIA_TYPE_MAX];
	struct cairn_digest digest;
	uint64_t size;
};

/* ---- manifests and indexes ---- */

/* Docker schema 1, which cairn refuses. */
#define CAIRN_MT_DOCKER_MANIFEST_V1 "application/vnd.docker.distribution.manifest.v1+json"
#define CAIRN_MT_DOCKER_MANIFEST_V1_SIGNED \
	"application/vnd.docker.distribution.manifest.v1+prettyjws"

/* Largest manifest or index accepted. */
#define CAIRN_MANIFEST_MAX CAIRN_OCI_DOC_MAX
/* Most layers of an image, and most entries of an index. */
#define CAIRN_MANIFEST_ENTRIES_MAX 1000
/* Size of each string of struct cairn_platform, NUL included. */
#define CAIRN_PLATFORM_FIELD_MAX 32

enum cairn_manifest_kind {
	CAIRN_MANIFEST_IMAGE = 1,
	CAIRN_MANIFEST_INDEX = 2,
};

/** The platform of an index entry; empty strings when the entry names none. */
struct cairn_platform {
	char os[CAIRN_PLATFORM_FIELD_MAX];	     /* "linux" */
	char architecture[CAIRN_PLATFORM_FIELD_MAX]; /* "amd64", "arm64" */
	char variant[CAIRN_PLATFORM_FIELD_MAX];	     /* "v7", or empty */
};

struct cairn_manifest {
	enum cairn_manifest_kind kind;
	char media_type[CAIRN_MEDIA_TYPE_MAX]; /* one of the four CAIRN_MT_*_{MANIFEST,INDEX,LIST}
						*/

	/* CAIRN_MANIFEST_IMAGE only (zero for an index) */
	struct cairn_descriptor config;
	struct cairn_descriptor *layers; /* NULL when n_layers is 0 */
	size_t n_layers;

	/* CAIRN_MANIFEST_INDEX only (NULL and 0 for an image); platforms[i] goes with manifests[i]
	 */
	struct cairn_descriptor *manifests;
	struct cairn_platform *platforms;
	size_t n_manifests;
};

/**
 * Parse `len` bytes (not NUL-terminated) of an image manifest or index into a new `*out`, freed
 * with cairn_manifest_free(). The media type is the body's `mediaType`; without one, the
 * `content_type` (an HTTP Content-Type, parameters ignored; may be NULL) when it names a
 * manifest type; else it is inferred: "manifests" makes an OCI index, "config" and "layers" an
 * OCI manifest. Every descriptor is checked (sha256 digest, size, media type).
 *
 * Returns CAIRN_EINVAL "invalid manifest: <reason>", naming the field ("layers[3].digest"),
 * also for schema 1 manifests; CAIRN_ETOOBIG past CAIRN_MANIFEST_MAX bytes or
 * CAIRN_MANIFEST_ENTRIES_MAX layers or entries.
 */
CAIRN_API int cairn_manifest_parse(struct cairn_manifest **out, const char *content_type,
				   const void *data, size_t len, struct cairn_error **err);

/** Free a manifest; accepts NULL. */
CAIRN_API void cairn_manifest_free(struct cairn_manifest *m);

/**
 * Pick the entry of `index` for `os` and `arch` (exact matches). A NULL or empty `variant`
 * accepts any variant (the first matching entry wins); otherwise the entry's variant must be
 * equal, where an entry without a variant counts as "v8" for arm64. `*out` is borrowed from
 * `index`, valid until cairn_manifest_free(index).
 *
 * Returns CAIRN_ENOTFOUND listing the platforms the index has, or CAIRN_EINVAL when `index` is
 * not an index.
 */
CAIRN_API int cairn_manifest_select(const struct cairn_descriptor **out,
				    const struct cairn_manifest *index, const char *os,
				    const char *arch, const char *variant,
				    struct cairn_error **err);

/* ---- image references ---- */

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
/**
 * `*out` = the domain and path of `repo` with `tag` and `digest` (each may be NULL), all
 * copied: a reference made from a parsed one, never formatted and parsed again. Release it.
 */
CAIRN_API void cairn_ref_with(struct cairn_ref *out, const struct cairn_ref *repo, const char *tag,
			      const char *digest);

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
