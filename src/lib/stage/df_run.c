/* SPDX-License-Identifier: MIT */
/*
 * RUN of Dockerfile images: the process (SHELL or exec form, heredocs), its user, directory,
 * environment and network, its mounts (cache, bind of the context or of a stage or image,
 * tmpfs, ssh), in the runc executor of shell stages.
 */
#include "common.h"
#include "stage/df_internal.h"
#include "run/exec.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/root.h"

#include <fcntl.h>
#include <limits.h>

void df_mounts_release(struct df_build *d)
{
	for (size_t i = 0; i < d->n_mounts; i++) {
		struct df_mount *m = &d->mounts[i];

		free(m->type);
		free(m->target);
		free(m->source);
		free(m->from);
		free(m->id);
		free(m->image_ref);
	}
	free(d->mounts);
	d->mounts = NULL;
	d->n_mounts = 0;
}

/*
 * RUN --mount=KEY=VALUE,...: parsed (substituted) and signed, as BuildKit keys them: what a
 * bind of the context holds (each file, as COPY signs it), the stage or image a bind comes from.
 */
static int parse_mount(struct strv *deps, struct df_build *d, const char *flag,
		       struct cairn_error **err)
{
	cleanup_free char *spec = NULL;
	struct df_mount *m;
	char *save = NULL;
	int ret = df_word(&spec, d, flag, err);

