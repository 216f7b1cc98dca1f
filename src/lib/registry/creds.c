/* SPDX-License-Identifier: MIT */
/* Registry credentials in the order of spec section 7; secrets stay out of messages and logs. */
#include "common.h"
#include "util/base64.h"
#include "cairn/registry.h"
#include "registry/creds.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <strings.h>
#include <sys/wait.h>

#define DOCKER_HUB_SERVER_URL "https://index.docker.io/v1/"
#define GITLAB_USER "gitlab-ci-token"
/* the username docker and the credential helpers use to mark an identity token */
#define TOKEN_USER "<token>"
#define HELPER_PREFIX "docker-credential-"
/* a config.json names a few dozen registries at most */
#define CONFIG_MAX (4u * 1024 * 1024)
/* reads of this size or less need no reallocation, which would leave copies of secrets behind */
#define CONFIG_PREALLOC (64u * 1024)
#define HELPER_NAME_MAX 64
/* a server URL asked of a helper */
#define SERVER_URL_MAX 1024
/* what is written into a helper's stdin pipe before it starts: below any pipe's capacity */
#define HELPER_INPUT_MAX 16384
/* how much of a key or a helper name a message quotes */
#define SHOWN_MAX 100

/* Heap bytes that may hold secrets: zeroed before they are freed. */
struct secret_buf {
	char *p;
	size_t len;
	size_t alloc;
};

static void secret_buf_release(struct secret_buf *s)
{
	if (s->p) {
		explicit_bzero(s->p, s->alloc);
		free(s->p);
	}
	s->p = NULL;
	s->len = 0;
	s->alloc = 0;
}

static void buf_release_zero(struct cairn_buf *b)
{
	if (b->alloc)
		explicit_bzero(b->buf, b->alloc);
	cairn_buf_release(b);
}

static void free_secret(char **p)
{
	if (*p) {
		explicit_bzero(*p, strlen(*p));
		free(*p);
	}
	*p = NULL;
}

void cairn_creds_release(struct cairn_creds *c)
{
	if (!c)
		return;
	free_secret(&c->username);
	free_secret(&c->password);
	free_secret(&c->identity_token);
	free(c->source);
	c->source = NULL;
}

static const char *real_getenv(const char *name)
{
	return getenv(name);
}

/* An environment variable, or NULL when it is unset or empty. */
static const char *env(const struct cairn_creds_opts *o, const char *name)
{
	const char *v = o->getenv_fn ? o->getenv_fn(name) : real_getenv(name);

	return v && *v ? v : NULL;
}

static void set_creds(struct cairn_creds *c, const char *user, const char *pass, const char *token)
{
	c->username = xstrdup(user ? user : "");
	c->password = xstrdup(pass ? pass : "");
	c->identity_token = token && *token ? xstrdup(token) : NULL;
}

static bool is_docker_hub(const char *h, size_t n)
{
	static const char *const names[] = {"docker.io", "index.docker.io", "registry-1.docker.io"};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strlen(names[i]) == n && strncasecmp(h, names[i], n) == 0)
			return true;
	return false;
}

/*
 * How well a config key names `host`: 2 for the key docker itself writes (the host, or
 * https://index.docker.io/v1/ for Docker Hub), 1 for the same host with a scheme and/or an
 * API-version path, 0 for another registry. Keys with other paths (podman's per-repository
 * entries) do not match: their credentials may belong to a different namespace.
 */
static int key_rank(const char *key, const char *host, bool hub)
{
	static const char *const paths[] = {"", "/", "/v1", "/v1/", "/v2", "/v2/"};
	const char *h = key;
	bool same;
	size_t n;

	if (strcasecmp(key, host) == 0 || (hub && strcmp(key, DOCKER_HUB_SERVER_URL) == 0))
		return 2;
	if (strncasecmp(h, "https://", 8) == 0)
		h += 8;
	else if (strncasecmp(h, "http://", 7) == 0)
		h += 7;
	n = strcspn(h, "/");
	if (hub)
		same = is_docker_hub(h, n);
	else
		same = strlen(host) == n && strncasecmp(h, host, n) == 0;
	if (!same)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		if (strcmp(h + n, paths[i]) == 0)
			return 1;
	return 0;
}

