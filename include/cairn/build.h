/* SPDX-License-Identifier: MIT */
/* Building images as chains of cached stages from werf.yaml into the local store. */
#ifndef CAIRN_BUILD_H
#define CAIRN_BUILD_H

#include <stddef.h>
#include "cairn/common.h"
#include "cairn/digest.h"
#include "cairn/error.h"
#include "cairn/image.h"
#include "cairn/store.h"

#define CAIRN_SIGNATURE_HEX 65

/* The tag prefixes of stage images: `publish --with-stages` and --stages-storage; dimg commands. */
#define CAIRN_STAGE_PREFIX_PUBLISH "image-stage-"
#define CAIRN_STAGE_PREFIX_DIMG "dimgstage-"

/*
 * Labels every stage cairn builds carries in its config, so that a stages cleanup can walk the
 * chains back from the published images: the project, the signature of the stage it stands on,
 * and (import stages) the signatures of the stages it imports from, blank-separated. A base
 * image stage has none of its own.
 */
#define CAIRN_LABEL_STAGE_PROJECT "cairn-stage-project"
#define CAIRN_LABEL_STAGE_PARENT "cairn-stage-parent"
#define CAIRN_LABEL_STAGE_IMPORTS "cairn-stage-imports"

enum cairn_build_event_kind {
	CAIRN_BUILD_IMAGE_BEGIN = 1, /* image */
	CAIRN_BUILD_STAGE_CACHED,    /* image, stage, signature */
	CAIRN_BUILD_STAGE_BEGIN,     /* image, stage, signature: it is being built */
	CAIRN_BUILD_STAGE_OUTPUT,    /* image, stage, line: what its commands print */
	CAIRN_BUILD_STAGE_DONE,	     /* image, stage, signature, seconds, digest */
	CAIRN_BUILD_STAGE_FAILED,    /* image, stage, seconds */
	CAIRN_BUILD_IMAGE_DONE,	     /* image, signature (its last stage), digest */
	/*
	 * with stop_at_missing: image, stage, signature of the first stage that is not stored (none
	 * when the stage stands on an image that is not stored to its end)
	 */
	CAIRN_BUILD_STAGE_MISSING,
};

struct cairn_build_event {
	enum cairn_build_event_kind kind;
	const char *image; /* "backend", or "~" for the unnamed image */
	const char *stage; /* "from", "beforeInstall", ..., "dockerInstructions" */
	const char *signature;
	const struct cairn_digest *digest; /* the stage's manifest */
	const char *line;
	size_t len;
	double seconds;
};

struct cairn_config_dockerfile_source;

struct cairn_build_opts {
	const char *dir;		  /* project directory; NULL: the current one */
	const char *config_file;	  /* NULL: werf.yaml, werf.yml, dappfile.yaml */
	const char *config_templates_dir; /* NULL: the project's .werf/ */
	const char *home;		  /* cairn's home: store/, layers/, tmp/, builds/ */
	const char *const *images;	  /* names to build; none: every image */
	size_t n_images;
	const char *runtime;	      /* OCI runtime; NULL: runc */
	struct cairn_image_opts pull; /* how base images are pulled */
	void (*event)(const struct cairn_build_event *ev, void *ud);
	void *event_ud;
	/*
	 * Only compute signatures and find the stored stages: a missing stage is CAIRN_ENOTFOUND
	 * "image 'X' is not built: stage 'S' missing; run build or build-and-publish".
	 */
	int no_build;
	/*
	 * Distributed stages storage (spec section 6): a stage missing locally is looked up as
	 * REPO:<prefix><signature> (either prefix) and reused from there, its layers downloaded
	 * only when a later stage runs on them; every stage built is pushed there at once.
	 */
	const char *stages_storage;
	const char *stages_prefix; /* NULL: CAIRN_STAGE_PREFIX_PUBLISH */
	/* with no_build: stop an image at its first missing stage instead of failing */
	int stop_at_missing;
	/*
	 * With a stages storage and the caller's registry pool (pull.registries): the project's
	 * use lock in the storage (see cairn_registry_lock) is taken even with no_build, and the
	 * result holds it until cairn_build_result_free(), which the caller calls before freeing
	 * the pool: a publish keeps stages cleanups away until its last tag is written.
	 */
	int keep_lock;
	/*
	 * On failure, *out gets what was done all the same (for a report): the images before
	 * the failing one, and that one with the stages done before it and no signature.
	 */
	int keep_partial;
	/*
	 * The host socket of an ssh agent (as $SSH_AUTH_SOCK names it) that the commands of every
	 * stage may use: bind-mounted at /.cairn/ssh-auth-sock, with SSH_AUTH_SOCK set to that, as
	 * werf mounts its agent. NULL, or a path that is no socket: none. It is in no signature,
	 * and neither the socket nor its mount point is in any layer.
	 */
	const char *ssh_auth_sock;
	/* no config: one unnamed image of this Dockerfile (`cairn build --dockerfile`) */
	const struct cairn_config_dockerfile_source *dockerfile;
	/*
	 * What RUN --mount=type=secret,id=ID mounts (docker build --secret): "id=ID,src=FILE",
	 * "id=ID,env=VAR", or "id=ID" (the variable ID). In no signature, layer or message.
	 */
	const char *const *secrets;
	size_t n_secrets;
};

