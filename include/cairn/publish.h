/* SPDX-License-Identifier: MIT */
/* The publish procedures: built images (and their stages) to a registry under their tags. */
#ifndef CAIRN_PUBLISH_H
#define CAIRN_PUBLISH_H

#include <stddef.h>
#include "cairn/common.h"
#include "cairn/build.h"
#include "cairn/error.h"
#include "cairn/image.h"
#include "cairn/store.h"
#include "cairn/tags.h"

struct cairn_publish_opts {
	const char *repo; /* REPO: named images go to REPO/NAME, the unnamed one to REPO */
	int as_is;	  /* spush: the (single) image goes to REPO itself */
	int with_stages;  /* also every stage, as REPO:<stage_prefix><signature> */
	const char *stage_prefix;
	int oci; /* OCI manifests; default Docker v2 schema 2 */
	const struct cairn_tag *tags;
	size_t n_tags;
	struct cairn_image_opts image; /* registry options, jobs, progress */
};

#define CAIRN_PUBLISH_OPTS_INIT                                                            \
	{                                                                                  \
		.stage_prefix = CAIRN_STAGE_PREFIX_PUBLISH, .image = CAIRN_IMAGE_OPTS_INIT \
	}

/**
 * Publish the images of `built` (artifacts skipped; spec section 5): per image and tag, the
 * last stage with the labels cairn-image, cairn-project, cairn-tag-scheme and
 * cairn-stage-signature added (config only), a deterministic manifest, one HEAD to find that
 * the tag already has it, else missing layers up once (mounted inside the registry), the
 * config, the manifest. With `with_stages`, each stage too. Nothing temporary is left behind.
 * CAIRN_EINVAL for a bad REPO ("invalid repository 'X': ..."); registry errors as pushed.
 */
CAIRN_API int cairn_publish(struct cairn_store *st, const struct cairn_build_result *built,
			    const struct cairn_publish_opts *o, struct cairn_error **err);

#endif
