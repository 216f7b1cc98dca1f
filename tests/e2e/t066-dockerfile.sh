#!/bin/sh
# shellcheck shell=sh disable=SC2016 # test code is single-quoted: lib.sh evals it
# SPDX-License-Identifier: MIT
#
# Dockerfile images of werf.yaml (`dockerfile:`, `args`, `target`; a stapel image on one, with an
# import from another): each instruction of the stages the target needs is a stage, signed from
# the commit's context less .dockerignore; a
# multi-stage build with a cache mount, heredocs, ARG/ENV substitution and COPY --from builds,
# publishes and runs under docker; one changed source rebuilds only the COPY of sources and
# what follows, a changed lockfile the install RUN; a fresh home finds every stage in the stages
# storage; a failing RUN names its Dockerfile line.
# shellcheck source=/dev/null
. "$(dirname "$0")/lib.sh"

: "${CAIRN:?set CAIRN to the built cairn binary}"
require_tool docker-registry skopeo umoci runc git python3

registry_start
base_image_push "$REG/base/busybox:1"
export P="$T/project"

# field REPORT IMAGE KEY: a field of IMAGE in a --report file (KEY=built: names of built stages)
field() {
	python3 - "$@" <<'PY'
import json, sys
im = [i for i in json.load(open(sys.argv[1]))["images"] if (i.get("name") or "") == sys.argv[2]][0]
if sys.argv[3] == "built":
    print("|".join(s["name"] for s in im["stages"] if not s["cached"]))
else:
    print(im[sys.argv[3]])
PY
}

commit() {
	git -C "$P" add -A && git -C "$P" -c user.name=t -c user.email=t@example.com commit -q -m "$1"
}

mkdir -p "$P/docker" "$P/src/sub" "$P/logs"
git init -q "$P"
cat >"$P/werf.yaml" <<YAML
project: dfapp
configVersion: 1
---
image: app
dockerfile: docker/Dockerfile
context: src
contextAddFiles: [generated.txt]
args:
  BASE: $REG/base/busybox:1
  VERSION: 1.2.3
---
image: builder
dockerfile: docker/Dockerfile
context: src
target: build
contextAddFiles: [generated.txt]
args:
  BASE: $REG/base/busybox:1
  VERSION: 1.2.3
---
image: on-df
fromImage: app
shell:
  setup: [cat /app/out.txt > /from-df]
import:
- image: builder
  add: /heredoc.txt
  to: /imported-heredoc.txt
  after: setup
YAML
cat >"$P/docker/Dockerfile" <<'DF'
# syntax=docker/dockerfile:1
ARG BASE=missing
FROM ${BASE} AS build
ARG VERSION=dev
WORKDIR /src
COPY lock.txt ./
RUN --mount=type=cache,target=/cache \
    echo "installed $(cat lock.txt)" > /src/installed && \
    echo run >> /cache/runs
COPY . .
RUN cat main.txt > /out.txt && echo "version=$VERSION" >> /out.txt
RUN <<EOF
echo "from a heredoc" > /heredoc.txt
EOF

FROM ${BASE} AS unused
RUN exit 3

FROM ${BASE}
LABEL before.arg="[${VERSION}]"
ARG VERSION
ENV APP_VERSION=$VERSION \
    GREETING="hello world"
LABEL org.example.version="${APP_VERSION:-none}" org.example.alt=${UNSET:-default}
COPY --from=build /out.txt /app/out.txt
COPY --from=build --chown=1000:1000 /heredoc.txt /app/
COPY --from=build /src /src-copy
COPY --chmod=0755 run.sh /usr/local/bin/run
USER 1000
WORKDIR /app
EXPOSE 8080 9090/udp
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/run"]
CMD ["--serve"]
COPY generated.txt /generated.txt
DF
printf 'lock-v1\n' >"$P/src/lock.txt"
printf 'main-v1\n' >"$P/src/main.txt"
printf 'nested\n' >"$P/src/sub/file.txt"
printf 'top secret\n' >"$P/src/secret.txt"
printf 'noise\n' >"$P/src/debug.log"
printf 'kept\n' >"$P/src/keep.log"
printf '#!/bin/sh\necho "run $APP_VERSION $*"; cat /app/out.txt\n' >"$P/src/run.sh"
printf 'secret.txt\n*.log\n!keep.log\n' >"$P/src/.dockerignore"
commit init
printf 'made by the job\n' >"$P/src/generated.txt" # in the work tree only

