/* SPDX-License-Identifier: MIT */
/* Unit tests for werf.yaml templates: actions, functions, trimming, scoping, files and limits. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common.h"
#include "cairn/config.h"
#include "cairn/template.h"
#include "util/buf.h"

#include <fcntl.h>
#include <sys/stat.h>

static const char *fake_getenv(const char *name)
{
	if (strcmp(name, "APP") == 0)
		return "web";
	if (strcmp(name, "IMAGES") == 0)
		return "api,worker";
	if (strcmp(name, "EMPTY") == 0)
		return "";
	return NULL;
}

struct row {
	const char *in;
	const char *out; /* expected output, or a prefix of the error message */
	int ret;
};

static void run_rows(const struct row *c, size_t n, const char *dir)
{
	struct cairn_template_opts o = {.dir = dir, .name = "werf.yaml", .getenv_fn = fake_getenv};

	for (size_t i = 0; i < n; i++) {
		struct cairn_error *err = NULL;
		char *out = NULL;
		size_t len = 0;
		int ret = cairn_template_render(&out, &len, c[i].in, strlen(c[i].in), &o, &err);

		if (ret != c[i].ret || (ret == 0 && strcmp(out, c[i].out) != 0) ||
		    (ret < 0 && strncmp(err->msg, c[i].out, strlen(c[i].out)) != 0))
			print_error("row %zu: %s\n  got %d '%s'\n  want %d '%s'\n", i, c[i].in, ret,
				    ret == 0 ? out : err->msg, c[i].ret, c[i].out);
		assert_int_equal(ret, c[i].ret);
		if (ret == 0) {
			assert_null(err);
			assert_int_equal(len, strlen(out));
			assert_string_equal(out, c[i].out);
		} else {
			assert_null(out);
			assert_int_equal(err->code, ret);
			assert_true(strncmp(err->msg, c[i].out, strlen(c[i].out)) == 0);
		}
		free(out);
		cairn_error_free(err);
	}
}

