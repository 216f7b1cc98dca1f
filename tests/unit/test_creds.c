/* SPDX-License-Identifier: MIT */
/* Unit tests for registry credentials: lookup order, docker config parsing, credential helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common.h"
#include "registry/creds.h"
#include "util/buf.h"
#include "util/fs.h"

#include <fcntl.h>
#include <sys/stat.h>

/* Every secret in these fixtures contains this marker, so a leak is easy to spot. */
#define SECRET_MARK "SEKRIT"
/* base64 of "SEKRIT" at a 3-byte boundary, as it appears inside encoded `auth` values */
#define SECRET_MARK_B64 "U0VLUklU"

struct fixture {
	char *dir;	/* mkdtemp directory: config.json and the helpers' bin/ */
	char *bin;	/* dir/bin with the docker-credential-cairn* scripts */
	char *config;	/* dir/config.json */
	char *old_path; /* $PATH before path_prepend(), restored by path_restore() */
	bool path_set;
};

struct env_var {
	const char *name;
	const char *value;
};

/* The fake environment cairn_creds_lookup() sees through opts.getenv_fn; ends with {NULL}. */
static const struct env_var *fake_env;

static const char *fake_getenv(const char *name)
{
	for (const struct env_var *e = fake_env; e && e->name; e++)
		if (strcmp(e->name, name) == 0)
			return e->value;
	return NULL;
}

static const struct env_var no_env[] = {{NULL, NULL}};

/* Answers for 127.0.0.1:5000 and Docker Hub, "credentials not found" for everything else. */
static const char helper_cairntest[] =
	"#!/bin/sh\n"
	"[ \"$1\" = get ] || { echo \"unexpected action '$1'\" >&2; exit 2; }\n"
	"url=$(cat)\n"
	"case \"$url\" in\n"
	"127.0.0.1:5000) printf '{\"ServerURL\":\"%s\",\"Username\":\"helperuser\","
	"\"Secret\":\"helper-SEKRIT\"}\\n' \"$url\" ;;\n"
	"https://index.docker.io/v1/) printf '{\"ServerURL\":\"%s\",\"Username\":\"<token>\","
	"\"Secret\":\"refresh-SEKRIT\"}\\n' \"$url\" ;;\n"
	"*) echo 'credentials not found in native keychain'; exit 1 ;;\n"
	"esac\n";

static const struct {
	const char *name;
	const char *script;
} helpers[] = {
	{"cairntest", helper_cairntest},
	/* what a helper says on stderr may hold the secret: cairn never repeats it */
	{"cairnfail",
	 "#!/bin/sh\nprintf 'keychain is locked: SEKRIT-pw rejected\\n' >&2\nexit 3\n"},
	{"cairnbad", "#!/bin/sh\ncat >/dev/null\necho '{\"Username\":\"u\",\"Secret\":SEKRIT}'\n"},
	{"cairnbig", "#!/bin/sh\nhead -c 70000 /dev/zero | tr '\\0' a\n"},
	/* exits without reading its stdin */
	{"cairnquick", "#!/bin/sh\nprintf '{\"Username\":\"q\",\"Secret\":\"quick-SEKRIT\"}'\n"},
	{"cairnsig", "#!/bin/sh\nkill -9 $$\n"},
	{"cairnempty", "#!/bin/sh\ncat >/dev/null\necho '{\"ServerURL\":\"x\"}'\n"},
	{"cairntype", "#!/bin/sh\necho '{\"Username\":\"u\",\"Secret\":[\"SEKRIT\"]}'\n"},
};

static void write_file(const char *path, const char *content, mode_t mode)
{
	struct cairn_error *err = NULL;

	if (cairn_fs_write_atomic_at(AT_FDCWD, path, content, strlen(content), mode, &err) < 0)
		fail_msg("%s", err->msg);
}

static int setup(void **state)
{
	char tmpl[] = "/tmp/cairn-test-creds-XXXXXX";
	struct fixture *f;

	if (!mkdtemp(tmpl))
		return -1;
	f = xcalloc(1, sizeof(*f));
	f->dir = xstrdup(tmpl);
	f->bin = xasprintf("%s/bin", tmpl);
	f->config = xasprintf("%s/config.json", tmpl);
	if (mkdir(f->bin, 0755) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(helpers); i++) {
		cleanup_free char *p =
			xasprintf("%s/docker-credential-%s", f->bin, helpers[i].name);

		write_file(p, helpers[i].script, 0755);
	}
	fake_env = no_env;
	*state = f;
	return 0;
}

static void path_restore(struct fixture *f)
{
	if (!f->path_set)
		return;
	if (f->old_path)
		setenv("PATH", f->old_path, 1);
	else
		unsetenv("PATH");
	free(f->old_path);
	f->old_path = NULL;
	f->path_set = false;
}

static void path_prepend(struct fixture *f)
{
	const char *old = getenv("PATH");
	cleanup_free char *p = xasprintf("%s:%s", f->bin, old ? old : "/usr/bin:/bin");

	f->old_path = old ? xstrdup(old) : NULL;
	f->path_set = true;
	setenv("PATH", p, 1);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char *cmd = xasprintf("rm -rf '%s'", f->dir);
	int r = system(cmd);

	free(cmd);
	path_restore(f);
	cairn_log_set_handler(NULL, CAIRN_LOG_ERROR, NULL);
	fake_env = NULL;
	free(f->config);
	free(f->bin);
	free(f->dir);
	free(f);
	return r == 0 ? 0 : -1;
}

static void assert_no_secret(const char *msg)
{
	if (strstr(msg, SECRET_MARK) || strstr(msg, SECRET_MARK_B64))
		fail_msg("secret in message: %s", msg);
}

/* cairn_creds_lookup() with the fixture's directory as --docker-config and the fake env. */
static int lookup_in(struct cairn_creds *out, const char *dir, const char *host,
		     struct cairn_error **err)
{
	struct cairn_creds_opts o = CAIRN_CREDS_OPTS_INIT;

	o.docker_config_dir = dir;
	o.getenv_fn = fake_getenv;
	return cairn_creds_lookup(out, &o, host, err);
}

