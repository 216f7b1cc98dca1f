/* SPDX-License-Identifier: MIT */
/*
 * `ansible:` stages: what their signature covers (each task as canonical JSON, typed as werf
 * typed it, and the cache versions), and the tasks as the JSON a playbook is made of.
 */
#include "common.h"
#include "stage/stage_internal.h"
#include "util/fs.h"
#include "util/json.h"
#include "cairn/toolchain.h"
#include "run/exec.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

/*
 * A plain scalar typed as werf's YAML library (go-yaml v2, resolve.go) typed it before it
 * wrote the tasks out for ansible: null, the YAML 1.1 booleans (y, yes, on, true... in three
 * cases), integers as Go's ParseInt(s, 0, 64) reads them once '_' is dropped (0755 is octal,
 * 0x, 0o, 0b prefixes), floats; anything else stays a string.
 */
static bool word_in(const char *s, const char *const *v)
{
	for (; *v; v++)
		if (strcmp(s, *v) == 0)
			return true;
	return false;
}

static bool parse_int(const char *s, json_int_t *out)
{
	char digits[80];
	size_t n = 0;
	const char *p = s;
	bool neg = false;
	int base = 10;
	char *end;
	unsigned long long v;

	for (; *p && n < sizeof(digits) - 1; p++)
		if (*p != '_')
			digits[n++] = *p;
	if (*p)
		return false;
	digits[n] = '\0';
	p = digits;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		base = 16, p += 2;
	else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
		base = 8, p += 2;
	else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B'))
		base = 2, p += 2;
	else if (p[0] == '0' && p[1])
		base = 8, p += 1;
	if (!*p || !isalnum((unsigned char)*p))
		return false;
	errno = 0;
	v = strtoull(p, &end, base);
	if (*end || errno || v > (unsigned long long)INT64_MAX + neg)
		return false;
	*out = neg ? (json_int_t)(0 - v) : (json_int_t)v;
	return true;
}

static bool parse_float(const char *s, double *out)
{
	const char *p = s + (*s == '+' || *s == '-');
	size_t digits = strspn(p, "0123456789");
	char *end;

	/* go-yaml's ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
	if (digits == 0 && !(p[0] == '.' && isdigit((unsigned char)p[1])))
		return false;
	p += digits;
	if (*p == '.')
		p += 1 + strspn(p + 1, "0123456789");
	if (*p == 'e' || *p == 'E') {
		p++;
		p += *p == '+' || *p == '-';
		if (!isdigit((unsigned char)*p))
			return false;
		p += strspn(p, "0123456789");
	}
	if (*p)
		return false;
	errno = 0;
	*out = strtod(s, &end);
	return !*end && !errno && isfinite(*out);
}

static json_t *plain_json(const char *s)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
	static const char *const yes[] = {"y",	"Y",  "yes",  "Yes",  "YES",  "on",
					  "On", "ON", "true", "True", "TRUE", NULL};
	static const char *const no[] = {"n",	"N",   "no",	"No",	 "NO",	  "off",
					 "Off", "OFF", "false", "False", "FALSE", NULL};
	json_int_t i;
	double d;

	if (word_in(s, nulls))
		return json_null();
	if (word_in(s, yes))
		return json_true();
	if (word_in(s, no))
		return json_false();
	if (parse_int(s, &i))
		return json_integer(i);
	if (parse_float(s, &d))
		/* go-yaml writes 8.0 as 8, which ansible reads as an integer */
		return d == floor(d) && fabs(d) < 9e15 ? json_integer((json_int_t)d) : json_real(d);
	return json_string(s);
}