/* The member of `obj` whose key names `host` best; the first in file order among equals. */
static json_t *find_key(const char **key_out, json_t *obj, const char *host)
{
	bool hub = is_docker_hub(host, strlen(host));
	const char *best_key = NULL;
	json_t *best = NULL;
	int best_rank = 0;

	/* jansson keeps objects in insertion order */
	for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
		const char *key = json_object_iter_key(it);
		int r = key_rank(key, host, hub);

		if (r > best_rank) {
			best_rank = r;
			best = json_object_iter_value(it);
			best_key = key;
		}
	}
	*key_out = best_key;
	return best;
}

/*
 * jansson's messages quote the text near the error ("near '\"s3cr3t\"'"), which may be a
 * secret, so only the error class and its position are reported.
 */
static const char *json_reason(const json_error_t *e)
{
	switch (json_error_code(e)) {
	case json_error_invalid_utf8:
		return "invalid UTF-8";
	case json_error_premature_end_of_input:
		return "unexpected end of input";
	case json_error_end_of_input_expected:
		return "text after the document";
	case json_error_null_character:
		return "NUL character in a string";
	case json_error_numeric_overflow:
		return "number out of range";
	case json_error_stack_overflow:
		return "nested too deeply";
	default:
		return "syntax error";
	}
}

static int parse_object(json_t **out, const char *data, size_t len, enum cairn_code code,
			struct cairn_error **err)
{
	json_error_t jerr;
	json_t *j;

	*out = NULL;
	j = json_loadb(data, len, 0, &jerr);
	if (!j)
		return cairn_error_set(err, code, "invalid JSON at line %d column %d: %s",
				       jerr.line, jerr.column, json_reason(&jerr));
	if (!json_is_object(j)) {
		json_decref(j);
		return cairn_error_set(err, code, "not a JSON object");
	}
	*out = j;
	return 0;
}

static bool valid_helper_name(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");

	return n > 0 && n <= HELPER_NAME_MAX && s[n] == '\0';
}