static void assert_creds(const struct cairn_creds *c, const char *user, const char *pass,
			 const char *token)
{
	if (user) {
		assert_non_null(c->username);
		assert_string_equal(c->username, user);
	} else {
		assert_null(c->username);
	}
	if (pass) {
		assert_non_null(c->password);
		assert_string_equal(c->password, pass);
	} else {
		assert_null(c->password);
	}
	if (token) {
		assert_non_null(c->identity_token);
		assert_string_equal(c->identity_token, token);
	} else {
		assert_null(c->identity_token);
	}
}

static void assert_anonymous(const struct cairn_creds *c)
{
	assert_creds(c, NULL, NULL, NULL);
	assert_string_equal(c->source, "anonymous");
}

static void assert_config_source(const struct cairn_creds *c, const char *path)
{
	cleanup_free char *want = xasprintf("docker config '%s'", path);

	assert_string_equal(c->source, want);
}

/* Step 1: the command line beats GitLab CI and the docker config. */
static void test_command_line(void **state)
{
	struct fixture *f = *state;
	const struct env_var env[] = {
		{"CI_REGISTRY", "ghcr.io"}, {"CI_JOB_TOKEN", "ci-SEKRIT"}, {NULL, NULL}};
	struct cairn_creds_opts o = CAIRN_CREDS_OPTS_INIT;
	struct cairn_creds c = CAIRN_CREDS_INIT;
	struct cairn_error *err = NULL;

	write_file(f->config, "{\"auths\":{\"ghcr.io\":{\"auth\":\"dXNlcjpwYXNz\"}}}", 0600);
	fake_env = env;
	o.username = "cli-user";
	o.password = "cli-SEKRIT";
	o.docker_config_dir = f->dir;
	o.getenv_fn = fake_getenv;
	assert_int_equal(cairn_creds_lookup(&c, &o, "ghcr.io", &err), 0);
	assert_creds(&c, "cli-user", "cli-SEKRIT", NULL);
	assert_string_equal(c.source, "command line");
	cairn_creds_release(&c);
	assert_null(c.username);
	assert_null(c.password);
	assert_null(c.source);
}

static void test_command_line_half(void **state)
{
	static const struct {
		const char *user, *pass;
	} cases[] = {
		{"cli-user", NULL},
		{NULL, "cli-SEKRIT"},
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct cairn_creds_opts o = CAIRN_CREDS_OPTS_INIT;
		struct cairn_creds c = CAIRN_CREDS_INIT;
		struct cairn_error *err = NULL;

		o.username = cases[i].user;
		o.password = cases[i].pass;
		o.docker_config_dir = f->dir;
		o.getenv_fn = fake_getenv;
		assert_int_equal(cairn_creds_lookup(&c, &o, "ghcr.io", &err), CAIRN_EINVAL);
		assert_string_equal(err->msg,
				    "--registry-username and --registry-password go together");
		assert_null(c.username);
		assert_null(c.source);
		cairn_error_free(err);
	}
}

/* Step 2: GitLab CI when $CI_REGISTRY names the host; else on to the docker config. */
static void test_gitlab(void **state)
{
	enum { GITLAB, CONFIG, ANON };
	static const struct {
		const char *ci_registry, *ci_token, *host;
		int want;
	} cases[] = {
		{"registry.gitlab.com", "ci-SEKRIT", "registry.gitlab.com", GITLAB},
		{"Registry.GitLab.COM", "ci-SEKRIT", "registry.gitlab.com", GITLAB},
		{"gitlab.example.com:5050", "ci-SEKRIT", "gitlab.example.com:5050", GITLAB},
		{"gitlab.example.com:5050", "ci-SEKRIT", "GITLAB.example.com:5050", GITLAB},
		{"gitlab.example.com:5050", "ci-SEKRIT", "gitlab.example.com", ANON},
		{"gitlab.example.com", "ci-SEKRIT", "gitlab.example.com:5050", ANON},
		{"registry.gitlab.com", NULL, "registry.gitlab.com", CONFIG},
		{"registry.gitlab.com", "", "registry.gitlab.com", CONFIG},
		{NULL, "ci-SEKRIT", "registry.gitlab.com", CONFIG},
		{"", "ci-SEKRIT", "registry.gitlab.com", CONFIG},
		{"registry.gitlab.com", "ci-SEKRIT", "ghcr.io", CONFIG},
		{"registry.gitlab.com", "ci-SEKRIT", "quay.io", ANON},
	};
	struct fixture *f = *state;

	write_file(f->config,
		   "{\"auths\":{\"registry.gitlab.com\":{\"auth\":\"Y2ZndXNlcjpjZmctU0VLUklU\"},"
		   "\"ghcr.io\":{\"auth\":\"Y2ZndXNlcjpjZmctU0VLUklU\"}}}",
		   0600);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct env_var env[] = {
			{"CI_REGISTRY", cases[i].ci_registry},
			{"CI_JOB_TOKEN", cases[i].ci_token},
			{NULL, NULL},
		};
		struct cairn_creds c = CAIRN_CREDS_INIT;
		struct cairn_error *err = NULL;

		fake_env = env;
		assert_int_equal(lookup_in(&c, f->dir, cases[i].host, &err), 0);
		switch (cases[i].want) {
		case GITLAB:
			assert_creds(&c, "gitlab-ci-token", "ci-SEKRIT", NULL);
			assert_string_equal(c.source, "GitLab CI");
			break;
		case CONFIG:
			assert_creds(&c, "cfguser", "cfg-SEKRIT", NULL);
			assert_config_source(&c, f->config);
			break;
		default:
			assert_anonymous(&c);
		}
		cairn_creds_release(&c);
	}
}

