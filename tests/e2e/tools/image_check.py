#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check an image in a registry the way docker's layer store does, without docker.

Usage: image_check.py HOST:PORT REPO REF

Fetches the manifest (Docker schema 2 or OCI; an index is followed to each of its images),
its config and every layer, and fails (exit 1, one line per problem) when a layer holds a path
twice (docker pull: "duplicates of file paths not supported"), when a layer's uncompressed
digest differs from the config's diff_id, or when the counts of layers and diff_ids differ.
Plain HTTP to 127.0.0.1 only: this is a test tool.
"""
import gzip
import hashlib
import io
import json
import sys
import tarfile
import urllib.request

ACCEPT = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
])


def get(host, path, accept=None):
    req = urllib.request.Request("http://%s/v2/%s" % (host, path))
    if accept:
        req.add_header("Accept", accept)
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.read()


def check_layer(host, repo, desc, diff_id, where, problems):
    blob = get(host, "%s/blobs/%s" % (repo, desc["digest"]))
    if "sha256:" + hashlib.sha256(blob).hexdigest() != desc["digest"]:
        problems.append("%s: blob does not match its digest" % where)
        return
    raw = blob
    if blob[:2] == b"\x1f\x8b":
        raw = gzip.decompress(blob)
    elif "zstd" in desc.get("mediaType", ""):
        return  # python has no zstd; the registry digest check above still ran
    if diff_id and "sha256:" + hashlib.sha256(raw).hexdigest() != diff_id:
        problems.append("%s: diff_id %s does not match the layer" % (where, diff_id))
    seen = set()
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
        for m in tar.getmembers():
            name = m.name
            while name.startswith("./"):
                name = name[2:]
            name = name.strip("/")
            if name in seen:
                problems.append("%s: path '%s' twice" % (where, name))
            seen.add(name)


def check_manifest(host, repo, ref, problems):
    m = json.loads(get(host, "%s/manifests/%s" % (repo, ref), ACCEPT))
    if "manifests" in m:
        for d in m["manifests"]:
            check_manifest(host, repo, d["digest"], problems)
        return
    config = json.loads(get(host, "%s/blobs/%s" % (repo, m["config"]["digest"])))
    diff_ids = config.get("rootfs", {}).get("diff_ids", [])
    layers = m.get("layers", [])
    if len(diff_ids) != len(layers):
        problems.append("%s@%s: %d layers, %d diff_ids" % (repo, ref, len(layers), len(diff_ids)))
        diff_ids = [None] * len(layers)
    for i, desc in enumerate(layers):
        where = "%s:%s layer %d (%s)" % (repo, ref, i, desc["digest"][:19])
        check_layer(host, repo, desc, diff_ids[i], where, problems)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    problems = []
    check_manifest(sys.argv[1], sys.argv[2], sys.argv[3], problems)
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
