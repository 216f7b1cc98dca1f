/* SPDX-License-Identifier: MIT */
/* The report of a run: what was built, what was published, and how it ended. */
#include "common.h"
#include "cairn/report.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"

#include <ctype.h>
#include <fcntl.h>

struct report_ref {
	size_t image;
	char *tag, *scheme, *ref; /* tag NULL: a stage */
	struct cairn_digest digest;
	int existed;
};

struct cairn_report {
	struct report_ref *v;
	size_t n;
};

int cairn_report_format_parse(enum cairn_report_format *out, const char *word,
			      struct cairn_error **err)
{
	if (strcmp(word, "json") == 0)
		*out = CAIRN_REPORT_JSON;
	else if (strcmp(word, "envfile") == 0)
		*out = CAIRN_REPORT_ENVFILE;
	else
		return cairn_error_set(err, CAIRN_EUSAGE,
				       "invalid --report-format '%s': want json or envfile", word);
	return 0;
}

struct cairn_report *cairn_report_new(void)
{
	return xcalloc(1, sizeof(struct cairn_report));
}

void cairn_report_free(struct cairn_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].tag);
		free(r->v[i].scheme);
		free(r->v[i].ref);
	}
	free(r->v);
	free(r);
}

void cairn_report_published(const struct cairn_published_ref *p, void *ud)
{
	struct cairn_report *r = ud;
	struct report_ref *e;

	r->v = xreallocarray(r->v, r->n + 1, sizeof(*r->v));
	e = &r->v[r->n++];
	e->image = p->image;
	e->tag = p->tag ? xstrdup(p->tag) : NULL;
	e->scheme = p->scheme ? xstrdup(p->scheme) : NULL;
	e->ref = xstrdup(p->ref);
	e->digest = p->digest;
	e->existed = p->existed;
}

/* Where image `i` can be pulled from: its first tag, else its last stage. */
struct where {
	char *repo, *tag, *name;
	const char *digest;
};

static void where_release(struct where *w)
{
	free(w->repo);
	free(w->tag);
	free(w->name);
}

static void locate(struct where *w, const struct cairn_report *r,
		   const struct cairn_build_result *res, size_t i, const char *stages_storage)
{
	const struct cairn_build_image *im = &res->images[i];

	memset(w, 0, sizeof(*w));
	for (size_t k = 0; r && k < r->n; k++) {
		const struct report_ref *e = &r->v[k];
		size_t repo_len;

		if (e->image != i || !e->tag)
			continue;
		repo_len = strlen(e->ref) - strlen(e->tag) - 1;
		w->repo = xstrndup(e->ref, repo_len);
		w->tag = xstrdup(e->tag);
		w->name = xstrdup(e->ref);
		w->digest = e->digest.str;
		return;
	}
	w->digest = im->desc.digest.str;
	if (stages_storage) {
		w->repo = xstrdup(stages_storage);
		w->tag = cairn_stage_tag(CAIRN_STAGE_PREFIX_PUBLISH, im->signature);
	} else {
		w->repo = xstrdup(res->project);
		w->tag = xstrdup(im->signature);
	}
	w->name = xasprintf("%s:%s", w->repo, w->tag);
}

static json_t *stages_json(const struct cairn_build_image *im)
{
	json_t *stages = json_array();

	for (size_t k = 0; k < im->n_stages; k++)
		json_array_append_new(
			stages, json_pack("{s:s, s:s, s:s, s:b, s:f}", "name", im->stages[k].name,
					  "signature", im->stages[k].signature, "digest",
					  im->stages[k].desc.digest.str, "cached",
					  im->stages[k].cached, "seconds", im->stages[k].seconds));
	return stages;
}

static json_t *refs_json(const struct cairn_report *r, size_t i, bool stages)
{
	json_t *a = json_array();

	for (size_t k = 0; r && k < r->n; k++) {
		const struct report_ref *e = &r->v[k];

		if (e->image != i || (e->tag == NULL) != stages)
			continue;
		if (stages)
			json_array_append_new(a, json_pack("{s:s, s:s, s:b}", "reference", e->ref,
							   "digest", e->digest.str, "existed",
							   e->existed));
		else
			json_array_append_new(a, json_pack("{s:s, s:s?, s:s, s:s, s:b}", "tag",
							   e->tag, "scheme", e->scheme, "reference",
							   e->ref, "digest", e->digest.str,
							   "existed", e->existed));
	}
	return a;
}

