#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# stages cleanup against a registry that allows deleting: branches a and b publish images that
# share a base, an artifact and its import, and differ from the install stage up; with branch b
# deleted in the remote, `cleanup -s` deletes b's tag and exactly the stages only b's image stood
# on (--dry-run lists the same), keeps a's chain (a fresh host builds a from the stages storage
# without building anything, and a's image still runs), keeps another project's stages, spares
# unused stages for --grace (the times kept under cairn-stages-unused) and keeps what a stage in
# its grace stands on, waits for builds holding the stages storage (their lock tags), and the
# 2018 spellings
# (dimg cleanup/flush repo, dimg stages cleanup/flush repo) map onto these commands.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo runc git python3 umoci

registry_start
base_image_push "$REG/base/busybox:1"

O=$T/origin.git
P=$T/project
S=$REG/stages
git init -q --bare "$O" && git init -q "$P" || exit 1
gitc() { git -C "$P" -c user.name=t -c user.email=t@example.com "$@"; }
config() {
	cat >"$P/werf.yaml" <<EOF
project: sc
configVersion: 1
---
artifact: tools
from: $REG/base/busybox:1
shell:
  install: [echo tool > /tool]
---
image: app
from: $REG/base/busybox:1
shell:
  install: [echo $1 > /which]
  setup: [cat /which /tool > /both$2]
import:
- artifact: tools
  add: /tool
  to: /tool
  after: install
EOF
}
config a
{ gitc add -A && gitc commit -q -m a && gitc remote add origin "$O" && gitc branch -m a &&
	gitc push -q origin a; } || exit 1

tags_of() {
	skopeo list-tags --tls-verify=false "docker://$1" |
		python3 -c 'import json,sys; print("\n".join(sorted(json.load(sys.stdin)["Tags"] or [])))'
}
stage_tags() { tags_of "$S" | grep "^image-stage-"; }
publish() { cairn_run build-and-publish --dir "$P" -q -i "$REG/app" -s "$S" "$@"; }
listed() { grep "^$1 $S:" "$2" | sed "s/ (.*//; s/^$1 //" | sort; }

test_expect_success 'branches a and b published through the stages storage' '
	publish --tag-git-branch a && stage_tags >"$T/a.stages" &&
	gitc checkout -q -b b && config b && gitc commit -q -am b && gitc push -q origin b &&
	publish --tag-git-branch b && stage_tags >"$T/ab.stages" &&
	comm -13 "$T/a.stages" "$T/ab.stages" | sed "s|^|$S:|" >"$T/b.only" &&
	test "$(wc -l <"$T/b.only")" = 3 &&
	gitc checkout -q a && gitc fetch -q origin &&
	skopeo inspect --tls-verify=false "docker://$S:$(head -n1 "$T/b.only" | sed "s|.*:||")" |
		grep -q "\"cairn-stage-parent\": \"[0-9a-f]\{64\}\""
'

test_expect_success 'another project stores its stages in the same storage' '
	Q=$T/other && mkdir "$Q" && git -C "$Q" init -q &&
	printf "project: other\nconfigVersion: 1\n---\nimage: o\nfrom: %s/base/busybox:1\nshell:\n  install: [echo o > /o]\n" \
		"$REG" >"$Q/werf.yaml" &&
	git -C "$Q" -c user.name=t -c user.email=t@example.com add -A &&
	git -C "$Q" -c user.name=t -c user.email=t@example.com commit -q -m o &&
	cairn_run build --dir "$Q" -q -s "$S" && stage_tags >"$T/all.stages" &&
	comm -13 "$T/ab.stages" "$T/all.stages" | sed "s|^|$S:|" >"$T/other.only" &&
	test -s "$T/other.only"
'

test_expect_success 'branch b is deleted in the remote' '
	gitc push -q origin --delete b && gitc branch -q -D b && gitc fetch -q --prune origin
'

test_expect_success 'cleanup --dry-run lists b'"'"'s tag and the stages only b stood on' '
	cairn_run cleanup --dir "$P" -i "$REG/app" -s "$S" --grace 0 --dry-run >"$T/dry" 2>&1 &&
	grep -q "^would delete $REG/app/app:b (git_branch)" "$T/dry" &&
	listed "would delete" "$T/dry" >"$T/dry.list" &&
	sort "$T/b.only" >"$T/want" && test_cmp "$T/want" "$T/dry.list" &&
	grep -q "^would delete 1 of 2 tags, kept 1$" "$T/dry" &&
	test "$(stage_tags)" = "$(cat "$T/all.stages")"
'

test_expect_success 'cleanup deletes the same, and nothing of a or of the other project' '
	cairn_run cleanup --dir "$P" -i "$REG/app" -s "$S" --grace 0 >"$T/real" 2>&1 &&
	listed deleted "$T/real" >"$T/real.list" && test_cmp "$T/want" "$T/real.list" &&
	stage_tags | sed "s|^|$S:|" | sort >"$T/left" &&
	cat "$T/a.stages" "$T/other.only" | sed "s|^$S:||; s|^|$S:|" | sort >"$T/want.left" &&
	test_cmp "$T/want.left" "$T/left" &&
	grep -q "^deleted 3 of " "$T/real" &&
	skopeo copy -q --src-tls-verify=false "docker://$REG/app/app:a" "oci:$T/app:a" &&
	image_check "$REG/app/app:a"
