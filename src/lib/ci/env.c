/* SPDX-License-Identifier: MIT */
/*
 * `ci-env`: the variables werf v1.1.23's `werf ci-env` prints for GitLab and GitHub (same
 * names, values and order), plus Travis and a generic variant, as a script for sh or PowerShell
 * or as an env file.
 */
#include "common.h"
#include "cairn/config.h"
#include "cairn/slug.h"
#include "ci/ci.h"
#include "util/fs.h"

#include <fcntl.h>
#include <unistd.h>

#define GITLAB_USER "gitlab-ci-token"
#define GITHUB_REGISTRY "docker.pkg.github.com"
/* werf's docker_registry.GitLabRegistryImplementationName */
#define GITLAB_IMPLEMENTATION "gitlab"
/* a script is a few dozen short lines; the values come from the environment */
#define SCRIPT_MAX (16u * 1024 * 1024)

static const struct {
	const char *name;
	enum cairn_ci_system system;
} systems[] = {
	{"gitlab", CAIRN_CI_GITLAB},
	{"github", CAIRN_CI_GITHUB},
	{"travis", CAIRN_CI_TRAVIS},
	{"generic", CAIRN_CI_GENERIC},
};

int cairn_ci_system_parse(enum cairn_ci_system *out, const char *name, struct cairn_error **err)
{
	for (size_t i = 0; i < ARRAY_SIZE(systems); i++) {
		if (strcmp(name, systems[i].name) == 0) {
			*out = systems[i].system;
			return 0;
		}
	}
	return cairn_error_set(err, CAIRN_EUSAGE,
			       "unknown CI system '%s' (want gitlab, github, travis or generic)",
			       name);
}

int cairn_ci_tagging_parse(enum cairn_ci_tagging *out, const char *name, struct cairn_error **err)
{
	if (strcmp(name, "stages-signature") == 0) {
		*out = CAIRN_CI_TAG_BY_STAGES_SIGNATURE;
		return 0;
	}
	if (strcmp(name, "tag-or-branch") == 0) {
		*out = CAIRN_CI_TAG_OR_BRANCH;
		return 0;
	}
	return cairn_error_set(err, CAIRN_EUSAGE,
			       "unknown tagging strategy '%s' (want stages-signature or "
			       "tag-or-branch)",
			       name);
}

int cairn_ci_shell_parse(enum cairn_ci_shell *out, const char *name, struct cairn_error **err)
{
	if (!*name || strcmp(name, "default") == 0 || strcmp(name, "sh") == 0) {
		*out = CAIRN_CI_SHELL_SH;
		return 0;
	}
	if (strcmp(name, "powershell") == 0) {
		*out = CAIRN_CI_SHELL_POWERSHELL;
		return 0;
	}
	if (strcmp(name, "cmdexe") == 0)
		return cairn_error_set(err, CAIRN_EUSAGE,
				       "shell 'cmdexe' is not supported: cmd.exe cannot be given "
				       "arbitrary values safely; use powershell");
	return cairn_error_set(err, CAIRN_EUSAGE,
			       "unknown shell '%s' (want sh, default or powershell)", name);
}

/* The script being written; the first error sticks and ends the writing. */
struct script {
	struct cairn_buf b;
	const struct cairn_ci_env_opts *o;
	struct cairn_error **err;
	int ret;
};

/* An environment variable, or NULL when unset or empty (werf tests `!= ""` throughout). */
static const char *env(const struct cairn_ci_env_opts *o, const char *name)
{
	const char *v = o->getenv_fn ? o->getenv_fn(name) : getenv(name);

	return v && *v ? v : NULL;
}

/* A section after the first (DOCKER CONFIG): a blank line and a comment, as werf writes them. */
static void header(struct script *s, const char *title)
{
	cairn_buf_addf(&s->b, "\n# %s\n", title);
}

/*
 * A variable's line as werf's writeEnv writes it: a comment when the variable is already set
 * (werf leaves it alone) or when the value is empty. werf's comment shows the old value; here a
 * comment holds no value, which may be a secret, or end the comment with a line break.
 */
static void put(struct script *s, const char *name, const char *value)
{
	if (s->ret < 0)
		return;
	if (env(s->o, name)) {
		cairn_buf_addf(&s->b, "# skip %s: already set\n", name);
		return;
	}
	if (!value || !*value) {
		cairn_buf_addstr(&s->b, "# ");
		cairn_ci_env_line(&s->b, s->o->shell, name, "", NULL);
		return;
	}
	s->ret = cairn_ci_env_line(&s->b, s->o->shell, name, value, s->err);
}