static int take_helper(char **out, const char *name, const char *where, struct cairn_error **err)
{
	if (!valid_helper_name(name))
		return cairn_error_set(err, CAIRN_EINVAL,
				       "%s: invalid credential helper name '%.*s' (allowed: "
				       "A-Z a-z 0-9 . _ -)",
				       where, SHOWN_MAX, name);
	*out = xstrdup(name);
	return 0;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Standard base64 into s->p (allocated by the caller, 3/4 of the input plus 4 bytes). Padding
 * is optional but must be right when present; line breaks are skipped as Go's decoder does.
 */
static bool b64_decode(struct secret_buf *s, const char *in)
{
	size_t chars = 0, pad = 0;
	uint32_t acc = 0;
	int bits = 0;

	s->len = 0;
	for (; *in; in++) {
		int v;

		if (*in == '\r' || *in == '\n')
			continue;
		if (*in == '=') {
			pad++;
			continue;
		}
		v = b64_value(*in);
		if (v < 0 || pad)
			return false;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		chars++;
		if (bits >= 8) {
			bits -= 8;
			s->p[s->len++] = (char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (chars % 4 == 1 || pad > 2 || (pad && (chars + pad) % 4 != 0))
		return false;
	s->p[s->len] = '\0';
	return true;
}

/* `auth` is base64("user:password"); the password may itself hold ':'. */
static int decode_auth(struct cairn_creds *out, const char *auth, const char *token,
		       const char *where, struct cairn_error **err)
{
	CLEANUP(secret_buf_release) struct secret_buf s = {0};
	char *colon;

	s.alloc = strlen(auth) / 4 * 3 + 4;
	s.p = xmalloc(s.alloc);
	if (!b64_decode(&s, auth))
		return cairn_error_set(err, CAIRN_EINVAL, "%s: 'auth' is not valid base64", where);
	if (memchr(s.p, '\0', s.len))
		return cairn_error_set(err, CAIRN_EINVAL, "%s: 'auth' holds a NUL byte", where);
	colon = strchr(s.p, ':');
	if (!colon)
		return cairn_error_set(err, CAIRN_EINVAL,
				       "%s: 'auth' is not base64 of 'username:password'", where);
	*colon = '\0';
	set_creds(out, s.p, colon + 1, token);
	return 0;
}

static int parse_auth_entry(struct cairn_creds *out, const json_t *entry, const char *key,
			    struct cairn_error **err)
{
	cleanup_free char *where = xasprintf("'auths' entry '%.*s'", SHOWN_MAX, key);
	const char *auth, *user, *pass, *token;
	int ret;

	if (!json_is_object(entry))
		return cairn_error_set(err, CAIRN_EINVAL, "%s is not an object", where);
	ret = cairn_json_get_string(&auth, entry, "auth", 0, where, err);
	if (ret == 0)
		ret = cairn_json_get_string(&user, entry, "username", 0, where, err);
	if (ret == 0)
		ret = cairn_json_get_string(&pass, entry, "password", 0, where, err);
	if (ret == 0)
		ret = cairn_json_get_string(&token, entry, "identitytoken", 0, where, err);
	if (ret < 0)
		return ret;
	/* docker: a non-empty `auth` replaces username and password */
	if (auth && *auth)
		return decode_auth(out, auth, token, where, err);
	if ((user && *user) || (pass && *pass) || (token && *token))
		set_creds(out, user, pass, token);
	return 0;
}

/* A member of the document's top level: NULL when absent or null, an error for a wrong type. */
static int top_member(json_t **out, const json_t *root, const char *key, json_type type,
		      struct cairn_error **err)
{
	json_t *v = json_object_get(root, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (json_typeof(v) != type)
		return cairn_error_set(err, CAIRN_EINVAL, "'%s' is not %s", key,
				       type == JSON_OBJECT ? "an object" : "a string");
	*out = v;
	return 0;
}

int cairn_docker_config_find(struct cairn_creds *out, char **helper_out, const char *json,
			     size_t len, const char *host, struct cairn_error **err)
{
	CLEANUP(cairn_creds_release) struct cairn_creds c = CAIRN_CREDS_INIT;
	cleanup_json json_t *root = NULL;
	json_t *auths = NULL, *helpers = NULL, *v = NULL;
	const char *store = NULL, *key = NULL;
	int ret;

	*out = (struct cairn_creds)CAIRN_CREDS_INIT;
	*helper_out = NULL;
	ret = parse_object(&root, json, len, CAIRN_EINVAL, err);
	if (ret < 0)
		return ret;
	ret = top_member(&auths, root, "auths", JSON_OBJECT, err);
	if (ret == 0)
		ret = top_member(&helpers, root, "credHelpers", JSON_OBJECT, err);
	if (ret == 0)
		ret = top_member(&v, root, "credsStore", JSON_STRING, err);
	if (ret < 0)
		return ret;
	store = v ? json_string_value(v) : NULL;

	v = helpers ? find_key(&key, helpers, host) : NULL;
	if (v && !json_is_string(v))
		return cairn_error_set(err, CAIRN_EINVAL,
				       "'credHelpers' entry '%.*s' is not a string", SHOWN_MAX,
				       key);
	if (v && *json_string_value(v)) {
		cleanup_free char *where = xasprintf("'credHelpers' entry '%.*s'", SHOWN_MAX, key);

		return take_helper(helper_out, json_string_value(v), where, err);
	}

	v = auths ? find_key(&key, auths, host) : NULL;
	if (v) {
		ret = parse_auth_entry(&c, v, key, err);
		if (ret < 0)
			return ret;
		if (c.username) {
			*out = c;
			c = (struct cairn_creds)CAIRN_CREDS_INIT;
			return 0;
		}
	}

	/* entries without credentials are the markers docker writes when a store holds them */
	if (store && *store)
		return take_helper(helper_out, store, "'credsStore'", err);
	return 0;
}

/* A pipe whose ends are close-on-exec and above 2, so dup2 onto 0-2 in the child never clashes. */
static int make_pipe(int fds[2], struct cairn_error **err)
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return cairn_error_set_errno(err, "create a pipe");
	for (int i = 0; i < 2; i++) {
		if (fds[i] <= 2) {
			int fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);

			if (fd < 0) {
				cairn_error_set_errno(err, "create a pipe");
				close(fds[0]);
				close(fds[1]);
				fds[0] = fds[1] = -1;
				return CAIRN_EOS;
			}
			close(fds[i]);
			fds[i] = fd;
		}
	}
	return 0;
}

static void close_pipe(int (*fds)[2])
{
	closep(&(*fds)[0]);
	closep(&(*fds)[1]);
}

/*
 * Start `prog ACTION` with `input` already waiting on its stdin: written before the child
 * exists, it cannot raise SIGPIPE in us if the helper exits without reading it.
 */
static int spawn_helper(pid_t *pid_out, int *out_fd, int *err_fd, const char *prog,
			const char *action, const char *input, struct cairn_error **err)
{
	CLEANUP(close_pipe) int in[2] = {-1, -1};
	CLEANUP(close_pipe) int out[2] = {-1, -1};
	CLEANUP(close_pipe) int errp[2] = {-1, -1};
	char *const argv[] = {(char *)prog, (char *)action, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t mask;
	int ret;

	*pid_out = -1;
	if (make_pipe(in, err) < 0 || make_pipe(out, err) < 0 || make_pipe(errp, err) < 0)
		return CAIRN_EOS;
	ret = cairn_fs_write_all(in[1], input, strlen(input), "credential helper stdin", err);
	if (ret < 0)
		return ret;
	closep(&in[1]);
	in[1] = -1;

	if (posix_spawn_file_actions_init(&fa) != 0)
		abort();
	if (posix_spawnattr_init(&attr) != 0)
		abort();
	/* a caller that ignores SIGPIPE or blocks signals must not pass that on to the helper */
	sigemptyset(&mask);
	posix_spawnattr_setsigmask(&attr, &mask);
	sigaddset(&mask, SIGPIPE);
	posix_spawnattr_setsigdefault(&attr, &mask);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
	ret = posix_spawnp(pid_out, prog, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (ret != 0) {
		*pid_out = -1;
		errno = ret;
		if (ret == ENOENT)
			return cairn_error_set(err, CAIRN_EAUTH,
					       "credential helper '%s': not found in PATH", prog);
		cairn_error_set_errno(err, "credential helper '%s': cannot run it", prog);
		if (err && *err)
			(*err)->code = CAIRN_EAUTH;
		return CAIRN_EAUTH;
	}
	*out_fd = TAKE_FD(out[0]);
	*err_fd = TAKE_FD(errp[0]);
	return 0;
}

/*
 * Read stdout (up to the cap, plus one byte to notice more) until EOF, and drain stderr: what a
 * helper says there may quote the secret it was handling, so it is read only to be dropped.
 */
static int collect(struct secret_buf *o, int ofd, int efd, const char *prog,
		   struct cairn_error **err)
{
	struct pollfd p[2] = {{.fd = ofd, .events = POLLIN}, {.fd = efd, .events = POLLIN}};

	while (p[0].fd >= 0 || p[1].fd >= 0) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return cairn_error_set_errno(err, "credential helper '%s': poll", prog);
		}
		for (int i = 0; i < 2; i++) {
			char chunk[1024];
			ssize_t n;

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			if (i == 0)
				n = read(p[i].fd, o->p + o->len, o->alloc - 1 - o->len);
			else
				n = read(p[i].fd, chunk, sizeof(chunk));
			if (n < 0) {
				if (errno == EINTR || errno == EAGAIN)
					continue;
				return cairn_error_set_errno(err, "credential helper '%s': read",
							     prog);
			}
			if (n == 0) {
				p[i].fd = -1;
				continue;
			}
			if (i == 1) {
				explicit_bzero(chunk, (size_t)n);
				continue;
			}
			o->len += (size_t)n;
			if (o->len > CAIRN_CREDS_HELPER_OUT_MAX)
				return cairn_error_set(err, CAIRN_EAUTH,
						       "credential helper '%s': answer larger than "
						       "%d bytes",
						       prog, CAIRN_CREDS_HELPER_OUT_MAX);
		}
	}
	o->p[o->len] = '\0';
	return 0;
}

/* Which way the helper failed: its exit status or signal, never its words. */
static int helper_failed(const char *prog, int status, struct cairn_error **err)
{
	if (WIFEXITED(status))
		return cairn_error_set(err, CAIRN_EAUTH, "credential helper '%s': exit status %d",
				       prog, WEXITSTATUS(status));
	return cairn_error_set(err, CAIRN_EAUTH, "credential helper '%s': killed by signal %d",
			       prog, WTERMSIG(status));
}

/* {"ServerURL": .., "Username": .., "Secret": ..}; Username "<token>" marks an identity token. */
static int parse_answer(struct cairn_creds *out, const char *data, size_t len, const char *prog,
			struct cairn_error **err)
{
	cleanup_json json_t *j = NULL;
	json_t *user, *secret;
	const char *u, *s;

	if (parse_object(&j, data, len, CAIRN_EAUTH, err) < 0)
		return cairn_error_wrap(err, "credential helper '%s': answer", prog);
	user = json_object_get(j, "Username");
	secret = json_object_get(j, "Secret");
	if ((user && !json_is_string(user) && !json_is_null(user)) ||
	    (secret && !json_is_string(secret) && !json_is_null(secret)))
		return cairn_error_set(err, CAIRN_EAUTH,
				       "credential helper '%s': answer: 'Username' and 'Secret' "
				       "must be strings",
				       prog);
	u = json_is_string(user) ? json_string_value(user) : "";
	s = json_is_string(secret) ? json_string_value(secret) : "";
	if (!*u && !*s)
		return 0;
	if (strcmp(u, TOKEN_USER) == 0)
		set_creds(out, u, "", s);
	else
		set_creds(out, u, s, NULL);
	return 0;
}

/*
 * Run `prog action` with `input` on its stdin until it exits: its stdout into `o` (bounded),
 * its exit status into *status. What it says on stderr is read and dropped.
 */
static int helper_exec(struct secret_buf *o, int *status, const char *prog, const char *action,
		       const char *input, struct cairn_error **err)
{
	cleanup_close int ofd = -1;
	cleanup_close int efd = -1;
	pid_t pid;
	int ret;

	if (strlen(input) > HELPER_INPUT_MAX)
		return cairn_error_set(err, CAIRN_EINVAL,
				       "credential helper '%s': input longer than %d bytes", prog,
				       HELPER_INPUT_MAX);
	ret = spawn_helper(&pid, &ofd, &efd, prog, action, input, err);
	if (ret < 0)
		return ret;
	o->alloc = CAIRN_CREDS_HELPER_OUT_MAX + 2;
	o->p = xmalloc(o->alloc);
	ret = collect(o, ofd, efd, prog, err);
	if (ret < 0)
		kill(pid, SIGKILL);
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR)
			return ret < 0 ? ret
				       : cairn_error_set_errno(err, "credential helper '%s': wait",
							       prog);
	}
	return ret;
}

/* Run `docker-credential-NAME get`; no credentials leaves `out` anonymous. */
static int run_helper(struct cairn_creds *out, const char *name, const char *server_url,
		      struct cairn_error **err)
{
	cleanup_free char *prog = xasprintf(HELPER_PREFIX "%s", name);
	CLEANUP(secret_buf_release) struct secret_buf o = {0};
	int status = 0, ret;

	if (strlen(server_url) > SERVER_URL_MAX)
		return cairn_error_set(err, CAIRN_EINVAL, "registry name longer than %d bytes",
				       SERVER_URL_MAX);
	ret = helper_exec(&o, &status, prog, "get", server_url, err);
	if (ret < 0)
		return ret;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		/* docker-credential-helpers' ErrCredentialsNotFound, printed on stdout */
		if (WIFEXITED(status) && memmem(o.p, o.len, "credentials not found", 21))
			return 0;
		return helper_failed(prog, status, err);
	}
	return parse_answer(out, o.p, o.len, prog, err);
}

