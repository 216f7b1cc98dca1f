/* SPDX-License-Identifier: MIT */
/* Writing image layers: reproducible tar, gzip'd in parallel chunks, hashed in the same pass. */
#ifndef CAIRN_LAYER_LAYER_H
#define CAIRN_LAYER_LAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cairn/digest.h"
#include "cairn/error.h"
#include "cairn/store.h"

enum cairn_layer_compression {
	CAIRN_LAYER_GZIP = 0, /* default: Docker schema 2 compatible */
	CAIRN_LAYER_ZSTD = 1, /* OCI only */
	CAIRN_LAYER_NONE = 2,
};

/* One extended attribute, written as a pax "SCHILY.xattr.<name>" record (raw value bytes). */
struct cairn_layer_xattr {
	const char *name; /* "security.capability", "user.foo" */
	const void *value;
	size_t len;
};

/*
 * Metadata of one tar entry. Paths are relative to the image root, without a leading '/', with
 * no empty, "." or ".." components; the writer refuses anything else with CAIRN_EINVAL.
 */
struct cairn_layer_entry {
	const char *path; /* "app/main.py"; directories without a trailing '/' */
	mode_t mode;	  /* file type (S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO) + permissions */
	uid_t uid;
	gid_t gid;
	int64_t mtime;	      /* seconds; the writer uses it as given (callers normalise) */
	const char *linkname; /* symlink target, or hardlink target path for hardlinks */
	int hardlink;	      /* 1: a hardlink to `linkname` (an earlier entry of this layer) */
	uint64_t size;	      /* regular files: bytes that follow via cairn_layer_write_data */
	/* Written in the order given: callers sort them by name for reproducible output. */
	const struct cairn_layer_xattr *xattrs;
	size_t n_xattrs;
};

struct cairn_layer_writer;

struct cairn_layer_opts {
	enum cairn_layer_compression compression;
	int level;   /* compression level; 0: the default (gzip 6 via libdeflate, zstd 3) */
	int threads; /* compression threads; 0: number of CPUs (at most 8) */
	/*
	 * NULL, or an absent directory the tar is unpacked into as it is written, on a thread of
	 * its own: the tree cairn_layer_unpack() would make of the layer, there when the layer
	 * is finished (`unpacked` in the result), without reading the layer back. Best effort: a
	 * failed unpack leaves nothing there and the layer is written all the same.
	 */
	const char *unpack_to;
};

#define CAIRN_LAYER_OPTS_INIT \
	{                     \
		0             \
	}

/* The OCI media type of a layer compressed that way (a static string). */
const char *cairn_layer_media_type(enum cairn_layer_compression c);

/*
 * Start a layer that goes straight into the store (as a blob). Entries are written in the
 * order given: callers sort them (cairn's own layers are sorted by path, byte order).
 *
 * The output depends only on the entries, the compression and the level (not on the number of
 * threads or the machine): gzip is a series of independent gzip members of 1 MiB of tar each
 * (header mtime 0, OS 255, no name), zstd runs libzstd's multi-threaded mode with at least one
 * worker, whose output does not depend on the worker count. Memory stays bounded by the thread
 * count, whatever the layer size. `o` may be NULL for the defaults. CAIRN_EINVAL for a bad
 * level; CAIRN_EOS when the store's temp file cannot be created.
 */
int cairn_layer_writer_new(struct cairn_layer_writer **out, struct cairn_store *st,
			   const struct cairn_layer_opts *o, struct cairn_error **err);
/*
 * Add an entry; a regular file's `size` bytes then follow through write_data. CAIRN_EINVAL for
 * a bad path or type, a path already in the layer, or when the previous file's data was short.
 * After any failure the writer only accepts cairn_layer_writer_free().
 */
int cairn_layer_add(struct cairn_layer_writer *w, const struct cairn_layer_entry *e,
		    struct cairn_error **err);

/* Whether an entry `path` is in the layer already (a path goes in once: a second is EINVAL). */
bool cairn_layer_has(const struct cairn_layer_writer *w, const char *path);
/* CAIRN_EINVAL when more bytes arrive than the entry's size announced. */
int cairn_layer_write_data(struct cairn_layer_writer *w, const void *p, size_t n,
			   struct cairn_error **err);
/*
 * An OCI whiteout for `path` (an empty regular file ".wh.<name>" next to it, mode 0, owned by
 * 0:0), or an opaque-directory marker "<dir>/.wh..wh..opq" for a directory.
 */
int cairn_layer_add_whiteout(struct cairn_layer_writer *w, const char *path, int64_t mtime,
			     struct cairn_error **err);
int cairn_layer_add_opaque(struct cairn_layer_writer *w, const char *dir, int64_t mtime,
			   struct cairn_error **err);

struct cairn_layer_result {
	struct cairn_descriptor desc; /* OCI media type by compression, digest, size */
	struct cairn_digest diff_id;  /* sha256 of the uncompressed tar */
	uint64_t tar_size;
	bool unpacked;		/* the tree is in the options' unpack_to */
	uint64_t chunks_stored; /* gzip: 1 MiB chunks stored as they are (compressed already) */
};

/* Finish: the blob is stored and described in *out. The writer is freed either way. */
int cairn_layer_finish(struct cairn_layer_writer *w, struct cairn_layer_result *out,
		       struct cairn_error **err);
/* Abandon a layer (nothing is stored); accepts NULL. */
void cairn_layer_writer_free(struct cairn_layer_writer *w);

#endif
