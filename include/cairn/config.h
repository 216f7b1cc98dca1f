/* SPDX-License-Identifier: MIT */
/* werf.yaml: the validated configuration model, every value with its line and column. */
#ifndef CAIRN_CONFIG_H
#define CAIRN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cairn/common.h"
#include "cairn/error.h"

/* Largest configuration file accepted, in bytes. */
#define CAIRN_CONFIG_FILE_MAX (4u * 1024 * 1024)
/*
 * Most YAML nodes in one file, and most nodes read while building the model: an alias (and a
 * `<<` merge) is counted again at each use, and the body of `image: [a, b]` once per name. This
 * bounds the time and memory an alias bomb ("billion laughs") can take.
 */
#define CAIRN_CONFIG_NODES_MAX 250000
/*
 * Most bytes of strings read while building the model, an alias counted again at each use: one
 * large anchored string used many times would otherwise take memory far beyond the file's size.
 */
#define CAIRN_CONFIG_TEXT_MAX (64u * 1024 * 1024)
/* Deepest nesting of collections, counting through aliases. */
#define CAIRN_CONFIG_DEPTH_MAX 64
/* Most images plus artifacts in one configuration. */
#define CAIRN_CONFIG_IMAGES_MAX 1000

/**
 * Where a value is written: 1-based line and column of its first character (for an alias, of
 * the anchored node). Line 0 means "not in the file": the key is absent, or the value is a
 * default. Presence of a section (shell, docker, a list) is tested with `pos.line != 0`.
 */
struct cairn_config_pos {
	unsigned int line;
	unsigned int column;
};

/** A string value; `s` is NULL when the key is absent. */
struct cairn_config_str {
	char *s;
	struct cairn_config_pos pos;
};

/** A boolean value; false with line 0 when the key is absent. */
struct cairn_config_bool {
	bool value;
	struct cairn_config_pos pos;
};

/**
 * A string-or-list value: a single string is a list of one. `v` is NULL when `n` is 0;
 * `pos[i]` is where `v[i]` is written (line 0: added by cairn_config_parse(), as the implicit
 * excludePaths of overlapping exports); `at` is where the value is (line 0: absent, which is
 * different from an empty list `[]`).
 */
struct cairn_config_list {
	char **v;
	struct cairn_config_pos *pos;
	size_t n;
	struct cairn_config_pos at;
};

/** One ENV or LABEL entry; `value` is "" for a null value. */
struct cairn_config_kv {
	char *key;
	char *value;
	struct cairn_config_pos key_pos;
	struct cairn_config_pos value_pos;
};

/** The user stages that run shell commands, as array indexes. */
enum cairn_config_user_stage {
	CAIRN_CONFIG_STAGE_BEFORE_INSTALL = 0,
	CAIRN_CONFIG_STAGE_INSTALL = 1,
	CAIRN_CONFIG_STAGE_BEFORE_SETUP = 2,
	CAIRN_CONFIG_STAGE_SETUP = 3,
	/* the 2018 dappfile's last stage of an artifact (shell, ansible, stageDependencies) */
	CAIRN_CONFIG_STAGE_BUILD_ARTIFACT = 4,
};
#define CAIRN_CONFIG_STAGE_COUNT 5

/** A `git` entry. */
struct cairn_config_git {
	struct cairn_config_pos pos;
	struct cairn_config_str url; /* remote repository; NULL: the project's own repository */
	struct cairn_config_str add; /* absolute; "/" with line 0 when not given */
	struct cairn_config_str to;  /* absolute; required */
	struct cairn_config_list include_paths; /* relative; prefixes or globs */
	struct cairn_config_list exclude_paths; /* relative; prefixes or globs */
	struct cairn_config_str owner;
	struct cairn_config_str group;
	struct cairn_config_pos stage_dependencies_pos;
	/* relative globs per stage; [CAIRN_CONFIG_STAGE_BEFORE_INSTALL] is always empty */
	struct cairn_config_list stage_dependencies[CAIRN_CONFIG_STAGE_COUNT];
	/* remote only, at most one of the three; none: the remote HEAD */
	struct cairn_config_str branch;
	struct cairn_config_str tag;
	struct cairn_config_str commit; /* 4 to 40 hex digits */
};

