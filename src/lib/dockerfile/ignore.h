/* SPDX-License-Identifier: MIT */
/*
 * .dockerignore: which paths of a build context COPY and ADD leave out, with the rules of
 * moby's dockerignore reader and patternmatcher: `#` comments, `!` exceptions, the last
 * matching pattern decides, a pattern matching a parent directory matches what is under it,
 * `*` and `?` within one path element, `**` across any number of them, `[...]` classes and `\`
 * escapes; patterns are cleaned as paths (`./a/`, `/a` are `a`).
 */
#ifndef CAIRN_DOCKERFILE_IGNORE_H
#define CAIRN_DOCKERFILE_IGNORE_H

#include <stdbool.h>
#include <stddef.h>

#include "cairn/error.h"

struct cairn_dockerignore;

/**
 * The patterns of `text` (a .dockerignore of `len` bytes, named `file` in errors).
 * CAIRN_EINVAL "FILE:LINE: ..." for a pattern with an unterminated `[` class.
 */
int cairn_dockerignore_parse(struct cairn_dockerignore **out, const char *text, size_t len,
			     const char *file, struct cairn_error **err);
void cairn_dockerignore_free(struct cairn_dockerignore *di);

/* Whether `path` (relative to the context, '/'-separated, clean) is left out. */
bool cairn_dockerignore_excluded(const struct cairn_dockerignore *di, const char *path);

/* How many patterns it has (an empty file has none: nothing is left out). */
size_t cairn_dockerignore_count(const struct cairn_dockerignore *di);

#endif
