/* SPDX-License-Identifier: MIT */
/* .Files.Glob: the project's files matching a pattern, with werf's doublestar semantics. */
#include "common.h"
#include "config/template_internal.h"
#include "util/buf.h"
#include "util/root.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

/* Deepest directory the walk enters, most files one glob reads, most brace alternatives tried. */
#define GLOB_DEPTH_MAX 256
#define GLOB_FILES_MAX 10000
#define GLOB_BRACES_MAX 1024

/* The end of the brace group that starts at p[0] == '{', or NULL when it is not closed. */
static const char *brace_end(const char *p)
{
	int depth = 0;

	for (; *p; p++) {
		if (*p == '\\' && p[1])
			p++;
		else if (*p == '{')
			depth++;
		else if (*p == '}' && --depth == 0)
			return p;
	}
	return NULL;
}

/*
 * One path component against one pattern component: fnmatch's `*`, `?`, `[...]` and `\`,
 * plus doublestar's `{a,b}` alternatives, expanded here (within `*budget` tries).
 */
static bool match_component(const char *pat, const char *name, unsigned *budget)
{
	const char *open = NULL, *close;

	for (const char *p = pat; *p && !open; p++) {
		if (*p == '\\' && p[1])
			p++;
		else if (*p == '{')
			open = p;
	}
	if (!open || !(close = brace_end(open)))
		return fnmatch(pat, name, 0) == 0;
	for (const char *alt = open + 1; alt <= close && *budget;) {
		const char *end = alt;
		int depth = 0;
		bool hit;
		char *try;

		for (; end < close; end++) {
			if (*end == '\\' && end + 1 < close)
				end++;
			else if (*end == '{')
				depth++;
			else if (*end == '}')
				depth--;
			else if (*end == ',' && !depth)
				break;
		}
		(*budget)--;
		try = xasprintf("%.*s%.*s%s", (int)(open - pat), pat, (int)(end - alt), alt,
				close + 1);
		hit = match_component(try, name, budget);
		free(try);
		if (hit)
			return true;
		alt = end + 1;
	}
	return false;
}

/* The pattern's components from p, against the path's from n: `**` takes zero or more. */
static bool match_parts(char **p, size_t np, char **n, size_t nn, unsigned *budget)
{
	if (!np)
		return !nn;
	if (strcmp(p[0], "**") == 0) {
		for (size_t skip = 0; skip <= nn && *budget; skip++, (*budget)--)
			if (match_parts(p + 1, np - 1, n + skip, nn - skip, budget))
				return true;
		return false;
	}
	return nn && match_component(p[0], n[0], budget) &&
	       match_parts(p + 1, np - 1, n + 1, nn - 1, budget);
}

/* Split `s` at '/' into `*n` parts, in place. */
static char **split_parts(char *s, size_t *n)
{
	char **v = NULL;
	size_t alloc = 0;

	*n = 0;
	for (char *c = s;;) {
		char *slash = strchr(c, '/');

		v = tpl_grow(v, &alloc, *n, sizeof(*v));
		v[(*n)++] = c;
		if (!slash)
			break;
		*slash = '\0';
		c = slash + 1;
	}
	return v;
}

/* Whether the relative `path` matches `pat`, as doublestar's PathMatch has it. */
bool tpl_glob_match(const char *pat, const char *path)
{
	cleanup_free char *pc = xstrdup(pat);
	cleanup_free char *nc = xstrdup(path);
	cleanup_free char **pv = NULL;
	cleanup_free char **nv = NULL;
	unsigned budget = GLOB_BRACES_MAX;
	size_t np, nn;

	pv = split_parts(pc, &np);
	nv = split_parts(nc, &nn);
	return match_parts(pv, np, nv, nn, &budget);
}

struct glob {
	int dfd;
	const char *pattern;
	const char *prefix; /* the pattern's leading components without wildcards, "" or "a/b/" */
	cairn_template_each_fn each;
	void *ud;
	size_t files;
};

/* A file that matched: read inside the project and handed on; a symlink to a directory is not. */
static int take(struct glob *g, const char *rel, bool link, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release)
	struct cairn_buf b = CAIRN_BUF_INIT_MAX(CAIRN_TEMPLATE_OUTPUT_MAX);
	struct stat st;
	int ret;

	if (link) {
		cleanup_close int fd = cairn_root_open(g->dfd, rel, O_PATH, CAIRN_ROOT_BENEATH);

		if (fd < 0 && errno == EXDEV)
			return cairn_error_set(err, CAIRN_EINVAL, "'%s': path leaves the project",
					       rel);
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
			return 0;
	}
	if (++g->files > GLOB_FILES_MAX)
		return cairn_error_set(err, CAIRN_ETOOBIG, "more than %d files match",
				       GLOB_FILES_MAX);
	ret = cairn_root_read_file(g->dfd, rel, CAIRN_ROOT_BENEATH, &b, rel, err);
	if (ret < 0)
		return ret;
	return g->each(rel, rel, b.buf, b.len, g->ud, err);
}

static int visit(const struct cairn_root_entry *e, void *ud, struct cairn_error **err)
{
	struct glob *g = ud;
	cleanup_free char *rel = xasprintf("%s%s", g->prefix, e->rel);

	if (!S_ISREG(e->st.st_mode) && !S_ISLNK(e->st.st_mode))
		return 0;
	if (!tpl_glob_match(g->pattern, rel))
		return 0;
	return take(g, rel, S_ISLNK(e->st.st_mode), err);
}

/* The leading components of `pattern` with no wildcard, as "a/b/", the length of that. */
static size_t literal_prefix(const char *pattern)
{
	size_t end = 0;

	for (const char *c = pattern;;) {
		size_t n = strcspn(c, "/");

		if (strcspn(c, "*?[{\\") < n || !c[n])
			return end;
		c += n + 1;
		end = (size_t)(c - pattern);
	}
}

/* The default glob_fn, as werf's Files.Glob walks: from the literal part of the pattern down. */
int tpl_glob(const char *dir, const char *pattern, cairn_template_each_fn each, void *ud,
	     struct cairn_error **err)
{
	cleanup_close int dfd = open(dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_free char *prefix = NULL;
	struct glob g = {.pattern = pattern, .each = each, .ud = ud};
	cleanup_close int from = -1;
	struct stat st;

	if (dfd < 0)
		return 0;
	g.dfd = dfd;
	prefix = xstrndup(pattern, literal_prefix(pattern));
	g.prefix = prefix;
	if (!strpbrk(pattern + strlen(prefix), "*?[{\\")) {
		/* no wildcard at all: the one file it names, if it is one */
		from = cairn_root_open(dfd, pattern, O_PATH | O_NOFOLLOW, CAIRN_ROOT_BENEATH);
		if (from < 0 || fstat(from, &st) < 0 || S_ISDIR(st.st_mode))
			return 0;
		return take(&g, pattern, S_ISLNK(st.st_mode), err);
	}
	from = cairn_root_open(dfd, prefix[0] ? prefix : ".", O_RDONLY | O_DIRECTORY,
			       CAIRN_ROOT_BENEATH);
	if (from < 0 && errno == EXDEV)
		return cairn_error_set(err, CAIRN_EINVAL, "'%s': path leaves the project", prefix);
	if (from < 0)
		return 0;
	return cairn_root_walk(from, GLOB_DEPTH_MAX, visit, &g, err);
}