/** `shell`: commands per user stage and the cache versions that apply. */
struct cairn_config_shell {
	struct cairn_config_pos pos;
	struct cairn_config_list commands[CAIRN_CONFIG_STAGE_COUNT];
	struct cairn_config_str cache_version; /* `cacheVersion`: applies to every user stage */
	/* `beforeInstallCacheVersion`, `installCacheVersion`, ... by stage */
	struct cairn_config_str stage_cache_version[CAIRN_CONFIG_STAGE_COUNT];
};

enum cairn_config_value_kind {
	CAIRN_CONFIG_VALUE_NULL = 0,
	CAIRN_CONFIG_VALUE_SCALAR = 1,
	CAIRN_CONFIG_VALUE_LIST = 2,
	CAIRN_CONFIG_VALUE_MAP = 3,
};

/**
 * A YAML value kept as written (`cleanup`, ansible tasks):
 * aliases and `<<` merges are resolved, scalars keep their text untyped (`10`, `true` and `"10"`
 * are all text; `plain` tells `10` from `"10"`).
 */
struct cairn_config_value {
	enum cairn_config_value_kind kind;
	struct cairn_config_pos pos;
	char *text;  /* SCALAR: NUL-terminated (no NUL inside); else NULL */
	bool plain;  /* SCALAR: plain style, no tag: may be a number or a boolean */
	char **keys; /* MAP: the keys in document order; else NULL */
	struct cairn_config_value *items; /* LIST: the items; MAP: the values, parallel to keys */
	size_t n;
};

/** A limit of werf's cleanup.keepPolicies: `references.limit` or `imagesPerReference`. */
struct cairn_config_keep_limit {
	bool set;	  /* the section is there */
	int64_t last;	  /* `last`: how many (-1: all); -2 when not given */
	int64_t in_secs;  /* `in` (a Go duration: 168h, 1h30m), in seconds; -1 when not given */
	bool or_operator; /* `operator: Or`; And (werf's default when both are given) otherwise */
};

/** One entry of cleanup.keepPolicies. */
struct cairn_config_keep_policy {
	struct cairn_config_pos pos;
	bool tag;			      /* references.tag; else references.branch */
	char *pattern;			      /* as written: a name, or /REGEXP/ (POSIX extended) */
	struct cairn_config_keep_limit limit; /* references.limit */
	struct cairn_config_keep_limit per_reference; /* imagesPerReference */
};

/**
 * Whether `name` (a branch without "origin/", or a tag) is one of the references of policy
 * `p`: equal to its pattern, or matched by it when written /REGEXP/.
 */
CAIRN_API bool cairn_config_keep_policy_matches(const struct cairn_config_keep_policy *p,
						const char *name);

/**
 * `ansible`: the tasks of each user stage, kept as written (a LIST of task mappings, or kind
 * NULL), each naming a module of werf's list or being a block; the cache versions that apply.
 */
struct cairn_config_ansible {
	struct cairn_config_pos pos;
	struct cairn_config_value tasks[CAIRN_CONFIG_STAGE_COUNT];
	struct cairn_config_str cache_version;
	struct cairn_config_str stage_cache_version[CAIRN_CONFIG_STAGE_COUNT];
};

/** Whether `key` names a module of werf's list (also as ansible.builtin.NAME and the like). */
CAIRN_API bool cairn_config_ansible_module(const char *key, size_t len);

/** Where an import happens (the stages importsBeforeInstall ... importsAfterSetup). */
enum cairn_config_import_point {
	CAIRN_CONFIG_IMPORT_BEFORE_INSTALL = 0,
	CAIRN_CONFIG_IMPORT_AFTER_INSTALL = 1,
	CAIRN_CONFIG_IMPORT_BEFORE_SETUP = 2,
	CAIRN_CONFIG_IMPORT_AFTER_SETUP = 3,
};

struct cairn_config_image;

