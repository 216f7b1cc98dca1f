/* SPDX-License-Identifier: MIT */
/*
 * `host cleanup`: keep the local store and its unpacked layers under a size. The stages used
 * least recently (their manifest's mtime: a build touches each stage it reuses) that no stage
 * kept stands on go first; what they alone referenced is then collected. All of it under the
 * store's exclusive lock, so no build of this host reads what goes, and what no name
 * references can go at once.
 */
#include "common.h"
#include "cairn/cleanup.h"
#include "cairn/build.h"
#include "cairn/oci.h"
#include "cairn/store.h"
#include "layer/cache.h"
#include "util/buf.h"
#include "util/json.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

/* One blob the named images reference, and the unpacked directory of a layer. */
struct blob {
	char hex[CAIRN_DIGEST_HEX_LEN + 1];
	uint64_t bytes; /* the blob's, plus its unpacked directory's */
	unsigned refs;	/* names kept that reference it */
};

struct host_ref {
	char *name;
	struct cairn_descriptor desc;
	bool stage;  /* "PROJECT:SIGNATURE": a candidate */
	char *needs; /* the names it stands on ("PROJECT:SIG ..."), blank-separated */
	int64_t used;
	size_t *blobs; /* indexes into the blob table */
	size_t n_blobs;
	unsigned needed_by; /* kept names that stand on it */
	bool drop;
};

struct host_job {
	const struct cairn_host_cleanup_opts *o;
	struct cairn_store *st;
	char *layers_root;
	struct host_ref *v;
	size_t n;
	size_t *sorted; /* indexes of `v` by name */
	struct blob *blobs;
	size_t n_blobs;
	/* while reading: every (ref, blob) pair, resolved into `blobs` once all are read */
	struct pending {
		size_t ref;
		char hex[CAIRN_DIGEST_HEX_LEN + 1];
		uint64_t bytes;
	} * pend;
	size_t n_pend;
};

DEFINE_FREEP(struct cairn_manifest, cairn_manifest_free)

