/* SPDX-License-Identifier: MIT */
/*
 * cairn images cleanup, stages cleanup, cleanup, purge, and the 2018 spellings (dimg cleanup
 * repo, dimg flush repo, dimg stages cleanup repo, dimg stages flush repo).
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/cleanup.h"
#include "cairn/log.h"
#include "cli.h"

enum {
	OPT_IMAGES_REPO = 'i',
	OPT_STAGES_STORAGE = 's',
	OPT_DIR = 2600,
	OPT_CONFIG,
	OPT_TEMPLATES_DIR,
	OPT_REPO_MODE,
	OPT_REPO_IMPLEMENTATION,
	OPT_DRY_RUN,
	OPT_KEEP_FROM,
	OPT_ALLOW_SHALLOW,
	OPT_TAG_LIMIT,
	OPT_TAG_EXPIRY,
	OPT_COMMIT_LIMIT,
	OPT_COMMIT_EXPIRY,
	OPT_FORCE,
	OPT_GRACE,
	OPT_WITH_STAGES,
	OPT_GIT_HISTORY,
	OPT_GIT_HISTORY_V12,
	OPT_LOCK_TIMEOUT,
};

enum cleanup_mode {
	CLEAN_IMAGES,	    /* images cleanup */
	CLEAN_STAGES,	    /* stages cleanup */
	CLEAN_ALL,	    /* cleanup: images, then stages with a stages storage */
	CLEAN_PURGE,	    /* purge */
	CLEAN_FLUSH_STAGES, /* dimg stages flush repo: every stage, no image */
};

