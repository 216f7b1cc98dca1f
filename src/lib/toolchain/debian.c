/* SPDX-License-Identifier: MIT */
/* The toolchain from the build host's Debian packages, rewritten to run from its mount point. */
#include "common.h"
#include "toolchain/copy.h"
#include "toolchain/elf.h"
#include "toolchain/source.h"
#include "toolchain/spawn.h"
#include "cairn/digest.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/strset.h"

#include <elf.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <sys/stat.h>

/* A change of what is taken or how it is rewritten changes this, so every home rebuilds. */
#define RECIPE_VERSION "4"
/* Debian's multiarch directory of the build host's libraries */
#if defined(__x86_64__)
#define MULTIARCH "x86_64-linux-gnu"
#elif defined(__aarch64__)
#define MULTIARCH "aarch64-linux-gnu"
#elif defined(__arm__)
#define MULTIARCH "arm-linux-gnueabihf"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define MULTIARCH "powerpc64le-linux-gnu"
#elif defined(__s390x__)
#define MULTIARCH "s390x-linux-gnu"
#elif defined(__i386__)
#define MULTIARCH "i386-linux-gnu"
#else
#error "unknown Debian multiarch triplet"
#endif

#define DIST "/usr/lib/python3/dist-packages"
#define DIST_TO "lib/python3/dist-packages"
/* The program that lists the host's packages (a test points it at a stand-in). */
#define DPKG_QUERY_ENV "CAIRN_DPKG_QUERY"
#define DPKG_OUT_MAX (32u << 20)

enum take_kind {
	TAKE_NONE,   /* the package must be there (a tool used to assemble, or a part of a tree) */
	TAKE_FILE,   /* `src` to `dest` */
	TAKE_TREE,   /* the directory `src` to `dest`, but its top-level entries in skip_top */
	TAKE_SCRIPT, /* a python script, its "#!" line pointed at the toolchain's python */
	TAKE_DIST,   /* the package's entries of DIST, to DIST_TO */
};

struct take {
	const char *package;
	enum take_kind kind;
	const char *src;
	const char *dest;
};

/*
 * What the toolchain holds: werf's stapel set (bash, GNU tar, sudo, useradd and groupadd,
 * python with ansible and python-apt for the apt module) from Debian 12's packages. The shared
 * libraries they load are found and copied by reading their ELF headers.
 */