static void test_actions(void **state)
{
	static const struct row c[] = {
		{"plain text", "plain text", 0},
		{"", "", 0},
		{"a {{ \"b\" }} c", "a b c", 0},
		{"{{ `raw \\n` }}", "raw \\n", 0},
		{"{{ \"q\\\"\\n\\t\" }}", "q\"\n\t", 0},
		/* Go's escapes: bytes by octal and \x, code points by \u and \U */
		{"{{ \"\\u00e9\\x41\\101\\U0001F433\\a\\b\\f\\v\\\\\" }}",
		 "\xc3\xa9"
		 "AA\xf0\x9f\x90\xb3\a\b\f\v\\",
		 0},
		{"{{ 42 }} {{ -7 }} {{ 0x10 }}", "42 -7 16", 0},
		{"{{ true }} {{ false }}", "true false", 0},
		{"a{{/* comment */}}b", "ab", 0},
		{"a  {{- /* c */ -}}  b", "ab", 0},
		{"a \n {{- \"x\" -}} \n b", "axb", 0},
		{"a {{- \"x\" }} b", "ax b", 0},
		{"a {{ \"x\" -}} b", "a xb", 0},
		{"{{ -1 }}", "-1", 0},
		{"{{ \"a\" | upper }}", "A", 0},
		{"{{ \"a b\" | replace \" \" \"-\" | upper }}", "A-B", 0},
		{"{{ (printf \"%s-%s\" \"a\" \"b\") }}", "a-b", 0},
		{"{{ upper (lower \"AbC\") }}", "ABC", 0},
		{"{{ . }}", "map[Files:{}]", 0},
		{"{{ .Missing }}", "<no value>", 0},
		{"{{ $x := \"v\" }}{{ $x }}", "v", 0},
		{"{{ $x := 1 }}{{ $x = 2 }}{{ $x }}", "2", 0},
		{"{{ $.Missing }}", "<no value>", 0},
		/* as Go over werf's map: a missing key's fields are no value too */
		{"{{ .Chart.Name }}", "<no value>", 0},
		{"{{ $x := .M }}{{ $x.Name.More }}", "<no value>", 0},
		{"{{ define \"t\" }}{{ .A.B }}{{ end }}{{ template \"t\" }}", "<no value>", 0},
		{"{{ if .A.B }}y{{ else }}n{{ end }}", "n", 0},
		{"{{ (fromYaml \"a: ~\").a.b }}", "werf.yaml:1:4: nil pointer evaluating field 'b'",
		 CAIRN_EINVAL},
		/* $ may be declared and assigned: the innermost one is read */
		{"{{ $ := 3 }}{{ $ }}{{ with 4 }}{{ $ }}{{ end }}", "33", 0},
		{"{{ with 4 }}{{ $ := 5 }}{{ $ }}{{ end }}{{ $.Missing }}", "5<no value>", 0},
		{"{{ define \"t\" }}{{ $ := index . 0 }}{{ $ }}{{ end }}{{ include \"t\" (list 7) }}",
		 "7", 0},
		{"{{ $ = 7 }}{{ $ }}", "7", 0},
		{"{{ $x := dict \"a\" (dict \"b\" \"c\") }}{{ $x.a.b }}", "c", 0},
		{"{{ (dict \"k\" \"v\").k }}", "v", 0},
		{"{{ if true }}y{{ end }}", "y", 0},
		{"{{ if \"\" }}y{{ else }}n{{ end }}", "n", 0},
		{"{{ if 0 }}a{{ else if 1 }}b{{ else }}c{{ end }}", "b", 0},
		{"{{ if 0 }}a{{ else if 0 }}b{{ else }}c{{ end }}", "c", 0},
		{"{{ if list }}a{{ else }}empty{{ end }}", "empty", 0},
		{"{{ if dict }}a{{ else }}empty{{ end }}", "empty", 0},
		{"{{ if eq nil nil }}nil{{ end }}", "nil", 0},
		{"{{ if nil }}a{{ end }}", "werf.yaml:1:7: nil is not a command", CAIRN_EINVAL},
		{"{{ with \"w\" }}[{{ . }}]{{ end }}", "[w]", 0},
		{"{{ with \"\" }}x{{ else }}none{{ end }}", "none", 0},
		{"{{ with $v := \"z\" }}{{ $v }}{{ . }}{{ end }}", "zz", 0},
		{"{{ range list \"a\" \"b\" }}<{{ . }}>{{ end }}", "<a><b>", 0},
		{"{{ range $i, $v := list \"a\" \"b\" }}{{ $i }}={{ $v }};{{ end }}", "0=a;1=b;",
		 0},
		{"{{ range $k, $v := dict \"b\" 2 \"a\" 1 \"c\" 3 }}{{ $k }}{{ $v }}{{ end }}",
		 "a1b2c3", 0},
		{"{{ range $v := list 1 2 }}{{ $v }}{{ end }}", "12", 0},
		{"{{ range list }}x{{ else }}none{{ end }}", "none", 0},
		{"{{ range list 1 2 }}{{ $.Missing }}{{ end }}", "<no value><no value>", 0},
		{"{{ $s := \"\" }}{{ range list \"a\" \"b\" }}{{ $s = printf \"%s%s\" $s . }}{{ end }}"
		 "{{ $s }}",
		 "ab", 0},
		{"{{ range list (list 1 2) (list 3) }}{{ range . }}{{ . }}{{ end }};{{ end }}",
		 "12;3;", 0},
		{"{{ if true }}{{ $x := 1 }}{{ $x }}{{ end }}", "1", 0},
		{"{{ define \"t\" }}T{{ . }}{{ end }}{{ template \"t\" \"x\" }}", "Tx", 0},
		{"{{ define \"t\" }}[{{ $ }}]{{ end }}{{ template \"t\" 5 }}", "[5]", 0},
		{"{{ define \"t\" }}T{{ end }}{{ template \"t\" }}", "T", 0},
		{"{{ define \"t\" }}<{{ . }}>{{ end }}{{ include \"t\" \"a\" | upper }}", "<A>", 0},
		{"{{ define \"t\" }}  x{{ end }}{{ include \"t\" . | indent 2 }}", "    x", 0},
		{"{{ define \"a\" }}A{{ include \"b\" . }}{{ end }}{{ define \"b\" }}B{{ end }}"
		 "{{ include \"a\" . }}",
		 "AB", 0},
		{"{{ $x := 1 }}{{ define \"t\" }}{{ $x }}{{ end }}{{ template \"t\" }}",
		 "werf.yaml:1:33: undefined variable '$x'", CAIRN_EINVAL},
	};

	(void)state;
	run_rows(c, ARRAY_SIZE(c), NULL);
}

