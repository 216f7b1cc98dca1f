/* SPDX-License-Identifier: MIT */
/* A client for the Docker Registry HTTP API v2 / OCI distribution: auth, blobs, manifests, tags. */
#ifndef CAIRN_REGISTRY_H
#define CAIRN_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "cairn/common.h"
#include "cairn/digest.h"
#include "cairn/error.h"
#include "cairn/oci.h"

/* Accept header value listing every manifest type cairn understands. */
#define CAIRN_MANIFEST_ACCEPT                                    \
	"application/vnd.oci.image.manifest.v1+json, "           \
	"application/vnd.oci.image.index.v1+json, "              \
	"application/vnd.docker.distribution.manifest.v2+json, " \
	"application/vnd.docker.distribution.manifest.list.v2+json"

/**
 * Process-wide setup of the HTTP stack (libcurl); call once from main() before any thread
 * starts, and cairn_registry_global_cleanup() at exit. CAIRN_EINTERNAL if it fails.
 */
CAIRN_API int cairn_registry_global_init(struct cairn_error **err);
CAIRN_API void cairn_registry_global_cleanup(void);

struct cairn_registry_opts {
	const char *username; /* --registry-username; with password, or neither */
	const char *password;
	/*
	 * The registries (host[:port]) username and password are for: the images repository's and
	 * the stages storage's; any other registry uses the docker config or goes anonymous. None
	 * (0): every registry, for a command that talks to one.
	 */
	const char *const *credential_hosts;
	size_t n_credential_hosts;
	const char *docker_config_dir; /* NULL: $DOCKER_CONFIG, else ~/.docker */
	const char *certs_dir;	       /* NULL: /etc/docker/certs.d */
	/* hosts (host[:port]) that may use plain HTTP or bad TLS; "*": every host */
	const char *const *insecure;
	size_t n_insecure;
	const char *user_agent; /* NULL: "cairn/<version>" */
	int max_attempts;	/* per request, with backoff; 0: 5 */
	unsigned base_delay_ms; /* first backoff delay; 0: 250 */
	unsigned max_delay_ms;	/* cap of one delay; 0: 10000 */
	/*
	 * --registry-timeout: a request ends when no byte has come or gone for this many
	 * seconds, connecting included; one with small bodies (manifests, tokens, errors, not
	 * blobs) also ends 4 times this long after it started. 0: 30 (so 120).
	 */
	unsigned timeout_secs;
	/*
	 * A blob up to this many bytes goes in the PUT that ends its upload (one request less,
	 * no upload state for the registry to keep); a bigger one streams in a PATCH that resumes
	 * after a broken connection. 0: CAIRN_REGISTRY_PUT_WHOLE_MAX; < 0: every blob in a PATCH.
	 */
	int64_t put_whole_max;
};

#define CAIRN_REGISTRY_PUT_WHOLE_MAX (8 << 20)

/* Largest timeout_secs accepted: a day. */
#define CAIRN_REGISTRY_TIMEOUT_MAX 86400u

#define CAIRN_REGISTRY_OPTS_INIT \
	{                        \
		0                \
	}

/* One registry host. Thread-safe: shares credentials and tokens between connections. */
struct cairn_registry;
/* One connection (kept alive) to a registry; use each from one thread at a time. */
struct cairn_registry_conn;

/**
 * Prepare a client for `domain` ("127.0.0.1:5000", "docker.io", "ghcr.io"). Credentials are
 * looked up now (spec section 7 order); nothing is sent until the first request.
 * CAIRN_EINVAL for bad options, CAIRN_EAUTH when a credential helper fails.
 */
CAIRN_API int cairn_registry_open(struct cairn_registry **out, const char *domain,
				  const struct cairn_registry_opts *o, struct cairn_error **err);
CAIRN_API void cairn_registry_free(struct cairn_registry *r);
/** The registry's domain as given (borrowed). */
CAIRN_API const char *cairn_registry_domain(const struct cairn_registry *r);

