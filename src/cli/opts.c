/* SPDX-License-Identifier: MIT */
/* Options several commands share: registry access and cairn's home directory. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/log.h"
#include "cairn/oci.h"
#include "cairn/store.h"
#include "cli.h"

enum {
	OPT_JOBS = 'j',
	OPT_INSECURE = 3000,
	OPT_DOCKER_CONFIG,
	OPT_USERNAME,
	OPT_PASSWORD,
	OPT_CERTS_DIR,
	OPT_TIMEOUT,
};

const struct option cli_registry_options[] = {
	{"jobs", required_argument, NULL, OPT_JOBS},
	{"insecure-registry", required_argument, NULL, OPT_INSECURE},
	{"docker-config", required_argument, NULL, OPT_DOCKER_CONFIG},
	{"registry-username", required_argument, NULL, OPT_USERNAME},
	{"registry-password", required_argument, NULL, OPT_PASSWORD},
	{"certs-dir", required_argument, NULL, OPT_CERTS_DIR},
	{"registry-timeout", required_argument, NULL, OPT_TIMEOUT},
	{NULL, 0, NULL, 0},
};

int cli_registry_opt(struct cairn_image_opts *o, struct cli_registry_args *ra, const char *cmd,
		     int c, const char *arg, int *ret)
{
	char *end;
	long v;

	switch (c) {
	case OPT_JOBS:
		v = strtol(arg, &end, 10);
		if (!*arg || *end || v < 1 || v > 64) {
			*ret = cli_usage_error(cmd, "invalid --jobs '%s': want 1 to 64", arg);
			return -1;
		}
		o->jobs = (int)v;
		return 1;
	case OPT_INSECURE:
		ra->insecure = realloc(ra->insecure, (ra->n_insecure + 1) * sizeof(char *));
		if (!ra->insecure)
			abort();
		ra->insecure[ra->n_insecure++] = arg;
		return 1;
	case OPT_DOCKER_CONFIG:
		o->registry.docker_config_dir = arg;
		return 1;
	case OPT_USERNAME:
		o->registry.username = arg;
		return 1;
	case OPT_PASSWORD:
		o->registry.password = arg;
		return 1;
	case OPT_CERTS_DIR:
		o->registry.certs_dir = arg;
		return 1;
	case OPT_TIMEOUT:
		v = strtol(arg, &end, 10);
		if (!*arg || *end || v < 1 || v > (long)CAIRN_REGISTRY_TIMEOUT_MAX) {
			*ret = cli_usage_error(cmd, "invalid --registry-timeout '%s': want 1 to %u",
					       arg, CAIRN_REGISTRY_TIMEOUT_MAX);
			return -1;
		}
		o->registry.timeout_secs = (unsigned)v;
		return 1;
	default:
		return 0;
	}
}

int cli_registry_finish(struct cairn_image_opts *o, struct cli_registry_args *ra, const char *cmd,
			int *ret)
{
	o->registry.insecure = ra->insecure;
	o->registry.n_insecure = ra->n_insecure;
	if (!o->registry.username != !o->registry.password) {
		*ret = cli_usage_error(cmd,
				       "--registry-username and --registry-password go together");
		return -1;
	}
	return 0;
}

void cli_credential_hosts(struct cairn_image_opts *o, struct cli_registry_args *ra,
			  const char *const *refs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct cairn_ref r = CAIRN_REF_INIT;
		struct cairn_error *e = NULL;

		if (!refs[i] || refs[i][0] == ':' || cairn_ref_parse(&r, refs[i], &e) < 0) {
			cairn_error_free(e);
			continue;
		}
		ra->cred_hosts = realloc(ra->cred_hosts, (ra->n_cred_hosts + 1) * sizeof(char *));
		if (!ra->cred_hosts)
			abort();
		ra->cred_hosts[ra->n_cred_hosts++] = strdup(r.domain);
		cairn_ref_release(&r);
	}
	o->registry.credential_hosts = (const char *const *)ra->cred_hosts;
	o->registry.n_credential_hosts = ra->n_cred_hosts;
	/* credentials for no registry at all: for none, rather than for every one */
	if (!ra->n_cred_hosts && o->registry.username) {
		cairn_log(CAIRN_LOG_WARN,
			  "--registry-username is for the registry of the images "
			  "repository or the stages storage, and there is none: unused");
		o->registry.username = o->registry.password = NULL;
	}
}

