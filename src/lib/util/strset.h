/* SPDX-License-Identifier: MIT */
/* A set of strings: open addressing, linear probing, owned copies. */
#ifndef CAIRN_UTIL_STRSET_H
#define CAIRN_UTIL_STRSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* FNV-1a, 64 bits: the hash of cairn's own tables (short keys). */
static inline uint64_t cairn_hash_fnv1a(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

struct cairn_strset {
	char **slots; /* NULL: empty */
	size_t cap;   /* a power of two, or 0 */
	size_t n;
};

#define CAIRN_STRSET_INIT \
	{                 \
		0         \
	}

/* Add a copy of s[0..len); true when it was not there yet. */
bool cairn_strset_add(struct cairn_strset *set, const char *s, size_t len);
bool cairn_strset_has(const struct cairn_strset *set, const char *s, size_t len);
/* Free every string and the table; the set is empty and reusable. */
void cairn_strset_release(struct cairn_strset *set);

#endif
