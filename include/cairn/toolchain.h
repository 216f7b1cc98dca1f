/* SPDX-License-Identifier: MIT */
/* cairn's build toolchain: bash, python with ansible, GNU tar, sudo... for any image. */
#ifndef CAIRN_TOOLCHAIN_H
#define CAIRN_TOOLCHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/common.h"
#include "cairn/error.h"

/*
 * Where the toolchain is mounted (read-only) in every container cairn runs a stage in, as werf
 * mounted its stapel at /.werf/stapel: its programs find their libraries and their python
 * finds its modules there, whatever the image holds.
 */
#define CAIRN_TOOLCHAIN_MOUNT "/.cairn/toolchain"

/** A host package the toolchain is made of. */
struct cairn_toolchain_package {
	char *name;
	char *version;
};

/** A toolchain ready to be mounted; every string owned. */
struct cairn_toolchain {
	char *id;	   /* content hash of what it is made of: the name of its directory */
	char *dir;	   /* on the host: HOME/toolchain/ID */
	const char *mount; /* where it is mounted in a container (static) */
	char *source;	   /* how it was made ("debian": from the build host's packages) */
	char *bash;	   /* its bash in the container, or NULL when it has none */
	char *python;	   /* its python3 in the container, or NULL */
	struct cairn_toolchain_package *packages; /* what it is made of, by name */
	size_t n_packages;
	uint64_t size;	/* bytes of its files */
	uint64_t files; /* files, directories and symlinks */
	double seconds; /* how long its assembly took */
	int assembled;	/* 1 when this call assembled it, 0 when it was there */
};

enum cairn_toolchain_flags {
	CAIRN_TOOLCHAIN_REBUILD = 1 << 0, /* assemble it again even when it is there */
};

struct cairn_toolchain_opts {
	const char *home; /* cairn's home; the toolchain lives in HOME/toolchain */
	unsigned flags;	  /* enum cairn_toolchain_flags */
};

#define CAIRN_TOOLCHAIN_OPTS_INIT \
	{                         \
		0                 \
	}

/**
 * The toolchain for the build host as it is now: the one in HOME/toolchain when its content
 * hash (the recipe and the versions of the host packages it takes, with what they depend on)
 * matches, else a new one assembled into a temporary directory and renamed into place, under
 * a lock that concurrent cairn processes share. Free `*out` with cairn_toolchain_free().
 * CAIRN_ENOTFOUND when a host package is missing (the message names the packages to install),
 * CAIRN_EOS / CAIRN_EINTERNAL when it cannot be assembled.
 */
CAIRN_API int cairn_toolchain_get(struct cairn_toolchain **out,
				  const struct cairn_toolchain_opts *o, struct cairn_error **err);

/** Free `t` and all it holds; accepts NULL. */
CAIRN_API void cairn_toolchain_free(struct cairn_toolchain *t);

#endif
