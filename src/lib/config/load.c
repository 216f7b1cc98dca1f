/* SPDX-License-Identifier: MIT */
/* werf.yaml found, rendered and parsed into a configuration, finished for this host, freed. */
#include "common.h"
#include "cairn/slug.h"
#include "cairn/template.h"
#include "config/config_internal.h"
#include "git/git.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/root.h"
#include "util/text.h"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

/* Looked for in this order: werf's (werf.yml first), then the 2018 tool's (dappfile.yml first). */
static const char *const default_files[] = {"werf.yml", "werf.yaml", "dappfile.yml",
					    "dappfile.yaml"};

/* ---- parsing ---- */

static void ctx_release(struct ctx *x)
{
	cfg_free_nodes(x);
	free(x->nodes);
	free(x->stack);
	free(x->keys);
	cfg_smap_release(&x->noted);
	cairn_buf_release(&x->path);
	cairn_config_free(x->cfg);
}

/* "dappfile.yml", "ci/dappfile.yaml": a config file named the way the 2018 tool named it */
static bool is_dappfile(const char *name)
{
	const char *base = strrchr(name, '/');

	base = base ? base + 1 : name;
	return strncmp(base, "dappfile.", 9) == 0;
}

int cairn_config_parse(struct cairn_config **out, const char *name, const char *text, size_t len,
		       struct cairn_error **err)
{
	CLEANUP(ctx_release) struct ctx x = {.path = CAIRN_BUF_INIT};
	struct cairn_config_pos start = {1, 1};
	int ret;

	*out = NULL;
	x.file = name ? name : "werf.yaml";
	x.err = err;
	if (len > CAIRN_CONFIG_FILE_MAX)
		return cairn_error_set(err, CAIRN_ETOOBIG, "%s: larger than %u bytes", x.file,
				       CAIRN_CONFIG_FILE_MAX);
	x.cfg = xcalloc(1, sizeof(*x.cfg));
	x.cfg->file = xstrdup(x.file);
	x.cfg->config_version = 1;
	x.dappfile = is_dappfile(x.file);
	ret = cfg_check_text(&x, text, len);
	if (ret < 0)
		return ret;
	ret = cfg_parse_yaml(&x, text, len);
	if (ret < 0)
		return ret;
	if (!x.have_meta) {
		cairn_buf_addstr(&x.path, "project");
		return invalid(&x, start, "missing: the file has no documents");
	}
	ret = cfg_check_names(&x);
	if (ret < 0)
		return ret;
	ret = cfg_resolve_all(&x);
	if (ret < 0)
		return ret;
	ret = cfg_check_cycles(&x);
	if (ret < 0)
		return ret;
	ret = cfg_auto_exclude(&x);
	if (ret < 0)
		return ret;
	*out = TAKE_PTR(x.cfg);
	return 0;
}

/* ---- loading ---- */

/* "no werf.yml, werf.yaml, dappfile.yml or dappfile.yaml in 'DIR'" */
static int not_found_any(const char *dir, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf names = CAIRN_BUF_INIT;
	size_t n = ARRAY_SIZE(default_files);

	for (size_t i = 0; i < n; i++) {
		const char *sep = i + 1 == n ? " or " : ", ";

		cairn_buf_addf(&names, "%s%s", i ? sep : "", default_files[i]);
	}
	return cairn_error_set(err, CAIRN_ENOTFOUND, "no %s in '%s'", names.buf, dir);
}

/*
 * The config file `name`, a regular file (a FIFO would hang the open). A default name is
 * resolved inside the project (a symlink or '..' leaving it is refused, as a committed
 * `werf.yaml -> /etc/shadow` would print the host's file); a file the user names (--config)
 * is read where it is, relative to the project directory.
 */
static int read_config_file(int dfd, const char *name, bool named, struct cairn_buf *raw,
			    struct cairn_error **err)
{
	cleanup_close int fd = -1;

	if (!named)
		return cairn_root_read_file(dfd, name, CAIRN_ROOT_BENEATH, raw, name, err);
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT)
		return cairn_error_set(err, CAIRN_ENOTFOUND, "open '%s': %s", name,
				       strerror(ENOENT));
	if (fd < 0)
		return cairn_error_set_errno(err, "open '%s'", name);
	return cairn_fs_read_regular_fd(fd, raw, name, err);
}

