/* SPDX-License-Identifier: MIT */
/* Unit tests for manifest and index parsing, media type resolution and platform selection. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common.h"
#include "cairn/oci.h"
#include "util/buf.h"

#define D_CONFIG "sha256:b79606fb3afea5bd1609ed40b622142f1c98125abcfe89a76a661b0e8e343910"
#define D_LAYER1 "sha256:77ea7eee3d80b1a38f83906dd3048e2689457eb90e18a7d12f839c5ae37106a2"
#define H_LAYER2 "95cf1a2e1698fe3ca1fcc3f653119146b271d0b62e487ec264441e886a11bd06"
#define H_UPPER "95CF1A2E1698FE3CA1FCC3F653119146B271D0B62E487EC264441E886A11BD06"
#define D_LAYER2 "sha256:" H_LAYER2
#define D_AMD64 "sha256:5861314d7fccb39c2192173240eab44fa35ca66426201ca2acd0630a6258dd51"
#define D_ARMV6 "sha256:50b8c3e55c3365d624e7e10ae6a783d525e02b16924d4dcff0611f3e2544efaf"
#define D_ARMV7 "sha256:5ba6c8710dd1369ce61603ab9b7a81b25f92d4a9f74956ab72a7ea75884f07ee"
#define D_ARM64 "sha256:f69162950f235e3cdbbad33f1f912d1a504be90d8a37d002c735d6f3e3882265"
#define D_386 "sha256:15a26c6fa5151c712acc7ee45a1fd525ab85b801f096847c7d5fdf49efeabb4d"
#define D_ATT1 "sha256:35143e7a5239313ee73b81f2f99b785aaed42d9572d1f797dc19fa14aa6b081f"
#define D_ATT2 "sha256:dd86e2310bdf3ab45816029e264c4745a2a028961719031597877887a8f6f1df"
#define D_EMPTY "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

#define EMSG "invalid manifest: "
#define X10 "xxxxxxxxxx"
#define X100 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10

/* "{...}" descriptor */
#define DESC(mt, dg, size) "{\"mediaType\":\"" mt "\",\"digest\":\"" dg "\",\"size\":" #size "}"
#define PLAT_DESC(mt, dg, size, platform)                                 \
	"{\"mediaType\":\"" mt "\",\"digest\":\"" dg "\",\"size\":" #size \
	",\"platform\":" platform "}"
#define OCI_CONFIG_DESC DESC(CAIRN_MT_OCI_CONFIG, D_CONFIG, 1472)
#define OCI_LAYER_DESC DESC(CAIRN_MT_OCI_LAYER_GZIP, D_LAYER1, 3401613)
/* an OCI manifest without mediaType, and with a layer list to fill in */
#define OCI_BODY(layers) \
	"{\"schemaVersion\":2,\"config\":" OCI_CONFIG_DESC ",\"layers\":[" layers "]}"
#define OCI_WITH_LAYER(layer)                                         \
	"{\"schemaVersion\":2,\"mediaType\":\"" CAIRN_MT_OCI_MANIFEST \
	"\",\"config\":" OCI_CONFIG_DESC ",\"layers\":[" OCI_LAYER_DESC "," layer "]}"
#define OCI_WITH_CONFIG(config)                                                               \
	"{\"schemaVersion\":2,\"mediaType\":\"" CAIRN_MT_OCI_MANIFEST "\",\"config\":" config \
	",\"layers\":[]}"
#define INDEX_WITH(entry) \
	"{\"schemaVersion\":2,\"mediaType\":\"" CAIRN_MT_OCI_INDEX "\",\"manifests\":[" entry "]}"
#define INDEX_WITH_PLATFORM(p) INDEX_WITH(PLAT_DESC(CAIRN_MT_OCI_MANIFEST, D_AMD64, 1, p))

/* Docker v2 schema 2 as docker 24 pushes it to distribution 2.8 */
static const char docker_manifest[] =
	"{\n"
	"   \"schemaVersion\": 2,\n"
	"   \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
	"   \"config\": {\n"
	"      \"mediaType\": \"application/vnd.docker.container.image.v1+json\",\n"
	"      \"size\": 1472,\n"
	"      \"digest\": \"" D_CONFIG "\"\n"
	"   },\n"
	"   \"layers\": [\n"
	"      {\n"
	"         \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n"
	"         \"size\": 3401613,\n"
	"         \"digest\": \"" D_LAYER1 "\"\n"
	"      },\n"
	"      {\n"
	"         \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n"
	"         \"size\": 32,\n"
	"         \"digest\": \"" D_LAYER2 "\"\n"
	"      }\n"
	"   ]\n"
	"}";

/* buildkit's OCI output: annotations, zstd layers */
static const char oci_manifest[] =
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	"\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
	"\"digest\":\"" D_CONFIG "\",\"size\":1472},"
	"\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\","
	"\"digest\":\"" D_LAYER1 "\",\"size\":3401613,"
	"\"annotations\":{\"io.containers.zstd-chunked.manifest-position\":\"1:2:3:4\"}}],"
	"\"annotations\":{\"org.opencontainers.image.created\":\"2024-03-01T12:00:00Z\"}}";

/* OCI 1.1 artifact: empty config, no layers, a subject */
static const char oci_artifact[] =
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	"\"artifactType\":\"application/vnd.example.sbom\","
	"\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\","
	"\"digest\":\"" D_EMPTY "\",\"size\":2,\"data\":\"e30=\"},"
	"\"layers\":[],"
	"\"subject\":{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	"\"digest\":\"" D_AMD64 "\",\"size\":528}}";