CAIRN_API int cairn_registry_conn_new(struct cairn_registry_conn **out, struct cairn_registry *r,
				      struct cairn_error **err);
CAIRN_API void cairn_registry_conn_free(struct cairn_registry_conn *c);

/**
 * A connection to `r` for one thread: one that cairn_registry_conn_put() gave back, with its
 * TCP and TLS connections kept alive, else a new one. CAIRN_EINTERNAL when libcurl fails.
 */
CAIRN_API int cairn_registry_conn_get(struct cairn_registry_conn **out, struct cairn_registry *r,
				      struct cairn_error **err);
/**
 * Give `c` back to its registry for the next cairn_registry_conn_get(); the registry frees it
 * with itself. Accepts NULL.
 */
CAIRN_API void cairn_registry_conn_put(struct cairn_registry_conn *c);

/*
 * The registries one run of cairn (a build, a publish) talks to: one struct cairn_registry per
 * host, opened on first use and kept until the pool is freed. So the run looks each host's
 * credentials up once (one docker config read, one credential helper run), probes its scheme
 * once, fetches a token once per scope (until it expires), and hands kept-alive connections
 * from one image to the next. Thread-safe.
 */
struct cairn_registry_pool;

/**
 * A pool whose registries are opened with `o` (NULL: defaults). `o` is copied, the strings and
 * arrays it points to are borrowed: they must outlive the pool. Nothing is looked up or sent
 * yet. CAIRN_EINVAL for bad options.
 */
CAIRN_API int cairn_registry_pool_new(struct cairn_registry_pool **out,
				      const struct cairn_registry_opts *o,
				      struct cairn_error **err);
/** Free the pool, its registries and their connections, tokens wiped first. Accepts NULL. */
CAIRN_API void cairn_registry_pool_free(struct cairn_registry_pool *p);

/**
 * The registry of `domain` (as cairn_registry_open() takes it), opened on the first call for
 * it and borrowed from the pool until cairn_registry_pool_free(). An open that failed is tried
 * again on the next call. CAIRN_EAUTH when a credential helper fails, CAIRN_EINVAL for a bad
 * docker config.
 */
CAIRN_API int cairn_registry_pool_get(struct cairn_registry **out, struct cairn_registry_pool *p,
				      const char *domain, struct cairn_error **err);

/**
 * Whether `repo` holds blob `dg`: 0 with its size, or CAIRN_ENOTFOUND. Other failures:
 * CAIRN_EAUTH, CAIRN_ENET, CAIRN_EHTTP.
 */
CAIRN_API int cairn_registry_blob_head(struct cairn_registry_conn *c, const char *repo,
				       const struct cairn_digest *dg,
				       uint64_t *size_out, /* OUT: may be NULL */
				       struct cairn_error **err);

/**
 * Mount blob `dg` from repository `from` of the same registry into `repo`. 0 when mounted;
 * CAIRN_ENOTFOUND when the registry declined (the caller uploads instead).
 */
CAIRN_API int cairn_registry_blob_mount(struct cairn_registry_conn *c, const char *repo,
					const char *from, const struct cairn_digest *dg,
					struct cairn_error **err);
/**
 * As cairn_registry_blob_mount(); when the registry declines by opening an upload instead
 * (distribution does), *session gets its Location (else NULL), for the caller to upload into
 * with cairn_registry_blob_upload_in() or to end with cairn_registry_blob_cancel(): one POST
 * and one DELETE fewer than a cancelled session and a new upload.
 */
CAIRN_API int cairn_registry_blob_mount_keep(struct cairn_registry_conn *c, const char *repo,
					     const char *from, const struct cairn_digest *dg,
					     char **session, struct cairn_error **err);
/** End upload `session` of `repo` (best effort) and free it; NULL does nothing. */
CAIRN_API void cairn_registry_blob_cancel(struct cairn_registry_conn *c, const char *repo,
					  char *session);

