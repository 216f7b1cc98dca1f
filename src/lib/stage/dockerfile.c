/* SPDX-License-Identifier: MIT */
/*
 * Dockerfile images: of the Dockerfile's build stages those the target needs, each instruction
 * a stage of cairn's, signed and kept like any other (ARG excepted: its value enters the
 * signature of what sees it); the config instructions, FROM and ONBUILD here, COPY and ADD in
 * df_copy.c, RUN in df_run.c. The context is the project's commit (df_context.c).
 */
#include "common.h"
#include "stage/df_internal.h"
#include "cairn/image.h"
#include "dockerfile/words.h"
#include "layer/cache.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/parse.h"
#include "util/root.h"

#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <strings.h>

/* Runs of the whole Dockerfile image after a stage under one was adopted, before giving up. */
#define DF_RESTARTS_MAX 16

/* Runs of the whole Dockerfile image after a stage under one was adopted, before giving up. */
#define DF_RESTARTS_MAX 16

/*
 * The first line of `s` as shown in names and messages: at most `max` bytes ("..." after),
 * control characters as '?' (a Dockerfile's text never drives the terminal).
 */
char *df_shown(const char *s, size_t max)
{
	size_t n = strcspn(s, "\n");
	char *out = xasprintf("%.*s%s", (int)(n > max ? max : n), s, s[n] || n > max ? "..." : "");

	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return out;
}

/* An error of instruction `in`: "FILE:LINE: image 'x': INSTR: ...". */
int df_fail(struct df_build *d, const struct cairn_df_instr *in, const char *fmt, ...)
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

int df_wrap(struct df_build *d, const struct cairn_df_instr *in, struct cairn_error **err)
{
	return cairn_error_wrap(err, "%s:%u: image '%s': %s", d->file, in->line, d->s->name,
				cairn_df_cmd_name(in->cmd));
}

const char *df_list_lookup(char *const *v, size_t n, const char *name, size_t len)
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
	const char *v = stage_env_get(stage_env_of(d->s->config), name, len);

	return v ? v : df_list_lookup(d->args.v, d->args.n, name, len);
}

int df_word(char **out, struct df_build *d, const char *w, struct cairn_error **err)
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
		const char *given = df_list_lookup(d->build_args, d->n_build_args, w, len);
		cleanup_free char *name = xstrndup(w, len);
		cleanup_free char *value = NULL;
		int ret;

		if (!len)
			return df_fail(d, in, "ARG without a name");
		if (given) {
			value = xstrdup(given);
		} else if (eq) {
			ret = df_word(&value, d, eq + 1, err);
			if (ret < 0)
				return ret;
		} else if (df_list_lookup(d->plan->global_args, d->plan->n_global_args, w, len)) {
			value = xstrdup(df_list_lookup(d->plan->global_args, d->plan->n_global_args,
						       w, len));
		} else {
			value = platform_arg(name);
		}
		if (value)
			strv_addf(&d->args, "%s=%s", name, value);
	}
	return 0;
}

