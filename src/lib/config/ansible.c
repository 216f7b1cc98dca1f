/* SPDX-License-Identifier: MIT */
/*
 * `ansible:` stages: the tasks of each user stage, kept as written (templates rendered first),
 * each checked against werf's list of modules (werf v1.1, pkg/config/raw_ansible_task.go).
 */
#include "common.h"
#include "config/config_internal.h"

/* werf's modules, in the order of its list; cairn_config_ansible_module() looks them up. */
static const char *const modules[] = {
	/* commands */
	"command",
	"shell",
	"raw",
	"script",
	/* crypto */
	"openssl_certificate",
	"openssl_csr",
	"openssl_privatekey",
	"openssl_publickey",
	/* files */
	"acl",
	"archive",
	"assemble",
	"blockinfile",
	"copy",
	"file",
	"replace",
	"find",
	"ini_file",
	"iso_extract",
	"lineinfile",
	"stat",
	"tempfile",
	"unarchive",
	"xattr",
	/* net tools */
	"get_url",
	"slurp",
	"uri",
	/* language packages */
	"bower",
	"bundler",
	"composer",
	"cpanm",
	"easy_install",
	"gem",
	"maven_artifact",
	"npm",
	"pear",
	"pip",
	"yarn",
	/* os packages */
	"apk",
	"apt",
	"apt_key",
	"apt_repository",
	"apt_rpm",
	"dnf",
	"dpkg_selections",
	"debconf",
	"homebrew",
	"homebrew_cask",
	"homebrew_tap",
	"layman",
	"macports",
	"openbsd_pkg",
	"opkg",
	"package",
	"pacman",
	"pkg5",
	"pkg5_publisher",
	"pkgin",
	"pkgng",
	"pkgutil",
	"portage",
	"portinstall",
	"pulp_repo",
	"redhat_subscription",
	"rhn_channel",
	"rhn_register",
	"rpm_key",
	"slackpkg",
	"sorcery",
	"svr4pkg",
	"swdepot",
	"swupd",
	"urpmi",
	"xbps",
	"yum",
	"yum_repository",
	"zypper",
	"zypper_repository",
	/* system */
	"cron",
	"user",
	"group",
	"getent",
	"locale_gen",
	"timezone",
	/* utilities */
	"meta",
	"assert",
	"debug",
	"fail",
	"set_fact",
	"wait_for",
};

/* The collections whose modules a task may name in full ("ansible.builtin.copy"). */
static const char *const collections[] = {
	"ansible.builtin.",
	"ansible.legacy.",
	"community.general.",
	"ansible.posix.",
};

/* Task keywords of ansible (not modules); `with_*` loops are recognised by their prefix. */
static const char *const keywords[] = {
	"action",	 "any_errors_fatal",
	"args",		 "async",
	"become",	 "become_exe",
	"become_flags",	 "become_method",
	"become_user",	 "changed_when",
	"check_mode",	 "collections",
	"connection",	 "debugger",
	"delay",	 "delegate_facts",
	"delegate_to",	 "diff",
	"environment",	 "failed_when",
	"ignore_errors", "ignore_unreachable",
	"local_action",	 "loop",
	"loop_control",	 "module_defaults",
	"name",		 "no_log",
	"notify",	 "poll",
	"port",		 "register",
	"remote_user",	 "retries",
	"run_once",	 "tags",
	"throttle",	 "timeout",
	"until",	 "vars",
	"when",
};

static bool in(const char *const *v, size_t n, const char *s, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(v[i]) == len && memcmp(v[i], s, len) == 0)
			return true;
	return false;
}

bool cairn_config_ansible_module(const char *key, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(collections); i++) {
		size_t n = strlen(collections[i]);

		if (len > n && memcmp(key, collections[i], n) == 0) {
			key += n;
			len -= n;
			break;
		}
	}
	return in(modules, ARRAY_SIZE(modules), key, len);
}

static bool is_keyword(const char *key, size_t len)
{
	return in(keywords, ARRAY_SIZE(keywords), key, len) ||
	       (len > 5 && !memcmp(key, "with_", 5));
}

static bool is_block_key(const struct ynode *k)
{
	return cfg_is(k, "block") || cfg_is(k, "rescue") || cfg_is(k, "always");
}

static int check_tasks(struct ctx *x, const struct ynode *n);

/* One task: exactly one module of the list, or a block (block, rescue, always) of tasks. */
static int check_task(struct ctx *x, const struct ynode *n)
{
	CLEANUP(cfg_entries_release) struct entries e = {0};
	const struct ynode *module = NULL, *unknown = NULL;
	bool block = false;
	int ret;

	if (n->kind != Y_MAP)
		return invalid(x, n->pos, "must be a task: a mapping with a module");
	ret = cfg_map_entries(x, n, &e);
	for (size_t i = 0; ret == 0 && i < e.n; i++) {
		const struct ynode *k = e.v[i].key;
		size_t old;

		if (is_block_key(k)) {
			block = true;
			old = cfg_path_key(x, k->text, k->len);
			ret = check_tasks(x, e.v[i].value);
			cfg_path_pop(x, old);
		} else if (cairn_config_ansible_module(k->text, k->len)) {
			if (module)
				return invalid(x, k->pos, "a task runs one module: '%s' and '%s'",
					       module->text, k->text);
			module = k;
		} else if (!is_keyword(k->text, k->len) && !unknown) {
			unknown = k;
		}
	}
	if (ret < 0 || block || module)
		return ret;
	if (unknown)
		return invalid(x, unknown->pos,
			       "module '%.*s' is not supported (werf's list of ansible modules: "
			       "docs/ansible.md)",
			       SHOWN_MAX, unknown->text);
	return invalid(x, n->pos, "the task names no module");
}

static int check_tasks(struct ctx *x, const struct ynode *n)
{
	int ret = 0;

	if (cfg_is_null(n))
		return 0;
	if (n->kind != Y_SEQ)
		return invalid(x, n->pos, "must be a list of tasks");
	for (size_t i = 0; ret == 0 && i < n->n_kids; i++) {
		size_t old = cfg_path_index(x, i);

		ret = check_task(x, n->kids[i]);
		if (ret == 0)
			cfg_path_pop(x, old);
	}
	return ret;
}

/* `ansible.<stage>`: its tasks, checked, kept as written. */
int cfg_read_ansible_tasks(struct ctx *x, const struct field *f, const struct ynode *n, void *base)
{
	struct cairn_config_value *v = AT(base, f->off);
	int ret = check_tasks(x, n);

	if (ret < 0)
		return ret;
	cfg_value_release(v);
	return cfg_copy_value(x, v, n);
}
