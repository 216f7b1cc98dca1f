/* SPDX-License-Identifier: MIT */
/* Work directories of stages: owned by one cairn process, locked, and removed after a crash. */
#ifndef CAIRN_RUN_WORKDIR_H
#define CAIRN_RUN_WORKDIR_H

#include "cairn/error.h"

/*
 * Create `<root>/stage-XXXXXX` (root must exist), locked for as long as `*lock_out` is open and
 * with this process recorded as its owner. `*path_out` is a new string. CAIRN_EOS on failure.
 */
int cairn_workdir_new(char **path_out, int *lock_out, const char *root, struct cairn_error **err);

/*
 * Remove the work directories under `root` that killed cairn processes left behind: those whose
 * lock is free and whose owner is gone. Their containers are stopped and their mounts detached
 * first (cairn_exec_cleanup). A directory of a live owner is never touched. Best effort.
 */
void cairn_workdir_clean_stale(const char *root);

#endif
