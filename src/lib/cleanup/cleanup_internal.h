/* SPDX-License-Identifier: MIT */
/* What the images and stages cleanups share. */
#ifndef CAIRN_CLEANUP_INTERNAL_H
#define CAIRN_CLEANUP_INTERNAL_H

#include <stdbool.h>
#include "cairn/cleanup.h"
#include "cairn/registry.h"
#include "util/strset.h"

/* The tag of the stages storage where stages cleanup keeps when it found each stage unused. */
#define CLEANUP_MARKS_TAG "cairn-stages-unused"

/* A stage tag (image-stage-SIG, dimgstage-SIG); `*sig` (may be NULL) points at SIG in it. */
bool cleanup_is_stage_tag(const char *tag, const char **sig);

/*
 * cairn_images_cleanup(), and the stage signatures of the tags that stay into `roots` (may be
 * NULL); with `roots_only`, nothing is judged, deleted or reported and git is not read.
 * `*project` (may be NULL): the project's name, which the caller frees. Registries through
 * `pool`. With a stages storage and no dry run, the project's clean lock there is taken into
 * `*lock` (`lock` may be NULL: none) before any tag is read; the caller unlocks it, before
 * freeing `pool`, also on failure.
 */
int cleanup_images(const struct cairn_cleanup_opts *o, struct cairn_cleanup_stats *stats,
		   struct cairn_strset *roots, bool roots_only, char **project,
		   struct cairn_registry_pool *pool, struct cairn_registry_lock **lock,
		   struct cairn_error **err);

/*
 * The stage tags of `o->stages_storage` (connections from `pool`): those of `project` that no
 * chain from `roots` reaches are deleted (o->purge: all of the project's), see stages.c. The
 * caller holds the project's clean lock there (but in a dry run).
 */
int cleanup_stages(const struct cairn_cleanup_opts *o, const char *project,
		   const struct cairn_strset *roots, struct cairn_cleanup_stats *stats,
		   struct cairn_registry_pool *pool, struct cairn_error **err);

/* The commit records of the stages storage (records.c). */
struct cleanup_record {
	char *tag;
	struct cairn_descriptor d;
	char *image, *commit, *sig; /* its labels ("~": the unnamed image) */
	bool ours;		    /* of this project, and complete */
	bool keep;		    /* its signature is still reached */
};

struct cleanup_records {
	struct cairn_ref repo;
	struct cairn_registry_conn *c;
	struct cleanup_record *v;
	size_t n;
};

/* Every record of `storage` (connections from `pool`), labels read; `ours` those of `project`. */
int cleanup_records_read(struct cleanup_records *r, const char *storage, const char *project,
			 struct cairn_registry_pool *pool, struct cairn_error **err);
int cleanup_records_delete(struct cleanup_records *r, struct cleanup_record *rec,
			   struct cairn_error **err);
void cleanup_records_release(struct cleanup_records *r);

/* The git-history based policy's answer for one image (history.c). */
struct cleanup_history {
	struct cairn_strset reached;  /* signatures a reference the policies keep reaches */
	struct cairn_strset recorded; /* signatures a commit record names */
	struct {
		char *sig, *ref;
	} * why; /* the reference that reached each signature first */
	size_t n_why;
};

struct cairn_config;
struct cairn_git_repo;

/*
 * werf's keepPolicies of `cfg` (werf's defaults when it has none) over the origin branches and
 * tags of `repo`: which of the signatures the records (`commits[i]` had `sigs[i]`) name are
 * reached. A record of a commit the repository lacks reaches nothing.
 */
int cleanup_history_scan(struct cleanup_history *h, const struct cairn_config *cfg,
			 struct cairn_git_repo *repo, const char *const *commits,
			 const char *const *sigs, size_t n, struct cairn_error **err);
void cleanup_history_reach(struct cleanup_history *h, const char *sig, const char *ref, bool tag);
/* "branch 'main'" when `sig` was reached, else NULL */
const char *cleanup_history_why(const struct cleanup_history *h, const char *sig);
void cleanup_history_release(struct cleanup_history *h);

#endif
