/* SPDX-License-Identifier: MIT */
/* Template execution: pipelines evaluated, variables scoped, nodes written to the output. */
#include "common.h"
#include "config/template_internal.h"
#include "util/buf.h"

#include <stdarg.h>

int tpl_step(struct exec *x, const struct src *s, size_t off, struct cairn_error **err)
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

int tpl_xfail(struct exec *x, size_t off, struct cairn_error **err, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = tpl_failv(err, CAIRN_EINVAL, x->src, off, fmt, ap);
	va_end(ap);
	return ret;
}

int tpl_too_big(struct exec *x, size_t off, struct cairn_error **err)
{
	unsigned line, col;

	tpl_pos_of(x->src, off, &line, &col);
	return cairn_error_set(err, CAIRN_ETOOBIG, "%s:%u:%u: string longer than %u bytes",
			       x->src->name, line, col, CAIRN_TEMPLATE_OUTPUT_MAX);
}

/* A string value from a buffer, refusing one past the output cap. */
int tpl_str_from_buf(struct exec *x, struct val **out, struct cairn_buf *b, size_t off,
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

static int print_val(struct exec *x, struct cairn_buf *b, const struct val *v, bool top,
		     unsigned depth, size_t off, struct cairn_error **err)
{
	if (tpl_step(x, x->src, off, err) < 0)
		return CAIRN_ETOOBIG;
	if (b->err)
		return 0;
	if (depth > TPL_VALUE_DEPTH_MAX)
		return tpl_too_deep(x, off, err);
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
			int ret = print_val(x, b, v->v[i], false, depth + 1, off, err);

			if (ret < 0)
				return ret;
		}
		cairn_buf_addch(b, ']');
		break;
	}
	return 0;
}

/* Go's %v: strings as is, lists as [a b], maps as map[k:v] with sorted keys. */
int tpl_print_val(struct exec *x, struct cairn_buf *b, const struct val *v, bool top, size_t off,
		  struct cairn_error **err)
{
	return print_val(x, b, v, top, 0, off, err);
}

/* The value as a string (Sprig's strval): strings as is, others as %v. */
int tpl_to_str(struct exec *x, struct val **out, struct val *v, size_t off,
	       struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	int ret;

	if (v->kind == V_STR) {
		*out = tpl_vref(v);
		return 0;
	}
	ret = tpl_print_val(x, &b, v, false, off, err);
	if (ret < 0)
		return ret;
	return tpl_str_from_buf(x, out, &b, off, err);
}

static struct var *find_var(struct exec *x, const char *name)
{
	for (size_t i = x->n_vars; i > x->frame; i--)
		if (strcmp(x->vars[i - 1].name, name) == 0)
			return &x->vars[i - 1];
	return NULL;
}

void tpl_push_var(struct exec *x, const char *name, struct val *v)
{
	x->vars = tpl_grow(x->vars, &x->alloc_vars, x->n_vars, sizeof(*x->vars));
	x->vars[x->n_vars].name = name;
	x->vars[x->n_vars].v = tpl_vref(v);
	x->n_vars++;
}

void tpl_pop_vars(struct exec *x, size_t mark)
{
	while (x->n_vars > mark)
		tpl_vunref(x->vars[--x->n_vars].v);
}

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

/* A path or pattern given to a .Files method: relative, and no ".." to leave the project. */
static int check_path(struct exec *x, const struct val *path, const char *method, size_t off,
		      struct cairn_error **err)
{
	const char *s = path->s;

	if (path->kind != V_STR)
		return tpl_xfail(x, off, err, ".Files.%s: expected a string, got %s", method,
				 tpl_kind_name(path));
	if (!path->len || s[0] == '/' || memchr(s, '\0', path->len))
		return tpl_xfail(x, off, err,
				 ".Files.%s '%s': path must be relative to the project", method, s);
	for (const char *c = s; *c;) {
		size_t n = strcspn(c, "/");

		if (n == 2 && c[0] == '.' && c[1] == '.')
			return tpl_xfail(x, off, err, ".Files.%s '%s': path leaves the project",
					 method, s);
		c += n;
		while (*c == '/')
			c++;
	}
	return 0;
}

/* Wrap an error of a callback with where it was called and for what. */
static int wrap_at(struct exec *x, struct cairn_error *e, int ret, const char *method,
		   const char *s, size_t off, struct cairn_error **err)
{
	unsigned line, col;

	tpl_pos_of(x->src, off, &line, &col);
	cairn_error_wrap(&e, "%s:%u:%u: .Files.%s '%s'", x->src->name, line, col, method, s);
	if (err)
		*err = e;
	else
		cairn_error_free(e);
	return ret;
}

/* `.Files.Get path`: a path inside the project, read through the options' read_file_fn. */
static int files_get(struct exec *x, struct val **out, struct val *path, size_t off,
		     struct cairn_error **err)
{
	struct cairn_error *e = NULL;
	char *text = NULL;
	const char *s = path->s;
	size_t len = 0;
	int ret;

	if (check_path(x, path, "Get", off, err) < 0)
		return CAIRN_EINVAL;
	ret = x->c->read_file_fn(&text, &len, x->c->dir, s, &e);
	if (ret == CAIRN_ENOTFOUND) {
		cairn_error_free(e);
		return missing_file(x, out, s, off);
	}
	if (ret == CAIRN_ETOOBIG || (ret == 0 && len > CAIRN_TEMPLATE_OUTPUT_MAX)) {
		cairn_error_free(e);
		free(text);
		return tpl_too_big(x, off, err);
	}
	if (ret < 0)
		return wrap_at(x, e, ret, "Get", s, off, err);
	*out = tpl_vnew(V_STR);
	(*out)->s = text;
	(*out)->len = len;
	return 0;
}