/* a Windows image: foreign layers with urls */
static const char docker_windows[] =
	"{\"schemaVersion\":2,"
	"\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
	"\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\","
	"\"size\":1920,\"digest\":\"" D_CONFIG "\"},"
	"\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip\","
	"\"size\":1654613376,\"digest\":\"" D_LAYER1 "\","
	"\"urls\":[\"https://mcr.microsoft.com/v2/windows/servercore/blobs/" D_LAYER1 "\"]}]}";

/* Docker Hub's alpine: a manifest list */
static const char docker_list[] =
	"{\"manifests\":["
	"{\"digest\":\"" D_AMD64
	"\",\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
	"\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"},\"size\":528},"
	"{\"digest\":\"" D_ARMV6
	"\",\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
	"\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v6\"},\"size\":528},"
	"{\"digest\":\"" D_ARMV7
	"\",\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
	"\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v7\"},\"size\":528},"
	"{\"digest\":\"" D_ARM64
	"\",\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
	"\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"},"
	"\"size\":528},"
	"{\"digest\":\"" D_386
	"\",\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
	"\"platform\":{\"architecture\":\"386\",\"os\":\"linux\"},\"size\":528}],"
	"\"mediaType\":\"application/vnd.docker.distribution.manifest.list.v2+json\","
	"\"schemaVersion\":2}";

/* buildx's OCI index with attestation manifests */
static const char oci_index[] =
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
	"\"manifests\":["
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D_AMD64 "\","
	"\"size\":1051,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D_ARM64 "\","
	"\"size\":1051,\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"}},"
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D_ATT1 "\","
	"\"size\":566,\"annotations\":{\"vnd.docker.reference.digest\":\"" D_AMD64 "\","
	"\"vnd.docker.reference.type\":\"attestation-manifest\"},"
	"\"platform\":{\"architecture\":\"unknown\",\"os\":\"unknown\"}},"
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D_ATT2 "\","
	"\"size\":566,\"annotations\":{\"vnd.docker.reference.digest\":\"" D_ARM64 "\","
	"\"vnd.docker.reference.type\":\"attestation-manifest\"},"
	"\"platform\":{\"architecture\":\"unknown\",\"os\":\"unknown\",\"os.version\":\"x\","
	"\"os.features\":[\"y\"]}}],"
	"\"annotations\":{\"org.opencontainers.image.ref.name\":\"1.0\"}}";

/* docker 1.x's signed schema 1 */
static const char schema1[] =
	"{\"schemaVersion\":1,\"name\":\"library/hello\",\"tag\":\"latest\","
	"\"architecture\":\"amd64\","
	"\"fsLayers\":[{\"blobSum\":\"" D_LAYER1 "\"}],"
	"\"history\":[{\"v1Compatibility\":\"{}\"}],"
	"\"signatures\":[{\"header\":{\"alg\":\"ES256\"},\"signature\":\"abc\","
	"\"protected\":\"def\"}]}";

struct parse_case {
	const char *content_type;
	const char *json;
	enum cairn_manifest_kind kind;
	const char *media_type;
	size_t n; /* layers or manifests */
	const char *last_digest;
	uint64_t last_size;
};

static void check_manifest(const struct cairn_manifest *m, const struct parse_case *c, size_t i)
{
	const struct cairn_descriptor *last = NULL;

	if (m->kind != c->kind || strcmp(m->media_type, c->media_type) != 0)
		fail_msg("case %zu: kind %d '%s', want %d '%s'", i, m->kind, m->media_type, c->kind,
			 c->media_type);
	if (c->kind == CAIRN_MANIFEST_IMAGE) {
		assert_int_equal(m->n_layers, c->n);
		assert_int_equal(m->n_manifests, 0);
		assert_null(m->manifests);
		assert_null(m->platforms);
		assert_int_equal(strlen(m->config.digest.str), 71);
		if (c->n == 0)
			assert_null(m->layers);
		else
			last = &m->layers[c->n - 1];
	} else {
		assert_int_equal(m->n_manifests, c->n);
		assert_int_equal(m->n_layers, 0);
		assert_null(m->layers);
		assert_string_equal(m->config.media_type, "");
		if (c->n == 0) {
			assert_null(m->manifests);
			assert_null(m->platforms);
		} else {
			last = &m->manifests[c->n - 1];
		}
	}
	if (last) {
		assert_string_equal(last->digest.str, c->last_digest);
		assert_int_equal(last->size, c->last_size);
	}
}

