/* SPDX-License-Identifier: MIT */
/* Between the files of publish/. */
#ifndef CAIRN_PUBLISH_INTERNAL_H
#define CAIRN_PUBLISH_INTERNAL_H

#include "cairn/build.h"
#include "cairn/image.h"
#include "cairn/store.h"

/*
 * The layers of image `im` (its last stage) into `st` where the store lacks some: pulled from
 * the stages storage `storage` (either stage prefix), where a build took the stage from.
 */
int publish_ensure_layers(struct cairn_store *st, const char *storage, const char *project,
			  const struct cairn_build_image *im, const struct cairn_image_opts *io,
			  struct cairn_error **err);

/*
 * The tags of the repositories a publish writes to, listed once a tag of one was found
 * missing: the other tags published there are then known missing without a request each (a
 * fresh repository costs one listing instead of a check per tag). Thread-safe.
 */
struct tag_index;

struct tag_index *tag_index_new(void);
void tag_index_free(struct tag_index *x);
/* Whether `dest`'s tag is known to be missing (its repository was listed without it). */
bool tag_index_absent(struct tag_index *x, const struct cairn_ref *dest);
/* Whether `dest`'s repository was listed and the registry had no such repository. */
bool tag_index_repo_new(struct tag_index *x, const struct cairn_ref *dest);
/* `dest`'s tag now holds an image this publish put there. */
void tag_index_put(struct tag_index *x, const struct cairn_ref *dest);
/*
 * List `dest`'s repository, once in the run (a failure only costs checks): when one of its tags
 * was found missing, or before many tags go there.
 */
void tag_index_learn(struct tag_index *x, const struct cairn_ref *dest,
		     const struct cairn_image_opts *io);
/*
 * A tag several images of the publish push alike (a stage they share): the first claim is
 * TAG_CLAIM_MINE and pushes it; the others wait for tag_index_unclaim() and get
 * TAG_CLAIM_DONE when it was pushed (else one of them tries). Hold a claim around one push.
 */
enum tag_claim { TAG_CLAIM_MINE, TAG_CLAIM_DONE };
enum tag_claim tag_index_claim(struct tag_index *x, const struct cairn_ref *dest);
void tag_index_unclaim(struct tag_index *x, const struct cairn_ref *dest, bool pushed);

#endif
