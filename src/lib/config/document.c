/* SPDX-License-Identifier: MIT */
/* One werf.yaml document read into the model: field tables, value and element checks. */
#include "common.h"
#include "config/config_internal.h"
#include "util/buf.h"

/* ---- value checks ---- */

static bool has_dotdot(const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n = 0;

		while (i + n < len && s[i + n] != '/')
			n++;
		if (n == 2 && s[i] == '.' && s[i + 1] == '.')
			return true;
		i += n + 1;
	}
	return false;
}

/* Paths in an image or the project: '..' could only lead out of them. */
static const char *check_abs(const char *s, size_t len)
{
	if (!len || s[0] != '/')
		return "must be an absolute path";
	return has_dotdot(s, len) ? "must not have a '..' component" : NULL;
}

static const char *check_rel(const char *s, size_t len)
{
	if (!len || s[0] == '/')
		return "must be a relative path";
	return has_dotdot(s, len) ? "must not have a '..' component" : NULL;
}

/*
 * A path on the build host (mount fromPath), its own business: absolute, in the home directory
 * or relative to the project, as werf took it ("~user/" is not the home directory).
 */
static const char *check_host_path(const char *s, size_t len)
{
	if (len > 1 && s[0] == '~' && s[1] != '/')
		return "must be an absolute path, ~/PATH or a path relative to the project";
	return NULL;
}

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

#define PROJECT_RULE "must match ^[a-z0-9]([a-z0-9-]*[a-z0-9])?$ and be at most 49 bytes"

const char *cfg_check_project(const char *s, size_t len)
{
	if (!len || len > PROJECT_MAX || !lower_alnum(s[0]) || !lower_alnum(s[len - 1]))
		return PROJECT_RULE;
	for (size_t i = 0; i < len; i++)
		if (!lower_alnum(s[i]) && s[i] != '-')
			return PROJECT_RULE;
	return NULL;
}

/*
 * Image names become repository paths (REPO/NAME:TAG) or tags (REPO:NAME-TAG, monorepo mode).
 * Capitals are let through as werf let them (a tag may have them; REPO/NAME may not, and
 * publishing says so then).
 */
#define NAME_MAX_LEN 128
#define NAME_RULE                                                                            \
	"must be '/'-separated components [A-Za-z0-9]+([._-]+[A-Za-z0-9]+)* of at most 128 " \
	"bytes in all"

static const char *check_name(const char *s, size_t len)
{
	if (!len || len > NAME_MAX_LEN)
		return NAME_RULE;
	for (size_t i = 0; i < len; i++) {
		bool sep = s[i] == '.' || s[i] == '_' || s[i] == '-';
		bool at_edge = i == 0 || i == len - 1 || s[i - 1] == '/' || s[i + 1] == '/';
		bool alnum = lower_alnum(s[i]) || (s[i] >= 'A' && s[i] <= 'Z');

		if (s[i] == '/' ? at_edge : !alnum && (!sep || at_edge))
			return NAME_RULE;
	}
	return NULL;
}

/* Artifact names are never repository paths: werf took any string; they go into messages. */
static const char *check_artifact_name(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return "must not contain control characters";
	return NULL;
}

static const char *check_commit(const char *s, size_t len)
{
	if (len < 4 || len > 40)
		return "must be a commit id of 4 to 40 hex digits";
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F')))
			return "must be a commit id of 4 to 40 hex digits";
	return NULL;
}

static const char *check_user_stage(const char *s, size_t len)
{
	(void)len;
	return strcmp(s, "install") == 0 || strcmp(s, "setup") == 0 ? NULL
								    : "must be install or setup";
}

/* import.stage: a stage of the source image that runs commands (werf: checkInvalidStage). */
static const char *check_import_stage(const char *s, size_t len)
{
	static const char *const ok[] = {"beforeInstall", "install", "beforeSetup", "setup"};

	(void)len;
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
		if (strcmp(s, ok[i]) == 0)
			return NULL;
	return "must be beforeInstall, install, beforeSetup or setup";
}

static const char *check_mount_from(const char *s, size_t len)
{
	(void)len;
	return strcmp(s, "tmp_dir") == 0 || strcmp(s, "build_dir") == 0
		       ? NULL
		       : "must be tmp_dir or build_dir";
}

/* ---- meta ---- */

