/* SPDX-License-Identifier: MIT */
/* cairn ci-env: werf v1.1's `werf ci-env`, the variables a CI job sources before cairn runs. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "cairn/ci_env.h"
#include "cli.h"

enum {
	OPT_TAGGING = 2600,
	OPT_AS_FILE,
	OPT_AS_ENV_FILE,
	OPT_OUTPUT = 'o',
	OPT_SHELL = 2610,
	OPT_DOCKER_CONFIG,
	OPT_TMP_DIR,
	OPT_DIR,
	OPT_CONFIG,
	OPT_LOG_VERBOSE,
	OPT_LOG_DEBUG,
	OPT_LOG_QUIET,
	OPT_LOG_IGNORED, /* werf's log options that mean nothing to cairn */
};

static const struct option own[] = {
	{"tagging-strategy", required_argument, NULL, OPT_TAGGING},
	{"as-file", no_argument, NULL, OPT_AS_FILE},
	{"as-env-file", no_argument, NULL, OPT_AS_ENV_FILE},
	{"output-file-path", required_argument, NULL, OPT_OUTPUT},
	{"shell", required_argument, NULL, OPT_SHELL},
	{"shell-type", required_argument, NULL, OPT_SHELL},
	{"docker-config", required_argument, NULL, OPT_DOCKER_CONFIG},
	{"tmp-dir", required_argument, NULL, OPT_TMP_DIR},
	{"dir", required_argument, NULL, OPT_DIR},
	{"config", required_argument, NULL, OPT_CONFIG},
	{"log-verbose", no_argument, NULL, OPT_LOG_VERBOSE},
	{"log-debug", no_argument, NULL, OPT_LOG_DEBUG},
	{"log-quiet", no_argument, NULL, OPT_LOG_QUIET},
	{"log-color-mode", required_argument, NULL, OPT_LOG_IGNORED},
	{"log-pretty", optional_argument, NULL, OPT_LOG_IGNORED},
	{"log-terminal-width", required_argument, NULL, OPT_LOG_IGNORED},
	{NULL, 0, NULL, 0},
};

struct ci_args {
	struct cairn_ci_env_opts o;
	const char *tagging;
	const char *shell;
	const char *output;
	bool as_file;
	bool as_env_file;
};

/* 1: handled, 0: not one of ci-env's own options */
static int ci_opt(struct ci_args *c, struct cli_ctx *ctx, int opt, const char *arg)
{
	switch (opt) {
	case OPT_TAGGING:
		c->tagging = arg;
		return 1;
	case OPT_AS_FILE:
		c->as_file = true;
		return 1;
	case OPT_AS_ENV_FILE:
		c->as_env_file = true;
		return 1;
	case OPT_OUTPUT:
		c->output = arg;
		return 1;
	case OPT_SHELL:
		c->shell = arg;
		return 1;
	case OPT_DOCKER_CONFIG:
		c->o.docker_config = arg;
		return 1;
	case OPT_TMP_DIR:
		c->o.tmp_dir = arg;
		return 1;
	case OPT_DIR:
		c->o.dir = arg;
		return 1;
	case OPT_CONFIG:
		c->o.config = arg;
		return 1;
	case OPT_LOG_VERBOSE:
	case OPT_LOG_DEBUG:
		ctx->verbosity = opt == OPT_LOG_DEBUG ? 2 : 1;
		return 1;
	case OPT_LOG_QUIET:
		ctx->verbosity = -1;
		return 1;
	case OPT_LOG_IGNORED:
		return 1;
	default:
		return 0;
	}
}

/* The operand and the option values as the library wants them; CLI_EXIT_OK or a usage error. */
static int check_args(struct ci_args *c, int argc, char **argv)
{
	struct cairn_error *err = NULL;

	if (argc - optind != 1)
		return cli_usage_error("ci-env", "expected one CI system, got %d", argc - optind);
	if (cairn_ci_system_parse(&c->o.system, argv[optind], &err) < 0 ||
	    (c->tagging && cairn_ci_tagging_parse(&c->o.tagging, c->tagging, &err) < 0) ||
	    (c->shell && cairn_ci_shell_parse(&c->o.shell, c->shell, &err) < 0))
		return cli_fail_cmd("ci-env", err);
	if (c->as_file && c->as_env_file)
		return cli_usage_error("ci-env", "--as-file and --as-env-file do not go together");
	if (c->as_env_file)
		c->o.shell = CAIRN_CI_SHELL_ENV_FILE;
	if (c->output && !c->as_file && !c->as_env_file)
		fprintf(stderr, "cairn: warning: --output-file-path is used with --as-file or "
				"--as-env-file only; printing the script\n");
	return CLI_EXIT_OK;
}

/* Print the script, or save it and print where (werf: not when --output-file-path names it). */
static int emit(const struct ci_args *c, const char *script)
{
	struct cairn_error *err = NULL;
	char *path = NULL;

	if (!c->as_file && !c->as_env_file) {
		fputs(script, stdout);
		return CLI_EXIT_OK;
	}
	if (cairn_ci_env_save(&path, script, c->output, &c->o, &err) < 0)
		return cli_fail(err);
	if (!c->output)
		printf("%s\n", path);
	free(path);
	return CLI_EXIT_OK;
}

static int run(const struct ci_args *c)
{
	struct cairn_error *err = NULL;
	char *script = NULL, *dir = NULL;
	int ret;

	if (cairn_ci_env_script(&script, &dir, &c->o, &err) < 0) {
		/* as werf: a script being sourced or evaluated stops the job */
		if (err->code != CAIRN_EUSAGE && !c->as_file && !c->as_env_file)
			printf("exit 1\n");
		return cli_fail_cmd("ci-env", err);
	}
	ret = emit(c, script);
	free(script);
	free(dir);
	return ret;
}

int cmd_ci_env(int argc, char **argv, struct cli_ctx *ctx)
{
	struct ci_args c = {.o = CAIRN_CI_ENV_OPTS_INIT};
	struct cli_args a;
	int opt, ret = CLI_EXIT_OK;

	cli_args_init(&a, argc, argv, own, NULL);
	while ((opt = getopt_long(a.argc, a.argv, ":o:" CLI_COMMON_SHORTOPTS, a.opts, NULL)) !=
	       -1) {
		int common = cli_common_opt(ctx, "ci-env", opt, optarg);

		if (common == CLI_COMMON_EXIT)
			goto out;
		if (common || ci_opt(&c, ctx, opt, optarg))
			continue;
		ret = cli_bad_option("ci-env", opt, a.argv);
		goto out;
	}
	cli_ctx_finish(ctx);
	ret = check_args(&c, a.argc, a.argv);
	if (ret == CLI_EXIT_OK)
		ret = run(&c);
out:
	cli_args_release(&a);
	return ret;
}