/* Step 3's file: --docker-config, then $DOCKER_CONFIG, then $HOME/.docker. */
static void test_config_location(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *a = xasprintf("%s/a", f->dir);
	cleanup_free char *b = xasprintf("%s/b", f->dir);
	cleanup_free char *home = xasprintf("%s/home", f->dir);
	cleanup_free char *home_docker = xasprintf("%s/home/.docker", f->dir);
	cleanup_free char *a_slash = xasprintf("%s/a//", f->dir);
	static const char *const names[] = {"a", "b", "home/.docker"};
	const struct env_var both[] = {{"DOCKER_CONFIG", b}, {"HOME", home}, {NULL, NULL}};
	const struct env_var home_only[] = {{"HOME", home}, {NULL, NULL}};
	const struct env_var empty_dc[] = {{"DOCKER_CONFIG", ""}, {"HOME", home}, {NULL, NULL}};
	struct cairn_creds c = CAIRN_CREDS_INIT;
	struct cairn_error *err = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		cleanup_free char *dir = xasprintf("%s/%s", f->dir, names[i]);
		cleanup_free char *path = xasprintf("%s/config.json", dir);
		cleanup_free char *doc = xasprintf(
			"{\"auths\":{\"ghcr.io\":{\"username\":\"%s\",\"password\":\"p-SEKRIT\"}}}",
			names[i]);
		struct cairn_error *e = NULL;

		assert_int_equal(cairn_fs_mkdirs_at(AT_FDCWD, dir, 0700, &e), 0);
		write_file(path, doc, 0600);
	}

	fake_env = both;
	assert_int_equal(lookup_in(&c, a, "ghcr.io", &err), 0);
	assert_string_equal(c.username, "a");
	cairn_creds_release(&c);
	/* a trailing slash does not end up in the message */
	assert_int_equal(lookup_in(&c, a_slash, "ghcr.io", &err), 0);
	{
		cleanup_free char *want = xasprintf("docker config '%s/a/config.json'", f->dir);

		assert_string_equal(c.source, want);
	}
	cairn_creds_release(&c);
	assert_int_equal(lookup_in(&c, NULL, "ghcr.io", &err), 0);
	assert_string_equal(c.username, "b");
	cairn_creds_release(&c);
	assert_int_equal(lookup_in(&c, "", "ghcr.io", &err), 0);
	assert_string_equal(c.username, "b");
	cairn_creds_release(&c);
	fake_env = home_only;
	assert_int_equal(lookup_in(&c, NULL, "ghcr.io", &err), 0);
	assert_string_equal(c.username, "home/.docker");
	{
		cleanup_free char *want = xasprintf("%s/config.json", home_docker);

		assert_config_source(&c, want);
	}
	cairn_creds_release(&c);
	fake_env = empty_dc;
	assert_int_equal(lookup_in(&c, NULL, "ghcr.io", &err), 0);
	assert_string_equal(c.username, "home/.docker");
	cairn_creds_release(&c);
	/* no DOCKER_CONFIG, no HOME: nothing to read */
	fake_env = no_env;
	assert_int_equal(lookup_in(&c, NULL, "ghcr.io", &err), 0);
	assert_anonymous(&c);
	cairn_creds_release(&c);
	assert_null(err);
}

/* skopeo's and podman's auth files, after the docker config, unless --docker-config names one. */
static void test_containers_auth_files(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *home = xasprintf("%s/h", f->dir);
	cleanup_free char *run = xasprintf("%s/run", f->dir);
	cleanup_free char *regfile = xasprintf("%s/reg-auth.json", f->dir);
	cleanup_free char *runfile = xasprintf("%s/run/containers/auth.json", f->dir);
	cleanup_free char *homefile = xasprintf("%s/h/.config/containers/auth.json", f->dir);
	cleanup_free char *dockerdir = xasprintf("%s/h/.docker", f->dir);
	cleanup_free char *want = NULL;
	const struct env_var all[] = {{"HOME", home},
				      {"XDG_RUNTIME_DIR", run},
				      {"REGISTRY_AUTH_FILE", regfile},
				      {NULL, NULL}};
	const struct env_var no_reg[] = {{"HOME", home}, {"XDG_RUNTIME_DIR", run}, {NULL, NULL}};
	const struct env_var home_only[] = {{"HOME", home}, {NULL, NULL}};
	struct cairn_creds c = CAIRN_CREDS_INIT;
	struct cairn_error *err = NULL;

	assert_int_equal(cairn_fs_mkdirs_at(AT_FDCWD, dockerdir, 0700, &err), 0);
	assert_int_equal(cairn_fs_mkdirs_at(AT_FDCWD, run, 0700, &err), 0);
	{
		cleanup_free char *d1 = xasprintf("%s/run/containers", f->dir);
		cleanup_free char *d2 = xasprintf("%s/h/.config/containers", f->dir);

		assert_int_equal(cairn_fs_mkdirs_at(AT_FDCWD, d1, 0700, &err), 0);
		assert_int_equal(cairn_fs_mkdirs_at(AT_FDCWD, d2, 0700, &err), 0);
	}
	write_file(regfile, "{\"auths\":{\"quay.io\":{\"auth\":\"cmVnOnAtU0VLUklU\"}}}", 0600);
	write_file(runfile, "{\"auths\":{\"quay.io\":{\"auth\":\"cnVuOnAtU0VLUklU\"}}}", 0600);
	write_file(homefile,
		   "{\"auths\":{\"quay.io\":{\"auth\":\"aG9tZTpwLVNFS1JJVA==\"},"
		   "\"ghcr.io\":{\"auth\":\"aG9tZTpwLVNFS1JJVA==\"}}}",
		   0600);

	/* REGISTRY_AUTH_FILE before $XDG_RUNTIME_DIR's */
	fake_env = all;
	assert_int_equal(lookup_in(&c, NULL, "quay.io", &err), 0);
	assert_creds(&c, "reg", "p-SEKRIT", NULL);
	want = xasprintf("containers auth file '%s'", regfile);
	assert_string_equal(c.source, want);
	cairn_creds_release(&c);
	/* then $XDG_RUNTIME_DIR/containers/auth.json, then ~/.config/containers/auth.json */
	fake_env = no_reg;
	assert_int_equal(lookup_in(&c, NULL, "quay.io", &err), 0);
	assert_creds(&c, "run", "p-SEKRIT", NULL);
	cairn_creds_release(&c);
	assert_int_equal(lookup_in(&c, NULL, "ghcr.io", &err), 0);
	assert_creds(&c, "home", "p-SEKRIT", NULL);
	cairn_creds_release(&c);
	fake_env = home_only;
	assert_int_equal(lookup_in(&c, NULL, "quay.io", &err), 0);
	assert_creds(&c, "home", "p-SEKRIT", NULL);
	cairn_creds_release(&c);
	/* the docker config wins */
	{
		cleanup_free char *dc = xasprintf("%s/config.json", dockerdir);

		write_file(dc, "{\"auths\":{\"quay.io\":{\"auth\":\"ZG9jazpwLVNFS1JJVA==\"}}}",
			   0600);
	}
	fake_env = all;
	assert_int_equal(lookup_in(&c, NULL, "quay.io", &err), 0);
	assert_creds(&c, "dock", "p-SEKRIT", NULL);
	cairn_creds_release(&c);
	/* --docker-config names the one file to read */
	assert_int_equal(lookup_in(&c, f->dir, "ghcr.io", &err), 0);
	assert_anonymous(&c);
	cairn_creds_release(&c);
	assert_null(err);
}

