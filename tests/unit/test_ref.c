/* SPDX-License-Identifier: MIT */
/* Unit tests for image references, repositories and tags. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/oci.h"

#define D64 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define DG "sha256:" D64
#define X10 "xxxxxxxxxx"
#define X100 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10
#define T128 X100 X10 X10 "xxxxxxxx"

struct ref_case {
	const char *in;
	const char *domain, *path, *tag, *digest;
	int ret;
	const char *msg; /* expected error message (exact) */
};

static void check_null_ref(const struct cairn_ref *r)
{
	assert_null(r->domain);
	assert_null(r->path);
	assert_null(r->tag);
	assert_null(r->digest);
}

static void check_str(const char *got, const char *want, size_t i, const char *what)
{
	if (!want && !got)
		return;
	if (!want || !got || strcmp(got, want) != 0)
		fail_msg("case %zu: %s is \"%s\", want \"%s\"", i, what, got ? got : "(null)",
			 want ? want : "(null)");
}

static void run_cases(const struct ref_case *c, size_t n,
		      int (*parse)(struct cairn_ref *, const char *, struct cairn_error **))
{
	for (size_t i = 0; i < n; i++) {
		struct cairn_ref r = CAIRN_REF_INIT;
		struct cairn_error *err = NULL;
		int ret = parse(&r, c[i].in, &err);

		if (ret != c[i].ret)
			fail_msg("case %zu '%s': ret %d, want %d (%s)", i, c[i].in, ret, c[i].ret,
				 err ? err->msg : "no error");
		if (ret == 0) {
			assert_null(err);
			check_str(r.domain, c[i].domain, i, "domain");
			check_str(r.path, c[i].path, i, "path");
			check_str(r.tag, c[i].tag, i, "tag");
			check_str(r.digest, c[i].digest, i, "digest");
		} else {
			assert_non_null(err);
			assert_int_equal(err->code, c[i].ret);
			if (c[i].msg)
				check_str(err->msg, c[i].msg, i, "message");
			check_null_ref(&r);
		}
		cairn_error_free(err);
		cairn_ref_release(&r);
		check_null_ref(&r);
	}
}

