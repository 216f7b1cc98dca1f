/* SPDX-License-Identifier: MIT */
/* Moving images between the local store and registries: pull and push, blobs in parallel. */
#ifndef CAIRN_IMAGE_H
#define CAIRN_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cairn/common.h"
#include "cairn/digest.h"
#include "cairn/error.h"
#include "cairn/registry.h"
#include "cairn/store.h"

enum cairn_progress_kind {
	CAIRN_PROGRESS_BLOB_EXISTS = 1, /* the registry (or the store, pulling) already has it */
	CAIRN_PROGRESS_BLOB_MOUNTED,	/* cross-repository mount, nothing transferred */
	CAIRN_PROGRESS_BLOB_START,	/* a transfer begins; total is its size */
	CAIRN_PROGRESS_BLOB_BYTES,	/* done of total bytes moved so far */
	CAIRN_PROGRESS_BLOB_DONE,	/* transferred and verified */
	CAIRN_PROGRESS_MANIFEST_EXISTS, /* the tag already points at this manifest: nothing sent */
	CAIRN_PROGRESS_MANIFEST_DONE,	/* the manifest is stored under the reference */
};

struct cairn_progress {
	enum cairn_progress_kind kind;
	const char *ref;		   /* the image reference being moved */
	const struct cairn_digest *digest; /* blob or manifest */
	uint64_t done, total;		   /* bytes */
	int push;			   /* a push (else a pull) */
};

/* Called from worker threads, one call at a time (cairn serialises them). */
typedef void (*cairn_progress_fn)(const struct cairn_progress *p, void *ud);

/* A bound several calls running side by side share (a publish pushing images at once). */
struct cairn_job_slots;

struct cairn_image_opts {
	struct cairn_registry_opts registry; /* unused with `registries` (the pool's apply) */
	/*
	 * The registry clients to use (borrowed): a build or a publish passes its pool to every
	 * call, so credentials, the scheme, tokens and connections serve the whole run. NULL: the
	 * call opens its own with `registry` and frees them at its end.
	 */
	struct cairn_registry_pool *registries;
	int jobs; /* blobs moved at once; 0: 4 */
	/* NULL, or shared with calls running at once: the blobs moved at once by all of them */
	struct cairn_job_slots *slots;
	cairn_progress_fn progress;
	void *progress_ud;
	/* pull: the platform to take from an index; NULL: this host's */
	const char *os, *arch, *variant;
	/*
	 * Push: the repository is known to hold every layer of the image (they were just pushed
	 * there under another tag): only the config and the manifest are checked and go up.
	 */
	int layers_known;
	/*
	 * Push: only check that the tag holds exactly this image (one HEAD); when it holds another
	 * or none, CAIRN_ENOTFOUND and nothing is sent.
	 */
	int only_if_there;
	/*
	 * Push: the caller has just found no image under the tag: the manifest is put without
	 * checking the tag first (a racing push of the same tag is overwritten, as any push does).
	 */
	int tag_absent;
	/*
	 * Push: the repository did not exist when this run began: its blobs are not asked for
	 * (HEAD) but mounted or uploaded at once; what this run put there it knows anyway.
	 */
	int repo_new;
};

#define CAIRN_IMAGE_OPTS_INIT                        \
	{                                            \
		.registry = CAIRN_REGISTRY_OPTS_INIT \
	}

struct cairn_transfer_stats {
	struct cairn_digest digest; /* the manifest's */
	int manifest_existed;	    /* push: the tag already had it (or, for a stage, another
				       image); nothing was sent */
	uint64_t blobs_existing, blobs_mounted, blobs_moved, bytes_moved;
	uint64_t requests; /* HTTP requests sent to the registry by this call */
	/* push: the last manifest PUT's round trip (a stage's: with the check of its tag) */
	double manifest_seconds;
};

/**
 * Push the image named `name` in the store to `dest` (a tag, "latest" when `dest` has neither
 * tag nor digest; with a digest, it must be the image's). One HEAD decides that nothing changed;
 * otherwise missing blobs go up in parallel (mounted from another repository of the registry when
 * cairn knows one that has them), then the manifest. CAIRN_ENOTFOUND when `name` is not in the
 * store; registry errors as cairn_registry_* return them. `stats` may be NULL.
 */
CAIRN_API int cairn_image_push(struct cairn_store *st, const char *name,
			       const struct cairn_ref *dest, const struct cairn_image_opts *o,
			       struct cairn_transfer_stats *stats, struct cairn_error **err);

