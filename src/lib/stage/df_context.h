/* SPDX-License-Identifier: MIT */
/* The build context of a Dockerfile image (df_context.c). */
#ifndef CAIRN_STAGE_DF_CONTEXT_H
#define CAIRN_STAGE_DF_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "cairn/build.h"
#include "cairn/error.h"
#include "git/git.h"
#include "util/buf.h"

struct cairn_dockerignore;

/* One entry of the context. */
struct df_file {
	char *path;		       /* relative to the context, clean: "src/main.go" */
	uint32_t mode;		       /* type and permissions */
	uint64_t size;		       /* regular files */
	char oid[CAIRN_GIT_HEX_MAX];   /* from the commit: the blob */
	bool host;		       /* from the work tree */
	int64_t mtime;		       /* what the layer records */
	char sum[CAIRN_SIGNATURE_HEX]; /* a work tree file's content hash, once computed */
};

struct df_context {
	struct df_file *v; /* sorted by path */
	size_t n;
	struct cairn_git_repo *repo; /* borrowed; NULL: the context is the work tree */
	char commit[CAIRN_GIT_HEX_MAX];
	int dirfd; /* the context directory of the work tree, or -1 */
	int64_t mtime;
	struct cairn_dockerignore *ignore;
};

struct df_context_source {
	const char *project_dir;
	const char *context;	     /* relative to the project; NULL: the project */
	struct cairn_git_repo *repo; /* NULL: the work tree */
	const char *commit;
	int64_t mtime;		      /* of the commit's files */
	const char *const *add_files; /* contextAddFiles, relative to the context */
	size_t n_add_files;
};

/*
 * The context of `src`, less what its .dockerignore leaves out. Paths of the work tree are
 * opened inside the context directory only (a symlink out of it is refused).
 */
int df_context_load(struct df_context *c, const struct df_context_source *src,
		    struct cairn_error **err);
void df_context_release(struct df_context *c);
const struct df_file *df_context_find(const struct df_context *c, const char *path);
/* A work tree file `f` opened to read (still a regular file of its size), or -1 and *err. */
int df_context_open(const struct df_context *c, const struct df_file *f, struct cairn_error **err);
/* The content of file `f`, appended to `out`. */
int df_context_read(struct cairn_buf *out, const struct df_context *c, const struct df_file *f,
		    struct cairn_error **err);
/* What stands for `f`'s content in a signature: its blob id, else its bytes' sha256. */
int df_context_sum(char out[CAIRN_SIGNATURE_HEX], const struct df_context *c, struct df_file *f,
		   struct cairn_error **err);

/* The files a COPY source selects, each with its path relative to where it goes. */
struct df_selection {
	struct {
		size_t file; /* index in the context */
		char *rel;
	} * v;
	size_t n;
	size_t roots; /* sources matched (files, directories) */
	size_t dirs;  /* of them directories */
};

/*
 * What source `src` (clean, relative to the context, "" for all of it, maybe with wildcards)
 * selects: a file under its name, a directory's content. CAIRN_ENOTFOUND when a plain path
 * names nothing; a wildcard may match nothing.
 */
int df_context_select(struct df_selection *out, const struct df_context *c, const char *src,
		      struct cairn_error **err);
void df_selection_add(struct df_selection *s, size_t file, const char *rel);
void df_selection_release(struct df_selection *s);

#endif