static void test_parse_valid(void **state)
{
	static const struct parse_case c[] = {
		{NULL, docker_manifest, CAIRN_MANIFEST_IMAGE, CAIRN_MT_DOCKER_MANIFEST, 2, D_LAYER2,
		 32},
		{CAIRN_MT_DOCKER_MANIFEST, docker_manifest, CAIRN_MANIFEST_IMAGE,
		 CAIRN_MT_DOCKER_MANIFEST, 2, D_LAYER2, 32},
		{NULL, oci_manifest, CAIRN_MANIFEST_IMAGE, CAIRN_MT_OCI_MANIFEST, 1, D_LAYER1,
		 3401613},
		{NULL, oci_artifact, CAIRN_MANIFEST_IMAGE, CAIRN_MT_OCI_MANIFEST, 0, NULL, 0},
		{NULL, docker_windows, CAIRN_MANIFEST_IMAGE, CAIRN_MT_DOCKER_MANIFEST, 1, D_LAYER1,
		 1654613376},
		{NULL, docker_list, CAIRN_MANIFEST_INDEX, CAIRN_MT_DOCKER_LIST, 5, D_386, 528},
		{NULL, oci_index, CAIRN_MANIFEST_INDEX, CAIRN_MT_OCI_INDEX, 4, D_ATT2, 566},
		{NULL, "{\"schemaVersion\":2,\"manifests\":[]}", CAIRN_MANIFEST_INDEX,
		 CAIRN_MT_OCI_INDEX, 0, NULL, 0},
		/* no mediaType: the Content-Type, without its parameters */
		{"application/vnd.oci.image.manifest.v1+json; charset=utf-8",
		 OCI_BODY(OCI_LAYER_DESC), CAIRN_MANIFEST_IMAGE, CAIRN_MT_OCI_MANIFEST, 1, D_LAYER1,
		 3401613},
		{" Application/VND.Docker.Distribution.Manifest.V2+JSON ;charset=utf-8",
		 OCI_BODY(OCI_LAYER_DESC), CAIRN_MANIFEST_IMAGE, CAIRN_MT_DOCKER_MANIFEST, 1,
		 D_LAYER1, 3401613},
		{CAIRN_MT_DOCKER_LIST, "{\"schemaVersion\":2,\"manifests\":[" OCI_LAYER_DESC "]}",
		 CAIRN_MANIFEST_INDEX, CAIRN_MT_DOCKER_LIST, 1, D_LAYER1, 3401613},
		/* no mediaType, no useful Content-Type: inferred */
		{NULL, OCI_BODY(OCI_LAYER_DESC), CAIRN_MANIFEST_IMAGE, CAIRN_MT_OCI_MANIFEST, 1,
		 D_LAYER1, 3401613},
		{"application/json", OCI_BODY(OCI_LAYER_DESC), CAIRN_MANIFEST_IMAGE,
		 CAIRN_MT_OCI_MANIFEST, 1, D_LAYER1, 3401613},
		{"", OCI_BODY(""), CAIRN_MANIFEST_IMAGE, CAIRN_MT_OCI_MANIFEST, 0, NULL, 0},
		{";", OCI_BODY(""), CAIRN_MANIFEST_IMAGE, CAIRN_MT_OCI_MANIFEST, 0, NULL, 0},
		{"text/plain", "{\"schemaVersion\":2,\"manifests\":[" OCI_LAYER_DESC "]}",
		 CAIRN_MANIFEST_INDEX, CAIRN_MT_OCI_INDEX, 1, D_LAYER1, 3401613},
		/* the body's mediaType wins */
		{CAIRN_MT_DOCKER_LIST, oci_manifest, CAIRN_MANIFEST_IMAGE, CAIRN_MT_OCI_MANIFEST, 1,
		 D_LAYER1, 3401613},
		{CAIRN_MT_DOCKER_MANIFEST_V1_SIGNED, oci_index, CAIRN_MANIFEST_INDEX,
		 CAIRN_MT_OCI_INDEX, 4, D_ATT2, 566},
		/* edge values */
		{NULL, OCI_WITH_LAYER(DESC("a/" X100 "xxxxxxxxxxxxxxxxxxxxxxxxx", D_LAYER2, 0)),
		 CAIRN_MANIFEST_IMAGE, CAIRN_MT_OCI_MANIFEST, 2, D_LAYER2, 0},
		{NULL, OCI_WITH_LAYER(DESC("x", D_LAYER2, 9007199254740993)), CAIRN_MANIFEST_IMAGE,
		 CAIRN_MT_OCI_MANIFEST, 2, D_LAYER2, 9007199254740993u},
		{NULL,
		 OCI_WITH_LAYER("{\"mediaType\":\"x\",\"digest\":\"" D_LAYER2 "\",\"size\":1,"
				"\"urls\":null,\"annotations\":{},\"extra\":[1,{}]}"),
		 CAIRN_MANIFEST_IMAGE, CAIRN_MT_OCI_MANIFEST, 2, D_LAYER2, 1},
		{NULL, INDEX_WITH(DESC(CAIRN_MT_OCI_MANIFEST, D_AMD64, 7)), CAIRN_MANIFEST_INDEX,
		 CAIRN_MT_OCI_INDEX, 1, D_AMD64, 7},
		{NULL, INDEX_WITH_PLATFORM("null"), CAIRN_MANIFEST_INDEX, CAIRN_MT_OCI_INDEX, 1,
		 D_AMD64, 1},
		{NULL,
		 INDEX_WITH_PLATFORM("{\"os\":\"" X10 X10 X10 "x\",\"architecture\":\"a\","
				     "\"variant\":\"\"}"),
		 CAIRN_MANIFEST_INDEX, CAIRN_MT_OCI_INDEX, 1, D_AMD64, 1},
		{NULL, "{\"mediaType\":null,\"schemaVersion\":2,\"manifests\":[]}",
		 CAIRN_MANIFEST_INDEX, CAIRN_MT_OCI_INDEX, 0, NULL, 0},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		struct cairn_manifest *m = NULL;
		struct cairn_error *err = NULL;
		int ret = cairn_manifest_parse(&m, c[i].content_type, c[i].json, strlen(c[i].json),
					       &err);

		if (ret != 0)
			fail_msg("case %zu: ret %d (%s)", i, ret, err ? err->msg : "no error");
		assert_null(err);
		check_manifest(m, &c[i], i);
		cairn_manifest_free(m);
	}
}

