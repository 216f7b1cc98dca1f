/* SPDX-License-Identifier: MIT */
/* The stages of a Dockerfile and the ones a target needs (after BuildKit's dockerfile2llb). */
#include "common.h"
#include "dockerfile/plan.h"
#include "dockerfile/words.h"

#include <ctype.h>

struct args {
	char **v; /* "NAME=VALUE" */
	size_t n;
};

static const char *args_lookup(const char *name, size_t len, void *ud)
{
	const struct args *a = ud;

	for (size_t i = a->n; i-- > 0;)
		if (strncmp(a->v[i], name, len) == 0 && a->v[i][len] == '=')
			return a->v[i] + len + 1;
	return NULL;
}

static void args_set(struct args *a, const char *name, size_t len, const char *value)
{
	a->v = xreallocarray(a->v, a->n + 1, sizeof(*a->v));
	a->v[a->n++] = xasprintf("%.*s=%s", (int)len, name, value);
}

static int fail(struct cairn_error **err, const char *file, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct cairn_error **err, const char *file, unsigned line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cairn_error_set(err, CAIRN_EINVAL, "%s:%u: %s", file, line, msg);
}

/* A global ARG word "NAME[=default]": the build argument, else the default substituted. */
static int global_arg(struct args *globals, const char *word, char escape,
		      const char *const *build_args, size_t n_build_args, const char *file,
		      unsigned line, struct cairn_error **err)
{
	const char *eq = strchr(word, '=');
	size_t len = eq ? (size_t)(eq - word) : strlen(word);
	cleanup_free char *value = NULL;
	int ret;

	if (len == 0)
		return fail(err, file, line, "ARG without a name");
	for (size_t i = n_build_args; i-- > 0;) {
		if (strncmp(build_args[i], word, len) == 0 && build_args[i][len] == '=') {
			args_set(globals, word, len, build_args[i] + len + 1);
			return 0;
		}
	}
	if (!eq)
		return 0; /* declared without a value: unset */
	ret = cairn_dockerfile_word(&value, eq + 1, strlen(eq + 1), escape, args_lookup, globals,
				    err);
	if (ret < 0)
		return cairn_error_wrap(err, "%s:%u: ARG %.*s", file, line, (int)len, word);
	args_set(globals, word, len, value);
	return 0;
}

