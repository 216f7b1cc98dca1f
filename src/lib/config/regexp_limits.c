/* SPDX-License-Identifier: MIT */
/* Bounds on the regular expressions werf.yaml and its templates give glibc's regcomp. */
#include "common.h"
#include "config/regexp_limits.h"

#include <ctype.h>

#define DEPTH_MAX 64
#define CLASS_NAME_MAX 32 /* glibc: longer [:name:], [.x.], [=x=] are errors */

/* A repetition: at least `min`, at most `max` times, or without bound. */
struct repeat {
	unsigned long min, max;
	bool unbounded;
};

/*
 * A count "{n}", "{n,}", "{n,m}" or "{,m}" (glibc reads "{0,m}") at p[i..n): its length, or 0
 * when it is no count.
 */
static size_t count_at(const char *p, size_t n, size_t i, struct repeat *r, bool *too_big)
{
	unsigned long v[2] = {0, 0};
	bool have[2] = {false, false};
	int part = 0;
	size_t k;

	*too_big = false;
	for (k = i + 1; k < n && p[k] != '}'; k++) {
		if (p[k] >= '0' && p[k] <= '9') {
			have[part] = true;
			if (v[part] <= CFG_REGEXP_REPEAT_MAX)
				v[part] = v[part] * 10 + (unsigned long)(p[k] - '0');
		} else if (p[k] == ',' && part == 0) {
			part = 1;
		} else {
			return 0;
		}
	}
	if (k >= n || (!have[0] && !have[1]))
		return 0;
	*too_big = v[0] > CFG_REGEXP_REPEAT_MAX || v[1] > CFG_REGEXP_REPEAT_MAX;
	r->min = v[0];
	r->max = part == 0 ? v[0] : v[1];
	r->unbounded = part == 1 && !have[1];
	return k - i + 1;
}

/*
 * What glibc makes of a unit of `last` nodes, `opt` of them optional, repeated `r`: the copies
 * of it (a{n} n, a{n,m} m, a{n,} n and a star, '+' is a a*), and in `*now_opt` the optional
 * nodes then (the copies past min, and the star, may match nothing).
 */
static unsigned long copies_of(const struct repeat *r, unsigned long last, unsigned long opt,
			       unsigned long *now_opt)
{
	unsigned long copies = r->unbounded ? r->min + 1 : r->max;

	*now_opt = r->min * opt + (r->unbounded ? 1 : r->max > r->min ? r->max - r->min : 0) * last;
	return copies ? copies : 1;
}

/*
 * The end of the bracket expression opening at p[i] as glibc reads it (no escapes inside;
 * "[:name:]", "[.x.]" and "[=x=]" of up to 32 bytes), or n. Ending too early only counts more.
 */
static size_t class_end(const char *p, size_t n, size_t i)
{
	size_t k = i + 1;

	if (k < n && p[k] == '^')
		k++;
	if (k < n && p[k] == ']')
		k++;
	for (; k < n && p[k] != ']'; k++) {
		if (p[k] != '[' || k + 1 >= n || !strchr(":.=", p[k + 1]))
			continue;
		for (size_t e = k + 2; e + 1 < n && e < k + 2 + CLASS_NAME_MAX; e++) {
			if (p[e] == p[k + 1] && p[e + 1] == ']') {
				k = e + 1;
				break;
			}
		}
	}
	return k;
}

