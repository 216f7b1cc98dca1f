/* SPDX-License-Identifier: MIT */
/*
 * cleanup.keepPolicies of the meta document, checked as werf v1.1.20+ does
 * (pkg/config/raw_meta_cleanup.go): each policy names branches or tags (a name or /REGEXP/),
 * with an optional references.limit and imagesPerReference of `last`, `in` and `operator`.
 */
#include "common.h"
#include "config/config_internal.h"
#include "config/regexp_limits.h"

#include <ctype.h>
#include <regex.h>

static int bad(struct ctx *x, const struct cairn_config_value *v, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(struct ctx *x, const struct cairn_config_value *v, const char *fmt, ...)
{
	CLEANUP(cairn_buf_release) struct cairn_buf why = CAIRN_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	cairn_buf_vaddf(&why, fmt, ap);
	va_end(ap);
	return cfg_fail(x, CAIRN_EINVAL, v->pos, "%s", why.buf);
}

static const struct cairn_config_value *get(const struct cairn_config_value *map, const char *key)
{
	for (size_t i = 0; map->kind == CAIRN_CONFIG_VALUE_MAP && i < map->n; i++)
		if (strcmp(map->keys[i], key) == 0)
			return &map->items[i];
	return NULL;
}

/* Only the keys `allowed` (NULL-terminated). */
static int only(struct ctx *x, const struct cairn_config_value *map, const char *const *allowed)
{
	for (size_t i = 0; i < map->n; i++) {
		size_t k = 0;

		while (allowed[k] && strcmp(allowed[k], map->keys[i]) != 0)
			k++;
		if (!allowed[k])
			return bad(x, &map->items[i], "unknown key '%s'", map->keys[i]);
	}
	return 0;
}

/* A Go duration ("168h", "1h30m", "90s", "1.5h"; a bare integer is nanoseconds) in seconds. */
int cfg_go_duration(int64_t *out, const char *s)
{
	static const struct {
		const char *unit;
		double secs;
	} units[] = {{"ns", 1e-9}, {"us", 1e-6}, {"\xc2\xb5s", 1e-6}, {"ms", 1e-3},
		     {"s", 1},	   {"m", 60},	 {"h", 3600}};
	double total = 0;
	char *end;

	if (!*s)
		return -1;
	if (strspn(s, "0123456789") == strlen(s)) {
		*out = (int64_t)(strtod(s, NULL) / 1e9);
		return 0;
	}
	while (*s) {
		size_t n = strspn(s, "0123456789."), k;
		double v;

		if (n == 0)
			return -1;
		v = strtod(s, &end);
		if (end != s + n)
			return -1;
		s += n;
		for (k = 0; k < ARRAY_SIZE(units); k++) {
			size_t u = strlen(units[k].unit);

			/* "m" must not take the "m" of "ms" */
			if (strncmp(s, units[k].unit, u) == 0 &&
			    !(u == 1 && s[0] == 'm' && s[1] == 's'))
				break;
		}
		if (k == ARRAY_SIZE(units))
			return -1;
		total += v * units[k].secs;
		s += strlen(units[k].unit);
	}
	if (total > 9e15)
		return -1;
	*out = (int64_t)total;
	return 0;
}

static int read_limit(struct ctx *x, const struct cairn_config_value *v, const char *where,
		      struct cairn_config_keep_limit *out)
{
	static const char *const keys[] = {"last", "in", "operator", NULL};
	const struct cairn_config_value *last, *in, *op;
	char *end;
	int ret;

	out->set = true;
	out->last = -2;
	out->in_secs = -1;
	if (v->kind != CAIRN_CONFIG_VALUE_MAP)
		return bad(x, v, "%s: must be a mapping of last, in and operator", where);
	ret = only(x, v, keys);
	if (ret < 0)
		return ret;
	last = get(v, "last");
	in = get(v, "in");
	op = get(v, "operator");
	if (last) {
		if (last->kind != CAIRN_CONFIG_VALUE_SCALAR || !last->plain)
			return bad(x, last, "%s.last: must be a number", where);
		out->last = strtoll(last->text, &end, 10);
		if (!*last->text || *end || out->last < -1)
			return bad(x, last, "%s.last: '%s' is no count (-1: all)", where,
				   last->text);
	}
	if (in) {
		if (in->kind != CAIRN_CONFIG_VALUE_SCALAR ||
		    cfg_go_duration(&out->in_secs, in->text) < 0)
			return bad(x, in, "%s.in: '%s' is no duration (as 168h, 1h30m, 90s)", where,
				   in->text ? in->text : "");
	}
	if (op) {
		if (op->kind != CAIRN_CONFIG_VALUE_SCALAR ||
		    (strcmp(op->text, "Or") != 0 && strcmp(op->text, "And") != 0))
			return bad(x, op, "%s.operator: unsupported value '%s' (want Or or And)",
				   where, op->text ? op->text : "");
		out->or_operator = strcmp(op->text, "Or") == 0;
	}
	return 0;
}

/*
 * werf's /REGEXP/ is Go's (RE2) syntax; cairn matches with POSIX extended ones (glibc). The
 * common Go escapes are translated: \d \D to digit classes, \w \W \s \S \b \B kept (glibc
 * has them outside brackets), \d \w \s inside brackets as classes, an escaped punctuation
 * character inside brackets as itself but ']' (POSIX ends the brackets there: "[]a]" says it).
 * Any other escape (\A, \z, \pL, \1...) would silently mean something else, so it is refused:
 * NULL, with the escape in `bad` (3 bytes). A '{' that
 * starts no repetition ("a{,3}", "x{") is a literal, as in Go; a lazy repetition ("+?", "*?",
 * "{2,}?") matches what the greedy one matches, which is all a policy asks, and is written so
 * (POSIX would read "a+?" as "(a+)?", which matches any name).
 */
char *cfg_go_regexp(const char *go, char bad[3])
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	const char *end = go + strlen(go);
	bool in_class = false;
	size_t n;

	for (const char *p = go; *p; p++) {
		if (!in_class && *p == '{') {
			n = cfg_regexp_go_repeat(p, (size_t)(end - p), 0);
			if (!n) {
				cairn_buf_addstr(&b, "\\{");
				continue;
			}
			cairn_buf_add(&b, p, n);
			p += n - 1;
			if (p[1] == '?')
				p++; /* lazy */
			continue;
		}
		if (!in_class && (*p == '*' || *p == '+' || *p == '?')) {
			cairn_buf_addch(&b, *p);
			if (p[1] == '?')
				p++; /* lazy */
			continue;
		}
		if (*p == '[' && !in_class) {
			in_class = true;
			cairn_buf_addch(&b, '[');
			if (p[1] == '^')
				cairn_buf_addch(&b, *++p);
			if (p[1] == ']')
				cairn_buf_addch(&b, *++p);
			continue;
		}
		if (in_class && *p == '[' && (n = cfg_regexp_class_name(p, (size_t)(end - p), 0))) {
			cairn_buf_add(&b, p, n); /* [:alpha:] */
			p += n - 1;
			continue;
		}
		if (*p == ']' && in_class) {
			in_class = false;
			cairn_buf_addch(&b, ']');
			continue;
		}
		if (*p != '\\') {
			cairn_buf_addch(&b, *p);
			continue;
		}
		p++;
		if (!*p) {
			snprintf(bad, 3, "\\");
			return NULL;
		}
		if (in_class && *p == 'd')
			cairn_buf_addstr(&b, "0-9");
		else if (in_class && *p == 'w')
			cairn_buf_addstr(&b, "[:alnum:]_");
		else if (in_class && *p == 's')
			cairn_buf_addstr(&b, "[:space:]");
		else if (in_class && ispunct((unsigned char)*p) && *p != '[' && *p != ']')
			cairn_buf_addch(&b, *p);
		else if (!in_class && *p == 'd')
			cairn_buf_addstr(&b, "[0-9]");
		else if (!in_class && *p == 'D')
			cairn_buf_addstr(&b, "[^0-9]");
		else if (!in_class && strchr("wWsSbB", *p))
			cairn_buf_addf(&b, "\\%c", *p);
		else if (!in_class && ispunct((unsigned char)*p))
			cairn_buf_addf(&b, "\\%c", *p);
		else {
			snprintf(bad, 3, "\\%c", *p);
			return NULL;
		}
	}
	return cairn_buf_detach(&b, NULL);
}

