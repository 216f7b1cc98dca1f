/* SPDX-License-Identifier: MIT */
/* The tree walk between two commits, and what it answers: archive and patch ops, changes, sizes. */
#include "common.h"
#include "git/git_internal.h"
#include "util/buf.h"

#include <sys/stat.h>

/* Deeper trees are refused rather than recursed into (a hostile repository could nest forever). */
#define TREE_DEPTH_MAX 1024

static const struct node no_node = {NULL, 0, NULL};

/* The commit and the tree entry `add` names in it (if any). */
struct side {
	git_commit *commit;
	git_tree *root;
	struct modctx *root_mod; /* the repository at that commit */
	git_tree_entry *entry;
	struct node node;
};

static void side_release(struct side *s)
{
	git_tree_entry_free(s->entry);
	git_tree_free(s->root);
	git_commit_free(s->commit);
	memset(s, 0, sizeof(*s));
}

static int side_load(struct side *s, struct cairn_git_repo *r, const char *commit,
		     const struct filter *f, struct cairn_error **err)
{
	int ret;

	memset(s, 0, sizeof(*s));
	ret = cairn_git_lookup_commit(&s->commit, r, commit, err);
	if (ret < 0)
		return ret;
	ret = git_commit_tree(&s->root, s->commit);
	if (ret < 0) {
		ret = cairn_git_fail(err, ret, CAIRN_EINTERNAL, "tree of commit '%s'", commit);
		side_release(s);
		return ret;
	}
	s->root_mod = cairn_git_modctx_get(r, NULL, git_commit_id(s->commit), "");
	s->node.mod = s->root_mod;
	if (!f->add[0]) {
		s->node.oid = git_tree_id(s->root);
		s->node.mode = GIT_FILEMODE_TREE;
		return 0;
	}
	ret = cairn_git_entry_bypath(&s->entry, &s->node.mod, r, s->root, s->root_mod, f->add, err);
	if (ret < 0) {
		side_release(s);
		return cairn_error_wrap(err, "'/%s' in commit '%s'", f->add, commit);
	}
	if (!s->entry) {
		cairn_log(CAIRN_LOG_DEBUG, "git: '/%s' does not exist in commit '%s'", f->add,
			  commit);
		return 0;
	}
	s->node.oid = git_tree_entry_id(s->entry);
	s->node.mode = git_tree_entry_filemode(s->entry);
	return 0;
}

/* Whether everything below a directory passes the include patterns, or the stage's. */
struct sel_state {
	bool inc_all;
	bool stage_all;
};

/* A directory: a tree, or a gitlink (the tree of the submodule's commit). */
static bool is_tree(const struct node *n)
{
	return n->oid && (n->mode == GIT_FILEMODE_TREE || n->mode == GIT_FILEMODE_COMMIT);
}

static bool any_self(char *const *pats, size_t n, const struct cairn_buf *rel)
{
	for (size_t i = 0; i < n; i++) {
		if (cairn_git_match_self(pats[i], rel->buf, rel->len))
			return true;
	}
	return false;
}

static bool any_below(char *const *pats, size_t n, const struct cairn_buf *rel)
{
	for (size_t i = 0; i < n; i++) {
		if (cairn_git_match_below(pats[i], rel->buf, rel->len))
			return true;
	}
	return false;
}

static bool leaf_selected(const struct walk *w, struct sel_state st)
{
	const struct filter *f = w->f;

	if (any_self(f->exc, f->n_exc, &w->rel))
		return false;
	if (!st.stage_all && !any_self(f->stage, f->n_stage, &w->rel))
		return false;
	return st.inc_all || any_self(f->inc, f->n_inc, &w->rel);
}

/* Would this leaf be written into a layer? */
static bool leaf_wanted(const struct walk *w, const struct node *n, struct sel_state st)
{
	return n->oid && leaf_selected(w, st);
}

static int visit(struct walk *w, const struct node *a, const struct node *b, struct sel_state st,
		 struct cairn_error **err);

static void path_push(struct cairn_buf *b, const char *name)
{
	if (b->len)
		cairn_buf_addch(b, '/');
	cairn_buf_addstr(b, name);
}

