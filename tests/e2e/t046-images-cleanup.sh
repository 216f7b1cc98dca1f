#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# images cleanup, werf v1.0's policy by tagging scheme, against a registry that allows deleting:
# publish branches a and b, git tag v1, the HEAD commit, a commit the repository never had and a
# custom tag; delete branch b in the remote; --dry-run lists exactly what the real run deletes
# (b's tags and the unknown commit's), which keeps a, v1, the commit and the custom tag (skopeo);
# --keep-images-from spares a tag; each tag has its own manifest; a shallow clone is refused; a
# registry that refuses deletion says so.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo runc git python3

registry_start
base_image_push "$REG/base/busybox:1"

O=$T/origin.git
P=$T/project
git init -q --bare "$O" && git init -q "$P" || exit 1
printf 'project: cl\nconfigVersion: 1\n' >"$P/werf.yaml"
for i in front back; do
	printf -- '---\nimage: %s\nfrom: %s/base/busybox:1\nshell:\n  install: [echo %s > /%s]\n' \
		"$i" "$REG" "$i" "$i" >>"$P/werf.yaml"
done
gitc() { git -C "$P" -c user.name=t -c user.email=t@example.com "$@"; }
{ gitc add -A && gitc commit -q -m init && gitc remote add origin "$O" &&
	gitc branch a && gitc branch feature/b && gitc tag v1 &&
	gitc push -q origin a feature/b v1 && gitc fetch -q origin; } || exit 1
HEAD=$(git -C "$P" rev-parse HEAD)
GONE=0123456789abcdef0123456789abcdef01234567

tags_of() {
	skopeo list-tags --tls-verify=false "docker://$1" |
		python3 -c 'import json,sys; print(" ".join(sorted(json.load(sys.stdin)["Tags"] or [])))'
}

B=$("$CAIRN" slugify -f tag feature/b)
# shellcheck disable=SC2034 # read by the tests below
ALL=$(printf '%s\n' "$GONE" "$HEAD" "$B" a keepme v1 | sort | tr '\n' ' ' | sed 's/ $//')
# shellcheck disable=SC2034
KEPT=$(printf '%s\n' "$HEAD" a keepme v1 | sort | tr '\n' ' ' | sed 's/ $//')

test_expect_success 'publish every scheme: each tag has a manifest of its own' '
	cairn_run build-and-publish --dir "$P" -q -i "$REG/app" --tag-git-branch a \
		--tag-git-branch feature/b --tag-git-tag v1 --tag-git-commit "$HEAD" \
		--tag-git-commit "$GONE" --tag-custom keepme &&
	test "$(tags_of "$REG/app/front")" = "$ALL" &&
	test "$(tags_of "$REG/app/back")" = "$ALL" &&
	a=$(skopeo inspect --tls-verify=false --format "{{.Digest}}" "docker://$REG/app/front:a") &&
	k=$(skopeo inspect --tls-verify=false --format "{{.Digest}}" "docker://$REG/app/front:keepme") &&
	test "$a" != "$k" &&
	skopeo inspect --tls-verify=false "docker://$REG/app/front:a" | grep -q "\"cairn-image-tag\": \"a\""
'

test_expect_success 'branch feature/b is deleted in the remote' '
	gitc push -q origin --delete feature/b && gitc fetch -q --prune origin &&
	! git -C "$P" rev-parse -q --verify refs/remotes/origin/feature/b
'

test_expect_success 'cleanup --dry-run lists exactly the tags of the gone branch and commit' '
	cairn_run cleanup --dir "$P" -i "$REG/app" --dry-run >"$T/dry" 2>"$T/dry.err" &&
	grep "^would delete" "$T/dry" | grep -v "^would delete [0-9]* of " |
		sed "s/ (.*//; s/^would delete //" | sort >"$T/dry.list" &&
	printf "%s\n" "$REG/app/back:$B" "$REG/app/back:$GONE" "$REG/app/front:$B" \
		"$REG/app/front:$GONE" | sort >"$T/want" &&
	test_cmp "$T/want" "$T/dry.list" &&
	grep -q "^would delete 4 of 12 tags, kept 8$" "$T/dry" &&
	test "$(tags_of "$REG/app/front")" = "$ALL"
'

test_expect_success 'cleanup deletes them and keeps a, v1, the commit and the custom tag' '
	cairn_run cleanup --dir "$P" -i "$REG/app" >"$T/real" 2>"$T/real.err" &&
	grep "^deleted " "$T/real" | grep -v "^deleted [0-9]* of " |
		sed "s/ (.*//; s/^deleted //" | sort >"$T/real.list" &&
	test_cmp "$T/want" "$T/real.list" &&
	test "$(tags_of "$REG/app/front")" = "$KEPT" &&
	test "$(tags_of "$REG/app/back")" = "$KEPT" &&
	skopeo copy -q --src-tls-verify=false "docker://$REG/app/front:a" "oci:$T/front:a" &&
	image_check "$REG/app/front:a"
