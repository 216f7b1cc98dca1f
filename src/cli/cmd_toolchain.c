/* SPDX-License-Identifier: MIT */
/* cairn toolchain build|path|info: the toolchain cairn mounts into every stage container. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/store.h"
#include "cairn/toolchain.h"
#include "cli.h"

static void print_info(const struct cairn_toolchain *t)
{
	printf("path      %s\n", t->dir);
	printf("id        %s\n", t->id);
	printf("source    %s\n", t->source);
	printf("mount     %s\n", t->mount);
	printf("bash      %s\n", t->bash ? t->bash : "-");
	printf("python    %s\n", t->python ? t->python : "-");
	printf("size      %.1f MiB in %llu files\n", (double)t->size / (1024.0 * 1024.0),
	       (unsigned long long)t->files);
	printf("assembled in %.2f s\n", t->seconds);
	printf("packages\n");
	for (size_t i = 0; i < t->n_packages; i++)
		printf("  %s %s\n", t->packages[i].name, t->packages[i].version);
}

int cmd_toolchain(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option own[] = {{NULL, 0, NULL, 0}};
	struct cairn_toolchain_opts o = CAIRN_TOOLCHAIN_OPTS_INIT;
	struct cairn_toolchain *t = NULL;
	struct cairn_error *err = NULL;
	const char *verb = argc >= 2 ? argv[1] : "";
	char *home = NULL;
	int c, ret = CLI_EXIT_OK;
	struct cli_args a;

	if (strcmp(verb, "build") != 0 && strcmp(verb, "path") != 0 && strcmp(verb, "info") != 0) {
		if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0)
			return cli_help_for("toolchain");
		return cli_usage_error("toolchain", "want 'toolchain build', 'path' or 'info'");
	}
	cli_args_init(&a, argc - 1, argv + 1, own, NULL);
	while ((c = getopt_long(a.argc, a.argv, ":" CLI_COMMON_SHORTOPTS, a.opts, NULL)) != -1) {
		int r = cli_common_opt(ctx, "toolchain", c, optarg);

		if (r == CLI_COMMON_EXIT)
			goto out;
		if (r)
			continue;
		ret = cli_bad_option("toolchain", c, a.argv);
		goto out;
	}
	if (a.argc != optind) {
		ret = cli_usage_error("toolchain", "unexpected argument '%s'", a.argv[optind]);
		goto out;
	}
	cli_ctx_finish(ctx);
	home = cli_home(ctx, &err);
	if (!home || cairn_home_prepare(home, &err) < 0) {
		ret = cli_fail(err);
		goto out;
	}
	o.home = home;
	if (strcmp(verb, "build") == 0)
		o.flags |= CAIRN_TOOLCHAIN_REBUILD;
	if (cairn_toolchain_get(&t, &o, &err) < 0) {
		ret = cli_fail(err);
		goto out;
	}
	if (strcmp(verb, "info") == 0)
		print_info(t);
	else
		printf("%s\n", t->dir);
out:
	cairn_toolchain_free(t);
	free(home);
	cli_args_release(&a);
	return ret;
}