	if (ret < 0)
		return ret;
	if (d->n_mounts == 16)
		return df_fail(d, d->in, "more than 16 mounts");
	d->mounts = xreallocarray(d->mounts, d->n_mounts + 1, sizeof(*d->mounts));
	m = &d->mounts[d->n_mounts++];
	memset(m, 0, sizeof(*m));
	m->sel = -1;
	for (char *kv = strtok_r(spec, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		const char *v = eq ? eq + 1 : "";
		char **slot = NULL;

		if (eq)
			*eq = '\0';
		if (!strcmp(kv, "type"))
			slot = &m->type;
		else if (!strcmp(kv, "target") || !strcmp(kv, "dst") || !strcmp(kv, "destination"))
			slot = &m->target;
		else if (!strcmp(kv, "source") || !strcmp(kv, "src"))
			slot = &m->source;
		else if (!strcmp(kv, "from"))
			slot = &m->from;
		else if (!strcmp(kv, "id"))
			slot = &m->id;
		else if (!strcmp(kv, "rw") || !strcmp(kv, "readwrite"))
			m->rw = !eq || !strcmp(v, "true");
		else if (!strcmp(kv, "ro") || !strcmp(kv, "readonly"))
			m->rw = eq && !strcmp(v, "false");
		else if (!strcmp(kv, "required"))
			m->required = !eq || !strcmp(v, "true");
		else if (strcmp(kv, "sharing") && strcmp(kv, "mode") && strcmp(kv, "uid") &&
			 strcmp(kv, "gid") && strcmp(kv, "size"))
			return df_fail(d, d->in, "--mount: unknown key '%s'", kv);
		if (slot) {
			free(*slot);
			*slot = xstrdup(v);
		}
	}
	if (!m->type)
		m->type = xstrdup("bind");
	strv_addf(deps, "mount:%s:%s:%s:%s:%s:%d", m->type, m->target ? m->target : "",
		  m->source ? m->source : "", m->from ? m->from : "", m->id ? m->id : "",
		  (int)m->rw);
	if (!strcmp(m->type, "ssh"))
		return d->cfg->ssh.s ? 0
				     : df_fail(d, d->in,
					       "--mount=type=ssh needs the image's `ssh: default` "
					       "(--ssh default without werf.yaml)");
	if (!strcmp(m->type, "secret")) {
		/* the secret's content is in no signature, as in BuildKit */
		if (!m->id || !m->id[0])
			return df_fail(d, d->in, "--mount=type=secret needs an id");
		if (!m->target)
			m->target = xasprintf("/run/secrets/%s", m->id);
		return 0;
	}
	if (strcmp(m->type, "cache") && strcmp(m->type, "bind") && strcmp(m->type, "tmpfs"))
		return df_fail(d, d->in, "--mount=type=%s is not supported yet", m->type);
	if (!m->target || !m->target[0])
		return df_fail(d, d->in, "--mount=type=%s needs a target", m->type);
	if (strcmp(m->type, "bind"))
		return 0;
	if (m->from) {
		long st = df_from_stage(d, m->from);

		if (m->rw)
			return df_fail(d, d->in,
				       "--mount=type=bind,from=%s,rw is not supported yet",
				       m->from);
		if (st >= 0) {
			if (!d->done[st].set)
				return df_fail(d, d->in, "--mount from=%s: stage not built",
					       m->from);
			m->image = d->done[st].desc;
			m->image_set = true;
			strv_addf(deps, "mount-from-stage:%s", d->done[st].sig);
		} else {
			m->image_ref = xstrdup(m->from);
			strv_addf(deps, "mount-from-image:%s", m->from);
		}
		return 0;
	}
	/* the context, or a part of it: what it holds signs the RUN */
	ret = df_load_context(d, err);
	if (ret == 0 && d->n_sel == ARRAY_SIZE(d->sel))
		return df_fail(d, d->in, "more than %zu sources", ARRAY_SIZE(d->sel));
	if (ret == 0) {
		cleanup_free char *src = df_clean_source(m->source ? m->source : ".");

		m->sel = (long)d->n_sel;
		ret = df_context_select(&d->sel[d->n_sel], &d->ctx, src, err);
		d->n_sel++;
		if (ret < 0)
			return df_wrap(d, d->in, err);
	}
	return ret;
}

/* RUN: its command as written, flags, heredocs, mounts and the ARGs it sees. */
int df_sign_run(struct strv *deps, struct df_build *d, const struct cairn_df_instr *in,
		struct cairn_error **err)
{
	strv_add(deps, in->json ? "exec" : "shell");
	for (size_t i = 0; i < in->n_args; i++)
		strv_add(deps, in->args[i]);
	for (size_t i = 0; i < in->n_heredocs; i++)
		strv_addf(deps, "heredoc:%s:%d:%s", in->heredocs[i].name,
			  (int)in->heredocs[i].chomp, in->heredocs[i].content);
	for (size_t i = 0; i < in->n_flags; i++) {
		int ret;

		strv_add(deps, in->flags[i]);
		if (strncmp(in->flags[i], "--mount=", 8) != 0)
			continue;
		ret = parse_mount(deps, d, in->flags[i] + 8, err);
		if (ret < 0)
			return ret;
	}
	if (d->n_sel) {
		int ret = df_copy_deps(deps, d, err);

		if (ret < 0)
			return ret;
	}
	df_add_args(deps, d);
	for (size_t i = 0; i < d->cfg->add_host.n; i++)
		strv_addf(deps, "add-host:%s", d->cfg->add_host.v[i]);
	if (d->cfg->network.s)
		strv_addf(deps, "network:%s", d->cfg->network.s);
	return 0;
}

/* A RUN of a Dockerfile image: the runner's, and the image's build. */
struct df_run {
	struct stage_run r; /* first: the runner's callbacks get it */
	struct df_build *d;
	const struct cairn_df_heredoc *script; /* `RUN <<EOF` of a "#!" script: run as a file */
	struct cairn_exec_mount *mounts;       /* r.mounts, with room for the script's */
	char *script_file;		       /* on the host, in the run's work dir */
	char *script_at;		       /* where the container has it */
};

/*
 * A `RUN <<EOF` whose heredoc starts with "#!": the heredoc as an executable file mounted
 * read-only at /dev/pipes/NAME and run, as BuildKit runs it (dispatchRun).
 */
static int run_prepare(struct stage_run *r, const char *work, struct cairn_error **err)
{
	struct df_run *dr = (struct df_run *)r;
	const char *text = dr->script->content;
	int ret;

	dr->script_file = xasprintf("%s/heredoc", work);
	ret = cairn_fs_write_atomic_at(AT_FDCWD, dr->script_file, text, strlen(text), 0755, err);
	if (ret < 0)
		return ret;
	dr->mounts[r->n_mounts].source = dr->script_file;
	dr->mounts[r->n_mounts].destination = dr->script_at;
	dr->mounts[r->n_mounts].readonly = 1;
	r->n_mounts++;
	return 0;
}

/* A RUN that failed: the Dockerfile's line, the instruction and the status. */
static int run_failed(struct stage_run *r, size_t last, int status, struct cairn_error **err)
{
	struct df_build *d = ((struct df_run *)r)->d;
	cleanup_free char *text = df_shown(d->in->original, 120);

	(void)last;
	return cairn_error_set(err, CAIRN_EINTERNAL,
			       "%s:%u: image '%s': '%s' exited with status %d", d->file,
			       d->in->line, d->s->name, text, status);
}

/* What a RUN mounts: its mounts, the strings and views they stand on. */
struct run_res {
	struct cairn_exec_mount *v; /* room for one more (a heredoc script) */
	size_t n;
	struct strv owned;	   /* sources and destinations */
	struct image_state *views; /* images bound from, mounted until the run ends */
	size_t n_views;
	char *dir; /* this run's bind and tmpfs directories, removed after it */
	bool ssh;
};

static void run_res_release(struct run_res *r)
{
	for (size_t i = 0; i < r->n_views; i++)
		stage_drop_prev(&r->views[i]);
	free(r->views);
	if (r->dir)
		cairn_fs_remove_tree(AT_FDCWD, r->dir, NULL);
	free(r->dir);
	strv_release(&r->owned);
	free(r->v);
}

static void run_res_add(struct run_res *r, const char *source, const char *dest, bool ro)
{
	strv_add(&r->owned, source);
	r->v[r->n].source = r->owned.v[r->owned.n - 1];
	strv_add(&r->owned, dest);
	r->v[r->n].destination = r->owned.v[r->owned.n - 1];
	r->v[r->n].readonly = ro;
	r->n++;
}

/* The directory `rel` below `root` (made as needed, none of it a symlink), opened. */
static int dir_in(int *out, int root, const char *rel, struct cairn_error **err)
{
	cleanup_free char *p = xstrdup(rel);

	for (char *c = p; c && *c;) {
		char *slash = strchr(c, '/');
		int fd;

		if (slash)
			*slash = '\0';
		fd = cairn_root_open(root, p, O_RDONLY | O_DIRECTORY, CAIRN_ROOT_NO_SYMLINKS);
		if (fd < 0 && errno == ENOENT) {
			cleanup_close int parent = -1;
			const char *base = strrchr(p, '/');
			cleanup_free char *up = base ? xstrndup(p, (size_t)(base - p)) : NULL;

			parent = up ? cairn_root_open(root, up, O_RDONLY | O_DIRECTORY,
						      CAIRN_ROOT_NO_SYMLINKS)
				    : dup(root);
			if (parent < 0 ||
			    (mkdirat(parent, base ? base + 1 : p, 0755) < 0 && errno != EEXIST))
				return cairn_error_set_errno(err, "bind: make '%s'", p);
			fd = cairn_root_open(root, p, O_RDONLY | O_DIRECTORY,
					     CAIRN_ROOT_NO_SYMLINKS);
		}
		if (fd < 0)
			return cairn_error_set_errno(err, "bind: '%s'", p);
		close(fd);
		if (slash)
			*slash = '/';
		c = slash ? slash + 1 : NULL;
	}
	*out = rel[0] ? cairn_root_open(root, rel, O_RDONLY | O_DIRECTORY, CAIRN_ROOT_NO_SYMLINKS)
		      : dup(root);
	return *out < 0 ? cairn_error_set_errno(err, "bind: '%s'", rel) : 0;
}

/* `size` bytes of `in` (a file of the context) into the new file `out`. */
static int copy_in(int out, int in, uint64_t size, const char *what, struct cairn_error **err)
{
	char buf[65536];

	while (size) {
		ssize_t r = read(in, buf, size < sizeof(buf) ? size : sizeof(buf));
		int ret;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return cairn_error_set(err, CAIRN_EOS, "context: '%s' changed while read",
					       what);
		ret = cairn_fs_write_all(out, buf, (size_t)r, what, err);
		if (ret < 0)
			return ret;
		size -= (uint64_t)r;
	}
	return 0;
}

/*
 * A bind of the context: the files of selection `sel` written into the new directory `dir`,
 * each created inside it (no symlink on the way is followed), with its mode.
 */
static int materialize(struct df_build *d, const struct df_selection *sel, const char *dir,
		       struct cairn_error **err)
{
	cleanup_close int root = -1;
	int ret = cairn_fs_mkdirs_at(AT_FDCWD, dir, 0755, err);