/* Step 5, and a missing file or directory is no error. */
static void test_config_missing(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *nodir = xasprintf("%s/no/such/dir", f->dir);
	struct cairn_creds c = CAIRN_CREDS_INIT;
	struct cairn_error *err = NULL;

	assert_int_equal(lookup_in(&c, f->dir, "ghcr.io", &err), 0);
	assert_anonymous(&c);
	cairn_creds_release(&c);
	assert_int_equal(lookup_in(&c, nodir, "ghcr.io", &err), 0);
	assert_anonymous(&c);
	cairn_creds_release(&c);
	/* a file with nothing for this host */
	write_file(f->config, "{}", 0600);
	assert_int_equal(lookup_in(&c, f->dir, "ghcr.io", &err), 0);
	assert_anonymous(&c);
	cairn_creds_release(&c);
	assert_null(err);
}

static void test_config_unreadable(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *d = xasprintf("%s/isdir", f->dir);
	cleanup_free char *p = xasprintf("%s/isdir/config.json", f->dir);
	cleanup_free char *file = xasprintf("%s/plainfile", f->dir);
	struct cairn_creds c = CAIRN_CREDS_INIT;
	struct cairn_error *err = NULL;

	/* config.json is a directory */
	assert_int_equal(mkdir(d, 0700), 0);
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(lookup_in(&c, d, "ghcr.io", &err), CAIRN_EINVAL);
	assert_non_null(strstr(err->msg, p));
	assert_non_null(strstr(err->msg, "cannot read it"));
	assert_null(c.source);
	cairn_error_clear(&err);
	/* --docker-config names a file, not a directory */
	write_file(file, "{}", 0600);
	assert_int_equal(lookup_in(&c, file, "ghcr.io", &err), CAIRN_EINVAL);
	assert_non_null(strstr(err->msg, "plainfile/config.json"));
	cairn_error_clear(&err);
}

/* Step 3: key spellings that name the same registry (docker's ConvertToHostname, limited). */
static void test_config_keys(void **state)
{
	static const struct {
		const char *key, *host;
		bool match;
	} cases[] = {
		{"127.0.0.1:5000", "127.0.0.1:5000", true},
		{"http://127.0.0.1:5000", "127.0.0.1:5000", true},
		{"https://127.0.0.1:5000", "127.0.0.1:5000", true},
		{"https://127.0.0.1:5000/", "127.0.0.1:5000", true},
		{"https://127.0.0.1:5000/v2/", "127.0.0.1:5000", true},
		{"https://127.0.0.1:5000/v2", "127.0.0.1:5000", true},
		{"http://127.0.0.1:5000/v1/", "127.0.0.1:5000", true},
		{"127.0.0.1:5000/v2/", "127.0.0.1:5000", true},
		{"HTTPS://GHCR.IO/v2/", "ghcr.io", true},
		{"ghcr.io", "GHCR.io", true},
		{"127.0.0.1:5001", "127.0.0.1:5000", false},
		{"127.0.0.1", "127.0.0.1:5000", false},
		{"127.0.0.1:5000", "127.0.0.1", false},
		{"ghcr.io.evil.example", "ghcr.io", false},
		{"evil.example/ghcr.io", "ghcr.io", false},
		{"https://ghcr.io/some-org", "ghcr.io", false},
		{"https://ghcr.io/v2/x", "ghcr.io", false},
		{"ftp://ghcr.io", "ghcr.io", false},
		{"https://", "ghcr.io", false},
		{"", "ghcr.io", false},
		{"docker.io", "ghcr.io", false},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_free char *doc =
			xasprintf("{\"auths\":{\"%s\":{\"auth\":\"dXNlcjpwYXNz\"}}}", cases[i].key);
		struct cairn_creds c = CAIRN_CREDS_INIT;
		struct cairn_error *err = NULL;
		char *helper = NULL;

		assert_int_equal(cairn_docker_config_find(&c, &helper, doc, strlen(doc),
							  cases[i].host, &err),
				 0);
		if (cases[i].match)
			assert_creds(&c, "user", "pass", NULL);
		else
			assert_null(c.username);
		assert_null(c.source);
		assert_null(helper);
		cairn_creds_release(&c);
	}
}

