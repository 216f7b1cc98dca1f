/* SPDX-License-Identifier: MIT */
/* publish, build-and-publish and the dimg push/bp/spush commands of the seeds. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn/build.h"
#include "cairn/publish.h"
#include "cairn/ref.h"
#include "cairn/tags.h"
#include "cli.h"

enum mode {
	MODE_PUBLISH,		/* cairn publish [IMAGE...] --images-repo REPO */
	MODE_BUILD_AND_PUBLISH, /* cairn build-and-publish [IMAGE...] --images-repo REPO */
	MODE_DIMG_PUSH,		/* cairn dimg push [DIMG...] REPO */
	MODE_DIMG_BP,		/* cairn dimg bp [DIMG...] REPO */
	MODE_DIMG_SPUSH,	/* cairn dimg spush [DIMG] REPO */
};

enum {
	OPT_IMAGES_REPO = 2200,
	OPT_WITH_STAGES,
	OPT_DIR,
	OPT_CONFIG,
	OPT_RUNTIME,
	OPT_REPORT,
	OPT_MANIFEST_FORMAT,
	OPT_STAGES_STORAGE,
	OPT_TAG_BASE = 2300, /* + enum cairn_tag_option */
};

static const char *const tag_option_names[] = {
	"tag",		"tag-slug",   "tag-custom",
	"tag-plain",	"tag-branch", "tag-git-branch",
	"tag-git-tag",	"tag-commit", "tag-git-commit",
	"tag-build-id", "tag-ci",
};

static const char *cmd_name(enum mode m)
{
	static const char *const names[] = {"publish", "build-and-publish", "dimg push", "dimg bp",
					    "dimg spush"};

	return names[m];
}

