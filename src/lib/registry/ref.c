/* SPDX-License-Identifier: MIT */
/* Image references ([host[:port]/]path[:tag][@digest]) parsed like docker/distribution's. */
#include "common.h"
#include "cairn/log.h"
#include "cairn/oci.h"
#include "cairn/digest.h"

#include <arpa/inet.h>

/* distribution's NameTotalLengthMax: domain, '/' and path together */
#define NAME_MAX_LEN 255
/* how much of a bad input a message quotes */
#define SHOWN_MAX 100
/* room for a reason; the longest quote in one is a digest message of about 130 bytes */
#define WHY_MAX 256

#define DOCKER_HUB "docker.io"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || is_digit(c);
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* A printable form of one byte for messages: "'c'", or "'\xNN'" when it is not printable. */
static const char *show_char(char buf[8], char c)
{
	unsigned char u = (unsigned char)c;

	if (u >= 0x20 && u < 0x7f)
		snprintf(buf, 8, "'%c'", c);
	else
		snprintf(buf, 8, "'\\x%02x'", u);
	return buf;
}

/*
 * Set *err to "invalid <what> '<input>': <why>", the input cropped to SHOWN_MAX bytes. `len` is
 * the input's length (inputs of cairn_tag_validate() are not NUL-terminated).
 */
static int fail(struct cairn_error **err, const char *what, const char *s, size_t len,
		const char *why)
{
	int shown = len > SHOWN_MAX ? SHOWN_MAX : (int)len;

	return cairn_error_set(err, CAIRN_EINVAL, "invalid %s '%.*s%s': %s", what, shown, s,
			       len > SHOWN_MAX ? "..." : "", why);
}

/* [\w][\w.-]{0,127}; 0, or -1 with the reason in `why` */
static int check_tag(const char *t, size_t len, char why[WHY_MAX])
{
	char cb[8];

	if (len == 0) {
		snprintf(why, WHY_MAX, "empty tag");
		return -1;
	}
	if (len > CAIRN_TAG_MAX) {
		snprintf(why, WHY_MAX, "tag longer than %d bytes", CAIRN_TAG_MAX);
		return -1;
	}
	if (t[0] == '.' || t[0] == '-') {
		snprintf(why, WHY_MAX, "tag must not start with %s", show_char(cb, t[0]));
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (!(is_alnum(t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-')) {
			snprintf(why, WHY_MAX, "invalid character %s in tag", show_char(cb, t[i]));
			return -1;
		}
	}
	return 0;
}

/* 1..65535 in decimal */
static int check_port(const char *p, size_t len, char why[WHY_MAX])
{
	unsigned long v = 0;

	if (len == 0) {
		snprintf(why, WHY_MAX, "empty port");
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(p[i])) {
			snprintf(why, WHY_MAX, "invalid port '%.*s'", len > 16 ? 16 : (int)len, p);
			return -1;
		}
		if (v <= 65535)
			v = v * 10 + (unsigned long)(p[i] - '0');
	}
	if (v == 0 || v > 65535) {
		snprintf(why, WHY_MAX, "port out of range");
		return -1;
	}
	return 0;
}

/* Hostname components [A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])? joined by '.'; IPv4 is one. */
static bool valid_hostname(const char *h, size_t len)
{
	size_t start = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && h[i] != '.') {
			if (!(is_alnum(h[i]) || h[i] == '-'))
				return false;
			continue;
		}
		/* a component ends at h[i] */
		if (i == start || h[start] == '-' || h[i - 1] == '-')
			return false;
		start = i + 1;
	}
	return true;
}

/* host[:port], host a hostname, an IPv4 address or a bracketed IPv6 address */
static int check_domain(const char *d, size_t len, char why[WHY_MAX])
{
	const char *host_end;
	int shown = len > 64 ? 64 : (int)len;

	if (d[0] == '[') {
		const char *close = memchr(d, ']', len);
		char addr[INET6_ADDRSTRLEN];
		unsigned char bin[16];
		size_t alen;

		alen = close ? (size_t)(close - d - 1) : 0;
		if (!close || alen == 0 || alen >= sizeof(addr)) {
			snprintf(why, WHY_MAX, "invalid IPv6 address in '%.*s'", shown, d);
			return -1;
		}
		memcpy(addr, d + 1, alen);
		addr[alen] = '\0';
		if (inet_pton(AF_INET6, addr, bin) != 1) {
			snprintf(why, WHY_MAX, "invalid IPv6 address '%s'", addr);
			return -1;
		}
		host_end = close + 1;
		if (host_end == d + len)
			return 0;
		if (*host_end != ':') {
			snprintf(why, WHY_MAX, "invalid domain '%.*s'", shown, d);
			return -1;
		}
	} else {
		host_end = memchr(d, ':', len);
		if (!host_end)
			host_end = d + len;
		if (!valid_hostname(d, (size_t)(host_end - d))) {
			snprintf(why, WHY_MAX, "invalid host '%.*s'",
				 host_end - d > 64 ? 64 : (int)(host_end - d), d);
			return -1;
		}
		if (host_end == d + len)
			return 0;
	}
	return check_port(host_end + 1, len - (size_t)(host_end + 1 - d), why);
}

