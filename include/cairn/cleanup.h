/* SPDX-License-Identifier: MIT */
/* Cleanup of published images (werf v1.0's tagging-scheme policy) and of the stages storage. */
#ifndef CAIRN_CLEANUP_H
#define CAIRN_CLEANUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cairn/common.h"
#include "cairn/error.h"
#include "cairn/image.h"
#include "cairn/publish.h"

/** What cleanup decided for one published tag. */
struct cairn_cleanup_item {
	const char *ref;    /* "host/repo:tag" */
	const char *scheme; /* its cairn-tag-scheme label ("git_branch"...), or "" */
	const char *why;    /* the reason, for the log: "branch 'b' is gone" / "kept: ..." */
	bool delete;	    /* deleted (or, with dry_run, would be) */
};

/** werf's limit and expiry of one tagging scheme: -1 where none. */
struct cairn_cleanup_policy {
	int64_t limit;	     /* keep at most this many tags (the newest) */
	int64_t expiry_days; /* delete tags published this many days ago or more */
};

struct cairn_cleanup_opts {
	const char *dir;	   /* the project (its git repository and config); NULL: "." */
	const char *config_file;   /* NULL: werf.yaml, ... as the build finds it */
	const char *templates_dir; /* --config-templates-dir, or NULL */
	const char *repo;	   /* the images repository, as for publish */
	enum cairn_repo_mode repo_mode;
	/* references in use ("host/repo:tag", as a Kubernetes cluster lists them): never deleted */
	const char *const *keep;
	size_t n_keep;
	/* git-tag and git-commit tags that survive their ref's check (--git-*-strategy-*) */
	struct cairn_cleanup_policy git_tag, git_commit;
	bool dry_run; /* decide and report, delete nothing */
	/*
	 * werf's git-history based policy (also when the config has cleanup.keepPolicies) in
	 * place of the tagging-scheme one; strict: tags no commit record names go too (v1.2)
	 */
	bool git_history, git_history_strict;
	bool allow_shallow; /* a shallow clone lacks branches and commits: refused unless set */
	/*
	 * purge: every tag cairn published for the project's images goes (copies under another
	 * name, other projects' tags and --keep-images-from still stay), and with
	 * `stages_storage`, every stage tag there; git is not read.
	 */
	bool purge;
	const char *stages_storage; /* the registry repository of the stages, or NULL */
	/*
	 * stages cleanup: a stage no image stands on is deleted once cleanups have found it so
	 * for this many seconds (-1: werf's two hours), which spares the builds in progress
	 */
	int64_t grace_seconds;
	/* stages cleanup: wait this long for the builds holding the stages storage (-1: ever) */
	int64_t lock_timeout_secs;
	struct cairn_image_opts image; /* registry options */
	/* each tag, kept or deleted, in the order seen (may be NULL) */
	void (*report)(const struct cairn_cleanup_item *it, void *ud);
	void *ud;
};

struct cairn_cleanup_stats {
	uint64_t tags_seen, tags_deleted, tags_kept;
	uint64_t stages_seen, stages_deleted, stages_kept;
};

/**
 * `cairn images cleanup`: of the tags cairn published for the project's images in `o->repo`
 * (those whose config has the label cairn-image), delete the git-branch tags whose branch is
 * no longer among the branches of the remote origin (compared as the slugs publish made),
 * the git-tag tags whose git tag is gone, and the git-commit tags whose commit the repository
 * does not hold; then of the git-tag and of the git-commit tags left, as werf v1.0, those
 * published `expiry_days` ago or more, and beyond the `limit` newest (the publish time is the
 * config's `created`). custom, ci and stages-signature tags are never deleted, nor any in
 * `o->keep`, nor a tag whose manifest another kept tag shares (a delete takes every tag of a
 * manifest). CAIRN_EINVAL for a shallow clone without `allow_shallow`; registry errors as they come
 * (a registry that refuses deletion says so).
 */
CAIRN_API int cairn_images_cleanup(const struct cairn_cleanup_opts *o,
				   struct cairn_cleanup_stats *stats, struct cairn_error **err);

/**
 * `cairn stages cleanup`: of the stage tags (`image-stage-SIGNATURE`, `dimgstage-SIGNATURE`)
 * of `o->stages_storage`, delete those of the project that no image published in `o->repo`
 * stands on: each published image names its last stage, each stage the stage below it and the
 * stages it imports from, and the chains are walked back. A stage of another project, a base
 * image stage, one stored by a cairn that did not name the stage below, and one whose
 * manifest a kept tag shares stay. A stage is deleted once cleanups have found it unused for
 * `grace_seconds` (the stages storage keeps when, under the tag `cairn-stages-unused`).
 * CAIRN_EINVAL without a stages storage.
 */
CAIRN_API int cairn_stages_cleanup(const struct cairn_cleanup_opts *o,
				   struct cairn_cleanup_stats *stats, struct cairn_error **err);

/**
 * `cairn cleanup`: cairn_images_cleanup(), then, with `o->stages_storage`, the stages cleanup
 * over the images that stay (with `dry_run`, those the images cleanup would keep).
 */
CAIRN_API int cairn_cleanup(const struct cairn_cleanup_opts *o, struct cairn_cleanup_stats *stats,
			    struct cairn_error **err);

/**
 * `cairn purge`: cairn_images_cleanup() with `purge` set, then every stage tag of
 * `stages_storage` when given (but those labelled with another project).
 */
CAIRN_API int cairn_purge(const struct cairn_cleanup_opts *o, struct cairn_cleanup_stats *stats,
			  struct cairn_error **err);

struct cairn_host_cleanup_opts {
	const char *home;	   /* cairn's home: its store/ and layers/ */
	uint64_t max_bytes;	   /* keep the store and the unpacked layers under this */
	bool dry_run;		   /* decide and report, remove nothing */
	int64_t lock_timeout_secs; /* wait for the other cairn of this host (-1: for ever) */
	/* each name removed (or, with dry_run, that would be): bytes it alone held, last use */
	void (*report)(const char *name, uint64_t bytes, int64_t last_used, void *ud);
	void *ud;
};

struct cairn_host_cleanup_stats {
	uint64_t names_seen, names_removed;
	uint64_t bytes_before, bytes_after; /* what the named images hold, store and unpacked */
};

/**
 * `cairn host cleanup`: once no other cairn of this host has the store open (it waits up to
 * `lock_timeout_secs`; builds starting meanwhile wait for it), remove what no name references
 * (cairn_stages_gc() without grace), then, while the named images and their unpacked layers
 * take more than `max_bytes`, the stage name (PROJECT:SIGNATURE) used least recently that no
 * kept stage stands on (CAIRN_LABEL_STAGE_PARENT, _IMPORTS), and collect what it alone held.
 * Names that are no stage (pulled images) stay.
 */
CAIRN_API int cairn_host_cleanup(const struct cairn_host_cleanup_opts *o,
				 struct cairn_host_cleanup_stats *stats, struct cairn_error **err);

/**
 * A size for --max-size: bytes with an optional K, M, G or T (powers of 1024, "Gi", "GiB" and
 * "GB" alike), or "N%" of the filesystem that holds `home`. CAIRN_EUSAGE when it is neither.
 */
CAIRN_API int cairn_host_max_bytes(uint64_t *out, const char *home, const char *arg,
				   struct cairn_error **err);

#endif