/* git's tree order: names compared as if a tree's had a trailing '/'. */
static int entry_cmp(const git_tree_entry *a, const git_tree_entry *b)
{
	const char *na = git_tree_entry_name(a), *nb = git_tree_entry_name(b);
	size_t la = strlen(na), lb = strlen(nb), n = la < lb ? la : lb;
	unsigned char ca, cb;
	int c = memcmp(na, nb, n);

	if (c)
		return c;
	ca = la > n ? (unsigned char)na[n]
		    : (git_tree_entry_filemode(a) == GIT_FILEMODE_TREE ? '/' : '\0');
	cb = lb > n ? (unsigned char)nb[n]
		    : (git_tree_entry_filemode(b) == GIT_FILEMODE_TREE ? '/' : '\0');
	return ca < cb ? -1 : ca > cb;
}

static bool name_ok(const char *name)
{
	return name[0] && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 && !strchr(name, '/');
}

/* The tree of a directory node (entering a submodule), and the repository it is in. */
static int lookup_tree(git_tree **out, struct modctx **mod, struct walk *w, const struct node *n,
		       struct cairn_error **err)
{
	const git_oid *id = n->oid;
	git_oid sub;
	int ret;

	*out = NULL;
	*mod = n->mod;
	if (!is_tree(n))
		return 0;
	if (n->mode == GIT_FILEMODE_COMMIT) {
		ret = cairn_git_submodule_enter(mod, &sub, w->r, n->mod, w->full.buf, n->oid, err);
		if (ret < 0)
			return ret;
		id = &sub;
	}
	ret = git_tree_lookup(out, cairn_git_objects(w->r), id);
	if (ret < 0)
		return cairn_git_fail(err, ret, CAIRN_EINTERNAL, "read tree '/%s%s%s' of '%s'",
				      w->f->add, w->f->add[0] && w->rel.len ? "/" : "", w->rel.buf,
				      w->r->name);
	return 0;
}

/*
 * A name only one side has in tree order may still be in the other side's tree as another
 * kind (file "x" here, directory "x" there): tree order puts the two apart. Pair them at the
 * file, which comes first on both sides, and skip the directory later; false means skip.
 */
static bool pair_kind_change(struct node *x, struct node *y, git_tree *other,
			     struct modctx *other_mod, const char *name)
{
	struct node *mine = x->oid ? x : y, *theirs = x->oid ? y : x;
	const git_tree_entry *e = other ? git_tree_entry_byname(other, name) : NULL;

	if (!e)
		return true;
	if (is_tree(mine))
		return false;
	theirs->oid = git_tree_entry_id(e);
	theirs->mode = git_tree_entry_filemode(e);
	theirs->mod = other_mod;
	return true;
}

static int visit_tree(struct walk *w, const struct node *a, const struct node *b,
		      struct sel_state st, struct cairn_error **err)
{
	CLEANUP(git_tree_freep) git_tree *ta = NULL;
	CLEANUP(git_tree_freep) git_tree *tb = NULL;
	struct modctx *ma = NULL, *mb = NULL;
	const struct filter *f = w->f;
	size_t rel_len = w->rel.len, dest_len = w->dest.len, full_len = w->full.len;
	size_t i = 0, j = 0, na, nb;
	int ret = 0;

	if (rel_len) {
		if (any_self(f->exc, f->n_exc, &w->rel))
			return 0;
		if (!st.inc_all) {
			st.inc_all = any_self(f->inc, f->n_inc, &w->rel);
			if (!st.inc_all && !any_below(f->inc, f->n_inc, &w->rel))
				return 0;
		}
		if (!st.stage_all) {
			st.stage_all = any_self(f->stage, f->n_stage, &w->rel);
			if (!st.stage_all && !any_below(f->stage, f->n_stage, &w->rel))
				return 0;
		}
	}
	if (w->depth >= TREE_DEPTH_MAX)
		return cairn_error_set(err, CAIRN_EINVAL, "tree '%s' of '%s': nested too deeply",
				       w->rel.buf, w->r->name);
	ret = lookup_tree(&ta, &ma, w, a, err);
	if (ret == 0)
		ret = lookup_tree(&tb, &mb, w, b, err);
	if (ret < 0)
		return ret;
	/* a submodule at another commit, or in place of a directory, may hold the same files */
	if (ta && tb && git_oid_equal(git_tree_id(ta), git_tree_id(tb)))
		return 0;
	na = ta ? git_tree_entrycount(ta) : 0;
	nb = tb ? git_tree_entrycount(tb) : 0;
	w->depth++;
	while (ret == 0 && (i < na || j < nb)) {
		const git_tree_entry *ea = i < na ? git_tree_entry_byindex(ta, i) : NULL;
		const git_tree_entry *eb = j < nb ? git_tree_entry_byindex(tb, j) : NULL;
		int c = !ea ? 1 : !eb ? -1 : entry_cmp(ea, eb);
		struct node x = no_node, y = no_node;
		const char *name = git_tree_entry_name(c <= 0 ? ea : eb);

		if (c <= 0) {
			x.oid = git_tree_entry_id(ea);
			x.mode = git_tree_entry_filemode(ea);
			x.mod = ma;
			i++;
		}
		if (c >= 0) {
			y.oid = git_tree_entry_id(eb);
			y.mode = git_tree_entry_filemode(eb);
			y.mod = mb;
			j++;
		}
		if (!name_ok(name)) {
			cairn_log(CAIRN_LOG_WARN, "git: skip tree entry '%s' in '%s' of '%s'", name,
				  w->rel.buf, w->r->name);
			continue;
		}
		if (c != 0 && !pair_kind_change(&x, &y, c < 0 ? tb : ta, c < 0 ? mb : ma, name))
			continue;
		path_push(&w->rel, name);
		path_push(&w->dest, name);
		path_push(&w->full, name);
		ret = visit(w, &x, &y, st, err);
		cairn_buf_setlen(&w->rel, rel_len);
		cairn_buf_setlen(&w->dest, dest_len);
		cairn_buf_setlen(&w->full, full_len);
	}
	w->depth--;
	return ret;
}