	if (ret == 0) {
		root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (root < 0)
			ret = cairn_error_set_errno(err, "bind: '%s'", dir);
	}
	for (size_t i = 0; ret == 0 && i < sel->n; i++) {
		const char *rel = sel->v[i].rel;
		struct df_file *f = &d->ctx.v[sel->v[i].file];
		const char *slash = strrchr(rel, '/');
		cleanup_free char *parent =
			slash ? xstrndup(rel, (size_t)(slash - rel)) : xstrdup("");
		const char *base = slash ? slash + 1 : rel;
		cleanup_close int pfd = -1;
		cleanup_close int out = -1;
		mode_t perm = f->mode & 07777;

		ret = dir_in(&pfd, root, parent, err);
		if (ret < 0)
			break;
		if (S_ISDIR(f->mode)) {
			if (mkdirat(pfd, base, perm) < 0 && errno != EEXIST)
				ret = cairn_error_set_errno(err, "bind: make '%s'", rel);
			continue;
		}
		if (S_ISLNK(f->mode)) {
			CLEANUP(cairn_buf_release)
			struct cairn_buf t = CAIRN_BUF_INIT_MAX(PATH_MAX);
			char link[PATH_MAX];

			if (f->host) {
				cleanup_close int lfd =
					cairn_root_open(d->ctx.dirfd, f->path, O_PATH | O_NOFOLLOW,
							CAIRN_ROOT_BENEATH);
				ssize_t n =
					lfd < 0 ? -1 : readlinkat(lfd, "", link, sizeof(link) - 1);

				if (n < 0)
					ret = cairn_error_set_errno(err, "context: '%s'", f->path);
				else
					cairn_buf_add(&t, link, (size_t)n);
			} else {
				ret = df_context_read(&t, &d->ctx, f, err);
			}
			cairn_buf_addstr(&t, "");
			if (ret == 0 && symlinkat(t.buf ? t.buf : "", pfd, base) < 0)
				ret = cairn_error_set_errno(err, "bind: link '%s'", rel);
			continue;
		}
		out = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, perm);
		if (out < 0) {
			ret = cairn_error_set_errno(err, "bind: create '%s'", rel);
			break;
		}
		if (f->host) {
			cleanup_close int in = df_context_open(&d->ctx, f, err);

			ret = in < 0 ? CAIRN_EOS : copy_in(out, in, f->size, f->path, err);
		} else {
			struct cairn_git_blob *blob = NULL;
			const void *p;
			uint64_t size;

			ret = cairn_git_blob_read(&blob, &p, &size, d->ctx.repo, f->oid, err);
			if (ret == 0)
				ret = cairn_fs_write_all(out, p, size, f->path, err);
			cairn_git_blob_free(blob);
		}
		if (ret == 0 && fchmod(out, perm) < 0)
			ret = cairn_error_set_errno(err, "bind: '%s'", rel);
	}
	return ret;
}

