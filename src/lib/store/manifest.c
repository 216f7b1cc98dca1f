/* SPDX-License-Identifier: MIT */
/* Image manifests and indexes: strict parsing of what registries send, platform selection. */
#include "common.h"
#include "cairn/oci.h"
#include "util/buf.h"
#include "util/json.h"

#include <stdarg.h>

/* room for a field name: "manifests[999].platform.architecture" */
#define FIELD_MAX 64
/* how much of an unknown media type a message quotes */
#define SHOWN_MAX 100
/* how many platforms a "not found" message lists */
#define LISTED_MAX 16

/* a media type cairn knows but refuses */
#define KIND_SCHEMA1 (-1)

static const struct {
	const char *media_type;
	int kind;
} media_types[] = {
	{CAIRN_MT_OCI_MANIFEST, CAIRN_MANIFEST_IMAGE},
	{CAIRN_MT_DOCKER_MANIFEST, CAIRN_MANIFEST_IMAGE},
	{CAIRN_MT_OCI_INDEX, CAIRN_MANIFEST_INDEX},
	{CAIRN_MT_DOCKER_LIST, CAIRN_MANIFEST_INDEX},
	{CAIRN_MT_DOCKER_MANIFEST_V1, KIND_SCHEMA1},
	{CAIRN_MT_DOCKER_MANIFEST_V1_SIGNED, KIND_SCHEMA1},
};

static int bad(struct cairn_error **err, const char *field, const char *fmt, ...)
	CAIRN_PRINTF(3, 4);