/* Find and read the config file, then render it as a template; *name: the file's name. */
static int read_rendered(char **text, size_t *len, const char **name_out, int *changed,
			 const struct cairn_config_source *src, struct cairn_error **err)
{
	const char *dir = src->dir, *file = src->file;
	const char *templates_dir =
		src->templates_dir && *src->templates_dir ? src->templates_dir : NULL;
	CLEANUP(cairn_buf_release) struct cairn_buf raw = CAIRN_BUF_INIT_MAX(CAIRN_CONFIG_FILE_MAX);
	cleanup_close int dfd = -1;
	const char *name = file;
	int ret;

	*text = NULL;
	*len = 0;
	*name_out = NULL;
	dfd = open(dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return cairn_error_set_errno(err, "open project directory '%s'", dir ? dir : ".");
	if (file) {
		ret = read_config_file(dfd, file, true, &raw, err);
		if (ret < 0)
			return ret;
	} else {
		for (size_t i = 0; i < ARRAY_SIZE(default_files); i++) {
			struct cairn_error *e = NULL;

			name = default_files[i];
			ret = read_config_file(dfd, name, false, &raw, &e);
			if (ret == CAIRN_ENOTFOUND) {
				cairn_error_free(e);
				continue;
			}
			if (ret < 0) {
				if (err)
					*err = e;
				else
					cairn_error_free(e);
				return ret;
			}
			break;
		}
		if (ret == CAIRN_ENOTFOUND)
			return not_found_any(dir ? dir : ".", err);
	}
	{
		/* werf.yaml is a Go template: render it, then parse what it renders to */
		struct cairn_template_opts topts = {
			.dir = dir ? dir : ".", .name = name, .templates_dir = templates_dir};

		ret = cairn_template_render(text, len, raw.buf, raw.len, &topts, err);
		if (ret < 0)
			return ret;
	}
	*name_out = name;
	*changed = *len != raw.len || memcmp(*text, raw.buf, raw.len) != 0;
	return 0;
}

/*
 * A YAML error after rendering names a line of the rendered text, which the user never saw:
 * add that line and the two around it to the message.
 */
static void show_rendered_lines(struct cairn_error *e, const char *name, const char *text,
				size_t len)
{
	size_t nlen = strlen(name), line = 0, cur = 1;
	struct cairn_buf b = CAIRN_BUF_INIT;
	const char *p = e->msg, *at;

	at = strstr(p, name);
	if (!at || at[nlen] != ':')
		return;
	for (const char *d = at + nlen + 1; *d >= '0' && *d <= '9'; d++)
		line = line * 10 + (size_t)(*d - '0');
	if (line == 0)
		return;
	cairn_buf_addf(&b, "%s\nrendered %s around line %zu:", e->msg, name, line);
	for (const char *q = text, *end = text + len; q < end && cur <= line + 2; cur++) {
		const char *nl = memchr(q, '\n', (size_t)(end - q));
		size_t n = nl ? (size_t)(nl - q) : (size_t)(end - q);

		if (cur + 2 >= line) {
			/* the project's text: its escapes are shown, not sent to the terminal */
			cairn_buf_addf(&b, "\n%c %4zu | ", cur == line ? '>' : ' ', cur);
			cairn_buf_add_shown(&b, q, n > 200 ? 200 : n, false);
		}
		q = nl ? nl + 1 : end;
	}
	free(e->msg);
	e->msg = cairn_buf_detach(&b, NULL);
}

int cairn_config_render(char **out, size_t *len_out, const struct cairn_config_source *src,
			struct cairn_error **err)
{
	const char *name;
	int changed;

	return read_rendered(out, len_out, &name, &changed, src, err);
}

/*
 * The project's name in a URL of its repository, as the 2018 tool took it: the last path
 * component without ".git" ("https://h/org/app.git" -> "app", "git@h:app.git" -> "app"), and
 * never a part of credentials. A new string, maybe empty.
 */
static char *url_repo_name(const char *url)
{
	size_t end = strlen(url), start;

	while (end && url[end - 1] == '/')
		end--;
	if (end >= 4 && memcmp(url + end - 4, ".git", 4) == 0)
		end -= 4;
	start = end;
	while (start && url[start - 1] != '/' && url[start - 1] != ':' && url[start - 1] != '@')
		start--;
	return xstrndup(url + start, end - start);
}

/*
 * `name` made a project name (^[a-z0-9]([a-z0-9-]*[a-z0-9])?$, at most 49 bytes): kept when it
 * is one, else its namespace slug (cleaned, plus a hash of the name); a slug too long is cut,
 * keeping the hash.
 */
static char *project_slug(const char *name)
{
	size_t len = strlen(name), cut;
	cleanup_free char *slug = NULL;
	char hash[9];
	int n;

	if (!cfg_check_project(name, len))
		return xstrdup(name);
	slug = cairn_slugify(CAIRN_SLUG_NS, name, len);
	if (strlen(slug) <= PROJECT_MAX)
		return TAKE_PTR(slug);
	n = snprintf(hash, sizeof(hash), "%x", cairn_murmur3_32(name, len, 0));
	assert(n > 0 && (size_t)n < sizeof(hash));
	cut = PROJECT_MAX - 1 - (size_t)n;
	while (cut && slug[cut - 1] == '-')
		cut--;
	return xasprintf("%.*s-%s", (int)cut, slug, hash);
}

/*
 * Name the project of a dappfile without meta document the way the 2018 tool did: after the
 * repository of the git remote `origin`, else after the directory `abs_dir`. One warning shows
 * the meta document that keeps the name; the remote's URL is never shown.
 */
/* The project name of `abs_dir` (a new string), and where it comes from into *from. */
static char *default_project(const char *abs_dir, char **from)
{
	cleanup_free char *url = NULL;
	cleanup_free char *name = NULL;
	struct cairn_error *e = NULL;
	char shown[SHOWN_MAX + 4];

	if (cairn_git_origin_url(&url, abs_dir, &e) < 0 && e->code != CAIRN_ENOTFOUND)
		cairn_log(CAIRN_LOG_DEBUG, "name the project: %s", e->msg);
	cairn_error_free(e);
	name = url ? url_repo_name(url) : NULL;
	if (name && *name) {
		*from = xstrdup("the git remote 'origin'");
	} else {
		const char *base = strrchr(abs_dir, '/');

		free(name);
		name = xstrdup(base && base[1] ? base + 1 : abs_dir);
		cfg_show(shown, name, strlen(name));
		*from = xasprintf("the directory '%s'", shown);
	}
	return project_slug(name);
}

static void name_project(struct cairn_config *c, const char *abs_dir)
{
	cleanup_free char *from = NULL;

	c->project.s = default_project(abs_dir, &from);
	cairn_log(CAIRN_LOG_WARN,
		  "%s has no meta document: the project is named '%s' after %s; to keep that "
		  "name, start %s with:\nproject: %s\nconfigVersion: 1\n---",
		  c->file, c->project.s, from, c->file, c->project.s);
}

/* The user's home directory (a new string), or NULL. */
static char *home_dir(void)
{
	const char *home = getenv("HOME");
	struct passwd pw, *found = NULL;
	char buf[4096];

	if (home && home[0] == '/')
		return xstrdup(home);
	if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &found) != 0 || !found || !found->pw_dir ||
	    found->pw_dir[0] != '/')
		return NULL;
	return xstrdup(found->pw_dir);
}

