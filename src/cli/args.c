/* SPDX-License-Identifier: MIT */
/*
 * How every command reads its arguments: its own options, the options all commands share, and
 * CAIRN_SOME_OPTION variables taken as --some-option; options may follow operands.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdbool.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

/* The option table of the command being parsed (the CLI parses one at a time). */
static const struct option *parsing;

static const struct option common_options[] = {
	{"home-dir", required_argument, NULL, CLI_OPT_HOME_DIR},
	{"help", no_argument, NULL, CLI_OPT_HELP},
	{"verbose", no_argument, NULL, CLI_OPT_VERBOSE},
	{"quiet", no_argument, NULL, CLI_OPT_QUIET},
	{"log-time", no_argument, NULL, CLI_OPT_LOG_TIME},
	{"log-format", required_argument, NULL, CLI_OPT_LOG_FORMAT},
	{NULL, 0, NULL, 0},
};

struct option *cli_options(const struct option *own, const struct option *extra)
{
	size_t n_own = 0, n_extra = 0,
	       n_common = sizeof(common_options) / sizeof(common_options[0]);
	struct option *all;

	while (own && own[n_own].name)
		n_own++;
	while (extra && extra[n_extra].name)
		n_extra++;
	all = calloc(n_own + n_extra + n_common, sizeof(*all));
	if (!all)
		abort();
	if (n_own)
		memcpy(all, own, n_own * sizeof(*all));
	if (n_extra)
		memcpy(all + n_own, extra, n_extra * sizeof(*all));
	memcpy(all + n_own + n_extra, common_options, n_common * sizeof(*all));
	return all;
}

int cli_common_opt(struct cli_ctx *ctx, const char *cmd, int c, const char *arg)
{
	switch (c) {
	case CLI_OPT_HOME_DIR:
		ctx->home_dir = arg;
		return 1;
	case CLI_OPT_VERBOSE:
		if (ctx->verbosity < 2)
			ctx->verbosity++;
		return 1;
	case CLI_OPT_QUIET:
		ctx->verbosity = -1;
		return 1;
	case CLI_OPT_LOG_TIME:
		cli_log_time_on();
		return 1;
	case CLI_OPT_LOG_FORMAT:
		/* nothing is open yet: a usage error ends the run here */
		if (cli_log_format_set(arg) < 0)
			exit(cli_usage_error(cmd, "invalid --log-format '%s' (want text or json)",
					     arg));
		return 1;
	case CLI_OPT_HELP:
		cli_help_for(cmd);
		return CLI_COMMON_EXIT;
	default:
		return 0;
	}
}

/*
 * werf's variables whose name or meaning differs from the cairn option of the same name. With
 * `value`, the variable is one of werf's booleans and, when true, gives the option that value.
 */
static const struct werf_var {
	const char *option;
	const char *var;
	const char *value;
} werf_vars[] = {
	{"verbose", "WERF_LOG_VERBOSE", NULL},
	{"verbose", "WERF_VERBOSE", NULL},
	{"quiet", "WERF_LOG_QUIET", NULL},
	{"quiet", "WERF_QUIET", NULL},
	/* werf's --insecure-registry is a switch for every registry */
	{"insecure-registry", "WERF_INSECURE_REGISTRY", "*"},
	{"insecure-registry", "WERF_SKIP_TLS_VERIFY_REGISTRY", "*"},
};

/* werf's options that also take every variable whose name starts so (WERF_TAG_CUSTOM_1=...). */
static const struct werf_var werf_prefixed[] = {
	{"tag-custom", "WERF_TAG_CUSTOM", NULL},
	{"ssh-key", "WERF_SSH_KEY", NULL},
};

static char *env_name(const char *prefix, const char *opt)
{
	size_t p = strlen(prefix), n = strlen(opt);
	char *s = malloc(p + n + 1);

	if (!s)
		abort();
	memcpy(s, prefix, p);
	for (size_t i = 0; i < n; i++)
		s[p + i] = opt[i] == '-' ? '_' : (char)toupper((unsigned char)opt[i]);
	s[p + n] = '\0';
	return s;
}

