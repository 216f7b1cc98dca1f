/* SPDX-License-Identifier: MIT */
/* Unit tests of stage signatures (H(), a build's, pinned by hand) and stage image names. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common.h"
#include "cairn/build.h"
#include "cairn/store.h"
#include "util/fs.h"

#include <fcntl.h>

/*
 * Computed once by hand from the rules of spec section 3 (python3 hashlib):
 * H(a, b) = sha256("a:::b"); from = H("127.0.0.1:1/base/x:1", "cairn-1");
 * docker = H("WORKDIR=/app", "USER=", "STOPSIGNAL=", "CMD=<H(/bin/sh,-c,run)>:3",
 *            "ENTRYPOINT=<H()>:0", "EXPOSE=<H(8080)>", "VOLUME=<H()>", "ENV=<H(A=2,Z=1)>",
 *            "LABEL=<H(team=core)>", "HEALTHCHECK=<H()>:0:0:0:0", "cairn-1", from)
 */
#define SIG_AB "d730e193a29ffa63510df122175a2ec7650070da876fa0004c08f1e496959f79"
#define SIG_NONE "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SIG_FROM "808cdbe6c9725030a5d9ef466e870b152012c7eee3fdacaab9be4de0fb944681"
#define SIG_DOCKER "3e931731e1dcad2ba84129109021891f6efee46d57e36040766adf5a077fd089"

static const char config_yaml[] = "project: sig\n"
				  "configVersion: 1\n"
				  "---\n"
				  "image: web\n"
				  "from: 127.0.0.1:1/base/x:1\n"
				  "docker:\n"
				  "  WORKDIR: /app\n"
				  "  CMD: run\n"
				  "  EXPOSE: [\"8080\"]\n"
				  "  ENV: {Z: \"1\", A: \"2\"}\n"
				  "  LABEL: {team: core}\n";

static void test_hash(void **state)
{
	const char *ab[] = {"a", "b"};
	char out[CAIRN_SIGNATURE_HEX];

	(void)state;
	cairn_signature_hash(out, ab, 2);
	assert_string_equal(out, SIG_AB);
	cairn_signature_hash(out, NULL, 0);
	assert_string_equal(out, SIG_NONE);
}

/* A base image with no layers, stored under the name a pull would give it. */
static void put_base(const char *home)
{
	static const char cfg[] = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":"
				  "{\"Env\":[\"PATH=/bin\"]},\"rootfs\":{\"type\":\"layers\","
				  "\"diff_ids\":[]}}";
	cleanup_free char *root = xasprintf("%s/store", home);
	cleanup_free char *manifest = NULL;
	struct cairn_store *st = NULL;
	struct cairn_error *err = NULL;
	struct cairn_descriptor d = {.media_type = CAIRN_MT_OCI_MANIFEST};
	struct cairn_digest cd;

	assert_int_equal(cairn_store_open(&st, root, &err), 0);
	assert_int_equal(cairn_store_put_blob(st, cfg, strlen(cfg), &cd, &err), 0);
	manifest = xasprintf("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":"
			     "\"%s\",\"digest\":\"%s\",\"size\":%zu},\"layers\":[]}",
			     CAIRN_MT_OCI_MANIFEST, CAIRN_MT_OCI_CONFIG, cd.str, strlen(cfg));
	d.size = strlen(manifest);
	assert_int_equal(cairn_store_put_blob(st, manifest, strlen(manifest), &d.digest, &err), 0);
	assert_int_equal(cairn_store_ref_set(st, "127.0.0.1:1/base/x:1", &d, &err), 0);
	cairn_store_free(st);
}

static void test_pinned_signatures(void **state)
{
	char dir[] = "/tmp/cairn-test-stage-XXXXXX";
	struct cairn_build_opts o = CAIRN_BUILD_OPTS_INIT;
	struct cairn_build_result *r = NULL;
	struct cairn_error *err = NULL;
	cleanup_free char *home = NULL;
	cleanup_free char *cmd = NULL;
	cleanup_close int dfd = -1;

	(void)state;
	assert_non_null(mkdtemp(dir));
	home = xasprintf("%s/home", dir);
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_int_equal(cairn_fs_write_atomic_at(dfd, "werf.yaml", config_yaml,
						  strlen(config_yaml), 0644, &err),
			 0);
	put_base(home);
	o.dir = dir;
	o.home = home;
	for (int round = 0; round < 2; round++) {
		if (cairn_build(&r, &o, &err) < 0)
			fail_msg("build: %s", err->msg);
		assert_int_equal(r->n_images, 1);
		assert_string_equal(r->project, "sig");
		assert_string_equal(r->images[0].name, "web");
		assert_int_equal(r->images[0].n_stages, 2);
		assert_string_equal(r->images[0].stages[0].name, "from");
		assert_string_equal(r->images[0].stages[0].signature, SIG_FROM);
		assert_string_equal(r->images[0].stages[1].name, "dockerInstructions");
		assert_string_equal(r->images[0].stages[1].signature, SIG_DOCKER);
		assert_string_equal(r->images[0].signature, SIG_DOCKER);
		/* the second round takes both stages from the store */
		assert_int_equal(r->images[0].stages[1].cached, round);
		cairn_build_result_free(r);
		r = NULL;
	}
	cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* Stage images are named in one place: REPO:<prefix><signature> (spec section 5). */
static void test_stage_names(void **state)
{
	char *tag = cairn_stage_tag(CAIRN_STAGE_PREFIX_PUBLISH, SIG_AB);
	struct cairn_ref repo = CAIRN_REF_INIT, ref = CAIRN_REF_INIT;
	char *s;

	(void)state;
	assert_int_equal(cairn_ref_parse(&repo, "127.0.0.1:5000/stages:old@sha256:" SIG_AB, NULL),
			 0);
	cairn_stage_ref(&ref, &repo, CAIRN_STAGE_PREFIX_DIMG, SIG_AB);
	s = cairn_ref_format(&ref);
	assert_string_equal(tag, "image-stage-" SIG_AB);
	assert_string_equal(s, "127.0.0.1:5000/stages:dimgstage-" SIG_AB);
	free(tag);
	free(s);
	cairn_ref_release(&ref);
	cairn_ref_release(&repo);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_pinned_signatures),
		cmocka_unit_test(test_stage_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
