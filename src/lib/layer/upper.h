/* SPDX-License-Identifier: MIT */
/* Turning the overlayfs upper directory of a finished container into a layer. */
#ifndef CAIRN_LAYER_UPPER_H
#define CAIRN_LAYER_UPPER_H

#include <stdint.h>

#include "layer/layer.h"
#include "cairn/error.h"
#include "cairn/store.h"

/*
 * Write the tree at `upper_dir` (not the directory itself) as a layer into the store, through
 * the layer writer with options `o` (NULL for the defaults); the result goes to *out.
 *
 * Entries come sorted by path (byte order), so parents precede children; an opaque directory
 * (xattr trusted.overlay.opaque=y) is followed at once by its "<dir>/.wh..wh..opq" marker, and
 * an overlayfs whiteout (a 0/0 character device `<name>`) becomes ".wh.<name>" in the place
 * of `<name>`. Regular files, directories, symlinks and fifos keep uid, gid, mode (setuid
 * bits too) and mtime, and their user.* and security.capability xattrs; a second path of an
 * inode becomes a hardlink to the first. Sockets and devices are skipped. When `clamp_mtime`
 * is >= 0, later mtimes are written as `clamp_mtime` (reproducible layers).
 *
 * CAIRN_EINVAL when the upper directory uses overlayfs redirects or metacopy (mount the
 * overlay with redirect_dir=off,metacopy=off) or a file changes while it is read; CAIRN_EOS
 * for filesystem errors.
 */
int cairn_layer_from_dir(struct cairn_layer_result *out, struct cairn_store *st,
			 const char *upper_dir, const struct cairn_layer_opts *o,
			 int64_t clamp_mtime, struct cairn_error **err);

#endif
