/* SPDX-License-Identifier: MIT */
/* Running the host's tools the toolchain is assembled with (dpkg-query, patchelf). */
#ifndef CAIRN_TOOLCHAIN_SPAWN_H
#define CAIRN_TOOLCHAIN_SPAWN_H

#include "cairn/error.h"
#include "util/buf.h"

/*
 * Run `argv` (argv[0] looked up in PATH) with no input and wait for it; its standard output is
 * appended to `out` (honouring out->max; NULL: dropped). CAIRN_ENOTFOUND when the program does
 * not exist; CAIRN_EINTERNAL when it exits with another status than 0 (the message ends with
 * the last line it wrote to stderr), or the CAIRN_ETOOBIG of `out`.
 */
int cairn_spawn_run(struct cairn_buf *out, const char *const *argv, struct cairn_error **err);

#endif