static json_t *report_json(const struct cairn_report *r, const struct cairn_build_result *res,
			   const char *stages_storage, const struct cairn_error *failure)
{
	json_t *doc = json_pack("{s:s?, s:b, s:s?, s:[], s:{}}", "project",
				res ? res->project : NULL, "ok", failure == NULL, "error",
				failure ? failure->msg : NULL, "images", "Images");
	json_t *images = json_object_get(doc, "images");
	json_t *werf = json_object_get(doc, "Images");

	for (size_t i = 0; res && i < res->n_images; i++) {
		const struct cairn_build_image *im = &res->images[i];
		bool done = im->signature[0] != 0 && !im->incomplete;
		struct where w;

		json_array_append_new(images, json_pack("{s:s?, s:b, s:s?, s:s?, s:o, s:o, s:o}",
							"name", im->name, "artifact", im->artifact,
							"signature", done ? im->signature : NULL,
							"digest", done ? im->desc.digest.str : NULL,
							"stages", stages_json(im), "published",
							refs_json(r, i, false), "stages_pushed",
							refs_json(r, i, true)));
		if (!done || im->artifact)
			continue;
		locate(&w, r, res, i, stages_storage);
		json_object_set_new(werf, im->name ? im->name : "",
				    json_pack("{s:s, s:s, s:s, s:s, s:s}", "WerfImageName",
					      im->name ? im->name : "", "DockerRepo", w.repo,
					      "DockerTag", w.tag, "DockerImageName", w.name,
					      "DockerImageDigest", w.digest));
		where_release(&w);
	}
	return doc;
}

/* werf's variable name of an image: upper case, '/' and '-' as '_' */
static char *env_name(const char *prefix, const char *image)
{
	char *s;

	if (!image || !*image)
		return xasprintf("%s_DOCKER_IMAGE_NAME", prefix);
	s = xasprintf("%s_%s_DOCKER_IMAGE_NAME", prefix, image);
	for (char *p = s + strlen(prefix) + 1; *p; p++)
		*p = *p == '/' || *p == '-' ? '_' : (char)toupper((unsigned char)*p);
	return s;
}

/* A value as a shell reads it back: single-quoted when it holds anything but safe bytes. */
static void env_value(struct cairn_buf *b, const char *v)
{
	bool plain = *v != 0;

	for (const char *p = v; *p && plain; p++)
		plain = isalnum((unsigned char)*p) || strchr("@%+=:,./_-", *p);
	if (plain) {
		cairn_buf_addstr(b, v);
		return;
	}
	cairn_buf_addch(b, '\'');
	for (const char *p = v; *p; p++) {
		if (*p == '\'')
			cairn_buf_addstr(b, "'\\''");
		else if (*p == '\n')
			cairn_buf_addch(b, ' ');
		else
			cairn_buf_addch(b, *p);
	}
	cairn_buf_addch(b, '\'');
}

static void report_env(struct cairn_buf *b, const struct cairn_report *r,
		       const struct cairn_build_result *res, const char *stages_storage,
		       const struct cairn_error *failure)
{
	static const char *const prefixes[] = {"CAIRN", "WERF"};

	for (size_t i = 0; res && i < res->n_images; i++) {
		const struct cairn_build_image *im = &res->images[i];
		struct where w;

		if (!im->signature[0] || im->incomplete || im->artifact)
			continue;
		locate(&w, r, res, i, stages_storage);
		for (size_t p = 0; p < ARRAY_SIZE(prefixes); p++) {
			cleanup_free char *name = env_name(prefixes[p], im->name);

			cairn_buf_addf(b, "%s=", name);
			env_value(b, w.name);
			cairn_buf_addch(b, '\n');
		}
		where_release(&w);
	}
	if (failure) {
		cairn_buf_addstr(b, "CAIRN_REPORT_ERROR=");
		env_value(b, failure->msg);
		cairn_buf_addch(b, '\n');
	}
}

int cairn_report_write(const struct cairn_report *r, const struct cairn_build_result *res,
		       const char *stages_storage, const struct cairn_error *failure,
		       const char *path, enum cairn_report_format format, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
	int ret = 0;

	if (format == CAIRN_REPORT_ENVFILE) {
		report_env(&b, r, res, stages_storage, failure);
	} else {
		cleanup_json json_t *doc = report_json(r, res, stages_storage, failure);

		ret = cairn_json_dump(&b, doc, err);
		cairn_buf_addch(&b, '\n');
	}
	if (ret == 0)
		ret = cairn_fs_write_atomic_at(AT_FDCWD, path, b.buf, b.len, 0644, err);
	if (ret < 0)
		return cairn_error_wrap(err, "write report '%s'", path);
	return 0;
}
