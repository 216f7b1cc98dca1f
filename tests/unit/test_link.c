/* SPDX-License-Identifier: MIT */
/* Unit tests for Link header parsing (RFC 8288) and URI reference resolution (RFC 3986). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common.h"
#include "registry/link.h"
#include "util/buf.h"

#define EMSG "invalid Link header: "

static void check_str(const char *got, const char *want, size_t i, const char *what)
{
	if (!want && !got)
		return;
	if (!want || !got || strcmp(got, want) != 0)
		fail_msg("case %zu: %s is \"%s\", want \"%s\"", i, what, got ? got : "(null)",
			 want ? want : "(null)");
}

struct link_case {
	const char *in;
	size_t len; /* 0: strlen(in) */
	int ret;
	const char *want; /* the next URI (NULL: none), or the message when ret < 0 */
};

static void run_cases(const struct link_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct cairn_error *err = NULL;
		size_t len = c[i].len ? c[i].len : strlen(c[i].in);
		char *next = (char *)"unset";
		int ret = cairn_link_next(&next, c[i].in, len, &err);

		if (ret != c[i].ret)
			fail_msg("case %zu: ret %d, want %d (%s)", i, ret, c[i].ret,
				 err ? err->msg : "no error");
		if (ret == 0) {
			assert_null(err);
			check_str(next, c[i].want, i, "next");
		} else {
			assert_null(next);
			assert_non_null(err);
			assert_int_equal(err->code, ret);
			check_str(err->msg, c[i].want, i, "message");
		}
		free(next);
		cairn_error_free(err);
	}
}

static void test_link_next_valid(void **state)
{
	static const struct link_case c[] = {
		/* distribution 2.8, Docker Hub, Harbor, GHCR: a path-absolute reference */
		{"</v2/library/alpine/tags/list?last=3.18&n=100>; rel=\"next\"", 0, 0,
		 "/v2/library/alpine/tags/list?last=3.18&n=100"},
		{"</v2/library/ubuntu/tags/list?last=xenial&n=100>; rel=\"next\"", 0, 0,
		 "/v2/library/ubuntu/tags/list?last=xenial&n=100"},
		{"</v2/library/hello-world/tags/list?last=latest&n=1>; rel=\"next\"", 0, 0,
		 "/v2/library/hello-world/tags/list?last=latest&n=1"},
		{"</v2/octocat/hello-world/tags/list?last=v1.2.3&n=100>; rel=\"next\"", 0, 0,
		 "/v2/octocat/hello-world/tags/list?last=v1.2.3&n=100"},
		/* absolute references */
		{"<https://registry.gitlab.com/v2/group/project/tags/list?last=v1&n=100>; "
		 "rel=\"next\"",
		 0, 0, "https://registry.gitlab.com/v2/group/project/tags/list?last=v1&n=100"},
		/* several links (GitHub's API style) */
		{"<https://api.github.com/x?page=2>; rel=\"next\", "
		 "<https://api.github.com/x?page=5>; rel=\"last\"",
		 0, 0, "https://api.github.com/x?page=2"},
		{"<https://api.github.com/x?page=1>; rel=\"prev\", "
		 "<https://api.github.com/x?page=3>; rel=\"next\"",
		 0, 0, "https://api.github.com/x?page=3"},
		{"</a>; rel=next, </b>; rel=next", 0, 0, "/a"},
		/* rel forms */
		{"</a>; rel=next", 0, 0, "/a"},
		{"</a>; rel=\"prev next\"", 0, 0, "/a"},
		{"</a>; rel=\"next  last\"", 0, 0, "/a"},
		{"</a>; rel=\"\tprev\tnext\t\"", 0, 0, "/a"},
		{"</a>; REL=\"NEXT\"", 0, 0, "/a"},
		{"</a>; Rel=Next", 0, 0, "/a"},
		{"</a>; rel=\"http://example.com/rel/x next\"", 0, 0, "/a"},
		{"</a>; rel=\"n\\ext\"", 0, 0, "/a"},
		{"</a>; rel=\"next\"; rel=\"prev\"", 0, 0, "/a"},
		/* commas inside <...> or a quoted string do not split */
		{"</a,b?c=1,2>; rel=next", 0, 0, "/a,b?c=1,2"},
		{"</a>; title=\"x, y\"; rel=next", 0, 0, "/a"},
		{"</a>; title=\"say \\\"hi\\\", ok\"; rel=\"next\"", 0, 0, "/a"},
		/* whitespace, empty elements and parameters, other parameters */
		{"  </a>  ;  rel  =  \"next\"  ,  ", 0, 0, "/a"},
		{", ,</a>;; rel=next; anchor=\"#x\"; hreflang=en; crossorigin;", 0, 0, "/a"},
		{"</a>;rel=next", 0, 0, "/a"},
		{"</caf\xc3\xa9>; rel=next", 0, 0, "/caf\xc3\xa9"},
		/* no next link */
		{"", 0, 0, NULL},
		{" , ,\t", 0, 0, NULL},
		{"</a>", 0, 0, NULL},
		{"</a>; rel=\"prev\"", 0, 0, NULL},
		{"</a>; rel=\"nextpage\"", 0, 0, NULL},
		{"</a>; rel=\"\"", 0, 0, NULL},
		{"</a>; rel", 0, 0, NULL},
		{"</a>; rel=\"prev\"; rel=\"next\"", 0, 0, NULL}, /* only the first rel counts */
		{"</a>; rel*=UTF-8''next", 0, 0, NULL},
		{"</a>; title=\"rel=next\"", 0, 0, NULL},
		{"<>; rel=prev", 0, 0, NULL},
	};

	(void)state;
	run_cases(c, ARRAY_SIZE(c));
}