/* Reads up to n bytes of the blob at `offset` into buf; returns bytes read, 0 at end, -1 error. */
typedef ssize_t (*cairn_read_at_fn)(char *buf, size_t n, uint64_t offset, void *ud);
/* Receives downloaded bytes; returns 0 or a negative cairn code to stop. */
typedef int (*cairn_sink_fn)(const void *p, size_t n, void *ud);

/**
 * Upload blob `dg` of `size` bytes, streamed from `read_at` (POST, one PATCH, PUT ?digest=).
 * A broken transfer is retried from the start with backoff. The registry checks the digest;
 * a mismatch is CAIRN_EDIGEST.
 */
CAIRN_API int cairn_registry_blob_upload(struct cairn_registry_conn *c, const char *repo,
					 const struct cairn_digest *dg, uint64_t size,
					 cairn_read_at_fn read_at, void *ud,
					 struct cairn_error **err);
/**
 * cairn_registry_blob_upload() into `session` (taken: a Location of
 * cairn_registry_blob_mount_keep(), or NULL for a new one) first; a retry starts a new upload.
 */
CAIRN_API int cairn_registry_blob_upload_in(struct cairn_registry_conn *c, const char *repo,
					    char *session, const struct cairn_digest *dg,
					    uint64_t size, cairn_read_at_fn read_at, void *ud,
					    struct cairn_error **err);

/**
 * Download blob `dg` into `sink` (following redirects). The caller verifies the digest (the
 * store's blob writer does). A retried download calls `restart(ud)` first so the sink can
 * discard what it got; without `restart` there is no retry after bytes arrived.
 */
CAIRN_API int cairn_registry_blob_get(struct cairn_registry_conn *c, const char *repo,
				      const struct cairn_digest *dg, cairn_sink_fn sink,
				      int (*restart)(void *ud), void *ud, struct cairn_error **err);

/**
 * HEAD a manifest by tag or digest: its descriptor (media type, digest, size) or
 * CAIRN_ENOTFOUND. When the registry sends no Docker-Content-Digest, the manifest is fetched
 * and hashed.
 */
CAIRN_API int cairn_registry_manifest_head(struct cairn_registry_conn *c, const char *repo,
					   const char *reference, struct cairn_descriptor *out,
					   struct cairn_error **err);

/**
 * GET a manifest: its bytes (a new buffer the caller frees), length and descriptor. When
 * `reference` is a digest, the content is verified against it.
 */
CAIRN_API int cairn_registry_manifest_get(struct cairn_registry_conn *c, const char *repo,
					  const char *reference, char **body_out, size_t *len_out,
					  struct cairn_descriptor *desc_out,
					  struct cairn_error **err);

/**
 * PUT a manifest under a tag or its digest; `*out` (may be NULL) gets the stored digest.
 * CAIRN_ENOTFOUND (with `http_status` 400) when the registry does not know a blob the manifest
 * names (MANIFEST_BLOB_UNKNOWN, BLOB_UNKNOWN, or DIGEST_INVALID: what distribution answers
 * while another client rewrites the blob's link); push the blobs again and retry.
 */
CAIRN_API int cairn_registry_manifest_put(struct cairn_registry_conn *c, const char *repo,
					  const char *reference, const char *media_type,
					  const void *body, size_t len, struct cairn_digest *out,
					  struct cairn_error **err);

/**
 * The config of the image `reference` (tag or digest) of `repo`: its manifest, then its config
 * blob, into *out (NUL-terminated; the caller frees; NULL for an index, which has none) and
 * the manifest's descriptor into `desc_out` (may be NULL). CAIRN_ENOTFOUND when the tag is
 * not there.
 */
CAIRN_API int cairn_registry_image_config(struct cairn_registry_conn *c, const char *repo,
					  const char *reference, char **out, size_t *len_out,
					  struct cairn_descriptor *desc_out,
					  struct cairn_error **err);

/**
 * `cairn login`: store `user` and `password` for the registry `host` in the docker config
 * (o->docker_config_dir, else $DOCKER_CONFIG, else ~/.docker), as `docker login` does: in
 * `auths`, or through the credential helper that owns the host there (credHelpers,
 * credsStore). Nothing is checked against the registry.
 */
