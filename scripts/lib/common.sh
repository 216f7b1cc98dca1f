# shellcheck shell=bash
# Shared by scripts/test and scripts/demo: the Debian packages cairn needs, installed once.

# What scripts/demo needs: build cairn, run shell stages, a registry and skopeo/umoci.
# shellcheck disable=SC2034 # named by install_deps
CAIRN_DEMO_PACKAGES=(
	gcc cmake ninja-build pkg-config git
	libcurl4-openssl-dev libfyaml-dev libjansson-dev libgit2-dev libarchive-dev
	libssl-dev zlib1g-dev libdeflate-dev libzstd-dev libcmocka-dev
	docker-registry skopeo umoci runc busybox-static curl ca-certificates python3
)

# What scripts/test needs on top.
# shellcheck disable=SC2034 # named by install_deps
CAIRN_PACKAGES=(
	"${CAIRN_DEMO_PACKAGES[@]}"
	# lint, and the Debian package (dpkg-shlibdeps)
	clang-format shellcheck dpkg-dev
	# run and test against real parts
	apache2-utils openssl python3-jwt python3-cryptography python3-yaml iproute2 docker.io
	openssh-client
	# the build toolchain cairn mounts into stage containers (docs/toolchain.md)
	ansible patchelf python3-apt sudo unzip bzip2 xz-utils
	# the Debian base image of the e2e tests
	mmdebstrap
)

# Install whatever of the packages named (default: CAIRN_PACKAGES) is missing (idempotent;
# apt-get update first).
install_deps() {
	local missing=() p status
	local -n wanted=${1:-CAIRN_PACKAGES}
	for p in "${wanted[@]}"; do
		status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		[ "$status" = "install ok installed" ] || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	local sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || {
			echo "cairn: need root (or sudo) to install: ${missing[*]}" >&2
			return 1
		}
		sudo=(sudo)
	fi
	echo "cairn: installing ${missing[*]}" >&2
	"${sudo[@]}" apt-get update -q
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends \
		"${missing[@]}"
}

# Configure and build one CMake preset.
build_preset() {
	cmake --preset "$1" >/dev/null
	cmake --build --preset "$1"
}