test_expect_success 'a Dockerfile image builds: needed stages only, each instruction a stage' '
	"$CAIRN" build --dir "$P" --report "$T/r1.json" >"$T/out1" 2>&1 &&
	! grep -q "exit 3" "$T/out1" &&
	grep -q "build:7 RUN --mount=type=cache" "$T/out1" &&
	test "$(cat "$CAIRN_HOME"/builds/dfapp/cache-*/runs)" = run &&
	rm -rf "$T/u" &&
	umoci unpack --image "$CAIRN_HOME/store:dfapp:$(field "$T/r1.json" app signature)" "$T/u" \
		>/dev/null &&
	test "$(cat "$T/u/rootfs/app/out.txt")" = "main-v1
version=1.2.3" &&
	test "$(cat "$T/u/rootfs/app/heredoc.txt")" = "from a heredoc" &&
	test "$(stat -c %u:%g "$T/u/rootfs/app/heredoc.txt")" = 1000:1000 &&
	test "$(stat -c %a "$T/u/rootfs/usr/local/bin/run")" = 755 &&
	test "$(cat "$T/u/rootfs/src-copy/installed")" = "installed lock-v1" &&
	test "$(cat "$T/u/rootfs/src-copy/sub/file.txt")" = nested &&
	test "$(cat "$T/u/rootfs/generated.txt")" = "made by the job" &&
	rm -rf "$T/s" &&
	umoci unpack --image "$CAIRN_HOME/store:dfapp:$(field "$T/r1.json" on-df signature)" "$T/s" \
		>/dev/null &&
	test "$(cat "$T/s/rootfs/from-df")" = "main-v1
version=1.2.3" &&
	test "$(cat "$T/s/rootfs/imported-heredoc.txt")" = "from a heredoc" &&
	test -f "$T/u/rootfs/src-copy/generated.txt" &&
	test -f "$T/u/rootfs/src-copy/keep.log" &&
	! test -e "$T/u/rootfs/src-copy/secret.txt" &&
	! test -e "$T/u/rootfs/src-copy/debug.log"
'

test_expect_success 'the image config: ENV, ARG scope, LABEL, USER, WORKDIR, EXPOSE, ENTRYPOINT' '
	skopeo inspect --config "oci:$CAIRN_HOME/store:dfapp:$(field "$T/r1.json" app signature)" \
		>"$T/app-config.json" &&
	python3 - "$T/app-config.json" <<-"PY"
	import json, sys
	c = json.load(open(sys.argv[1]))["config"]
	env = c["Env"]
	assert "APP_VERSION=1.2.3" in env and "GREETING=hello world" in env, env
	assert not any(e.startswith("VERSION=") for e in env), env
	l = c["Labels"]
	assert l["before.arg"] == "[]", l
	assert l["org.example.version"] == "1.2.3" and l["org.example.alt"] == "default", l
	assert c["User"] == "1000" and c["WorkingDir"] == "/app", c
	assert set(c["ExposedPorts"]) == {"8080/tcp", "9090/udp"}, c
	assert c["Entrypoint"] == ["/usr/local/bin/run"] and c["Cmd"] == ["--serve"], c
	assert c["StopSignal"] == "SIGTERM", c
	PY
'