static const struct option own[] = {
	{"images-repo", required_argument, NULL, OPT_IMAGES_REPO},
	{"stages-storage", required_argument, NULL, OPT_STAGES_STORAGE},
	{"force", no_argument, NULL, OPT_FORCE},
	{"grace", required_argument, NULL, OPT_GRACE},
	{"with-stages", no_argument, NULL, OPT_WITH_STAGES},
	{"git-history-based-cleanup", no_argument, NULL, OPT_GIT_HISTORY},
	{"lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT},
	{"git-history-based-cleanup-v1.2", no_argument, NULL, OPT_GIT_HISTORY_V12},
	{"images-repo-mode", required_argument, NULL, OPT_REPO_MODE},
	{"images-repo-implementation", required_argument, NULL, OPT_REPO_IMPLEMENTATION},
	{"dir", required_argument, NULL, OPT_DIR},
	{"config", required_argument, NULL, OPT_CONFIG},
	{"config-templates-dir", required_argument, NULL, OPT_TEMPLATES_DIR},
	{"dry-run", no_argument, NULL, OPT_DRY_RUN},
	{"keep-images-from", required_argument, NULL, OPT_KEEP_FROM},
	{"allow-git-shallow-clone", no_argument, NULL, OPT_ALLOW_SHALLOW},
	{"git-tag-strategy-limit", required_argument, NULL, OPT_TAG_LIMIT},
	{"git-tag-strategy-expiry-days", required_argument, NULL, OPT_TAG_EXPIRY},
	{"git-commit-strategy-limit", required_argument, NULL, OPT_COMMIT_LIMIT},
	{"git-commit-strategy-expiry-days", required_argument, NULL, OPT_COMMIT_EXPIRY},
	{NULL, 0, NULL, 0},
};

/* What the command line gave, before it is checked. */
struct cleanup_args {
	struct cairn_cleanup_opts o;
	struct cli_registry_args ra;
	const char *mode, *impl, *keep_file;
	char **keep;
	size_t n_keep;
	bool force, with_stages, grace_set;
	/* the 2018 spellings: REPO as an operand (images and, with --with-stages, stages) */
	bool dimg;
};

int cli_count_opt(int64_t *out, const char *cmd, const char *option, const char *arg, int *ret)
{
	char *end;
	long long v = strtoll(arg, &end, 10);

	if (!*arg || *end || v < -1 || v > 1000000000) {
		*ret = cli_usage_error(cmd, "invalid --%s '%s': want a number (-1: none)", option,
				       arg);
		return -1;
	}
	*out = v;
	return 0;
}

static void print_item(const struct cairn_cleanup_item *it, void *ud)
{
	const struct cairn_cleanup_opts *o = ud;

	if (it->delete)
		printf("%s %s (%s): %s\n", o->dry_run ? "would delete" : "deleted", it->ref,
		       it->scheme, it->why);
	else
		cairn_log(CAIRN_LOG_INFO, "%s: %s", it->ref, it->why);
}

static void keep_add(struct cleanup_args *ca, char *ref)
{
	ca->keep = realloc(ca->keep, (ca->n_keep + 1) * sizeof(*ca->keep));
	if (!ca->keep || !ref)
		abort();
	ca->keep[ca->n_keep++] = ref;
}

/*
 * --keep-images-from FILE: references in use, one per line or blank-separated; each keeps its
 * tag ("host/repo:tag", "latest" when none) and, pinned, its digest ("host/repo@sha256:...").
 */
static int read_keep(struct cleanup_args *ca, struct cairn_error **err)
{
	FILE *f = fopen(ca->keep_file, "r");
	char word[1024];

	if (!f)
		return cairn_error_set_errno(err, "open --keep-images-from '%s'", ca->keep_file);
	while (fscanf(f, "%1023s", word) == 1) {
		struct cairn_ref r = CAIRN_REF_INIT;
		struct cairn_error *e = NULL;
		char *s;

		if (cairn_ref_parse(&r, word, &e) < 0) {
			cairn_log(CAIRN_LOG_WARN, "--keep-images-from '%s': %s: it keeps nothing",
				  ca->keep_file, e->msg);
			cairn_error_free(e);
			continue;
		}
		if (r.digest) {
			if (asprintf(&s, "%s/%s@%s", r.domain, r.path, r.digest) < 0)
				abort();
			keep_add(ca, s);
		}
		if (r.tag || !r.digest) {
			if (asprintf(&s, "%s/%s:%s", r.domain, r.path, r.tag ? r.tag : "latest") <
			    0)
				abort();
			keep_add(ca, s);
		}
		cairn_ref_release(&r);
	}
	fclose(f);
	return 0;
}

static int parse(struct cleanup_args *ca, struct cli_args *a, const char *cmd, struct cli_ctx *ctx,
		 int *ret)
{
	int c;

	while ((c = getopt_long(a->argc, a->argv, ":j:i:s:" CLI_COMMON_SHORTOPTS, a->opts, NULL)) !=
	       -1) {
		int r = cli_common_opt(ctx, cmd, c, optarg);

		if (r == CLI_COMMON_EXIT) {
			*ret = CLI_EXIT_OK;
			return -1;
		}
		if (r)
			continue;
		r = cli_registry_opt(&ca->o.image, &ca->ra, cmd, c, optarg, ret);
		if (r < 0)
			return -1;
		if (r)
			continue;
		switch (c) {
		case OPT_IMAGES_REPO:
			ca->o.repo = optarg;
			break;
		case OPT_STAGES_STORAGE:
			ca->o.stages_storage = cli_stages_storage(optarg);
			break;
		case OPT_FORCE:
			ca->force = true;
			break;
		case OPT_GRACE:
			r = cli_count_opt(&ca->o.grace_seconds, cmd, "grace", optarg, ret);
			if (r == 0 && ca->o.grace_seconds < 0) {
				*ret = cli_usage_error(cmd, "invalid --grace '%s': want seconds",
						       optarg);
				r = -1;
			}
			ca->grace_set = true;
			break;
		case OPT_LOCK_TIMEOUT:
			r = cli_count_opt(&ca->o.lock_timeout_secs, cmd, "lock-timeout", optarg,
					  ret);
			break;
		case OPT_GIT_HISTORY:
			ca->o.git_history = true;
			break;
		case OPT_GIT_HISTORY_V12:
			ca->o.git_history_strict = true;
			break;
		case OPT_WITH_STAGES:
			if (!ca->dimg) {
				*ret = cli_bad_option(cmd, c, a->argv);
				return -1;
			}
			ca->with_stages = true;
			break;
		case OPT_REPO_MODE:
			ca->mode = optarg;
			break;
		case OPT_REPO_IMPLEMENTATION:
			ca->impl = optarg;
			break;
		case OPT_DIR:
			ca->o.dir = optarg;
			break;
		case OPT_CONFIG:
			ca->o.config_file = optarg;
			break;
		case OPT_TEMPLATES_DIR:
			ca->o.templates_dir = optarg;
			break;
		case OPT_DRY_RUN:
			ca->o.dry_run = true;
			break;
		case OPT_KEEP_FROM:
			ca->keep_file = optarg;
			break;
		case OPT_ALLOW_SHALLOW:
			ca->o.allow_shallow = true;
			break;
		case OPT_TAG_LIMIT:
			r = cli_count_opt(&ca->o.git_tag.limit, cmd, "git-tag-strategy-limit",
					  optarg, ret);
			break;
		case OPT_TAG_EXPIRY:
			r = cli_count_opt(&ca->o.git_tag.expiry_days, cmd,
					  "git-tag-strategy-expiry-days", optarg, ret);
			break;
		case OPT_COMMIT_LIMIT:
			r = cli_count_opt(&ca->o.git_commit.limit, cmd, "git-commit-strategy-limit",
					  optarg, ret);
			break;
		case OPT_COMMIT_EXPIRY:
			r = cli_count_opt(&ca->o.git_commit.expiry_days, cmd,
					  "git-commit-strategy-expiry-days", optarg, ret);
			break;
		default:
			*ret = cli_bad_option(cmd, c, a->argv);
			return -1;
		}
		if (r < 0)
			return -1;
	}
	return cli_registry_finish(&ca->o.image, &ca->ra, cmd, ret);
}

/* The repository and its mode; -1 for a usage error (*ret). */
static int check_repo(struct cleanup_args *ca, const char *cmd, int *ret)
{
	struct cairn_ref check = CAIRN_REF_INIT;
	struct cairn_error *err = NULL;

	if (!ca->o.repo) {
		*ret = cli_usage_error(cmd, "missing --images-repo REPO");
		return -1;
	}
	if (cairn_repo_parse(&check, ca->o.repo, &err) < 0 ||
	    cairn_repo_mode_resolve(&ca->o.repo_mode, ca->mode, ca->impl, &check, &err) < 0) {
		*ret = cli_usage_error(cmd, "%s", err->msg);
		cairn_error_free(err);
		cairn_ref_release(&check);
		return -1;
	}
	cairn_ref_release(&check);
	return 0;
}

/* The 2018 spellings: `[DIMG...] REPO`, DIMG not supported (every dimg is cleaned). */
static int dimg_operands(struct cleanup_args *ca, struct cli_args *a, const char *cmd,
			 enum cleanup_mode mode, int *ret)
{
	if (a->argc - optind != 1) {
		*ret = a->argc - optind > 1
			       ? cli_usage_error(cmd, "naming dimgs is not supported: every dimg "
						      "of the project is cleaned (give REPO alone)")
			       : cli_usage_error(cmd, "missing REPO");
		return -1;
	}
	if (ca->o.repo || ca->o.stages_storage) {
		*ret = cli_usage_error(cmd, "REPO is the operand here: no --images-repo or "
					    "--stages-storage");
		return -1;
	}
	ca->o.repo = a->argv[optind++];
	if (ca->with_stages || mode == CLEAN_STAGES || mode == CLEAN_FLUSH_STAGES)
		ca->o.stages_storage = ca->o.repo;
	return 0;
}

static int check_args(struct cleanup_args *ca, struct cli_args *a, const char *cmd,
		      enum cleanup_mode mode, int *ret)
{
	bool purge = mode == CLEAN_PURGE || mode == CLEAN_FLUSH_STAGES;

	if (ca->dimg && dimg_operands(ca, a, cmd, mode, ret) < 0)
		return -1;
	if (a->argc != optind) {
		*ret = cli_usage_error(cmd, "unexpected argument '%s'", a->argv[optind]);
		return -1;
	}
	if (check_repo(ca, cmd, ret) < 0)
		return -1;
	if (purge && !ca->force && !ca->o.dry_run && !ca->dimg) {
		*ret = cli_usage_error(cmd, "purge deletes every image and stage of the project: "
					    "add --force (or look first with --dry-run)");
		return -1;
	}
	if (!purge && ca->force) {
		*ret = cli_usage_error(cmd, "--force is for purge");
		return -1;
	}
	if (mode == CLEAN_STAGES && !ca->o.stages_storage) {
		*ret = cli_usage_error(cmd, "missing --stages-storage REPO (stages cleanup works "
					    "on the registry the stages are kept in)");
		return -1;
	}
	if (ca->grace_set && (mode == CLEAN_IMAGES || !ca->o.stages_storage)) {
		*ret = cli_usage_error(cmd, "--grace is for the stages cleanup (with "
					    "--stages-storage)");
		return -1;
	}
	return 0;
}

static void print_stats(const struct cairn_cleanup_stats *st, enum cleanup_mode mode,
			const struct cairn_cleanup_opts *o)
{
	const char *verb = o->dry_run ? "would delete" : "deleted";

	if (mode != CLEAN_STAGES && mode != CLEAN_FLUSH_STAGES)
		printf("%s %llu of %llu tags, kept %llu\n", verb,
		       (unsigned long long)st->tags_deleted, (unsigned long long)st->tags_seen,
		       (unsigned long long)st->tags_kept);
	if (mode != CLEAN_IMAGES && o->stages_storage)
		printf("%s %llu of %llu stages, kept %llu\n", verb,
		       (unsigned long long)st->stages_deleted, (unsigned long long)st->stages_seen,
		       (unsigned long long)st->stages_kept);
}

static int run_mode(const struct cairn_cleanup_opts *o, enum cleanup_mode mode,
		    struct cairn_cleanup_stats *st, struct cairn_error **err)
{
	switch (mode) {
	case CLEAN_IMAGES:
		return cairn_images_cleanup(o, st, err);
	case CLEAN_STAGES:
		return cairn_stages_cleanup(o, st, err);
	case CLEAN_ALL:
		return cairn_cleanup(o, st, err);
	case CLEAN_FLUSH_STAGES: {
		struct cairn_cleanup_opts so = *o;

		so.purge = true;
		return cairn_stages_cleanup(&so, st, err);
	}
	default:
		return cairn_purge(o, st, err);
	}
}

static int run_cleanup(const char *cmd, int argc, char **argv, struct cli_ctx *ctx,
		       enum cleanup_mode mode, bool dimg)
{
	struct cleanup_args ca = {.o = {.image = CAIRN_IMAGE_OPTS_INIT,
					.git_tag = {-1, -1},
					.git_commit = {-1, -1},
					.grace_seconds = -1,
					.lock_timeout_secs = 600},
				  .dimg = dimg};
	struct cairn_cleanup_stats st;
	struct cairn_error *err = NULL;
	struct cli_args a;
	int ret = CLI_EXIT_OK;

	cli_args_init(&a, argc, argv, own, cli_registry_options);
	if (parse(&ca, &a, cmd, ctx, &ret) < 0)
		goto out;
	cli_ctx_finish(ctx);
	if (check_args(&ca, &a, cmd, mode, &ret) < 0)
		goto out;
	{
		const char *refs[] = {ca.o.repo, ca.o.stages_storage};

		cli_credential_hosts(&ca.o.image, &ca.ra, refs, 2);
	}
	if (ca.keep_file && read_keep(&ca, &err) < 0) {
		ret = cli_fail(err);
		goto out;
	}
	ca.o.keep = (const char *const *)ca.keep;
	ca.o.n_keep = ca.n_keep;
	ca.o.report = print_item;
	ca.o.ud = &ca.o;
	if (run_mode(&ca.o, mode, &st, &err) < 0) {
		ret = cli_fail_cmd(cmd, err);
		goto out;
	}
	print_stats(&st, mode, &ca.o);
out:
	for (size_t i = 0; i < ca.n_keep; i++)
		free(ca.keep[i]);
	free(ca.keep);
	cli_registry_args_release(&ca.ra);
	cli_args_release(&a);
	return ret;
}

int cmd_images(int argc, char **argv, struct cli_ctx *ctx)
{
	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
			return cli_help_for("images");
		return cli_usage_error("images", "missing subcommand (ls or cleanup)");
	}
	if (strcmp(argv[1], "cleanup") == 0)
		return run_cleanup("images", argc - 1, argv + 1, ctx, CLEAN_IMAGES, false);
	if (strcmp(argv[1], "ls") == 0)
		return cmd_images_ls(argc - 1, argv + 1, ctx);
	return cli_usage_error("images", "unknown subcommand '%s' (want ls or cleanup)", argv[1]);
}