static int read_config_version(struct ctx *x, const struct field *f, const struct ynode *n,
			       void *base)
{
	struct cairn_config *c = base;

	(void)f;
	if (!cfg_is(n, "1"))
		return invalid(x, n->pos, "must be 1");
	c->config_version = 1;
	c->config_version_pos = n->pos;
	return 0;
}

static int check_bool(struct ctx *x, const struct field *f, const struct ynode *n, void *base)
{
	struct cairn_config_bool b;

	(void)f;
	(void)base;
	return cfg_read_bool(x, n, &b);
}

static int check_map(struct ctx *x, const struct field *f, const struct ynode *n, void *base)
{
	(void)f;
	(void)base;
	return n->kind == Y_MAP ? 0 : invalid(x, n->pos, "must be a mapping");
}

static int check_scalar(struct ctx *x, const struct field *f, const struct ynode *n, void *base)
{
	(void)f;
	(void)base;
	return n->kind == Y_SCALAR ? 0 : invalid(x, n->pos, "must be a string");
}

void cfg_value_release(struct cairn_config_value *v)
{
	for (size_t i = 0; i < v->n; i++) {
		if (v->keys)
			free(v->keys[i]);
		cfg_value_release(&v->items[i]);
	}
	free(v->keys);
	free(v->items);
	free(v->text);
	memset(v, 0, sizeof(*v));
}

static int copy_map(struct ctx *x, struct cairn_config_value *out, const struct ynode *n)
{
	CLEANUP(cfg_entries_release) struct entries e = {0};
	int ret;

	out->kind = CAIRN_CONFIG_VALUE_MAP;
	ret = cfg_map_entries(x, n, &e);
	if (ret < 0)
		return ret;
	out->keys = xcalloc(e.n ? e.n : 1, sizeof(*out->keys));
	out->items = xcalloc(e.n ? e.n : 1, sizeof(*out->items));
	for (size_t i = 0; i < e.n; i++) {
		const struct ynode *k = e.v[i].key;
		size_t old = cfg_path_key(x, k->text, k->len);

		if (memchr(k->text, '\0', k->len))
			return invalid(x, k->pos, "must not contain a NUL character");
		out->keys[i] = xmemdup(k->text, k->len + 1);
		out->n = i + 1;
		ret = cfg_copy_value(x, &out->items[i], e.v[i].value);
		if (ret < 0)
			return ret;
		cfg_path_pop(x, old);
	}
	return 0;
}

int cfg_copy_value(struct ctx *x, struct cairn_config_value *out, const struct ynode *n)
{
	int ret;

	out->pos = n->pos;
	if (cfg_is_null(n))
		return 0;
	if (n->kind == Y_MAP)
		return copy_map(x, out, n);
	if (n->kind == Y_SCALAR) {
		if (memchr(n->text, '\0', n->len))
			return invalid(x, n->pos, "must not contain a NUL character");
		out->kind = CAIRN_CONFIG_VALUE_SCALAR;
		out->text = xmemdup(n->text, n->len + 1);
		out->plain = n->plain;
		return 0;
	}
	out->kind = CAIRN_CONFIG_VALUE_LIST;
	out->items = xcalloc(n->n_kids ? n->n_kids : 1, sizeof(*out->items));
	for (size_t i = 0; i < n->n_kids; i++) {
		size_t old;

		ret = cfg_charge(x, n->kids[i]);
		if (ret < 0)
			return ret;
		old = cfg_path_index(x, i);
		out->n = i + 1;
		ret = cfg_copy_value(x, &out->items[i], n->kids[i]);
		if (ret < 0)
			return ret;
		cfg_path_pop(x, old);
	}
	return 0;
}

/* `cleanup`: kept as written for a cleanup command to read. */
static int read_cleanup(struct ctx *x, const struct field *f, const struct ynode *n, void *base)
{
	struct cairn_config *c = base;
	int ret;

	(void)f;
	if (n->kind != Y_MAP)
		return invalid(x, n->pos, "must be a mapping");
	if (c->cleanup) {
		cfg_value_release(c->cleanup);
		free(c->cleanup);
	}
	cfg_keep_policies_release(c);
	c->cleanup = xcalloc(1, sizeof(*c->cleanup));
	ret = cfg_copy_value(x, c->cleanup, n);
	return ret < 0 ? ret : cfg_read_keep_policies(x, c);
}

/* ---- element checks ---- */

