/* SPDX-License-Identifier: MIT */
/* Unit tests for the tag options (spec section 5): slugs, schemes, CI variables, de-duplication. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/publish.h"
#include "cairn/slug.h"
#include "cairn/tags.h"

#define MAX_REQ 3
#define MAX_ENV 8
#define MAX_TAGS 4

#define COMMIT "0123456789abcdef0123456789abcdef01234567"
#define GL "GITLAB_CI=true"
#define TR "TRAVIS=true"
#define GH "GITHUB_ACTIONS=true"

#define R(o, v)                      \
	{                            \
		CAIRN_TAG_OPT_##o, v \
	}
#define CUSTOM CAIRN_TAG_SCHEME_CUSTOM
#define BRANCH CAIRN_TAG_SCHEME_GIT_BRANCH
#define GTAG CAIRN_TAG_SCHEME_GIT_TAG
#define GCOMMIT CAIRN_TAG_SCHEME_GIT_COMMIT
#define CI CAIRN_TAG_SCHEME_CI

/* The environment the fake getenv serves: "NAME=value" strings, NULL-terminated. */
static const char *const *fake_env;

static const char *fake_getenv(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; fake_env && fake_env[i]; i++)
		if (strncmp(fake_env[i], name, n) == 0 && fake_env[i][n] == '=')
			return fake_env[i] + n + 1;
	return NULL;
}

struct row {
	const char *name;
	size_t n_req;
	struct cairn_tag_request req[MAX_REQ];
	const char *env[MAX_ENV];
	const char *branch, *commit;
	int ret;
	const char *tags[MAX_TAGS]; /* expected, NULL-terminated */
	enum cairn_tag_scheme schemes[MAX_TAGS];
	const char *msg; /* expected error message */
};

