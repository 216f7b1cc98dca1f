/* SPDX-License-Identifier: MIT */
/* Shared declarations of the cairn command-line tool: context, command table, output helpers. */
#ifndef CAIRN_CLI_H
#define CAIRN_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include "cairn/config.h"
#include "cairn/error.h"

enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILURE = 1,
	CLI_EXIT_USAGE = 2,
	/* + the number of the signal: 130 INT, 143 TERM, 129 HUP, 141 PIPE, as shells report */
	CLI_EXIT_INTERRUPTED = 128,
};

struct cli_ctx {
	const char *home_dir; /* --home-dir, $CAIRN_HOME_DIR, $CAIRN_HOME, else ~/.cairn */
	int verbosity;	      /* -1 quiet, 0 normal, 1 -v, 2 -vv */
};

struct cli_cmd {
	const char *name;
	int (*run)(int argc, char **argv, struct cli_ctx *ctx);
	const char *usage;   /* "cairn slugify -f tag|ns|release STRING" */
	const char *summary; /* one line for `cairn help` */
	const char *help;    /* options and details for `cairn help NAME` / `--help` */
	int timed;	     /* ends with "Running time N seconds" on stdout (not with -q) */
};

/* cmd.c */
const struct cli_cmd *cli_cmd_find(const char *name);
/* Every command, in the order of `cairn help`; and the text of the common options. */
const struct cli_cmd *cli_commands(size_t *n);
const char *cli_common_help(void);
/* cmd_docs.c: man pages into `dir` (cairn.1, cairn-COMMAND.1), from the help texts. */
int cli_write_man(const char *dir);
void cli_print_commands(void);
int cli_help_for(const char *name);

/*
 * Options every command takes. cli_options() returns a new getopt_long table (free it) of the
 * command's own options, NULL-terminated, followed by the common ones; pass each option that
 * getopt_long returns to cli_common_opt() first.
 */
enum {
	CLI_OPT_HOME_DIR = 1000,
	CLI_OPT_LOG_TIME,
	CLI_OPT_LOG_FORMAT,
	CLI_OPT_HELP = 'h',
	CLI_OPT_VERBOSE = 'v',
	CLI_OPT_QUIET = 'q'
};
/* --log-format text|json: json makes build and transfer events JSON lines on stdout; -1 for
 * another word. */
int cli_log_format_set(const char *format);
bool cli_log_format_json(void);
/* --log-time: every line on stdout and stderr starts with the time (HH:MM:SS.mmm). */
void cli_log_time_on(void);
/* Command short options start with "+:" (stop at the first operand, report missing values). */
#define CLI_COMMON_SHORTOPTS "hvq"
struct option *cli_options(const struct option *own, const struct option *extra);

/*
 * Handle a common option of command `cmd`: returns 1 if `c` was one, 0 if the command must
 * handle it, and CLI_COMMON_EXIT when the command must stop at once returning 0 (--help printed).
 */
#define CLI_COMMON_EXIT (-1)
int cli_common_opt(struct cli_ctx *ctx, const char *cmd, int c, const char *arg);

/*
 * Every long option may come from the environment as CAIRN_<NAME> (dashes to underscores,
 * upper case), else as werf's WERF_<NAME> (and werf's own names and switches where they differ:
 * WERF_TAG_CUSTOM*, WERF_INSECURE_REGISTRY...): returns a new argv with those inserted before
 * the user's arguments, for options the command line does not give; the command line wins, then
 * CAIRN_*, then WERF_*. A CAIRN_* variable close to an option's name gets a warning. `*argc` is
 * updated; free the result with cli_env_args_free().
 */
char **cli_env_args(int *argc, char **argv, const struct option *opts);
void cli_env_args_free(char **argv);

/* A command's argv with environment defaults applied, and its getopt_long table. */
struct cli_args {
	int argc;
	char **argv;
	struct option *opts;
};
/* Prepare `a` for getopt_long over `own` plus the common options; resets getopt. */
void cli_args_init(struct cli_args *a, int argc, char **argv, const struct option *own,
		   const struct option *extra);
void cli_args_release(struct cli_args *a);
/* Levenshtein distance of two short names (capped at 9): to suggest what a typo meant. */
size_t cli_distance(const char *a, const char *b);
/* The command closest to `name` when it looks like a typo of it, or NULL. */
const char *cli_cmd_closest(const char *name);
/*
 * Report what getopt_long returned for a bad option as a usage error (exit 2), naming the
 * closest option of the command when the bad one looks like a typo.
 */
