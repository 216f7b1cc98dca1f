/* SPDX-License-Identifier: MIT */
/* cairn export: an image of the project to a file docker load or skopeo reads. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/export.h"
#include "cli.h"

enum {
	OPT_DIR = 2100,
	OPT_CONFIG,
	OPT_TEMPLATES_DIR,
	OPT_STAGES_STORAGE = 's',
};

int cmd_export(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option own[] = {
		{"dir", required_argument, NULL, OPT_DIR},
		{"config", required_argument, NULL, OPT_CONFIG},
		{"config-templates-dir", required_argument, NULL, OPT_TEMPLATES_DIR},
		{"stages-storage", required_argument, NULL, OPT_STAGES_STORAGE},
		{NULL, 0, NULL, 0},
	};
	struct cairn_build_opts o = CAIRN_BUILD_OPTS_INIT;
	struct cli_registry_args ra = {0};
	struct cairn_error *err = NULL;
	struct cli_args a;
	char *home = NULL;
	const char *image = NULL, *dest;
	int c, ret = CLI_EXIT_OK, n;

	cli_args_init(&a, argc, argv, own, cli_registry_options);
	while ((c = getopt_long(a.argc, a.argv, ":s:" CLI_COMMON_SHORTOPTS, a.opts, NULL)) != -1) {
		int r = cli_common_opt(ctx, "export", c, optarg);

		if (r == CLI_COMMON_EXIT)
			goto out;
		if (r)
			continue;
		r = cli_registry_opt(&o.pull, &ra, "export", c, optarg, &ret);
		if (r < 0)
			goto out;
		if (r)
			continue;
		switch (c) {
		case OPT_DIR:
			o.dir = optarg;
			break;
		case OPT_CONFIG:
			o.config_file = optarg;
			break;
		case OPT_TEMPLATES_DIR:
			o.config_templates_dir = optarg;
			break;
		case OPT_STAGES_STORAGE:
			o.stages_storage = cli_stages_storage(optarg);
			break;
		default:
			ret = cli_bad_option("export", c, a.argv);
			goto out;
		}
	}
	n = a.argc - optind;
	if (n < 1 || n > 2) {
		ret = cli_usage_error("export", "%s", n < 1 ? "missing DEST" : "too many operands");
		goto out;
	}
	if (n == 2)
		image = a.argv[optind];
	dest = a.argv[optind + n - 1];
	if (cli_registry_finish(&o.pull, &ra, "export", &ret) < 0)
		goto out;
	cli_ctx_finish(ctx);
	cli_credential_hosts(&o.pull, &ra, &o.stages_storage, 1);
	home = cli_home(ctx, &err);
	if (!home) {
		ret = cli_fail(err);
		goto out;
	}
	o.home = home;
	if (cairn_export_run(&o, image, dest, &err) < 0) {
		ret = cli_fail_cmd("export", err);
		goto out;
	}
	if (ctx->verbosity >= 0)
		printf("exported to %s\n", dest);
out:
	free(home);
	cli_registry_args_release(&ra);
	cli_args_release(&a);
	return ret;
}
