/* SPDX-License-Identifier: MIT */
/* Tag options (spec section 5): command-line tag requests resolved into tags and schemes. */
#include "common.h"
#include "cairn/tags.h"
#include "cairn/oci.h"
#include "cairn/slug.h"

/* Longer values are cropped in messages, as in ref.c. */
#define SHOWN_MAX 100

struct option_info {
	const char *name;
	bool takes_value;
};

static const struct option_info options[] = {
	[CAIRN_TAG_OPT_TAG] = {"tag", true},
	[CAIRN_TAG_OPT_TAG_SLUG] = {"tag-slug", true},
	[CAIRN_TAG_OPT_TAG_CUSTOM] = {"tag-custom", true},
	[CAIRN_TAG_OPT_TAG_PLAIN] = {"tag-plain", true},
	[CAIRN_TAG_OPT_TAG_BRANCH] = {"tag-branch", false},
	[CAIRN_TAG_OPT_TAG_GIT_BRANCH] = {"tag-git-branch", true},
	[CAIRN_TAG_OPT_TAG_GIT_TAG] = {"tag-git-tag", true},
	[CAIRN_TAG_OPT_TAG_COMMIT] = {"tag-commit", false},
	[CAIRN_TAG_OPT_TAG_GIT_COMMIT] = {"tag-git-commit", true},
	[CAIRN_TAG_OPT_TAG_BUILD_ID] = {"tag-build-id", false},
	[CAIRN_TAG_OPT_TAG_CI] = {"tag-ci", false},
	[CAIRN_TAG_OPT_TAG_BY_STAGES_SIGNATURE] = {"tag-by-stages-signature", false},
};

static const char *const scheme_names[] = {
	[CAIRN_TAG_SCHEME_CUSTOM] = "custom",
	[CAIRN_TAG_SCHEME_GIT_BRANCH] = "git_branch",
	[CAIRN_TAG_SCHEME_GIT_TAG] = "git_tag",
	[CAIRN_TAG_SCHEME_GIT_COMMIT] = "git_commit",
	[CAIRN_TAG_SCHEME_CI] = "ci",
	[CAIRN_TAG_SCHEME_STAGES_SIGNATURE] = "stages_signature",
};

/* The tag one request gives, before de-duplication. */
struct resolved {
	char *tag; /* owned */
	enum cairn_tag_scheme scheme;
};

const char *cairn_tag_scheme_name(enum cairn_tag_scheme s)
{
	if ((size_t)s >= ARRAY_SIZE(scheme_names))
		return "unknown";
	return scheme_names[s];
}

int cairn_tag_option_parse(enum cairn_tag_option *out, int *takes_value, const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
		if (strcmp(options[i].name, name) == 0) {
			*out = (enum cairn_tag_option)i;
			if (takes_value)
				*takes_value = options[i].takes_value;
			return 0;
		}
	}
	return CAIRN_ENOTFOUND;
}

void cairn_tags_free(struct cairn_tag *tags, size_t n)
{
	if (!tags)
		return;
	for (size_t i = 0; i < n; i++)
		free(tags[i].tag);
	free(tags);
}

static const char *libc_getenv(const char *name)
{
	return getenv(name);
}

/* The variable's value, or NULL when it is unset or empty (the spec treats both alike). */
static const char *env(const char *(*getenv_fn)(const char *), const char *name)
{
	const char *v = getenv_fn(name);

	return v && v[0] ? v : NULL;
}

/*
 * The reason part of a cairn_tag_validate() message ("invalid tag '<value>': <reason>"), so our
 * message can name the option instead of repeating the value; the whole message if its shape is
 * unexpected.
 */
static const char *validate_reason(const struct cairn_error *e, size_t len)
{
	static const char head[] = "invalid tag '";
	size_t skip = sizeof(head) - 1 + (len > SHOWN_MAX ? SHOWN_MAX + 3 : len);
	size_t mlen = strlen(e->msg);

	if (mlen < skip + 3 || strncmp(e->msg, head, sizeof(head) - 1) != 0 ||
	    strncmp(e->msg + skip, "': ", 3) != 0)
		return e->msg;
	return e->msg + skip + 3;
}

/* A value used as the tag itself: it must already be a valid tag. */
static int take_plain(struct resolved *r, const char *opt, const char *v,
		      enum cairn_tag_scheme scheme, struct cairn_error **err)
{
	struct cairn_error *verr = NULL;
	size_t len = strlen(v);
	int ret;