/* "invalid manifest: <field>: <why>" */
static int bad(struct cairn_error **err, const char *field, const char *fmt, ...)
{
	char why[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return cairn_error_set(err, CAIRN_EINVAL, "invalid manifest: %s: %s", field, why);
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* The media_types[] entry for `n` bytes at `s`, or -1; `icase` for HTTP header values. */
static int lookup(const char *s, size_t n, bool icase)
{
	for (size_t i = 0; i < ARRAY_SIZE(media_types); i++) {
		const char *t = media_types[i].media_type;
		size_t k;

		if (strlen(t) != n)
			continue;
		for (k = 0; k < n; k++)
			if ((icase ? lower(s[k]) : s[k]) != t[k])
				break;
		if (k == n)
			return (int)i;
	}
	return -1;
}

/* The media_types[] entry a Content-Type names ("type/subtype; charset=utf-8"), or -1. */
static int lookup_content_type(const char *ct)
{
	size_t start = strspn(ct, " \t"), end = strcspn(ct, ";");

	while (end > start && (ct[end - 1] == ' ' || ct[end - 1] == '\t'))
		end--;
	return end > start ? lookup(ct + start, end - start, true) : -1;
}

/* `n` bytes of untrusted text fit for a message: printable ASCII, cropped. */
static void show(char out[SHOWN_MAX + 4], const char *s, size_t n)
{
	size_t k = n > SHOWN_MAX ? SHOWN_MAX : n;

	for (size_t i = 0; i < k; i++)
		out[i] = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f ? s[i] : '?';
	memcpy(out + k, n > k ? "..." : "", n > k ? 4 : 1);
}

static void field_name(char out[FIELD_MAX], const char *path, const char *key)
{
	/* cut when too long: it only names a field in a message */
	if (snprintf(out, FIELD_MAX, "%s%s%s", path, *path ? "." : "", key) >= FIELD_MAX)
		out[FIELD_MAX - 1] = '\0';
}

/* A string member; `*out` borrowed from `obj`, NULL when absent and not `required`. */
static int get_string(const char **out, size_t *len, const json_t *obj, const char *path,
		      const char *key, bool required, struct cairn_error **err)
{
	json_t *v = json_object_get(obj, key);
	char field[FIELD_MAX];

	*out = NULL;
	*len = 0;
	field_name(field, path, key);
	if (!v || json_is_null(v))
		return required ? bad(err, field, "missing") : 0;
	if (!json_is_string(v))
		return bad(err, field, "not a string");
	*out = json_string_value(v);
	*len = json_string_length(v);
	return 0;
}

/*
 * Copy a string member into `dst` of `size` bytes after checking it: non-empty, shorter than
 * `size`, printable ASCII (no '/' when `no_slash`: platforms are shown as "os/arch/variant").
 */
static int get_text(char *dst, size_t size, const json_t *obj, const char *path, const char *key,
		    bool required, bool no_slash, struct cairn_error **err)
{
	char field[FIELD_MAX];
	const char *s;
	size_t n;
	int ret;

	dst[0] = '\0';
	ret = get_string(&s, &n, obj, path, key, required, err);
	if (ret < 0 || !s)
		return ret;
	field_name(field, path, key);
	if (n == 0 && required)
		return bad(err, field, "empty");
	if (n >= size)
		return bad(err, field, "longer than %zu bytes", size - 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f)
			return bad(err, field, "invalid character '\\x%02x'", c);
		if (no_slash && (c == '/' || c == ' '))
			return bad(err, field, "invalid character '%c'", c);
	}
	memcpy(dst, s, n + 1);
	return 0;
}

static int parse_descriptor(struct cairn_descriptor *out, const json_t *j, const char *path,
			    struct cairn_error **err)
{
	char field[FIELD_MAX];
	const char *s;
	json_t *size;
	size_t n;
	int ret;

	if (!json_is_object(j))
		return bad(err, path, "not an object");
	ret = get_text(out->media_type, sizeof(out->media_type), j, path, "mediaType", true, false,
		       err);
	if (ret < 0)
		return ret;

	ret = get_string(&s, &n, j, path, "digest", true, err);
	if (ret < 0)
		return ret;
	if (cairn_digest_parse(&out->digest, s, n, err) < 0) {
		field_name(field, path, "digest");
		return cairn_error_wrap(err, "invalid manifest: %s", field);
	}

	field_name(field, path, "size");
	size = json_object_get(j, "size");
	if (!size || json_is_null(size))
		return bad(err, field, "missing");
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return bad(err, field, "not a non-negative integer");
	out->size = (uint64_t)json_integer_value(size);
	return 0;
}

static int parse_platform(struct cairn_platform *out, const json_t *j, const char *path,
			  struct cairn_error **err)
{
	int ret;

	if (!json_is_object(j))
		return bad(err, path, "not an object");
	ret = get_text(out->os, sizeof(out->os), j, path, "os", true, true, err);
	if (ret < 0)
		return ret;
	ret = get_text(out->architecture, sizeof(out->architecture), j, path, "architecture", true,
		       true, err);
	if (ret < 0)
		return ret;
	return get_text(out->variant, sizeof(out->variant), j, path, "variant", false, true, err);
}

/* The array member `key` (required) with at most CAIRN_MANIFEST_ENTRIES_MAX elements. */
static int get_entries(json_t **out, const json_t *j, const char *key, struct cairn_error **err)
{
	*out = json_object_get(j, key);
	if (!*out || json_is_null(*out))
		return bad(err, key, "missing");
	if (!json_is_array(*out))
		return bad(err, key, "not an array");
	if (json_array_size(*out) > CAIRN_MANIFEST_ENTRIES_MAX)
		return cairn_error_set(err, CAIRN_ETOOBIG,
				       "invalid manifest: %s: more than %d entries", key,
				       CAIRN_MANIFEST_ENTRIES_MAX);
	return 0;
}

static int parse_image(struct cairn_manifest *m, const json_t *j, struct cairn_error **err)
{
	json_t *config = json_object_get(j, "config"), *layers;
	size_t n;
	int ret;

	if (!config || json_is_null(config))
		return bad(err, "config", "missing");
	ret = parse_descriptor(&m->config, config, "config", err);
	if (ret < 0)
		return ret;
	ret = get_entries(&layers, j, "layers", err);
	if (ret < 0)
		return ret;
	n = json_array_size(layers);
	if (n == 0)
		return 0;
	m->layers = xcalloc(n, sizeof(*m->layers));
	for (size_t i = 0; i < n; i++) {
		char path[FIELD_MAX];

		snprintf(path, sizeof(path), "layers[%zu]", i);
		ret = parse_descriptor(&m->layers[i], json_array_get(layers, i), path, err);
		if (ret < 0)
			return ret;
		m->n_layers = i + 1;
	}
	return 0;
}

static int parse_index(struct cairn_manifest *m, const json_t *j, struct cairn_error **err)
{
	json_t *entries;
	size_t n;
	int ret;

	ret = get_entries(&entries, j, "manifests", err);
	if (ret < 0)
		return ret;
	n = json_array_size(entries);
	if (n == 0)
		return 0;
	m->manifests = xcalloc(n, sizeof(*m->manifests));
	m->platforms = xcalloc(n, sizeof(*m->platforms));
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(entries, i), *platform;
		char path[FIELD_MAX], ppath[FIELD_MAX];

		snprintf(path, sizeof(path), "manifests[%zu]", i);
		ret = parse_descriptor(&m->manifests[i], e, path, err);
		if (ret < 0)
			return ret;
		platform = json_object_get(e, "platform");
		if (platform && !json_is_null(platform)) {
			field_name(ppath, path, "platform");
			ret = parse_platform(&m->platforms[i], platform, ppath, err);
			if (ret < 0)
				return ret;
		}
		m->n_manifests = i + 1;
	}
	return 0;
}