static bool valid_stage_name(const char *s)
{
	if (!islower((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) &&
		    !strchr("-_.", *s))
			return false;
	return true;
}

static long stage_by_name(const struct cairn_df_plan *p, const char *name, size_t before)
{
	for (size_t i = 0; i < before; i++)
		if (p->v[i].name && strcasecmp(p->v[i].name, name) == 0)
			return (long)i;
	return -1;
}

/*
 * The stage a --from value `ref` (substituted) of stage `self` names: by name, or by index;
 * -1 for an image.
 */
static int from_stage(long *out, const struct cairn_df_plan *p, size_t self, const char *ref,
		      const char *file, unsigned line, struct cairn_error **err)
{
	char *end = NULL;
	unsigned long idx;

	*out = stage_by_name(p, ref, p->n);
	if (*out >= 0 || !*ref || !isdigit((unsigned char)*ref))
		return 0;
	idx = strtoul(ref, &end, 10);
	if (*end)
		return 0; /* "3rd-party/image" and the like: an image */
	if (idx >= p->n || idx == self)
		return fail(err, file, line, "--from=%s: no stage %lu before this one", ref, idx);
	*out = (long)idx;
	return 0;
}

/* Mark stage `i` and what it stands on as needed. */
static int mark(struct cairn_df_plan *p, const struct cairn_dockerfile *df, size_t i,
		const struct args *globals, const char *file, unsigned depth,
		struct cairn_error **err)
{
	struct cairn_df_stage *st = &p->v[i];

	if (st->needed)
		return 0;
	if (depth > p->n)
		return fail(err, file, df->v[st->first].line, "stages that stand on each other");
	st->needed = true;
	if (st->base_stage >= 0) {
		int ret = mark(p, df, (size_t)st->base_stage, globals, file, depth + 1, err);

		if (ret < 0)
			return ret;
	}
	for (size_t k = st->first + 1; k <= st->last; k++) {
		const struct cairn_df_instr *in = &df->v[k];

		for (size_t f = 0; f < in->n_flags; f++) {
			const char *flag = in->flags[f];
			cleanup_free char *raw = NULL;
			cleanup_free char *ref = NULL;
			long dep;
			int ret;

			if ((in->cmd == CAIRN_DF_COPY || in->cmd == CAIRN_DF_ADD) &&
			    strncmp(flag, "--from=", 7) == 0)
				raw = xstrdup(flag + 7);
			else if (in->cmd == CAIRN_DF_RUN && strncmp(flag, "--mount=", 8) == 0)
				raw = cairn_df_spec_value(flag + 8, "from");
			if (!raw)
				continue;
			ret = cairn_dockerfile_word(&ref, raw, strlen(raw), df->escape, args_lookup,
						    (void *)globals, err);
			if (ret == 0)
				ret = from_stage(&dep, p, i, ref, file, in->line, err);
			if (ret == 0 && dep >= 0)
				ret = mark(p, df, (size_t)dep, globals, file, depth + 1, err);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

int cairn_df_plan(struct cairn_df_plan **out, const struct cairn_dockerfile *df, const char *target,
		  const char *const *build_args, size_t n_build_args, const char *file,
		  struct cairn_error **err)
{
	struct cairn_df_plan *p = xcalloc(1, sizeof(*p));
	struct args globals = {0};
	int ret = 0;

	*out = NULL;
	file = file ? file : "Dockerfile";
	for (size_t k = 0; ret == 0 && k < df->n; k++) {
		const struct cairn_df_instr *in = &df->v[k];
		struct cairn_df_stage *st;
		cleanup_free char *base = NULL;

		if (in->cmd == CAIRN_DF_ARG && p->n == 0) {
			for (size_t a = 0; ret == 0 && a < in->n_args; a++)
				ret = global_arg(&globals, in->args[a], df->escape, build_args,
						 n_build_args, file, in->line, err);
			continue;
		}
		if (in->cmd != CAIRN_DF_FROM) {
			if (p->n)
				p->v[p->n - 1].last = k;
			continue;
		}
		ret = cairn_dockerfile_word(&base, in->args[0], strlen(in->args[0]), df->escape,
					    args_lookup, &globals, err);
		if (ret < 0) {
			cairn_error_wrap(err, "%s:%u: FROM", file, in->line);
			break;
		}
		if (!*base) {
			ret = fail(err, file, in->line, "base name (%s) should not be blank",
				   in->args[0]);
			break;
		}
		p->v = xreallocarray(p->v, p->n + 1, sizeof(*p->v));
		st = &p->v[p->n];
		memset(st, 0, sizeof(*st));
		st->first = st->last = k;
		st->base_stage = stage_by_name(p, base, p->n);
		if (st->base_stage < 0)
			st->base = TAKE_PTR(base);
		if (in->n_args == 3) {
			st->name = xstrdup(in->args[2]);
			for (char *c = st->name; *c; c++)
				*c = (char)tolower((unsigned char)*c);
		}
		p->n++;
		if (st->name && !valid_stage_name(st->name))
			ret = fail(err, file, in->line, "invalid name for build stage: '%s'",
				   st->name);
		else if (st->name && stage_by_name(p, st->name, p->n - 1) >= 0)
			ret = fail(err, file, in->line, "duplicate stage name '%s'", st->name);
	}
	if (ret == 0 && p->n == 0)
		ret = fail(err, file, df->n ? df->v[df->n - 1].line : 1, "no build stage");
	if (ret == 0) {
		long t = target && *target ? stage_by_name(p, target, p->n) : (long)p->n - 1;

		if (t < 0)
			ret = cairn_error_set(err, CAIRN_EINVAL,
					      "%s: target stage '%s' could not be found", file,
					      target);
		else
			p->target = (size_t)t;
	}
	if (ret == 0)
		ret = mark(p, df, p->target, &globals, file, 0, err);
	p->global_args = globals.v;
	p->n_global_args = globals.n;
	if (ret < 0) {
		cairn_df_plan_free(p);
		return ret;
	}
	*out = p;
	return 0;
}

void cairn_df_plan_free(struct cairn_df_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].name);
		free(p->v[i].base);
	}
	free(p->v);
	for (size_t i = 0; i < p->n_global_args; i++)
		free(p->global_args[i]);
	free(p->global_args);
	free(p);
}