static void test_ref_parse_valid(void **state)
{
	static const struct ref_case c[] = {
		/* Docker Hub normalisation */
		{"alpine", "docker.io", "library/alpine", NULL, NULL, 0, NULL},
		{"alpine:3.18", "docker.io", "library/alpine", "3.18", NULL, 0, NULL},
		{"team/app", "docker.io", "team/app", NULL, NULL, 0, NULL},
		{"docker.io/alpine", "docker.io", "library/alpine", NULL, NULL, 0, NULL},
		{"docker.io/library/alpine:latest", "docker.io", "library/alpine", "latest", NULL,
		 0, NULL},
		{"index.docker.io/team/app:v1", "docker.io", "team/app", "v1", NULL, 0, NULL},
		{"index.docker.io/app", "docker.io", "library/app", NULL, NULL, 0, NULL},
		{"example.com", "docker.io", "library/example.com", NULL, NULL, 0, NULL},
		/* "host:port" alone is a Docker Hub name with a tag, as docker reads it */
		{"localhost:5000", "docker.io", "library/localhost", "5000", NULL, 0, NULL},
		/* what other tools write: skopeo's transport, a URL (dropped, with a note) */
		{"docker://127.0.0.1:5000/a:v1", "127.0.0.1:5000", "a", "v1", NULL, 0, NULL},
		{"https://registry.example.com/team/app", "registry.example.com", "team/app", NULL,
		 NULL, 0, NULL},
		{"http://localhost:5000/a", "localhost:5000", "a", NULL, NULL, 0, NULL},
		/* registries */
		{"localhost/app", "localhost", "app", NULL, NULL, 0, NULL},
		{"localhost:5000/a/b:v1", "localhost:5000", "a/b", "v1", NULL, 0, NULL},
		{"127.0.0.1:5000/a/b:v1", "127.0.0.1:5000", "a/b", "v1", NULL, 0, NULL},
		{"[::1]:5000/app:1", "[::1]:5000", "app", "1", NULL, 0, NULL},
		{"[2001:db8::1]/team/app", "[2001:db8::1]", "team/app", NULL, NULL, 0, NULL},
		{"[::ffff:10.0.0.1]:65535/a", "[::ffff:10.0.0.1]:65535", "a", NULL, NULL, 0, NULL},
		{"registry.example.com/team/sub/app", "registry.example.com", "team/sub/app", NULL,
		 NULL, 0, NULL},
		{"my-registry.example.com:443/a", "my-registry.example.com:443", "a", NULL, NULL, 0,
		 NULL},
		{"Example.COM/app", "Example.COM", "app", NULL, NULL, 0, NULL},
		{"localhost:1/a", "localhost:1", "a", NULL, NULL, 0, NULL},
		/* digests */
		{"alpine@" DG, "docker.io", "library/alpine", NULL, DG, 0, NULL},
		{"localhost:5000/app:v1@" DG, "localhost:5000", "app", "v1", DG, 0, NULL},
		/* path separators: ".", "_", "__", any run of "-" */
		{"a/b__c/d.e/f-g/h---i/j_k", "docker.io", "a/b__c/d.e/f-g/h---i/j_k", NULL, NULL, 0,
		 NULL},
		{"1/2/3", "docker.io", "1/2/3", NULL, NULL, 0, NULL},
		/* tags */
		{"app:_x", "docker.io", "library/app", "_x", NULL, 0, NULL},
		{"app:V1.0-RC_1", "docker.io", "library/app", "V1.0-RC_1", NULL, 0, NULL},
		{"app:" T128, "docker.io", "library/app", T128, NULL, 0, NULL},
	};

	(void)state;
	run_cases(c, sizeof(c) / sizeof(c[0]), cairn_ref_parse);
}

