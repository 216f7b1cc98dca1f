/* SPDX-License-Identifier: MIT */
/* Unit tests for the Dockerfile parser: the instructions BuildKit makes of the same lines. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common.h"
#include "dockerfile/ignore.h"
#include "dockerfile/parse.h"
#include "dockerfile/plan.h"

static struct cairn_dockerfile *parse_ok(const char *text)
{
	struct cairn_dockerfile *df = NULL;
	struct cairn_error *err = NULL;

	if (cairn_dockerfile_parse(&df, text, strlen(text), "Dockerfile", &err) < 0)
		fail_msg("%s", err->msg);
	return df;
}

/* The error message for `text`, which must not parse. */
static char *parse_err(const char *text)
{
	struct cairn_dockerfile *df = NULL;
	struct cairn_error *err = NULL;
	char *msg;

	assert_int_equal(cairn_dockerfile_parse(&df, text, strlen(text), "Dockerfile", &err),
			 CAIRN_EINVAL);
	assert_null(df);
	msg = xstrdup(err->msg);
	cairn_error_free(err);
	return msg;
}

static void assert_args(const struct cairn_df_instr *in, const char *const *want, size_t n)
{
	assert_int_equal(in->n_args, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(in->args[i], want[i]);
}

#define ARGS(in, ...)                                          \
	do {                                                   \
		static const char *const w_[] = {__VA_ARGS__}; \
		assert_args((in), w_, ARRAY_SIZE(w_));         \
	} while (0)

static void test_forms(void **state)
{
	struct cairn_dockerfile *df =
		parse_ok("ARG BASE=debian:12\n"
			 "FROM ${BASE} AS build\n"
			 "RUN apt-get update && apt-get install -y make\n"
			 "RUN [\"make\", \"all\"]\n"
			 "ENV A=1 B=\"two words\" C='$HOME'\n"
			 "ENV LEGACY the whole rest\n"
			 "LABEL org.opencontainers.image.title=\"cairn test\" team=core\n"
			 "COPY --from=build --chown=app:app /out/app /usr/local/bin/\n"
			 "COPY [\"a b\", \"/dst/\"]\n"
			 "EXPOSE 80/tcp 443\n"
			 "WORKDIR /srv/app\n"
			 "USER app:app\n"
			 "VOLUME /data /cache\n"
			 "HEALTHCHECK --interval=5s CMD curl -f http://localhost/ || exit 1\n"
			 "ONBUILD RUN echo triggered\n"
			 "STOPSIGNAL SIGTERM\n"
			 "SHELL [\"/bin/bash\", \"-c\"]\n"
			 "ENTRYPOINT [\"/usr/local/bin/app\"]\n"
			 "CMD --serve\n");

	(void)state;
	assert_int_equal(df->n, 19);
	assert_int_equal(df->v[0].cmd, CAIRN_DF_ARG);
	ARGS(&df->v[0], "BASE=debian:12");
	ARGS(&df->v[1], "${BASE}", "AS", "build");
	ARGS(&df->v[2], "apt-get update && apt-get install -y make");
	assert_false(df->v[2].json);
	ARGS(&df->v[3], "make", "all");
	assert_true(df->v[3].json);
	ARGS(&df->v[4], "A", "1", "B", "\"two words\"", "C", "'$HOME'");
	ARGS(&df->v[5], "LEGACY", "the whole rest");
	ARGS(&df->v[6], "org.opencontainers.image.title", "\"cairn test\"", "team", "core");
	assert_int_equal(df->v[7].n_flags, 2);
	assert_string_equal(cairn_df_flag(&df->v[7], "from"), "build");
	assert_string_equal(cairn_df_flag(&df->v[7], "chown"), "app:app");
	assert_null(cairn_df_flag(&df->v[7], "chmod"));
	ARGS(&df->v[7], "/out/app", "/usr/local/bin/");
	ARGS(&df->v[8], "a b", "/dst/");
	ARGS(&df->v[9], "80/tcp", "443");
	ARGS(&df->v[10], "/srv/app");
	ARGS(&df->v[11], "app:app");
	ARGS(&df->v[12], "/data", "/cache");
	assert_string_equal(cairn_df_flag(&df->v[13], "interval"), "5s");
	ARGS(&df->v[13], "CMD", "curl -f http://localhost/ || exit 1");
	assert_int_equal(df->v[14].cmd, CAIRN_DF_ONBUILD);
	assert_int_equal(df->v[14].sub->cmd, CAIRN_DF_RUN);
	ARGS(df->v[14].sub, "echo triggered");
	ARGS(&df->v[16], "/bin/bash", "-c");
	assert_true(df->v[17].json);
	/* shell-form CMD: flags are only read after the keyword as "--x", so "--serve" is one */
	assert_int_equal(df->v[18].n_flags, 1);
	assert_int_equal(df->v[18].n_args, 0);
	for (size_t i = 0; i < df->n; i++)
		assert_int_equal(df->v[i].line, i + 1);
	cairn_dockerfile_free(df);
}

static void test_flags(void **state)
{
	struct cairn_dockerfile *df =
		parse_ok("FROM alpine\n"
			 "RUN --mount=type=cache,target=/root/.cache --network=none make\n"
			 "COPY --chmod=\"0755\" --link run.sh /\n"
			 "RUN -- --not-a-flag\n");

	(void)state;
	assert_string_equal(cairn_df_flag(&df->v[1], "mount"), "type=cache,target=/root/.cache");
	assert_string_equal(cairn_df_flag(&df->v[1], "network"), "none");
	ARGS(&df->v[1], "make");
	assert_string_equal(cairn_df_flag(&df->v[2], "chmod"), "0755");
	assert_string_equal(cairn_df_flag(&df->v[2], "link"), "");
	ARGS(&df->v[2], "run.sh", "/");
	assert_int_equal(df->v[3].n_flags, 0);
	ARGS(&df->v[3], "--not-a-flag");
	cairn_dockerfile_free(df);
}

static void test_continuations(void **state)
{
	struct cairn_dockerfile *df = parse_ok("\xef\xbb\xbf# a comment\r\n"
					       "FROM alpine\r\n"
					       "RUN apk add \\\r\n"
					       "# a comment inside is dropped\n"
					       "    curl \\   \n"
					       "\n"
					       "    git\n"
					       "  RUN echo a\\\\\n"
					       "RUN echo done \\\n");

	(void)state;
	assert_int_equal(df->n, 4);
	ARGS(&df->v[1], "apk add     curl     git");
	assert_int_equal(df->v[1].line, 3);
	assert_int_equal(df->v[1].end_line, 7);
	assert_int_equal(df->empty_continuations, 1);
	/* an escaped escape does not continue the line */
	ARGS(&df->v[2], "echo a\\\\");
	assert_int_equal(df->v[2].line, 8);
	/* a continuation at the end of the file ends the instruction */
	ARGS(&df->v[3], "echo done");
	cairn_dockerfile_free(df);
}

static void test_directives(void **state)
{
	struct cairn_dockerfile *df = parse_ok("# syntax=docker/dockerfile:1.4\n"
					       "#escape=`\n"
					       "FROM mcr.microsoft.com/windows\n"
					       "RUN dir `\n"
					       "    c:\\\n"
					       "# escape=\\\n");
	char *msg;

	(void)state;
	assert_string_equal(df->syntax, "docker/dockerfile:1.4");
	assert_int_equal(df->escape, '`');
	ARGS(&df->v[1], "dir     c:\\");
	cairn_dockerfile_free(df);
	/* after another comment, a directive is a comment */
	df = parse_ok("# hello\n# escape=`\nFROM a\nRUN x \\\n  y\n");
	assert_int_equal(df->escape, '\\');
	ARGS(&df->v[1], "x   y");
	cairn_dockerfile_free(df);
	msg = parse_err("# escape=\\\n# escape=`\nFROM a\n");
	assert_string_equal(msg, "Dockerfile:2: only one escape parser directive can be used");
	free(msg);
	msg = parse_err("# escape=x\nFROM a\n");
	assert_non_null(strstr(msg, "Dockerfile:1: invalid escape token 'x'"));
	free(msg);
}

static void test_heredocs(void **state)
{
	struct cairn_dockerfile *df = parse_ok("FROM busybox\n"
					       "RUN <<EOF\n"
					       "echo $HOME\n"
					       "echo two\n"
					       "EOF\n"
					       "RUN <<-\"END\" cat > /x && 3<<'B' sh -c 'cat <&3'\n"
					       "\t\tindented $NOT\n"
					       "\tEND\n"
					       "b-body\n"
					       "B\n"
					       "COPY <<conf /etc/app.conf\n"
					       "key=value\n"
					       "conf\n"
					       "RUN [\"echo\", \"<<EOF\"]\n"
					       "CMD x\n");
	char *msg;

	(void)state;
	assert_int_equal(df->n, 6);
	assert_int_equal(df->v[1].n_heredocs, 1);
	assert_string_equal(df->v[1].heredocs[0].name, "EOF");
	assert_string_equal(df->v[1].heredocs[0].content, "echo $HOME\necho two\n");
	assert_true(df->v[1].heredocs[0].expand);
	assert_int_equal(df->v[1].end_line, 5);
	assert_int_equal(df->v[2].n_heredocs, 2);
	assert_string_equal(df->v[2].heredocs[0].name, "END");
	assert_true(df->v[2].heredocs[0].chomp);
	assert_false(df->v[2].heredocs[0].expand);
	assert_string_equal(df->v[2].heredocs[0].content, "indented $NOT\n");
	assert_string_equal(df->v[2].heredocs[1].name, "B");
	assert_int_equal(df->v[2].heredocs[1].fd, 3);
	assert_string_equal(df->v[2].heredocs[1].content, "b-body\n");
	assert_int_equal(df->v[2].line, 6);
	assert_int_equal(df->v[2].end_line, 10);
	ARGS(&df->v[3], "<<conf", "/etc/app.conf");
	assert_string_equal(df->v[3].heredocs[0].content, "key=value\n");
	assert_int_equal(df->v[4].n_heredocs, 0);
	assert_int_equal(df->v[5].line, 15);
	cairn_dockerfile_free(df);
	msg = parse_err("FROM a\nRUN <<EOF\necho\n");
	assert_string_equal(msg, "Dockerfile:2: unterminated heredoc 'EOF'");
	free(msg);
}

static void test_errors(void **state)
{
	static const struct {
		const char *text, *msg;
	} c[] = {
		{"FROM a\nFROB x\n", "Dockerfile:2: unknown instruction: FROB"},
		{"RUN x\nFROM a\n",
		 "Dockerfile:1: no build stage in current context: RUN before FROM"},
		{"FROM a\nCMD [\"a\", 1]\n",
		 "Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only"},
		{"FROM a b\n", "Dockerfile:1: FROM requires either one or three arguments"},
		{"FROM a\nSHELL /bin/sh -c\n",
		 "Dockerfile:2: SHELL requires the arguments to be in JSON form"},
		{"FROM a\nONBUILD FROM b\n",
		 "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger"},
		{"FROM a\nONBUILD ONBUILD RUN x\n",
		 "Dockerfile:2: chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"},
		{"FROM a\nENV A\n", "Dockerfile:2: ENV must have two arguments"},
		{"FROM a\nENV A=1 B\n",
		 "Dockerfile:2: syntax error - can't find = in 'B'. Must be of the form: name=value"},
		{"FROM a\nCOPY x\n",
		 "Dockerfile:2: COPY requires at least two arguments, but only one "
		 "was provided. Destination could not be determined"},
		{"FROM a\nWORKDIR\n", "Dockerfile:2: WORKDIR requires at least one argument"},
		{"FROM a\nHEALTHCHECK NONE x\n",
		 "Dockerfile:2: HEALTHCHECK NONE takes no other argument"},
		{"# only a comment\n\n", "Dockerfile:2: file with no instructions"},
		{"ARG A=1\n", "Dockerfile:1: no FROM instruction"},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		char *msg = parse_err(c[i].text);

		if (strcmp(msg, c[i].msg) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, msg, c[i].msg);
		free(msg);
	}
}

static void test_dockerignore(void **state)
{
	static const char text[] = "# comment\n"
				   "  # not a comment: a pattern\n"
				   "*.log\n"
				   "!important.log\n"
				   "./build/\n"
				   "/dist\n"
				   "**/node_modules\n"
				   "docs/**/*.md\n"
				   "!docs/keep/**\n"
				   "tmp?\n"
				   "[ab]cache\n"
				   "lit\\*eral\n"
				   "a/../secret\n"
				   "\n";
	static const struct {
		const char *path;
		bool out;
	} c[] = {
		{"app.log", true},
		{"important.log", false},
		{"sub/app.log", false}, /* "*" stays within one element */
		{"build", true},
		{"build/x/y.o", true}, /* under an excluded directory */
		{"dist/app.js", true},
		{"src/dist", false},
		{"node_modules/x/index.js", true},
		{"a/b/node_modules", true},
		{"docs/a.md", true},
		{"docs/x/y/z.md", true},
		{"docs/keep/k.md", false},
		{"docs/a.txt", false},
		{"tmp1", true},
		{"tmp12", false},
		{"acache", true},
		{"ccache", false},
		{"lit*eral", true},
		{"litXeral", false},
		{"secret", true},
		{"# not a comment: a pattern", true},
		{"main.go", false},
	};
	struct cairn_dockerignore *di = NULL;
	struct cairn_error *err = NULL;

	(void)state;
	assert_int_equal(cairn_dockerignore_parse(&di, text, strlen(text), ".dockerignore", &err),
			 0);
	assert_int_equal(cairn_dockerignore_count(di), 12);
	for (size_t i = 0; i < ARRAY_SIZE(c); i++)
		if (cairn_dockerignore_excluded(di, c[i].path) != c[i].out)
			fail_msg("'%s': want %s", c[i].path, c[i].out ? "excluded" : "kept");
	cairn_dockerignore_free(di);
	/* an exception re-includes only after the exclusion it follows */
	assert_int_equal(cairn_dockerignore_parse(&di, "!a\n*\n", 5, ".dockerignore", &err), 0);
	assert_true(cairn_dockerignore_excluded(di, "a"));
	cairn_dockerignore_free(di);
	assert_int_equal(cairn_dockerignore_parse(&di, "ok\n[abc\n", 8, ".dockerignore", &err),
			 CAIRN_EINVAL);
	assert_string_equal(err->msg,
			    ".dockerignore:2: syntax error in pattern: a '[' without its ']'");
	cairn_error_free(err);
	/* stars everywhere: an answer, quickly */
	assert_int_equal(cairn_dockerignore_parse(&di, "*a*a*a*a*a*a*a*a*a*a*a*a*b\n", 27,
						  ".dockerignore", &err),
			 0);
	assert_false(cairn_dockerignore_excluded(di, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	cairn_dockerignore_free(di);
}

static struct cairn_df_plan *plan_of(const char *text, const char *target, const char *const *args,
				     size_t n, char **msg)
{
	struct cairn_dockerfile *df = parse_ok(text);
	struct cairn_df_plan *p = NULL;
	struct cairn_error *err = NULL;

	*msg = NULL;
	if (cairn_df_plan(&p, df, target, args, n, "Dockerfile", &err) < 0) {
		*msg = xstrdup(err->msg);
		cairn_error_free(err);
	}
	cairn_dockerfile_free(df);
	return p;
}

static void test_plan(void **state)
{
	static const char text[] = "ARG GO=1.21\n"
				   "ARG BASE=debian:${DIST:-12}\n"
				   "FROM golang:${GO} AS Build\n"
				   "RUN --mount=type=cache,from=cache,target=/c go build\n"
				   "FROM alpine AS cache\n"
				   "RUN mkdir /c\n"
				   "FROM alpine AS unused\n"
				   "RUN true\n"
				   "FROM ${BASE} AS tools\n"
				   "FROM build AS test\n"
				   "RUN go test\n"
				   "FROM scratch\n"
				   "COPY --from=build /out/app /app\n"
				   "COPY --from=3 /usr/bin/tool /tool\n"
				   "COPY --from=busybox:1 /bin/sh /sh\n";
	static const char *const args[] = {"GO=1.22", "UNDECLARED=x"};
	struct cairn_df_plan *p;
	char *msg;

	(void)state;
	p = plan_of(text, NULL, args, 2, &msg);
	assert_null(msg);
	assert_int_equal(p->n, 6);
	assert_string_equal(p->v[0].name, "build");
	assert_string_equal(p->v[0].base, "golang:1.22");
	assert_int_equal(p->v[0].first, 2);
	assert_int_equal(p->v[0].last, 3);
	assert_string_equal(p->v[3].base, "debian:12");
	assert_null(p->v[4].base);
	assert_int_equal(p->v[4].base_stage, 0);
	assert_null(p->v[5].name);
	assert_string_equal(p->v[5].base, "scratch");
	assert_int_equal(p->target, 5);
	/* the last stage needs build (and its cache mount's stage) and stage 3, nothing else */
	assert_true(p->v[5].needed && p->v[0].needed && p->v[1].needed && p->v[3].needed);
	assert_false(p->v[2].needed);
	assert_false(p->v[4].needed);
	cairn_df_plan_free(p);
	/* a named target */
	p = plan_of(text, "TEST", NULL, 0, &msg);
	assert_null(msg);
	assert_int_equal(p->target, 4);
	assert_true(p->v[4].needed && p->v[0].needed && p->v[1].needed);
	assert_false(p->v[3].needed || p->v[5].needed || p->v[2].needed);
	assert_string_equal(p->v[0].base, "golang:1.21");
	cairn_df_plan_free(p);
	/* errors */
	assert_null(plan_of(text, "nope", NULL, 0, &msg));
	assert_string_equal(msg, "Dockerfile: target stage 'nope' could not be found");
	free(msg);
	assert_null(plan_of("FROM a AS x\nFROM b AS X\n", NULL, NULL, 0, &msg));
	assert_string_equal(msg, "Dockerfile:2: duplicate stage name 'x'");
	free(msg);
	assert_null(plan_of("FROM a AS 1x\n", NULL, NULL, 0, &msg));
	assert_string_equal(msg, "Dockerfile:1: invalid name for build stage: '1x'");
	free(msg);
	assert_null(plan_of("ARG IMG\nFROM ${IMG}\n", NULL, NULL, 0, &msg));
	assert_string_equal(msg, "Dockerfile:2: base name (${IMG}) should not be blank");
	free(msg);
	assert_null(plan_of("FROM a\nCOPY --from=7 /x /y\n", NULL, NULL, 0, &msg));
	assert_string_equal(msg, "Dockerfile:2: --from=7: no stage 7 before this one");
	free(msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),	      cmocka_unit_test(test_flags),
		cmocka_unit_test(test_continuations), cmocka_unit_test(test_directives),
		cmocka_unit_test(test_heredocs),      cmocka_unit_test(test_errors),
		cmocka_unit_test(test_dockerignore),  cmocka_unit_test(test_plan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