static const struct row rows[] = {
	/* no option at all */
	{"none", 0, {{0}}, {NULL}, "main", COMMIT, 0, {"latest"}, {CUSTOM}, NULL},
	/* werf v1.1: the tag is each image's signature, put in at publish time */
	{"by stages signature",
	 2,
	 {R(TAG_BY_STAGES_SIGNATURE, NULL), R(TAG, "v1")},
	 {NULL},
	 NULL,
	 NULL,
	 0,
	 {"", "v1"},
	 {CAIRN_TAG_SCHEME_STAGES_SIGNATURE, CUSTOM},
	 NULL},
	{"by stages signature with a value",
	 1,
	 {R(TAG_BY_STAGES_SIGNATURE, "x")},
	 {NULL},
	 NULL,
	 NULL,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "--tag-by-stages-signature takes no value"},
	/* --tag, --tag-slug, --tag-custom: docker-tag slug (spec vectors), scheme custom */
	{"tag valid", 1, {R(TAG, "v1.2")}, {NULL}, NULL, NULL, 0, {"v1.2"}, {CUSTOM}, NULL},
	{"tag 16.04", 1, {R(TAG, "16.04")}, {NULL}, NULL, NULL, 0, {"16.04"}, {CUSTOM}, NULL},
	{"tag slash",
	 1,
	 {R(TAG, "da/ta")},
	 {NULL},
	 NULL,
	 NULL,
	 0,
	 {"da-ta-afa96f8"},
	 {CUSTOM},
	 NULL},
	{"tag-slug",
	 1,
	 {R(TAG_SLUG, "helo/ehlo")},
	 {NULL},
	 NULL,
	 NULL,
	 0,
	 {"helo-ehlo-b6f6ab1f"},
	 {CUSTOM},
	 NULL},
	{"tag-custom",
	 1,
	 {R(TAG_CUSTOM, "-data")},
	 {NULL},
	 NULL,
	 NULL,
	 0,
	 {"data-a871d86e"},
	 {CUSTOM},
	 NULL},
	{"tag-custom valid",
	 1,
	 {R(TAG_CUSTOM, "_x.y-z")},
	 {NULL},
	 NULL,
	 NULL,
	 0,
	 {"_x.y-z"},
	 {CUSTOM},
	 NULL},
	{"tag empty",
	 1,
	 {R(TAG, "")},
	 {NULL},
	 NULL,
	 NULL,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "invalid --tag '': empty value"},
	{"tag-slug empty",
	 1,
	 {R(TAG_SLUG, "")},
	 {NULL},
	 NULL,
	 NULL,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "invalid --tag-slug '': empty value"},
	{"tag-custom empty",
	 1,
	 {R(TAG_CUSTOM, "")},
	 {NULL},
	 NULL,
	 NULL,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "invalid --tag-custom '': empty value"},
	{"tag missing value",
	 1,
	 {R(TAG, NULL)},
	 {NULL},
	 NULL,
	 NULL,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "--tag: missing value"},
	/* --tag-plain: as given, must be valid */
	{"plain valid", 1, {R(TAG_PLAIN, "v1.2")}, {NULL}, NULL, NULL, 0, {"v1.2"}, {CUSTOM}, NULL},
	{"plain underscore",
	 1,
	 {R(TAG_PLAIN, "_a")},
	 {NULL},
	 NULL,
	 NULL,
	 0,
	 {"_a"},
	 {CUSTOM},
	 NULL},
	{"plain dash",
	 1,
	 {R(TAG_PLAIN, "-bad")},
	 {NULL},
	 NULL,
	 NULL,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "invalid --tag-plain '-bad': tag must not start with '-'"},
	{"plain colon",
	 1,
	 {R(TAG_PLAIN, "a:b")},
	 {NULL},
	 NULL,
	 NULL,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "invalid --tag-plain 'a:b': invalid character ':' in tag"},
	{"plain slash",
	 1,
	 {R(TAG_PLAIN, "da/ta")},
	 {NULL},
	 NULL,
	 NULL,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "invalid --tag-plain 'da/ta': invalid character '/' in tag"},
	{"plain empty",
	 1,
	 {R(TAG_PLAIN, "")},
	 {NULL},
	 NULL,
	 NULL,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "invalid --tag-plain '': empty value"},
	/* --tag-branch: current branch */
	{"branch", 1, {R(TAG_BRANCH, NULL)}, {NULL}, "main", COMMIT, 0, {"main"}, {BRANCH}, NULL},
	{"branch slug",
	 1,
	 {R(TAG_BRANCH, NULL)},
	 {NULL},
	 "helo/ehlo",
	 COMMIT,
	 0,
	 {"helo-ehlo-b6f6ab1f"},
	 {BRANCH},
	 NULL},
	{"branch detached",
	 1,
	 {R(TAG_BRANCH, NULL)},
	 {NULL},
	 NULL,
	 COMMIT,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "--tag-branch: the project's git repository has a detached HEAD"},
	{"branch no repo",
	 1,
	 {R(TAG_BRANCH, NULL)},
	 {NULL},
	 NULL,
	 NULL,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "--tag-branch: the project's directory is not a git repository"},
	{"branch with value",
	 1,
	 {R(TAG_BRANCH, "x")},
	 {NULL},
	 "main",
	 COMMIT,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "--tag-branch takes no value"},
	/* --tag-git-branch, --tag-git-tag */
	{"git-branch",
	 1,
	 {R(TAG_GIT_BRANCH, "master")},
	 {NULL},
	 NULL,
	 NULL,
	 0,
	 {"master"},
	 {BRANCH},
	 NULL},
	{"git-branch slug",
	 1,
	 {R(TAG_GIT_BRANCH, "da/ta")},
	 {NULL},
	 NULL,
	 NULL,
	 0,
	 {"da-ta-afa96f8"},
	 {BRANCH},
	 NULL},
	{"git-branch empty",
	 1,
	 {R(TAG_GIT_BRANCH, "")},
	 {NULL},
	 NULL,
	 NULL,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "invalid --tag-git-branch '': empty value"},
	{"git-tag", 1, {R(TAG_GIT_TAG, "v1.0.0")}, {NULL}, NULL, NULL, 0, {"v1.0.0"}, {GTAG}, NULL},
	{"git-tag slug",
	 1,
	 {R(TAG_GIT_TAG, "-data")},
	 {NULL},
	 NULL,
	 NULL,
	 0,
	 {"data-a871d86e"},
	 {GTAG},
	 NULL},
	{"git-tag empty",
	 1,
	 {R(TAG_GIT_TAG, "")},
	 {NULL},
	 NULL,
	 NULL,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "invalid --tag-git-tag '': empty value"},
	/* --tag-commit, --tag-git-commit */
	{"commit", 1, {R(TAG_COMMIT, NULL)}, {NULL}, NULL, COMMIT, 0, {COMMIT}, {GCOMMIT}, NULL},
	{"commit no repo",
	 1,
	 {R(TAG_COMMIT, NULL)},
	 {NULL},
	 NULL,
	 NULL,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "--tag-commit: the project's directory is not a git repository"},
	{"commit bad",
	 1,
	 {R(TAG_COMMIT, NULL)},
	 {NULL},
	 "main",
	 "abc",
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "--tag-commit: invalid HEAD commit 'abc'"},
	{"git-commit",
	 1,
	 {R(TAG_GIT_COMMIT, "abc123")},
	 {NULL},
	 NULL,
	 NULL,
	 0,
	 {"abc123"},
	 {GCOMMIT},
	 NULL},
	{"git-commit invalid",
	 1,
	 {R(TAG_GIT_COMMIT, "a:b")},
	 {NULL},
	 NULL,
	 NULL,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "invalid --tag-git-commit 'a:b': invalid character ':' in tag"},
	{"git-commit empty",
	 1,
	 {R(TAG_GIT_COMMIT, "")},
	 {NULL},
	 NULL,
	 NULL,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "invalid --tag-git-commit '': empty value"},
	/* --tag-build-id */
	{"build-id gitlab old",
	 1,
	 {R(TAG_BUILD_ID, NULL)},
	 {GL, "CI_BUILD_ID=100", "CI_JOB_ID=200"},
	 NULL,
	 NULL,
	 0,
	 {"100"},
	 {CI},
	 NULL},
	{"build-id gitlab job",
	 1,
	 {R(TAG_BUILD_ID, NULL)},
	 {GL, "CI_JOB_ID=200"},
	 NULL,
	 NULL,
	 0,
	 {"200"},
	 {CI},
	 NULL},
	{"build-id gitlab empty old",
	 1,
	 {R(TAG_BUILD_ID, NULL)},
	 {GL, "CI_BUILD_ID=", "CI_JOB_ID=7"},
	 NULL,
	 NULL,
	 0,
	 {"7"},
	 {CI},
	 NULL},
	{"build-id gitlab none",
	 1,
	 {R(TAG_BUILD_ID, NULL)},
	 {GL, "CI_JOB_ID="},
	 NULL,
	 NULL,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "--tag-build-id: CI environment required"},
	{"build-id gitlab empty flag",
	 1,
	 {R(TAG_BUILD_ID, NULL)},
	 {"GITLAB_CI=", "CI_JOB_ID=9"},
	 NULL,
	 NULL,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "--tag-build-id: CI environment required"},
	{"build-id travis",
	 1,
	 {R(TAG_BUILD_ID, NULL)},
	 {TR, "TRAVIS_BUILD_NUMBER=42"},
	 NULL,
	 NULL,
	 0,
	 {"42"},
	 {CI},
	 NULL},
	{"build-id travis empty",
	 1,
	 {R(TAG_BUILD_ID, NULL)},
	 {TR, "TRAVIS_BUILD_NUMBER="},
	 NULL,
	 NULL,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "--tag-build-id: CI environment required"},
	{"build-id github",
	 1,
	 {R(TAG_BUILD_ID, NULL)},
	 {GH, "GITHUB_RUN_ID=1234567"},
	 NULL,
	 NULL,
	 0,
	 {"1234567"},
	 {CI},
	 NULL},
	{"build-id github empty",
	 1,
	 {R(TAG_BUILD_ID, NULL)},
	 {GH, "GITHUB_RUN_ID="},
	 NULL,
	 NULL,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "--tag-build-id: CI environment required"},
	{"build-id no ci",
	 1,
	 {R(TAG_BUILD_ID, NULL)},
	 {"CI_JOB_ID=1", "GITHUB_RUN_ID=2"},
	 NULL,
	 NULL,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "--tag-build-id: CI environment required"},
	{"build-id odd value",
	 1,
	 {R(TAG_BUILD_ID, NULL)},
	 {GH, "GITHUB_RUN_ID=1/2"},
	 NULL,
	 NULL,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "invalid --tag-build-id '1/2': invalid character '/' in tag"},
	/* --tag-ci */
	{"ci gitlab tag",
	 1,
	 {R(TAG_CI, NULL)},
	 {GL, "CI_COMMIT_TAG=v1.0", "CI_COMMIT_REF_NAME=v1.0"},
	 NULL,
	 NULL,
	 0,
	 {"v1.0"},
	 {GTAG},
	 NULL},
	{"ci gitlab old tag",
	 1,
	 {R(TAG_CI, NULL)},
	 {GL, "CI_BUILD_TAG=v2", "CI_BUILD_REF_NAME=v2"},
	 NULL,
	 NULL,
	 0,
	 {"v2"},
	 {GTAG},
	 NULL},
	{"ci gitlab branch",
	 1,
	 {R(TAG_CI, NULL)},
	 {GL, "CI_COMMIT_TAG=", "CI_COMMIT_REF_NAME=helo/ehlo"},
	 NULL,
	 NULL,
	 0,
	 {"helo-ehlo-b6f6ab1f"},
	 {BRANCH},
	 NULL},
	{"ci gitlab old branch",
	 1,
	 {R(TAG_CI, NULL)},
	 {GL, "CI_BUILD_REF_NAME=main"},
	 NULL,
	 NULL,
	 0,
	 {"main"},
	 {BRANCH},
	 NULL},
	{"ci gitlab none",
	 1,
	 {R(TAG_CI, NULL)},
	 {GL, "CI_COMMIT_TAG=", "CI_COMMIT_REF_NAME="},
	 NULL,
	 NULL,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "--tag-ci: CI environment required"},
	{"ci travis tag",
	 1,
	 {R(TAG_CI, NULL)},
	 {TR, "TRAVIS_TAG=v3", "TRAVIS_BRANCH=v3"},
	 NULL,
	 NULL,
	 0,
	 {"v3"},
	 {GTAG},
	 NULL},
	{"ci travis branch",
	 1,
	 {R(TAG_CI, NULL)},
	 {TR, "TRAVIS_TAG=", "TRAVIS_BRANCH=da/ta"},
	 NULL,
	 NULL,
	 0,
	 {"da-ta-afa96f8"},
	 {BRANCH},
	 NULL},
	{"ci travis none",
	 1,
	 {R(TAG_CI, NULL)},
	 {TR, "TRAVIS_TAG=", "TRAVIS_BRANCH="},
	 NULL,
	 NULL,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "--tag-ci: CI environment required"},
	{"ci github tag",
	 1,
	 {R(TAG_CI, NULL)},
	 {GH, "GITHUB_REF_NAME=v4", "GITHUB_REF_TYPE=tag"},
	 NULL,
	 NULL,
	 0,
	 {"v4"},
	 {GTAG},
	 NULL},
	{"ci github branch",
	 1,
	 {R(TAG_CI, NULL)},
	 {GH, "GITHUB_REF_NAME=-data", "GITHUB_REF_TYPE=branch"},
	 NULL,
	 NULL,
	 0,
	 {"data-a871d86e"},
	 {BRANCH},
	 NULL},
	{"ci github no type",
	 1,
	 {R(TAG_CI, NULL)},
	 {GH, "GITHUB_REF_NAME=main"},
	 NULL,
	 NULL,
	 0,
	 {"main"},
	 {BRANCH},
	 NULL},
	{"ci github empty",
	 1,
	 {R(TAG_CI, NULL)},
	 {GH, "GITHUB_REF_NAME=", "GITHUB_REF_TYPE=tag"},
	 NULL,
	 NULL,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "--tag-ci: CI environment required"},
	{"ci no ci",
	 1,
	 {R(TAG_CI, NULL)},
	 {"TRAVIS_TAG=v1", "GITHUB_REF_NAME=main"},
	 NULL,
	 NULL,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "--tag-ci: CI environment required"},
	{"ci gitlab before github",
	 1,
	 {R(TAG_CI, NULL)},
	 {GH, "GITHUB_REF_NAME=gh", GL, "CI_COMMIT_REF_NAME=gl"},
	 NULL,
	 NULL,
	 0,
	 {"gl"},
	 {BRANCH},
	 NULL},
	/* combinations: order kept, duplicates removed keeping the first */
	{"dup tag plain",
	 2,
	 {R(TAG, "a"), R(TAG_PLAIN, "a")},
	 {NULL},
	 NULL,
	 NULL,
	 0,
	 {"a"},
	 {CUSTOM},
	 NULL},
	{"dup keeps first scheme",
	 2,
	 {R(TAG_GIT_BRANCH, "main"), R(TAG, "main")},
	 {NULL},
	 NULL,
	 NULL,
	 0,
	 {"main"},
	 {BRANCH},
	 NULL},
	{"dup order",
	 3,
	 {R(TAG, "b"), R(TAG, "a"), R(TAG, "b")},
	 {NULL},
	 NULL,
	 NULL,
	 0,
	 {"b", "a"},
	 {CUSTOM, CUSTOM},
	 NULL},
	{"dup after slug",
	 2,
	 {R(TAG, "da/ta"), R(TAG_GIT_TAG, "da-ta-afa96f8")},
	 {NULL},
	 NULL,
	 NULL,
	 0,
	 {"da-ta-afa96f8"},
	 {CUSTOM},
	 NULL},
	{"dup branch",
	 2,
	 {R(TAG_BRANCH, NULL), R(TAG_CI, NULL)},
	 {GL, "CI_COMMIT_REF_NAME=main"},
	 "main",
	 COMMIT,
	 0,
	 {"main"},
	 {BRANCH},
	 NULL},
	{"mixed",
	 3,
	 {R(TAG_COMMIT, NULL), R(TAG_BUILD_ID, NULL), R(TAG_PLAIN, "x")},
	 {GH, "GITHUB_RUN_ID=5"},
	 "main",
	 COMMIT,
	 0,
	 {COMMIT, "5", "x"},
	 {GCOMMIT, CI, CUSTOM},
	 NULL},
	{"error in second",
	 2,
	 {R(TAG, "a"), R(TAG_PLAIN, "-bad")},
	 {NULL},
	 NULL,
	 NULL,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "invalid --tag-plain '-bad': tag must not start with '-'"},
	{"error after dup",
	 3,
	 {R(TAG, "a"), R(TAG, "a"), R(TAG_BRANCH, NULL)},
	 {NULL},
	 NULL,
	 COMMIT,
	 CAIRN_EINVAL,
	 {NULL},
	 {0},
	 "--tag-branch: the project's git repository has a detached HEAD"},
};