test_expect_success 'the history says each RUN and COPY as written (with the shell a RUN runs)' '
	skopeo inspect --config "oci:$CAIRN_HOME/store:dfapp:$(field "$T/r1.json" builder signature)" \
		>"$T/builder-config.json" &&
	python3 - "$T/app-config.json" "$T/builder-config.json" <<-"PY"
	import json, sys
	app, builder = ([h["created_by"] for h in json.load(open(f))["history"]] for f in sys.argv[1:3])
	assert "COPY --from=build --chown=1000:1000 /heredoc.txt /app/" in app, app
	assert "COPY --chmod=0755 run.sh /usr/local/bin/run" in app, app
	assert "COPY generated.txt /generated.txt" in app, app
	runs = [h for h in builder if h.startswith("RUN ")]
	assert len(runs) == 3, builder
	assert runs[0].startswith("RUN --mount=type=cache,target=/cache /bin/sh -c echo "), runs
	assert runs[1] == "RUN /bin/sh -c cat main.txt > /out.txt && echo \"version=$VERSION\" >> /out.txt", runs
	assert runs[2] == "RUN /bin/sh -c <<EOF\necho \"from a heredoc\" > /heredoc.txt\nEOF", runs
	assert not any(h.split(" ")[0].endswith(tuple(":%d" % n for n in range(100))) for h in app + builder), app + builder
	PY
'

test_expect_success 'a target image stops at its stage, the stages it shares built once' '
	test -z "$(field "$T/r1.json" builder built)" &&
	rm -rf "$T/b" &&
	umoci unpack --image "$CAIRN_HOME/store:dfapp:$(field "$T/r1.json" builder signature)" \
		"$T/b" >/dev/null &&
	test "$(cat "$T/b/rootfs/out.txt")" = "main-v1
version=1.2.3" &&
	! test -e "$T/b/rootfs/app"
'

test_expect_success 'nothing changed: every stage is cached' '
	"$CAIRN" build --dir "$P" --report "$T/r2.json" >"$T/out2" 2>&1 &&
	test -z "$(field "$T/r2.json" app built)" &&
	test -z "$(field "$T/r2.json" builder built)" &&
	test "$(cat "$CAIRN_HOME"/builds/dfapp/cache-*/runs)" = run
'

test_expect_success 'one changed source rebuilds the COPY of sources and what follows only' '
	printf "main-v2\n" >"$P/src/main.txt" && commit main &&
	"$CAIRN" build --dir "$P" --report "$T/r3.json" >"$T/out3" 2>&1 &&
	built=$(field "$T/r3.json" app built) &&
	case "$built" in "build:10 COPY . .|build:11 RUN"*"|build:12 RUN <<EOF|2:25 COPY --from=build /out.txt"*) ;;
	*) echo "$built"; false ;; esac &&
	! echo "$built" | grep -q "build:[3-7] " &&
	test -z "$(field "$T/r3.json" builder built)" &&
	test "$(cat "$CAIRN_HOME"/builds/dfapp/cache-*/runs)" = run
'

test_expect_success 'a changed lockfile rebuilds the install RUN' '
	printf "lock-v2\n" >"$P/src/lock.txt" && commit lock &&
	"$CAIRN" build --dir "$P" --report "$T/r4.json" >"$T/out4" 2>&1 &&
	field "$T/r4.json" app built | grep -q "|build:7 RUN --mount=type=cache" &&
	test "$(cat "$CAIRN_HOME"/builds/dfapp/cache-*/runs)" = "run
run"
'

test_expect_success 'a file .dockerignore leaves out does not sign the context' '
	printf "changed secret\n" >"$P/src/secret.txt" && printf "x\n" >"$P/src/debug.log" &&
	commit ignored &&
	"$CAIRN" build --dir "$P" --report "$T/r5.json" >"$T/out5" 2>&1 &&
	test -z "$(field "$T/r5.json" app built)"
'

test_expect_success 'build-and-publish with a stages storage; the image runs under docker' '
	CAIRN_HOME="$T/home1" "$CAIRN" build-and-publish --dir "$P" --stages-storage "$REG/dfapp-stages" \
		--images-repo "$REG/dfapp" --tag-custom v1 >"$T/out6" 2>&1 &&
	: "a stage the images share (FROM, the build stage of app and builder) is stored once" &&
	sleep 0.3 &&
	grep -o "\"PUT /v2/dfapp-stages/manifests/[^ ]*" "$REG_LOG" | sort | uniq -d >"$T/twice" &&
	{ test ! -s "$T/twice" || { cat "$T/twice"; false; }; } &&
	skopeo inspect --tls-verify=false --config "docker://$REG/dfapp/app:v1" >"$T/cfg.json" &&
	grep -q "APP_VERSION=1.2.3" "$T/cfg.json" &&
	image_check "$REG/dfapp/app:v1" &&
	if command -v dockerd >/dev/null 2>&1 || [ "${CI:-}" = true ]; then
		docker_cmd run --rm --network none "$REG/dfapp/app:v1" x >"$T/run.out" &&
		test "$(cat "$T/run.out")" = "run 1.2.3 x