static void test_docker_hub_aliases(void **state)
{
	static const struct {
		const char *key, *host;
		bool match;
	} cases[] = {
		{"https://index.docker.io/v1/", "docker.io", true},
		{"index.docker.io", "docker.io", true},
		{"docker.io", "docker.io", true},
		{"registry-1.docker.io", "docker.io", true},
		{"https://registry-1.docker.io/v2/", "docker.io", true},
		{"http://docker.io", "docker.io", true},
		{"https://index.docker.io/v1/", "index.docker.io", true},
		{"https://index.docker.io/v1/", "registry-1.docker.io", true},
		{"docker.io", "Docker.IO", true},
		{"https://index.docker.io/v1/", "ghcr.io", false},
		{"hub.docker.io", "docker.io", false},
		{"docker.com", "docker.io", false},
		{"https://index.docker.io/v1/library", "docker.io", false},
		{"ghcr.io", "docker.io", false},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_free char *doc = xasprintf(
			"{\"auths\":{\"%s\":{\"auth\":\"aHViOmh1Yi1TRUtSSVQ=\"}}}", cases[i].key);
		struct cairn_creds c = CAIRN_CREDS_INIT;
		struct cairn_error *err = NULL;
		char *helper = NULL;

		assert_int_equal(cairn_docker_config_find(&c, &helper, doc, strlen(doc),
							  cases[i].host, &err),
				 0);
		if (cases[i].match)
			assert_creds(&c, "hub", "hub-SEKRIT", NULL);
		else
			assert_null(c.username);
		assert_null(helper);
		cairn_creds_release(&c);
	}
}

/* The key docker writes wins over other spellings; among equals, the first in the file. */
static void test_config_key_preference(void **state)
{
	static const struct {
		const char *doc, *host, *user;
	} cases[] = {
		{"{\"auths\":{\"https://ghcr.io\":{\"username\":\"a\",\"password\":\"x\"},"
		 "\"ghcr.io\":{\"username\":\"b\",\"password\":\"x\"}}}",
		 "ghcr.io", "b"},
		{"{\"auths\":{\"https://ghcr.io/v2/\":{\"username\":\"a\",\"password\":\"x\"},"
		 "\"http://ghcr.io\":{\"username\":\"b\",\"password\":\"x\"}}}",
		 "ghcr.io", "a"},
		{"{\"auths\":{\"registry-1.docker.io\":{\"username\":\"a\",\"password\":\"x\"},"
		 "\"https://index.docker.io/v1/\":{\"username\":\"b\",\"password\":\"x\"}}}",
		 "docker.io", "b"},
		/* duplicate keys: the last wins, as with Go's encoding/json */
		{"{\"auths\":{\"ghcr.io\":{\"username\":\"a\",\"password\":\"x\"},"
		 "\"ghcr.io\":{\"username\":\"b\",\"password\":\"x\"}}}",
		 "ghcr.io", "b"},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct cairn_creds c = CAIRN_CREDS_INIT;
		struct cairn_error *err = NULL;
		char *helper = NULL;

		assert_int_equal(cairn_docker_config_find(&c, &helper, cases[i].doc,
							  strlen(cases[i].doc), cases[i].host,
							  &err),
				 0);
		assert_non_null(c.username);
		assert_string_equal(c.username, cases[i].user);
		cairn_creds_release(&c);
	}
}

static void test_auth_base64(void **state)
{
	static const struct {
		const char *auth; /* JSON string contents */
		int ret;
		const char *user, *pass;
		const char *msg;
	} cases[] = {
		{"dXNlcjpwYXNz", 0, "user", "pass", NULL},
		{"YTpi", 0, "a", "b", NULL},
		{"YTpiYw==", 0, "a", "bc", NULL},
		{"YTpiYw", 0, "a", "bc", NULL},
		{"YTpiY2Q=", 0, "a", "bcd", NULL},
		{"YTpiY2Q", 0, "a", "bcd", NULL},
		{"YTp", 0, "a", "", NULL},
		{"dXNlcjpwYTpzcw==", 0, "user", "pa:ss", NULL},
		{"dXNlcjo=", 0, "user", "", NULL},
		{"OnBhc3M=", 0, "", "pass", NULL},
		{"dXNlcjpw\\nYXNz", 0, "user", "pass", NULL},
		{"dXNlcjpw\\r\\nYXNz\\n", 0, "user", "pass", NULL},
		{"YTpi=", CAIRN_EINVAL, NULL, NULL, "not valid base64"},
		{"YTpiYw=", CAIRN_EINVAL, NULL, NULL, "not valid base64"},
		{"YTpiYw===", CAIRN_EINVAL, NULL, NULL, "not valid base64"},
		{"YTpiY2Q==", CAIRN_EINVAL, NULL, NULL, "not valid base64"},
		{"YTpi==YTpi", CAIRN_EINVAL, NULL, NULL, "not valid base64"},
		{"Y", CAIRN_EINVAL, NULL, NULL, "not valid base64"},
		{"YTpiY", CAIRN_EINVAL, NULL, NULL, "not valid base64"},
		{"====", CAIRN_EINVAL, NULL, NULL, "not valid base64"},
		{"YT!i", CAIRN_EINVAL, NULL, NULL, "not valid base64"},
		{"YTpi YTpi", CAIRN_EINVAL, NULL, NULL, "not valid base64"},
		{"YTp-Yw__", CAIRN_EINVAL, NULL, NULL, "not valid base64"},
		{"dXNlcg==", CAIRN_EINVAL, NULL, NULL, "not base64 of 'username:password'"},
		{"U0VLUklULVBX", CAIRN_EINVAL, NULL, NULL, "not base64 of 'username:password'"},
		{"U0VLUklULVBX!", CAIRN_EINVAL, NULL, NULL, "not valid base64"},
		{"YQBiOmM=", CAIRN_EINVAL, NULL, NULL, "holds a NUL byte"},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_free char *doc =
			xasprintf("{\"auths\":{\"ghcr.io\":{\"auth\":\"%s\"}}}", cases[i].auth);
		struct cairn_creds c = CAIRN_CREDS_INIT;
		struct cairn_error *err = NULL;
		char *helper = NULL;
		int ret = cairn_docker_config_find(&c, &helper, doc, strlen(doc), "ghcr.io", &err);

		if (ret != cases[i].ret)
			fail_msg("case %zu '%s': got %d (%s)", i, cases[i].auth, ret,
				 err ? err->msg : "no error");
		if (ret == 0) {
			assert_creds(&c, cases[i].user, cases[i].pass, NULL);
		} else {
			/* the message names the key, never the value */
			assert_null(c.username);
			assert_non_null(strstr(err->msg, "'auths' entry 'ghcr.io'"));
			assert_non_null(strstr(err->msg, cases[i].msg));
			assert_null(strstr(err->msg, cases[i].auth));
			assert_no_secret(err->msg);
		}
		assert_null(helper);
		cairn_creds_release(&c);
		cairn_error_free(err);
	}
}

