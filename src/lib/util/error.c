/* SPDX-License-Identifier: MIT */
/* The error object: created once at the root cause, wrapped with context on the way up. */
#include "common.h"
#include "util/text.h"

#include <stdarg.h>

static int set_v(struct cairn_error **err, enum cairn_code c, int sys_errno, const char *suffix,
		 const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

static int set_v(struct cairn_error **err, enum cairn_code c, int sys_errno, const char *suffix,
		 const char *fmt, va_list ap)
{
	struct cairn_error *e;
	char *msg = NULL;

	if (!err)
		return c;
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	if (suffix) {
		char *full = xasprintf("%s: %s", msg, suffix);

		free(msg);
		msg = full;
	}
	if (*err) {
		/* A second root cause would hide the first: keep the first, it is the real one. */
		free(msg);
		return (*err)->code;
	}
	/* messages quote configs, layers and registries: nothing in them reaches the terminal */
	msg = cairn_text_make_shown(msg, true);
	e = xcalloc(1, sizeof(*e));
	e->code = c;
	e->sys_errno = sys_errno;
	e->msg = msg;
	*err = e;
	return c;
}

int cairn_error_set(struct cairn_error **err, enum cairn_code c, const char *fmt, ...)
{
	va_list ap;
	int r;

	assert(c < 0);
	va_start(ap, fmt);
	r = set_v(err, c, 0, NULL, fmt, ap);
	va_end(ap);
	return r;
}

int cairn_error_set_errno(struct cairn_error **err, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = set_v(err, CAIRN_EOS, saved, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
	return r;
}

int cairn_error_wrap(struct cairn_error **err, const char *fmt, ...)
{
	va_list ap;
	char *ctx = NULL, *full;

	if (!err)
		return CAIRN_EINTERNAL;
	va_start(ap, fmt);
	if (vasprintf(&ctx, fmt, ap) < 0)
		abort();
	va_end(ap);
	ctx = cairn_text_make_shown(ctx, true);
	if (!*err) {
		full = xasprintf("%s: unknown error", ctx);
		free(ctx);
		*err = xcalloc(1, sizeof(**err));
		(*err)->code = CAIRN_EINTERNAL;
		(*err)->msg = full;
		return CAIRN_EINTERNAL;
	}
	full = xasprintf("%s: %s", ctx, (*err)->msg);
	free(ctx);
	free((*err)->msg);
	(*err)->msg = full;
	return (*err)->code;
}

void cairn_error_free(struct cairn_error *err)
{
	if (!err)
		return;
	free(err->msg);
	free(err);
}

void cairn_error_clear(struct cairn_error **err)
{
	cairn_error_free(*err);
	*err = NULL;
}

const char *cairn_code_name(int code)
{
	static const char *const names[] = {
		"OK",	"EINTERNAL", "EINVAL",	"ENOTFOUND", "EDIGEST",	     "EAUTH",
		"ENET", "EHTTP",     "ETOOBIG", "EOS",	     "EINTERRUPTED", "EUSAGE",
	};

	if (code > 0 || -code >= (int)ARRAY_SIZE(names))
		return "EUNKNOWN";
	return names[-code];
}