/*
 * At most one of the values `v` (with keys `keys`) may be given, and with `required` at least
 * one, else "<keys[0]>: missing (or <keys[1]>, ...)" at `where`. Of two given, the error names
 * the one written last.
 */
static int check_exclusive(struct ctx *x, struct cairn_config_str *const *v,
			   const char *const *keys, size_t n, bool required,
			   struct cairn_config_pos where)
{
	size_t first = n, last = n;
	size_t old;
	int ret;

	for (size_t i = 0; i < n; i++) {
		if (!v[i]->s)
			continue;
		if (first == n || cfg_pos_before(v[i]->pos, v[first]->pos))
			first = i;
		if (last == n || cfg_pos_before(v[last]->pos, v[i]->pos))
			last = i;
	}
	if (first == n && required) {
		CLEANUP(cairn_buf_release) struct cairn_buf others = CAIRN_BUF_INIT;

		for (size_t i = 1; i < n; i++)
			cairn_buf_addf(&others, "%s%s", i > 1 ? ", " : "", keys[i]);
		old = cfg_path_key(x, keys[0], strlen(keys[0]));
		ret = invalid(x, where, "missing (or %s)", others.buf);
		cfg_path_pop(x, old);
		return ret;
	}
	if (first == last)
		return 0;
	old = cfg_path_key(x, keys[last], strlen(keys[last]));
	ret = invalid(x, v[last]->pos, "cannot be used together with %s", keys[first]);
	cfg_path_pop(x, old);
	return ret;
}

static int check_git(struct ctx *x, const struct field *f, const struct ynode *n, void *p)
{
	static const char *const keys[] = {"branch", "tag", "commit"};
	struct cairn_config_git *g = p;
	struct cairn_config_str *const revs[] = {&g->branch, &g->tag, &g->commit};

	(void)f;
	(void)n;
	if (!g->add.s)
		g->add.s = xstrdup("/");
	for (size_t i = 0; !g->url.s && i < ARRAY_SIZE(revs); i++) {
		if (revs[i]->s) {
			size_t old = cfg_path_key(x, keys[i], strlen(keys[i]));
			int ret =
				invalid(x, revs[i]->pos, "only for a remote repository (with url)");

			cfg_path_pop(x, old);
			return ret;
		}
	}
	return check_exclusive(x, revs, keys, ARRAY_SIZE(revs), false, g->pos);
}

static int check_import(struct ctx *x, const struct field *f, const struct ynode *n, void *p)
{
	static const char *const source_keys[] = {"artifact", "image"};
	static const char *const point_keys[] = {"before", "after"};
	struct cairn_config_import *im = p;
	struct cairn_config_str *const sources[] = {&im->artifact, &im->image};
	struct cairn_config_str *const points[] = {&im->before, &im->after};
	bool setup;
	int ret;

	(void)f;
	if (!im->to.s)
		im->to.s = xstrdup(im->add.s);
	ret = check_exclusive(x, sources, source_keys, 2, true, n->pos);
	if (ret < 0)
		return ret;
	ret = check_exclusive(x, points, point_keys, 2, true, n->pos);
	if (ret < 0)
		return ret;
	if (im->before.s) {
		setup = strcmp(im->before.s, "setup") == 0;
		im->point = setup ? CAIRN_CONFIG_IMPORT_BEFORE_SETUP
				  : CAIRN_CONFIG_IMPORT_BEFORE_INSTALL;
	} else {
		setup = strcmp(im->after.s, "setup") == 0;
		im->point =
			setup ? CAIRN_CONFIG_IMPORT_AFTER_SETUP : CAIRN_CONFIG_IMPORT_AFTER_INSTALL;
	}
	return 0;
}

static int check_mount(struct ctx *x, const struct field *f, const struct ynode *n, void *p)
{
	static const char *const keys[] = {"from", "fromPath"};
	struct cairn_config_mount *m = p;
	struct cairn_config_str *const from[] = {&m->from, &m->from_path};
	int ret;

	(void)f;
	ret = check_exclusive(x, from, keys, 2, true, n->pos);
	if (ret < 0)
		return ret;
	if (m->from_path.s)
		m->type = CAIRN_CONFIG_MOUNT_HOST_DIR;
	else if (strcmp(m->from.s, "tmp_dir") == 0)
		m->type = CAIRN_CONFIG_MOUNT_TMP_DIR;
	else
		m->type = CAIRN_CONFIG_MOUNT_BUILD_DIR;
	return 0;
}

/* ---- field tables ---- */