/*
 * Each mount's fromPath as a host path, as werf resolved it: "~" and "~/x" in the home
 * directory, a relative path in the project directory `abs_dir`.
 */
static int resolve_mounts(struct cairn_config *c, const char *abs_dir, struct cairn_error **err)
{
	cleanup_free char *home = NULL;

	for (size_t i = 0; i < c->n_images; i++) {
		for (size_t k = 0; k < c->images[i].n_mounts; k++) {
			struct cairn_config_mount *m = &c->images[i].mounts[k];
			const char *p = m->from_path.s;
			cleanup_free char *joined = NULL;

			if (!p)
				continue;
			if (p[0] == '~' && !home)
				home = home_dir();
			if (p[0] == '~' && !home)
				return cairn_error_set(err, CAIRN_EINVAL,
						       "%s:%u:%u: mount[%zu].fromPath: no home "
						       "directory for '~' (HOME is not set)",
						       c->file, m->from_path.pos.line,
						       m->from_path.pos.column, k);
			if (p[0] == '~')
				joined = xasprintf("%s/%s", home, p + 1);
			else if (p[0] != '/')
				joined = xasprintf("%s/%s", abs_dir, p);
			m->host_path = cairn_fs_path_clean(joined ? joined : p);
		}
	}
	return 0;
}