/* Stop the walk at the first change: whether there is one is all that is asked. */
static int emit_stop(struct walk *w, enum change ch, const struct node *n, struct cairn_error **err)
{
	(void)w;
	(void)ch;
	(void)n;
	(void)err;
	return 1;
}

/* Whether the walk selects anything in the tree `a` (at the walk's current path). */
static int wanted_below(bool *out, struct walk *w, const struct node *a, struct sel_state st,
			struct cairn_error **err)
{
	int (*emit)(struct walk *, enum change, const struct node *, struct cairn_error **) =
		w->emit;
	int ret;

	w->emit = emit_stop;
	ret = visit_tree(w, a, &no_node, st, err);
	w->emit = emit;
	*out = ret == 1;
	return ret < 0 ? ret : 0;
}

static int visit(struct walk *w, const struct node *a, const struct node *b, struct sel_state st,
		 struct cairn_error **err)
{
	int ret;

	if (a->oid && b->oid && a->mode == b->mode && git_oid_equal(a->oid, b->oid))
		return 0;
	if (a->oid && b->oid && is_tree(a) != is_tree(b)) {
		/*
		 * A directory became a file or the reverse. When a file or symlink replaces a
		 * directory, the directory goes as a whole: whatever else is in it (from other
		 * stages too) cannot stay under a file.
		 */
		if (is_tree(a) && leaf_wanted(w, b, st)) {
			ret = w->emit(w, CH_DEL, a, err);
			return ret ? ret : w->emit(w, CH_ADD, b, err);
		}
		ret = visit(w, a, &no_node, st, err);
		return ret ? ret : visit(w, &no_node, b, st, err);
	}
	if (is_tree(a) && !b->oid && w->rel.len) {
		bool any = false;

		/*
		 * A directory gone with all its files goes as a whole, as `git apply` removes
		 * the directories it empties: one whiteout, when it held anything selected.
		 */
		ret = wanted_below(&any, w, a, st, err);
		return ret < 0 || !any ? ret : w->emit(w, CH_DEL, a, err);
	}
	if (is_tree(a) || is_tree(b))
		return visit_tree(w, a, b, st, err);
	if (leaf_wanted(w, b, st))
		return w->emit(w, CH_ADD, b, err);
	if (leaf_wanted(w, a, st))
		return w->emit(w, CH_DEL, a, err);
	return 0;
}

/* Where a side's `add` entry lands: the patterns' path and the image path. */
static void walk_root(struct walk *w, const struct node *n)
{
	const struct filter *f = w->f;

	cairn_buf_reset(&w->rel);
	cairn_buf_reset(&w->dest);
	cairn_buf_reset(&w->full);
	cairn_buf_addstr(&w->full, f->add);
	if (is_tree(n)) {
		cairn_buf_addstr(&w->dest, f->to);
		return;
	}
	/* `add` is a file: patterns see its name, and it is written at `to` */
	cairn_buf_addstr(&w->rel, f->add_base);
	cairn_buf_addstr(&w->dest, f->to[0] ? f->to : f->add_base);
}

static int walk_run(struct walk *w, const struct node *a, const struct node *b,
		    struct cairn_error **err)
{
	struct sel_state st = {.inc_all = !w->f->n_inc, .stage_all = !w->f->stage};
	int ret;