_Static_assert(GIT(pos) == 0 && IMP(pos) == 0 && MNT(pos) == 0,
	       "read_seq() sets the position of each element at its start");

/* Keys werf added after v1.1: an error that says so, rather than "unknown key" */
#define LATER_WERF(k)                                                                    \
	{                                                                                \
		.key = k, .type = T_SKIP, .flags = F_UNSUPPORTED,                        \
		.note = "a key of werf v1.2 and later (cairn reads the configs of dapp " \
			"and werf v1.0 and v1.1)"                                        \
	}
/* those of a stapel image and of a Dockerfile image alike */
#define LATER_WERF_IMAGE                                                          \
	LATER_WERF("final"), LATER_WERF("imageSpec"), LATER_WERF("dependencies"), \
		LATER_WERF("secrets"), LATER_WERF("platform")

static const struct field meta_fields[] = {
	{.key = "project",
	 .type = T_STR,
	 .flags = F_REQUIRED,
	 .off = CFG(project),
	 .check = cfg_check_project},
	{.key = "configVersion",
	 .type = T_FN,
	 .flags = F_REQUIRED,
	 .off = CFG(config_version),
	 .fn = read_config_version},
	{.key = "deploy",
	 .type = T_SKIP,
	 .flags = F_IGNORED,
	 .fn = check_map,
	 .note = "cairn does not deploy"},
	{.key = "cleanup", .type = T_FN, .off = CFG(cleanup), .fn = read_cleanup},
	{.key = "gitWorktree",
	 .type = T_SKIP,
	 .flags = F_IGNORED,
	 .fn = check_map,
	 .note = "cairn reads the repository as it is"},
	LATER_WERF("build"),
	{.key = NULL},
};

/* werf's keys that only gave werf's consent to a build that may not be reproducible */
#define ADMISSION(k)                                                            \
	{                                                                       \
		.key = k, .type = T_SKIP, .flags = F_IGNORED, .fn = check_bool, \
		.note = "cairn needs no such admission"                         \
	}
#define STAGE_DEP(k, stage)                                                      \
	{                                                                        \
		.key = k, .type = T_LIST, .off = GIT(stage_dependencies[stage]), \
		.check = check_rel                                               \
	}

/* buildArtifact: the 2018 dappfile's artifacts had a stage after setup (F_DAPP_ARTIFACT) */
static const struct field stage_dependencies_fields[] = {
	STAGE_DEP("install", CAIRN_CONFIG_STAGE_INSTALL),
	STAGE_DEP("beforeSetup", CAIRN_CONFIG_STAGE_BEFORE_SETUP),
	STAGE_DEP("setup", CAIRN_CONFIG_STAGE_SETUP),
	{.key = "buildArtifact",
	 .type = T_LIST,
	 .flags = F_DAPP_ARTIFACT,
	 .off = GIT(stage_dependencies[CAIRN_CONFIG_STAGE_BUILD_ARTIFACT]),
	 .check = check_rel},
	{.key = NULL},
};

static const struct field git_fields[] = {
	{.key = "url", .type = T_STR, .off = GIT(url)},
	{.key = "add", .type = T_STR, .off = GIT(add), .check = check_abs},
	{.key = "to", .type = T_STR, .flags = F_REQUIRED, .off = GIT(to), .check = check_abs},
	{.key = "includePaths", .type = T_LIST, .off = GIT(include_paths), .check = check_rel},
	{.key = "excludePaths", .type = T_LIST, .off = GIT(exclude_paths), .check = check_rel},
	{.key = "owner", .type = T_STR, .off = GIT(owner)},
	{.key = "group", .type = T_STR, .off = GIT(group)},
	{.key = "stageDependencies",
	 .type = T_MAP,
	 .off = GIT(stage_dependencies_pos),
	 .sub = stage_dependencies_fields},
	{.key = "branch", .type = T_STR, .off = GIT(branch)},
	{.key = "tag", .type = T_STR, .off = GIT(tag)},
	{.key = "commit", .type = T_STR, .off = GIT(commit), .check = check_commit},
	ADMISSION("herebyIAdmitThatBranchMightBreakReproducibility"),
	{.key = "as",
	 .type = T_SKIP,
	 .flags = F_IGNORED | F_DAPPFILE,
	 .fn = check_scalar,
	 .note = "names the entry in the 2018 tool's stage labels only"},
	{.key = NULL},
};

