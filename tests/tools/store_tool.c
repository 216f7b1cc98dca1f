/* SPDX-License-Identifier: MIT */
/* Test tool: drives the local store from shell tests (write images, read, verify, list). */
#include "common.h"
#include "cairn/store.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"

#include <fcntl.h>
#include <zlib.h>

#include "util/sha256.h"

static int usage(void)
{
	fprintf(stderr,
		"usage: store-tool STORE put-image NAME LAYER.tar[.gz]...\n"
		"       store-tool STORE put-index NAME ARCH=IMAGE-NAME...\n"
		"       store-tool STORE get NAME        (verify manifest, config, layers)\n"
		"       store-tool STORE rm NAME\n"
		"       store-tool STORE ls\n"
		"       store-tool STORE cat DIGEST\n");
	return 2;
}

static int fail(struct cairn_error *err)
{
	fprintf(stderr, "store-tool: error: %s\n", err->msg);
	cairn_error_free(err);
	return 1;
}

/* Stores a file as a blob, streaming. */
static int put_file(struct cairn_store *st, const char *path, struct cairn_digest *dg,
		    uint64_t *size, struct cairn_error **err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct cairn_blob_writer *w = NULL;
	char chunk[65536];
	int ret = 0;

	if (fd < 0)
		return cairn_error_set_errno(err, "open '%s'", path);
	ret = cairn_store_blob_writer_new(&w, st, err);
	if (ret < 0)
		return ret;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = cairn_error_set_errno(err, "read '%s'", path);
			break;
		}
		if (n == 0) {
			ret = cairn_store_blob_commit(w, NULL, dg, size, err);
			break;
		}
		ret = cairn_store_blob_write(w, chunk, (size_t)n, err);
		if (ret < 0)
			break;
	}
	cairn_store_blob_writer_free(w);
	return ret;
}

/*
 * For a gzip file, the digest of its uncompressed content (the layer's diff_id) and 1;
 * for anything else 0.
 */
static int gzip_diff_id(const char *path, struct cairn_digest *out, struct cairn_error **err)
{
	unsigned char magic[2] = {0, 0};
	struct cairn_sha256 h;
	char chunk[65536];
	FILE *f = fopen(path, "rb");
	gzFile gz;
	int n;

	if (!f)
		return cairn_error_set_errno(err, "open '%s'", path);
	n = (int)fread(magic, 1, 2, f);
	fclose(f);
	if (n != 2 || magic[0] != 0x1f || magic[1] != 0x8b)
		return 0;
	gz = gzopen(path, "rb");
	if (!gz)
		return cairn_error_set_errno(err, "gzopen '%s'", path);
	cairn_sha256_init(&h);
	while ((n = gzread(gz, chunk, sizeof(chunk))) > 0)
		cairn_sha256_update(&h, chunk, (size_t)n);
	gzclose(gz);
	if (n < 0) {
		cairn_sha256_release(&h);
		return cairn_error_set(err, CAIRN_EINVAL, "'%s': bad gzip data", path);
	}
	cairn_sha256_final(&h, out);
	return 1;
}

static int put_json(struct cairn_store *st, json_t *j, struct cairn_descriptor *d, const char *mt,
		    struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	int ret = cairn_json_dump(&b, j, err);

	if (ret < 0)
		return ret;
	snprintf(d->media_type, sizeof(d->media_type), "%s", mt);
	d->size = b.len;
	return cairn_store_put_blob(st, b.buf, b.len, &d->digest, err);
}

static int put_image(struct cairn_store *st, const char *name, int n, char **files,
		     struct cairn_error **err)
{
	cleanup_json json_t *config = json_pack(
		"{s:s, s:s, s:{s:[s]}, s:{s:s, s:[]}}", "architecture", "amd64", "os", "linux",
		"config", "Env", "PATH=/bin", "rootfs", "type", "layers", "diff_ids");
	cleanup_json json_t *layers = json_array();
	cleanup_json json_t *manifest = NULL;
	struct cairn_descriptor cfg, man;
	int ret;

	for (int i = 0; i < n; i++) {
		struct cairn_digest dg, diff_id;
		uint64_t size;
		int gz;

		ret = put_file(st, files[i], &dg, &size, err);
		if (ret < 0)
			return ret;
		gz = gzip_diff_id(files[i], &diff_id, err);
		if (gz < 0)
			return gz;
		json_array_append_new(
			json_object_get(json_object_get(config, "rootfs"), "diff_ids"),
			json_string(gz ? diff_id.str : dg.str));
		json_array_append_new(layers,
				      json_pack("{s:s, s:s, s:I}", "mediaType",
						gz ? CAIRN_MT_OCI_LAYER_GZIP : CAIRN_MT_OCI_LAYER,
						"digest", dg.str, "size", (json_int_t)size));
	}
	ret = put_json(st, config, &cfg, CAIRN_MT_OCI_CONFIG, err);
	if (ret < 0)
		return ret;
	manifest =
		json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:O}", "schemaVersion", 2, "mediaType",
			  CAIRN_MT_OCI_MANIFEST, "config", "mediaType", CAIRN_MT_OCI_CONFIG,
			  "digest", cfg.digest.str, "size", (json_int_t)cfg.size, "layers", layers);
	ret = put_json(st, manifest, &man, CAIRN_MT_OCI_MANIFEST, err);
	if (ret < 0)
		return ret;
	ret = cairn_store_ref_set(st, name, &man, err);
	if (ret < 0)
		return ret;
	printf("%s\n", man.digest.str);
	return 0;
}

