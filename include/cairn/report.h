/* SPDX-License-Identifier: MIT */
/* The report of a build or a publish (--report FILE, --report-format json|envfile). */
#ifndef CAIRN_REPORT_H
#define CAIRN_REPORT_H

#include <stddef.h>
#include "cairn/build.h"
#include "cairn/common.h"
#include "cairn/error.h"
#include "cairn/publish.h"

enum cairn_report_format {
	CAIRN_REPORT_JSON,
	CAIRN_REPORT_ENVFILE,
};

/* "json" or "envfile" (werf's --report-format words); CAIRN_EUSAGE for another. */
CAIRN_API int cairn_report_format_parse(enum cairn_report_format *out, const char *word,
					struct cairn_error **err);

/* What a run did, gathered as it goes. */
struct cairn_report;

CAIRN_API struct cairn_report *cairn_report_new(void);
CAIRN_API void cairn_report_free(struct cairn_report *r);

/* A cairn_published_fn (`ud`: the report): remember one reference written or found. */
CAIRN_API void cairn_report_published(const struct cairn_published_ref *p, void *ud);

/**
 * Write the report to `path` (replaced atomically), also for a run that failed.
 *
 * JSON: {"project", "ok", "error" (the message, or null), "images": [{"name", "artifact",
 * "signature", "digest" (null for an image not done), "stages": [{"name", "signature",
 * "digest", "cached", "seconds"}], "published": [{"tag", "scheme", "reference", "digest",
 * "existed"}], "stages_pushed": [{"reference", "digest", "existed"}]}], "Images": {NAME:
 * {"WerfImageName", "DockerRepo", "DockerTag", "DockerImageName", "DockerImageDigest",
 * "DockerImageID"}}} where "Images" has werf v1.2's build report shape (the first tag
 * published, else the stage in the stages storage or the local store).
 *
 * envfile: CAIRN_<NAME>_DOCKER_IMAGE_NAME=REF and WERF_<NAME>_DOCKER_IMAGE_NAME=REF a line
 * each (NAME upper-cased, '/' and '-' as '_'; CAIRN_DOCKER_IMAGE_NAME for the unnamed image),
 * then CAIRN_REPORT_ERROR=... when the run failed.
 *
 * `res` (may be NULL: nothing was built), `stages_storage` (may be NULL), `failure` (NULL
 * when the run succeeded). CAIRN_EOS when the file cannot be written.
 */
CAIRN_API int cairn_report_write(const struct cairn_report *r, const struct cairn_build_result *res,
				 const char *stages_storage, const struct cairn_error *failure,
				 const char *path, enum cairn_report_format format,
				 struct cairn_error **err);

#endif