/*
 * One path component, [a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*, already known to hold only
 * [a-z0-9._-].
 */
static int check_component(const char *c, size_t len, char why[WHY_MAX])
{
	int shown = len > 64 ? 64 : (int)len;
	size_t i = 0;

	if (len == 0) {
		snprintf(why, WHY_MAX, "empty path component");
		return -1;
	}
	if (!is_lower_alnum(c[0])) {
		snprintf(why, WHY_MAX, "path component '%.*s' must start with a letter or digit",
			 shown, c);
		return -1;
	}
	while (i < len) {
		size_t j;

		while (i < len && is_lower_alnum(c[i]))
			i++;
		if (i == len)
			break;
		for (j = i; j < len && !is_lower_alnum(c[j]); j++)
			;
		if (j == len) {
			snprintf(why, WHY_MAX,
				 "path component '%.*s' must end with a letter or digit", shown, c);
			return -1;
		}
		/* separators: ".", "_", "__" or any run of '-' */
		if (!((j - i == 1 && c[i] != '-') ||
		      (j - i == 2 && c[i] == '_' && c[i + 1] == '_') ||
		      strspn(c + i, "-") >= j - i)) {
			snprintf(why, WHY_MAX, "invalid separator '%.*s' in path component '%.*s'",
				 (int)(j - i), c + i, shown, c);
			return -1;
		}
		i = j;
	}
	return 0;
}

static int check_path(const char *p, size_t len, char why[WHY_MAX])
{
	char cb[8];
	size_t start = 0;

	for (size_t i = 0; i < len; i++) {
		if (p[i] >= 'A' && p[i] <= 'Z') {
			snprintf(why, WHY_MAX, "repository name must be lowercase");
			return -1;
		}
	}
	for (size_t i = 0; i < len; i++) {
		if (!(is_lower_alnum(p[i]) || (p[i] != '\0' && strchr("._-/", p[i])))) {
			snprintf(why, WHY_MAX, "invalid character %s in path", show_char(cb, p[i]));
			return -1;
		}
	}
	for (size_t i = 0; i <= len; i++) {
		if (i < len && p[i] != '/')
			continue;
		if (check_component(p + start, i - start, why) < 0)
			return -1;
		start = i + 1;
	}
	return 0;
}

/* The first component names a registry when it has a '.' or a ':' or is "localhost". */
static bool is_domain(const char *c, size_t len)
{
	return memchr(c, '.', len) || memchr(c, ':', len) ||
	       (len == 9 && memcmp(c, "localhost", 9) == 0);
}

/*
 * Split and check a name ([domain/]path) and build the normalised domain and path; 0, or -1
 * with the reason in `why`.
 */
static int parse_name(struct cairn_ref *r, const char *name, size_t len, char why[WHY_MAX])
{
	const char *slash = memchr(name, '/', len);
	const char *domain = DOCKER_HUB, *path = name;
	size_t dlen = strlen(DOCKER_HUB), plen = len;

	if (len == 0) {
		snprintf(why, WHY_MAX, "missing repository name");
		return -1;
	}
	if (slash && is_domain(name, (size_t)(slash - name))) {
		domain = name;
		dlen = (size_t)(slash - name);
		path = slash + 1;
		plen = len - dlen - 1;
		if (check_domain(domain, dlen, why) < 0)
			return -1;
		if (dlen == 15 && memcmp(domain, "index.docker.io", 15) == 0) {
			domain = DOCKER_HUB;
			dlen = strlen(DOCKER_HUB);
		}
	}
	if (check_path(path, plen, why) < 0)
		return -1;
	r->domain = xstrndup(domain, dlen);
	if (strcmp(r->domain, DOCKER_HUB) == 0 && !memchr(path, '/', plen))
		r->path = xasprintf("library/%.*s", (int)plen, path);
	else
		r->path = xstrndup(path, plen);
	if (strlen(r->domain) + 1 + strlen(r->path) > NAME_MAX_LEN) {
		snprintf(why, WHY_MAX, "repository name longer than %d bytes", NAME_MAX_LEN);
		return -1;
	}
	return 0;
}

/* A repository given with a tag: say so, or that "host:port" lacks a path. */
static void why_repo_tag(const char *name, size_t len, const char *tag, size_t tlen,
			 char why[WHY_MAX])
{
	bool digits = tlen > 0 && strspn(tag, "0123456789") >= tlen;

	if (!memchr(name, '/', len) && digits && is_domain(name, len))
		snprintf(why, WHY_MAX, "missing repository path after the registry");
	else
		snprintf(why, WHY_MAX, "a repository takes no tag");
}