static void test_resolve_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *c = &rows[i];
		struct cairn_tag_context ctx = {c->branch, c->commit, fake_getenv};
		struct cairn_tag *tags = (struct cairn_tag *)&ctx; /* must be reset */
		struct cairn_error *err = NULL;
		size_t n = 99, want = 0;
		int ret;

		fake_env = c->env;
		ret = cairn_tags_resolve(&tags, &n, c->req, c->n_req, &ctx, &err);
		if (ret != c->ret)
			fail_msg("row %zu '%s': ret %d, want %d (%s)", i, c->name, ret, c->ret,
				 err ? err->msg : "no error");
		if (ret < 0) {
			assert_null(tags);
			assert_int_equal(n, 0);
			assert_non_null(err);
			assert_int_equal(err->code, c->ret);
			if (strcmp(err->msg, c->msg) != 0)
				fail_msg("row %zu '%s': message '%s', want '%s'", i, c->name,
					 err->msg, c->msg);
			cairn_error_free(err);
			continue;
		}
		assert_null(err);
		while (want < MAX_TAGS && c->tags[want])
			want++;
		if (n != want)
			fail_msg("row %zu '%s': %zu tags, want %zu", i, c->name, n, want);
		for (size_t j = 0; j < n; j++) {
			if (strcmp(tags[j].tag, c->tags[j]) != 0)
				fail_msg("row %zu '%s': tag %zu '%s', want '%s'", i, c->name, j,
					 tags[j].tag, c->tags[j]);
			if (tags[j].scheme != c->schemes[j])
				fail_msg("row %zu '%s': tag %zu scheme %s, want %s", i, c->name, j,
					 cairn_tag_scheme_name(tags[j].scheme),
					 cairn_tag_scheme_name(c->schemes[j]));
		}
		cairn_tags_free(tags, n);
	}
	fake_env = NULL;
}