/** An `import` entry: files copied from an artifact's or image's last stage. */
struct cairn_config_import {
	struct cairn_config_pos pos;
	struct cairn_config_str artifact; /* exactly one of artifact and image */
	struct cairn_config_str image;
	/* the artifact or image named; borrowed from the same config */
	const struct cairn_config_image *source;
	struct cairn_config_str add; /* absolute; required */
	struct cairn_config_str to;  /* absolute; `add` (line 0) when not given, as in werf */
	struct cairn_config_str owner;
	struct cairn_config_str group;
	struct cairn_config_list include_paths; /* relative */
	struct cairn_config_list exclude_paths; /* relative */
	struct cairn_config_str before; /* exactly one of before and after: "install" or "setup" */
	struct cairn_config_str after;
	enum cairn_config_import_point point; /* derived from before/after */
	/* beforeInstall|install|beforeSetup|setup: import from that stage of the source, not its
	 * last */
	struct cairn_config_str stage;
};

enum cairn_config_mount_type {
	CAIRN_CONFIG_MOUNT_TMP_DIR = 1,	  /* from: tmp_dir */
	CAIRN_CONFIG_MOUNT_BUILD_DIR = 2, /* from: build_dir */
	CAIRN_CONFIG_MOUNT_HOST_DIR = 3,  /* fromPath: a host directory */
};

/** A `mount` entry: a host directory bind-mounted into shell stages. */
struct cairn_config_mount {
	struct cairn_config_pos pos;
	struct cairn_config_str to;   /* absolute; required */
	struct cairn_config_str from; /* "tmp_dir" or "build_dir"; or */
	/* as written (signatures use it): absolute, "~", "~/PATH", or relative to the project */
	struct cairn_config_str from_path;
	/* from_path as an absolute, clean host path; set by cairn_config_load(), else NULL */
	char *host_path;
	enum cairn_config_mount_type type;
};

/** `docker.HEALTHCHECK`, parsed the way a Dockerfile's HEALTHCHECK instruction is. */
struct cairn_config_healthcheck {
	struct cairn_config_str text; /* as written, e.g. "--interval=5s CMD curl -f localhost" */
	/* {"NONE"}, {"CMD-SHELL", command} or {"CMD", argv...} (CMD ["a", "b"]); n 0: absent */
	struct cairn_config_list test;
	int64_t interval_ns; /* --interval, --timeout, ...; 0: not given */
	int64_t timeout_ns;
	int64_t start_period_ns;
	int64_t start_interval_ns;
	unsigned int retries; /* --retries; 0: not given */
};

/** `docker`: image config directives (images only: an artifact with `docker` is an error). */
struct cairn_config_docker {
	struct cairn_config_pos pos;
	struct cairn_config_str workdir;
	struct cairn_config_str user;
	struct cairn_config_str stopsignal;
	/* exec form; a string S (shell form) becomes {"/bin/sh", "-c", S} */
	struct cairn_config_list cmd;
	struct cairn_config_list entrypoint;
	struct cairn_config_list expose; /* "PORT[-PORT][/tcp|udp|sctp]" */
	struct cairn_config_list volume;
	struct cairn_config_list onbuild; /* the 2018 dappfile's ONBUILD: instructions as written */
	struct cairn_config_kv *env;	  /* document order, keys unique; NULL when n_env is 0 */
	size_t n_env;
	struct cairn_config_kv *labels; /* document order, keys unique */
	size_t n_labels;
	struct cairn_config_healthcheck healthcheck;
};

/**
 * An image built from a Dockerfile: a document with `dockerfile` (werf v1.1), whose other keys
 * are only these (paths relative to the project, never leaving it).
 */
struct cairn_config_dockerfile {
	struct cairn_config_pos pos;	 /* of `dockerfile`; line 0: a stapel image */
	struct cairn_config_str file;	 /* `dockerfile`: the Dockerfile */
	struct cairn_config_str context; /* NULL: the project's root */
	struct cairn_config_str target;	 /* NULL: the last stage */
	struct cairn_config_kv *args;	 /* build arguments, document order */
	size_t n_args;
	struct cairn_config_list add_host; /* "HOST:IP" lines for /etc/hosts of RUN */
	struct cairn_config_str network;   /* RUN's network: "default", "host" or "none" */
	struct cairn_config_str ssh;	   /* "default": RUN --mount=type=ssh gets the agent */
	/* files of the work tree (relative to the context) added to the commit's */
	struct cairn_config_list context_add_files;
	/* the Dockerfile and context from the work tree, as docker build (no werf.yaml) */
	bool work_tree;
};

