/* SPDX-License-Identifier: MIT */
/* A set of strings for membership tests on hot paths (layer entries, names). */
#include "common.h"
#include "util/strset.h"

/* The slot holding s, or the empty slot where it would go. */
static size_t find(const struct cairn_strset *set, const char *s, size_t len)
{
	size_t mask = set->cap - 1;
	size_t i = (size_t)cairn_hash_fnv1a(s, len) & mask;

	while (set->slots[i] &&
	       !(strncmp(set->slots[i], s, len) == 0 && set->slots[i][len] == '\0'))
		i = (i + 1) & mask;
	return i;
}

static void grow(struct cairn_strset *set)
{
	struct cairn_strset bigger = {.cap = set->cap ? set->cap * 2 : 64};

	bigger.slots = xcalloc(bigger.cap, sizeof(*bigger.slots));
	for (size_t i = 0; i < set->cap; i++) {
		if (set->slots[i])
			bigger.slots[find(&bigger, set->slots[i], strlen(set->slots[i]))] =
				set->slots[i];
	}
	free(set->slots);
	set->slots = bigger.slots;
	set->cap = bigger.cap;
}

bool cairn_strset_add(struct cairn_strset *set, const char *s, size_t len)
{
	size_t i;

	if ((set->n + 1) * 2 > set->cap)
		grow(set);
	i = find(set, s, len);
	if (set->slots[i])
		return false;
	set->slots[i] = xstrndup(s, len);
	set->n++;
	return true;
}

bool cairn_strset_has(const struct cairn_strset *set, const char *s, size_t len)
{
	return set->cap && set->slots[find(set, s, len)];
}

void cairn_strset_release(struct cairn_strset *set)
{
	for (size_t i = 0; i < set->cap; i++)
		free(set->slots[i]);
	free(set->slots);
	set->slots = NULL;
	set->cap = set->n = 0;
}