/* An OCI index of images already in the store, each marked linux/<arch> (ARCH=NAME args). */
static int put_index(struct cairn_store *st, const char *name, int n, char **children,
		     struct cairn_error **err)
{
	cleanup_json json_t *manifests = json_array();
	cleanup_json json_t *index = NULL;
	struct cairn_descriptor d, out;
	int ret;

	for (int i = 0; i < n; i++) {
		char *eq = strchr(children[i], '=');

		if (!eq)
			return cairn_error_set(err, CAIRN_EINVAL, "want ARCH=NAME, got '%s'",
					       children[i]);
		*eq = '\0';
		ret = cairn_store_ref_get(st, eq + 1, &d, err);
		if (ret < 0)
			return ret;
		json_array_append_new(manifests,
				      json_pack("{s:s, s:s, s:I, s:{s:s, s:s}}", "mediaType",
						d.media_type, "digest", d.digest.str, "size",
						(json_int_t)d.size, "platform", "os", "linux",
						"architecture", children[i]));
	}
	index = json_pack("{s:i, s:s, s:O}", "schemaVersion", 2, "mediaType", CAIRN_MT_OCI_INDEX,
			  "manifests", manifests);
	ret = put_json(st, index, &out, CAIRN_MT_OCI_INDEX, err);
	if (ret < 0)
		return ret;
	ret = cairn_store_ref_set(st, name, &out, err);
	if (ret < 0)
		return ret;
	printf("%s\n", out.digest.str);
	return 0;
}

static int verify_desc(struct cairn_store *st, const json_t *desc, struct cairn_error **err)
{
	struct cairn_digest dg;
	const char *s;
	uint64_t want, size;
	int ret;

	ret = cairn_json_get_string(&s, desc, "digest", 1, "descriptor", err);
	if (ret < 0)
		return ret;
	ret = cairn_digest_parse(&dg, s, strlen(s), err);
	if (ret < 0)
		return ret;
	ret = cairn_json_get_u64(&want, desc, "size", 1, "descriptor", err);
	if (ret < 0)
		return ret;
	ret = cairn_store_verify_blob(st, &dg, &size, err);
	if (ret < 0)
		return ret;
	if (size != want)
		return cairn_error_set(err, CAIRN_EDIGEST,
				       "blob '%s': size %llu, manifest says %llu", dg.str,
				       (unsigned long long)size, (unsigned long long)want);
	return 0;
}

static int get_image(struct cairn_store *st, const char *name, struct cairn_error **err)
{
	struct cairn_descriptor d;
	cleanup_free char *raw = NULL;
	cleanup_json json_t *m = NULL;
	json_t *config, *layers;
	size_t len;
	int ret;

	ret = cairn_store_ref_get(st, name, &d, err);
	if (ret < 0)
		return ret;
	ret = cairn_store_read_doc(&raw, &len, st, &d.digest, err);
	if (ret < 0)
		return ret;
	ret = cairn_json_parse(&m, raw, len, "manifest", err);
	if (ret < 0)
		return ret;
	ret = cairn_json_get_object(&config, m, "config", 1, "manifest", err);
	if (ret < 0)
		return ret;
	ret = verify_desc(st, config, err);
	if (ret < 0)
		return ret;
	ret = cairn_json_get_array(&layers, m, "layers", 1, "manifest", err);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < json_array_size(layers); i++) {
		ret = verify_desc(st, json_array_get(layers, i), err);
		if (ret < 0)
			return ret;
	}
	printf("%s\n", d.digest.str);
	return 0;
}

static int print_ref(const struct cairn_store_ref *ref, void *userdata)
{
	(void)userdata;
	printf("%s %s %llu\n", ref->name, ref->desc.digest.str, (unsigned long long)ref->desc.size);
	return 0;
}

static int cat_sink(const void *p, size_t n, void *userdata)
{
	(void)userdata;
	return fwrite(p, 1, n, stdout) == n ? 0 : CAIRN_EOS;
}

int main(int argc, char **argv)
{
	struct cairn_store *st = NULL;
	struct cairn_error *err = NULL;
	struct cairn_digest dg;
	int ret;

	if (argc < 3)
		return usage();
	if (cairn_store_open(&st, argv[1], &err) < 0)
		return fail(err);
	if (strcmp(argv[2], "put-image") == 0 && argc >= 4)
		ret = put_image(st, argv[3], argc - 4, argv + 4, &err);
	else if (strcmp(argv[2], "put-index") == 0 && argc >= 5)
		ret = put_index(st, argv[3], argc - 4, argv + 4, &err);
	else if (strcmp(argv[2], "get") == 0 && argc == 4)
		ret = get_image(st, argv[3], &err);
	else if (strcmp(argv[2], "rm") == 0 && argc == 4)
		ret = cairn_store_ref_remove(st, argv[3], &err);
	else if (strcmp(argv[2], "ls") == 0 && argc == 3)
		ret = cairn_store_ref_list(st, print_ref, NULL, &err);
	else if (strcmp(argv[2], "cat") == 0 && argc == 4)
		ret = cairn_digest_parse(&dg, argv[3], strlen(argv[3]), &err) < 0
			      ? CAIRN_EINVAL
			      : cairn_store_read_blob(st, &dg, 0, cat_sink, NULL, &err);
	else {
		cairn_store_free(st);
		return usage();
	}
	cairn_store_free(st);
	if (ret < 0)
		return fail(err);
	return 0;
}
