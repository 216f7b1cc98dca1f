/* SPDX-License-Identifier: MIT */
/* The project's files as templates see them unless told otherwise: read below its directory. */
#include "common.h"
#include "config/template_internal.h"
#include "util/buf.h"
#include "util/root.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define WERF_DEPTH_MAX 16

/* ---- .Files.Get ---- */

/*
 * The default read_file_fn: `path` opened below `dir` (NULL: the current directory) so that no
 * symlink or ".." leads out, and read whole.
 */
int tpl_read_file(char **out, size_t *out_len, const char *dir, const char *path,
		  struct cairn_error **err)
{
	CLEANUP(cairn_buf_release)
	struct cairn_buf b = CAIRN_BUF_INIT_MAX(CAIRN_TEMPLATE_OUTPUT_MAX);
	cleanup_close int dfd = -1;
	cleanup_close int fd = -1;
	char chunk[8192];

	*out = NULL;
	*out_len = 0;
	dfd = open(dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fd = cairn_root_open(dfd, path, O_RDONLY | O_NOCTTY | O_NONBLOCK,
				     CAIRN_ROOT_BENEATH);
	if (fd < 0 && errno == EXDEV)
		return cairn_error_set(err, CAIRN_EINVAL, "path leaves the project");
	if (fd < 0 && errno == ENOENT && dfd >= 0)
		return cairn_error_set(err, CAIRN_ENOTFOUND, "no such file");
	if (fd < 0)
		return cairn_error_set(err, CAIRN_EINVAL, "%s", strerror(errno));
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cairn_error_set(err, CAIRN_EINVAL, "%s", strerror(errno));
		if (n == 0)
			break;
		cairn_buf_add(&b, chunk, (size_t)n);
		if (b.err)
			return cairn_error_set(err, CAIRN_ETOOBIG, "larger than %u bytes",
					       CAIRN_TEMPLATE_OUTPUT_MAX);
	}
	*out = cairn_buf_detach(&b, out_len);
	return 0;
}

/* ---- .werf/ templates ---- */

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collect "sub/dir/x.tmpl" paths under the directory `fd` (taken), prefixed by `prefix`. */
static int find_tmpl(char ***v, size_t *n, size_t *alloc, int fd, const char *prefix, int depth,
		     struct cairn_error **err)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;

	if (!d) {
		close(fd);
		return cairn_error_set_errno(err, "read template directory '.werf/%s'", prefix);
	}
	while ((de = readdir(d)) != NULL) {
		cleanup_free char *rel = NULL;
		size_t nl = strlen(de->d_name);
		struct stat st;

		if (de->d_name[0] == '.' &&
		    (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		rel = xasprintf("%s%s", prefix, de->d_name);
		/* a symlinked directory is not walked: it may lead out, or round in a loop */
		if (S_ISDIR(st.st_mode) && depth < WERF_DEPTH_MAX) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			cleanup_free char *p = xasprintf("%s/", rel);

			if (sub >= 0 && find_tmpl(v, n, alloc, sub, p, depth + 1, err) < 0) {
				closedir(d);
				return CAIRN_EOS;
			}
		} else if ((S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) && nl > 5 &&
			   strcmp(de->d_name + nl - 5, ".tmpl") == 0) {
			*v = tpl_grow(*v, alloc, *n, sizeof(**v));
			(*v)[(*n)++] = TAKE_PTR(rel);
		}
	}
	closedir(d);
	return 0;
}

/*
 * Each *.tmpl file below the directory `fd` (taken), in sorted order of its path there, read
 * below `rootfd` as `rel_prefix`<path> and passed to `each` named <path>, shown as
 * `show_prefix`<path>.
 */
static int each_template(int rootfd, int fd, const char *rel_prefix, const char *show_prefix,
			 cairn_template_each_fn each, void *ud, struct cairn_error **err)
{
	char **names = NULL;
	size_t n = 0, alloc = 0;
	int ret = find_tmpl(&names, &n, &alloc, fd, "", 0, err);

	if (ret == 0 && n > 1) /* cairn_sort() takes no NULL, even for nothing */
		cairn_sort(names, n, sizeof(*names), cmpstr);
	for (size_t i = 0; i < n && ret == 0; i++) {
		CLEANUP(cairn_buf_release)
		struct cairn_buf b = CAIRN_BUF_INIT_MAX(CAIRN_TEMPLATE_OUTPUT_MAX);
		cleanup_free char *rel = xasprintf("%s%s", rel_prefix, names[i]);
		cleanup_free char *shown = xasprintf("%s%s", show_prefix, names[i]);

		/* a symlinked template is read only when it stays inside the root */
		ret = cairn_root_read_file(rootfd, rel, CAIRN_ROOT_BENEATH, &b, shown, err);
		if (ret < 0) {
			cairn_error_wrap(err, "template");
			break;
		}
		ret = each(names[i], shown, b.buf, b.len, ud, err);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ret;
}

/*
 * The default werf_dir_fn: each `dir/.werf/ ** / *.tmpl` file, in sorted order of its path below
 * .werf/, read and passed to `each`. No `dir`, no .werf/: none.
 */
int tpl_werf_dir(const char *dir, cairn_template_each_fn each, void *ud, struct cairn_error **err)
{
	cleanup_close int dfd = -1;
	int fd;

	if (!dir)
		return 0;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return 0;
	fd = openat(dfd, ".werf", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	return each_template(dfd, fd, ".werf/", ".werf/", each, ud, err);
}

/*
 * The templates of --config-templates-dir `path`: as tpl_werf_dir() does with .werf/, each
 * read inside `path`. A directory that does not exist has none, as in werf.
 */
int tpl_templates_dir(const char *path, cairn_template_each_fn each, void *ud,
		      struct cairn_error **err)
{
	cleanup_close int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_free char *shown = NULL;
	int fd;

	if (dfd < 0 && errno == ENOENT)
		return 0;
	if (dfd < 0)
		return cairn_error_set_errno(err, "open templates directory '%s'", path);
	fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return cairn_error_set_errno(err, "open templates directory '%s'", path);
	shown = xasprintf("%s%s", path, path[0] && path[strlen(path) - 1] == '/' ? "" : "/");
	return each_template(dfd, fd, "", shown, each, ud, err);
}
