/* SPDX-License-Identifier: MIT */
/* cairn host cleanup: keep this host's store and unpacked layers under a size. */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn/cleanup.h"
#include "cli.h"

#define DEFAULT_MAX_SIZE "10G"

enum { OPT_MAX_SIZE = 2700, OPT_DRY_RUN, OPT_LOCK_TIMEOUT };

static const struct option own[] = {
	{"max-size", required_argument, NULL, OPT_MAX_SIZE},
	{"dry-run", no_argument, NULL, OPT_DRY_RUN},
	{"lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT},
	{NULL, 0, NULL, 0},
};

static double mib(uint64_t n)
{
	return (double)n / (1024.0 * 1024.0);
}

static void print_removed(const char *name, uint64_t bytes, int64_t used, void *ud)
{
	const struct cairn_host_cleanup_opts *o = ud;
	long long ago = (long long)time(NULL) - (long long)used;

	printf("%s %s (%.1f MiB, last used %lld s ago)\n", o->dry_run ? "would remove" : "removed",
	       name, mib(bytes), ago < 0 ? 0 : ago);
}

static int parse(struct cairn_host_cleanup_opts *o, const char **max, struct cli_args *a,
		 struct cli_ctx *ctx, int *ret)
{
	int c;

	while ((c = getopt_long(a->argc, a->argv, ":" CLI_COMMON_SHORTOPTS, a->opts, NULL)) != -1) {
		int r = cli_common_opt(ctx, "host", c, optarg);

		if (r == CLI_COMMON_EXIT) {
			*ret = CLI_EXIT_OK;
			return -1;
		}
		if (r)
			continue;
		switch (c) {
		case OPT_MAX_SIZE:
			*max = optarg;
			break;
		case OPT_DRY_RUN:
			o->dry_run = true;
			break;
		case OPT_LOCK_TIMEOUT:
			if (cli_count_opt(&o->lock_timeout_secs, "host", "lock-timeout", optarg,
					  ret) < 0)
				return -1;
			break;
		default:
			*ret = cli_bad_option("host", c, a->argv);
			return -1;
		}
	}
	if (a->argc != optind) {
		*ret = cli_usage_error("host", "unexpected argument '%s'", a->argv[optind]);
		return -1;
	}
	return 0;
}

int cmd_host(int argc, char **argv, struct cli_ctx *ctx)
{
	struct cairn_host_cleanup_opts o = {.lock_timeout_secs = 600, .report = print_removed};
	struct cairn_host_cleanup_stats st;
	struct cairn_error *err = NULL;
	const char *max = DEFAULT_MAX_SIZE;
	char *home = NULL;
	int ret = CLI_EXIT_OK;
	struct cli_args a;

	if (argc < 2 || strcmp(argv[1], "cleanup") != 0) {
		if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
			return cli_help_for("host");
		return cli_usage_error("host", "want 'host cleanup'");
	}
	cli_args_init(&a, argc - 1, argv + 1, own, NULL);
	if (parse(&o, &max, &a, ctx, &ret) < 0)
		goto out;
	cli_ctx_finish(ctx);
	home = cli_home(ctx, &err);
	if (!home || cairn_host_max_bytes(&o.max_bytes, home, max, &err) < 0) {
		ret = cli_fail_cmd("host", err);
		goto out;
	}
	o.home = home;
	o.ud = &o;
	if (cairn_host_cleanup(&o, &st, &err) < 0) {
		ret = cli_fail_cmd("host", err);
		goto out;
	}
	printf("%s %" PRIu64 " of %" PRIu64 " names: %.1f MiB -> %.1f MiB (max %.1f MiB)\n",
	       o.dry_run ? "would remove" : "removed", st.names_removed, st.names_seen,
	       mib(st.bytes_before), mib(st.bytes_after), mib(o.max_bytes));
out:
	free(home);
	cli_args_release(&a);
	return ret;
}