/*
 * `docker-credential-NAME store|erase` with `input` on stdin (the credentials as JSON, or the
 * server URL): 0, CAIRN_ENOTFOUND when erase finds nothing, else its failure (never its words).
 */
static int run_helper_action(const char *name, const char *action, const char *input,
			     struct cairn_error **err)
{
	cleanup_free char *prog = xasprintf(HELPER_PREFIX "%s", name);
	CLEANUP(secret_buf_release) struct secret_buf o = {0};
	int status = 0, ret = helper_exec(&o, &status, prog, action, input, err);

	if (ret < 0)
		return ret;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status) && memmem(o.p, o.len, "credentials not found", 21))
		return cairn_error_set(err, CAIRN_ENOTFOUND,
				       "credential helper '%s' has no credentials for it", prog);
	return helper_failed(prog, status, err);
}

/* <dir>/config.json: --docker-config, else $DOCKER_CONFIG, else $HOME/.docker; NULL if none. */
static char *config_path(const struct cairn_creds_opts *o)
{
	const char *dir = o->docker_config_dir && *o->docker_config_dir ? o->docker_config_dir
									: env(o, "DOCKER_CONFIG");
	const char *home = env(o, "HOME");
	size_t n;

	if (dir) {
		n = strlen(dir);
		while (n > 1 && dir[n - 1] == '/')
			n--;
		return xasprintf("%.*s/config.json", (int)n, dir);
	}
	if (home)
		return xasprintf("%s/.docker/config.json", home);
	return NULL;
}

