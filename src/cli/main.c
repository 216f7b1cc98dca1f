/* SPDX-License-Identifier: MIT */
/* cairn's entry point: global options, then one command from the table. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn/interrupt.h"
#include "cairn/registry.h"
#include "cairn/version.h"
#include "cli.h"

/* What cairn runs with, indented under its own version; runc as the PATH gives it. */
static void print_libraries(void)
{
	char *libs = cairn_version_libraries();
	FILE *p = popen("runc --version 2>/dev/null", "r");
	char line[256];

	for (char *l = strtok(libs, "\n"); l; l = strtok(NULL, "\n"))
		printf("  %s\n", l);
	free(libs);
	if (p && fgets(line, sizeof(line), p))
		printf("  %s", line);
	else
		printf("  runc: not found in PATH\n");
	if (p)
		pclose(p);
}

int cmd_version(int argc, char **argv, struct cli_ctx *ctx)
{
	(void)ctx;
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		return cli_help_for("version");
	if (argc > 1)
		return cli_usage_error("version", "unexpected argument '%s'", argv[1]);
	printf("cairn %s\n", cairn_version());
	print_libraries();
	return CLI_EXIT_OK;
}

int cmd_help(int argc, char **argv, struct cli_ctx *ctx)
{
	(void)ctx;
	/* the build writes the man pages with it: `cairn help --man DIR` */
	if (argc == 3 && strcmp(argv[1], "--man") == 0)
		return cli_write_man(argv[2]);
	if (argc > 2)
		return cli_usage_error("help", "unexpected argument '%s'", argv[2]);
	if (argc == 2 && strcmp(argv[1], "--help") != 0 && strcmp(argv[1], "-h") != 0)
		return cli_help_for(argv[1]);
	cli_print_commands();
	return CLI_EXIT_OK;
}

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_signal(int signo)
{
	cairn_interrupt(signo);
}

/*
 * INT, TERM, HUP and PIPE set the interrupt flag: the running command stops its containers and
 * transfers, unmounts, removes its temporary files and returns; main() then exits 128+N. INT,
 * TERM and HUP that were ignored on entry (nohup, a shell's background job) stay ignored. PIPE
 * is always caught: a closed stdout (`cairn build | head`) must not kill cairn mid-stage.
 */
static int catch_signals(struct cairn_error **err)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
	struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
	int ret = cairn_interrupt_init(err);

	if (ret < 0)
		return ret;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction old;

		if (sigs[i] != SIGPIPE && sigaction(sigs[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			continue;
		sigaction(sigs[i], &sa, NULL);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cli_ctx ctx = {0};
	struct cairn_error *err = NULL;
	const struct cli_cmd *cmd;
	double t0;
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
		return cli_usage_error(NULL, "unknown option '%.*s'", (int)strcspn(argv[1], "="),
				       argv[1]);
	cmd = cli_cmd_find(argv[1]);
	if (!cmd && cli_cmd_closest(argv[1]))
		return cli_usage_error(NULL, "unknown command '%s'; did you mean '%s'?", argv[1],
				       cli_cmd_closest(argv[1]));
	if (!cmd)
		return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
	if (catch_signals(&err) < 0 || cairn_registry_global_init(&err) < 0)
		return cli_fail(err);
	t0 = wall();
	ret = cmd->run(argc - 1, argv + 1, &ctx);
	cairn_registry_global_cleanup();
	if (cmd->timed && ret == CLI_EXIT_OK && ctx.verbosity >= 0 && !cli_log_format_json() &&
	    !cairn_interrupted())
		printf("Running time %.2f seconds\n", wall() - t0);
	return cli_exit_status(ret, cmd->name);
}