/* put() of a formatted value, or of nothing (a comment) when `cond` is false. */
static void putf(struct script *s, const char *name, bool cond, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void putf(struct script *s, const char *name, bool cond, const char *fmt, ...)
{
	cleanup_free char *v = NULL;
	va_list ap;

	if (cond) {
		va_start(ap, fmt);
		if (vasprintf(&v, fmt, ap) < 0)
			abort();
		va_end(ap);
	}
	put(s, name, v);
}

/*
 * `name` set to the value of the secret variable `from`: written as a reference the shell
 * resolves, so the secret itself never appears in the script.
 */
static void put_secret_ref(struct script *s, const char *name, const char *from)
{
	if (s->ret < 0 || env(s->o, name) || !env(s->o, from)) {
		put(s, name, NULL);
		return;
	}
	switch (s->o->shell) {
	case CAIRN_CI_SHELL_SH:
		cairn_buf_addf(&s->b, "export %s=\"$%s\"\n", name, from);
		break;
	case CAIRN_CI_SHELL_POWERSHELL:
		cairn_buf_addf(&s->b, "$Env:%s = $Env:%s\n", name, from);
		break;
	case CAIRN_CI_SHELL_ENV_FILE:
		cairn_buf_addf(&s->b, "# %s: not written; set it to the value of %s\n", name, from);
		break;
	}
}

/* put() of the docker-tag slug of `value` (werf's slug.DockerTag). */
static void put_slug(struct script *s, const char *name, const char *value)
{
	cleanup_free char *slug = cairn_slugify(CAIRN_SLUG_TAG, value, strlen(value));

	put(s, name, slug);
}

/* The TAGGING section; `tag` and `branch` are the CI's git tag or branch, NULL when unknown. */
static void tagging(struct script *s, const char *tag, const char *branch, const char *needs)
{
	header(s, "TAGGING");
	if (s->o->tagging == CAIRN_CI_TAG_BY_STAGES_SIGNATURE) {
		put(s, "WERF_TAG_BY_STAGES_SIGNATURE", "true");
		return;
	}
	if (s->ret < 0)
		return;
	if (!tag && !branch) {
		s->ret = cairn_error_set(s->err, CAIRN_EINVAL,
					 "tagging strategy 'tag-or-branch' needs %s; none is set",
					 needs);
		return;
	}
	if (tag)
		put_slug(s, "WERF_TAG_GIT_TAG", tag);
	else
		put_slug(s, "WERF_TAG_GIT_BRANCH", branch);
}

/* werf's defaults (cmd/werf/common CiEnv*Default); werf also read ~/.werf/config/cleanup.yaml */
static void cleanup_policies(struct script *s)
{
	header(s, "IMAGE CLEANUP POLICIES");
	put(s, "WERF_GIT_TAG_STRATEGY_LIMIT", "10");
	put(s, "WERF_GIT_TAG_STRATEGY_EXPIRY_DAYS", "30");
	put(s, "WERF_GIT_COMMIT_STRATEGY_LIMIT", "50");
	put(s, "WERF_GIT_COMMIT_STRATEGY_EXPIRY_DAYS", "30");
	put(s, "WERF_STAGES_SIGNATURE_STRATEGY_LIMIT", "-1");
	put(s, "WERF_STAGES_SIGNATURE_STRATEGY_EXPIRY_DAYS", "-1");
}

/* werf's generateOther, with GitLab's colour rule and GIT_UNSHALLOW for gitlab */
static void other(struct script *s, const char *color_mode, bool unshallow)
{
	header(s, "OTHER");
	put(s, "WERF_GIT_HISTORY_SYNCHRONIZATION", "1");
	if (unshallow)
		put(s, "WERF_GIT_UNSHALLOW", "1");
	put(s, "WERF_LOG_COLOR_MODE", color_mode);
	put(s, "WERF_LOG_PROJECT_DIR", "1");
	put(s, "WERF_ENABLE_PROCESS_EXTERMINATOR", "1");
	put(s, "WERF_LOG_TERMINAL_WIDTH", "95");
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void gitlab(struct script *s)
{
	const struct cairn_ci_env_opts *o = s->o;
	const char *image = env(o, "CI_REGISTRY_IMAGE");
	const char *registry = env(o, "CI_REGISTRY");
	const char *stages = env(o, "WERF_STAGES_STORAGE");
	const char *repo = env(o, "WERF_IMAGES_REPO");
	const char *url = env(o, "CI_PROJECT_URL");
	const char *pipeline = env(o, "CI_PIPELINE_ID");
	const char *job = env(o, "CI_JOB_ID");
	const char *tag = env(o, "CI_BUILD_TAG");
	const char *branch = NULL;

	/* werf writes "/stages" without CI_REGISTRY_IMAGE; that names no repository */
	header(s, "STAGES_STORAGE");
	putf(s, "WERF_STAGES_STORAGE", image, "%s/stages", image);
	if (image && (!stages || has_prefix(stages, registry ? registry : "")))
		put(s, "WERF_STAGES_STORAGE_REPO_IMPLEMENTATION", GITLAB_IMPLEMENTATION);
	header(s, "IMAGES REPO");
	put(s, "WERF_IMAGES_REPO", image);
	if (image && (!repo || has_prefix(repo, registry ? registry : "")))
		put(s, "WERF_IMAGES_REPO_IMPLEMENTATION", GITLAB_IMPLEMENTATION);

	if (!tag)
		tag = env(o, "CI_COMMIT_TAG");
	if (!tag)
		branch = env(o, "CI_BUILD_REF_NAME");
	if (!tag && !branch)
		branch = env(o, "CI_COMMIT_REF_NAME");
	tagging(s, tag, branch, "CI_COMMIT_TAG or CI_COMMIT_REF_NAME");

	header(s, "DEPLOY");
	put(s, "WERF_ENV", env(o, "CI_ENVIRONMENT_SLUG"));
	putf(s, "WERF_ADD_ANNOTATION_PROJECT_GIT", url, "project.werf.io/git=%s", url);
	putf(s, "WERF_ADD_ANNOTATION_CI_COMMIT", env(o, "CI_COMMIT_SHA"), "ci.werf.io/commit=%s",
	     env(o, "CI_COMMIT_SHA"));
	putf(s, "WERF_ADD_ANNOTATION_GITLAB_CI_PIPELINE_URL", url && pipeline,
	     "gitlab.ci.werf.io/pipeline-url=%s/pipelines/%s", url, pipeline);
	putf(s, "WERF_ADD_ANNOTATION_GITLAB_CI_JOB_URL", url && job,
	     "gitlab.ci.werf.io/job-url=%s/-/jobs/%s", url, job);
	cleanup_policies(s);
	other(s, cairn_ci_gitlab_color_mode(env(o, "CI_SERVER_VERSION")), true);
}

/* werf's HasNamelessImage: the project's images go to REPO/<project> rather than REPO/<name> */
static int github_repos(char **images, char **stages, const struct cairn_ci_env_opts *o,
			const char *package, struct cairn_error **err)
{
	struct cairn_config *c = NULL;
	const struct cairn_config_image *nameless;
	struct cairn_error *e = NULL;
	int ret;

	*images = *stages = NULL;
	ret = cairn_config_load(&c, &(struct cairn_config_source){o->dir, o->config, NULL}, &e);
	if (ret == CAIRN_ENOTFOUND && !o->config) {
		/* werf's GetOptionalWerfConfig: no config, no repositories */
		cairn_error_free(e);
		return 0;
	}
	if (ret < 0) {
		*err = e;
		return cairn_error_wrap(err, "read the project's config for GITHUB_REPOSITORY");
	}
	nameless = cairn_config_find(c, NULL);
	if (nameless && !nameless->artifact)
		*images = xasprintf(GITHUB_REGISTRY "/%s/%s", package, c->project.s);
	else
		*images = xasprintf(GITHUB_REGISTRY "/%s", package);
	*stages = xasprintf(GITHUB_REGISTRY "/%s/stages", package);
	cairn_config_free(c);
	return 0;
}

/* cairn's tag-or-branch for GitHub Actions, which werf v1.1 refused: GITHUB_REF */
static void github_ref(const char **tag, const char **branch, const char *ref, const char *head)
{
	*tag = *branch = NULL;
	if (ref && has_prefix(ref, "refs/tags/") && ref[10])
		*tag = ref + 10;
	else if (ref && has_prefix(ref, "refs/heads/") && ref[11])
		*branch = ref + 11;
	else
		*branch = head; /* a pull request: GITHUB_HEAD_REF, its source branch */
}

static void github(struct script *s)
{
	const struct cairn_ci_env_opts *o = s->o;
	const char *repo = env(o, "GITHUB_REPOSITORY");
	const char *run = env(o, "GITHUB_RUN_ID");
	cleanup_free char *package = repo ? xstrdup(repo) : NULL;
	cleanup_free char *images = NULL;
	cleanup_free char *stages = NULL;
	const char *tag, *branch;

	for (char *p = package; p && *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if (package)
		s->ret = github_repos(&images, &stages, o, package, s->err);
	if (s->ret < 0)
		return;
	header(s, "STAGES_STORAGE");
	put(s, "WERF_STAGES_STORAGE", stages);
	header(s, "IMAGES REPO");
	put(s, "WERF_IMAGES_REPO", images);

	github_ref(&tag, &branch, env(o, "GITHUB_REF"), env(o, "GITHUB_HEAD_REF"));
	tagging(s, tag, branch, "GITHUB_REF (refs/tags/... or refs/heads/...) or GITHUB_HEAD_REF");

	header(s, "DEPLOY");
	putf(s, "WERF_ADD_ANNOTATION_PROJECT_GIT", repo,
	     "project.werf.io/git=https://github.com/%s", repo);
	putf(s, "WERF_ADD_ANNOTATION_CI_COMMIT", env(o, "GITHUB_SHA"), "ci.werf.io/commit=%s",
	     env(o, "GITHUB_SHA"));
	putf(s, "WERF_ADD_ANNOTATION_GITHUB_ACTIONS_RUN_URL", repo && run,
	     "github.ci.werf.io/workflow-run-url=https://github.com/%s/actions/runs/%s", repo, run);
	header(s, "CLEANUP");
	put_secret_ref(s, "WERF_REPO_GITHUB_TOKEN", "GITHUB_TOKEN");
	cleanup_policies(s);
	other(s, "on", false);
}

static void travis(struct script *s)
{
	const char *tag = env(s->o, "TRAVIS_TAG");
	const char *commit = env(s->o, "TRAVIS_COMMIT");

	/* Travis sets TRAVIS_BRANCH to the tag's name in a tag build */
	tagging(s, tag, tag ? NULL : env(s->o, "TRAVIS_BRANCH"), "TRAVIS_TAG or TRAVIS_BRANCH");
	header(s, "DEPLOY");
	putf(s, "WERF_ADD_ANNOTATION_CI_COMMIT", commit, "ci.werf.io/commit=%s", commit);
	cleanup_policies(s);
	other(s, "on", false);
}

static void generic(struct script *s)
{
	tagging(s, NULL, NULL, "a CI system");
	cleanup_policies(s);
	other(s, "on", false);
}

/* The registry login of the job's docker config, as werf's `docker login`; host NULL: none. */
static void ci_login(struct ci_login *l, const struct cairn_ci_env_opts *o)
{
	const char *image = env(o, "CI_REGISTRY_IMAGE");

	*l = (struct ci_login){0};
	if (o->system == CAIRN_CI_GITLAB && image && env(o, "CI_JOB_TOKEN")) {
		/* docker login keys its entry by the host part (ConvertToHostname) */
		l->host = image;
		l->user = GITLAB_USER;
		l->secret = env(o, "CI_JOB_TOKEN");
	} else if (o->system == CAIRN_CI_GITHUB && env(o, "GITHUB_ACTOR") &&
		   env(o, "GITHUB_TOKEN")) {
		l->host = GITHUB_REGISTRY;
		l->user = env(o, "GITHUB_ACTOR");
		l->secret = env(o, "GITHUB_TOKEN");
	}
}

/* The host[:port] of a registry reference, as docker's ConvertToHostname finds it. */
static char *host_of(const char *ref)
{
	if (has_prefix(ref, "http://"))
		ref += 7;
	else if (has_prefix(ref, "https://"))
		ref += 8;
	return xstrndup(ref, strcspn(ref, "/"));
}

static char *default_dir(const struct cairn_ci_env_opts *o, const char *given, const char *var,
			 const char *home_sub, const char *fallback)
{
	const char *v = given && *given ? given : env(o, var);

	if (v)
		return xstrdup(v);
	if (home_sub && env(o, "HOME"))
		return xasprintf("%s/%s", env(o, "HOME"), home_sub);
	return fallback ? xstrdup(fallback) : NULL;
}

static int docker_config(char **dir_out, const struct cairn_ci_env_opts *o,
			 struct cairn_error **err)
{
	cleanup_free char *from =
		default_dir(o, o->docker_config, "DOCKER_CONFIG", ".docker", NULL);
	cleanup_free char *tmp = default_dir(o, o->tmp_dir, "TMPDIR", NULL, "/tmp");
	cleanup_free char *host = NULL;
	struct ci_login l;

	ci_login(&l, o);
	if (l.host) {
		host = host_of(l.host);
		l.host = host;
	}
	return cairn_ci_docker_config_new(dir_out, from, tmp, l.host ? &l : NULL, err);
}

static void script_release(struct script *s)
{
	cairn_buf_release(&s->b);
}

/* The sections after DOCKER CONFIG; everything that can go wrong for lack of CI variables. */
static int body(struct script *s)
{
	switch (s->o->system) {
	case CAIRN_CI_GITLAB:
		gitlab(s);
		break;
	case CAIRN_CI_GITHUB:
		github(s);
		break;
	case CAIRN_CI_TRAVIS:
		travis(s);
		break;
	case CAIRN_CI_GENERIC:
		generic(s);
		break;
	}
	if (s->ret < 0)
		return s->ret;
	return cairn_buf_check(&s->b, s->err);
}

int cairn_ci_env_script(char **script_out, char **docker_config_out,
			const struct cairn_ci_env_opts *o, struct cairn_error **err)
{
	CLEANUP(script_release)
	struct script s = {.b = CAIRN_BUF_INIT_MAX(SCRIPT_MAX), .o = o, .err = err};
	CLEANUP(cairn_buf_release) struct cairn_buf out = CAIRN_BUF_INIT_MAX(SCRIPT_MAX);
	cleanup_free char *dir = NULL;
	int ret;

	*script_out = *docker_config_out = NULL;
	if (o->system == CAIRN_CI_GENERIC && o->tagging == CAIRN_CI_TAG_OR_BRANCH)
		return cairn_error_set(err, CAIRN_EUSAGE,
				       "tagging strategy 'tag-or-branch' needs gitlab, github or "
				       "travis");
	ret = body(&s);
	if (ret < 0)
		return ret;
	ret = docker_config(&dir, o, err);
	if (ret < 0)
		return ret;
	/* werf's writeEnv(DOCKER_CONFIG, override): the job's own, whatever was set before */
	cairn_buf_addstr(&out, "# DOCKER CONFIG\n");
	ret = cairn_ci_env_line(&out, o->shell, "DOCKER_CONFIG", dir, err);
	cairn_buf_add(&out, s.b.buf, s.b.len);
	if (ret == 0)
		ret = cairn_buf_check(&out, err);
	if (ret < 0) {
		cairn_fs_remove_tree(AT_FDCWD, dir, NULL);
		return ret;
	}
	*script_out = cairn_buf_detach(&out, NULL);
	*docker_config_out = TAKE_PTR(dir);
	return 0;
}

int cairn_ci_env_save(char **path_out, const char *script, const char *path,
		      const struct cairn_ci_env_opts *o, struct cairn_error **err)
{
	cleanup_free char *tmp = NULL;
	cleanup_free char *name = NULL;
	cleanup_close int fd = -1;
	int ret;

	*path_out = NULL;
	if (path) {
		name = xstrdup(path);
		fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	} else {
		bool ps = o->shell == CAIRN_CI_SHELL_POWERSHELL;

		tmp = default_dir(o, o->tmp_dir, "TMPDIR", NULL, "/tmp");
		name = xasprintf("%s/cairn-ci-env-XXXXXX%s", tmp, ps ? ".ps1" : "");
		fd = mkstemps(name, ps ? 4 : 0);
	}
	if (fd < 0)
		return cairn_error_set_errno(err, "create '%s'", name);
	ret = cairn_fs_write_all(fd, script, strlen(script), name, err);
	if (ret == 0 && close(TAKE_FD(fd)) < 0)
		ret = cairn_error_set_errno(err, "write '%s'", name);
	if (ret < 0) {
		if (!path)
			unlink(name);
		return ret;
	}
	*path_out = TAKE_PTR(name);
	return 0;
}
