/* SPDX-License-Identifier: MIT */
/* What the files of the template engine share: sources, tokens, the tree, values, execution. */
#ifndef CAIRN_CONFIG_TEMPLATE_INTERNAL_H
#define CAIRN_CONFIG_TEMPLATE_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/template.h"
#include "util/buf.h"

/*
 * The engine has the layout of Go's text/template: template_lex.c makes tokens of a source,
 * template_parse.c a tree of them, template_exec.c runs the tree over values (template_value.c),
 * calling the functions of template_funcs.c; template.c holds the sources and the arena the tree
 * lives in, and renders. Names shared between these files carry tpl_; file-local ones are
 * static and unprefixed.
 */

/* ---- sources and the parse tree ---- */

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
	cairn_template_read_file_fn read_file_fn;
	cairn_template_glob_fn glob_fn;
	void **arena;
	size_t n_arena, alloc_arena;
	struct src **srcs;
	size_t n_srcs, alloc_srcs;
	struct define *defs;
	size_t n_defs, alloc_defs;
};

/* ---- the lexer ---- */

struct lexer {
	struct ctx *c;
	const struct src *src;
	struct tok *v;
	size_t n, alloc;
	bool trim_next; /* a -}} asks to drop the whitespace that starts the next text */
};

/* ---- functions ---- */

struct val;
struct exec;
typedef int (*func_fn)(struct exec *x, struct val **out, struct val **argv, size_t argc,
		       const struct cmd *cmd, struct cairn_error **err);

struct func {
	const char *name;
	func_fn fn;
	int min, max; /* max -1: variadic */
};

/* The functions of one group, as Sprig's documentation groups them. */
struct func_table {
	const struct func *v;
	size_t n;
};

#define TPL_FN(name)                                                                           \
	static int fn_##name(struct exec *x, struct val **out, struct val **argv, size_t argc, \
			     const struct cmd *cmd, struct cairn_error **err)

/* ---- values ---- */

enum vkind { V_NIL, V_BOOL, V_INT, V_STR, V_LIST, V_MAP, V_FILES };

/* Deepest nesting of lists and maps a value may have. */
#define TPL_VALUE_DEPTH_MAX 64

struct val {
	enum vkind kind;
	unsigned refs;
	unsigned depth; /* at creation; a map changed by `set` or `merge` may be deeper */
	bool b;		/* V_BOOL: the value; V_INT: an int64 of Sprig, not a Go int */
	int64_t i;
	char *s;
	size_t len;
	struct val **v; /* list items or map values */
	struct val **k; /* map keys (strings), sorted */
	size_t n;
	size_t cap; /* items v (and k) have room for */
};

#define cleanup_val CLEANUP(tpl_vunrefp)

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
	size_t tpl_bytes;      /* parsed by `tpl` so far */
	unsigned tpl_calls;
};

/* ---- template.c: the arena and messages ---- */

void *tpl_grow(void *v, size_t *alloc, size_t n, size_t size);
void *tpl_nalloc(struct ctx *c, size_t size);
char *tpl_nstrdup(struct ctx *c, const char *s, size_t len);
void tpl_push_ptr(struct ctx *c, void ***v, size_t *n, size_t *alloc, void *p);
const struct src *tpl_add_src(struct ctx *c, const char *name, const char *text, size_t len);
void tpl_pos_of(const struct src *s, size_t off, unsigned *line, unsigned *col);
int tpl_failv(struct cairn_error **err, int code, const struct src *s, size_t off, const char *fmt,
	      va_list ap) __attribute__((format(printf, 5, 0)));
