/* SPDX-License-Identifier: MIT */
/* Fuzz target: docker config.json lookup for a few registries (never runs a credential helper). */
#include "common.h"
#include "registry/creds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool helper_name_ok(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");

	return n > 0 && s[n] == '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const hosts[] = {"127.0.0.1:5000", "docker.io", "ghcr.io",
					    "registry.gitlab.com"};

	for (size_t i = 0; i < ARRAY_SIZE(hosts); i++) {
		struct cairn_creds c = CAIRN_CREDS_INIT;
		struct cairn_error *err = NULL;
		char *helper = NULL;
		int ret;

		ret = cairn_docker_config_find(&c, &helper, (const char *)data, size, hosts[i],
					       &err);
		if (ret < 0) {
			/* failure leaves nothing behind and always explains itself */
			if (!err || !err->msg || c.username || helper)
				abort();
		} else {
			/* credentials or a helper to run, never both; a helper name is safe to exec
			 */
			if (err || (c.username && helper) || (helper && !helper_name_ok(helper)))
				abort();
			if (c.username && !c.password)
				abort();
		}
		free(helper);
		cairn_creds_release(&c);
		cairn_error_free(err);
	}
	return 0;
}
