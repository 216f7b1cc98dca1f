/* SPDX-License-Identifier: MIT */
/* Shell stages: the commands run in a container over the previous stage, with their mounts. */
#include "common.h"
#include "stage/stage_internal.h"
#include "run/exec.h"
#include "cairn/toolchain.h"
#include "layer/cache.h"
#include "layer/unpack.h"
#include "layer/upper.h"
#include "run/workdir.h"
#include "util/fs.h"

#include <sys/file.h>

static void on_output(const char *line, size_t len, void *ud)
{
	struct image_state *s = ud;
	struct cairn_build_event ev = {
		.kind = CAIRN_BUILD_STAGE_OUTPUT, .image = s->name, .line = line, .len = len};

	stage_emit(s, &ev);
}

struct mount_dirs {
	struct cairn_exec_mount *v;
	struct strv owned; /* sources cairn made */
	size_t n;
	bool build_dir; /* a build_dir among them: one container at a time uses them */
};

/* This build's own directory (tmp_dir mounts live there until the build ends). */
int stage_run_dir(const char **out, struct builder *b, struct cairn_error **err)
{
	int ret = 0;

	if (!b->stage_run_dir)
		ret = cairn_workdir_new(&b->stage_run_dir, &b->run_lock, b->home.tmp, err);
	*out = b->stage_run_dir;
	return ret;
}

/* Where a mount's host directory is; the caller frees it. */
static int mount_source(char **out, struct image_state *s, const struct cairn_config_mount *cm,
			struct cairn_error **err)
{
	struct builder *b = s->b;
	char h[CAIRN_SIGNATURE_HEX];
	const char *run;
	int ret;

	*out = NULL;
	if (cm->type == CAIRN_CONFIG_MOUNT_HOST_DIR) {
		*out = xstrdup(cm->host_path ? cm->host_path : cm->from_path.s);
		return 0;
	}
	if (cm->type == CAIRN_CONFIG_MOUNT_BUILD_DIR) {
		/* one per project and mount point, kept between builds, shared by the images */
		const char *args[] = {cm->to.s};

		cairn_signature_hash(h, args, 1);
		*out = xasprintf("%s/%s/%.16s", b->home.builds, b->config->project.s, h);
		return 0;
	}
	/* tmp_dir: one per image and mount point for this build, shared by its stages */
	ret = stage_run_dir(&run, b, err);
	if (ret == 0) {
		const char *args[] = {s->name, cm->to.s};

		cairn_signature_hash(h, args, 2);
		*out = xasprintf("%s/tmp-%.16s", run, h);
	}
	return ret;
}

/*
 * The project's build_dir mounts are shared by its images (and by other builds of the project
 * on this host): their caches (apt's, a compiler's) take one writer at a time, so a container
 * that mounts them holds `HOME/builds/PROJECT/.lock` while it runs.
 */
static int lock_build_dirs(int *fd_out, struct builder *b, struct cairn_error **err)
{
	cleanup_free char *dir = xasprintf("%s/%s", b->home.builds, b->config->project.s);
	cleanup_free char *path = xasprintf("%s/.lock", dir);
	int ret = cairn_fs_mkdirs_at(AT_FDCWD, dir, 0755, err);

	*fd_out = -1;
	return ret < 0 ? ret : cairn_fs_lock_at(fd_out, AT_FDCWD, path, err);
}

/* The image's mounts, then those of its fromImage bases that it does not mount itself. */
static int prepare_mounts(struct mount_dirs *m, struct image_state *s, const struct stage_run *r,
			  struct cairn_error **err)
{
	size_t n = r->n_mounts;

	for (const struct cairn_config_image *i = s->img; i; i = i->base)
		n += i->n_mounts;
	m->v = xcalloc(n + 1, sizeof(*m->v));
	for (size_t k = 0; k < r->n_mounts; k++)
		m->v[m->n++] = r->mounts[k];
	for (const struct cairn_config_image *i = s->img; i; i = i->base) {
		for (size_t k = 0; k < i->n_mounts; k++) {
			const struct cairn_config_mount *cm = &i->mounts[k];
			char *src = NULL;
			bool shadowed = false;
			int ret;

			for (size_t j = 0; j < m->n; j++)
				shadowed = shadowed || strcmp(m->v[j].destination, cm->to.s) == 0;
			if (shadowed)
				continue;
			ret = mount_source(&src, s, cm, err);
			if (ret == 0)
				ret = cairn_fs_mkdirs_at(AT_FDCWD, src, 0755, err);
			if (ret < 0) {
				free(src);
				return ret;
			}
			strv_add(&m->owned, src);
			free(src);
			m->build_dir = m->build_dir || cm->type == CAIRN_CONFIG_MOUNT_BUILD_DIR;
			m->v[m->n].source = m->owned.v[m->owned.n - 1];
			m->v[m->n].destination = cm->to.s;
			m->n++;
		}
	}
	return 0;
}

