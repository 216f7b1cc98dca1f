/* SPDX-License-Identifier: MIT */
/* JSON helpers over jansson. */
#include "common.h"
#include "util/json.h"
#include "util/text.h"

int cairn_json_parse(json_t **out, const char *data, size_t len, const char *what,
		     struct cairn_error **err)
{
	json_error_t jerr;
	json_t *j;

	*out = NULL;
	j = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!j) {
		/* jansson quotes the text near the error: one line, whatever the input holds */
		struct cairn_buf b = CAIRN_BUF_INIT;
		int ret;

		cairn_buf_add_shown(&b, jerr.text, strlen(jerr.text), false);
		ret = cairn_error_set(err, CAIRN_EINVAL, "parse %s: line %d column %d: %s", what,
				      jerr.line, jerr.column, b.buf);
		cairn_buf_release(&b);
		return ret;
	}
	*out = j;
	return 0;
}

static int dump_cb(const char *p, size_t n, void *data)
{
	struct cairn_buf *b = data;

	cairn_buf_add(b, p, n);
	return b->err ? -1 : 0;
}

int cairn_json_dump(struct cairn_buf *b, const json_t *j, struct cairn_error **err)
{
	if (json_dump_callback(j, dump_cb, b, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) <
	    0) {
		if (b->err)
			return cairn_buf_check(b, err);
		return cairn_error_set(err, CAIRN_EINVAL, "cannot serialise JSON");
	}
	return 0;
}

static int member(json_t **out, const json_t *obj, const char *key, int required, const char *what,
		  struct cairn_error **err)
{
	*out = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	if (!*out || json_is_null(*out)) {
		*out = NULL;
		if (required)
			return cairn_error_set(err, CAIRN_ENOTFOUND, "%s: missing '%s'", what, key);
	}
	return 0;
}

int cairn_json_get_string(const char **out, const json_t *obj, const char *key, int required,
			  const char *what, struct cairn_error **err)
{
	json_t *v;
	int ret = member(&v, obj, key, required, what, err);

	*out = NULL;
	if (ret < 0 || !v)
		return ret;
	if (!json_is_string(v))
		return cairn_error_set(err, CAIRN_EINVAL, "%s: '%s' is not a string", what, key);
	*out = json_string_value(v);
	return 0;
}

int cairn_json_get_u64(uint64_t *out, const json_t *obj, const char *key, int required,
		       const char *what, struct cairn_error **err)
{
	json_t *v;
	int ret = member(&v, obj, key, required, what, err);

	*out = 0;
	if (ret < 0 || !v)
		return ret;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return cairn_error_set(err, CAIRN_EINVAL, "%s: '%s' is not a non-negative integer",
				       what, key);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

int cairn_json_get_object(json_t **out, const json_t *obj, const char *key, int required,
			  const char *what, struct cairn_error **err)
{
	int ret = member(out, obj, key, required, what, err);

	if (ret < 0 || !*out)
		return ret;
	if (!json_is_object(*out)) {
		*out = NULL;
		return cairn_error_set(err, CAIRN_EINVAL, "%s: '%s' is not an object", what, key);
	}
	return 0;
}

int cairn_json_get_array(json_t **out, const json_t *obj, const char *key, int required,
			 const char *what, struct cairn_error **err)
{
	int ret = member(out, obj, key, required, what, err);

	if (ret < 0 || !*out)
		return ret;
	if (!json_is_array(*out)) {
		*out = NULL;
		return cairn_error_set(err, CAIRN_EINVAL, "%s: '%s' is not an array", what, key);
	}
	return 0;
}
