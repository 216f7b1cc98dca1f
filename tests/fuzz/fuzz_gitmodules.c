/* SPDX-License-Identifier: MIT */
/* Fuzz target: .gitmodules files, as a repository (a hostile one) may hold them. */
#include "common.h"
#include "git/git.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const bases[] = {"https://git.example.com/group/project.git",
					    "git@example.com:group/project", "/srv/repo", ""};

	for (size_t i = 0; i < ARRAY_SIZE(bases); i++) {
		struct cairn_error *err = NULL;
		size_t n = 0;

		if (cairn_git_modules_check(&n, (const char *)data, size, bases[i], &err) < 0 &&
		    !err)
			abort();
		cairn_error_free(err);
	}
	return 0;
}
