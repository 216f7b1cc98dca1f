/* SPDX-License-Identifier: MIT */
/* Printing for the CLI: errors, usage lines, the log handler, exit codes. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/*
 * Colour on `fd`: on a terminal whose TERM is not "dumb", unless NO_COLOR is set
 * (no-color.org); CLICOLOR_FORCE (not "0") forces it into a pipe too.
 */
static bool colour_on(int fd)
{
	static int cached[3] = {-1, -1, -1};
	const char *force = getenv("CLICOLOR_FORCE");
	const char *term = getenv("TERM");

	if (cached[fd] >= 0)
		return cached[fd];
	cached[fd] = 0;
	if (getenv("NO_COLOR") && *getenv("NO_COLOR"))
		return false;
	if (force && *force && strcmp(force, "0") != 0)
		cached[fd] = 1;
	else
		cached[fd] = isatty(fd) && !(term && strcmp(term, "dumb") == 0);
	return cached[fd];
}

/* SGR `code` on `fd` when colour is on, else "". */
static const char *sgr(int fd, const char *code)
{
	return colour_on(fd) ? code : "";
}

#define RED "\033[31m"
#define GREEN "\033[32m"
#define YELLOW "\033[33m"
#define CYAN "\033[36m"
#define BOLD_RED "\033[1;31m"
#define OFF "\033[0m"

static void error_prefix(void)
{
	fprintf(stderr, "cairn: %serror:%s ", sgr(2, BOLD_RED), sgr(2, OFF));
}

int cli_usage_error(const char *name, const char *fmt, ...)
{
	va_list ap;

	error_prefix();
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return cli_usage(name);
}

/* ---- --log-format json: one JSON object per line on stdout ---- */

static bool json_events;

bool cli_log_format_json(void)
{
	return json_events;
}

int cli_log_format_set(const char *format)
{
	if (strcmp(format, "json") == 0)
		json_events = true;
	else if (strcmp(format, "text") == 0)
		json_events = false;
	else
		return -1;
	return 0;
}

/* `s` (`n` bytes) as a JSON string: escaped, invalid UTF-8 as U+FFFD. */
static void json_str(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		size_t u;

		if (p[i] == '"' || p[i] == '\\')
			fprintf(f, "\\%c", p[i]);
		else if (p[i] == '\n')
			fputs("\\n", f);
		else if (p[i] == '\t')
			fputs("\\t", f);
		else if (p[i] < 0x20 || p[i] == 0x7f)
			fprintf(f, "\\u%04x", p[i]);
		else if (p[i] < 0x80)
			fputc(p[i], f);
		else if ((u = cairn_utf8_len(p + i, n - i))) {
			fwrite(p + i, 1, u, f);
			i += u - 1;
		} else {
			fputs("\\ufffd", f);
		}
	}
	fputc('"', f);
}

/* {"event": EVENT, then `key, value` string pairs (a NULL value is left out), then `tail` */
static void json_event(const char *event, const char *const *kv, size_t n_kv, const char *tail)
{
	fputs("{\"event\":", stdout);
	json_str(stdout, event, strlen(event));
	for (size_t i = 0; i + 1 < n_kv; i += 2) {
		if (!kv[i + 1])
			continue;
		fprintf(stdout, ",\"%s\":", kv[i]);
		json_str(stdout, kv[i + 1], strlen(kv[i + 1]));
	}
	fprintf(stdout, "%s}\n", tail ? tail : "");
	fflush(stdout);
}

