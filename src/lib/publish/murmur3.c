/* SPDX-License-Identifier: MIT */
/* MurmurHash3 x86 32-bit, the hash werf puts at the end of every slug. */
#include "common.h"
#include "cairn/slug.h"

static uint32_t rotl32(uint32_t x, int r)
{
	return (x << r) | (x >> (32 - r));
}

static uint32_t fmix32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bU;
	h ^= h >> 13;
	h *= 0xc2b2ae35U;
	h ^= h >> 16;
	return h;
}

uint32_t cairn_murmur3_32(const void *p, size_t len, uint32_t seed)
{
	const uint32_t c1 = 0xcc9e2d51U;
	const uint32_t c2 = 0x1b873593U;
	const unsigned char *data = p;
	size_t nblocks = len / 4;
	uint32_t h = seed;
	uint32_t k;

	for (size_t i = 0; i < nblocks; i++) {
		/*
		 * The hash is defined on little-endian words; build them from bytes so that neither
		 * alignment nor host byte order matters.
		 */
		const unsigned char *b = data + i * 4;

		k = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
		    (uint32_t)b[3] << 24;
		k *= c1;
		k = rotl32(k, 15);
		k *= c2;
		h ^= k;
		h = rotl32(h, 13);
		h = h * 5 + 0xe6546b64U;
	}

	k = 0;
	switch (len & 3) {
	case 3:
		k ^= (uint32_t)data[nblocks * 4 + 2] << 16;
		/* fall through */
	case 2:
		k ^= (uint32_t)data[nblocks * 4 + 1] << 8;
		/* fall through */
	case 1:
		k ^= (uint32_t)data[nblocks * 4];
		k *= c1;
		k = rotl32(k, 15);
		k *= c2;
		h ^= k;
	}

	h ^= (uint32_t)len;
	return fmix32(h);
}