/*
 * The toolchain mounted into every shell stage's container, as werf mounted its stapel: got
 * (assembled the first time in a home) when the build's first shell stage is about to run, so
 * that a build whose stages are all cached never needs the host's packages.
 */
int stage_toolchain(const struct cairn_toolchain **out, struct builder *b, struct cairn_error **err)
{
	struct cairn_toolchain_opts o = CAIRN_TOOLCHAIN_OPTS_INIT;
	const struct cairn_toolchain *tc;
	int ret = 0;

	*out = NULL;
	/* assembled the first time in a home (a second or so): other images go on meanwhile */
	stage_unlock(b);
	pthread_mutex_lock(&b->toolchain_lock);
	if (!b->toolchain) {
		o.home = b->home.root;
		ret = cairn_toolchain_get(&b->toolchain, &o, err);
	}
	tc = b->toolchain;
	pthread_mutex_unlock(&b->toolchain_lock);
	stage_lock(b);
	if (ret < 0)
		return ret;
	*out = tc;
	return 0;
}

/* The script stopped at command `last` (1-based; 0: before any) with `status`. */
static int command_failed(struct image_state *s, enum stage_id id,
			  const struct cairn_config_list *cmds, size_t last, int status,
			  struct cairn_error **err)
{
	const struct cairn_config_pos *at = last ? &cmds->pos[last - 1] : &cmds->at;
	const char *cmd = last ? cmds->v[last - 1] : "";
	int n = (int)strcspn(cmd, "\n");

	if (!last)
		return cairn_error_set(err, CAIRN_EINTERNAL,
				       "%s:%u:%u: image '%s': stage '%s' failed: the shell exited "
				       "with status %d before its first command",
				       s->b->config->file, at->line, at->column, s->name,
				       stage_kinds[id].name, status);
	return cairn_error_set(err, CAIRN_EINTERNAL,
			       "%s:%u:%u: image '%s': stage '%s' failed: command %zu ('%.*s%s') "
			       "exited with status %d",
			       s->b->config->file, at->line, at->column, s->name,
			       stage_kinds[id].name, last, n > 120 ? 120 : n, cmd,
			       cmd[n] || n > 120 ? "..." : "", status);
}

/* The stage's environment: the image's, and the run's own (which wins for a name it sets). */
static void run_env(struct strv *env, struct image_state *s, const struct stage_run *r)
{
	json_t *e;
	size_t i;

	json_array_foreach(stage_env_of(s->config), i, e)
	{
		const char *v = json_string_value(e);
		bool replaced = false;

		if (!v)
			continue;
		for (size_t k = 0; k < r->n_env && !replaced; k++) {
			size_t n = strcspn(r->env[k], "=");

			replaced = strncmp(v, r->env[k], n + 1) == 0;
		}
		if (!replaced)
			strv_add(env, v);
	}
	for (size_t k = 0; k < r->n_env; k++)
		strv_add(env, r->env[k]);
}

static void on_run_output(const char *line, size_t len, void *ud)
{
	struct stage_run *r = ud;

	on_output(line, len, r->s);
	if (r->line)
		r->line(r, line, len);
}

/* Run `r` in the container: the layer of what it changed goes to layers[*n_layers]. */
static int run_in_container(struct new_layer *layers, size_t *n_layers, struct image_state *s,
			    enum stage_id id, struct stage_run *r, const struct strv *lowers,
			    const char *work, struct cairn_error **err)
{
	struct builder *b = s->b;
	struct cairn_exec_opts eo = CAIRN_EXEC_OPTS_INIT;
	cleanup_free char *exec_dir = xasprintf("%s/run", work);
	struct mount_dirs md = {0};
	struct strv env = {0};
	size_t last = 0;
	int status = 0, build_lock = -1, ret;

	ret = r->prepare ? r->prepare(r, work, err) : 0;
	if (ret == 0)
		ret = prepare_mounts(&md, s, r, err);
	if (ret < 0)
		goto out;
	run_env(&env, s, r);
	eo.runtime = b->o->runtime;
	eo.lowerdirs = (const char *const *)lowers->v;
	eo.n_lower = lowers->n;
	eo.env = env.n ? (const char *const *)env.v : NULL;
	eo.n_env = env.n;
	eo.commands = r->commands;
	eo.n_commands = r->n_commands;
	eo.mounts = md.v;
	eo.n_mounts = md.n;
	eo.ssh_auth_sock = !r->argv || r->ssh ? b->o->ssh_auth_sock : NULL;
	if (r->toolchain) {
		eo.toolchain_dir = r->toolchain->dir;
		eo.toolchain_at = r->toolchain->mount;
		eo.toolchain_bash = r->toolchain->bash;
	}
	eo.argv = r->argv;
	eo.n_argv = r->n_argv;
	eo.uid = r->uid;
	eo.gid = r->gid;
	eo.cwd = r->cwd;
	eo.no_network = r->no_network;
	eo.extra_hosts = r->extra_hosts;
	eo.n_extra_hosts = r->n_extra_hosts;
	eo.work_dir = exec_dir;
	eo.output = on_run_output;
	eo.output_ud = r;
	eo.last_command = &last;
	/* other images go on while the container runs and its layer is written */
	stage_unlock(b);
	ret = md.build_dir ? lock_build_dirs(&build_lock, b, err) : 0;
	if (ret == 0)
		ret = cairn_exec_shell(&status, &eo, err);
	if (build_lock >= 0)
		close(build_lock); /* the flock goes with it */
	stage_lock(b);
	if (ret < 0)
		cairn_error_wrap(err, "image '%s': stage '%s'", s->name, r->stage);
	if (ret == 0 && status != 0)
		ret = r->failed(r, last, status, err);
	if (ret == 0) {
		cleanup_free char *upper = xasprintf("%s/upper", exec_dir);
		CLEANUP(cairn_layer_cache_pending_freep)
		char *pending = stage_unpack_to(
			s, r->argv ? r->runs_after : stage_runs_from(s, (enum stage_id)(id + 1)));
		struct cairn_layer_opts lo = CAIRN_LAYER_OPTS_INIT;

		lo.unpack_to = pending;
		stage_unlock(b);
		ret = cairn_layer_from_dir(&layers[*n_layers].r, b->st, upper, &lo, -1, err);
		stage_lock(b);
		if (ret == 0)
			stage_unpacked(s, &layers[(*n_layers)++].r, pending);
	}
	cairn_exec_cleanup(exec_dir);
out:
	strv_release(&env);
	strv_release(&md.owned);
	free(md.v);
	return ret;
}

