/* SPDX-License-Identifier: MIT */
/* Printing for the CLI: errors, usage lines, the log handler, exit codes. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/build.h"
#include "cairn/interrupt.h"
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

int cli_fail_cmd(const char *cmd, struct cairn_error *err)
{
	if (err && err->code == CAIRN_EUSAGE) {
		int ret = cli_usage_error(cmd, "%s", err->msg);

		cairn_error_free(err);
		return ret;
	}
	return cli_fail(err);
}

int cli_exit_status(int ret, const char *cmd)
{
	int signo = cairn_interrupted();
	const char *name;

	if (!signo)
		return ret;
	if (ret == CLI_EXIT_OK) {
		/* it finished, but what it printed may be lost (SIGPIPE) or unwanted */
		name = sigabbrev_np(signo);
		fprintf(stderr, "cairn: error: %s: interrupted by SIG%s\n", cmd, name ? name : "?");
	}
	return CLI_EXIT_INTERRUPTED + signo;
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

/* Take the live lines off the screen (the cursor ends where the first one was). */
static void erase_rows(struct cli_progress *ps)
{
	if (ps->drawn)
		fprintf(stderr, "\033[%dA\r\033[J", ps->drawn);
	ps->drawn = 0;
}

static void draw_rows(struct cli_progress *ps)
{
	for (int i = 0; i < ps->n_rows; i++) {
		char done[32], total[32];

		human_size(done, sizeof(done), ps->rows[i].done);
		human_size(total, sizeof(total), ps->rows[i].total);
		fprintf(stderr, "  %s  %s / %s\n", ps->rows[i].digest, done, total);
	}
	ps->drawn = ps->n_rows;
}

static int find_row(struct cli_progress *ps, const struct cairn_digest *d)
{
	for (int i = 0; i < ps->n_rows; i++)
		if (strcmp(ps->rows[i].digest, short_digest(d)) == 0)
			return i;
	return -1;
}

void cli_progress_end(struct cli_progress *ps)
{
	if (ps->tty)
		erase_rows(ps);
	ps->n_rows = 0;
}

void cli_on_progress(const struct cairn_progress *p, void *ud)
{
	struct cli_progress *ps = ud;
	char size[32];
	int row;

	if (ps->quiet)
		return;
	human_size(size, sizeof(size), p->total);
	if (ps->tty)
		erase_rows(ps);
	switch (p->kind) {
	case CAIRN_PROGRESS_BLOB_EXISTS:
		fprintf(stderr, "  %s  %s  exists\n", short_digest(p->digest), size);
		break;
	case CAIRN_PROGRESS_BLOB_MOUNTED:
		fprintf(stderr, "  %s  %s  mounted\n", short_digest(p->digest), size);
		break;
	case CAIRN_PROGRESS_BLOB_START:
		if (ps->n_rows < CLI_PROGRESS_ROWS) {
			snprintf(ps->rows[ps->n_rows].digest, sizeof(ps->rows[0].digest), "%s",
				 short_digest(p->digest));
			ps->rows[ps->n_rows].done = 0;
			ps->rows[ps->n_rows].total = p->total;
			ps->n_rows++;
		}
		break;
	case CAIRN_PROGRESS_BLOB_BYTES:
		row = find_row(ps, p->digest);
		if (row >= 0)
			ps->rows[row].done = p->done;
		break;
	case CAIRN_PROGRESS_BLOB_DONE:
		row = find_row(ps, p->digest);
		if (row >= 0)
			ps->rows[row] = ps->rows[--ps->n_rows];
		fprintf(stderr, "  %s  %s  %s\n", short_digest(p->digest), size,
			strcmp(ps->verb, "push") == 0 ? "pushed" : "pulled");
		break;
	case CAIRN_PROGRESS_MANIFEST_EXISTS:
		fprintf(stderr, "[EXIST] %s %s\n", p->ref, p->digest->str);
		break;
	case CAIRN_PROGRESS_MANIFEST_DONE:
		fprintf(stderr, "[OK] %s %s\n", p->ref, p->digest->str);
		break;
	}
	if (ps->tty)
		draw_rows(ps);
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