'

test_expect_success 'a fresh host builds a from the stages storage: nothing to build' '
	CAIRN_HOME="$T/fresh" "$CAIRN" build --dir "$P" -s "$S" >"$T/fresh.out" 2>&1 &&
	! grep -q "\[BUILDING\]" "$T/fresh.out" && grep -q "USING CACHE" "$T/fresh.out"
'

test_expect_success 'a second cleanup deletes nothing' '
	cairn_run cleanup --dir "$P" -i "$REG/app" -s "$S" --grace 0 >"$T/again" 2>&1 &&
	grep -q "^deleted 0 of 1 tags, kept 1$" "$T/again" &&
	grep -q "^deleted 0 of [0-9]* stages" "$T/again"
'

test_expect_success '--grace spares unused stages, counted from the first cleanup that saw them' '
	gitc checkout -q -b c && config c && gitc commit -q -am c &&
	cairn_run build --dir "$P" -q -s "$S" && gitc checkout -q a &&
	cairn_run stages cleanup --dir "$P" -i "$REG/app" -s "$S" >"$T/g1" 2>&1 &&
	grep -q "^deleted 0 of " "$T/g1" &&
	skopeo inspect --tls-verify=false "docker://$S:cairn-stages-unused" >"$T/marks" &&
	test "$(grep -c "cairn-stage-unused-" "$T/marks")" = 3 &&
	sleep 2 &&
	cairn_run stages cleanup --dir "$P" -i "$REG/app" -s "$S" --grace 1 --dry-run >"$T/g2" 2>&1 &&
	grep -q "^would delete 3 of " "$T/g2" &&
	cairn_run stages cleanup --dir "$P" -i "$REG/app" -s "$S" --grace 1 >"$T/g3" 2>&1 &&
	grep -q "^deleted 3 of " "$T/g3" &&
	! skopeo inspect --tls-verify=false "docker://$S:cairn-stages-unused" >/dev/null 2>&1
'

test_expect_success 'a stage in its grace keeps the old stages it stands on' '
	gitc checkout -q -b d && config d && gitc commit -q -am d &&
	cairn_run build --dir "$P" -q -s "$S" &&
	cairn_run stages cleanup --dir "$P" -i "$REG/app" -s "$S" >"$T/p1" 2>&1 &&
	grep -q "^deleted 0 of " "$T/p1" && sleep 2 &&
	config d -again && gitc commit -q -am d2 &&
	cairn_run build --dir "$P" -q -s "$S" && gitc checkout -q a &&
	cairn_run stages cleanup --dir "$P" -i "$REG/app" -s "$S" --grace 1 >"$T/p2" 2>&1 &&
	grep -q "^deleted 1 of " "$T/p2" &&
	test "$(grep -c "kept: a stage that stays stands on it" "$T/p2")" = 2 &&
	grep -q "kept: unused for 0 s of the --grace 1 s" "$T/p2"
'

test_expect_success 'a stages cleanup waits for a build holding the stages storage' '
	printf -- "---\nimage: slow\nfrom: %s/base/busybox:1\nshell:\n  install: [sleep 8]\n" \
		"$REG" >>"$P/werf.yaml" &&
	"$CAIRN" build --dir "$P" -q -s "$S" slow >"$T/slow.out" 2>&1 &
	slow=$! && sleep 2 &&
	tags_of "$S" | grep -q "^cairn-lock-use-sc-" &&
	test_must_fail cairn_run stages cleanup --dir "$P" -i "$REG/app" -s "$S" \
		--lock-timeout 1 2>"$T/l1" &&
	grep -q "locked by a build on host .* (pid $slow)" "$T/l1" &&
	cairn_run stages cleanup --dir "$P" -i "$REG/app" -s "$S" >"$T/l2" 2>&1 &&
	! test_pid_alive "$slow" && wait "$slow" &&
	grep -q "waiting for a build" "$T/l2" &&
	! tags_of "$S" | grep -q "^cairn-lock-"
'

test_expect_success 'a killed build'"'"'s lock is named, with its tag' '
	printf -- "---\nimage: slow2\nfrom: %s/base/busybox:1\nshell:\n  install: [sleep 4]\n" \
		"$REG" >>"$P/werf.yaml" &&
	"$CAIRN" build --dir "$P" -q -s "$S" slow2 >"$T/slow2.out" 2>&1 &
	pid=$! && sleep 2 && kill -9 "$pid" && sleep 3 &&
	lock=$(tags_of "$S" | grep "^cairn-lock-use-sc-") &&
	test_must_fail cairn_run stages cleanup --dir "$P" -i "$REG/app" -s "$S" \
		--lock-timeout 0 2>"$T/l3" &&
	grep -q "tag .$lock.: a killed holder" "$T/l3" &&
	skopeo delete --tls-verify=false "docker://$S:$lock" &&
	cairn_run stages cleanup --dir "$P" -i "$REG/app" -s "$S" >/dev/null 2>&1 &&
	git -C "$P" checkout -q -- werf.yaml &&
	cairn_run build --dir "$P" -q # stops what the killed build left running, unmounts
