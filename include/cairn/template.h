/* SPDX-License-Identifier: MIT */
/* werf.yaml templates: the subset of Go text/template and Sprig that real configurations use. */
#ifndef CAIRN_TEMPLATE_H
#define CAIRN_TEMPLATE_H

#include <stddef.h>
#include "cairn/common.h"
#include "cairn/error.h"

/* Largest rendered output, and largest string value made while rendering, in bytes. */
#define CAIRN_TEMPLATE_OUTPUT_MAX (16u * 1024 * 1024)
/* Deepest nesting of `template` and `include` calls (a recursive define stops here). */
#define CAIRN_TEMPLATE_DEPTH_MAX 64
/* Most evaluation steps (nodes, range iterations, function calls, printed values) per render. */
#define CAIRN_TEMPLATE_STEPS_MAX 10000000u

/*
 * Reads the file `path` below the project directory `dir` for `.Files.Get`: `path` is relative
 * and has no ".." component; `dir` may be NULL. On success *out is a new NUL-terminated string
 * the caller frees and *out_len its length. On failure *out is NULL and:
 * - CAIRN_ENOTFOUND: there is no such file (it reads as "", with a warning);
 * - CAIRN_ETOOBIG: it holds more than CAIRN_TEMPLATE_OUTPUT_MAX bytes;
 * - CAIRN_EINVAL: it cannot be read, the message saying why ("path leaves the project", "Is a
 *   directory"); the template puts where it was asked for and the path before it.
 */
typedef int (*cairn_template_read_file_fn)(char **out, size_t *out_len, const char *dir,
					   const char *path, struct cairn_error **err);

/*
 * Takes one template file: `name` defines it ("a/b.tmpl"), `path` names it in messages
 * (".werf/a/b.tmpl"); `text` (`len` bytes) is borrowed for the call. Returns 0 or a negative
 * CAIRN_E* code with *err set.
 */
typedef int (*cairn_template_each_fn)(const char *name, const char *path, const char *text,
				      size_t len, void *ud, struct cairn_error **err);

/*
 * Passes each template file of the project directory `dir` (may be NULL: none) to `each`, with
 * `ud`, in the order their `define`s are to be made; stops at the first error, its own or that
 * of `each`, and returns it.
 */
typedef int (*cairn_template_werf_dir_fn)(const char *dir, cairn_template_each_fn each, void *ud,
					  struct cairn_error **err);

/*
 * Passes each regular file of the project directory `dir` whose path below it matches the
 * `.Files.Glob` pattern `pattern` to `each` ("a/b.txt" as both name and path), with `ud`, in
 * byte order of the paths; a symlink to a regular file inside `dir` counts as one, a symlink
 * to a directory is not walked. Returns 0 (none matched is no error), the error of `each`, or
 * CAIRN_EINVAL (a symlink leading out, a tree deeper than the walk goes), CAIRN_ETOOBIG, CAIRN_EOS.
 */
typedef int (*cairn_template_glob_fn)(const char *dir, const char *pattern,
				      cairn_template_each_fn each, void *ud,
				      struct cairn_error **err);

struct cairn_template_opts {
	const char *dir;  /* project dir: .Files.Get root, .werf/ for *.tmpl */
	const char *name; /* file name for messages, e.g. "werf.yaml" */
	const char *(*getenv_fn)(const char *name); /* NULL: getenv */
	cairn_template_read_file_fn read_file_fn;   /* NULL: read below `dir`, as said below */
	cairn_template_werf_dir_fn werf_dir_fn;	    /* NULL: `dir`/.werf/, as said below */
	cairn_template_glob_fn glob_fn;		    /* NULL: walk below `dir`, as said above */
	/*
	 * Where the *.tmpl templates are read from instead of `dir`/.werf/ (werf's
	 * --config-templates-dir), relative to the current directory; NULL: `dir`/.werf/. Used by
	 * the default werf_dir_fn only.
	 */
	const char *templates_dir;
};

/**
 * Render `text` (`len` bytes) as a Go template. The data (`.` and `$`) is a map holding `Files`,
 * whose `Get "path"` method reads a file relative to `o->dir` (through `o->read_file_fn`); a file
 * that does not exist reads as "" with a CAIRN_LOG_WARN message naming it, as in werf. Before
 * `text` is parsed, every `o->dir/.werf/ ** / *.tmpl` file is parsed (in sorted order, as
 * `o->werf_dir_fn` passes them) so that its `define`s can be used; the whole file is also a
 * template named by its path below `.werf/`, e.g. "a/b.tmpl". Directory symlinks are not walked; a
 * symlinked template must resolve inside `o->dir`. The engine itself touches no file: all it
 * reads comes through these two callbacks.
 *
 * On success `*out` is a new NUL-terminated string the caller frees and `*out_len` its length
 * (the output may hold NULs if a read file does). On failure `*out` is NULL and:
 * - CAIRN_EINVAL "<name>:<line>:<col>: <what>": a syntax error, an unsupported function
 *   ("function 'x' is not supported"), a `required` message, an evaluation error, or a
 *   `.Files.Get` of a path leaving `o->dir` or that cannot be read (a directory, no access);
 * - CAIRN_ETOOBIG: the output, a string value, the call depth or the step count passed its limit;
 * - CAIRN_EOS: a `.werf/` template file could not be read.
 * `o` and all its members may be NULL: no project dir (no files), name "template", getenv.
 */
CAIRN_API int cairn_template_render(char **out, size_t *out_len, const char *text, size_t len,
				    const struct cairn_template_opts *o, struct cairn_error **err);

#endif
