/* SPDX-License-Identifier: MIT */
/* publish, build-and-publish and the dimg push/bp/spush commands of the seeds. */
#define _GNU_SOURCE
#include <assert.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn/build.h"
#include "cairn/publish.h"
#include "cairn/oci.h"
#include "cairn/tags.h"
#include "cairn/report.h"
#include "cli.h"

enum mode {
	MODE_PUBLISH,		/* cairn publish [IMAGE...] --images-repo REPO */
	MODE_BUILD_AND_PUBLISH, /* cairn build-and-publish [IMAGE...] --images-repo REPO */
	MODE_DIMG_PUSH,		/* cairn dimg push [DIMG...] REPO */
	MODE_DIMG_BP,		/* cairn dimg bp [DIMG...] REPO */
	MODE_DIMG_SPUSH,	/* cairn dimg spush [DIMG] REPO */
};

enum {
	OPT_IMAGES_REPO = 'i',
	OPT_STAGES_STORAGE = 's',
	OPT_WITH_STAGES = 2200,
	OPT_DIR,
	OPT_CONFIG,
	OPT_TEMPLATES_DIR,
	OPT_RUNTIME,
	OPT_REPORT,
	OPT_REPORT_FORMAT,
	OPT_MANIFEST_FORMAT,
	OPT_REPO_MODE,
	OPT_REPO_IMPLEMENTATION,
	OPT_SSH_KEY,
	OPT_DRY_RUN,
	OPT_TAG_BASE = 2300, /* + enum cairn_tag_option */
};

static const char *const tag_option_names[] = {
	"tag",		"tag-slug",   "tag-custom",
	"tag-plain",	"tag-branch", "tag-git-branch",
	"tag-git-tag",	"tag-commit", "tag-git-commit",
	"tag-build-id", "tag-ci",     "tag-by-stages-signature",
};

static const char *cmd_name(enum mode m)
{
	static const char *const names[] = {"publish", "build-and-publish", "dimg push", "dimg bp",
					    "dimg spush"};

	return names[m];
}

/* Room for the options of any command below, the NULL entry included. */
#define OWN_OPTIONS_MAX (40 + sizeof(tag_option_names) / sizeof(tag_option_names[0]))

/* The options of command `m` (registry options come from cli_registry_options). */
static size_t own_options(struct option *own, enum mode m)
{
	size_t n = 0;

	if (m == MODE_PUBLISH || m == MODE_BUILD_AND_PUBLISH) {
		own[n++] = (struct option){"images-repo", required_argument, NULL, OPT_IMAGES_REPO};
		own[n++] =
			(struct option){"images-repo-mode", required_argument, NULL, OPT_REPO_MODE};
		/* werf's registry implementations: cairn speaks the same API to all of them */
		own[n++] = (struct option){"images-repo-implementation", required_argument, NULL,
					   OPT_REPO_IMPLEMENTATION};
		own[n++] = (struct option){"repo-implementation", required_argument, NULL,
					   OPT_REPO_IMPLEMENTATION};
	}
	if (m != MODE_DIMG_SPUSH)
		own[n++] = (struct option){"with-stages", no_argument, NULL, OPT_WITH_STAGES};
	own[n++] = (struct option){"dir", required_argument, NULL, OPT_DIR};
	own[n++] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
	own[n++] =
		(struct option){"config-templates-dir", required_argument, NULL, OPT_TEMPLATES_DIR};
	own[n++] = (struct option){"report", required_argument, NULL, OPT_REPORT};
	own[n++] = (struct option){"report-path", required_argument, NULL, OPT_REPORT};
	own[n++] = (struct option){"report-format", required_argument, NULL, OPT_REPORT_FORMAT};
	own[n++] = (struct option){"dry-run", no_argument, NULL, OPT_DRY_RUN};
	own[n++] = (struct option){"manifest-format", required_argument, NULL, OPT_MANIFEST_FORMAT};
	own[n++] = (struct option){"ssh-key", required_argument, NULL, OPT_SSH_KEY};
	if (m == MODE_BUILD_AND_PUBLISH || m == MODE_DIMG_BP)
		own[n++] = (struct option){"runtime", required_argument, NULL, OPT_RUNTIME};
	if (m == MODE_BUILD_AND_PUBLISH)
		own[n++] = (struct option){"stages-storage", required_argument, NULL,
					   OPT_STAGES_STORAGE};
	if (m == MODE_PUBLISH || m == MODE_BUILD_AND_PUBLISH) {
		static const struct option df[] = {CLI_DOCKERFILE_OPTIONS};

		for (size_t i = 0; i < sizeof(df) / sizeof(df[0]); i++)
			own[n++] = df[i];
	}
	for (size_t i = 0; i < sizeof(tag_option_names) / sizeof(tag_option_names[0]); i++) {
		enum cairn_tag_option opt;
		int takes;

		cairn_tag_option_parse(&opt, &takes, tag_option_names[i]);
		own[n++] = (struct option){tag_option_names[i],
					   takes ? required_argument : no_argument, NULL,
					   OPT_TAG_BASE + (int)opt};
	}
	assert(n < OWN_OPTIONS_MAX);
	own[n] = (struct option){NULL, 0, NULL, 0};
	return n;
}