int cli_fail(struct cairn_error *err)
{
	if (json_events) {
		const char *kv[] = {"message", err && err->msg ? err->msg : "unknown error"};

		json_event("error", kv, 2, NULL);
	}
	error_prefix();
	fprintf(stderr, "%s\n", err && err->msg ? err->msg : "unknown error");
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
	static const char *const prefix[] = {"error:", "warning:", "", "debug:", "trace:"};
	static const char *const colour[] = {BOLD_RED, YELLOW, "", "", ""};

	(void)userdata;
	if (!prefix[level][0])
		fprintf(stderr, "cairn: %s\n", msg);
	else
		fprintf(stderr, "cairn: %s%s%s %s\n", sgr(2, colour[level]), prefix[level],
			colour[level][0] ? sgr(2, OFF) : "", msg);
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

/* ---- --log-time: stdout and stderr through streams that start each line with the time ---- */

struct stamped {
	int fd;
	bool bol; /* at the beginning of a line */
};

static bool log_time;

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static ssize_t stamped_write(void *cookie, const char *buf, size_t n)
{
	struct stamped *s = cookie;
	size_t done = 0;

	while (done < n) {
		const char *nl = memchr(buf + done, '\n', n - done);
		size_t len = nl ? (size_t)(nl - (buf + done)) + 1 : n - done;

		if (s->bol) {
			struct timespec ts;
			struct tm tm;
			char stamp[32];

			clock_gettime(CLOCK_REALTIME, &ts);
			localtime_r(&ts.tv_sec, &tm);
			snprintf(stamp, sizeof(stamp), "%02d:%02d:%02d.%03ld ", tm.tm_hour,
				 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
			write_all(s->fd, stamp, strlen(stamp));
		}
		write_all(s->fd, buf + done, len);
		s->bol = nl != NULL;
		done += len;
	}
	return (ssize_t)n;
}

void cli_log_time_on(void)
{
	static struct stamped out = {STDOUT_FILENO, true}, err = {STDERR_FILENO, true};
	cookie_io_functions_t io = {.write = stamped_write};
	FILE *o, *e;

	if (log_time)
		return;
	o = fopencookie(&out, "w", io);
	e = fopencookie(&err, "w", io);
	if (!o || !e)
		abort();
	fflush(stdout);
	fflush(stderr);
	setvbuf(o, NULL, _IOLBF, 0);
	setvbuf(e, NULL, _IOLBF, 0);
	stdout = o;
	stderr = e;
	log_time = true;
}

static double now_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_init(struct cli_progress *ps, int quiet)
{
	const char *e = getenv("CAIRN_PROGRESS_SECONDS");

	memset(ps, 0, sizeof(*ps));
	ps->tty = isatty(STDERR_FILENO) && !log_time; /* stamped lines are not redrawn */
	ps->quiet = quiet;
	ps->every = e && atof(e) > 0 ? atof(e) : 10.0;
}

/* Take the live lines off the screen (the cursor ends where the first one was). */
static void erase_rows(struct cli_progress *ps)
{
	if (ps->drawn)
		fprintf(stderr, "\033[%dA\r\033[J", ps->drawn);
	ps->drawn = 0;
}

/* "4.0 MiB / 12.3 MiB (33%), 1.2 MiB/s, 7 s left" for row `i` at `now`. */
static void row_state(char *buf, size_t n, const struct cli_progress *ps, int i, double now)
{
	char done[32], total[32], rate[32];
	double secs = now - ps->rows[i].start;
	double bps = secs > 0.2 ? (double)ps->rows[i].done / secs : 0;
	uint64_t left = ps->rows[i].total - ps->rows[i].done;
	int pct = ps->rows[i].total ? (int)(100 * ps->rows[i].done / ps->rows[i].total) : 0;

	human_size(done, sizeof(done), ps->rows[i].done);
	human_size(total, sizeof(total), ps->rows[i].total);
	human_size(rate, sizeof(rate), (uint64_t)bps);
	if (bps > 0 && ps->rows[i].done <= ps->rows[i].total)
		snprintf(buf, n, "%s / %s (%d%%), %s/s, %.0f s left", done, total, pct, rate,
			 (double)left / bps);
	else
		snprintf(buf, n, "%s / %s (%d%%)", done, total, pct);
}

static void draw_rows(struct cli_progress *ps)
{
	double now = now_secs();

	for (int i = 0; i < ps->n_rows; i++) {
		char state[128];

		row_state(state, sizeof(state), ps, i, now);
		fprintf(stderr, "  %s  %s\n", ps->rows[i].digest, state);
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

/* A blob done: its size, time and rate. */
static void blob_done(struct cli_progress *ps, const struct cairn_progress *p, const char *size)
{
	int row = find_row(ps, p->digest);
	double secs = row >= 0 ? now_secs() - ps->rows[row].start : 0;
	char rate[32] = "";

	if (row >= 0)
		ps->rows[row] = ps->rows[--ps->n_rows];
	if (secs >= 0.05) {
		human_size(rate, sizeof(rate), (uint64_t)((double)p->total / secs));
		fprintf(stderr, "  %s  %s  %s in %.1f s (%s/s)\n", short_digest(p->digest), size,
			p->push ? "pushed" : "pulled", secs, rate);
	} else {
		fprintf(stderr, "  %s  %s  %s\n", short_digest(p->digest), size,
			p->push ? "pushed" : "pulled");
	}
}

static void progress_json(const struct cairn_progress *p)
{
	static const char *const states[] = {
		[CAIRN_PROGRESS_BLOB_EXISTS] = "exists",
		[CAIRN_PROGRESS_BLOB_MOUNTED] = "mounted",
		[CAIRN_PROGRESS_BLOB_START] = "start",
		[CAIRN_PROGRESS_BLOB_BYTES] = "progress",
		[CAIRN_PROGRESS_BLOB_DONE] = "done",
		[CAIRN_PROGRESS_MANIFEST_EXISTS] = "exists",
		[CAIRN_PROGRESS_MANIFEST_DONE] = "pushed",
	};
	bool manifest = p->kind == CAIRN_PROGRESS_MANIFEST_EXISTS ||
			p->kind == CAIRN_PROGRESS_MANIFEST_DONE;
	const char *kv[] = {"state",	 states[p->kind],
			    "ref",	 p->ref,
			    "digest",	 p->digest->str,
			    "direction", manifest ? NULL : p->push ? "push" : "pull"};
	char tail[96];

	snprintf(tail, sizeof(tail), ",\"done\":%" PRIu64 ",\"total\":%" PRIu64, p->done, p->total);
	json_event(manifest ? "manifest" : "blob", kv, sizeof(kv) / sizeof(kv[0]), tail);
}

void cli_on_progress(const struct cairn_progress *p, void *ud)
{
	struct cli_progress *ps = ud;
	char size[32], state[128];
	double now;
	int row;

	if (json_events) {
		progress_json(p);
		return;
	}
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
			row = ps->n_rows++;
			snprintf(ps->rows[row].digest, sizeof(ps->rows[0].digest), "%s",
				 short_digest(p->digest));
			ps->rows[row].done = 0;
			ps->rows[row].total = p->total;
			ps->rows[row].start = ps->rows[row].said = now_secs();
		}
		if (!ps->tty)
			fprintf(stderr, "  %s  %s  %s\n", short_digest(p->digest), size,
				p->push ? "pushing" : "pulling");
		break;
	case CAIRN_PROGRESS_BLOB_BYTES:
		row = find_row(ps, p->digest);
		if (row < 0)
			break;
		ps->rows[row].done = p->done;
		now = now_secs();
		if (!ps->tty && now - ps->rows[row].said >= ps->every) {
			row_state(state, sizeof(state), ps, row, now);
			fprintf(stderr, "  %s  %s\n", ps->rows[row].digest, state);
			ps->rows[row].said = now;
		}
		break;
	case CAIRN_PROGRESS_BLOB_DONE:
		blob_done(ps, p, size);
		break;
	case CAIRN_PROGRESS_MANIFEST_EXISTS:
		fprintf(stderr, "%s[EXIST]%s %s %s\n", sgr(2, CYAN), sgr(2, OFF), p->ref,
			p->digest->str);
		break;
	case CAIRN_PROGRESS_MANIFEST_DONE:
		fprintf(stderr, "%s[OK]%s %s %s\n", sgr(2, GREEN), sgr(2, OFF), p->ref,
			p->digest->str);
		break;
	}
	if (ps->tty)
		draw_rows(ps);
	fflush(stderr);
}

static void build_event_json(const struct cairn_build_event *ev)
{
	static const char *const states[] = {
		[CAIRN_BUILD_STAGE_CACHED] = "cached",	 [CAIRN_BUILD_STAGE_BEGIN] = "building",
		[CAIRN_BUILD_STAGE_DONE] = "built",	 [CAIRN_BUILD_STAGE_FAILED] = "failed",
		[CAIRN_BUILD_STAGE_MISSING] = "missing",
	};
	char tail[64] = "";

	switch (ev->kind) {
	case CAIRN_BUILD_IMAGE_BEGIN:
	case CAIRN_BUILD_IMAGE_DONE: {
		const char *kv[] = {
			"state",     ev->kind == CAIRN_BUILD_IMAGE_BEGIN ? "begin" : "done",
			"image",     ev->image,
			"signature", ev->signature,
			"digest",    ev->digest ? ev->digest->str : NULL};

		json_event("image", kv, sizeof(kv) / sizeof(kv[0]), NULL);
		break;
	}
	case CAIRN_BUILD_STAGE_OUTPUT:
		fputs("{\"event\":\"output\",\"image\":", stdout);
		json_str(stdout, ev->image, strlen(ev->image));
		fputs(",\"stage\":", stdout);
		json_str(stdout, ev->stage, strlen(ev->stage));
		fputs(",\"line\":", stdout);
		json_str(stdout, ev->line, ev->len);
		fputs("}\n", stdout);
		fflush(stdout);
		break;
	default: {
		const char *kv[] = {"state", states[ev->kind], "image",	    ev->image,
				    "stage", ev->stage,	       "signature", ev->signature};

		if (ev->kind == CAIRN_BUILD_STAGE_DONE || ev->kind == CAIRN_BUILD_STAGE_FAILED)
			snprintf(tail, sizeof(tail), ",\"seconds\":%.3f", ev->seconds);
		json_event("stage", kv, sizeof(kv) / sizeof(kv[0]), tail);
		break;
	}
	}
}

void cli_on_build_event(const struct cairn_build_event *ev, void *ud)
{
	int quiet = *(int *)ud;

	if (json_events) {
		build_event_json(ev);
		return;
	}
	if (quiet && ev->kind != CAIRN_BUILD_STAGE_FAILED)
		return;
	switch (ev->kind) {
	case CAIRN_BUILD_IMAGE_BEGIN:
		printf("%s\n", ev->image);
		break;
	case CAIRN_BUILD_STAGE_CACHED:
		printf("  %-22s %s[USING CACHE]%s\n", ev->stage, sgr(1, CYAN), sgr(1, OFF));
		break;
	case CAIRN_BUILD_STAGE_BEGIN:
		printf("  %-22s %s[BUILDING]%s\n", ev->stage, sgr(1, YELLOW), sgr(1, OFF));
		break;
	case CAIRN_BUILD_STAGE_OUTPUT:
		printf("  | %.*s\n", (int)ev->len, ev->line);
		break;
	case CAIRN_BUILD_STAGE_DONE:
		printf("  %-22s %s[OK]%s %.2f sec\n", ev->stage, sgr(1, GREEN), sgr(1, OFF),
		       ev->seconds);
		break;
	case CAIRN_BUILD_STAGE_FAILED:
		printf("  %-22s %s[FAILED]%s %.2f sec\n", ev->stage, sgr(1, BOLD_RED), sgr(1, OFF),
		       ev->seconds);
		break;
	case CAIRN_BUILD_STAGE_MISSING:
		printf("  %-22s %s[TO BUILD]%s and every stage after it\n", ev->stage,
		       sgr(1, YELLOW), sgr(1, OFF));
		break;
	case CAIRN_BUILD_IMAGE_DONE:
		printf("  %-22s %s\n", "=> signature", ev->signature);
		break;
	}
	fflush(stdout);
}
