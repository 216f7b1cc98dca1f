/* SPDX-License-Identifier: MIT */
/*
 * How every command reads its arguments: its own options, the options all commands share, and
 * CAIRN_SOME_OPTION variables taken as --some-option; options may follow operands.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

static const struct option common_options[] = {
	{"home-dir", required_argument, NULL, CLI_OPT_HOME_DIR},
	{"help", no_argument, NULL, CLI_OPT_HELP},
	{"verbose", no_argument, NULL, CLI_OPT_VERBOSE},
	{"quiet", no_argument, NULL, CLI_OPT_QUIET},
	{NULL, 0, NULL, 0},
};

struct option *cli_options(const struct option *own, const struct option *extra)
{
	size_t n_own = 0, n_extra = 0,
	       n_common = sizeof(common_options) / sizeof(common_options[0]);
	struct option *all;

	while (own && own[n_own].name)
		n_own++;
	while (extra && extra[n_extra].name)
		n_extra++;
	all = calloc(n_own + n_extra + n_common, sizeof(*all));
	if (!all)
		abort();
	if (n_own)
		memcpy(all, own, n_own * sizeof(*all));
	if (n_extra)
		memcpy(all + n_own, extra, n_extra * sizeof(*all));
	memcpy(all + n_own + n_extra, common_options, n_common * sizeof(*all));
	return all;
}

int cli_common_opt(struct cli_ctx *ctx, const char *cmd, int c, const char *arg)
{
	switch (c) {
	case CLI_OPT_HOME_DIR:
		ctx->home_dir = arg;
		return 1;
	case CLI_OPT_VERBOSE:
		if (ctx->verbosity < 2)
			ctx->verbosity++;
		return 1;
	case CLI_OPT_QUIET:
		ctx->verbosity = -1;
		return 1;
	case CLI_OPT_HELP:
		cli_help_for(cmd);
		return CLI_COMMON_EXIT;
	default:
		return 0;
	}
}

static char *env_name(const char *opt)
{
	size_t n = strlen(opt);
	char *s = malloc(n + 7);

	if (!s)
		abort();
	memcpy(s, "CAIRN_", 6);
	for (size_t i = 0; i < n; i++)
		s[6 + i] = opt[i] == '-' ? '_' : (char)toupper((unsigned char)opt[i]);
	s[6 + n] = '\0';
	return s;
}

/* True when argv (before a "--") names the long option `name`, as --name or --name=... */
static int given(int argc, char **argv, const char *name)
{
	size_t n = strlen(name);

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strncmp(argv[i], "--", 2) == 0 && strncmp(argv[i] + 2, name, n) == 0 &&
		    (argv[i][2 + n] == '\0' || argv[i][2 + n] == '='))
			return 1;
	}
	return 0;
}

char **cli_env_args(int *argc, char **argv, const struct option *opts)
{
	size_t n_opts = 0;
	char **out;
	int k = 1;

	while (opts[n_opts].name)
		n_opts++;
	out = calloc((size_t)*argc + n_opts + 1, sizeof(*out));
	if (!out)
		abort();
	out[0] = strdup(argv[0]);
	for (size_t i = 0; i < n_opts; i++) {
		char *name = env_name(opts[i].name);
		const char *v = getenv(name);

		free(name);
		if (!v || given(*argc, argv, opts[i].name) || opts[i].val == CLI_OPT_HELP)
			continue;
		if (opts[i].has_arg == no_argument) {
			if (!*v || strcmp(v, "0") == 0 || strcasecmp(v, "false") == 0 ||
			    strcasecmp(v, "no") == 0)
				continue;
			if (asprintf(&out[k], "--%s", opts[i].name) < 0)
				abort();
		} else if (asprintf(&out[k], "--%s=%s", opts[i].name, v) < 0) {
			abort();
		}
		k++;
	}
	for (int i = 1; i < *argc; i++) {
		out[k] = strdup(argv[i]);
		if (!out[k])
			abort();
		k++;
	}
	out[k] = NULL;
	*argc = k;
	return out;
}

void cli_env_args_free(char **argv)
{
	if (!argv)
		return;
	for (char **p = argv; *p; p++)
		free(*p);
	free(argv);
}

void cli_ctx_finish(struct cli_ctx *ctx)
{
	cli_log_setup(ctx->verbosity);
	if (!ctx->home_dir || !*ctx->home_dir)
		ctx->home_dir = getenv("CAIRN_HOME");
	if (!ctx->home_dir || !*ctx->home_dir)
		ctx->home_dir = NULL;
}

void cli_args_init(struct cli_args *a, int argc, char **argv, const struct option *own,
		   const struct option *extra)
{
	a->opts = cli_options(own, extra);
	a->argc = argc;
	a->argv = cli_env_args(&a->argc, argv, a->opts);
	optind = 0;
	opterr = 0;
}

void cli_args_release(struct cli_args *a)
{
	cli_env_args_free(a->argv);
	free(a->opts);
	a->argv = NULL;
	a->opts = NULL;
}

int cli_bad_option(const char *cmd, int c, char **argv)
{
	if (c == ':')
		return cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
	if (optopt)
		return cli_usage_error(cmd, "unknown option '-%c'", optopt);
	return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
}
