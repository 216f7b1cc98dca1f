/* SPDX-License-Identifier: MIT */
/* Unit tests for ci-env: quoting, werf's variables per CI system, the job's docker config. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cairn/ci_env.h"
#include "ci/ci.h"
#include "util/buf.h"
#include "util/fs.h"

#define MAX_ENV 16
#define TOKEN "glcbt-s3cr3t-t0ken"
/* base64("gitlab-ci-token:" TOKEN) */
#define TOKEN_AUTH "Z2l0bGFiLWNpLXRva2VuOmdsY2J0LXMzY3IzdC10MGtlbg=="

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

static char *line(enum cairn_ci_shell shell, const char *name, const char *value, int *ret,
		  struct cairn_error **err)
{
	struct cairn_buf b = CAIRN_BUF_INIT;

	*ret = cairn_ci_env_line(&b, shell, name, value, err);
	return cairn_buf_detach(&b, NULL);
}

static void test_quote(void **state)
{
	static const struct {
		enum cairn_ci_shell shell;
		const char *value, *want;
	} c[] = {
		{CAIRN_CI_SHELL_SH, "", "export V=''\n"},
		{CAIRN_CI_SHELL_SH, "plain", "export V='plain'\n"},
		{CAIRN_CI_SHELL_SH, "a b", "export V='a b'\n"},
		{CAIRN_CI_SHELL_SH, "it's", "export V='it'\\''s'\n"},
		{CAIRN_CI_SHELL_SH, "''", "export V=''\\'''\\'''\n"},
		{CAIRN_CI_SHELL_SH, "$(touch x) `id` $HOME \\ \"q\"",
		 "export V='$(touch x) `id` $HOME \\ \"q\"'\n"},
		{CAIRN_CI_SHELL_SH, "one\ntwo\n", "export V='one\ntwo\n'\n"},
		{CAIRN_CI_SHELL_SH, "Ünï ‘x’", "export V='Ünï ‘x’'\n"},
		{CAIRN_CI_SHELL_POWERSHELL, "", "$Env:V = ''\n"},
		{CAIRN_CI_SHELL_POWERSHELL, "a b $x $(y) `n \"q\"",
		 "$Env:V = 'a b $x $(y) `n \"q\"'\n"},
		{CAIRN_CI_SHELL_POWERSHELL, "it's", "$Env:V = 'it''s'\n"},
		/* PowerShell's typographic single quotes end a string too */
		{CAIRN_CI_SHELL_POWERSHELL, "‘a’ ‚b‛", "$Env:V = '‘‘a’’ ‚‚b‛‛'\n"},
		{CAIRN_CI_SHELL_POWERSHELL, "“d”", "$Env:V = '“d”'\n"},
		{CAIRN_CI_SHELL_POWERSHELL, "l1\nl2", "$Env:V = 'l1\nl2'\n"},
		{CAIRN_CI_SHELL_POWERSHELL, "\xe2\x80", "$Env:V = '\xe2\x80'\n"},
		{CAIRN_CI_SHELL_ENV_FILE, "a b '$(x)'", "V=a b '$(x)'\n"},
		{CAIRN_CI_SHELL_ENV_FILE, "", "V=\n"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct cairn_error *err = NULL;
		int ret;
		char *got = line(c[i].shell, "V", c[i].value, &ret, &err);

		assert_int_equal(ret, 0);
		assert_null(err);
		assert_string_equal(got, c[i].want);
		free(got);
	}
}

static void test_env_file_line_break(void **state)
{
	static const char *const bad[] = {"a\nb", "a\rb", "\n"};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cairn_error *err = NULL;
		int ret;
		char *got = line(CAIRN_CI_SHELL_ENV_FILE, "WERF_ENV", bad[i], &ret, &err);

		assert_int_equal(ret, CAIRN_EINVAL);
		assert_non_null(strstr(err->msg, "'WERF_ENV'"));
		assert_non_null(strstr(err->msg, "no line break"));
		cairn_error_free(err);
		free(got);
	}
}