int cmd_stages_cleanup(int argc, char **argv, struct cli_ctx *ctx)
{
	return run_cleanup("stages", argc, argv, ctx, CLEAN_STAGES, false);
}

int cmd_cleanup(int argc, char **argv, struct cli_ctx *ctx)
{
	return run_cleanup("cleanup", argc, argv, ctx, CLEAN_ALL, false);
}

int cmd_purge(int argc, char **argv, struct cli_ctx *ctx)
{
	return run_cleanup("purge", argc, argv, ctx, CLEAN_PURGE, false);
}

/*
 * dimg cleanup repo, dimg flush repo, dimg stages cleanup repo, dimg stages flush repo (argv
 * from "cleanup"/"flush"); the local forms have their own cairn commands.
 */
int cmd_dimg_cleanup(int argc, char **argv, struct cli_ctx *ctx, bool stages)
{
	bool flush = strcmp(argv[0], "flush") == 0;
	const char *cmd = "dimg";

	if (argc < 2 || (strcmp(argv[1], "repo") != 0 && strcmp(argv[1], "local") != 0))
		return cli_usage_error(cmd, "want 'dimg %s%s repo [OPTIONS] REPO'",
				       stages ? "stages " : "", argv[0]);
	if (strcmp(argv[1], "local") == 0)
		return cli_usage_error(cmd,
				       "the local store is cleaned by 'cairn stages gc' (blobs no "
				       "stage uses) and 'cairn stages ls' shows it");
	if (stages)
		return run_cleanup(cmd, argc - 1, argv + 1, ctx,
				   flush ? CLEAN_FLUSH_STAGES : CLEAN_STAGES, true);
	return run_cleanup(cmd, argc - 1, argv + 1, ctx, flush ? CLEAN_PURGE : CLEAN_ALL, true);
}