main-v2
version=1.2.3" || { cat "$T/run.out"; false; }
	fi
'

test_expect_success 'a fresh home builds nothing: every stage comes from the stages storage' '
	CAIRN_HOME="$T/home2" "$CAIRN" build --dir "$P" --stages-storage "$REG/dfapp-stages" \
		--report "$T/r7.json" >"$T/out7" 2>&1 &&
	test -z "$(field "$T/r7.json" app built)" &&
	test -z "$(field "$T/r7.json" builder built)" &&
	test "$(field "$T/r7.json" app signature)" = "$(field "$T/r5.json" app signature)"
'

test_expect_success 'a failing RUN names the Dockerfile line; bad input names its place' '
	printf "ARG BASE\nFROM \${BASE}\nRUN echo about to fail && exit 7\n" \
		>"$P/docker/Dockerfile" && commit failing &&
	test_must_fail "$CAIRN" build --dir "$P" app >"$T/out8" 2>&1 &&
	grep -q "docker/Dockerfile:3: image .app.: .RUN echo about to fail && exit 7. exited with status 7" "$T/out8" &&
	grep -q "about to fail" "$T/out8" &&
	printf "ARG BASE\nFROM \${BASE}\nCOPY nothing-here /x\n" >"$P/docker/Dockerfile" &&
	commit missing &&
	test_must_fail "$CAIRN" build --dir "$P" app >"$T/out9" 2>&1 &&
	grep -q "docker/Dockerfile:3: image .app.: COPY: .nothing-here. not found in the build context" "$T/out9" &&
	printf "FROM scratch\nFROBNICATE x\n" >"$P/docker/Dockerfile" && commit unknown &&
	test_must_fail "$CAIRN" build --dir "$P" app >"$T/out10" 2>&1 &&
	grep -q "docker/Dockerfile:2: " "$T/out10" &&
	printf "ARG BASE\nFROM \${BASE}\nRUN --mount=type=ssh ssh-add -l\n" \
		>"$P/docker/Dockerfile" && commit ssh &&
	test_must_fail "$CAIRN" build --dir "$P" app >"$T/out10s" 2>&1 &&
	grep -q "docker/Dockerfile:3: image .app.: RUN: --mount=type=ssh needs the image.s .ssh: default." "$T/out10s" &&
	printf "ARG BASE\nFROM \${BASE}\nCOPY --parents a /b\n" >"$P/docker/Dockerfile" &&
	commit parents && test_must_fail "$CAIRN" build --dir "$P" app >"$T/out10p" 2>&1 &&
	grep -q "docker/Dockerfile:3: image .app.: COPY: --parents is not supported yet" "$T/out10p"
'

