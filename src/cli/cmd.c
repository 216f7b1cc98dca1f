/* SPDX-License-Identifier: MIT */
/* The command table, the help of every command, and the dispatch. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#include <getopt.h>

/* the tag and publish options, shared by the help of every publishing command */
#define TAG_HELP                                                                      \
	"Tag options (repeatable, any mix; none: latest):\n"                          \
	"  --tag, --tag-slug, --tag-custom TAG   slugified\n"                         \
	"  --tag-plain TAG                        as given (must be a valid tag)\n"   \
	"  --tag-branch, --tag-git-branch B       git branch (slugified)\n"           \
	"  --tag-git-tag T                        git tag (slugified)\n"              \
	"  --tag-commit, --tag-git-commit C       git commit\n"                       \
	"  --tag-build-id, --tag-ci               from GitLab CI, Travis or GitHub\n" \
	"                                         Actions variables\n"                \
	"  --tag-by-stages-signature              each image's stages signature\n"    \
	"Options: --with-stages, --manifest-format docker|oci, --dir, --config,\n"    \
	"  --report FILE [--report-format json|envfile], --ssh-key FILE (see\n"       \
	"  'cairn help build'), and the\n"                                            \
	"  registry options of 'cairn help image'.\n"                                 \
	"--dry-run builds and sends nothing: the stages stored, the first one to\n"   \
	"build ([TO BUILD]), and each reference a publish would write\n"              \
	"([WOULD PUSH], on stdout; images not built yet are left out).\n"