static char *repeat(char ch, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, ch, n);
	s[n] = '\0';
	return s;
}

/* --tag "feature/x" → "feature-x-<murmur3 of the original>"; long values crop to 128 bytes. */
static void test_slug_hash(void **state)
{
	static const char *const in[] = {"feature/x", "Feature/X", "a b&c"};
	static const char *const prefix[] = {"feature-x", "feature-x", "a-b-c"};
	struct cairn_tag_context ctx = {NULL, NULL, fake_getenv};
	char *x200 = repeat('x', 200);
	struct cairn_tag *tags = NULL;
	size_t n = 0;
	char want[160];

	(void)state;
	fake_env = NULL;
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		struct cairn_tag_request r = {CAIRN_TAG_OPT_TAG, in[i]};

		assert_int_equal(cairn_tags_resolve(&tags, &n, &r, 1, &ctx, NULL), 0);
		assert_int_equal(n, 1);
		snprintf(want, sizeof(want), "%s-%x", prefix[i],
			 cairn_murmur3_32(in[i], strlen(in[i]), 0));
		assert_string_equal(tags[0].tag, want);
		assert_int_equal(tags[0].scheme, CAIRN_TAG_SCHEME_CUSTOM);
		cairn_tags_free(tags, n);
	}
	{
		struct cairn_tag_request r = {CAIRN_TAG_OPT_TAG_GIT_BRANCH, x200};

		assert_int_equal(cairn_tags_resolve(&tags, &n, &r, 1, &ctx, NULL), 0);
		assert_true(strlen(tags[0].tag) <= 128);
		assert_int_equal(tags[0].scheme, CAIRN_TAG_SCHEME_GIT_BRANCH);
		cairn_tags_free(tags, n);
	}
	free(x200);
}