json_t *stage_ansible_json(const struct cairn_config_value *v)
{
	json_t *j;

	switch (v->kind) {
	case CAIRN_CONFIG_VALUE_SCALAR:
		return v->plain ? plain_json(v->text) : json_string(v->text);
	case CAIRN_CONFIG_VALUE_LIST:
		j = json_array();
		for (size_t i = 0; i < v->n; i++)
			json_array_append_new(j, stage_ansible_json(&v->items[i]));
		return j;
	case CAIRN_CONFIG_VALUE_MAP:
		j = json_object();
		for (size_t i = 0; i < v->n; i++)
			json_object_set_new(j, v->keys[i], stage_ansible_json(&v->items[i]));
		return j;
	case CAIRN_CONFIG_VALUE_NULL:
		break;
	}
	return json_null();
}

int stage_deps_ansible(struct strv *deps, const struct cairn_config_image *img,
		       enum cairn_config_user_stage us, struct cairn_error **err)
{
	const struct cairn_config_value *tasks = &img->ansible.tasks[us];

	for (size_t i = 0; i < tasks->n; i++) {
		CLEANUP(cairn_buf_release) struct cairn_buf b = CAIRN_BUF_INIT;
		cleanup_json json_t *j = stage_ansible_json(&tasks->items[i]);
		int ret = cairn_json_dump(&b, j, err);

		if (ret < 0)
			return ret;
		strv_add(deps, b.buf);
	}
	return 0;
}

/* ---- the files of a run: playbook, inventory, ansible.cfg, the become plugin ---- */

/*
 * become as werf has it (always on, for become_user), without sudo: sudo needs a sudoers file
 * in the image, setpriv (util-linux) needs nothing. As root the command runs as it is.
 */
static const char become_plugin[] =
	"# cairn: run a task as another user with util-linux's setpriv (no PAM, no sudoers needed)\n"
	"from __future__ import annotations\n"
	"\n"
	"DOCUMENTATION = \"\"\"\n"
	"    name: cairn\n"
	"    short_description: cairn's become method, with setpriv\n"
	"    description:\n"
	"        - Runs the command as become_user through setpriv, which needs neither PAM nor a\n"
	"          sudoers file in the image. As root (the default user) the command runs as it is.\n"
	"    author: cairn\n"
	"    options:\n"
	"        become_user:\n"
	"            description: User you 'become' to execute the task\n"
	"            default: root\n"
	"            ini:\n"
	"              - section: privilege_escalation\n"
	"                key: become_user\n"
	"            vars:\n"
	"              - name: ansible_become_user\n"
	"            env:\n"
	"              - name: ANSIBLE_BECOME_USER\n"
	"            keyword:\n"
	"              - keyword: become_user\n"
	"        become_exe:\n"
	"            description: the setpriv to run\n"
	"            default: setpriv\n"
	"            ini:\n"
	"              - section: privilege_escalation\n"
	"                key: become_exe\n"
	"            vars:\n"
	"              - name: ansible_become_exe\n"
	"            env:\n"
	"              - name: ANSIBLE_BECOME_EXE\n"
	"            keyword:\n"
	"              - keyword: become_exe\n"
	"        become_flags:\n"
	"            description: ignored\n"
	"            default: ''\n"
	"            ini:\n"
	"              - section: privilege_escalation\n"
	"                key: become_flags\n"
	"            vars:\n"
	"              - name: ansible_become_flags\n"
	"            env:\n"
	"              - name: ANSIBLE_BECOME_FLAGS\n"
	"            keyword:\n"
	"              - keyword: become_flags\n"
	"\"\"\"\n"
	"\n"
	"import pwd\n"
	"import shlex\n"
	"\n"
	"from ansible.plugins.become import BecomeBase\n"
	"\n"
	"\n"
	"class BecomeModule(BecomeBase):\n"
	"\n"
	"    name = 'cairn'\n"
	"\n"
	"    def build_become_command(self, cmd, shell):\n"
	"        super(BecomeModule, self).build_become_command(cmd, shell)\n"
	"        if not cmd:\n"
	"            return cmd\n"
	"        user = self.get_option('become_user') or 'root'\n"
	"        pw = pwd.getpwnam(user)\n"
	"        if pw.pw_uid == 0:\n"
	"            return cmd\n"
	"        exe = self.get_option('become_exe') or 'setpriv'\n"
	"        env = ['HOME=' + pw.pw_dir, 'USER=' + pw.pw_name, 'LOGNAME=' + pw.pw_name]\n"
	"        return ' '.join([shlex.quote(exe), '--reuid=%d' % pw.pw_uid, '--regid=%d' % pw.pw_gid,\n"
	"                         '--init-groups', '--', 'env'] + [shlex.quote(e) for e in env] +\n"
	"                        [self._build_success_command(cmd, shell)])\n";