static void test_color_mode(void **state)
{
	static const struct {
		const char *version, *want;
	} c[] = {
		{NULL, "on"},
		{"", "on"},
		{"12.1.3", "on"},
		{"12.1.4", "off"},
		{"12.1.4-ee", "off"},
		{"v12.1.10", "off"},
		{"12.2.0", "on"},
		{"12.2.0-pre", "off"},
		{"12.1.3-rc1", "on"},
		{"12.1.3+b.1", "on"},
		{"12.1.5+build-2", "off"},
		{"12.1", "on"},
		{"12.2", "on"},
		{"13.0.0", "on"},
		{"11.11.11", "on"},
		{"garbage", "on"},
		{"12.1.4.5", "on"},
		{"12.1.4-", "on"},
		{"12.1.4-a..b", "on"},
		{"12..1", "on"},
		{"99999999999999999999.1", "on"},
		{"12.1.4+", "on"},
		{" 12.1.4", "on"},
		{"12.1.4-ee.1+x", "off"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		const char *got = cairn_ci_gitlab_color_mode(c[i].version);

		if (strcmp(got, c[i].want) != 0)
			fail_msg("CI_SERVER_VERSION '%s': %s, want %s", c[i].version, got,
				 c[i].want);
	}
}

static void test_parse(void **state)
{
	enum cairn_ci_system sys;
	enum cairn_ci_tagging tagging;
	enum cairn_ci_shell shell;
	struct cairn_error *err = NULL;

	(void)state;
	assert_int_equal(cairn_ci_system_parse(&sys, "github", &err), 0);
	assert_int_equal(sys, CAIRN_CI_GITHUB);
	assert_int_equal(cairn_ci_system_parse(&sys, "generic", &err), 0);
	assert_int_equal(sys, CAIRN_CI_GENERIC);
	assert_int_equal(cairn_ci_system_parse(&sys, "GitLab", &err), CAIRN_EUSAGE);
	assert_non_null(strstr(err->msg, "'GitLab'"));
	cairn_error_free(err);
	err = NULL;
	assert_int_equal(cairn_ci_tagging_parse(&tagging, "tag-or-branch", &err), 0);
	assert_int_equal(tagging, CAIRN_CI_TAG_OR_BRANCH);
	assert_int_equal(cairn_ci_tagging_parse(&tagging, "branch", &err), CAIRN_EUSAGE);
	cairn_error_free(err);
	err = NULL;
	assert_int_equal(cairn_ci_shell_parse(&shell, "", &err), 0);
	assert_int_equal(shell, CAIRN_CI_SHELL_SH);
	assert_int_equal(cairn_ci_shell_parse(&shell, "default", &err), 0);
	assert_int_equal(shell, CAIRN_CI_SHELL_SH);
	assert_int_equal(cairn_ci_shell_parse(&shell, "powershell", &err), 0);
	assert_int_equal(shell, CAIRN_CI_SHELL_POWERSHELL);
	assert_int_equal(cairn_ci_shell_parse(&shell, "cmdexe", &err), CAIRN_EUSAGE);
	assert_non_null(strstr(err->msg, "cmdexe"));
	cairn_error_free(err);
}

/* A temporary directory per test: HOME, TMPDIR and the project live in it. */
struct fx {
	char *dir;
	char *tmp;  /* the job's files go here */
	char *home; /* $HOME, with .docker/config.json when a test writes one */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char tmpl[] = "/tmp/cairn-test-ci-env-XXXXXX";

	if (!f || !mkdtemp(tmpl))
		return -1;
	f->dir = strdup(tmpl);
	if (asprintf(&f->tmp, "%s/tmp", f->dir) < 0 || asprintf(&f->home, "%s/home", f->dir) < 0)
		return -1;
	if (mkdir(f->tmp, 0700) < 0 || mkdir(f->home, 0700) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	assert_int_equal(cairn_fs_remove_tree(AT_FDCWD, f->dir, NULL), 0);
	free(f->dir);
	free(f->tmp);
	free(f->home);
	free(f);
	fake_env = NULL;
	return 0;
}

static char *read_file(const char *path)
{
	struct cairn_buf b = CAIRN_BUF_INIT;

	assert_int_equal(cairn_fs_read_at(AT_FDCWD, path, &b, NULL), 0);
	return cairn_buf_detach(&b, NULL);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char *path = NULL;
	FILE *fp;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	free(path);
}

/* The number of entries in `dir` (the job's docker configs made so far). */
static int count_entries(const char *dir)
{
	char **names = NULL;
	size_t n = 0;
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	assert_true(fd >= 0);
	assert_int_equal(cairn_fs_list_dir(&names, &n, fd, 0), 0);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	close(fd);
	return (int)n;
}

static int script(char **out, char **dir, struct fx *f, enum cairn_ci_system sys,
		  enum cairn_ci_tagging tagging, const char *project, struct cairn_error **err)
{
	struct cairn_ci_env_opts o = CAIRN_CI_ENV_OPTS_INIT;

	o.system = sys;
	o.tagging = tagging;
	o.tmp_dir = f->tmp;
	o.docker_config = NULL;
	o.dir = project;
	o.getenv_fn = fake_getenv;
	return cairn_ci_env_script(out, dir, &o, err);
}

/* The script with its first two lines (the DOCKER CONFIG section, a new path each time) cut. */
static const char *after_docker_config(const char *s, const char *dir)
{
	char *want = NULL;

	assert_true(asprintf(&want, "# DOCKER CONFIG\nexport DOCKER_CONFIG='%s'\n", dir) > 0);
	assert_memory_equal(s, want, strlen(want));
	s += strlen(want);
	free(want);
	return s;
}

static const char gitlab_want[] =
	"\n# STAGES_STORAGE\n"
	"export WERF_STAGES_STORAGE='registry.example.com:5050/group/app/stages'\n"
	"export WERF_STAGES_STORAGE_REPO_IMPLEMENTATION='gitlab'\n"
	"\n# IMAGES REPO\n"
	"export WERF_IMAGES_REPO='registry.example.com:5050/group/app'\n"
	"export WERF_IMAGES_REPO_IMPLEMENTATION='gitlab'\n"
	"\n# TAGGING\n"
	"export WERF_TAG_BY_STAGES_SIGNATURE='true'\n"
	"\n# DEPLOY\n"
	"export WERF_ENV='review-7'\n"
	"export WERF_ADD_ANNOTATION_PROJECT_GIT='project.werf.io/git=https://gl.example.com/g/a'\n"
	"export WERF_ADD_ANNOTATION_CI_COMMIT='ci.werf.io/commit=0123abc'\n"
	"export WERF_ADD_ANNOTATION_GITLAB_CI_PIPELINE_URL="
	"'gitlab.ci.werf.io/pipeline-url=https://gl.example.com/g/a/pipelines/42'\n"
	"# export WERF_ADD_ANNOTATION_GITLAB_CI_JOB_URL=''\n"
	"\n# IMAGE CLEANUP POLICIES\n"
	"export WERF_GIT_TAG_STRATEGY_LIMIT='10'\n"
	"export WERF_GIT_TAG_STRATEGY_EXPIRY_DAYS='30'\n"
	"export WERF_GIT_COMMIT_STRATEGY_LIMIT='50'\n"
	"export WERF_GIT_COMMIT_STRATEGY_EXPIRY_DAYS='30'\n"
	"export WERF_STAGES_SIGNATURE_STRATEGY_LIMIT='-1'\n"
	"export WERF_STAGES_SIGNATURE_STRATEGY_EXPIRY_DAYS='-1'\n"
	"\n# OTHER\n"
	"export WERF_GIT_HISTORY_SYNCHRONIZATION='1'\n"
	"export WERF_GIT_UNSHALLOW='1'\n"
	"export WERF_LOG_COLOR_MODE='on'\n"
	"export WERF_LOG_PROJECT_DIR='1'\n"
	"export WERF_ENABLE_PROCESS_EXTERMINATOR='1'\n"
	"export WERF_LOG_TERMINAL_WIDTH='95'\n";

static void test_gitlab(void **state)
{
	struct fx *f = *state;
	const char *env[] = {
		"CI_REGISTRY=registry.example.com:5050",
		"CI_REGISTRY_IMAGE=registry.example.com:5050/group/app",
		"CI_JOB_TOKEN=" TOKEN,
		"CI_ENVIRONMENT_SLUG=review-7",
		"CI_PROJECT_URL=https://gl.example.com/g/a",
		"CI_COMMIT_SHA=0123abc",
		"CI_PIPELINE_ID=42",
		"CI_COMMIT_REF_NAME=feature/x",
		NULL,
	};
	struct cairn_error *err = NULL;
	char *s = NULL, *dir = NULL, *path = NULL, *json;
	struct stat st;

	fake_env = env;
	assert_int_equal(
		script(&s, &dir, f, CAIRN_CI_GITLAB, CAIRN_CI_TAG_BY_STAGES_SIGNATURE, NULL, &err),
		0);
	assert_string_equal(after_docker_config(s, dir), gitlab_want);
	assert_null(strstr(s, TOKEN));

	/* a private directory holding only the job's credentials (no ~/.docker here) */
	assert_int_equal(strncmp(dir, f->tmp, strlen(f->tmp)), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_true(asprintf(&path, "%s/config.json", dir) > 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	json = read_file(path);
	assert_string_equal(
		json, "{\"auths\":{\"registry.example.com:5050\":{\"auth\":\"" TOKEN_AUTH "\"}}}");
	free(json);
	free(path);
	free(s);
	free(dir);
}

static void test_gitlab_tag_or_branch(void **state)
{
	static const struct {
		const char *env[5];
		const char *want; /* the TAGGING line; NULL: an error */
	} c[] = {
		{{"CI_COMMIT_REF_NAME=feature/x"},
		 "export WERF_TAG_GIT_BRANCH='feature-x-8339ecf4'"},
		{{"CI_COMMIT_REF_NAME=main", "CI_BUILD_REF_NAME=old"},
		 "export WERF_TAG_GIT_BRANCH='old'"},
		{{"CI_COMMIT_REF_NAME=v1", "CI_COMMIT_TAG=v1.2"}, "export WERF_TAG_GIT_TAG='v1.2'"},
		{{"CI_COMMIT_TAG=v1.2", "CI_BUILD_TAG=v0"}, "export WERF_TAG_GIT_TAG='v0'"},
		{{"CI_COMMIT_TAG=", "CI_COMMIT_REF_NAME=main"},
		 "export WERF_TAG_GIT_BRANCH='main'"},
		{{"WERF_TAG_GIT_BRANCH=mine", "CI_COMMIT_REF_NAME=main"},
		 "# skip WERF_TAG_GIT_BRANCH: already set"},
		{{"CI_COMMIT_REF_NAME="}, NULL},
		{{NULL}, NULL},
	};
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct cairn_error *err = NULL;
		char *s = NULL, *dir = NULL;
		int ret;

		fake_env = c[i].env;
		ret = script(&s, &dir, f, CAIRN_CI_GITLAB, CAIRN_CI_TAG_OR_BRANCH, NULL, &err);
		if (!c[i].want) {
			assert_int_equal(ret, CAIRN_EINVAL);
			assert_non_null(strstr(err->msg, "CI_COMMIT_TAG or CI_COMMIT_REF_NAME"));
			assert_null(s);
			assert_null(dir);
			cairn_error_free(err);
			continue;
		}
		assert_int_equal(ret, 0);
		if (!strstr(s, c[i].want))
			fail_msg("row %zu: no '%s' in\n%s", i, c[i].want, s);
		assert_null(strstr(s, "WERF_TAG_BY_STAGES_SIGNATURE"));
		free(s);
		free(dir);
	}
	/* failures leave no directory behind */
	assert_int_equal(count_entries(f->tmp), 6);
}

/* Variables set before are left alone, as werf does; DOCKER_CONFIG is always the job's. */
static void test_already_set(void **state)
{
	struct fx *f = *state;
	const char *env[] = {
		"CI_REGISTRY=registry.example.com",
		"CI_REGISTRY_IMAGE=registry.example.com/g/a",
		"WERF_IMAGES_REPO=other.example.com/x",
		"WERF_STAGES_STORAGE=registry.example.com/g/a/cache",
		"WERF_LOG_COLOR_MODE=off'\n$(touch x)",
		"DOCKER_CONFIG=/nonexistent",
		NULL,
	};
	struct cairn_error *err = NULL;
	char *s = NULL, *dir = NULL;

	fake_env = env;
	assert_int_equal(
		script(&s, &dir, f, CAIRN_CI_GITLAB, CAIRN_CI_TAG_BY_STAGES_SIGNATURE, NULL, &err),
		0);
	after_docker_config(s, dir);
	assert_non_null(strstr(s, "\n# skip WERF_IMAGES_REPO: already set\n\n# TAGGING\n"));
	/* werf: the implementation only for a repository on CI_REGISTRY */
	assert_non_null(strstr(s, "# skip WERF_STAGES_STORAGE: already set\n"
				  "export WERF_STAGES_STORAGE_REPO_IMPLEMENTATION='gitlab'\n"));
	assert_null(strstr(s, "WERF_IMAGES_REPO_IMPLEMENTATION"));
	assert_non_null(strstr(s, "# skip WERF_LOG_COLOR_MODE: already set\n"));
	assert_null(strstr(s, "touch"));
	free(s);
	free(dir);
}

/* The user's docker config is copied; the CI registry's entry added, its helper dropped. */
static void test_docker_config_copy(void **state)
{
	struct fx *f = *state;
	const char *env[] = {
		"CI_REGISTRY_IMAGE=registry.example.com/g/a",
		"CI_JOB_TOKEN=" TOKEN,
		NULL,
	};
	struct cairn_ci_env_opts o = CAIRN_CI_ENV_OPTS_INIT;
	struct cairn_error *err = NULL;
	char *s = NULL, *dir = NULL, *path = NULL, *json, *dc = NULL;

	write_file(f->home, "config.json",
		   "{\"auths\": {\"other.example.com\": {\"auth\": \"dTpw\"},\n"
		   " \"registry.example.com\": {\"auth\": \"b2xkOm9sZA==\"}},\n"
		   " \"credHelpers\": {\"registry.example.com\": \"secretservice\",\n"
		   "                  \"gcr.io\": \"gcloud\"},\n"
		   " \"credsStore\": \"pass\", \"HttpHeaders\": {\"X-A\": \"1\"}}\n");
	fake_env = env;
	o.tmp_dir = f->tmp;
	o.docker_config = f->home;
	o.getenv_fn = fake_getenv;
	assert_int_equal(cairn_ci_env_script(&s, &dir, &o, &err), 0);
	assert_true(asprintf(&path, "%s/config.json", dir) > 0);
	json = read_file(path);
	assert_string_equal(json, "{\"HttpHeaders\":{\"X-A\":\"1\"},\"auths\":{\"other.example."
				  "com\":{\"auth\":\"dTpw\"},\"registry.example.com\":{\"auth\":"
				  "\"" TOKEN_AUTH "\"}},\"credHelpers\":{\"gcr.io\":\"gcloud\"},"
				  "\"credsStore\":\"pass\"}");
	free(json);
	free(path);
	free(s);
	free(dir);

	/* without credentials to add, the file is copied byte for byte; $DOCKER_CONFIG is read */
	write_file(f->home, "config.json", "{ \"credsStore\" : \"pass\" }\n");
	assert_true(asprintf(&dc, "DOCKER_CONFIG=%s", f->home) > 0);
	env[1] = dc;
	o.docker_config = NULL;
	assert_int_equal(cairn_ci_env_script(&s, &dir, &o, &err), 0);
	free(dc);
	assert_true(asprintf(&path, "%s/config.json", dir) > 0);
	json = read_file(path);
	assert_string_equal(json, "{ \"credsStore\" : \"pass\" }\n");
	free(json);
	free(path);
	free(s);
	free(dir);
}

static void test_docker_config_bad(void **state)
{
	static const char *const bad[] = {
		"{\"auths\": {\"r\": {\"auth\": \"s3cr3t-in-config\"}",
		"[\"s3cr3t-in-config\"]",
		"{\"auths\": \"s3cr3t-in-config\"}",
		"{\"credHelpers\": [\"s3cr3t-in-config\"]}",
		"{\"a\": \"s3cr3t-in-config\", \"a\": 1}",
	};
	struct fx *f = *state;
	const char *env[] = {"CI_REGISTRY_IMAGE=r/g/a", "CI_JOB_TOKEN=" TOKEN, NULL};

	fake_env = env;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cairn_ci_env_opts o = CAIRN_CI_ENV_OPTS_INIT;
		struct cairn_error *err = NULL;
		char *s = NULL, *dir = NULL;

		write_file(f->home, "config.json", bad[i]);
		o.tmp_dir = f->tmp;
		o.docker_config = f->home;
		o.getenv_fn = fake_getenv;
		assert_int_equal(cairn_ci_env_script(&s, &dir, &o, &err), CAIRN_EINVAL);
		assert_non_null(strstr(err->msg, "config.json"));
		assert_null(strstr(err->msg, "s3cr3t"));
		assert_null(strstr(err->msg, TOKEN));
		cairn_error_free(err);
	}
	assert_int_equal(count_entries(f->tmp), 0);
}

static void test_github(void **state)
{
	static const struct {
		const char *config; /* werf.yaml; NULL: none */
		const char *ref, *head;
		const char *images, *stages, *tagging;
	} c[] = {
		{"project: demo\nconfigVersion: 1\n---\nimage: ~\nfrom: alpine\n", "refs/tags/v1.0",
		 NULL, "docker.pkg.github.com/me/repo/demo", "docker.pkg.github.com/me/repo/stages",
		 "export WERF_TAG_GIT_TAG='v1.0'"},
		{"project: demo\nconfigVersion: 1\n---\nimage: api\nfrom: alpine\n",
		 "refs/heads/feature/x", NULL, "docker.pkg.github.com/me/repo",
		 "docker.pkg.github.com/me/repo/stages",
		 "export WERF_TAG_GIT_BRANCH='feature-x-8339ecf4'"},
		{NULL, "refs/pull/3/merge", "fix/y", NULL, NULL,
		 "export WERF_TAG_GIT_BRANCH='fix-y-71cac084'"},
	};
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char *ref = NULL, *head = NULL, *want = NULL, *s = NULL, *dir = NULL;
		const char *env[] = {"GITHUB_REPOSITORY=Me/Repo",
				     "GITHUB_ACTOR=me",
				     "GITHUB_TOKEN=" TOKEN,
				     "GITHUB_SHA=abc",
				     "GITHUB_RUN_ID=77",
				     NULL,
				     NULL,
				     NULL};
		struct cairn_error *err = NULL;
		char *project = NULL;

		assert_true(asprintf(&project, "%s/p%zu", f->dir, i) > 0);
		assert_int_equal(mkdir(project, 0700), 0);
		if (c[i].config)
			write_file(project, "werf.yaml", c[i].config);
		assert_true(asprintf(&ref, "GITHUB_REF=%s", c[i].ref) > 0);
		env[5] = ref;
		if (c[i].head) {
			assert_true(asprintf(&head, "GITHUB_HEAD_REF=%s", c[i].head) > 0);
			env[6] = head;
		}
		fake_env = env;
		assert_int_equal(
			script(&s, &dir, f, CAIRN_CI_GITHUB, CAIRN_CI_TAG_OR_BRANCH, project, &err),
			0);
		if (c[i].stages)
			assert_true(asprintf(&want,
					     "\n# STAGES_STORAGE\nexport WERF_STAGES_STORAGE='%s'\n"
					     "\n# IMAGES REPO\nexport WERF_IMAGES_REPO='%s'\n"
					     "\n# TAGGING\n%s\n",
					     c[i].stages, c[i].images, c[i].tagging) > 0);
		else
			assert_true(asprintf(&want,
					     "\n# STAGES_STORAGE\n# export WERF_STAGES_STORAGE=''\n"
					     "\n# IMAGES REPO\n# export WERF_IMAGES_REPO=''\n"
					     "\n# TAGGING\n%s\n",
					     c[i].tagging) > 0);
		if (strncmp(after_docker_config(s, dir), want, strlen(want)) != 0)
			fail_msg("row %zu: want\n%s\ngot\n%s", i, want, s);
		assert_non_null(strstr(
			s, "export WERF_ADD_ANNOTATION_PROJECT_GIT='project.werf.io/git="
			   "https://github.com/Me/Repo'\n"
			   "export WERF_ADD_ANNOTATION_CI_COMMIT='ci.werf.io/commit=abc'\n"
			   "export WERF_ADD_ANNOTATION_GITHUB_ACTIONS_RUN_URL='github.ci.werf.io/"
			   "workflow-run-url=https://github.com/Me/Repo/actions/runs/77'\n"
			   "\n# CLEANUP\nexport WERF_REPO_GITHUB_TOKEN=\"$GITHUB_TOKEN\"\n"));
		assert_null(strstr(s, TOKEN));
		assert_null(strstr(s, "WERF_GIT_UNSHALLOW"));
		free(ref);
		free(head);
		free(want);
		free(project);
		free(s);
		free(dir);
	}
}

static void test_generic_and_travis(void **state)
{
	struct fx *f = *state;
	const char *env[] = {"TRAVIS_TAG=v2",		"TRAVIS_BRANCH=v2",    "TRAVIS_COMMIT=beef",
			     "CI_REGISTRY_IMAGE=r/g/a", "CI_JOB_TOKEN=" TOKEN, NULL};
	struct cairn_error *err = NULL;
	char *s = NULL, *dir = NULL, *path = NULL;

	fake_env = env;
	assert_int_equal(script(&s, &dir, f, CAIRN_CI_TRAVIS, CAIRN_CI_TAG_OR_BRANCH, NULL, &err),
			 0);
	assert_non_null(strstr(after_docker_config(s, dir),
			       "\n# TAGGING\nexport WERF_TAG_GIT_TAG='v2'\n\n# DEPLOY\n"
			       "export WERF_ADD_ANNOTATION_CI_COMMIT='ci.werf.io/commit=beef'\n"
			       "\n# IMAGE CLEANUP POLICIES\n"));
	assert_null(strstr(s, "WERF_IMAGES_REPO"));
	/* no registry of its own: nothing to log in to */
	assert_true(asprintf(&path, "%s/config.json", dir) > 0);
	assert_int_equal(access(path, F_OK), -1);
	free(path);
	free(s);
	free(dir);

	assert_int_equal(
		script(&s, &dir, f, CAIRN_CI_GENERIC, CAIRN_CI_TAG_BY_STAGES_SIGNATURE, NULL, &err),
		0);
	assert_string_equal(strstr(after_docker_config(s, dir), "\n# TAGGING\n"),
			    "\n# TAGGING\nexport WERF_TAG_BY_STAGES_SIGNATURE='true'\n"
			    "\n# IMAGE CLEANUP POLICIES\n"
			    "export WERF_GIT_TAG_STRATEGY_LIMIT='10'\n"
			    "export WERF_GIT_TAG_STRATEGY_EXPIRY_DAYS='30'\n"
			    "export WERF_GIT_COMMIT_STRATEGY_LIMIT='50'\n"
			    "export WERF_GIT_COMMIT_STRATEGY_EXPIRY_DAYS='30'\n"
			    "export WERF_STAGES_SIGNATURE_STRATEGY_LIMIT='-1'\n"
			    "export WERF_STAGES_SIGNATURE_STRATEGY_EXPIRY_DAYS='-1'\n"
			    "\n# OTHER\n"
			    "export WERF_GIT_HISTORY_SYNCHRONIZATION='1'\n"
			    "export WERF_LOG_COLOR_MODE='on'\n"
			    "export WERF_LOG_PROJECT_DIR='1'\n"
			    "export WERF_ENABLE_PROCESS_EXTERMINATOR='1'\n"
			    "export WERF_LOG_TERMINAL_WIDTH='95'\n");
	free(s);
	free(dir);

	assert_int_equal(script(&s, &dir, f, CAIRN_CI_GENERIC, CAIRN_CI_TAG_OR_BRANCH, NULL, &err),
			 CAIRN_EUSAGE);
	cairn_error_free(err);
	err = NULL;
	env[0] = env[1] = "X=";
	assert_int_equal(script(&s, &dir, f, CAIRN_CI_TRAVIS, CAIRN_CI_TAG_OR_BRANCH, NULL, &err),
			 CAIRN_EINVAL);
	assert_non_null(strstr(err->msg, "TRAVIS_TAG or TRAVIS_BRANCH"));
	cairn_error_free(err);
	assert_int_equal(count_entries(f->tmp), 2);
}

static void test_env_file_and_save(void **state)
{
	struct fx *f = *state;
	const char *env[] = {"CI_REGISTRY_IMAGE=r/g/a", "CI_ENVIRONMENT_SLUG=a\nb", NULL};
	struct cairn_ci_env_opts o = CAIRN_CI_ENV_OPTS_INIT;
	struct cairn_error *err = NULL;
	char *s = NULL, *dir = NULL, *path = NULL, *back;

	fake_env = env;
	o.shell = CAIRN_CI_SHELL_ENV_FILE;
	o.tmp_dir = f->tmp;
	o.getenv_fn = fake_getenv;
	assert_int_equal(cairn_ci_env_script(&s, &dir, &o, &err), CAIRN_EINVAL);
	assert_non_null(strstr(err->msg, "WERF_ENV"));
	cairn_error_free(err);
	err = NULL;
	assert_int_equal(count_entries(f->tmp), 0);

	env[1] = NULL;
	assert_int_equal(cairn_ci_env_script(&s, &dir, &o, &err), 0);
	assert_non_null(strstr(s, "\nWERF_IMAGES_REPO=r/g/a\n"));
	assert_non_null(strstr(s, "\n# WERF_ENV=\n"));
	o.shell = CAIRN_CI_SHELL_POWERSHELL;
	assert_int_equal(cairn_ci_env_save(&path, s, NULL, &o, &err), 0);
	assert_int_equal(strncmp(path, f->tmp, strlen(f->tmp)), 0);
	assert_non_null(strstr(path, "/cairn-ci-env-"));
	assert_string_equal(path + strlen(path) - 4, ".ps1");
	back = read_file(path);
	assert_string_equal(back, s);
	free(back);
	free(path);
	free(s);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_env_file_line_break),
		cmocka_unit_test(test_color_mode),
		cmocka_unit_test(test_parse),
		cmocka_unit_test_setup_teardown(test_gitlab, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gitlab_tag_or_branch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_already_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_docker_config_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_docker_config_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_github, setup, teardown),
		cmocka_unit_test_setup_teardown(test_generic_and_travis, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_file_and_save, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
