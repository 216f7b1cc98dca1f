/* SPDX-License-Identifier: MIT */
/* Registry credentials: command line, GitLab CI, docker config.json and credential helpers. */
#ifndef CAIRN_REGISTRY_CREDS_H
#define CAIRN_REGISTRY_CREDS_H

#include <stddef.h>

#include "cairn/error.h"

/*
 * Credentials for one registry. Every member is owned (free with cairn_creds_release()).
 * Anonymous means username == NULL; otherwise username and password are both set (either may be
 * ""). When identity_token is set it is an OAuth2 refresh token for the registry's token
 * endpoint, and username/password are placeholders at most (docker writes "<token>").
 */
struct cairn_creds {
	char *username;	      /* NULL for anonymous */
	char *password;	      /* password or secret; NULL for anonymous */
	char *identity_token; /* docker config "identitytoken"; NULL if none */
	char *source;	      /* for messages: "command line", "docker config '<path>'" ... */
};

#define CAIRN_CREDS_INIT \
	{                \
		0        \
	}

struct cairn_creds_opts {
	const char *username;	       /* --registry-username; both or neither */
	const char *password;	       /* --registry-password */
	const char *docker_config_dir; /* --docker-config; NULL: $DOCKER_CONFIG, $HOME/.docker */
	/* NULL means getenv(); tests plug in a fake environment. Helpers get the real one. */
	const char *(*getenv_fn)(const char *name);
};

#define CAIRN_CREDS_OPTS_INIT \
	{                     \
		0             \
	}

/* A credential helper's answer on stdout may be at most this long. */
#define CAIRN_CREDS_HELPER_OUT_MAX (64 * 1024)

/*
 * Write `user`:`password` as the `auths` entry of `host` (Docker Hub: docker's key for it) in
 * the docker config, mode 0600, atomically, keeping every other entry. Where a credential
 * helper owns the host there, as docker login: they go to `docker-credential-NAME store` and
 * the config gets an empty entry.
 */
int cairn_creds_save(const struct cairn_creds_opts *o, const char *host, const char *user,
		     const char *password, struct cairn_error **err);
/*
 * Remove the `auths` entry of `host` (and what its credential helper keeps, `erase`);
 * CAIRN_ENOTFOUND when there is none.
 */
int cairn_creds_forget(const struct cairn_creds_opts *o, const char *host,
		       struct cairn_error **err);

/*
 * Find the credentials for registry `host` ("127.0.0.1:5000", "docker.io", "ghcr.io"), trying in
 * order: o->username/o->password; GitLab CI ($CI_REGISTRY equal to `host`, $CI_JOB_TOKEN); the
 * docker config (auths, credHelpers, credsStore; a helper is run as `docker-credential-NAME
 * get`); else anonymous (all NULL, source "anonymous"). A missing config file is no error. `o`
 * may be NULL. Secrets never appear in messages or logs.
 *
 * Returns CAIRN_EINVAL for half of a username/password pair or an unreadable or malformed
 * docker config (naming the file), CAIRN_EAUTH when a credential helper is missing or fails.
 */
int cairn_creds_lookup(struct cairn_creds *out, const struct cairn_creds_opts *o, const char *host,
		       struct cairn_error **err);

/* Zero the secrets, free every member and reset `c` to CAIRN_CREDS_INIT; accepts NULL. */
void cairn_creds_release(struct cairn_creds *c);

/*
 * Look `host` up in the docker config.json document (json, len) without running anything.
 * On success at most one of these holds: *out has credentials from an `auths` entry (source
 * NULL: the caller names the file); *helper_out names the helper to run (credHelpers[host],
 * else credsStore; the caller frees it); neither, when the file has nothing for `host`.
 * An `auths` entry with credentials wins over credsStore; credHelpers wins over both.
 *
 * Returns CAIRN_EINVAL for malformed JSON, members of the wrong type, bad base64 in `auth`
 * or an invalid helper name; messages name keys, never values.
 */
int cairn_docker_config_find(struct cairn_creds *out, char **helper_out, const char *json,
			     size_t len, const char *host, struct cairn_error **err);

#endif