/* --tag-plain takes 128 bytes and refuses 129, with the value cropped in the message. */
static void test_plain_length(void **state)
{
	char *x128 = repeat('x', 128), *x129 = repeat('x', 129);
	struct cairn_tag_request ok = {CAIRN_TAG_OPT_TAG_PLAIN, x128};
	struct cairn_tag_request bad = {CAIRN_TAG_OPT_TAG_PLAIN, x129};
	struct cairn_tag_context ctx = {NULL, NULL, fake_getenv};
	struct cairn_tag *tags = NULL;
	struct cairn_error *err = NULL;
	size_t n = 0;
	char *want = NULL;

	(void)state;
	assert_int_equal(cairn_tags_resolve(&tags, &n, &ok, 1, &ctx, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(tags[0].tag, x128);
	cairn_tags_free(tags, n);

	assert_int_equal(cairn_tags_resolve(&tags, &n, &bad, 1, &ctx, &err), CAIRN_EINVAL);
	assert_null(tags);
	assert_true(asprintf(&want, "invalid --tag-plain '%.100s...': tag longer than 128 bytes",
			     x129) > 0);
	assert_string_equal(err->msg, want);
	cairn_error_free(err);
	err = NULL;

	bad.option = CAIRN_TAG_OPT_TAG_GIT_COMMIT;
	assert_int_equal(cairn_tags_resolve(&tags, &n, &bad, 1, &ctx, &err), CAIRN_EINVAL);
	assert_non_null(strstr(err->msg, "invalid --tag-git-commit '"));
	cairn_error_free(err);
	free(want);
	free(x128);
	free(x129);
}

/* A NULL context means no repository and the real getenv. */
static void test_null_context(void **state)
{
	struct cairn_tag_request commit = {CAIRN_TAG_OPT_TAG_COMMIT, NULL};
	struct cairn_tag_request build = {CAIRN_TAG_OPT_TAG_BUILD_ID, NULL};
	struct cairn_tag *tags = NULL;
	struct cairn_error *err = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(cairn_tags_resolve(&tags, &n, NULL, 0, NULL, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(tags[0].tag, "latest");
	cairn_tags_free(tags, n);

	assert_int_equal(cairn_tags_resolve(&tags, &n, &commit, 1, NULL, &err), CAIRN_EINVAL);
	cairn_error_clear(&err);

	unsetenv("GITLAB_CI");
	unsetenv("TRAVIS");
	setenv("GITHUB_ACTIONS", "true", 1);
	setenv("GITHUB_RUN_ID", "777", 1);
	assert_int_equal(cairn_tags_resolve(&tags, &n, &build, 1, NULL, &err), 0);
	assert_string_equal(tags[0].tag, "777");
	assert_int_equal(tags[0].scheme, CAIRN_TAG_SCHEME_CI);
	cairn_tags_free(tags, n);
	cairn_tags_free(NULL, 0);
}

static void test_option_parse(void **state)
{
	static const struct {
		const char *name;
		enum cairn_tag_option opt;
		int takes_value;
	} c[] = {
		{"tag", CAIRN_TAG_OPT_TAG, 1},
		{"tag-slug", CAIRN_TAG_OPT_TAG_SLUG, 1},
		{"tag-custom", CAIRN_TAG_OPT_TAG_CUSTOM, 1},
		{"tag-plain", CAIRN_TAG_OPT_TAG_PLAIN, 1},
		{"tag-branch", CAIRN_TAG_OPT_TAG_BRANCH, 0},
		{"tag-git-branch", CAIRN_TAG_OPT_TAG_GIT_BRANCH, 1},
		{"tag-git-tag", CAIRN_TAG_OPT_TAG_GIT_TAG, 1},
		{"tag-commit", CAIRN_TAG_OPT_TAG_COMMIT, 0},
		{"tag-git-commit", CAIRN_TAG_OPT_TAG_GIT_COMMIT, 1},
		{"tag-build-id", CAIRN_TAG_OPT_TAG_BUILD_ID, 0},
		{"tag-ci", CAIRN_TAG_OPT_TAG_CI, 0},
	};
	static const char *const bad[] = {"", "--tag", "tags", "tag-", "Tag", "tag-git", "repo"};
	enum cairn_tag_option opt;
	int tv;

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		opt = CAIRN_TAG_OPT_TAG_CI;
		tv = -1;
		assert_int_equal(cairn_tag_option_parse(&opt, &tv, c[i].name), 0);
		assert_int_equal(opt, c[i].opt);
		assert_int_equal(tv, c[i].takes_value);
	}
	assert_int_equal(cairn_tag_option_parse(&opt, NULL, "tag-ci"), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cairn_tag_option_parse(&opt, &tv, bad[i]), CAIRN_ENOTFOUND);
}

static void test_scheme_names(void **state)
{
	(void)state;
	assert_string_equal(cairn_tag_scheme_name(CAIRN_TAG_SCHEME_CUSTOM), "custom");
	assert_string_equal(cairn_tag_scheme_name(CAIRN_TAG_SCHEME_GIT_BRANCH), "git_branch");
	assert_string_equal(cairn_tag_scheme_name(CAIRN_TAG_SCHEME_GIT_TAG), "git_tag");
	assert_string_equal(cairn_tag_scheme_name(CAIRN_TAG_SCHEME_GIT_COMMIT), "git_commit");
	assert_string_equal(cairn_tag_scheme_name(CAIRN_TAG_SCHEME_CI), "ci");
	assert_string_equal(cairn_tag_scheme_name(CAIRN_TAG_SCHEME_STAGES_SIGNATURE),
			    "stages_signature");
	assert_string_equal(cairn_tag_scheme_name((enum cairn_tag_scheme)42), "unknown");
}

/* --images-repo-mode and werf's auto rule (ResolveRepoMode in werf v1.1's pkg/docker_registry). */
static void test_repo_mode(void **state)
{
	static const struct {
		const char *repo, *mode, *impl;
		int ret;
		enum cairn_repo_mode want;
	} modes[] = {
		{"127.0.0.1:5000/team/app", NULL, NULL, 0, CAIRN_REPO_MULTIREPO},
		{"127.0.0.1:5000/team/app", "auto", NULL, 0, CAIRN_REPO_MULTIREPO},
		{"127.0.0.1:5000/team/app", "monorepo", NULL, 0, CAIRN_REPO_MONOREPO},
		{"docker.io/acct/app", NULL, NULL, 0, CAIRN_REPO_MONOREPO},
		{"acct/app", "", NULL, 0, CAIRN_REPO_MONOREPO},
		{"docker.io/acct", NULL, NULL, 0, CAIRN_REPO_MULTIREPO},
		{"docker.io/acct/app", "multirepo", NULL, 0, CAIRN_REPO_MULTIREPO},
		{"quay.io/ns/app", NULL, NULL, 0, CAIRN_REPO_MONOREPO},
		{"quay.io/ns", NULL, NULL, 0, CAIRN_REPO_MULTIREPO},
		{"docker.pkg.github.com/o/p", NULL, NULL, 0, CAIRN_REPO_MULTIREPO},
		{"docker.pkg.github.com/o/p/pkg", NULL, NULL, 0, CAIRN_REPO_MONOREPO},
		{"127.0.0.1:5000/a/b", NULL, "dockerhub", 0, CAIRN_REPO_MONOREPO},
		{"127.0.0.1:5000/a/b", NULL, "harbor", 0, CAIRN_REPO_MULTIREPO},
		{"127.0.0.1:5000/a/b", "mono", NULL, CAIRN_EINVAL, CAIRN_REPO_MULTIREPO},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct cairn_ref ref = CAIRN_REF_INIT;
		struct cairn_error *err = NULL;
		enum cairn_repo_mode got = CAIRN_REPO_MONOREPO;
		int ret;

		assert_int_equal(cairn_repo_parse(&ref, modes[i].repo, NULL), 0);
		ret = cairn_repo_mode_resolve(&got, modes[i].mode, modes[i].impl, &ref, &err);
		if (ret != modes[i].ret || (ret == 0 && got != modes[i].want))
			fail_msg("%s mode %s impl %s: ret %d mode %d", modes[i].repo,
				 modes[i].mode ? modes[i].mode : "(null)",
				 modes[i].impl ? modes[i].impl : "(null)", ret, (int)got);
		if (ret < 0)
			assert_non_null(strstr(err->msg, "invalid images repo mode 'mono'"));
		cairn_error_free(err);
		cairn_ref_release(&ref);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve_table), cmocka_unit_test(test_slug_hash),
		cmocka_unit_test(test_plain_length),  cmocka_unit_test(test_null_context),
		cmocka_unit_test(test_option_parse),  cmocka_unit_test(test_scheme_names),
		cmocka_unit_test(test_repo_mode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
