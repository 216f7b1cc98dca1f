/* SPDX-License-Identifier: MIT */
/*
 * The Dockerfile parser, after BuildKit's (frontend/dockerfile/parser: parser.go,
 * line_parsers.go, split_command.go, directives.go): the same lines make the same instructions.
 */
#include "common.h"
#include "dockerfile/parse.h"
#include "util/buf.h"

#include <ctype.h>
#include <jansson.h>

static const char *const cmd_names[CAIRN_DF_CMD_COUNT] = {
	[CAIRN_DF_ADD] = "ADD",
	[CAIRN_DF_ARG] = "ARG",
	[CAIRN_DF_CMD] = "CMD",
	[CAIRN_DF_COPY] = "COPY",
	[CAIRN_DF_ENTRYPOINT] = "ENTRYPOINT",
	[CAIRN_DF_ENV] = "ENV",
	[CAIRN_DF_EXPOSE] = "EXPOSE",
	[CAIRN_DF_FROM] = "FROM",
	[CAIRN_DF_HEALTHCHECK] = "HEALTHCHECK",
	[CAIRN_DF_LABEL] = "LABEL",
	[CAIRN_DF_MAINTAINER] = "MAINTAINER",
	[CAIRN_DF_ONBUILD] = "ONBUILD",
	[CAIRN_DF_RUN] = "RUN",
	[CAIRN_DF_SHELL] = "SHELL",
	[CAIRN_DF_STOPSIGNAL] = "STOPSIGNAL",
	[CAIRN_DF_USER] = "USER",
	[CAIRN_DF_VOLUME] = "VOLUME",
	[CAIRN_DF_WORKDIR] = "WORKDIR",
};

const char *cairn_df_cmd_name(enum cairn_df_cmd cmd)
{
	return (unsigned)cmd < CAIRN_DF_CMD_COUNT ? cmd_names[cmd] : "?";
}