static void test_parse_details(void **state)
{
	struct cairn_manifest *m = NULL;
	struct cairn_error *err = NULL;

	(void)state;
	assert_int_equal(
		cairn_manifest_parse(&m, NULL, docker_manifest, sizeof(docker_manifest) - 1, &err),
		0);
	assert_string_equal(m->config.media_type, CAIRN_MT_DOCKER_CONFIG);
	assert_int_equal(m->config.size, 1472);
	assert_string_equal(m->layers[0].media_type, CAIRN_MT_DOCKER_LAYER_GZIP);
	assert_string_equal(m->layers[0].digest.str, D_LAYER1);
	assert_int_equal(m->layers[0].size, 3401613);
	cairn_manifest_free(m);

	assert_int_equal(cairn_manifest_parse(&m, NULL, docker_list, sizeof(docker_list) - 1, &err),
			 0);
	assert_string_equal(m->manifests[2].media_type, CAIRN_MT_DOCKER_MANIFEST);
	assert_string_equal(m->platforms[0].os, "linux");
	assert_string_equal(m->platforms[0].architecture, "amd64");
	assert_string_equal(m->platforms[0].variant, "");
	assert_string_equal(m->platforms[2].variant, "v7");
	cairn_manifest_free(m);

	assert_int_equal(
		cairn_manifest_parse(&m, NULL, oci_artifact, sizeof(oci_artifact) - 1, &err), 0);
	assert_string_equal(m->config.media_type, "application/vnd.oci.empty.v1+json");
	assert_string_equal(m->config.digest.str, D_EMPTY);
	assert_int_equal(m->config.size, 2);
	assert_null(m->layers);
	cairn_manifest_free(m);

	cairn_manifest_free(NULL);
}

struct bad_case {
	const char *content_type;
	const char *json;
	size_t len; /* 0: strlen(json) */
	int ret;
	const char *msg;
	bool prefix; /* msg is only the start (jansson's own words follow) */
};