/* username/password members, `auth` winning over them, empty entries, identity tokens. */
static void test_auth_fields(void **state)
{
	static const struct {
		const char *entry;
		const char *user, *pass, *token;
	} cases[] = {
		{"{\"username\":\"u\",\"password\":\"p-SEKRIT\"}", "u", "p-SEKRIT", NULL},
		{"{\"auth\":\"dXNlcjpwYXNz\",\"username\":\"u\",\"password\":\"p\"}", "user",
		 "pass", NULL},
		{"{\"auth\":\"\",\"username\":\"u\",\"password\":\"p\"}", "u", "p", NULL},
		{"{\"username\":\"u\"}", "u", "", NULL},
		{"{\"username\":null,\"password\":null,\"email\":\"a@b.c\"}", NULL, NULL, NULL},
		{"{}", NULL, NULL, NULL},
		{"{\"auth\":\"\"}", NULL, NULL, NULL},
		{"{\"auth\":\"PHRva2VuPjo=\",\"identitytoken\":\"refresh-SEKRIT\"}", "<token>", "",
		 "refresh-SEKRIT"},
		{"{\"identitytoken\":\"refresh-SEKRIT\"}", "", "", "refresh-SEKRIT"},
		{"{\"auth\":\"dXNlcjpwYXNz\",\"identitytoken\":\"\"}", "user", "pass", NULL},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_free char *doc = xasprintf(
			"{\"auths\":{\"ghcr.io\":%s},\"credsStore\":\"\"}", cases[i].entry);
		struct cairn_creds c = CAIRN_CREDS_INIT;
		struct cairn_error *err = NULL;
		char *helper = NULL;

		assert_int_equal(
			cairn_docker_config_find(&c, &helper, doc, strlen(doc), "ghcr.io", &err),
			0);
		assert_creds(&c, cases[i].user, cases[i].pass, cases[i].token);
		assert_null(helper);
		cairn_creds_release(&c);
	}
}

static void test_identity_token_lookup(void **state)
{
	struct fixture *f = *state;
	struct cairn_creds c = CAIRN_CREDS_INIT;
	struct cairn_error *err = NULL;

	write_file(f->config,
		   "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"PHRva2VuPjo=\","
		   "\"identitytoken\":\"refresh-SEKRIT\"}}}",
		   0600);
	assert_int_equal(lookup_in(&c, f->dir, "docker.io", &err), 0);
	assert_creds(&c, "<token>", "", "refresh-SEKRIT");
	assert_config_source(&c, f->config);
	cairn_creds_release(&c);
}

/* credHelpers[host] > an auths entry with credentials > credsStore. */
static void test_helper_precedence(void **state)
{
	static const struct {
		const char *doc, *host;
		const char *helper, *user;
	} cases[] = {
		{"{\"credHelpers\":{\"ghcr.io\":\"gh\"},\"auths\":{\"ghcr.io\":{\"auth\":"
		 "\"dXNlcjpwYXNz\"}},\"credsStore\":\"store\"}",
		 "ghcr.io", "gh", NULL},
		{"{\"credHelpers\":{\"quay.io\":\"quay\"},\"auths\":{\"ghcr.io\":{\"auth\":"
		 "\"dXNlcjpwYXNz\"}},\"credsStore\":\"store\"}",
		 "ghcr.io", NULL, "user"},
		{"{\"credHelpers\":{\"quay.io\":\"quay\"},\"auths\":{\"ghcr.io\":{}},"
		 "\"credsStore\":\"store\"}",
		 "ghcr.io", "store", NULL},
		{"{\"credsStore\":\"desktop.exe\"}", "ghcr.io", "desktop.exe", NULL},
		{"{\"credHelpers\":{\"https://ghcr.io/v2/\":\"gh\"},\"credsStore\":\"store\"}",
		 "ghcr.io", "gh", NULL},
		{"{\"credHelpers\":{\"https://index.docker.io/v1/\":\"hub_1\"}}", "docker.io",
		 "hub_1", NULL},
		{"{\"credHelpers\":{\"ghcr.io\":\"\"},\"credsStore\":\"store\"}", "ghcr.io",
		 "store", NULL},
		{"{\"credHelpers\":{\"ghcr.io\":\"gh\"}}", "quay.io", NULL, NULL},
		{"{\"credsStore\":\"\"}", "ghcr.io", NULL, NULL},
		{"{\"credsStore\":null,\"auths\":null,\"credHelpers\":null}", "ghcr.io", NULL,
		 NULL},
		{"{\"HttpHeaders\":{\"User-Agent\":\"x\"},\"proxies\":{}}", "ghcr.io", NULL, NULL},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct cairn_creds c = CAIRN_CREDS_INIT;
		struct cairn_error *err = NULL;
		char *helper = NULL;

		assert_int_equal(cairn_docker_config_find(&c, &helper, cases[i].doc,
							  strlen(cases[i].doc), cases[i].host,
							  &err),
				 0);
		if (cases[i].helper) {
			assert_non_null(helper);
			assert_string_equal(helper, cases[i].helper);
			assert_null(c.username);
		} else {
			assert_null(helper);
		}
		if (cases[i].user)
			assert_creds(&c, cases[i].user, "pass", NULL);
		else
			assert_null(c.username);
		free(helper);
		cairn_creds_release(&c);
	}
}

static void test_helper_name_invalid(void **state)
{
	static const char *const docs[] = {
		"{\"credHelpers\":{\"ghcr.io\":\"../../bin/sh\"}}",
		"{\"credHelpers\":{\"ghcr.io\":\"a b\"}}",
		"{\"credHelpers\":{\"ghcr.io\":\"x;rm\"}}",
		"{\"credsStore\":\"/usr/bin/evil\"}",
		"{\"credsStore\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
		"{\"credHelpers\":{\"ghcr.io\":7}}",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(docs); i++) {
		struct cairn_creds c = CAIRN_CREDS_INIT;
		struct cairn_error *err = NULL;
		char *helper = NULL;

		assert_int_equal(cairn_docker_config_find(&c, &helper, docs[i], strlen(docs[i]),
							  "ghcr.io", &err),
				 CAIRN_EINVAL);
		assert_null(helper);
		assert_true(strstr(err->msg, "credential helper name") ||
			    strstr(err->msg, "is not a string"));
		cairn_error_free(err);
	}
}

