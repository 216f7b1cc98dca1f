/* SPDX-License-Identifier: MIT */
/* Fuzz target: werf.yaml parsing (checking the model's invariants) and the build order. */
#include "common.h"
#include "cairn/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_pos(struct cairn_config_pos pos)
{
	if (!pos.line || !pos.column)
		abort();
}

static void check_str(const struct cairn_config_str *s, bool required)
{
	if (!s->s) {
		if (required || s->pos.line)
			abort();
		return;
	}
	check_pos(s->pos);
}

static void check_path(const struct cairn_config_str *s, bool absolute)
{
	check_str(s, false);
	if (s->s && (s->s[0] == '/') != absolute)
		abort();
}

/* `added`: excludePaths, to which overlapping exports add paths that are not in the file */
static void check_list_added(const struct cairn_config_list *l, bool relative, bool added)
{
	size_t written = 0;

	if ((l->n == 0) != (l->v == NULL) || (l->n == 0) != (l->pos == NULL))
		abort();
	for (size_t i = 0; i < l->n; i++) {
		if (added && !l->pos[i].line && !l->pos[i].column)
			continue;
		check_pos(l->pos[i]);
		if (relative && (!l->v[i][0] || l->v[i][0] == '/'))
			abort();
		written++;
	}
	if (written && !l->at.line)
		abort();
}

static void check_list(const struct cairn_config_list *l, bool relative)
{
	check_list_added(l, relative, false);
}

static bool in_config(const struct cairn_config *c, const struct cairn_config_image *img)
{
	return img >= c->images && img < c->images + c->n_images;
}

static void check_image(const struct cairn_config *c, const struct cairn_config_image *img)
{
	int from = !!img->from.s + !!img->from_image.s + !!img->from_image_artifact.s;

	check_pos(img->pos);
	check_pos(img->name_pos);
	if (img->dockerfile.pos.line) {
		/* a Dockerfile image: its keys only, paths inside the project */
		const struct cairn_config_dockerfile *d = &img->dockerfile;

		if (from || img->base || img->artifact || img->n_git || img->n_imports ||
		    img->n_mounts || img->docker.pos.line || img->shell.pos.line)
			abort();
		check_path(&d->file, false);
		check_str(&d->file, true);
		check_path(&d->context, false);
		check_str(&d->target, false);
		check_list(&d->add_host, false);
		check_list(&d->context_add_files, true);
		for (size_t i = 0; i < d->n_args; i++)
			if (!d->args[i].key || !d->args[i].value)
				abort();
		if (img->name && cairn_config_find(c, img->name) != img)
			abort();
		return;
	}
	if (from != 1 || (img->from.s != NULL) != (img->base == NULL))
		abort();
	if (img->base && (!in_config(c, img->base) || img->base == img ||
			  img->base->artifact != (img->from_image_artifact.s != NULL)))
		abort();
	if (img->artifact && (!img->name || img->docker.pos.line))
		abort();
	if (img->name && cairn_config_find(c, img->name) != img)
		abort();
	for (size_t i = 0; i < img->n_git; i++) {
		const struct cairn_config_git *g = &img->git[i];

		check_pos(g->pos);
		if (!g->add.s || g->add.s[0] != '/')
			abort();
		check_path(&g->to, true);
		check_str(&g->to, true);
		check_list(&g->include_paths, true);
		check_list_added(&g->exclude_paths, true, true);
		for (size_t s = 0; s < CAIRN_CONFIG_STAGE_COUNT; s++)
			check_list(&g->stage_dependencies[s], true);
		if (g->stage_dependencies[CAIRN_CONFIG_STAGE_BEFORE_INSTALL].n)
			abort();
		if (!g->url.s && (g->branch.s || g->tag.s || g->commit.s))
			abort();
		if (!!g->branch.s + !!g->tag.s + !!g->commit.s > 1)
			abort();
	}
	for (size_t s = 0; s < CAIRN_CONFIG_STAGE_COUNT; s++)
		check_list(&img->shell.commands[s], false);
	for (size_t i = 0; i < img->n_imports; i++) {
		const struct cairn_config_import *im = &img->imports[i];

		if (!im->artifact.s == !im->image.s || !im->before.s == !im->after.s)
			abort();
		if (!in_config(c, im->source) || im->source->artifact != (im->artifact.s != NULL))
			abort();
		check_path(&im->add, true);
		/* `to` not given: `add`, with no position */
		if (im->to.s && !im->to.pos.line && strcmp(im->to.s, im->add.s) != 0)
			abort();
		if (im->to.pos.line)
			check_path(&im->to, true);
		check_list(&im->include_paths, true);
		check_list_added(&im->exclude_paths, true, true);
		if (im->point > CAIRN_CONFIG_IMPORT_AFTER_SETUP)
			abort();
	}
	for (size_t i = 0; i < img->n_mounts; i++) {
		const struct cairn_config_mount *m = &img->mounts[i];

		check_path(&m->to, true);
		if (!m->from.s == !m->from_path.s)
			abort();
		if ((m->type == CAIRN_CONFIG_MOUNT_HOST_DIR) != (m->from_path.s != NULL))
			abort();
		if (m->host_path || (m->from_path.s && !m->from_path.s[0]))
			abort();
	}
	check_list(&img->docker.cmd, false);
	check_list(&img->docker.entrypoint, false);
	check_list(&img->docker.expose, false);
	check_list(&img->docker.volume, false);
	check_list(&img->docker.healthcheck.test, false);
	for (size_t i = 0; i < img->docker.n_env; i++)
		if (!img->docker.env[i].key[0] || !img->docker.env[i].value)
			abort();
	for (size_t i = 0; i < img->docker.n_labels; i++)
		for (size_t k = 0; k < i; k++)
			if (strcmp(img->docker.labels[i].key, img->docker.labels[k].key) == 0)
				abort();
}