#define SHELL_COMMANDS(k, stage)                                            \
	{                                                                   \
		.key = k, .type = T_LIST, .off = IMG(shell.commands[stage]) \
	}
#define SHELL_VERSION(k, stage)                               \
	{                                                     \
		.key = k, .type = T_STR, .flags = F_EMPTY_OK, \
		.off = IMG(shell.stage_cache_version[stage])  \
	}

static const struct field shell_fields[] = {
	SHELL_COMMANDS("beforeInstall", CAIRN_CONFIG_STAGE_BEFORE_INSTALL),
	SHELL_COMMANDS("install", CAIRN_CONFIG_STAGE_INSTALL),
	SHELL_COMMANDS("beforeSetup", CAIRN_CONFIG_STAGE_BEFORE_SETUP),
	SHELL_COMMANDS("setup", CAIRN_CONFIG_STAGE_SETUP),
	{.key = "buildArtifact",
	 .type = T_LIST,
	 .flags = F_DAPP_ARTIFACT,
	 .off = IMG(shell.commands[CAIRN_CONFIG_STAGE_BUILD_ARTIFACT])},
	{.key = "cacheVersion",
	 .type = T_STR,
	 .flags = F_EMPTY_OK,
	 .off = IMG(shell.cache_version)},
	SHELL_VERSION("beforeInstallCacheVersion", CAIRN_CONFIG_STAGE_BEFORE_INSTALL),
	SHELL_VERSION("installCacheVersion", CAIRN_CONFIG_STAGE_INSTALL),
	SHELL_VERSION("beforeSetupCacheVersion", CAIRN_CONFIG_STAGE_BEFORE_SETUP),
	SHELL_VERSION("setupCacheVersion", CAIRN_CONFIG_STAGE_SETUP),
	{.key = "buildArtifactCacheVersion",
	 .type = T_STR,
	 .flags = F_EMPTY_OK | F_DAPP_ARTIFACT,
	 .off = IMG(shell.stage_cache_version[CAIRN_CONFIG_STAGE_BUILD_ARTIFACT])},
	{.key = NULL},
};

#define ANSIBLE_TASKS(k, stage)                                           \
	{                                                                 \
		.key = k, .type = T_FN, .off = IMG(ansible.tasks[stage]), \
		.fn = cfg_read_ansible_tasks                              \
	}
#define ANSIBLE_VERSION(k, stage)                              \
	{                                                      \
		.key = k, .type = T_STR, .flags = F_EMPTY_OK,  \
		.off = IMG(ansible.stage_cache_version[stage]) \
	}

static const struct field ansible_fields[] = {
	ANSIBLE_TASKS("beforeInstall", CAIRN_CONFIG_STAGE_BEFORE_INSTALL),
	ANSIBLE_TASKS("install", CAIRN_CONFIG_STAGE_INSTALL),
	ANSIBLE_TASKS("beforeSetup", CAIRN_CONFIG_STAGE_BEFORE_SETUP),
	ANSIBLE_TASKS("setup", CAIRN_CONFIG_STAGE_SETUP),
	{.key = "buildArtifact",
	 .type = T_FN,
	 .flags = F_DAPP_ARTIFACT,
	 .off = IMG(ansible.tasks[CAIRN_CONFIG_STAGE_BUILD_ARTIFACT]),
	 .fn = cfg_read_ansible_tasks},
	{.key = "cacheVersion",
	 .type = T_STR,
	 .flags = F_EMPTY_OK,
	 .off = IMG(ansible.cache_version)},
	ANSIBLE_VERSION("beforeInstallCacheVersion", CAIRN_CONFIG_STAGE_BEFORE_INSTALL),
	ANSIBLE_VERSION("installCacheVersion", CAIRN_CONFIG_STAGE_INSTALL),
	ANSIBLE_VERSION("beforeSetupCacheVersion", CAIRN_CONFIG_STAGE_BEFORE_SETUP),
	ANSIBLE_VERSION("setupCacheVersion", CAIRN_CONFIG_STAGE_SETUP),
	{.key = "buildArtifactCacheVersion",
	 .type = T_STR,
	 .flags = F_EMPTY_OK | F_DAPP_ARTIFACT,
	 .off = IMG(ansible.stage_cache_version[CAIRN_CONFIG_STAGE_BUILD_ARTIFACT])},
	{.key = NULL},
};