static void test_link_next_invalid(void **state)
{
	static const struct link_case c[] = {
		{"/v2/x/tags/list?last=b; rel=next", 0, CAIRN_EINVAL,
		 EMSG "expected '<' at offset 0"},
		{"</a; rel=next", 0, CAIRN_EINVAL, EMSG "invalid character in URI at offset 4"},
		{"</a", 0, CAIRN_EINVAL, EMSG "unterminated '<' at offset 0"},
		{"</a>, </b", 0, CAIRN_EINVAL, EMSG "unterminated '<' at offset 6"},
		{"</a> rel=next", 0, CAIRN_EINVAL, EMSG "expected ';' or ',' at offset 5"},
		{"</a>; rel=\"next", 0, CAIRN_EINVAL,
		 EMSG "unterminated quoted string at offset 10"},
		{"</a>; rel=", 0, CAIRN_EINVAL, EMSG "expected a parameter value at offset 10"},
		{"</a>; rel=<b>", 0, CAIRN_EINVAL, EMSG "expected a parameter value at offset 10"},
		{"</a>; =\"next\"", 0, CAIRN_EINVAL, EMSG "expected a parameter name at offset 6"},
		{"</a\x01>; rel=next", 0, CAIRN_EINVAL,
		 EMSG "invalid character in URI at offset 3"},
		{"</a\0>; rel=next", 15, CAIRN_EINVAL, EMSG "invalid character in URI at offset 3"},
		{"</a\x7f>; rel=next", 0, CAIRN_EINVAL,
		 EMSG "invalid character in URI at offset 3"},
		{"</a\r\nX: y>; rel=next", 0, CAIRN_EINVAL,
		 EMSG "invalid character in URI at offset 3"},
		{"</a<b>; rel=next", 0, CAIRN_EINVAL, EMSG "invalid character in URI at offset 3"},
		{"<>; rel=next", 0, CAIRN_EINVAL, EMSG "empty URI in the \"next\" link"},
		{"</a>; rel=next </b>", 0, CAIRN_EINVAL, EMSG "expected ';' or ',' at offset 15"},
		{"</a>; rel=\"n\x01\"", 0, CAIRN_EINVAL,
		 EMSG "control character in quoted string at offset 12"},
		{"</a>; rel=next, junk", 0, CAIRN_EINVAL, EMSG "expected '<' at offset 16"},
		{"</a>; rel=next\0", 15, CAIRN_EINVAL, EMSG "expected ';' or ',' at offset 14"},
	};

	(void)state;
	run_cases(c, ARRAY_SIZE(c));
}

static void test_link_next_cap(void **state)
{
	struct cairn_buf b = CAIRN_BUF_INIT;
	struct cairn_error *err = NULL;
	char *next = NULL;

	(void)state;
	cairn_buf_addstr(&b, "</");
	while (b.len < CAIRN_LINK_MAX - strlen(">; rel=next"))
		cairn_buf_addch(&b, 'x');
	cairn_buf_addstr(&b, ">; rel=next");
	assert_int_equal(b.len, CAIRN_LINK_MAX);
	assert_int_equal(cairn_link_next(&next, b.buf, b.len, &err), 0);
	assert_int_equal(strlen(next), CAIRN_LINK_MAX - 12);
	free(next);
	cairn_buf_addch(&b, ' ');
	assert_int_equal(cairn_link_next(&next, b.buf, b.len, &err), CAIRN_ETOOBIG);
	assert_null(next);
	assert_string_equal(err->msg, EMSG "longer than 16384 bytes");
	cairn_error_free(err);
	cairn_buf_release(&b);
}

