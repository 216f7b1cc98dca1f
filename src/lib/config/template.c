/* SPDX-License-Identifier: MIT */
/* A small Go text/template engine with the Sprig functions werf.yaml files use. */
#include "common.h"
#include "cairn/template.h"
#include "util/buf.h"
#include "util/root.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

#define PARSE_DEPTH_MAX 100
#define WERF_DEPTH_MAX 16
#define VALUE_DEPTH_MAX 64

/* ---- sources and the parse arena ---- */

struct src {
	char *name;
	char *text;
	size_t len;
};

enum tok_kind {
	T_EOF,
	T_TEXT,
	T_LEFT,
	T_RIGHT,
	T_IDENT,
	T_FIELD,
	T_VAR,
	T_STRING,
	T_NUMBER,
	T_DOT,
	T_PIPE,
	T_LPAREN,
	T_RPAREN,
	T_DECLARE,
	T_ASSIGN,
	T_COMMA,
};

struct tok {
	enum tok_kind kind;
	bool space_before;
	size_t off;
	char *s; /* text, identifier, field or variable name, or unquoted string */
	size_t len;
	int64_t num;
};

enum node_kind { N_TEXT, N_ACTION, N_IF, N_WITH, N_RANGE, N_TEMPLATE };

enum arg_kind { A_FIELD, A_VAR, A_FUNC, A_STRING, A_INT, A_BOOL, A_NIL, A_DOT, A_PIPE };

struct pipe;

struct arg {
	enum arg_kind kind;
	size_t off;
	char *s; /* variable or function name, or string */
	size_t len;
	int64_t num;
	struct pipe *pipe;
	char **fields; /* field chain applied to the value */
	size_t n_fields;
	const struct func *fn;
};

struct cmd {
	size_t off;
	struct arg **args;
	size_t n;
};

struct pipe {
	size_t off;
	char *vars[2];
	size_t n_vars;
	bool declare; /* := rather than = */
	struct cmd **cmds;
	size_t n;
};

struct list {
	struct node **v;
	size_t n;
};

struct node {
	enum node_kind kind;
	size_t off;
	const struct src *src;
	char *text;
	size_t len;
	struct pipe *pipe;
	struct list body;
	struct list alt; /* else */
};

struct define {
	char *name;
	struct list body;
};

struct ctx {
	const struct cairn_template_opts *o;
	const char *dir;
	const char *(*getenv_fn)(const char *name);
	void **arena;
	size_t n_arena, alloc_arena;
	struct src **srcs;
	size_t n_srcs, alloc_srcs;
	struct define *defs;
	size_t n_defs, alloc_defs;
};

static void *tpl_grow(void *v, size_t *alloc, size_t n, size_t size)
{
	if (n < *alloc)
		return v;
	*alloc = *alloc ? *alloc * 2 : 8;
	return xreallocarray(v, *alloc, size);
}

static void *tpl_nalloc(struct ctx *c, size_t size)
{
	void *p = xcalloc(1, size);

	c->arena = tpl_grow(c->arena, &c->alloc_arena, c->n_arena, sizeof(*c->arena));
	c->arena[c->n_arena++] = p;
	return p;
}

static char *tpl_nstrdup(struct ctx *c, const char *s, size_t len)
{
	char *p = tpl_nalloc(c, len + 1);

	memcpy(p, s, len);
	return p;
}

/* Append to an array that lives in the arena: a full array is copied, the old one freed later. */
static void tpl_push_ptr(struct ctx *c, void ***v, size_t *n, size_t *alloc, void *p)
{
	if (*n == *alloc) {
		void **nv;

		*alloc = *alloc ? *alloc * 2 : 4;
		nv = tpl_nalloc(c, *alloc * sizeof(void *));
		if (*n)
			memcpy(nv, *v, *n * sizeof(void *));
		*v = nv;
	}
	(*v)[(*n)++] = p;
}

static void tpl_pos_of(const struct src *s, size_t off, unsigned *line, unsigned *col)
{
	size_t bol = 0;

	*line = 1;
	for (size_t i = 0; i < off && i < s->len; i++) {
		if (s->text[i] == '\n') {
			(*line)++;
			bol = i + 1;
		}
	}
	*col = (unsigned)(off - bol + 1);
}

