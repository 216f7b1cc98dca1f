/* SPDX-License-Identifier: MIT */
/*
 * `ansible:` stages: what their signature covers (each task as canonical JSON, typed as werf
 * typed it, and the cache versions), and the tasks as the JSON a playbook is made of.
 */
#include "common.h"
#include "stage/stage_internal.h"
#include "util/json.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>

/*
 * A plain scalar typed as werf's YAML library (go-yaml v2, resolve.go) typed it before it
 * wrote the tasks out for ansible: null, the YAML 1.1 booleans (y, yes, on, true... in three
 * cases), integers as Go's ParseInt(s, 0, 64) reads them once '_' is dropped (0755 is octal,
 * 0x, 0o, 0b prefixes), floats; anything else stays a string.
 */
static bool word_in(const char *s, const char *const *v)
{
	for (; *v; v++)
		if (strcmp(s, *v) == 0)
			return true;
	return false;
}

static bool parse_int(const char *s, json_int_t *out)
{
	char digits[80];
	size_t n = 0;
	const char *p = s;
	bool neg = false;
	int base = 10;
	char *end;
	unsigned long long v;

	for (; *p && n < sizeof(digits) - 1; p++)
		if (*p != '_')
			digits[n++] = *p;
	if (*p)
		return false;
	digits[n] = '\0';
	p = digits;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		base = 16, p += 2;
	else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
		base = 8, p += 2;
	else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B'))
		base = 2, p += 2;
	else if (p[0] == '0' && p[1])
		base = 8, p += 1;
	if (!*p || !isalnum((unsigned char)*p))
		return false;
	errno = 0;
	v = strtoull(p, &end, base);
	if (*end || errno || v > (unsigned long long)INT64_MAX + neg)
		return false;
	*out = neg ? (json_int_t)(0 - v) : (json_int_t)v;
	return true;
}

static bool parse_float(const char *s, double *out)
{
	const char *p = s + (*s == '+' || *s == '-');
	size_t digits = strspn(p, "0123456789");
	char *end;

	/* go-yaml's ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
	if (digits == 0 && !(p[0] == '.' && isdigit((unsigned char)p[1])))
		return false;
	p += digits;
	if (*p == '.')
		p += 1 + strspn(p + 1, "0123456789");
	if (*p == 'e' || *p == 'E') {
		p++;
		p += *p == '+' || *p == '-';
		if (!isdigit((unsigned char)*p))
			return false;
		p += strspn(p, "0123456789");
	}
	if (*p)
		return false;
	errno = 0;
	*out = strtod(s, &end);
	return !*end && !errno && isfinite(*out);
}

static json_t *plain_json(const char *s)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
	static const char *const yes[] = {"y",	"Y",  "yes",  "Yes",  "YES",  "on",
					  "On", "ON", "true", "True", "TRUE", NULL};
	static const char *const no[] = {"n",	"N",   "no",	"No",	 "NO",	  "off",
					 "Off", "OFF", "false", "False", "FALSE", NULL};
	json_int_t i;
	double d;

	if (word_in(s, nulls))
		return json_null();
	if (word_in(s, yes))
		return json_true();
	if (word_in(s, no))
		return json_false();
	if (parse_int(s, &i))
		return json_integer(i);
	if (parse_float(s, &d))
		/* go-yaml writes 8.0 as 8, which ansible reads as an integer */
		return d == floor(d) && fabs(d) < 9e15 ? json_integer((json_int_t)d) : json_real(d);
	return json_string(s);
}

json_t *stage_ansible_json(const struct cairn_config_value *v)
{
	json_t *j;

	switch (v->kind) {
	case CAIRN_CONFIG_VALUE_SCALAR:
		return v->plain ? plain_json(v->text) : json_string(v->text);
	case CAIRN_CONFIG_VALUE_LIST:
		j = json_array();
		for (size_t i = 0; i < v->n; i++)
			json_array_append_new(j, stage_ansible_json(&v->items[i]));
		return j;
	case CAIRN_CONFIG_VALUE_MAP:
		j = json_object();
		for (size_t i = 0; i < v->n; i++)
			json_object_set_new(j, v->keys[i], stage_ansible_json(&v->items[i]));
		return j;
	case CAIRN_CONFIG_VALUE_NULL:
		break;
	}
	return json_null();
}

int stage_deps_ansible(struct strv *deps, const struct cairn_config_image *img,
		       enum cairn_config_user_stage us, struct cairn_error **err)
{
	const struct cairn_config_value *tasks = &img->ansible.tasks[us];

	for (size_t i = 0; i < tasks->n; i++) {
		CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
		cleanup_json json_t *j = stage_ansible_json(&tasks->items[i]);
		int ret = cairn_json_dump(&b, j, err);

		if (ret < 0)
			return ret;
		strv_add(deps, b.buf);
	}
	return 0;
}

int stage_build_ansible(struct stage_output *o, struct image_state *s, enum stage_id id,
			struct cairn_error **err)
{
	(void)o;
	return cairn_error_set(err, CAIRN_EINVAL,
			       "%s:%u:%u: image '%s': stage '%s': ansible stages cannot run yet",
			       s->b->config->file, s->img->ansible.pos.line,
			       s->img->ansible.pos.column, s->name, stage_kinds[id].name);
}
