/* SPDX-License-Identifier: MIT */
/* ELF objects of the toolchain: what they need to load, and pointing them at the toolchain. */
#ifndef CAIRN_TOOLCHAIN_ELF_H
#define CAIRN_TOOLCHAIN_ELF_H

#include <stddef.h>

#include "cairn/error.h"

/* Largest PT_INTERP, DT_RPATH or DT_NEEDED string read, and most DT_NEEDED entries kept. */
#define CAIRN_ELF_STR_MAX 4096
#define CAIRN_ELF_NEEDED_MAX 256

/* What the dynamic loader reads of a 64-bit ELF object of the host's byte order. */
struct cairn_elf {
	unsigned machine; /* e_machine */
	int type;	  /* e_type: ET_EXEC or ET_DYN */
	char *interp;	  /* PT_INTERP, or NULL (a shared library, or static) */
	char **needed;	  /* DT_NEEDED, in order */
	size_t n_needed;
	char *rpath;   /* DT_RPATH, or NULL */
	char *runpath; /* DT_RUNPATH, or NULL */
	char *soname;  /* DT_SONAME, or NULL */
};

/*
 * Read the ELF object `path` (relative to `dirfd`) into `*out` (released with
 * cairn_elf_release() either way). 1 when it is an ELF object of this kind, 0 when it is not
 * one at all (a script, a text file); CAIRN_EINVAL when it is ELF but malformed or of another
 * class or byte order, CAIRN_EOS when it cannot be read.
 */
int cairn_elf_read(struct cairn_elf *out, int dirfd, const char *path, struct cairn_error **err);

void cairn_elf_release(struct cairn_elf *e);

/*
 * Make the ELF objects `files` load from the toolchain, with Debian's patchelf (`patchelf`
 * names the program): those with an interpreter get `interp`, every one gets `rpath` as
 * DT_RPATH (searched before LD_LIBRARY_PATH and for their dependencies too, unlike DT_RUNPATH).
 * CAIRN_ENOTFOUND when patchelf is missing, CAIRN_EINTERNAL when it fails.
 */
int cairn_elf_patch(char *const *files, size_t n, const char *interp, const char *rpath,
		    const char *patchelf, struct cairn_error **err);

#endif