/* werf's short options: -i for --images-repo, -s for --stages-storage. */
static const char *short_options(enum mode m)
{
	if (m == MODE_BUILD_AND_PUBLISH)
		return ":j:i:s:" CLI_COMMON_SHORTOPTS;
	if (m == MODE_PUBLISH)
		return ":j:i:" CLI_COMMON_SHORTOPTS;
	return ":j:" CLI_COMMON_SHORTOPTS;
}

/* One option of the plan; 0, or -1 (a usage error: *ret is the exit status). */
/* Options checked once all are read. */
struct plan_words {
	const char *format;    /* --manifest-format */
	const char *repo_mode; /* --images-repo-mode */
	const char *repo_impl; /* --images-repo-implementation */
	const char *report_format;
};

static int plan_opt(struct cairn_publish_plan *p, struct cairn_tag_request *req, const char *cmd,
		    int c, struct plan_words *w, int *ret, char **argv)
{
	struct cairn_tag_request *r = req + p->n_tags;

	if (c >= OPT_TAG_BASE && c < OPT_TAG_BASE + 100) {
		r->option = (enum cairn_tag_option)(c - OPT_TAG_BASE);
		r->value = optarg;
		p->n_tags++;
		return 0;
	}
	switch (c) {
	case OPT_IMAGES_REPO:
		p->publish.repo = optarg;
		return 0;
	case OPT_WITH_STAGES:
		p->publish.with_stages = 1;
		return 0;
	case OPT_DIR:
		p->build.dir = optarg;
		return 0;
	case OPT_CONFIG:
		p->build.config_file = optarg;
		return 0;
	case OPT_TEMPLATES_DIR:
		p->build.config_templates_dir = optarg;
		return 0;
	case OPT_RUNTIME:
		p->build.runtime = optarg;
		return 0;
	case OPT_REPORT:
		p->report = optarg;
		return 0;
	case OPT_MANIFEST_FORMAT:
		w->format = optarg;
		return 0;
	case OPT_REPORT_FORMAT:
		w->report_format = optarg;
		return 0;
	case OPT_DRY_RUN:
		p->dry_run = 1;
		return 0;
	case OPT_STAGES_STORAGE:
		p->build.stages_storage = cli_stages_storage(optarg);
		return 0;
	case OPT_REPO_MODE:
		w->repo_mode = optarg;
		return 0;
	case OPT_REPO_IMPLEMENTATION:
		w->repo_impl = optarg;
		return 0;
	default:
		*ret = cli_bad_option(cmd, c, argv);
		return -1;
	}
}

/*
 * REPO (an operand for the dimg commands), its mode, and --manifest-format; -1 for a usage
 * error.
 */
