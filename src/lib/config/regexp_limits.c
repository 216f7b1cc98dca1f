/* SPDX-License-Identifier: MIT */
/* Bounds on the regular expressions werf.yaml and its templates give glibc's regcomp. */
#include "common.h"
#include "config/regexp_limits.h"

#define DEPTH_MAX 64

/* A count "{n}", "{n,}" or "{n,m}" at p[i..n): its length and largest copy count, or 0. */
static size_t count_at(const char *p, size_t n, size_t i, unsigned long *copies, bool *too_big)
{
	unsigned long v[2] = {0, 0};
	size_t k = i + 1;
	int part = 0;
	bool digits = false, open = false;

	*too_big = false;
	for (; k < n; k++) {
		if (p[k] >= '0' && p[k] <= '9') {
			digits = true;
			if (v[part] <= CFG_REGEXP_REPEAT_MAX)
				v[part] = v[part] * 10 + (unsigned long)(p[k] - '0');
		} else if (p[k] == ',' && part == 0 && digits) {
			part = 1;
			open = true;
		} else if (p[k] == '}' && digits) {
			break;
		} else {
			return 0;
		}
		if (part == 1 && p[k] != ',')
			open = false;
	}
	if (k >= n)
		return 0;
	*too_big = v[0] > CFG_REGEXP_REPEAT_MAX || v[1] > CFG_REGEXP_REPEAT_MAX;
	/* glibc: a{n,} is n copies and a star; a{n,m} m copies */
	*copies = part == 1 && !open ? v[1] : v[0] + (part == 1);
	if (*copies == 0)
		*copies = 1;
	return k - i + 1;
}

const char *cfg_regexp_limits(const char *p, size_t n)
{
	unsigned long size[DEPTH_MAX + 1] = {0}; /* atoms made so far, per open group */
	unsigned long last = 0;			 /* the copies the last atom makes */
	int depth = 0;
	int reps = 0; /* repetition operators right after the last atom (a '?' after one is free) */
	bool lazy = false;

	for (size_t i = 0; i < n; i++) {
		unsigned long copies = 0;
		size_t len = 1;
		bool too_big = false;

		if (p[i] == '\\') {
			i++; /* an escaped character is one atom */
		} else if (p[i] == '[') {
			/* a class is one atom: up to its closing bracket, [:name:] inside included
			 */
			size_t k = i + 1;

			if (k < n && p[k] == '^')
				k++;
			if (k < n && p[k] == ']')
				k++;
			while (k < n && p[k] != ']') {
				if (p[k] == '[' && k + 1 < n && p[k + 1] == ':') {
					const char *end = NULL;

					for (size_t e = k + 2; e + 1 < n && !end; e++)
						if (p[e] == ':' && p[e + 1] == ']')
							end = p + e;
					if (end)
						k = (size_t)(end - p) + 1;
				} else if (p[k] == '\\') {
					k++;
				}
				k++;
			}
			i = k;
		} else if (p[i] == '(') {
			if (depth == DEPTH_MAX)
				return "groups nest too deeply";
			size[++depth] = 0;
			reps = 0;
			lazy = false;
			last = 0;
			continue;
		} else if (p[i] == ')' && depth > 0) {
			unsigned long inner = size[depth--];

			last = inner ? inner : 1;
			size[depth] += last;
			reps = 0;
			lazy = false;
			continue;
		} else if (p[i] == '|') {
			reps = 0;
			lazy = false;
			last = 0;
			continue;
		} else if (p[i] == '*' || p[i] == '?') {
			copies = 1;
		} else if (p[i] == '+') {
			copies = 2;
		} else if (p[i] == '{') {
			len = count_at(p, n, i, &copies, &too_big);
			if (too_big)
				return "invalid repeat count (more than 1000)";
		}
		if (!copies) {
			/* an atom */
			size[depth] += 1;
			last = 1;
			reps = 0;
			lazy = false;
			if (size[depth] > CFG_REGEXP_SIZE_MAX)
				return "expression too large";
			continue;
		}
		if (reps && p[i] == '?' && !lazy) {
			lazy = true; /* non-greedy: no more copies */
			continue;
		}
		if (reps)
			return "invalid nested repetition operator";
		reps = 1;
		i += len - 1;
		if (last && copies > 1) {
			/* the last atom (or group) made `last` atoms; now `copies` times as many */
			size[depth] += last * (copies - 1);
			last *= copies;
			if (last > CFG_REGEXP_SIZE_MAX || size[depth] > CFG_REGEXP_SIZE_MAX)
				return "expression too large";
		}
	}
	return NULL;
}
