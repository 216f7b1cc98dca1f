/* SPDX-License-Identifier: MIT */
/* Unpacking layer blobs into directories that serve as overlayfs lower layers. */
#ifndef CAIRN_LAYER_UNPACK_H
#define CAIRN_LAYER_UNPACK_H

#include "cairn/digest.h"
#include "cairn/error.h"
#include "cairn/store.h"

/*
 * Unpack the layer blob `layer` (gzip with one or more members, zstd or plain tar, told apart
 * by their magic bytes) from the store into `dest_dir`, for use as an overlayfs lowerdir.
 *
 * Entries never land outside dest_dir: leading '/' are dropped, ".." components and hardlinks
 * to paths outside are refused, and every path is resolved with openat2(RESOLVE_IN_ROOT), so
 * a symlink in the tree resolves inside it (without openat2, symlinked parents are refused).
 * Devices are skipped; owners, modes (setuid kept), mtimes and user.* and security.capability
 * xattrs are applied. OCI whiteouts become overlayfs ones: ".wh.<name>" a 0/0 character device
 * `<name>`, ".wh..wh..opq" the xattr trusted.overlay.opaque=y on its directory.
 *
 * The blob is hashed while it is read. The tree is built in a temporary directory next to
 * dest_dir, synced and renamed into place only when complete and verified, so dest_dir is
 * either absent or whole. An existing dest_dir is taken as already unpacked (a no-op).
 * CAIRN_EDIGEST when the blob does not match `layer` (dest_dir stays absent), CAIRN_EINVAL for
 * a malformed or hostile layer (naming the entry), CAIRN_ENOTFOUND when the blob is absent,
 * CAIRN_EOS for filesystem errors.
 */
int cairn_layer_unpack(struct cairn_store *st, const struct cairn_digest *layer,
		       const char *dest_dir, struct cairn_error **err);

/* Names the temporary directory of an unpack: `.<dest name>.tmp-XXXXXX` beside `dest_dir`. */
#define CAIRN_UNPACK_TMP_INFIX ".tmp-"

enum cairn_unpack_flags {
	CAIRN_UNPACK_NO_SYNC = 1 << 0, /* skip syncfs() before the rename (tests, fuzzing) */
};

/*
 * The engine of cairn_layer_unpack(), reading the layer from `fd` (from its current offset to
 * its end). `digest` is the expected digest of those bytes and `diff_id` that of the
 * decompressed tar; either may be NULL to skip that check (the tar's diff_id is CAIRN_EDIGEST
 * too when it differs). `what` names the layer in messages. `flags`: cairn_unpack_flags.
 */
int cairn_layer_unpack_fd(int fd, const char *what, const struct cairn_digest *digest,
			  const struct cairn_digest *diff_id, const char *dest_dir,
			  unsigned int flags, struct cairn_error **err);

/*
 * The path an entry name stands for inside the root: leading '/', empty and "." components
 * dropped, "" for the root itself. CAIRN_EINVAL for a ".." component or a path of PATH_MAX
 * bytes or more. The caller frees *out.
 */
int cairn_layer_clean_path(char **out, const char *name, struct cairn_error **err);

#endif
