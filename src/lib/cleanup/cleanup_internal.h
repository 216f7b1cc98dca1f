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
 * `*project` (may be NULL): the project's name, which the caller frees.
 */
int cleanup_images(const struct cairn_cleanup_opts *o, struct cairn_cleanup_stats *stats,
		   struct cairn_strset *roots, bool roots_only, char **project,
		   struct cairn_error **err);

/*
 * The stage tags of `o->stages_storage` (connections from `pool`): those of `project` that no
 * chain from `roots` reaches are deleted (o->purge: all of the project's), see stages.c.
 */
int cleanup_stages(const struct cairn_cleanup_opts *o, const char *project,
		   const struct cairn_strset *roots, struct cairn_cleanup_stats *stats,
		   struct cairn_registry_pool *pool, struct cairn_error **err);

#endif