/* Go's unicode.IsSpace on ASCII (the parser's text is bytes; other spaces are rare enough). */
static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* BuildKit's tokenWhitespace: [\t\v\f\r ]+ (no newline: it is gone by then). */
static bool is_token_space(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

/* ---- the instruction's parts ---- */

struct strs {
	char **v;
	size_t n;
};

static void strs_add(struct strs *s, const char *p, size_t n)
{
	s->v = xreallocarray(s->v, s->n + 1, sizeof(*s->v));
	s->v[s->n++] = xstrndup(p, n);
}

static void strs_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

struct parser {
	const char *file;
	char escape;
	struct cairn_error **err;
};

static int fail(const struct parser *p, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(const struct parser *p, unsigned line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cairn_error_set(p->err, CAIRN_EINVAL, "%s:%u: %s", p->file, line, msg);
}

/*
 * The builder flags at the start of `s` ("--from=x", quotes and escapes removed) into `flags`;
 * returns where the arguments start (extractBuilderFlags). A lone "--" ends the flags.
 */
static const char *builder_flags(struct strs *flags, const char *s, const char *end, char escape)
{
	CLEANUP(cairn_buf_release) struct cairn_buf w = CAIRN_BUF_INIT;
	enum { SPACES, WORD, QUOTE } phase = SPACES;
	bool blank_ok = false;
	char quote = 0;

	for (const char *q = s;; q++) {
		bool at_end = q == end;
		char c = at_end ? 0 : *q;

		if (phase == SPACES) {
			if (at_end)
				return end;
			if (is_space(c))
				continue;
			if (c != '-' || q + 1 == end || q[1] != '-')
				return q;
			phase = WORD;
		}
		if (at_end) {
			if ((w.len != 2 || memcmp(w.buf, "--", 2) != 0) && (blank_ok || w.len))
				strs_add(flags, w.buf ? w.buf : "", w.len);
			return end;
		}
		if (phase == WORD) {
			if (is_space(c)) {
				phase = SPACES;
				if (w.len == 2 && memcmp(w.buf, "--", 2) == 0)
					return q;
				if (blank_ok || w.len)
					strs_add(flags, w.buf ? w.buf : "", w.len);
				cairn_buf_reset(&w);
				blank_ok = false;
				continue;
			}
			if (c == '\'' || c == '"') {
				quote = c;
				blank_ok = true;
				phase = QUOTE;
				continue;
			}
			if (c == escape) {
				if (q + 1 == end)
					continue;
				c = *++q;
			}
			cairn_buf_addch(&w, c);
			continue;
		}
		/* QUOTE */
		if (c == quote) {
			phase = WORD;
			continue;
		}
		if (c == escape) {
			if (q + 1 == end) {
				phase = WORD;
				continue;
			}
			c = *++q;
		}
		cairn_buf_addch(&w, c);
	}
}

/* Words split at whitespace, quotes and escapes kept (parseWords). */
static void quoted_words(struct strs *out, const char *s, const char *end, char escape)
{
	CLEANUP(cairn_buf_release) struct cairn_buf w = CAIRN_BUF_INIT;
	enum { SPACES, WORD, QUOTE } phase = SPACES;
	bool blank_ok = false;
	char quote = 0;

	for (const char *q = s;; q++) {
		bool at_end = q == end;
		char c = at_end ? 0 : *q;

		if (phase == SPACES) {
			if (at_end)
				return;
			if (is_space(c))
				continue;
			phase = WORD;
		}
		if (at_end) {
			if (blank_ok || w.len)
				strs_add(out, w.buf ? w.buf : "", w.len);
			return;
		}
		if (phase == WORD) {
			if (is_space(c)) {
				phase = SPACES;
				if (blank_ok || w.len)
					strs_add(out, w.buf ? w.buf : "", w.len);
				cairn_buf_reset(&w);
				blank_ok = false;
				continue;
			}
			if (c == '\'' || c == '"') {
				quote = c;
				blank_ok = true;
				phase = QUOTE;
			}
			if (c == escape) {
				if (q + 1 == end)
					continue;
				cairn_buf_addch(&w, c);
				c = *++q;
			}
			cairn_buf_addch(&w, c);
			continue;
		}
		/* QUOTE */
		if (c == quote)
			phase = WORD;
		if (c == escape && quote != '\'') {
			if (q + 1 == end) {
				phase = WORD;
				continue;
			}
			cairn_buf_addch(&w, c);
			c = *++q;
		}
		cairn_buf_addch(&w, c);
	}
}

/* Fields of `s` split at runs of [\t\v\f\r ] (a leading or trailing run gives an empty one). */
static void space_fields(struct strs *out, const char *s, const char *end, size_t max)
{
	const char *f = s;

	for (const char *q = s; q < end; q++) {
		const char *r = q;

		if (!is_token_space(*q) || (max && out->n + 1 == max))
			continue;
		while (r < end && is_token_space(*r))
			r++;
		strs_add(out, f, (size_t)(q - f));
		f = r;
		q = r - 1;
	}
	strs_add(out, f, (size_t)(end - f));
}

/*
 * A JSON array of strings (exec form): 1 and its items in `out`; 0 when `s` is no JSON array
 * (shell form); CAIRN_EINVAL for an array with something else than strings. As Go's decoder
 * does, what follows the array is not looked at.
 */
static int json_form(struct strs *out, const struct parser *p, unsigned line, const char *s,
		     const char *end)
{
	json_error_t je;
	json_t *a, *v;
	size_t i;

	while (s < end && is_space(*s))
		s++;
	if (s == end || *s != '[')
		return 0;
	a = json_loadb(s, (size_t)(end - s), JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY, &je);
	if (!json_is_array(a)) {
		json_decref(a);
		return 0;
	}
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v)) {
			json_decref(a);
			return fail(p, line,
				    "when using JSON array syntax, arrays must be comprised of "
				    "strings only");
		}
	}
	json_array_foreach(a, i, v) strs_add(out, json_string_value(v), json_string_length(v));
	json_decref(a);
	return 1;
}

static const char *trim_left(const char *s, const char *end)
{
	while (s < end && is_space(*s))
		s++;
	return s;
}

static const char *trim_right(const char *s, const char *end)
{
	while (end > s && is_space(end[-1]))
		end--;
	return end;
}

