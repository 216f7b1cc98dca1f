/* SPDX-License-Identifier: MIT */
/* Growable byte buffer with a size cap and a sticky overflow error (git strbuf + curl dynbuf). */
#ifndef CAIRN_UTIL_BUF_H
#define CAIRN_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "cairn/error.h"

struct cairn_buf {
	char *buf;    /* never NULL once initialized; always NUL-terminated; may hold NULs */
	size_t len;   /* bytes used, excluding the NUL */
	size_t alloc; /* 0 while buf points at the shared empty string */
	size_t max;   /* hard cap on len; 0 = unlimited */
	int err; /* sticky CAIRN_ETOOBIG once an append would pass max; later appends do nothing */
};

extern char cairn_buf_empty[];

#define CAIRN_BUF_INIT                 \
	{                              \
		.buf = cairn_buf_empty \
	}
#define CAIRN_BUF_INIT_MAX(n)                      \
	{                                          \
		.buf = cairn_buf_empty, .max = (n) \
	}

/* Initialise with a cap (0 = none); allocates nothing. */
void cairn_buf_init(struct cairn_buf *b, size_t max);
/* Free the contents; the buffer is left initialised and empty (the cap is kept). */
void cairn_buf_release(struct cairn_buf *b);
/* Make sure `extra` more bytes fit without reallocation (subject to the cap). */
void cairn_buf_grow(struct cairn_buf *b, size_t extra);
void cairn_buf_add(struct cairn_buf *b, const void *p, size_t n);
void cairn_buf_addstr(struct cairn_buf *b, const char *s);
void cairn_buf_addch(struct cairn_buf *b, char c);
void cairn_buf_addf(struct cairn_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void cairn_buf_vaddf(struct cairn_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Shorten to `len` bytes (len <= b->len). Clears nothing else. */
void cairn_buf_setlen(struct cairn_buf *b, size_t len);
void cairn_buf_reset(struct cairn_buf *b);
/* CAIRN_ETOOBIG with a message if an append hit the cap, else 0. */
int cairn_buf_check(const struct cairn_buf *b, struct cairn_error **err);
/* Hand the bytes to the caller (who frees them); `b` is reset. `len` may be NULL. */
char *cairn_buf_detach(struct cairn_buf *b, size_t *len);

#endif