static int tpl_failv(struct cairn_error **err, int code, const struct src *s, size_t off,
		     const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
static int tpl_failv(struct cairn_error **err, int code, const struct src *s, size_t off,
		     const char *fmt, va_list ap)
{
	CLEANUP(cairn_buf_release) struct cairn_buf why = CAIRN_BUF_INIT;
	unsigned line, col;

	cairn_buf_vaddf(&why, fmt, ap);
	tpl_pos_of(s, off, &line, &col);
	return cairn_error_set(err, code, "%s:%u:%u: %s", s->name, line, col, why.buf);
}

static int tpl_fail_at(struct cairn_error **err, const struct src *s, size_t off, const char *fmt,
		       ...) __attribute__((format(printf, 4, 5)));
static int tpl_fail_at(struct cairn_error **err, const struct src *s, size_t off, const char *fmt,
		       ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = tpl_failv(err, CAIRN_EINVAL, s, off, fmt, ap);
	va_end(ap);
	return ret;
}

/* ---- lexer ---- */

struct lexer {
	struct ctx *c;
	const struct src *src;
	struct tok *v;
	size_t n, alloc;
	bool trim_next; /* a -}} asks to drop the whitespace that starts the next text */
};

static bool tpl_is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static bool is_alnum(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_';
}

static struct tok *emit(struct lexer *l, enum tok_kind kind, size_t off)
{
	struct tok *t;

	l->v = tpl_grow(l->v, &l->alloc, l->n, sizeof(*l->v));
	t = &l->v[l->n++];
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->off = off;
	return t;
}

static void emit_text(struct lexer *l, size_t start, size_t end, bool trim_right)
{
	const char *s = l->src->text;
	struct tok *t;

	if (l->trim_next)
		while (start < end && tpl_is_space(s[start]))
			start++;
	l->trim_next = false;
	if (trim_right)
		while (end > start && tpl_is_space(s[end - 1]))
			end--;
	if (start == end)
		return;
	t = emit(l, T_TEXT, start);
	t->s = (char *)s + start;
	t->len = end - start;
}

/* At `p`: "}}" or whitespace then "-}}". Returns the length of the delimiter, or 0. */
static size_t right_delim(const char *s, size_t len, size_t p, bool *trim)
{
	*trim = false;
	if (p + 2 <= len && s[p] == '}' && s[p + 1] == '}')
		return 2;
	if (p + 4 <= len && tpl_is_space(s[p]) && s[p + 1] == '-' && s[p + 2] == '}' &&
	    s[p + 3] == '}') {
		*trim = true;
		return 4;
	}
	return 0;
}

static int lex_string(struct lexer *l, size_t *pp, struct cairn_error **err)
{
	const char *s = l->src->text;
	size_t len = l->src->len, start = *pp, p = start + 1;
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	struct tok *t;

	if (s[start] == '`') {
		while (p < len && s[p] != '`')
			p++;
		if (p >= len)
			return tpl_fail_at(err, l->src, start, "unterminated raw quoted string");
		cairn_buf_add(&b, s + start + 1, p - start - 1);
	} else {
		for (;; p++) {
			if (p >= len || s[p] == '\n')
				return tpl_fail_at(err, l->src, start,
						   "unterminated quoted string");
			if (s[p] == '"')
				break;
			if (s[p] != '\\') {
				cairn_buf_addch(&b, s[p]);
				continue;
			}
			p++;
			if (p >= len)
				return tpl_fail_at(err, l->src, start,
						   "unterminated quoted string");
			switch (s[p]) {
			case 'n':
				cairn_buf_addch(&b, '\n');
				break;
			case 't':
				cairn_buf_addch(&b, '\t');
				break;
			case 'r':
				cairn_buf_addch(&b, '\r');
				break;
			case '\\':
			case '"':
			case '\'':
				cairn_buf_addch(&b, s[p]);
				break;
			default:
				return tpl_fail_at(err, l->src, p - 1,
						   "unsupported escape sequence '\\%c'",
						   isprint((unsigned char)s[p]) ? s[p] : '?');
			}
		}
	}
	t = emit(l, T_STRING, start);
	t->s = tpl_nstrdup(l->c, b.buf, b.len);
	t->len = b.len;
	*pp = p + 1;
	return 0;
}

static int lex_number(struct lexer *l, size_t *pp, struct cairn_error **err)
{
	const char *s = l->src->text;
	size_t len = l->src->len, start = *pp, p = start;
	char buf[32];
	char *end = NULL;
	long long v;
	struct tok *t;

	if (s[p] == '-' || s[p] == '+')
		p++;
	while (p < len && is_alnum(s[p]))
		p++;
	if (p - start >= sizeof(buf) || (p < len && s[p] == '.'))
		return tpl_fail_at(err, l->src, start, "unsupported number");
	memcpy(buf, s + start, p - start);
	buf[p - start] = '\0';
	errno = 0;
	v = strtoll(buf, &end, 0);
	if (errno || *end)
		return tpl_fail_at(err, l->src, start, "bad number syntax: '%s'", buf);
	t = emit(l, T_NUMBER, start);
	t->num = v;
	*pp = p;
	return 0;
}

/* Lex one action from just after "{{" (and its trim marker) up to and including "}}". */
static int lex_action(struct lexer *l, size_t left, size_t *pp, struct cairn_error **err)
{
	const char *s = l->src->text;
	size_t len = l->src->len, p = *pp, n;
	bool trim, space = true;
	struct tok *t;

	emit(l, T_LEFT, left);
	for (;;) {
		n = right_delim(s, len, p, &trim);
		if (n) {
			emit(l, T_RIGHT, p);
			l->trim_next = trim;
			*pp = p + n;
			return 0;
		}
		if (p >= len)
			return tpl_fail_at(err, l->src, left, "unclosed action");
		if (tpl_is_space(s[p])) {
			space = true;
			p++;
			continue;
		}
		if (s[p] == '"' || s[p] == '`') {
			if (lex_string(l, &p, err) < 0)
				return CAIRN_EINVAL;
		} else if (isdigit((unsigned char)s[p]) ||
			   ((s[p] == '-' || s[p] == '+') && p + 1 < len &&
			    isdigit((unsigned char)s[p + 1]))) {
			if (lex_number(l, &p, err) < 0)
				return CAIRN_EINVAL;
		} else if (s[p] == '.' || s[p] == '$' || is_alnum(s[p])) {
			size_t start = p;
			enum tok_kind kind = s[p] == '.' ? T_FIELD : s[p] == '$' ? T_VAR : T_IDENT;

			if (kind != T_IDENT)
				p++;
			while (p < len && is_alnum(s[p]))
				p++;
			if (kind == T_FIELD && p == start + 1)
				kind = T_DOT;
			t = emit(l, kind, start);
			t->s = tpl_nstrdup(l->c, s + start, p - start);
			t->len = p - start;
		} else if (s[p] == ':' && p + 1 < len && s[p + 1] == '=') {
			emit(l, T_DECLARE, p);
			p += 2;
		} else {
			static const char single[] = "|()=,";
			static const enum tok_kind kinds[] = {T_PIPE, T_LPAREN, T_RPAREN, T_ASSIGN,
							      T_COMMA};
			const char *k = s[p] ? strchr(single, s[p]) : NULL;

			if (!k)
				return tpl_fail_at(err, l->src, p, "unexpected '%c' in action",
						   isprint((unsigned char)s[p]) ? s[p] : '?');
			emit(l, kinds[k - single], p);
			p++;
		}
		l->v[l->n - 1].space_before = space;
		space = false;
	}
}

static int tpl_lex(struct lexer *l, struct cairn_error **err)
{
	const char *s = l->src->text;
	size_t len = l->src->len, p = 0;

	while (p < len) {
		const char *at = memmem(s + p, len - p, "{{", 2);
		size_t a, q;
		bool ltrim;

		if (!at) {
			emit_text(l, p, len, false);
			break;
		}
		a = (size_t)(at - s);
		ltrim = a + 3 < len && s[a + 2] == '-' && tpl_is_space(s[a + 3]);
		emit_text(l, p, a, ltrim);
		q = a + 2 + (ltrim ? 2 : 0);
		if (q + 1 < len && s[q] == '/' && s[q + 1] == '*') {
			const char *e = memmem(s + q + 2, len - q - 2, "*/", 2);
			size_t n;
			bool trim;

			if (!e)
				return tpl_fail_at(err, l->src, a, "unclosed comment");
			q = (size_t)(e - s) + 2;
			n = right_delim(s, len, q, &trim);
			if (!n)
				return tpl_fail_at(err, l->src, a,
						   "comment ends before closing delimiter");
			l->trim_next = trim;
			p = q + n;
			continue;
		}
		if (lex_action(l, a, &q, err) < 0)
			return CAIRN_EINVAL;
		p = q;
	}
	emit(l, T_EOF, len);
	return 0;
}

/* ---- parser ---- */

struct val;
struct exec;
typedef int (*func_fn)(struct exec *x, struct val **out, struct val **argv, size_t argc,
		       const struct cmd *cmd, struct cairn_error **err);

struct func {
	const char *name;
	func_fn fn;
	int min, max; /* max -1: variadic */
};

static const struct func *tpl_find_func(const char *name);

struct parser {
	struct ctx *c;
	const struct src *src;
	struct tok *t;
	size_t i;
	int depth;
	bool top;
};

enum term { TERM_EOF, TERM_END, TERM_ELSE };

static struct tok *peek(struct parser *p)
{
	return &p->t[p->i];
}

static struct tok *next(struct parser *p)
{
	struct tok *t = &p->t[p->i];

	if (t->kind != T_EOF)
		p->i++;
	return t;
}

static bool is_word(const struct tok *t, const char *w)
{
	return t->kind == T_IDENT && strcmp(t->s, w) == 0;
}

static int expect_right(struct parser *p, const char *what, struct cairn_error **err)
{
	struct tok *t = next(p);

	if (t->kind != T_RIGHT)
		return tpl_fail_at(err, p->src, t->off, "unexpected %s in %s",
				   t->kind == T_EOF ? "EOF" : "token", what);
	return 0;
}

static int parse_pipe(struct parser *p, struct pipe **out, bool decl, enum tok_kind end,
		      struct cairn_error **err);

static void add_field(struct parser *p, struct arg *a, const char *name)
{
	void **v = (void **)a->fields;
	size_t alloc = a->n_fields;

	/* field chains are short: grow one at a time inside the arena */
	a->fields = tpl_nalloc(p->c, (alloc + 1) * sizeof(char *));
	if (v)
		memcpy(a->fields, v, alloc * sizeof(char *));
	a->fields[a->n_fields++] = tpl_nstrdup(p->c, name, strlen(name));
}

static int parse_arg(struct parser *p, struct arg **out, struct cairn_error **err)
{
	struct tok *t = next(p);
	struct arg *a = tpl_nalloc(p->c, sizeof(*a));

	a->off = t->off;
	switch (t->kind) {
	case T_FIELD:
		a->kind = A_FIELD;
		add_field(p, a, t->s + 1);
		break;
	case T_DOT:
		a->kind = A_DOT;
		break;
	case T_VAR:
		a->kind = A_VAR;
		a->s = t->s;
		break;
	case T_STRING:
		a->kind = A_STRING;
		a->s = t->s;
		a->len = t->len;
		break;
	case T_NUMBER:
		a->kind = A_INT;
		a->num = t->num;
		break;
	case T_LPAREN:
		if (++p->depth > PARSE_DEPTH_MAX)
			return tpl_fail_at(err, p->src, t->off, "nesting too deep");
		a->kind = A_PIPE;
		if (parse_pipe(p, &a->pipe, false, T_RPAREN, err) < 0)
			return CAIRN_EINVAL;
		p->depth--;
		break;
	case T_IDENT:
		if (strcmp(t->s, "true") == 0 || strcmp(t->s, "false") == 0) {
			a->kind = A_BOOL;
			a->num = t->s[0] == 't';
		} else if (strcmp(t->s, "nil") == 0) {
			a->kind = A_NIL;
		} else {
			a->kind = A_FUNC;
			a->s = t->s;
			a->fn = tpl_find_func(t->s);
			if (!a->fn)
				return tpl_fail_at(err, p->src, t->off,
						   "function '%s' is not supported", t->s);
		}
		break;
	default:
		return tpl_fail_at(err, p->src, t->off, "unexpected %s in operand",
				   t->kind == T_EOF ? "EOF" : "token");
	}
	while (peek(p)->kind == T_FIELD && !peek(p)->space_before &&
	       (a->kind == A_FIELD || a->kind == A_VAR || a->kind == A_PIPE))
		add_field(p, a, next(p)->s + 1);
	if (peek(p)->kind == T_FIELD && !peek(p)->space_before)
		return tpl_fail_at(err, p->src, peek(p)->off, "unexpected field after operand");
	*out = a;
	return 0;
}

static int parse_pipe(struct parser *p, struct pipe **out, bool decl, enum tok_kind end,
		      struct cairn_error **err)
{
	struct pipe *pp = tpl_nalloc(p->c, sizeof(*pp));
	size_t cmds_alloc = 0;

	pp->off = peek(p)->off;
	if (decl && peek(p)->kind == T_VAR) {
		size_t save = p->i;
		struct tok *v1 = next(p);

		if (peek(p)->kind == T_COMMA) {
			struct tok *v2;

			next(p);
			v2 = next(p);
			if (v2->kind != T_VAR || peek(p)->kind != T_DECLARE)
				return tpl_fail_at(err, p->src, v2->off,
						   "bad variable declaration");
			pp->vars[1] = v2->s;
			pp->n_vars = 1;
		}
		if (peek(p)->kind == T_DECLARE || peek(p)->kind == T_ASSIGN) {
			if (strcmp(v1->s, "$") == 0)
				return tpl_fail_at(err, p->src, v1->off, "cannot assign to '$'");
			pp->declare = next(p)->kind == T_DECLARE;
			if (pp->n_vars) {
				pp->vars[0] = v1->s;
				pp->n_vars = 2;
			} else {
				pp->vars[0] = v1->s;
				pp->n_vars = 1;
			}
		} else {
			p->i = save;
		}
	}
	for (;;) {
		struct cmd *cmd = tpl_nalloc(p->c, sizeof(*cmd));
		size_t args_alloc = 0;

		cmd->off = peek(p)->off;
		while (peek(p)->kind != T_PIPE && peek(p)->kind != end) {
			struct arg *a = NULL;

			if (peek(p)->kind == T_RIGHT || peek(p)->kind == T_RPAREN ||
			    peek(p)->kind == T_EOF)
				return tpl_fail_at(err, p->src, peek(p)->off,
						   "unexpected %s in command",
						   peek(p)->kind == T_RIGHT    ? "'}}'"
						   : peek(p)->kind == T_RPAREN ? "')'"
									       : "EOF");
			if (peek(p)->kind == T_DECLARE || peek(p)->kind == T_ASSIGN ||
			    peek(p)->kind == T_COMMA)
				return tpl_fail_at(err, p->src, peek(p)->off,
						   "unexpected '%s' in command",
						   peek(p)->kind == T_DECLARE  ? ":="
						   : peek(p)->kind == T_ASSIGN ? "="
									       : ",");
			if (parse_arg(p, &a, err) < 0)
				return CAIRN_EINVAL;
			tpl_push_ptr(p->c, (void ***)&cmd->args, &cmd->n, &args_alloc, a);
		}
		if (!cmd->n)
			return tpl_fail_at(err, p->src, peek(p)->off, "missing value for command");
		tpl_push_ptr(p->c, (void ***)&pp->cmds, &pp->n, &cmds_alloc, cmd);
		if (next(p)->kind == end)
			break;
	}
	*out = pp;
	return 0;
}

static int parse_list(struct parser *p, struct list *out, enum term *term, size_t *term_off,
		      struct cairn_error **err);

static void list_add(struct parser *p, struct list *l, size_t *alloc, struct node *n)
{
	tpl_push_ptr(p->c, (void ***)&l->v, &l->n, alloc, n);
}

/* After "{{if" (or "with"/"range"): the pipeline, the body, an optional else, and the end. */
static int parse_control(struct parser *p, struct node *n, const char *what, size_t open,
			 struct cairn_error **err)
{
	enum term term;
	size_t term_off;
	bool top = p->top;

	if (++p->depth > PARSE_DEPTH_MAX)
		return tpl_fail_at(err, p->src, open, "nesting too deep");
	p->top = false;
	if (parse_pipe(p, &n->pipe, true, T_RIGHT, err) < 0)
		return CAIRN_EINVAL;
	if (n->pipe->n_vars == 2 && n->kind != N_RANGE)
		return tpl_fail_at(err, p->src, n->pipe->off, "too many declarations in %s", what);
	if (parse_list(p, &n->body, &term, &term_off, err) < 0)
		return CAIRN_EINVAL;
	if (term == TERM_ELSE) {
		if (n->kind == N_IF && is_word(peek(p), "if")) {
			struct node *in = tpl_nalloc(p->c, sizeof(*in));
			size_t alloc = 0;

			in->kind = N_IF;
			in->src = p->src;
			in->off = next(p)->off;
			if (parse_control(p, in, "if", in->off, err) < 0)
				return CAIRN_EINVAL;
			list_add(p, &n->alt, &alloc, in);
			p->depth--;
			p->top = top;
			return 0;
		}
		if (expect_right(p, "else", err) < 0)
			return CAIRN_EINVAL;
		if (parse_list(p, &n->alt, &term, &term_off, err) < 0)
			return CAIRN_EINVAL;
		if (term == TERM_ELSE)
			return tpl_fail_at(err, p->src, term_off, "expected end; found {{else}}");
	}
	if (term == TERM_EOF)
		return tpl_fail_at(err, p->src, open, "unexpected EOF: {{%s}} without {{end}}",
				   what);
	p->depth--;
	p->top = top;
	return 0;
}

static void tpl_add_define(struct ctx *c, const char *name, const struct list *body)
{
	c->defs = tpl_grow(c->defs, &c->alloc_defs, c->n_defs, sizeof(*c->defs));
	c->defs[c->n_defs].name = tpl_nstrdup(c, name, strlen(name));
	c->defs[c->n_defs].body = *body;
	c->n_defs++;
}

static int parse_define(struct parser *p, size_t open, struct cairn_error **err)
{
	struct tok *t = next(p);
	struct list body = {0};
	enum term term;
	size_t term_off;

	if (!p->top)
		return tpl_fail_at(err, p->src, open,
				   "{{define}} is only allowed at the top level");
	if (t->kind != T_STRING)
		return tpl_fail_at(err, p->src, t->off, "define: expected a quoted name");
	if (expect_right(p, "define", err) < 0)
		return CAIRN_EINVAL;
	p->top = false;
	if (parse_list(p, &body, &term, &term_off, err) < 0)
		return CAIRN_EINVAL;
	p->top = true;
	if (term != TERM_END)
		return tpl_fail_at(err, p->src, term == TERM_EOF ? open : term_off,
				   "define '%s': expected {{end}}", t->s);
	tpl_add_define(p->c, t->s, &body);
	return 0;
}

/* One action after "{{": a keyword or a pipeline. *n is NULL when the action adds no node. */
static int parse_action(struct parser *p, struct node **out, enum term *term, size_t *term_off,
			struct cairn_error **err)
{
	size_t open = p->t[p->i - 1].off;
	struct tok *t = peek(p);
	struct node *n;

	*out = NULL;
	if (is_word(t, "end") || is_word(t, "else")) {
		next(p);
		*term = is_word(t, "end") ? TERM_END : TERM_ELSE;
		*term_off = open;
		if (*term == TERM_END)
			return expect_right(p, "end", err);
		return 0;
	}
	if (is_word(t, "define")) {
		next(p);
		return parse_define(p, open, err);
	}
	if (is_word(t, "block") || is_word(t, "break") || is_word(t, "continue"))
		return tpl_fail_at(err, p->src, t->off, "'%s' is not supported", t->s);
	n = tpl_nalloc(p->c, sizeof(*n));
	n->src = p->src;
	n->off = open;
	if (is_word(t, "if") || is_word(t, "with") || is_word(t, "range")) {
		n->kind = t->s[0] == 'i' ? N_IF : t->s[0] == 'w' ? N_WITH : N_RANGE;
		next(p);
		if (parse_control(p, n, t->s, open, err) < 0)
			return CAIRN_EINVAL;
	} else if (is_word(t, "template")) {
		struct tok *name;

		next(p);
		name = next(p);
		if (name->kind != T_STRING)
			return tpl_fail_at(err, p->src, name->off,
					   "template: expected a quoted name");
		n->kind = N_TEMPLATE;
		n->text = name->s;
		if (peek(p)->kind == T_RIGHT)
			next(p);
		else if (parse_pipe(p, &n->pipe, false, T_RIGHT, err) < 0)
			return CAIRN_EINVAL;
	} else {
		n->kind = N_ACTION;
		if (parse_pipe(p, &n->pipe, true, T_RIGHT, err) < 0)
			return CAIRN_EINVAL;
		if (n->pipe->n_vars == 2)
			return tpl_fail_at(err, p->src, n->pipe->off, "too many declarations");
	}
	*out = n;
	return 0;
}

static int parse_list(struct parser *p, struct list *out, enum term *term, size_t *term_off,
		      struct cairn_error **err)
{
	size_t alloc = 0;
	int ret = 0;

	*term = TERM_EOF;
	*term_off = 0;
	for (;;) {
		struct tok *t = next(p);
		struct node *n = NULL;
		enum term tm = TERM_EOF;

		if (t->kind == T_EOF)
			break;
		if (t->kind == T_TEXT) {
			n = tpl_nalloc(p->c, sizeof(*n));
			n->kind = N_TEXT;
			n->src = p->src;
			n->off = t->off;
			n->text = t->s;
			n->len = t->len;
		} else {
			assert(t->kind == T_LEFT);
			tm = TERM_EOF;
			ret = parse_action(p, &n, &tm, term_off, err);
			if (ret < 0)
				break;
			if (!n && tm != TERM_EOF) {
				*term = tm;
				break;
			}
		}
		if (n)
			list_add(p, out, &alloc, n);
	}
	return ret;
}

/* Parse a whole source: its defines are registered, its top-level list returned. */
static int tpl_parse_src(struct ctx *c, const struct src *s, struct list *out,
			 struct cairn_error **err)
{
	struct lexer l = {.c = c, .src = s};
	struct parser p = {.c = c, .src = s, .top = true};
	enum term term;
	size_t term_off;
	int ret;

	ret = tpl_lex(&l, err);
	if (ret < 0) {
		free(l.v);
		return ret;
	}
	p.t = l.v;
	ret = parse_list(&p, out, &term, &term_off, err);
	if (ret == 0 && term != TERM_EOF)
		ret = tpl_fail_at(err, s, term_off, "unexpected {{%s}}",
				  term == TERM_END ? "end" : "else");
	free(l.v);
	return ret;
}

static struct src *add_src(struct ctx *c, const char *name, const char *text, size_t len)
{
	struct src *s = xcalloc(1, sizeof(*s));

	s->name = xstrdup(name);
	s->text = xmalloc(len + 1);
	memcpy(s->text, text, len);
	s->text[len] = '\0';
	s->len = len;
	c->srcs = tpl_grow(c->srcs, &c->alloc_srcs, c->n_srcs, sizeof(*c->srcs));
	c->srcs[c->n_srcs++] = s;
	return s;
}

/* ---- values ---- */

enum vkind { V_NIL, V_BOOL, V_INT, V_STR, V_LIST, V_MAP, V_FILES };

struct val {
	enum vkind kind;
	unsigned refs;
	unsigned depth;
	bool b;
	int64_t i;
	char *s;
	size_t len;
	struct val **v; /* list items or map values */
	struct val **k; /* map keys (strings), sorted */
	size_t n;
};

static struct val *tpl_vnew(enum vkind kind)
{
	struct val *v = xcalloc(1, sizeof(*v));

	v->kind = kind;
	v->refs = 1;
	return v;
}

static struct val *tpl_vref(struct val *v)
{
	v->refs++;
	return v;
}

static void tpl_vunref(struct val *v)
{
	if (!v || --v->refs)
		return;
	for (size_t i = 0; i < v->n; i++) {
		tpl_vunref(v->v[i]);
		if (v->k)
			tpl_vunref(v->k[i]);
	}
	free(v->v);
	free(v->k);
	free(v->s);
	free(v);
}

static void tpl_vunrefp(struct val **v)
{
	tpl_vunref(*v);
}

#define cleanup_val CLEANUP(tpl_vunrefp)

static struct val *tpl_vstr(const char *s, size_t len)
{
	struct val *v = tpl_vnew(V_STR);

	v->s = xmalloc(len + 1);
	memcpy(v->s, s, len);
	v->s[len] = '\0';
	v->len = len;
	return v;
}

static struct val *tpl_vint(int64_t i)
{
	struct val *v = tpl_vnew(V_INT);

	v->i = i;
	return v;
}

static struct val *tpl_vbool(bool b)
{
	struct val *v = tpl_vnew(V_BOOL);

	v->b = b;
	return v;
}

static int tpl_keycmp(const struct val *a, const char *s, size_t len)
{
	int r = memcmp(a->s, s, a->len < len ? a->len : len);

	if (r)
		return r;
	return a->len < len ? -1 : a->len > len;
}

/* Insert or replace key `k` in map `m`, keeping the keys sorted; takes both references. */
static void tpl_map_put(struct val *m, struct val *k, struct val *v)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int r = tpl_keycmp(m->k[mid], k->s, k->len);

		if (r == 0) {
			tpl_vunref(m->v[mid]);
			tpl_vunref(k);
			m->v[mid] = v;
			return;
		}
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	m->k = xreallocarray(m->k, m->n + 1, sizeof(*m->k));
	m->v = xreallocarray(m->v, m->n + 1, sizeof(*m->v));
	memmove(m->k + lo + 1, m->k + lo, (m->n - lo) * sizeof(*m->k));
	memmove(m->v + lo + 1, m->v + lo, (m->n - lo) * sizeof(*m->v));
	m->k[lo] = k;
	m->v[lo] = v;
	m->n++;
	if (v->depth + 1 > m->depth)
		m->depth = v->depth + 1;
}