static void test_functions(void **state)
{
	static const struct row c[] = {
		{"{{ env \"APP\" }}", "web", 0},
		{"{{ env \"NOPE\" }}", "", 0},
		{"{{ env \"NOPE\" | default \"dflt\" }}", "dflt", 0},
		{"{{ env \"APP\" | default \"dflt\" }}", "web", 0},
		{"{{ default \"d\" 0 }}{{ default \"d\" false }}{{ default \"d\" list }}", "ddd",
		 0},
		{"{{ default \"d\" }}", "d", 0},
		{"{{ empty \"\" }} {{ empty \"x\" }} {{ empty 0 }} {{ empty list }}",
		 "true false true true", 0},
		{"{{ required \"need APP\" (env \"APP\") }}", "web", 0},
		{"{{ quote \"a\" }} {{ quote \"a\\\"b\" 1 }} {{ quote }}",
		 "\"a\" \"a\\\"b\" \"1\" ", 0},
		{"{{ \"x\\ny\" | quote }}", "\"x\\ny\"", 0},
		{"{{ squote \"a\" \"b\" }}", "'a' 'b'", 0},
		{"{{ \"a\\nb\" | indent 2 }}", "  a\n  b", 0},
		{"x:{{ \"a\\nb\" | nindent 4 }}", "x:\n    a\n    b", 0},
		{"[{{ trim \"  a b \\n\" }}]", "[a b]", 0},
		{"{{ upper \"aBc1\" }} {{ lower \"AbC\" }}", "ABC1 abc", 0},
		{"{{ replace \"a\" \"b\" \"banana\" }}", "bbnbnb", 0},
		{"{{ replace \"\" \"-\" \"ab\" }}", "-a-b-", 0},
		{"{{ $p := split \",\" \"a,b,c\" }}{{ $p._0 }}{{ $p._2 }} {{ len $p }}", "ac 3", 0},
		{"{{ split \",\" \"a,b\" }}", "map[_0:a _1:b]", 0},
		{"{{ splitList \",\" \"a,,b\" }}", "[a  b]", 0},
		{"{{ range splitList \",\" (env \"IMAGES\") }}- {{ . }}\n{{ end }}",
		 "- api\n- worker\n", 0},
		{"{{ join \"-\" (list \"a\" 1 true) }}", "a-1-true", 0},
		{"{{ list \"a\" \"b\" | join \",\" }}", "a,b", 0},
		{"{{ list }} {{ list 1 (list 2 3) }}", "[] [1 [2 3]]", 0},
		{"{{ dict \"b\" 1 \"a\" (list 1) }}", "map[a:[1] b:1]", 0},
		{"{{ dict \"odd\" }}", "map[odd:]", 0},
		{"{{ toJson (dict \"a\" (list 1 \"x<\" true nil) \"b\" \"\") }}",
		 "{\"a\":[1,\"x\\u003c\",true,null],\"b\":\"\"}", 0},
		{"{{ b64enc \"\" }}|{{ b64enc \"f\" }}|{{ b64enc \"fo\" }}|{{ b64enc \"foo\" }}",
		 "|Zg==|Zm8=|Zm9v", 0},
		{"{{ eq 1 1 }} {{ eq \"a\" \"b\" }} {{ eq 1 2 3 1 }} {{ ne \"a\" \"b\" }}",
		 "true false true true", 0},
		{"{{ lt 1 2 }} {{ gt 1 2 }} {{ lt \"a\" \"b\" }} {{ gt \"b\" \"a\" }}",
		 "true false true true", 0},
		{"{{ and 1 \"x\" }} {{ and 1 0 }} {{ or 0 \"\" }} {{ or 0 \"y\" }}", "x 0  y", 0},
		{"{{ and false (required \"never evaluated\" \"\") }}", "false", 0},
		{"{{ not true }} {{ not \"\" }}", "false true", 0},
		{"{{ len \"abc\" }} {{ len (list 1 2) }} {{ len dict }}", "3 2 0", 0},
		{"{{ printf \"%s=%d %v %q %%\" \"a\" 5 (list 1) \"q\" }}", "a=5 [1] \"q\" %", 0},
		{"{{ printf \"[%5s][%-3d][%03d][%03d]\" \"ab\" 7 5 -5 }}", "[   ab][7  ][005][-05]",
		 0},
		{"{{ printf \"%d %s\" \"x\" }}", "%!d(string=x) %!s(MISSING)", 0},
		{"{{ printf \"a\" 1 }}", "a%!(EXTRA int=1)", 0},
		{"{{ printf \"%v\" nil }}", "<nil>", 0},
		{"{{ \"x\" | printf \"<%s>\" }}", "<x>", 0},
		{"{{ required \"set APP2\" (env \"APP2\") }}", "werf.yaml:1:4: set APP2",
		 CAIRN_EINVAL},
		{"a\n  {{ now }}", "werf.yaml:2:6: function 'now' is not supported", CAIRN_EINVAL},
		{"{{ upper }}", "werf.yaml:1:4: wrong number of args for upper", CAIRN_EINVAL},
		{"{{ eq 1 \"1\" }}", "werf.yaml:1:4: eq: incompatible types", CAIRN_EINVAL},
		{"{{ lt (list) (list) }}", "werf.yaml:1:4: lt: invalid type", CAIRN_EINVAL},
		{"{{ len 3 }}", "werf.yaml:1:4: len of int", CAIRN_EINVAL},
		{"{{ indent \"x\" \"y\" }}", "werf.yaml:1:4: indent: expected an integer",
		 CAIRN_EINVAL},
	};

	(void)state;
	run_rows(c, ARRAY_SIZE(c), NULL);
}

