/* SPDX-License-Identifier: MIT */
/* Unit tests for the report: werf's variable names, values sh reads back as written. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn/report.h"

#define SIG "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define DG "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static char dir[] = "/tmp/cairn-test-report-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A result of three images: "app", "dev/web-front" (both done) and an artifact. */
static void result(struct cairn_build_result *r, struct cairn_build_image *im)
{
	static char names[3][16] = {"app", "dev/web-front", "tools"};
	static char project[] = "demo";

	memset(r, 0, sizeof(*r));
	memset(im, 0, 3 * sizeof(*im));
	r->project = project;
	r->images = im;
	r->n_images = 3;
	for (int i = 0; i < 3; i++) {
		im[i].name = names[i];
		memcpy(im[i].signature, SIG, sizeof(SIG));
		snprintf(im[i].desc.digest.str, sizeof(im[i].desc.digest.str), "%s", DG);
	}
	im[2].artifact = 1;
}

/* What `sh` prints for `. FILE; printf '%s|' $VARS...`, into out. */
static void sourced(char *out, size_t n, const char *file, const char *vars)
{
	char cmd[512];
	FILE *p;
	size_t got;

	snprintf(cmd, sizeof(cmd), "sh -c '. \"%s\" && printf \"%%s|\" %s'", file, vars);
	p = popen(cmd, "r");
	assert_non_null(p);
	got = fread(out, 1, n - 1, p);
	out[got] = 0;
	assert_int_equal(pclose(p), 0);
}

static void test_envfile_names_and_quoting(void **state)
{
	struct cairn_build_result r;
	struct cairn_build_image im[3];
	struct cairn_report *rep = cairn_report_new();
	struct cairn_published_ref p = {.image = 0,
					.tag = "v1",
					.scheme = "custom",
					.ref = "reg.example:5000/demo/app:v1",
					.digest = {DG}};
	char msg[] = "image 'x': it's $(broken)\n`here`";
	struct cairn_error failure = {.code = CAIRN_EINTERNAL, .msg = msg};
	struct cairn_error *err = NULL;
	char file[128], out[1024];

	(void)state;
	result(&r, im);
	cairn_report_published(&p, rep);
	snprintf(file, sizeof(file), "%s/r.env", dir);
	assert_int_equal(
		cairn_report_write(rep, &r, NULL, &failure, file, CAIRN_REPORT_ENVFILE, &err), 0);
	sourced(out, sizeof(out), file,
		"\"$CAIRN_APP_DOCKER_IMAGE_NAME\" \"$WERF_APP_DOCKER_IMAGE_NAME\" "
		"\"$CAIRN_DEV_WEB_FRONT_DOCKER_IMAGE_NAME\" \"$CAIRN_REPORT_ERROR\" "
		"\"${CAIRN_TOOLS_DOCKER_IMAGE_NAME-unset}\"");
	assert_string_equal(out, "reg.example:5000/demo/app:v1|reg.example:5000/demo/app:v1|"
				 "demo:" SIG "|image 'x': it's $(broken) `here`|unset|");
	cairn_report_free(rep);
}

static void test_unnamed_image_and_storage(void **state)
{
	struct cairn_build_result r;
	struct cairn_build_image im[3];
	struct cairn_error *err = NULL;
	char file[128], out[512];

	(void)state;
	result(&r, im);
	im[0].name = NULL;
	r.n_images = 1;
	snprintf(file, sizeof(file), "%s/s.env", dir);
	assert_int_equal(cairn_report_write(NULL, &r, "reg.example/stages", NULL, file,
					    CAIRN_REPORT_ENVFILE, &err),
			 0);
	sourced(out, sizeof(out), file, "\"$CAIRN_DOCKER_IMAGE_NAME\" \"$WERF_DOCKER_IMAGE_NAME\"");
	assert_string_equal(out, "reg.example/stages:image-stage-" SIG
				 "|reg.example/stages:image-stage-" SIG "|");
}

static void test_format_words(void **state)
{
	enum cairn_report_format f = CAIRN_REPORT_JSON;
	struct cairn_error *err = NULL;

	(void)state;
	assert_int_equal(cairn_report_format_parse(&f, "envfile", &err), 0);
	assert_int_equal(f, CAIRN_REPORT_ENVFILE);
	assert_int_equal(cairn_report_format_parse(&f, "json", &err), 0);
	assert_int_equal(f, CAIRN_REPORT_JSON);
	assert_int_equal(cairn_report_format_parse(&f, "yaml", &err), CAIRN_EUSAGE);
	assert_non_null(strstr(err->msg, "want json or envfile"));
	cairn_error_free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_envfile_names_and_quoting),
		cmocka_unit_test(test_unnamed_image_and_storage),
		cmocka_unit_test(test_format_words),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