static void test_parse_invalid(void **state)
{
	static const struct bad_case c[] = {
		/* JSON */
		{NULL, "", 0, CAIRN_EINVAL, EMSG "parse JSON: ", true},
		{NULL, "{\"schemaVersion\":2,", 0, CAIRN_EINVAL, EMSG "parse JSON: ", true},
		{NULL, "{\"schemaVersion\":2,\"schemaVersion\":2}", 0, CAIRN_EINVAL,
		 EMSG "parse JSON: ", true},
		{NULL, "{\"schemaVersion\":2} {}", 0, CAIRN_EINVAL, EMSG "parse JSON: ", true},
		{NULL, "{\"schemaVersion\":2}\0", 20, CAIRN_EINVAL, EMSG "parse JSON: ", true},
		{NULL, "[]", 0, CAIRN_EINVAL, EMSG "not a JSON object", false},
		{NULL, "2", 0, CAIRN_EINVAL, EMSG "parse JSON: ", true},
		/* schemaVersion */
		{NULL, "{\"manifests\":[]}", 0, CAIRN_EINVAL, EMSG "schemaVersion: missing", false},
		{NULL, "{\"schemaVersion\":\"2\",\"manifests\":[]}", 0, CAIRN_EINVAL,
		 EMSG "schemaVersion: not an integer", false},
		{NULL, "{\"schemaVersion\":2.0,\"manifests\":[]}", 0, CAIRN_EINVAL,
		 EMSG "schemaVersion: not an integer", false},
		{NULL, "{\"schemaVersion\":3,\"manifests\":[]}", 0, CAIRN_EINVAL,
		 EMSG "schemaVersion: unsupported version 3", false},
		{NULL, "{\"schemaVersion\":-1,\"manifests\":[]}", 0, CAIRN_EINVAL,
		 EMSG "schemaVersion: unsupported version -1", false},
		/* schema 1, however it is named */
		{NULL, schema1, 0, CAIRN_EINVAL, EMSG "schema 1 manifests are not supported",
		 false},
		{CAIRN_MT_DOCKER_MANIFEST_V1_SIGNED, schema1, 0, CAIRN_EINVAL,
		 EMSG "schema 1 manifests are not supported", false},
		{CAIRN_MT_DOCKER_MANIFEST_V1_SIGNED, OCI_BODY(""), 0, CAIRN_EINVAL,
		 EMSG "schema 1 manifests are not supported", false},
		{"application/vnd.docker.distribution.manifest.v1+json; charset=utf-8",
		 OCI_BODY(""), 0, CAIRN_EINVAL, EMSG "schema 1 manifests are not supported", false},
		{NULL,
		 "{\"schemaVersion\":2,\"mediaType\":\"" CAIRN_MT_DOCKER_MANIFEST_V1 "\","
		 "\"config\":" OCI_CONFIG_DESC ",\"layers\":[]}",
		 0, CAIRN_EINVAL, EMSG "schema 1 manifests are not supported", false},
		/* media types */
		{NULL,
		 "{\"schemaVersion\":2,"
		 "\"mediaType\":\"application/vnd.oci.artifact.manifest.v1+json\",\"blobs\":[]}",
		 0, CAIRN_EINVAL,
		 EMSG "unsupported media type 'application/vnd.oci.artifact.manifest.v1+json'",
		 false},
		{NULL,
		 "{\"schemaVersion\":2,\"mediaType\":\"Application/vnd.oci.image.index.v1+json\","
		 "\"manifests\":[]}",
		 0, CAIRN_EINVAL,
		 EMSG "unsupported media type 'Application/vnd.oci.image.index.v1+json'", false},
		{NULL, "{\"schemaVersion\":2,\"mediaType\":\"a\\nb\\u0000c\",\"manifests\":[]}", 0,
		 CAIRN_EINVAL, EMSG "unsupported media type 'a?b?c'", false},
		{NULL, "{\"schemaVersion\":2,\"mediaType\":\"" X100 X10 "\",\"manifests\":[]}", 0,
		 CAIRN_EINVAL, EMSG "unsupported media type '" X100 "...'", false},
		{NULL, "{\"schemaVersion\":2,\"mediaType\":2,\"manifests\":[]}", 0, CAIRN_EINVAL,
		 EMSG "mediaType: not a string", false},
		{NULL, "{\"schemaVersion\":2}", 0, CAIRN_EINVAL,
		 EMSG "no media type, and neither 'manifests' nor 'config' and 'layers'", false},
		{NULL, "{\"schemaVersion\":2,\"config\":{}}", 0, CAIRN_EINVAL,
		 EMSG "no media type, and neither 'manifests' nor 'config' and 'layers'", false},
		{"application/vnd.oci.image.config.v1+json", "{\"schemaVersion\":2,\"layers\":[]}",
		 0, CAIRN_EINVAL,
		 EMSG "no media type, and neither 'manifests' nor 'config' and 'layers'", false},
		/* members of an image */
		{CAIRN_MT_OCI_MANIFEST, "{\"schemaVersion\":2,\"layers\":[]}", 0, CAIRN_EINVAL,
		 EMSG "config: missing", false},
		{NULL, OCI_WITH_CONFIG("[]"), 0, CAIRN_EINVAL, EMSG "config: not an object", false},
		{NULL, OCI_WITH_CONFIG("{\"digest\":\"" D_CONFIG "\",\"size\":1}"), 0, CAIRN_EINVAL,
		 EMSG "config.mediaType: missing", false},
		{NULL, OCI_WITH_CONFIG(DESC("x", "sha256:abc", 1)), 0, CAIRN_EINVAL,
		 EMSG "config.digest: invalid digest 'sha256:abc': want 64 hex digits", false},
		{CAIRN_MT_OCI_MANIFEST, "{\"schemaVersion\":2,\"config\":" OCI_CONFIG_DESC "}", 0,
		 CAIRN_EINVAL, EMSG "layers: missing", false},
		{NULL, OCI_BODY("") "x", 0, CAIRN_EINVAL, EMSG "parse JSON: ", true},
		{CAIRN_MT_OCI_MANIFEST,
		 "{\"schemaVersion\":2,\"config\":" OCI_CONFIG_DESC ",\"layers\":{}}", 0,
		 CAIRN_EINVAL, EMSG "layers: not an array", false},
		{NULL, OCI_WITH_LAYER("\"" D_LAYER2 "\""), 0, CAIRN_EINVAL,
		 EMSG "layers[1]: not an object", false},
		{NULL, OCI_WITH_LAYER("{\"digest\":\"" D_LAYER2 "\",\"size\":1}"), 0, CAIRN_EINVAL,
		 EMSG "layers[1].mediaType: missing", false},
		{NULL, OCI_WITH_LAYER(DESC("", D_LAYER2, 1)), 0, CAIRN_EINVAL,
		 EMSG "layers[1].mediaType: empty", false},
		{NULL, OCI_WITH_LAYER(DESC("a/" X100 "xxxxxxxxxxxxxxxxxxxxxxxxxx", D_LAYER2, 1)), 0,
		 CAIRN_EINVAL, EMSG "layers[1].mediaType: longer than 127 bytes", false},
		{NULL, OCI_WITH_LAYER(DESC("a\\nb", D_LAYER2, 1)), 0, CAIRN_EINVAL,
		 EMSG "layers[1].mediaType: invalid character '\\x0a'", false},
		{NULL, OCI_WITH_LAYER(DESC("a\\u0000b", D_LAYER2, 1)), 0, CAIRN_EINVAL,
		 EMSG "layers[1].mediaType: invalid character '\\x00'", false},
		{NULL, OCI_WITH_LAYER(DESC("caf\xc3\xa9", D_LAYER2, 1)), 0, CAIRN_EINVAL,
		 EMSG "layers[1].mediaType: invalid character '\\xc3'", false},
		{NULL, OCI_WITH_LAYER("{\"mediaType\":7,\"digest\":\"" D_LAYER2 "\",\"size\":1}"),
		 0, CAIRN_EINVAL, EMSG "layers[1].mediaType: not a string", false},
		{NULL, OCI_WITH_LAYER("{\"mediaType\":\"x\",\"size\":1}"), 0, CAIRN_EINVAL,
		 EMSG "layers[1].digest: missing", false},
		{NULL, OCI_WITH_LAYER("{\"mediaType\":\"x\",\"digest\":null,\"size\":1}"), 0,
		 CAIRN_EINVAL, EMSG "layers[1].digest: missing", false},
		{NULL, OCI_WITH_LAYER("{\"mediaType\":\"x\",\"digest\":[],\"size\":1}"), 0,
		 CAIRN_EINVAL, EMSG "layers[1].digest: not a string", false},
		{NULL,
		 OCI_WITH_LAYER(DESC("x",
				     "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a9"
				     "21d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81"
				     "a538327af927da3e",
				     1)),
		 0, CAIRN_EINVAL, EMSG "layers[1].digest: invalid digest 'sha512:", true},
		{NULL, OCI_WITH_LAYER(DESC("x", "sha256:" H_UPPER, 1)), 0, CAIRN_EINVAL,
		 EMSG "layers[1].digest: invalid digest 'sha256:" H_UPPER
		      "': want lowercase hex digits",
		 false},
		{NULL, OCI_WITH_LAYER(DESC("x", H_LAYER2, 1)), 0, CAIRN_EINVAL,
		 EMSG "layers[1].digest: invalid digest '" H_LAYER2 "': no algorithm", false},
		{NULL, OCI_WITH_LAYER(DESC("x", D_LAYER2 "\\u0000", 1)), 0, CAIRN_EINVAL,
		 EMSG "layers[1].digest: invalid digest '", true},
		{NULL, OCI_WITH_LAYER(DESC("x", D_LAYER2, -1)), 0, CAIRN_EINVAL,
		 EMSG "layers[1].size: not a non-negative integer", false},
		{NULL, OCI_WITH_LAYER(DESC("x", D_LAYER2, 1.5)), 0, CAIRN_EINVAL,
		 EMSG "layers[1].size: not a non-negative integer", false},
		{NULL, OCI_WITH_LAYER(DESC("x", D_LAYER2, 1e3)), 0, CAIRN_EINVAL,
		 EMSG "layers[1].size: not a non-negative integer", false},
		{NULL, OCI_WITH_LAYER(DESC("x", D_LAYER2, "1")), 0, CAIRN_EINVAL,
		 EMSG "layers[1].size: not a non-negative integer", false},
		{NULL, OCI_WITH_LAYER(DESC("x", D_LAYER2, 18446744073709551615)), 0, CAIRN_EINVAL,
		 EMSG "parse JSON: ", true},
		{NULL, OCI_WITH_LAYER("{\"mediaType\":\"x\",\"digest\":\"" D_LAYER2 "\"}"), 0,
		 CAIRN_EINVAL, EMSG "layers[1].size: missing", false},
		/* members of an index */
		{CAIRN_MT_DOCKER_LIST, OCI_BODY(OCI_LAYER_DESC), 0, CAIRN_EINVAL,
		 EMSG "manifests: missing", false},
		{NULL, "{\"schemaVersion\":2,\"manifests\":{}}", 0, CAIRN_EINVAL,
		 EMSG "manifests: not an array", false},
		{NULL, INDEX_WITH("null"), 0, CAIRN_EINVAL, EMSG "manifests[0]: not an object",
		 false},
		{NULL, INDEX_WITH(DESC(CAIRN_MT_OCI_MANIFEST, D_AMD64, 1) ",{}"), 0, CAIRN_EINVAL,
		 EMSG "manifests[1].mediaType: missing", false},
		{NULL, INDEX_WITH_PLATFORM("[]"), 0, CAIRN_EINVAL,
		 EMSG "manifests[0].platform: not an object", false},
		{NULL, INDEX_WITH_PLATFORM("{\"architecture\":\"amd64\"}"), 0, CAIRN_EINVAL,
		 EMSG "manifests[0].platform.os: missing", false},
		{NULL, INDEX_WITH_PLATFORM("{\"os\":\"linux\"}"), 0, CAIRN_EINVAL,
		 EMSG "manifests[0].platform.architecture: missing", false},
		{NULL, INDEX_WITH_PLATFORM("{\"os\":\"\",\"architecture\":\"amd64\"}"), 0,
		 CAIRN_EINVAL, EMSG "manifests[0].platform.os: empty", false},
		{NULL,
		 INDEX_WITH_PLATFORM("{\"os\":\"" X10 X10 X10 "xx\",\"architecture\":\"amd64\"}"),
		 0, CAIRN_EINVAL, EMSG "manifests[0].platform.os: longer than 31 bytes", false},
		{NULL, INDEX_WITH_PLATFORM("{\"os\":\"linux\",\"architecture\":\"arm/v7\"}"), 0,
		 CAIRN_EINVAL, EMSG "manifests[0].platform.architecture: invalid character '/'",
		 false},
		{NULL, INDEX_WITH_PLATFORM("{\"os\":\"linux\",\"architecture\":\"a b\"}"), 0,
		 CAIRN_EINVAL, EMSG "manifests[0].platform.architecture: invalid character ' '",
		 false},
		{NULL,
		 INDEX_WITH_PLATFORM("{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":7}"),
		 0, CAIRN_EINVAL, EMSG "manifests[0].platform.variant: not a string", false},
		{NULL,
		 INDEX_WITH_PLATFORM("{\"os\":\"linux\",\"architecture\":\"arm\","
				     "\"variant\":\"v\\u001b[31m\"}"),
		 0, CAIRN_EINVAL, EMSG "manifests[0].platform.variant: invalid character '\\x1b'",
		 false},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		struct cairn_manifest *m = (struct cairn_manifest *)&m;
		struct cairn_error *err = NULL;
		size_t len = c[i].len ? c[i].len : strlen(c[i].json);
		int ret = cairn_manifest_parse(&m, c[i].content_type, c[i].json, len, &err);

		if (ret != c[i].ret)
			fail_msg("case %zu: ret %d, want %d (%s)", i, ret, c[i].ret,
				 err ? err->msg : "no error");
		assert_null(m);
		assert_non_null(err);
		assert_int_equal(err->code, c[i].ret);
		if (c[i].prefix ? strncmp(err->msg, c[i].msg, strlen(c[i].msg)) != 0
				: strcmp(err->msg, c[i].msg) != 0)
			fail_msg("case %zu: message \"%s\", want \"%s\"%s", i, err->msg, c[i].msg,
				 c[i].prefix ? "..." : "");
		cairn_error_free(err);
	}
}

