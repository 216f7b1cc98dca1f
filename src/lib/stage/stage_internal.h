/* SPDX-License-Identifier: MIT */
/* What the files of the stage module share: the stage kinds, the builder and an image's state. */
#ifndef CAIRN_STAGE_STAGE_INTERNAL_H
#define CAIRN_STAGE_STAGE_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "cairn/build.h"
#include "cairn/config.h"
#include "cairn/store.h"
#include "layer/layer.h"
#include "git/git.h"
#include "util/ordered.h"

/* The version every signature holds: a change of how stages are made changes it. */
#define SIG_VERSION "cairn-1"
/* Stage config labels "cairn-git-<id>-commit": the commit a stage holds of each git entry. */
#define LABEL_GIT_PREFIX "cairn-git-"

/* The stages of an image, in the order of its chain (spec section 3). */
enum stage_id {
	S_FROM,
	S_BEFORE_INSTALL,
	S_IMPORTS_BEFORE_INSTALL,
	S_GIT_ARCHIVE,
	S_INSTALL,
	S_IMPORTS_AFTER_INSTALL,
	S_BEFORE_SETUP,
	S_IMPORTS_BEFORE_SETUP,
	S_SETUP,
	S_IMPORTS_AFTER_SETUP,
	S_BUILD_ARTIFACT, /* a dappfile artifact's */
	S_GIT_CACHE,
	S_GIT_LATEST_PATCH,
	S_DOCKER,
	S_COUNT,
};

/* A layer a stage wrote into the store. */
struct new_layer {
	struct cairn_layer_result r;
};

/* What a stage builds: its layers (at most two) and its config. */
struct stage_output {
	struct new_layer layers[2];
	size_t n_layers;
	json_t *config; /* the previous stage's config, as the stage changes it */
};

struct image_state;
struct strv;

/* One kind of stage: how it is signed, and how it is built. */
struct stage_kind {
	const char *name;
	int (*deps)(struct strv *deps, struct image_state *s, enum stage_id id,
		    struct cairn_error **err);
	int (*build)(struct stage_output *o, struct image_state *s, enum stage_id id,
		     struct cairn_error **err);
};

extern const struct stage_kind stage_kinds[S_COUNT];

/* A growable list of owned strings: the dependencies of one stage. */
struct strv {
	char **v;
	size_t n;
};

static inline void strv_add(struct strv *s, const char *x)
{
	s->v = xreallocarray(s->v, s->n + 1, sizeof(*s->v));
	s->v[s->n++] = xstrdup(x);
}