const char *cfg_regexp_limits(const char *p, size_t n)
{
	unsigned long size[DEPTH_MAX + 1] = {0}; /* nodes of each open group so far */
	unsigned long opts[DEPTH_MAX + 1] = {0}; /* of which optional */
	unsigned long total = 0, total_opt = 0;	 /* nodes in all, copies included; optional */
	unsigned long last = 0, last_opt = 0;	 /* the nodes of the last atom or group */
	int depth = 0;
	bool rep = false;  /* a repetition operator follows the last atom */
	bool lazy = false; /* and a '?' after it */

	for (size_t i = 0; i < n; i++) {
		unsigned long add = 1, made = 1, opt_add = 0, opt_made = 0;
		struct repeat r = {0, 0, false};
		size_t len = 0; /* of a repetition operator, when p[i] is one */
		bool too_big = false;

		switch (p[i]) {
		case '(':
			if (depth == DEPTH_MAX)
				return "groups nest too deeply";
			depth++;
			size[depth] = opts[depth] = 0;
			rep = lazy = false;
			last = last_opt = 0;
			continue;
		case ')':
			if (depth == 0) {
				last = 1; /* glibc: a literal ')' */
				last_opt = 0;
				break;
			}
			last_opt = opt_add = opts[depth];
			last = add = size[depth--] + 2; /* its nodes and its own two */
			made = 2;
			break;
		case '|':
			/* an alternative: a node, and its branches may match nothing */
			last = last_opt = 0;
			opt_add = opt_made = 1;
			break;
		case '*':
			r = (struct repeat){0, 0, true};
			len = 1;
			break;
		case '+':
			r = (struct repeat){1, 0, true};
			len = 1;
			break;
		case '?':
			r = (struct repeat){0, 1, false};
			len = 1;
			break;
		case '{':
			len = count_at(p, n, i, &r, &too_big);
			if (too_big)
				return "invalid repeat count (more than 1000)";
			if (!len)
				last = 1, last_opt = 0;
			break;
		case '\\':
			i++; /* an escaped character: one node */
			last = 1, last_opt = 0;
			break;
		case '[':
			i = class_end(p, n, i); /* a bracket expression: one node */
			last = 1, last_opt = 0;
			break;
		default:
			last = 1, last_opt = 0;
		}
		if (len) {
			unsigned long copies, now_opt;

			if (rep && p[i] == '?' && !lazy) {
				lazy = true; /* non-greedy */
				continue;
			}
			if (rep)
				return "invalid nested repetition operator";
			rep = true;
			if (!last) {
				i += len - 1;
				continue;
			}
			copies = copies_of(&r, last, last_opt, &now_opt);
			i += len - 1;
			add = made = last * (copies - 1);
			opt_add = opt_made = now_opt > last_opt ? now_opt - last_opt : 0;
			last *= copies;
			last_opt = now_opt;
		} else {
			rep = lazy = false;
		}
		size[depth] += add;
		opts[depth] += opt_add;
		total += made;
		total_opt += opt_made;
		if (total > CFG_REGEXP_SIZE_MAX || last > CFG_REGEXP_SIZE_MAX ||
		    total_opt > CFG_REGEXP_OPTIONAL_MAX || last_opt > CFG_REGEXP_OPTIONAL_MAX)
			return "expression too large";
	}
	return NULL;
}

/* Digits at p[j..n) as Go takes them in a count: "0" or no leading zero. Returns past them. */
static size_t go_count_digits(const char *p, size_t n, size_t j, bool *ok)
{
	size_t start = j;

	while (j < n && isdigit((unsigned char)p[j]))
		j++;
	*ok = j > start && (j - start == 1 || p[start] != '0');
	return j;
}

size_t cfg_regexp_go_repeat(const char *p, size_t n, size_t i)
{
	size_t j;
	bool ok;

	j = go_count_digits(p, n, i + 1, &ok);
	if (!ok)
		return 0;
	if (j < n && p[j] == ',') {
		size_t k = go_count_digits(p, n, j + 1, &ok);

		if (!ok && k != j + 1)
			return 0; /* a leading zero */
		j = k;
	}
	return j < n && p[j] == '}' ? j + 1 - i : 0;
}

size_t cfg_regexp_class_name(const char *p, size_t n, size_t i)
{
	for (size_t j = i + 2; i + 1 < n && p[i + 1] == ':' && j + 1 < n; j++) {
		if (p[j] == ':' && p[j + 1] == ']')
			return j + 2 - i;
		if (!isalpha((unsigned char)p[j]))
			break;
	}
	return 0;
}
