/* SPDX-License-Identifier: MIT */
/* `stages gc`: the store's unreferenced blobs, then the unpacked layers no stored image lists. */
#include "common.h"
#include "cairn/build.h"
#include "cairn/store.h"
#include "layer/cache.h"

#include <time.h>

int cairn_stages_gc(struct cairn_store *st, const char *home, int64_t grace_secs,
		    struct cairn_store_gc_stats *stats, struct cairn_error **err)
{
	CLEANUP(cairn_home_release) struct cairn_home h = {0};
	cleanup_free struct cairn_digest *ids = NULL;
	time_t cutoff = time(NULL) - (time_t)grace_secs;
	size_t n = 0;
	int ret = cairn_store_gc(st, grace_secs, stats, &ids, &n, err);

	if (ret < 0)
		return ret;
	cairn_home_paths(&h, home);
	stats->layers_removed = cairn_layer_cache_sweep(h.layers, ids, n, cutoff);
	return 0;
}
