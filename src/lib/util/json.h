/* SPDX-License-Identifier: MIT */
/* JSON helpers over jansson: bounded parsing with clear errors and canonical compact output. */
#ifndef CAIRN_UTIL_JSON_H
#define CAIRN_UTIL_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "cairn/error.h"
#include "util/buf.h"

/* jansson >= 2.9 provides json_decrefp() for its own json_auto_t. */
#define cleanup_json __attribute__((cleanup(json_decrefp)))

/*
 * Parse `len` bytes as one JSON value. Duplicate object keys are refused (two readers could
 * otherwise disagree on a manifest). CAIRN_EINVAL names `what`, the line and column.
 */
int cairn_json_parse(json_t **out, const char *data, size_t len, const char *what,
		     struct cairn_error **err);

/*
 * Append the canonical form of `j` to `b`: compact, object keys sorted, UTF-8 unescaped, so
 * that equal documents give equal bytes (and equal digests). Returns CAIRN_ETOOBIG past b->max.
 */
int cairn_json_dump(struct cairn_buf *b, const json_t *j, struct cairn_error **err);

/*
 * Typed member access. `*out` is borrowed from `obj`. A missing member is CAIRN_ENOTFOUND
 * when `required`, else 0 with *out = NULL (or 0); a member of the wrong type is CAIRN_EINVAL
 * naming `what` and the key.
 */
int cairn_json_get_string(const char **out, const json_t *obj, const char *key, int required,
			  const char *what, struct cairn_error **err);
int cairn_json_get_u64(uint64_t *out, const json_t *obj, const char *key, int required,
		       const char *what, struct cairn_error **err);
int cairn_json_get_object(json_t **out, const json_t *obj, const char *key, int required,
			  const char *what, struct cairn_error **err);
int cairn_json_get_array(json_t **out, const json_t *obj, const char *key, int required,
			 const char *what, struct cairn_error **err);

#endif
