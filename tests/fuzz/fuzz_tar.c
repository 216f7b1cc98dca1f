/* SPDX-License-Identifier: MIT */
/* Fuzz target: layer unpacking (gzip/zstd/plain detection, tar headers, paths) into a jail. */
#include "common.h"
#include "layer/unpack.h"
#include "util/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *jail; /* /tmp/cairn-fuzz-tar-XXXXXX: holds only the unpack destination */
static int jailfd = -1;

static void remove_jail(void)
{
	int top = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (top >= 0 && jail)
		cairn_fs_remove_tree(top, jail + strlen("/tmp/"), NULL);
	if (top >= 0)
		close(top);
}

static void open_jail(void)
{
	char tmpl[] = "/tmp/cairn-fuzz-tar-XXXXXX";

	if (!mkdtemp(tmpl))
		abort();
	jail = xstrdup(tmpl);
	jailfd = open(jail, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (jailfd < 0)
		abort();
	atexit(remove_jail);
}

/* After each input the jail holds the destination (on success) and nothing else. */
static void check_jail(bool unpacked)
{
	int fd = openat(jailfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	int n = 0;

	if (!d)
		abort();
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (strcmp(e->d_name, "d") != 0 || !unpacked) {
			fprintf(stderr, "fuzz_tar: unexpected '%s' next to the destination\n",
				e->d_name);
			abort();
		}
		n++;
	}
	closedir(d);
	if (unpacked && n != 1)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cairn_error *err = NULL;
	cleanup_free char *dest = NULL;
	cleanup_free char *clean = NULL;
	cleanup_free char *name = NULL;
	int fd, ret;

	if (!jail)
		open_jail();
	/* the path rules alone, on the input as a name */
	name = xstrndup((const char *)data, size < 4096 ? size : 4096);
	if (cairn_layer_clean_path(&clean, name, NULL) == 0 &&
	    (clean[0] == '/' || strstr(clean, "//") || strcmp(clean, "..") == 0 ||
	     strncmp(clean, "../", 3) == 0 || strstr(clean, "/../") ||
	     (strlen(clean) >= 3 && strcmp(clean + strlen(clean) - 3, "/..") == 0)))
		abort();
	fd = memfd_create("layer", MFD_CLOEXEC);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size) || lseek(fd, 0, SEEK_SET))
		abort();
	dest = xasprintf("%s/d", jail);
	ret = cairn_layer_unpack_fd(fd, "fuzz", NULL, NULL, dest, CAIRN_UNPACK_NO_SYNC, &err);
	close(fd);
	if (ret < 0 && (!err || !err->msg || ret != err->code))
		abort();
	cairn_error_free(err);
	check_jail(ret == 0);
	if (cairn_fs_remove_tree(jailfd, "d", NULL) < 0)
		abort();
	return 0;
}