static const struct field import_fields[] = {
	{.key = "artifact", .type = T_STR, .off = IMP(artifact)},
	{.key = "image", .type = T_STR, .off = IMP(image)},
	{.key = "add", .type = T_STR, .flags = F_REQUIRED, .off = IMP(add), .check = check_abs},
	{.key = "to", .type = T_STR, .off = IMP(to), .check = check_abs},
	{.key = "owner", .type = T_STR, .off = IMP(owner)},
	{.key = "group", .type = T_STR, .off = IMP(group)},
	{.key = "includePaths", .type = T_LIST, .off = IMP(include_paths), .check = check_rel},
	{.key = "excludePaths", .type = T_LIST, .off = IMP(exclude_paths), .check = check_rel},
	{.key = "before", .type = T_STR, .off = IMP(before), .check = check_user_stage},
	{.key = "after", .type = T_STR, .off = IMP(after), .check = check_user_stage},
	{.key = "stage", .type = T_STR, .off = IMP(stage), .check = check_import_stage},
	{.key = NULL},
};

static const struct field mount_fields[] = {
	{.key = "to", .type = T_STR, .flags = F_REQUIRED, .off = MNT(to), .check = check_abs},
	{.key = "from", .type = T_STR, .off = MNT(from), .check = check_mount_from},
	{.key = "fromPath", .type = T_STR, .off = MNT(from_path), .check = check_host_path},
	{.key = NULL},
};

static const struct field image_fields[] = {
	{.key = "image", .type = T_NAME, .off = IMG(name)},
	{.key = "dimg", .type = T_NAME, .off = IMG(name)},
	{.key = "artifact", .type = T_NAME, .off = IMG(name)},
	{.key = "from", .type = T_STR, .off = IMG(from)},
	{.key = "fromImage", .type = T_STR, .off = IMG(from_image)},
	{.key = "fromDimg", .type = T_STR, .off = IMG(from_image)},
	{.key = "fromImageArtifact", .type = T_STR, .off = IMG(from_image_artifact)},
	{.key = "fromDimgArtifact", .type = T_STR, .off = IMG(from_image_artifact)},
	{.key = "fromCacheVersion",
	 .type = T_STR,
	 .flags = F_EMPTY_OK,
	 .off = IMG(from_cache_version)},
	{.key = "fromLatest", .type = T_BOOL, .off = IMG(from_latest)},
	{.key = "git",
	 .type = T_SEQ,
	 .off = IMG(git),
	 .count_off = IMG(n_git),
	 .elem_size = sizeof(struct cairn_config_git),
	 .sub = git_fields,
	 .fn = check_git},
	{.key = "shell", .type = T_MAP, .off = IMG(shell.pos), .sub = shell_fields},
	{.key = "import",
	 .type = T_SEQ,
	 .off = IMG(imports),
	 .count_off = IMG(n_imports),
	 .elem_size = sizeof(struct cairn_config_import),
	 .sub = import_fields,
	 .fn = check_import},
	{.key = "mount",
	 .type = T_SEQ,
	 .off = IMG(mounts),
	 .count_off = IMG(n_mounts),
	 .elem_size = sizeof(struct cairn_config_mount),
	 .sub = mount_fields,
	 .fn = check_mount},
	{.key = "docker",
	 .type = T_MAP,
	 .flags = F_NO_ARTIFACT,
	 .off = IMG(docker.pos),
	 .sub = cfg_docker_fields},
	ADMISSION("herebyIAdmitThatFromLatestMightBreakReproducibility"),
	{.key = "asLayers",
	 .type = T_SKIP,
	 .flags = F_IGNORED,
	 .fn = check_bool,
	 .note = "the files built are the same without it"},
	{.key = "ansible", .type = T_MAP, .off = IMG(ansible.pos), .sub = ansible_fields},
	LATER_WERF_IMAGE,
	LATER_WERF("disableGitAfterPatch"),
	{.key = NULL},
};

/* RUN's network, as `docker build --network` takes it */
static const char *check_network(const char *s, size_t len)
{
	static const char *const ok[] = {"default", "host", "none"};

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
		if (strlen(ok[i]) == len && memcmp(s, ok[i], len) == 0)
			return NULL;
	return "must be default, host or none";
}

/* `--add-host HOST:IP` */
static const char *check_add_host(const char *s, size_t len)
{
	const char *colon = memchr(s, ':', len);

	if (!colon || colon == s || colon + 1 == s + len || memchr(s, '\n', len) ||
	    memchr(s, ' ', len))
		return "must be HOST:IP";
	return NULL;
}