test_expect_success 'cairn build --dockerfile: a plain directory, docker build'"'"'s flags' '
	mkdir -p "$T/plain/ctx" &&
	cat >"$T/plain/Dockerfile.web" <<-EOF &&
	ARG BASE
	FROM \${BASE} AS web
	ARG GREETING=hi
	COPY page.txt /srv/
	RUN echo "\$GREETING \$(cat /srv/page.txt)" > /srv/index
	CMD ["cat", "/srv/index"]
	FROM web AS debug
	ADD bundle.tar.gz /opt/bundle
	ADD page.txt.gz /opt/
	ARG OWNER=1234
	COPY --chown=\$OWNER --chmod=600 page.txt /owned
	COPY req /req
	COPY *.jar /app.jar
	COPY --from=web /bin/sh /sh-copy
	EXPOSE 8000-8002/UDP
	RUN <<SCRIPT
	#!/bin/sh
	echo "shebang \$0" > /shebang
	SCRIPT
	COPY <<CONF /etc/app.conf
	key=value
	CONF
	ARG URL
	ARG SUM
	ADD \${URL} /opt/fetched/
	ADD --checksum=sha256:\${SUM} \${URL} /opt/checked
	FROM scratch AS bare
	COPY page.txt /
	FROM web AS mounts
	RUN --mount=type=bind,source=req,target=/mnt/req --mount=type=tmpfs,target=/scratch \
	    --mount=type=bind,from=web,source=/srv,target=/mnt/web \
	    cat /mnt/req/base.txt /mnt/web/index > /seen && touch /scratch/x && \
	    ! touch /mnt/req/ro 2>/dev/null && ! test -e /mnt/req/req.txt
	RUN --mount=type=secret,id=token --mount=type=secret,id=file,target=/etc/file.key \
	    --mount=type=secret,id=absent \
	    test "\$(cat /run/secrets/token)" = s3cret && test "\$(cat /etc/file.key)" = k3y && \
	    ! test -e /run/secrets/absent && echo secrets-seen > /secrets-seen
	FROM web AS parent
	ONBUILD RUN echo triggered > /triggered
	ONBUILD COPY page.txt /onbuild-page
	FROM parent AS child
	RUN cat /triggered /onbuild-page > /child
	EOF
	printf "plain page\n" >"$T/plain/ctx/page.txt" &&
	mkdir -p "$T/plain/ctx/req" "$T/www" && printf "base\n" >"$T/plain/ctx/req/base.txt" &&
	printf "fetched v1\n" >"$T/www/tool.sh" && port=$(test_port 3) &&
	test_spawn "$T/http.log" python3 -m http.server --bind 127.0.0.1 --directory "$T/www" "$port" &&
	i=0 && until curl -fs "http://127.0.0.1:$port/tool.sh" >/dev/null; do
		i=$((i + 1)) && [ $i -lt 100 ] && sleep 0.1 || return 1
	done &&
	URL="http://127.0.0.1:$port/tool.sh" && SUM=$(sha256sum <"$T/www/tool.sh" | cut -d" " -f1) &&
	export URL SUM &&
	printf "sibling\n" >"$T/plain/ctx/req.txt" && printf "jar\n" >"$T/plain/ctx/only.jar" &&
	mkdir -p "$T/tarsrc/sub" && printf "in tar\n" >"$T/tarsrc/sub/f" && ln -s sub/f "$T/tarsrc/l" &&
	tar -C "$T/tarsrc" --owner=7 --group=8 -czf "$T/plain/ctx/bundle.tar.gz" . &&
	gzip -c "$T/plain/ctx/page.txt" >"$T/plain/ctx/page.txt.gz" &&
	"$CAIRN" build --dir "$T/plain" -f Dockerfile.web --build-arg "BASE=$REG/base/busybox:1" \
		--build-arg URL --build-arg SUM --target debug ctx --report "$T/r10.json" \
		>"$T/out10b" 2>&1 &&
	rm -rf "$T/d" &&
	umoci unpack --image "$CAIRN_HOME/store:plain:$(field "$T/r10.json" "" signature)" "$T/d" \
		>/dev/null &&
	test "$(cat "$T/d/rootfs/opt/bundle/sub/f")" = "in tar" &&
	test "$(stat -c %u:%g "$T/d/rootfs/opt/bundle/sub/f")" = 7:8 &&
	test "$(readlink "$T/d/rootfs/opt/bundle/l")" = sub/f &&
	test "$(gzip -dc "$T/d/rootfs/opt/page.txt.gz")" = "plain page" &&
	test "$(stat -c "%u:%g %a" "$T/d/rootfs/owned")" = "1234:1234 600" &&
	test "$(cat "$T/d/rootfs/req/base.txt")" = base && ! test -e "$T/d/rootfs/req/req.txt" &&
	test "$(cat "$T/d/rootfs/app.jar")" = jar &&
	test -f "$T/d/rootfs/sh-copy" && ! test -L "$T/d/rootfs/sh-copy" &&
	test "$(cat "$T/d/rootfs/shebang")" = "shebang /dev/pipes/SCRIPT" &&
	test "$(cat "$T/d/rootfs/etc/app.conf")" = "key=value" &&
	test "$(cat "$T/d/rootfs/opt/fetched/tool.sh")" = "fetched v1" &&
	test "$(stat -c %a "$T/d/rootfs/opt/fetched/tool.sh")" = 600 &&
	test "$(cat "$T/d/rootfs/opt/checked")" = "fetched v1" &&
	printf "fetched v2\n" >"$T/www/tool.sh" &&
	test_must_fail "$CAIRN" build --dir "$T/plain" -f Dockerfile.web \
		--build-arg "BASE=$REG/base/busybox:1" --build-arg URL --build-arg SUM \
		--target debug ctx >"$T/out10u" 2>&1 &&
	grep -q "is not --checksum=sha256:$SUM" "$T/out10u" &&
	printf "fetched v1\n" >"$T/www/tool.sh" &&
	skopeo inspect --config "oci:$CAIRN_HOME/store:plain:$(field "$T/r10.json" "" signature)" \
		>"$T/debug-config.json" &&
	grep -q "8001/udp" "$T/debug-config.json" &&
	"$CAIRN" build --dir "$T/plain" -f Dockerfile.web --build-arg "BASE=$REG/base/busybox:1" \
		--target bare ctx --report "$T/r10c.json" >"$T/out10c" 2>&1 &&
	rm -rf "$T/e" &&
	umoci unpack --image "$CAIRN_HOME/store:plain:$(field "$T/r10c.json" "" signature)" "$T/e" \
		>/dev/null &&
	test "$(ls "$T/e/rootfs")" = page.txt &&
	printf k3y >"$T/file.key" &&
	token=s3cret "$CAIRN" build --dir "$T/plain" -f Dockerfile.web \
		--build-arg "BASE=$REG/base/busybox:1" --secret id=token \
		--secret "id=file,src=$T/file.key" --target mounts ctx --report "$T/r10m.json" \
		>"$T/out10m" 2>&1 &&
	rm -rf "$T/m" &&
	umoci unpack --image "$CAIRN_HOME/store:plain:$(field "$T/r10m.json" "" signature)" "$T/m" \
		>/dev/null &&
	test "$(cat "$T/m/rootfs/seen")" = "base