static const struct take recipe[] = {
	{"bash", TAKE_FILE, "/bin/bash", "bin/bash"},
	{"tar", TAKE_FILE, "/bin/tar", "bin/tar"},
	/* what GNU tar (and ansible's unarchive) runs for compressed archives */
	{"gzip", TAKE_FILE, "/bin/gzip", "bin/gzip"},
	{"bzip2", TAKE_FILE, "/bin/bzip2", "bin/bzip2"},
	{"xz-utils", TAKE_FILE, "/usr/bin/xz", "bin/xz"},
	{"sudo", TAKE_FILE, "/usr/bin/sudo", "bin/sudo"},
	{"passwd", TAKE_FILE, "/usr/sbin/useradd", "bin/useradd"},
	{"passwd", TAKE_FILE, "/usr/sbin/usermod", "bin/usermod"},
	{"passwd", TAKE_FILE, "/usr/sbin/userdel", "bin/userdel"},
	{"passwd", TAKE_FILE, "/usr/sbin/groupadd", "bin/groupadd"},
	{"passwd", TAKE_FILE, "/usr/sbin/groupmod", "bin/groupmod"},
	{"passwd", TAKE_FILE, "/usr/sbin/groupdel", "bin/groupdel"},
	{"unzip", TAKE_FILE, "/usr/bin/unzip", "bin/unzip"},
	/* become_user of ansible tasks: needs neither PAM nor a sudoers file in the image */
	{"util-linux", TAKE_FILE, "/usr/bin/setpriv", "bin/setpriv"},
	{"python3.11-minimal", TAKE_FILE, "/usr/bin/python3.11", "bin/python3.11"},
	{"libpython3.11-minimal", TAKE_TREE, "/usr/lib/python3.11", "lib/python3.11"},
	{"libpython3.11-stdlib", TAKE_NONE, NULL, NULL},
	{"python3-yaml", TAKE_DIST, NULL, NULL},
	{"python3-jinja2", TAKE_DIST, NULL, NULL},
	{"python3-markupsafe", TAKE_DIST, NULL, NULL},
	{"python3-cryptography", TAKE_DIST, NULL, NULL},
	{"python3-cffi-backend", TAKE_DIST, NULL, NULL}, /* cryptography's openssl bindings */
	/* OpenSSL's legacy provider, which cryptography loads (OPENSSL_MODULES points here) */
	{"libssl3", TAKE_TREE, "/usr/lib/" MULTIARCH "/ossl-modules", "lib/ossl-modules"},
	{"python3-resolvelib", TAKE_DIST, NULL, NULL},
	{"python3-packaging", TAKE_DIST, NULL, NULL},
	{"python3-apt", TAKE_DIST, NULL, NULL},
	{"ansible-core", TAKE_DIST, NULL, NULL},
	{"ansible-core", TAKE_SCRIPT, "/usr/bin/ansible", "bin/ansible"},
	{"ansible-core", TAKE_SCRIPT, "/usr/bin/ansible-playbook", "bin/ansible-playbook"},
	{"ansible-core", TAKE_SCRIPT, "/usr/bin/ansible-galaxy", "bin/ansible-galaxy"},
	{"ansible-core", TAKE_SCRIPT, "/usr/bin/ansible-config", "bin/ansible-config"},
	{"ansible-core", TAKE_SCRIPT, "/usr/bin/ansible-doc", "bin/ansible-doc"},
	{"ansible-core", TAKE_SCRIPT, "/usr/bin/ansible-inventory", "bin/ansible-inventory"},
	{"ansible-core", TAKE_SCRIPT, "/usr/bin/ansible-vault", "bin/ansible-vault"},
	/*
	 * Of the 500 MB of collections the ansible package holds, those where ansible-core 2.14
	 * routes werf's modules: community.general (46 of them), community.crypto (openssl_*)
	 * and ansible.posix (acl).
	 */
	{"ansible", TAKE_TREE, DIST "/ansible_collections/community/general",
	 DIST_TO "/ansible_collections/community/general"},
	{"ansible", TAKE_TREE, DIST "/ansible_collections/community/crypto",
	 DIST_TO "/ansible_collections/community/crypto"},
	{"ansible", TAKE_TREE, DIST "/ansible_collections/ansible/posix",
	 DIST_TO "/ansible_collections/ansible/posix"},
	/* C.UTF-8 for ansible, which refuses other encodings: LOCPATH=<mount>/lib/locale */
	{"libc-bin", TAKE_TREE, "/usr/lib/locale/C.utf8", "lib/locale/C.utf8"},
	{"patchelf", TAKE_NONE, NULL, NULL},
};

/* Top-level entries of a TAKE_TREE or TAKE_DIST left out: tests, static libpython, ansible-test. */
static const char *const skip_top[] = {"test", "config-3.*", "ansible_test", NULL};

static const char *const links[][2] = {
	{"bin/python3", "python3.11"},
	{"bin/python", "python3.11"},
};

/* One installed (or known) package of the host. */
struct pkg {
	char *name;
	char *version;
	char *depends; /* Pre-Depends and Depends */
	bool installed;
	bool used; /* in the closure of the recipe */
};

struct pkgs {
	struct pkg *v;
	size_t n;
};

static const char *dpkg_query(void)
{
	const char *p = getenv(DPKG_QUERY_ENV);

	return p && *p ? p : "dpkg-query";
}

static void pkgs_release(struct pkgs *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].name);
		free(p->v[i].version);
		free(p->v[i].depends);
	}
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

static int cmp_pkg(const void *a, const void *b)
{
	const struct pkg *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	/* of two architectures' entries, the installed one first */
	return c ? c : (int)y->installed - (int)x->installed;
}

static struct pkg *pkg_find(struct pkgs *p, const char *name, size_t len)
{
	size_t lo = 0, hi = p->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strncmp(p->v[mid].name, name, len);