/*
 * A /REGEXP/ pattern compiled, or -1: `why` the escape refused, else `*limit` the bound the
 * POSIX text regcomp would get passes (see cfg_regexp_limits), else a syntax error.
 */
static int compile(regex_t *re, const char *pattern, char why[3], const char **limit)
{
	size_t n = strlen(pattern);
	cleanup_free char *go = xstrndup(pattern + 1, n - 2);
	cleanup_free char *posix = cfg_go_regexp(go, why);

	*limit = NULL;
	if (!posix)
		return -1;
	why[0] = 0;
	*limit = cfg_regexp_limits(posix, strlen(posix));
	if (*limit)
		return -1;
	return regcomp(re, posix, REG_EXTENDED | REG_NOSUB) == 0 ? 0 : -1;
}

static int check_pattern(struct ctx *x, const struct cairn_config_value *v, const char *key)
{
	size_t n;
	regex_t re;
	char why[3] = "";
	const char *limit = NULL;

	if (v->kind != CAIRN_CONFIG_VALUE_SCALAR || !*v->text)
		return bad(x, v, "references.%s: must be a name or /REGEXP/", key);
	n = strlen(v->text);
	if (n < 2 || v->text[0] != '/' || v->text[n - 1] != '/')
		return 0;
	if (compile(&re, v->text, why, &limit) < 0) {
		if (why[0])
			return bad(x, v,
				   "references.%s: '%s': the escape '%s' is not supported (cairn "
				   "matches POSIX extended regular expressions)",
				   key, v->text, why);
		if (limit)
			return bad(x, v, "references.%s: '%s': %s", key, v->text, limit);
		return bad(x, v, "references.%s: invalid regular expression '%s'", key, v->text);
	}
	regfree(&re);
	return 0;
}