static void test_errors(void **state)
{
	static const struct row c[] = {
		{"ok\n{{ \"x\" ", "werf.yaml:2:1: unclosed action", CAIRN_EINVAL},
		{"{{ \"abc }}", "werf.yaml:1:4: unterminated quoted string", CAIRN_EINVAL},
		{"{{ \"\\x4\" }}", "werf.yaml:1:5: unsupported escape sequence '\\x'",
		 CAIRN_EINVAL},
		{"{{ \"\\ud800\" }}", "werf.yaml:1:5: unsupported escape sequence '\\u'",
		 CAIRN_EINVAL},
		{"{{ \"\\U00110000\" }}", "werf.yaml:1:5: unsupported escape sequence '\\U'",
		 CAIRN_EINVAL},
		{"{{ \"\\400\" }}", "werf.yaml:1:5: unsupported escape sequence '\\4'",
		 CAIRN_EINVAL},
		{"{{ \"\\0\" }}", "werf.yaml:1:5: unsupported escape sequence '\\0'", CAIRN_EINVAL},
		{"{{ \"\\q\" }}", "werf.yaml:1:5: unsupported escape sequence '\\q'", CAIRN_EINVAL},
		{"{{/* x }}", "werf.yaml:1:1: unclosed comment", CAIRN_EINVAL},
		{"{{ if 1 }}x", "werf.yaml:1:1: unexpected EOF", CAIRN_EINVAL},
		{"x\n{{ end }}", "werf.yaml:2:1: unexpected {{end}}", CAIRN_EINVAL},
		{"{{ else }}", "werf.yaml:1:1: unexpected {{else}}", CAIRN_EINVAL},
		{"{{ }}", "werf.yaml:1:4: missing value for command", CAIRN_EINVAL},
		{"{{ $y }}", "werf.yaml:1:4: undefined variable '$y'", CAIRN_EINVAL},
		{"{{ $y = 1 }}", "werf.yaml:1:4: undefined variable '$y'", CAIRN_EINVAL},
		{"{{ if 1 }}{{ $x := 1 }}{{ end }}{{ $x }}", "werf.yaml:1:36: undefined variable",
		 CAIRN_EINVAL},
		{"{{ range list 1 }}{{ $i := 1 }}{{ end }}{{ $i }}", "werf.yaml:1:44: undefined",
		 CAIRN_EINVAL},
		{"{{ template \"nope\" }}", "werf.yaml:1:1: no such template 'nope'", CAIRN_EINVAL},
		{"{{ \"a\" \"b\" }}", "werf.yaml:1:4: can't give argument to non-function",
		 CAIRN_EINVAL},
		{"{{ .Files.Get.x }}", "werf.yaml:1:4: can't evaluate field 'Get' in type files",
		 CAIRN_EINVAL},
		{"{{ \"s\" | .Files }}", "werf.yaml:1:10: can't give argument", CAIRN_EINVAL},
		{"{{ range 5 }}{{ end }}", "werf.yaml:1:1: range can't iterate over int",
		 CAIRN_EINVAL},
		{"{{ if 1 }}{{ define \"x\" }}{{ end }}{{ end }}", "werf.yaml:1:11: {{define}}",
		 CAIRN_EINVAL},
		{"{{ 1.5 }}", "werf.yaml:1:4: unsupported number", CAIRN_EINVAL},
		{"{{ # }}", "werf.yaml:1:4: unexpected '#' in action", CAIRN_EINVAL},
		{"{{ block \"x\" . }}{{ end }}", "werf.yaml:1:4: 'block' is not supported",
		 CAIRN_EINVAL},
		{"{{ define \"r\" }}{{ template \"r\" }}{{ end }}{{ template \"r\" }}",
		 "werf.yaml:1:", CAIRN_ETOOBIG},
		{"{{ $l := list 1 2 3 4 5 6 7 8 9 10 }}{{ range $l }}{{ range $l }}{{ range $l }}"
		 "{{ range $l }}{{ range $l }}{{ range $l }}{{ range $l }}{{ range $l }}x"
		 "{{ end }}{{ end }}{{ end }}{{ end }}{{ end }}{{ end }}{{ end }}{{ end }}",
		 "werf.yaml:1:", CAIRN_ETOOBIG},
	};

	(void)state;
	run_rows(c, ARRAY_SIZE(c), NULL);
}