	if (a->oid && b->oid && is_tree(a) != is_tree(b)) {
		/* `add` changed between a directory and a file */
		if (w->f->to[0] && is_tree(a)) {
			walk_root(w, b);
			if (leaf_wanted(w, b, st)) {
				ret = w->emit(w, CH_DEL, a, err);
				return ret ? ret : w->emit(w, CH_ADD, b, err);
			}
		}
		ret = walk_run(w, a, &no_node, err);
		return ret ? ret : walk_run(w, &no_node, b, err);
	}
	if (!a->oid && !b->oid)
		return 0;
	walk_root(w, b->oid ? b : a);
	return visit(w, a, b, st, err);
}

void cairn_git_walk_init(struct walk *w, struct cairn_git_repo *r, const struct filter *f)
{
	memset(w, 0, sizeof(*w));
	w->r = r;
	w->f = f;
	cairn_buf_init(&w->rel, 0);
	cairn_buf_init(&w->dest, 0);
	cairn_buf_init(&w->full, 0);
}

void cairn_git_walk_release(struct walk *w)
{
	cairn_buf_release(&w->rel);
	cairn_buf_release(&w->dest);
	cairn_buf_release(&w->full);
}

/* Run a walk between two commits (`from` may be NULL: everything is new). */
int cairn_git_walk_commits(struct walk *w, const char *from, const char *to_commit,
			   struct cairn_error **err)
{
	struct side a = {0}, b = {0};
	int ret = 0;

	if (from)
		ret = side_load(&a, w->r, from, w->f, err);
	if (ret == 0)
		ret = side_load(&b, w->r, to_commit, w->f, err);
	if (ret == 0)
		ret = walk_run(w, &a.node, &b.node, err);
	side_release(&a);
	side_release(&b);
	return ret;
}

/*
 * Operation lists
 */

void cairn_git_ops_release(struct cairn_git_ops *ops)
{
	for (size_t i = 0; i < ops->n; i++)
		free(ops->v[i].path);
	free(ops->v);
	memset(ops, 0, sizeof(*ops));
}

static struct cairn_git_op *ops_push(struct cairn_git_ops *ops, enum cairn_git_op_kind kind,
				     const char *path, size_t len, uint32_t mode)
{
	struct cairn_git_op *op;

	if (ops->n == ops->alloc) {
		ops->alloc = ops->alloc ? ops->alloc * 2 : 64;
		ops->v = xreallocarray(ops->v, ops->alloc, sizeof(*ops->v));
	}
	op = &ops->v[ops->n++];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->path = xstrndup(path, len);
	op->mode = mode;
	return op;
}

/*
 * Directory entries for every parent of path[0..len). Those shared with the previous file's
 * directory (`last`) were pushed already; the rest would be dropped as repeats by ops_finish()
 * anyway, this only keeps the list short.
 */
static void ops_push_parents(struct cairn_git_ops *ops, struct cairn_buf *last, const char *path,
			     size_t len)
{
	const char *slash = memrchr(path, '/', len);
	size_t dir_len = slash ? (size_t)(slash - path) : 0;
	size_t i = 0, common;

	while (i < dir_len && i < last->len && path[i] == last->buf[i])
		i++;
	if ((i == dir_len || path[i] == '/') && (i == last->len || last->buf[i] == '/')) {
		common = i;
	} else {
		while (i > 0 && path[i - 1] != '/')
			i--;
		common = i ? i - 1 : 0;
	}
	for (size_t j = common + 1; j <= dir_len; j++) {
		if (j == dir_len || path[j] == '/')
			ops_push(ops, CAIRN_GIT_OP_DIR, path, j, S_IFDIR | 0755);
	}
	cairn_buf_reset(last);
	cairn_buf_add(last, path, dir_len);
}

struct ops_ctx {
	struct cairn_git_ops *ops;
	struct cairn_buf last_dir;
};

static int blob_size(uint64_t *out, const git_oid *oid, struct walk *w, struct cairn_error **err)
{
	git_object_t type;
	git_odb *odb = NULL;
	size_t len;
	int ret;

	*out = 0;
	/* not kept across the walk: entering a submodule changes where objects are read */
	ret = cairn_git_odb(&odb, w->r, err);
	if (ret < 0)
		return ret;
	ret = git_odb_read_header(&len, &type, odb, oid);
	if (ret < 0)
		return cairn_git_fail(err, ret, CAIRN_EINTERNAL, "read blob of '%s' in '%s'",
				      w->rel.buf, w->r->name);
	if (type != GIT_OBJECT_BLOB)
		return cairn_error_set(err, CAIRN_EINTERNAL, "'%s' in '%s': not a blob", w->rel.buf,
				       w->r->name);
	*out = len;
	return 0;
}

