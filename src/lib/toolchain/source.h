/* SPDX-License-Identifier: MIT */
/* Where a toolchain's files come from: one source per way of making it (the host's packages...). */
#ifndef CAIRN_TOOLCHAIN_SOURCE_H
#define CAIRN_TOOLCHAIN_SOURCE_H

#include <jansson.h>

#include "cairn/digest.h"
#include "cairn/error.h"

/* What a source would assemble now. */
struct toolchain_plan {
	char id[CAIRN_DIGEST_HEX_LEN + 1]; /* content hash: equal ids, equal toolchains */
	json_t *packages;		   /* {"name": "version"} of what it is made of */
	void *priv;			   /* the source's own */
};

/*
 * A way to make a toolchain. Another one (werf's stapel image, a tarball) is one more of these:
 * the rest of cairn only mounts the directory it fills.
 */
struct toolchain_source {
	const char *name;
	const char *bash;   /* relative to the toolchain; NULL: it has none */
	const char *python; /* relative to the toolchain; NULL: it has none */
	/*
	 * Check that the toolchain can be made and fill `p` (cheap: this runs on every use).
	 * `mount` is where it will be mounted. CAIRN_ENOTFOUND names what the host lacks.
	 */
	int (*plan)(struct toolchain_plan *p, const char *mount, struct cairn_error **err);
	/* Fill the empty directory `dir` with the toolchain `p` describes. */
	int (*assemble)(const struct toolchain_plan *p, const char *dir, const char *mount,
			struct cairn_error **err);
	void (*release)(struct toolchain_plan *p);
};

/* debian.c: from the Debian packages of the build host, made to run from `mount`. */
extern const struct toolchain_source toolchain_debian;

#endif