static int parse(struct cairn_ref *out, const char *s, bool repo, char why[WHY_MAX])
{
	CLEANUP(cairn_ref_release) struct cairn_ref r = CAIRN_REF_INIT;
	size_t len = strlen(s), nlen, tlen = 0;
	const char *at = strchr(s, '@');
	const char *name_end = at ? at : s + len;
	const char *last_slash, *colon;

	if (len == 0) {
		snprintf(why, WHY_MAX, "empty name");
		return -1;
	}
	/* a tag follows the first ':' after the last '/' */
	last_slash = memrchr(s, '/', (size_t)(name_end - s));
	colon = last_slash ? last_slash + 1 : s;
	colon = memchr(colon, ':', (size_t)(name_end - colon));
	nlen = (size_t)((colon ? colon : name_end) - s);
	if (colon)
		tlen = (size_t)(name_end - colon - 1);

	if (repo && colon) {
		why_repo_tag(s, nlen, colon + 1, tlen, why);
		return -1;
	}
	if (repo && at) {
		snprintf(why, WHY_MAX, "a repository takes no digest");
		return -1;
	}
	if (parse_name(&r, s, nlen, why) < 0)
		return -1;
	if (colon) {
		if (check_tag(colon + 1, tlen, why) < 0)
			return -1;
		r.tag = xstrndup(colon + 1, tlen);
	}
	if (at) {
		struct cairn_error *derr = NULL;
		struct cairn_digest d;

		if (at[1] == '\0') {
			snprintf(why, WHY_MAX, "missing digest after '@'");
			return -1;
		}
		if (cairn_digest_parse(&d, at + 1, strlen(at + 1), &derr) < 0) {
			snprintf(why, WHY_MAX, "%s", derr ? derr->msg : "invalid digest");
			cairn_error_free(derr);
			return -1;
		}
		r.digest = xstrdup(d.str);
	}
	*out = r;
	r = (struct cairn_ref)CAIRN_REF_INIT;
	return 0;
}

/*
 * What users paste from other tools: "docker://host/repo:tag" (skopeo's transport) and
 * "https://host/repo" (a URL). A reference has no scheme: it is dropped, with a note.
 */
static const char *strip_scheme(const char *s)
{
	static const char *const schemes[] = {"docker://", "https://", "http://"};

	for (size_t i = 0; i < ARRAY_SIZE(schemes); i++) {
		size_t n = strlen(schemes[i]);

		if (strncmp(s, schemes[i], n) == 0 && s[n]) {
			cairn_log(CAIRN_LOG_INFO, "note: '%s' taken as '%s': references have no %s",
				  s, s + n, schemes[i]);
			return s + n;
		}
	}
	return s;
}

int cairn_ref_parse(struct cairn_ref *out, const char *s, struct cairn_error **err)
{
	char why[WHY_MAX];

	*out = (struct cairn_ref)CAIRN_REF_INIT;
	s = strip_scheme(s);
	if (parse(out, s, false, why) < 0)
		return fail(err, "reference", s, strlen(s), why);
	return 0;
}

int cairn_repo_parse(struct cairn_ref *out, const char *s, struct cairn_error **err)
{
	char why[WHY_MAX];

	*out = (struct cairn_ref)CAIRN_REF_INIT;
	s = strip_scheme(s);
	if (parse(out, s, true, why) < 0)
		return fail(err, "repository", s, strlen(s), why);
	return 0;
}

void cairn_ref_with(struct cairn_ref *out, const struct cairn_ref *repo, const char *tag,
		    const char *digest)
{
	out->domain = xstrdup(repo->domain);
	out->path = xstrdup(repo->path);
	out->tag = tag ? xstrdup(tag) : NULL;
	out->digest = digest ? xstrdup(digest) : NULL;
}

void cairn_ref_release(struct cairn_ref *r)
{
	if (!r)
		return;
	free(r->domain);
	free(r->path);
	free(r->tag);
	free(r->digest);
	*r = (struct cairn_ref)CAIRN_REF_INIT;
}

char *cairn_ref_format(const struct cairn_ref *r)
{
	return xasprintf("%s/%s%s%s%s%s", r->domain, r->path, r->tag ? ":" : "",
			 r->tag ? r->tag : "", r->digest ? "@" : "", r->digest ? r->digest : "");
}

const char *cairn_ref_api_host(const struct cairn_ref *r)
{
	if (strcmp(r->domain, DOCKER_HUB) == 0)
		return "registry-1.docker.io";
	return r->domain;
}

int cairn_tag_validate(const char *tag, size_t len, struct cairn_error **err)
{
	char why[WHY_MAX];

	if (check_tag(tag, len, why) < 0)
		return fail(err, "tag", tag, len, why);
	return 0;
}