	if (cairn_tag_validate(v, len, &verr) < 0) {
		ret = cairn_error_set(err, CAIRN_EINVAL, "invalid --%s '%.*s%s': %s", opt,
				      len > SHOWN_MAX ? SHOWN_MAX : (int)len, v,
				      len > SHOWN_MAX ? "..." : "", validate_reason(verr, len));
		cairn_error_free(verr);
		return ret;
	}
	r->tag = xstrdup(v);
	r->scheme = scheme;
	return 0;
}

static void take_slug(struct resolved *r, const char *v, enum cairn_tag_scheme scheme)
{
	r->tag = cairn_slugify(CAIRN_SLUG_TAG, v, strlen(v));
	r->scheme = scheme;
}

static bool is_hex40(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == 40;
}

/*
 * The first non-empty of the two GitLab variables: CI_COMMIT_* replaced CI_BUILD_* in GitLab 9,
 * so the old name is a fallback (for --tag-build-id the spec puts CI_BUILD_ID first).
 */
static const char *env2(const char *(*getenv_fn)(const char *), const char *a, const char *b)
{
	const char *v = env(getenv_fn, a);

	return v ? v : env(getenv_fn, b);
}

static int resolve_build_id(struct resolved *r, const char *(*getenv_fn)(const char *),
			    struct cairn_error **err)
{
	const char *v = NULL;

	if (env(getenv_fn, "GITLAB_CI"))
		v = env2(getenv_fn, "CI_BUILD_ID", "CI_JOB_ID");
	else if (env(getenv_fn, "TRAVIS"))
		v = env(getenv_fn, "TRAVIS_BUILD_NUMBER");
	else if (env(getenv_fn, "GITHUB_ACTIONS"))
		v = env(getenv_fn, "GITHUB_RUN_ID");
	if (!v)
		return cairn_error_set(err, CAIRN_EINVAL,
				       "--tag-build-id: CI environment required");
	return take_plain(r, "tag-build-id", v, CAIRN_TAG_SCHEME_CI, err);
}

static int resolve_ci(struct resolved *r, const char *(*getenv_fn)(const char *),
		      struct cairn_error **err)
{
	const char *tag = NULL, *branch = NULL;

	if (env(getenv_fn, "GITLAB_CI")) {
		tag = env2(getenv_fn, "CI_COMMIT_TAG", "CI_BUILD_TAG");
		branch = env2(getenv_fn, "CI_COMMIT_REF_NAME", "CI_BUILD_REF_NAME");
	} else if (env(getenv_fn, "TRAVIS")) {
		tag = env(getenv_fn, "TRAVIS_TAG");
		branch = env(getenv_fn, "TRAVIS_BRANCH");
	} else if (env(getenv_fn, "GITHUB_ACTIONS")) {
		const char *type = env(getenv_fn, "GITHUB_REF_TYPE");

		if (type && strcmp(type, "tag") == 0)
			tag = env(getenv_fn, "GITHUB_REF_NAME");
		else
			branch = env(getenv_fn, "GITHUB_REF_NAME");
	}
	if (tag)
		take_slug(r, tag, CAIRN_TAG_SCHEME_GIT_TAG);
	else if (branch)
		take_slug(r, branch, CAIRN_TAG_SCHEME_GIT_BRANCH);
	else
		return cairn_error_set(err, CAIRN_EINVAL, "--tag-ci: CI environment required");
	return 0;
}

static int resolve_one(struct resolved *r, const struct cairn_tag_request *q,
		       const struct cairn_tag_context *ctx, const char *(*getenv_fn)(const char *),
		       struct cairn_error **err)
{
	const char *opt, *v = q->value;

	if ((size_t)q->option >= ARRAY_SIZE(options))
		return cairn_error_set(err, CAIRN_EINVAL, "unknown tag option %d", (int)q->option);
	opt = options[q->option].name;
	if (options[q->option].takes_value) {
		if (!v)
			return cairn_error_set(err, CAIRN_EINVAL, "--%s: missing value", opt);
		if (!v[0])
			return cairn_error_set(err, CAIRN_EINVAL, "invalid --%s '': empty value",
					       opt);
	} else if (v) {
		return cairn_error_set(err, CAIRN_EINVAL, "--%s takes no value", opt);
	}