static int plan_check(struct cairn_publish_plan *p, enum mode m, const char *cmd, char **pos,
		      size_t *n_pos, const struct plan_words *w, int *ret)
{
	const char *format = w->format;
	struct cairn_ref check = CAIRN_REF_INIT;
	struct cairn_error *err = NULL;

	if (m != MODE_PUBLISH && m != MODE_BUILD_AND_PUBLISH) {
		if (*n_pos == 0 || (m == MODE_DIMG_SPUSH && *n_pos > 2)) {
			*ret = cli_usage_error(cmd, *n_pos ? "spush takes one DIMG and REPO"
							   : "missing REPO");
			return -1;
		}
		p->publish.repo = pos[--*n_pos];
	}
	if (!p->publish.repo) {
		*ret = cli_usage_error(cmd, "missing --images-repo REPO");
		return -1;
	}
	if (cairn_repo_parse(&check, p->publish.repo, &err) < 0 ||
	    cairn_repo_mode_resolve(&p->publish.repo_mode, w->repo_mode, w->repo_impl, &check,
				    &err) < 0) {
		*ret = cli_usage_error(cmd, "%s", err->msg);
		cairn_error_free(err);
		cairn_ref_release(&check);
		return -1;
	}
	cairn_ref_release(&check);
	if (format && strcmp(format, "oci") != 0 && strcmp(format, "docker") != 0) {
		*ret = cli_usage_error(cmd, "invalid --manifest-format '%s' (want docker or oci)",
				       format);
		return -1;
	}
	p->publish.oci = format && strcmp(format, "oci") == 0;
	if (w->report_format) {
		enum cairn_report_format rf;

		if (cairn_report_format_parse(&rf, w->report_format, &err) < 0) {
			*ret = cli_usage_error(cmd, "%s", err->msg);
			cairn_error_free(err);
			return -1;
		}
		p->report_format = (int)rf;
	}
	return 0;
}

/* --dry-run: each reference a publish would write, on stdout. */
static void print_would_push(const struct cairn_published_ref *r, void *ud)
{
	if (!*(int *)ud)
		printf("[WOULD PUSH] %s\n", r->ref);
}

