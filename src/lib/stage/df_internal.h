/* SPDX-License-Identifier: MIT */
/*
 * What the files of Dockerfile images share (dockerfile.c: the stages and instructions,
 * df_copy.c: COPY and ADD, df_run.c: RUN): the build of one image and its helpers.
 */
#ifndef CAIRN_STAGE_DF_INTERNAL_H
#define CAIRN_STAGE_DF_INTERNAL_H

#include "stage/stage_internal.h"
#include "stage/df_context.h"
#include "stage/df_fetch.h"
#include "dockerfile/parse.h"
#include "dockerfile/plan.h"

/* A built stage of the Dockerfile: its last instruction's stage. */
struct df_done {
	char sig[CAIRN_SIGNATURE_HEX];
	struct cairn_descriptor desc;
	bool set;
};

/* How COPY/ADD write what they copy. */
struct copy_opts {
	int64_t uid, gid; /* -1: root (from the context), the file's own (--from) */
	int chmod;	  /* -1: as the source */
};

/* A URL source of ADD: fetched when signed (or, with --checksum, when built). */
struct df_url {
	char *url;
	char *file;	/* where it was fetched, in the build's directory; NULL: not yet */
	char *checksum; /* --checksum's "sha256:HEX" */
	struct df_fetched got;
};

/* One RUN --mount. */
struct df_mount {
	char *type, *target, *source, *from, *id;
	bool rw;
	bool required;		       /* a secret that must be given */
	long sel;		       /* a bind of the context: its selection in df_build.sel */
	struct cairn_descriptor image; /* a bind from a stage or image */
	bool image_set;
	char *image_ref; /* from an image: pulled when built */
};

struct df_build {
	struct image_state *s;
	struct cairn_error **err; /* the build's, for df_fail() */
	const struct cairn_config_dockerfile *cfg;
	const char *file; /* the Dockerfile, relative to the project (messages) */
	size_t expanded;  /* bytes of words substituted so far */
	struct cairn_dockerfile *df;
	struct cairn_df_plan *plan;
	char **build_args; /* "NAME=VALUE", from `args` */
	size_t n_build_args;
	struct df_context ctx;
	bool ctx_loaded;
	struct df_done *done; /* one per plan stage */
	/* the build stage at hand */
	size_t stage;
	struct strv args; /* its ARGs with a value, "NAME=VALUE" */
	size_t step;	  /* the instruction's id across the image */
	bool cmd_set;	  /* this stage set CMD (an ENTRYPOINT after it keeps it) */
	bool runs_after;  /* a RUN follows in a needed stage */
	char *name;	  /* of the instruction at hand, for events */
	char *history;	  /* its line in the image's history */
	const struct cairn_df_instr *in;
	/* what the instruction's maker needs, prepared with its signature */
	struct strv words;		       /* substituted arguments */
	struct df_selection sel[64];	       /* COPY/ADD sources from the context */
	const struct cairn_df_heredoc *hd[64]; /* or a heredoc (COPY <<EOF /file) */
	struct df_url *urls[64];	       /* or a URL (ADD https://...) */
	size_t n_sel;
	const char *dest;	      /* COPY/ADD's destination, substituted */
	char *chown, *chmod;	      /* its --chown and --chmod, substituted */
	size_t n_src;		      /* its sources: the first n_src words */
	const char *from_image;	      /* COPY --from an image: the reference */
	struct cairn_descriptor from; /* COPY --from a stage: its image */
	bool from_set;
	struct df_mount *mounts; /* RUN --mount's, parsed and substituted */
	size_t n_mounts;
	bool clear_onbuild; /* the first trigger of the base's ONBUILD: the stage drops them */
	bool in_onbuild;    /* running the base's triggers */
};

/* All the words of a Dockerfile image together expand to no more than this. */
#define DF_EXPANDED_MAX (64u << 20)

/* dockerfile.c */
/* The first line of `s` for names and messages: `max` bytes at most, control bytes as '?'. */
char *df_shown(const char *s, size_t max);
/* An error of instruction `in`: "FILE:LINE: image 'x': INSTR: ..." (into d->err). */
int df_fail(struct df_build *d, const struct cairn_df_instr *in, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* `*err` prefixed with "FILE:LINE: image 'x': INSTR". */
int df_wrap(struct df_build *d, const struct cairn_df_instr *in, struct cairn_error **err);
/* The value of NAME (`len` bytes) in a list of "NAME=VALUE", the last one; NULL: none. */
const char *df_list_lookup(char *const *v, size_t n, const char *name, size_t len);
/* Word `w` substituted with the ENV and ARGs in effect (DF_EXPANDED_MAX for the image). */
int df_word(char **out, struct df_build *d, const char *w, struct cairn_error **err);
/* The stage's SHELL (["/bin/sh", "-c"] unless set): a new reference. */
json_t *df_shell_of(json_t *c);
/* An absolute, clean path in the image: `p` joined to the config's WorkingDir when relative. */
char *df_image_path(json_t *c, const char *p);
/* The stage a --from or from= names (its AS name or index), or -1 for an image. */
long df_from_stage(struct df_build *d, const char *ref);
/* A COPY/ADD source as the context names it: clean, no leading '/' ("" for all of it). */
char *df_clean_source(const char *src);
/* The ARG values in effect, into a signature. */
void df_add_args(struct strv *deps, struct df_build *d);
/* The context of the image, loaded once (the commit's files, or the work tree's). */
int df_load_context(struct df_build *d, struct cairn_error **err);
/* The ids of USER (`chown` false) or COPY --chown (true) in the image at hand. */
int df_user_ids(int64_t *uid, int64_t *gid, struct df_build *d, const char *spec, bool chown,
		struct cairn_error **err);
/* Whether the absolute path `p` is a directory of the image `below` (a view's root). */
bool df_below_is_dir(int below, const char *p);
/* Directory `dir` and those above it that the layer and image lack, made as uid:gid. */
int df_ensure_dir(struct cairn_layer_writer *w, int below, const char *dir, mode_t mode,
		  int64_t uid, int64_t gid, int64_t mtime, struct cairn_error **err);

/*
 * The stage's one layer: `fill` writes it over the view of the image below (`below`, its root)
 * with the new config section `c`; unpacked as it is written when a RUN follows.
 */
int df_layer(struct stage_output *o, struct image_state *s, struct df_build *d,
	     int (*fill)(struct cairn_layer_writer *w, struct df_build *d, int below, json_t *c,
			 void *ud, struct cairn_error **err),
	     void *ud, struct cairn_error **err);

/* df_copy.c */
/* COPY/ADD: what its signature covers; the sources selected for df_build_copy(). */
int df_sign_copy(struct strv *deps, struct df_build *d, const struct cairn_df_instr *in,
		 struct cairn_error **err);
/* The content of the context files d->sel selects (path, mode, sum), into a signature. */
int df_copy_deps(struct strv *deps, struct df_build *d, struct cairn_error **err);
/* Where `path` leads in the view once its symlinks are followed inside it; NULL: nowhere. */
char *df_view_path(const struct rootfs_view *v, const char *path);
int df_build_copy(struct stage_output *o, struct image_state *s, const struct stage_def *def,
		  struct cairn_error **err);

/* df_run.c */
/* RUN: what its signature covers (command, flags, heredocs, mounts, ARGs, network). */
int df_sign_run(struct strv *deps, struct df_build *d, const struct cairn_df_instr *in,
		struct cairn_error **err);
void df_mounts_release(struct df_build *d);
int df_build_run(struct stage_output *o, struct image_state *s, const struct stage_def *def,
		 struct cairn_error **err);

#endif