/**
 * cairn_image_push() of a manifest (image or index) the store holds without a name, e.g. a
 * final image made at publish time.
 */
CAIRN_API int cairn_image_push_descriptor(struct cairn_store *st,
					  const struct cairn_descriptor *desc,
					  const struct cairn_ref *dest,
					  const struct cairn_image_opts *o,
					  struct cairn_transfer_stats *stats,
					  struct cairn_error **err);

/**
 * Stages storage: push the stage `desc` to the tag `dest` unless the tag holds an image already,
 * for the first image stored under a stage tag is the stage. The tag is checked before the
 * blobs go up and again right before the manifest. `*stored` gets what the tag holds in the
 * end: `desc`, or the image another host stored there (the caller adopts it). Two hosts that
 * check at the same moment both push: the tag keeps the last PUT. `stats` may be NULL.
 */
CAIRN_API int cairn_image_push_stage(struct cairn_descriptor *stored, struct cairn_store *st,
				     const struct cairn_descriptor *desc,
				     const struct cairn_ref *dest, const struct cairn_image_opts *o,
				     struct cairn_transfer_stats *stats, struct cairn_error **err);

/** The host's architecture as OCI platforms name it ("amd64", "arm64", "arm"...). */
CAIRN_API const char *cairn_image_host_arch(void);

/**
 * Pull `src` (by tag, "latest" without one, or by digest) into the store under `name` (NULL:
 * the normalised reference). For an index, the manifest of the platform in `o` is taken. Blobs the
 * store has are not downloaded; every downloaded byte is verified. `stats` may be NULL.
 */
CAIRN_API int cairn_image_pull(struct cairn_store *st, const struct cairn_ref *src,
			       const char *name, const struct cairn_image_opts *o,
			       struct cairn_transfer_stats *stats, struct cairn_error **err);

/**
 * The descriptor of `ref`'s manifest in its registry (one HEAD request): what `fromLatest`
 * adds to a signature. CAIRN_ENOTFOUND when the tag is not there.
 */
CAIRN_API int cairn_image_remote_digest(struct cairn_descriptor *out, const struct cairn_ref *ref,
					const struct cairn_image_opts *o, struct cairn_error **err);

/**
 * The config (JSON) of the image `ref` names in its registry, and in `manifest` (may be NULL)
 * the manifest that named it: cairn_registry_image_config(). CAIRN_ENOTFOUND when the tag is
 * not there.
 */
CAIRN_API int cairn_image_remote_config(char **out, size_t *len, struct cairn_descriptor *manifest,
					const struct cairn_ref *ref,
					const struct cairn_image_opts *o, struct cairn_error **err);

/**
 * Stages storage: the manifest and config of image `src` into the store under `name`, without
 * its layers (their sources are noted so a publish to that registry mounts them).
 * CAIRN_ENOTFOUND when the registry lacks it.
 */
CAIRN_API int cairn_image_pull_meta(struct cairn_descriptor *out, struct cairn_store *st,
				    const struct cairn_ref *src, const char *name,
				    const struct cairn_image_opts *o, struct cairn_error **err);

/**
 * The descriptors of tags `tags[0..n)` of repository `repo` (its tag is ignored): a HEAD each, over
 * one connection. `out[i]` is all zero when `tags[i]` is missing.
 */
CAIRN_API int cairn_image_remote_digests(struct cairn_descriptor *out, const struct cairn_ref *repo,
					 const char *const *tags, size_t n,
					 const struct cairn_image_opts *o,
					 struct cairn_error **err);

/**
 * Every tag of repository `repo` (its tag is ignored): fn(tag, ud) each; stops on fn < 0.
 * `*no_repo` (when not NULL) is set when the registry knows no such repository.
 */
CAIRN_API int cairn_image_remote_tags(const struct cairn_ref *repo,
				      const struct cairn_image_opts *o,
				      int (*fn)(const char *tag, void *ud), void *ud, bool *no_repo,
				      struct cairn_error **err);

/** Download blob `d` of repository `repo` into the store: its size and digest verified. */
CAIRN_API int cairn_image_fetch_blob(struct cairn_store *st, const struct cairn_ref *repo,
				     const struct cairn_descriptor *d,
				     const struct cairn_image_opts *o, struct cairn_error **err);

#endif