static int run(enum mode m, int argc, char **argv, struct cli_ctx *ctx)
{
	struct option own[9 + sizeof(tag_option_names) / sizeof(tag_option_names[0]) + 1];
	struct cairn_build_opts bo = CAIRN_BUILD_OPTS_INIT;
	struct cairn_publish_opts po = CAIRN_PUBLISH_OPTS_INIT;
	struct cairn_tag_context tctx = {0};
	struct cli_registry_args ra = {0};
	struct cairn_tag_request *req = NULL;
	struct cairn_build_result *res = NULL;
	struct cairn_store *st = NULL;
	struct cairn_error *err = NULL;
	struct cairn_tag *tags = NULL;
	struct cli_progress ps = {.verb = "push"};
	struct cairn_ref check = CAIRN_REF_INIT;
	const char *cmd = cmd_name(m), *repo = NULL, *report = NULL, *format = NULL;
	char commit[41] = "";
	char *branch = NULL, *home = NULL;
	size_t n_req = 0, n_tags = 0, n_own = 0, n_pos;
	char **pos;
	struct cli_args a;
	int c, ret = CLI_EXIT_OK, quiet, build = m == MODE_BUILD_AND_PUBLISH || m == MODE_DIMG_BP;

	if (m == MODE_PUBLISH || m == MODE_BUILD_AND_PUBLISH)
		own[n_own++] =
			(struct option){"images-repo", required_argument, NULL, OPT_IMAGES_REPO};
	if (m != MODE_DIMG_SPUSH)
		own[n_own++] = (struct option){"with-stages", no_argument, NULL, OPT_WITH_STAGES};
	own[n_own++] = (struct option){"dir", required_argument, NULL, OPT_DIR};
	own[n_own++] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
	own[n_own++] = (struct option){"report", required_argument, NULL, OPT_REPORT};
	own[n_own++] =
		(struct option){"manifest-format", required_argument, NULL, OPT_MANIFEST_FORMAT};
	if (build)
		own[n_own++] = (struct option){"runtime", required_argument, NULL, OPT_RUNTIME};
	if (m == MODE_BUILD_AND_PUBLISH)
		own[n_own++] = (struct option){"stages-storage", required_argument, NULL,
					       OPT_STAGES_STORAGE};
	for (size_t i = 0; i < sizeof(tag_option_names) / sizeof(tag_option_names[0]); i++) {
		enum cairn_tag_option opt;
		int takes;

		cairn_tag_option_parse(&opt, &takes, tag_option_names[i]);
		own[n_own++] = (struct option){tag_option_names[i],
					       takes ? required_argument : no_argument, NULL,
					       OPT_TAG_BASE + (int)opt};
	}
	own[n_own] = (struct option){NULL, 0, NULL, 0};
	req = calloc((size_t)argc + 1, sizeof(*req));
	if (!req)
		abort();
	cli_args_init(&a, argc, argv, own, cli_registry_options);
	/* options may follow the operands, as in the seeds' examples: GNU argument order */
	while ((c = getopt_long(a.argc, a.argv, ":j:" CLI_COMMON_SHORTOPTS, a.opts, NULL)) != -1) {
		int r = cli_common_opt(ctx, cmd, c, optarg);

		if (r == CLI_COMMON_EXIT)
			goto out;
		if (r)
			continue;
		r = cli_registry_opt(&po.image, &ra, cmd, c, optarg, &ret);
		if (r < 0)
			goto out;
		if (r)
			continue;
		if (c >= OPT_TAG_BASE && c < OPT_TAG_BASE + 100) {
			req[n_req].option = (enum cairn_tag_option)(c - OPT_TAG_BASE);
			req[n_req].value = optarg;
			n_req++;
			continue;
		}
		switch (c) {
		case OPT_IMAGES_REPO:
			repo = optarg;
			break;
		case OPT_WITH_STAGES:
			po.with_stages = 1;
			break;
		case OPT_DIR:
			bo.dir = optarg;
			break;
		case OPT_CONFIG:
			bo.config_file = optarg;
			break;
		case OPT_RUNTIME:
			bo.runtime = optarg;
			break;
		case OPT_REPORT:
			report = optarg;
			break;
		case OPT_MANIFEST_FORMAT:
			format = optarg;
			break;
		case OPT_STAGES_STORAGE:
			bo.stages_storage = cli_stages_storage(optarg);
			break;
		default:
			ret = cli_bad_option(cmd, c, a.argv);
			goto out;
		}
	}
	if (cli_registry_finish(&po.image, &ra, cmd, &ret) < 0)
		goto out;
	cli_ctx_finish(ctx);
	pos = a.argv + optind;
	n_pos = (size_t)(a.argc - optind);
	if (m == MODE_PUBLISH || m == MODE_BUILD_AND_PUBLISH) {
		if (!repo) {
			ret = cli_usage_error(cmd, "missing --images-repo REPO");
			goto out;
		}
	} else {
		if (n_pos == 0 || (m == MODE_DIMG_SPUSH && n_pos > 2)) {
			ret = cli_usage_error(cmd, n_pos ? "spush takes one DIMG and REPO"
							 : "missing REPO");
			goto out;
		}
		repo = pos[--n_pos];
	}
	if (cairn_repo_parse(&check, repo, &err) < 0) {
		ret = cli_usage_error(cmd, "%s", err->msg);
		cairn_error_free(err);
		goto out;
	}
	if (format && strcmp(format, "oci") != 0 && strcmp(format, "docker") != 0) {
		ret = cli_usage_error(cmd, "invalid --manifest-format '%s' (want docker or oci)",
				      format);
		goto out;
	}
	po.oci = format && strcmp(format, "oci") == 0;
	po.repo = repo;
	po.as_is = m == MODE_DIMG_SPUSH;
	po.stage_prefix =
		m >= MODE_DIMG_PUSH ? CAIRN_STAGE_PREFIX_DIMG : CAIRN_STAGE_PREFIX_PUBLISH;
	if (cairn_project_git_head(commit, &branch, bo.dir ? bo.dir : ".", &err) == 0) {
		tctx.git_commit = commit;
		tctx.git_branch = branch;
	}
	cairn_error_clear(&err);
	if (cairn_tags_resolve(&tags, &n_tags, req, n_req, &tctx, &err) < 0) {
		ret = cli_usage_error(cmd, "%s", err->msg);
		cairn_error_free(err);
		goto out;
	}
	po.tags = tags;
	po.n_tags = n_tags;
	home = cli_home(ctx, &err);
	if (!home) {
		ret = cli_fail(err);
		goto out;
	}
	quiet = ctx->verbosity < 0;
	bo.home = home;
	bo.images = (const char *const *)pos;
	bo.n_images = n_pos;
	bo.pull = po.image;
	bo.no_build = !build;
	if (m == MODE_DIMG_BP && po.with_stages) {
		/* seeds: bp --with-stages makes REPO the stages storage of the build */
		bo.stages_storage = repo;
		bo.stages_prefix = CAIRN_STAGE_PREFIX_DIMG;
	}
	bo.event = build ? cli_on_build_event : NULL;
	bo.event_ud = &quiet;
	if (cairn_build(&res, &bo, &err) < 0) {
		ret = cli_fail(err);
		goto out;
	}
	if (m == MODE_DIMG_SPUSH && n_pos == 0) {
		size_t images = 0;

		for (size_t i = 0; i < res->n_images; i++)
			images += !res->images[i].artifact;
		if (images != 1) {
			ret = cli_usage_error(cmd, "spush needs exactly one DIMG");
			goto out;
		}
	}
	if (report && cairn_build_result_write_json(res, report, &err) < 0) {
		ret = cli_fail(err);
		goto out;
	}
	if (cli_store_open(&st, home, &err) < 0) {
		ret = cli_fail(err);
		goto out;
	}
	ps.tty = isatty(STDERR_FILENO);
	ps.quiet = quiet;
	po.image.progress = cli_on_progress;
	po.image.progress_ud = &ps;
	ret = cairn_publish(st, res, &po, &err);
	cli_progress_end(&ps);
	if (ret < 0) {
		ret = cli_fail(err);
		goto out;
	}
	ret = CLI_EXIT_OK;
out:
	cairn_store_free(st);
	cairn_build_result_free(res);
	cairn_tags_free(tags, n_tags);
	cairn_ref_release(&check);
	free(branch);
	free(home);
	free(req);
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
static int stages_pull(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option own[] = {
		{"all", no_argument, NULL, 'a'},
		{"dir", required_argument, NULL, OPT_DIR},
		{"config", required_argument, NULL, OPT_CONFIG},
		{NULL, 0, NULL, 0},
	};
	struct cairn_build_opts bo = CAIRN_BUILD_OPTS_INIT;
	struct cairn_image_opts io = CAIRN_IMAGE_OPTS_INIT;
	struct cli_registry_args ra = {0};
	struct cairn_build_result *res = NULL;
	struct cairn_store *st = NULL;
	struct cairn_error *err = NULL;
	struct cairn_ref check = CAIRN_REF_INIT;
	struct cli_progress ps = {.verb = "pull"};
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
		r = cli_registry_opt(&io, &ra, "dimg", c, optarg, &ret);
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
		else {
			ret = cli_bad_option("dimg", c, a.argv);
			goto out;
		}
	}
	if (cli_registry_finish(&io, &ra, "dimg", &ret) < 0)
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
	home = cli_home(ctx, &err);
	if (!home) {
		ret = cli_fail(err);
		goto out;
	}
	bo.home = home;
	bo.images = (const char *const *)a.argv + optind;
	bo.n_images = n_pos - 1;
	bo.pull = io;
	bo.no_build = 1;
	bo.stop_at_missing = 1;
	bo.stages_storage = repo;
	if (cairn_build(&res, &bo, &err) < 0) {
		ret = cli_fail(err);
		goto out;
	}
	if (cli_store_open(&st, home, &err) < 0) {
		ret = cli_fail(err);
		goto out;
	}
	ps.tty = isatty(STDERR_FILENO);
	ps.quiet = ctx->verbosity < 0;
	io.progress = cli_on_progress;
	io.progress_ud = &ps;
	for (size_t i = 0; i < res->n_images; i++) {
		const struct cairn_build_image *im = &res->images[i];
		size_t first = all || im->n_stages == 0 ? 0 : im->n_stages - 1;

		for (size_t k = first; k < im->n_stages; k++) {
			static const char *const prefixes[] = {CAIRN_STAGE_PREFIX_DIMG,
							       CAIRN_STAGE_PREFIX_PUBLISH};
			char *name = NULL;
			int r = CAIRN_ENOTFOUND;

			if (asprintf(&name, "%s:%s", res->project, im->stages[k].signature) < 0)
				abort();
			for (size_t p = 0; p < 2 && r == CAIRN_ENOTFOUND; p++) {
				char *src = NULL;

				if (asprintf(&src, "%s:%s%s", repo, prefixes[p],
					     im->stages[k].signature) < 0)
					abort();
				cairn_error_clear(&err);
				r = cairn_image_pull(st, src, name, &io, NULL, &err);
				free(src);
			}
			free(name);
			if (r < 0) {
				cli_progress_end(&ps);
				ret = cli_fail(err);
				goto out;
			}
			printf("%s %s %s\n", im->name ? im->name : "~", im->stages[k].name,
			       im->stages[k].signature);
		}
	}
	cli_progress_end(&ps);
out:
	cairn_store_free(st);
	cairn_build_result_free(res);
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
	if (strcmp(argv[1], "stages") == 0) {
		if (argc < 3 || strcmp(argv[2], "pull") != 0)
			return cli_usage_error("dimg",
					       "unknown 'dimg stages' subcommand (want pull)");
		return stages_pull(argc - 2, argv + 2, ctx);
	}
	return cli_usage_error(
		"dimg", "unknown subcommand '%s' (want push, bp, spush or stages pull)", argv[1]);
}
