/* SPDX-License-Identifier: MIT */
/*
 * Dockerfile parsing, as BuildKit's frontend parses the file (frontend/dockerfile/parser): parser
 * directives, line continuations, comments, heredocs, builder flags, JSON and shell forms. The
 * result is the instructions as written; variables are substituted later, per instruction and
 * stage (dockerfile/words.h), as the build gets there.
 */
#ifndef CAIRN_DOCKERFILE_PARSE_H
#define CAIRN_DOCKERFILE_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "cairn/error.h"

/* A Dockerfile larger than this is refused (the biggest real ones are a few hundred KiB). */
#define CAIRN_DOCKERFILE_MAX (4u << 20)

enum cairn_df_cmd {
	CAIRN_DF_ADD,
	CAIRN_DF_ARG,
	CAIRN_DF_CMD,
	CAIRN_DF_COPY,
	CAIRN_DF_ENTRYPOINT,
	CAIRN_DF_ENV,
	CAIRN_DF_EXPOSE,
	CAIRN_DF_FROM,
	CAIRN_DF_HEALTHCHECK,
	CAIRN_DF_LABEL,
	CAIRN_DF_MAINTAINER,
	CAIRN_DF_ONBUILD,
	CAIRN_DF_RUN,
	CAIRN_DF_SHELL,
	CAIRN_DF_STOPSIGNAL,
	CAIRN_DF_USER,
	CAIRN_DF_VOLUME,
	CAIRN_DF_WORKDIR,
	CAIRN_DF_CMD_COUNT,
};

/* The keyword of `cmd`, upper case ("COPY"). */
const char *cairn_df_cmd_name(enum cairn_df_cmd cmd);

/* A heredoc of RUN, COPY or ADD: `<<EOF` on the instruction's line, its lines after it. */
struct cairn_df_heredoc {
	char *name;    /* the terminator, quotes removed */
	char *content; /* the lines before the terminator, each with its newline */
	bool expand;   /* the name had no quotes: variables in `content` are expanded */
	bool chomp;    /* `<<-`: leading tabs were removed from each line of `content` */
	unsigned fd;   /* `3<<EOF`: the file descriptor; 0 when none was written */
};

/*
 * One instruction. `args` by keyword, as BuildKit's parse tree has them:
 * - RUN, CMD, ENTRYPOINT, SHELL: the JSON array (exec form, `json`), else one argument, the text
 *   (shell form);
 * - ADD, COPY, VOLUME: the JSON array, else the words split at whitespace;
 * - FROM, EXPOSE: the words split at whitespace;
 * - ENV, LABEL: pairs KEY, VALUE (values with their quotes, substituted later); the legacy
 *   `ENV KEY the value` is one pair;
 * - ARG: the words NAME or NAME=VALUE, quotes kept;
 * - HEALTHCHECK: the type ("CMD", "NONE" as written), then the command as for CMD;
 * - MAINTAINER, STOPSIGNAL, USER, WORKDIR: one argument, the text;
 * - ONBUILD: none; `sub` is the instruction it records.
 */
struct cairn_df_instr {
	enum cairn_df_cmd cmd;
	unsigned line, end_line; /* 1-based, the first and last line it spans (heredocs too) */
	char *original;		 /* the instruction, continuation lines joined */
	char **flags;		 /* "--from=build", quotes removed */
	size_t n_flags;
	bool json;
	char **args;
	size_t n_args;
	struct cairn_df_instr *sub; /* ONBUILD's */
	struct cairn_df_heredoc *heredocs;
	size_t n_heredocs;
};

struct cairn_dockerfile {
	char escape;  /* '\\', or '`' from `# escape=` */
	char *syntax; /* `# syntax=` as written, or NULL */
	struct cairn_df_instr *v;
	size_t n;
	unsigned empty_continuations; /* empty lines inside a continued instruction (warned) */
};

/**
 * Parse the Dockerfile `text` (`len` bytes, from `file`, named in errors). CAIRN_EINVAL with
 * "FILE:LINE: ..." for what BuildKit refuses too: an unknown instruction, a JSON array of other
 * than strings, an unterminated heredoc, a repeated or invalid directive, ENV/LABEL without a
 * value, ONBUILD of ONBUILD/FROM/MAINTAINER, a file without instructions or over
 * CAIRN_DOCKERFILE_MAX. *out is freed with cairn_dockerfile_free().
 */
int cairn_dockerfile_parse(struct cairn_dockerfile **out, const char *text, size_t len,
			   const char *file, struct cairn_error **err);
void cairn_dockerfile_free(struct cairn_dockerfile *df);

/*
 * The value of KEY in a "key=value,key=value" spec (a --mount flag's, a --secret's): the first
 * one, a new string; NULL when it has none.
 */
char *cairn_df_spec_value(const char *spec, const char *key);

/* The value of flag `name` ("from" for --from=X) of `in`: the last one given, or NULL. */
const char *cairn_df_flag(const struct cairn_df_instr *in, const char *name);

#endif
