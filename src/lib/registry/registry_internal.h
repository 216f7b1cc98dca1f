/* SPDX-License-Identifier: MIT */
/* Test seam of the registry client: plug in another transport than libcurl. */
#ifndef CAIRN_REGISTRY_REGISTRY_INTERNAL_H
#define CAIRN_REGISTRY_REGISTRY_INTERNAL_H

#include "cairn/registry.h"
#include "registry/http.h"

/* Makes the transport of each new connection; returns 0 or a negative cairn code. */
typedef int (*cairn_http_factory_fn)(struct cairn_http **out, const struct cairn_http_opts *o,
				     void *ud, struct cairn_error **err);

/* Connections made after this call use `fn` instead of libcurl. */
void cairn_registry_set_transport(struct cairn_registry *r, cairn_http_factory_fn fn, void *ud);

/* Forget what the TLS probes found (cairn_registry_global_cleanup calls it). */
void cairn_registry_global_cleanup_cache(void);

#endif