'

test_expect_success 'a cleanup waits for a publish until its last tag; what it built stays' '
	printf -- "---\nimage: late\nfrom: %s/base/busybox:1\nshell:\n  install: [sleep 6]\n" \
		"$REG" >>"$P/werf.yaml" &&
	gitc commit -q -am late && gitc push -q origin a &&
	"$CAIRN" build-and-publish --dir "$P" -q -i "$REG/app" -s "$S" --tag-git-branch a \
		--report "$T/late.json" >"$T/late.out" 2>&1 &
	late=$! && sleep 2 &&
	cairn_run cleanup --dir "$P" -i "$REG/app" -s "$S" --grace 0 >"$T/c1" 2>&1 &&
	! test_pid_alive "$late" && wait "$late" &&
	grep -q "waiting for a build" "$T/c1" &&
	tags_of "$REG/app/late" | grep -qx a &&
	python3 -c "import json,sys; print(\"\n\".join(s[\"signature\"] for i in json.load(open(sys.argv[1]))[\"images\"] for s in i[\"stages\"]))" \
		"$T/late.json" | sort -u >"$T/late.sigs" &&
	test -s "$T/late.sigs" &&
	stage_tags | sed "s/^image-stage-//" >"$T/now.sigs" &&
	test -z "$(comm -23 "$T/late.sigs" "$T/now.sigs")" &&
	gitc reset -q --hard HEAD~1 && gitc push -q -f origin a
'

test_expect_success 'a stages cleanup removes the locks that count no more' '
	umoci init --layout "$T/oci" &&
	umoci new --image "$T/oci:l" &&
	umoci config --image "$T/oci:l" --config.label cairn-lock-until=0 \
		--config.label cairn-lock-kind=build &&
	dead=cairn-lock-use-sc-0000000001feedfacefeedface &&
	skopeo copy -q --dest-tls-verify=false "oci:$T/oci:l" "docker://$S:$dead" &&
	tags_of "$S" | grep -qx "$dead" &&
	: "a live build of project sc-web is no lock of project sc" &&
	umoci new --image "$T/oci:w" &&
	umoci config --image "$T/oci:w" --config.label cairn-lock-until=99999999999 \
		--config.label cairn-lock-kind=build &&
	web=cairn-lock-use-sc-web-0000000002feedfacefeedface &&
	skopeo copy -q --dest-tls-verify=false "oci:$T/oci:w" "docker://$S:$web" &&
	cairn_run stages cleanup --dir "$P" -i "$REG/app" -s "$S" --lock-timeout 0 \
		>/dev/null 2>&1 &&
	tags_of "$S" | grep "^cairn-lock-" >"$T/locks.left" &&
	test "$(cat "$T/locks.left")" = "$web" &&
	skopeo delete --tls-verify=false "docker://$S:$web"
'

test_expect_success 'stages cleanup needs a stages storage; --grace needs one too' '
	test_must_fail cairn_run stages cleanup --dir "$P" -i "$REG/app" 2>"$T/e1" &&
	grep -q "missing --stages-storage" "$T/e1" &&
	test_must_fail cairn_run images cleanup --dir "$P" -i "$REG/app" --grace 0 2>"$T/e2" &&
	grep -q "grace is for the stages cleanup" "$T/e2"
'

test_expect_success 'dimg cleanup repo --with-stages: stages in REPO with the dimg prefix' '
	cairn_run dimg bp --dir "$P" --with-stages -q "$REG/d" &&
	tags_of "$REG/d/app" | grep -q . &&
	tags_of "$REG/d" | grep -q "^dimgstage-" &&
	cairn_run dimg cleanup repo --dir "$P" --with-stages --grace 0 "$REG/d" >"$T/d1" 2>&1 &&
	grep -q "^deleted 0 of [0-9]* stages" "$T/d1" &&
	test_must_fail cairn_run dimg cleanup repo --dir "$P" app "$REG/d" 2>"$T/d2" &&
	grep -q "naming dimgs is not supported" "$T/d2"
'

test_expect_success 'dimg stages flush repo deletes every stage of the project there' '
	cairn_run dimg stages flush repo --dir "$P" "$REG/d" >"$T/d3" 2>&1 &&
	! tags_of "$REG/d" | grep -q "^dimgstage-" &&
	cairn_run dimg flush repo --dir "$P" "$REG/d" >"$T/d4" 2>&1 &&
	grep -q "^deleted 1 of 1 tags" "$T/d4"
'

test_done
