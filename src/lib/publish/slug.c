/* SPDX-License-Identifier: MIT */
/* Slugs (spec section 5): arbitrary strings made into docker tags, namespaces, release names. */
#include "common.h"
#include "cairn/slug.h"
#include "util/buf.h"

#include <iconv.h>
#include <locale.h>

struct format_info {
	size_t max; /* a kept input is under this; a slug is at most this long */
	bool (*valid)(const char *s, size_t len);
};

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ */
static bool valid_tag(const char *s, size_t len)
{
	if (len == 0 || !(is_alnum(s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!(is_alnum(s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

/* ^[a-z0-9]([a-z0-9-]*[a-z0-9])?$ */
static bool valid_ns(const char *s, size_t len)
{
	if (len == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
		return false;
	for (size_t i = 1; i + 1 < len; i++)
		if (!(is_lower_alnum(s[i]) || s[i] == '-'))
			return false;
	return true;
}

/* ^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$ */
static bool valid_release(const char *s, size_t len)
{
	if (len == 0 || !is_alnum(s[0]) || !is_alnum(s[len - 1]))
		return false;
	for (size_t i = 1; i + 1 < len; i++)
		if (!(is_alnum(s[i]) || s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return false;
	return true;
}

static const struct format_info formats[] = {
	[CAIRN_SLUG_TAG] = {128, valid_tag},
	[CAIRN_SLUG_NS] = {63, valid_ns},
	[CAIRN_SLUG_RELEASE] = {53, valid_release},
};

/* cairn's names, then werf's (`werf slugify -f`), so werf's CI scripts run unchanged */
static const struct {
	const char *name;
	enum cairn_slug_format f;
} format_names[] = {
	{"tag", CAIRN_SLUG_TAG},
	{"ns", CAIRN_SLUG_NS},
	{"release", CAIRN_SLUG_RELEASE},
	{"docker-tag", CAIRN_SLUG_TAG},
	{"kubernetes-namespace", CAIRN_SLUG_NS},
	{"helm-release", CAIRN_SLUG_RELEASE},
	{"r", CAIRN_SLUG_RELEASE},
};

int cairn_slug_format_parse(enum cairn_slug_format *out, const char *name, struct cairn_error **err)
{
	for (size_t i = 0; i < ARRAY_SIZE(format_names); i++) {
		if (strcmp(name, format_names[i].name) == 0) {
			*out = format_names[i].f;
			return 0;
		}
	}
	return cairn_error_set(err, CAIRN_EINVAL,
			       "unknown slug format '%s' (want tag, ns or release; or werf's "
			       "docker-tag, kubernetes-namespace, helm-release or r)",
			       name);
}

/*
 * ASCII for U+00C0..U+017F: the base letter of each precomposed letter (its canonical
 * decomposition minus the accents), plus the usual spellings of ß, æ, œ, þ and ĳ. NULL leaves
 * the character to iconv (× and ÷ only). iconv cannot be trusted with this block: glibc's C
 * locale transliterates it to '?', and other locales differ among themselves.
 */
/* clang-format off */
static const char *const latin[0x180 - 0xc0] = {
	/* U+00C0 */ "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
	/* U+00D0 */ "d", "n", "o", "o", "o", "o", "o", NULL, "o", "u", "u", "u", "u", "y", "th", "ss",
	/* U+00E0 */ "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
	/* U+00F0 */ "d", "n", "o", "o", "o", "o", "o", NULL, "o", "u", "u", "u", "u", "y", "th", "y",
	/* U+0100 */ "a", "a", "a", "a", "a", "a", "c", "c", "c", "c", "c", "c", "c", "c", "d", "d",
	/* U+0110 */ "d", "d", "e", "e", "e", "e", "e", "e", "e", "e", "e", "e", "g", "g", "g", "g",
	/* U+0120 */ "g", "g", "g", "g", "h", "h", "h", "h", "i", "i", "i", "i", "i", "i", "i", "i",
	/* U+0130 */ "i", "i", "ij", "ij", "j", "j", "k", "k", "k", "l", "l", "l", "l", "l", "l", "l",
	/* U+0140 */ "l", "l", "l", "n", "n", "n", "n", "n", "n", "n", "n", "n", "o", "o", "o", "o",
	/* U+0150 */ "o", "o", "oe", "oe", "r", "r", "r", "r", "r", "r", "s", "s", "s", "s", "s", "s",
	/* U+0160 */ "s", "s", "t", "t", "t", "t", "t", "t", "u", "u", "u", "u", "u", "u", "u", "u",
	/* U+0170 */ "u", "u", "u", "u", "w", "w", "y", "y", "y", "z", "z", "z", "z", "z", "z", "s",
};
/* clang-format on */

/*
 * Transliteration of the remaining non-ASCII characters with iconv "ASCII//TRANSLIT". glibc
 * reads the transliteration table of the calling thread's LC_CTYPE, so the same branch name
 * would give different tags under different locales. The library must not touch the process
 * locale, so the conversions run with a private "C" locale installed for this thread only
 * (uselocale), and the thread's own locale is put back before returning.
 */
struct translit {
	iconv_t cd;
	locale_t c_locale;
	bool tried;
};

static void translit_release(struct translit *t)
{
	if (t->cd != (iconv_t)-1)
		iconv_close(t->cd);
	if (t->c_locale != (locale_t)0)
		freelocale(t->c_locale);
}

/* Append the ASCII form of one UTF-8 character; nothing when there is none. */
static void translit_one(struct translit *t, struct cairn_buf *b, const char *p, size_t n)
{
	char out[64];
	char *in = (char *)p; /* iconv's prototype lacks const; it does not write the input */
	char *op = out;
	size_t il = n, ol = sizeof(out);
	locale_t old;

	if (!t->tried) {
		t->tried = true;
		t->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
		if (t->c_locale != (locale_t)0)
			t->cd = iconv_open("ASCII//TRANSLIT", "UTF-8");
	}
	if (t->cd == (iconv_t)-1)
		return;
	old = uselocale(t->c_locale);
	iconv(t->cd, NULL, NULL, NULL, NULL);
	if (iconv(t->cd, &in, &il, &op, &ol) != (size_t)-1)
		iconv(t->cd, NULL, NULL, &op, &ol);
	uselocale(old);
	/* On failure keep nothing: a partial conversion is not worth having. */
	if (il == 0)
		cairn_buf_add(b, out, (size_t)(op - out));
}

/*
 * The length of the valid UTF-8 sequence at p (at most `len` bytes) and its code point, or 0
 * for a malformed, overlong or surrogate sequence.
 */
static size_t utf8_decode(const unsigned char *p, size_t len, uint32_t *cp)
{
	size_t n;
	uint32_t c, min;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	} else if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		c = p[0] & 0x1f;
		min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		c = p[0] & 0x0f;
		min = 0x800;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		c = p[0] & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Lower-case, map separators to '-', drop the rest, no leading or doubled '-'. */
static void clean_ascii(struct cairn_buf *b, const char *s, size_t n)
{
	static const char dashes[] = " &()+,-./:;<=>[]_{}~";

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (is_lower_alnum(c)) {
			cairn_buf_addch(b, c);
		} else if (c != '\0' && strchr(dashes, c)) {
			if (b->len > 0 && b->buf[b->len - 1] != '-')
				cairn_buf_addch(b, '-');
		}
	}
}

static void trim_trailing_dashes(struct cairn_buf *b)
{
	size_t n = b->len;

	while (n > 0 && b->buf[n - 1] == '-')
		n--;
	cairn_buf_setlen(b, n);
}

/* The cleaned form of s: only [a-z0-9-], no '-' at either end nor twice in a row. */
static void slug_clean(struct cairn_buf *out, const char *s, size_t len)
{
	CLEANUP(cairn_buf_release) struct cairn_buf ascii = CAIRN_BUF_INIT;
	CLEANUP(translit_release) struct translit t = {.cd = (iconv_t)-1};
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		size_t n = utf8_decode(p + i, len - i, &cp);

		if (n == 0) {
			/* Not UTF-8: there is nothing to transliterate, drop the byte. */
			i++;
			continue;
		}
		if (cp < 0x80)
			cairn_buf_addch(&ascii, (char)cp);
		else if (cp >= 0xc0 && cp < 0x180 && latin[cp - 0xc0])
			cairn_buf_addstr(&ascii, latin[cp - 0xc0]);
		else
			translit_one(&t, &ascii, s + i, n);
		i += n;
	}
	clean_ascii(out, ascii.buf, ascii.len);
	trim_trailing_dashes(out);
}

char *cairn_slugify(enum cairn_slug_format f, const char *s, size_t len)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	const struct format_info *fi;
	char hash[9];
	size_t room;
	int n;

	assert((size_t)f < ARRAY_SIZE(formats));
	fi = &formats[f];
	if (len < fi->max && fi->valid(s, len))
		return xstrndup(s, len);

	n = snprintf(hash, sizeof(hash), "%x", cairn_murmur3_32(s, len, 0));
	assert(n > 0 && (size_t)n < sizeof(hash));
	slug_clean(&b, s, len);
	if (b.len > 0) {
		/* Room for the cleaned part: the whole slug, "-" and the hash, fits in fi->max. */
		room = fi->max - 1 - (size_t)n;
		if (b.len > room) {
			cairn_buf_setlen(&b, room);
			trim_trailing_dashes(&b);
		}
		cairn_buf_addch(&b, '-');
	}
	cairn_buf_add(&b, hash, (size_t)n);
	return cairn_buf_detach(&b, NULL);
}