/*
 * RUN --mount=type=secret: the build's secret `m->id` (--secret id=ID,src=FILE: that file,
 * read-only; env=VAR or the id alone: the variable's value in a 0400 file of the run's) at its
 * target; a secret not given is skipped unless required, as in BuildKit.
 */
static int secret_mount(struct run_res *r, struct df_build *d, const struct df_mount *m,
			const char *dir, const char *target, struct cairn_error **err)
{
	const struct cairn_build_opts *o = d->s->b->o;
	cleanup_free char *src = NULL;
	cleanup_free char *env = NULL;
	cleanup_free char *file = NULL;
	const char *value;
	struct stat st;
	int ret;

	for (size_t i = 0; i < o->n_secrets && !src && !env; i++) {
		cleanup_free char *id = cairn_df_spec_value(o->secrets[i], "id");

		if (!id || strcmp(id, m->id))
			continue;
		src = cairn_df_spec_value(o->secrets[i], "src");
		if (!src)
			src = cairn_df_spec_value(o->secrets[i], "source");
		env = src ? NULL : cairn_df_spec_value(o->secrets[i], "env");
		if (!src && !env)
			env = xstrdup(id);
	}
	if (src) {
		if (stat(src, &st) < 0 || !S_ISREG(st.st_mode))
			return df_fail(d, d->in, "secret '%s': its src is no readable file", m->id);
		run_res_add(r, src, target, true);
		return 0;
	}
	value = env ? getenv(env) : NULL;
	if (!value)
		return m->required ? df_fail(d, d->in,
					     "secret '%s' is required and not given "
					     "(--secret id=%s,src=FILE)",
					     m->id, m->id)
				   : 0;
	ret = cairn_fs_mkdirs_at(AT_FDCWD, dir, 0700, err);
	file = xasprintf("%s/secret", dir);
	if (ret == 0)
		ret = cairn_fs_write_atomic_at(AT_FDCWD, file, value, strlen(value), 0400, err);
	if (ret == 0)
		run_res_add(r, file, target, true);
	return ret;
}

