/* SPDX-License-Identifier: MIT */
/* What the files of config/ share: the YAML node tree, the reading context, the field tables. */
#ifndef CAIRN_CONFIG_CONFIG_INTERNAL_H
#define CAIRN_CONFIG_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/config.h"
#include "config/yaml_text.h"
#include "util/buf.h"

/*
 * The data's way through config/: load.c finds and renders the file and drives the rest; yaml.c
 * builds a node tree from it, document by document; document.c reads each document into the
 * model with its field tables (docker.c holds the docker directives), through fields.c, the
 * generic reader; graph.c links the images. Names shared between these files carry cfg_;
 * file-local ones are static and unprefixed.
 */

/* how much of a key or name a message quotes */
#define SHOWN_MAX 64

/*
 * The YAML tree. libfyaml 0.7 gives no positions for collection nodes of its documents, and
 * resolving a document copies every alias (an alias bomb would copy exponentially), so the
 * tree is built here from parser events: an alias is a second pointer to the anchored node.
 */
enum ykind {
	Y_SCALAR,
	Y_SEQ,
	Y_MAP,
};

struct ynode {
	enum ykind kind;
	bool plain; /* scalar: plain style without a tag, so it may be null or a boolean */
	struct cairn_config_pos pos;
	char *text; /* scalar: NUL-terminated; `len` may include NULs */
	size_t len;
	const struct ynode **kids; /* sequence: items; mapping: key, value, key, value, ... */
	size_t n_kids;
	size_t alloc_kids;
	unsigned int height; /* levels of collections in it, through aliases (0 for a scalar) */
	char *anchor;	     /* until the node is complete */
};

/* An open-addressing hash map from borrowed byte strings to borrowed pointers. */
struct smap_slot {
	const char *key;
	size_t len;
	const void *value;
};

struct smap {
	struct smap_slot *slots;
	size_t n;
	size_t cap;
};

/* A key and its value in a mapping, with `<<` merges applied. */
struct entry {
	const struct ynode *key;
	const struct ynode *value;
};

struct entries {
	struct entry *v;
	size_t n;
	size_t alloc;
};

/* The keys a document used where there are aliases, so that messages name what was written. */
struct image_keys {
	const char *name;	   /* "image", "dimg" or "artifact" */
	const char *from_image;	   /* "fromImage" or "fromDimg" */
	const char *from_artifact; /* "fromImageArtifact" or "fromDimgArtifact" */
};

struct ctx {
	const char *file;
	struct cairn_error **err;
	struct cairn_buf path; /* the key being read, e.g. "git[0].to" */
	struct cairn_config *cfg;
	struct image_keys *keys; /* parallel to cfg->images */
	size_t alloc_keys;
	bool have_meta;
	bool dappfile;	   /* a dappfile: the meta document is optional */
	bool artifact;	   /* the document being read is an artifact */
	struct smap noted; /* keys already noted as ignored, to note each once */
	size_t n_built;	   /* YAML nodes built, over the whole file */
	size_t n_read;	   /* YAML nodes read into the model, aliases counted at each use */
	size_t text_read;  /* bytes of their scalars */
	struct cairn_config_pos last; /* position of the last event that had one */

	/* the document being built */
	struct ynode **nodes; /* every node, to free them */
	size_t n_nodes;
	size_t alloc_nodes;
	struct ynode **stack; /* open collections */
	size_t depth;
	size_t alloc_stack;
	const struct ynode *root;
	struct smap anchors;
};

/* ---- the field tables ---- */

/* Value flags of struct field */
enum {
	F_REQUIRED = 1 << 0,	  /* missing (or null) is an error */
	F_EMPTY_OK = 1 << 1,	  /* "" is a valid value (of a string, or of list items) */
	F_NO_ARTIFACT = 1 << 2,	  /* not allowed in an artifact */
	F_SHELL_FORM = 1 << 3,	  /* a string S is the list {"/bin/sh", "-c", S} */
	F_IGNORED = 1 << 4,	  /* werf's, checked by fn and noted at debug level, not kept */
	F_UNSUPPORTED = 1 << 5,	  /* werf's, not in cairn yet: an error naming `note` */
	F_DAPP_ARTIFACT = 1 << 6, /* only in an artifact of a dappfile (the 2018 tool's) */
	F_DAPPFILE = 1 << 7,	  /* only in a dappfile: the 2018 tool's, dropped by werf v1.0 */
	F_WORDS = 1 << 8,	  /* list items are split at whitespace (EXPOSE "80 443") */
	F_JSON_WORDS = 1 << 9,	  /* with F_WORDS: an item that is a JSON array is its strings */
};

/* NULL, or why `s` is not a valid value */
typedef const char *(*check_fn)(const char *s, size_t len);

