/* SPDX-License-Identifier: MIT */
/* cairn render: print werf.yaml as its templates render it, to debug them. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cairn/config.h"
#include "cli.h"

enum { OPT_DIR = 2400, OPT_CONFIG, OPT_TEMPLATES_DIR };

int cmd_render(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option own[] = {
		{"dir", required_argument, NULL, OPT_DIR},
		{"config", required_argument, NULL, OPT_CONFIG},
		{"config-templates-dir", required_argument, NULL, OPT_TEMPLATES_DIR},
		{NULL, 0, NULL, 0},
	};
	struct cairn_error *err = NULL;
	struct cairn_config_source src = {0};
	char *text = NULL;
	size_t len = 0;
	int c, ret = CLI_EXIT_OK;
	struct cli_args a;

	cli_args_init(&a, argc, argv, own, NULL);
	while ((c = getopt_long(a.argc, a.argv, ":" CLI_COMMON_SHORTOPTS, a.opts, NULL)) != -1) {
		int r = cli_common_opt(ctx, "render", c, optarg);

		if (r == CLI_COMMON_EXIT)
			goto out;
		if (r)
			continue;
		if (c == OPT_DIR) {
			src.dir = optarg;
		} else if (c == OPT_CONFIG) {
			src.file = optarg;
		} else if (c == OPT_TEMPLATES_DIR) {
			src.templates_dir = optarg;
		} else {
			ret = cli_bad_option("render", c, a.argv);
			goto out;
		}
	}
	if (a.argc != optind) {
		ret = cli_usage_error("render", "unexpected argument '%s'", a.argv[optind]);
		goto out;
	}
	cli_ctx_finish(ctx);
	if (cairn_config_render(&text, &len, &src, &err) < 0) {
		ret = cli_fail(err);
		goto out;
	}
	fwrite(text, 1, len, stdout);
out:
	free(text);
	cli_args_release(&a);
	return ret;
}
