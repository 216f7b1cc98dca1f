/* SPDX-License-Identifier: MIT */
/* The local store: an OCI image layout of blobs and named manifests, safe for concurrent use. */
#ifndef CAIRN_STORE_H
#define CAIRN_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "cairn/common.h"
#include "cairn/digest.h"
#include "cairn/error.h"
#include "cairn/oci.h"

/* Largest manifest, index or config the store reads into memory. */
#define CAIRN_STORE_DOC_MAX CAIRN_OCI_DOC_MAX

struct cairn_store;
struct cairn_blob_writer;

/** The places of cairn's home (docs/store-layout.md): every string owned. */
struct cairn_home {
	char *root;   /* $CAIRN_HOME */
	char *store;  /* the OCI image layout */
	char *layers; /* unpacked layers, by diff_id */
	char *tmp;    /* work dirs of running builds */
	char *builds; /* build_dir mounts, kept between builds */
	char *git;    /* bare clones of remote git entries */
};

/** Fill `*out` with the places of the home `root` (nothing is created or checked). */
CAIRN_API void cairn_home_paths(struct cairn_home *out, const char *root);

/** Free the strings of `h` (accepts a zeroed struct). */
CAIRN_API void cairn_home_release(struct cairn_home *h);

/**
 * Create the cairn home `dir` (its parents as needed) and its unpacked-layer cache `layers/`
 * with mode 0700: unpacked layers keep setuid files, which other local users must not reach.
 * An existing `layers/` is made 0700; an existing home open to others is left as it is, with a
 * warning. CAIRN_EOS when either cannot be created or opened.
 */
CAIRN_API int cairn_home_prepare(const char *dir, struct cairn_error **err);

/**
 * Open the OCI layout at `root`, creating it (directories, `oci-layout`, an empty `index.json`)
 * when absent. `*out` is freed with cairn_store_free(). CAIRN_EOS if `root` cannot be created
 * or is not a directory; CAIRN_EINVAL if an existing `oci-layout` is not version 1.0.0.
 */
CAIRN_API int cairn_store_open(struct cairn_store **out, const char *root,
			       struct cairn_error **err);

/** Close the store; accepts NULL. */
CAIRN_API void cairn_store_free(struct cairn_store *st);

/** The root directory (borrowed; valid until cairn_store_free()). */
CAIRN_API const char *cairn_store_root(const struct cairn_store *st);

/**
 * Store `len` bytes as a blob; its digest goes to `*out`. Writing is atomic (temp file, fsync,
 * rename); a blob stored with the same bytes is kept as it is (nothing written), one whose
 * stored copy differs is replaced with the verified new copy.
 */
CAIRN_API int cairn_store_put_blob(struct cairn_store *st, const void *data, size_t len,
				   struct cairn_digest *out, struct cairn_error **err);

/** True when a blob file with this digest exists (content not verified). */
CAIRN_API int cairn_store_has_blob(struct cairn_store *st, const struct cairn_digest *dg);

/**
 * Append the blob's bytes to the buffer-like sink: calls `sink(p, n, userdata)` for each chunk
 * while hashing, and fails with CAIRN_EDIGEST if the content does not match `dg` (a corrupt
 * store), CAIRN_ENOTFOUND if it is absent, CAIRN_ETOOBIG if larger than `max` (0 = no limit).
 * Chunks may reach the sink before the digest is known to be right: callers that keep the data
 * must drop it on failure.
 */
CAIRN_API int cairn_store_read_blob(struct cairn_store *st, const struct cairn_digest *dg,
				    uint64_t max,
				    int (*sink)(const void *p, size_t n, void *userdata),
				    void *userdata, struct cairn_error **err);

/** Read and hash a whole blob without keeping it; CAIRN_EDIGEST when corrupt. */
CAIRN_API int cairn_store_verify_blob(struct cairn_store *st, const struct cairn_digest *dg,
				      uint64_t *size_out, /* OUT: bytes, may be NULL */
				      struct cairn_error **err);

/**
 * Read a small document blob (manifest, config, index) into a new NUL-terminated buffer the
 * caller frees, verified, at most CAIRN_STORE_DOC_MAX bytes.
 */
CAIRN_API int cairn_store_read_doc(char **out, size_t *len_out, struct cairn_store *st,
				   const struct cairn_digest *dg, struct cairn_error **err);

/**
 * Streaming blob writes: new → write... → commit (or free to abandon; the temp file goes).
 * `expected` may be NULL; when set, commit fails with CAIRN_EDIGEST on a mismatch and keeps
 * nothing.
 */
CAIRN_API int cairn_store_blob_writer_new(struct cairn_blob_writer **out, struct cairn_store *st,
					  struct cairn_error **err);
CAIRN_API int cairn_store_blob_write(struct cairn_blob_writer *w, const void *p, size_t n,
				     struct cairn_error **err);