/* True when argv (before a "--") names the long option `name`, as --name or --name=... */
static int given(int argc, char **argv, const char *name)
{
	size_t n = strlen(name);

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strncmp(argv[i], "--", 2) == 0 && strncmp(argv[i] + 2, name, n) == 0 &&
		    (argv[i][2 + n] == '\0' || argv[i][2 + n] == '='))
			return 1;
	}
	return 0;
}

/* A werf boolean variable, as werf reads them: "1", "true" or "yes" is true. */
static bool werf_true(const char *v)
{
	return v &&
	       (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0);
}

/* A cairn switch from the environment: anything but "", "0", "false" and "no" is on. */
static bool cairn_true(const char *v)
{
	return *v && strcmp(v, "0") != 0 && strcasecmp(v, "false") != 0 && strcasecmp(v, "no") != 0;
}

/* The new argv being made: options from the environment, then the user's arguments. */
struct env_argv {
	char **v;
	size_t n, cap;
};

/* Append a copy of `arg`. */
static void push_arg(struct env_argv *a, const char *arg)
{
	if (a->n + 2 > a->cap) {
		a->cap = a->cap ? 2 * a->cap : 16;
		a->v = realloc(a->v, a->cap * sizeof(*a->v));
		if (!a->v)
			abort();
	}
	a->v[a->n] = strdup(arg);
	if (!a->v[a->n])
		abort();
	a->v[++a->n] = NULL;
}

/* Append option `o` (with `value` when it takes one). */
static void push(struct env_argv *a, const struct option *o, const char *value)
{
	char *s;

	if (o->has_arg == no_argument) {
		if (asprintf(&s, "--%s", o->name) < 0)
			abort();
	} else if (asprintf(&s, "--%s=%s", o->name, value) < 0) {
		abort();
	}
	push_arg(a, s);
	free(s);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every variable named `prefix`*, in name order, as option `o` (werf's prefixed variables). */
static void push_prefixed(struct env_argv *a, const struct option *o, const char *prefix)
{
	extern char **environ;
	size_t n = 0, len = strlen(prefix);
	char **names;

	for (char **e = environ; *e; e++)
		n += strncmp(*e, prefix, len) == 0;
	names = calloc(n + 1, sizeof(*names));
	if (!names)
		abort();
	n = 0;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, prefix, len) == 0 && strchr(*e, '='))
			names[n++] = *e;
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++)
		push(a, o, strchr(names[i], '=') + 1);
	free(names);
}

/* What werf's variables say for option `o`; true when one of them gave it. */
static bool from_werf(struct env_argv *a, const struct option *o)
{
	bool special = false;
	char *name;
	const char *v;

	for (size_t i = 0; i < sizeof(werf_prefixed) / sizeof(werf_prefixed[0]); i++) {
		if (strcmp(werf_prefixed[i].option, o->name) == 0) {
			size_t before = a->n;

			push_prefixed(a, o, werf_prefixed[i].var);
			return a->n > before;
		}
	}
	for (size_t i = 0; i < sizeof(werf_vars) / sizeof(werf_vars[0]); i++) {
		const struct werf_var *w = &werf_vars[i];

		if (strcmp(w->option, o->name) != 0)
			continue;
		special = true;
		if (werf_true(getenv(w->var))) {
			push(a, o, w->value);
			return true;
		}
	}
	if (special)
		return false;
	name = env_name("WERF_", o->name);
	v = getenv(name);
	free(name);
	if (!v || (o->has_arg == no_argument && !werf_true(v)))
		return false;
	push(a, o, v);
	return true;
}

/* Levenshtein distance of two short names, capped at 9. */
size_t cli_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64];

	if (la >= 63 || lb >= 63)
		return 9;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb] > 9 ? 9 : row[lb];
}

/*
 * A CAIRN_* variable that names no option of this command but is one or two letters away from
 * one is most likely a typo: say which option it looks like (it is not used). CAIRN_HOME (the
 * home, not an option) and the test harness's CAIRN_TEST_* are cairn's own.
 */
