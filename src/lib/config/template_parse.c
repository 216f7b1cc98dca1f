/* SPDX-License-Identifier: MIT */
/* The parser of templates: tokens to a tree of actions, pipelines and control structures. */
#include "common.h"
#include "config/template_internal.h"

#define PARSE_DEPTH_MAX 100

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

void tpl_add_define(struct ctx *c, const char *name, const struct list *body)
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
int tpl_parse_src(struct ctx *c, const struct src *s, struct list *out, struct cairn_error **err)
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