int cli_bad_option(const char *cmd, int c, char **argv);

/* Finish option handling: set up logging for ctx->verbosity, resolve the home dir. */
void cli_ctx_finish(struct cli_ctx *ctx);

/* out.c */
int cli_usage(const char *cmd); /* prints "usage: ..." for the command to stderr; returns 2 */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_fail(struct cairn_error *err); /* prints "cairn: error: ...", frees err; returns 1 */
/* As cli_fail(), but a CAIRN_EUSAGE error is a usage error of `cmd` (exit 2). */
int cli_fail_cmd(const char *cmd, struct cairn_error *err);
/*
 * The exit status of command `cmd` that returned `ret`: 128+N once a signal N interrupted it
 * (saying so on stderr if the command itself printed no error), else `ret`.
 */
int cli_exit_status(int ret, const char *cmd);
void cli_log_setup(int verbosity);

/*
 * Registry options (--jobs, --insecure-registry, --docker-config, --registry-username,
 * --registry-password, --certs-dir, --registry-timeout), shared by every command that talks to
 * registries.
 */
#include "cairn/build.h"
#include "cairn/image.h"
extern const struct option cli_registry_options[];
struct cli_registry_args {
	const char **insecure;
	size_t n_insecure;
	char **cred_hosts; /* the registries --registry-username is for */
	size_t n_cred_hosts;
};
/*
 * --registry-username/--registry-password are for the registries of `refs` (the images
 * repository, the stages storage, the reference of image pull/push) only; NULL entries and
 * ":local" are skipped.
 */
void cli_credential_hosts(struct cairn_image_opts *o, struct cli_registry_args *ra,
			  const char *const *refs, size_t n);
/* 1: handled, 0: not a registry option, -1: a usage error was printed, stop with *ret. */
int cli_registry_opt(struct cairn_image_opts *o, struct cli_registry_args *ra, const char *cmd,
		     int c, const char *arg, int *ret);
/* Check the options once parsed and point o->registry at ra's lists; -1 as above. */
int cli_registry_finish(struct cairn_image_opts *o, struct cli_registry_args *ra, const char *cmd,
			int *ret);
void cli_registry_args_release(struct cli_registry_args *ra);
/*
 * A project without werf.yaml, as `docker build` takes it: --dockerfile FILE (-f and --file
 * are docker's), --target T, --build-arg NAME[=VALUE], the context as the one operand.
 */
enum {
	CLI_OPT_DOCKERFILE = 2400,
	CLI_OPT_TARGET,
	CLI_OPT_BUILD_ARG,
	CLI_OPT_DF_SSH,
	CLI_OPT_SECRET
};
#define CLI_DOCKERFILE_OPTIONS                                          \
	{"dockerfile", required_argument, NULL, CLI_OPT_DOCKERFILE},    \
		{"file", required_argument, NULL, CLI_OPT_DOCKERFILE},  \
		{"target", required_argument, NULL, CLI_OPT_TARGET},    \
		{"ssh", required_argument, NULL, CLI_OPT_DF_SSH},       \
		{"secret", required_argument, NULL, CLI_OPT_SECRET},    \
	{                                                               \
		"build-arg", required_argument, NULL, CLI_OPT_BUILD_ARG \
	}
struct cli_dockerfile {
	struct cairn_config_dockerfile_source src;
	const char **args;
	size_t n_args, alloc;
	const char **secrets; /* --secret id=ID[,src=FILE|,env=VAR] */
	size_t n_secrets, alloc_secrets;
};
/* 1: one of these options, stored; 0: another. */
int cli_dockerfile_opt(struct cli_dockerfile *d, int c, const char *arg);
/*
 * With --dockerfile, the operands are [CONTEXT] (taken from *pos, *n_pos set to 0) and the
 * build reads no config; without, --target and --build-arg are usage errors. -1: stop, *ret.
 */
int cli_dockerfile_finish(struct cli_dockerfile *d, struct cairn_build_opts *bo, const char *cmd,
			  char **pos, size_t *n_pos, int *ret);
void cli_dockerfile_release(struct cli_dockerfile *d);
/* The --stages-storage value: NULL (the local store only) for werf's ":local". */
const char *cli_stages_storage(const char *arg);
/* cairn's home: --home-dir, $CAIRN_HOME, else ~/.cairn (a new string), or NULL with *err. */
char *cli_home(const struct cli_ctx *ctx, struct cairn_error **err);
/* The local store of cairn's home `home` (HOME/store). */
struct cairn_store;
int cli_store_open(struct cairn_store **st, const char *home, struct cairn_error **err);

