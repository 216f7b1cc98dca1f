/* SPDX-License-Identifier: MIT */
/* The registries one run talks to: one client per host, opened on first use and kept. */
#include "common.h"
#include "cairn/registry.h"
#include "registry/registry_internal.h"

#include <pthread.h>

struct cairn_registry_pool {
	struct cairn_registry_opts o;  /* what it points to is the caller's */
	cairn_http_factory_fn factory; /* NULL: libcurl */
	void *factory_ud;
	pthread_mutex_t lock; /* guards regs */
	struct cairn_registry **regs;
	size_t n_regs;
};

int cairn_registry_pool_new(struct cairn_registry_pool **out, const struct cairn_registry_opts *o,
			    struct cairn_error **err)
{
	static const struct cairn_registry_opts defaults = CAIRN_REGISTRY_OPTS_INIT;
	struct cairn_registry_pool *p;
	int ret;

	*out = NULL;
	if (!o)
		o = &defaults;
	ret = cairn_registry_opts_check(o, err);
	if (ret < 0)
		return ret;
	p = xcalloc(1, sizeof(*p));
	p->o = *o;
	pthread_mutex_init(&p->lock, NULL);
	*out = p;
	return 0;
}

void cairn_registry_pool_free(struct cairn_registry_pool *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_regs; i++)
		cairn_registry_free(p->regs[i]);
	free(p->regs);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void cairn_registry_pool_set_transport(struct cairn_registry_pool *p, cairn_http_factory_fn fn,
				       void *ud)
{
	p->factory = fn;
	p->factory_ud = ud;
}

static struct cairn_registry *pool_find(const struct cairn_registry_pool *p, const char *domain)
{
	for (size_t i = 0; i < p->n_regs; i++)
		if (strcmp(cairn_registry_domain(p->regs[i]), domain) == 0)
			return p->regs[i];
	return NULL;
}

int cairn_registry_pool_get(struct cairn_registry **out, struct cairn_registry_pool *p,
			    const char *domain, struct cairn_error **err)
{
	struct cairn_registry *r;
	int ret = 0;

	*out = NULL;
	/* held while a registry opens: two threads that want a new host look it up once */
	pthread_mutex_lock(&p->lock);
	r = pool_find(p, domain);
	if (!r) {
		ret = cairn_registry_open(&r, domain, &p->o, err);
		if (ret == 0 && p->factory)
			cairn_registry_set_transport(r, p->factory, p->factory_ud);
		if (ret == 0) {
			p->regs = xreallocarray(p->regs, p->n_regs + 1, sizeof(*p->regs));
			p->regs[p->n_regs++] = r;
		}
	}
	pthread_mutex_unlock(&p->lock);
	if (ret == 0)
		*out = r;
	return ret;
}