static int read_config(struct cairn_buf *raw, bool *found, const char *path,
		       struct cairn_error **err)
{
	struct cairn_error *e = NULL;
	int ret;

	*found = false;
	cairn_buf_grow(raw, CONFIG_PREALLOC);
	ret = cairn_fs_read_at(AT_FDCWD, path, raw, &e);
	if (ret == CAIRN_ENOTFOUND) {
		cairn_error_free(e);
		return 0;
	}
	if (ret < 0) {
		int sys_errno = e ? e->sys_errno : 0;

		cairn_error_free(e);
		if (sys_errno == 0)
			return cairn_error_set(err, CAIRN_EINVAL,
					       "docker config '%s': larger than %u bytes", path,
					       CONFIG_MAX);
		ret = cairn_error_set(err, CAIRN_EINVAL, "docker config '%s': cannot read it: %s",
				      path, strerror(sys_errno));
		if (err && *err)
			(*err)->sys_errno = sys_errno;
		return ret;
	}
	*found = true;
	return 0;
}

/* The credentials for `host` in the config file `path` (`what`: "docker config", ...). */
static int from_config_file(struct cairn_creds *c, const char *what, const char *path,
			    const char *host, struct cairn_error **err)
{
	CLEANUP(buf_release_zero) struct cairn_buf raw = CAIRN_BUF_INIT_MAX(CONFIG_MAX);
	cleanup_free char *helper = NULL;
	bool found;
	int ret;

	ret = read_config(&raw, &found, path, err);
	if (ret < 0)
		return ret;
	if (!found) {
		cairn_log(CAIRN_LOG_DEBUG, "no %s at '%s'", what, path);
		return 0;
	}
	ret = cairn_docker_config_find(c, &helper, raw.buf, raw.len, host, err);
	if (ret < 0)
		return cairn_error_wrap(err, "%s '%s'", what, path);
	if (c->username) {
		c->source = xasprintf("%s '%s'", what, path);
		return 0;
	}
	if (!helper)
		return 0;
	ret = run_helper(c, helper,
			 is_docker_hub(host, strlen(host)) ? DOCKER_HUB_SERVER_URL : host, err);
	if (ret < 0)
		return ret;
	if (c->username)
		c->source = xasprintf("credential helper '" HELPER_PREFIX "%s'", helper);
	else
		cairn_log(CAIRN_LOG_DEBUG,
			  "credential helper '" HELPER_PREFIX "%s' has nothing for '%s'", helper,
			  host);
	return 0;
}