static void write_file(int dfd, const char *name, const char *text)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static char *make_project(int *dfd_out)
{
	char tmpl[] = "/tmp/cairn-template-XXXXXX";
	char *dir = mkdtemp(tmpl) ? xstrdup(tmpl) : NULL;
	int dfd;

	assert_non_null(dir);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(mkdirat(dfd, ".werf", 0755), 0);
	assert_int_equal(mkdirat(dfd, ".werf/sub", 0755), 0);
	assert_int_equal(mkdirat(dfd, "files", 0755), 0);
	write_file(dfd, ".werf/a.tmpl", "{{ define \"shell\" }}echo {{ . }}{{ end }}");
	write_file(dfd, ".werf/sub/b.tmpl", "B={{ . }}");
	write_file(dfd, ".werf/ignored.txt", "{{ define \"shell\" }}wrong{{ end }}");
	write_file(dfd, "files/conf.txt", "line1\nline2\n");
	/* links inside the project: one that stays in it, one that leaves it */
	assert_int_equal(symlinkat("conf.txt", dfd, "files/inside"), 0);
	assert_int_equal(symlinkat("/etc/hostname", dfd, "files/outside"), 0);
	*dfd_out = dfd;
	return dir;
}

static void remove_project(char *dir, int dfd)
{
	unlinkat(dfd, ".werf/a.tmpl", 0);
	unlinkat(dfd, ".werf/sub/b.tmpl", 0);
	unlinkat(dfd, ".werf/ignored.txt", 0);
	unlinkat(dfd, ".werf/bad.tmpl", 0);
	unlinkat(dfd, ".werf/sub", AT_REMOVEDIR);
	unlinkat(dfd, ".werf", AT_REMOVEDIR);
	unlinkat(dfd, "files/conf.txt", 0);
	unlinkat(dfd, "files", AT_REMOVEDIR);
	unlinkat(dfd, "werf.yaml", 0);
	close(dfd);
	rmdir(dir);
	free(dir);
}

