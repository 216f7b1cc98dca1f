/* SPDX-License-Identifier: MIT */
/* The dockerInstructions stage: docker: directives applied to the image config. */
#include "common.h"
#include "stage/stage_internal.h"
#include "dockerfile/words.h"

#include <ctype.h>

static void set_string_array(json_t *c, const char *key, const struct cairn_config_list *l)
{
	json_t *a = json_array();

	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(a, json_string(l->v[i]));
	json_object_set_new(c, key, a);
}

/* A variable of the image below, for Dockerfile words. */
static size_t env_index(json_t *env, const char *name, size_t len)
{
	json_t *e;
	size_t i;

	json_array_foreach(env, i, e)
	{
		const char *v = json_string_value(e);

		if (v && strncmp(v, name, len) == 0 && v[len] == '=')
			return i;
	}
	return SIZE_MAX;
}

const char *stage_env_get(json_t *env, const char *name, size_t len)
{
	size_t i = env_index(env, name, len);

	return i == SIZE_MAX ? NULL : json_string_value(json_array_get(env, i)) + len + 1;
}

static const char *env_lookup(const char *name, size_t len, void *ud)
{
	return stage_env_get(ud, name, len);
}

/*
 * A `docker:` value as werf has Docker take it (`docker commit --change "ENV K=V"`): one
 * Dockerfile word, its quotes removed and $VAR / ${VAR} expanded against the image below.
 */
static int docker_word(char **out, struct image_state *s, const char *v,
		       const struct cairn_config_pos *pos, const char *what,
		       struct cairn_error **err)
{
	int ret = cairn_dockerfile_word(out, v, strlen(v), '\\', env_lookup,
					stage_env_of(s->config), err);

	if (ret < 0)
		return cairn_error_wrap(err, "%s:%u:%u: docker.%s", s->b->config->file, pos->line,
					pos->column, what);
	return 0;
}

/* Set c[key] to the word `v`; skipped when v is NULL. */
static int set_word(json_t *c, const char *key, struct image_state *s,
		    const struct cairn_config_str *v, struct cairn_error **err)
{
	cleanup_free char *w = NULL;
	int ret;

	if (!v->s)
		return 0;
	ret = docker_word(&w, s, v->s, &v->pos, key, err);
	if (ret == 0)
		json_object_set_new(c, key, json_string(w));
	return ret;
}

int stage_expose(json_t *c, const char *w, char **bad)
{
	cleanup_free char *copy = xstrdup(w);
	json_t *o = json_object_get(c, "ExposedPorts");
	char *save = NULL;

	*bad = NULL;
	if (!json_is_object(o)) {
		o = json_object();
		json_object_set_new(c, "ExposedPorts", o);
	}
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
			if (strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "sctp")) {
				*bad = xasprintf("invalid proto: %s", proto);
				return -1;
			}
		}
		lo = strtoul(spec, &end, 10);
		hi = lo;
		if (end && *end == '-')
			hi = strtoul(end + 1, &end, 10);
		if (!isdigit((unsigned char)spec[0]) || !end || *end || lo == 0 || hi < lo ||
		    hi > 65535) {
			*bad = xasprintf("invalid port: %s", spec);
			return -1;
		}
		for (unsigned long port = lo; port <= hi; port++) {
			char key[32];

			snprintf(key, sizeof(key), "%lu/%s", port, proto);
			json_object_set_new(o, key, json_object());
		}
	}
	return 0;
}

/* Add each word of `l` as a key of the set c[key]; ports as stage_expose() adds them. */
static int set_set(json_t *c, const char *key, struct image_state *s,
		   const struct cairn_config_list *l, int ports, struct cairn_error **err)
{
	json_t *o = json_object_get(c, key);

	if (!json_is_object(o)) {
		o = json_object();
		json_object_set_new(c, key, o);
	}
	for (size_t i = 0; i < l->n; i++) {
		cleanup_free char *w = NULL;
		int ret = docker_word(&w, s, l->v[i], &l->pos[i], key, err);

		if (ret < 0)
			return ret;
		if (ports) {
			cleanup_free char *bad = NULL;

			if (stage_expose(c, w, &bad) < 0)
				return cairn_error_set(err, CAIRN_EINVAL, "%s:%u:%u: docker.%s: %s",
						       s->b->config->file, l->pos[i].line,
						       l->pos[i].column, key, bad);
		} else {
			json_object_set_new(o, w, json_object());
		}
	}
	return 0;
}