/*
 * The docker config; then, unless --docker-config names one, the auth files of skopeo and
 * podman: $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json, then
 * $HOME/.config/containers/auth.json. The first with credentials for `host` wins.
 */
static int from_docker_config(struct cairn_creds *c, const struct cairn_creds_opts *o,
			      const char *host, struct cairn_error **err)
{
	cleanup_free char *path = config_path(o);
	const char *auth_file = env(o, "REGISTRY_AUTH_FILE");
	const char *runtime = env(o, "XDG_RUNTIME_DIR");
	const char *home = env(o, "HOME");
	char *more[2] = {NULL, NULL};
	int ret = 0;

	if (path)
		ret = from_config_file(c, "docker config", path, host, err);
	else
		cairn_log(CAIRN_LOG_DEBUG,
			  "no docker config: neither DOCKER_CONFIG nor HOME is set");
	if (ret < 0 || c->username || (o->docker_config_dir && *o->docker_config_dir))
		return ret;
	if (auth_file && *auth_file)
		more[0] = xstrdup(auth_file);
	else if (runtime && *runtime)
		more[0] = xasprintf("%s/containers/auth.json", runtime);
	if (home && *home)
		more[1] = xasprintf("%s/.config/containers/auth.json", home);
	for (size_t i = 0; i < 2 && ret == 0 && !c->username; i++)
		if (more[i])
			ret = from_config_file(c, "containers auth file", more[i], host, err);
	free(more[0]);
	free(more[1]);
	return ret;
}

