/* SPDX-License-Identifier: MIT */
/* Copying host files into the toolchain: modes and times kept (python's caches stay valid). */
#ifndef CAIRN_TOOLCHAIN_COPY_H
#define CAIRN_TOOLCHAIN_COPY_H

#include <stdbool.h>

#include "cairn/error.h"

struct cairn_copy_opts {
	/* Called with each ELF file copied: its path below the root, and its host path. */
	void (*on_elf)(const char *path, const char *src, void *ud);
	void *ud;
	bool (*skip_top)(const char *name); /* a tree's top-level entries left out; NULL: none */
};

/*
 * Copy the host file `src` (a final symlink followed) to `to` below the directory `root`,
 * making its parents; the mode (setuid bits too) and modification time stay. `o` may be NULL.
 * CAIRN_EOS on failure, naming the file.
 */
int cairn_copy_file(int root, const char *to, const char *src, const struct cairn_copy_opts *o,
		    struct cairn_error **err);

/*
 * Copy the host directory `src` and all below it to `to`, never following a symlink in it: a
 * relative symlink is copied as it is, an absolute one (it would point into the image) is left
 * out. Other special files are left out too.
 */
int cairn_copy_tree(int root, const char *to, const char *src, const struct cairn_copy_opts *o,
		    struct cairn_error **err);

/* A file or a directory, as what `src` is (a symlink: as in a tree). */
int cairn_copy_any(int root, const char *to, const char *src, const struct cairn_copy_opts *o,
		   struct cairn_error **err);

/* Copy the script `src` with its "#!" line replaced by "#!`interp`". */
int cairn_copy_script(int root, const char *to, const char *src, const char *interp,
		      struct cairn_error **err);

#endif