static inline void strv_addf(struct strv *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline void strv_addf(struct strv *s, const char *fmt, ...)
{
	va_list ap;
	char *x = NULL;

	va_start(ap, fmt);
	if (vasprintf(&x, fmt, ap) < 0)
		abort();
	va_end(ap);
	s->v = xreallocarray(s->v, s->n + 1, sizeof(*s->v));
	s->v[s->n++] = x;
}

static inline void strv_release(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static inline int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static inline void strv_sort(struct strv *s)
{
	if (s->n > 1)
		cairn_sort(s->v, s->n, sizeof(*s->v), cmp_str);
}

/* An image as it stands after a stage: that stage's, or the last non-empty one before it. */
struct stage_at {
	char sig[CAIRN_SIGNATURE_HEX];
	struct cairn_descriptor desc;
	bool set;
};

struct built_image {
	const struct cairn_config_image *cfg;
	char sig[CAIRN_SIGNATURE_HEX];
	struct cairn_descriptor desc;
	struct stage_at at[S_COUNT]; /* for import.stage */
};

/* A git entry's repository and the commit it builds from. */
struct git_src {
	struct cairn_git_repo *repo; /* borrowed from the builder */
	char commit[CAIRN_GIT_HEX_MAX];
	int64_t mtime; /* SOURCE_DATE_EPOCH, else the commit's time */
};

struct remote_repo {
	char *url;
	struct cairn_git_repo *repo;
};

struct builder {
	const struct cairn_build_opts *o;
	/*
	 * o->pull for every registry call of the build (base images, fromLatest, the stages
	 * storage), its `registries` set: one client per registry host for the whole build.
	 */
	struct cairn_image_opts pull;
	struct cairn_registry_pool *registries; /* the build's own, when o->pull has none */
	struct cairn_config *config;
	struct cairn_store *st;
	const struct stage_cache *caches[2]; /* where stages are looked up and kept, in order */
	struct cairn_ref storage;	     /* o->stages_storage, parsed once */
	struct cairn_registry_lock *lock;    /* held in the stages storage while building */
	size_t n_caches;
	struct cairn_home home; /* the places of o->home */
	char *stage_run_dir;	/* this build's own work dir, made on first use */
	/* for shell stages: got when the build's first one is about to run (under its lock) */
	pthread_mutex_t toolchain_lock;
	struct cairn_toolchain *toolchain;
	int run_lock;
	bool host_checked; /* cairn_exec_check() passed */
	const char *dir;
	int git_inited;
	struct cairn_git_repo *repo; /* the project's, opened when an image has local git entries */
	char head[CAIRN_GIT_HEX_MAX];
	struct remote_repo *remotes; /* fetched once per build */
	size_t n_remotes;
	struct built_image *built;
	size_t n_built;
	struct cairn_build_result *result;
	double put_seconds; /* the slowest check-and-PUT of a stage tag so far */
	/*
	 * Stages of images taken whole from the stages storage, confirmed once at the end of the
	 * build rather than image by image (stage_confirm()): one wait for the whole build.
	 */
	struct stored_stage *deferred;
	size_t n_deferred;
	int no_defer; /* a second pass: every image confirms its own */
	int restart;  /* a deferred stage changed under a stage to build: run the build again */
	/*
	 * Images side by side (up to o->pull.jobs): each on a thread of its own, holding `gil`
	 * but where stage_unlock() lets it go (a container running, its layer written, layers
	 * unpacked, a stage looked up in, pushed to or confirmed by the stages storage), so only
	 * that work overlaps; the builder's state is the gil holder's.
	 */
	bool threaded;
	pthread_mutex_t gil;
	pthread_cond_t image_done;  /* an image ended: one waiting for it may go on */
	bool failed;		    /* an image failed: the others stop at their next stage */
	struct cairn_ordered *told; /* what the images say, one block per image */
	struct strv building;	    /* signatures of the stages being built (images side by side) */
	size_t cap_built;	    /* room for every image: `built` never moves */
};

/* A stage taken from or stored in the stages storage by this build, not yet confirmed. */
struct stored_stage {
	int id;	    /* enum stage_id, or a Dockerfile image's step */
	char *name; /* the stage's, for messages */
	char sig[CAIRN_SIGNATURE_HEX];
	char *tag; /* "<prefix><sig>" in the stages storage */
	struct cairn_descriptor d;
	double at;	  /* when it was stored or read */
	size_t result;	  /* its entry in the image's stages */
	int git_archived; /* image_state.git_archived above it */
};

/*
 * A read-only merged view of an image's tree, mounted in a work dir of its own. Every path
 * looked up in it goes through cairn_root_open(), so a symlink or '..' in the image resolves
 * inside the image, never on the build host.
 */
struct rootfs_view {
	char *work;
	char *mnt;
	int lock;
	int fd; /* O_PATH of the mount's root */
};

/* What a stage works on: the previous stage's image. */
struct image_state {
	struct builder *b;
	const struct cairn_config_image *img;
	const char *name; /* for messages: the image name or "~" */
	struct cairn_build_image *out;
	char prev_sig[CAIRN_SIGNATURE_HEX];
	struct cairn_descriptor prev; /* the previous stage's manifest */
	/* loaded on demand from `prev` */
	json_t *manifest, *config;
	int git_archived;	  /* a gitArchive stage exists in this chain */
	struct git_src *git;	  /* one per img->git entry */
	struct rootfs_view *view; /* of `prev`, mounted on demand; closed with stage_drop_prev() */
	struct stage_at at[S_COUNT];  /* each stage done so far */
	struct cairn_digest rejected; /* a stored stage that holds a lost commit */
	struct stored_stage *unconfirmed;
	size_t n_unconfirmed;
	int built; /* this image built a stage (and pushed it) */
	/* the stage just made added no layer: its bytes follow from the stage below it */
	bool no_layer;
	int redo;      /* a stage was adopted: local stages above it are not trusted */
	int adoptions; /* how many */
	size_t index;  /* in the build's order (and result) */
	/* the build's pull options, progress told in the image's block */
	struct cairn_image_opts pull;
	bool cancelled; /* another image failed: stopped */
	/* command output kept while images before this one build, and lines left out */
	size_t held_bytes, dropped_lines;
};

/*
 * Which directory entries a layer of git files or imports writes: each once (entries share
 * parents); none for a directory the image below has (its mode and owner stay, as `git apply`,
 * `mkdir -p` and `install -d` leave them), except `to` itself in a git archive, which is made
 * with the mapping's owner as werf's `install -o -g -d TO`; a directory above `to` that must be
 * made belongs to root.
 */
struct dir_policy {
	struct cairn_layer_writer *w;
	int below;	 /* root of the image below; -1: not looked at */
	const char *to;	 /* the mapping's `to`, without the leading '/' */
	bool archive;	 /* `to` is (re)made */
	unsigned to_uid; /* for `to` */
	unsigned to_gid;
};

/* One stage of an image's chain to look up, else make: a stapel kind, or a Dockerfile step. */
struct stage_def {
	int id;		     /* enum stage_id, or the step's index in a Dockerfile image */
	const char *name;    /* in events, the result and messages */
	const char *history; /* the stage's line in the image's history; NULL: `name` */
	/*
	 * `history` is made of what the signature holds only, so a stage without a layer is the
	 * same bytes on every host (see stage_step()); `name` may hold more (a line number).
	 */
	bool history_signed;
	/* build the stage into the store as *d, on s->prev */
	int (*make)(struct cairn_descriptor *d, struct image_state *s, const struct stage_def *def,
		    struct cairn_error **err);
	struct stage_at *at; /* set to the stage when it is done (NULL: nothing) */
	void *ud;	     /* the maker's */
};

/* conveyor.c */
/*
 * Stage `def` with signature `sig`: reused from the build's stage caches, else made and kept
 * in them. `*next` is the id to go on with (an earlier one when a stage under this one was
 * adopted meanwhile); `*stop`: with no_build and stop_at_missing, the stage is missing.
 */
int stage_step(struct image_state *s, const struct stage_def *def, const char *sig, int *next,
	       int *stop, struct cairn_error **err);
/*
 * Make a stage on s->prev: `build` fills a stage_output from a copy of its config, then the
 * chain's labels are set and the stage is written into the store as *out.
 */
int stage_make_on_prev(struct cairn_descriptor *out, struct image_state *s,
		       const struct stage_def *def,
		       int (*build)(struct stage_output *o, struct image_state *s,
				    const struct stage_def *def, struct cairn_error **err),
		       struct cairn_error **err);
/* The base image `from` (a reference, written at `pos`) in the store, pulled when missing. */
int stage_base_image(struct cairn_descriptor *out, struct image_state *s, const char *from,
		     const struct cairn_config_pos *pos, struct cairn_error **err);
/* Tell the build's caller `ev` about image `s` (in the image's block). */
void stage_emit(struct image_state *s, const struct cairn_build_event *ev);
/* Let other images' threads work while this one waits on work of its own (no builder state). */
void stage_unlock(struct builder *b);
void stage_lock(struct builder *b);

/* signature.c */
void cairn_signature_hash(char out[CAIRN_SIGNATURE_HEX], const char *const *args, size_t n);
const struct cairn_config_list *stage_commands(const struct cairn_config_image *img,
					       enum stage_id id, enum cairn_config_user_stage *us);
/* How many commands (or ansible tasks) user stage `id` of `img` runs; 0 for other stages. */
size_t stage_command_count(const struct cairn_config_image *img, enum stage_id id);
void stage_git_selection(struct cairn_git_selection *sel, const struct cairn_config_git *g);
char *stage_git_label(const struct git_src *src, const struct cairn_config_git *g);
enum cairn_config_import_point stage_import_point(enum stage_id id);
const struct built_image *stage_find_built(struct builder *b, const struct cairn_config_image *img);
const struct stage_at *stage_import_source(const struct built_image *src,
					   const struct cairn_config_import *im);
int stage_deps_user(struct strv *deps, struct image_state *s, enum stage_id id,
		    struct cairn_error **err);
int stage_deps_git_archive(struct strv *deps, struct image_state *s, enum stage_id id,
			   struct cairn_error **err);
int stage_deps_imports(struct strv *deps, struct image_state *s, enum stage_id id,
		       struct cairn_error **err);
int stage_deps_git_cache(struct strv *deps, struct image_state *s, enum stage_id id,
			 struct cairn_error **err);
int stage_deps_git_patch(struct strv *deps, struct image_state *s, enum stage_id id,
			 struct cairn_error **err);
int stage_deps_docker(struct strv *deps, struct image_state *s, enum stage_id id,
		      struct cairn_error **err);
int stage_from_signature(char sig[CAIRN_SIGNATURE_HEX], struct image_state *s,
			 struct cairn_error **err);
int stage_signature(char sig[CAIRN_SIGNATURE_HEX], struct image_state *s, enum stage_id id,
		    struct cairn_error **err);

/* prev.c */
int stage_load_prev(struct image_state *s, struct cairn_error **err);
void stage_drop_prev(struct image_state *s);
json_t *stage_config_section(json_t *config);
const char *stage_label(struct image_state *s, const char *key);
void stage_set_label(json_t *config, const char *key, const char *value);
int stage_commit(struct image_state *s, const char *created_by, json_t *config,
		 const struct new_layer *layers, size_t n_layers, struct cairn_descriptor *out,
		 struct cairn_error **err);
/*
 * Where a layer a stage writes goes unpacked as it is written (cairn_layer_opts.unpack_to): a
 * pending name in the layer cache when a later stage runs commands over it, else NULL
 * (unpacked when a later use needs it); the caller frees it with
 * cairn_layer_cache_pending_free(), which removes what is left. stage_unpacked() puts the
 * tree of layer `r` under its diff_id.
 */
char *stage_unpack_to(struct image_state *s, bool later_runs);
/* Whether a stapel stage from `from` on runs commands (stage_unpack_to()'s `later_runs`). */
bool stage_runs_from(const struct image_state *s, enum stage_id from);
void stage_unpacked(struct image_state *s, const struct cairn_layer_result *r, const char *pending);
/*
 * The from stage of a Docker schema 2 base `d`: the same config and layers under an OCI
 * manifest (written into `st`, `d` set to it), so that the store's names stay readable by OCI
 * tools (skopeo 1.9 skips index.json entries of Docker media types). The base under its own
 * name keeps the registry's bytes. Other manifests are left as they are.
 */
int stage_oci_base(struct cairn_descriptor *d, struct cairn_store *st, struct cairn_error **err);
int stage_lower_dirs(struct strv *out, struct image_state *s, struct cairn_error **err);
bool stage_keep_dir(struct cairn_layer_entry *e, void *ud);
json_t *stage_env_of(json_t *config);
int stage_prev_view(struct rootfs_view **out, struct image_state *s, struct cairn_error **err);
int stage_mapping_ids(int64_t *uid, int64_t *gid, struct image_state *s, const char *owner,
		      const char *group, bool primary, const char *what, struct cairn_error **err);

/* How stage_write_git_ops() writes its entries. */
struct git_write_opts {
	uid_t uid; /* of every entry */
	gid_t gid;
	int64_t mtime;
	/*
	 * Called with each directory entry before it is written (NULL: all go in): false leaves
	 * it out; it may change the entry's uid, gid and mode.
	 */
	bool (*dir_filter)(struct cairn_layer_entry *e, void *ud);
	void *ud;
};

/* git_stage.c */
/*
 * Write `ops` into the layer `w` in order, as `o` says (file contents and symlink targets are
 * read from `r` one blob at a time: list and write with the same `r`). The writer stays the
 * caller's. CAIRN_EINTERNAL when a blob is missing or not the size listed, or the writer's
 * own error.
 */
int stage_write_git_ops(struct cairn_layer_writer *w, struct cairn_git_repo *r,
			const struct cairn_git_ops *ops, const struct git_write_opts *o,
			struct cairn_error **err);
/* The project's repository, opened once per build, at HEAD (b->head). */
int stage_project_repo(struct cairn_git_repo **out, struct builder *b, struct cairn_error **err);
int stage_git_changed(int *changed, struct image_state *s, struct cairn_error **err);
int stage_git_layer(struct new_layer *out, int *empty, struct image_state *s, enum stage_id id,
		    int patch, json_t *config, struct cairn_error **err);
int stage_resolve_git(struct image_state *s, struct cairn_error **err);
int stage_usable(struct image_state *s, const struct cairn_descriptor *d, const char *stage,
		 struct cairn_error **err);
int stage_build_git_archive(struct stage_output *o, struct image_state *s, enum stage_id id,
			    struct cairn_error **err);
int stage_build_git_patch(struct stage_output *o, struct image_state *s, enum stage_id id,
			  struct cairn_error **err);

/* shell.c */
/*
 * What a user stage runs in its container over the previous stage: shell commands, or ansible
 * with its files. The conveyor's ladder and the container are the same for both.
 */
struct stage_run {
	const char *const *commands; /* the script, one command per line (none: no run) */
	size_t n_commands;
	const struct cairn_exec_mount *mounts; /* the run's own, besides the image's `mount:` */
	size_t n_mounts;
	const char *const *env; /* "NAME=value", over the image's environment */
	size_t n_env;
	/* before the run, with a work dir of the run's own (NULL: nothing to do) */
	int (*prepare)(struct stage_run *r, const char *work, struct cairn_error **err);
	/* the script stopped at command `last` (1-based) with `status` != 0: set the error */
	int (*failed)(struct stage_run *r, size_t last, int status, struct cairn_error **err);
	/* each line the run prints, after the build event (NULL: none) */
	void (*line)(struct stage_run *r, const char *line, size_t len);
	/*
	 * A Dockerfile RUN instead of `commands`: the process as it is (no toolchain), its user,
	 * directory and network, hosts added to /etc/hosts; the build's ssh agent only with `ssh`.
	 */
	const char *const *argv;
	size_t n_argv;
	unsigned uid, gid;
	const char *cwd;
	bool no_network;
	const char *const *extra_hosts;
	size_t n_extra_hosts;
	bool ssh;
	bool runs_after;   /* a RUN follows it (for a stapel stage, the stages after it tell) */
	const char *stage; /* its name in messages; NULL: the stapel stage's */
	/* set by stage_run_user() */
	struct image_state *s;
	enum stage_id id;
	const struct cairn_toolchain *toolchain;
};
/* Run `r` as stage `id` of `s`: the layer of what it changed (after the git patch, if any). */
int stage_run_user(struct stage_output *o, struct image_state *s, enum stage_id id,
		   struct stage_run *r, struct cairn_error **err);
/*
 * A stage the local store has and the stages storage may lack (this home never saw it there):
 * stage_seed() stores it there as a stage just built would be (`*d` becomes the storage's
 * when another host stored the signature first).
 */
bool stage_unseeded(struct image_state *s, const char *sig, const struct cairn_descriptor *d);
/* Whether the image `d` has the layers of the stage below (s->prev) first (none: true). */
bool stage_stands_on_prev(struct image_state *s, const struct cairn_descriptor *d);
int stage_seed(struct cairn_descriptor *d, char **tag, struct image_state *s, const char *stage,
	       const char *sig, int *redo, struct cairn_error **err);
/* The build's toolchain, got (and assembled, the first time in a home) on first use. */
int stage_toolchain(const struct cairn_toolchain **out, struct builder *b,
		    struct cairn_error **err);
int stage_run_dir(const char **out, struct builder *b, struct cairn_error **err);
int stage_build_user(struct stage_output *o, struct image_state *s, enum stage_id id,
		     struct cairn_error **err);

/* ansible.c */
/* The tasks as JSON, plain scalars typed as werf typed them (a new reference). */
json_t *stage_ansible_json(const struct cairn_config_value *v);
/* What the signature of user stage `us` of `img` covers of its tasks: each one's JSON. */
int stage_deps_ansible(struct strv *deps, const struct cairn_config_image *img,
		       enum cairn_config_user_stage us, struct cairn_error **err);
/* Where an ansible stage's files are in its container: read-only, and its writable tmp. */
#define CAIRN_ANSIBLE_DIR "/.cairn/ansible"
#define CAIRN_ANSIBLE_TMP "/.cairn/ansible-tmp"
/* The programs an ansible stage runs, as paths in the container (the toolchain's). */
struct stage_ansible_paths {
	const char *python;	      /* the interpreter of ansible and of its modules */
	const char *ansible_playbook; /* the ansible-playbook script */
	const char *setpriv;	      /* what become_user runs tasks through */
};
/*
 * Write into host directory `dir` (mounted at CAIRN_ANSIBLE_DIR) what ansible-playbook needs to
 * run `tasks` on the container itself: playbook.json, hosts, ansible.cfg, become/cairn.py.
 */
int stage_ansible_files(const char *dir, const struct cairn_config_value *tasks,
			const struct stage_ansible_paths *p, struct cairn_error **err);
int stage_build_ansible(struct stage_output *o, struct image_state *s, enum stage_id id,
			struct cairn_error **err);

/* import.c */
/* The directories above `path` (no leading '/') that the image below (`below`) lacks, root's. */
int stage_add_parents(struct cairn_layer_writer *w, const char *path, int below, int64_t mtime,
		      struct cairn_error **err);
/* `size` bytes of `fd` as the data of the entry just added; CAIRN_EOS if it is shorter. */
int stage_copy_fd(struct cairn_layer_writer *w, int fd, const char *what, uint64_t size,
		  struct cairn_error **err);
/*
 * One entry of a tree (`rel` below `basefd`, opened inside it; `st` its lstat, whose mode is
 * the entry's) into the layer at `path`, owned by uid:gid (-1: the file's own).
 */
int stage_copy_entry(struct cairn_layer_writer *w, const char *path, int basefd, const char *rel,
		     const struct stat *st, int64_t uid, int64_t gid, int64_t mtime,
		     const char *what, struct cairn_error **err);
bool stage_has_glob(const char *s);
/* The paths (each with a leading '/') a glob matches below `srcfd`, one component at a time. */
void stage_glob_paths(struct strv *out, int srcfd, const char *pattern);
int stage_build_import(struct stage_output *o, struct image_state *s, enum stage_id id,
		       struct cairn_error **err);

/* docker.c */
/* The value of variable NAME (`len` bytes) in the Env array `env`, or NULL. */
const char *stage_env_get(json_t *env, const char *name, size_t len);
/* Set variable `key` to `value` in the Env of config section `c` (replaced in place). */
void stage_set_env(json_t *c, const char *key, const char *value);
/*
 * Add EXPOSE's word `w` to c's ExposedPorts as Docker does (nat.ParsePortSpecs, which `docker
 * commit --change` used for werf too): each whitespace-separated "PORT[-PORT][/PROTO]", a range
 * port by port, the protocol lower case, tcp by default. 0, or -1 with *bad a new string
 * "invalid port: SPEC" or "invalid proto: PROTO".
 */
int stage_expose(json_t *c, const char *w, char **bad);
int stage_build_docker(struct stage_output *o, struct image_state *s, enum stage_id id,
		       struct cairn_error **err);

/* dockerfile.c */
/* A Dockerfile image: its stages, looked up or built, as build_image() does a stapel image's. */
int stage_build_dockerfile_image(struct image_state *s, int *stop, struct cairn_error **err);

/* storage.c */
/*
 * Where stages are kept, as libgit2's odb backends: the local store, then (with a stages
 * storage) a registry. The conveyor asks each cache of the build in order and keeps a stage it
 * built in each; a new place for stages is one more of these.
 */
struct stage_cache {
	const char *name;
	/*
	 * The stage `sig` of `s`: 0 and `*d` (also in the local store then), `*tag` its tag in a
	 * registry (NULL for the local store); CAIRN_ENOTFOUND when this cache lacks it.
	 */
	int (*get)(struct cairn_descriptor *d, char **tag, struct image_state *s, const char *sig,
		   struct cairn_error **err);
	/*
	 * Keep stage `id` just built as `*d`; `*d` may become a stage stored there first (by
	 * another host), `*redo` the stage to go on from when a stage under it changed (else -1).
	 */
	int (*put)(struct cairn_descriptor *d, char **tag, struct image_state *s, const char *stage,
		   const char *sig, int *redo, struct cairn_error **err);
};
extern const struct stage_cache stage_cache_local;
extern const struct stage_cache stage_cache_registry;
char *stage_name_ref(struct builder *b, const char *sig);
void stage_remember(struct image_state *s, int id, const char *name, const char *sig, char *tag,
		    const struct cairn_descriptor *d);
void stage_forget(struct image_state *s);
int stage_confirm(struct image_state *s, int *redo, struct cairn_error **err);
void stage_defer(struct builder *b, struct image_state *s);
void stage_forget_deferred(struct builder *b);
int stage_confirm_deferred(struct builder *b, bool *changed, struct cairn_error **err);

/* report.c */
void stage_add_result(struct image_state *s, const char *name, const char *sig,
		      const struct cairn_descriptor *d, int cached, double secs);

/* conveyor.c */
double stage_now_secs(void);

#endif
