/* SPDX-License-Identifier: MIT */
/* Unit tests of stage signatures (H(), a build's, pinned by hand) and stage image names. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common.h"
#include "cairn/build.h"
#include "cairn/store.h"
#include "stage/stage_internal.h"
#include "util/fs.h"
#include "util/json.h"

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

/* Tasks as JSON, plain scalars typed as werf's YAML library typed them; quoted stay text. */
static void test_ansible_json(void **state)
{
	static const char yaml[] =
		"project: p\nconfigVersion: 1\n---\nimage: a\nfrom: x\nansible:\n  install:\n"
		"  - name: t\n    ansible.builtin.file:\n      path: /x\n      mode: 0755\n"
		"      recurse: yes\n      state: \"yes\"\n      n: ~\n      f: 1.5\n"
		"      i: 1_000\n      e: 1e3\n      h: 0x1F\n      o: 08\n      s: 1.2.3\n"
		"      l: [on, Off, '0755', -12]\n";
	static const char want[] =
		"{\"ansible.builtin.file\":{\"e\":1000,\"f\":1.5,\"h\":31,\"i\":1000,"
		"\"l\":[true,false,\"0755\",-12],\"mode\":493,\"n\":null,\"o\":8,"
		"\"path\":\"/x\",\"recurse\":true,\"s\":\"1.2.3\",\"state\":\"yes\"},"
		"\"name\":\"t\"}";
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	struct cairn_config *c = NULL;
	struct cairn_error *err = NULL;
	json_t *j;

	(void)state;
	if (cairn_config_parse(&c, "werf.yaml", yaml, strlen(yaml), &err) < 0)
		fail_msg("%s", err->msg);
	assert_int_equal(c->images[0].ansible.tasks[CAIRN_CONFIG_STAGE_INSTALL].n, 1);
	j = stage_ansible_json(&c->images[0].ansible.tasks[CAIRN_CONFIG_STAGE_INSTALL].items[0]);
	assert_int_equal(cairn_json_dump(&b, j, &err), 0);
	assert_string_equal(b.buf, want);
	json_decref(j);
	cairn_config_free(c);
}

/* A task edit changes the signature of its stage; a whitespace or quoting edit does not. */
static void test_ansible_signature(void **state)
{
	static const char *const variants[] = {
		"  - debug: {msg: hi}\n",     "  -   debug:\n          msg:   hi\n",
		"  - debug: {msg: \"hi\"}\n", "  - debug: {msg: 'hi'}\n",
		"  - debug: {msg: ho}\n",
	};
	char got[5][4096];

	(void)state;
	for (size_t v = 0; v < 5; v++) {
		cleanup_free char *yaml = xasprintf("project: p\nconfigVersion: 1\n---\nimage: a\n"
						    "from: x\nansible:\n  setup:\n%s",
						    variants[v]);
		struct cairn_config *c = NULL;
		struct cairn_error *err = NULL;
		struct strv deps = {0};

		if (cairn_config_parse(&c, "werf.yaml", yaml, strlen(yaml), &err) < 0)
			fail_msg("%s", err->msg);
		assert_int_equal(
			stage_deps_ansible(&deps, &c->images[0], CAIRN_CONFIG_STAGE_SETUP, &err),
			0);
		assert_int_equal(deps.n, 1);
		snprintf(got[v], sizeof(got[v]), "%s", deps.v[0]);
		strv_release(&deps);
		cairn_config_free(c);
	}
	assert_string_equal(got[0], "{\"debug\":{\"msg\":\"hi\"}}");
	for (size_t v = 1; v < 4; v++)
		assert_string_equal(got[v], got[0]);
	assert_string_not_equal(got[4], got[0]);
}

/* The files of an ansible run: one play of the tasks, the toolchain's python, cairn's become. */
static void test_ansible_files(void **state)
{
	static const char yaml[] = "project: p\nconfigVersion: 1\n---\nimage: a\nfrom: x\n"
				   "ansible:\n  install:\n  - debug: {msg: hi}\n"
				   "  - shell: id\n    become_user: app\n";
	const struct stage_ansible_paths paths = {"/tc/bin/python3", "/tc/bin/ansible-playbook",
						  "/tc/bin/setpriv"};
	char dir[] = "/tmp/cairn-test-ansible-XXXXXX";
	struct cairn_config *c = NULL;
	struct cairn_error *err = NULL;
	struct cairn_buf b = CAIRN_BUF_INIT;
	cleanup_free char *cmd = NULL;
	cleanup_close int dfd = -1;

	(void)state;
	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (cairn_config_parse(&c, "werf.yaml", yaml, strlen(yaml), &err) < 0)
		fail_msg("%s", err->msg);
	assert_int_equal(stage_ansible_files(dir, &c->images[0].ansible.tasks[1], &paths, &err), 0);
	assert_int_equal(cairn_fs_read_at(dfd, "playbook.json", &b, &err), 0);
	assert_string_equal(b.buf, "[{\"gather_facts\":false,\"hosts\":\"all\",\"tasks\":["
				   "{\"debug\":{\"msg\":\"hi\"}},"
				   "{\"become_user\":\"app\",\"shell\":\"id\"}]}]");
	cairn_buf_release(&b);
	assert_int_equal(cairn_fs_read_at(dfd, "hosts", &b, &err), 0);
	assert_non_null(strstr(b.buf, "ansible_python_interpreter=/tc/bin/python3\n"));
	cairn_buf_release(&b);
	assert_int_equal(cairn_fs_read_at(dfd, "ansible.cfg", &b, &err), 0);
	assert_non_null(strstr(b.buf, "inventory = " CAIRN_ANSIBLE_DIR "/hosts\n"));
	assert_non_null(strstr(b.buf, "remote_tmp = " CAIRN_ANSIBLE_TMP "/remote\n"));
	assert_non_null(strstr(b.buf, "become_method = cairn\nbecome_exe = /tc/bin/setpriv\n"));
	cairn_buf_release(&b);
	assert_int_equal(cairn_fs_read_at(dfd, "become/cairn.py", &b, &err), 0);
	assert_non_null(strstr(b.buf, "class BecomeModule(BecomeBase):"));
	cairn_buf_release(&b);
	cairn_config_free(c);
	cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_pinned_signatures),
		cmocka_unit_test(test_stage_names),
		cmocka_unit_test(test_ansible_json),
		cmocka_unit_test(test_ansible_signature),
		cmocka_unit_test(test_ansible_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
