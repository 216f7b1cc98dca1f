/* SPDX-License-Identifier: MIT */
/* SHA-256 digests via libcrypto's EVP interface. */
#include "common.h"
#include "util/sha256.h"

#include <openssl/evp.h>

void cairn_sha256_init(struct cairn_sha256 *h)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		fprintf(stderr, "cairn: fatal: cannot initialise SHA-256\n");
		abort();
	}
	h->ctx = ctx;
}

void cairn_sha256_update(struct cairn_sha256 *h, const void *p, size_t len)
{
	if (len && EVP_DigestUpdate(h->ctx, p, len) != 1)
		abort();
}

void cairn_sha256_final(struct cairn_sha256 *h, struct cairn_digest *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	unsigned int mdlen = 0;
	char *p;

	if (EVP_DigestFinal_ex(h->ctx, md, &mdlen) != 1 || mdlen != sizeof(md))
		abort();
	cairn_sha256_release(h);
	memcpy(out->str, "sha256:", 7);
	p = out->str + 7;
	for (size_t i = 0; i < sizeof(md); i++) {
		*p++ = hex[md[i] >> 4];
		*p++ = hex[md[i] & 15];
	}
	*p = '\0';
}

void cairn_sha256_release(struct cairn_sha256 *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

void cairn_digest_of(struct cairn_digest *out, const void *p, size_t len)
{
	struct cairn_sha256 h;

	cairn_sha256_init(&h);
	cairn_sha256_update(&h, p, len);
	cairn_sha256_final(&h, out);
}

int cairn_digest_parse(struct cairn_digest *out, const char *s, size_t len,
		       struct cairn_error **err)
{
	const char *colon = memchr(s, ':', len);
	int shown = len > 80 ? 80 : (int)len;

	out->str[0] = '\0';
	if (!colon)
		return cairn_error_set(err, CAIRN_EINVAL, "invalid digest '%.*s': no algorithm",
				       shown, s);
	if ((size_t)(colon - s) != 6 || memcmp(s, "sha256", 6) != 0)
		return cairn_error_set(err, CAIRN_EINVAL,
				       "invalid digest '%.*s': unsupported algorithm", shown, s);
	if (len != 7 + CAIRN_DIGEST_HEX_LEN)
		return cairn_error_set(err, CAIRN_EINVAL,
				       "invalid digest '%.*s': want 64 hex digits", shown, s);
	for (size_t i = 7; i < len; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return cairn_error_set(err, CAIRN_EINVAL,
					       "invalid digest '%.*s': want lowercase hex digits",
					       shown, s);
	}
	memcpy(out->str, s, len);
	out->str[len] = '\0';
	return 0;
}

const char *cairn_digest_hex(const struct cairn_digest *d)
{
	return d->str + 7;
}

int cairn_digest_equal(const struct cairn_digest *a, const struct cairn_digest *b)
{
	return strcmp(a->str, b->str) == 0;
}