static void capture_log(enum cairn_log_level level, const char *msg, void *userdata)
{
	static const char *const names[] = {"error", "warn", "info", "debug", "trace"};

	cairn_buf_addf(userdata, "%s: %s\n", names[level], msg);
}

static void test_files(void **state)
{
	static const struct row c[] = {
		{"{{ .Files.Get \"files/conf.txt\" }}", "line1\nline2\n", 0},
		{"{{ .Files.Get \"./files//conf.txt\" | trim | indent 2 }}", "  line1\n  line2", 0},
		{"{{ \"files/conf.txt\" | .Files.Get | len }}", "12", 0},
		{"{{ $.Files.Get \"files/conf.txt\" | len }}", "12", 0},
		{"{{ include \"shell\" \"hi\" }}", "echo hi", 0},
		{"{{ template \"shell\" \"x\" }}", "echo x", 0},
		{"{{ include \"sub/b.tmpl\" 1 }}", "B=1", 0},
		{"{{ .Files.Get \"../etc/passwd\" }}",
		 "werf.yaml:1:4: .Files.Get '../etc/passwd': path "
		 "leaves the project",
		 CAIRN_EINVAL},
		{"{{ .Files.Get \"files/../../x\" }}",
		 "werf.yaml:1:4: .Files.Get 'files/../../x': path", CAIRN_EINVAL},
		{"{{ .Files.Get \"/etc/passwd\" }}",
		 "werf.yaml:1:4: .Files.Get '/etc/passwd': path must", CAIRN_EINVAL},
		{"{{ .Files.Get \"files/inside\" | len }}", "12", 0},
		{"{{ .Files.Get \"files/outside\" }}",
		 "werf.yaml:1:4: .Files.Get 'files/outside': path leaves the project",
		 CAIRN_EINVAL},
		/* a missing file reads as "", with a warning, as in werf */
		{"[{{ .Files.Get \"missing\" }}]", "[]", 0},
		{"{{ .Files.Get \"nodir/missing\" | len }}", "0", 0},
		{"{{ .Files.Get \"files\" }}", "werf.yaml:1:4: .Files.Get 'files': Is a directory",
		 CAIRN_EINVAL},
		{"{{ .Files.Get }}", "werf.yaml:1:4: .Files.Get: wrong number of args",
		 CAIRN_EINVAL},
		{"{{ .Files.Get 1 }}", "werf.yaml:1:4: .Files.Get: expected a string",
		 CAIRN_EINVAL},
	};
	int dfd;
	char *dir = make_project(&dfd);
	struct cairn_template_opts o = {.dir = dir, .name = "werf.yaml"};
	CLEANUP(cairn_buf_release) struct cairn_buf log = CAIRN_BUF_INIT;
	struct cairn_error *err = NULL;
	char *out = NULL;
	size_t len;

	(void)state;
	run_rows(c, ARRAY_SIZE(c), dir);
	/* a syntax error in a .werf template names that file */
	write_file(dfd, ".werf/bad.tmpl", "ok\n {{ nope }}");
	assert_int_equal(cairn_template_render(&out, &len, "x", 1, &o, &err), CAIRN_EINVAL);
	assert_string_equal(err->msg, ".werf/bad.tmpl:2:5: function 'nope' is not supported");
	cairn_error_clear(&err);
	unlinkat(dfd, ".werf/bad.tmpl", 0);
	/* the warning for a missing file names where it is asked for */
	cairn_log_set_handler(capture_log, CAIRN_LOG_TRACE, &log);
	assert_int_equal(
		cairn_template_render(&out, &len, "a\n {{ .Files.Get \"none\" }}", 26, &o, &err),
		0);
	cairn_log_set_handler(NULL, CAIRN_LOG_ERROR, NULL);
	assert_string_equal(out, "a\n ");
	free(out);
	assert_string_equal(log.buf, "warn: werf.yaml:2:5: .Files.Get 'none': no such file, read "
				     "as \"\"\n");
	/* no project directory: no files */
	o.dir = "/nonexistent";
	assert_int_equal(cairn_template_render(&out, &len, "{{ .Files.Get \"a\" }}", 19, &o, &err),
			 CAIRN_EINVAL);
	cairn_error_clear(&err);
	remove_project(dir, dfd);
}