CAIRN_API int cairn_registry_login(const struct cairn_registry_opts *o, const char *host,
				   const char *user, const char *password,
				   struct cairn_error **err);

/** `cairn logout`: remove what cairn_registry_login() stored; CAIRN_ENOTFOUND when none. */
CAIRN_API int cairn_registry_logout(const struct cairn_registry_opts *o, const char *host,
				    struct cairn_error **err);

/**
 * DELETE the manifest `dg` of `repo` (every tag that points to it goes with it); asks for a
 * token with the `delete` action. CAIRN_ENOTFOUND when it is gone already; a registry that
 * refuses deletion (HTTP 405, as distribution without storage.delete.enabled) is an error
 * saying so.
 */
CAIRN_API int cairn_registry_manifest_delete(struct cairn_registry_conn *c, const char *repo,
					     const struct cairn_digest *dg,
					     struct cairn_error **err);

/** Every tag of `repo`, following Link pagination: fn(tag, ud) per tag; stops on fn < 0. */
CAIRN_API int cairn_registry_tags_list(struct cairn_registry_conn *c, const char *repo,
				       int (*fn)(const char *tag, void *ud), void *ud,
				       struct cairn_error **err);
/** The same; `*no_repo` (when not NULL) set when the registry knows no such repository. */
CAIRN_API int cairn_registry_tags_list2(struct cairn_registry_conn *c, const char *repo,
					int (*fn)(const char *tag, void *ud), void *ud,
					bool *no_repo, struct cairn_error **err);

/**
 * Keep a note under `tag` of `repo`: an OCI image with no layer whose config labels are the
 * `n_pairs` pairs of `kv` (key, value, key, value...). The bytes depend on the labels only; a
 * tag that holds them already costs one HEAD. `*out` (may be NULL): the manifest's digest, set
 * only when the note is there.
 */
CAIRN_API int cairn_registry_put_note(struct cairn_registry_conn *c, const char *repo,
				      const char *tag, const char *const *kv, size_t n_pairs,
				      struct cairn_digest *out, struct cairn_error **err);

enum cairn_registry_lock_kind {
	CAIRN_REGISTRY_LOCK_USE = 0, /* a build with a stages storage: many at once */
	CAIRN_REGISTRY_LOCK_CLEAN,   /* a stages cleanup: alone, and no build meanwhile */
};

/* The tags of such locks start so (a stages storage holds them beside the stage tags). */
#define CAIRN_LOCK_TAG_PREFIX "cairn-lock-"

struct cairn_registry_lock;

/**
 * Take the lock of `project` in the repository `repo` (a note tag cairn-lock-KIND-PROJECT-ID,
 * see lock.c): a USE lock waits while a cleanup holds the project; a CLEAN lock waits until no
 * build and no earlier cleanup holds it. A holder killed counts for nothing after 6 hours (a
 * build) or 2 (a cleanup). Waits up to `timeout_secs` (-1: for ever), then CAIRN_EOS naming the
 * holder (kind, host, pid, since). A USE lock the credentials may not write is none: a
 * warning, *out NULL and 0. Freed, and the tag removed, by cairn_registry_unlock() (where no
 * delete is allowed, the tag is rewritten as released; a CLEAN lock, once held, removes the
 * project's released and expired lock tags).
 */
CAIRN_API int cairn_registry_lock(struct cairn_registry_lock **out,
				  struct cairn_registry_pool *pool, const char *repo,
				  const char *project, enum cairn_registry_lock_kind kind,
				  int64_t timeout_secs, struct cairn_error **err);
CAIRN_API void cairn_registry_unlock(struct cairn_registry_lock *l);

/** Requests this registry has sent (all connections, ever), for tests and benchmarks. */
CAIRN_API uint64_t cairn_registry_request_count(const struct cairn_registry *r);

#endif