static int write_file(const char *dir, const char *name, const void *data, size_t len,
		      struct cairn_error **err)
{
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return cairn_error_set_errno(err, "open '%s'", dir);
	return cairn_fs_write_atomic_at(dfd, name, data, len, 0644, err);
}

/* The playbook of one stage: one play on the local host, the tasks as werf gave them. */
static json_t *playbook(const struct cairn_config_value *tasks)
{
	json_t *play = json_pack("{s:s, s:b, s:o}", "hosts", "all", "gather_facts", 0, "tasks",
				 stage_ansible_json(tasks));

	return json_pack("[o]", play);
}

int stage_ansible_files(const char *dir, const struct cairn_config_value *tasks,
			const struct stage_ansible_paths *p, struct cairn_error **err)
{
	CLEANUP(cairn_buf_release) struct cairn_buf pb = CAIRN_BUF_INIT;
	cleanup_json json_t *j = playbook(tasks);
	cleanup_free char *hosts = NULL;
	cleanup_free char *cfg = NULL;
	cleanup_free char *become = xasprintf("%s/become", dir);
	int ret = cairn_json_dump(&pb, j, err);

	if (ret < 0)
		return ret;
	hosts = xasprintf("localhost ansible_connection=local ansible_python_interpreter=%s\n",
			  p->python);
	cfg = xasprintf("[defaults]\n"
			"inventory = %s/hosts\n"
			"transport = local\n"
			"retry_files_enabled = False\n"
			"module_compression = 'ZIP_STORED'\n"
			"local_tmp = %s/local\n"
			"remote_tmp = %s/remote\n"
			"system_tmpdirs = %s/system\n"
			"allow_world_readable_tmpfiles = True\n"
			"become_plugins = %s/become\n"
			"interpreter_python = %s\n"
			"nocolor = 1\n"
			"deprecation_warnings = False\n"
			"\n"
			"[privilege_escalation]\n"
			"become = yes\n"
			"become_method = cairn\n"
			"become_exe = %s\n",
			CAIRN_ANSIBLE_DIR, CAIRN_ANSIBLE_TMP, CAIRN_ANSIBLE_TMP, CAIRN_ANSIBLE_TMP,
			CAIRN_ANSIBLE_DIR, p->python, p->setpriv);
	ret = cairn_fs_mkdirs_at(AT_FDCWD, become, 0755, err);
	if (ret == 0)
		ret = write_file(dir, "playbook.json", pb.buf, pb.len, err);
	if (ret == 0)
		ret = write_file(dir, "hosts", hosts, strlen(hosts), err);
	if (ret == 0)
		ret = write_file(dir, "ansible.cfg", cfg, strlen(cfg), err);
	if (ret == 0)
		ret = write_file(become, "cairn.py", become_plugin, strlen(become_plugin), err);
	return ret;
}

/* ---- running a stage ---- */

/* One ansible stage being run. */
struct ansible_run {
	struct stage_run run;
	const struct cairn_config_value *tasks;
	enum cairn_config_user_stage us;
	struct cairn_exec_mount mounts[2];
	struct strv owned; /* strings the run's fields point into */
	char task[160];	   /* the name of the last "TASK [name]" line */
	char fatal[400];   /* what ansible said of the task that failed */
};

