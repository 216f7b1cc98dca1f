/* SPDX-License-Identifier: MIT */
/* cairn stages ls|gc: what the local store holds, and freeing what nothing references. */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn/build.h"
#include "cairn/store.h"
#include "cli.h"

struct ls_ctx {
	struct cairn_store *st;
	time_t now;
	struct cairn_error *err;
};

static void age(char *buf, size_t n, int64_t secs)
{
	if (secs < 0)
		secs = 0;
	if (secs < 120)
		snprintf(buf, n, "%llds", (long long)secs);
	else if (secs < 7200)
		snprintf(buf, n, "%lldm", (long long)(secs / 60));
	else if (secs < 172800)
		snprintf(buf, n, "%lldh", (long long)(secs / 3600));
	else
		snprintf(buf, n, "%lldd", (long long)(secs / 86400));
}

static int print_one(const struct cairn_store_ref *ref, void *ud)
{
	struct ls_ctx *c = ud;
	uint64_t size = 0;
	int64_t mtime = 0;
	char a[32];

	if (cairn_store_image_info(&size, &mtime, c->st, &ref->desc, &c->err) < 0)
		return c->err->code;
	age(a, sizeof(a), (int64_t)c->now - mtime);
	printf("%-60s %.19s %10.1f MiB %6s\n", ref->name, ref->desc.digest.str,
	       (double)size / (1024.0 * 1024.0), a);
	return 0;
}

/* How long `stages gc` waits for the other cairn processes using the store (as host cleanup). */
#define GC_LOCK_TIMEOUT 600

int cmd_stages(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option own[] = {
		{"grace", required_argument, NULL, 'g'},
		{NULL, 0, NULL, 0},
	};
	struct cairn_store *st = NULL;
	struct cairn_error *err = NULL;
	char *home = NULL;
	long grace = 3600;
	int c, ret = CLI_EXIT_OK, gc;
	struct cli_args a;

	if (argc >= 2 && strcmp(argv[1], "cleanup") == 0)
		return cmd_stages_cleanup(argc - 1, argv + 1, ctx);
	if (argc < 2 || (strcmp(argv[1], "ls") != 0 && strcmp(argv[1], "gc") != 0)) {
		if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
			return cli_help_for("stages");
		return cli_usage_error("stages",
				       "want 'stages ls', 'stages gc' or 'stages cleanup'");
	}
	gc = strcmp(argv[1], "gc") == 0;
	cli_args_init(&a, argc - 1, argv + 1, own, NULL);
	while ((c = getopt_long(a.argc, a.argv, ":" CLI_COMMON_SHORTOPTS, a.opts, NULL)) != -1) {
		int r = cli_common_opt(ctx, "stages", c, optarg);
		char *end;

		if (r == CLI_COMMON_EXIT)
			goto out;
		if (r)
			continue;
		if (c == 'g' && gc) {
			grace = strtol(optarg, &end, 10);
			if (!*optarg || *end || grace < 0) {
				ret = cli_usage_error("stages", "invalid --grace '%s'", optarg);
				goto out;
			}
			continue;
		}
		ret = cli_bad_option("stages", c, a.argv);
		goto out;
	}
	if (a.argc != optind) {
		ret = cli_usage_error("stages", "unexpected argument '%s'", a.argv[optind]);
		goto out;
	}
	cli_ctx_finish(ctx);
	home = cli_home(ctx, &err);
	if (!home) {
		ret = cli_fail(err);
		goto out;
	}
	if (cli_store_open(&st, home, &err) < 0) {
		ret = cli_fail(err);
		goto out;
	}
	if (gc) {
		struct cairn_store_gc_stats s;

		/*
		 * Alone with the store, as host cleanup is: a pull or build running beside it may
		 * be about to name a blob it found there, however old that blob is.
		 */
		if (cairn_store_lock_exclusive(st, GC_LOCK_TIMEOUT, &err) < 0 ||
		    cairn_stages_gc(st, home, grace, &s, &err) < 0) {
			ret = cli_fail(err);
			goto out;
		}
		printf("removed %" PRIu64 " blobs (%.1f MiB), %" PRIu64
		       " unpacked layers and %" PRIu64 " temporary files\n",
		       s.blobs_removed, (double)s.bytes_freed / (1024.0 * 1024.0), s.layers_removed,
		       s.tmp_removed);
	} else {
		struct ls_ctx lc = {.st = st, .now = time(NULL)};

		if (cairn_store_ref_list(st, print_one, &lc, &err) < 0) {
			ret = cli_fail(err ? err : lc.err);
			if (err)
				cairn_error_free(lc.err);
			goto out;
		}
	}
out:
	cairn_store_free(st);
	free(home);
	cli_args_release(&a);
	return ret;
}