/* Progress of image transfers on stderr: live on a terminal, plain lines otherwise. */
#define CLI_PROGRESS_ROWS 16
struct cli_progress {
	int tty;
	int quiet;
	/*
	 * One row per blob in flight: on a terminal a live line (bytes, percent, rate, ETA)
	 * redrawn below the finished lines; in a log a line when it starts, one every
	 * CAIRN_PROGRESS_SECONDS (10) while it moves, and one when it is done.
	 */
	struct {
		char digest[20];
		uint64_t done, total;
		double start, said; /* monotonic seconds */
	} rows[CLI_PROGRESS_ROWS];
	int n_rows;
	int drawn; /* live lines now on screen */
	double every;
};
/* Set up `ps` for stderr (a terminal or not); the events say whether they push or pull. */
void cli_progress_init(struct cli_progress *ps, int quiet);
void cli_on_progress(const struct cairn_progress *p, void *ud); /* ud: struct cli_progress */
void cli_progress_end(struct cli_progress *ps);

/*
 * --ssh-key FILE...: start an ssh-agent of cairn's own holding those keys and point
 * SSH_AUTH_SOCK at it, so that the containers and the git fetches of the run use it instead of
 * the agent cairn inherited. No keys: nothing is started, *out is NULL. Free with
 * cairn_ssh_agent_free() (which stops it), whatever happened in between.
 */
struct cairn_ssh_agent;
int cli_ssh_agent(struct cairn_ssh_agent **out, const char *const *keys, size_t n_keys,
		  struct cairn_error **err);

/* The stage tree of a build on stdout (spec section 8); ud: an int, non-zero for quiet. */
struct cairn_build_event;
void cli_on_build_event(const struct cairn_build_event *ev, void *ud);

/* commands */
int cmd_slugify(int argc, char **argv, struct cli_ctx *ctx);
int cmd_version(int argc, char **argv, struct cli_ctx *ctx);
int cmd_help(int argc, char **argv, struct cli_ctx *ctx);
int cmd_image(int argc, char **argv, struct cli_ctx *ctx);
int cmd_images(int argc, char **argv, struct cli_ctx *ctx);
int cmd_cleanup(int argc, char **argv, struct cli_ctx *ctx);
int cmd_purge(int argc, char **argv, struct cli_ctx *ctx);
int cmd_host(int argc, char **argv, struct cli_ctx *ctx);
int cmd_stages_cleanup(int argc, char **argv, struct cli_ctx *ctx);
int cmd_dimg_cleanup(int argc, char **argv, struct cli_ctx *ctx, bool stages);
int cmd_login(int argc, char **argv, struct cli_ctx *ctx);
int cmd_logout(int argc, char **argv, struct cli_ctx *ctx);
int cmd_build(int argc, char **argv, struct cli_ctx *ctx);
int cmd_export(int argc, char **argv, struct cli_ctx *ctx);
int cmd_inspect(int argc, char **argv, struct cli_ctx *ctx);
int cmd_images_ls(int argc, char **argv, struct cli_ctx *ctx);
/*
 * A count, seconds or days of an option: -1 (werf's "none", or for ever) or 0 up to 10^9; 0, or
 * -1 for a usage error (*ret: the exit status).
 */
int cli_count_opt(int64_t *out, const char *cmd, const char *option, const char *arg, int *ret);
/*
 * The options of commands that find the project's built images (export, inspect, images ls):
 * --dir, --config, --config-templates-dir, -s, and the registry and common options. Parses
 * all of `a` into `o`; -1 when the command ends here (*ret: its exit status).
 */
extern const struct option cli_project_options[];
int cli_project_opts(struct cairn_build_opts *o, struct cli_registry_args *ra, struct cli_args *a,
		     const char *cmd, struct cli_ctx *ctx, int *ret);
int cmd_completion(int argc, char **argv, struct cli_ctx *ctx);
int cmd_publish(int argc, char **argv, struct cli_ctx *ctx);
int cmd_build_and_publish(int argc, char **argv, struct cli_ctx *ctx);
int cmd_dimg(int argc, char **argv, struct cli_ctx *ctx);
int cmd_stages(int argc, char **argv, struct cli_ctx *ctx);
int cmd_render(int argc, char **argv, struct cli_ctx *ctx);
int cmd_ci_env(int argc, char **argv, struct cli_ctx *ctx);
int cmd_toolchain(int argc, char **argv, struct cli_ctx *ctx);

#endif
