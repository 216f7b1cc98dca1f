/* SPDX-License-Identifier: MIT */
/* What a Go (RE2) pattern may ask of glibc's regcomp before cairn hands it over. */
#ifndef CAIRN_CONFIG_REGEXP_LIMITS_H
#define CAIRN_CONFIG_REGEXP_LIMITS_H

#include <stddef.h>

/* Go's largest repeat count; and the most copies of atoms that counted repetition may make. */
#define CFG_REGEXP_REPEAT_MAX 1000
#define CFG_REGEXP_SIZE_MAX 100000
/* and of those that may match nothing: regcomp's closure sets grow with their square */
#define CFG_REGEXP_OPTIONAL_MAX 500

/*
 * NULL when the POSIX extended pattern p[0..n) that regcomp is about to get (after any
 * translation from Go's syntax) is within bounds, else why not. glibc's regcomp copies a
 * repeated subexpression once per count (and once more for '+'), each repetition of a repetition
 * again: "o++++..." or "(a{1000}){1000}" take gigabytes. Refused, as Go refuses them too: a
 * repetition operator right after another (one '?' after one marks it non-greedy), a count over
 * 1000, and patterns that would make more than CFG_REGEXP_SIZE_MAX nodes (atoms, bracket
 * expressions, '|', two per group, and every copy a repetition makes), read as glibc reads them
 * (brackets without escapes inside, "{,m}" a count), of which at most CFG_REGEXP_OPTIONAL_MAX
 * may match nothing ('*', '?', the copies past n of a{n,m}, '|' branches): regcomp's closure
 * sets grow with the square of those ("(a*){1000}" takes 84 MB, "((a*){100}){30}" 706 MB).
 */
const char *cfg_regexp_limits(const char *p, size_t n);

/*
 * The length of the Go repetition "{n}", "{n,}" or "{n,m}" at p[i] (a '{') within p[0..n), else
 * 0: Go reads any other '{' ("a{,3}", "x{") as a literal, where POSIX would not.
 */
size_t cfg_regexp_go_repeat(const char *p, size_t n, size_t i);

/* The length of the class name "[:alpha:]" at p[i] (a '[' inside brackets), else 0. */
size_t cfg_regexp_class_name(const char *p, size_t n, size_t i);

#endif
