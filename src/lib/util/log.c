/* SPDX-License-Identifier: MIT */
/* Routes library log messages to the handler the application installed. */
#include "common.h"
#include "util/text.h"

#include <stdarg.h>

static cairn_log_fn handler;
static void *handler_data;
static enum cairn_log_level handler_level = CAIRN_LOG_ERROR;

void cairn_log_set_handler(cairn_log_fn fn, enum cairn_log_level max_level, void *userdata)
{
	handler = fn;
	handler_level = max_level;
	handler_data = userdata;
}

int cairn_log_enabled(enum cairn_log_level level)
{
	return handler && level <= handler_level;
}

void cairn_log(enum cairn_log_level level, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	if (!cairn_log_enabled(level))
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	msg = cairn_text_make_shown(msg, true);
	handler(level, msg, handler_data);
	free(msg);
}
