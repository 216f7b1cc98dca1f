/* SPDX-License-Identifier: MIT */
/* Inside `ci-env`: script lines, quoting, werf's GitLab colour rule, the job's docker config. */
#ifndef CAIRN_CI_CI_H
#define CAIRN_CI_CI_H

#include <stdbool.h>

#include "cairn/ci_env.h"
#include "util/buf.h"

/*
 * Append the line that sets `name` to `value` in `shell`: `export NAME='value'` (a ' inside
 * becomes '\''), `$Env:NAME = 'value'` (each of PowerShell's five single quotes doubled), or
 * `NAME=value`. Any bytes come out as they are when a shell reads the line back; an env file
 * cannot hold a line break: CAIRN_EINVAL naming `name` (never the value).
 */
int cairn_ci_env_line(struct cairn_buf *b, enum cairn_ci_shell shell, const char *name,
		      const char *value, struct cairn_error **err);

/*
 * werf's WERF_LOG_COLOR_MODE for GitLab: "off" for a GitLab version (CI_SERVER_VERSION, semver)
 * above 12.1.3 and below 12.2.0, whose job logs showed colours wrong; else "on". NULL is "on".
 */
const char *cairn_ci_gitlab_color_mode(const char *server_version);

/* Credentials written into the job's docker config. */
struct ci_login {
	const char *host;   /* the `auths` key: a registry host[:port] */
	const char *user;   /* borrowed */
	const char *secret; /* borrowed; never in a message */
};

/*
 * Create the job's docker config: a new directory "cairn-docker-config-XXXXXX" (mode 0700) in
 * `tmp_dir` with a copy of `from_dir`/config.json (none: no file, or `{}` when logging in), and
 * with `login` (may be NULL) as its `auths` entry, mode 0600. `*dir_out` is the new directory
 * (the caller frees). Nothing is left behind on failure. CAIRN_EINVAL for a config.json that is
 * not a JSON object or has `auths`/`credHelpers` of the wrong type (naming the file, never its
 * text), CAIRN_EOS when a file cannot be read or written.
 */
int cairn_ci_docker_config_new(char **dir_out, const char *from_dir, const char *tmp_dir,
			       const struct ci_login *login, struct cairn_error **err);

#endif
