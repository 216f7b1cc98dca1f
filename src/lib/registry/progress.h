/* SPDX-License-Identifier: MIT */
/* Transfer progress told in order (util/ordered.h), by pushes or pulls running side by side. */
#ifndef CAIRN_REGISTRY_PROGRESS_H
#define CAIRN_REGISTRY_PROGRESS_H

#include "cairn/image.h"
#include "util/ordered.h"

/*
 * Progress events as a kind of message: told to the progress callback of the cairn_image_opts
 * given as `ud`; events of bytes moving are told live only, never kept.
 */
extern const struct cairn_ordered_kind cairn_progress_told;

#endif