/* An image with `n` layers, or an index with `n` entries. */
static void make_doc(struct cairn_buf *b, bool index, size_t n)
{
	cairn_buf_reset(b);
	if (index)
		cairn_buf_addstr(b, "{\"schemaVersion\":2,\"manifests\":[");
	else
		cairn_buf_addstr(b, "{\"schemaVersion\":2,\"config\":" OCI_CONFIG_DESC
				    ",\"layers\":[");
	for (size_t i = 0; i < n; i++)
		cairn_buf_addf(b,
			       "%s{\"mediaType\":\"x\",\"digest\":\"" D_LAYER1 "\",\"size\":%zu}",
			       i ? "," : "", i);
	cairn_buf_addstr(b, "]}");
}

static void test_parse_caps(void **state)
{
	struct cairn_buf b = CAIRN_BUF_INIT;
	struct cairn_manifest *m = NULL;
	struct cairn_error *err = NULL;

	(void)state;
	make_doc(&b, false, CAIRN_MANIFEST_ENTRIES_MAX);
	assert_int_equal(cairn_manifest_parse(&m, NULL, b.buf, b.len, &err), 0);
	assert_int_equal(m->n_layers, CAIRN_MANIFEST_ENTRIES_MAX);
	assert_int_equal(m->layers[999].size, 999);
	cairn_manifest_free(m);
	make_doc(&b, false, CAIRN_MANIFEST_ENTRIES_MAX + 1);
	assert_int_equal(cairn_manifest_parse(&m, NULL, b.buf, b.len, &err), CAIRN_ETOOBIG);
	assert_string_equal(err->msg, EMSG "layers: more than 1000 entries");
	assert_null(m);
	cairn_error_clear(&err);

	make_doc(&b, true, CAIRN_MANIFEST_ENTRIES_MAX);
	assert_int_equal(cairn_manifest_parse(&m, NULL, b.buf, b.len, &err), 0);
	assert_int_equal(m->n_manifests, CAIRN_MANIFEST_ENTRIES_MAX);
	cairn_manifest_free(m);
	make_doc(&b, true, CAIRN_MANIFEST_ENTRIES_MAX + 1);
	assert_int_equal(cairn_manifest_parse(&m, NULL, b.buf, b.len, &err), CAIRN_ETOOBIG);
	assert_string_equal(err->msg, EMSG "manifests: more than 1000 entries");
	cairn_error_clear(&err);

	/* exactly CAIRN_MANIFEST_MAX bytes parse (padded with spaces); one more is too big */
	make_doc(&b, false, 1);
	cairn_buf_setlen(&b, b.len - 1);
	while (b.len < CAIRN_MANIFEST_MAX - 1)
		cairn_buf_addch(&b, ' ');
	cairn_buf_addch(&b, '}');
	assert_int_equal(cairn_manifest_parse(&m, NULL, b.buf, b.len, &err), 0);
	cairn_manifest_free(m);
	cairn_buf_addch(&b, ' ');
	assert_int_equal(cairn_manifest_parse(&m, NULL, b.buf, b.len, &err), CAIRN_ETOOBIG);
	assert_string_equal(err->msg, EMSG "larger than 4194304 bytes");
	cairn_error_clear(&err);
	cairn_buf_release(&b);
}