/* `--ssh default`: the build's ssh agent for RUN --mount=type=ssh */
static const char *check_ssh(const char *s, size_t len)
{
	return len == 7 && memcmp(s, "default", 7) == 0 ? NULL : "must be default";
}

#define DF(m) IMG(dockerfile.m)

/* The keys of a document with `dockerfile` (werf's rawImageFromDockerfile, v1.1 and v1.2). */
static const struct field dockerfile_image_fields[] = {
	{.key = "image", .type = T_NAME},
	{.key = "dockerfile",
	 .type = T_STR,
	 .flags = F_REQUIRED,
	 .off = DF(file),
	 .check = check_rel},
	{.key = "context", .type = T_STR, .off = DF(context), .check = check_rel},
	{.key = "target", .type = T_STR, .off = DF(target)},
	{.key = "args", .type = T_FN, .off = DF(args), .count_off = DF(n_args), .fn = cfg_read_kv},
	{.key = "addHost", .type = T_LIST, .off = DF(add_host), .check = check_add_host},
	{.key = "network", .type = T_STR, .off = DF(network), .check = check_network},
	{.key = "ssh", .type = T_STR, .off = DF(ssh), .check = check_ssh},
	{.key = "contextAddFiles",
	 .type = T_LIST,
	 .off = DF(context_add_files),
	 .check = check_rel},
	{.key = "contextAddFile", .type = T_LIST, .off = DF(context_add_files), .check = check_rel},
	LATER_WERF_IMAGE,
	LATER_WERF("staged"),
	{.key = NULL},
};

/* ---- documents ---- */

/* The value of top-level key `key` of mapping `map` as written (merges not looked at). */
static const struct ynode *raw_get(const struct ynode *map, const char *key)
{
	for (size_t i = 0; i + 1 < map->n_kids; i += 2)
		if (cfg_is(map->kids[i], key))
			return map->kids[i];
	return NULL;
}

static bool has_name_key(const struct ynode *root)
{
	return raw_get(root, "image") || raw_get(root, "dimg") || raw_get(root, "artifact");
}

static int read_meta(struct ctx *x, const struct ynode *root)
{
	if (!raw_get(root, "project") && has_name_key(root)) {
		size_t old = cfg_path_key(x, "project", 7);
		int ret = invalid(x, root->pos,
				  "missing: the first document must be the meta document "
				  "(project, configVersion)");

		cfg_path_pop(x, old);
		return ret;
	}
	return cfg_read_fields(x, root, meta_fields, x->cfg);
}

static struct cairn_config_image *new_image(struct ctx *x)
{
	struct cairn_config *c = x->cfg;
	struct cairn_config_image *img;

	c->images = xreallocarray(c->images, c->n_images + 1, sizeof(*c->images));
	x->keys = cfg_grow(x->keys, &x->alloc_keys, c->n_images + 1, sizeof(*x->keys));
	img = &c->images[c->n_images++];
	memset(img, 0, sizeof(*img));
	memset(&x->keys[c->n_images - 1], 0, sizeof(*x->keys));
	return img;
}

