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

#endif
