/* SPDX-License-Identifier: MIT */
/* cairn login, cairn logout: credentials in the docker config, as docker login writes them. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/registry.h"
#include "cli.h"

enum { OPT_USER = 'u', OPT_PASS = 'p', OPT_STDIN = 2700, OPT_DOCKER_CONFIG };

/* A registry as users write it: "https://host:5000/", "docker://host", "host/path": the host. */
static char *registry_host(const char *arg)
{
	static const char *const schemes[] = {"https://", "http://", "docker://"};
	const char *h = arg;

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (!strncmp(h, schemes[i], strlen(schemes[i])))
			h += strlen(schemes[i]);
	return strndup(h, strcspn(h, "/"));
}

/* The password on stdin, without the line break that ends it (never echoed, never logged). */
static char *read_password(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getdelim(&line, &cap, '\0', stdin);

	if (n < 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

static int run(const char *cmd, int argc, char **argv, struct cli_ctx *ctx, int login)
{
	static const struct option own[] = {
		{"username", required_argument, NULL, OPT_USER},
		{"password", required_argument, NULL, OPT_PASS},
		{"password-stdin", no_argument, NULL, OPT_STDIN},
		{"docker-config", required_argument, NULL, OPT_DOCKER_CONFIG},
		{NULL, 0, NULL, 0},
	};
	struct cairn_registry_opts o = CAIRN_REGISTRY_OPTS_INIT;
	struct cairn_error *err = NULL;
	const char *user = NULL, *pass = NULL;
	char *host = NULL, *from_stdin = NULL;
	int c, ret = CLI_EXIT_OK, use_stdin = 0;
	struct cli_args a;

	cli_args_init(&a, argc, argv, own, NULL);
	while ((c = getopt_long(a.argc, a.argv, ":u:p:" CLI_COMMON_SHORTOPTS, a.opts, NULL)) !=
	       -1) {
		int r = cli_common_opt(ctx, cmd, c, optarg);

		if (r == CLI_COMMON_EXIT)
			goto out;
		if (r)
			continue;
		if (c == OPT_USER && login)
			user = optarg;
		else if (c == OPT_PASS && login)
			pass = optarg;
		else if (c == OPT_STDIN && login)
			use_stdin = 1;
		else if (c == OPT_DOCKER_CONFIG)
			o.docker_config_dir = optarg;
		else {
			ret = cli_bad_option(cmd, c, a.argv);
			goto out;
		}
	}
	cli_ctx_finish(ctx);
	if (a.argc - optind != 1) {
		ret = cli_usage_error(cmd, "expected one registry (HOST[:PORT]), got %d",
				      a.argc - optind);
		goto out;
	}
	host = registry_host(a.argv[optind]);
	if (!host || !*host || !strcmp(host, "index.docker.io") ||
	    !strcmp(host, "registry-1.docker.io")) {
		free(host);
		host = strdup("docker.io");
	}
	if (login && (!user || (!pass && !use_stdin) || (pass && use_stdin))) {
		ret = cli_usage_error(cmd, "want -u USER and one of -p PASSWORD, --password-stdin");
		goto out;
	}
	if (login && use_stdin && !(pass = from_stdin = read_password())) {
		ret = cli_usage_error(cmd, "--password-stdin: no password on stdin");
		goto out;
	}
	if (login)
		ret = cairn_registry_login(&o, host, user, pass, &err);
	else
		ret = cairn_registry_logout(&o, host, &err);
	if (ret < 0) {
		ret = cli_fail(err);
		goto out;
	}
	printf(login ? "Login Succeeded (stored for %s; not checked against it)\n"
		     : "Removed the credentials of %s\n",
	       host);
out:
	if (from_stdin) {
		explicit_bzero(from_stdin, strlen(from_stdin));
		free(from_stdin);
	}
	free(host);
	cli_args_release(&a);
	return ret;
}

int cmd_login(int argc, char **argv, struct cli_ctx *ctx)
{
	return run("login", argc, argv, ctx, 1);
}

int cmd_logout(int argc, char **argv, struct cli_ctx *ctx)
{
	return run("logout", argc, argv, ctx, 0);
}