/* The cleanup section: every collection's items filled, scalars and only scalars with text. */
static void check_value(const struct cairn_config_value *v)
{
	check_pos(v->pos);
	if ((v->kind == CAIRN_CONFIG_VALUE_SCALAR) != (v->text != NULL))
		abort();
	if ((v->kind == CAIRN_CONFIG_VALUE_MAP) != (v->keys != NULL))
		abort();
	if (v->n && v->kind != CAIRN_CONFIG_VALUE_LIST && v->kind != CAIRN_CONFIG_VALUE_MAP)
		abort();
	for (size_t i = 0; i < v->n; i++) {
		if (v->keys && !v->keys[i])
			abort();
		check_value(&v->items[i]);
	}
}

/* Each image once, after everything it depends on. */
static void check_order(const struct cairn_config *c)
{
	const struct cairn_config_image **order = NULL;
	struct cairn_error *err = NULL;
	size_t n = 0;

	if (cairn_config_order(&order, &n, c, NULL, 0, &err) < 0 || err || n > c->n_images)
		abort();
	for (size_t i = 0; i < n; i++) {
		const struct cairn_config_image *img = order[i];

		for (size_t k = 0; k < i; k++)
			if (order[k] == img)
				abort();
		if (img->base) {
			size_t k;

			for (k = 0; k < i && order[k] != img->base; k++)
				;
			if (k == i)
				abort();
		}
	}
	for (size_t i = 0; i < c->n_images; i++) {
		size_t k;

		for (k = 0; k < n && order[k] != &c->images[i]; k++)
			;
		if (!c->images[i].artifact && k == n)
			abort();
	}
	free(order);
	/* by name: an image is found, an artifact is not (a usage error, as an unknown name) */
	if (c->n_images) {
		const char *name = c->images[0].name;
		int ret = cairn_config_order(&order, &n, c, &name, 1, &err);

		if ((ret == 0) == c->images[0].artifact || (ret == 0 && (!n || !order)))
			abort();
		if (ret < 0 && (ret != CAIRN_EUSAGE || !err || order))
			abort();
		free(order);
		cairn_error_free(err);
	}
}

/* Inputs starting with '#' are read as a dappfile, whose meta document is optional. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *name = size && data[0] == '#' ? "dappfile.yml" : "fuzz.yaml";
	struct cairn_config *c = (struct cairn_config *)&c;
	struct cairn_error *err = NULL;

	if (cairn_config_parse(&c, name, (const char *)data, size, &err) == 0) {
		if (err || (!c->project.s && (name[0] != 'd' || c->project.pos.line)) ||
		    c->config_version != 1 || c->n_images > CAIRN_CONFIG_IMAGES_MAX)
			abort();
		for (size_t i = 0; i < c->n_images; i++)
			check_image(c, &c->images[i]);
		if (c->cleanup)
			check_value(c->cleanup);
		check_order(c);
		cairn_config_free(c);
	} else if (c || !err || (err->code != CAIRN_EINVAL && err->code != CAIRN_ETOOBIG) ||
		   strncmp(err->msg, name, strlen(name)) != 0 || err->msg[strlen(name)] != ':') {
		abort();
	}
	cairn_error_free(err);
	return 0;
}