static void test_env_default(void **state)
{
	struct cairn_error *err = NULL;
	char *out = NULL;
	size_t len = 0;

	(void)state;
	setenv("CAIRN_TEMPLATE_TEST", "from-env", 1);
	assert_int_equal(cairn_template_render(&out, &len, "{{ env \"CAIRN_TEMPLATE_TEST\" }}", 31,
					       NULL, &err),
			 0);
	assert_string_equal(out, "from-env");
	free(out);
	/* werf v1.2's default: taken when the variable is not set or empty */
	setenv("CAIRN_TEMPLATE_EMPTY", "", 1);
	unsetenv("CAIRN_TEMPLATE_UNSET");
	{
		static const char t[] = "{{ env \"CAIRN_TEMPLATE_UNSET\" \"dflt\" }}|"
					"{{ env \"CAIRN_TEMPLATE_EMPTY\" \"dflt\" }}|"
					"{{ env \"CAIRN_TEMPLATE_TEST\" \"dflt\" }}";

		assert_int_equal(cairn_template_render(&out, &len, t, strlen(t), NULL, &err), 0);
		assert_string_equal(out, "dflt|dflt|from-env");
		free(out);
	}
	/* output may hold the NUL of a binary text */
	assert_int_equal(cairn_template_render(&out, &len, "a\0b", 3, NULL, &err), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(out, "a\0b", 4);
	free(out);
	assert_int_equal(cairn_template_render(&out, &len, "{{ x }}", 7, NULL, &err), CAIRN_EINVAL);
	assert_string_equal(err->msg, "template:1:4: function 'x' is not supported");
	cairn_error_free(err);
}

static void test_limits(void **state)
{
	/* 2^25 bytes from 25 doublings passes the 16 MiB cap */
	static const char dbl[] =
		"{{ $s := \"ab\" }}{{ range list 1 2 3 4 5 6 7 8 9 10 11 12 13 14 "
		"15 16 17 18 19 20 21 22 23 24 }}{{ $s = printf \"%s%s\" $s $s }}"
		"{{ end }}{{ len $s }}";
	static const char deep[] = "{{ $l := list }}{{ range list 1 2 3 4 5 6 7 8 9 10 11 12 13 14 "
				   "15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 "
				   "36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 "
				   "57 58 59 60 61 62 63 64 65 }}{{ $l = list $l }}{{ end }}";
	struct cairn_error *err = NULL;
	char *out = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(cairn_template_render(&out, &len, dbl, strlen(dbl), NULL, &err),
			 CAIRN_ETOOBIG);
	assert_null(out);
	assert_non_null(strstr(err->msg, "string longer than"));
	cairn_error_clear(&err);
	assert_int_equal(cairn_template_render(&out, &len, deep, strlen(deep), NULL, &err),
			 CAIRN_EINVAL);
	assert_non_null(strstr(err->msg, "nested more than"));
	cairn_error_clear(&err);
}

/* A templated config and its hand-expanded twin give the same model. */
static void test_twin(void **state)
{
	static const char templated[] =
		"{{- $images := splitList \",\" (env \"IMAGES\") -}}\n"
		"project: {{ env \"APP\" | default \"demo\" }}\n"
		"configVersion: 1\n"
		"{{- define \"base\" }}\n"
		"from: {{ . | quote }}\n"
		"{{- end }}\n"
		"{{- range $i, $name := $images }}\n"
		"---\n"
		"image: {{ $name }}\n"
		"{{- include \"base\" \"alpine:3.18\" }}\n"
		"shell:\n"
		"  install:\n"
		"  {{- range list \"make\" (printf \"make %s\" $name) }}\n"
		"  - {{ . }}\n"
		"  {{- end }}\n"
		"docker:\n"
		"  ENV: {{ toJson (dict \"N\" $name \"I\" (printf \"%d\" $i)) }}\n"
		"{{- end }}\n";
	static const char expanded[] = "project: web\n"
				       "configVersion: 1\n"
				       "---\n"
				       "image: api\n"
				       "from: \"alpine:3.18\"\n"
				       "shell:\n"
				       "  install:\n"
				       "  - make\n"
				       "  - make api\n"
				       "docker:\n"
				       "  ENV: {\"I\":\"0\",\"N\":\"api\"}\n"
				       "---\n"
				       "image: worker\n"
				       "from: \"alpine:3.18\"\n"
				       "shell:\n"
				       "  install:\n"
				       "  - make\n"
				       "  - make worker\n"
				       "docker:\n"
				       "  ENV: {\"I\":\"1\",\"N\":\"worker\"}\n";
	struct cairn_template_opts o = {.name = "werf.yaml", .getenv_fn = fake_getenv};
	struct cairn_config *a = NULL, *b = NULL;
	struct cairn_error *err = NULL;
	char *out = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(cairn_template_render(&out, &len, templated, strlen(templated), &o, &err),
			 0);
	assert_string_equal(out, expanded);
	assert_int_equal(cairn_config_parse(&a, "werf.yaml", out, len, &err), 0);
	assert_int_equal(cairn_config_parse(&b, "werf.yaml", expanded, strlen(expanded), &err), 0);
	assert_string_equal(a->project.s, b->project.s);
	assert_int_equal(a->n_images, b->n_images);
	assert_int_equal(a->n_images, 2);
	for (size_t i = 0; i < a->n_images; i++) {
		const struct cairn_config_list *la, *lb;

		assert_string_equal(a->images[i].name, b->images[i].name);
		assert_string_equal(a->images[i].from.s, b->images[i].from.s);
		la = &a->images[i].shell.commands[CAIRN_CONFIG_STAGE_INSTALL];
		lb = &b->images[i].shell.commands[CAIRN_CONFIG_STAGE_INSTALL];
		assert_int_equal(la->n, lb->n);
		for (size_t k = 0; k < la->n; k++)
			assert_string_equal(la->v[k], lb->v[k]);
		assert_int_equal(a->images[i].docker.n_env, b->images[i].docker.n_env);
		assert_string_equal(a->images[i].docker.env[1].value,
				    b->images[i].docker.env[1].value);
	}
	cairn_config_free(a);
	cairn_config_free(b);
	free(out);
}

/* cairn_config_load renders the file first; render errors come back as they are. */
static void test_load(void **state)
{
	int dfd;
	char *dir = make_project(&dfd);
	struct cairn_config *c = NULL;
	struct cairn_error *err = NULL;

	(void)state;
	write_file(dfd, "werf.yaml",
		   "project: {{ \"p\" }}\nconfigVersion: 1\n---\nimage: a\nfrom: x\nshell:\n"
		   "  install: [{{ include \"shell\" (.Files.Get \"files/conf.txt\" | trim | "
		   "replace \"\\n\" \" \") }}]\n");
	assert_int_equal(
		cairn_config_load(&c, &(struct cairn_config_source){dir, NULL, NULL}, &err), 0);
	assert_string_equal(c->project.s, "p");
	assert_string_equal(c->images[0].shell.commands[CAIRN_CONFIG_STAGE_INSTALL].v[0],
			    "echo line1 line2");
	cairn_config_free(c);
	write_file(dfd, "werf.yaml", "project: p\n\n  {{ nope }}\n");
	assert_int_equal(
		cairn_config_load(&c, &(struct cairn_config_source){dir, NULL, NULL}, &err),
		CAIRN_EINVAL);
	assert_null(c);
	assert_string_equal(err->msg, "werf.yaml:3:6: function 'nope' is not supported");
	cairn_error_free(err);
	remove_project(dir, dfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_actions),	    cmocka_unit_test(test_functions),
		cmocka_unit_test(test_errors),	    cmocka_unit_test(test_files),
		cmocka_unit_test(test_env_default), cmocka_unit_test(test_limits),
		cmocka_unit_test(test_twin),	    cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