static int read_policy(struct ctx *x, const struct cairn_config_value *v,
		       struct cairn_config_keep_policy *p)
{
	static const char *const keys[] = {"references", "imagesPerReference", NULL};
	static const char *const ref_keys[] = {"tag", "branch", "limit", NULL};
	const struct cairn_config_value *refs, *tag, *branch, *limit, *per;
	int ret;

	p->pos = v->pos;
	p->limit.last = p->per_reference.last = -2;
	p->limit.in_secs = p->per_reference.in_secs = -1;
	if (v->kind != CAIRN_CONFIG_VALUE_MAP)
		return bad(x, v, "must be a mapping of references and imagesPerReference");
	ret = only(x, v, keys);
	if (ret < 0)
		return ret;
	refs = get(v, "references");
	if (!refs)
		return bad(x, v, "cleanup keep policy must have a references section");
	if (refs->kind != CAIRN_CONFIG_VALUE_MAP)
		return bad(x, refs, "references: must be a mapping of tag or branch, and limit");
	ret = only(x, refs, ref_keys);
	if (ret < 0)
		return ret;
	tag = get(refs, "tag");
	branch = get(refs, "branch");
	if (!tag && !branch)
		return bad(x, refs, "references: tag (a name or /REGEXP/) or branch required");
	if (tag && branch)
		return bad(x, refs, "references: give tag or branch, not both");
	p->tag = tag != NULL;
	ret = check_pattern(x, tag ? tag : branch, tag ? "tag" : "branch");
	if (ret < 0)
		return ret;
	p->pattern = xstrdup((tag ? tag : branch)->text);
	limit = get(refs, "limit");
	if (limit)
		ret = read_limit(x, limit, "references.limit", &p->limit);
	per = get(v, "imagesPerReference");
	if (ret == 0 && per)
		ret = read_limit(x, per, "imagesPerReference", &p->per_reference);
	return ret;
}

int cfg_read_keep_policies(struct ctx *x, struct cairn_config *c)
{
	const struct cairn_config_value *kp = c->cleanup ? get(c->cleanup, "keepPolicies") : NULL;
	/* werf v1.2's switches: read by werf's own cleanup, noted and left alone here */
	static const char *const keys[] = {"keepPolicies",
					   "disableKubernetesBasedPolicy",
					   "disableGitHistoryBasedPolicy",
					   "disableBuiltWithinLastNHoursPolicy",
					   "keepImagesBuiltWithinLastNHours",
					   NULL};
	int ret = c->cleanup ? only(x, c->cleanup, keys) : 0;

	for (size_t i = 0; ret == 0 && c->cleanup && i < c->cleanup->n; i++)
		if (strcmp(c->cleanup->keys[i], "keepPolicies") != 0)
			cairn_log(CAIRN_LOG_DEBUG,
				  "%s:%u:%u: cleanup.%s: ignored: cairn's cleanup "
				  "has no such switch",
				  x->file, c->cleanup->items[i].pos.line,
				  c->cleanup->items[i].pos.column, c->cleanup->keys[i]);

	if (ret == 0 && kp && kp->kind != CAIRN_CONFIG_VALUE_LIST &&
	    kp->kind != CAIRN_CONFIG_VALUE_NULL)
		ret = bad(x, kp, "keepPolicies: must be a list");
	if (ret == 0 && kp && kp->kind == CAIRN_CONFIG_VALUE_LIST) {
		size_t o2 = cfg_path_key(x, "keepPolicies", 12);

		c->keep_policies = xcalloc(kp->n + 1, sizeof(*c->keep_policies));
		for (size_t i = 0; ret == 0 && i < kp->n; i++) {
			size_t o3 = cfg_path_index(x, i);

			c->n_keep_policies = i + 1;
			ret = read_policy(x, &kp->items[i], &c->keep_policies[i]);
			cfg_path_pop(x, o3);
		}
		cfg_path_pop(x, o2);
	}
	return ret;
}

void cfg_keep_policies_release(struct cairn_config *c)
{
	for (size_t i = 0; i < c->n_keep_policies; i++)
		free(c->keep_policies[i].pattern);
	free(c->keep_policies);
	c->keep_policies = NULL;
	c->n_keep_policies = 0;
}

bool cairn_config_keep_policy_matches(const struct cairn_config_keep_policy *p, const char *name)
{
	size_t n = strlen(p->pattern);
	const char *limit;
	char why[3];
	regex_t re;
	bool m;

	if (n < 2 || p->pattern[0] != '/' || p->pattern[n - 1] != '/')
		return strcmp(p->pattern, name) == 0;
	if (compile(&re, p->pattern, why, &limit) < 0)
		return false;
	m = regexec(&re, name, 0, NULL, 0) == 0;
	regfree(&re);
	return m;
}