struct select_case {
	const char *os, *arch, *variant;
	int ret;
	const char *want; /* digest, or the message when ret < 0 */
};

static void run_select(const char *json, const struct select_case *c, size_t n)
{
	struct cairn_manifest *m = NULL;
	struct cairn_error *err = NULL;

	assert_int_equal(cairn_manifest_parse(&m, NULL, json, strlen(json), &err), 0);
	for (size_t i = 0; i < n; i++) {
		const struct cairn_descriptor *d = (const struct cairn_descriptor *)&d;
		int ret = cairn_manifest_select(&d, m, c[i].os, c[i].arch, c[i].variant, &err);

		if (ret != c[i].ret)
			fail_msg("case %zu: ret %d, want %d (%s)", i, ret, c[i].ret,
				 err ? err->msg : "no error");
		if (ret == 0) {
			assert_null(err);
			assert_true(d >= m->manifests && d < m->manifests + m->n_manifests);
			if (strcmp(d->digest.str, c[i].want) != 0)
				fail_msg("case %zu: got %s, want %s", i, d->digest.str, c[i].want);
		} else {
			assert_null(d);
			assert_int_equal(err->code, ret);
			if (strcmp(err->msg, c[i].want) != 0)
				fail_msg("case %zu: message \"%s\", want \"%s\"", i, err->msg,
					 c[i].want);
			cairn_error_clear(&err);
		}
	}
	cairn_manifest_free(m);
}

