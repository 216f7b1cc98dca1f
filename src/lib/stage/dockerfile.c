/* SPDX-License-Identifier: MIT */
/*
 * Dockerfile images: of the Dockerfile's build stages those the target needs, each instruction
 * a stage of cairn's, signed and kept like any other (ARG excepted: its value enters the
 * signature of what sees it). The context is the project's commit (df_context.c).
 */
#include "common.h"
#include "stage/stage_internal.h"
#include "stage/df_context.h"
#include "stage/df_fetch.h"
#include "cairn/image.h"
#include "dockerfile/parse.h"
#include "dockerfile/plan.h"
#include "dockerfile/words.h"
#include "layer/cache.h"
#include "layer/unpack.h"
#include "run/exec.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/parse.h"
#include "util/root.h"
#include "util/sha256.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <strings.h>

/* Runs of the whole Dockerfile image after a stage under one was adopted, before giving up. */
#define DF_RESTARTS_MAX 16

/* A built stage of the Dockerfile: its last instruction's stage. */
struct df_done {
	char sig[CAIRN_SIGNATURE_HEX];
	struct cairn_descriptor desc;
	bool set;
};

/* How COPY/ADD write what they copy. */
struct copy_opts {
	int64_t uid, gid; /* -1: root (from the context), the file's own (--from) */
	int chmod;	  /* -1: as the source */
};

/* A URL source of ADD: fetched when signed (or, with --checksum, when built). */
struct df_url {
	char *url;
	char *file;	/* where it was fetched, in the build's directory; NULL: not yet */
	char *checksum; /* --checksum's "sha256:HEX" */
	struct df_fetched got;
};

/* One RUN --mount. */
struct df_mount {
	char *type, *target, *source, *from, *id;
	bool rw;
	long sel;		       /* a bind of the context: its selection in df_build.sel */
	struct cairn_descriptor image; /* a bind from a stage or image */
	bool image_set;
	char *image_ref; /* from an image: pulled when built */
};

struct df_build {
	struct image_state *s;
	struct cairn_error **err; /* the build's, for df_fail() */
	const struct cairn_config_dockerfile *cfg;
	const char *file; /* the Dockerfile, relative to the project (messages) */
	size_t expanded;  /* bytes of words substituted so far */
	struct cairn_dockerfile *df;
	struct cairn_df_plan *plan;
	char **build_args; /* "NAME=VALUE", from `args` */
	size_t n_build_args;
	struct df_context ctx;
	bool ctx_loaded;
	struct df_done *done; /* one per plan stage */
	/* the build stage at hand */
	size_t stage;
	struct strv args; /* its ARGs with a value, "NAME=VALUE" */
	size_t step;	  /* the instruction's id across the image */
	bool cmd_set;	  /* this stage set CMD (an ENTRYPOINT after it keeps it) */
	bool runs_after;  /* a RUN follows in a needed stage */
	char *name;	  /* of the instruction at hand, for events */
	const struct cairn_df_instr *in;
	/* what the instruction's maker needs, prepared with its signature */
	struct strv words;		       /* substituted arguments */
	struct df_selection sel[64];	       /* COPY/ADD sources from the context */
	const struct cairn_df_heredoc *hd[64]; /* or a heredoc (COPY <<EOF /file) */
	struct df_url *urls[64];	       /* or a URL (ADD https://...) */
	size_t n_sel;
	const char *dest;	      /* COPY/ADD's destination, substituted */
	char *chown, *chmod;	      /* its --chown and --chmod, substituted */
	size_t n_src;		      /* its sources: the first n_src words */
	const char *from_image;	      /* COPY --from an image: the reference */
	struct cairn_descriptor from; /* COPY --from a stage: its image */
	bool from_set;
	struct df_mount *mounts; /* RUN --mount's, parsed and substituted */
	size_t n_mounts;
	bool clear_onbuild; /* the first trigger of the base's ONBUILD: the stage drops them */
	bool in_onbuild;    /* running the base's triggers */
};

/*
 * The first line of `s` as shown in names and messages: at most `max` bytes ("..." after),
 * control characters as '?' (a Dockerfile's text never drives the terminal).
 */
static char *df_shown(const char *s, size_t max)
{
	size_t n = strcspn(s, "\n");
	char *out = xasprintf("%.*s%s", (int)(n > max ? max : n), s, s[n] || n > max ? "..." : "");

	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return out;
}

