/* SPDX-License-Identifier: MIT */
/* Link headers (RFC 8288) for tag-list pagination; URLs: resolution, origins, percent-encoding. */
#include "common.h"
#include "registry/hdrlex.h"
#include "registry/link.h"
#include "util/buf.h"

#include <stdarg.h>

/* Whether the space-separated relation types in `v` include "next". */
static bool rel_has_next(const char *v, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t start;

		while (i < n && cairn_lex_is_ws(v[i]))
			i++;
		start = i;
		while (i < n && !cairn_lex_is_ws(v[i]))
			i++;
		if (i > start && cairn_lex_ieq(v + start, i - start, "next"))
			return true;
	}
	return false;
}

/* One link-value: "<" URI-Reference ">" *( OWS ";" OWS link-param ). */
static int parse_link(struct cairn_lex *lx, const char **uri, size_t *uri_len, bool *is_next)
{
	bool seen_rel = false;
	size_t start;

	*is_next = false;
	if (cairn_lex_peek(lx) != '<')
		return cairn_lex_fail(lx, "expected '<' at offset %zu", lx->pos);
	start = ++lx->pos;
	while (!cairn_lex_at_end(lx) && cairn_lex_peek(lx) != '>') {
		unsigned char c = (unsigned char)cairn_lex_peek(lx);

		if (c <= 0x20 || c == 0x7f || c == '<')
			return cairn_lex_fail(lx, "invalid character in URI at offset %zu",
					      lx->pos);
		lx->pos++;
	}
	if (cairn_lex_at_end(lx))
		return cairn_lex_fail(lx, "unterminated '<' at offset %zu", start - 1);
	*uri = lx->s + start;
	*uri_len = lx->pos - start;
	lx->pos++;

	for (;;) {
		CLEANUP(cairn_buf_release) struct cairn_buf val = CAIRN_BUF_INIT;
		const char *name;
		size_t name_len, vstart;

		cairn_lex_skip_ws(lx);
		if (cairn_lex_peek(lx) != ';')
			break;
		lx->pos++;
		cairn_lex_skip_ws(lx);
		if (cairn_lex_at_end(lx) || cairn_lex_peek(lx) == ';' || cairn_lex_peek(lx) == ',')
			continue; /* an empty parameter */
		name = lx->s + lx->pos;
		name_len = cairn_lex_scan_token(lx);
		if (name_len == 0)
			return cairn_lex_fail(lx, "expected a parameter name at offset %zu",
					      lx->pos);
		cairn_lex_skip_ws(lx);
		if (cairn_lex_peek(lx) == '=') {
			lx->pos++;
			cairn_lex_skip_ws(lx);
			if (cairn_lex_peek(lx) == '"') {
				if (cairn_lex_parse_quoted(lx, &val) < 0)
					return -1;
			} else {
				vstart = lx->pos;
				if (cairn_lex_scan_token(lx) == 0)
					return cairn_lex_fail(
						lx, "expected a parameter value at offset %zu",
						lx->pos);
				cairn_buf_add(&val, lx->s + vstart, lx->pos - vstart);
			}
		}
		if (!seen_rel && cairn_lex_ieq(name, name_len, "rel")) {
			seen_rel = true;
			*is_next = rel_has_next(val.buf, val.len);
		}
	}
	if (!cairn_lex_at_end(lx) && cairn_lex_peek(lx) != ',')
		return cairn_lex_fail(lx, "expected ';' or ',' at offset %zu", lx->pos);
	return 0;
}

static int parse_links(struct cairn_lex *lx, const char **next, size_t *next_len)
{
	*next = NULL;
	*next_len = 0;
	for (;;) {
		const char *uri;
		size_t uri_len;
		bool is_next;

		while (!cairn_lex_at_end(lx) &&
		       (cairn_lex_is_ws(cairn_lex_peek(lx)) || cairn_lex_peek(lx) == ','))
			lx->pos++;
		if (cairn_lex_at_end(lx))
			return 0;
		if (parse_link(lx, &uri, &uri_len, &is_next) < 0)
			return -1;
		if (is_next && !*next) {
			if (uri_len == 0)
				return cairn_lex_fail(lx, "empty URI in the \"next\" link");
			*next = uri;
			*next_len = uri_len;
		}
	}
}

