/* SPDX-License-Identifier: MIT */
/* The unpacked-layer cache of a cairn home (docs/store-layout.md: `layers/`). */
#ifndef CAIRN_LAYER_CACHE_H
#define CAIRN_LAYER_CACHE_H

#include <stdint.h>
#include <time.h>
#include "cairn/digest.h"
#include "cairn/error.h"

struct cairn_store;

/* `<layers_root>/<hex of diff_id>` into *out (the caller frees); CAIRN_EINVAL for a bad digest. */
int cairn_layer_dir_path(char **out, const char *layers_root, const struct cairn_digest *diff_id);

/*
 * Unpack `layer` once into cairn_layer_dir_path(layers_root, diff_id) and return that path
 * (the caller frees it). An existing directory is returned as it is; otherwise the unpack runs
 * under an exclusive flock on `<layers_root>/.<hex>.lock`, so concurrent cairn processes
 * unpack a layer once, and leftovers of killed unpacks of that layer are removed first. The
 * tar is checked against `diff_id` as well as the blob against `layer`. Errors as for
 * cairn_layer_unpack().
 */
int cairn_layer_ensure_unpacked(char **out, struct cairn_store *st, const char *layers_root,
				const struct cairn_digest *layer,
				const struct cairn_digest *diff_id, struct cairn_error **err);

/*
 * A fresh name in the cache for a layer unpacked as it is written (cairn_layer_opts.unpack_to):
 * `<layers_root>/.w-XXXXXX/tree`, absent, in a directory made for it (the root is created).
 * NULL when they cannot be made. cairn_layer_cache_adopt() removes that directory.
 */
char *cairn_layer_cache_pending(const char *layers_root);

/*
 * Put the tree `dir` (a pending name, complete) in the cache as the layer `diff_id` (NULL: the
 * tree is not to be kept), under the layer's lock; when the layer is there already it is not.
 * Its pending directory is removed either way. Best effort.
 */
void cairn_layer_cache_adopt(const char *layers_root, const struct cairn_digest *diff_id,
			     const char *dir);
/* Remove what is left of pending name `dir` (NULL: none), and free it. */
void cairn_layer_cache_pending_free(char *dir);

static inline void cairn_layer_cache_pending_freep(char **dir)
{
	cairn_layer_cache_pending_free(*dir);
}

/*
 * Remove the unpacked layers of `layers_root` whose diff_id is not among `live` and whose
 * directory is older than `cutoff` (a build in progress unpacks before it stores the stage that
 * names the layer), and the pending trees and unpacks of killed builds older than that. Returns
 * how many were removed; what cannot be read or removed is left.
 */
uint64_t cairn_layer_cache_sweep(const char *layers_root, const struct cairn_digest *live,
				 size_t n_live, time_t cutoff);

#endif