/* What parsing leaves to loading: the project's name and host paths. */
static int finish_load(struct cairn_config *c, const char *dir, struct cairn_error **err)
{
	cleanup_free char *abs_dir = realpath(dir, NULL);

	if (!abs_dir)
		return cairn_error_set_errno(err, "resolve project directory '%s'", dir);
	if (!c->project.s)
		name_project(c, abs_dir);
	return resolve_mounts(c, abs_dir, err);
}

int cairn_config_load(struct cairn_config **out, const struct cairn_config_source *src,
		      struct cairn_error **err)
{
	const char *dir = src->dir;
	cleanup_free char *text = NULL;
	const char *name;
	size_t len = 0;
	int ret, changed = 0;

	*out = NULL;
	ret = read_rendered(&text, &len, &name, &changed, src, err);
	if (ret < 0)
		return ret;
	ret = cairn_config_parse(out, name, text, len, err);
	if (ret < 0 && changed && err && *err)
		show_rendered_lines(*err, name, text, len);
	if (ret < 0)
		return ret;
	ret = finish_load(*out, dir ? dir : ".", err);
	if (ret < 0) {
		cairn_config_free(*out);
		*out = NULL;
	}
	return ret;
}

/* A YAML double-quoted scalar of `s`: quotes and backslashes escaped, control bytes as \xHH. */
static void yaml_quoted(struct cairn_buf *b, const char *s)
{
	cairn_buf_addstr(b, "\"");
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			cairn_buf_addf(b, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			cairn_buf_addf(b, "\\x%02x", ch);
		else
			cairn_buf_add(b, s, 1);
	}
	cairn_buf_addstr(b, "\"");
}

int cairn_config_from_dockerfile(struct cairn_config **out,
				 const struct cairn_config_dockerfile_source *src,
				 struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf y = CAIRN_BUF_INIT;
	const char *dir = src->dir ? src->dir : ".";
	cleanup_free char *abs_dir = realpath(dir, NULL);
	cleanup_free char *project = NULL;
	cleanup_free char *from = NULL;
	int ret;

	*out = NULL;
	if (!abs_dir)
		return cairn_error_set_errno(err, "resolve project directory '%s'", dir);
	project = default_project(abs_dir, &from);
	cairn_buf_addf(&y, "project: %s\nconfigVersion: 1\n---\nimage: ~\ndockerfile: ", project);
	yaml_quoted(&y, src->file);
	if (src->context && *src->context && strcmp(src->context, ".") != 0) {
		cairn_buf_addstr(&y, "\ncontext: ");
		yaml_quoted(&y, src->context);
	}
	if (src->target) {
		cairn_buf_addstr(&y, "\ntarget: ");
		yaml_quoted(&y, src->target);
	}
	if (src->ssh) {
		cairn_buf_addstr(&y, "\nssh: ");
		yaml_quoted(&y, src->ssh);
	}
	if (src->n_args)
		cairn_buf_addstr(&y, "\nargs:");
	for (size_t i = 0; i < src->n_args; i++) {
		const char *eq = strchr(src->args[i], '=');
		cleanup_free char *key = eq ? xstrndup(src->args[i], (size_t)(eq - src->args[i]))
					    : xstrdup(src->args[i]);
		/* as docker: `--build-arg NAME` takes NAME's value from the environment */
		const char *value = eq ? eq + 1 : getenv(key);

		if (!value)
			continue;
		cairn_buf_addstr(&y, "\n  ");
		yaml_quoted(&y, key);
		cairn_buf_addstr(&y, ": ");
		yaml_quoted(&y, value);
	}
	cairn_buf_addstr(&y, "\n");
	ret = cairn_config_parse(out, "--dockerfile", y.buf, y.len, err);
	if (ret < 0)
		return ret;
	(*out)->images[0].dockerfile.work_tree = true;
	cairn_log(CAIRN_LOG_DEBUG, "the project is named '%s' after %s", project, from);
	return 0;
}

