/* SPDX-License-Identifier: MIT */
/* The docker directives of an image: ENV and LABEL, EXPOSE, HEALTHCHECK, and their table. */
#include "common.h"
#include "config/config_internal.h"
#include "util/parse.h"
#include "util/json.h"

#include <ctype.h>
#include <limits.h>
#include <strings.h>

void cfg_kv_release(struct cairn_config_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

/* ENV and LABEL: a mapping of strings, kept in document order. */
int cfg_read_kv(struct ctx *x, const struct field *f, const struct ynode *n, void *base)
{
	CLEANUP(cfg_entries_release) struct entries e = {0};
	struct cairn_config_kv **kv = AT(base, f->off);
	size_t *count = AT(base, f->count_off);
	int ret;

	if (n->kind != Y_MAP)
		return invalid(x, n->pos, "must be a mapping");
	ret = cfg_map_entries(x, n, &e);
	if (ret < 0)
		return ret;
	if (!e.n)
		return 0;
	*kv = xcalloc(e.n, sizeof(**kv));
	for (size_t i = 0; i < e.n; i++) {
		const struct ynode *k = e.v[i].key, *v = e.v[i].value;
		struct cairn_config_kv *out = &(*kv)[i];
		size_t old = cfg_path_key(x, k->text, k->len);

		if (!k->len || memchr(k->text, '\0', k->len) ||
		    (f->check && f->check(k->text, k->len)))
			return invalid(x, k->pos, "invalid name");
		*count = i + 1;
		out->key = xmemdup(k->text, k->len + 1);
		out->key_pos = k->pos;
		out->value_pos = v->pos;
		if (cfg_is_null(v)) {
			out->value = xstrdup("");
		} else {
			if (v->kind != Y_SCALAR)
				return invalid(x, v->pos, "must be a string");
			if (memchr(v->text, '\0', v->len))
				return invalid(x, v->pos, "must not contain a NUL character");
			out->value = xmemdup(v->text, v->len + 1);
		}
		cfg_path_pop(x, old);
	}
	return 0;
}

static const char *check_env_name(const char *s, size_t len)
{
	return memchr(s, '=', len) ? "contains '='" : NULL;
}

/* Parse a decimal port at *p; false unless it is 1..65535. */
static bool parse_port(const char **p)
{
	unsigned long v = 0;
	const char *s = *p;

	while (*s >= '0' && *s <= '9' && v <= 65535)
		v = v * 10 + (unsigned long)(*s++ - '0');
	if (s == *p || v == 0 || v > 65535)
		return false;
	*p = s;
	return true;
}

/* An ONBUILD trigger: an instruction docker build will run, not FROM, MAINTAINER or ONBUILD. */
static const char *check_onbuild(const char *s, size_t len)
{
	static const char *const refused[] = {"FROM", "MAINTAINER", "ONBUILD"};
	size_t i = 0, w;

	while (i < len && isspace((unsigned char)s[i]))
		i++;
	for (w = i; w < len && !isspace((unsigned char)s[w]);)
		w++;
	if (w == i)
		return "must be an instruction (RUN ..., COPY ...)";
	for (size_t k = 0; k < ARRAY_SIZE(refused); k++)
		if (w - i == strlen(refused[k]) && strncasecmp(s + i, refused[k], w - i) == 0)
			return "cannot be FROM, MAINTAINER or ONBUILD (docker refuses them)";
	return NULL;
}

static const char *check_expose(const char *s, size_t len)
{
	static const char why[] = "must be PORT, PORT-PORT, optionally with /tcp, /udp or /sctp";

	(void)len;
	if (!parse_port(&s))
		return why;
	if (*s == '-') {
		s++;
		if (!parse_port(&s))
			return why;
	}
	if (!*s || strcmp(s, "/tcp") == 0 || strcmp(s, "/udp") == 0 || strcmp(s, "/sctp") == 0)
		return NULL;
	return why;
}

static size_t skip_spaces(const char *s, size_t i)
{
	while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
		i++;
	return i;
}

static size_t word_end(const char *s, size_t i)
{
	while (s[i] && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
		i++;
	return i;
}

/* HEALTHCHECK "[--interval=D] [--timeout=D] [--start-period=D] [--retries=N] CMD ..." */
static int read_healthcheck_options(struct ctx *x, struct cairn_config_healthcheck *h, size_t *i,
				    struct cairn_config_pos pos, bool *any)
{
	const char *s = h->text.s;
	char shown[SHOWN_MAX + 4];

	*any = false;
	for (*i = skip_spaces(s, 0); s[*i] == '-' && s[*i + 1] == '-'; *i = skip_spaces(s, *i)) {
		size_t end = word_end(s, *i), eq;
		const char *val;
		int64_t *dst = NULL;

		for (eq = *i; eq < end && s[eq] != '='; eq++)
			;
		cfg_show(shown, s + *i, end - *i);
		if (eq == end)
			return invalid(x, pos, "option '%s' needs '=VALUE'", shown);
		val = s + eq + 1;
		if (eq - *i == 10 && memcmp(s + *i, "--interval", 10) == 0)
			dst = &h->interval_ns;
		else if (eq - *i == 9 && memcmp(s + *i, "--timeout", 9) == 0)
			dst = &h->timeout_ns;
		else if (eq - *i == 14 && memcmp(s + *i, "--start-period", 14) == 0)
			dst = &h->start_period_ns;
		else if (eq - *i == 16 && memcmp(s + *i, "--start-interval", 16) == 0)
			dst = &h->start_interval_ns;
		if (dst) {
			if (!cairn_parse_duration(dst, val, (size_t)(s + end - val)) ||
			    (*dst && *dst < 1000000))
				return invalid(x, pos,
					       "option '%s': not a duration of 0 or 1ms or more",
					       shown);
		} else if (eq - *i == 9 && memcmp(s + *i, "--retries", 9) == 0) {
			unsigned long long v = 0;
			const char *p = val;

			for (; p < s + end && *p >= '0' && *p <= '9' && v <= INT_MAX; p++)
				v = v * 10 + (unsigned long long)(*p - '0');
			if (p == val || p != s + end || v > INT_MAX)
				return invalid(x, pos, "option '%s': not a number", shown);
			h->retries = (unsigned int)v;
		} else {
			return invalid(x, pos, "unknown option '%s'", shown);
		}
		*any = true;
		*i = end;
	}
	return 0;
}

/* CMD ["a", "b"] as JSON: the list, or false to read the text as a shell command (as docker). */
static bool json_argv(struct cairn_config_list *test, const char *s, struct cairn_config_pos pos)
{
	cleanup_json json_t *j = NULL;
	struct cairn_error *e = NULL;
	size_t n;

	if (cairn_json_parse(&j, s, strlen(s), "HEALTHCHECK", &e) < 0) {
		cairn_error_free(e);
		return false;
	}
	n = json_is_array(j) ? json_array_size(j) : 0;
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++) {
		const char *arg = json_string_value(json_array_get(j, i));

		if (!arg || strlen(arg) != json_string_length(json_array_get(j, i)))
			return false;
	}
	cfg_list_add(test, "CMD", pos);
	for (size_t i = 0; i < n; i++)
		cfg_list_add(test, json_string_value(json_array_get(j, i)), pos);
	return true;
}

static int read_healthcheck(struct ctx *x, const struct field *f, const struct ynode *n, void *base)
{
	struct cairn_config_healthcheck *h = AT(base, f->off);
	size_t i, end;
	const char *s;
	bool options;
	int ret;

	ret = cfg_read_str(x, n, &h->text, 0, NULL);
	if (ret < 0)
		return ret;
	ret = read_healthcheck_options(x, h, &i, n->pos, &options);
	if (ret < 0)
		return ret;
	s = h->text.s;
	end = word_end(s, i);
	h->test.at = n->pos;
	if (end - i == 4 && strncasecmp(s + i, "NONE", 4) == 0 && !s[skip_spaces(s, end)]) {
		if (options)
			return invalid(x, n->pos, "NONE takes no options");
		cfg_list_add(&h->test, "NONE", n->pos);
		return 0;
	}
	if (end - i != 3 || strncasecmp(s + i, "CMD", 3) != 0)
		return invalid(x, n->pos, "must be NONE or [OPTIONS] CMD command");
	i = skip_spaces(s, end);
	if (!s[i])
		return invalid(x, n->pos, "CMD needs a command");
	if (s[i] == '[' && json_argv(&h->test, s + i, n->pos))
		return 0;
	cfg_list_add(&h->test, "CMD-SHELL", n->pos);
	cfg_list_add(&h->test, s + i, n->pos);
	return 0;
}

/* ---- the field table ---- */

const struct field cfg_docker_fields[] = {
	{.key = "WORKDIR", .type = T_STR, .off = IMG(docker.workdir)},
	{.key = "CMD", .type = T_LIST, .flags = F_EMPTY_OK | F_SHELL_FORM, .off = IMG(docker.cmd)},
	{.key = "ENTRYPOINT",
	 .type = T_LIST,
	 .flags = F_EMPTY_OK | F_SHELL_FORM,
	 .off = IMG(docker.entrypoint)},
	{.key = "EXPOSE",
	 .type = T_LIST,
	 .flags = F_WORDS,
	 .off = IMG(docker.expose),
	 .check = check_expose},
	{.key = "ENV",
	 .type = T_FN,
	 .off = IMG(docker.env),
	 .count_off = IMG(docker.n_env),
	 .fn = cfg_read_kv,
	 .check = check_env_name},
	{.key = "LABEL",
	 .type = T_FN,
	 .off = IMG(docker.labels),
	 .count_off = IMG(docker.n_labels),
	 .fn = cfg_read_kv},
	{.key = "VOLUME",
	 .type = T_LIST,
	 .flags = F_WORDS | F_JSON_WORDS,
	 .off = IMG(docker.volume)},
	{.key = "USER", .type = T_STR, .off = IMG(docker.user)},
	{.key = "STOPSIGNAL", .type = T_STR, .off = IMG(docker.stopsignal)},
	{.key = "ONBUILD",
	 .type = T_LIST,
	 .flags = F_DAPPFILE,
	 .off = IMG(docker.onbuild),
	 .check = check_onbuild},
	{.key = "HEALTHCHECK",
	 .type = T_FN,
	 .off = IMG(docker.healthcheck),
	 .fn = read_healthcheck},
	{.key = NULL},
};