'

test_expect_success 'a second cleanup deletes nothing' '
	cairn_run cleanup --dir "$P" -i "$REG/app" >"$T/again" 2>&1 &&
	grep -q "^deleted 0 of 8 tags, kept 8$" "$T/again"
'

test_expect_success '--keep-images-from spares a tag whose branch is gone' '
	cairn_run publish --dir "$P" -q -i "$REG/app" --tag-git-branch gone-too &&
	printf "%s\n" "$REG/app/front:gone-too" >"$T/in-use" &&
	cairn_run cleanup --dir "$P" -i "$REG/app" --keep-images-from "$T/in-use" >"$T/keep" 2>&1 &&
	grep -q "^deleted $REG/app/back:gone-too " "$T/keep" &&
	! grep -q "^deleted $REG/app/front:gone-too" "$T/keep" &&
	tags_of "$REG/app/front" | grep -q gone-too
'

test_expect_success 'a re-publish without this host record keeps the publish time' '
	d1=$(skopeo inspect --tls-verify=false --format "{{.Digest}}" "docker://$REG/app/front:a") &&
	c1=$(skopeo inspect --tls-verify=false --format "{{.Created}}" "docker://$REG/app/front:a") &&
	test -d "$CAIRN_HOME/published" && rm -rf "$CAIRN_HOME/published" && sleep 1 &&
	cairn_run publish --dir "$P" -q -i "$REG/app" --tag-git-branch a &&
	d2=$(skopeo inspect --tls-verify=false --format "{{.Digest}}" "docker://$REG/app/front:a") &&
	c2=$(skopeo inspect --tls-verify=false --format "{{.Created}}" "docker://$REG/app/front:a") &&
	test "$d1" = "$d2" && test "$c1" = "$c2"
'

test_expect_success 'werf limit and expiry: the newest git tags stay, old commits go' '
	gitc tag v2 && gitc tag v3 &&
	sleep 1 && cairn_run publish --dir "$P" -q -i "$REG/app" --tag-git-tag v2 &&
	sleep 1 && cairn_run publish --dir "$P" -q -i "$REG/app" --tag-git-tag v3 &&
	cairn_run cleanup --dir "$P" -i "$REG/app" --git-tag-strategy-limit 2 \
		--git-commit-strategy-expiry-days 0 --dry-run >"$T/pol.dry" 2>&1 &&
	cairn_run cleanup --dir "$P" -i "$REG/app" --git-tag-strategy-limit 2 \
		--git-commit-strategy-expiry-days 0 >"$T/pol" 2>&1 &&
	grep -q "^deleted $REG/app/front:v1 (git_tag): older than the 2 newest" "$T/pol" &&
	grep -q "^deleted $REG/app/front:$HEAD (git_commit): published 0 days ago" "$T/pol" &&
	grep -q "^would delete 5 of 13 " "$T/pol.dry" && grep -q "^deleted 5 of 13 " "$T/pol" &&
	tags_of "$REG/app/front" | tr " " "\n" >"$T/left" &&
	grep -qx v2 "$T/left" && grep -qx v3 "$T/left" && ! grep -qx v1 "$T/left" &&
	! grep -qx "$HEAD" "$T/left" && grep -qx keepme "$T/left" && grep -qx a "$T/left"
'

test_expect_success 'monorepo: one image'"'"'s prefix in another'"'"'s name takes nothing of it' '
	M=$T/mono && git clone -q "$O" "$M" -b a &&
	printf "project: mono\nconfigVersion: 1\n" >"$M/werf.yaml" &&
	for i in web web-admin; do
		printf -- "---\nimage: %s\nfrom: %s/base/busybox:1\ndocker:\n  LABEL: {i: %s}\n" \
			"$i" "$REG" "$i" >>"$M/werf.yaml" || return 1
	done &&
	cairn_run build-and-publish --dir "$M" -q -i "$REG/mono" --images-repo-mode monorepo \
		--tag-git-branch a --tag-git-branch gone &&
	test "$(tags_of "$REG/mono")" = "web-a web-admin-a web-admin-gone web-gone" &&
	cairn_run cleanup --dir "$M" -i "$REG/mono" --images-repo-mode monorepo >"$T/mono.out" 2>&1 &&
	grep -q "^deleted 2 of 4 tags, kept 2$" "$T/mono.out" &&
	test "$(tags_of "$REG/mono")" = "web-a web-admin-a"
'

test_expect_success 'an image gone from the config leaves its tags alone (and no crash)' '
	printf "project: mono\nconfigVersion: 1\n---\nimage: web\nfrom: %s/base/busybox:1\n" \
		"$REG" >"$M/werf.yaml" &&
	cairn_run cleanup --dir "$M" -i "$REG/mono" --images-repo-mode monorepo >"$T/m2" 2>&1 &&
	grep -q "^deleted 0 of 1 tags, kept 1$" "$T/m2" &&
	test "$(tags_of "$REG/mono")" = "web-a web-admin-a"