int stage_run_user(struct stage_output *o, struct image_state *s, enum stage_id id,
		   struct stage_run *r, struct cairn_error **err)
{
	struct builder *b = s->b;
	cleanup_close int lock = -1;
	struct strv lowers = {0};
	cleanup_free char *work = NULL;
	int ret;

	o->n_layers = 0;
	r->s = s;
	r->id = id;
	if (!r->stage)
		r->stage = stage_kinds[id].name;
	/* what the host lacks, said before anything is unpacked or mounted */
	if ((r->n_commands || r->argv) && !b->host_checked) {
		ret = cairn_exec_check(b->o->runtime, err);
		if (ret < 0)
			return cairn_error_wrap(err, "image '%s': stage '%s'", s->name, r->stage);
		b->host_checked = true;
	}
	ret = cairn_workdir_new(&work, &lock, b->home.tmp, err);
	if (ret < 0)
		return ret;
	stage_unlock(b); /* unpacking what is missing: other images go on */
	ret = stage_lower_dirs(&lowers, s, err);
	stage_lock(b);
	if (ret < 0)
		goto out;
	if (s->git_archived && s->img->n_git) {
		/* A git stage that must be rebuilt takes the patch up to HEAD first. */
		int changed = 0, empty = 1;

		ret = stage_git_changed(&changed, s, err);
		if (ret == 0 && changed)
			ret = stage_git_layer(&o->layers[0], &empty, s, id, 1, o->config, err);
		if (ret < 0)
			goto out;
		if (changed && !empty) {
			char *dir = NULL;

			ret = cairn_layer_ensure_unpacked(&dir, b->st, b->home.layers,
							  &o->layers[0].r.desc.digest,
							  &o->layers[0].r.diff_id, err);
			if (ret < 0)
				goto out;
			strv_add(&lowers, dir);
			free(dir);
			o->n_layers = 1;
		}
	}
	if (r->n_commands == 0 && !r->argv)
		goto out; /* a stage made by its cache version alone: the patch, if any */
	ret = r->argv ? 0 : stage_toolchain(&r->toolchain, b, err);
	if (ret < 0) {
		cairn_error_wrap(err, "image '%s': stage '%s'", s->name, r->stage);
		goto out;
	}
	ret = run_in_container(o->layers, &o->n_layers, s, id, r, &lowers, work, err);
out:
	cairn_exec_cleanup(work);
	strv_release(&lowers);
	return ret;
}

/* A shell stage: its commands, one per line, stopping at the first that fails. */
static int shell_failed(struct stage_run *r, size_t last, int status, struct cairn_error **err)
{
	enum cairn_config_user_stage us;

	return command_failed(r->s, r->id, stage_commands(r->s->img, r->id, &us), last, status,
			      err);
}

int stage_build_user(struct stage_output *o, struct image_state *s, enum stage_id id,
		     struct cairn_error **err)
{
	enum cairn_config_user_stage us;
	const struct cairn_config_list *cmds = stage_commands(s->img, id, &us);
	struct stage_run r = {.commands = (const char *const *)cmds->v,
			      .n_commands = cmds->n,
			      .failed = shell_failed};

	if (s->img->ansible.pos.line)
		return stage_build_ansible(o, s, id, err);
	return stage_run_user(o, s, id, &r, err);
}