/* One image (or artifact) called `name` (NULL: unnamed) with the body of document `root`. */
static int read_image(struct ctx *x, const struct ynode *root, const char *name_key,
		      const struct ynode *name)
{
	struct cairn_config_str *from[3];
	const char *from_keys[3];
	struct cairn_config_image *img;
	struct image_keys *keys;
	int ret;

	if (x->cfg->n_images == CAIRN_CONFIG_IMAGES_MAX)
		return cfg_fail(x, CAIRN_ETOOBIG, name->pos, "more than %d images and artifacts",
				CAIRN_CONFIG_IMAGES_MAX);
	img = new_image(x);
	keys = &x->keys[x->cfg->n_images - 1];
	keys->name = name_key;
	keys->from_image = raw_get(root, "fromDimg") ? "fromDimg" : "fromImage";
	keys->from_artifact =
		raw_get(root, "fromDimgArtifact") ? "fromDimgArtifact" : "fromImageArtifact";
	img->artifact = x->artifact;
	img->pos = root->pos;
	img->name_pos = name->pos;
	if (!cfg_is_null(name))
		img->name = xmemdup(name->text, name->len + 1);
	if (raw_get(root, "dockerfile")) {
		/* werf reads such a document strictly as a Dockerfile image */
		if (x->artifact) {
			size_t old = cfg_path_key(x, "dockerfile", 10);

			ret = invalid(x, raw_get(root, "dockerfile")->pos,
				      "an artifact cannot be built from a Dockerfile");
			cfg_path_pop(x, old);
			return ret;
		}
		img->dockerfile.pos = raw_get(root, "dockerfile")->pos;
		return cfg_read_fields(x, root, dockerfile_image_fields, img);
	}
	ret = cfg_read_fields(x, root, image_fields, img);
	if (ret < 0)
		return ret;
	if (img->shell.pos.line && img->ansible.pos.line) {
		size_t old = cfg_path_key(x, "ansible", 7);

		ret = invalid(x, img->ansible.pos,
			      "cannot be used together with shell: an image "
			      "has shell or ansible stages");
		cfg_path_pop(x, old);
		return ret;
	}
	from[0] = &img->from;
	from[1] = &img->from_image;
	from[2] = &img->from_image_artifact;
	from_keys[0] = "from";
	from_keys[1] = keys->from_image;
	from_keys[2] = keys->from_artifact;
	return check_exclusive(x, from, from_keys, 3, true, root->pos);
}

static int check_image_name(struct ctx *x, const struct ynode *n)
{
	struct cairn_config_str s = {0};
	int ret;

	if (cfg_is_null(n))
		return invalid(x, n->pos, "must be a name");
	ret = cfg_read_str(x, n, &s, 0, x->artifact ? check_artifact_name : check_name);
	free(s.s);
	return ret;
}

static int read_image_document(struct ctx *x, const struct ynode *root)
{
	static const char *const name_keys[] = {"image", "dimg", "artifact"};
	CLEANUP(cfg_entries_release) struct entries e = {0};
	const struct entry *found = NULL;
	const char *name_key = NULL;
	const struct ynode *names;
	size_t old;
	int ret;

	ret = cfg_map_entries(x, root, &e);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < e.n; i++) {
		for (size_t k = 0; k < ARRAY_SIZE(name_keys); k++) {
			if (!cfg_is(e.v[i].key, name_keys[k]))
				continue;
			if (found) {
				old = cfg_path_key(x, name_keys[k], strlen(name_keys[k]));
				ret = invalid(x, e.v[i].key->pos, "cannot be used together with %s",
					      name_key);
				cfg_path_pop(x, old);
				return ret;
			}
			found = &e.v[i];
			name_key = name_keys[k];
		}
	}
	if (!found) {
		old = cfg_path_key(x, "image", 5);
		ret = invalid(x, root->pos,
			      "missing: each document after the first needs image or artifact");
		cfg_path_pop(x, old);
		return ret;
	}
	x->artifact = strcmp(name_key, "artifact") == 0;
	names = found->value;
	old = cfg_path_key(x, name_key, strlen(name_key));
	if (names->kind == Y_SEQ && !x->artifact) {
		if (!names->n_kids)
			return invalid(x, names->pos, "must name at least one image");
		for (size_t i = 0; i < names->n_kids; i++) {
			size_t old_i = cfg_path_index(x, i);

			ret = check_image_name(x, names->kids[i]);
			if (ret < 0)
				return ret;
			cfg_path_pop(x, old_i);
		}
	} else if (!cfg_is_null(names) || x->artifact) {
		ret = check_image_name(x, names);
		if (ret < 0)
			return ret;
	}
	cfg_path_pop(x, old);
	if (names->kind != Y_SEQ)
		return read_image(x, root, name_key, names);
	for (size_t i = 0; i < names->n_kids; i++) {
		ret = read_image(x, root, name_key, names->kids[i]);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int cfg_process_document(struct ctx *x, const struct ynode *root)
{
	int ret;

	if (cfg_is_null(root))
		return 0;
	if (root->kind != Y_MAP)
		return invalid(x, root->pos, "a document must be a mapping");
	if (!x->have_meta) {
		x->have_meta = true;
		/* the 2018 tool had no meta document: a dappfile may start with an image */
		if (x->dappfile && !raw_get(root, "project") && !raw_get(root, "configVersion") &&
		    has_name_key(root))
			ret = read_image_document(x, root);
		else
			ret = read_meta(x, root);
	} else {
		ret = read_image_document(x, root);
	}
	cfg_free_nodes(x);
	return ret;
}
