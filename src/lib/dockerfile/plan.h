/* SPDX-License-Identifier: MIT */
/*
 * The build stages of a parsed Dockerfile, as BuildKit's dockerfile2llb sees them: each FROM
 * starts one (named with AS), the ARGs before the first FROM are global and only FROM lines see
 * them, a FROM may build on an earlier stage, and only the stages the target stands on (its
 * base, COPY --from, RUN --mount from=) are built.
 */
#ifndef CAIRN_DOCKERFILE_PLAN_H
#define CAIRN_DOCKERFILE_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "cairn/error.h"
#include "dockerfile/parse.h"

struct cairn_df_stage {
	char *name;	    /* the AS name, lower case; NULL when none */
	size_t first, last; /* its instructions in the Dockerfile, FROM first */
	char *base;	    /* the FROM image, global ARGs substituted; NULL when base_stage */
	long base_stage;    /* the earlier stage it builds on, or -1 */
	bool needed;	    /* the target stands on it (the target itself too) */
};

struct cairn_df_plan {
	struct cairn_df_stage *v;
	size_t n;
	size_t target;
	/* the global ARGs ("NAME=VALUE", build arguments applied), for the stages' ARGs */
	char **global_args;
	size_t n_global_args;
};

/**
 * The stages of `df` for `target` (a stage name; NULL: the last stage), with `build_args`
 * ("NAME=VALUE", --build-arg's) over the ARG defaults. CAIRN_EINVAL "FILE:LINE: ..." for a stage
 * name used twice or not a valid name, a FROM without an image once substituted, a --from
 * naming no earlier stage by name or index where one is meant, and a target that is no stage.
 */
int cairn_df_plan(struct cairn_df_plan **out, const struct cairn_dockerfile *df, const char *target,
		  const char *const *build_args, size_t n_build_args, const char *file,
		  struct cairn_error **err);
void cairn_df_plan_free(struct cairn_df_plan *p);

#endif
