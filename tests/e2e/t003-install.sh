#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# What `cmake --install` and `cpack -G DEB` give a user: the binary, a man page per command made
# from the --help texts, bash and zsh completions; a .deb whose dependencies name runc and the
# libraries, installed with dpkg into a private root, where `cairn version` runs.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool cmake cpack dpkg dpkg-deb dpkg-shlibdeps bash
B=$(cd "$(dirname "$CAIRN")" && pwd)
[ -f "$B/cmake_install.cmake" ] || skip_all "CAIRN is not in a CMake build tree"

test_expect_success 'cmake --install: binary, man pages, completions' '
	DESTDIR=$T/root cmake --install "$B" --prefix /usr >"$T/install.out" &&
	test -x "$T/root/usr/bin/cairn" &&
	for c in build publish build-and-publish export cleanup login completion; do
		grep -q "^\.TH CAIRN-$(echo "$c" | tr a-z A-Z) 1" \
			"$T/root/usr/share/man/man1/cairn-$c.1" || return 1
	done &&
	grep -q "^\.TH CAIRN 1" "$T/root/usr/share/man/man1/cairn.1" &&
	grep -q "stages\\\\-storage" "$T/root/usr/share/man/man1/cairn-build.1" &&
	test -s "$T/root/usr/share/bash-completion/completions/cairn" &&
	head -n1 "$T/root/usr/share/zsh/vendor-completions/_cairn" | grep -qx "#compdef cairn"
'

test_expect_success 'the bash completion completes commands and their options' '
	bash -c ". \"$T/root/usr/share/bash-completion/completions/cairn\" &&
		COMP_WORDS=(cairn bu) COMP_CWORD=1 && _cairn && echo \"\${COMPREPLY[*]}\"" \
		>"$T/c1" &&
	test "$(cat "$T/c1")" = "build build-and-publish" &&
	bash -c ". \"$T/root/usr/share/bash-completion/completions/cairn\" &&
		COMP_WORDS=(cairn export --sta) COMP_CWORD=2 && _cairn && echo \"\${COMPREPLY[*]}\"" \
		>"$T/c2" &&
	test "$(cat "$T/c2")" = "--stages-storage"
'

test_expect_success 'cpack -G DEB: a package that depends on runc and the libraries' '
	mkdir "$T/pkg" &&
	(cd "$T/pkg" && cpack -G DEB --config "$B/CPackConfig.cmake" >"$T/cpack.out") &&
	deb=$(ls "$T"/pkg/cairn_*.deb) &&
	dpkg-deb -f "$deb" Depends >"$T/depends" &&
	grep -q "^runc, " "$T/depends" &&
	for lib in libcurl4 libgit2 libfyaml0 libjansson4 libarchive13 libssl3 libzstd1; do
		grep -q "$lib" "$T/depends" || return 1
	done &&
	dpkg-deb -c "$deb" | grep -q " \./usr/share/man/man1/cairn-export\.1$"
'

test_expect_success 'dpkg -i into a private root; the installed cairn runs' '
	r=$T/dpkg-root &&
	mkdir -p "$r/var/lib/dpkg/info" "$r/var/lib/dpkg/updates" &&
	: >"$r/var/lib/dpkg/status" &&
	dpkg --root="$r" --force-depends --force-not-root --log=/dev/null \
		-i "$(ls "$T"/pkg/cairn_*.deb)" >"$T/dpkg.out" 2>&1 &&
	"$r/usr/bin/cairn" version >"$T/version" &&
	grep -q "^cairn 0\." "$T/version" &&
	grep -q "libgit2" "$T/version"
'

test_done
