/* SPDX-License-Identifier: MIT */
/* The publish procedures: built images (and their stages) to a registry under their tags. */
#ifndef CAIRN_PUBLISH_H
#define CAIRN_PUBLISH_H

#include <stddef.h>
#include <stdbool.h>
#include "cairn/common.h"
#include "cairn/build.h"
#include "cairn/error.h"
#include "cairn/image.h"
#include "cairn/oci.h"
#include "cairn/store.h"
#include "cairn/tags.h"

/* How the named images of a project share the images repository REPO (werf v1.1's modes). */
enum cairn_repo_mode {
	CAIRN_REPO_MULTIREPO, /* REPO/NAME:TAG */
	CAIRN_REPO_MONOREPO,  /* REPO:NAME-TAG */
};

/**
 * werf v1.1's --images-repo-mode `mode` ("multirepo", "monorepo", or "auto" / NULL) for the
 * repository `repo` of registry implementation `implementation` (--images-repo-implementation;
 * NULL: told by the host). auto is monorepo only where werf makes it so: a Docker Hub
 * ACCOUNT/REPO, a quay.io NAMESPACE/REPO, a docker.pkg.github.com OWNER/PROJECT/PACKAGE.
 * CAIRN_EINVAL for an unknown mode.
 */
CAIRN_API int cairn_repo_mode_resolve(enum cairn_repo_mode *out, const char *mode,
				      const char *implementation, const struct cairn_ref *repo,
				      struct cairn_error **err);

/* One reference a publish wrote (or found already there). */
struct cairn_published_ref {
	size_t image;	    /* index in the build result */
	const char *tag;    /* the tag; NULL for a stage */
	const char *scheme; /* the tag's scheme ("custom", "git_branch", ...); NULL for a stage */
	const char *ref;    /* HOST/REPO:TAG */
	struct cairn_digest digest; /* of the manifest under `ref` */
	int existed;		    /* it was there already: nothing was written */
};

typedef void (*cairn_published_fn)(const struct cairn_published_ref *p, void *ud);

struct cairn_publish_opts {
	const char *repo; /* REPO: named images go to REPO/NAME (or REPO:NAME-TAG), the unnamed
			     one to REPO */
	enum cairn_repo_mode repo_mode;
	int as_is;	 /* spush: the (single) image goes to REPO itself */
	int with_stages; /* also every stage, as REPO:<stage_prefix><signature> */
	const char *stage_prefix;
	int oci; /* OCI manifests; default Docker v2 schema 2 */
	const struct cairn_tag *tags;
	size_t n_tags;
	struct cairn_image_opts image; /* registry options, jobs, progress */
	/*
	 * Where this host remembers when each tag was published (a file per tag), so that an
	 * unchanged re-publish keeps the publish time and is one HEAD; NULL: ask the registry.
	 */
	const char *record_dir;
	/* may be NULL: written[i] is set when a tag of built->images[i] got a new manifest */
	bool *written;
	/* may be NULL: called for each tag and stage once it is in the registry */
	cairn_published_fn published;
	void *published_ud;
	/*
	 * Send nothing: `published` is called for each reference a publish would write (with
	 * no digest); images the build result has not finished are left out.
	 */
	int dry_run;
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

/* The tags of commit records (see cairn_commit_record_tag()). */
#define CAIRN_COMMIT_RECORD_PREFIX "cairn-commit-"

/**
 * The tag under which a publish records the stage signature image `name` (NULL: the unnamed
 * one) of `project` had at `commit` (40 hex): "cairn-commit-NAME-HASH-COMMIT", NAME shortened
 * to 24 tag characters, HASH 16 hex of project and name (so projects sharing a stages storage
 * and names alike once shortened never meet). A new string.
 */
CAIRN_API char *cairn_commit_record_tag(const char *project, const char *name, const char *commit);

/**
 * What `publish`, `build-and-publish` and `dimg push|bp|spush` do, as one plan: build (or only
 * find) the images, then publish them under the tags the requests give.
 */
struct cairn_publish_plan {
	struct cairn_build_opts build;	   /* home, dir, images...; its `pull` is publish.image */
	struct cairn_publish_opts publish; /* its tags are left empty: they come from `tags` */
	const struct cairn_tag_request *tags; /* as the tag options were given, in order */
	size_t n_tags;
	int build_first;    /* build what is missing (build-and-publish, dimg bp) */
	int stages_in_repo; /* dimg bp --with-stages: REPO is the build's stages storage too */
	const char *report; /* the report (cairn/report.h), written also on failure, or NULL */
	int report_format;  /* an enum cairn_report_format */
	/*
	 * Build and send nothing (no lock taken): the build's events tell what is stored and
	 * what would be built, `published` (may be NULL) each reference that would be written.
	 */
	int dry_run;
	cairn_published_fn published;
	void *published_ud;
};

#define CAIRN_PUBLISH_PLAN_INIT                                                     \
	{                                                                           \
		.build = CAIRN_BUILD_OPTS_INIT, .publish = CAIRN_PUBLISH_OPTS_INIT, \
	}

/**
 * Carry out `p`: resolve the tags (the project's git branch and commit for --tag-branch and
 * --tag-commit), build or find every stage, write the report, publish. An `as_is` publish
 * (spush) without image names needs a config with exactly one image. CAIRN_EUSAGE for tags
 * that cannot be resolved or spush without its one image; build and registry errors as they
 * come.
 */
CAIRN_API int cairn_publish_run(const struct cairn_publish_plan *p, struct cairn_error **err);

/** Called for each stage cairn_stages_pull() brought into the store. */
typedef void (*cairn_stage_pulled_fn)(const char *image, const char *stage, const char *signature,
				      void *ud);

/**
 * `dimg stages pull`: the stages of `o->images` (all images when none) found in the stages
 * storage `repo` (either prefix) into the store, with their layers, so the next build reuses
 * them: the newest stored stage of each image, or every one with `all`. `o->pull` holds the
 * registry options; `pulled` (may be NULL) hears of each stage. Registry errors as they come.
 */
CAIRN_API int cairn_stages_pull(const struct cairn_build_opts *o, const char *repo, int all,
				cairn_stage_pulled_fn pulled, void *ud, struct cairn_error **err);

#endif
