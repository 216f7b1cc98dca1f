/* SPDX-License-Identifier: MIT */
/* Printing for the CLI: errors, usage lines, the log handler, exit codes. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cairn/log.h"
#include "cli.h"

int cli_usage(const char *name)
{
	const struct cli_cmd *c = name ? cli_cmd_find(name) : NULL;

	if (c)
		fprintf(stderr, "usage: %s\nRun 'cairn help %s' for details.\n", c->usage, c->name);
	else
		fprintf(stderr, "usage: cairn [--help] [--version] COMMAND [ARGS...]\n"
				"Run 'cairn help' for the list of commands.\n");
	return CLI_EXIT_USAGE;
}

int cli_usage_error(const char *name, const char *fmt, ...)
{
	va_list ap;

	fputs("cairn: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return cli_usage(name);
}

int cli_fail(struct cairn_error *err)
{
	fprintf(stderr, "cairn: error: %s\n", err && err->msg ? err->msg : "unknown error");
	cairn_error_free(err);
	return CLI_EXIT_FAILURE;
}

static void log_to_stderr(enum cairn_log_level level, const char *msg, void *userdata)
{
	static const char *const prefix[] = {"error: ", "warning: ", "", "debug: ", "trace: "};

	(void)userdata;
	fprintf(stderr, "cairn: %s%s\n", prefix[level], msg);
}

void cli_log_setup(int verbosity)
{
	enum cairn_log_level level = CAIRN_LOG_INFO;

	if (verbosity < 0)
		level = CAIRN_LOG_ERROR;
	else if (verbosity == 1)
		level = CAIRN_LOG_DEBUG;
	else if (verbosity >= 2)
		level = CAIRN_LOG_TRACE;
	cairn_log_set_handler(log_to_stderr, level, NULL);
}
