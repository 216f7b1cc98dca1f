/* SPDX-License-Identifier: MIT */
/* Export an image of the store to a file or directory other tools load (docker load, skopeo). */
#ifndef CAIRN_EXPORT_H
#define CAIRN_EXPORT_H

#include "cairn/build.h"
#include "cairn/common.h"
#include "cairn/error.h"
#include "cairn/oci.h"
#include "cairn/store.h"

enum cairn_export_kind {
	CAIRN_EXPORT_DOCKER_ARCHIVE, /* docker save's tar: docker load, skopeo docker-archive: */
	CAIRN_EXPORT_OCI_ARCHIVE,    /* a tar of an OCI image layout */
	CAIRN_EXPORT_OCI_DIR,	     /* an OCI image layout directory (created or added to) */
};

struct cairn_export_dest {
	enum cairn_export_kind kind;
	char *path;
	char *name; /* docker-archive: the image's name (REPO:TAG); OCI: its ref.name; NULL: default
		     */
};

/**
 * Parse skopeo's transport syntax: "docker-archive:FILE[:NAME[:TAG]]", "oci-archive:FILE[:NAME]",
 * "oci:DIR[:NAME]" (FILE and DIR without ':'). CAIRN_EUSAGE for anything else.
 */
CAIRN_API int cairn_export_dest_parse(struct cairn_export_dest *out, const char *s,
				      struct cairn_error **err);
CAIRN_API void cairn_export_dest_release(struct cairn_export_dest *d);

/**
 * Write the image whose manifest is `manifest` (in `st`, with its config and layers) to `d`,
 * named `d->name`, else `default_name`. A docker archive holds the layers uncompressed and
 * checked against the config's diff_ids; OCI keeps the blobs as stored. Files are written to a
 * temporary name and renamed. CAIRN_ENOTFOUND when a blob is not in the store, CAIRN_EDIGEST
 * when one does not match its digest, CAIRN_EOS when the destination cannot be written.
 */
CAIRN_API int cairn_export(struct cairn_store *st, const struct cairn_descriptor *manifest,
			   const struct cairn_export_dest *d, const char *default_name,
			   struct cairn_error **err);

/**
 * `cairn export`: find image `image` of the project (NULL: the only one; "~": the unnamed) as
 * a publish does (`o->stages_storage` included: layers missing here are pulled from there),
 * then cairn_export() it to `dest`, named PROJECT/IMAGE:SIGNATURE unless `dest` names it.
 */
CAIRN_API int cairn_export_run(const struct cairn_build_opts *o, const char *image,
			       const char *dest, struct cairn_error **err);

/**
 * `cairn inspect`: image `image` found as cairn_export_run() finds it, as JSON into *out (the
 * caller frees): {"project", "name", "signature", "digest", "mediaType", "size", "config" (the
 * image config as stored), "layers": [{"digest", "size", "mediaType"}], "stages": [{"name",
 * "signature", "digest"}]} (its stage chain, base first).
 */
CAIRN_API int cairn_inspect_run(char **out, const struct cairn_build_opts *o, const char *image,
				struct cairn_error **err);

#endif