static int run(enum mode m, int argc, char **argv, struct cli_ctx *ctx)
{
	struct option own[OWN_OPTIONS_MAX];
	struct cairn_publish_plan p = CAIRN_PUBLISH_PLAN_INIT;
	struct cli_registry_args ra = {0};
	struct cairn_tag_request *req = NULL;
	struct cairn_error *err = NULL;
	struct cli_progress ps = {0};
	struct cairn_ssh_agent *agent = NULL;
	const char *cmd = cmd_name(m), **keys = NULL;
	struct plan_words w = {0};
	struct cli_dockerfile df = {0};
	char *home = NULL;
	size_t n_pos, n_keys = 0;
	char **pos;
	struct cli_args a;
	int c, ret = CLI_EXIT_OK, quiet;

	own_options(own, m);
	cli_args_init(&a, argc, argv, own, cli_registry_options);
	/* one slot per argument, those the environment adds included */
	req = calloc((size_t)a.argc + 1, sizeof(*req));
	if (!req)
		abort();
	keys = calloc((size_t)a.argc, sizeof(*keys));
	if (!keys)
		abort();
	/* options may follow the operands, as in the seeds' examples: GNU argument order */
	while ((c = getopt_long(a.argc, a.argv, short_options(m), a.opts, NULL)) != -1) {
		int r = cli_common_opt(ctx, cmd, c, optarg);

		if (r == CLI_COMMON_EXIT)
			goto out;
		if (r)
			continue;
		r = cli_registry_opt(&p.publish.image, &ra, cmd, c, optarg, &ret);
		if (r < 0)
			goto out;
		if (r == 0 && c == OPT_SSH_KEY)
			keys[n_keys++] = optarg;
		else if (r == 0 && cli_dockerfile_opt(&df, c, optarg))
			continue;
		else if (r == 0 && plan_opt(&p, req, cmd, c, &w, &ret, a.argv) < 0)
			goto out;
	}
	if (cli_registry_finish(&p.publish.image, &ra, cmd, &ret) < 0)
		goto out;
	cli_ctx_finish(ctx);
	pos = a.argv + optind;
	n_pos = (size_t)(a.argc - optind);
	if (cli_dockerfile_finish(&df, &p.build, cmd, pos, &n_pos, &ret) < 0)
		goto out;
	if (plan_check(&p, m, cmd, pos, &n_pos, &w, &ret) < 0)
		goto out;
	{
		const char *refs[] = {p.publish.repo, p.build.stages_storage};

		cli_credential_hosts(&p.publish.image, &ra, refs, 2);
	}
	home = cli_home(ctx, &err);
	if (!home) {
		ret = cli_fail(err);
		goto out;
	}
	if (cli_ssh_agent(&agent, keys, n_keys, &err) < 0) {
		ret = cli_fail(err);
		goto out;
	}
	quiet = ctx->verbosity < 0;
	p.tags = req;
	p.build.ssh_auth_sock = getenv("SSH_AUTH_SOCK");
	p.publish.as_is = m == MODE_DIMG_SPUSH;
	p.publish.stage_prefix =
		m >= MODE_DIMG_PUSH ? CAIRN_STAGE_PREFIX_DIMG : CAIRN_STAGE_PREFIX_PUBLISH;
	p.build_first = m == MODE_BUILD_AND_PUBLISH || m == MODE_DIMG_BP;
	p.stages_in_repo = m == MODE_DIMG_BP && p.publish.with_stages;
	p.build.home = home;
	p.build.images = (const char *const *)pos;
	p.build.n_images = n_pos;
	p.build.event = p.build_first || p.dry_run ? cli_on_build_event : NULL;
	if (p.dry_run) {
		p.published = print_would_push;
		p.published_ud = &quiet;
	}
	p.build.event_ud = &quiet;
	cli_progress_init(&ps, quiet);
	p.publish.image.progress = cli_on_progress;
	p.publish.image.progress_ud = &ps;
	ret = cairn_publish_run(&p, &err);
	cli_progress_end(&ps);
	ret = ret < 0 ? cli_fail_cmd(cmd, err) : CLI_EXIT_OK;
out:
	cairn_ssh_agent_free(agent);
	free(keys);
	free(home);
	free(req);
	cli_dockerfile_release(&df);
	cli_registry_args_release(&ra);
	cli_args_release(&a);
	return ret;
}

int cmd_publish(int argc, char **argv, struct cli_ctx *ctx)
{
	return run(MODE_PUBLISH, argc, argv, ctx);
}

int cmd_build_and_publish(int argc, char **argv, struct cli_ctx *ctx)
{
	return run(MODE_BUILD_AND_PUBLISH, argc, argv, ctx);
}

/* cairn dimg stages pull [--all] [DIMG...] REPO: stages from REPO into the store, layers too. */
static void print_pulled(const char *image, const char *stage, const char *signature, void *ud)
{
	(void)ud;
	printf("%s %s %s\n", image, stage, signature);
}