#define CAIRN_BUILD_OPTS_INIT                 \
	{                                     \
		.pull = CAIRN_IMAGE_OPTS_INIT \
	}

struct cairn_build_stage {
	char *name;
	char signature[CAIRN_SIGNATURE_HEX];
	struct cairn_descriptor desc; /* its manifest in the store */
	int cached;
	double seconds;
};

struct cairn_build_image {
	char *name; /* NULL: the unnamed image */
	int artifact;
	/* with stop_at_missing: it stopped at a missing stage; `signature` is its last stored one
	 */
	int incomplete;
	char signature[CAIRN_SIGNATURE_HEX]; /* its last stage's */
	struct cairn_descriptor desc;	     /* its last stage's manifest */
	struct cairn_build_stage *stages;
	size_t n_stages;
};

struct cairn_registry_lock;

struct cairn_build_result {
	char *project;
	struct cairn_build_image *images; /* in build order, dependencies first */
	size_t n_images;
	struct cairn_registry_lock *lock; /* held for the caller: see keep_lock */
};

/**
 * Build the images of the project (spec sections 2-4): every stage whose signature is in the
 * store is reused, the others are built and stored as `<project>:<signature>`. On failure
 * nothing half-built is stored and earlier stages stay. `*out` (free with
 * cairn_build_result_free) lists every image and stage. CAIRN_EINVAL for a bad config (naming
 * file, line and column), CAIRN_EINTERNAL when a command fails (naming image, stage and status).
 */
CAIRN_API int cairn_build(struct cairn_build_result **out, const struct cairn_build_opts *o,
			  struct cairn_error **err);
CAIRN_API void cairn_build_result_free(struct cairn_build_result *r);

/**
 * HEAD of the git repository holding `dir`: the 40-hex commit into `commit` and the branch
 * (a new string, NULL when detached) into `*branch`. CAIRN_ENOTFOUND when `dir` is in no
 * repository or it has no commit.
 */
CAIRN_API int cairn_project_git_head(char commit[41], char **branch, const char *dir,
				     struct cairn_error **err);

/**
 * The tag of a stage image, `<prefix><signature>` (prefix: a CAIRN_STAGE_PREFIX_*), as stages
 * storages and --with-stages name stages. A new string the caller frees.
 */
CAIRN_API char *cairn_stage_tag(const char *prefix, const char *signature);

/**
 * The reference of a stage image in repository `repo` (its tag and digest ignored):
 * `<repo>:<prefix><signature>`, into `*out` (release it with cairn_ref_release()).
 */
CAIRN_API void cairn_stage_ref(struct cairn_ref *out, const struct cairn_ref *repo,
			       const char *prefix, const char *signature);

/** An ssh-agent of cairn's own, holding the keys of --ssh-key. */
struct cairn_ssh_agent;

/**
 * Start `ssh-agent` (openssh-client, found in PATH) on a socket in a new private directory
 * (mode 0700) under $TMPDIR, else /tmp, and add each of the private key files `keys` with
 * `ssh-add`, as werf's --ssh-key does. A key with a passphrase is refused (nothing is asked).
 * The agent lives until cairn_ssh_agent_free(); should cairn be killed, it ends by itself
 * within about 10 seconds. Nothing of a key is ever logged or put in an error message.
 * CAIRN_ENOTFOUND when a key file or the ssh-agent or ssh-add program is missing, CAIRN_EINVAL
 * when a key is no regular file or ssh-add refuses it, CAIRN_EOS when a key cannot be read or
 * the agent not started, CAIRN_EINTERRUPTED when cairn is interrupted meanwhile.
 */
CAIRN_API int cairn_ssh_agent_start(struct cairn_ssh_agent **out, const char *const *keys,
				    size_t n_keys, struct cairn_error **err);

/** The agent's socket, for SSH_AUTH_SOCK; borrowed, valid until cairn_ssh_agent_free(a). */
CAIRN_API const char *cairn_ssh_agent_socket(const struct cairn_ssh_agent *a);

/**
 * Stop the agent (SIGTERM, then SIGKILL after 5 s), wait until it has exited, remove its
 * directory and free `a`. Accepts NULL.
 */
CAIRN_API void cairn_ssh_agent_free(struct cairn_ssh_agent *a);

/** H(a1, ..., an): lowercase hex SHA-256 of the arguments joined with ":::". */
CAIRN_API void cairn_signature_hash(char out[CAIRN_SIGNATURE_HEX], const char *const *args,
				    size_t n);

/**
 * `stages gc` of the home `home` whose store is `st`: cairn_store_gc(), then the unpacked
 * layers (`<home>/layers`) no stored image lists, both only when older than `grace_secs`.
 */
CAIRN_API int cairn_stages_gc(struct cairn_store *st, const char *home, int64_t grace_secs,
			      struct cairn_store_gc_stats *stats, struct cairn_error **err);

#endif