/** An image or artifact document (one per name of `image: [a, b]`, with equal bodies). */
struct cairn_config_image {
	char *name; /* NULL for the unnamed image (`image: ~`) */
	bool artifact;
	struct cairn_config_pos pos;	  /* the document */
	struct cairn_config_pos name_pos; /* the name (or `~`) */
	/*
	 * exactly one of the three (`fromDimg`, `fromDimgArtifact` are read as the latter two),
	 * none for a Dockerfile image
	 */
	struct cairn_config_str from; /* a registry reference, as written */
	struct cairn_config_str from_image;
	struct cairn_config_str from_image_artifact;
	/* the image or artifact of from_image/from_image_artifact; borrowed from the same config */
	const struct cairn_config_image *base;
	struct cairn_config_str from_cache_version;
	struct cairn_config_bool from_latest;
	struct cairn_config_git *git; /* NULL when n_git is 0 */
	size_t n_git;
	struct cairn_config_shell shell;
	struct cairn_config_ansible ansible; /* an image has shell or ansible stages, not both */
	struct cairn_config_import *imports;
	size_t n_imports;
	struct cairn_config_mount *mounts;
	size_t n_mounts;
	struct cairn_config_docker docker;
	struct cairn_config_dockerfile dockerfile; /* a Dockerfile image: its pos.line set */
};

/** A whole configuration. */
struct cairn_config {
	char *file; /* the name used in messages, e.g. "werf.yaml" */
	/*
	 * A dappfile may have no meta document: cairn_config_parse() then leaves `project.s` NULL
	 * and cairn_config_load() names the project (line 0); config_version is 1 with line 0.
	 */
	struct cairn_config_str project;
	unsigned int config_version; /* always 1 */
	struct cairn_config_pos config_version_pos;
	struct cairn_config_image *images; /* images and artifacts in document order */
	size_t n_images;
	struct cairn_config_value *cleanup; /* the meta document's `cleanup` section, or NULL */
	/* cleanup.keepPolicies, checked (werf v1.1.20+): none when n_keep_policies is 0 */
	struct cairn_config_keep_policy *keep_policies;
	size_t n_keep_policies;
};

/** Where a config comes from. */
struct cairn_config_source {
	const char *dir;  /* the project directory; NULL: "." */
	const char *file; /* NULL: the first of werf.yaml, werf.yml, dappfile.yml, dappfile.yaml */
	/*
	 * werf's --config-templates-dir: the *.tmpl templates come from this directory (relative
	 * to the current directory) instead of the project's .werf/; NULL or "": .werf/
	 */
	const char *templates_dir;
};

/**
 * Read and parse the configuration of the project in `src->dir` (NULL: the current directory):
 * `src->file` relative to it (or absolute), or when that is NULL the first of werf.yml,
 * werf.yaml, dappfile.yml and dappfile.yaml that exists (werf's order, then the 2018 tool's).
 * Messages name the file as given or found. `*out` is freed with cairn_config_free().
 *
 * Loading also does what parsing cannot: a dappfile without meta document gets its project
 * name (the repository name in the URL of the git remote `origin` of `dir`, else the name of
 * `dir`, made a valid project name) with one CAIRN_LOG_WARN message showing the meta document
 * to paste; each mount's `host_path` is set (a `~/` fromPath in $HOME, else the user's
 * passwd home; a relative one in `dir`).
 *
 * Returns CAIRN_ENOTFOUND when the file (or all four) is missing, CAIRN_EOS when `dir` or the
 * file cannot be opened or read, CAIRN_ETOOBIG past CAIRN_CONFIG_FILE_MAX, CAIRN_EINVAL for a
 * `~` fromPath with no home directory, and whatever cairn_config_parse() returns.
 */
CAIRN_API int cairn_config_load(struct cairn_config **out, const struct cairn_config_source *src,
				struct cairn_error **err);