static void warn_misspelt(const struct option *opts)
{
	extern char **environ;

	for (char **e = environ; *e; e++) {
		const char *eq = strchr(*e, '=');
		const struct option *best = NULL;
		size_t best_d = 3;
		char *opt;

		if (strncmp(*e, "CAIRN_", 6) != 0 || !eq || strncmp(*e, "CAIRN_TEST_", 11) == 0 ||
		    (size_t)(eq - *e) > 70 || strncmp(*e, "CAIRN_HOME=", 11) == 0)
			continue;
		opt = strndup(*e + 6, (size_t)(eq - *e) - 6);
		if (!opt)
			abort();
		for (char *p = opt; *p; p++)
			*p = *p == '_' ? '-' : (char)tolower((unsigned char)*p);
		for (const struct option *o = opts; o->name; o++) {
			size_t d = cli_distance(opt, o->name);

			if (d < best_d) {
				best_d = d;
				best = o;
			}
		}
		if (best && best_d > 0) {
			char *want = env_name("CAIRN_", best->name);

			fprintf(stderr,
				"cairn: warning: %.*s is not an option of this command; did you "
				"mean %s (--%s)?\n",
				(int)(eq - *e), *e, want, best->name);
			free(want);
		}
		free(opt);
	}
}

char **cli_env_args(int *argc, char **argv, const struct option *opts)
{
	struct env_argv a = {0};

	push_arg(&a, argv[0]);
	warn_misspelt(opts);
	for (const struct option *o = opts; o->name; o++) {
		char *name;
		const char *v;

		if (o->val == CLI_OPT_HELP || given(*argc, argv, o->name))
			continue;
		name = env_name("CAIRN_", o->name);
		v = getenv(name);
		free(name);
		if (!v) {
			from_werf(&a, o);
			continue;
		}
		if (o->has_arg != no_argument || cairn_true(v))
			push(&a, o, v);
	}
	for (int i = 1; i < *argc; i++)
		push_arg(&a, argv[i]);
	*argc = (int)a.n;
	return a.v;
}

void cli_env_args_free(char **argv)
{
	if (!argv)
		return;
	for (char **p = argv; *p; p++)
		free(*p);
	free(argv);
}

void cli_ctx_finish(struct cli_ctx *ctx)
{
	cli_log_setup(ctx->verbosity);
	if (!ctx->home_dir || !*ctx->home_dir)
		ctx->home_dir = getenv("CAIRN_HOME");
	if (!ctx->home_dir || !*ctx->home_dir)
		ctx->home_dir = NULL;
}

void cli_args_init(struct cli_args *a, int argc, char **argv, const struct option *own,
		   const struct option *extra)
{
	a->opts = cli_options(own, extra);
	parsing = a->opts;
	a->argc = argc;
	a->argv = cli_env_args(&a->argc, argv, a->opts);
	optind = 0;
	opterr = 0;
}

void cli_args_release(struct cli_args *a)
{
	cli_env_args_free(a->argv);
	if (parsing == a->opts)
		parsing = NULL;
	free(a->opts);
	a->argv = NULL;
	a->opts = NULL;
}

/* The option of `parsing` closest to `--name[=value]`, when it is a likely typo. */
static const char *closest_option(const char *arg)
{
	const char *best = NULL;
	size_t best_d = 3, n;
	char name[64];

	if (!parsing || strncmp(arg, "--", 2) != 0)
		return NULL;
	n = strcspn(arg + 2, "=");
	if (n >= sizeof(name))
		return NULL;
	memcpy(name, arg + 2, n);
	name[n] = '\0';
	for (const struct option *o = parsing; o->name; o++) {
		size_t d = cli_distance(name, o->name);

		if (d < best_d) {
			best_d = d;
			best = o->name;
		}
	}
	return best;
}

int cli_bad_option(const char *cmd, int c, char **argv)
{
	const char *arg = argv[optind - 1], *hint;
	/* the option's name only: the value after '=' may be a password */
	int name = (int)strcspn(arg, "=");

	if (c == ':')
		return cli_usage_error(cmd, "option '%.*s' needs a value", name, arg);
	if (optopt)
		return cli_usage_error(cmd, "unknown option '-%c'", optopt);
	hint = closest_option(arg);
	if (hint)
		return cli_usage_error(cmd, "unknown option '%.*s'; did you mean '--%s'?", name,
				       arg, hint);
	return cli_usage_error(cmd, "unknown option '%.*s'", name, arg);
}