static int lookup_cmd(enum cairn_df_cmd *out, const char *s, size_t n)
{
	for (int i = 0; i < CAIRN_DF_CMD_COUNT; i++) {
		if (strlen(cmd_names[i]) == n && strncasecmp(cmd_names[i], s, n) == 0) {
			*out = (enum cairn_df_cmd)i;
			return 0;
		}
	}
	return -1;
}

static void instr_release(struct cairn_df_instr *in);

/* ENV and LABEL: NAME=VALUE words, or the legacy NAME VALUE (parseNameVal). */
static int name_values(struct strs *args, const struct parser *p, unsigned line, const char *what,
		       const char *s, const char *end)
{
	struct strs words = {0};
	int ret = 0;

	quoted_words(&words, s, end, p->escape);
	if (words.n == 0) {
		ret = fail(p, line, "%s needs at least one NAME=VALUE", what);
	} else if (!strchr(words.v[0], '=')) {
		struct strs parts = {0};

		space_fields(&parts, s, end, 2);
		if (parts.n < 2)
			ret = fail(p, line, "%s must have two arguments", what);
		for (size_t i = 0; ret == 0 && i < 2; i++)
			strs_add(args, parts.v[i], strlen(parts.v[i]));
		strs_free(parts.v, parts.n);
	} else {
		for (size_t i = 0; ret == 0 && i < words.n; i++) {
			const char *eq = strchr(words.v[i], '=');

			if (!eq) {
				ret = fail(p, line,
					   "syntax error - can't find = in '%s'. Must be of the "
					   "form: name=value",
					   words.v[i]);
				break;
			}
			strs_add(args, words.v[i], (size_t)(eq - words.v[i]));
			strs_add(args, eq + 1, strlen(eq + 1));
		}
	}
	strs_free(words.v, words.n);
	return ret;
}