struct globbed {
	struct val *map;
	size_t bytes;
};

static int add_globbed(const char *name, const char *path, const char *text, size_t len, void *ud,
		       struct cairn_error **err)
{
	struct globbed *g = ud;

	(void)path;
	if (len > CAIRN_TEMPLATE_OUTPUT_MAX - g->bytes)
		return cairn_error_set(err, CAIRN_ETOOBIG, "files larger than %u bytes in all",
				       CAIRN_TEMPLATE_OUTPUT_MAX);
	g->bytes += len;
	tpl_map_put(g->map, tpl_vstr(name, strlen(name)), tpl_vstr(text, len));
	return 0;
}

/*
 * `.Files.Glob pattern`: a map of the matching files' paths to their contents; nil, with a
 * warning, when none matches (as werf has it).
 */
static int files_glob(struct exec *x, struct val **out, struct val *pattern, size_t off,
		      struct cairn_error **err)
{
	struct globbed g = {0};
	struct cairn_error *e = NULL;
	unsigned line, col;
	int ret;

	if (check_path(x, pattern, "Glob", off, err) < 0)
		return CAIRN_EINVAL;
	g.map = tpl_vnew(V_MAP);
	ret = x->c->glob_fn(x->c->dir, pattern->s, add_globbed, &g, &e);
	if (ret < 0) {
		tpl_vunref(g.map);
		return wrap_at(x, e, ret, "Glob", pattern->s, off, err);
	}
	if (!g.map->n) {
		tpl_vunref(g.map);
		tpl_pos_of(x->src, off, &line, &col);
		cairn_log(CAIRN_LOG_WARN, "%s:%u:%u: .Files.Glob '%s': no matches found",
			  x->src->name, line, col, pattern->s);
		*out = tpl_vnew(V_NIL);
		return 0;
	}
	*out = g.map;
	return 0;
}

/* The methods of .Files, as werf has them. */
static const char *files_method(const char *name)
{
	if (strcmp(name, "Get") == 0)
		return "Get";
	if (strcmp(name, "Glob") == 0)
		return "Glob";
	return NULL;
}

/*
 * Apply a chain of field names to `v`. `method` is set when it ends at a method of .Files.
 * As Go's templates over werf's map: a key the map lacks is no value, and so is any field of
 * no value (`.Chart.Name` is "<no value>"); a key present with a nil value has no fields.
 */
static int apply_fields(struct exec *x, struct val **out, struct val *v, char *const *fields,
			size_t n, size_t off, const char **method, struct cairn_error **err)
{
	struct val *cur = v;

	*out = NULL;
	for (size_t i = 0; i < n; i++) {
		if (cur->kind == V_FILES && files_method(fields[i]) && method && i + 1 == n) {
			*method = files_method(fields[i]);
			break;
		}
		if (cur->kind == V_MAP) {
			struct val *f = tpl_map_get(cur, fields[i], strlen(fields[i]));

			if (!f) {
				*out = tpl_vnew(V_NIL);
				return 0;
			}
			if (f->kind == V_NIL && i + 1 < n)
				return tpl_xfail(x, off, err, "nil pointer evaluating field '%s'",
						 fields[i + 1]);
			cur = f;
			continue;
		}
		if (cur->kind == V_NIL)
			break; /* no value */
		return tpl_xfail(x, off, err, "can't evaluate field '%s' in type %s", fields[i],
				 tpl_kind_name(cur));
	}
	*out = tpl_vref(cur);
	return 0;
}

int tpl_eval_arg(struct exec *x, struct val **out, const struct arg *a, struct val *dot,
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
		const char *method = NULL;

		ret = apply_fields(x, out, base, a->fields, a->n_fields, a->off, &method, err);
		if (ret == 0 && method) {
			tpl_vunref(*out);
			*out = NULL;
			return tpl_xfail(x, a->off, err, ".Files.%s: wrong number of args: want 1",
					 method);
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
		const char *method = NULL;

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
						 ".Files.%s: wrong number of args: want 1 got %zu",
						 method, cmd->n - 1 + (piped != NULL));
			if (cmd->n == 2) {
				ret = tpl_eval_arg(x, &path, cmd->args[1], dot, err);
				if (ret < 0)
					return ret;
			} else {
				path = tpl_vref(piped);
			}
			if (strcmp(method, "Glob") == 0)
				return files_glob(x, out, path, a->off, err);
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

/* Run `body` as a template of its own: output to `out`, `.` and `$` set to `dot`. */
int tpl_exec_body(struct exec *x, struct cairn_buf *out, const struct list *body, const char *name,
		  struct val *dot, size_t off, struct cairn_error **err)
{
	const struct src *src = x->src;
	struct cairn_buf *saved = x->out;
	size_t frame = x->frame, mark = x->n_vars;
	int ret;

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
	ret = tpl_exec_list(x, body, dot, err);
	tpl_pop_vars(x, mark);
	x->frame = frame;
	x->out = saved;
	x->src = src;
	x->depth--;
	return ret;
}

int tpl_exec_template(struct exec *x, struct cairn_buf *out, const char *name, struct val *dot,
		      size_t off, struct cairn_error **err)
{
	const struct define *d = NULL;

	for (size_t i = x->c->n_defs; i > 0 && !d; i--)
		if (strcmp(x->c->defs[i - 1].name, name) == 0)
			d = &x->c->defs[i - 1];
	if (!d)
		return tpl_xfail(x, off, err, "no such template '%s'", name);
	return tpl_exec_body(x, out, &d->body, name, dot, off, err);
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
		/* held: `set` in the body may replace the item in the map */
		cleanup_val struct val *item = tpl_vref(v->v[i]);

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

int tpl_exec_list(struct exec *x, const struct list *l, struct val *dot, struct cairn_error **err)
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
