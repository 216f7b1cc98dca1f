/* SPDX-License-Identifier: MIT */
/* Text from outside cairn (registries, configs, layers) made safe to show on a terminal. */
#ifndef CAIRN_UTIL_TEXT_H
#define CAIRN_UTIL_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "cairn/log.h"
#include "util/buf.h"

/*
 * True when `s` (`n` bytes) shows as itself: valid UTF-8 without control characters (C0 but
 * tab, and newline when `keep_newlines`; DEL; C1), which could move the cursor, forge lines or
 * reach the terminal's escape sequences (colour, title, clipboard), and without the marks
 * that reorder or break a line (bidi overrides and isolates, LRM/RLM, U+2028/U+2029).
 */
bool cairn_text_shows(const char *s, size_t n, bool keep_newlines);

/* Append `s` with every byte that would not show as itself written `\xNN`. */
void cairn_buf_add_shown(struct cairn_buf *b, const char *s, size_t n, bool keep_newlines);

/* `s` as shown: `s` itself when it shows as it is, else a new string that replaces it (freed). */
char *cairn_text_make_shown(char *s, bool keep_newlines);

#endif