static void test_ref_parse_invalid(void **state)
{
	static const struct ref_case c[] = {
		{"", NULL, NULL, NULL, NULL, CAIRN_EINVAL, "invalid reference '': empty name"},
		{"Bad/Upper", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'Bad/Upper': repository name must be lowercase"},
		{"docker.io/Alpine", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'docker.io/Alpine': repository name must be lowercase"},
		{"LOCALHOST/app", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'LOCALHOST/app': repository name must be lowercase"},
		{"app:", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'app:': empty tag"},
		{"app:" T128 "x", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'app:" X10 X10 X10 X10 X10 X10 X10 X10 X10
		 "xxxxxx...': tag longer than 128 bytes"},
		{"app:.tag", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'app:.tag': tag must not start with '.'"},
		{"app:-tag", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'app:-tag': tag must not start with '-'"},
		{"app:ta!g", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'app:ta!g': invalid character '!' in tag"},
		{"app:1:2", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'app:1:2': invalid character ':' in tag"},
		{"a//b", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'a//b': empty path component"},
		{"a/b/", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'a/b/': empty path component"},
		{"/a", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference '/a': empty path component"},
		{"localhost:5000/", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'localhost:5000/': empty path component"},
		{"app@", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'app@': missing digest after '@'"},
		{"app:v1@", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'app:v1@': missing digest after '@'"},
		{"@" DG, NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference '@" DG "': missing repository name"},
		{"app@sha256:abc", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'app@sha256:abc': invalid digest 'sha256:abc': want 64 hex digits"},
		{"app@md5:d41d8cd98f00b204e9800998ecf8427e", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'app@md5:d41d8cd98f00b204e9800998ecf8427e': invalid digest "
		 "'md5:d41d8cd98f00b204e9800998ecf8427e': unsupported algorithm"},
		{"app@" DG "@" DG, NULL, NULL, NULL, NULL, CAIRN_EINVAL, NULL},
		{"localhost:99999/app", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'localhost:99999/app': port out of range"},
		{"localhost:65536/app", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'localhost:65536/app': port out of range"},
		{"localhost:0/app", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'localhost:0/app': port out of range"},
		{"localhost:/app", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'localhost:/app': empty port"},
		{"localhost:50a/app", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'localhost:50a/app': invalid port '50a'"},
		{"[::1/app", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference '[::1/app': invalid IPv6 address in '[::1'"},
		{"[zz::1]:5000/app", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference '[zz::1]:5000/app': invalid IPv6 address 'zz::1'"},
		{"[::1]x/app", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference '[::1]x/app': invalid domain '[::1]x'"},
		{"[]:80/app", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference '[]:80/app': invalid IPv6 address in '[]:80'"},
		{"-bad.example.com/app", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference '-bad.example.com/app': invalid host '-bad.example.com'"},
		{"a..example.com/app", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'a..example.com/app': invalid host 'a..example.com'"},
		{"ex_ample.com/app", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'ex_ample.com/app': invalid host 'ex_ample.com'"},
		{"a..b", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'a..b': invalid separator '..' in path component 'a..b'"},
		{"a___b", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'a___b': invalid separator '___' in path component 'a___b'"},
		{"a._b", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'a._b': invalid separator '._' in path component 'a._b'"},
		{"a/-b", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'a/-b': path component '-b' must start with a letter or digit"},
		{"a-/b", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'a-/b': path component 'a-' must end with a letter or digit"},
		{"a b", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'a b': invalid character ' ' in path"},
		{"caf\xc3\xa9", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'caf\xc3\xa9': invalid character '\\xc3' in path"},
		{"a\tb", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'a\tb': invalid character '\\x09' in path"},
		{"a/b:c/d", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference 'a/b:c/d': invalid character ':' in path"},
		/* 18 + 238 bytes: one past the limit after normalisation */
		{X100 X100 X10 X10 X10 "xxxxxxxx", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid reference '" X100 "...': repository name longer than 255 bytes"},
	};

	(void)state;
	run_cases(c, sizeof(c) / sizeof(c[0]), cairn_ref_parse);
}

/* The name limit (255) counts the normalised name: "docker.io/library/" + 237 bytes fits. */
static void test_ref_name_limit(void **state)
{
	static const struct ref_case c[] = {
		{X100 X100 X10 X10 X10 "xxxxxxx", "docker.io",
		 "library/" X100 X100 X10 X10 X10 "xxxxxxx", NULL, NULL, 0, NULL},
		{"localhost/" X100 X100 X10 X10 X10 X10 "xxxxx", "localhost",
		 X100 X100 X10 X10 X10 X10 "xxxxx", NULL, NULL, 0, NULL},
		{"localhost/" X100 X100 X10 X10 X10 X10 "xxxxxx", NULL, NULL, NULL, NULL,
		 CAIRN_EINVAL, NULL},
	};

	(void)state;
	run_cases(c, sizeof(c) / sizeof(c[0]), cairn_ref_parse);
}

static void test_repo_parse(void **state)
{
	static const struct ref_case c[] = {
		{"localhost:5000/app", "localhost:5000", "app", NULL, NULL, 0, NULL},
		{"alpine", "docker.io", "library/alpine", NULL, NULL, 0, NULL},
		{"127.0.0.1:5400/team/app", "127.0.0.1:5400", "team/app", NULL, NULL, 0, NULL},
		{"app:1", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid repository 'app:1': a repository takes no tag"},
		{"app@" DG, NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid repository 'app@" DG "': a repository takes no digest"},
		{"localhost:5000", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid repository 'localhost:5000': missing repository path after the registry"},
		{"Bad", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid repository 'Bad': repository name must be lowercase"},
		{"", NULL, NULL, NULL, NULL, CAIRN_EINVAL, "invalid repository '': empty name"},
		{"localhost:5000/app/", NULL, NULL, NULL, NULL, CAIRN_EINVAL,
		 "invalid repository 'localhost:5000/app/': empty path component"},
	};

	(void)state;
	run_cases(c, sizeof(c) / sizeof(c[0]), cairn_repo_parse);
}

static void test_ref_format(void **state)
{
	static const struct {
		const char *in, *out, *api;
	} c[] = {
		{"alpine", "docker.io/library/alpine", "registry-1.docker.io"},
		{"index.docker.io/team/app:v1", "docker.io/team/app:v1", "registry-1.docker.io"},
		{"localhost:5000/a/b:v1@" DG, "localhost:5000/a/b:v1@" DG, "localhost:5000"},
		{"[::1]:5000/app@" DG, "[::1]:5000/app@" DG, "[::1]:5000"},
		{"quay.io/org/app:1", "quay.io/org/app:1", "quay.io"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct cairn_ref r = CAIRN_REF_INIT, again = CAIRN_REF_INIT;
		char *s, *s2;

		assert_int_equal(cairn_ref_parse(&r, c[i].in, NULL), 0);
		s = cairn_ref_format(&r);
		assert_string_equal(s, c[i].out);
		assert_string_equal(cairn_ref_api_host(&r), c[i].api);
		/* the formatted form is a fixed point */
		assert_int_equal(cairn_ref_parse(&again, s, NULL), 0);
		s2 = cairn_ref_format(&again);
		assert_string_equal(s, s2);
		free(s);
		free(s2);
		cairn_ref_release(&r);
		cairn_ref_release(&again);
	}
}

static void test_ref_release(void **state)
{
	struct cairn_ref r = CAIRN_REF_INIT;

	(void)state;
	cairn_ref_release(&r);
	cairn_ref_release(NULL);
	assert_int_equal(cairn_ref_parse(&r, "a:b@" DG, NULL), 0);
	cairn_ref_release(&r);
	check_null_ref(&r);
	cairn_ref_release(&r);
	/* a NULL err discards the error but the code is still returned */
	assert_int_equal(cairn_ref_parse(&r, "A", NULL), CAIRN_EINVAL);
	check_null_ref(&r);
}

static void test_tag_validate(void **state)
{
	static const struct {
		const char *tag;
		size_t len;
		int ret;
		const char *msg;
	} c[] = {
		{"latest", 6, 0, NULL},
		{"_", 1, 0, NULL},
		{"v1.0-rc_2", 9, 0, NULL},
		{T128, 128, 0, NULL},
		{"a:b", 1, 0, NULL}, /* only `len` bytes count */
		{"", 0, CAIRN_EINVAL, "invalid tag '': empty tag"},
		{T128 "x", 129, CAIRN_EINVAL,
		 "invalid tag '" X100 "...': tag longer than 128 bytes"},
		{".x", 2, CAIRN_EINVAL, "invalid tag '.x': tag must not start with '.'"},
		{"-x", 2, CAIRN_EINVAL, "invalid tag '-x': tag must not start with '-'"},
		{"a/b", 3, CAIRN_EINVAL, "invalid tag 'a/b': invalid character '/' in tag"},
		{"a\0b", 3, CAIRN_EINVAL, "invalid tag 'a': invalid character '\\x00' in tag"},
		{"caf\xc3\xa9", 5, CAIRN_EINVAL,
		 "invalid tag 'caf\xc3\xa9': invalid character '\\xc3' in tag"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct cairn_error *err = NULL;

		assert_int_equal(cairn_tag_validate(c[i].tag, c[i].len, &err), c[i].ret);
		if (c[i].ret == 0) {
			assert_null(err);
		} else {
			assert_non_null(err);
			assert_string_equal(err->msg, c[i].msg);
		}
		cairn_error_free(err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ref_parse_valid), cmocka_unit_test(test_ref_parse_invalid),
		cmocka_unit_test(test_ref_name_limit),	cmocka_unit_test(test_repo_parse),
		cmocka_unit_test(test_ref_format),	cmocka_unit_test(test_ref_release),
		cmocka_unit_test(test_tag_validate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