void stage_set_env(json_t *c, const char *key, const char *value)
{
	json_t *env = json_object_get(c, "Env");
	cleanup_free char *kv = xasprintf("%s=%s", key, value);
	size_t k;

	if (!json_is_array(env)) {
		env = json_array();
		json_object_set_new(c, "Env", env);
	}
	k = env_index(env, key, strlen(key));
	if (k != SIZE_MAX)
		json_array_set_new(env, k, json_string(kv));
	else
		json_array_append_new(env, json_string(kv));
}

static int apply_env(json_t *c, struct image_state *s, const struct cairn_config_docker *d,
		     struct cairn_error **err)
{
	for (size_t i = 0; i < d->n_env; i++) {
		cleanup_free char *w = NULL;
		int ret = docker_word(&w, s, d->env[i].value, &d->env[i].value_pos, "ENV", err);

		if (ret < 0)
			return ret;
		stage_set_env(c, d->env[i].key, w);
	}
	if (!json_is_array(json_object_get(c, "Env")))
		json_object_set_new(c, "Env", json_array());
	return 0;
}

static void apply_healthcheck(json_t *c, const struct cairn_config_healthcheck *h)
{
	json_t *hc = json_object();

	set_string_array(hc, "Test", &h->test);
	if (h->interval_ns)
		json_object_set_new(hc, "Interval", json_integer(h->interval_ns));
	if (h->timeout_ns)
		json_object_set_new(hc, "Timeout", json_integer(h->timeout_ns));
	if (h->start_period_ns)
		json_object_set_new(hc, "StartPeriod", json_integer(h->start_period_ns));
	if (h->retries)
		json_object_set_new(hc, "Retries", json_integer(h->retries));
	json_object_set_new(c, "Healthcheck", hc);
}

/*
 * The docker: directives on `config` (a copy of the image below's, which s->config still is).
 * CMD, ENTRYPOINT and HEALTHCHECK are exec lists, taken as written; the rest are words.
 */
static int apply_docker(json_t *config, struct image_state *s, struct cairn_error **err)
{
	const struct cairn_config_docker *d = &s->img->docker;
	json_t *c = stage_config_section(config);
	int ret;

	ret = set_word(c, "WorkingDir", s, &d->workdir, err);
	if (ret == 0)
		ret = set_word(c, "User", s, &d->user, err);
	if (ret == 0)
		ret = set_word(c, "StopSignal", s, &d->stopsignal, err);
	if (ret == 0 && d->expose.n)
		ret = set_set(c, "ExposedPorts", s, &d->expose, 1, err);
	if (ret == 0 && d->volume.n)
		ret = set_set(c, "Volumes", s, &d->volume, 0, err);
	if (ret == 0)
		ret = apply_env(c, s, d, err);
	for (size_t i = 0; ret == 0 && i < d->n_labels; i++) {
		cleanup_free char *k = NULL;
		cleanup_free char *v = NULL;

		ret = docker_word(&k, s, d->labels[i].key, &d->labels[i].key_pos, "LABEL", err);
		if (ret == 0)
			ret = docker_word(&v, s, d->labels[i].value, &d->labels[i].value_pos,
					  "LABEL", err);
		if (ret == 0)
			stage_set_label(config, k, v);
	}
	if (ret < 0)
		return ret;
	if (d->entrypoint.n) {
		set_string_array(c, "Entrypoint", &d->entrypoint);
		/* as docker does: a new ENTRYPOINT drops an inherited CMD */
		if (!d->cmd.n)
			json_object_del(c, "Cmd");
	}
	if (d->cmd.n)
		set_string_array(c, "Cmd", &d->cmd);
	if (d->healthcheck.test.n)
		apply_healthcheck(c, &d->healthcheck);
	if (d->onbuild.n)
		set_string_array(c, "OnBuild", &d->onbuild);
	return 0;
}

int stage_build_docker(struct stage_output *o, struct image_state *s, enum stage_id id,
		       struct cairn_error **err)
{
	(void)id;
	return apply_docker(o->config, s, err);
}