static int df_fail(struct df_build *d, const struct cairn_df_instr *in, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* An error of instruction `in`: "FILE:LINE: image 'x': INSTR: ...". */
static int df_fail(struct df_build *d, const struct cairn_df_instr *in, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (char *p = msg; *p; p++) /* words of the Dockerfile never drive the terminal */
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return cairn_error_set(d->err, CAIRN_EINVAL, "%s:%u: image '%s': %s: %s", d->file, in->line,
			       d->s->name, cairn_df_cmd_name(in->cmd), msg);
}

static int df_wrap(struct df_build *d, const struct cairn_df_instr *in, struct cairn_error **err)
{
	return cairn_error_wrap(err, "%s:%u: image '%s': %s", d->file, in->line, d->s->name,
				cairn_df_cmd_name(in->cmd));
}

/* ---- variables ---- */

static const char *list_lookup(char *const *v, size_t n, const char *name, size_t len)
{
	for (size_t i = n; i-- > 0;)
		if (strncmp(v[i], name, len) == 0 && v[i][len] == '=')
			return v[i] + len + 1;
	return NULL;
}

/* ENV of the image at hand, then the stage's ARGs (ENV wins, as in docker). */
static const char *var_lookup(const char *name, size_t len, void *ud)
{
	struct df_build *d = ud;
	json_t *env = stage_env_of(d->s->config);
	json_t *e;
	size_t i;

	json_array_foreach(env, i, e)
	{
		const char *v = json_string_value(e);

		if (v && strncmp(v, name, len) == 0 && v[len] == '=')
			return v + len + 1;
	}
	return list_lookup(d->args.v, d->args.n, name, len);
}

/* All the words of a Dockerfile image together expand to no more than this. */
#define DF_EXPANDED_MAX (64u << 20)

static int word(char **out, struct df_build *d, const char *w, struct cairn_error **err)
{
	int ret = cairn_dockerfile_word(out, w, strlen(w), d->df->escape, var_lookup, d, err);

	if (ret < 0)
		return df_wrap(d, d->in, err);
	d->expanded += strlen(*out);
	if (d->expanded > DF_EXPANDED_MAX) {
		free(*out);
		*out = NULL;
		return df_fail(d, d->in, "variables expand to more than %u MiB",
			       DF_EXPANDED_MAX >> 20);
	}
	return 0;
}

/* The platform ARGs BuildKit defines (TARGETARCH and its kin), for an ARG without a value. */
static char *platform_arg(const char *name)
{
	const char *arch = cairn_image_host_arch();

	if (!strcmp(name, "TARGETPLATFORM") || !strcmp(name, "BUILDPLATFORM"))
		return xasprintf("linux/%s", arch);
	if (!strcmp(name, "TARGETOS") || !strcmp(name, "BUILDOS"))
		return xstrdup("linux");
	if (!strcmp(name, "TARGETARCH") || !strcmp(name, "BUILDARCH"))
		return xstrdup(arch);
	if (!strcmp(name, "TARGETVARIANT") || !strcmp(name, "BUILDVARIANT"))
		return xstrdup("");
	return NULL;
}

/* ARG NAME[=default]...: the build argument, the default, the global ARG, or unset. */
static int do_arg(struct df_build *d, const struct cairn_df_instr *in, struct cairn_error **err)
{
	for (size_t a = 0; a < in->n_args; a++) {
		const char *w = in->args[a];
		const char *eq = strchr(w, '=');
		size_t len = eq ? (size_t)(eq - w) : strlen(w);
		const char *given = list_lookup(d->build_args, d->n_build_args, w, len);
		cleanup_free char *name = xstrndup(w, len);
		cleanup_free char *value = NULL;
		int ret;

		if (!len)
			return df_fail(d, in, "ARG without a name");
		if (given) {
			value = xstrdup(given);
		} else if (eq) {
			ret = word(&value, d, eq + 1, err);
			if (ret < 0)
				return ret;
		} else if (list_lookup(d->plan->global_args, d->plan->n_global_args, w, len)) {
			value = xstrdup(
				list_lookup(d->plan->global_args, d->plan->n_global_args, w, len));
		} else {
			value = platform_arg(name);
		}
		if (value)
			strv_addf(&d->args, "%s=%s", name, value);
	}
	return 0;
}

/* ---- the image config ---- */

static json_t *string_array(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* The stage's SHELL (["/bin/sh", "-c"] unless set). */
static json_t *shell_of(json_t *c)
{
	json_t *sh = json_object_get(c, "Shell");

	if (json_is_array(sh) && json_array_size(sh))
		return json_incref(sh);
	return json_pack("[s, s]", "/bin/sh", "-c");
}

/* CMD, ENTRYPOINT, HEALTHCHECK's command: the exec form, or SHELL + the text. */
static json_t *command_of(json_t *c, const struct cairn_df_instr *in, size_t first)
{
	json_t *sh, *a;

	if (in->json)
		return string_array(in->args + first, in->n_args - first);
	sh = shell_of(c);
	a = json_deep_copy(sh);
	json_decref(sh);
	if (in->n_args > first)
		json_array_append_new(a, json_string(in->args[first]));
	return a;
}

static void set_key(json_t *c, const char *set, const char *key)
{
	json_t *o = json_object_get(c, set);

	if (!json_is_object(o)) {
		o = json_object();
		json_object_set_new(c, set, o);
	}
	json_object_set_new(o, key, json_object());
}

static int healthcheck(json_t *c, struct df_build *d, const struct cairn_df_instr *in)
{
	static const char *const opts[] = {"interval", "timeout", "start-period", "start-interval"};
	static const char *const keys[] = {"Interval", "Timeout", "StartPeriod", "StartInterval"};
	const char *type = in->n_args ? in->args[0] : "";
	json_t *hc;

	if (strcasecmp(type, "NONE") == 0) {
		json_object_set_new(c, "Healthcheck", json_pack("{s:[s]}", "Test", "NONE"));
		return 0;
	}
	hc = json_object();
	if (in->json) {
		json_t *t = string_array(in->args + 1, in->n_args - 1);

		json_array_insert_new(t, 0, json_string("CMD"));
		json_object_set_new(hc, "Test", t);
	} else {
		json_object_set_new(
			hc, "Test",
			json_pack("[s, s]", "CMD-SHELL", in->n_args > 1 ? in->args[1] : ""));
	}
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
		const char *v = cairn_df_flag(in, opts[i]);
		int64_t ns;

		if (!v)
			continue;
		if (!cairn_parse_duration(&ns, v, strlen(v)) || (ns && ns < 1000000)) {
			json_decref(hc);
			return df_fail(d, in, "--%s=%s: not a duration of 0 or 1ms or more",
				       opts[i], v);
		}
		if (ns)
			json_object_set_new(hc, keys[i], json_integer(ns));
	}
	if (cairn_df_flag(in, "retries")) {
		uint64_t r;

		if (cairn_parse_u64(&r, cairn_df_flag(in, "retries"), INT32_MAX, "retries", NULL) <
		    0) {
			json_decref(hc);
			return df_fail(d, in, "--retries: not a number");
		}
		if (r)
			json_object_set_new(hc, "Retries", json_integer((json_int_t)r));
	}
	json_object_set_new(c, "Healthcheck", hc);
	return 0;
}

/* An absolute, clean path in the image: `p` joined to the working directory when relative. */
static char *image_path(json_t *c, const char *p)
{
	const char *wd = json_string_value(json_object_get(c, "WorkingDir"));
	cleanup_free char *joined =
		p[0] == '/' ? xstrdup(p) : xasprintf("%s/%s", wd && *wd ? wd : "/", p);
	struct cairn_buf b = CAIRN_BUF_INIT;
	char *save = NULL;

	for (char *e = strtok_r(joined, "/", &save); e; e = strtok_r(NULL, "/", &save)) {
		if (!strcmp(e, "."))
			continue;
		if (!strcmp(e, "..")) {
			char *slash = b.len ? strrchr(b.buf, '/') : NULL;

			if (slash)
				cairn_buf_setlen(&b, (size_t)(slash - b.buf));
			continue;
		}
		cairn_buf_addf(&b, "/%s", e);
	}
	if (!b.len)
		cairn_buf_addstr(&b, "/");
	return cairn_buf_detach(&b, NULL);
}

/*
 * EXPOSE's word `w` (a substituted one may hold several): "PORT[-PORT][/PROTO]" each, a range
 * taken port by port, the protocol lower case, tcp by default (nat.ParsePortSpecs).
 */
static int expose(json_t *c, struct df_build *d, const struct cairn_df_instr *in, const char *w)
{
	cleanup_free char *copy = xstrdup(w);
	char *save = NULL;

	for (char *spec = strtok_r(copy, " \t\n", &save); spec;
	     spec = strtok_r(NULL, " \t\n", &save)) {
		char *slash = strchr(spec, '/');
		const char *proto = "tcp";
		unsigned long lo, hi;
		char *end = NULL;

		if (slash) {
			*slash = '\0';
			for (char *p = slash + 1; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			proto = slash + 1;
			if (strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "sctp"))
				return df_fail(d, in, "invalid proto: %s", proto);
		}
		lo = strtoul(spec, &end, 10);
		hi = lo;
		if (end && *end == '-')
			hi = strtoul(end + 1, &end, 10);
		if (!isdigit((unsigned char)spec[0]) || !end || *end || lo == 0 || hi < lo ||
		    hi > 65535)
			return df_fail(d, in, "invalid port: %s", spec);
		for (unsigned long port = lo; port <= hi; port++) {
			char key[32];

			snprintf(key, sizeof(key), "%lu/%s", port, proto);
			set_key(c, "ExposedPorts", key);
		}
	}
	return 0;
}

/*
 * The config-only instructions (d->words holds their substituted arguments): applied to the
 * config section `c` of the new stage.
 */
static int apply_config(json_t *config, struct df_build *d, const struct cairn_df_instr *in)
{
	json_t *c = stage_config_section(config);
	char **w = d->words.v;
	size_t n = d->words.n;

	switch (in->cmd) {
	case CAIRN_DF_ENV:
		for (size_t i = 0; i + 1 < n; i += 2)
			stage_set_env(c, w[i], w[i + 1]);
		break;
	case CAIRN_DF_LABEL:
		for (size_t i = 0; i + 1 < n; i += 2)
			stage_set_label(config, w[i], w[i + 1]);
		break;
	case CAIRN_DF_USER:
		json_object_set_new(c, "User", json_string(w[0]));
		break;
	case CAIRN_DF_STOPSIGNAL:
		json_object_set_new(c, "StopSignal", json_string(w[0]));
		break;
	case CAIRN_DF_MAINTAINER:
		json_object_set_new(config, "author", json_string(in->args[0]));
		break;
	case CAIRN_DF_EXPOSE:
		for (size_t i = 0; i < n; i++) {
			int ret = expose(c, d, in, w[i]);

			if (ret < 0)
				return ret;
		}
		break;
	case CAIRN_DF_VOLUME:
		for (size_t i = 0; i < n; i++)
			if (w[i][0])
				set_key(c, "Volumes", w[i]);
		break;
	case CAIRN_DF_CMD:
		json_object_set_new(c, "Cmd", command_of(c, in, 0));
		d->cmd_set = true;
		break;
	case CAIRN_DF_ENTRYPOINT:
		json_object_set_new(c, "Entrypoint", command_of(c, in, 0));
		/* as docker: an ENTRYPOINT drops a CMD this stage did not set */
		if (!d->cmd_set)
			json_object_del(c, "Cmd");
		break;
	case CAIRN_DF_SHELL:
		json_object_set_new(c, "Shell", string_array(in->args, in->n_args));
		break;
	case CAIRN_DF_HEALTHCHECK:
		return healthcheck(c, d, in);
	case CAIRN_DF_ONBUILD: {
		json_t *ob = json_object_get(c, "OnBuild");
		const char *text = in->original;

		/* the instruction as written after the keyword */
		while (*text && !isspace((unsigned char)*text))
			text++;
		while (isspace((unsigned char)*text))
			text++;
		if (!json_is_array(ob)) {
			ob = json_array();
			json_object_set_new(c, "OnBuild", ob);
		}
		json_array_append_new(ob, json_string(text));
		break;
	}
	case CAIRN_DF_WORKDIR:
		json_object_set_new(c, "WorkingDir", json_string(w[0]));
		break;
	default:
		break;
	}
	return 0;
}

/* ---- signing an instruction ---- */

static const char *flag_value(const struct cairn_df_instr *in, const char *name)
{
	return cairn_df_flag(in, name);
}

/* The stage (by name or index) or image a --from names: the stage's index, or -1. */
static long from_stage(struct df_build *d, const char *ref)
{
	char *end = NULL;
	unsigned long idx;

	for (size_t i = 0; i < d->plan->n; i++)
		if (d->plan->v[i].name && strcasecmp(d->plan->v[i].name, ref) == 0)
			return (long)i;
	if (!isdigit((unsigned char)ref[0]))
		return -1;
	idx = strtoul(ref, &end, 10);
	return *end || idx >= d->plan->n ? -1 : (long)idx;
}

/*
 * A COPY/ADD source as the context names it: clean, no leading '/', "./" or trailing '/' ("" for
 * the whole context); a '..' stops at the context's root.
 */
static char *clean_source(const char *src)
{
	cleanup_free char *abs = image_path(NULL, src);

	return xstrdup(abs + 1);
}

/* The ARG values a RUN sees (they are its environment): part of its signature. */
static void add_args(struct strv *deps, struct df_build *d)
{
	for (size_t i = 0; i < d->args.n; i++)
		strv_addf(deps, "arg:%s", d->args.v[i]);
}

/*
 * What the signature of COPY/ADD from the context covers: each file selected, its path where
 * it goes, mode, size and content.
 */
static int copy_context_deps(struct strv *deps, struct df_build *d, struct cairn_error **err)
{
	if (!d->ctx_loaded)
		return cairn_error_set(err, CAIRN_EINTERNAL, "context not loaded");
	for (size_t k = 0; k < d->n_sel; k++) {
		for (size_t i = 0; i < d->sel[k].n; i++) {
			struct df_file *f = &d->ctx.v[d->sel[k].v[i].file];
			char sum[CAIRN_SIGNATURE_HEX];
			int ret = df_context_sum(sum, &d->ctx, f, err);

			if (ret < 0)
				return ret;
			strv_addf(deps, "%zu:%s:%o:%s", k, d->sel[k].v[i].rel, (unsigned)f->mode,
				  sum);
		}
	}
	return 0;
}

static int load_context(struct df_build *d, struct cairn_error **err)
{
	struct builder *b = d->s->b;
	struct df_context_source src = {
		.project_dir = b->dir,
		.context = d->cfg->context.s,
		.add_files = (const char *const *)d->cfg->context_add_files.v,
		.n_add_files = d->cfg->context_add_files.n,
	};
	struct cairn_git_repo *repo = NULL;
	int ret;

	if (d->ctx_loaded)
		return 0;
	ret = d->cfg->work_tree ? CAIRN_ENOTFOUND : stage_project_repo(&repo, b, err);
	if (ret == 0) {
		const char *sde = getenv("SOURCE_DATE_EPOCH");

		src.repo = repo;
		src.commit = b->head;
		if (sde && *sde) {
			uint64_t v = 0;

			ret = cairn_parse_u64(&v, sde, INT64_MAX, "SOURCE_DATE_EPOCH", err);
			src.mtime = (int64_t)v;
		} else {
			ret = cairn_git_commit_time(&src.mtime, repo, b->head, err);
		}
		if (ret < 0)
			return ret;
	} else if (!d->cfg->work_tree && ret == CAIRN_ENOTFOUND) {
		cairn_log(CAIRN_LOG_INFO, "image '%s': %s: the context is the work tree",
			  d->s->name, (*err)->msg);
		cairn_error_clear(err);
	} else if (!d->cfg->work_tree) {
		return cairn_error_wrap(err, "image '%s': context", d->s->name);
	}
	ret = df_context_load(&d->ctx, &src, err);
	d->ctx_loaded = true;
	if (ret < 0)
		return cairn_error_wrap(err, "image '%s': context", d->s->name);
	return 0;
}

static bool is_url(const char *w)
{
	return !strncmp(w, "http://", 7) || !strncmp(w, "https://", 8) || !strncmp(w, "git@", 4) ||
	       !strncmp(w, "git://", 6) || !strncmp(w, "ssh://", 6);
}

/* Fetch the URL of source `k` into the build's directory (as ADD docker fetches it). */
static int fetch_url(struct df_build *d, struct df_url *u, size_t k, struct cairn_error **err)
{
	const char *run;
	int ret = stage_run_dir(&run, d->s->b, err);

	if (ret < 0)
		return ret;
	u->file = xasprintf("%s/add-%p-%zu", run, (void *)u, k);
	stage_unlock(d->s->b); /* other images go on meanwhile */
	ret = df_fetch(&u->got, u->url, u->file, err);
	stage_lock(d->s->b);
	if (ret < 0) {
		free(u->file);
		u->file = NULL;
		return df_wrap(d, d->in, err);
	}
	if (u->checksum && strcmp(u->checksum + 7, cairn_digest_hex(&u->got.digest)) != 0)
		return df_fail(d, d->in, "%s: the content's sha256:%s is not --checksum=%s", u->url,
			       cairn_digest_hex(&u->got.digest), u->checksum);
	return 0;
}

/*
 * ADD URL: with --checksum=sha256:HEX that signs it (fetched when built); without, the URL is
 * fetched now and its content signs it, as docker fetches it on every build.
 */
static int sign_url(struct strv *deps, struct df_build *d, const struct cairn_df_instr *in,
		    size_t k, struct cairn_error **err)
{
	const char *w = d->words.v[k];
	struct df_url *u;
	const char *sum = flag_value(in, "checksum");

	if (in->cmd != CAIRN_DF_ADD)
		return df_fail(d, in, "'%s': COPY takes no URL (ADD does)", w);
	if (strncmp(w, "http://", 7) && strncmp(w, "https://", 8))
		return df_fail(d, in, "'%s': ADD of a git repository is not supported yet", w);
	u = d->urls[k] = xcalloc(1, sizeof(*u));
	u->url = xstrdup(w);
	if (sum) {
		int ret = word(&u->checksum, d, sum, err);

		if (ret < 0)
			return ret;
		if (strncmp(u->checksum, "sha256:", 7) || strlen(u->checksum) != 7 + 64 ||
		    strspn(u->checksum + 7, "0123456789abcdef") != 64)
			return df_fail(d, in, "--checksum=%s: not sha256:HEX", u->checksum);
		strv_addf(deps, "url:%s:%s", u->url, u->checksum);
		return 0;
	}
	{
		int ret = fetch_url(d, u, k, err);

		if (ret < 0)
			return ret;
	}
	strv_addf(deps, "url:%s:sha256:%s", u->url, cairn_digest_hex(&u->got.digest));
	return 0;
}

/* The file name ADD gives a URL's file in a directory: the last element of its path. */
static char *url_name(const char *url)
{
	const char *p = strstr(url, "://");
	size_t n;
	const char *slash;

	p = p ? strchr(p + 3, '/') : NULL;
	if (!p)
		return NULL;
	n = strcspn(p, "?#");
	slash = p + n;
	while (slash > p && slash[-1] != '/')
		slash--;
	return slash < p + n ? xstrndup(slash, (size_t)(p + n - slash)) : NULL;
}

/* A URL source into the layer at `path` (0600 unless --chmod, as docker). */
static int write_url(struct cairn_layer_writer *w, struct df_build *d, struct df_url *u, size_t k,
		     const char *path, const struct copy_opts *o, struct cairn_error **err)
{
	struct cairn_layer_entry e = {.path = path,
				      .mode = S_IFREG | (o->chmod >= 0 ? (mode_t)o->chmod : 0600),
				      .uid = (uid_t)o->uid,
				      .gid = (gid_t)o->gid};
	cleanup_close int fd = -1;
	int ret = u->file ? 0 : fetch_url(d, u, k, err);

	if (ret < 0)
		return ret;
	fd = open(u->file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cairn_error_set_errno(err, "ADD: '%s'", u->file);
	e.mtime = u->got.mtime;
	e.size = u->got.size;
	ret = cairn_layer_add(w, &e, err);
	return ret < 0 ? ret : stage_copy_fd(w, fd, u->url, u->got.size, err);
}

/* COPY/ADD: the sources and destination substituted; from the context, the files selected. */
static int sign_copy(struct strv *deps, struct df_build *d, const struct cairn_df_instr *in,
		     struct cairn_error **err)
{
	const char *from = flag_value(in, "from");
	size_t n_src;
	int ret;

	if (in->n_args < 2)
		return df_fail(d, in, "requires at least two arguments");
	for (size_t i = 0; i < in->n_args; i++) {
		char *w = NULL;

		ret = word(&w, d, in->args[i], err);
		if (ret < 0)
			return ret;
		strv_add(&d->words, w);
		strv_add(deps, w);
		free(w);
	}
	n_src = d->words.n - 1;
	d->n_src = n_src;
	d->dest = d->words.v[n_src];
	if (n_src > ARRAY_SIZE(d->sel))
		return df_fail(d, in, "more than %zu sources", ARRAY_SIZE(d->sel));
	/* substituted as BuildKit expands them, and signed so */
	if (flag_value(in, "chown")) {
		ret = word(&d->chown, d, flag_value(in, "chown"), err);
		if (ret < 0)
			return ret;
		strv_addf(deps, "--chown=%s", d->chown);
	}
	if (flag_value(in, "chmod")) {
		ret = word(&d->chmod, d, flag_value(in, "chmod"), err);
		if (ret < 0)
			return ret;
		strv_addf(deps, "--chmod=%s", d->chmod);
	}
	if (from) {
		cleanup_free char *ref = NULL;
		long st;

		ret = word(&ref, d, from, err);
		if (ret < 0)
			return ret;
		st = from_stage(d, ref);
		if (st >= 0) {
			if (!d->done[st].set)
				return df_fail(d, in, "--from=%s: stage not built", ref);
			d->from = d->done[st].desc;
			d->from_set = true;
			strv_addf(deps, "from-stage:%s", d->done[st].sig);
		} else {
			/* an image: the reference as written signs it, as `from:` does */
			strv_addf(deps, "from-image:%s", ref);
			strv_add(&d->words, ref);
			d->from_image = d->words.v[d->words.n - 1];
			d->dest = d->words.v[n_src];
		}
		return 0;
	}
	for (size_t k = 0, h = 0; k < n_src; k++) {
		/* COPY <<EOF /file: the heredocs, in their order, are sources of their own */
		if (strncmp(in->args[k], "<<", 2) != 0 || h == in->n_heredocs)
			continue;
		d->hd[k] = &in->heredocs[h++];
		strv_addf(deps, "heredoc:%zu:%s:%s", k, d->hd[k]->name, d->hd[k]->content);
	}
	ret = load_context(d, err);
	for (size_t k = 0; ret == 0 && k < n_src; k++) {
		cleanup_free char *src = clean_source(d->words.v[k]);

		if (d->hd[k]) {
			d->sel[k].roots = 1;
			d->n_sel = k + 1;
			continue;
		}
		if (is_url(d->words.v[k])) {
			ret = sign_url(deps, d, in, k, err);
			d->n_sel = k + 1;
			if (ret < 0)
				return ret;
			d->sel[k].roots = 1;
			continue;
		}
		ret = df_context_select(&d->sel[k], &d->ctx, src, err);
		d->n_sel = k + 1;
		if (ret < 0)
			return df_wrap(d, in, err);
	}
	return ret < 0 ? ret : copy_context_deps(deps, d, err);
}

static void mounts_release(struct df_build *d)
{
	for (size_t i = 0; i < d->n_mounts; i++) {
		struct df_mount *m = &d->mounts[i];

		free(m->type);
		free(m->target);
		free(m->source);
		free(m->from);
		free(m->id);
		free(m->image_ref);
	}
	free(d->mounts);
	d->mounts = NULL;
	d->n_mounts = 0;
}

/*
 * RUN --mount=KEY=VALUE,...: parsed (substituted) and signed, as BuildKit keys them: what a
 * bind of the context holds (each file, as COPY signs it), the stage or image a bind comes from.
 */
static int parse_mount(struct strv *deps, struct df_build *d, const char *flag,
		       struct cairn_error **err)
{
	cleanup_free char *spec = NULL;
	struct df_mount *m;
	char *save = NULL;
	int ret = word(&spec, d, flag, err);

	if (ret < 0)
		return ret;
	if (d->n_mounts == 16)
		return df_fail(d, d->in, "more than 16 mounts");
	d->mounts = xreallocarray(d->mounts, d->n_mounts + 1, sizeof(*d->mounts));
	m = &d->mounts[d->n_mounts++];
	memset(m, 0, sizeof(*m));
	m->sel = -1;
	for (char *kv = strtok_r(spec, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		const char *v = eq ? eq + 1 : "";
		char **slot = NULL;

		if (eq)
			*eq = '\0';
		if (!strcmp(kv, "type"))
			slot = &m->type;
		else if (!strcmp(kv, "target") || !strcmp(kv, "dst") || !strcmp(kv, "destination"))
			slot = &m->target;
		else if (!strcmp(kv, "source") || !strcmp(kv, "src"))
			slot = &m->source;
		else if (!strcmp(kv, "from"))
			slot = &m->from;
		else if (!strcmp(kv, "id"))
			slot = &m->id;
		else if (!strcmp(kv, "rw") || !strcmp(kv, "readwrite"))
			m->rw = !eq || !strcmp(v, "true");
		else if (!strcmp(kv, "ro") || !strcmp(kv, "readonly"))
			m->rw = eq && !strcmp(v, "false");
		else if (strcmp(kv, "sharing") && strcmp(kv, "mode") && strcmp(kv, "uid") &&
			 strcmp(kv, "gid") && strcmp(kv, "required") && strcmp(kv, "size"))
			return df_fail(d, d->in, "--mount: unknown key '%s'", kv);
		if (slot) {
			free(*slot);
			*slot = xstrdup(v);
		}
	}
	if (!m->type)
		m->type = xstrdup("bind");
	strv_addf(deps, "mount:%s:%s:%s:%s:%s:%d", m->type, m->target ? m->target : "",
		  m->source ? m->source : "", m->from ? m->from : "", m->id ? m->id : "",
		  (int)m->rw);
	if (!strcmp(m->type, "ssh"))
		return d->cfg->ssh.s ? 0
				     : df_fail(d, d->in,
					       "--mount=type=ssh needs the image's `ssh: default` "
					       "(--ssh default without werf.yaml)");
	if (strcmp(m->type, "cache") && strcmp(m->type, "bind") && strcmp(m->type, "tmpfs"))
		return df_fail(d, d->in, "--mount=type=%s is not supported yet", m->type);
	if (!m->target || !m->target[0])
		return df_fail(d, d->in, "--mount=type=%s needs a target", m->type);
	if (strcmp(m->type, "bind"))
		return 0;
	if (m->from) {
		long st = from_stage(d, m->from);

		if (m->rw)
			return df_fail(d, d->in,
				       "--mount=type=bind,from=%s,rw is not supported yet",
				       m->from);
		if (st >= 0) {
			if (!d->done[st].set)
				return df_fail(d, d->in, "--mount from=%s: stage not built",
					       m->from);
			m->image = d->done[st].desc;
			m->image_set = true;
			strv_addf(deps, "mount-from-stage:%s", d->done[st].sig);
		} else {
			m->image_ref = xstrdup(m->from);
			strv_addf(deps, "mount-from-image:%s", m->from);
		}
		return 0;
	}
	/* the context, or a part of it: what it holds signs the RUN */
	ret = load_context(d, err);
	if (ret == 0 && d->n_sel == ARRAY_SIZE(d->sel))
		return df_fail(d, d->in, "more than %zu sources", ARRAY_SIZE(d->sel));
	if (ret == 0) {
		cleanup_free char *src = clean_source(m->source ? m->source : ".");

		m->sel = (long)d->n_sel;
		ret = df_context_select(&d->sel[d->n_sel], &d->ctx, src, err);
		d->n_sel++;
		if (ret < 0)
			return df_wrap(d, d->in, err);
	}
	return ret;
}

/* RUN: its command as written, flags, heredocs, mounts and the ARGs it sees. */
static int sign_run(struct strv *deps, struct df_build *d, const struct cairn_df_instr *in,
		    struct cairn_error **err)
{
	strv_add(deps, in->json ? "exec" : "shell");
	for (size_t i = 0; i < in->n_args; i++)
		strv_add(deps, in->args[i]);
	for (size_t i = 0; i < in->n_heredocs; i++)
		strv_addf(deps, "heredoc:%s:%d:%s", in->heredocs[i].name,
			  (int)in->heredocs[i].chomp, in->heredocs[i].content);
	for (size_t i = 0; i < in->n_flags; i++) {
		int ret;

		strv_add(deps, in->flags[i]);
		if (strncmp(in->flags[i], "--mount=", 8) != 0)
			continue;
		ret = parse_mount(deps, d, in->flags[i] + 8, err);
		if (ret < 0)
			return ret;
	}
	if (d->n_sel) {
		int ret = copy_context_deps(deps, d, err);

		if (ret < 0)
			return ret;
	}
	add_args(deps, d);
	for (size_t i = 0; i < d->cfg->add_host.n; i++)
		strv_addf(deps, "add-host:%s", d->cfg->add_host.v[i]);
	if (d->cfg->network.s)
		strv_addf(deps, "network:%s", d->cfg->network.s);
	return 0;
}

/* The words of ENV/LABEL (pairs), EXPOSE, VOLUME, USER, WORKDIR, STOPSIGNAL, substituted. */
static int sign_words(struct strv *deps, struct df_build *d, const struct cairn_df_instr *in,
		      struct cairn_error **err)
{
	bool substitute = in->cmd != CAIRN_DF_CMD && in->cmd != CAIRN_DF_ENTRYPOINT &&
			  in->cmd != CAIRN_DF_SHELL && in->cmd != CAIRN_DF_HEALTHCHECK &&
			  in->cmd != CAIRN_DF_MAINTAINER && in->cmd != CAIRN_DF_ONBUILD;

	strv_add(deps, in->json ? "exec" : "words");
	for (size_t i = 0; i < in->n_args; i++) {
		char *w = NULL;
		int ret = substitute ? word(&w, d, in->args[i], err) : 0;

		if (ret < 0)
			return ret;
		if (!substitute)
			w = xstrdup(in->args[i]);
		strv_add(&d->words, w);
		strv_add(deps, w);
		free(w);
	}
	for (size_t i = 0; i < in->n_flags; i++)
		strv_add(deps, in->flags[i]);
	if (in->cmd == CAIRN_DF_ONBUILD)
		strv_add(deps, in->original);
	if (in->cmd == CAIRN_DF_WORKDIR) {
		char *p = image_path(stage_config_section(d->s->config), d->words.v[0]);

		free(d->words.v[0]);
		d->words.v[0] = p;
		strv_add(deps, p);
	}
	if (in->cmd == CAIRN_DF_USER && !d->words.v[0][0])
		return df_fail(d, in, "requires a user");
	return 0;
}

/*
 * The flags each instruction takes (BuildKit's instructions/parse.go): another one is an error,
 * as in BuildKit; a flag cairn lacks says so.
 */
static int check_flags(struct df_build *d, const struct cairn_df_instr *in)
{
	static const struct {
		enum cairn_df_cmd cmd;
		const char *ok;	     /* taken: "|name|name|" */
		const char *missing; /* BuildKit's, not supported yet */
	} table[] = {
		{CAIRN_DF_FROM, "|platform|", ""},
		{CAIRN_DF_RUN, "|mount|network|", "|security|"},
		{CAIRN_DF_COPY, "|from|chown|chmod|link|", "|parents|exclude|"},
		{CAIRN_DF_ADD, "|chown|chmod|link|checksum|", "|keep-git-dir|parents|exclude|"},
		{CAIRN_DF_HEALTHCHECK, "|interval|timeout|start-period|start-interval|retries|",
		 ""},
	};
	const char *ok = "||", *missing = "";

	for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
		if (table[i].cmd == in->cmd) {
			ok = table[i].ok;
			missing = table[i].missing;
		}
	}
	for (size_t i = 0; i < in->n_flags; i++) {
		const char *f = in->flags[i];
		size_t n;
		char key[64];

		if (strncmp(f, "--", 2) != 0)
			return df_fail(d, in, "'%s': not a flag", f);
		f += 2;
		n = strcspn(f, "=");
		if (n == 0 || n >= sizeof(key) - 2)
			return df_fail(d, in, "unknown flag: --%.*s", (int)(n > 40 ? 40 : n), f);
		snprintf(key, sizeof(key), "|%.*s|", (int)n, f);
		if (strstr(missing, key))
			return df_fail(d, in, "--%.*s is not supported yet", (int)n, f);
		if (!strstr(ok, key))
			return df_fail(d, in, "unknown flag: --%.*s", (int)n, f);
	}
	return 0;
}

/* ---- making the stages ---- */

/* The user RUN and COPY run as: USER, or root. */
/*
 * The ids of USER (a user alone: its primary group, as the runtime does) or of COPY's
 * --chown (a user alone: the group of the user's number, as docker documents it).
 */
static int user_ids(int64_t *uid, int64_t *gid, struct df_build *d, const char *spec, bool chown,
		    struct cairn_error **err)
{
	cleanup_free char *user = NULL;
	cleanup_free char *what = NULL;
	char *colon;
	int ret;

	*uid = *gid = 0;
	if (!spec || !*spec)
		return 0; /* root, also in an image without /etc/passwd */
	user = xstrdup(spec);
	colon = strchr(user, ':');
	what = xasprintf("%s:%u: image '%s': %s", d->file, d->in->line, d->s->name,
			 chown ? "--chown" : "user");
	if (colon)
		*colon++ = '\0';
	if (chown && !colon && !isdigit((unsigned char)user[0])) {
		/*
		 * --chown=NAME: the group of that name as the classic builder takes it, else the
		 * user's group in /etc/passwd as BuildKit does
		 */
		ret = stage_mapping_ids(uid, gid, d->s, user, user, false, what, err);
		if (ret == 0)
			return 0;
		cairn_error_clear(err);
	}
	ret = stage_mapping_ids(uid, gid, d->s, user, colon,
				!chown || !isdigit((unsigned char)user[0]), what, err);
	if (*uid < 0)
		*uid = 0;
	if (*gid < 0)
		*gid = chown && !colon ? *uid : 0; /* --chown=NUMBER: the same for the group */
	return ret;
}

/* Whether path `p` (absolute) is a directory in the image below. */
static bool below_is_dir(int below, const char *p)
{
	cleanup_close int fd = cairn_root_open(below, p, O_PATH, CAIRN_ROOT_IN);
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * Make directory `dir` (no leading '/') and each one above it that the layer and the image lack,
 * owned by uid:gid, as docker's MkdirAllAndChownNew (classic) and MkdirAll (BuildKit) make them.
 */
static int ensure_dir(struct cairn_layer_writer *w, int below, const char *dir, mode_t mode,
		      int64_t uid, int64_t gid, int64_t mtime, struct cairn_error **err)
{
	cleanup_free char *p = xstrdup(dir);
	char *slash = p;
	int ret = 0;

	while (ret == 0 && slash && p[0]) {
		struct cairn_layer_entry e = {.path = p,
					      .mode = S_IFDIR | mode,
					      .uid = uid < 0 ? 0 : (uid_t)uid,
					      .gid = gid < 0 ? 0 : (gid_t)gid,
					      .mtime = mtime};
		cleanup_free char *abs = NULL;

		slash = strchr(slash + (slash != p), '/');
		if (slash)
			*slash = '\0';
		abs = xasprintf("/%s", p);
		if (!cairn_layer_has(w, p) && !below_is_dir(below, abs))
			ret = cairn_layer_add(w, &e, err);
		if (slash)
			*slash = '/';
	}
	return ret;
}

static int parse_chmod(int *out, struct df_build *d, const struct cairn_df_instr *in)
{
	const char *v = d->chmod;
	char *end = NULL;
	long m;

	*out = -1;
	if (!v)
		return 0;
	m = strtol(v, &end, 8);
	if (!*v || *end || m < 0 || m > 07777)
		return df_fail(d, in, "--chmod=%s: not an octal mode", v);
	*out = (int)m;
	return 0;
}

static int copy_opts_of(struct copy_opts *o, struct df_build *d, const struct cairn_df_instr *in,
			struct cairn_error **err)
{
	int ret = parse_chmod(&o->chmod, d, in);

	o->uid = o->gid = 0;
	if (ret < 0 || !d->chown)
		return ret;
	return user_ids(&o->uid, &o->gid, d, d->chown, true, err);
}

/* Whether `p` starts as an archive docker's ADD extracts does: tar, gzip, bzip2, xz. */
static bool is_archive(const char *p, size_t n)
{
	return (n >= 2 && (unsigned char)p[0] == 0x1f && (unsigned char)p[1] == 0x8b) ||
	       (n >= 3 && !memcmp(p, "BZh", 3)) ||
	       (n >= 6 && !memcmp(p,
				  "\xfd"
				  "7zXZ\0",
				  6)) ||
	       (n >= 262 && !memcmp(p + 257, "ustar", 5));
}

/*
 * ADD of a local tar archive (compressed or not), a source of its own: its entries under `dir`
 * (no leading '/'),
 * paths cleaned inside it, owners and modes as the archive has them. *extracted: it was one
 * (else the file is copied as it is, as docker does with what is no tar).
 */
static int add_archive(bool *extracted, struct cairn_layer_writer *w, struct df_build *d, int below,
		       const char *dir, int fd, const struct cairn_buf *mem,
		       const struct df_file *f, struct cairn_error **err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	int r, ret = 0;

	*extracted = false;
	if (!a)
		abort();
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	r = fd >= 0 ? archive_read_open_fd(a, fd, 65536)
		    : archive_read_open_memory(a, mem->buf, mem->len);
	if (r != ARCHIVE_OK || archive_read_next_header(a, &ae) != ARCHIVE_OK) {
		archive_read_free(a);
		return 0;
	}
	*extracted = true;
	ret = ensure_dir(w, below, dir, 0755, 0, 0, f->mtime, err);
	for (r = ARCHIVE_OK; ret == 0 && r == ARCHIVE_OK; r = archive_read_next_header(a, &ae)) {
		cleanup_free char *clean = NULL;
		cleanup_free char *path = NULL;
		cleanup_free char *link = NULL;
		const char *hard = archive_entry_hardlink(ae);
		mode_t type = archive_entry_filetype(ae);
		struct cairn_layer_entry e = {.mode = type | (archive_entry_perm(ae) & 07777),
					      .uid = (uid_t)archive_entry_uid(ae),
					      .gid = (gid_t)archive_entry_gid(ae),
					      .mtime = archive_entry_mtime(ae)};
		const char *slash;

		ret = cairn_layer_clean_path(
			&clean, archive_entry_pathname(ae) ? archive_entry_pathname(ae) : "", err);
		if (ret < 0)
			break;
		if (!clean[0])
			continue;
		path = dir[0] ? xasprintf("%s/%s", dir, clean) : xstrdup(clean);
		e.path = path;
		slash = strrchr(path, '/');
		if (slash) {
			cleanup_free char *parent = xstrndup(path, (size_t)(slash - path));

			ret = ensure_dir(w, below, parent, 0755, 0, 0, f->mtime, err);
			if (ret < 0)
				break;
		}
		if (hard) {
			cleanup_free char *target = NULL;

			ret = cairn_layer_clean_path(&target, hard, err);
			if (ret < 0)
				break;
			link = dir[0] ? xasprintf("%s/%s", dir, target) : xstrdup(target);
			e.mode = S_IFREG | (e.mode & 07777);
			e.hardlink = 1;
			e.linkname = link;
			ret = cairn_layer_add(w, &e, err);
		} else if (type == AE_IFDIR) {
			ret = cairn_layer_has(w, path) ? 0 : cairn_layer_add(w, &e, err);
		} else if (type == AE_IFLNK) {
			e.linkname = archive_entry_symlink(ae) ? archive_entry_symlink(ae) : "";
			ret = cairn_layer_add(w, &e, err);
		} else if (type == AE_IFIFO) {
			ret = cairn_layer_add(w, &e, err);
		} else if (type == AE_IFREG) {
			const void *p;
			size_t n;
			la_int64_t off;

			e.size = (uint64_t)archive_entry_size(ae);
			ret = cairn_layer_add(w, &e, err);
			while (ret == 0 &&
			       (r = archive_read_data_block(a, &p, &n, &off)) == ARCHIVE_OK)
				ret = cairn_layer_write_data(w, p, n, err);
			if (ret == 0 && r != ARCHIVE_EOF)
				break;
			r = ARCHIVE_OK;
		}
		/* devices and sockets: not in an image cairn writes */
	}
	if (ret < 0)
		cairn_error_wrap(err, "'%s'", f->path);
	else if (r != ARCHIVE_EOF)
		ret = df_fail(d, d->in, "'%s': a broken archive: %s", f->path,
			      archive_error_string(a) ? archive_error_string(a) : "read error");
	archive_read_free(a);
	return ret < 0 ? ret : 0;
}

/*
 * The `f->size` bytes of work tree file `fd` as the data of the entry just added, checked
 * against the content its stage was signed with (a file changed in between fails the stage).
 */
static int copy_signed(struct cairn_layer_writer *w, int fd, struct df_file *f,
		       struct cairn_error **err)
{
	struct cairn_sha256 h;
	struct cairn_digest dg;
	char buf[65536];
	uint64_t left = f->size;

	cairn_sha256_init(&h);
	while (left) {
		ssize_t n = read(fd, buf, left < sizeof(buf) ? left : sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return cairn_error_set(err, CAIRN_EOS, "context: '%s' changed while read",
					       f->path);
		cairn_sha256_update(&h, buf, (size_t)n);
		if (cairn_layer_write_data(w, buf, (size_t)n, err) < 0)
			return CAIRN_EOS;
		left -= (uint64_t)n;
	}
	cairn_sha256_final(&h, &dg);
	if (f->sum[0] && strcmp(f->sum, cairn_digest_hex(&dg)) != 0)
		return cairn_error_set(err, CAIRN_EOS, "context: '%s' changed while read", f->path);
	return 0;
}

/* One context file into the layer at `path`. */
static int write_context_file(struct cairn_layer_writer *w, struct df_build *d, struct df_file *f,
			      const char *path, const struct copy_opts *o, int below,
			      const char *archive_dir, struct cairn_error **err)
{
	bool extracted = false;
	CLEANUP(cairn_buf_release) struct cairn_buf data = CAIRN_BUF_INIT;
	struct cairn_layer_entry e = {.path = path,
				      .mode = f->mode,
				      .uid = (uid_t)o->uid,
				      .gid = (gid_t)o->gid,
				      .mtime = f->mtime};
	int ret;

	if (o->chmod >= 0)
		e.mode = (f->mode & S_IFMT) | (mode_t)o->chmod;
	if (S_ISDIR(f->mode))
		return cairn_layer_has(w, path) ? 0 : cairn_layer_add(w, &e, err);
	if (S_ISLNK(f->mode) && f->host) {
		char link[PATH_MAX];
		cleanup_close int fd = cairn_root_open(d->ctx.dirfd, f->path, O_PATH | O_NOFOLLOW,
						       CAIRN_ROOT_BENEATH);
		ssize_t n = fd < 0 ? -1 : readlinkat(fd, "", link, sizeof(link) - 1);

		if (n < 0)
			return cairn_error_set_errno(err, "context: read link '%s'", f->path);
		link[n] = '\0';
		e.linkname = link;
		return cairn_layer_add(w, &e, err);
	}
	if (f->host) {
		/* a work tree file streams into the layer */
		char head[512];
		cleanup_close int fd = df_context_open(&d->ctx, f, err);
		ssize_t n;

		if (fd < 0)
			return CAIRN_EOS;
		n = pread(fd, head, sizeof(head), 0);
		if (archive_dir && d->in->cmd == CAIRN_DF_ADD && n > 0 &&
		    is_archive(head, (size_t)n)) {
			ret = add_archive(&extracted, w, d, below, archive_dir, fd, NULL, f, err);
			if (ret < 0 || extracted)
				return ret;
			if (lseek(fd, 0, SEEK_SET) != 0)
				return cairn_error_set_errno(err, "context: '%s'", f->path);
		}
		e.size = f->size;
		ret = cairn_layer_add(w, &e, err);
		return ret < 0 ? ret : copy_signed(w, fd, f, err);
	}
	/* a blob of the commit, written from libgit2's copy */
	{
		struct cairn_git_blob *blob = NULL;
		const void *p;
		uint64_t size;

		ret = cairn_git_blob_read(&blob, &p, &size, d->ctx.repo, f->oid, err);
		if (ret == 0 && S_ISLNK(f->mode)) {
			cairn_buf_add(&data, p, size);
			cairn_buf_addstr(&data, "");
			e.linkname = data.buf ? data.buf : "";
			ret = cairn_layer_add(w, &e, err);
		} else if (ret == 0) {
			if (archive_dir && d->in->cmd == CAIRN_DF_ADD && is_archive(p, size)) {
				const struct cairn_buf mem = {.buf = (char *)p, .len = size};

				ret = add_archive(&extracted, w, d, below, archive_dir, -1, &mem, f,
						  err);
			}
			e.size = size;
			if (ret == 0 && !extracted)
				ret = cairn_layer_add(w, &e, err);
			if (ret == 0 && !extracted && size)
				ret = cairn_layer_write_data(w, p, size, err);
		}
		cairn_git_blob_free(blob);
	}
	return ret;
}

/*
 * Where the files of COPY/ADD go (no leading '/'), and whether that is a directory: written so,
 * with several sources, or one the image has.
 */
static void copy_dest(char **out, bool *as_dir, struct df_build *d, int below, json_t *c)
{
	const char *dest = d->dest;
	cleanup_free char *abs = image_path(c, dest);
	size_t len = strlen(dest);

	*as_dir = (len && dest[len - 1] == '/') || d->n_src > 1 || !strcmp(dest, ".") ||
		  below_is_dir(below, abs);
	*out = xstrdup(abs + 1);
}

/* COPY/ADD from the context into layer `w`. */
/* A heredoc source of COPY/ADD: a file of its text at `path`. */
static int write_heredoc(struct cairn_layer_writer *w, struct df_build *d,
			 const struct cairn_df_heredoc *hd, const char *path,
			 const struct copy_opts *o, struct cairn_error **err)
{
	struct cairn_layer_entry e = {.path = path,
				      .mode = S_IFREG | (o->chmod >= 0 ? (mode_t)o->chmod : 0644),
				      .uid = (uid_t)o->uid,
				      .gid = (gid_t)o->gid,
				      .mtime = d->ctx.mtime,
				      .size = strlen(hd->content)};
	int ret = cairn_layer_add(w, &e, err);

	return ret < 0 || !e.size ? ret : cairn_layer_write_data(w, hd->content, e.size, err);
}

static int copy_context(struct cairn_layer_writer *w, struct df_build *d, int below, json_t *c,
			const struct copy_opts *o, struct cairn_error **err)
{
	cleanup_free char *dest = NULL;
	bool as_dir;
	int ret;

	copy_dest(&dest, &as_dir, d, below, c);
	for (size_t k = 0; k < d->n_sel; k++)
		as_dir = as_dir || d->sel[k].dirs || d->sel[k].roots > 1;
	if (!as_dir && d->n_sel == 1 && (d->sel[0].n == 1 || d->hd[0] || d->urls[0])) {
		/* one file to a path of its own */
		const char *slash = strrchr(dest, '/');
		cleanup_free char *parent = slash ? xstrndup(dest, (size_t)(slash - dest)) : NULL;

		ret = parent ? ensure_dir(w, below, parent, 0755, o->uid, o->gid, d->ctx.mtime, err)
			     : 0;
		if (ret == 0 && d->hd[0])
			ret = write_heredoc(w, d, d->hd[0], dest, o, err);
		else if (ret == 0 && d->urls[0])
			ret = write_url(w, d, d->urls[0], 0, dest, o, err);
		else if (ret == 0)
			ret = write_context_file(w, d, &d->ctx.v[d->sel[0].v[0].file], dest, o,
						 below, dest, err);
		return ret;
	}
	ret = ensure_dir(w, below, dest, 0755, o->uid, o->gid, d->ctx.mtime, err);
	for (size_t k = 0; ret == 0 && k < d->n_sel; k++) {
		if (d->hd[k]) {
			cleanup_free char *path = dest[0] ? xasprintf("%s/%s", dest, d->hd[k]->name)
							  : xstrdup(d->hd[k]->name);

			ret = write_heredoc(w, d, d->hd[k], path, o, err);
			continue;
		}
		if (d->urls[k]) {
			cleanup_free char *name = url_name(d->urls[k]->url);
			cleanup_free char *path = NULL;

			if (!name) {
				ret = df_fail(d, d->in, "'%s': no file name in the URL for '%s/'",
					      d->urls[k]->url, dest);
				break;
			}
			path = dest[0] ? xasprintf("%s/%s", dest, name) : xstrdup(name);
			ret = write_url(w, d, d->urls[k], k, path, o, err);
			continue;
		}
		for (size_t i = 0; ret == 0 && i < d->sel[k].n; i++) {
			struct df_file *f = &d->ctx.v[d->sel[k].v[i].file];
			cleanup_free char *path =
				dest[0] ? xasprintf("%s/%s", dest, d->sel[k].v[i].rel)
					: xstrdup(d->sel[k].v[i].rel);
			const char *slash = strrchr(path, '/');

			if (slash) {
				/* a directory .dockerignore left out, with files kept in it */
				cleanup_free char *parent = xstrndup(path, (size_t)(slash - path));

				ret = ensure_dir(w, below, parent, 0755, o->uid, o->gid,
						 d->ctx.mtime, err);
			}
			if (ret == 0)
				/* a source that is a file, not one in a directory, is unpacked */
				ret = write_context_file(w, d, f, path, o, below,
							 d->sel[k].dirs ? NULL : dest, err);
		}
	}
	return ret;
}

struct tree_walk {
	struct strv rel;
	struct stat *st;
	size_t n;
};

static int tree_one(const struct cairn_root_entry *e, void *ud, struct cairn_error **err)
{
	struct tree_walk *t = ud;

	(void)err;
	if (S_ISCHR(e->st.st_mode) || S_ISBLK(e->st.st_mode) || S_ISSOCK(e->st.st_mode))
		return 0;
	strv_add(&t->rel, e->rel);
	t->st = xreallocarray(t->st, t->n + 1, sizeof(*t->st));
	t->st[t->n++] = e->st;
	return 0;
}

/* One path of another image (its view `src`) into the layer at `to` (a directory's content). */
static int copy_image_path(struct cairn_layer_writer *w, struct df_build *d, int src, int below,
			   const char *path, const char *to, const struct copy_opts *o,
			   int64_t mtime, struct cairn_error **err)
{
	cleanup_close int fd = cairn_root_open(src, path, O_PATH | O_NOFOLLOW, CAIRN_ROOT_IN);
	cleanup_free char *what = xasprintf("%s:%u: COPY --from", d->file, d->in->line);
	struct tree_walk t = {0};
	struct stat st;
	int ret;

	if (fd < 0 || fstat(fd, &st) < 0)
		return cairn_error_set_errno(err, "%s: '%s'", what, path);
	if (!S_ISDIR(st.st_mode)) {
		if (o->chmod >= 0)
			st.st_mode = (st.st_mode & S_IFMT) | (mode_t)o->chmod;
		return stage_copy_entry(w, to, src, path, &st, o->uid, o->gid, st.st_mtime, what,
					err);
	}
	ret = ensure_dir(w, below, to, 0755, o->uid, o->gid, mtime, err);
	close(fd);
	fd = cairn_root_open(src, path, O_RDONLY | O_DIRECTORY, CAIRN_ROOT_IN);
	if (fd < 0)
		return cairn_error_set_errno(err, "%s: '%s'", what, path);
	if (ret == 0)
		ret = cairn_root_walk(fd, 256, tree_one, &t, err);
	for (size_t i = 0; ret == 0 && i < t.n; i++) {
		cleanup_free char *p =
			to[0] ? xasprintf("%s/%s", to, t.rel.v[i]) : xstrdup(t.rel.v[i]);

		if (o->chmod >= 0)
			t.st[i].st_mode = (t.st[i].st_mode & S_IFMT) | (mode_t)o->chmod;
		ret = stage_copy_entry(w, p, fd, t.rel.v[i], &t.st[i], o->uid, o->gid,
				       t.st[i].st_mtime, what, err);
	}
	strv_release(&t.rel);
	free(t.st);
	return ret;
}

/*
 * Where `path` leads inside the view `v` once its symlinks are followed (inside the image):
 * the path in the image, or NULL when it leads nowhere.
 */
static char *view_path(const struct rootfs_view *v, const char *path)
{
	cleanup_close int fd = cairn_root_open(v->fd, path, O_PATH, CAIRN_ROOT_IN);
	cleanup_free char *mnt = realpath(v->mnt, NULL);
	char proc[64], host[PATH_MAX];
	size_t n = mnt ? strlen(mnt) : 0;
	ssize_t len;

	if (fd < 0 || !mnt)
		return NULL;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	len = readlink(proc, host, sizeof(host) - 1);
	if (len < 0 || (size_t)len < n || strncmp(host, mnt, n) != 0 ||
	    (host[n] != '/' && host[n] != '\0'))
		return NULL;
	host[len] = '\0';
	return xstrdup(host[n] ? host + n : "/");
}

/* COPY --from: the sources found in the other stage or image. */
static int copy_from(struct cairn_layer_writer *w, struct df_build *d, int below, json_t *c,
		     const struct copy_opts *o, struct cairn_error **err)
{
	struct image_state src = {.b = d->s->b,
				  .img = d->s->img,
				  .name = d->s->name,
				  .index = d->s->index,
				  .pull = d->s->pull};
	struct rootfs_view *v = NULL;
	cleanup_free char *dest = NULL;
	size_t n_src = d->n_src;
	int64_t mtime = 0;
	bool as_dir;
	int ret = 0;

	if (!d->from_set) {
		struct cairn_config_pos pos = {.line = d->in->line};

		ret = stage_base_image(&src.prev, d->s, d->from_image, &pos, err);
	} else {
		src.prev = d->from;
	}
	if (ret == 0)
		ret = stage_prev_view(&v, &src, err);
	if (ret < 0) {
		stage_drop_prev(&src);
		return ret;
	}
	copy_dest(&dest, &as_dir, d, below, c);
	for (size_t k = 0; ret == 0 && k < n_src; k++) {
		struct strv matches = {0};
		cleanup_free char *abs = image_path(NULL, d->words.v[k]);

		if (stage_has_glob(abs))
			stage_glob_paths(&matches, v->fd, abs);
		else
			strv_add(&matches, abs);
		if (matches.n == 0)
			ret = df_fail(d, d->in, "'%s' matches nothing", d->words.v[k]);
		for (size_t i = 0; ret == 0 && i < matches.n; i++) {
			/* a source that is a symlink is followed (inside the image), as docker */
			cleanup_free char *real = view_path(v, matches.v[i]);
			cleanup_close int fd =
				real ? cairn_root_open(v->fd, real, O_PATH | O_NOFOLLOW,
						       CAIRN_ROOT_IN)
				     : -1;
			struct stat st;
			bool dir = fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
			const char *base = strrchr(matches.v[i], '/');
			cleanup_free char *to = NULL;

			if (fd < 0) {
				ret = df_fail(d, d->in, "'%s' not found in the source",
					      matches.v[i]);
				break;
			}
			if (dir)
				to = xstrdup(dest);
			else if (as_dir || matches.n > 1)
				to = dest[0] ? xasprintf("%s/%s", dest, base + 1)
					     : xstrdup(base + 1);
			else
				to = xstrdup(dest);
			if (!dir) {
				const char *slash = strrchr(to, '/');
				cleanup_free char *parent =
					slash ? xstrndup(to, (size_t)(slash - to)) : NULL;

				ret = parent ? ensure_dir(w, below, parent, 0755, o->uid, o->gid,
							  mtime, err)
					     : 0;
			}
			if (ret == 0)
				ret = copy_image_path(w, d, v->fd, below, real, to, o, mtime, err);
		}
		strv_release(&matches);
	}
	stage_drop_prev(&src);
	return ret;
}

/* COPY/ADD: one layer. */
static int build_copy(struct stage_output *o, struct image_state *s, const struct stage_def *def,
		      struct cairn_error **err)
{
	struct df_build *d = def->ud;
	struct cairn_layer_opts lo = CAIRN_LAYER_OPTS_INIT;
	struct cairn_layer_writer *w = NULL;
	CLEANUP(cairn_layer_cache_pending_freep) char *pending = NULL;
	struct rootfs_view *below = NULL;
	struct copy_opts co;
	int ret;

	s->df_runs_after = d->runs_after;
	pending = stage_unpack_to(s, S_DOCKER);
	ret = copy_opts_of(&co, d, d->in, err);
	if (ret == 0)
		ret = stage_prev_view(&below, s, err);
	if (ret < 0)
		return ret;
	lo.unpack_to = pending;
	ret = cairn_layer_writer_new(&w, s->b->st, &lo, err);
	if (ret < 0)
		return ret;
	if (flag_value(d->in, "from"))
		ret = copy_from(w, d, below->fd, stage_config_section(o->config), &co, err);
	else
		ret = copy_context(w, d, below->fd, stage_config_section(o->config), &co, err);
	if (ret == 0)
		ret = cairn_layer_finish(w, &o->layers[0].r, err);
	else
		cairn_layer_writer_free(w);
	if (ret < 0)
		return df_wrap(d, d->in, err);
	o->n_layers = 1;
	stage_unpacked(s, &o->layers[0].r, pending);
	return 0;
}

/*
 * WORKDIR: the config, and the directory when the image lacks it: root's, as the classic
 * builder of `docker build` (which werf v1.1 ran) makes it; BuildKit gives it to USER.
 */
static int build_workdir(struct stage_output *o, struct image_state *s, const struct stage_def *def,
			 struct cairn_error **err)
{
	struct df_build *d = def->ud;
	struct cairn_layer_opts lo = CAIRN_LAYER_OPTS_INIT;
	struct cairn_layer_writer *w = NULL;
	CLEANUP(cairn_layer_cache_pending_freep) char *pending = NULL;
	struct rootfs_view *below = NULL;
	const char *dir = d->words.v[0];
	int ret;

	apply_config(o->config, d, d->in);
	ret = stage_prev_view(&below, s, err);
	if (ret < 0 || strcmp(dir, "/") == 0 || below_is_dir(below->fd, dir))
		return ret;
	s->df_runs_after = d->runs_after;
	pending = stage_unpack_to(s, S_DOCKER);
	lo.unpack_to = pending;
	ret = cairn_layer_writer_new(&w, s->b->st, &lo, err);
	if (ret < 0)
		return ret;
	ret = ensure_dir(w, below->fd, dir + 1, 0755, 0, 0, 0, err);
	if (ret == 0)
		ret = cairn_layer_finish(w, &o->layers[0].r, err);
	else
		cairn_layer_writer_free(w);
	if (ret < 0)
		return ret;
	o->n_layers = 1;
	stage_unpacked(s, &o->layers[0].r, pending);
	return 0;
}

static int build_config(struct stage_output *o, struct image_state *s, const struct stage_def *def,
			struct cairn_error **err)
{
	struct df_build *d = def->ud;

	(void)s;
	(void)err;
	return apply_config(o->config, d, d->in);
}

/* Whether `env` (an Env array) sets the variable of "NAME=..." (`len`: the name's). */
static bool env_has(json_t *env, const char *kv, size_t len)
{
	json_t *e;
	size_t i;

	json_array_foreach(env, i, e)
	{
		const char *v = json_string_value(e);

		if (v && strncmp(v, kv, len) == 0 && v[len] == '=')
			return true;
	}
	return false;
}

/* A RUN of a Dockerfile image: the runner's, and the image's build. */
struct df_run {
	struct stage_run r; /* first: the runner's callbacks get it */
	struct df_build *d;
	const struct cairn_df_heredoc *script; /* `RUN <<EOF` of a "#!" script: run as a file */
	struct cairn_exec_mount *mounts;       /* r.mounts, with room for the script's */
	char *script_file;		       /* on the host, in the run's work dir */
	char *script_at;		       /* where the container has it */
};

/*
 * A `RUN <<EOF` whose heredoc starts with "#!": the heredoc as an executable file mounted
 * read-only at /dev/pipes/NAME and run, as BuildKit runs it (dispatchRun).
 */
static int run_prepare(struct stage_run *r, const char *work, struct cairn_error **err)
{
	struct df_run *dr = (struct df_run *)r;
	const char *text = dr->script->content;
	int ret;

	dr->script_file = xasprintf("%s/heredoc", work);
	ret = cairn_fs_write_atomic_at(AT_FDCWD, dr->script_file, text, strlen(text), 0755, err);
	if (ret < 0)
		return ret;
	dr->mounts[r->n_mounts].source = dr->script_file;
	dr->mounts[r->n_mounts].destination = dr->script_at;
	dr->mounts[r->n_mounts].readonly = 1;
	r->n_mounts++;
	return 0;
}

/* A RUN that failed: the Dockerfile's line, the instruction and the status. */
static int run_failed(struct stage_run *r, size_t last, int status, struct cairn_error **err)
{
	struct df_build *d = ((struct df_run *)r)->d;
	cleanup_free char *text = df_shown(d->in->original, 120);

	(void)last;
	return cairn_error_set(err, CAIRN_EINTERNAL,
			       "%s:%u: image '%s': '%s' exited with status %d", d->file,
			       d->in->line, d->s->name, text, status);
}

/* What a RUN mounts: its mounts, the strings and views they stand on. */
struct run_res {
	struct cairn_exec_mount *v; /* room for one more (a heredoc script) */
	size_t n;
	struct strv owned;	   /* sources and destinations */
	struct image_state *views; /* images bound from, mounted until the run ends */
	size_t n_views;
	char *dir; /* this run's bind and tmpfs directories, removed after it */
	bool ssh;
};

static void run_res_release(struct run_res *r)
{
	for (size_t i = 0; i < r->n_views; i++)
		stage_drop_prev(&r->views[i]);
	free(r->views);
	if (r->dir)
		cairn_fs_remove_tree(AT_FDCWD, r->dir, NULL);
	free(r->dir);
	strv_release(&r->owned);
	free(r->v);
}

static void run_res_add(struct run_res *r, const char *source, const char *dest, bool ro)
{
	strv_add(&r->owned, source);
	r->v[r->n].source = r->owned.v[r->owned.n - 1];
	strv_add(&r->owned, dest);
	r->v[r->n].destination = r->owned.v[r->owned.n - 1];
	r->v[r->n].readonly = ro;
	r->n++;
}

/* The directory `rel` below `root` (made as needed, none of it a symlink), opened. */
static int dir_in(int *out, int root, const char *rel, struct cairn_error **err)
{
	cleanup_free char *p = xstrdup(rel);

	for (char *c = p; c && *c;) {
		char *slash = strchr(c, '/');
		int fd;

		if (slash)
			*slash = '\0';
		fd = cairn_root_open(root, p, O_RDONLY | O_DIRECTORY, CAIRN_ROOT_NO_SYMLINKS);
		if (fd < 0 && errno == ENOENT) {
			cleanup_close int parent = -1;
			const char *base = strrchr(p, '/');
			cleanup_free char *up = base ? xstrndup(p, (size_t)(base - p)) : NULL;

			parent = up ? cairn_root_open(root, up, O_RDONLY | O_DIRECTORY,
						      CAIRN_ROOT_NO_SYMLINKS)
				    : dup(root);
			if (parent < 0 ||
			    (mkdirat(parent, base ? base + 1 : p, 0755) < 0 && errno != EEXIST))
				return cairn_error_set_errno(err, "bind: make '%s'", p);
			fd = cairn_root_open(root, p, O_RDONLY | O_DIRECTORY,
					     CAIRN_ROOT_NO_SYMLINKS);
		}
		if (fd < 0)
			return cairn_error_set_errno(err, "bind: '%s'", p);
		close(fd);
		if (slash)
			*slash = '/';
		c = slash ? slash + 1 : NULL;
	}
	*out = rel[0] ? cairn_root_open(root, rel, O_RDONLY | O_DIRECTORY, CAIRN_ROOT_NO_SYMLINKS)
		      : dup(root);
	return *out < 0 ? cairn_error_set_errno(err, "bind: '%s'", rel) : 0;
}

/* `n` bytes of `p`, then of `fd` (when >= 0: `size` bytes), into the new file `fd_out`. */
static int write_out(int fd_out, const void *p, size_t n, int fd, uint64_t size, const char *what,
		     struct cairn_error **err)
{
	char buf[65536];

	while (n) {
		ssize_t w = write(fd_out, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return cairn_error_set_errno(err, "bind: write '%s'", what);
		p = (const char *)p + w;
		n -= (size_t)w;
	}
	while (fd >= 0 && size) {
		ssize_t r = read(fd, buf, size < sizeof(buf) ? size : sizeof(buf));
		int ret;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return cairn_error_set(err, CAIRN_EOS, "context: '%s' changed while read",
					       what);
		ret = write_out(fd_out, buf, (size_t)r, -1, 0, what, err);
		if (ret < 0)
			return ret;
		size -= (uint64_t)r;
	}
	return 0;
}

/*
 * A bind of the context: the files of selection `sel` written into the new directory `dir`,
 * each created inside it (no symlink on the way is followed), with its mode.
 */
static int materialize(struct df_build *d, const struct df_selection *sel, const char *dir,
		       struct cairn_error **err)
{
	cleanup_close int root = -1;
	int ret = cairn_fs_mkdirs_at(AT_FDCWD, dir, 0755, err);

	if (ret == 0) {
		root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (root < 0)
			ret = cairn_error_set_errno(err, "bind: '%s'", dir);
	}
	for (size_t i = 0; ret == 0 && i < sel->n; i++) {
		const char *rel = sel->v[i].rel;
		struct df_file *f = &d->ctx.v[sel->v[i].file];
		const char *slash = strrchr(rel, '/');
		cleanup_free char *parent =
			slash ? xstrndup(rel, (size_t)(slash - rel)) : xstrdup("");
		const char *base = slash ? slash + 1 : rel;
		cleanup_close int pfd = -1;
		cleanup_close int out = -1;
		mode_t perm = f->mode & 07777;

		ret = dir_in(&pfd, root, parent, err);
		if (ret < 0)
			break;
		if (S_ISDIR(f->mode)) {
			if (mkdirat(pfd, base, perm) < 0 && errno != EEXIST)
				ret = cairn_error_set_errno(err, "bind: make '%s'", rel);
			continue;
		}
		if (S_ISLNK(f->mode)) {
			CLEANUP(cairn_buf_release)
			struct cairn_buf t = CAIRN_BUF_INIT_MAX(PATH_MAX);
			char link[PATH_MAX];

			if (f->host) {
				cleanup_close int lfd =
					cairn_root_open(d->ctx.dirfd, f->path, O_PATH | O_NOFOLLOW,
							CAIRN_ROOT_BENEATH);
				ssize_t n =
					lfd < 0 ? -1 : readlinkat(lfd, "", link, sizeof(link) - 1);

				if (n < 0)
					ret = cairn_error_set_errno(err, "context: '%s'", f->path);
				else
					cairn_buf_add(&t, link, (size_t)n);
			} else {
				ret = df_context_read(&t, &d->ctx, f, err);
			}
			cairn_buf_addstr(&t, "");
			if (ret == 0 && symlinkat(t.buf ? t.buf : "", pfd, base) < 0)
				ret = cairn_error_set_errno(err, "bind: link '%s'", rel);
			continue;
		}
		out = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, perm);
		if (out < 0) {
			ret = cairn_error_set_errno(err, "bind: create '%s'", rel);
			break;
		}
		if (f->host) {
			cleanup_close int in = df_context_open(&d->ctx, f, err);

			ret = in < 0 ? CAIRN_EOS : write_out(out, "", 0, in, f->size, f->path, err);
		} else {
			struct cairn_git_blob *blob = NULL;
			const void *p;
			uint64_t size;

			ret = cairn_git_blob_read(&blob, &p, &size, d->ctx.repo, f->oid, err);
			if (ret == 0)
				ret = write_out(out, p, size, -1, 0, f->path, err);
			cairn_git_blob_free(blob);
		}
		if (ret == 0 && fchmod(out, perm) < 0)
			ret = cairn_error_set_errno(err, "bind: '%s'", rel);
	}
	return ret;
}

/*
 * The mounts of a RUN (parsed with its signature): caches kept in the home, tmpfs and binds of
 * the context as fresh directories of this run, binds of a stage or an image from its
 * read-only view, the ssh agent when asked.
 */
static int run_mounts(struct run_res *r, struct df_build *d, json_t *c, struct cairn_error **err)
{
	struct builder *b = d->s->b;
	const char *run;
	int ret = 0;

	r->v = xcalloc(d->n_mounts + 2, sizeof(*r->v));
	for (size_t i = 0; ret == 0 && i < d->n_mounts; i++) {
		const struct df_mount *m = &d->mounts[i];
		cleanup_free char *target = NULL;
		cleanup_free char *dir = NULL;

		if (!strcmp(m->type, "ssh")) {
			r->ssh = true;
			continue;
		}
		target = image_path(c, m->target);
		if (!strcmp(m->type, "cache")) {
			const char *key[] = {"dockerfile-cache", m->id ? m->id : target};
			char h[CAIRN_SIGNATURE_HEX];

			cairn_signature_hash(h, key, 2);
			dir = xasprintf("%s/%s/cache-%.16s", b->home.builds, b->config->project.s,
					h);
			ret = cairn_fs_mkdirs_at(AT_FDCWD, dir, 0755, err);
			if (ret == 0)
				run_res_add(r, dir, target, false);
			continue;
		}
		if (!r->dir) {
			ret = stage_run_dir(&run, b, err);
			if (ret < 0)
				break;
			r->dir = xasprintf("%s/binds-%p-%zu", run, (void *)r, d->step);
		}
		dir = xasprintf("%s/%zu", r->dir, i);
		if (!strcmp(m->type, "tmpfs")) {
			ret = cairn_fs_mkdirs_at(AT_FDCWD, dir, 01777, err);
			if (ret == 0)
				run_res_add(r, dir, target, false);
		} else if (m->sel >= 0) {
			ret = materialize(d, &d->sel[m->sel], dir, err);
			if (ret == 0)
				run_res_add(r, dir, target, !m->rw);
		} else {
			struct image_state *v;
			struct rootfs_view *view = NULL;
			cleanup_free char *real = NULL;
			cleanup_free char *src = NULL;

			r->views = xreallocarray(r->views, r->n_views + 1, sizeof(*r->views));
			v = &r->views[r->n_views++];
			memset(v, 0, sizeof(*v));
			v->b = b;
			v->img = d->s->img;
			v->name = d->s->name;
			v->index = d->s->index;
			v->pull = d->s->pull;
			if (m->image_set) {
				v->prev = m->image;
			} else {
				struct cairn_config_pos pos = {.line = d->in->line};

				ret = stage_base_image(&v->prev, d->s, m->image_ref, &pos, err);
			}
			if (ret == 0)
				ret = stage_prev_view(&view, v, err);
			if (ret < 0)
				break;
			real = view_path(view, m->source ? m->source : "/");
			if (!real) {
				ret = df_fail(d, d->in, "--mount from=%s: '%s' not found", m->from,
					      m->source ? m->source : "/");
				break;
			}
			src = xasprintf("%s%s", view->mnt, strcmp(real, "/") ? real : "");
			run_res_add(r, src, target, true);
		}
	}
	return ret;
}

/* The RUN's process: the exec form, or SHELL with the command (and its heredocs). */
static void run_argv(struct strv *argv, struct df_run *dr, json_t *c)
{
	const struct cairn_df_instr *in = dr->d->in;
	json_t *sh, *e;
	size_t i;

	if (in->n_heredocs == 1 && in->n_args && strncmp(in->args[0], "<<", 2) == 0 &&
	    !strchr(in->args[0], ' ') && strncmp(in->heredocs[0].content, "#!", 2) == 0) {
		const char *name = in->heredocs[0].name;

		dr->script = &in->heredocs[0];
		/* the file is named after the heredoc when that is a plain name */
		if (!name[0] || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					     "0123456789_-") != strlen(name))
			name = "heredoc";
		dr->script_at = xasprintf("/dev/pipes/%s", name);
		strv_add(argv, dr->script_at);
		return;
	}
	if (in->json) {
		for (i = 0; i < in->n_args; i++)
			strv_add(argv, in->args[i]);
		return;
	}
	sh = shell_of(c);
	json_array_foreach(sh, i, e)
		strv_add(argv, json_string_value(e) ? json_string_value(e) : "");
	json_decref(sh);
	if (in->n_heredocs == 1 && in->n_args && strncmp(in->args[0], "<<", 2) == 0 &&
	    !strchr(in->args[0], ' ')) {
		/* RUN <<EOF: the heredoc is the script */
		strv_add(argv, in->heredocs[0].content);
		return;
	}
	if (in->n_heredocs) {
		struct cairn_buf b = CAIRN_BUF_INIT;

		cairn_buf_addf(&b, "%s\n", in->n_args ? in->args[0] : "");
		for (i = 0; i < in->n_heredocs; i++)
			cairn_buf_addf(&b, "%s%s\n", in->heredocs[i].content, in->heredocs[i].name);
		strv_add(argv, b.buf);
		cairn_buf_release(&b);
		return;
	}
	strv_add(argv, in->n_args ? in->args[0] : "");
}

static int build_run(struct stage_output *o, struct image_state *s, const struct stage_def *def,
		     struct cairn_error **err)
{
	struct df_build *d = def->ud;
	json_t *c = stage_config_section(s->config);
	struct strv argv = {0}, env = {0};
	struct run_res res = {0};
	const char *net = flag_value(d->in, "network");
	struct df_run dr = {.r = {.stage = def->name, .failed = run_failed}, .d = d};
	struct stage_run *r = &dr.r;
	int64_t uid = 0, gid = 0;
	int ret;

	net = net ? net : d->cfg->network.s;
	if (net && strcmp(net, "default") && strcmp(net, "host") && strcmp(net, "none"))
		return df_fail(d, d->in, "--network=%s: must be default, host or none", net);
	ret = user_ids(&uid, &gid, d, json_string_value(json_object_get(c, "User")), false, err);
	if (ret == 0)
		ret = run_mounts(&res, d, c, err);
	if (ret < 0)
		goto out;
	run_argv(&argv, &dr, c);
	/* the ARGs are its environment too, under the image's ENV */
	for (size_t i = 0; i < d->args.n; i++) {
		size_t len = strcspn(d->args.v[i], "=");

		if (!env_has(stage_env_of(s->config), d->args.v[i], len))
			strv_add(&env, d->args.v[i]);
	}
	/* an image without PATH (scratch and the like) runs with docker's default one */
	if (!env_has(stage_env_of(s->config), "PATH=", 4) &&
	    !list_lookup(d->args.v, d->args.n, "PATH", 4))
		strv_add(&env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	dr.mounts = res.v;
	if (dr.script)
		r->prepare = run_prepare;
	r->argv = (const char *const *)argv.v;
	r->n_argv = argv.n;
	r->uid = (unsigned)uid;
	r->gid = (unsigned)gid;
	r->cwd = json_string_value(json_object_get(c, "WorkingDir"));
	if (r->cwd && !r->cwd[0])
		r->cwd = NULL;
	r->no_network = net && !strcmp(net, "none");
	r->extra_hosts = (const char *const *)d->cfg->add_host.v;
	r->n_extra_hosts = d->cfg->add_host.n;
	r->ssh = res.ssh;
	r->env = (const char *const *)env.v;
	r->n_env = env.n;
	r->mounts = res.v;
	r->n_mounts = res.n;
	s->df_runs_after = d->runs_after;
	ret = stage_run_user(o, s, S_DOCKER, r, err);
out:
	run_res_release(&res);
	free(dr.script_file);
	free(dr.script_at);
	strv_release(&argv);
	strv_release(&env);
	return ret;
}

static int build_instr(struct stage_output *o, struct image_state *s, const struct stage_def *def,
		       struct cairn_error **err)
{
	struct df_build *d = def->ud;

	/* the base's triggers run once: the image built on it has none of them */
	if (d->clear_onbuild)
		json_object_del(stage_config_section(o->config), "OnBuild");
	switch (d->in->cmd) {
	case CAIRN_DF_RUN:
		return build_run(o, s, def, err);
	case CAIRN_DF_COPY:
	case CAIRN_DF_ADD:
		return build_copy(o, s, def, err);
	case CAIRN_DF_WORKDIR:
		return build_workdir(o, s, def, err);
	default:
		return build_config(o, s, def, err);
	}
}

static int make_instr(struct cairn_descriptor *out, struct image_state *s,
		      const struct stage_def *def, struct cairn_error **err)
{
	return stage_make_on_prev(out, s, def, build_instr, err);
}

/* FROM an image: pulled (or found in the store); FROM scratch: an empty image. */
static int make_from(struct cairn_descriptor *out, struct image_state *s,
		     const struct stage_def *def, struct cairn_error **err)
{
	struct df_build *d = def->ud;
	const struct cairn_df_stage *st = &d->plan->v[d->stage];
	struct cairn_config_pos pos = {.line = d->in->line};
	cleanup_json json_t *config = NULL;
	int ret;

	if (strcasecmp(st->base, "scratch") != 0) {
		ret = stage_base_image(out, s, st->base, &pos, err);
		return ret < 0 ? df_wrap(d, d->in, err) : 0;
	}
	config = json_pack("{s:s, s:s, s:{}, s:{s:s, s:[]}, s:[]}", "architecture",
			   cairn_image_host_arch(), "os", "linux", "config", "rootfs", "type",
			   "layers", "diff_ids", "history");
	json_decref(s->manifest);
	s->manifest = NULL;
	return stage_commit(s, "FROM scratch", config, NULL, 0, out, err);
}

/* ---- the image ---- */

/* The name an instruction's stage has: "STAGE LINE INSTR args", short. */
static char *instr_name(struct df_build *d, const struct cairn_df_instr *in)
{
	const struct cairn_df_stage *st = &d->plan->v[d->stage];
	cleanup_free char *text = df_shown(in->original, 48);
	cleanup_free char *where = d->in_onbuild ? xstrdup("onbuild") : xasprintf("%u", in->line);

	if (st->name)
		return xasprintf("%s:%s %s", st->name, where, text);
	return xasprintf("%zu:%s %s", d->stage, where, text);
}

static void step_reset(struct df_build *d)
{
	free(d->chown);
	free(d->chmod);
	d->chown = d->chmod = NULL;
	strv_release(&d->words);
	mounts_release(d);
	for (size_t k = 0; k < d->n_sel; k++)
		df_selection_release(&d->sel[k]);
	memset(d->hd, 0, sizeof(d->hd));
	for (size_t k = 0; k < ARRAY_SIZE(d->urls); k++) {
		struct df_url *u = d->urls[k];

		if (!u)
			continue;
		if (u->file)
			unlink(u->file);
		free(u->file);
		free(u->url);
		free(u->checksum);
		free(u);
		d->urls[k] = NULL;
	}
	d->n_sel = 0;
	d->from_set = false;
	free(d->name);
	d->name = NULL;
}

/* One instruction: signed, then looked up or built by stage_step(). */
static int instr_step(struct df_build *d, const struct cairn_df_instr *in, int *next, int *stop,
		      struct cairn_error **err)
{
	struct image_state *s = d->s;
	struct stage_def def = {.id = (int)d->step, .make = make_instr, .ud = d};
	struct strv deps = {0};
	char sig[CAIRN_SIGNATURE_HEX];
	int ret;

	step_reset(d);
	d->in = in;
	d->dest = d->from_image = NULL;
	d->n_src = 0;
	ret = stage_load_prev(s, err);
	if (ret < 0)
		return ret;
	ret = check_flags(d, in);
	if (ret < 0)
		return ret;
	strv_addf(&deps, "dockerfile:%s", cairn_df_cmd_name(in->cmd));
	switch (in->cmd) {
	case CAIRN_DF_RUN:
		ret = sign_run(&deps, d, in, err);
		break;
	case CAIRN_DF_COPY:
	case CAIRN_DF_ADD:
		ret = sign_copy(&deps, d, in, err);
		break;
	default:
		ret = sign_words(&deps, d, in, err);
		break;
	}
	if (ret < 0) {
		strv_release(&deps);
		return ret;
	}
	strv_add(&deps, SIG_VERSION);
	strv_add(&deps, s->prev_sig);
	cairn_signature_hash(sig, (const char *const *)deps.v, deps.n);
	strv_release(&deps);
	d->name = instr_name(d, in);
	def.name = d->name;
	return stage_step(s, &def, sig, next, stop, err);
}

/* Whether a needed stage runs a RUN after instruction `k` of stage `si`. */
static bool runs_after(struct df_build *d, size_t si, size_t k)
{
	for (size_t i = si; i < d->plan->n; i++) {
		const struct cairn_df_stage *st = &d->plan->v[i];

		if (!st->needed)
			continue;
		for (size_t j = i == si ? k + 1 : st->first; j <= st->last; j++)
			if (d->df->v[j].cmd == CAIRN_DF_RUN)
				return true;
	}
	return false;
}

/*
 * The ONBUILD triggers of the image a stage starts from, run after its FROM as docker runs
 * them; their messages name "DOCKERFILE:LINE ONBUILD" and the trigger's number.
 */
static int run_onbuild(struct df_build *d, size_t si, const struct cairn_df_instr *from,
		       int *restart, int *stop, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf text = CAIRN_BUF_INIT;
	struct cairn_dockerfile *ob = NULL;
	cleanup_free char *file = NULL;
	const char *saved = d->file;
	json_t *triggers, *t;
	size_t i;
	int ret = stage_load_prev(d->s, err), next;

	if (ret < 0)
		return ret;
	triggers = json_object_get(stage_config_section(d->s->config), "OnBuild");
	if (!json_array_size(triggers))
		return 0;
	/* the parser wants a FROM first: one that is not run, the triggers numbered from 1 */
	cairn_buf_addstr(&text, "FROM scratch\n");
	json_array_foreach(triggers, i, t)
		cairn_buf_addf(&text, "%s\n", json_string_value(t) ? json_string_value(t) : "");
	file = xasprintf("%s:%u ONBUILD", d->file, from->line);
	ret = cairn_dockerfile_parse(&ob, text.buf, text.len, file, err);
	if (ret < 0)
		return cairn_error_wrap(err, "image '%s'", d->s->name);
	d->file = file;
	d->in_onbuild = true;
	for (i = 0; i < ob->n; i++)
		ob->v[i].line--;
	for (i = 1; ret == 0 && i < ob->n && !*stop && !*restart; i++) {
		const struct cairn_df_instr *in = &ob->v[i];
		bool run_later = runs_after(d, si, d->plan->v[si].first);

		for (size_t k = i + 1; k < ob->n; k++)
			run_later = run_later || ob->v[k].cmd == CAIRN_DF_RUN;
		if (in->cmd == CAIRN_DF_ARG) {
			d->in = in;
			ret = do_arg(d, in, err);
			continue;
		}
		d->runs_after = run_later;
		d->clear_onbuild = i == 1;
		ret = instr_step(d, in, &next, stop, err);
		d->clear_onbuild = false;
		d->step++;
		if (ret == 0 && !*stop && next != (int)d->step)
			*restart = 1;
	}
	d->file = saved;
	d->in_onbuild = false;
	step_reset(d); /* nothing may point into `ob` */
	cairn_dockerfile_free(ob);
	return ret;
}

/* Build stage `si` of the plan; *stop when a stage is missing (no_build) or another went first. */
static int build_df_stage(struct df_build *d, size_t si, int *restart, int *stop,
			  struct cairn_error **err)
{
	struct image_state *s = d->s;
	const struct cairn_df_stage *st = &d->plan->v[si];
	const struct cairn_df_instr *from = &d->df->v[st->first];
	int ret, next;

	d->stage = si;
	d->cmd_set = false;
	ret = check_flags(d, from);
	if (ret < 0)
		return ret;
	strv_release(&d->args);
	stage_drop_prev(s);
	if (st->base_stage >= 0) {
		const struct df_done *base = &d->done[st->base_stage];

		memcpy(s->prev_sig, base->sig, CAIRN_SIGNATURE_HEX);
		s->prev = base->desc;
	} else {
		const char *parts[] = {st->base, SIG_VERSION};
		struct stage_def def = {.id = (int)d->step++, .make = make_from, .ud = d};
		char sig[CAIRN_SIGNATURE_HEX];

		if (strcasecmp(st->base, "scratch") == 0)
			parts[0] = "dockerfile:scratch";
		cairn_signature_hash(sig, parts, 2);
		step_reset(d);
		d->in = from;
		d->name = instr_name(d, from);
		def.name = d->name;
		ret = stage_step(s, &def, sig, &next, stop, err);
		if (ret < 0 || *stop)
			return ret;
		if (next != def.id + 1) {
			*restart = 1;
			return 0;
		}
	}
	ret = run_onbuild(d, si, from, restart, stop, err);
	if (ret < 0 || *stop || *restart)
		return ret;
	for (size_t k = st->first + 1; k <= st->last; k++) {
		const struct cairn_df_instr *in = &d->df->v[k];

		if (s->b->failed) {
			/* another image failed: this one stops, and says nothing of it */
			s->cancelled = true;
			*stop = 1;
			return 0;
		}
		if (in->cmd == CAIRN_DF_ARG) {
			d->in = in;
			ret = stage_load_prev(s, err);
			if (ret == 0)
				ret = do_arg(d, in, err);
			if (ret < 0)
				return ret;
			continue;
		}
		d->runs_after = runs_after(d, si, k);
		ret = instr_step(d, in, &next, stop, err);
		d->step++;
		if (ret < 0 || *stop)
			return ret;
		if (next != (int)d->step) {
			*restart = 1;
			return 0;
		}
	}
	memcpy(d->done[si].sig, s->prev_sig, CAIRN_SIGNATURE_HEX);
	d->done[si].desc = s->prev;
	d->done[si].set = true;
	return 0;
}

/* The Dockerfile, read from the commit (werf's rule) or, without a repository, the work tree. */
static int read_dockerfile(struct cairn_buf *text, struct df_build *d, struct cairn_error **err)
{
	struct builder *b = d->s->b;
	struct cairn_git_repo *repo = NULL;
	cleanup_close int proj = -1;
	int ret = d->cfg->work_tree ? CAIRN_ENOTFOUND : stage_project_repo(&repo, b, err);

	if (ret == 0) {
		CLEANUP(cairn_git_ops_release) struct cairn_git_ops ops = CAIRN_GIT_OPS_INIT;
		struct cairn_git_selection sel = CAIRN_GIT_SELECTION_INIT;
		cleanup_free char *add = xasprintf("/%s", d->file);
		cleanup_free char *to = xasprintf("/%s", d->file);

		sel.add = add;
		ret = cairn_git_archive_ops(&ops, repo, b->head, &sel, to, err);
		for (size_t i = 0; ret == 0 && i < ops.n; i++) {
			struct cairn_git_blob *blob = NULL;
			const void *data;
			uint64_t size;

			if (ops.v[i].kind != CAIRN_GIT_OP_FILE || strcmp(ops.v[i].path, d->file))
				continue;
			if (ops.v[i].size > CAIRN_DOCKERFILE_MAX)
				return cairn_error_set(err, CAIRN_ETOOBIG,
						       "%s: larger than %u bytes", d->file,
						       CAIRN_DOCKERFILE_MAX);
			ret = cairn_git_blob_read(&blob, &data, &size, repo, ops.v[i].oid, err);
			if (ret == 0)
				cairn_buf_add(text, data, size);
			cairn_git_blob_free(blob);
			return ret;
		}
		if (ret < 0)
			return ret;
		return cairn_error_set(err, CAIRN_ENOTFOUND,
				       "%s: not in commit %.12s of the project (commit it)",
				       d->file, b->head);
	}
	if (ret < 0 && ret != CAIRN_ENOTFOUND)
		return ret;
	cairn_error_clear(err);
	proj = open(b->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (proj < 0)
		return cairn_error_set_errno(err, "project '%s'", b->dir);
	return cairn_root_read_file(proj, d->file, CAIRN_ROOT_BENEATH, text, d->file, err);
}

static int df_prepare(struct df_build *d, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf text = CAIRN_BUF_INIT_MAX(CAIRN_DOCKERFILE_MAX);
	int ret;

	ret = read_dockerfile(&text, d, err);
	if (ret == 0)
		ret = cairn_dockerfile_parse(&d->df, text.buf ? text.buf : "", text.len, d->file,
					     err);
	if (ret < 0)
		return cairn_error_wrap(err, "image '%s'", d->s->name);
	d->build_args = xcalloc(d->cfg->n_args + 1, sizeof(*d->build_args));
	for (size_t i = 0; i < d->cfg->n_args; i++)
		d->build_args[d->n_build_args++] =
			xasprintf("%s=%s", d->cfg->args[i].key, d->cfg->args[i].value);
	ret = cairn_df_plan(&d->plan, d->df, d->cfg->target.s, (const char *const *)d->build_args,
			    d->n_build_args, d->file, err);
	if (ret < 0)
		return cairn_error_wrap(err, "image '%s'", d->s->name);
	d->done = xcalloc(d->plan->n, sizeof(*d->done));
	return 0;
}

static void df_release(struct df_build *d)
{
	step_reset(d);
	strv_release(&d->args);
	for (size_t i = 0; i < d->n_build_args; i++)
		free(d->build_args[i]);
	free(d->build_args);
	free(d->done);
	cairn_df_plan_free(d->plan);
	cairn_dockerfile_free(d->df);
	if (d->ctx_loaded)
		df_context_release(&d->ctx);
}

int stage_build_dockerfile_image(struct image_state *s, int *stop, struct cairn_error **err)
{
	struct df_build d = {
		.s = s, .err = err, .cfg = &s->img->dockerfile, .file = s->img->dockerfile.file.s};
	int ret, restart = 1;

	ret = df_prepare(&d, err);
	for (int run = 0; ret == 0 && restart && run <= DF_RESTARTS_MAX; run++) {
		/* again from the top: the stages found are the adopted ones */
		while (s->out->n_stages)
			free(s->out->stages[--s->out->n_stages].name);
		restart = 0;
		d.step = 0;
		memset(d.done, 0, d.plan->n * sizeof(*d.done));
		for (size_t i = 0; ret == 0 && !restart && !*stop && i < d.plan->n; i++)
			if (d.plan->v[i].needed)
				ret = build_df_stage(&d, i, &restart, stop, err);
	}
	if (ret == 0 && restart)
		ret = cairn_error_set(err, CAIRN_EHTTP,
				      "image '%s': the stage tags in '%s' keep changing", s->name,
				      s->b->o->stages_storage);
	df_release(&d);
	return ret;
}
