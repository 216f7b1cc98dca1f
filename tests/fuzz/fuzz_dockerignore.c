/* SPDX-License-Identifier: MIT */
/* Fuzz target: .dockerignore patterns, then paths matched against them (the input's lines). */
#include "common.h"
#include "dockerfile/ignore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cairn_dockerignore *di = NULL;
	struct cairn_error *err = NULL;
	cleanup_free char *text = xstrndup((const char *)data, size);

	if (cairn_dockerignore_parse(&di, (const char *)data, size, ".dockerignore", &err) < 0) {
		if (di || !err)
			abort();
		cairn_error_free(err);
		return 0;
	}
	/* every line of the input as a path too: patterns meet paths that look like them */
	for (char *line = text, *nl; line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		(void)cairn_dockerignore_excluded(di, line);
	}
	(void)cairn_dockerignore_excluded(di, "a/b/c");
	cairn_dockerignore_free(di);
	return 0;
}