hi plain page" &&
	! test -e "$T/m/rootfs/scratch" && ! test -e "$T/m/rootfs/mnt" &&
	test "$(cat "$T/m/rootfs/secrets-seen")" = secrets-seen &&
	! test -e "$T/m/rootfs/run/secrets" && ! test -e "$T/m/rootfs/etc/file.key" &&
	! grep -rq "s3cret\|k3y" "$T/m/rootfs" "$T/out10m" &&
	printf "base2\n" >"$T/plain/ctx/req/base.txt" &&
	token=s3cret "$CAIRN" build --dir "$T/plain" -f Dockerfile.web \
		--build-arg "BASE=$REG/base/busybox:1" --secret id=token \
		--secret "id=file,src=$T/file.key" --target mounts ctx --report "$T/r10n.json" \
		>"$T/out10n" 2>&1 &&
	field "$T/r10n.json" "" built | grep -q "^mounts:[0-9]* RUN --mount=type=bind" &&
	printf "base\n" >"$T/plain/ctx/req/base.txt" &&
	"$CAIRN" build --dir "$T/plain" -f Dockerfile.web --build-arg "BASE=$REG/base/busybox:1" \
		--target child ctx --report "$T/r10o.json" >"$T/out10o" 2>&1 &&
	rm -rf "$T/ob" &&
	umoci unpack --image "$CAIRN_HOME/store:plain:$(field "$T/r10o.json" "" signature)" "$T/ob" \
		>/dev/null &&
	test "$(cat "$T/ob/rootfs/child")" = "triggered
plain page" &&
	skopeo inspect --config "oci:$CAIRN_HOME/store:plain:$(field "$T/r10o.json" "" signature)" \
		>"$T/child-config.json" && ! grep -q OnBuild "$T/child-config.json" &&
	"$CAIRN" build --dir "$T/plain" --file Dockerfile.web --build-arg "BASE=$REG/base/busybox:1" \
		--build-arg GREETING=hello --target web ctx --report "$T/r11.json" >"$T/out11" 2>&1 &&
	test "$(field "$T/r11.json" "" built)" != "" || { cat "$T/out11"; false; }
'