/* One instruction from its joined line (newNodeFromLine and the line parsers). */
static int instruction(struct cairn_df_instr *in, const struct parser *p, unsigned line,
		       const char *text, size_t len, bool nested)
{
	const char *s = trim_left(text, text + len), *end = trim_right(text, text + len);
	const char *kw = s, *rest;
	struct strs flags = {0}, args = {0};
	int ret = 0;

	memset(in, 0, sizeof(*in));
	in->line = in->end_line = line;
	in->original = xstrndup(text, len);
	while (s < end && !is_token_space(*s))
		s++;
	if (lookup_cmd(&in->cmd, kw, (size_t)(s - kw)) < 0)
		return fail(p, line, "unknown instruction: %.*s", (int)(s - kw > 64 ? 64 : s - kw),
			    kw);
	rest = builder_flags(&flags, trim_left(s, end), end, p->escape);
	in->flags = flags.v;
	in->n_flags = flags.n;
	rest = trim_left(rest, end);
	switch (in->cmd) {
	case CAIRN_DF_RUN:
	case CAIRN_DF_CMD:
	case CAIRN_DF_ENTRYPOINT:
	case CAIRN_DF_SHELL:
		ret = rest == end ? 0 : json_form(&args, p, line, rest, end);
		if (ret == 0 && rest != end)
			strs_add(&args, rest, (size_t)(end - rest));
		break;
	case CAIRN_DF_ADD:
	case CAIRN_DF_COPY:
	case CAIRN_DF_VOLUME:
		ret = json_form(&args, p, line, rest, end);
		if (ret == 0 && rest != end)
			space_fields(&args, rest, end, 0);
		break;
	case CAIRN_DF_FROM:
	case CAIRN_DF_EXPOSE:
		if (rest != end)
			space_fields(&args, rest, end, 0);
		break;
	case CAIRN_DF_ENV:
	case CAIRN_DF_LABEL:
		ret = name_values(&args, p, line, cmd_names[in->cmd], rest, end);
		break;
	case CAIRN_DF_ARG:
		quoted_words(&args, rest, end, p->escape);
		break;
	case CAIRN_DF_HEALTHCHECK: {
		const char *t = rest;

		while (t < end && !is_space(*t))
			t++;
		if (t != rest) {
			const char *cmd = trim_left(t, end);

			strs_add(&args, rest, (size_t)(t - rest));
			ret = cmd == end ? 0 : json_form(&args, p, line, cmd, end);
			if (ret == 0 && cmd != end)
				strs_add(&args, cmd, (size_t)(end - cmd));
		}
		break;
	}
	case CAIRN_DF_MAINTAINER:
	case CAIRN_DF_STOPSIGNAL:
	case CAIRN_DF_USER:
	case CAIRN_DF_WORKDIR:
		if (rest != end)
			strs_add(&args, rest, (size_t)(end - rest));
		break;
	case CAIRN_DF_ONBUILD:
		if (nested)
			return fail(p, line,
				    "chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
		if (rest == end)
			return fail(p, line, "ONBUILD needs an instruction");
		in->sub = xcalloc(1, sizeof(*in->sub));
		ret = instruction(in->sub, p, line, rest, (size_t)(end - rest), true);
		if (ret == 0 &&
		    (in->sub->cmd == CAIRN_DF_FROM || in->sub->cmd == CAIRN_DF_MAINTAINER))
			ret = fail(p, line, "%s isn't allowed as an ONBUILD trigger",
				   cmd_names[in->sub->cmd]);
		break;
	case CAIRN_DF_CMD_COUNT:
		break;
	}
	in->json = ret == 1;
	in->args = args.v;
	in->n_args = args.n;
	return ret < 0 ? ret : 0;
}

/* ---- heredocs ---- */

/* Shell words of `s`, quotes and backslash escapes kept (heredocsFromLine's lexer). */
static void raw_shell_words(struct strs *out, const char *s, const char *end)
{
	const char *w = NULL;
	char quote = 0;

	for (const char *q = s; q <= end; q++) {
		if (q == end || (!quote && is_space(*q))) {
			if (w)
				strs_add(out, w, (size_t)(q - w));
			w = NULL;
			continue;
		}
		if (!w)
			w = q;
		if (quote) {
			if (*q == quote)
				quote = 0;
			else if (quote == '"' && *q == '\\' && q + 1 < end)
				q++;
		} else if (*q == '\'' || *q == '"') {
			quote = *q;
		} else if (*q == '\\' && q + 1 < end) {
			q++;
		}
	}
}

/* `word` with its quotes and backslash escapes removed. */
static char *unquote(const char *word)
{
	struct cairn_buf b = CAIRN_BUF_INIT;
	char quote = 0;

	for (const char *q = word; *q; q++) {
		if (quote) {
			if (*q == quote) {
				quote = 0;
				continue;
			}
			if (quote == '"' && *q == '\\' && q[1] && strchr("\"\\$`", q[1]))
				q++;
		} else if (*q == '\'' || *q == '"') {
			quote = *q;
			continue;
		} else if (*q == '\\' && q[1]) {
			q++;
		}
		cairn_buf_addch(&b, *q);
	}
	cairn_buf_addstr(&b, "");
	return cairn_buf_detach(&b, NULL);
}

static size_t count_quotes(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\'' || *s == '"';
	return n;
}

/* `word` as ^(\d*)<<(-?)([^<]*)$ with a non-empty name: the heredoc it opens, else false. */
static bool heredoc_word(struct cairn_df_heredoc *h, const char *word)
{
	const char *q = word, *rest;
	unsigned long fd = 0;

	while (isdigit((unsigned char)*q)) {
		fd = fd * 10 + (unsigned long)(*q - '0');
		if (fd > 1024)
			return false;
		q++;
	}
	if (strncmp(q, "<<", 2) != 0)
		return false;
	q += 2;
	memset(h, 0, sizeof(*h));
	if (*q == '-') {
		h->chomp = true;
		q++;
	}
	rest = q;
	if (!*rest || strchr(rest, '<'))
		return false;
	h->name = unquote(rest);
	if (!*h->name) {
		free(h->name);
		return false;
	}
	h->expand = count_quotes(h->name) == count_quotes(rest);
	h->fd = (unsigned)fd;
	return true;
}

/* ---- lines ---- */

struct scan {
	const char *p, *end;
	unsigned no; /* lines read so far */
};

/* The next line (its newline excluded, a '\r' before it too), or false at the end. */
static bool next_line(struct scan *sc, const char **line, size_t *len, size_t *with_nl)
{
	const char *nl;

	if (sc->p >= sc->end)
		return false;
	nl = memchr(sc->p, '\n', (size_t)(sc->end - sc->p));
	*line = sc->p;
	*with_nl = nl ? (size_t)(nl + 1 - sc->p) : (size_t)(sc->end - sc->p);
	*len = nl ? (size_t)(nl - sc->p) : (size_t)(sc->end - sc->p);
	while (*len && ((*line)[*len - 1] == '\r' || (*line)[*len - 1] == '\n'))
		(*len)--;
	sc->p += *with_nl;
	sc->no++;
	return true;
}

static bool is_comment(const char *s, size_t n)
{
	const char *q = trim_left(s, s + n);

	return q < s + n && *q == '#';
}

struct directives {
	bool done, escape, syntax, check;
};

/*
 * A parser directive "# name=value" (name syntax, escape or check) among the file's first
 * lines: 1 when `s` is one, 0 when not (and from then on none is), CAIRN_EINVAL for a repeated
 * one or a bad escape.
 */
static int directive(struct directives *d, struct parser *p, struct cairn_dockerfile *df,
		     unsigned line, const char *s, size_t n)
{
	const char *q = s, *end = s + n, *name, *value;
	size_t name_len;
	bool *seen;

	if (d->done)
		return 0;
	if (q == end || *q++ != '#')
		goto none;
	q = trim_left(q, end);
	name = q;
	if (q == end || !isalpha((unsigned char)*q))
		goto none;
	while (q < end && isalnum((unsigned char)*q))
		q++;
	name_len = (size_t)(q - name);
	q = trim_left(q, end);
	if (q == end || *q++ != '=')
		goto none;
	value = trim_left(q, end);
	end = trim_right(value, end);
	if (value == end)
		goto none;
	if (name_len == 6 && strncasecmp(name, "escape", 6) == 0)
		seen = &d->escape;
	else if (name_len == 6 && strncasecmp(name, "syntax", 6) == 0)
		seen = &d->syntax;
	else if (name_len == 5 && strncasecmp(name, "check", 5) == 0)
		seen = &d->check;
	else
		goto none;
	if (*seen)
		return fail(p, line, "only one %.*s parser directive can be used", (int)name_len,
			    name);
	*seen = true;
	if (seen == &d->escape) {
		if (end - value != 1 || (*value != '\\' && *value != '`'))
			return fail(p, line, "invalid escape token '%.*s' does not match ` or \\",
				    (int)(end - value > 16 ? 16 : end - value), value);
		p->escape = *value;
		df->escape = *value;
	} else if (seen == &d->syntax) {
		free(df->syntax);
		df->syntax = xstrndup(value, (size_t)(end - value));
	}
	return 1;
none:
	d->done = true;
	return 0;
}

/*
 * The line without its continuation escape: true when the instruction goes on (the escape,
 * alone or after a character other than the escape, then only blanks, ends the line).
 */
static bool continued(const char *s, size_t *n, char escape)
{
	size_t k = *n;

	while (k && (s[k - 1] == ' ' || s[k - 1] == '\t'))
		k--;
	if (!k || s[k - 1] != escape || (k >= 2 && s[k - 2] == escape))
		return false;
	*n = k - 1;
	return true;
}

/* The heredocs the instruction's line opens, read from the lines that follow it. */
static int read_heredocs(struct cairn_df_instr *in, struct parser *p, struct scan *sc,
			 const char *text, size_t len)
{
	const struct cairn_df_instr *target = in->sub ? in->sub : in;
	struct strs words = {0};
	int ret = 0;

	if ((target->cmd != CAIRN_DF_RUN && target->cmd != CAIRN_DF_COPY &&
	     target->cmd != CAIRN_DF_ADD) ||
	    target->json || !memmem(text, len, "<<", 2))
		return 0;
	raw_shell_words(&words, text, text + len);
	for (size_t i = 0; ret == 0 && i < words.n; i++) {
		CLEANUP(cairn_buf_release) struct cairn_buf body = CAIRN_BUF_INIT;
		struct cairn_df_heredoc h;
		const char *line;
		size_t n, with_nl;
		bool ended = false;

		if (!heredoc_word(&h, words.v[i]))
			continue;
		while (!ended && next_line(sc, &line, &n, &with_nl)) {
			const char *t = line;
			size_t tn = n;

			while (h.chomp && tn && *t == '\t')
				t++, tn--;
			if (tn == strlen(h.name) && memcmp(t, h.name, tn) == 0) {
				ended = true;
				break;
			}
			cairn_buf_add(&body, t, with_nl - (size_t)(t - line));
		}
		if (!ended) {
			ret = fail(p, in->line, "unterminated heredoc '%.64s'", h.name);
			free(h.name);
			break;
		}
		cairn_buf_addstr(&body, "");
		h.content = cairn_buf_detach(&body, NULL);
		in->heredocs = xreallocarray(in->heredocs, in->n_heredocs + 1, sizeof(h));
		in->heredocs[in->n_heredocs++] = h;
		in->end_line = sc->no;
	}
	strs_free(words.v, words.n);
	return ret;
}

/* What BuildKit refuses once the instructions are made (instructions.Parse), by line. */
static int check(const struct cairn_df_instr *in, const struct parser *p)
{
	const char *name = cmd_names[in->cmd];

	switch (in->cmd) {
	case CAIRN_DF_FROM:
		if (in->n_args != 1 && !(in->n_args == 3 && strcasecmp(in->args[1], "as") == 0))
			return fail(p, in->line, "FROM requires either one or three arguments");
		break;
	case CAIRN_DF_ADD:
	case CAIRN_DF_COPY:
		if (in->n_args < 2)
			return fail(
				p, in->line,
				"%s requires at least two arguments, but only one was provided. "
				"Destination could not be determined",
				name);
		break;
	case CAIRN_DF_ARG:
	case CAIRN_DF_EXPOSE:
	case CAIRN_DF_VOLUME:
	case CAIRN_DF_MAINTAINER:
	case CAIRN_DF_STOPSIGNAL:
	case CAIRN_DF_USER:
	case CAIRN_DF_WORKDIR:
		if (in->n_args == 0)
			return fail(p, in->line, "%s requires at least one argument", name);
		if (in->cmd == CAIRN_DF_STOPSIGNAL || in->cmd == CAIRN_DF_USER ||
		    in->cmd == CAIRN_DF_WORKDIR) {
			if (in->n_args != 1)
				return fail(p, in->line, "%s requires exactly one argument", name);
		}
		break;
	case CAIRN_DF_RUN:
		if (in->n_args == 0 && in->n_heredocs == 0)
			return fail(p, in->line, "RUN requires at least one argument");
		break;
	case CAIRN_DF_SHELL:
		if (!in->json)
			return fail(p, in->line, "SHELL requires the arguments to be in JSON form");
		if (in->n_args == 0)
			return fail(p, in->line, "SHELL requires at least one argument");
		break;
	case CAIRN_DF_HEALTHCHECK:
		if (in->n_args == 0)
			return fail(p, in->line, "HEALTHCHECK requires an argument");
		if (strcasecmp(in->args[0], "none") == 0) {
			if (in->n_args > 1)
				return fail(p, in->line,
					    "HEALTHCHECK NONE takes no other argument");
		} else if (strcasecmp(in->args[0], "cmd") != 0) {
			return fail(p, in->line, "unknown type '%.32s' in HEALTHCHECK (try CMD)",
				    in->args[0]);
		} else if (in->n_args < 2) {
			return fail(p, in->line, "missing command after HEALTHCHECK CMD");
		}
		break;
	case CAIRN_DF_ONBUILD:
		return check(in->sub, p);
	default:
		break;
	}
	return 0;
}

int cairn_dockerfile_parse(struct cairn_dockerfile **out, const char *text, size_t len,
			   const char *file, struct cairn_error **err)
{
	struct cairn_dockerfile *df;
	struct parser p = {.file = file ? file : "Dockerfile", .escape = '\\', .err = err};
	struct directives d = {0};
	struct scan sc = {text, text + len, 0};
	const char *line;
	size_t n, with_nl;
	bool from_seen = false;
	int ret = 0;

	*out = NULL;
	if (len > CAIRN_DOCKERFILE_MAX)
		return cairn_error_set(err, CAIRN_EINVAL, "%s: over %u bytes", p.file,
				       CAIRN_DOCKERFILE_MAX);
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		sc.p += 3; /* a byte order mark */
	df = xcalloc(1, sizeof(*df));
	df->escape = '\\';
	while (ret == 0 && next_line(&sc, &line, &n, &with_nl)) {
		CLEANUP(cairn_buf_release) struct cairn_buf joined = CAIRN_BUF_INIT;
		struct cairn_df_instr in;
		unsigned start = sc.no;
		const char *s = trim_left(line, line + n);
		size_t k = n - (size_t)(s - line);
		bool more;

		ret = directive(&d, &p, df, start, s, k);
		if (ret < 0)
			break;
		if (ret > 0 || is_comment(s, k)) {
			ret = 0;
			continue;
		}
		more = continued(s, &k, p.escape);
		if (!more && k == 0)
			continue;
		cairn_buf_add(&joined, s, k);
		while (more && next_line(&sc, &line, &n, &with_nl)) {
			ret = directive(&d, &p, df, sc.no, line, n);
			if (ret < 0)
				break;
			ret = 0;
			if (is_comment(line, n))
				continue;
			if (trim_left(line, line + n) == line + n) {
				df->empty_continuations++;
				continue;
			}
			k = n;
			more = continued(line, &k, p.escape);
			cairn_buf_add(&joined, line, k);
		}
		if (ret < 0)
			break;
		ret = instruction(&in, &p, start, joined.buf, joined.len, false);
		in.end_line = sc.no;
		if (ret == 0)
			ret = read_heredocs(&in, &p, &sc, joined.buf, joined.len);
		if (ret == 0)
			ret = check(&in, &p);
		if (ret == 0 && !from_seen && in.cmd != CAIRN_DF_FROM && in.cmd != CAIRN_DF_ARG)
			ret = fail(&p, start, "no build stage in current context: %s before FROM",
				   cmd_names[in.cmd]);
		if (ret < 0) {
			instr_release(&in);
			break;
		}
		from_seen = from_seen || in.cmd == CAIRN_DF_FROM;
		df->v = xreallocarray(df->v, df->n + 1, sizeof(*df->v));
		df->v[df->n++] = in;
	}
	if (ret == 0 && df->n == 0)
		ret = fail(&p, sc.no, "file with no instructions");
	if (ret == 0 && !from_seen)
		ret = fail(&p, sc.no, "no FROM instruction");
	if (ret < 0) {
		cairn_dockerfile_free(df);
		return ret;
	}
	*out = df;
	return 0;
}

static void instr_release(struct cairn_df_instr *in)
{
	if (in->sub) {
		instr_release(in->sub);
		free(in->sub);
	}
	free(in->original);
	strs_free(in->flags, in->n_flags);
	strs_free(in->args, in->n_args);
	for (size_t i = 0; i < in->n_heredocs; i++) {
		free(in->heredocs[i].name);
		free(in->heredocs[i].content);
	}
	free(in->heredocs);
	memset(in, 0, sizeof(*in));
}

void cairn_dockerfile_free(struct cairn_dockerfile *df)
{
	if (!df)
		return;
	for (size_t i = 0; i < df->n; i++)
		instr_release(&df->v[i]);
	free(df->v);
	free(df->syntax);
	free(df);
}

const char *cairn_df_flag(const struct cairn_df_instr *in, const char *name)
{
	size_t n = strlen(name);
	const char *found = NULL;

	for (size_t i = 0; i < in->n_flags; i++) {
		const char *f = in->flags[i];

		if (strncmp(f, "--", 2) == 0 && strncmp(f + 2, name, n) == 0) {
			if (f[2 + n] == '=')
				found = f + 3 + n;
			else if (!f[2 + n])
				found = "";
		}
	}
	return found;
}

char *cairn_df_spec_value(const char *spec, const char *key)
{
	size_t n = strlen(key);

	for (const char *p = spec; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, key, n) && p[n] == '=')
			return xstrndup(p + n + 1, strcspn(p + n + 1, ","));
	return NULL;
}