/* Malformed files: CAIRN_EINVAL naming the file and the place, never a secret. */
static void test_config_malformed(void **state)
{
	static const struct {
		const char *doc;
		const char *msg;
	} cases[] = {
		{"not json SEKRIT", "invalid JSON at line 1 column"},
		{"", "invalid JSON at line 1"},
		{"{\"auths\":{\"ghcr.io\":{\"auth\" \"U0VLUklULVBX\"}}}", "syntax error"},
		{"{\"auths\":{\"ghcr.io\":{\"auth\":\"SEKRIT\\u12\"}}}", "syntax error"},
		{"{\"auths\":{\"ghcr.io\":{\"password\":\"SEKRIT\\x\"}}}", "syntax error"},
		{"{\"auths\":{\"ghcr.io\":{\"auth\":\"U0VLUklULVBX", "unexpected end of input"},
		{"{\"auths\":{\"ghcr.io\":{\"password\":\"SEKRIT\xff\"}}}", "invalid UTF-8"},
		{"{\"auths\":{\"ghcr.io\":{\"password\":\"SEKRIT\\u0000\"}}}", "NUL character"},
		{"{\"auths\":{}} \"SEKRIT\"", "text after the document"},
		{"[\"SEKRIT\"]", "not a JSON object"},
		{"\"SEKRIT\"", "invalid JSON"},
		{"{\"auths\":[\"SEKRIT\"]}", "'auths' is not an object"},
		{"{\"credHelpers\":\"SEKRIT\"}", "'credHelpers' is not an object"},
		{"{\"credsStore\":[\"SEKRIT\"]}", "'credsStore' is not a string"},
		{"{\"auths\":{\"ghcr.io\":\"SEKRIT\"}}",
		 "'auths' entry 'ghcr.io' is not an object"},
		{"{\"auths\":{\"ghcr.io\":{\"auth\":[\"U0VLUklULVBX\"]}}}",
		 "'auth' is not a string"},
		{"{\"auths\":{\"ghcr.io\":{\"username\":\"u\",\"password\":{\"p\":\"SEKRIT\"}}}}",
		 "'password' is not a string"},
		{"{\"auths\":{\"ghcr.io\":{\"identitytoken\":7}}}",
		 "'identitytoken' is not a string"},
		{"{\"auths\":{\"ghcr.io\":{\"auth\":\"U0VLUklULVBX\"}}}", "'username:password'"},
		{"{\"auths\":{\"ghcr.io\":{\"auth\":\"U0VLUklU*LVBX\"}}}", "not valid base64"},
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_free char *where =
			xasprintf("credentials for 'ghcr.io': docker config '%s': ", f->config);
		struct cairn_creds c = CAIRN_CREDS_INIT;
		struct cairn_error *err = NULL;
		char *helper = NULL;
		int ret;

		ret = cairn_docker_config_find(&c, &helper, cases[i].doc, strlen(cases[i].doc),
					       "ghcr.io", &err);
		if (ret != CAIRN_EINVAL || !strstr(err->msg, cases[i].msg))
			fail_msg("case %zu: %d '%s'", i, ret, err ? err->msg : "");
		assert_no_secret(err->msg);
		assert_null(helper);
		assert_null(c.username);
		cairn_error_clear(&err);

		write_file(f->config, cases[i].doc, 0600);
		assert_int_equal(lookup_in(&c, f->dir, "ghcr.io", &err), CAIRN_EINVAL);
		assert_int_equal(strncmp(err->msg, where, strlen(where)), 0);
		assert_non_null(strstr(err->msg, cases[i].msg));
		assert_no_secret(err->msg);
		assert_null(c.source);
		cairn_error_free(err);
	}
}

/* Step 4: a real helper, found in PATH, asked with the server URL on stdin. */
static void test_helper_exec(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *src = xstrdup("credential helper 'docker-credential-cairntest'");
	struct cairn_creds c = CAIRN_CREDS_INIT;
	struct cairn_error *err = NULL;

	write_file(
		f->config,
		"{\"credHelpers\":{\"127.0.0.1:5000\":\"cairntest\"},\"credsStore\":\"cairntest\","
		"\"auths\":{\"127.0.0.1:5000\":{\"auth\":\"dXNlcjpwYXNz\"}}}",
		0600);
	path_prepend(f);
	assert_int_equal(lookup_in(&c, f->dir, "127.0.0.1:5000", &err), 0);
	assert_creds(&c, "helperuser", "helper-SEKRIT", NULL);
	assert_string_equal(c.source, src);
	cairn_creds_release(&c);
	/* credsStore, asked for Docker Hub by docker's server URL; "<token>" means identity token
	 */
	assert_int_equal(lookup_in(&c, f->dir, "docker.io", &err), 0);
	assert_creds(&c, "<token>", "", "refresh-SEKRIT");
	assert_string_equal(c.source, src);
	cairn_creds_release(&c);
	/* "credentials not found" with exit status 1: anonymous */
	assert_int_equal(lookup_in(&c, f->dir, "quay.io", &err), 0);
	assert_anonymous(&c);
	cairn_creds_release(&c);
	path_restore(f);
	assert_null(err);
}