/* What ansible prints of a failed task: the "msg" of its result, else its stderr. */
static void note_fatal(struct ansible_run *a, const char *line, size_t len)
{
	const char *json = memmem(line, len, "=> {", 4);
	json_t *j = json ? json_loadb(json + 3, len - (size_t)(json + 3 - line), 0, NULL) : NULL;
	const char *msg = json_string_value(json_object_get(j, "msg"));
	const char *why = json_string_value(json_object_get(j, "stderr"));

	if (msg && why && *why)
		snprintf(a->fatal, sizeof(a->fatal), "%s: %s", msg, why);
	else if (msg || why)
		snprintf(a->fatal, sizeof(a->fatal), "%s", msg ? msg : why);
	else
		snprintf(a->fatal, sizeof(a->fatal), "%.*s", (int)(len > 300 ? 300 : len), line);
	a->fatal[strcspn(a->fatal, "\n")] = '\0';
	json_decref(j);
}

static void ansible_line(struct stage_run *r, const char *line, size_t len)
{
	struct ansible_run *a = (struct ansible_run *)r;

	if (len > 6 && !memcmp(line, "TASK [", 6)) {
		const char *end = memchr(line, ']', len);
		size_t n = end ? (size_t)(end - line - 6) : 0;

		snprintf(a->task, sizeof(a->task), "%.*s", (int)n, line + 6);
		a->fatal[0] = '\0';
	} else if (len > 7 && !memcmp(line, "fatal: ", 7)) {
		note_fatal(a, line, len);
	}
}

/* The module a task runs, and its name as ansible shows it. */
static const char *task_module(const struct cairn_config_value *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (cairn_config_ansible_module(t->keys[i], strlen(t->keys[i])))
			return t->keys[i];
	return "block";
}

static const char *task_name(const struct cairn_config_value *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->keys[i], "name") == 0 && t->items[i].text)
			return t->items[i].text;
	return task_module(t);
}

static int ansible_failed(struct stage_run *r, size_t last, int status, struct cairn_error **err)
{
	struct ansible_run *a = (struct ansible_run *)r;
	const struct cairn_config_value *t = NULL;
	size_t k = 0;

	(void)last;
	for (size_t i = 0; i < a->tasks->n && !t; i++)
		if (a->task[0] && strcmp(task_name(&a->tasks->items[i]), a->task) == 0)
			t = &a->tasks->items[k = i];
	if (!t)
		return cairn_error_set(err, CAIRN_EINTERNAL,
				       "%s:%u:%u: image '%s': stage '%s' failed: ansible-playbook "
				       "exited with status %d%s%s%s%s",
				       r->s->b->config->file, a->tasks->pos.line,
				       a->tasks->pos.column, r->s->name, stage_kinds[r->id].name,
				       status, a->task[0] ? " in task '" : "", a->task,
				       a->task[0] ? "': " : "", a->fatal);
	return cairn_error_set(err, CAIRN_EINTERNAL,
			       "%s:%u:%u: image '%s': stage '%s' failed: task %zu ('%s', module "
			       "%s): %s",
			       r->s->b->config->file, t->pos.line, t->pos.column, r->s->name,
			       stage_kinds[r->id].name, k + 1, task_name(t), task_module(t),
			       a->fatal[0] ? a->fatal : "failed");
}

/* The image's PATH (or the default one) with the toolchain's programs last. */
static char *run_path(struct image_state *s, const char *toolchain)
{
	json_t *e;
	size_t i;

	json_array_foreach(stage_env_of(s->config), i, e)
	{
		const char *v = json_string_value(e);

		if (v && !strncmp(v, "PATH=", 5))
			return xasprintf("%s:%s/bin", v, toolchain);
	}
	return xasprintf("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:%s/bin",
			 toolchain);
}