struct resolve_case {
	const char *base, *ref, *want;
};

static void run_resolve(const struct resolve_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *got = cairn_url_resolve(c[i].base, c[i].ref);

		check_str(got, c[i].want, i, c[i].ref);
		free(got);
	}
}

/* RFC 3986 5.4 */
static void test_resolve_rfc3986(void **state)
{
#define B "http://a/b/c/d;p?q"
	static const struct resolve_case c[] = {
		/* 5.4.1 normal examples */
		{B, "g:h", "g:h"},
		{B, "g", "http://a/b/c/g"},
		{B, "./g", "http://a/b/c/g"},
		{B, "g/", "http://a/b/c/g/"},
		{B, "/g", "http://a/g"},
		{B, "//g", "http://g"},
		{B, "?y", "http://a/b/c/d;p?y"},
		{B, "g?y", "http://a/b/c/g?y"},
		{B, "#s", "http://a/b/c/d;p?q#s"},
		{B, "g#s", "http://a/b/c/g#s"},
		{B, "g?y#s", "http://a/b/c/g?y#s"},
		{B, ";x", "http://a/b/c/;x"},
		{B, "g;x", "http://a/b/c/g;x"},
		{B, "g;x?y#s", "http://a/b/c/g;x?y#s"},
		{B, "", "http://a/b/c/d;p?q"},
		{B, ".", "http://a/b/c/"},
		{B, "./", "http://a/b/c/"},
		{B, "..", "http://a/b/"},
		{B, "../", "http://a/b/"},
		{B, "../g", "http://a/b/g"},
		{B, "../..", "http://a/"},
		{B, "../../", "http://a/"},
		{B, "../../g", "http://a/g"},
		/* 5.4.2 abnormal examples */
		{B, "../../../g", "http://a/g"},
		{B, "../../../../g", "http://a/g"},
		{B, "/./g", "http://a/g"},
		{B, "/../g", "http://a/g"},
		{B, "g.", "http://a/b/c/g."},
		{B, ".g", "http://a/b/c/.g"},
		{B, "g..", "http://a/b/c/g.."},
		{B, "..g", "http://a/b/c/..g"},
		{B, "./../g", "http://a/b/g"},
		{B, "./g/.", "http://a/b/c/g/"},
		{B, "g/./h", "http://a/b/c/g/h"},
		{B, "g/../h", "http://a/b/c/h"},
		{B, "g;x=1/./y", "http://a/b/c/g;x=1/y"},
		{B, "g;x=1/../y", "http://a/b/c/y"},
		{B, "g?y/./x", "http://a/b/c/g?y/./x"},
		{B, "g?y/../x", "http://a/b/c/g?y/../x"},
		{B, "g#s/./x", "http://a/b/c/g#s/./x"},
		{B, "g#s/../x", "http://a/b/c/g#s/../x"},
		{B, "http:g", "http:g"},
		/* empty query and fragment are kept */
		{B, "?", "http://a/b/c/d;p?"},
		{B, "#", "http://a/b/c/d;p?q#"},
	};
#undef B

	(void)state;
	run_resolve(c, ARRAY_SIZE(c));
}

