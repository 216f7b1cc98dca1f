/* SPDX-License-Identifier: MIT */
/* cairn build: build the images of werf.yaml, printing a tree of their stages. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cairn/build.h"
#include "cairn/report.h"
#include "cli.h"

enum {
	OPT_DIR = 2100,
	OPT_CONFIG,
	OPT_TEMPLATES_DIR,
	OPT_RUNTIME,
	OPT_REPORT,
	OPT_REPORT_FORMAT,
	OPT_SSH_KEY,
	OPT_DRY_RUN,
	OPT_STAGES_STORAGE = 's',
};

int cli_ssh_agent(struct cairn_ssh_agent **out, const char *const *keys, size_t n_keys,
		  struct cairn_error **err)
{
	int ret;

	*out = NULL;
	if (n_keys == 0)
		return 0;
	ret = cairn_ssh_agent_start(out, keys, n_keys, err);
	if (ret < 0)
		return ret;
	/* before any thread starts: libgit2 reads it from the environment */
	if (setenv("SSH_AUTH_SOCK", cairn_ssh_agent_socket(*out), 1) < 0) {
		cairn_ssh_agent_free(*out);
		*out = NULL;
		return cairn_error_set_errno(err, "set SSH_AUTH_SOCK");
	}
	return 0;
}

int cmd_build(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option own[] = {
		{"dir", required_argument, NULL, OPT_DIR},
		{"config", required_argument, NULL, OPT_CONFIG},
		{"config-templates-dir", required_argument, NULL, OPT_TEMPLATES_DIR},
		{"runtime", required_argument, NULL, OPT_RUNTIME},
		{"report", required_argument, NULL, OPT_REPORT},
		{"report-path", required_argument, NULL, OPT_REPORT},
		{"report-format", required_argument, NULL, OPT_REPORT_FORMAT},
		{"stages-storage", required_argument, NULL, OPT_STAGES_STORAGE},
		{"ssh-key", required_argument, NULL, OPT_SSH_KEY},
		{"dry-run", no_argument, NULL, OPT_DRY_RUN},
		CLI_DOCKERFILE_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	struct cairn_build_opts o = CAIRN_BUILD_OPTS_INIT;
	struct cli_registry_args ra = {0};
	struct cairn_build_result *res = NULL;
	struct cairn_ssh_agent *agent = NULL;
	struct cli_progress ps = {0};
	struct cli_dockerfile df = {0};
	struct cairn_error *err = NULL;
	struct cli_args a;
	size_t n_pos;
	const char *report = NULL, **keys = NULL;
	enum cairn_report_format format = CAIRN_REPORT_JSON;
	size_t n_keys = 0;
	char *home = NULL;
	int c, ret = CLI_EXIT_OK, quiet;

	cli_args_init(&a, argc, argv, own, cli_registry_options);
	keys = calloc((size_t)a.argc, sizeof(*keys));
	if (!keys)
		abort();
	while ((c = getopt_long(a.argc, a.argv, ":j:s:f:" CLI_COMMON_SHORTOPTS, a.opts, NULL)) !=
	       -1) {
		int r = cli_common_opt(ctx, "build", c, optarg);

		if (r == CLI_COMMON_EXIT)
			goto out;
		if (r || cli_dockerfile_opt(&df, c == 'f' ? CLI_OPT_DOCKERFILE : c, optarg))
			continue;
		r = cli_registry_opt(&o.pull, &ra, "build", c, optarg, &ret);
		if (r < 0)
			goto out;
		if (r)
			continue;
		switch (c) {
		case OPT_DIR:
			o.dir = optarg;
			break;
		case OPT_CONFIG:
			o.config_file = optarg;
			break;
		case OPT_TEMPLATES_DIR:
			o.config_templates_dir = optarg;
			break;
		case OPT_RUNTIME:
			o.runtime = optarg;
			break;
		case OPT_REPORT:
			report = optarg;
			break;
		case OPT_REPORT_FORMAT:
			if (cairn_report_format_parse(&format, optarg, &err) < 0) {
				ret = cli_fail_cmd("build", err);
				goto out;
			}
			break;
		case OPT_STAGES_STORAGE:
			o.stages_storage = cli_stages_storage(optarg);
			break;
		case OPT_SSH_KEY:
			keys[n_keys++] = optarg;
			break;
		case OPT_DRY_RUN:
			/* what is stored and what a build would build; nothing built or pushed */
			o.no_build = 1;
			o.stop_at_missing = 1;
			break;
		default:
			ret = cli_bad_option("build", c, a.argv);
			goto out;
		}
	}
	if (cli_registry_finish(&o.pull, &ra, "build", &ret) < 0)
		goto out;
	n_pos = (size_t)(a.argc - optind);
	if (cli_dockerfile_finish(&df, &o, "build", a.argv + optind, &n_pos, &ret) < 0)
		goto out;
	cli_ctx_finish(ctx);
	cli_credential_hosts(&o.pull, &ra, &o.stages_storage, 1);
	home = cli_home(ctx, &err);
	if (!home) {
		ret = cli_fail(err);
		goto out;
	}
	if (cli_ssh_agent(&agent, keys, n_keys, &err) < 0) {
		ret = cli_fail(err);
		goto out;
	}
	quiet = ctx->verbosity < 0;
	o.home = home;
	o.ssh_auth_sock = getenv("SSH_AUTH_SOCK");
	o.images = (const char *const *)a.argv + optind;
	o.n_images = n_pos;
	o.event = cli_on_build_event;
	o.event_ud = &quiet;
	cli_progress_init(&ps, quiet);
	o.pull.progress = cli_on_progress;
	o.pull.progress_ud = &ps;
	o.keep_partial = report != NULL;
	ret = cairn_build(&res, &o, &err) < 0 ? -1 : CLI_EXIT_OK;
	cli_progress_end(&ps);
	if (ret < 0) {
		struct cairn_error *e = NULL;

		if (report &&
		    cairn_report_write(NULL, res, o.stages_storage, err, report, format, &e) < 0) {
			fprintf(stderr, "cairn: warning: %s\n", e->msg);
			cairn_error_free(e);
		}
		ret = cli_fail_cmd("build", err);
		goto out;
	}
	if (report &&
	    cairn_report_write(NULL, res, o.stages_storage, NULL, report, format, &err) < 0) {
		ret = cli_fail(err);
		goto out;
	}
out:
	cairn_build_result_free(res);
	cairn_ssh_agent_free(agent);
	free(keys);
	free(home);
	cli_dockerfile_release(&df);
	cli_registry_args_release(&ra);
	cli_args_release(&a);
	return ret;
}