		if (c == 0 && p->v[mid].name[len])
			c = 1;
		if (c == 0) {
			while (mid > 0 && strcmp(p->v[mid - 1].name, p->v[mid].name) == 0)
				mid--;
			return &p->v[mid];
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* "NAME\tVERSION\tSTATUS\tPRE-DEPENDS\tDEPENDS" lines of dpkg-query into `p`, sorted. */
static void parse_packages(struct pkgs *p, char *text)
{
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[5] = {0};
		char *s = line;

		for (int i = 0; i < 5 && s; i++) {
			f[i] = s;
			s = strchr(s, '\t');
			if (s)
				*s++ = '\0';
		}
		if (!f[4] || !*f[0])
			continue;
		p->v = xreallocarray(p->v, p->n + 1, sizeof(*p->v));
		p->v[p->n] = (struct pkg){
			.name = xstrdup(f[0]),
			.version = xstrdup(f[1]),
			.depends = xasprintf("%s, %s", f[3], f[4]),
			/* "ii " or "hi ": wanted or held, and installed */
			.installed = strlen(f[2]) >= 2 && f[2][1] == 'i',
		};
		p->n++;
	}
	cairn_sort(p->v, p->n, sizeof(*p->v), cmp_pkg);
}

static int read_packages(struct pkgs *p, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf out = CAIRN_BUF_INIT_MAX(DPKG_OUT_MAX);
	const char *argv[] = {NULL, "-W", "-f",
			      "${Package}\\t${Version}\\t${db:Status-Abbrev}\\t${Pre-Depends}\\t"
			      "${Depends}\\n",
			      NULL};
	int ret;

	argv[0] = dpkg_query();
	ret = cairn_spawn_run(&out, argv, err);
	if (ret == CAIRN_ENOTFOUND)
		return cairn_error_wrap(err, "list the build host's Debian packages (cairn takes "
					     "its toolchain from a Debian host)");
	if (ret < 0)
		return cairn_error_wrap(err, "list the build host's Debian packages");
	parse_packages(p, out.buf);
	return 0;
}

/* Mark `pk` and every installed package it depends on, with any alternative, as used. */
static void mark_closure(struct pkgs *p, struct pkg *pk)
{
	struct pkg **todo = NULL;
	size_t n = 0;

	pk->used = true;
	todo = xreallocarray(todo, n + 1, sizeof(*todo));
	todo[n++] = pk;
	while (n > 0) {
		const char *s = todo[--n]->depends;

		while (*s) {
			size_t skip = strspn(s, " ,|"), len;
			struct pkg *d;

			s += skip;
			len = strcspn(s, " ,|(:[<");
			d = len ? pkg_find(p, s, len) : NULL;
			s += len;
			s += strcspn(s, ",|");
			if (!d || !d->installed || d->used)
				continue;
			d->used = true;
			todo = xreallocarray(todo, n + 1, sizeof(*todo));
			todo[n++] = d;
		}
	}
	free(todo);
}

/* The recipe's packages the host lacks, as an error naming them all. */
static int check_installed(struct pkgs *p, json_t *packages, struct cairn_error **err)
{
	struct cairn_buf names = CAIRN_BUF_INIT, cmd = CAIRN_BUF_INIT;
	size_t missing = 0;
	int ret = 0;

	for (size_t i = 0; i < ARRAY_SIZE(recipe); i++) {
		const char *name = recipe[i].package;
		struct pkg *pk = pkg_find(p, name, strlen(name));

		if (i > 0 && strcmp(recipe[i - 1].package, name) == 0)
			continue;
		if (pk && pk->installed) {
			json_object_set_new(packages, name, json_string(pk->version));
			mark_closure(p, pk);
			continue;
		}
		cairn_buf_addf(&names, "%s'%s'", missing ? ", " : "", name);
		cairn_buf_addf(&cmd, " %s", name);
		missing++;
	}
	if (missing)
		ret = cairn_error_set(err, CAIRN_ENOTFOUND,
				      "assemble the toolchain: the build host lacks the Debian "
				      "package%s %s; install %s: apt-get install%s",
				      missing > 1 ? "s" : "", names.buf,
				      missing > 1 ? "them" : "it", cmd.buf);
	cairn_buf_release(&names);
	cairn_buf_release(&cmd);
	return ret;
}

static int debian_plan(struct toolchain_plan *plan, const char *mount, struct cairn_error **err)
{
	CLEANUP(pkgs_release) struct pkgs p = {0};
	CLEANUP(cairn_buf_release) struct cairn_buf key = CAIRN_BUF_INIT;
	struct cairn_digest d;
	int ret;

	memset(plan, 0, sizeof(*plan));
	ret = read_packages(&p, err);
	if (ret < 0)
		return ret;
	plan->packages = json_object();
	ret = check_installed(&p, plan->packages, err);
	if (ret < 0) {
		json_decref(TAKE_PTR(plan->packages));
		return ret;
	}
	/* a new version of any package in the closure may change a file taken */
	cairn_buf_addf(&key, "cairn toolchain debian %s\nmount %s\n", RECIPE_VERSION, mount);
	for (size_t i = 0; i < p.n; i++)
		if (p.v[i].used && (i == 0 || strcmp(p.v[i - 1].name, p.v[i].name) != 0))
			cairn_buf_addf(&key, "%s %s\n", p.v[i].name, p.v[i].version);
	cairn_digest_of(&d, key.buf, key.len);
	memcpy(plan->id, cairn_digest_hex(&d), CAIRN_DIGEST_HEX_LEN);
	plan->id[CAIRN_DIGEST_HEX_LEN] = '\0';
	return 0;
}

static void debian_release(struct toolchain_plan *plan)
{
	json_decref(plan->packages);
	plan->packages = NULL;
}

/* --- assembly ------------------------------------------------------------------------------ */

/* An ELF object copied into the toolchain. */
struct elf_file {
	char *path;    /* relative to the toolchain */
	char *src_dir; /* where it came from on the host, for $ORIGIN */
};

struct assembly {
	int root; /* the toolchain directory */
	const char *dir;
	const char *mount;
	struct elf_file *elves;
	size_t n_elves;
	struct cairn_strset libs; /* names in lib/ */
	char **libdirs;		  /* where the host's loader finds libraries */
	size_t n_libdirs;
	/* `dpkg-query -L` of every TAKE_DIST package at once: each one's lines, by recipe entry */
	struct cairn_buf dist_out;
	char *dist_lines[ARRAY_SIZE(recipe)];
};

static void on_elf(const char *path, const char *src, void *ud)
{
	struct assembly *a = ud;
	const char *slash = strrchr(src, '/');

	a->elves = xreallocarray(a->elves, a->n_elves + 1, sizeof(*a->elves));
	a->elves[a->n_elves].path = xstrdup(path);
	a->elves[a->n_elves].src_dir =
		slash && slash != src ? xstrndup(src, (size_t)(slash - src)) : xstrdup("/");
	a->n_elves++;
}

static bool skipped(const char *name)
{
	for (size_t i = 0; skip_top[i]; i++)
		if (fnmatch(skip_top[i], name, 0) == 0)
			return true;
	return false;
}

static void copy_opts_init(struct cairn_copy_opts *co, struct assembly *a)
{
	co->on_elf = on_elf;
	co->ud = a;
}

/*
 * The files of every TAKE_DIST package in one `dpkg-query -L` (one start of dpkg-query, which
 * reads the whole status database each time, instead of one per package): its output has a
 * block per package, in order, blank lines between. Best effort: when it fails (a package
 * missing) or the blocks do not match, take_dist() asks for each package alone.
 */
static void list_dists(struct assembly *a)
{
	const char *argv[ARRAY_SIZE(recipe) + 3] = {dpkg_query(), "-L"};
	char *lines[ARRAY_SIZE(recipe)] = {0};
	struct cairn_error *e = NULL;
	size_t n = 2;
	char *p;

	a->dist_out = (struct cairn_buf)CAIRN_BUF_INIT_MAX(DPKG_OUT_MAX);
	for (size_t i = 0; i < ARRAY_SIZE(recipe); i++)
		if (recipe[i].kind == TAKE_DIST)
			argv[n++] = recipe[i].package;
	if (n == 2 || cairn_spawn_run(&a->dist_out, argv, &e) < 0 || !a->dist_out.buf) {
		cairn_error_free(e);
		return;
	}
	p = a->dist_out.buf;
	for (size_t i = 0; i < ARRAY_SIZE(recipe); i++) {
		char *end;

		if (recipe[i].kind != TAKE_DIST)
			continue;
		if (!p)
			return; /* fewer blocks than packages */
		lines[i] = p;
		end = strstr(p, "\n\n");
		if (end)
			*end = '\0';
		p = end ? end + 2 : NULL;
	}
	if (!p) /* as many blocks as packages */
		memcpy(a->dist_lines, lines, sizeof(lines));
}

/* The entries of DIST that the package of recipe entry `t` installs, each copied to DIST_TO. */
static int take_dist(struct assembly *a, const struct take *t, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf out = CAIRN_BUF_INIT_MAX(DPKG_OUT_MAX);
	const char *package = t->package;
	const char *argv[] = {dpkg_query(), "-L", package, NULL};
	struct cairn_copy_opts co = {0};
	char *lines = a->dist_lines[t - recipe];
	char *save = NULL;
	int ret;

	if (!lines) {
		ret = cairn_spawn_run(&out, argv, err);
		if (ret < 0)
			return cairn_error_wrap(err, "list the files of '%s'", package);
		lines = out.buf;
	}
	copy_opts_init(&co, a);
	for (char *l = strtok_r(lines, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		const char *name = l + strlen(DIST "/");
		cleanup_free char *to = NULL;

		if (strncmp(l, DIST "/", strlen(DIST "/")) != 0 || strchr(name, '/') || !*name ||
		    skipped(name))
			continue;
		to = xasprintf(DIST_TO "/%s", name);
		ret = cairn_copy_any(a->root, to, l, &co, err);
		if (ret < 0)
			return cairn_error_wrap(err, "package '%s'", package);
	}
	return 0;
}

static int take_one(struct assembly *a, const struct take *t, struct cairn_error **err)
{
	cleanup_free char *py = xasprintf("%s/bin/python3", a->mount);
	struct cairn_copy_opts co = {0};
	int ret = 0;

	copy_opts_init(&co, a);
	co.skip_top = skipped;
	switch (t->kind) {
	case TAKE_NONE:
		return 0;
	case TAKE_DIST:
		return take_dist(a, t, err);
	case TAKE_FILE:
		ret = cairn_copy_file(a->root, t->dest, t->src, &co, err);
		break;
	case TAKE_TREE:
		ret = cairn_copy_tree(a->root, t->dest, t->src, &co, err);
		break;
	case TAKE_SCRIPT:
		ret = cairn_copy_script(a->root, t->dest, t->src, py, err);
		break;
	}
	if (ret < 0)
		return cairn_error_wrap(err, "package '%s'", t->package);
	return 0;
}

/* The host's library directories, as its loader has them (/usr/local left out). */
static void find_libdirs(struct assembly *a)
{
	static const char *const tail[] = {"/lib", "/usr/lib"};
	glob_t g;

	if (glob("/etc/ld.so.conf.d/*.conf", 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++) {
			cleanup_fclose FILE *f = fopen(g.gl_pathv[i], "re");
			cleanup_free char *line = NULL;
			size_t cap = 0;
			ssize_t n;

			while (f && (n = getline(&line, &cap, f)) > 0) {
				line[strcspn(line, " \t\r\n#")] = '\0';
				if (line[0] != '/' || strncmp(line, "/usr/local", 10) == 0)
					continue;
				a->libdirs = xreallocarray(a->libdirs, a->n_libdirs + 1,
							   sizeof(*a->libdirs));
				a->libdirs[a->n_libdirs++] = xstrdup(line);
			}
		}
		globfree(&g);
	}
	for (size_t i = 0; i < ARRAY_SIZE(tail); i++) {
		a->libdirs = xreallocarray(a->libdirs, a->n_libdirs + 1, sizeof(*a->libdirs));
		a->libdirs[a->n_libdirs++] = xstrdup(tail[i]);
	}
}

/* Is `path` an ELF object the loader of `machine` would take? */
static bool loadable(const char *path, unsigned machine)
{
	struct cairn_elf e;
	struct cairn_error *ignored = NULL;
	int r = cairn_elf_read(&e, AT_FDCWD, path, &ignored);
	bool ok = r == 1 && e.machine == machine && e.type == ET_DYN;

	cairn_error_free(ignored);
	cairn_elf_release(&e);
	return ok;
}

/* Search the `:`-separated `list` for `name`; $ORIGIN is `origin`. */
static char *search_list(const char *list, const char *origin, const char *name, unsigned machine)
{
	const char *s = list;

	while (s && *s) {
		size_t len = strcspn(s, ":");
		cleanup_free char *dir = xstrndup(s, len);
		cleanup_free char *path = NULL;

		if (strncmp(dir, "$ORIGIN", 7) == 0)
			path = xasprintf("%s%s/%s", origin, dir + 7, name);
		else
			path = xasprintf("%s/%s", dir, name);
		if (loadable(path, machine))
			return TAKE_PTR(path);
		s += len;
		s += *s == ':';
	}
	return NULL;
}

/* Where the host's loader would find `name` for the object `e` from `origin`. */
static char *resolve(struct assembly *a, const struct cairn_elf *e, const char *origin,
		     const char *name)
{
	char *path = NULL;

	if (e->rpath && !e->runpath)
		path = search_list(e->rpath, origin, name, e->machine);
	if (!path && e->runpath)
		path = search_list(e->runpath, origin, name, e->machine);
	for (size_t i = 0; !path && i < a->n_libdirs; i++)
		path = search_list(a->libdirs[i], origin, name, e->machine);
	return path;
}

/*
 * Copy what each ELF object needs into lib/, and what those need in turn. The loader is
 * lib/<name of the interpreter>; every library goes under the name it is needed by.
 */
static int copy_needed(struct assembly *a, char **interp_name, struct cairn_error **err)
{
	struct cairn_copy_opts co = {0};
	int ret;

	copy_opts_init(&co, a);
	for (size_t i = 0; i < a->n_elves; i++) {
		struct cairn_elf e;
		cleanup_free char *path = xstrdup(a->elves[i].path);
		cleanup_free char *origin = xstrdup(a->elves[i].src_dir);

		ret = cairn_elf_read(&e, a->root, path, err);
		if (ret < 0)
			return ret;
		if (e.interp && !*interp_name) {
			const char *base = strrchr(e.interp, '/');

			*interp_name = xstrdup(base ? base + 1 : e.interp);
			if (cairn_strset_add(&a->libs, *interp_name, strlen(*interp_name))) {
				cleanup_free char *to = xasprintf("lib/%s", *interp_name);

				/* the loader needs nothing, and keeps its own name */
				ret = cairn_copy_file(a->root, to, e.interp, NULL, err);
				if (ret < 0) {
					cairn_elf_release(&e);
					return ret;
				}
			}
		}
		for (size_t k = 0; k < e.n_needed; k++) {
			const char *name = e.needed[k];
			cleanup_free char *src = NULL;
			cleanup_free char *to = NULL;

			if (strchr(name, '/') || !cairn_strset_add(&a->libs, name, strlen(name)))
				continue;
			src = resolve(a, &e, origin, name);
			if (!src) {
				ret = cairn_error_set(err, CAIRN_ENOTFOUND,
						      "find library '%s' that '%s' needs", name,
						      path);
				cairn_elf_release(&e);
				return ret;
			}
			to = xasprintf("lib/%s", name);
			ret = cairn_copy_file(a->root, to, src, &co, err);
			if (ret < 0) {
				cairn_elf_release(&e);
				return ret;
			}
		}
		cairn_elf_release(&e);
	}
	return 0;
}

/* Point every ELF object at the toolchain's loader and lib/ (at the mount point). */
static int patch_all(struct assembly *a, const char *interp_name, struct cairn_error **err)
{
	cleanup_free char *interp = xasprintf("%s/lib/%s", a->mount, interp_name);
	cleanup_free char *rpath = xasprintf("%s/lib", a->mount);
	cleanup_free char *loader = xasprintf("lib/%s", interp_name);
	struct {
		char **v;
		size_t n;
	} exe = {0}, lib = {0};
	int ret = 0;

	for (size_t i = 0; i < a->n_elves && ret == 0; i++) {
		struct cairn_elf e;
		char *full;

		if (strcmp(a->elves[i].path, loader) == 0)
			continue;
		ret = cairn_elf_read(&e, a->root, a->elves[i].path, err);
		if (ret < 0)
			break;
		ret = 0;
		full = xasprintf("%s/%s", a->dir, a->elves[i].path);
		if (e.interp) {
			exe.v = xreallocarray(exe.v, exe.n + 1, sizeof(*exe.v));
			exe.v[exe.n++] = full;
		} else if (e.n_needed) {
			lib.v = xreallocarray(lib.v, lib.n + 1, sizeof(*lib.v));
			lib.v[lib.n++] = full;
		} else {
			free(full);
		}
		cairn_elf_release(&e);
	}
	if (ret == 0 && exe.n)
		ret = cairn_elf_patch(exe.v, exe.n, interp, rpath, "patchelf", err);
	if (ret == 0 && lib.n)
		ret = cairn_elf_patch(lib.v, lib.n, NULL, rpath, "patchelf", err);
	for (size_t i = 0; i < exe.n; i++)
		free(exe.v[i]);
	for (size_t i = 0; i < lib.n; i++)
		free(lib.v[i]);
	free(exe.v);
	free(lib.v);
	return ret;
}

static void assembly_release(struct assembly *a)
{
	for (size_t i = 0; i < a->n_elves; i++) {
		free(a->elves[i].path);
		free(a->elves[i].src_dir);
	}
	free(a->elves);
	for (size_t i = 0; i < a->n_libdirs; i++)
		free(a->libdirs[i]);
	free(a->libdirs);
	cairn_buf_release(&a->dist_out);
	cairn_strset_release(&a->libs);
	if (a->root >= 0)
		close(a->root);
}

/*
 * The toolchain's python sets what its libraries need to find inside the toolchain before any
 * of them loads: OpenSSL's providers (python's cryptography loads the legacy one) live in the
 * toolchain, not where the host's libcrypto looks. Debian's own sitecustomize.py is a link to
 * /etc, which the copy leaves out.
 */
static int write_sitecustomize(struct assembly *a, struct cairn_error **err)
{
	cleanup_free char *text =
		xasprintf("# written by cairn: the toolchain's libraries find their parts in it\n"
			  "import os\n"
			  "os.environ.setdefault('OPENSSL_MODULES', '%s/lib/ossl-modules')\n",
			  a->mount);
	cleanup_close int fd =
		openat(a->root, "lib/python3.11", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return cairn_error_set_errno(err, "open '%s/lib/python3.11'", a->dir);
	return cairn_fs_write_atomic_at(fd, "sitecustomize.py", text, strlen(text), 0644, err);
}

static int debian_assemble(const struct toolchain_plan *plan, const char *dir, const char *mount,
			   struct cairn_error **err)
{
	CLEANUP(assembly_release) struct assembly a = {.root = -1, .dir = dir, .mount = mount};
	cleanup_free char *interp_name = NULL;
	int ret;

	(void)plan;
	a.root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a.root < 0)
		return cairn_error_set_errno(err, "open '%s'", dir);
	find_libdirs(&a);
	list_dists(&a);
	for (size_t i = 0; i < ARRAY_SIZE(recipe); i++) {
		ret = take_one(&a, &recipe[i], err);
		if (ret < 0)
			return ret;
	}
	for (size_t i = 0; i < ARRAY_SIZE(links); i++)
		if (symlinkat(links[i][1], a.root, links[i][0]) < 0)
			return cairn_error_set_errno(err, "link '%s'", links[i][0]);
	ret = write_sitecustomize(&a, err);
	if (ret == 0)
		ret = copy_needed(&a, &interp_name, err);
	if (ret < 0)
		return ret;
	if (!interp_name)
		return cairn_error_set(err, CAIRN_EINTERNAL,
				       "no program of the toolchain names "
				       "a dynamic loader");
	return patch_all(&a, interp_name, err);
}

const struct toolchain_source toolchain_debian = {
	.name = "debian",
	.bash = "bin/bash",
	.python = "bin/python3",
	.plan = debian_plan,
	.assemble = debian_assemble,
	.release = debian_release,
};
