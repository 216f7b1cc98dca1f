/* SPDX-License-Identifier: MIT */
/* What a Go (RE2) pattern may ask of glibc's regcomp before cairn hands it over. */
#ifndef CAIRN_CONFIG_REGEXP_LIMITS_H
#define CAIRN_CONFIG_REGEXP_LIMITS_H

#include <stddef.h>

/* Go's largest repeat count; and the most copies of atoms that counted repetition may make. */
#define CFG_REGEXP_REPEAT_MAX 1000
#define CFG_REGEXP_SIZE_MAX 100000

/*
 * NULL when pattern p[0..n) is within bounds, else why not. glibc's regcomp copies a repeated
 * subexpression once per count (and once more for '+'), each repetition of a repetition again:
 * "o++++..." or "(a{1000}){1000}" take gigabytes. Refused, as Go refuses them too: a repetition
 * operator right after another (one '?' after one marks it non-greedy), a count over 1000, and
 * patterns whose repetitions would make more than CFG_REGEXP_SIZE_MAX atoms.
 */
const char *cfg_regexp_limits(const char *p, size_t n);

#endif
