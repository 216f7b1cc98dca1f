/* SPDX-License-Identifier: MIT */
/* Dockerfile words: quotes, escapes and $VAR / ${VAR:-word} substitution, as Docker does. */
#ifndef CAIRN_DOCKERFILE_WORDS_H
#define CAIRN_DOCKERFILE_WORDS_H

#include <stddef.h>

#include "cairn/error.h"

/* A variable's value, or NULL when it is unset. `name` is not NUL-terminated. */
typedef const char *(*cairn_word_lookup_fn)(const char *name, size_t len, void *ud);

/* Longest result: a word that expands past it is CAIRN_ETOOBIG (self-referencing values). */
#define CAIRN_WORD_MAX (1u << 20)

/*
 * Process one Dockerfile word (`len` bytes) as Docker's shell lexer does for ENV, LABEL,
 * WORKDIR, USER, VOLUME, EXPOSE and STOPSIGNAL: '...' is literal, "..." expands variables and
 * lets `escape` quote '"', '$' and itself, elsewhere `escape` ('\\' or '`') quotes any character;
 * the quotes and escapes are removed. `$NAME` and `${NAME}` take the value `lookup` gives ("" when
 * unset); `${NAME:-word}` / `${NAME-word}` a default when unset or empty / unset,
 * `${NAME:+word}` / `${NAME+word}` an alternative when set and non-empty / set, and
 * `${NAME:?word}` / `${NAME?word}` fail with `word`; `word` is processed the same way. A `$` not
 * followed by a name or '{' stays. Whitespace is kept: the value is one word.
 *
 * *out is a new NUL-terminated string the caller frees. CAIRN_EINVAL for an unterminated quote
 * or "${", a bad name or modifier, or a `?` modifier that fires (naming the variable).
 */
int cairn_dockerfile_word(char **out, const char *word, size_t len, char escape,
			  cairn_word_lookup_fn lookup, void *ud, struct cairn_error **err);

#endif