static int check_schema_version(const json_t *j, struct cairn_error **err)
{
	json_t *v = json_object_get(j, "schemaVersion");

	if (!v || json_is_null(v))
		return bad(err, "schemaVersion", "missing");
	if (!json_is_integer(v))
		return bad(err, "schemaVersion", "not an integer");
	if (json_integer_value(v) == 1)
		return cairn_error_set(err, CAIRN_EINVAL,
				       "invalid manifest: schema 1 manifests are not supported");
	if (json_integer_value(v) != 2)
		return bad(err, "schemaVersion", "unsupported version %lld",
			   (long long)json_integer_value(v));
	return 0;
}

static bool has(const json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);

	return v && !json_is_null(v);
}

/* The body's mediaType, else a manifest Content-Type, else what the members suggest. */
static int resolve_media_type(struct cairn_manifest *m, const json_t *j, const char *content_type,
			      struct cairn_error **err)
{
	char shown[SHOWN_MAX + 4];
	const char *s;
	size_t n;
	int i = -1, ret;

	ret = get_string(&s, &n, j, "", "mediaType", false, err);
	if (ret < 0)
		return ret;
	if (s) {
		i = lookup(s, n, false);
		if (i < 0) {
			show(shown, s, n);
			return cairn_error_set(err, CAIRN_EINVAL,
					       "invalid manifest: unsupported media type '%s'",
					       shown);
		}
	}
	if (i < 0 && content_type)
		i = lookup_content_type(content_type);
	if (i < 0 && has(j, "manifests"))
		i = lookup(CAIRN_MT_OCI_INDEX, strlen(CAIRN_MT_OCI_INDEX), false);
	else if (i < 0 && has(j, "config") && has(j, "layers"))
		i = lookup(CAIRN_MT_OCI_MANIFEST, strlen(CAIRN_MT_OCI_MANIFEST), false);
	if (i < 0)
		return cairn_error_set(err, CAIRN_EINVAL,
				       "invalid manifest: no media type, and neither 'manifests' "
				       "nor 'config' and 'layers'");
	if (media_types[i].kind == KIND_SCHEMA1)
		return cairn_error_set(err, CAIRN_EINVAL,
				       "invalid manifest: schema 1 manifests are not supported");
	m->kind = (enum cairn_manifest_kind)media_types[i].kind;
	snprintf(m->media_type, sizeof(m->media_type), "%s", media_types[i].media_type);
	return 0;
}

void cairn_manifest_free(struct cairn_manifest *m)
{
	if (!m)
		return;
	free(m->layers);
	free(m->manifests);
	free(m->platforms);
	free(m);
}

DEFINE_FREEP(struct cairn_manifest, cairn_manifest_free)