int tpl_fail_at(struct cairn_error **err, const struct src *s, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* ---- template_lex.c: tokens ---- */

bool tpl_is_space(char ch);
int tpl_lex(struct lexer *l, struct cairn_error **err);

/* ---- template_parse.c: the tree and its defines ---- */

void tpl_add_define(struct ctx *c, const char *name, const struct list *body);
int tpl_parse_src(struct ctx *c, const struct src *s, struct list *out, struct cairn_error **err);

/* ---- template_value.c: the value model ---- */

struct val *tpl_vnew(enum vkind kind);
struct val *tpl_vref(struct val *v);
void tpl_vunref(struct val *v);
void tpl_vunrefp(struct val **v);
struct val *tpl_vstr(const char *s, size_t len);
struct val *tpl_vint(int64_t i);
struct val *tpl_vbool(bool b);
struct val *tpl_vint64(int64_t i);
void tpl_list_push(struct val *l, struct val *v);
struct val *tpl_list_copy(const struct val *l, size_t from, size_t to);
int tpl_keycmp(const struct val *a, const char *s, size_t len);
void tpl_map_put(struct val *m, struct val *k, struct val *v);
struct val *tpl_map_get(const struct val *m, const char *s, size_t len);
bool tpl_truth(const struct val *v);
const char *tpl_kind_name(const struct val *v);
const char *tpl_go_type(const struct val *v);
const char *tpl_go_kind(const struct val *v);

/* ---- template_exec.c: running the tree ---- */

int tpl_step(struct exec *x, const struct src *s, size_t off, struct cairn_error **err);
int tpl_xfail(struct exec *x, size_t off, struct cairn_error **err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int tpl_too_big(struct exec *x, size_t off, struct cairn_error **err);
int tpl_str_from_buf(struct exec *x, struct val **out, struct cairn_buf *b, size_t off,
		     struct cairn_error **err);
int tpl_print_val(struct exec *x, struct cairn_buf *b, const struct val *v, bool top, size_t off,
		  struct cairn_error **err);
int tpl_to_str(struct exec *x, struct val **out, struct val *v, size_t off,
	       struct cairn_error **err);
void tpl_push_var(struct exec *x, const char *name, struct val *v);
void tpl_pop_vars(struct exec *x, size_t mark);
int tpl_exec_list(struct exec *x, const struct list *l, struct val *dot, struct cairn_error **err);
int tpl_exec_body(struct exec *x, struct cairn_buf *out, const struct list *body, const char *name,
		  struct val *dot, size_t off, struct cairn_error **err);
int tpl_exec_template(struct exec *x, struct cairn_buf *out, const char *name, struct val *dot,
		      size_t off, struct cairn_error **err);
int tpl_eval_arg(struct exec *x, struct val **out, const struct arg *a, struct val *dot,
		 struct cairn_error **err);

/* ---- template_funcs.c: Go's built-in functions, argument checks, the table of all ---- */

int tpl_want_str(struct exec *x, const struct val *v, const char *fn, size_t off,
		 struct cairn_error **err);
int tpl_want_int(struct exec *x, const struct val *v, const char *fn, size_t off,
		 struct cairn_error **err);
int tpl_want_list(struct exec *x, const struct val *v, const char *fn, size_t off,
		  struct cairn_error **err);
int tpl_want_map(struct exec *x, const struct val *v, const char *fn, size_t off,
		 struct cairn_error **err);
int tpl_too_deep(struct exec *x, size_t off, struct cairn_error **err);
int tpl_reaches(struct exec *x, const struct val *from, const struct val *to, unsigned depth,
		size_t off, struct cairn_error **err);
int tpl_equal(struct exec *x, const struct val *a, const struct val *b, unsigned depth, size_t off,
	      struct cairn_error **err);
int64_t tpl_to_int64(const struct val *v);
bool tpl_empty(const struct val *v);
const struct func *tpl_find_func(const char *name);
int tpl_call(struct exec *x, struct val **out, const struct cmd *cmd, struct val *dot,
	     struct val *piped, struct cairn_error **err);

/* ---- the groups of functions, one file each ---- */

extern const struct func_table tpl_fmt_funcs;	       /* template_fmt.c */
extern const struct func_table tpl_sprig_string_funcs; /* template_sprig_strings.c */
extern const struct func_table tpl_sprig_case_funcs;   /* template_sprig_case.c */
extern const struct func_table tpl_sprig_json_funcs;   /* template_sprig_json.c */
extern const struct func_table tpl_sprig_list_funcs;   /* template_sprig_lists.c */
extern const struct func_table tpl_sprig_dict_funcs;   /* template_sprig_dicts.c */
extern const struct func_table tpl_sprig_math_funcs;   /* template_sprig_math.c */
extern const struct func_table tpl_sprig_regex_funcs;  /* template_sprig_regex.c */
extern const struct func_table tpl_sprig_data_funcs;   /* template_sprig_data.c */
extern const struct func_table tpl_werf_funcs;	       /* template_werf.c */

void tpl_go_quote(struct cairn_buf *b, const char *s, size_t len);

/* ---- template_files.c: the project's files, unless the options say otherwise ---- */

int tpl_read_file(char **out, size_t *out_len, const char *dir, const char *path,
		  struct cairn_error **err);
int tpl_werf_dir(const char *dir, cairn_template_each_fn each, void *ud, struct cairn_error **err);
int tpl_templates_dir(const char *path, cairn_template_each_fn each, void *ud,
		      struct cairn_error **err);
int tpl_glob(const char *dir, const char *pattern, cairn_template_each_fn each, void *ud,
	     struct cairn_error **err);
bool tpl_glob_match(const char *pat, const char *path);

/* A rune as UTF-8 into p[0..4); one that is not valid becomes U+FFFD, as in Go. */
size_t tpl_utf8_put(char *p, int64_t r);

#endif
