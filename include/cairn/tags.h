/* SPDX-License-Identifier: MIT */
/* Tag options (spec section 5): turning --tag, --tag-branch, --tag-ci... into image tags. */
#ifndef CAIRN_TAGS_H
#define CAIRN_TAGS_H

#include <stddef.h>
#include "cairn/common.h"
#include "cairn/error.h"

/* One per command-line tag option; the comment gives the long option name. */
enum cairn_tag_option {
	CAIRN_TAG_OPT_TAG,	      /* "tag" TAG: slugged, custom */
	CAIRN_TAG_OPT_TAG_SLUG,	      /* "tag-slug" TAG: slugged, custom */
	CAIRN_TAG_OPT_TAG_CUSTOM,     /* "tag-custom" TAG: slugged, custom */
	CAIRN_TAG_OPT_TAG_PLAIN,      /* "tag-plain" TAG: must be a valid tag, custom */
	CAIRN_TAG_OPT_TAG_BRANCH,     /* "tag-branch": current branch slugged, git_branch */
	CAIRN_TAG_OPT_TAG_GIT_BRANCH, /* "tag-git-branch" BRANCH: slugged, git_branch */
	CAIRN_TAG_OPT_TAG_GIT_TAG,    /* "tag-git-tag" TAG: slugged, git_tag */
	CAIRN_TAG_OPT_TAG_COMMIT,     /* "tag-commit": 40-hex HEAD commit, git_commit */
	CAIRN_TAG_OPT_TAG_GIT_COMMIT, /* "tag-git-commit" COMMIT: must be a valid tag, git_commit */
	CAIRN_TAG_OPT_TAG_BUILD_ID,   /* "tag-build-id": the CI's build id, ci */
	CAIRN_TAG_OPT_TAG_CI, /* "tag-ci": the CI's tag or branch slugged, git_tag/git_branch */
	CAIRN_TAG_OPT_TAG_BY_STAGES_SIGNATURE, /* "tag-by-stages-signature": each image's signature
						*/
};

/* The tag scheme, recorded in the image label cairn-tag-scheme. */
enum cairn_tag_scheme {
	CAIRN_TAG_SCHEME_CUSTOM,
	CAIRN_TAG_SCHEME_GIT_BRANCH,
	CAIRN_TAG_SCHEME_GIT_TAG,
	CAIRN_TAG_SCHEME_GIT_COMMIT,
	CAIRN_TAG_SCHEME_CI,
	CAIRN_TAG_SCHEME_STAGES_SIGNATURE, /* the tag is each image's signature (werf v1.1) */
	CAIRN_TAG_SCHEME_COUNT
};

/** "custom", "git_branch", "git_tag", "git_commit" or "ci" (static); "unknown" otherwise. */
CAIRN_API const char *cairn_tag_scheme_name(enum cairn_tag_scheme s);

/* One tag option as given on the command line. */
struct cairn_tag_request {
	enum cairn_tag_option option;
	const char *value; /* borrowed; NULL for the valueless options */
};

/* One resolved tag. */
struct cairn_tag {
	char *tag; /* owned; a valid docker tag; "" for CAIRN_TAG_SCHEME_STAGES_SIGNATURE */
	enum cairn_tag_scheme scheme;
};

/* What the tag options read from outside the command line; all borrowed. */
struct cairn_tag_context {
	const char
		*git_branch; /* current branch of the project's repo; NULL: detached or no repo */
	const char *git_commit;			    /* 40-hex HEAD commit; NULL: no repo */
	const char *(*getenv_fn)(const char *name); /* NULL: getenv(3) */
};

/**
 * Resolve the `n_req` requests at `req`, in command-line order, into tags per spec section 5.
 * Duplicates (same tag string) are removed keeping the first; no request at all gives the single
 * tag "latest" (scheme custom). `ctx` may be NULL (no git repository, getenv(3)).
 *
 * Schemes: --tag, --tag-slug, --tag-custom and --tag-plain are "custom"; --tag-branch and
 * --tag-git-branch "git_branch"; --tag-git-tag "git_tag"; --tag-commit and --tag-git-commit
 * "git_commit"; --tag-build-id "ci". --tag-ci takes the scheme of what the CI reports: "git_tag"
 * for a tag pipeline (CI_COMMIT_TAG/CI_BUILD_TAG, TRAVIS_TAG, GITHUB_REF_TYPE=tag), else
 * "git_branch".
 *
 * On success `*out` is a new array of `*n_out` (at least 1) tags, freed with cairn_tags_free().
 * On failure `*out` is NULL, `*n_out` 0, and the result CAIRN_EINVAL with a message naming the
 * option: an empty or invalid value, a detached HEAD or missing repository, no CI environment.
 */
CAIRN_API int cairn_tags_resolve(struct cairn_tag **out, size_t *n_out, /* OUT: tags in *out */
				 const struct cairn_tag_request *req, size_t n_req,
				 const struct cairn_tag_context *ctx, struct cairn_error **err);

/** Free the `n` tags at `tags` and the array; accepts NULL. */
CAIRN_API void cairn_tags_free(struct cairn_tag *tags, size_t n);

/**
 * Parse a long option name without the dashes ("tag-plain") into `*out`, and set `*takes_value`
 * (may be NULL) to 1 if the option takes a value, else 0. CAIRN_ENOTFOUND if `name` is not a tag
 * option; nothing is set then. For the CLI's option parsing.
 */
CAIRN_API int cairn_tag_option_parse(enum cairn_tag_option *out, int *takes_value,
				     const char *name);

#endif