int cairn_manifest_parse(struct cairn_manifest **out, const char *content_type, const void *data,
			 size_t len, struct cairn_error **err)
{
	CLEANUP(cairn_manifest_freep) struct cairn_manifest *m = NULL;
	cleanup_json json_t *j = NULL;
	int ret;

	*out = NULL;
	if (len > CAIRN_MANIFEST_MAX)
		return cairn_error_set(err, CAIRN_ETOOBIG, "invalid manifest: larger than %u bytes",
				       CAIRN_MANIFEST_MAX);
	ret = cairn_json_parse(&j, data, len, "JSON", err);
	if (ret < 0)
		return cairn_error_wrap(err, "invalid manifest");
	if (!json_is_object(j))
		return cairn_error_set(err, CAIRN_EINVAL, "invalid manifest: not a JSON object");
	ret = check_schema_version(j, err);
	if (ret < 0)
		return ret;
	m = xcalloc(1, sizeof(*m));
	ret = resolve_media_type(m, j, content_type, err);
	if (ret < 0)
		return ret;
	if (m->kind == CAIRN_MANIFEST_IMAGE)
		ret = parse_image(m, j, err);
	else
		ret = parse_index(m, j, err);
	if (ret < 0)
		return ret;
	*out = TAKE_PTR(m);
	return 0;
}

static void add_platform(struct cairn_buf *b, const struct cairn_platform *p)
{
	if (!p->os[0]) {
		cairn_buf_addstr(b, "(no platform)");
		return;
	}
	cairn_buf_addf(b, "%s/%s%s%s", p->os, p->architecture, p->variant[0] ? "/" : "",
		       p->variant);
}

static bool same_platform(const struct cairn_platform *a, const struct cairn_platform *b)
{
	return strcmp(a->os, b->os) == 0 && strcmp(a->architecture, b->architecture) == 0 &&
	       strcmp(a->variant, b->variant) == 0;
}

/* "linux/amd64, linux/arm/v7, ...": the distinct platforms of an index, for messages. */
static char *list_platforms(const struct cairn_manifest *index)
{
	struct cairn_buf b = CAIRN_BUF_INIT;
	size_t shown = 0;

	for (size_t i = 0; i < index->n_manifests; i++) {
		size_t k;

		for (k = 0; k < i; k++)
			if (same_platform(&index->platforms[k], &index->platforms[i]))
				break;
		if (k < i)
			continue;
		if (shown == LISTED_MAX) {
			cairn_buf_addstr(&b, ", ...");
			break;
		}
		if (shown++)
			cairn_buf_addstr(&b, ", ");
		add_platform(&b, &index->platforms[i]);
	}
	if (!shown)
		cairn_buf_addstr(&b, "none");
	return cairn_buf_detach(&b, NULL);
}

int cairn_manifest_select(const struct cairn_descriptor **out, const struct cairn_manifest *index,
			  const char *os, const char *arch, const char *variant,
			  struct cairn_error **err)
{
	cleanup_free char *have = NULL;
	bool any_variant = !variant || !*variant;

	assert(os && arch);
	*out = NULL;
	if (index->kind != CAIRN_MANIFEST_INDEX)
		return cairn_error_set(err, CAIRN_EINVAL,
				       "select platform '%s/%s%s%s': not an image index", os, arch,
				       any_variant ? "" : "/", any_variant ? "" : variant);
	for (size_t i = 0; i < index->n_manifests; i++) {
		const struct cairn_platform *p = &index->platforms[i];

		if (!p->os[0] || strcmp(p->os, os) != 0 || strcmp(p->architecture, arch) != 0)
			continue;
		if (any_variant || strcmp(p->variant, variant) == 0 ||
		    (!p->variant[0] && strcmp(arch, "arm64") == 0 && strcmp(variant, "v8") == 0)) {
			*out = &index->manifests[i];
			return 0;
		}
	}
	have = list_platforms(index);
	return cairn_error_set(err, CAIRN_ENOTFOUND,
			       "no manifest for platform '%s/%s%s%s' in the index; available: %s",
			       os, arch, any_variant ? "" : "/", any_variant ? "" : variant, have);
}
