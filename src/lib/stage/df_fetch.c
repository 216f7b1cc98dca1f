/* SPDX-License-Identifier: MIT */
/* ADD of a URL: the file fetched over http(s) into the build's directory, hashed as it comes. */
#include "common.h"
#include "stage/df_fetch.h"
#include "cairn/registry.h"
#include "util/interrupt.h"
#include "util/sha256.h"

#include <curl/curl.h>
#include <fcntl.h>

/* Longer than this, a fetched file is refused. */
#define FETCH_MAX ((curl_off_t)8 << 30)
/*
 * Slower than FETCH_MIN_RATE bytes a second over FETCH_IDLE_S seconds, a fetch fails: a server
 * dripping a byte a second would otherwise hold the build for as long as it likes.
 */
#define FETCH_IDLE_S 60L
#define FETCH_MIN_RATE 1024L

struct fetch {
	int fd;
	struct cairn_sha256 h;
	uint64_t size;
	int err_no;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct fetch *f = ud;
	size_t len = size * n, done = 0;

	while (done < len) {
		ssize_t w = write(f->fd, p + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			f->err_no = w < 0 ? errno : EIO;
			return 0;
		}
		done += (size_t)w;
	}
	cairn_sha256_update(&f->h, p, len);
	f->size += len;
	return len;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)ud;
	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return cairn_interrupted() ? 1 : 0;
}

#define SETOPT(c, opt, val)                                                                  \
	do {                                                                                 \
		if (curl_easy_setopt((c), (opt), (val)) != CURLE_OK)                         \
			ret = cairn_error_set(err, CAIRN_EINTERNAL, "curl option %s", #opt); \
	} while (0)

int df_fetch(struct df_fetched *out, const char *url, const char *path, struct cairn_error **err)
{
	struct fetch f = {.fd = -1};
	struct cairn_digest dg;
	char errbuf[CURL_ERROR_SIZE] = "";
	long status = 0, filetime = -1;
	CURL *c = NULL;
	CURLcode rc;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = cairn_registry_global_init(err);
	if (ret < 0)
		return ret;
	c = curl_easy_init();
	f.fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (!c || f.fd < 0) {
		ret = c ? cairn_error_set_errno(err, "ADD: '%s'", path)
			: cairn_error_set(err, CAIRN_EINTERNAL, "ADD: no curl handle");
		goto out;
	}
	cairn_sha256_init(&f.h);
	SETOPT(c, CURLOPT_URL, url);
	/* http(s) only, redirects too; no credential of cairn's is ever sent */
	SETOPT(c, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SETOPT(c, CURLOPT_FOLLOWLOCATION, 1L);
	SETOPT(c, CURLOPT_MAXREDIRS, 10L);
	SETOPT(c, CURLOPT_NOSIGNAL, 1L);
	SETOPT(c, CURLOPT_CONNECTTIMEOUT, FETCH_IDLE_S);
	SETOPT(c, CURLOPT_LOW_SPEED_LIMIT, FETCH_MIN_RATE);
	SETOPT(c, CURLOPT_LOW_SPEED_TIME, FETCH_IDLE_S);
	SETOPT(c, CURLOPT_MAXFILESIZE_LARGE, FETCH_MAX);
	SETOPT(c, CURLOPT_FILETIME, 1L);
	SETOPT(c, CURLOPT_USERAGENT, "cairn/" CAIRN_VERSION_STRING);
	SETOPT(c, CURLOPT_ERRORBUFFER, errbuf);
	SETOPT(c, CURLOPT_WRITEFUNCTION, on_data);
	SETOPT(c, CURLOPT_WRITEDATA, &f);
	SETOPT(c, CURLOPT_NOPROGRESS, 0L);
	SETOPT(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	if (ret < 0)
		goto out;
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(c, CURLINFO_FILETIME, &filetime);
	if (rc == CURLE_ABORTED_BY_CALLBACK && cairn_interrupted()) {
		ret = cairn_interrupt_check(err);
		goto out;
	}
	if (rc == CURLE_WRITE_ERROR && f.err_no) {
		errno = f.err_no;
		ret = cairn_error_set_errno(err, "ADD %s: write '%s'", url, path);
		goto out;
	}
	if (rc != CURLE_OK) {
		ret = cairn_error_set(err, CAIRN_EHTTP, "ADD %s: %s", url,
				      errbuf[0] ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	if (status < 200 || status >= 300) {
		ret = cairn_error_set(err, CAIRN_EHTTP, "ADD %s: HTTP status %ld", url, status);
		goto out;
	}
	cairn_sha256_final(&f.h, &dg);
	out->digest = dg;
	out->size = f.size;
	out->mtime = filetime > 0 ? (int64_t)filetime : 0;
out:
	cairn_sha256_release(&f.h); /* a failed fetch never reached final */
	if (f.fd >= 0)
		close(f.fd);
	if (ret < 0)
		unlink(path);
	curl_easy_cleanup(c);
	cairn_registry_global_cleanup();
	return ret;
}
