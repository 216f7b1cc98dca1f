/* SPDX-License-Identifier: MIT */
/* stageDependencies checksums: the selected files' paths, modes and contents, hashed. */
#include "common.h"
#include "git/git_internal.h"
#include "util/sha256.h"

#include <inttypes.h>

/*
 * stageDependencies checksums
 */

struct dep {
	char *rel;
	git_oid oid;
	uint32_t mode;
};

struct dep_ctx {
	struct dep *v;
	size_t n, alloc;
	size_t *from;  /* the caller's pattern each of the filter's came from */
	bool *matched; /* per caller's pattern: it matched a file; or NULL */
};

static int emit_dep(struct walk *w, enum change ch, const struct node *n, struct cairn_error **err)
{
	struct dep_ctx *dc = w->ud;

	(void)ch;
	(void)err;
	assert(ch == CH_ADD);
	for (size_t k = 0; dc->matched && k < w->f->n_stage; k++) {
		bool *hit = &dc->matched[dc->from[k]];

		if (!*hit && cairn_git_match_any_level(w->f->stage[k], w->rel.buf, w->rel.len))
			*hit = true;
	}
	if (dc->n == dc->alloc) {
		dc->alloc = dc->alloc ? dc->alloc * 2 : 32;
		dc->v = xreallocarray(dc->v, dc->alloc, sizeof(*dc->v));
	}
	dc->v[dc->n].rel = xstrndup(w->rel.buf, w->rel.len);
	git_oid_cpy(&dc->v[dc->n].oid, n->oid);
	dc->v[dc->n].mode = n->mode;
	dc->n++;
	return 0;
}

static int dep_cmp(const void *x, const void *y)
{
	const struct dep *a = x, *b = y;

	return strcmp(a->rel, b->rel);
}

static int hash_deps(struct cairn_sha256 *h, struct cairn_git_repo *r, const struct dep_ctx *dc,
		     struct cairn_error **err)
{
	for (size_t i = 0; i < dc->n; i++) {
		CLEANUP(git_blob_freep) git_blob *blob = NULL;
		char head[64];
		uint64_t size;
		int len;
		int ret;

		ret = git_blob_lookup(&blob, cairn_git_objects(r), &dc->v[i].oid);
		if (ret < 0)
			return cairn_git_fail(err, ret, CAIRN_EINTERNAL, "read '%s' of '%s'",
					      dc->v[i].rel, r->name);
		size = (uint64_t)git_blob_rawsize(blob);
		cairn_sha256_update(h, dc->v[i].rel, strlen(dc->v[i].rel) + 1);
		len = snprintf(head, sizeof(head), "%o%c%" PRIu64 "%c", (unsigned)dc->v[i].mode,
			       '\0', size, '\0');
		assert(len > 0 && (size_t)len < sizeof(head));
		cairn_sha256_update(h, head, (size_t)len);
		cairn_sha256_update(h, git_blob_rawcontent(blob), (size_t)size);
	}
	return 0;
}

/* The stageDependencies patterns, braces expanded, each remembering which it came from. */
static void stage_patterns(struct filter *f, size_t **from, const char *const *patterns, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		char **one = cairn_git_patterns_dup(&k, &patterns[i], 1);

		f->stage = xreallocarray(f->stage, f->n_stage + k, sizeof(*f->stage));
		*from = xreallocarray(*from, f->n_stage + k, sizeof(**from));
		for (size_t j = 0; j < k; j++) {
			(*from)[f->n_stage] = i;
			f->stage[f->n_stage++] = one[j];
		}
		free(one);
	}
}

int cairn_git_stage_checksum(char *out, bool *matched, struct cairn_git_repo *r, const char *commit,
			     const struct cairn_git_selection *sel, const char *const *patterns,
			     size_t n_patterns, struct cairn_error **err)
{
	struct dep_ctx dc = {.matched = matched};
	struct cairn_sha256 h;
	struct cairn_digest dg;
	struct filter f;
	struct walk w;
	int ret;

	out[0] = '\0';
	for (size_t i = 0; matched && i < n_patterns; i++)
		matched[i] = false;
	ret = cairn_git_filter_init(&f, sel, NULL, err);
	if (ret < 0)
		return ret;
	stage_patterns(&f, &dc.from, patterns, n_patterns);
	cairn_git_walk_init(&w, r, &f);
	w.emit = emit_dep;
	w.ud = &dc;
	ret = n_patterns ? cairn_git_walk_commits(&w, NULL, commit, err) : 0;
	cairn_git_walk_release(&w);
	cairn_git_filter_release(&f);
	cairn_sha256_init(&h);
	if (ret == 0) {
		if (dc.n > 1)
			cairn_sort(dc.v, dc.n, sizeof(*dc.v), dep_cmp);
		ret = hash_deps(&h, r, &dc, err);
	}
	for (size_t i = 0; i < dc.n; i++)
		free(dc.v[i].rel);
	free(dc.v);
	free(dc.from);
	if (ret < 0) {
		cairn_sha256_release(&h);
		return ret;
	}
	cairn_sha256_final(&h, &dg);
	memcpy(out, cairn_digest_hex(&dg), CAIRN_GIT_SUM_MAX);
	return 0;
}