/* Other helpers: their answers and failures. */
static void test_helper_outcomes(void **state)
{
	static const struct {
		const char *helper;
		int ret;
		const char *user, *pass; /* when ret == 0; NULL user: anonymous */
		const char *msg, *not_msg;
	} cases[] = {
		{"cairnquick", 0, "q", "quick-SEKRIT", NULL, NULL},
		{"cairnempty", 0, NULL, NULL, NULL, NULL},
		{"cairnfail", CAIRN_EAUTH, NULL, NULL,
		 "credential helper 'docker-credential-cairnfail': exit status 3", "keychain"},
		{"cairnbad", CAIRN_EAUTH, NULL, NULL,
		 "credential helper 'docker-credential-cairnbad': answer: invalid JSON at line 1",
		 NULL},
		{"cairntype", CAIRN_EAUTH, NULL, NULL, "'Username' and 'Secret' must be strings",
		 NULL},
		{"cairnbig", CAIRN_EAUTH, NULL, NULL,
		 "credential helper 'docker-credential-cairnbig': answer larger than 65536 bytes",
		 NULL},
		{"cairnsig", CAIRN_EAUTH, NULL, NULL,
		 "credential helper 'docker-credential-cairnsig': killed by signal 9", NULL},
		{"cairn-no-such-helper", CAIRN_EAUTH, NULL, NULL,
		 "credentials for 'ghcr.io': credential helper 'docker-credential-cairn-no-such-"
		 "helper': not found in PATH",
		 NULL},
	};
	struct fixture *f = *state;

	path_prepend(f);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_free char *doc = xasprintf("{\"credsStore\":\"%s\"}", cases[i].helper);
		struct cairn_creds c = CAIRN_CREDS_INIT;
		struct cairn_error *err = NULL;
		int ret;

		write_file(f->config, doc, 0600);
		ret = lookup_in(&c, f->dir, "ghcr.io", &err);
		if (ret != cases[i].ret)
			fail_msg("%s: got %d (%s)", cases[i].helper, ret, err ? err->msg : "");
		if (ret == 0 && cases[i].user) {
			assert_creds(&c, cases[i].user, cases[i].pass, NULL);
		} else if (ret == 0) {
			assert_anonymous(&c);
		} else {
			if (!strstr(err->msg, cases[i].msg))
				fail_msg("%s: message '%s'", cases[i].helper, err->msg);
			if (cases[i].not_msg)
				assert_null(strstr(err->msg, cases[i].not_msg));
			assert_no_secret(err->msg);
			assert_null(c.source);
		}
		cairn_creds_release(&c);
		cairn_error_free(err);
	}
	path_restore(f);
}

static void capture_log(enum cairn_log_level level, const char *msg, void *userdata)
{
	(void)level;
	cairn_buf_addf(userdata, "%s\n", msg);
}

/* No secret reaches the log, whichever step supplies it. */
static void test_log_has_no_secrets(void **state)
{
	struct fixture *f = *state;
	const struct env_var env[] = {{"CI_REGISTRY", "registry.gitlab.com"},
				      {"CI_JOB_TOKEN", "ci-SEKRIT"},
				      {NULL, NULL}};
	static const char *const hosts[] = {"registry.gitlab.com", "ghcr.io", "127.0.0.1:5000",
					    "docker.io", "quay.io"};
	CLEANUP(cairn_buf_release) struct cairn_buf log = CAIRN_BUF_INIT;
	struct cairn_creds_opts o = CAIRN_CREDS_OPTS_INIT;
	struct cairn_creds c = CAIRN_CREDS_INIT;
	struct cairn_error *err = NULL;

	write_file(
		f->config,
		"{\"credHelpers\":{\"127.0.0.1:5000\":\"cairntest\",\"docker.io\":\"cairntest\"},"
		"\"auths\":{\"ghcr.io\":{\"auth\":\"Y2ZndXNlcjpjZmctU0VLUklU\"}}}",
		0600);
	cairn_log_set_handler(capture_log, CAIRN_LOG_TRACE, &log);
	path_prepend(f);
	fake_env = env;
	for (size_t i = 0; i < ARRAY_SIZE(hosts); i++) {
		assert_int_equal(lookup_in(&c, f->dir, hosts[i], &err), 0);
		assert_non_null(c.source);
		cairn_creds_release(&c);
	}
	o.username = "cli-user";
	o.password = "cli-SEKRIT";
	o.getenv_fn = fake_getenv;
	assert_int_equal(cairn_creds_lookup(&c, &o, "ghcr.io", &err), 0);
	cairn_creds_release(&c);
	path_restore(f);
	cairn_log_set_handler(NULL, CAIRN_LOG_ERROR, NULL);
	assert_non_null(strstr(log.buf, "credentials from"));
	assert_no_secret(log.buf);
}

static void test_empty_host(void **state)
{
	struct fixture *f = *state;
	struct cairn_creds c = CAIRN_CREDS_INIT;
	struct cairn_error *err = NULL;

	assert_int_equal(lookup_in(&c, f->dir, "", &err), CAIRN_EINVAL);
	assert_string_equal(err->msg, "look up credentials: empty registry name");
	cairn_error_free(err);
}

static void test_release(void **state)
{
	struct cairn_creds c = CAIRN_CREDS_INIT;

	(void)state;
	cairn_creds_release(NULL);
	cairn_creds_release(&c);
	c.username = xstrdup("u");
	c.password = xstrdup("p");
	c.identity_token = xstrdup("t");
	c.source = xstrdup("s");
	cairn_creds_release(&c);
	assert_null(c.username);
	assert_null(c.password);
	assert_null(c.identity_token);
	assert_null(c.source);
	cairn_creds_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_command_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_line_half, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gitlab, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_location, setup, teardown),
		cmocka_unit_test_setup_teardown(test_containers_auth_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_unreadable, setup, teardown),
		cmocka_unit_test(test_config_keys),
		cmocka_unit_test(test_docker_hub_aliases),
		cmocka_unit_test(test_config_key_preference),
		cmocka_unit_test(test_auth_base64),
		cmocka_unit_test(test_auth_fields),
		cmocka_unit_test_setup_teardown(test_identity_token_lookup, setup, teardown),
		cmocka_unit_test(test_helper_precedence),
		cmocka_unit_test(test_helper_name_invalid),
		cmocka_unit_test_setup_teardown(test_config_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_helper_exec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_helper_outcomes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_has_no_secrets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_host, setup, teardown),
		cmocka_unit_test(test_release),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
