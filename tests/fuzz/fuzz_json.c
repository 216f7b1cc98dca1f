/* SPDX-License-Identifier: MIT */
/* Fuzz target: JSON parsing and canonical output (parse, dump, re-parse, dump: same bytes). */
#include "common.h"
#include "util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cairn_error *err = NULL;
	struct cairn_buf a = CAIRN_BUF_INIT_MAX(1 << 20), b = CAIRN_BUF_INIT_MAX(1 << 20);
	json_t *j = NULL, *k = NULL;

	if (cairn_json_parse(&j, (const char *)data, size, "input", &err) == 0 &&
	    cairn_json_dump(&a, j, &err) == 0) {
		if (cairn_json_parse(&k, a.buf, a.len, "canonical", &err) < 0)
			abort();
		if (cairn_json_dump(&b, k, &err) < 0 || a.len != b.len ||
		    memcmp(a.buf, b.buf, a.len) != 0)
			abort();
	}
	json_decref(j);
	json_decref(k);
	cairn_error_free(err);
	cairn_buf_release(&a);
	cairn_buf_release(&b);
	return 0;
}
