/* SPDX-License-Identifier: MIT */
/* `ci-env`: the environment werf v1.1's `werf ci-env` sets up for a CI job, as a shell script. */
#ifndef CAIRN_CI_ENV_H
#define CAIRN_CI_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include "cairn/common.h"
#include "cairn/error.h"

enum cairn_ci_system {
	CAIRN_CI_GITLAB,  /* werf's gitlab */
	CAIRN_CI_GITHUB,  /* werf's github (GitHub Actions and its docker.pkg.github.com) */
	CAIRN_CI_TRAVIS,  /* cairn's: Travis CI, no registry of its own */
	CAIRN_CI_GENERIC, /* cairn's: only what needs no CI system */
};

enum cairn_ci_tagging {
	CAIRN_CI_TAG_BY_STAGES_SIGNATURE, /* "stages-signature", werf v1.1's default */
	CAIRN_CI_TAG_OR_BRANCH,		  /* "tag-or-branch": the CI's git tag, else its branch */
};

enum cairn_ci_shell {
	CAIRN_CI_SHELL_SH,	   /* export NAME='value' for any POSIX shell */
	CAIRN_CI_SHELL_POWERSHELL, /* $Env:NAME = 'value' */
	CAIRN_CI_SHELL_ENV_FILE,   /* NAME=value, werf's --as-env-file */
};

/**
 * Parse a CI system ("gitlab", "github", "travis", "generic"), a tagging strategy
 * ("stages-signature", "tag-or-branch") or a shell ("", "default" and "sh" for a POSIX shell,
 * "powershell"). Anything else, and werf's "cmdexe" (values cannot be quoted safely for
 * cmd.exe), is CAIRN_EUSAGE naming the input.
 */
CAIRN_API int cairn_ci_system_parse(enum cairn_ci_system *out, const char *name,
				    struct cairn_error **err);
CAIRN_API int cairn_ci_tagging_parse(enum cairn_ci_tagging *out, const char *name,
				     struct cairn_error **err);
CAIRN_API int cairn_ci_shell_parse(enum cairn_ci_shell *out, const char *name,
				   struct cairn_error **err);

struct cairn_ci_env_opts {
	enum cairn_ci_system system;
	enum cairn_ci_tagging tagging;
	enum cairn_ci_shell shell;
	/* the docker config directory copied into the job's own: NULL: $DOCKER_CONFIG, else
	 * $HOME/.docker (a missing one gives an empty config) */
	const char *docker_config;
	const char *tmp_dir; /* where the job's docker config goes; NULL: $TMPDIR, else /tmp */
	/* github: the project whose werf.yaml names the images repository (NULL: the current
	 * directory; `config` NULL: the usual file names) */
	const char *dir;
	const char *config;
	const char *(*getenv_fn)(const char *name); /* NULL: getenv(3) */
};

#define CAIRN_CI_ENV_OPTS_INIT                                    \
	{                                                         \
		CAIRN_CI_GITLAB, CAIRN_CI_TAG_BY_STAGES_SIGNATURE \
	}

/**
 * The script of `werf ci-env` for `o->system` (werf v1.1.23's variables, names and values,
 * for gitlab and github; section headers as comments; a variable already set in the
 * environment is left alone, as werf does, except DOCKER_CONFIG). Values are quoted so that any
 * bytes (quotes, `$(...)`, line breaks) come out as they are; an empty value is a comment.
 *
 * It creates the job's docker config: a new directory (mode 0700) in the temporary directory
 * holding a copy of the user's config.json, plus, for gitlab, an `auths` entry for the host of
 * $CI_REGISTRY_IMAGE with gitlab-ci-token and $CI_JOB_TOKEN, and for github one for
 * docker.pkg.github.com with $GITHUB_ACTOR and $GITHUB_TOKEN (mode 0600; a `credHelpers` entry
 * for that host is dropped, so the entry is used). Secrets go into that file only: never into
 * the script or a message.
 *
 * On success `*script_out` is the script (the caller frees) and `*docker_config_out` the new
 * directory (the caller frees; the directory stays for the job). Returns CAIRN_EUSAGE for
 * tag-or-branch with generic, CAIRN_EINVAL for a missing CI variable (naming it), a value with a
 * line break for an env file, a bad config.json or werf.yaml (github), CAIRN_EOS when the
 * directory or file cannot be written.
 */
CAIRN_API int cairn_ci_env_script(char **script_out, char **docker_config_out,
				  const struct cairn_ci_env_opts *o, struct cairn_error **err);

/**
 * Write `script` to `path`, created or truncated (mode 0644 before the umask), or when `path`
 * is NULL to a new file "cairn-ci-env-XXXXXX" (".ps1" added for powershell) in `o->tmp_dir`
 * (NULL: $TMPDIR, else /tmp). `*path_out` (the caller frees) is the file written.
 * Returns CAIRN_EOS when it cannot be written.
 */
CAIRN_API int cairn_ci_env_save(char **path_out, const char *script, const char *path,
				const struct cairn_ci_env_opts *o, struct cairn_error **err);

#endif