enum ftype {
	T_STR,	/* struct cairn_config_str at off */
	T_LIST, /* struct cairn_config_list at off */
	T_BOOL, /* struct cairn_config_bool at off */
	T_MAP,	/* sub fields, same base; the mapping's struct cairn_config_pos at off */
	T_SEQ,	/* list of mappings: array at off, size_t count at count_off, each checked by fn */
	T_FN,	/* fn reads it */
	T_NAME, /* image, dimg, artifact: read by the document */
	T_SKIP, /* not kept: fn (optional) checks it; with F_IGNORED or F_UNSUPPORTED */
};

struct field;
typedef int (*field_fn)(struct ctx *x, const struct field *f, const struct ynode *n, void *p);

struct field {
	const char *key;
	enum ftype type;
	unsigned int flags;
	size_t off;
	check_fn check;
	const struct field *sub;
	size_t elem_size;
	size_t count_off;
	field_fn fn;
	const char *note; /* F_IGNORED: why it can be ignored; F_UNSUPPORTED: what is missing */
};

/* A copy of `n` as a struct cairn_config_value; on failure *out holds what was copied. */
int cfg_copy_value(struct ctx *x, struct cairn_config_value *out, const struct ynode *n);
/* docker.c: a mapping of strings (ENV, LABEL, args) into cairn_config_kv at off, count_off */
int cfg_read_kv(struct ctx *x, const struct field *f, const struct ynode *n, void *base);
/* ansible.c: `ansible.<stage>`, checked against werf's modules and kept as written */
int cfg_read_ansible_tasks(struct ctx *x, const struct field *f, const struct ynode *n, void *base);

#define AT(base, off) ((void *)((char *)(base) + (off)))

#define CFG(m) offsetof(struct cairn_config, m)
#define IMG(m) offsetof(struct cairn_config_image, m)
#define GIT(m) offsetof(struct cairn_config_git, m)
#define IMP(m) offsetof(struct cairn_config_import, m)
#define MNT(m) offsetof(struct cairn_config_mount, m)

/* the longest project name */
#define PROJECT_MAX 49

/* ---- yaml.c: the node tree, its mappings, the parser ---- */

const void *cfg_smap_get(const struct smap *m, const char *key, size_t len);
void cfg_smap_put(struct smap *m, const char *key, size_t len, const void *value);
void cfg_smap_release(struct smap *m);
void cfg_entries_release(struct entries *e);
void *cfg_grow(void *v, size_t *alloc, size_t n, size_t size);
bool cfg_is(const struct ynode *n, const char *s);
bool cfg_is_null(const struct ynode *n);
int cfg_map_entries(struct ctx *x, const struct ynode *map, struct entries *out);
void cfg_free_nodes(struct ctx *x);
/* cfg_yaml_unreadable() and cfg_yaml_trap() as a located error of the config. */
int cfg_check_text(struct ctx *x, const char *text, size_t len);
int cfg_parse_yaml(struct ctx *x, const char *text, size_t len);

/* ---- fields.c: errors, the key path, reading values and fields ---- */

void cfg_show(char out[SHOWN_MAX + 4], const char *s, size_t len);
bool cfg_pos_before(struct cairn_config_pos a, struct cairn_config_pos b);
int cfg_fail(struct ctx *x, int code, struct cairn_config_pos pos, const char *fmt, ...)
	CAIRN_PRINTF(4, 5);
#define invalid(x, pos, ...) cfg_fail((x), CAIRN_EINVAL, (pos), __VA_ARGS__)
size_t cfg_path_key(struct ctx *x, const char *key, size_t len);
size_t cfg_path_index(struct ctx *x, size_t i);
void cfg_path_pop(struct ctx *x, size_t len);
int cfg_charge(struct ctx *x, const struct ynode *n);
int cfg_read_str(struct ctx *x, const struct ynode *n, struct cairn_config_str *out,
		 unsigned int flags, check_fn check);
void cfg_list_add(struct cairn_config_list *l, const char *s, struct cairn_config_pos pos);
void cfg_list_release(struct cairn_config_list *l);
int cfg_read_bool(struct ctx *x, const struct ynode *n, struct cairn_config_bool *out);
int cfg_read_fields(struct ctx *x, const struct ynode *map, const struct field *fields, void *base);

/* ---- document.c: the documents and their checks ---- */

const char *cfg_check_project(const char *s, size_t len);
void cfg_value_release(struct cairn_config_value *v);
/* keep_policies.c: cleanup.keepPolicies of c->cleanup into c->keep_policies, checked */
int cfg_read_keep_policies(struct ctx *x, struct cairn_config *c);
void cfg_keep_policies_release(struct cairn_config *c);
int cfg_go_duration(int64_t *out, const char *s);
char *cfg_go_regexp(const char *go, char bad[3]);
int cfg_process_document(struct ctx *x, const struct ynode *root);

/* ---- docker.c: the docker directives ---- */

void cfg_kv_release(struct cairn_config_kv *kv, size_t n);
extern const struct field cfg_docker_fields[];

/* ---- graph.c: the images linked ---- */

int cfg_check_names(struct ctx *x);
int cfg_resolve_all(struct ctx *x);
int cfg_check_cycles(struct ctx *x);
int cfg_auto_exclude(struct ctx *x);

#endif