static int stages_pull(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option own[] = {
		{"all", no_argument, NULL, 'a'},
		{"dir", required_argument, NULL, OPT_DIR},
		{"config", required_argument, NULL, OPT_CONFIG},
		{"config-templates-dir", required_argument, NULL, OPT_TEMPLATES_DIR},
		{NULL, 0, NULL, 0},
	};
	struct cairn_build_opts bo = CAIRN_BUILD_OPTS_INIT;
	struct cli_registry_args ra = {0};
	struct cairn_error *err = NULL;
	struct cairn_ref check = CAIRN_REF_INIT;
	struct cli_progress ps = {0};
	char *home = NULL;
	const char *repo;
	int c, all = 0, ret = CLI_EXIT_OK;
	struct cli_args a;
	size_t n_pos;

	cli_args_init(&a, argc, argv, own, cli_registry_options);
	while ((c = getopt_long(a.argc, a.argv, ":aj:" CLI_COMMON_SHORTOPTS, a.opts, NULL)) != -1) {
		int r = cli_common_opt(ctx, "dimg", c, optarg);

		if (r == CLI_COMMON_EXIT)
			goto out;
		if (r)
			continue;
		r = cli_registry_opt(&bo.pull, &ra, "dimg", c, optarg, &ret);
		if (r < 0)
			goto out;
		if (r)
			continue;
		if (c == 'a')
			all = 1;
		else if (c == OPT_DIR)
			bo.dir = optarg;
		else if (c == OPT_CONFIG)
			bo.config_file = optarg;
		else if (c == OPT_TEMPLATES_DIR)
			bo.config_templates_dir = optarg;
		else {
			ret = cli_bad_option("dimg", c, a.argv);
			goto out;
		}
	}
	if (cli_registry_finish(&bo.pull, &ra, "dimg", &ret) < 0)
		goto out;
	cli_ctx_finish(ctx);
	n_pos = (size_t)(a.argc - optind);
	if (n_pos == 0) {
		ret = cli_usage_error("dimg", "missing REPO");
		goto out;
	}
	repo = a.argv[optind + n_pos - 1];
	if (cairn_repo_parse(&check, repo, &err) < 0) {
		ret = cli_usage_error("dimg", "%s", err->msg);
		cairn_error_free(err);
		goto out;
	}
	cli_credential_hosts(&bo.pull, &ra, &repo, 1);
	home = cli_home(ctx, &err);
	if (!home) {
		ret = cli_fail(err);
		goto out;
	}
	bo.home = home;
	bo.images = (const char *const *)a.argv + optind;
	bo.n_images = n_pos - 1;
	cli_progress_init(&ps, ctx->verbosity < 0);
	bo.pull.progress = cli_on_progress;
	bo.pull.progress_ud = &ps;
	ret = cairn_stages_pull(&bo, repo, all, print_pulled, NULL, &err);
	cli_progress_end(&ps);
	ret = ret < 0 ? cli_fail(err) : CLI_EXIT_OK;
out:
	cairn_ref_release(&check);
	free(home);
	cli_registry_args_release(&ra);
	cli_args_release(&a);
	return ret;
}

int cmd_dimg(int argc, char **argv, struct cli_ctx *ctx)
{
	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
			return cli_help_for("dimg");
		return cli_usage_error("dimg",
				       "missing subcommand (push, bp, spush or stages pull)");
	}
	if (strcmp(argv[1], "push") == 0)
		return run(MODE_DIMG_PUSH, argc - 1, argv + 1, ctx);
	if (strcmp(argv[1], "bp") == 0)
		return run(MODE_DIMG_BP, argc - 1, argv + 1, ctx);
	if (strcmp(argv[1], "spush") == 0)
		return run(MODE_DIMG_SPUSH, argc - 1, argv + 1, ctx);
	if (strcmp(argv[1], "cleanup") == 0 || strcmp(argv[1], "flush") == 0)
		return cmd_dimg_cleanup(argc - 1, argv + 1, ctx, false);
	if (strcmp(argv[1], "stages") == 0) {
		if (argc >= 3 && (strcmp(argv[2], "cleanup") == 0 || strcmp(argv[2], "flush") == 0))
			return cmd_dimg_cleanup(argc - 2, argv + 2, ctx, true);
		if (argc < 3 || strcmp(argv[2], "pull") != 0)
			return cli_usage_error(
				"dimg",
				"unknown 'dimg stages' subcommand (want pull, cleanup or flush)");
		return stages_pull(argc - 2, argv + 2, ctx);
	}
	return cli_usage_error(
		"dimg", "unknown subcommand '%s' (want push, bp, spush or stages pull)", argv[1]);
}
