/* SPDX-License-Identifier: MIT */
/* cairn's entry point: global options, then one command from the table. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "cairn/registry.h"
#include "cairn/version.h"
#include "cli.h"

int cmd_version(int argc, char **argv, struct cli_ctx *ctx)
{
	(void)ctx;
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		return cli_help_for("version");
	if (argc > 1)
		return cli_usage_error("version", "unexpected argument '%s'", argv[1]);
	printf("cairn %s\n", cairn_version());
	return CLI_EXIT_OK;
}

int cmd_help(int argc, char **argv, struct cli_ctx *ctx)
{
	(void)ctx;
	if (argc > 2)
		return cli_usage_error("help", "unexpected argument '%s'", argv[2]);
	if (argc == 2 && strcmp(argv[1], "--help") != 0 && strcmp(argv[1], "-h") != 0)
		return cli_help_for(argv[1]);
	cli_print_commands();
	return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct cli_ctx ctx = {0};
	struct cairn_error *err = NULL;
	const struct cli_cmd *cmd;
	int ret;

	if (argc < 2)
		return cli_usage(NULL);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		cli_print_commands();
		return CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(1, argv + 1, &ctx);
	if (argv[1][0] == '-')
		return cli_usage_error(NULL, "unknown option '%s'", argv[1]);
	cmd = cli_cmd_find(argv[1]);
	if (!cmd)
		return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
	if (cairn_registry_global_init(&err) < 0)
		return cli_fail(err);
	ret = cmd->run(argc - 1, argv + 1, &ctx);
	cairn_registry_global_cleanup();
	return ret;
}