'

test_expect_success 'a copy of a tag and a digest in use keep what they name' '
	cairn_run publish --dir "$P" -q -i "$REG/app" --tag-git-branch feat2 --tag-git-branch gone3 &&
	skopeo copy -q --src-tls-verify=false --dest-tls-verify=false \
		"docker://$REG/app/back:feat2" "docker://$REG/app/back:prod" &&
	dg=$(skopeo inspect --tls-verify=false --format "{{.Digest}}" "docker://$REG/app/front:gone3") &&
	printf "%s\n" "$REG/app/front:whatever@$dg" "not a reference!" >"$T/in-use2" &&
	cairn_run cleanup --dir "$P" -i "$REG/app" --keep-images-from "$T/in-use2" >"$T/cp" 2>&1 &&
	grep -q "keeps nothing" "$T/cp" &&
	tags_of "$REG/app/back" | tr " " "\n" >"$T/back.left" &&
	grep -qx prod "$T/back.left" && grep -qx feat2 "$T/back.left" && ! grep -qx gone3 "$T/back.left" &&
	tags_of "$REG/app/front" | tr " " "\n" >"$T/front.left" &&
	grep -qx gone3 "$T/front.left" && ! grep -qx feat2 "$T/front.left"
'

test_expect_success 'a tag published again after its deletion is dated anew' '
	gitc tag v9 && cairn_run publish --dir "$P" -q -i "$REG/app" --tag-git-tag v9 &&
	c1=$(skopeo inspect --tls-verify=false --format "{{.Created}}" "docker://$REG/app/front:v9") &&
	gitc tag -d v9 >/dev/null && cairn_run cleanup --dir "$P" -i "$REG/app" >/dev/null 2>&1 &&
	! tags_of "$REG/app/front" | tr " " "\n" | grep -qx v9 &&
	gitc tag v9 && sleep 1 && cairn_run publish --dir "$P" -q -i "$REG/app" --tag-git-tag v9 &&
	c2=$(skopeo inspect --tls-verify=false --format "{{.Created}}" "docker://$REG/app/front:v9") &&
	test "$c1" != "$c2"
'

test_expect_success 'a clone that knows no branch of origin is refused' '
	N=$T/noorigin && mkdir -p "$N" && git init -q "$N" && cp "$P/werf.yaml" "$N/" &&
	git -C "$N" add -A && git -C "$N" -c user.name=t -c user.email=t@e commit -q -m i &&
	test_must_fail cairn_run cleanup --dir "$N" -i "$REG/app" --dry-run 2>"$T/no.err" &&
	grep -q "knows no branch of the remote .origin." "$T/no.err"
'

test_expect_success 'a shallow clone is refused unless allowed' '
	git clone -q --depth 1 "file://$O" -b a "$T/shallow" &&
	test_must_fail cairn_run cleanup --dir "$T/shallow" -i "$REG/app" --dry-run 2>"$T/sh.err" &&
	grep -q "shallow clone" "$T/sh.err" &&
	cairn_run cleanup --dir "$T/shallow" -i "$REG/app" --dry-run --allow-git-shallow-clone \
		>"$T/sh.out" 2>&1
'

test_expect_success 'purge wants --force; with it, the project'"'"'s tags and stages go' '
	CAIRN_HOME=$T/h2 cairn_run build-and-publish --dir "$P" -q -i "$REG/app" --tag-custom last \
		--stages-storage "$REG/stages" &&
	test -n "$(tags_of "$REG/stages")" &&
	test_must_fail cairn_run purge --dir "$P" -i "$REG/app" -s "$REG/stages" 2>"$T/pf.err" &&
	grep -q "add --force" "$T/pf.err" &&
	cairn_run purge --dir "$P" -i "$REG/app" -s "$REG/stages" --dry-run >"$T/pd" 2>&1 &&
	grep -q "^would delete .*/stages:image-stage-" "$T/pd" && test -n "$(tags_of "$REG/stages")" &&
	cairn_run purge --dir "$P" -i "$REG/app" -s "$REG/stages" --force >"$T/pf" 2>&1 &&
	test -z "$(tags_of "$REG/stages")" &&
	test -z "$(tags_of "$REG/app/front")" &&
	test "$(tags_of "$REG/app/back")" = "feat2 prod"
'

test_expect_success 'a registry that refuses deletion is named as such' '
	registry_start --name NODEL --no-delete &&
	base_image_push "$NODEL/base/busybox:1" &&
	cairn_run publish --dir "$P" -q -i "$NODEL/app" --tag-git-branch gone &&
	test_must_fail cairn_run cleanup --dir "$P" -i "$NODEL/app" 2>"$T/nodel.err" &&
	grep -q "does not allow deleting images" "$T/nodel.err" &&
	grep -q "storage.delete.enabled" "$T/nodel.err"
'

test_done
