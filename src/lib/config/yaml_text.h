/* SPDX-License-Identifier: MIT */
/* What YAML can read: the text werf.yaml and fromYaml hand to libfyaml. */
#ifndef CAIRN_CONFIG_YAML_TEXT_H
#define CAIRN_CONFIG_YAML_TEXT_H

#include <stddef.h>
#include <stdint.h>

#define CFG_NOT_UTF8 UINT32_MAX

/*
 * The offset of the first character YAML cannot read in text[0..len), or `len`: bytes that are
 * not UTF-8 (*cp = CFG_NOT_UTF8), or a code point outside YAML's c-printable (*cp), which
 * go-yaml, as werf reads with, refuses too ("control characters are not allowed").
 */
size_t cfg_yaml_unreadable(const char *text, size_t len, uint32_t *cp);

/*
 * The offset of a tab that libfyaml 0.7.12 cannot refuse safely, or `len`. After a ':' in a
 * key that '?' began, blanks with a tab and then '?', ':', '|', '>' or a '-' entry make it
 * recycle a simple key twice on its error path and crash when the parser is destroyed (fixed
 * upstream in 0.8, 0bb4406). So a text with a '?' indicator is refused there: a ':', blanks
 * with a tab, then one of those. go-yaml (werf) refuses such a tab after a '?' key's ':' too,
 * though it takes one after a plain key's ("a:\t|").
 */
size_t cfg_yaml_trap(const char *text, size_t len);

#endif