	switch (q->option) {
	case CAIRN_TAG_OPT_TAG:
	case CAIRN_TAG_OPT_TAG_SLUG:
	case CAIRN_TAG_OPT_TAG_CUSTOM:
		take_slug(r, v, CAIRN_TAG_SCHEME_CUSTOM);
		return 0;
	case CAIRN_TAG_OPT_TAG_PLAIN:
		return take_plain(r, opt, v, CAIRN_TAG_SCHEME_CUSTOM, err);
	case CAIRN_TAG_OPT_TAG_BRANCH:
		if (ctx && ctx->git_branch && ctx->git_branch[0]) {
			take_slug(r, ctx->git_branch, CAIRN_TAG_SCHEME_GIT_BRANCH);
			return 0;
		}
		if (ctx && ctx->git_commit)
			return cairn_error_set(
				err, CAIRN_EINVAL,
				"--tag-branch: the project's git repository has a detached HEAD");
		return cairn_error_set(
			err, CAIRN_EINVAL,
			"--tag-branch: the project's directory is not a git repository");
	case CAIRN_TAG_OPT_TAG_GIT_BRANCH:
		take_slug(r, v, CAIRN_TAG_SCHEME_GIT_BRANCH);
		return 0;
	case CAIRN_TAG_OPT_TAG_GIT_TAG:
		take_slug(r, v, CAIRN_TAG_SCHEME_GIT_TAG);
		return 0;
	case CAIRN_TAG_OPT_TAG_COMMIT:
		if (!ctx || !ctx->git_commit)
			return cairn_error_set(
				err, CAIRN_EINVAL,
				"--tag-commit: the project's directory is not a git repository");
		if (!is_hex40(ctx->git_commit))
			return cairn_error_set(err, CAIRN_EINVAL,
					       "--tag-commit: invalid HEAD commit '%.*s'",
					       SHOWN_MAX, ctx->git_commit);
		r->tag = xstrdup(ctx->git_commit);
		r->scheme = CAIRN_TAG_SCHEME_GIT_COMMIT;
		return 0;
	case CAIRN_TAG_OPT_TAG_GIT_COMMIT:
		return take_plain(r, opt, v, CAIRN_TAG_SCHEME_GIT_COMMIT, err);
	case CAIRN_TAG_OPT_TAG_BUILD_ID:
		return resolve_build_id(r, getenv_fn, err);
	case CAIRN_TAG_OPT_TAG_CI:
		return resolve_ci(r, getenv_fn, err);
	case CAIRN_TAG_OPT_TAG_BY_STAGES_SIGNATURE:
		/* known per image only once it is built: publish puts the signature in */
		r->tag = xstrdup("");
		r->scheme = CAIRN_TAG_SCHEME_STAGES_SIGNATURE;
		return 0;
	}
	return cairn_error_set(err, CAIRN_EINTERNAL, "unhandled tag option %d", (int)q->option);
}

int cairn_tags_resolve(struct cairn_tag **out, size_t *n_out, const struct cairn_tag_request *req,
		       size_t n_req, const struct cairn_tag_context *ctx, struct cairn_error **err)
{
	const char *(*getenv_fn)(const char *) =
		ctx && ctx->getenv_fn ? ctx->getenv_fn : libc_getenv;
	struct cairn_tag *tags = NULL;
	size_t n = 0;
	int ret;

	*out = NULL;
	*n_out = 0;
	/* one slot per request, or one for "latest"; duplicates only leave slots unused */
	tags = xcalloc(n_req ? n_req : 1, sizeof(*tags));
	for (size_t i = 0; i < n_req; i++) {
		struct resolved r = {NULL, CAIRN_TAG_SCHEME_CUSTOM};
		bool dup = false;

		ret = resolve_one(&r, &req[i], ctx, getenv_fn, err);
		if (ret < 0) {
			cairn_tags_free(tags, n);
			return ret;
		}
		for (size_t j = 0; j < n && !dup; j++)
			dup = strcmp(tags[j].tag, r.tag) == 0;
		if (dup) {
			free(r.tag);
			continue;
		}
		tags[n].tag = r.tag;
		tags[n].scheme = r.scheme;
		n++;
	}
	if (n == 0) {
		tags[0].tag = xstrdup("latest");
		tags[0].scheme = CAIRN_TAG_SCHEME_CUSTOM;
		n = 1;
	}
	*out = tags;
	*n_out = n;
	return 0;
}