static void test_select(void **state)
{
	static const struct select_case list[] = {
		{"linux", "amd64", NULL, 0, D_AMD64},
		{"linux", "arm", NULL, 0, D_ARMV6},
		{"linux", "arm", "", 0, D_ARMV6},
		{"linux", "arm", "v6", 0, D_ARMV6},
		{"linux", "arm", "v7", 0, D_ARMV7},
		{"linux", "arm64", NULL, 0, D_ARM64},
		{"linux", "arm64", "v8", 0, D_ARM64},
		{"linux", "386", NULL, 0, D_386},
		{"linux", "riscv64", NULL, CAIRN_ENOTFOUND,
		 "no manifest for platform 'linux/riscv64' in the index; available: linux/amd64, "
		 "linux/arm/v6, linux/arm/v7, linux/arm64/v8, linux/386"},
		{"linux", "arm", "v5", CAIRN_ENOTFOUND,
		 "no manifest for platform 'linux/arm/v5' in the index; available: linux/amd64, "
		 "linux/arm/v6, linux/arm/v7, linux/arm64/v8, linux/386"},
		{"windows", "amd64", NULL, CAIRN_ENOTFOUND,
		 "no manifest for platform 'windows/amd64' in the index; available: linux/amd64, "
		 "linux/arm/v6, linux/arm/v7, linux/arm64/v8, linux/386"},
		{"Linux", "AMD64", NULL, CAIRN_ENOTFOUND,
		 "no manifest for platform 'Linux/AMD64' in the index; available: linux/amd64, "
		 "linux/arm/v6, linux/arm/v7, linux/arm64/v8, linux/386"},
	};
	static const struct select_case oci[] = {
		{"linux", "arm64", "v8", 0, D_ARM64}, /* no variant stands for v8 on arm64 */
		{"linux", "arm64", NULL, 0, D_ARM64},
		{"linux", "arm64", "v9", CAIRN_ENOTFOUND,
		 "no manifest for platform 'linux/arm64/v9' in the index; available: linux/amd64, "
		 "linux/arm64, unknown/unknown"},
		{"unknown", "unknown", NULL, 0, D_ATT1},
	};
	static const struct select_case empty[] = {
		{"linux", "amd64", NULL, CAIRN_ENOTFOUND,
		 "no manifest for platform 'linux/amd64' in the index; available: none"},
		{"", "", NULL, CAIRN_ENOTFOUND,
		 "no manifest for platform '/' in the index; available: none"},
	};
	static const struct select_case none[] = {
		{"linux", "amd64", NULL, CAIRN_ENOTFOUND,
		 "no manifest for platform 'linux/amd64' in the index; available: (no platform)"},
		{"", "", NULL, CAIRN_ENOTFOUND,
		 "no manifest for platform '/' in the index; available: (no platform)"},
	};

	(void)state;
	run_select(docker_list, list, ARRAY_SIZE(list));
	run_select(oci_index, oci, ARRAY_SIZE(oci));
	run_select("{\"schemaVersion\":2,\"manifests\":[]}", empty, ARRAY_SIZE(empty));
	run_select(INDEX_WITH(DESC(CAIRN_MT_OCI_MANIFEST, D_AMD64,
				   1) "," DESC(CAIRN_MT_OCI_MANIFEST, D_ARM64, 1)),
		   none, ARRAY_SIZE(none));
}

static void test_select_many_and_image(void **state)
{
	struct cairn_buf b = CAIRN_BUF_INIT;
	struct cairn_manifest *m = NULL;
	struct cairn_error *err = NULL;
	const struct cairn_descriptor *d = NULL;

	(void)state;
	/* 20 distinct platforms: the message lists 16 */
	cairn_buf_addstr(&b, "{\"schemaVersion\":2,\"manifests\":[");
	for (int i = 0; i < 20; i++)
		cairn_buf_addf(&b,
			       "%s{\"mediaType\":\"x\",\"digest\":\"" D_AMD64 "\",\"size\":1,"
			       "\"platform\":{\"os\":\"linux\",\"architecture\":\"a%d\"}}",
			       i ? "," : "", i);
	cairn_buf_addstr(&b, "]}");
	assert_int_equal(cairn_manifest_parse(&m, NULL, b.buf, b.len, &err), 0);
	assert_int_equal(cairn_manifest_select(&d, m, "linux", "b", NULL, &err), CAIRN_ENOTFOUND);
	assert_string_equal(err->msg,
			    "no manifest for platform 'linux/b' in the index; available: "
			    "linux/a0, linux/a1, linux/a2, linux/a3, linux/a4, linux/a5, "
			    "linux/a6, linux/a7, linux/a8, linux/a9, linux/a10, linux/a11, "
			    "linux/a12, linux/a13, linux/a14, linux/a15, ...");
	cairn_error_clear(&err);
	assert_int_equal(cairn_manifest_select(&d, m, "linux", "a19", NULL, &err), 0);
	assert_ptr_equal(d, &m->manifests[19]);
	cairn_manifest_free(m);
	cairn_buf_release(&b);

	assert_int_equal(
		cairn_manifest_parse(&m, NULL, docker_manifest, sizeof(docker_manifest) - 1, &err),
		0);
	assert_int_equal(cairn_manifest_select(&d, m, "linux", "arm", "v7", &err), CAIRN_EINVAL);
	assert_null(d);
	assert_string_equal(err->msg, "select platform 'linux/arm/v7': not an image index");
	cairn_error_free(err);
	cairn_manifest_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),   cmocka_unit_test(test_parse_details),
		cmocka_unit_test(test_parse_invalid), cmocka_unit_test(test_parse_caps),
		cmocka_unit_test(test_select),	      cmocka_unit_test(test_select_many_and_image),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
