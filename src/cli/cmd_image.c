/* SPDX-License-Identifier: MIT */
/* cairn image pull|push: move images between the local store and registries. */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn/image.h"
#include "cairn/log.h"
#include "cairn/store.h"
#include "cli.h"

enum {
	OPT_NAME = 2000,
	OPT_PLATFORM,
};

struct image_args {
	struct cli_args a;
	struct cairn_image_opts o;
	struct cli_registry_args ra;
	const char *name;
	char *platform; /* os/arch[/variant], split in place */
};

/* Options shared by pull and push; returns -1 for "stop with *ret". */
static int parse_image_args(struct image_args *ia, const char *cmd, int argc, char **argv,
			    struct cli_ctx *ctx, int *ret)
{
	static const struct option own[] = {
		{"name", required_argument, NULL, OPT_NAME},
		{"platform", required_argument, NULL, OPT_PLATFORM},
		{NULL, 0, NULL, 0},
	};
	int c;

	cli_args_init(&ia->a, argc, argv, own, cli_registry_options);
	while ((c = getopt_long(ia->a.argc, ia->a.argv, ":j:" CLI_COMMON_SHORTOPTS, ia->a.opts,
				NULL)) != -1) {
		int common = cli_common_opt(ctx, cmd, c, optarg);

		if (common == CLI_COMMON_EXIT) {
			*ret = CLI_EXIT_OK;
			return -1;
		}
		if (common)
			continue;
		common = cli_registry_opt(&ia->o, &ia->ra, cmd, c, optarg, ret);
		if (common < 0)
			return -1;
		if (common)
			continue;
		switch (c) {
		case OPT_NAME:
			ia->name = optarg;
			break;
		case OPT_PLATFORM:
			ia->platform = strdup(optarg);
			if (!ia->platform)
				abort();
			break;
		default:
			*ret = cli_bad_option(cmd, c, ia->a.argv);
			return -1;
		}
	}
	if (cli_registry_finish(&ia->o, &ia->ra, cmd, ret) < 0)
		return -1;
	if (ia->platform) {
		char *arch = strchr(ia->platform, '/');
		char *variant = arch ? strchr(arch + 1, '/') : NULL;

		if (!arch || arch == ia->platform || !arch[1] || (variant && !variant[1])) {
			*ret = cli_usage_error(cmd,
					       "invalid --platform '%s': want OS/ARCH[/VARIANT]",
					       ia->platform);
			return -1;
		}
		*arch++ = '\0';
		if (variant)
			*variant++ = '\0';
		ia->o.os = ia->platform;
		ia->o.arch = arch;
		ia->o.variant = variant;
	}
	cli_ctx_finish(ctx);
	return 0;
}

static void image_args_release(struct image_args *ia)
{
	cli_args_release(&ia->a);
	cli_registry_args_release(&ia->ra);
	free(ia->platform);
}

static int open_store(struct cairn_store **st, struct cli_ctx *ctx, struct cairn_error **err)
{
	char *home = cli_home(ctx, err);
	int ret;

	if (!home)
		return CAIRN_EINVAL;
	ret = cli_store_open(st, home, err);
	free(home);
	return ret;
}

static int run_image(const char *cmd, int argc, char **argv, struct cli_ctx *ctx, int push)
{
	struct image_args ia = {.o = CAIRN_IMAGE_OPTS_INIT};
	struct cli_progress ps = {0};
	struct cairn_ref ref = CAIRN_REF_INIT;
	struct cairn_transfer_stats stats;
	struct cairn_store *st = NULL;
	struct cairn_error *err = NULL;
	int ret = CLI_EXIT_OK, want = push ? 2 : 1;

	if (parse_image_args(&ia, cmd, argc, argv, ctx, &ret) < 0)
		goto out;
	if (ia.a.argc - optind != want) {
		ret = cli_usage_error(cmd, "expected %d argument%s, got %d", want,
				      want > 1 ? "s" : "", ia.a.argc - optind);
		goto out;
	}
	if (push && ia.name) {
		ret = cli_usage_error(cmd, "--name is for pull");
		goto out;
	}
	cli_progress_init(&ps, ctx->verbosity < 0);
	ia.o.progress = cli_on_progress;
	ia.o.progress_ud = &ps;
	if (open_store(&st, ctx, &err) < 0) {
		ret = cli_fail(err);
		goto out;
	}
	cli_credential_hosts(&ia.o, &ia.ra, (const char *const *)&ia.a.argv[optind + push], 1);
	ret = cairn_ref_parse(&ref, ia.a.argv[optind + push], &err);
	if (ret == 0 && push)
		ret = cairn_image_push(st, ia.a.argv[optind], &ref, &ia.o, &stats, &err);
	else if (ret == 0)
		ret = cairn_image_pull(st, &ref, ia.name, &ia.o, &stats, &err);
	cli_progress_end(&ps);
	if (ret < 0) {
		ret = cli_fail(err);
		goto out;
	}
	cairn_log(CAIRN_LOG_DEBUG,
		  "%s: %" PRIu64 " blobs moved (%" PRIu64 " bytes), %" PRIu64 " mounted, %" PRIu64
		  " already there, %" PRIu64 " requests",
		  cmd, stats.blobs_moved, stats.bytes_moved, stats.blobs_mounted,
		  stats.blobs_existing, stats.requests);
	printf("%s\n", stats.digest.str);
	ret = CLI_EXIT_OK;
out:
	cairn_ref_release(&ref);
	cairn_store_free(st);
	image_args_release(&ia);
	return ret;
}

int cmd_image(int argc, char **argv, struct cli_ctx *ctx)
{
	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
			return cli_help_for("image");
		return cli_usage_error("image", "missing subcommand (pull or push)");
	}
	if (strcmp(argv[1], "pull") == 0)
		return run_image("image", argc - 1, argv + 1, ctx, 0);
	if (strcmp(argv[1], "push") == 0)
		return run_image("image", argc - 1, argv + 1, ctx, 1);
	return cli_usage_error("image", "unknown subcommand '%s' (want pull or push)", argv[1]);
}