test_expect_success 'build-and-publish --dockerfile publishes the image, which runs under docker' '
	GREETING=howdy "$CAIRN" build-and-publish --dir "$T/plain" --dockerfile Dockerfile.web \
		--build-arg "BASE=$REG/base/busybox:1" --build-arg GREETING --target web ctx \
		--images-repo "$REG/plain" --tag-custom v1 >"$T/out12" 2>&1 &&
	image_check "$REG/plain:v1" &&
	if command -v dockerd >/dev/null 2>&1 || [ "${CI:-}" = true ]; then
		test "$(docker_cmd run --rm --network none "$REG/plain:v1")" = "howdy plain page"
	fi &&
	printf "changed page\n" >"$T/plain/ctx/page.txt" &&
	"$CAIRN" build --dir "$T/plain" --dockerfile Dockerfile.web --build-arg GREETING=howdy \
		--build-arg "BASE=$REG/base/busybox:1" --target web ctx --report "$T/r13.json" \
		>"$T/out13" 2>&1 &&
	case "$(field "$T/r13.json" "" built)" in "web:4 COPY page.txt /srv/|web:5 RUN echo"*"|web:6 CMD"*) ;;
	*) false ;; esac &&
	test_must_fail "$CAIRN" build --dir "$T/plain" --target web >"$T/out14" 2>&1 &&
	grep -q "need --dockerfile" "$T/out14"
'

test_expect_success 'a hostile context: symlinks out stay links, an archive cannot climb out' '
	mkdir -p "$T/evil/ctx" "$T/outside" && printf "host secret\n" >"$T/outside/secret" &&
	ln -s "$T/outside/secret" "$T/evil/ctx/abs-link" &&
	ln -s ../../outside/secret "$T/evil/ctx/rel-link" &&
	printf "ARG BASE\nFROM \${BASE}\nCOPY abs-link rel-link /got/\n" >"$T/evil/Dockerfile" &&
	"$CAIRN" build --dir "$T/evil" -f Dockerfile --build-arg "BASE=$REG/base/busybox:1" ctx \
		--report "$T/r15.json" >"$T/out15" 2>&1 &&
	rm -rf "$T/v" &&
	umoci unpack --image "$CAIRN_HOME/store:evil:$(field "$T/r15.json" "" signature)" "$T/v" \
		>/dev/null &&
	test -L "$T/v/rootfs/got/abs-link" && test -L "$T/v/rootfs/got/rel-link" &&
	! grep -rq "host secret" "$T/v/rootfs" &&
	python3 - "$T/evil/ctx/climb.tar" <<-"PY" &&
	import io, sys, tarfile
	with tarfile.open(sys.argv[1], "w") as t:
	    data = b"pwned\n"
	    i = tarfile.TarInfo("../../../../climbed")
	    i.size = len(data)
	    t.addfile(i, io.BytesIO(data))
	PY
	printf "ARG BASE\nFROM \${BASE}\nADD climb.tar /opt/\n" >"$T/evil/Dockerfile" &&
	test_must_fail "$CAIRN" build --dir "$T/evil" -f Dockerfile \
		--build-arg "BASE=$REG/base/busybox:1" ctx >"$T/out16" 2>&1 &&
	grep -q "Dockerfile:3: image .~.: ADD: .climb.tar.: path has a .\.\.. component" "$T/out16" &&
	! test -e "$T/climbed" && ! test -e /climbed
'

test_expect_success 'ADD of a URL that drips bytes fails within the minute it is too slow' '
	hostile_registry_start 2 drip --interval 0.5 &&
	mkdir -p "$T/drip" &&
	printf "FROM scratch\nADD http://%s/v2/x/manifests/1 /f\n" "$HOSTILE" >"$T/drip/Dockerfile" &&
	_t0=$(date +%s) &&
	test_must_fail timeout 150 "$CAIRN" build --dir "$T/drip" -f Dockerfile . >"$T/out" \
		2>"$T/err" &&
	cat "$T/err" && test $(($(date +%s) - _t0)) -le 100 &&
	grep -q "ADD http://$HOSTILE/v2/x/manifests/1: Operation too slow" "$T/err"
'

test_done
