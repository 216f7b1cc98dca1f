/* SPDX-License-Identifier: MIT */
/* cairn slugify: print the slug of a string in one of the three formats. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/slug.h"
#include "cli.h"

int cmd_slugify(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option own[] = {
		{"format", required_argument, NULL, 'f'},
		{NULL, 0, NULL, 0},
	};
	struct cli_args a;
	const char *format = NULL;
	enum cairn_slug_format f;
	struct cairn_error *err = NULL;
	char *slug;
	int c, ret = CLI_EXIT_OK;

	cli_args_init(&a, argc, argv, own, NULL);
	while ((c = getopt_long(a.argc, a.argv, ":f:" CLI_COMMON_SHORTOPTS, a.opts, NULL)) != -1) {
		int common = cli_common_opt(ctx, "slugify", c, optarg);

		if (common == CLI_COMMON_EXIT)
			goto out;
		if (common)
			continue;
		if (c == 'f') {
			format = optarg;
			continue;
		}
		ret = cli_bad_option("slugify", c, a.argv);
		goto out;
	}
	cli_ctx_finish(ctx);
	if (!format) {
		ret = cli_usage_error("slugify", "missing --format (tag, ns or release)");
		goto out;
	}
	if (cairn_slug_format_parse(&f, format, &err) < 0) {
		ret = cli_usage_error("slugify", "%s", err->msg);
		cairn_error_free(err);
		goto out;
	}
	if (a.argc - optind != 1) {
		ret = cli_usage_error("slugify", "expected exactly one STRING, got %d",
				      a.argc - optind);
		goto out;
	}
	slug = cairn_slugify(f, a.argv[optind], strlen(a.argv[optind]));
	printf("%s\n", slug);
	free(slug);
out:
	cli_args_release(&a);
	return ret;
}
