/* SPDX-License-Identifier: MIT */
/* cairn export: an image of the project to a file docker load or skopeo reads. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/export.h"
#include "cli.h"

int cmd_export(int argc, char **argv, struct cli_ctx *ctx)
{
	struct cairn_build_opts o = CAIRN_BUILD_OPTS_INIT;
	struct cli_registry_args ra = {0};
	struct cairn_error *err = NULL;
	struct cli_args a;
	char *home = NULL;
	const char *image = NULL, *dest;
	int ret = CLI_EXIT_OK, n;

	cli_args_init(&a, argc, argv, cli_project_options, cli_registry_options);
	if (cli_project_opts(&o, &ra, &a, "export", ctx, &ret) < 0)
		goto out;
	n = a.argc - optind;
	if (n < 1 || n > 2) {
		ret = cli_usage_error("export", "%s", n < 1 ? "missing DEST" : "too many operands");
		goto out;
	}
	if (n == 2)
		image = a.argv[optind];
	dest = a.argv[optind + n - 1];
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