int cairn_link_next(char **out, const char *value, size_t len, struct cairn_error **err)
{
	struct cairn_lex lx = {.s = value, .len = len};
	const char *next;
	size_t next_len;

	*out = NULL;
	if (len > CAIRN_LINK_MAX)
		return cairn_error_set(err, CAIRN_ETOOBIG,
				       "invalid Link header: longer than %u bytes", CAIRN_LINK_MAX);
	if (parse_links(&lx, &next, &next_len) < 0)
		return cairn_error_set(err, CAIRN_EINVAL, "invalid Link header: %s", lx.why);
	if (next)
		*out = xstrndup(next, next_len);
	return 0;
}

/* ---- RFC 3986 resolution ---- */

struct uri {
	const char *scheme; /* NULL when absent */
	size_t scheme_len;
	const char *auth; /* NULL when absent; may be empty ("file:///x") */
	size_t auth_len;
	const char *path;
	size_t path_len;
	const char *query; /* without its '?'; NULL when absent */
	size_t query_len;
	const char *frag; /* without its '#'; NULL when absent */
};

static void split(struct uri *u, const char *s)
{
	size_t n = strcspn(s, ":/?#");
	bool scheme = n > 0 && s[n] == ':' && cairn_lex_is_alpha(s[0]);

	memset(u, 0, sizeof(*u));
	for (size_t i = 1; scheme && i < n; i++)
		scheme = cairn_lex_is_alpha(s[i]) || cairn_lex_is_digit(s[i]) || s[i] == '+' ||
			 s[i] == '-' || s[i] == '.';
	if (scheme) {
		u->scheme = s;
		u->scheme_len = n;
		s += n + 1;
	}
	if (s[0] == '/' && s[1] == '/') {
		s += 2;
		u->auth = s;
		u->auth_len = strcspn(s, "/?#");
		s += u->auth_len;
	}
	u->path = s;
	u->path_len = strcspn(s, "?#");
	s += u->path_len;
	if (*s == '?') {
		u->query = ++s;
		u->query_len = strcspn(s, "#");
		s += u->query_len;
	}
	if (*s == '#')
		u->frag = s + 1;
}

static bool starts(const char *p, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);

	return n >= k && memcmp(p, prefix, k) == 0;
}

static bool equals(const char *p, size_t n, const char *s)
{
	return n == strlen(s) && memcmp(p, s, n) == 0;
}

static void drop_last_segment(struct cairn_buf *out)
{
	char *slash = memrchr(out->buf, '/', out->len);

	cairn_buf_setlen(out, slash ? (size_t)(slash - out->buf) : 0);
}

/* RFC 3986 5.2.4 remove_dot_segments, appending the result to `out`. */
static void add_without_dots(struct cairn_buf *out, const char *in, size_t n)
{
	/* a buffer of its own, so dropping a segment cannot reach the scheme or authority */
	CLEANUP(cairn_buf_release) struct cairn_buf path = CAIRN_BUF_INIT;

	while (n > 0) {
		size_t skip = 0;

		if (starts(in, n, "../")) {
			skip = 3;
		} else if (starts(in, n, "./") || starts(in, n, "/./")) {
			skip = 2;
		} else if (starts(in, n, "/../")) {
			skip = 3;
			drop_last_segment(&path);
		} else if (equals(in, n, "/.") || equals(in, n, "/..")) {
			if (n == 3)
				drop_last_segment(&path);
			in = "/";
			n = 1;
		} else if (equals(in, n, ".") || equals(in, n, "..")) {
			skip = n;
		} else {
			const char *slash = memchr(in + 1, '/', n - 1);

			skip = slash ? (size_t)(slash - in) : n;
			cairn_buf_add(&path, in, skip);
		}
		in += skip;
		n -= skip;
	}
	cairn_buf_add(out, path.buf, path.len);
}