CAIRN_API int cairn_store_blob_commit(struct cairn_blob_writer *w,
				      const struct cairn_digest *expected,
				      struct cairn_digest *out, /* OUT: digest written */
				      uint64_t *size_out,	/* OUT: bytes, may be NULL */
				      struct cairn_error **err);
CAIRN_API void cairn_store_blob_writer_free(struct cairn_blob_writer *w);

/**
 * Point the ref name `name` (annotation org.opencontainers.image.ref.name in index.json) at
 * `desc`, replacing an earlier entry of that name. The blob must already be stored. index.json
 * is rewritten atomically under an exclusive lock, so concurrent writers lose nothing.
 */
CAIRN_API int cairn_store_ref_set(struct cairn_store *st, const char *name,
				  const struct cairn_descriptor *desc, struct cairn_error **err);

/** Look up a ref name; CAIRN_ENOTFOUND when absent. */
CAIRN_API int cairn_store_ref_get(struct cairn_store *st, const char *name,
				  struct cairn_descriptor *out, struct cairn_error **err);

/** Remove a ref name (its blobs stay until gc); CAIRN_ENOTFOUND when absent. */
CAIRN_API int cairn_store_ref_remove(struct cairn_store *st, const char *name,
				     struct cairn_error **err);

/**
 * Open a stored blob for reading: a read-only fd (the caller closes it) and its size. The
 * content is not verified here; whoever consumes it checks the digest (a registry does on
 * upload). CAIRN_ENOTFOUND when absent.
 */
CAIRN_API int cairn_store_blob_open(int *fd_out, uint64_t *size_out, struct cairn_store *st,
				    const struct cairn_digest *dg, struct cairn_error **err);

/**
 * Remember that repository `repo` of registry `domain` holds blob `dg`, so a later push to
 * another repository of that registry can mount it instead of uploading. Best effort: a failure
 * to record is not an error.
 */
CAIRN_API void cairn_store_source_add(struct cairn_store *st, const struct cairn_digest *dg,
				      const char *domain, const char *repo);

/**
 * Call fn(repo, ud) for each repository of `domain` known to hold `dg`, most recent first,
 * without duplicates; fn returning non-zero stops the walk.
 */
CAIRN_API void cairn_store_source_each(struct cairn_store *st, const struct cairn_digest *dg,
				       const char *domain, int (*fn)(const char *repo, void *ud),
				       void *ud);

/**
 * Size of the image manifest `d` names (manifest, config and layers, as the manifest says)
 * and the time it was stored (the manifest blob's mtime, unix seconds).
 */
CAIRN_API int cairn_store_image_info(uint64_t *size_out, int64_t *mtime_out, struct cairn_store *st,
				     const struct cairn_descriptor *d, struct cairn_error **err);

struct cairn_store_gc_stats {
	uint64_t blobs_removed;
	uint64_t bytes_freed;
	uint64_t layers_removed; /* unpacked layer directories */
	uint64_t tmp_removed;	 /* temp blobs of killed writers */
};

/**
 * Remove every blob no named manifest references (directly or through an index), when older
 * than `grace_secs`: a build in progress stores blobs before it names them, and the grace keeps
 * them. Names and what they reference are never touched. Temp blobs older than `grace_secs`
 * that no writer holds locked (left by a killed cairn) are removed too. With `diff_ids`, a new
 * array (the caller frees it) of the diff_ids the stored image configs list goes there, for
 * the caches derived from the store (cairn_stages_gc() sweeps the unpacked layers with it).
 * `stats->layers_removed` is left 0.
 */
CAIRN_API int cairn_store_gc(struct cairn_store *st, int64_t grace_secs,
			     struct cairn_store_gc_stats *stats, struct cairn_digest **diff_ids,
			     size_t *n_diff_ids, struct cairn_error **err);

/**
 * Every open store holds a shared lock on `.cairn/use.lock`; this makes `st`'s exclusive, once
 * no other cairn has the store open (waiting up to `timeout_secs`, -1: for ever; CAIRN_EOS
 * naming the wait when it runs out). A cairn opening the store meanwhile waits until `st` is
 * freed. For `host cleanup`, which removes what builds read.
 */
CAIRN_API int cairn_store_lock_exclusive(struct cairn_store *st, int64_t timeout_secs,
					 struct cairn_error **err);

/** Mark blob `dg` as used now (its mtime): host cleanup drops the least recently used first. */
CAIRN_API void cairn_store_touch(struct cairn_store *st, const struct cairn_digest *dg);

/** One entry of cairn_store_ref_list(); strings borrowed for the callback's duration. */
struct cairn_store_ref {
	const char *name;
	struct cairn_descriptor desc;
};

/**
 * Call `fn` for every named entry of index.json in order; a negative return from `fn` stops the
 * walk and is returned.
 */
CAIRN_API int cairn_store_ref_list(struct cairn_store *st,
				   int (*fn)(const struct cairn_store_ref *ref, void *userdata),
				   void *userdata, struct cairn_error **err);

#endif