/*
 * The mounts of a RUN (parsed with its signature): caches kept in the home, tmpfs and binds of
 * the context as fresh directories of this run, binds of a stage or an image from its
 * read-only view, the ssh agent when asked.
 */
static int run_mounts(struct run_res *r, struct df_build *d, json_t *c, struct cairn_error **err)
{
	struct builder *b = d->s->b;
	const char *run;
	int ret = 0;

	r->v = xcalloc(d->n_mounts + 2, sizeof(*r->v));
	for (size_t i = 0; ret == 0 && i < d->n_mounts; i++) {
		const struct df_mount *m = &d->mounts[i];
		cleanup_free char *target = NULL;
		cleanup_free char *dir = NULL;

		if (!strcmp(m->type, "ssh")) {
			r->ssh = true;
			continue;
		}
		target = df_image_path(c, m->target);
		if (!strcmp(m->type, "cache")) {
			const char *key[] = {"dockerfile-cache", m->id ? m->id : target};
			char h[CAIRN_SIGNATURE_HEX];

			cairn_signature_hash(h, key, 2);
			dir = xasprintf("%s/%s/cache-%.16s", b->home.builds, b->config->project.s,
					h);
			ret = cairn_fs_mkdirs_at(AT_FDCWD, dir, 0755, err);
			if (ret == 0)
				run_res_add(r, dir, target, false);
			continue;
		}
		if (!r->dir) {
			ret = stage_run_dir(&run, b, err);
			if (ret < 0)
				break;
			r->dir = xasprintf("%s/binds-%p-%zu", run, (void *)r, d->step);
		}
		dir = xasprintf("%s/%zu", r->dir, i);
		if (!strcmp(m->type, "secret")) {
			ret = secret_mount(r, d, m, dir, target, err);
		} else if (!strcmp(m->type, "tmpfs")) {
			ret = cairn_fs_mkdirs_at(AT_FDCWD, dir, 01777, err);
			if (ret == 0)
				run_res_add(r, dir, target, false);
		} else if (m->sel >= 0) {
			ret = materialize(d, &d->sel[m->sel], dir, err);
			if (ret == 0)
				run_res_add(r, dir, target, !m->rw);
		} else {
			struct image_state *v;
			struct rootfs_view *view = NULL;
			cleanup_free char *real = NULL;
			cleanup_free char *src = NULL;

			r->views = xreallocarray(r->views, r->n_views + 1, sizeof(*r->views));
			v = &r->views[r->n_views++];
			memset(v, 0, sizeof(*v));
			v->b = b;
			v->img = d->s->img;
			v->name = d->s->name;
			v->index = d->s->index;
			v->pull = d->s->pull;
			if (m->image_set) {
				v->prev = m->image;
			} else {
				struct cairn_config_pos pos = {.line = d->in->line};

				ret = stage_base_image(&v->prev, d->s, m->image_ref, &pos, err);
			}
			if (ret == 0)
				ret = stage_prev_view(&view, v, err);
			if (ret < 0)
				break;
			real = df_view_path(view, m->source ? m->source : "/");
			if (!real) {
				ret = df_fail(d, d->in, "--mount from=%s: '%s' not found", m->from,
					      m->source ? m->source : "/");
				break;
			}
			src = xasprintf("%s%s", view->mnt, strcmp(real, "/") ? real : "");
			run_res_add(r, src, target, true);
		}
	}
	return ret;
}