static const struct cli_cmd commands[] = {
	{
		.name = "slugify",
		.run = cmd_slugify,
		.usage = "cairn slugify -f tag|ns|release STRING",
		.summary = "print the slug of STRING",
		.help = "Print STRING made safe for use as a docker tag (-f tag), a Kubernetes\n"
			"namespace (-f ns) or a Helm release name (-f release). A string that is\n"
			"already valid is printed unchanged; otherwise it is cleaned and cropped, and a\n"
			"hash of the original is appended so distinct inputs stay distinct.\n"
			"\n"
			"Options:\n"
			"  -f, --format FORMAT   tag, ns or release (required); werf's names work\n"
			"                        too: docker-tag, kubernetes-namespace, helm-release\n"
			"                        (or r)\n",
	},
	{
		.name = "inspect",
		.run = cmd_inspect,
		.usage = "cairn inspect [OPTIONS] [IMAGE]",
		.summary = "print a built image's config, layers and stage chain as JSON",
		.help = "Prints IMAGE of werf.yaml (the only image when none is named; '~' for the\n"
			"unnamed one), as built, as JSON: project, name, signature, manifest digest,\n"
			"mediaType and size, the image config (labels, env, cmd...), the layers and\n"
			"the stage chain (name, signature, digest of each stage, base first).\n"
			"Nothing is built: an image not built is an error.\n"
			"\n"
			"Options:\n"
			"  --dir DIR, --config FILE, --config-templates-dir DIR  as for build\n"
			"  -s, --stages-storage REPO  stages may come from REPO\n",
	},
	{
		.name = "export",
		.timed = 1,
		.run = cmd_export,
		.usage = "cairn export [OPTIONS] [IMAGE] DEST",
		.summary = "write a built image to a file docker load or skopeo reads",
		.help = "Writes IMAGE of werf.yaml (the only image when none is named; '~' for\n"
			"the unnamed one), as built, to DEST:\n"
			"  docker-archive:FILE[:NAME:TAG]  docker save's format: 'docker load -i FILE'\n"
			"  oci-archive:FILE[:NAME]         a tar of an OCI image layout\n"
			"  oci:DIR[:NAME]                  an OCI image layout (created or added to)\n"
			"NAME defaults to PROJECT/IMAGE:SIGNATURE. Nothing is built: an image not\n"
			"built is an error.\n"
			"\n"
			"Options:\n"
			"  --dir DIR, --config FILE, --config-templates-dir DIR  as for build\n"
			"  -s, --stages-storage REPO  stages (and their layers) may come from REPO\n"
			"and the registry options of 'cairn help image'.\n",
	},
	{
		.name = "build",
		.timed = 1,
		.run = cmd_build,
		.usage = "cairn build [OPTIONS] [IMAGE...] | --dockerfile FILE [CONTEXT]",
		.summary = "build the images of werf.yaml into the local store",
		.help = "Builds every stage of the named images (all images when none is named)\n"
			"and of what they depend on. A stage whose signature is already stored is\n"
			"reused; the others run and are stored as PROJECT:SIGNATURE in HOME/store.\n"
			"\n"
			"Options:\n"
			"  --dir DIR          the project directory (default: the current one)\n"
			"  --config FILE      the config (default werf.yaml, werf.yml, dappfile.yaml)\n"
			"  --runtime NAME     the OCI runtime for shell stages (default runc)\n"
			"  --report FILE      write a report (also when the run fails): every image\n"
			"                     and stage, every reference published with its digest\n"
			"                     (--report-path FILE: werf's spelling)\n"
			"  --report-format json|envfile  envfile: CAIRN_<IMAGE>_DOCKER_IMAGE_NAME=REF\n"
			"                     and WERF_<IMAGE>_DOCKER_IMAGE_NAME=REF lines to source\n"
			"  --stages-storage REPO  reuse stages from REPO (a registry) and push every\n"
			"                     stage built there: a shared cache for build hosts;\n"
			"                     ':local' (as werf v1.0 writes it): the local store only\n"
			"  --dry-run          build nothing: show the stages stored and, per image,\n"
			"                     the first one a build would build ([TO BUILD])\n"
			"  --dockerfile FILE  (-f, --file) no werf.yaml: one image, FILE built as\n"
			"                     docker build does, the operand the context (default\n"
			"                     the project); --target STAGE, --build-arg NAME[=VALUE],\n"
			"                     --ssh default (the agent for RUN --mount=type=ssh)\n"
			"  --secret id=ID[,src=FILE|,env=VAR]  what RUN --mount=type=secret,id=ID\n"
			"                     mounts (ID alone: the variable ID), as docker build\n"
			"                     (also for publish and build-and-publish)\n"
			"  --ssh-key FILE     use only this private key for ssh in stages and git\n"
			"                     fetches (repeatable): cairn runs an ssh-agent holding\n"
			"                     the keys given, in place of the agent of $SSH_AUTH_SOCK\n"
			"                     (which the stages get at /.cairn/ssh-auth-sock otherwise)\n"
			"  -j, --jobs N       images built side by side (default 4: while one\n"
			"                     runs a container, others go on; their output is\n"
			"                     shown image by image), and blobs pulled at once\n"
			"  --insecure-registry HOST, --docker-config DIR,\n"
			"  --registry-username U, --registry-password P, --certs-dir DIR,\n"
			"  --registry-timeout SECONDS\n"
			"                     how base images are pulled (see 'cairn help image')\n",
	},
	{
		.name = "publish",
		.timed = 1,
		.run = cmd_publish,
		.usage = "cairn publish [IMAGE...] -i|--images-repo REPO [TAG OPTIONS]",
		.summary = "publish built images (and with --with-stages their stages)",
		.help = "Pushes each built image as REPO/NAME:TAG (REPO:TAG for the unnamed one),\n"
			"stages as REPO:image-stage-SIGNATURE. Images must be built.\n"
			"  --images-repo-mode multirepo|monorepo|auto\n"
			"                     monorepo: REPO:NAME-TAG; auto (default): monorepo for a\n"
			"                     Docker Hub ACCOUNT/REPO or quay.io NAMESPACE/REPO, as werf\n"
			"  --images-repo-implementation NAME   accepted, as werf's (same API for all)\n"
			"\n" TAG_HELP,
	},
	{
		.name = "build-and-publish",
		.timed = 1,
		.run = cmd_build_and_publish,
		.usage = "cairn build-and-publish [IMAGE...] -i|--images-repo REPO [TAG OPTIONS]",
		.summary = "build, then publish, in one process",
		.help = "As build, then publish (see 'cairn help publish'); also --runtime and\n"
			"-s|--stages-storage REPO (see 'cairn help build').\n\n" TAG_HELP,
	},
	{
		.name = "dimg",
		.run = cmd_dimg,
		.usage = "cairn dimg push|bp [OPTIONS] [DIMG...] REPO | cairn dimg spush [OPTIONS] "
			 "[DIMG] REPO | cairn dimg stages pull [--all] [DIMG...] REPO",
		.summary = "push (push), build and push (bp) or simple-push (spush) dimgs",
		.help = "push: each built dimg as REPO/NAME:TAG (REPO:TAG when unnamed); stages\n"
			"  with --with-stages as REPO:dimgstage-SIGNATURE.\n"
			"bp: build, then push.\n"
			"spush: one dimg to REPO:TAG as given; DIMG may be left out only when the\n"
			"  config has a single image.\n"
			"stages pull [--all] [DIMG...] REPO: the newest stage of each dimg that REPO\n"
			"  holds (every one with --all) into the local store, layers included.\n\n" TAG_HELP,
	},
	{
		.name = "render",
		.run = cmd_render,
		.usage = "cairn render [--dir DIR] [--config FILE]",
		.summary = "print werf.yaml as its Go templates render it",
		.help = "Renders the config (werf.yaml, werf.yml or dappfile.yaml; --config FILE)\n"
			"with the templates of .werf/**/*.tmpl, env, .Files.Get and the other\n"
			"functions cairn supports, and prints the YAML that build would parse.\n",
	},
	{
		.name = "ci-env",
		.run = cmd_ci_env,
		.usage = "cairn ci-env gitlab|github|travis|generic [--as-file|--as-env-file] "
			 "[--shell sh|powershell] [-o FILE] [--tagging-strategy S]",
		.summary = "print the environment werf's ci-env sets up for a CI job",
		.help = "Prints the variables `werf ci-env` (werf v1.1) prints, with its names and\n"
			"values, as a script to source or eval:\n"
			"  eval \"$(cairn ci-env gitlab)\"   or   . \"$(cairn ci-env gitlab --as-file)\"\n"
			"gitlab: WERF_IMAGES_REPO=$CI_REGISTRY_IMAGE, WERF_STAGES_STORAGE=\n"
			"  $CI_REGISTRY_IMAGE/stages, annotations from CI_PROJECT_URL, CI_COMMIT_SHA,\n"
			"  CI_PIPELINE_ID, CI_JOB_ID; WERF_ENV=$CI_ENVIRONMENT_SLUG.\n"
			"github: docker.pkg.github.com/$GITHUB_REPOSITORY (lower case) when the project\n"
			"  has a werf.yaml (/PROJECT added for an unnamed image); WERF_REPO_GITHUB_TOKEN\n"
			"  refers to $GITHUB_TOKEN.\n"
			"travis, generic: no registry; travis takes its tag or branch from TRAVIS_TAG\n"
			"  or TRAVIS_BRANCH.\n"
			"Every variant: DOCKER_CONFIG, a new private directory holding a copy of the\n"
			"docker config (--docker-config, $DOCKER_CONFIG or ~/.docker) plus the CI\n"
			"registry's credentials (gitlab-ci-token:$CI_JOB_TOKEN for the host of\n"
			"$CI_REGISTRY_IMAGE; $GITHUB_ACTOR:$GITHUB_TOKEN for docker.pkg.github.com),\n"
			"tagging, cleanup policies and log settings. A variable already set in the\n"
			"environment is left as it is (but DOCKER_CONFIG). Values are quoted so any\n"
			"bytes come through; secrets are never printed.\n"
			"\n"
			"Options:\n"
			"  --tagging-strategy S   stages-signature (default: WERF_TAG_BY_STAGES_SIGNATURE)\n"
			"                         or tag-or-branch (WERF_TAG_GIT_TAG or\n"
			"                         WERF_TAG_GIT_BRANCH, slugified, from the CI)\n"
			"  --as-file              write the script to a new file and print its path\n"
			"  --as-env-file          write NAME=value lines (an env file) instead\n"
			"  -o, --output-file-path FILE  with --as-file/--as-env-file: write FILE\n"
			"                         and print nothing\n"
			"  --shell, --shell-type SHELL  sh (default) or powershell\n"
			"  --docker-config DIR    the docker config to copy\n"
			"  --tmp-dir DIR          where the files go (default $TMPDIR, else /tmp)\n"
			"  --dir DIR, --config FILE  the project (github: its werf.yaml)\n"
			"werf's log options (--log-verbose, --log-color-mode, ...) are accepted.\n"
			"A missing CI variable is an error naming it; the printed script then\n"
			"is 'exit 1', so a job that evaluates it stops, as with werf.\n",
	},
	{
		.name = "stages",
		.run = cmd_stages,
		.usage =
			"cairn stages ls | cairn stages gc [--grace SECONDS] | cairn stages cleanup "
			"-i REPO -s STAGES_REPO [--grace SECONDS] [--dry-run]",
		.summary =
			"list the local store, delete what nothing references, clean the stages storage",
		.help = "ls: every named stage and image of HOME/store: NAME DIGEST SIZE AGE\n"
			"gc: remove the blobs no named manifest references and the unpacked\n"
			"    layers no stored image uses, when older than --grace (default 3600 s,\n"
			"    so a build in progress keeps what it wrote but has not named yet),\n"
			"    and the temporary blobs killed cairn processes left, as old. It waits\n"
			"    until no other cairn uses the store (builds, pulls), up to 600 s\n"
			"cleanup: delete the stage tags of the stages storage STAGES_REPO that no\n"
			"    image the project published in REPO stands on (each stage names the one\n"
			"    below it and those it imports from; the chains are walked back from the\n"
			"    published images). Stages of other projects, base images and stages\n"
			"    stored by a cairn that did not name the stage below stay. A stage goes\n"
			"    once cleanups have found it unused for --grace seconds (default 7200, as\n"
			"    werf's two hours: builds in progress keep their stages); the stages\n"
			"    storage keeps those times under the tag cairn-stages-unused.\n"
			"    --dry-run lists; the registry options are those of 'cairn help images'.\n"
			"    It holds the project's lock in STAGES_REPO (a tag cairn-lock-clean-*):\n"
			"    builds with that stages storage wait, and it waits for those running,\n"
			"    up to --lock-timeout SECONDS (default 600; -1: for ever).\n",
	},
	{
		.name = "images",
		.run = cmd_images,
		.usage = "cairn images cleanup -i|--images-repo REPO [--dry-run] [OPTIONS]\n"
			 "       cairn images ls [OPTIONS]",
		.summary = "list the project's images; delete tags whose git ref is gone",
		.help = "ls: each image and artifact of werf.yaml with its signature, built or the\n"
			"first stage a build would build, and its size in the store (--dir,\n"
			"--config, -s STAGES as for build; nothing is built).\n"
			"\n"
			"cleanup: werf's cleanup by tagging scheme. Of the tags cairn published for\n"
			"the project's images in REPO, deletes the git-branch tags whose branch is\n"
			"no longer a branch of the remote origin, the git-tag tags whose git tag is\n"
			"gone and the git-commit tags whose commit the repository lacks. Custom, CI\n"
			"and stages-signature tags stay, and so does a tag sharing its manifest with\n"
			"one that stays. Needs a registry that allows deleting manifests.\n"
			"\n"
			"Options:\n"
			"  --dry-run                 print what would be deleted, delete nothing\n"
			"  --keep-images-from FILE   references in use (one per line): never deleted\n"
			"  --allow-git-shallow-clone clean from a shallow clone (refused otherwise)\n"
			"  --images-repo-mode, --images-repo-implementation, --dir, --config,\n"
			"  --config-templates-dir, and the registry options of 'cairn help image'\n"
			"  --git-tag-strategy-limit N, --git-tag-strategy-expiry-days DAYS,\n"
			"  --git-commit-strategy-limit N, --git-commit-strategy-expiry-days DAYS\n"
			"                            werf's: of the git-tag (git-commit) tags left, delete\n"
			"                            those published DAYS ago or more, then all but the\n"
			"                            N newest (-1: none, the default)\n"
			"  --git-history-based-cleanup  werf's git-history based policy (also when\n"
			"                            werf.yaml has cleanup.keepPolicies): keep the tags\n"
			"                            whose stages signature a kept branch or tag reaches;\n"
			"                            needs -s STAGES_REPO (the commit records of publish)\n"
			"  --git-history-based-cleanup-v1.2  the same, and tags no record names go too\n",
	},
	{
		.name = "cleanup",
		.timed = 1,
		.run = cmd_cleanup,
		.usage =
			"cairn cleanup -i|--images-repo REPO [-s|--stages-storage REPO] [--dry-run] "
			"[OPTIONS]",
		.summary =
			"images cleanup, then stages cleanup (see 'cairn help images', 'stages')",
		.help = "The images cleanup of 'cairn help images', then with --stages-storage the\n"
			"stages cleanup of 'cairn help stages' over the images that stay (with\n"
			"--dry-run, those the images cleanup would keep). --grace SECONDS as there.\n"
			"The 2018 spellings: 'dimg cleanup repo [--with-stages] REPO' (stages in\n"
			"REPO), 'dimg flush repo [--with-stages] REPO' (a purge), 'dimg stages\n"
			"cleanup repo REPO' and 'dimg stages flush repo REPO' (every stage).\n",
	},
	{
		.name = "purge",
		.timed = 1,
		.run = cmd_purge,
		.usage = "cairn purge -i|--images-repo REPO [-s|--stages-storage REPO] --force",
		.summary = "delete every image and stage of the project from the registries",
		.help = "Deletes every tag cairn published for the project's images in REPO (copies\n"
			"under another name, other projects' tags and --keep-images-from stay), and\n"
			"with --stages-storage every stage tag there (image-stage-*, dimgstage-*: the\n"
			"stages storage is taken as the project's). Needs --force; --dry-run lists.\n"
			"Options as 'cairn help images'.\n",
	},
	{
		.name = "host",
		.timed = 1,
		.run = cmd_host,
		.usage =
			"cairn host cleanup [--max-size SIZE] [--dry-run] [--lock-timeout SECONDS]",
		.summary = "keep this host's store and unpacked layers under a size",
		.help = "cleanup: once no other cairn of this host has the store open (builds that\n"
			"    start meanwhile wait), remove what no name references, then, while the\n"
			"    named images and their unpacked layers take more than SIZE, the stage\n"
			"    used least recently (a build touches each stage it reuses) that no kept\n"
			"    stage stands on, and what it alone held. Names that are no stage stay.\n"
			"  --max-size SIZE        bytes, with K, M, G or T (powers of 1024), or N% of\n"
			"                         the disk of the home (default 10G)\n"
			"  --dry-run              print what would go, remove nothing\n"
			"  --lock-timeout SECONDS wait this long for the other cairn (default 600;\n"
			"                         -1: for ever)\n",
	},
	{
		.name = "login",
		.run = cmd_login,
		.usage =
			"cairn login -u USER -p PASSWORD|--password-stdin [--docker-config DIR] HOST",
		.summary = "store credentials for a registry in the docker config",
		.help = "Writes the auths entry of HOST (docker.io: Docker Hub) into DIR/config.json\n"
			"(default $DOCKER_CONFIG, else ~/.docker), mode 0600, as docker login does;\n"
			"cairn, docker, skopeo and werf then use it. A credential helper that owns\n"
			"HOST in that config (credsStore, credHelpers) is left to docker login.\n"
			"The credentials are not checked against the registry.\n",
	},
	{
		.name = "logout",
		.run = cmd_logout,
		.usage = "cairn logout [--docker-config DIR] HOST",
		.summary = "remove the credentials of a registry from the docker config",
		.help = "",
	},
	{
		.name = "image",
		.run = cmd_image,
		.usage = "cairn image pull [OPTIONS] REF | cairn image push [OPTIONS] NAME REF",
		.summary = "pull an image into the local store, or push one from it",
		.help = "pull REF        fetch REF (host/repo:tag or @sha256:...) into the store;\n"
			"                for a multi-platform index, the host's platform\n"
			"push NAME REF   push the store's image NAME to REF (tag default latest);\n"
			"                one request when the registry already has it\n"
			"The image's digest is printed on stdout; progress goes to stderr.\n"
			"\n"
			"Options:\n"
			"  -j, --jobs N                 blobs moved in parallel (default 4); publish\n"
			"                               pushes that many images side by side\n"
			"  --insecure-registry HOST     allow plain HTTP and unverified TLS for HOST\n"
			"                               (repeatable; loopback may use HTTP anyway)\n"
			"  --docker-config DIR          docker config dir (default $DOCKER_CONFIG,\n"
			"                               else ~/.docker)\n"
			"  --registry-username USER     credentials (with --registry-password) for\n"
			"  --registry-password PASS     the registry of the images repository and the\n"
			"                               stages storage (of REF for image pull/push);\n"
			"                               other registries: docker config or anonymous\n"
			"  --certs-dir DIR              per-registry CAs and client certs, as\n"
			"                               DIR/HOST:PORT/ca.crt (default /etc/docker/certs.d)\n"
			"  --registry-timeout SECONDS   end a request when no byte moves for SECONDS\n"
			"                               (default 30); manifests, tokens and errors\n"
			"                               also when not complete in 4 times that\n"
			"  --name NAME                  pull: store the image as NAME (default: REF)\n"
			"  --platform OS/ARCH[/VARIANT] pull: the platform to take from an index\n",
	},
	{
		.name = "toolchain",
		.run = cmd_toolchain,
		.usage = "cairn toolchain build|path|info",
		.summary = "assemble or show the toolchain mounted into stage containers",
		.help = "Shell stages run in containers with cairn's toolchain mounted read-only\n"
			"at /.cairn/toolchain: bash (the shell of images without one), python3\n"
			"with ansible and python-apt, GNU tar, sudo, useradd, groupadd, unzip, made\n"
			"from the build host's Debian packages so they run on any image. It is\n"
			"assembled once into HOME/toolchain/ID, ID a hash of the versions of the\n"
			"packages it takes, and again when they change.\n"
			"\n"
			"build   assemble it again, even when it is there; print its directory\n"
			"path    print its directory (assembled first when needed)\n"
			"info    its directory, size and packages\n",
	},
	{
		.name = "completion",
		.run = cmd_completion,
		.usage = "cairn completion bash|zsh",
		.summary = "print a shell completion script",
		.help = "Prints the completion of cairn's commands and options for bash or zsh:\n"
			"  source <(cairn completion bash)\n"
			"Installed builds put it where bash-completion and zsh find it.\n",
	},
	{
		.name = "version",
		.run = cmd_version,
		.usage = "cairn version",
		.summary = "print the version of cairn",
		.help = "",
	},
	{
		.name = "help",
		.run = cmd_help,
		.usage = "cairn help [COMMAND]",
		.summary = "show the commands, or the help of one command",
		.help = "",
	},
};

