/* SPDX-License-Identifier: MIT */
/* cairn images ls and cairn inspect: what the project's images are, built or not. */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/build.h"
#include "cairn/export.h"
#include "cairn/store.h"
#include "cli.h"

enum {
	OPT_DIR = 2100,
	OPT_CONFIG,
	OPT_TEMPLATES_DIR,
	OPT_STAGES_STORAGE = 's',
};

int cli_project_opts(struct cairn_build_opts *o, struct cli_registry_args *ra, struct cli_args *a,
		     const char *cmd, struct cli_ctx *ctx, int *ret)
{
	int c;

	while ((c = getopt_long(a->argc, a->argv, ":s:" CLI_COMMON_SHORTOPTS, a->opts, NULL)) !=
	       -1) {
		int r = cli_common_opt(ctx, cmd, c, optarg);

		if (r == CLI_COMMON_EXIT)
			return -1;
		if (r)
			continue;
		r = cli_registry_opt(&o->pull, ra, cmd, c, optarg, ret);
		if (r < 0)
			return -1;
		if (r)
			continue;
		switch (c) {
		case OPT_DIR:
			o->dir = optarg;
			break;
		case OPT_CONFIG:
			o->config_file = optarg;
			break;
		case OPT_TEMPLATES_DIR:
			o->config_templates_dir = optarg;
			break;
		case OPT_STAGES_STORAGE:
			o->stages_storage = cli_stages_storage(optarg);
			break;
		default:
			*ret = cli_bad_option(cmd, c, a->argv);
			return -1;
		}
	}
	if (cli_registry_finish(&o->pull, ra, cmd, ret) < 0)
		return -1;
	cli_ctx_finish(ctx);
	cli_credential_hosts(&o->pull, ra, &o->stages_storage, 1);
	return 0;
}

const struct option cli_project_options[] = {
	{"dir", required_argument, NULL, OPT_DIR},
	{"config", required_argument, NULL, OPT_CONFIG},
	{"config-templates-dir", required_argument, NULL, OPT_TEMPLATES_DIR},
	{"stages-storage", required_argument, NULL, OPT_STAGES_STORAGE},
	{NULL, 0, NULL, 0},
};

/* The first stage each image lacks, from the build's events ("IMAGE\0STAGE" each). */
struct missing {
	char **v;
	size_t n;
};

static void on_event(const struct cairn_build_event *ev, void *ud)
{
	struct missing *m = ud;
	char *e = NULL;

	if (ev->kind != CAIRN_BUILD_STAGE_MISSING)
		return;
	m->v = realloc(m->v, (m->n + 1) * sizeof(*m->v));
	if (!m->v || asprintf(&e, "%s%c%s", ev->image, 0, ev->stage) < 0)
		abort();
	m->v[m->n++] = e;
}

static const char *missing_of(const struct missing *m, const char *image)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->v[i], image) == 0)
			return m->v[i] + strlen(m->v[i]) + 1;
	return "?";
}

static void print_size(uint64_t b)
{
	if (b >= 1024ull * 1024)
		printf("%.1f MiB\n", (double)b / (1024.0 * 1024));
	else
		printf("%.1f KiB\n", (double)b / 1024.0);
}

static int list(const struct cairn_build_opts *o, struct cairn_error **err)
{
	struct cairn_build_opts bo = *o;
	struct cairn_build_result *res = NULL;
	struct cairn_store *st = NULL;
	struct missing m = {0};
	struct cairn_home home;
	int ret;

	bo.no_build = 1;
	bo.stop_at_missing = 1;
	bo.event = on_event;
	bo.event_ud = &m;
	/* open (its use lock held) from before the build, as a publish does */
	cairn_home_paths(&home, o->home);
	ret = cairn_store_open(&st, home.store, err);
	cairn_home_release(&home);
	if (ret == 0)
		ret = cairn_build(&res, &bo, err);
	if (ret == 0)
		printf("%-24s %-9s %-14s %-28s %s\n", "IMAGE", "KIND", "SIGNATURE", "STATE",
		       "SIZE");
	for (size_t i = 0; ret == 0 && i < res->n_images; i++) {
		const struct cairn_build_image *im = &res->images[i];
		const char *name = im->name ? im->name : "~";
		/* nothing of it stored (no signature), or stopped at a missing stage */
		const char *miss =
			!im->signature[0] || im->incomplete ? missing_of(&m, name) : NULL;
		char state[64];
		uint64_t size = 0;
		int64_t mtime = 0;

		if (miss)
			snprintf(state, sizeof(state), "to build from %s", miss);
		else
			snprintf(state, sizeof(state), "built");
		printf("%-24s %-9s %-14.12s %-28s ", name, im->artifact ? "artifact" : "image",
		       miss ? "-" : im->signature, state);
		if (!miss && cairn_store_image_info(&size, &mtime, st, &im->desc, NULL) == 0)
			print_size(size);
		else
			printf("-\n");
	}
	for (size_t i = 0; i < m.n; i++)
		free(m.v[i]);
	free(m.v);
	cairn_store_free(st);
	cairn_build_result_free(res);
	return ret;
}

int cmd_images_ls(int argc, char **argv, struct cli_ctx *ctx)
{
	struct cairn_build_opts o = CAIRN_BUILD_OPTS_INIT;
	struct cli_registry_args ra = {0};
	struct cairn_error *err = NULL;
	struct cli_args a;
	char *home = NULL;
	int ret = CLI_EXIT_OK;

	cli_args_init(&a, argc, argv, cli_project_options, cli_registry_options);
	if (cli_project_opts(&o, &ra, &a, "images ls", ctx, &ret) < 0)
		goto out;
	if (optind != a.argc) {
		ret = cli_usage_error("images", "images ls takes no operand");
		goto out;
	}
	home = cli_home(ctx, &err);
	o.home = home;
	if (!home || list(&o, &err) < 0)
		ret = cli_fail_cmd("images", err);
out:
	free(home);
	cli_registry_args_release(&ra);
	cli_args_release(&a);
	return ret;
}

int cmd_inspect(int argc, char **argv, struct cli_ctx *ctx)
{
	struct cairn_build_opts o = CAIRN_BUILD_OPTS_INIT;
	struct cli_registry_args ra = {0};
	struct cairn_error *err = NULL;
	struct cli_args a;
	char *home = NULL, *json = NULL;
	int ret = CLI_EXIT_OK;

	cli_args_init(&a, argc, argv, cli_project_options, cli_registry_options);
	if (cli_project_opts(&o, &ra, &a, "inspect", ctx, &ret) < 0)
		goto out;
	if (a.argc - optind > 1) {
		ret = cli_usage_error("inspect", "too many operands");
		goto out;
	}
	home = cli_home(ctx, &err);
	o.home = home;
	if (!home ||
	    cairn_inspect_run(&json, &o, optind < a.argc ? a.argv[optind] : NULL, &err) < 0) {
		ret = cli_fail_cmd("inspect", err);
		goto out;
	}
	printf("%s\n", json);
out:
	free(json);
	free(home);
	cli_registry_args_release(&ra);
	cli_args_release(&a);
	return ret;
}
