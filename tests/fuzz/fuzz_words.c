/* SPDX-License-Identifier: MIT */
/* Fuzz target: Dockerfile words, with both escape characters and a self-referencing value. */
#include "common.h"
#include "dockerfile/words.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every variable holds the fuzzed word itself: expansion must still stay bounded. */
static const char *lookup(const char *name, size_t len, void *ud)
{
	(void)name;
	return len % 3 == 0 ? NULL : len % 3 == 1 ? "" : ud;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cleanup_free char *w = xstrndup((const char *)data, size);
	static const char escapes[] = {'\\', '`'};

	for (size_t i = 0; i < ARRAY_SIZE(escapes); i++) {
		struct cairn_error *err = NULL;
		char *out = NULL;

		if (cairn_dockerfile_word(&out, (const char *)data, size, escapes[i], lookup, w,
					  &err) == 0) {
			if (!out || strlen(out) > CAIRN_WORD_MAX)
				abort();
		} else if (out || !err) {
			abort();
		}
		free(out);
		cairn_error_free(err);
	}
	return 0;
}