/* Write ansible's files, make its tmp dirs, and say how the container gets them. */
static int ansible_prepare(struct stage_run *r, const char *work, struct cairn_error **err)
{
	struct ansible_run *a = (struct ansible_run *)r;
	const char *tc = r->toolchain->mount;
	const char *python = r->toolchain->python;
	cleanup_free char *playbook = xasprintf("%s/bin/ansible-playbook", tc);
	cleanup_free char *setpriv = xasprintf("%s/bin/setpriv", tc);
	const struct stage_ansible_paths paths = {python, playbook, setpriv};
	cleanup_free char *files = xasprintf("%s/ansible", work);
	cleanup_free char *tmp = xasprintf("%s/ansible-tmp", work);
	cleanup_free char *path = NULL;
	/* remote and system (a become_user's tasks) are every user's, as /tmp */
	static const char *const subdirs[] = {"local", "remote", "system", "home"};
	int ret;

	if (!python)
		return cairn_error_set(err, CAIRN_EINTERNAL, "the toolchain '%s' has no python",
				       r->toolchain->dir);
	ret = cairn_fs_mkdirs_at(AT_FDCWD, files, 0755, err);
	if (ret == 0)
		ret = stage_ansible_files(files, a->tasks, &paths, err);
	for (size_t i = 0; ret == 0 && i < ARRAY_SIZE(subdirs); i++) {
		cleanup_free char *d = xasprintf("%s/%s", tmp, subdirs[i]);

		ret = cairn_fs_mkdirs_at(AT_FDCWD, d, 0755, err);
		if (ret == 0 && chmod(d, i == 1 || i == 2 ? 01777 : 0700) < 0)
			ret = cairn_error_set_errno(err, "chmod '%s'", d);
	}
	if (ret < 0)
		return ret;
	strv_add(&a->owned, files);
	strv_add(&a->owned, tmp);
	a->mounts[0] = (struct cairn_exec_mount){a->owned.v[a->owned.n - 2], CAIRN_ANSIBLE_DIR, 1};
	a->mounts[1] = (struct cairn_exec_mount){a->owned.v[a->owned.n - 1], CAIRN_ANSIBLE_TMP, 0};
	r->mounts = a->mounts;
	r->n_mounts = 2;
	strv_add(&a->owned, "ANSIBLE_CONFIG=" CAIRN_ANSIBLE_DIR "/ansible.cfg");
	strv_add(&a->owned, "ANSIBLE_HOME=" CAIRN_ANSIBLE_TMP "/home");
	strv_add(&a->owned, "LANG=C.UTF-8");
	strv_add(&a->owned, "LC_ALL=C.UTF-8");
	strv_add(&a->owned, "PYTHONIOENCODING=utf-8");
	strv_addf(&a->owned, "LOCPATH=%s/lib/locale", tc);
	path = run_path(r->s, tc);
	strv_add(&a->owned, path);
	strv_addf(&a->owned, "exec %s %s %s/playbook.json", python, playbook, CAIRN_ANSIBLE_DIR);
	r->env = (const char *const *)a->owned.v + 2;
	r->n_env = a->owned.n - 3;
	r->commands = (const char *const *)a->owned.v + a->owned.n - 1;
	return 0;
}

int stage_build_ansible(struct stage_output *o, struct image_state *s, enum stage_id id,
			struct cairn_error **err)
{
	static const char *const placeholder[] = {"true"};
	struct ansible_run a = {.run = {.prepare = ansible_prepare,
					.failed = ansible_failed,
					.line = ansible_line}};
	int ret;

	stage_commands(s->img, id, &a.us);
	a.tasks = &s->img->ansible.tasks[a.us];
	/* one command, ansible-playbook, made once the toolchain is known (ansible_prepare) */
	a.run.commands = placeholder;
	a.run.n_commands = a.tasks->n ? 1 : 0;
	ret = stage_run_user(o, s, id, &a.run, err);
	strv_release(&a.owned);
	return ret;
}