static int emit_op(struct walk *w, enum change ch, const struct node *n, struct cairn_error **err)
{
	struct ops_ctx *oc = w->ud;
	struct cairn_git_op *op;
	enum cairn_git_op_kind kind = CAIRN_GIT_OP_FILE;
	uint32_t mode = S_IFREG | 0644;
	uint64_t size;
	int ret;

	if (ch == CH_DEL) {
		ops_push(oc->ops, CAIRN_GIT_OP_WHITEOUT, w->dest.buf, w->dest.len, 0);
		return 0;
	}
	if (n->mode == GIT_FILEMODE_LINK) {
		kind = CAIRN_GIT_OP_SYMLINK;
		mode = S_IFLNK | 0777;
	} else if (n->mode == GIT_FILEMODE_BLOB_EXECUTABLE) {
		mode = S_IFREG | 0755;
	}
	ret = blob_size(&size, n->oid, w, err);
	if (ret < 0)
		return ret;
	op = ops_push(oc->ops, kind, w->dest.buf, w->dest.len, mode);
	op->size = size;
	git_oid_tostr(op->oid, sizeof(op->oid), n->oid);
	ops_push_parents(oc->ops, &oc->last_dir, w->dest.buf, w->dest.len);
	return 0;
}

static int op_cmp(const void *x, const void *y)
{
	const struct cairn_git_op *a = x, *b = y;
	int c = strcmp(a->path, b->path);

	if (c)
		return c;
	return (int)a->kind - (int)b->kind;
}

/* Sort by path (whiteouts first on a tie) and drop repeated directories. */
static void ops_finish(struct cairn_git_ops *ops)
{
	size_t out = 0;

	if (ops->n > 1)
		cairn_sort(ops->v, ops->n, sizeof(*ops->v), op_cmp);
	for (size_t i = 0; i < ops->n; i++) {
		if (out > 0 && op_cmp(&ops->v[out - 1], &ops->v[i]) == 0) {
			free(ops->v[i].path);
			continue;
		}
		ops->v[out++] = ops->v[i];
	}
	ops->n = out;
}

/* Whether `dir` is `to` or above it (both "" or "a/b" style). */
static bool at_or_above(const char *dir, const char *to)
{
	size_t n = strlen(dir);

	return n == 0 || (strncmp(to, dir, n) == 0 && (to[n] == '\0' || to[n] == '/'));
}

/*
 * A patch writes the directories it needs and leaves the others as they are (as `git apply`
 * does): drop the directory entries for `to`, what is above it, and what the selection already
 * had as a directory at `from`, so a chmod or chown of a shell stage stays.
 */
static int drop_existing_dirs(struct cairn_git_ops *ops, struct cairn_git_repo *r, const char *from,
			      const struct filter *f, struct cairn_error **err)
{
	struct side a;
	size_t out = 0, to_len = strlen(f->to);
	int ret = side_load(&a, r, from, f, err);

	if (ret < 0)
		return ret;
	for (size_t i = 0; i < ops->n; i++) {
		struct cairn_git_op *op = &ops->v[i];
		bool replaced = out > 0 && ops->v[out - 1].kind == CAIRN_GIT_OP_WHITEOUT &&
				strcmp(ops->v[out - 1].path, op->path) == 0;
		bool drop = false;

		if (replaced) {
			/* a directory where a file was: it must be written */
		} else if (op->kind == CAIRN_GIT_OP_DIR && at_or_above(op->path, f->to)) {
			drop = true;
		} else if (ret == 0 && op->kind == CAIRN_GIT_OP_DIR && a.root) {
			const char *rel = op->path + (to_len ? to_len + 1 : 0);
			cleanup_free char *repo_path =
				f->add[0] ? xasprintf("%s/%s", f->add, rel) : xstrdup(rel);
			git_tree_entry *e = NULL;
			struct modctx *mod;

			/* after an error every entry is kept, for the caller to free */
			ret = cairn_git_entry_bypath(&e, &mod, r, a.root, a.root_mod, repo_path,
						     err);
			drop = e && (git_tree_entry_filemode(e) == GIT_FILEMODE_TREE ||
				     git_tree_entry_filemode(e) == GIT_FILEMODE_COMMIT);
			git_tree_entry_free(e);
		}
		if (drop)
			free(op->path);
		else
			ops->v[out++] = *op;
	}
	ops->n = out;
	side_release(&a);
	return ret;
}