static void test_resolve_registry(void **state)
{
#define R "http://127.0.0.1:5000/v2/x/tags/list"
	static const struct resolve_case c[] = {
		{R, "/v2/x/tags/list?n=100&last=b",
		 "http://127.0.0.1:5000/v2/x/tags/list?n=100&last=b"},
		{R "?n=100", "?n=100&last=c", R "?n=100&last=c"},
		{R "?n=100", "list?last=c", R "?last=c"},
		{R, "https://registry.gitlab.com/v2/g/p/tags/list?last=v1&n=100",
		 "https://registry.gitlab.com/v2/g/p/tags/list?last=v1&n=100"},
		{R, "HTTPS://other/./x/../y", "HTTPS://other/./x/../y"}, /* absolute: as is */
		{R, "//mirror:5000/v2/x/tags/list?last=b",
		 "http://mirror:5000/v2/x/tags/list?last=b"},
		{R, "//mirror:5000", "http://mirror:5000"},
		{R, "../../../../../../x", "http://127.0.0.1:5000/x"},
		{R, "/v2/x/../y/./tags/list", "http://127.0.0.1:5000/v2/y/tags/list"},
		{R, "/v2/x/tags/list/..", "http://127.0.0.1:5000/v2/x/tags/"},
		{R, "/v2/x/tags/list/.", "http://127.0.0.1:5000/v2/x/tags/list/"},
		{R, "a:b/c", "a:b/c"},
		{R, "1a:b", "http://127.0.0.1:5000/v2/x/tags/1a:b"},
		{"https://h", "g", "https://h/g"},
		{"https://h", "", "https://h"},
		{"https://h", "?q", "https://h?q"},
		{"https://h/", "..", "https://h/"},
		{"http://[::1]:5000/v2/x", "/y", "http://[::1]:5000/y"},
		{"http://user@h:1/a/b#frag", "", "http://user@h:1/a/b"},
		{"http://h/a/b#frag", "#f2", "http://h/a/b#f2"},
		{"http://h/a?q#frag", "c?d#e", "http://h/c?d#e"},
		{"file:///etc/x/y", "z", "file:///etc/x/z"},
		{"urn:a:b", "c", "urn:c"},
		/* a base without a scheme */
		{"127.0.0.1:5000/v2/x", "/y", NULL},
		{"/v2/x/tags/list", "/y", NULL},
		{"", "http://h/", NULL},
		{":x", "/y", NULL},
		{"h+t.t-p://h/a", "b", "h+t.t-p://h/b"},
		{"ht~tp://h/a", "b", NULL},
	};
#undef R

	(void)state;
	run_resolve(c, ARRAY_SIZE(c));
}

/* How a tag lister uses both: the Link of a response resolved against its request URL. */
static void test_next_page_url(void **state)
{
	static const char hdr[] = "</v2/team/app/tags/list?last=v1.9&n=100>; rel=\"next\"";
	struct cairn_error *err = NULL;
	char *next = NULL, *url;

	(void)state;
	assert_int_equal(cairn_link_next(&next, hdr, sizeof(hdr) - 1, &err), 0);
	url = cairn_url_resolve("http://127.0.0.1:5000/v2/team/app/tags/list?n=100", next);
	assert_string_equal(url, "http://127.0.0.1:5000/v2/team/app/tags/list?last=v1.9&n=100");
	free(url);
	free(next);
}

/* Origins: what decides where a registry's credentials may go. */
static void test_url_origin(void **state)
{
	static const struct {
		const char *url, *want;
	} c[] = {
		{"https://registry.example/v2/", "https://registry.example:443"},
		{"HTTPS://Registry.Example", "https://registry.example:443"},
		{"https://registry.example:443/x?y#z", "https://registry.example:443"},
		{"https://registry.example:/x", "https://registry.example:443"},
		{"http://127.0.0.1:05000/v2/", "http://127.0.0.1:5000"},
		{"http://h?q", "http://h:80"},
		{"http://h#f", "http://h:80"},
		{"http://[::1]:5000/v2/", "http://[::1]:5000"},
		{"https://[::1]/", "https://[::1]:443"},
		{"https://[::1]x/", NULL},
		{"https://[::1/", NULL},
		{"https://user@registry.example/", NULL},
		{"https://registry.example@evil.example/", NULL},
		{"https://h:65536/", NULL},
		{"https://h:0/", NULL},
		{"https://h:44x/", NULL},
		{"https://:443/", NULL},
		{"https:///v2/", NULL},
		{"ftp://h/", NULL},
		{"file:///etc/passwd", NULL},
		{"/v2/a", NULL},
		{"//h/v2/a", NULL},
		{"", NULL},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		char *got = cairn_url_origin(c[i].url);

		check_str(got, c[i].want, i, c[i].url);
		free(got);
	}
	assert_true(cairn_url_same_origin("https://a.example/v2/", "https://A.example:443"));
	assert_false(cairn_url_same_origin("https://a.example/", "http://a.example/"));
	assert_false(cairn_url_same_origin("https://a.example/", "https://a.example:5000/"));
	assert_false(cairn_url_same_origin("https://a.example/", "https://a.example.evil/"));
	assert_false(cairn_url_same_origin("/v2/", "/v2/"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link_next_valid),	 cmocka_unit_test(test_link_next_invalid),
		cmocka_unit_test(test_link_next_cap),	 cmocka_unit_test(test_resolve_rfc3986),
		cmocka_unit_test(test_resolve_registry), cmocka_unit_test(test_next_page_url),
		cmocka_unit_test(test_url_origin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