/** A project without a config: one unnamed image built from a Dockerfile. */
struct cairn_config_dockerfile_source {
	const char *dir;	 /* the project directory; NULL: "." */
	const char *file;	 /* the Dockerfile, relative to the project */
	const char *context;	 /* relative to the project; NULL or ".": the project */
	const char *target;	 /* NULL: the last stage */
	const char *ssh;	 /* "default": RUN --mount=type=ssh gets the agent */
	const char *const *args; /* "NAME=VALUE", or "NAME" for the environment's value */
	size_t n_args;
};

/**
 * The config `cairn build --dockerfile` builds: the project named as a dappfile's without meta
 * document (after the git remote `origin`, else the directory), one unnamed Dockerfile image.
 * Errors as cairn_config_parse() gives them, the file named "--dockerfile".
 */
CAIRN_API int cairn_config_from_dockerfile(struct cairn_config **out,
					   const struct cairn_config_dockerfile_source *src,
					   struct cairn_error **err);

/**
 * Parse and validate `len` bytes of multi-document YAML (not NUL-terminated; no templates).
 * `name` is the file name for messages. Empty documents are skipped; the first other one is
 * the meta document (project, configVersion), each later one an image or artifact. When the
 * base name of `name` starts with "dappfile." the meta document is optional, as for the 2018
 * tool: a first document with an image or artifact name and no project is an image, and
 * `project.s` stays NULL. werf keys cairn has no use for (deploy, cleanup, gitWorktree,
 * asLayers, herebyIAdmit...) are checked and noted once each at CAIRN_LOG_DEBUG; `cleanup` is
 * kept in `cleanup`. `*out` is freed with cairn_config_free().
 *
 * As werf does, a git entry or import whose `to` holds another's (of the same image) gets the
 * other's paths added to its `exclude_paths` (`/src` to `/app` beside `/assets` to
 * `/app/assets` excludes `assets`), and two whose `to` is the same and whose includePaths do
 * not tell them apart are CAIRN_EINVAL "<name>:<line>:<column>: git[1].to: conflict between
 * imports: git[0] (<name>:<line>:<column>) puts its files in '/app' too; ...".
 *
 * Returns CAIRN_EINVAL "<name>:<line>:<column>: <key>: <what>" for the first problem found
 * (e.g. "werf.yaml:4:7: git[0].to: must be an absolute path"; YAML syntax errors are
 * "<name>:<line>:<column>: <parser message>"), and CAIRN_ETOOBIG past CAIRN_CONFIG_FILE_MAX,
 * CAIRN_CONFIG_NODES_MAX, CAIRN_CONFIG_DEPTH_MAX or CAIRN_CONFIG_IMAGES_MAX. A document with
 * `dockerfile` is a Dockerfile image: a stapel key there is "unknown key", as in werf.
 */
CAIRN_API int cairn_config_parse(struct cairn_config **out, const char *name, const char *text,
				 size_t len, struct cairn_error **err);

/**
 * The config file of `src` (as cairn_config_load finds it) rendered as a Go template: what
 * `cairn render` prints. *out is a new string (the caller frees), *len_out its length.
 */
CAIRN_API int cairn_config_render(char **out, size_t *len_out,
				  const struct cairn_config_source *src, struct cairn_error **err);

/** Free a configuration; accepts NULL. */
CAIRN_API void cairn_config_free(struct cairn_config *c);

/**
 * The image or artifact called `name` (NULL: the unnamed image), or NULL. Borrowed from `c`;
 * valid until cairn_config_free(c).
 */
CAIRN_API const struct cairn_config_image *cairn_config_find(const struct cairn_config *c,
							     const char *name);

/**
 * The images to build for `names` (all images, not artifacts, when `n_names` is 0; a NULL
 * name is the unnamed image) and everything they depend on (fromImage, fromImageArtifact and
 * import sources), dependencies first, each once. `*out` is a new array of `*n` pointers
 * borrowed from `c` (valid until cairn_config_free(c)); free the array with free().
 *
 * Returns CAIRN_EUSAGE "image 'x' is not in werf.yaml; images: a, b" for a name that is
 * not an image, and CAIRN_EINVAL on a dependency cycle (which cairn_config_parse() refuses).
 */
CAIRN_API int cairn_config_order(const struct cairn_config_image ***out,
				 size_t *n, /* OUT: number of images in *out */
				 const struct cairn_config *c, const char *const *names,
				 size_t n_names, struct cairn_error **err);

#endif
