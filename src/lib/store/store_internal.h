/* SPDX-License-Identifier: MIT */
/* What the store's own modules share beyond the public API. */
#ifndef CAIRN_STORE_STORE_INTERNAL_H
#define CAIRN_STORE_STORE_INTERNAL_H

#include <stdint.h>

#include "cairn/store.h"

/* A temp blob older than this whose writer holds no lock on it was left by a killed cairn. */
#define CAIRN_STORE_TMP_GRACE_SECS 3600

/*
 * Remove the temp blobs of `.cairn/tmp` left by killed writers: older than `grace_secs` and not
 * locked. A live writer locks its file from right after creating it until it is renamed or
 * removed. Returns how many were removed.
 */
uint64_t cairn_store_sweep_tmp(struct cairn_store *st, int64_t grace_secs);

#endif