int cairn_creds_lookup(struct cairn_creds *out, const struct cairn_creds_opts *o, const char *host,
		       struct cairn_error **err)
{
	static const struct cairn_creds_opts defaults = CAIRN_CREDS_OPTS_INIT;
	CLEANUP(cairn_creds_release) struct cairn_creds c = CAIRN_CREDS_INIT;
	const char *ci_registry, *ci_token;
	int ret;

	assert(host);
	*out = (struct cairn_creds)CAIRN_CREDS_INIT;
	if (!o)
		o = &defaults;
	if (!*host)
		return cairn_error_set(err, CAIRN_EINVAL,
				       "look up credentials: empty registry name");
	if (!o->username != !o->password)
		return cairn_error_set(err, CAIRN_EINVAL,
				       "--registry-username and --registry-password go together");
	ci_registry = env(o, "CI_REGISTRY");
	ci_token = env(o, "CI_JOB_TOKEN");
	if (o->username) {
		set_creds(&c, o->username, o->password, NULL);
		c.source = xstrdup("command line");
	} else if (ci_registry && ci_token && strcasecmp(ci_registry, host) == 0) {
		set_creds(&c, GITLAB_USER, ci_token, NULL);
		c.source = xstrdup("GitLab CI");
	} else {
		ret = from_docker_config(&c, o, host, err);
		if (ret < 0)
			return cairn_error_wrap(err, "credentials for '%s'", host);
	}
	if (!c.username) {
		cairn_creds_release(&c);
		c.source = xstrdup("anonymous");
	}
	cairn_log(CAIRN_LOG_DEBUG, "registry '%s': credentials from %s", host, c.source);
	*out = c;
	c = (struct cairn_creds)CAIRN_CREDS_INIT;
	return 0;
}

/* ---- login and logout: the `auths` entry of the docker config ---- */

static void free_zero(char **p)
{
	if (*p) {
		explicit_bzero(*p, strlen(*p));
		free(*p);
	}
	*p = NULL;
}

/* The docker config as JSON (an empty object when there is none) and its path. */
static int load_for_edit(json_t **out, char **path_out, const struct cairn_creds_opts *o,
			 struct cairn_error **err)
{
	CLEANUP(buf_release_zero) struct cairn_buf raw = CAIRN_BUF_INIT_MAX(CONFIG_MAX);
	cleanup_free char *path = config_path(o);
	bool found = false;
	int ret;

	*out = NULL;
	if (!path)
		return cairn_error_set(
			err, CAIRN_EINVAL,
			"no docker config: set DOCKER_CONFIG or HOME, or --docker-config");
	ret = read_config(&raw, &found, path, err);
	if (ret < 0)
		return ret;
	if (!found)
		*out = json_object();
	else if (parse_object(out, raw.buf, raw.len, CAIRN_EINVAL, err) < 0)
		return cairn_error_wrap(err, "docker config '%s'", path);
	*path_out = TAKE_PTR(path);
	return 0;
}

/* A credential helper that owns `host` in this config: its name, or NULL. */
static const char *helper_for(json_t *cfg, const char *key)
{
	const char *h =
		json_string_value(json_object_get(json_object_get(cfg, "credHelpers"), key));

	return h ? h : json_string_value(json_object_get(cfg, "credsStore"));
}

static int save_config(const char *path, json_t *cfg, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	cleanup_free char *dir = xstrdup(path);
	int ret;

	*strrchr(dir, '/') = '\0';
	ret = cairn_fs_mkdirs_at(AT_FDCWD, dir, 0700, err);
	if (ret == 0)
		ret = cairn_json_dump(&b, cfg, err);
	if (ret == 0)
		cairn_buf_addch(&b, '\n');
	if (ret == 0)
		ret = cairn_fs_write_atomic_at(AT_FDCWD, path, b.buf, b.len, 0600, err);
	explicit_bzero(b.buf, b.len);
	return ret;
}