/* Disk usage of the tree at `dirfd`/`name` (not following links). */
static uint64_t tree_bytes(int at, const char *name, int depth)
{
	struct stat sb;
	uint64_t total = 0;
	int fd;
	DIR *d;
	struct dirent *e;

	if (fstatat(at, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	total = (uint64_t)sb.st_blocks * 512;
	if (!S_ISDIR(sb.st_mode) || depth > 256)
		return total;
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return total;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return total;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			total += tree_bytes(dirfd(d), e->d_name, depth + 1);
	closedir(d);
	return total;
}

static void pend(struct host_job *j, size_t ref, const struct cairn_digest *d, uint64_t bytes)
{
	j->pend = xreallocarray(j->pend, j->n_pend + 1, sizeof(*j->pend));
	j->pend[j->n_pend].ref = ref;
	snprintf(j->pend[j->n_pend].hex, sizeof(j->pend[j->n_pend].hex), "%s", cairn_digest_hex(d));
	j->pend[j->n_pend++].bytes = bytes;
}

/* The unpacked directory of layer `diff_id`, 0 when there is none. */
static uint64_t unpacked_bytes(struct host_job *j, const char *diff_id)
{
	cleanup_free char *path = NULL;
	struct cairn_digest d;
	struct cairn_error *e = NULL;

	if (!diff_id || cairn_digest_parse(&d, diff_id, strlen(diff_id), &e) < 0 ||
	    cairn_layer_dir_path(&path, j->layers_root, &d) < 0) {
		cairn_error_free(e);
		return 0;
	}
	return tree_bytes(AT_FDCWD, path, 0);
}

/* What an image config says of the stage: the names it stands on; its layers' diff_ids. */
static void read_config(struct host_job *j, struct host_ref *r, json_t **diff_ids, json_t **cfg_out,
			struct cairn_store *st, const struct cairn_descriptor *c)
{
	cleanup_free char *raw = NULL;
	size_t len = 0;
	struct cairn_error *e = NULL;
	json_t *cfg = NULL, *labels;
	const char *project, *parent, *imports;

	(void)j;
	*diff_ids = NULL;
	*cfg_out = NULL;
	if (cairn_store_read_doc(&raw, &len, st, &c->digest, &e) < 0 ||
	    cairn_json_parse(&cfg, raw, len, "image config", &e) < 0) {
		cairn_error_free(e);
		return;
	}
	*cfg_out = cfg;
	*diff_ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
	labels = json_object_get(json_object_get(cfg, "config"), "Labels");
	project = json_string_value(json_object_get(labels, CAIRN_LABEL_STAGE_PROJECT));
	parent = json_string_value(json_object_get(labels, CAIRN_LABEL_STAGE_PARENT));
	imports = json_string_value(json_object_get(labels, CAIRN_LABEL_STAGE_IMPORTS));
	if (!project || !parent)
		return;
	/* "PROJECT:PARENT PROJECT:IMPORT..." */
	{
		CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;

		cairn_buf_addf(&b, "%s:%s", project, parent);
		while (imports && *imports) {
			size_t n = strcspn(imports, " ");

			if (n)
				cairn_buf_addf(&b, " %s:%.*s", project, (int)n, imports);
			imports += n + strspn(imports + n, " ");
		}
		r->needs = cairn_buf_detach(&b, NULL);
	}
}

/* "PROJECT:SIGNATURE": a project name (no registry, path or digest) and 64 hex. */
static bool is_stage_name(const char *name)
{
	const char *colon = strchr(name, ':');
	size_t n = colon ? (size_t)(colon - name) : 0;

	return n > 0 && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") == n &&
	       strlen(colon + 1) == 64 && strspn(colon + 1, "0123456789abcdef") == 64;
}

static int add_ref(const struct cairn_store_ref *sr, void *ud)
{
	struct host_job *j = ud;
	CLEANUP(cairn_manifest_freep) struct cairn_manifest *m = NULL;
	cleanup_free char *raw = NULL;
	struct cairn_error *e = NULL;
	struct host_ref *r;
	size_t len = 0, i = j->n;
	uint64_t size;
	int64_t mtime;

	j->v = xreallocarray(j->v, j->n + 1, sizeof(*j->v));
	r = &j->v[j->n++];
	memset(r, 0, sizeof(*r));
	r->name = xstrdup(sr->name);
	r->desc = sr->desc;
	if (cairn_store_image_info(&size, &mtime, j->st, &sr->desc, &e) == 0)
		r->used = mtime;
	cairn_error_clear(&e);
	pend(j, i, &sr->desc.digest, sr->desc.size);
	if (cairn_store_read_doc(&raw, &len, j->st, &sr->desc.digest, &e) < 0 ||
	    cairn_manifest_parse(&m, sr->desc.media_type, raw, len, &e) < 0) {
		/* unreadable: kept as it is, counted as its manifest */
		cairn_error_free(e);
		return 0;
	}
	if (m->kind != CAIRN_MANIFEST_IMAGE) {
		for (size_t k = 0; k < m->n_manifests; k++)
			pend(j, i, &m->manifests[k].digest, m->manifests[k].size);
		return 0;
	}
	r->stage = is_stage_name(r->name);
	{
		json_t *diff_ids, *cfg;

		read_config(j, r, &diff_ids, &cfg, j->st, &m->config);
		pend(j, i, &m->config.digest, m->config.size);
		for (size_t k = 0; k < m->n_layers; k++)
			pend(j, i, &m->layers[k].digest,
			     m->layers[k].size + unpacked_bytes(j, json_string_value(json_array_get(
									   diff_ids, k))));
		json_decref(cfg);
	}
	return 0;
}

static int cmp_pend(const void *a, const void *b)
{
	return strcmp(((const struct pending *)a)->hex, ((const struct pending *)b)->hex);
}

/* The blob table: each blob once, with the names that reference it. */
static void resolve(struct host_job *j)
{
	cairn_sort(j->pend, j->n_pend, sizeof(*j->pend), cmp_pend);
	for (size_t i = 0; i < j->n_pend; i++) {
		struct pending *p = &j->pend[i];
		struct host_ref *r = &j->v[p->ref];

		if (!j->n_blobs || strcmp(j->blobs[j->n_blobs - 1].hex, p->hex) != 0) {
			j->blobs = xreallocarray(j->blobs, j->n_blobs + 1, sizeof(*j->blobs));
			memset(&j->blobs[j->n_blobs], 0, sizeof(*j->blobs));
			memcpy(j->blobs[j->n_blobs].hex, p->hex, sizeof(p->hex));
			j->blobs[j->n_blobs++].bytes = p->bytes;
		}
		if (r->n_blobs && r->blobs[r->n_blobs - 1] == j->n_blobs - 1)
			continue; /* a manifest listing one layer twice */
		r->blobs = xreallocarray(r->blobs, r->n_blobs + 1, sizeof(*r->blobs));
		r->blobs[r->n_blobs++] = j->n_blobs - 1;
		j->blobs[j->n_blobs - 1].refs++;
	}
}

static const struct host_job *sorting;

static int cmp_name(const void *a, const void *b)
{
	return strcmp(sorting->v[*(const size_t *)a].name, sorting->v[*(const size_t *)b].name);
}

static void sort_names(struct host_job *j)
{
	j->sorted = xcalloc(j->n + 1, sizeof(*j->sorted));
	for (size_t i = 0; i < j->n; i++)
		j->sorted[i] = i;
	sorting = j;
	cairn_sort(j->sorted, j->n, sizeof(*j->sorted), cmp_name);
	sorting = NULL;
}

/* The name `name[0..len)`, or NULL. */
static struct host_ref *by_name(struct host_job *j, const char *name, size_t len)
{
	size_t lo = 0, hi = j->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *m = j->v[j->sorted[mid]].name;
		int c = strncmp(m, name, len);

		if (c == 0)
			c = m[len] ? 1 : 0;
		if (c < 0)
			lo = mid + 1;
		else if (c > 0)
			hi = mid;
		else
			return &j->v[j->sorted[mid]];
	}
	return NULL;
}

/* Count, or with `delta` -1 uncount, the names `r` stands on. */
static void mark_needs(struct host_job *j, const struct host_ref *r, int delta)
{
	const char *p = r->needs;

	while (p && *p) {
		size_t n = strcspn(p, " ");
		struct host_ref *below = n ? by_name(j, p, n) : NULL;

		if (below && below != r)
			below->needed_by += (unsigned)delta;
		p += n + strspn(p + n, " ");
	}
}

static uint64_t total_bytes(const struct host_job *j)
{
	uint64_t total = 0;

	for (size_t i = 0; i < j->n_blobs; i++)
		if (j->blobs[i].refs)
			total += j->blobs[i].bytes;
	return total;
}

/* The least recently used stage no kept stage stands on, or NULL. */
static struct host_ref *next_victim(struct host_job *j)
{
	struct host_ref *best = NULL;

	for (size_t i = 0; i < j->n; i++) {
		struct host_ref *r = &j->v[i];

		if (r->stage && !r->drop && r->needed_by == 0 && (!best || r->used < best->used))
			best = r;
	}
	return best;
}

/* Drop `r`: what it alone referenced is freed. Returns the bytes freed. */
static uint64_t drop(struct host_job *j, struct host_ref *r)
{
	uint64_t freed = 0;

	r->drop = true;
	mark_needs(j, r, -1);
	for (size_t k = 0; k < r->n_blobs; k++)
		if (--j->blobs[r->blobs[k]].refs == 0)
			freed += j->blobs[r->blobs[k]].bytes;
	return freed;
}

static void job_release(struct host_job *j)
{
	for (size_t i = 0; i < j->n; i++) {
		free(j->v[i].name);
		free(j->v[i].needs);
		free(j->v[i].blobs);
	}
	free(j->v);
	free(j->blobs);
	free(j->sorted);
	free(j->pend);
	free(j->layers_root);
	cairn_store_free(j->st);
}

int cairn_host_max_bytes(uint64_t *out, const char *home, const char *arg, struct cairn_error **err)
{
	char *end;
	double v = strtod(arg, &end);
	struct statvfs vfs;
	uint64_t mult = 1;

	/* decimal digits only: strtod also takes "0x10", "inf" and "1e3" */
	if (end == arg || end != arg + strspn(arg, "0123456789.") || v < 0)
		goto bad;
	if (strcmp(end, "%") == 0) {
		if (v > 100)
			goto bad;
		if (statvfs(home, &vfs) < 0)
			return cairn_error_set_errno(err, "statvfs '%s'", home);
		*out = (uint64_t)((double)vfs.f_blocks * (double)vfs.f_frsize * v / 100.0);
		return 0;
	}
	if (*end == 'K' || *end == 'k')
		mult = 1ull << 10;
	else if (*end == 'M')
		mult = 1ull << 20;
	else if (*end == 'G')
		mult = 1ull << 30;
	else if (*end == 'T')
		mult = 1ull << 40;
	else if (*end)
		goto bad;
	if (*end && end[1] && strcmp(end + 1, "i") && strcmp(end + 1, "iB") && strcmp(end + 1, "B"))
		goto bad;
	if (v * (double)mult > 9e18)
		goto bad;
	*out = (uint64_t)(v * (double)mult);
	return 0;
bad:
	return cairn_error_set(err, CAIRN_EUSAGE,
			       "invalid size '%s': want bytes with an optional K, M, G or T "
			       "(powers of 1024), or a share of the disk as N%%",
			       arg);
}

int cairn_host_cleanup(const struct cairn_host_cleanup_opts *o,
		       struct cairn_host_cleanup_stats *stats, struct cairn_error **err)
{
	CLEANUP(cairn_home_release) struct cairn_home h = {0};
	CLEANUP(job_release) struct host_job j = {.o = o};
	struct cairn_store_gc_stats gs = {0};
	uint64_t total;
	int ret;

	memset(stats, 0, sizeof(*stats));
	cairn_home_paths(&h, o->home);
	j.layers_root = xstrdup(h.layers);
	ret = cairn_store_open(&j.st, h.store, err);
	/* a dry run removes nothing: builds need not wait for it */
	if (ret == 0 && !o->dry_run)
		ret = cairn_store_lock_exclusive(j.st, o->lock_timeout_secs, err);
	/* nothing of this host is in progress now: what no name references goes at once */
	if (ret == 0 && !o->dry_run)
		ret = cairn_stages_gc(j.st, o->home, 0, &gs, err);
	if (ret == 0)
		ret = cairn_store_ref_list(j.st, add_ref, &j, err);
	if (ret < 0)
		return ret;
	resolve(&j);
	sort_names(&j);
	for (size_t i = 0; i < j.n; i++)
		mark_needs(&j, &j.v[i], 1);
	stats->names_seen = j.n;
	stats->bytes_before = total = total_bytes(&j);
	while (total > o->max_bytes) {
		struct host_ref *r = next_victim(&j);
		uint64_t freed;

		if (!r)
			break;
		freed = drop(&j, r);
		total -= freed;
		stats->names_removed++;
		if (o->report)
			o->report(r->name, freed, r->used, o->ud);
	}
	stats->bytes_after = total;
	for (size_t i = 0; ret == 0 && !o->dry_run && i < j.n; i++)
		if (j.v[i].drop)
			ret = cairn_store_ref_remove(j.st, j.v[i].name, err);
	if (ret == 0 && !o->dry_run && stats->names_removed)
		ret = cairn_stages_gc(j.st, o->home, 0, &gs, err);
	return ret;
}