static int ops_walk(struct cairn_git_ops *out, struct cairn_git_repo *r, const char *from,
		    const char *to_commit, const struct cairn_git_selection *sel, const char *to,
		    bool archive, struct cairn_error **err)
{
	struct filter f;
	struct walk w;
	struct ops_ctx oc = {.ops = out};
	int ret;

	assert(out->n == 0);
	ret = cairn_git_filter_init(&f, sel, to, err);
	if (ret < 0)
		return ret;
	cairn_buf_init(&oc.last_dir, 0);
	cairn_git_walk_init(&w, r, &f);
	w.emit = emit_op;
	w.ud = &oc;
	ret = cairn_git_walk_commits(&w, from, to_commit, err);
	if (ret == 0 && archive) {
		struct side s;

		/* the directories above `to`, and `to` itself unless `add` is a file */
		ret = side_load(&s, r, to_commit, &f, err);
		if (ret == 0) {
			size_t len = strlen(f.to);

			if (len && (!s.node.oid || is_tree(&s.node)))
				ops_push(out, CAIRN_GIT_OP_DIR, f.to, len, S_IFDIR | 0755);
			for (size_t i = 1; i < len; i++) {
				if (f.to[i] == '/')
					ops_push(out, CAIRN_GIT_OP_DIR, f.to, i, S_IFDIR | 0755);
			}
			side_release(&s);
		}
	}
	cairn_git_walk_release(&w);
	cairn_buf_release(&oc.last_dir);
	if (ret == 0)
		ops_finish(out);
	if (ret == 0 && from)
		ret = drop_existing_dirs(out, r, from, &f, err);
	cairn_git_filter_release(&f);
	if (ret < 0) {
		cairn_git_ops_release(out);
		return ret;
	}
	return 0;
}

int cairn_git_archive_ops(struct cairn_git_ops *out, struct cairn_git_repo *r, const char *commit,
			  const struct cairn_git_selection *sel, const char *to,
			  struct cairn_error **err)
{
	return ops_walk(out, r, NULL, commit, sel, to, true, err);
}

int cairn_git_patch_ops(struct cairn_git_ops *out, struct cairn_git_repo *r, const char *from,
			const char *to_commit, const struct cairn_git_selection *sel,
			const char *to, struct cairn_error **err)
{
	return ops_walk(out, r, from, to_commit, sel, to, false, err);
}

/*
 * Checks over two commits
 */

int cairn_git_changed(bool *out, struct cairn_git_repo *r, const char *from, const char *to_commit,
		      const struct cairn_git_selection *sel, struct cairn_error **err)
{
	struct filter f;
	struct walk w;
	int ret;

	*out = false;
	ret = cairn_git_filter_init(&f, sel, NULL, err);
	if (ret < 0)
		return ret;
	cairn_git_walk_init(&w, r, &f);
	w.emit = emit_stop;
	ret = cairn_git_walk_commits(&w, from, to_commit, err);
	cairn_git_walk_release(&w);
	cairn_git_filter_release(&f);
	if (ret < 0)
		return ret;
	*out = ret > 0;
	return 0;
}

struct size_ctx {
	uint64_t total;
};

static int emit_size(struct walk *w, enum change ch, const struct node *n, struct cairn_error **err)
{
	struct size_ctx *sc = w->ud;
	uint64_t size;
	int ret;

	if (ch == CH_DEL || is_tree(n))
		return 0;
	ret = blob_size(&size, n->oid, w, err);
	if (ret < 0)
		return ret;
	sc->total += size;
	return 0;
}

int cairn_git_diff_size(uint64_t *out, struct cairn_git_repo *r, const char *from,
			const char *to_commit, const struct cairn_git_selection *sel,
			struct cairn_error **err)
{
	struct size_ctx sc = {0};
	struct filter f;
	struct walk w;
	int ret;

	*out = 0;
	ret = cairn_git_filter_init(&f, sel, NULL, err);
	if (ret < 0)
		return ret;
	cairn_git_walk_init(&w, r, &f);
	w.emit = emit_size;
	w.ud = &sc;
	ret = cairn_git_walk_commits(&w, from, to_commit, err);
	cairn_git_walk_release(&w);
	cairn_git_filter_release(&f);
	if (ret < 0)
		return ret;
	*out = sc.total;
	return 0;
}