int cairn_creds_save(const struct cairn_creds_opts *o, const char *host, const char *user,
		     const char *password, struct cairn_error **err)
{
	cleanup_json json_t *cfg = NULL;
	cleanup_free char *path = NULL;
	const char *key = is_docker_hub(host, strlen(host)) ? DOCKER_HUB_SERVER_URL : host;
	CLEANUP(free_zero) char *up = xasprintf("%s:%s", user, password);
	CLEANUP(free_zero) char *b64 = NULL;
	const char *helper;
	json_t *auths;
	int ret = load_for_edit(&cfg, &path, o, err);

	if (ret < 0)
		return ret;
	helper = helper_for(cfg, key);
	auths = json_object_get(cfg, "auths");
	if (!json_is_object(auths)) {
		auths = json_object();
		json_object_set_new(cfg, "auths", auths);
	}
	if (helper) {
		/* as docker login: the helper keeps them, the config an empty entry */
		cleanup_json json_t *in = json_pack("{s:s, s:s, s:s}", "ServerURL", key, "Username",
						    user, "Secret", password);
		CLEANUP(free_zero) char *text = json_dumps(in, JSON_COMPACT);

		ret = text ? run_helper_action(helper, "store", text, err)
			   : cairn_error_set(err, CAIRN_EINVAL, "cannot serialise JSON");
		if (ret < 0)
			return cairn_error_wrap(err, "log in to '%s'", host);
		if (!json_object_get(auths, key))
			json_object_set_new(auths, key, json_object());
		ret = save_config(path, cfg, err);
		return ret < 0 ? cairn_error_wrap(err, "log in to '%s'", host) : 0;
	}
	b64 = cairn_base64_encode(up, strlen(up));
	json_object_set_new(auths, key, json_pack("{s:s}", "auth", b64));
	ret = save_config(path, cfg, err);
	/* the config's copy of the secret goes with the JSON tree, which jansson frees */
	return ret < 0 ? cairn_error_wrap(err, "log in to '%s'", host) : 0;
}

int cairn_creds_forget(const struct cairn_creds_opts *o, const char *host, struct cairn_error **err)
{
	cleanup_json json_t *cfg = NULL;
	cleanup_free char *path = NULL;
	const char *key = is_docker_hub(host, strlen(host)) ? DOCKER_HUB_SERVER_URL : host;
	json_t *auths;
	int ret = load_for_edit(&cfg, &path, o, err);

	if (ret < 0)
		return ret;
	auths = json_object_get(cfg, "auths");
	if (helper_for(cfg, key)) {
		/* as docker logout: the helper forgets them, the config's entry goes */
		ret = run_helper_action(helper_for(cfg, key), "erase", key, err);
		if (ret == CAIRN_ENOTFOUND && json_object_get(auths, key)) {
			cairn_error_clear(err);
			ret = 0;
		}
		if (ret < 0)
			return cairn_error_wrap(err, "log out of '%s'", host);
		if (!json_object_get(auths, key))
			return 0;
	} else if (!json_object_get(auths, key)) {
		return cairn_error_set(err, CAIRN_ENOTFOUND, "'%s' has no credentials for '%s'",
				       path, host);
	}
	json_object_del(auths, key);
	return save_config(path, cfg, err);
}

int cairn_registry_login(const struct cairn_registry_opts *o, const char *host, const char *user,
			 const char *password, struct cairn_error **err)
{
	struct cairn_creds_opts co = CAIRN_CREDS_OPTS_INIT;

	co.docker_config_dir = o ? o->docker_config_dir : NULL;
	return cairn_creds_save(&co, host, user, password, err);
}

int cairn_registry_logout(const struct cairn_registry_opts *o, const char *host,
			  struct cairn_error **err)
{
	struct cairn_creds_opts co = CAIRN_CREDS_OPTS_INIT;

	co.docker_config_dir = o ? o->docker_config_dir : NULL;
	return cairn_creds_forget(&co, host, err);
}
