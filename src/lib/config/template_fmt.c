/* SPDX-License-Identifier: MIT */
/* Go's print, println and printf: the verbs and flags of package fmt that configs use. */
#include "common.h"
#include "config/template_internal.h"
#include "util/buf.h"

/* Go's fmt refuses widths and precisions past this ("%!(BADWIDTH)"). */
#define FMT_NUM_MAX 1000000

struct spec {
	bool minus, plus, sharp, space, zero;
	int wid, prec; /* -1: not given */
	char verb;
};

static size_t runes(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

/* Go's fmt.pad: `s` padded to the width, counted in runes; zeros on the left when asked. */
static void pad(struct cairn_buf *b, const struct spec *f, const char *s, size_t len)
{
	size_t n = runes(s, len);
	size_t fill = f->wid > 0 && (size_t)f->wid > n ? (size_t)f->wid - n : 0;

	if (f->minus)
		cairn_buf_add(b, s, len);
	for (size_t i = 0; i < fill && !b->err; i++)
		cairn_buf_addch(b, f->zero && !f->minus ? '0' : ' ');
	if (!f->minus)
		cairn_buf_add(b, s, len);
}

/* Go's strconv.Quote for valid UTF-8; a byte that is not is written \xNN. */
void tpl_go_quote(struct cairn_buf *b, const char *s, size_t len)
{
	cairn_buf_addch(b, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		const char *esc = NULL;

		switch (ch) {
		case '"':
			esc = "\\\"";
			break;
		case '\\':
			esc = "\\\\";
			break;
		case '\a':
			esc = "\\a";
			break;
		case '\b':
			esc = "\\b";
			break;
		case '\f':
			esc = "\\f";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		case '\t':
			esc = "\\t";
			break;
		case '\v':
			esc = "\\v";
			break;
		default:
			break;
		}
		if (esc)
			cairn_buf_addstr(b, esc);
		else if (ch < 0x20 || ch == 0x7f)
			cairn_buf_addf(b, "\\x%02x", ch);
		else
			cairn_buf_addch(b, (char)ch);
	}
	cairn_buf_addch(b, '"');
}

size_t tpl_utf8_put(char *p, int64_t r)
{
	if (r < 0 || r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff))
		r = 0xfffd;
	if (r < 0x80) {
		p[0] = (char)r;
		return 1;
	}
	if (r < 0x800) {
		p[0] = (char)(0xc0 | r >> 6);
		p[1] = (char)(0x80 | (r & 0x3f));
		return 2;
	}
	if (r < 0x10000) {
		p[0] = (char)(0xe0 | r >> 12);
		p[1] = (char)(0x80 | (r >> 6 & 0x3f));
		p[2] = (char)(0x80 | (r & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | r >> 18);
	p[1] = (char)(0x80 | (r >> 12 & 0x3f));
	p[2] = (char)(0x80 | (r >> 6 & 0x3f));
	p[3] = (char)(0x80 | (r & 0x3f));
	return 4;
}

/* Go's fmt.fmtInteger. */
static void fmt_int(struct cairn_buf *b, const struct spec *f, int64_t v)
{
	static const char lower[] = "0123456789abcdef", upper[] = "0123456789ABCDEF";
	unsigned base = 10;
	const char *digits = lower;
	char tmp[96];
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	size_t i = sizeof(tmp);
	int prec = f->prec;
	struct spec nz = *f;

	switch (f->verb) {
	case 'b':
		base = 2;
		break;
	case 'o':
	case 'O':
		base = 8;
		break;
	case 'x':
		base = 16;
		break;
	case 'X':
		base = 16;
		digits = upper;
		break;
	default:
		break;
	}
	nz.zero = false;
	if (prec == 0 && u == 0) {
		pad(b, &nz, "", 0);
		return;
	}
	if (prec < 0 && f->zero && !f->minus && f->wid > 0)
		prec = f->wid - (v < 0 || f->plus || f->space);
	if (prec > 64)
		prec = 64;
	do {
		tmp[--i] = digits[u % base];
		u /= base;
	} while (u);
	while (prec > 0 && sizeof(tmp) - i < (size_t)prec)
		tmp[--i] = '0';
	if (f->sharp && base == 8 && tmp[i] != '0')
		tmp[--i] = '0';
	if (f->sharp && (base == 2 || base == 16)) {
		tmp[--i] = base == 2 ? 'b' : f->verb;
		tmp[--i] = '0';
	}
	if (f->verb == 'O') {
		tmp[--i] = 'o';
		tmp[--i] = '0';
	}
	if (v < 0)
		tmp[--i] = '-';
	else if (f->plus)
		tmp[--i] = '+';
	else if (f->space)
		tmp[--i] = ' ';
	pad(b, &nz, tmp + i, sizeof(tmp) - i);
}

/* A string cut to the precision, in runes. */
static size_t cut(const struct spec *f, const char *s, size_t len)
{
	size_t n = 0;

	if (f->prec < 0)
		return len;
	for (size_t i = 0; i < len; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80 && n++ == (size_t)f->prec)
			return i;
	}
	return len;
}

static void fmt_str(struct cairn_buf *b, const struct spec *f, const char *s, size_t len)
{
	CLEANUP(cairn_buf_release) struct cairn_buf t = CAIRN_BUF_INIT;
	size_t n = cut(f, s, len);

	switch (f->verb) {
	case 'q':
		tpl_go_quote(&t, s, n);
		break;
	case 'x':
	case 'X':
		n = f->prec >= 0 && (size_t)f->prec < len ? (size_t)f->prec : len;
		for (size_t i = 0; i < n; i++)
			cairn_buf_addf(&t, f->verb == 'x' ? "%02x" : "%02X", (unsigned char)s[i]);
		break;
	default:
		if (f->verb == 'v' && f->sharp)
			tpl_go_quote(&t, s, n);
		else
			cairn_buf_add(&t, s, n);
		break;
	}
	pad(b, f, t.buf, t.len);
}

static int fmt_val(struct exec *x, struct cairn_buf *b, const struct spec *f, const struct val *v,
		   unsigned depth, size_t off, struct cairn_error **err);

/* Go's %!verb(type=value): a verb that does not fit the value. */
static int bad_verb(struct exec *x, struct cairn_buf *b, const struct spec *f, const struct val *v,
		    unsigned depth, size_t off, struct cairn_error **err)
{
	struct spec vf = *f;

	cairn_buf_addf(b, "%%!%c(", f->verb);
	if (v->kind == V_NIL) {
		cairn_buf_addstr(b, "<nil>)");
		return 0;
	}
	cairn_buf_addf(b, "%s=", tpl_go_type(v));
	vf.verb = 'v';
	if (fmt_val(x, b, &vf, v, depth, off, err) < 0)
		return CAIRN_ETOOBIG;
	cairn_buf_addch(b, ')');
	return 0;
}

/* Lists and maps: each item with the same verb and flags, as Go's printValue does. */
static int fmt_items(struct exec *x, struct cairn_buf *b, const struct spec *f, const struct val *v,
		     unsigned depth, size_t off, struct cairn_error **err)
{
	int ret;

	if (depth >= TPL_VALUE_DEPTH_MAX)
		return tpl_too_deep(x, off, err);
	cairn_buf_addstr(b, v->kind == V_MAP ? "map[" : "[");
	for (size_t i = 0; i < v->n && !b->err; i++) {
		if (i)
			cairn_buf_addch(b, ' ');
		if (v->kind == V_MAP) {
			ret = fmt_val(x, b, f, v->k[i], depth + 1, off, err);
			if (ret < 0)
				return ret;
			cairn_buf_addch(b, ':');
		}
		if (v->v[i]->kind == V_NIL) {
			/* a nil item is <nil> whatever the verb */
			cairn_buf_addstr(b, "<nil>");
			continue;
		}
		ret = fmt_val(x, b, f, v->v[i], depth + 1, off, err);
		if (ret < 0)
			return ret;
	}
	cairn_buf_addch(b, ']');
	return 0;
}

static int fmt_val(struct exec *x, struct cairn_buf *b, const struct spec *f, const struct val *v,
		   unsigned depth, size_t off, struct cairn_error **err)
{
	const char *s;
	char r[8];
	char verb = f->verb;

	if (tpl_step(x, x->src, off, err) < 0)
		return CAIRN_ETOOBIG;
	if (verb == 'T') {
		s = tpl_go_type(v);
		pad(b, f, s, strlen(s));
		return 0;
	}
	switch (v->kind) {
	case V_NIL:
		if (verb != 'v')
			break;
		pad(b, f, "<nil>", 5);
		return 0;
	case V_BOOL:
		if (verb != 'v' && verb != 't')
			break;
		pad(b, f, v->b ? "true" : "false", v->b ? 4 : 5);
		return 0;
	case V_INT:
		if (strchr("vdboOxX", verb)) {
			fmt_int(b, f, v->i);
			return 0;
		}
		if (verb == 'c' || verb == 'q') {
			CLEANUP(cairn_buf_release) struct cairn_buf t = CAIRN_BUF_INIT;
			size_t n = tpl_utf8_put(r, v->i);

			if (verb == 'q')
				cairn_buf_addch(&t, '\'');
			cairn_buf_add(&t, r, n);
			if (verb == 'q')
				cairn_buf_addch(&t, '\'');
			pad(b, f, t.buf, t.len);
			return 0;
		}
		break;
	case V_STR:
		if (!strchr("vsqxX", verb))
			break;
		fmt_str(b, f, v->s, v->len);
		return 0;
	case V_LIST:
	case V_MAP:
		return fmt_items(x, b, f, v, depth, off, err);
	case V_FILES:
		pad(b, f, "{}", 2);
		return 0;
	}
	return bad_verb(x, b, f, v, depth, off, err);
}

static int print_common(struct exec *x, struct val **out, struct val **argv, size_t argc,
			const struct cmd *cmd, bool ln, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release)
	struct cairn_buf b = CAIRN_BUF_INIT_MAX(CAIRN_TEMPLATE_OUTPUT_MAX);
	const struct spec f = {.wid = -1, .prec = -1, .verb = 'v'};
	bool prev_str = false;

	for (size_t i = 0; i < argc; i++) {
		bool is_str = argv[i]->kind == V_STR;
		int ret;

		/* Sprint: a space between two operands when neither is a string */
		if (i && (ln || (!is_str && !prev_str)))
			cairn_buf_addch(&b, ' ');
		ret = fmt_val(x, &b, &f, argv[i], 0, cmd->off, err);
		if (ret < 0)
			return ret;
		prev_str = is_str;
	}
	if (ln)
		cairn_buf_addch(&b, '\n');
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

TPL_FN(print)
{
	return print_common(x, out, argv, argc, cmd, false, err);
}

TPL_FN(println)
{
	return print_common(x, out, argv, argc, cmd, true, err);
}

/* The state of one printf: the format, where it is, the operands and the next one. */
struct pf {
	const char *s;
	size_t len, i;
	struct val **argv;
	size_t argc, next;
	bool reordered, good_arg;
};

/* Go's parsenum: digits at the current position; a number past the cap eats the format. */
static bool parse_num(struct pf *p, int *out)
{
	bool any = false;
	long n = 0;

	*out = -1;
	for (; p->i < p->len && p->s[p->i] >= '0' && p->s[p->i] <= '9'; p->i++) {
		if (n > FMT_NUM_MAX) {
			p->i = p->len;
			return false;
		}
		n = n * 10 + (p->s[p->i] - '0');
		any = true;
	}
	if (any)
		*out = (int)n;
	return any;
}

/* Go's argNumber: an index "[n]" at the current position; true when one was there and good. */
static bool arg_number(struct pf *p)
{
	size_t j = p->i + 1;
	bool ok = false;
	long n = 0;

	if (p->i >= p->len || p->s[p->i] != '[')
		return false;
	p->reordered = true;
	while (j < p->len && p->s[j] != ']')
		j++;
	if (p->len - p->i < 3 || j >= p->len) {
		p->i++;
	} else {
		ok = j > p->i + 1;
		for (size_t k = p->i + 1; k < j && ok; k++) {
			ok = p->s[k] >= '0' && p->s[k] <= '9' && n <= FMT_NUM_MAX;
			n = n * 10 + (p->s[k] - '0');
		}
		p->i = j + 1;
	}
	if (ok && n >= 1 && (size_t)n <= p->argc) {
		p->next = (size_t)n - 1;
		return true;
	}
	p->good_arg = false;
	return ok;
}

/* Go's intFromArg: a width or precision from "*", the next operand, an integer. */
static bool star(struct pf *p, int *out)
{
	const struct val *a;

	if (p->next >= p->argc)
		return false;
	a = p->argv[p->next++];
	if (a->kind != V_INT || a->i > FMT_NUM_MAX || a->i < -FMT_NUM_MAX)
		return false;
	*out = (int)a->i;
	return true;
}

static void parse_flags(struct pf *p, struct spec *f)
{
	for (; p->i < p->len; p->i++) {
		switch (p->s[p->i]) {
		case '#':
			f->sharp = true;
			break;
		case '0':
			f->zero = !f->minus;
			break;
		case '+':
			f->plus = true;
			break;
		case '-':
			f->minus = true;
			f->zero = false;
			break;
		case ' ':
			f->space = true;
			break;
		default:
			return;
		}
	}
}

/* Width and precision as Go's doPrintf reads them, with its complaints. */
static void parse_wid_prec(struct pf *p, struct spec *f, struct cairn_buf *b)
{
	bool after = arg_number(p);

	if (p->i < p->len && p->s[p->i] == '*') {
		int w;

		p->i++;
		if (!star(p, &w)) {
			cairn_buf_addstr(b, "%!(BADWIDTH)");
		} else if (w < 0) {
			f->wid = -w;
			f->minus = true;
			f->zero = false;
		} else {
			f->wid = w;
		}
		after = false;
	} else if (parse_num(p, &f->wid) && after) {
		p->good_arg = false;
	}
	if (p->i + 1 < p->len && p->s[p->i] == '.') {
		p->i++;
		if (after)
			p->good_arg = false;
		after = arg_number(p);
		if (p->i < p->len && p->s[p->i] == '*') {
			p->i++;
			if (!star(p, &f->prec) || f->prec < 0) {
				f->prec = -1;
				cairn_buf_addstr(b, "%!(BADPREC)");
			}
			after = false;
		} else if (!parse_num(p, &f->prec)) {
			f->prec = 0;
		}
	}
	if (!after)
		arg_number(p);
}

/* One %... directive, p->i just past the '%'. */
static int directive(struct exec *x, struct pf *p, struct cairn_buf *b, size_t off,
		     struct cairn_error **err)
{
	struct spec f = {.wid = -1, .prec = -1};

	p->good_arg = true;
	parse_flags(p, &f);
	parse_wid_prec(p, &f, b);
	if (p->i >= p->len) {
		cairn_buf_addstr(b, "%!(NOVERB)");
		return 0;
	}
	f.verb = p->s[p->i++];
	if (f.verb == '%') {
		cairn_buf_addch(b, '%');
		return 0;
	}
	if (!p->good_arg) {
		cairn_buf_addf(b, "%%!%c(BADINDEX)", f.verb);
		return 0;
	}
	if (p->next >= p->argc) {
		cairn_buf_addf(b, "%%!%c(MISSING)", f.verb);
		return 0;
	}
	return fmt_val(x, b, &f, p->argv[p->next++], 0, off, err);
}

TPL_FN(printf)
{
	CLEANUP(cairn_buf_release)
	struct cairn_buf b = CAIRN_BUF_INIT_MAX(CAIRN_TEMPLATE_OUTPUT_MAX);
	struct pf p = {.argv = argv + 1, .argc = argc - 1};
	const struct spec vf = {.wid = -1, .prec = -1, .verb = 'v'};
	int ret;

	if (tpl_want_str(x, argv[0], "printf", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	p.s = argv[0]->s;
	p.len = argv[0]->len;
	while (p.i < p.len && !b.err) {
		if (p.s[p.i] != '%') {
			cairn_buf_addch(&b, p.s[p.i++]);
			continue;
		}
		p.i++;
		ret = directive(x, &p, &b, cmd->off, err);
		if (ret < 0)
			return ret;
	}
	if (!p.reordered && p.next < p.argc) {
		cairn_buf_addstr(&b, "%!(EXTRA ");
		for (size_t i = p.next; i < p.argc; i++) {
			if (i > p.next)
				cairn_buf_addstr(&b, ", ");
			if (p.argv[i]->kind == V_NIL) {
				cairn_buf_addstr(&b, "<nil>");
				continue;
			}
			cairn_buf_addf(&b, "%s=", tpl_go_type(p.argv[i]));
			ret = fmt_val(x, &b, &vf, p.argv[i], 0, cmd->off, err);
			if (ret < 0)
				return ret;
		}
		cairn_buf_addch(&b, ')');
	}
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

static const struct func funcs[] = {
	{"print", fn_print, 0, -1},
	{"printf", fn_printf, 1, -1},
	{"println", fn_println, 0, -1},
};

const struct func_table tpl_fmt_funcs = {funcs, ARRAY_SIZE(funcs)};