static struct val *tpl_map_get(const struct val *m, const char *s, size_t len)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int r = tpl_keycmp(m->k[mid], s, len);

		if (r == 0)
			return m->v[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static bool tpl_truth(const struct val *v)
{
	switch (v->kind) {
	case V_NIL:
		return false;
	case V_BOOL:
		return v->b;
	case V_INT:
		return v->i != 0;
	case V_STR:
		return v->len != 0;
	case V_LIST:
	case V_MAP:
		return v->n != 0;
	case V_FILES:
		return true;
	}
	return false;
}

static const char *tpl_kind_name(const struct val *v)
{
	static const char *const names[] = {"nil", "bool", "int", "string", "list", "map", "files"};

	return names[v->kind];
}

/* ---- execution ---- */

struct var {
	const char *name;
	struct val *v;
};

struct exec {
	struct ctx *c;
	struct cairn_buf *out;
	struct var *vars;
	size_t n_vars, alloc_vars;
	size_t frame; /* first variable visible: `$` of the current template */
	unsigned long steps;
	int depth;
	struct val *root;
	const struct src *src; /* for messages from functions */
};

static int tpl_step(struct exec *x, const struct src *s, size_t off, struct cairn_error **err)
{
	if (++x->steps > CAIRN_TEMPLATE_STEPS_MAX) {
		unsigned line, col;

		tpl_pos_of(s, off, &line, &col);
		return cairn_error_set(err, CAIRN_ETOOBIG,
				       "%s:%u:%u: template evaluation takes more than %u steps",
				       s->name, line, col, CAIRN_TEMPLATE_STEPS_MAX);
	}
	return 0;
}

static int tpl_xfail(struct exec *x, size_t off, struct cairn_error **err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int tpl_xfail(struct exec *x, size_t off, struct cairn_error **err, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = tpl_failv(err, CAIRN_EINVAL, x->src, off, fmt, ap);
	va_end(ap);
	return ret;
}

static int tpl_too_big(struct exec *x, size_t off, struct cairn_error **err)
{
	unsigned line, col;

	tpl_pos_of(x->src, off, &line, &col);
	return cairn_error_set(err, CAIRN_ETOOBIG, "%s:%u:%u: string longer than %u bytes",
			       x->src->name, line, col, CAIRN_TEMPLATE_OUTPUT_MAX);
}

/* A string value from a buffer, refusing one past the output cap. */
static int tpl_str_from_buf(struct exec *x, struct val **out, struct cairn_buf *b, size_t off,
			    struct cairn_error **err)
{
	size_t len;
	char *s;

	if (b->err || b->len > CAIRN_TEMPLATE_OUTPUT_MAX)
		return tpl_too_big(x, off, err);
	s = cairn_buf_detach(b, &len);
	*out = tpl_vnew(V_STR);
	(*out)->s = s;
	(*out)->len = len;
	return 0;
}

/* Go's %v: strings as is, lists as [a b], maps as map[k:v] with sorted keys. */
static int tpl_print_val(struct exec *x, struct cairn_buf *b, const struct val *v, bool top,
			 size_t off, struct cairn_error **err)
{
	if (tpl_step(x, x->src, off, err) < 0)
		return CAIRN_ETOOBIG;
	if (b->err)
		return 0;
	switch (v->kind) {
	case V_NIL:
		cairn_buf_addstr(b, top ? "<no value>" : "<nil>");
		break;
	case V_BOOL:
		cairn_buf_addstr(b, v->b ? "true" : "false");
		break;
	case V_INT:
		cairn_buf_addf(b, "%lld", (long long)v->i);
		break;
	case V_STR:
		cairn_buf_add(b, v->s, v->len);
		break;
	case V_FILES:
		cairn_buf_addstr(b, "{}");
		break;
	case V_LIST:
	case V_MAP:
		cairn_buf_addstr(b, v->kind == V_MAP ? "map[" : "[");
		for (size_t i = 0; i < v->n; i++) {
			if (i)
				cairn_buf_addch(b, ' ');
			if (v->kind == V_MAP) {
				cairn_buf_add(b, v->k[i]->s, v->k[i]->len);
				cairn_buf_addch(b, ':');
			}
			if (tpl_print_val(x, b, v->v[i], false, off, err) < 0)
				return CAIRN_ETOOBIG;
		}
		cairn_buf_addch(b, ']');
		break;
	}
	return 0;
}

/* The value as a string (Sprig's strval): strings as is, others as %v. */
static int tpl_to_str(struct exec *x, struct val **out, struct val *v, size_t off,
		      struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;

	if (v->kind == V_STR) {
		*out = tpl_vref(v);
		return 0;
	}
	if (tpl_print_val(x, &b, v, false, off, err) < 0)
		return CAIRN_ETOOBIG;
	return tpl_str_from_buf(x, out, &b, off, err);
}

static struct var *find_var(struct exec *x, const char *name)
{
	for (size_t i = x->n_vars; i > x->frame; i--)
		if (strcmp(x->vars[i - 1].name, name) == 0)
			return &x->vars[i - 1];
	return NULL;
}

static void tpl_push_var(struct exec *x, const char *name, struct val *v)
{
	x->vars = tpl_grow(x->vars, &x->alloc_vars, x->n_vars, sizeof(*x->vars));
	x->vars[x->n_vars].name = name;
	x->vars[x->n_vars].v = tpl_vref(v);
	x->n_vars++;
}

static void tpl_pop_vars(struct exec *x, size_t mark)
{
	while (x->n_vars > mark)
		tpl_vunref(x->vars[--x->n_vars].v);
}

static int tpl_exec_list(struct exec *x, const struct list *l, struct val *dot,
			 struct cairn_error **err);
static int eval_pipe(struct exec *x, struct val **out, const struct pipe *p, struct val *dot,
		     struct cairn_error **err);

/* A file that is not there reads as "", with a warning, as werf has it. */
static int missing_file(struct exec *x, struct val **out, const char *path, size_t off)
{
	unsigned line, col;

	tpl_pos_of(x->src, off, &line, &col);
	cairn_log(CAIRN_LOG_WARN, "%s:%u:%u: .Files.Get '%s': no such file, read as \"\"",
		  x->src->name, line, col, path);
	*out = tpl_vstr("", 0);
	return 0;
}

static int files_get(struct exec *x, struct val **out, struct val *path, size_t off,
		     struct cairn_error **err)
{
	CLEANUP(cairn_buf_release)
	struct cairn_buf b = CAIRN_BUF_INIT_MAX(CAIRN_TEMPLATE_OUTPUT_MAX);
	cleanup_close int dfd = -1;
	cleanup_close int fd = -1;
	const char *s;
	char chunk[8192];

	if (path->kind != V_STR)
		return tpl_xfail(x, off, err, ".Files.Get: expected a string, got %s",
				 tpl_kind_name(path));
	s = path->s;
	if (!path->len || s[0] == '/' || memchr(s, '\0', path->len))
		return tpl_xfail(x, off, err,
				 ".Files.Get '%s': path must be relative to the project", s);
	for (const char *c = s; *c;) {
		size_t n = strcspn(c, "/");

		if (n == 2 && c[0] == '.' && c[1] == '.')
			return tpl_xfail(x, off, err, ".Files.Get '%s': path leaves the project",
					 s);
		c += n;
		while (*c == '/')
			c++;
	}
	dfd = open(x->c->dir ? x->c->dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fd = cairn_root_open(dfd, s, O_RDONLY | O_NOCTTY | O_NONBLOCK, CAIRN_ROOT_BENEATH);
	if (fd < 0 && errno == EXDEV)
		return tpl_xfail(x, off, err, ".Files.Get '%s': path leaves the project", s);
	if (fd < 0 && errno == ENOENT && dfd >= 0)
		return missing_file(x, out, s, off);
	if (fd < 0)
		return tpl_xfail(x, off, err, ".Files.Get '%s': %s", s, strerror(errno));
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return tpl_xfail(x, off, err, ".Files.Get '%s': %s", s, strerror(errno));
		if (n == 0)
			break;
		cairn_buf_add(&b, chunk, (size_t)n);
		if (b.err)
			break;
	}
	return tpl_str_from_buf(x, out, &b, off, err);
}

/* Apply a chain of field names to `v`. `method` receives "Get" when it ends at .Files.Get. */
static int apply_fields(struct exec *x, struct val **out, struct val *v, char *const *fields,
			size_t n, size_t off, bool *method, struct cairn_error **err)
{
	struct val *cur = v;

	*out = NULL;
	for (size_t i = 0; i < n; i++) {
		if (cur->kind == V_FILES && strcmp(fields[i], "Get") == 0 && method && i + 1 == n) {
			*method = true;
			break;
		}
		if (cur->kind == V_MAP) {
			struct val *f = tpl_map_get(cur, fields[i], strlen(fields[i]));

			if (!f) {
				if (i + 1 < n)
					return tpl_xfail(x, off, err,
							 "nil pointer evaluating field '%s'",
							 fields[i + 1]);
				*out = tpl_vnew(V_NIL);
				return 0;
			}
			cur = f;
			continue;
		}
		if (cur->kind == V_NIL)
			return tpl_xfail(x, off, err, "nil pointer evaluating field '%s'",
					 fields[i]);
		return tpl_xfail(x, off, err, "can't evaluate field '%s' in type %s", fields[i],
				 tpl_kind_name(cur));
	}
	*out = tpl_vref(cur);
	return 0;
}

static int tpl_call(struct exec *x, struct val **out, const struct cmd *cmd, struct val *dot,
		    struct val *piped, struct cairn_error **err);

static int tpl_eval_arg(struct exec *x, struct val **out, const struct arg *a, struct val *dot,
			struct cairn_error **err)
{
	cleanup_val struct val *base = NULL;
	struct var *var;
	int ret;

	*out = NULL;
	switch (a->kind) {
	case A_STRING:
		*out = tpl_vstr(a->s, a->len);
		return 0;
	case A_INT:
		*out = tpl_vint(a->num);
		return 0;
	case A_BOOL:
		*out = tpl_vbool(a->num != 0);
		return 0;
	case A_NIL:
		*out = tpl_vnew(V_NIL);
		return 0;
	case A_DOT:
		*out = tpl_vref(dot);
		return 0;
	case A_FUNC: {
		struct cmd c = {.off = a->off, .args = (struct arg **)&a, .n = 1};

		return tpl_call(x, out, &c, dot, NULL, err);
	}
	case A_FIELD:
		base = tpl_vref(dot);
		break;
	case A_VAR:
		var = find_var(x, a->s);
		if (!var)
			return tpl_xfail(x, a->off, err, "undefined variable '%s'", a->s);
		base = tpl_vref(var->v);
		break;
	case A_PIPE:
		ret = eval_pipe(x, &base, a->pipe, dot, err);
		if (ret < 0)
			return ret;
		break;
	}
	{
		bool method = false;

		ret = apply_fields(x, out, base, a->fields, a->n_fields, a->off, &method, err);
		if (ret == 0 && method) {
			tpl_vunref(*out);
			*out = NULL;
			return tpl_xfail(x, a->off, err,
					 ".Files.Get: wrong number of args: want 1");
		}
		return ret;
	}
}

static int eval_cmd(struct exec *x, struct val **out, const struct cmd *cmd, struct val *dot,
		    struct val *piped, struct cairn_error **err)
{
	const struct arg *a = cmd->args[0];
	int ret;

	*out = NULL;
	if (tpl_step(x, x->src, cmd->off, err) < 0)
		return CAIRN_ETOOBIG;
	if (a->kind == A_FUNC)
		return tpl_call(x, out, cmd, dot, piped, err);
	if (a->kind == A_FIELD || a->kind == A_VAR) {
		cleanup_val struct val *base = NULL;
		cleanup_val struct val *recv = NULL;
		bool method = false;

		if (a->kind == A_VAR) {
			struct var *var = find_var(x, a->s);

			if (!var)
				return tpl_xfail(x, a->off, err, "undefined variable '%s'", a->s);
			base = tpl_vref(var->v);
		} else {
			base = tpl_vref(dot);
		}
		ret = apply_fields(x, &recv, base, a->fields, a->n_fields, a->off, &method, err);
		if (ret < 0)
			return ret;
		if (method) {
			cleanup_val struct val *path = NULL;

			if (cmd->n + (piped != NULL) != 2)
				return tpl_xfail(x, a->off, err,
						 ".Files.Get: wrong number of args: want 1 got %zu",
						 cmd->n - 1 + (piped != NULL));
			if (cmd->n == 2) {
				ret = tpl_eval_arg(x, &path, cmd->args[1], dot, err);
				if (ret < 0)
					return ret;
			} else {
				path = tpl_vref(piped);
			}
			return files_get(x, out, path, a->off, err);
		}
		if (cmd->n > 1 || piped)
			return tpl_xfail(x, a->off, err, "can't give argument to non-function");
		*out = TAKE_PTR(recv);
		return 0;
	}
	if (a->kind == A_NIL)
		return tpl_xfail(x, a->off, err, "nil is not a command");
	if (cmd->n > 1 || piped)
		return tpl_xfail(x, a->off, err, "can't give argument to non-function");
	return tpl_eval_arg(x, out, a, dot, err);
}

static int eval_pipe(struct exec *x, struct val **out, const struct pipe *p, struct val *dot,
		     struct cairn_error **err)
{
	cleanup_val struct val *v = NULL;
	int ret;

	*out = NULL;
	for (size_t i = 0; i < p->n; i++) {
		struct val *nv = NULL;

		ret = eval_cmd(x, &nv, p->cmds[i], dot, v, err);
		if (ret < 0)
			return ret;
		tpl_vunref(v);
		v = nv;
	}
	*out = TAKE_PTR(v);
	return 0;
}

/* Declare or assign the pipeline's variable to `v`. */
static int set_var(struct exec *x, const struct pipe *p, const char *name, struct val *v,
		   struct cairn_error **err)
{
	struct var *var;

	if (p->declare) {
		tpl_push_var(x, name, v);
		return 0;
	}
	var = find_var(x, name);
	if (!var)
		return tpl_xfail(x, p->off, err, "undefined variable '%s'", name);
	tpl_vunref(var->v);
	var->v = tpl_vref(v);
	return 0;
}

static int tpl_exec_template(struct exec *x, struct cairn_buf *out, const char *name,
			     struct val *dot, size_t off, struct cairn_error **err)
{
	const struct define *d = NULL;
	const struct src *src = x->src;
	struct cairn_buf *saved = x->out;
	size_t frame = x->frame, mark = x->n_vars;
	int ret;

	for (size_t i = x->c->n_defs; i > 0 && !d; i--)
		if (strcmp(x->c->defs[i - 1].name, name) == 0)
			d = &x->c->defs[i - 1];
	if (!d)
		return tpl_xfail(x, off, err, "no such template '%s'", name);
	if (x->depth >= CAIRN_TEMPLATE_DEPTH_MAX) {
		unsigned line, col;

		tpl_pos_of(x->src, off, &line, &col);
		return cairn_error_set(err, CAIRN_ETOOBIG,
				       "%s:%u:%u: template '%s': calls nested more than %d deep",
				       x->src->name, line, col, name, CAIRN_TEMPLATE_DEPTH_MAX);
	}
	x->depth++;
	x->out = out;
	x->frame = x->n_vars;
	tpl_push_var(x, "$", dot);
	ret = tpl_exec_list(x, &d->body, dot, err);
	tpl_pop_vars(x, mark);
	x->frame = frame;
	x->out = saved;
	x->src = src;
	x->depth--;
	return ret;
}

static int exec_range(struct exec *x, const struct node *n, struct val *v, struct val *dot,
		      struct cairn_error **err)
{
	const struct pipe *p = n->pipe;
	size_t mark = x->n_vars;
	int ret = 0;

	if (v->kind == V_NIL || ((v->kind == V_LIST || v->kind == V_MAP) && !v->n))
		return tpl_exec_list(x, &n->alt, dot, err);
	if (v->kind != V_LIST && v->kind != V_MAP)
		return tpl_xfail(x, n->off, err, "range can't iterate over %s", tpl_kind_name(v));
	for (size_t i = 0; i < v->n && ret == 0; i++) {
		cleanup_val struct val *key =
			v->kind == V_MAP ? tpl_vref(v->k[i]) : tpl_vint((int64_t)i);
		struct val *item = v->v[i];

		if (tpl_step(x, n->src, n->off, err) < 0)
			return CAIRN_ETOOBIG;
		if (p->n_vars == 1)
			ret = set_var(x, p, p->vars[0], item, err);
		else if (p->n_vars == 2) {
			ret = set_var(x, p, p->vars[0], key, err);
			if (ret == 0)
				ret = set_var(x, p, p->vars[1], item, err);
		}
		if (ret == 0)
			ret = tpl_exec_list(x, &n->body, item, err);
		tpl_pop_vars(x, mark);
	}
	return ret;
}

static int exec_node(struct exec *x, const struct node *n, struct val *dot,
		     struct cairn_error **err)
{
	cleanup_val struct val *v = NULL;
	size_t mark = x->n_vars;
	int ret;

	x->src = n->src;
	if (tpl_step(x, n->src, n->off, err) < 0)
		return CAIRN_ETOOBIG;
	switch (n->kind) {
	case N_TEXT:
		cairn_buf_add(x->out, n->text, n->len);
		return 0;
	case N_ACTION:
		ret = eval_pipe(x, &v, n->pipe, dot, err);
		if (ret < 0)
			return ret;
		if (n->pipe->n_vars)
			return set_var(x, n->pipe, n->pipe->vars[0], v, err);
		return tpl_print_val(x, x->out, v, true, n->off, err);
	case N_TEMPLATE:
		if (n->pipe) {
			ret = eval_pipe(x, &v, n->pipe, dot, err);
			if (ret < 0)
				return ret;
		} else {
			v = tpl_vnew(V_NIL);
		}
		return tpl_exec_template(x, x->out, n->text, v, n->off, err);
	case N_IF:
	case N_WITH:
	case N_RANGE:
		if (n->kind == N_RANGE && n->pipe->n_vars) {
			struct pipe p = *n->pipe;

			p.n_vars = 0;
			ret = eval_pipe(x, &v, &p, dot, err);
		} else {
			ret = eval_pipe(x, &v, n->pipe, dot, err);
		}
		if (ret < 0)
			return ret;
		if (n->kind == N_RANGE)
			return exec_range(x, n, v, dot, err);
		if (n->pipe->n_vars) {
			ret = set_var(x, n->pipe, n->pipe->vars[0], v, err);
			if (ret < 0)
				return ret;
		}
		if (tpl_truth(v))
			ret = tpl_exec_list(x, &n->body, n->kind == N_WITH ? v : dot, err);
		else
			ret = tpl_exec_list(x, &n->alt, dot, err);
		tpl_pop_vars(x, mark);
		return ret;
	}
	return 0;
}

static int tpl_exec_list(struct exec *x, const struct list *l, struct val *dot,
			 struct cairn_error **err)
{
	size_t mark = x->n_vars;
	int ret = 0;

	for (size_t i = 0; i < l->n && ret == 0; i++) {
		ret = exec_node(x, l->v[i], dot, err);
		if (ret == 0 && x->out->err)
			ret = cairn_error_set(err, CAIRN_ETOOBIG, "%s: output larger than %u bytes",
					      l->v[i]->src->name, CAIRN_TEMPLATE_OUTPUT_MAX);
	}
	tpl_pop_vars(x, mark);
	return ret;
}

/* ---- functions ---- */

#define FN(name)                                                                               \
	static int fn_##name(struct exec *x, struct val **out, struct val **argv, size_t argc, \
			     const struct cmd *cmd, struct cairn_error **err)

static int want_str(struct exec *x, const struct val *v, const char *fn, size_t off,
		    struct cairn_error **err)
{
	if (v->kind != V_STR)
		return tpl_xfail(x, off, err, "%s: expected a string, got %s", fn,
				 tpl_kind_name(v));
	return 0;
}

static int want_int(struct exec *x, const struct val *v, const char *fn, size_t off,
		    struct cairn_error **err)
{
	if (v->kind != V_INT)
		return tpl_xfail(x, off, err, "%s: expected an integer, got %s", fn,
				 tpl_kind_name(v));
	return 0;
}

FN(env)
{
	const char *v;

	(void)argc;
	if (want_str(x, argv[0], "env", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	v = x->c->getenv_fn(argv[0]->s);
	*out = tpl_vstr(v ? v : "", v ? strlen(v) : 0);
	return 0;
}

FN(default)
{
	(void)x, (void)cmd, (void)err;
	if (argc < 2 || !tpl_truth(argv[1]))
		*out = tpl_vref(argv[0]);
	else
		*out = tpl_vref(argv[1]);
	return 0;
}

FN(empty)
{
	(void)x, (void)cmd, (void)err, (void)argc;
	*out = tpl_vbool(!tpl_truth(argv[0]));
	return 0;
}

FN(required)
{
	cleanup_val struct val *msg = NULL;

	(void)argc;
	if (argv[1]->kind == V_NIL || (argv[1]->kind == V_STR && !argv[1]->len)) {
		if (tpl_to_str(x, &msg, argv[0], cmd->off, err) < 0)
			return CAIRN_ETOOBIG;
		return tpl_xfail(x, cmd->off, err, "%s", msg->s);
	}
	*out = tpl_vref(argv[1]);
	return 0;
}

static void go_quote(struct cairn_buf *b, const char *s, size_t len)
{
	cairn_buf_addch(b, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		switch (ch) {
		case '"':
			cairn_buf_addstr(b, "\\\"");
			break;
		case '\\':
			cairn_buf_addstr(b, "\\\\");
			break;
		case '\n':
			cairn_buf_addstr(b, "\\n");
			break;
		case '\t':
			cairn_buf_addstr(b, "\\t");
			break;
		case '\r':
			cairn_buf_addstr(b, "\\r");
			break;
		default:
			if (ch < 0x20 || ch == 0x7f)
				cairn_buf_addf(b, "\\x%02x", ch);
			else
				cairn_buf_addch(b, (char)ch);
		}
	}
	cairn_buf_addch(b, '"');
}

static int quote_common(struct exec *x, struct val **out, struct val **argv, size_t argc,
			const struct cmd *cmd, bool dbl, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	bool first = true;

	for (size_t i = 0; i < argc; i++) {
		cleanup_val struct val *s = NULL;

		if (argv[i]->kind == V_NIL)
			continue;
		if (tpl_to_str(x, &s, argv[i], cmd->off, err) < 0)
			return CAIRN_ETOOBIG;
		if (!first)
			cairn_buf_addch(&b, ' ');
		first = false;
		if (dbl) {
			go_quote(&b, s->s, s->len);
		} else {
			cairn_buf_addch(&b, '\'');
			cairn_buf_add(&b, s->s, s->len);
			cairn_buf_addch(&b, '\'');
		}
		if (b.len > CAIRN_TEMPLATE_OUTPUT_MAX)
			break;
	}
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

FN(quote)
{
	return quote_common(x, out, argv, argc, cmd, true, err);
}

FN(squote)
{
	return quote_common(x, out, argv, argc, cmd, false, err);
}

static int indent_common(struct exec *x, struct val **out, struct val **argv, const struct cmd *cmd,
			 bool nl, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	cleanup_val struct val *s = NULL;
	int64_t n;

	if (want_int(x, argv[0], nl ? "nindent" : "indent", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	if (tpl_to_str(x, &s, argv[1], cmd->off, err) < 0)
		return CAIRN_ETOOBIG;
	n = argv[0]->i < 0 ? 0 : argv[0]->i;
	if (n > 4096)
		return tpl_xfail(x, cmd->off, err, "indent: %lld is too wide", (long long)n);
	if (nl)
		cairn_buf_addch(&b, '\n');
	for (int64_t k = 0; k < n; k++)
		cairn_buf_addch(&b, ' ');
	for (size_t i = 0; i < s->len && b.len <= CAIRN_TEMPLATE_OUTPUT_MAX; i++) {
		cairn_buf_addch(&b, s->s[i]);
		if (s->s[i] == '\n')
			for (int64_t k = 0; k < n; k++)
				cairn_buf_addch(&b, ' ');
	}
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

FN(indent)
{
	(void)argc;
	return indent_common(x, out, argv, cmd, false, err);
}

FN(nindent)
{
	(void)argc;
	return indent_common(x, out, argv, cmd, true, err);
}

FN(trim)
{
	cleanup_val struct val *s = NULL;
	size_t a = 0, e;

	(void)argc;
	if (tpl_to_str(x, &s, argv[0], cmd->off, err) < 0)
		return CAIRN_ETOOBIG;
	e = s->len;
	while (a < e && (tpl_is_space(s->s[a]) || s->s[a] == '\v' || s->s[a] == '\f'))
		a++;
	while (e > a && (tpl_is_space(s->s[e - 1]) || s->s[e - 1] == '\v' || s->s[e - 1] == '\f'))
		e--;
	*out = tpl_vstr(s->s + a, e - a);
	return 0;
}

static int case_common(struct exec *x, struct val **out, struct val *v, const struct cmd *cmd,
		       bool up, struct cairn_error **err)
{
	cleanup_val struct val *s = NULL;

	if (tpl_to_str(x, &s, v, cmd->off, err) < 0)
		return CAIRN_ETOOBIG;
	*out = tpl_vstr(s->s, s->len);
	for (size_t i = 0; i < (*out)->len; i++) {
		char ch = (*out)->s[i];

		if (ch >= 'a' && ch <= 'z' && up)
			(*out)->s[i] = (char)(ch - 'a' + 'A');
		else if (ch >= 'A' && ch <= 'Z' && !up)
			(*out)->s[i] = (char)(ch - 'A' + 'a');
	}
	return 0;
}

FN(upper)
{
	(void)argc;
	return case_common(x, out, argv[0], cmd, true, err);
}

FN(lower)
{
	(void)argc;
	return case_common(x, out, argv[0], cmd, false, err);
}

FN(replace)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	cleanup_val struct val *old = NULL;
	cleanup_val struct val *new = NULL;
	cleanup_val struct val *s = NULL;

	(void)argc;
	if (tpl_to_str(x, &old, argv[0], cmd->off, err) < 0 ||
	    tpl_to_str(x, &new, argv[1], cmd->off, err) < 0 ||
	    tpl_to_str(x, &s, argv[2], cmd->off, err) < 0)
		return CAIRN_ETOOBIG;
	for (size_t i = 0; i <= s->len && b.len <= CAIRN_TEMPLATE_OUTPUT_MAX;) {
		if (!old->len) {
			/* like Go: the replacement goes before each UTF-8 sequence and at the end
			 */
			cairn_buf_add(&b, new->s, new->len);
			if (i == s->len)
				break;
			do
				cairn_buf_addch(&b, s->s[i++]);
			while (i < s->len && ((unsigned char)s->s[i] & 0xc0) == 0x80);
			continue;
		}
		if (i + old->len <= s->len && memcmp(s->s + i, old->s, old->len) == 0) {
			cairn_buf_add(&b, new->s, new->len);
			i += old->len;
		} else if (i < s->len) {
			cairn_buf_addch(&b, s->s[i++]);
		} else {
			break;
		}
	}
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

static int split_common(struct exec *x, struct val **out, struct val **argv, const struct cmd *cmd,
			bool as_map, struct cairn_error **err)
{
	cleanup_val struct val *sep = NULL;
	cleanup_val struct val *s = NULL;
	cleanup_val struct val *r = tpl_vnew(as_map ? V_MAP : V_LIST);
	size_t start = 0, idx = 0;

	if (tpl_to_str(x, &sep, argv[0], cmd->off, err) < 0 ||
	    tpl_to_str(x, &s, argv[1], cmd->off, err) < 0)
		return CAIRN_ETOOBIG;
	for (size_t i = 0;; idx++) {
		size_t end;
		struct val *part;

		if (tpl_step(x, x->src, cmd->off, err) < 0)
			return CAIRN_ETOOBIG;
		if (!sep->len) {
			/* Go splits an empty separator into UTF-8 sequences */
			if (i >= s->len)
				break;
			end = i + 1;
			while (end < s->len && ((unsigned char)s->s[end] & 0xc0) == 0x80)
				end++;
			start = i;
			i = end;
		} else {
			const char *hit = memmem(s->s + i, s->len - i, sep->s, sep->len);

			start = i;
			end = hit ? (size_t)(hit - s->s) : s->len;
			i = end + sep->len;
		}
		part = tpl_vstr(s->s + start, end - start);
		if (as_map) {
			char key[32];
			int kl = snprintf(key, sizeof(key), "_%zu", idx);

			tpl_map_put(r, tpl_vstr(key, (size_t)kl), part);
		} else {
			r->v = xreallocarray(r->v, r->n + 1, sizeof(*r->v));
			r->v[r->n++] = part;
			r->depth = 1;
		}
		if (sep->len && end == s->len)
			break;
	}
	*out = TAKE_PTR(r);
	return 0;
}

FN(split)
{
	(void)argc;
	return split_common(x, out, argv, cmd, true, err);
}

FN(splitList)
{
	(void)argc;
	return split_common(x, out, argv, cmd, false, err);
}

FN(join)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	cleanup_val struct val *sep = NULL;
	const struct val *l = argv[1];
	bool first = true;

	(void)argc;
	if (tpl_to_str(x, &sep, argv[0], cmd->off, err) < 0)
		return CAIRN_ETOOBIG;
	if (l->kind != V_LIST)
		return tpl_to_str(x, out, argv[1], cmd->off, err);
	for (size_t i = 0; i < l->n && b.len <= CAIRN_TEMPLATE_OUTPUT_MAX; i++) {
		cleanup_val struct val *s = NULL;

		if (l->v[i]->kind == V_NIL)
			continue;
		if (tpl_to_str(x, &s, l->v[i], cmd->off, err) < 0)
			return CAIRN_ETOOBIG;
		if (!first)
			cairn_buf_add(&b, sep->s, sep->len);
		first = false;
		cairn_buf_add(&b, s->s, s->len);
	}
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

FN(list)
{
	struct val *r = tpl_vnew(V_LIST);

	if (argc) {
		r->v = xreallocarray(NULL, argc, sizeof(*r->v));
		for (size_t i = 0; i < argc; i++) {
			r->v[i] = tpl_vref(argv[i]);
			if (argv[i]->depth + 1 > r->depth)
				r->depth = argv[i]->depth + 1;
		}
	}
	r->n = argc;
	if (r->depth > VALUE_DEPTH_MAX) {
		tpl_vunref(r);
		return tpl_xfail(x, cmd->off, err, "list: values nested more than %d deep",
				 VALUE_DEPTH_MAX);
	}
	*out = r;
	return 0;
}

FN(dict)
{
	cleanup_val struct val *r = tpl_vnew(V_MAP);

	for (size_t i = 0; i < argc; i += 2) {
		struct val *k = NULL;

		if (tpl_to_str(x, &k, argv[i], cmd->off, err) < 0)
			return CAIRN_ETOOBIG;
		tpl_map_put(r, k, i + 1 < argc ? tpl_vref(argv[i + 1]) : tpl_vstr("", 0));
	}
	if (r->depth > VALUE_DEPTH_MAX)
		return tpl_xfail(x, cmd->off, err, "dict: values nested more than %d deep",
				 VALUE_DEPTH_MAX);
	*out = TAKE_PTR(r);
	return 0;
}

static void json_str(struct cairn_buf *b, const char *s, size_t len)
{
	cairn_buf_addch(b, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\')
			cairn_buf_addf(b, "\\%c", ch);
		else if (ch == '\n')
			cairn_buf_addstr(b, "\\n");
		else if (ch == '\r')
			cairn_buf_addstr(b, "\\r");
		else if (ch == '\t')
			cairn_buf_addstr(b, "\\t");
		else if (ch < 0x20 || ch == '<' || ch == '>' || ch == '&')
			/* Go's encoding/json escapes HTML characters too */
			cairn_buf_addf(b, "\\u%04x", ch);
		else
			cairn_buf_addch(b, (char)ch);
	}
	cairn_buf_addch(b, '"');
}

static int json_val(struct exec *x, struct cairn_buf *b, const struct val *v, size_t off,
		    struct cairn_error **err)
{
	if (tpl_step(x, x->src, off, err) < 0)
		return CAIRN_ETOOBIG;
	if (b->len > CAIRN_TEMPLATE_OUTPUT_MAX)
		return 0;
	switch (v->kind) {
	case V_NIL:
		cairn_buf_addstr(b, "null");
		break;
	case V_BOOL:
		cairn_buf_addstr(b, v->b ? "true" : "false");
		break;
	case V_INT:
		cairn_buf_addf(b, "%lld", (long long)v->i);
		break;
	case V_STR:
		json_str(b, v->s, v->len);
		break;
	case V_FILES:
		cairn_buf_addstr(b, "{}");
		break;
	case V_LIST:
	case V_MAP:
		cairn_buf_addch(b, v->kind == V_MAP ? '{' : '[');
		for (size_t i = 0; i < v->n; i++) {
			if (i)
				cairn_buf_addch(b, ',');
			if (v->kind == V_MAP) {
				json_str(b, v->k[i]->s, v->k[i]->len);
				cairn_buf_addch(b, ':');
			}
			if (json_val(x, b, v->v[i], off, err) < 0)
				return CAIRN_ETOOBIG;
		}
		cairn_buf_addch(b, v->kind == V_MAP ? '}' : ']');
		break;
	}
	return 0;
}

FN(toJson)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;

	(void)argc;
	if (json_val(x, &b, argv[0], cmd->off, err) < 0)
		return CAIRN_ETOOBIG;
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

FN(b64enc)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	cleanup_val struct val *s = NULL;
	const unsigned char *p;

	(void)argc;
	if (tpl_to_str(x, &s, argv[0], cmd->off, err) < 0)
		return CAIRN_ETOOBIG;
	if (s->len > CAIRN_TEMPLATE_OUTPUT_MAX / 4 * 3)
		return tpl_too_big(x, cmd->off, err);
	p = (const unsigned char *)s->s;
	for (size_t i = 0; i < s->len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t n = s->len - i;

		if (n > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (n > 2)
			v |= p[i + 2];
		cairn_buf_addch(&b, tab[v >> 18 & 63]);
		cairn_buf_addch(&b, tab[v >> 12 & 63]);
		cairn_buf_addch(&b, n > 1 ? tab[v >> 6 & 63] : '=');
		cairn_buf_addch(&b, n > 2 ? tab[v & 63] : '=');
	}
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

/* -1, 0, 1; or CAIRN_EINVAL for values that cannot be compared (`ordered`: lt/gt). */
static int compare(struct exec *x, int *out, const struct val *a, const struct val *b, bool ordered,
		   const char *fn, size_t off, struct cairn_error **err)
{
	if (!ordered && (a->kind == V_NIL || b->kind == V_NIL)) {
		*out = a->kind != b->kind;
		return 0;
	}
	if (a->kind != b->kind)
		return tpl_xfail(x, off, err, "%s: incompatible types for comparison: %s and %s",
				 fn, tpl_kind_name(a), tpl_kind_name(b));
	switch (a->kind) {
	case V_INT:
		*out = a->i < b->i ? -1 : a->i > b->i;
		return 0;
	case V_STR:
		*out = tpl_keycmp(a, b->s, b->len);
		return 0;
	case V_BOOL:
		if (!ordered) {
			*out = a->b != b->b;
			return 0;
		}
		break;
	default:
		break;
	}
	return tpl_xfail(x, off, err, "%s: invalid type for comparison: %s", fn, tpl_kind_name(a));
}

FN(eq)
{
	int r = 1;

	for (size_t i = 1; i < argc && r; i++)
		if (compare(x, &r, argv[0], argv[i], false, "eq", cmd->off, err) < 0)
			return CAIRN_EINVAL;
	*out = tpl_vbool(r == 0);
	return 0;
}

FN(ne)
{
	int r = 0;

	(void)argc;
	if (compare(x, &r, argv[0], argv[1], false, "ne", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	*out = tpl_vbool(r != 0);
	return 0;
}

FN(lt)
{
	int r = 0;

	(void)argc;
	if (compare(x, &r, argv[0], argv[1], true, "lt", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	*out = tpl_vbool(r < 0);
	return 0;
}

FN(gt)
{
	int r = 0;

	(void)argc;
	if (compare(x, &r, argv[0], argv[1], true, "gt", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	*out = tpl_vbool(r > 0);
	return 0;
}

FN(not )
{
	(void)x, (void)cmd, (void)err, (void)argc;
	*out = tpl_vbool(!tpl_truth(argv[0]));
	return 0;
}

FN(len)
{
	(void)argc;
	if (argv[0]->kind == V_STR || argv[0]->kind == V_LIST || argv[0]->kind == V_MAP) {
		*out = tpl_vint(argv[0]->kind == V_STR ? (int64_t)argv[0]->len
						       : (int64_t)argv[0]->n);
		return 0;
	}
	return tpl_xfail(x, cmd->off, err, "len of %s", tpl_kind_name(argv[0]));
}

FN(printf)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	const struct val *f = argv[0];
	size_t next_arg = 1;

	if (want_str(x, f, "printf", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	for (size_t i = 0; i < f->len && b.len <= CAIRN_TEMPLATE_OUTPUT_MAX; i++) {
		CLEANUP(cairn_buf_release) struct cairn_buf one = CAIRN_BUF_INIT;
		bool minus = false, zero = false;
		size_t width = 0, pad;
		const struct val *a;
		char verb;

		if (f->s[i] != '%') {
			cairn_buf_addch(&b, f->s[i]);
			continue;
		}
		for (i++; i < f->len && (f->s[i] == '-' || f->s[i] == '0'); i++)
			*(f->s[i] == '-' ? &minus : &zero) = true;
		for (; i < f->len && isdigit((unsigned char)f->s[i]) && width < 4096; i++)
			width = width * 10 + (size_t)(f->s[i] - '0');
		if (i >= f->len) {
			cairn_buf_addstr(&b, "%!(NOVERB)");
			break;
		}
		verb = f->s[i];
		if (verb == '%') {
			cairn_buf_addch(&b, '%');
			continue;
		}
		if (next_arg >= argc) {
			cairn_buf_addf(&b, "%%!%c(MISSING)", verb);
			continue;
		}
		a = argv[next_arg++];
		if (verb == 'v' || (verb == 's' && a->kind == V_STR) ||
		    (verb == 'd' && a->kind == V_INT)) {
			if (tpl_print_val(x, &one, a, false, cmd->off, err) < 0)
				return CAIRN_ETOOBIG;
		} else if (verb == 'q' && a->kind == V_STR) {
			go_quote(&one, a->s, a->len);
		} else {
			cairn_buf_addf(&one, "%%!%c(%s=", verb, tpl_kind_name(a));
			if (tpl_print_val(x, &one, a, false, cmd->off, err) < 0)
				return CAIRN_ETOOBIG;
			cairn_buf_addch(&one, ')');
		}
		pad = width > one.len ? width - one.len : 0;
		if (minus) {
			cairn_buf_add(&b, one.buf, one.len);
			for (size_t k = 0; k < pad; k++)
				cairn_buf_addch(&b, ' ');
		} else if (zero && verb == 'd' && a->kind == V_INT) {
			size_t sign = one.buf[0] == '-';

			cairn_buf_add(&b, one.buf, sign);
			for (size_t k = 0; k < pad; k++)
				cairn_buf_addch(&b, '0');
			cairn_buf_add(&b, one.buf + sign, one.len - sign);
		} else {
			for (size_t k = 0; k < pad; k++)
				cairn_buf_addch(&b, ' ');
			cairn_buf_add(&b, one.buf, one.len);
		}
	}
	if (next_arg < argc) {
		cairn_buf_addstr(&b, "%!(EXTRA ");
		for (size_t i = next_arg; i < argc; i++) {
			if (i > next_arg)
				cairn_buf_addstr(&b, ", ");
			cairn_buf_addf(&b, "%s=", tpl_kind_name(argv[i]));
			if (tpl_print_val(x, &b, argv[i], false, cmd->off, err) < 0)
				return CAIRN_ETOOBIG;
		}
		cairn_buf_addch(&b, ')');
	}
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

FN(include)
{
	CLEANUP(cairn_buf_release)
	struct cairn_buf b = CAIRN_BUF_INIT_MAX(CAIRN_TEMPLATE_OUTPUT_MAX);
	const struct src *src = x->src;
	int ret;

	(void)argc;
	if (want_str(x, argv[0], "include", cmd->off, err) < 0)
		return CAIRN_EINVAL;
	ret = tpl_exec_template(x, &b, argv[0]->s, argv[1], cmd->off, err);
	x->src = src;
	if (ret < 0)
		return ret;
	return tpl_str_from_buf(x, out, &b, cmd->off, err);
}

/* `and` and `or` are evaluated in tpl_call(): they stop at the first deciding argument. */
FN(and)
{
	(void)x, (void)out, (void)argv, (void)argc, (void)cmd, (void)err;
	return 0;
}

static const struct func funcs[] = {
	{"and", fn_and, 1, -1},
	{"b64enc", fn_b64enc, 1, 1},
	{"default", fn_default, 1, 2},
	{"dict", fn_dict, 0, -1},
	{"empty", fn_empty, 1, 1},
	{"env", fn_env, 1, 1},
	{"eq", fn_eq, 2, -1},
	{"gt", fn_gt, 2, 2},
	{"include", fn_include, 2, 2},
	{"indent", fn_indent, 2, 2},
	{"join", fn_join, 2, 2},
	{"len", fn_len, 1, 1},
	{"list", fn_list, 0, -1},
	{"lower", fn_lower, 1, 1},
	{"lt", fn_lt, 2, 2},
	{"ne", fn_ne, 2, 2},
	{"nindent", fn_nindent, 2, 2},
	{"not", fn_not, 1, 1},
	{"or", fn_and, 1, -1},
	{"printf", fn_printf, 1, -1},
	{"quote", fn_quote, 0, -1},
	{"replace", fn_replace, 3, 3},
	{"required", fn_required, 2, 2},
	{"split", fn_split, 2, 2},
	{"splitList", fn_splitList, 2, 2},
	{"squote", fn_squote, 0, -1},
	{"toJson", fn_toJson, 1, 1},
	{"trim", fn_trim, 1, 1},
	{"upper", fn_upper, 1, 1},
};

static const struct func *tpl_find_func(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(funcs); i++)
		if (strcmp(funcs[i].name, name) == 0)
			return &funcs[i];
	return NULL;
}

static void unref_all(struct val **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tpl_vunref(v[i]);
}

static int tpl_call(struct exec *x, struct val **out, const struct cmd *cmd, struct val *dot,
		    struct val *piped, struct cairn_error **err)
{
	const struct func *f = cmd->args[0]->fn;
	size_t argc = cmd->n - 1 + (piped != NULL);
	CLEANUP(freep) struct val **argv = NULL;
	size_t n = 0;
	int ret = 0;

	*out = NULL;
	if ((int64_t)argc < f->min || (f->max >= 0 && argc > (size_t)f->max))
		return tpl_xfail(x, cmd->args[0]->off, err,
				 "wrong number of args for %s: want %s%d got %zu", f->name,
				 f->max < 0 ? "at least " : "", f->min, argc);
	if (tpl_step(x, x->src, cmd->off, err) < 0)
		return CAIRN_ETOOBIG;
	argv = xreallocarray(NULL, argc + 1, sizeof(*argv));
	if (f->fn == fn_and) {
		bool is_and = f->name[0] == 'a';

		/* Go: the first false (and) or true (or) argument, else the last one */
		for (size_t i = 1; i <= argc; i++) {
			struct val *v = NULL;

			if (i < cmd->n)
				ret = tpl_eval_arg(x, &v, cmd->args[i], dot, err);
			else
				v = tpl_vref(piped);
			if (ret < 0)
				return ret;
			if (tpl_truth(v) != is_and || i == argc) {
				*out = v;
				return 0;
			}
			tpl_vunref(v);
		}
		return 0;
	}
	for (size_t i = 1; i < cmd->n; i++) {
		ret = tpl_eval_arg(x, &argv[n], cmd->args[i], dot, err);
		if (ret < 0) {
			unref_all(argv, n);
			return ret;
		}
		n++;
	}
	if (piped)
		argv[n++] = tpl_vref(piped);
	ret = f->fn(x, out, argv, n, cmd, err);
	unref_all(argv, n);
	return ret;
}

/* ---- .werf/ templates and the entry point ---- */

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collect "sub/dir/x.tmpl" paths under the directory `fd` (taken), prefixed by `prefix`. */
static int find_tmpl(char ***v, size_t *n, size_t *alloc, int fd, const char *prefix, int depth,
		     struct cairn_error **err)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;

	if (!d) {
		close(fd);
		return cairn_error_set_errno(err, "read template directory '.werf/%s'", prefix);
	}
	while ((de = readdir(d)) != NULL) {
		cleanup_free char *rel = NULL;
		size_t nl = strlen(de->d_name);
		struct stat st;

		if (de->d_name[0] == '.' &&
		    (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		rel = xasprintf("%s%s", prefix, de->d_name);
		/* a symlinked directory is not walked: it may lead out, or round in a loop */
		if (S_ISDIR(st.st_mode) && depth < WERF_DEPTH_MAX) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			cleanup_free char *p = xasprintf("%s/", rel);

			if (sub >= 0 && find_tmpl(v, n, alloc, sub, p, depth + 1, err) < 0) {
				closedir(d);
				return CAIRN_EOS;
			}
		} else if ((S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) && nl > 5 &&
			   strcmp(de->d_name + nl - 5, ".tmpl") == 0) {
			*v = tpl_grow(*v, alloc, *n, sizeof(**v));
			(*v)[(*n)++] = TAKE_PTR(rel);
		}
	}
	closedir(d);
	return 0;
}

static int load_werf_templates(struct ctx *c, struct cairn_error **err)
{
	char **names = NULL;
	size_t n = 0, alloc = 0;
	cleanup_close int dfd = -1;
	int fd, ret = 0;

	if (!c->dir)
		return 0;
	dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return 0;
	fd = openat(dfd, ".werf", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ret = find_tmpl(&names, &n, &alloc, fd, "", 0, err);
	if (ret == 0)
		qsort(names, n, sizeof(*names), cmpstr);
	for (size_t i = 0; i < n && ret == 0; i++) {
		CLEANUP(cairn_buf_release)
		struct cairn_buf b = CAIRN_BUF_INIT_MAX(CAIRN_TEMPLATE_OUTPUT_MAX);
		cleanup_free char *path = xasprintf(".werf/%s", names[i]);
		struct list body = {0};
		const struct src *s;

		/* a symlinked template is read only when it stays inside the project */
		ret = cairn_root_read_file(dfd, path, CAIRN_ROOT_BENEATH, &b, path, err);
		if (ret < 0) {
			cairn_error_wrap(err, "template");
			break;
		}
		s = add_src(c, path, b.buf, b.len);
		ret = tpl_parse_src(c, s, &body, err);
		if (ret == 0)
			tpl_add_define(c, names[i], &body);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ret;
}

static void ctx_release(struct ctx *c)
{
	for (size_t i = 0; i < c->n_arena; i++)
		free(c->arena[i]);
	free(c->arena);
	for (size_t i = 0; i < c->n_srcs; i++) {
		free(c->srcs[i]->name);
		free(c->srcs[i]->text);
		free(c->srcs[i]);
	}
	free(c->srcs);
	free(c->defs);
}

static const char *default_getenv(const char *name)
{
	return getenv(name);
}

int cairn_template_render(char **out, size_t *out_len, const char *text, size_t len,
			  const struct cairn_template_opts *o, struct cairn_error **err)
{
	CLEANUP(ctx_release) struct ctx c = {0};
	CLEANUP(cairn_buf_release)
	struct cairn_buf b = CAIRN_BUF_INIT_MAX(CAIRN_TEMPLATE_OUTPUT_MAX);
	cleanup_val struct val *root = tpl_vnew(V_MAP);
	struct exec x = {.c = &c, .out = &b};
	struct list body = {0};
	const struct src *s;
	int ret;

	*out = NULL;
	if (out_len)
		*out_len = 0;
	c.o = o;
	c.dir = o ? o->dir : NULL;
	c.getenv_fn = o && o->getenv_fn ? o->getenv_fn : default_getenv;
	ret = load_werf_templates(&c, err);
	if (ret < 0)
		return ret;
	s = add_src(&c, o && o->name ? o->name : "template", text, len);
	ret = tpl_parse_src(&c, s, &body, err);
	if (ret < 0)
		return ret;
	tpl_map_put(root, tpl_vstr("Files", 5), tpl_vnew(V_FILES));
	x.root = root;
	x.src = s;
	tpl_push_var(&x, "$", root);
	ret = tpl_exec_list(&x, &body, root, err);
	tpl_pop_vars(&x, 0);
	free(x.vars);
	if (ret < 0)
		return ret;
	ret = cairn_buf_check(&b, err);
	if (ret < 0)
		return ret;
	*out = cairn_buf_detach(&b, out_len);
	return 0;
}