static const char common_help[] =
	"\nCommon options:\n"
	"  --home-dir DIR   cairn's home (default $CAIRN_HOME, else ~/.cairn)\n"
	"  -v, --verbose    more output; twice for a trace\n"
	"  -q, --quiet      errors only\n"
	"  --log-time       start each line of output with the time (HH:MM:SS.mmm)\n"
	"  --log-format text|json  json: stage, output, image, blob and manifest\n"
	"                   events as JSON lines on stdout (errors too)\n"
	"  -h, --help       this help\n"
	"Every --some-option may also be set as CAIRN_SOME_OPTION in the\n"
	"environment, or as werf's WERF_SOME_OPTION; the command line wins, then\n"
	"CAIRN_*, then WERF_* (see docs/ci.md).\n";

const struct cli_cmd *cli_commands(size_t *n)
{
	*n = sizeof(commands) / sizeof(commands[0]);
	return commands;
}

const char *cli_common_help(void)
{
	return common_help;
}

const struct cli_cmd *cli_cmd_find(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

void cli_print_commands(void)
{
	printf("usage: cairn [--help] [--version] COMMAND [ARGS...]\n\n"
	       "cairn builds container images in cached stages from werf.yaml and publishes them\n"
	       "to Docker/OCI registries, without a Docker daemon.\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		printf("  %-10s %s\n", commands[i].name, commands[i].summary);
	printf("\nRun 'cairn help COMMAND' or 'cairn COMMAND --help' for details.\n");
}

const char *cli_cmd_closest(const char *name)
{
	const char *best = NULL;
	size_t best_d = 3;

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		size_t d = cli_distance(name, commands[i].name);

		if (d < best_d) {
			best_d = d;
			best = commands[i].name;
		}
	}
	return best;
}

int cli_help_for(const char *name)
{
	const struct cli_cmd *c = cli_cmd_find(name);
	const char *hint;

	/* "dimg push": the help of dimg, which tells its subcommands */
	if (!c && strchr(name, ' ')) {
		char top[32];

		snprintf(top, sizeof(top), "%.*s", (int)strcspn(name, " "), name);
		c = cli_cmd_find(top);
	}
	if (!c && (hint = cli_cmd_closest(name)))
		return cli_usage_error(NULL, "unknown command '%s'; did you mean '%s'?", name,
				       hint);
	if (!c)
		return cli_usage_error(NULL, "unknown command '%s'", name);
	printf("usage: %s\n\n%s.\n", c->usage, c->summary);
	if (c->help[0])
		printf("\n%s", c->help);
	printf("%s", common_help);
	return CLI_EXIT_OK;
}