void cli_registry_args_release(struct cli_registry_args *ra)
{
	for (size_t i = 0; i < ra->n_cred_hosts; i++)
		free(ra->cred_hosts[i]);
	free(ra->cred_hosts);
	ra->cred_hosts = NULL;
	ra->n_cred_hosts = 0;
	free(ra->insecure);
	ra->insecure = NULL;
	ra->n_insecure = 0;
}

int cli_store_open(struct cairn_store **st, const char *home, struct cairn_error **err)
{
	struct cairn_home h;
	int ret;

	cairn_home_paths(&h, home);
	ret = cairn_store_open(st, h.store, err);
	cairn_home_release(&h);
	return ret;
}

char *cli_home(const struct cli_ctx *ctx, struct cairn_error **err)
{
	const char *home;
	char *out = NULL;

	if (ctx->home_dir) {
		out = strdup(ctx->home_dir);
		if (!out)
			abort();
	} else {
		home = getenv("HOME");
		if (!home || !*home) {
			cairn_error_set(err, CAIRN_EINVAL,
					"no home directory: set --home-dir or CAIRN_HOME");
			return NULL;
		}
		if (asprintf(&out, "%s/.cairn", home) < 0)
			abort();
	}
	if (cairn_home_prepare(out, err) < 0) {
		free(out);
		return NULL;
	}
	return out;
}

const char *cli_stages_storage(const char *arg)
{
	return strcmp(arg, ":local") == 0 ? NULL : arg;
}

/* Append `arg` to the growing list `*v`. */
static void push_arg(const char ***v, size_t *n, size_t *alloc, const char *arg)
{
	if (*n == *alloc) {
		*alloc = *alloc ? 2 * *alloc : 8;
		*v = realloc(*v, *alloc * sizeof(**v));
		if (!*v)
			abort();
	}
	(*v)[(*n)++] = arg;
}

int cli_dockerfile_opt(struct cli_dockerfile *d, int c, const char *arg)
{
	switch (c) {
	case CLI_OPT_DOCKERFILE:
		d->src.file = arg;
		return 1;
	case CLI_OPT_TARGET:
		d->src.target = arg;
		return 1;
	case CLI_OPT_DF_SSH:
		d->src.ssh = arg;
		return 1;
	case CLI_OPT_SECRET:
		push_arg(&d->secrets, &d->n_secrets, &d->alloc_secrets, arg);
		return 1;
	case CLI_OPT_BUILD_ARG:
		push_arg(&d->args, &d->n_args, &d->alloc, arg);
		return 1;
	default:
		return 0;
	}
}

int cli_dockerfile_finish(struct cli_dockerfile *d, struct cairn_build_opts *bo, const char *cmd,
			  char **pos, size_t *n_pos, int *ret)
{
	bo->dockerfile = NULL;
	bo->secrets = d->secrets;
	bo->n_secrets = d->n_secrets;
	if (!d->src.file) {
		if (d->src.target || d->n_args || d->src.ssh) {
			*ret = cli_usage_error(
				cmd, "--target, --build-arg and --ssh need --dockerfile FILE");
			return -1;
		}
		return 0;
	}
	if (*n_pos > 1) {
		*ret = cli_usage_error(
			cmd, "with --dockerfile, one operand: the context (not '%s')", pos[1]);
		return -1;
	}
	if (*n_pos == 1)
		d->src.context = pos[0];
	*n_pos = 0;
	d->src.args = d->args;
	d->src.n_args = d->n_args;
	bo->dockerfile = &d->src;
	return 0;
}

void cli_dockerfile_release(struct cli_dockerfile *d)
{
	free(d->args);
	free(d->secrets);
}
