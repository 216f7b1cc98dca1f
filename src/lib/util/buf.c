/* SPDX-License-Identifier: MIT */
/* Growable byte buffer with a size cap and a sticky overflow error. */
#include "common.h"
#include "util/buf.h"

char cairn_buf_empty[1];

void cairn_buf_init(struct cairn_buf *b, size_t max)
{
	b->buf = cairn_buf_empty;
	b->len = 0;
	b->alloc = 0;
	b->max = max;
	b->err = 0;
}

void cairn_buf_release(struct cairn_buf *b)
{
	if (b->alloc)
		free(b->buf);
	cairn_buf_init(b, b->max);
}

static int would_overflow(struct cairn_buf *b, size_t extra)
{
	size_t want;

	if (b->err)
		return 1;
	if (__builtin_add_overflow(b->len, extra, &want) || (b->max && want > b->max)) {
		b->err = CAIRN_ETOOBIG;
		return 1;
	}
	return 0;
}

void cairn_buf_grow(struct cairn_buf *b, size_t extra)
{
	size_t want, nalloc;

	if (would_overflow(b, extra))
		return;
	want = b->len + extra + 1;
	if (want <= b->alloc)
		return;
	nalloc = b->alloc ? b->alloc : 64;
	while (nalloc < want) {
		if (__builtin_mul_overflow(nalloc, 2, &nalloc)) {
			nalloc = want;
			break;
		}
	}
	if (b->alloc) {
		b->buf = xrealloc(b->buf, nalloc);
	} else {
		b->buf = xmalloc(nalloc);
		b->buf[0] = '\0';
	}
	b->alloc = nalloc;
}

void cairn_buf_add(struct cairn_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	cairn_buf_grow(b, n);
	if (b->err)
		return;
	memcpy(b->buf + b->len, p, n);
	b->len += n;
	b->buf[b->len] = '\0';
}

void cairn_buf_addstr(struct cairn_buf *b, const char *s)
{
	cairn_buf_add(b, s, strlen(s));
}

void cairn_buf_addch(struct cairn_buf *b, char c)
{
	cairn_buf_add(b, &c, 1);
}

void cairn_buf_vaddf(struct cairn_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	if (b->err)
		return;
	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n <= 0)
		return;
	cairn_buf_grow(b, (size_t)n);
	if (b->err)
		return;
	vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void cairn_buf_addf(struct cairn_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cairn_buf_vaddf(b, fmt, ap);
	va_end(ap);
}

void cairn_buf_setlen(struct cairn_buf *b, size_t len)
{
	assert(len <= b->len);
	if (!b->alloc)
		return;
	b->len = len;
	b->buf[len] = '\0';
}

void cairn_buf_reset(struct cairn_buf *b)
{
	if (b->alloc)
		cairn_buf_setlen(b, 0);
	b->err = 0;
}

int cairn_buf_check(const struct cairn_buf *b, struct cairn_error **err)
{
	if (!b->err)
		return 0;
	return cairn_error_set(err, CAIRN_ETOOBIG, "data larger than the limit of %zu bytes",
			       b->max);
}

char *cairn_buf_detach(struct cairn_buf *b, size_t *len)
{
	char *p;

	if (len)
		*len = b->len;
	if (!b->alloc)
		p = xstrdup("");
	else
		p = b->buf;
	cairn_buf_init(b, b->max);
	return p;
}