/* ---- freeing ---- */

static void str_release(struct cairn_config_str *s)
{
	free(s->s);
}

static void release_image(struct cairn_config_image *img)
{
	free(img->name);
	str_release(&img->from);
	str_release(&img->from_image);
	str_release(&img->from_image_artifact);
	str_release(&img->from_cache_version);
	for (size_t i = 0; i < img->n_git; i++) {
		struct cairn_config_git *g = &img->git[i];

		str_release(&g->url);
		str_release(&g->add);
		str_release(&g->to);
		cfg_list_release(&g->include_paths);
		cfg_list_release(&g->exclude_paths);
		str_release(&g->owner);
		str_release(&g->group);
		for (size_t s = 0; s < CAIRN_CONFIG_STAGE_COUNT; s++)
			cfg_list_release(&g->stage_dependencies[s]);
		str_release(&g->branch);
		str_release(&g->tag);
		str_release(&g->commit);
	}
	free(img->git);
	for (size_t s = 0; s < CAIRN_CONFIG_STAGE_COUNT; s++) {
		cfg_list_release(&img->shell.commands[s]);
		str_release(&img->shell.stage_cache_version[s]);
	}
	str_release(&img->shell.cache_version);
	for (size_t s = 0; s < CAIRN_CONFIG_STAGE_COUNT; s++) {
		cfg_value_release(&img->ansible.tasks[s]);
		str_release(&img->ansible.stage_cache_version[s]);
	}
	str_release(&img->ansible.cache_version);
	for (size_t i = 0; i < img->n_imports; i++) {
		struct cairn_config_import *im = &img->imports[i];

		str_release(&im->artifact);
		str_release(&im->image);
		str_release(&im->add);
		str_release(&im->to);
		str_release(&im->owner);
		str_release(&im->group);
		cfg_list_release(&im->include_paths);
		cfg_list_release(&im->exclude_paths);
		str_release(&im->before);
		str_release(&im->after);
		str_release(&im->stage);
	}
	free(img->imports);
	for (size_t i = 0; i < img->n_mounts; i++) {
		str_release(&img->mounts[i].to);
		str_release(&img->mounts[i].from);
		str_release(&img->mounts[i].from_path);
		free(img->mounts[i].host_path);
	}
	free(img->mounts);
	str_release(&img->docker.workdir);
	str_release(&img->docker.user);
	str_release(&img->docker.stopsignal);
	cfg_list_release(&img->docker.cmd);
	cfg_list_release(&img->docker.entrypoint);
	cfg_list_release(&img->docker.expose);
	cfg_list_release(&img->docker.volume);
	cfg_list_release(&img->docker.onbuild);
	cfg_kv_release(img->docker.env, img->docker.n_env);
	cfg_kv_release(img->docker.labels, img->docker.n_labels);
	str_release(&img->docker.healthcheck.text);
	cfg_list_release(&img->docker.healthcheck.test);
	str_release(&img->dockerfile.file);
	str_release(&img->dockerfile.context);
	str_release(&img->dockerfile.target);
	cfg_kv_release(img->dockerfile.args, img->dockerfile.n_args);
	cfg_list_release(&img->dockerfile.add_host);
	str_release(&img->dockerfile.network);
	str_release(&img->dockerfile.ssh);
	cfg_list_release(&img->dockerfile.context_add_files);
}

void cairn_config_free(struct cairn_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_images; i++)
		release_image(&c->images[i]);
	free(c->images);
	str_release(&c->project);
	if (c->cleanup) {
		cfg_value_release(c->cleanup);
		free(c->cleanup);
	}
	cfg_keep_policies_release(c);
	free(c->file);
	free(c);
}
