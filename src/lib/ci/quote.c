/* SPDX-License-Identifier: MIT */
/* ci-env's script lines, values quoted for the shell that reads them; werf's colour rule. */
#include "common.h"
#include "ci/ci.h"

/* POSIX sh: inside '...' every byte is literal except ', written as '\'' (end, \', reopen). */
static void quote_sh(struct cairn_buf *b, const char *v)
{
	cairn_buf_addch(b, '\'');
	for (; *v; v++) {
		if (*v == '\'')
			cairn_buf_addstr(b, "'\\''");
		else
			cairn_buf_addch(b, *v);
	}
	cairn_buf_addch(b, '\'');
}

/*
 * The length of a PowerShell single quote at `v`, or 0: PowerShell ends a '...' string at any
 * of ' and U+2018..U+201B (‘ ’ ‚ ‛), and reads each of them doubled as one.
 */
static size_t ps_quote_len(const char *v)
{
	const unsigned char *u = (const unsigned char *)v;

	if (u[0] == '\'')
		return 1;
	if (u[0] == 0xe2 && u[1] == 0x80 && u[2] >= 0x98 && u[2] <= 0x9b)
		return 3;
	return 0;
}

static void quote_powershell(struct cairn_buf *b, const char *v)
{
	cairn_buf_addch(b, '\'');
	while (*v) {
		size_t n = ps_quote_len(v);

		if (n) {
			cairn_buf_add(b, v, n);
			cairn_buf_add(b, v, n);
			v += n;
		} else {
			cairn_buf_addch(b, *v++);
		}
	}
	cairn_buf_addch(b, '\'');
}

int cairn_ci_env_line(struct cairn_buf *b, enum cairn_ci_shell shell, const char *name,
		      const char *value, struct cairn_error **err)
{
	switch (shell) {
	case CAIRN_CI_SHELL_SH:
		cairn_buf_addf(b, "export %s=", name);
		quote_sh(b, value);
		break;
	case CAIRN_CI_SHELL_POWERSHELL:
		cairn_buf_addf(b, "$Env:%s = ", name);
		quote_powershell(b, value);
		break;
	case CAIRN_CI_SHELL_ENV_FILE:
		/* env files (docker --env-file, dotenv) take the rest of the line as it is */
		if (strpbrk(value, "\n\r"))
			return cairn_error_set(err, CAIRN_EINVAL,
					       "variable '%s': no line break fits in an env file",
					       name);
		cairn_buf_addf(b, "%s=%s", name, value);
		break;
	}
	cairn_buf_addch(b, '\n');
	return 0;
}

/* A dot-separated semver identifier list: [0-9A-Za-z-]+ (\. [0-9A-Za-z-]+)* */
static bool semver_ids(const char *s, size_t n)
{
	bool empty = true;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (empty)
				return false;
			empty = true;
		} else if ((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
			   (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '-') {
			empty = false;
		} else {
			return false;
		}
	}
	return !empty;
}

/*
 * Masterminds/semver v1, as werf reads CI_SERVER_VERSION: v?N(.N)?(.N)?(-PRE)?(+BUILD)?; a
 * missing minor or patch is 0. False when `s` is not such a version.
 */
static bool semver_parse(unsigned long long v[3], bool *prerelease, const char *s)
{
	const char *plus;

	v[0] = v[1] = v[2] = 0;
	*prerelease = false;
	if (*s == 'v')
		s++;
	for (int i = 0; i < 3; i++) {
		char *end;

		if (i > 0 && *s != '.')
			break;
		if (i > 0)
			s++;
		if (*s < '0' || *s > '9')
			return false;
		errno = 0;
		v[i] = strtoull(s, &end, 10);
		if (errno == ERANGE || v[i] > INT64_MAX)
			return false;
		s = end;
	}
	plus = strchr(s, '+');
	if (plus && !semver_ids(plus + 1, strlen(plus + 1)))
		return false;
	if (*s == '-') {
		*prerelease = true;
		return semver_ids(s + 1, plus ? (size_t)(plus - s - 1) : strlen(s + 1));
	}
	return s == plus || *s == '\0';
}

/* <0, 0, >0 as `v` (with `pre`) compares to the release a.b.c */
static int semver_cmp(const unsigned long long v[3], bool pre, unsigned long long a,
		      unsigned long long b, unsigned long long c)
{
	const unsigned long long w[3] = {a, b, c};

	for (int i = 0; i < 3; i++)
		if (v[i] != w[i])
			return v[i] < w[i] ? -1 : 1;
	return pre ? -1 : 0;
}

const char *cairn_ci_gitlab_color_mode(const char *server_version)
{
	unsigned long long v[3];
	bool pre;

	if (!server_version || !semver_parse(v, &pre, server_version))
		return "on";
	if (semver_cmp(v, pre, 12, 1, 3) > 0 && semver_cmp(v, pre, 12, 2, 0) < 0)
		return "off";
	return "on";
}
