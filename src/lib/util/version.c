/* SPDX-License-Identifier: MIT */
/* Version of libcairn, and of the libraries it runs with. */
#include "common.h"
#include "cairn/version.h"
#include "util/buf.h"

#include <archive.h>
#include <curl/curl.h>
#include <git2.h>
#include <jansson.h>
#include <libdeflate.h>
#include <libfyaml.h>
#include <openssl/crypto.h>
#include <zlib.h>
#include <zstd.h>

const char *cairn_version(void)
{
	return CAIRN_VERSION_STRING;
}

char *cairn_version_libraries(void)
{
	struct cairn_buf b = CAIRN_BUF_INIT;
	const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
	int major = 0, minor = 0, rev = 0;

	git_libgit2_version(&major, &minor, &rev);
	cairn_buf_addf(&b, "libcurl %s (%s)\n", cv->version,
		       cv->ssl_version ? cv->ssl_version : "no TLS");
	cairn_buf_addf(&b, "libgit2 %d.%d.%d\n", major, minor, rev);
	cairn_buf_addf(&b, "libfyaml %s\n", fy_library_version());
	cairn_buf_addf(&b, "jansson %s\n", jansson_version_str());
	cairn_buf_addf(&b, "%s\n", archive_version_string());
	cairn_buf_addf(&b, "%s\n", OpenSSL_version(OPENSSL_VERSION));
	cairn_buf_addf(&b, "zlib %s, libdeflate %s, zstd %s\n", zlibVersion(),
		       LIBDEFLATE_VERSION_STRING, ZSTD_versionString());
	return cairn_buf_detach(&b, NULL);
}