/* The RUN's process: the exec form, or SHELL with the command (and its heredocs). */
static void run_argv(struct strv *argv, struct df_run *dr, json_t *c)
{
	const struct cairn_df_instr *in = dr->d->in;
	json_t *sh, *e;
	size_t i;

	if (in->n_heredocs == 1 && in->n_args && strncmp(in->args[0], "<<", 2) == 0 &&
	    !strchr(in->args[0], ' ') && strncmp(in->heredocs[0].content, "#!", 2) == 0) {
		const char *name = in->heredocs[0].name;

		dr->script = &in->heredocs[0];
		/* the file is named after the heredoc when that is a plain name */
		if (!name[0] || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					     "0123456789_-") != strlen(name))
			name = "heredoc";
		dr->script_at = xasprintf("/dev/pipes/%s", name);
		strv_add(argv, dr->script_at);
		return;
	}
	if (in->json) {
		for (i = 0; i < in->n_args; i++)
			strv_add(argv, in->args[i]);
		return;
	}
	sh = df_shell_of(c);
	json_array_foreach(sh, i, e)
		strv_add(argv, json_string_value(e) ? json_string_value(e) : "");
	json_decref(sh);
	if (in->n_heredocs == 1 && in->n_args && strncmp(in->args[0], "<<", 2) == 0 &&
	    !strchr(in->args[0], ' ')) {
		/* RUN <<EOF: the heredoc is the script */
		strv_add(argv, in->heredocs[0].content);
		return;
	}
	if (in->n_heredocs) {
		struct cairn_buf b = CAIRN_BUF_INIT;

		cairn_buf_addf(&b, "%s\n", in->n_args ? in->args[0] : "");
		for (i = 0; i < in->n_heredocs; i++)
			cairn_buf_addf(&b, "%s%s\n", in->heredocs[i].content, in->heredocs[i].name);
		strv_add(argv, b.buf);
		cairn_buf_release(&b);
		return;
	}
	strv_add(argv, in->n_args ? in->args[0] : "");
}

int df_build_run(struct stage_output *o, struct image_state *s, const struct stage_def *def,
		 struct cairn_error **err)
{
	struct df_build *d = def->ud;
	json_t *c = stage_config_section(s->config);
	struct strv argv = {0}, env = {0};
	struct run_res res = {0};
	const char *net = cairn_df_flag(d->in, "network");
	struct df_run dr = {.r = {.stage = def->name, .failed = run_failed}, .d = d};
	struct stage_run *r = &dr.r;
	int64_t uid = 0, gid = 0;
	int ret;

	net = net ? net : d->cfg->network.s;
	if (net && strcmp(net, "default") && strcmp(net, "host") && strcmp(net, "none"))
		return df_fail(d, d->in, "--network=%s: must be default, host or none", net);
	ret = df_user_ids(&uid, &gid, d, json_string_value(json_object_get(c, "User")), false, err);
	if (ret == 0)
		ret = run_mounts(&res, d, c, err);
	if (ret < 0)
		goto out;
	run_argv(&argv, &dr, c);
	/* the ARGs are its environment too, under the image's ENV */
	for (size_t i = 0; i < d->args.n; i++) {
		size_t len = strcspn(d->args.v[i], "=");

		if (!stage_env_get(stage_env_of(s->config), d->args.v[i], len))
			strv_add(&env, d->args.v[i]);
	}
	/* an image without PATH (scratch and the like) runs with docker's default one */
	if (!stage_env_get(stage_env_of(s->config), "PATH", 4) &&
	    !df_list_lookup(d->args.v, d->args.n, "PATH", 4))
		strv_add(&env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	dr.mounts = res.v;
	if (dr.script)
		r->prepare = run_prepare;
	r->argv = (const char *const *)argv.v;
	r->n_argv = argv.n;
	r->uid = (unsigned)uid;
	r->gid = (unsigned)gid;
	r->cwd = json_string_value(json_object_get(c, "WorkingDir"));
	if (r->cwd && !r->cwd[0])
		r->cwd = NULL;
	r->no_network = net && !strcmp(net, "none");
	r->extra_hosts = (const char *const *)d->cfg->add_host.v;
	r->n_extra_hosts = d->cfg->add_host.n;
	r->ssh = res.ssh;
	r->env = (const char *const *)env.v;
	r->n_env = env.n;
	r->mounts = res.v;
	r->n_mounts = res.n;
	r->runs_after = d->runs_after;
	ret = stage_run_user(o, s, S_DOCKER, r, err);
out:
	run_res_release(&res);
	free(dr.script_file);
	free(dr.script_at);
	strv_release(&argv);
	strv_release(&env);
	return ret;
}