static json_t *string_array(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* The stage's SHELL (["/bin/sh", "-c"] unless set). */
json_t *df_shell_of(json_t *c)
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
	sh = df_shell_of(c);
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
char *df_image_path(json_t *c, const char *p)
{
	const char *wd = json_string_value(json_object_get(c, "WorkingDir"));
	/* a leading '/' of ours: a base image's WorkingDir may be relative */
	cleanup_free char *joined = p[0] == '/' ? xstrdup(p) : xasprintf("/%s/%s", wd ? wd : "", p);

	return cairn_fs_path_clean(joined);
}

static int expose(json_t *c, struct df_build *d, const struct cairn_df_instr *in, const char *w)
{
	cleanup_free char *bad = NULL;

	if (stage_expose(c, w, &bad) < 0)
		return df_fail(d, in, "%s", bad);
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

/* The stage (by name or index) or image a --from names: the stage's index, or -1. */
long df_from_stage(struct df_build *d, const char *ref)
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
char *df_clean_source(const char *src)
{
	cleanup_free char *abs = df_image_path(NULL, src);

	return xstrdup(abs + 1);
}

/* The ARG values a RUN sees (they are its environment): part of its signature. */
void df_add_args(struct strv *deps, struct df_build *d)
{
	for (size_t i = 0; i < d->args.n; i++)
		strv_addf(deps, "arg:%s", d->args.v[i]);
}

int df_load_context(struct df_build *d, struct cairn_error **err)
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
		int ret = substitute ? df_word(&w, d, in->args[i], err) : 0;

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
		char *p = df_image_path(stage_config_section(d->s->config), d->words.v[0]);

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

/*
 * The ids of USER (a user alone: its primary group, as the runtime does) or of COPY's
 * --chown (a user alone: the group of the user's number, as docker documents it).
 */
int df_user_ids(int64_t *uid, int64_t *gid, struct df_build *d, const char *spec, bool chown,
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
bool df_below_is_dir(int below, const char *p)
{
	cleanup_close int fd = cairn_root_open(below, p, O_PATH, CAIRN_ROOT_IN);
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * Make directory `dir` (no leading '/') and each one above it that the layer and the image lack,
 * owned by uid:gid, as docker's MkdirAllAndChownNew (classic) and MkdirAll (BuildKit) make them.
 */
int df_ensure_dir(struct cairn_layer_writer *w, int below, const char *dir, mode_t mode,
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
		if (!cairn_layer_has(w, p) && !df_below_is_dir(below, abs))
			ret = cairn_layer_add(w, &e, err);
		if (slash)
			*slash = '/';
	}
	return ret;
}

/*
 * WORKDIR: the config, and the directory when the image lacks it: root's, as the classic
 * builder of `docker build` (which werf v1.1 ran) makes it; BuildKit gives it to USER.
 */
static int fill_workdir(struct cairn_layer_writer *w, struct df_build *d, int below, json_t *c,
			void *ud, struct cairn_error **err)
{
	(void)c;
	(void)ud;
	return df_ensure_dir(w, below, d->words.v[0] + 1, 0755, 0, 0, 0, err);
}

static int build_workdir(struct stage_output *o, struct image_state *s, const struct stage_def *def,
			 struct cairn_error **err)
{
	struct df_build *d = def->ud;
	struct rootfs_view *below = NULL;
	const char *dir = d->words.v[0];
	int ret;

	apply_config(o->config, d, d->in);
	ret = stage_prev_view(&below, s, err);
	if (ret < 0 || strcmp(dir, "/") == 0 || df_below_is_dir(below->fd, dir))
		return ret;
	return df_layer(o, s, d, fill_workdir, NULL, err);
}

int df_layer(struct stage_output *o, struct image_state *s, struct df_build *d,
	     int (*fill)(struct cairn_layer_writer *w, struct df_build *d, int below, json_t *c,
			 void *ud, struct cairn_error **err),
	     void *ud, struct cairn_error **err)
{
	struct cairn_layer_opts lo = CAIRN_LAYER_OPTS_INIT;
	struct cairn_layer_writer *w = NULL;
	CLEANUP(cairn_layer_cache_pending_freep) char *pending = NULL;
	struct rootfs_view *below = NULL;
	int ret = stage_prev_view(&below, s, err);

	if (ret < 0)
		return ret;
	pending = stage_unpack_to(s, d->runs_after);
	lo.unpack_to = pending;
	ret = cairn_layer_writer_new(&w, s->b->st, &lo, err);
	if (ret < 0)
		return ret;
	ret = fill(w, d, below->fd, stage_config_section(o->config), ud, err);
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

static int build_instr(struct stage_output *o, struct image_state *s, const struct stage_def *def,
		       struct cairn_error **err)
{
	struct df_build *d = def->ud;

	/* the base's triggers run once: the image built on it has none of them */
	if (d->clear_onbuild)
		json_object_del(stage_config_section(o->config), "OnBuild");
	switch (d->in->cmd) {
	case CAIRN_DF_RUN:
		return df_build_run(o, s, def, err);
	case CAIRN_DF_COPY:
	case CAIRN_DF_ADD:
		return df_build_copy(o, s, def, err);
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

/* The history line of an instruction that is its words as signed: "ENV PATH /usr/bin". */
static char *signed_line(struct df_build *d, const struct cairn_df_instr *in)
{
	struct cairn_buf h = CAIRN_BUF_INIT;

	cairn_buf_addstr(&h, cairn_df_cmd_name(in->cmd));
	for (size_t i = 0; i < d->words.n; i++)
		cairn_buf_addf(&h, " %s", d->words.v[i]);
	return cairn_buf_detach(&h, NULL);
}

/*
 * The history line of a RUN, COPY or ADD: the instruction with its flags and words as written,
 * on the form BuildKit writes ("RUN /bin/sh -c make", "COPY --chown=app src /app"); a RUN of
 * the shell form shows the shell it runs with, heredocs their text. Control characters other
 * than newlines and tabs become '?': `docker history` prints the line to a terminal.
 */
static char *history_line(struct df_build *d, const struct cairn_df_instr *in)
{
	struct cairn_buf h = CAIRN_BUF_INIT;
	char *line;

	cairn_buf_addstr(&h, cairn_df_cmd_name(in->cmd));
	for (size_t i = 0; i < in->n_flags; i++)
		cairn_buf_addf(&h, " %s", in->flags[i]);
	if (in->cmd == CAIRN_DF_RUN && !in->json) {
		json_t *sh = df_shell_of(stage_config_section(d->s->config));
		json_t *w;
		size_t i;

		json_array_foreach(sh, i, w)
		{
			if (json_is_string(w))
				cairn_buf_addf(&h, " %s", json_string_value(w));
		}
		json_decref(sh);
	}
	for (size_t i = 0; i < in->n_args; i++)
		cairn_buf_addf(&h, " %s", in->args[i]);
	for (size_t i = 0; i < in->n_heredocs; i++)
		cairn_buf_addf(&h, "\n%s%s", in->heredocs[i].content, in->heredocs[i].name);
	line = cairn_buf_detach(&h, NULL);
	for (char *c = line; *c; c++)
		if (((unsigned char)*c < 0x20 && *c != '\n' && *c != '\t') || *c == 0x7f)
			*c = '?';
	return line;
}

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
	df_mounts_release(d);
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
	free(d->history);
	d->name = d->history = NULL;
}

/* One instruction: signed, then looked up or built by stage_step(). */
static int instr_step(struct df_build *d, const struct cairn_df_instr *in, int *next, int *stop,
		      struct cairn_error **err)
{
	struct image_state *s = d->s;
	struct stage_def def = {.id = (int)d->step, .make = make_instr, .ud = d};
	struct strv deps = {0};
	char sig[CAIRN_SIGNATURE_HEX];
	bool words_signed = false; /* the instruction is its words (not RUN, COPY, ADD) */
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
		ret = df_sign_run(&deps, d, in, err);
		break;
	case CAIRN_DF_COPY:
	case CAIRN_DF_ADD:
		ret = df_sign_copy(&deps, d, in, err);
		break;
	default:
		ret = sign_words(&deps, d, in, err);
		words_signed = true;
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
	d->history = words_signed ? signed_line(d, in) : history_line(d, in);
	def.history = d->history;
	def.history_signed = words_signed;
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
