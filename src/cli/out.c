/* SPDX-License-Identifier: MIT */
/* Printing for the CLI: errors, usage lines, the log handler, exit codes. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/build.h"
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

static void human_size(char *buf, size_t n, uint64_t bytes)
{
	if (bytes >= 1024ull * 1024 * 1024)
		snprintf(buf, n, "%.2f GiB", (double)bytes / (1024.0 * 1024 * 1024));
	else if (bytes >= 1024ull * 1024)
		snprintf(buf, n, "%.1f MiB", (double)bytes / (1024.0 * 1024));
	else if (bytes >= 1024)
		snprintf(buf, n, "%.1f KiB", (double)bytes / 1024.0);
	else
		snprintf(buf, n, "%" PRIu64 " B", bytes);
}

static const char *short_digest(const struct cairn_digest *d)
{
	/* "sha256:" + 12 hex digits, as docker shows layer ids */
	static __thread char s[20];

	snprintf(s, sizeof(s), "%.19s", d->str);
	return s;
}

void cli_progress_end(struct cli_progress *ps)
{
	if (ps->tty && ps->active) {
		fputs("\r\033[K", stderr);
		ps->active = 0;
	}
}

void cli_on_progress(const struct cairn_progress *p, void *ud)
{
	struct cli_progress *ps = ud;
	char size[32], done[32];

	if (ps->quiet)
		return;
	human_size(size, sizeof(size), p->total);
	switch (p->kind) {
	case CAIRN_PROGRESS_BLOB_EXISTS:
		cli_progress_end(ps);
		fprintf(stderr, "  %s  %s  exists\n", short_digest(p->digest), size);
		break;
	case CAIRN_PROGRESS_BLOB_MOUNTED:
		cli_progress_end(ps);
		fprintf(stderr, "  %s  %s  mounted\n", short_digest(p->digest), size);
		break;
	case CAIRN_PROGRESS_BLOB_START:
		break;
	case CAIRN_PROGRESS_BLOB_BYTES:
		if (ps->tty) {
			human_size(done, sizeof(done), p->done);
			fprintf(stderr, "\r\033[K  %s  %s / %s", short_digest(p->digest), done,
				size);
			ps->active = 1;
		}
		break;
	case CAIRN_PROGRESS_BLOB_DONE:
		cli_progress_end(ps);
		fprintf(stderr, "  %s  %s  %s\n", short_digest(p->digest), size,
			strcmp(ps->verb, "push") == 0 ? "pushed" : "pulled");
		break;
	case CAIRN_PROGRESS_MANIFEST_EXISTS:
		cli_progress_end(ps);
		fprintf(stderr, "[EXIST] %s %s\n", p->ref, p->digest->str);
		break;
	case CAIRN_PROGRESS_MANIFEST_DONE:
		cli_progress_end(ps);
		fprintf(stderr, "[OK] %s %s\n", p->ref, p->digest->str);
		break;
	}
	fflush(stderr);
}

void cli_on_build_event(const struct cairn_build_event *ev, void *ud)
{
	int quiet = *(int *)ud;

	if (quiet && ev->kind != CAIRN_BUILD_STAGE_FAILED)
		return;
	switch (ev->kind) {
	case CAIRN_BUILD_IMAGE_BEGIN:
		printf("%s\n", ev->image);
		break;
	case CAIRN_BUILD_STAGE_CACHED:
		printf("  %-22s [USING CACHE]\n", ev->stage);
		break;
	case CAIRN_BUILD_STAGE_BEGIN:
		printf("  %-22s [BUILDING]\n", ev->stage);
		break;
	case CAIRN_BUILD_STAGE_OUTPUT:
		printf("  | %.*s\n", (int)ev->len, ev->line);
		break;
	case CAIRN_BUILD_STAGE_DONE:
		printf("  %-22s [OK] %.2f sec\n", ev->stage, ev->seconds);
		break;
	case CAIRN_BUILD_STAGE_FAILED:
		printf("  %-22s [FAILED] %.2f sec\n", ev->stage, ev->seconds);
		break;
	case CAIRN_BUILD_IMAGE_DONE:
		printf("  %-22s %s\n", "=> signature", ev->signature);
		break;
	}
	fflush(stdout);
}
