/* SPDX-License-Identifier: MIT */
/* Fuzz target: werf.yaml template rendering, without the filesystem and within its limits. */
#include "common.h"
#include "cairn/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *fake_getenv(const char *name)
{
	return strcmp(name, "HOME") == 0 ? "/root" : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cairn_template_opts o = {
		.dir = "/nonexistent", .name = "fuzz.yaml", .getenv_fn = fake_getenv};
	struct cairn_error *err = NULL;
	char *out = (char *)&out;
	size_t len = 1;
	int ret;

	ret = cairn_template_render(&out, &len, (const char *)data, size, &o, &err);
	if (ret == 0) {
		if (err || !out || out[len] != '\0' || len > CAIRN_TEMPLATE_OUTPUT_MAX)
			abort();
		free(out);
	} else if (out || len || !err || (ret != CAIRN_EINVAL && ret != CAIRN_ETOOBIG) ||
		   err->code != (enum cairn_code)ret || strncmp(err->msg, "fuzz.yaml:", 10) != 0) {
		abort();
	}
	cairn_error_free(err);
	return 0;
}