char *cairn_url_resolve(const char *base, const char *ref)
{
	CLEANUP(cairn_buf_release) struct cairn_buf merged = CAIRN_BUF_INIT;
	struct cairn_buf out = CAIRN_BUF_INIT;
	struct uri b, r;
	const char *query;
	size_t query_len;

	split(&b, base);
	if (!b.scheme)
		return NULL;
	split(&r, ref);
	if (r.scheme)
		return xstrdup(ref);

	cairn_buf_add(&out, b.scheme, b.scheme_len);
	cairn_buf_addch(&out, ':');
	query = r.query;
	query_len = r.query_len;
	if (r.auth) {
		cairn_buf_addstr(&out, "//");
		cairn_buf_add(&out, r.auth, r.auth_len);
		add_without_dots(&out, r.path, r.path_len);
	} else {
		if (b.auth) {
			cairn_buf_addstr(&out, "//");
			cairn_buf_add(&out, b.auth, b.auth_len);
		}
		if (r.path_len == 0) {
			cairn_buf_add(&out, b.path, b.path_len);
			if (!r.query) {
				query = b.query;
				query_len = b.query_len;
			}
		} else if (r.path[0] == '/') {
			add_without_dots(&out, r.path, r.path_len);
		} else {
			const char *slash = memrchr(b.path, '/', b.path_len);

			if (b.auth && b.path_len == 0)
				cairn_buf_addch(&merged, '/');
			else if (slash)
				cairn_buf_add(&merged, b.path, (size_t)(slash - b.path) + 1);
			cairn_buf_add(&merged, r.path, r.path_len);
			add_without_dots(&out, merged.buf, merged.len);
		}
	}
	if (query) {
		cairn_buf_addch(&out, '?');
		cairn_buf_add(&out, query, query_len);
	}
	if (r.frag) {
		cairn_buf_addch(&out, '#');
		cairn_buf_addstr(&out, r.frag);
	}
	return cairn_buf_detach(&out, NULL);
}

/* The port of an authority (after its ':'), 1 to 65535 with leading zeros allowed; 0 if bad. */
static unsigned long parse_port(const char *p, size_t n)
{
	unsigned long v = 0;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!cairn_lex_is_digit(p[i]))
			return 0;
		v = v * 10 + (unsigned long)(p[i] - '0');
		if (v > 65535)
			return 0;
	}
	return v;
}

char *cairn_url_origin(const char *url)
{
	struct cairn_buf b = CAIRN_BUF_INIT;
	const char *host, *port = NULL;
	unsigned long port_num;
	size_t host_len, port_len = 0;
	bool https;
	struct uri u;

	split(&u, url);
	if (!u.scheme || !u.auth || u.auth_len == 0 || memchr(u.auth, '@', u.auth_len))
		return NULL;
	if (cairn_lex_ieq(u.scheme, u.scheme_len, "https"))
		https = true;
	else if (cairn_lex_ieq(u.scheme, u.scheme_len, "http"))
		https = false;
	else
		return NULL;
	host = u.auth;
	if (host[0] == '[') {
		const char *close = memchr(host, ']', u.auth_len);

		if (!close)
			return NULL;
		host_len = (size_t)(close - host) + 1;
	} else {
		const char *colon = memchr(host, ':', u.auth_len);

		host_len = colon ? (size_t)(colon - host) : u.auth_len;
	}
	if (host_len < u.auth_len) {
		if (host[host_len] != ':')
			return NULL;
		port = host + host_len + 1;
		port_len = u.auth_len - host_len - 1;
	}
	/* "host:" means the default port (RFC 3986 3.2.3) */
	port_num = port_len ? parse_port(port, port_len) : (https ? 443 : 80);
	if (host_len == 0 || port_num == 0)
		return NULL;
	cairn_buf_addstr(&b, https ? "https://" : "http://");
	for (size_t i = 0; i < host_len; i++)
		cairn_buf_addch(&b, cairn_lex_lower(host[i]));
	cairn_buf_addf(&b, ":%lu", port_num);
	return cairn_buf_detach(&b, NULL);
}

bool cairn_url_same_origin(const char *a, const char *b)
{
	cleanup_free char *oa = cairn_url_origin(a);
	cleanup_free char *ob = cairn_url_origin(b);

	return oa && ob && strcmp(oa, ob) == 0;
}

/* ---- percent-encoding ---- */

char *cairn_url_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct cairn_buf b = CAIRN_BUF_INIT;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (cairn_lex_is_alpha(*s) || cairn_lex_is_digit(*s) || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
			cairn_buf_addch(&b, *s);
		} else {
			cairn_buf_addch(&b, '%');
			cairn_buf_addch(&b, hex[c >> 4]);
			cairn_buf_addch(&b, hex[c & 15]);
		}
	}
	return cairn_buf_detach(&b, NULL);
}
