#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""image_diff.py A.json A.tar B.json B.tar: what differs between two images as a container
sees them: their config (`docker image inspect` output) and their filesystems (`docker export`
of a container of each): each entry's type, mode, owner, size, link target and content; mtimes
and what the engine itself puts in every container are left out. Prints the differences and
exits 1 when there are any."""
import hashlib
import json
import sys
import tarfile

CONFIG_KEYS = ["Env", "Entrypoint", "Cmd", "User", "WorkingDir", "ExposedPorts", "Volumes",
               "Labels", "StopSignal", "Healthcheck", "Shell", "OnBuild"]
ENGINE = {".dockerenv", "etc/hosts", "etc/hostname", "etc/resolv.conf", "etc/mtab"}
ENGINE_DIRS = ("dev/", "proc/", "sys/")


def config(path):
    c = json.load(open(path))[0]["Config"]
    out = {}
    for k in CONFIG_KEYS:
        v = c.get(k)
        if v in (None, [], {}, ""):
            continue
        if k == "Labels":  # cairn's own labels (stage chain, published tag) aside
            v = {lk: lv for lk, lv in v.items() if not lk.startswith("cairn-")}
            if not v:
                continue
        out[k] = sorted(v) if k == "Env" else v
    return out


def tree(path):
    entries = {}
    with tarfile.open(path) as t:
        for m in t:
            name = m.name.lstrip("./").rstrip("/")
            if not name or name in ENGINE or name.startswith(ENGINE_DIRS) or name in ("dev", "proc", "sys"):
                continue
            kind = "dir" if m.isdir() else "link" if m.issym() else "hard" if m.islnk() else "file" if m.isfile() else "other"
            e = {"type": kind, "mode": oct(m.mode & 0o7777), "owner": "%d:%d" % (m.uid, m.gid)}
            if m.isfile():
                e["sha256"] = hashlib.sha256(t.extractfile(m).read()).hexdigest()[:16]
                e["size"] = m.size
            if m.issym() or m.islnk():
                e["link"] = m.linkname
            if m.islnk():
                e["type"] = "file"  # a hard link is the same file to a container
                e.pop("link")
            entries[name] = e
    return entries


def main():
    a_cfg, a_tar, b_cfg, b_tar = sys.argv[1:5]
    diffs = []
    ca, cb = config(a_cfg), config(b_cfg)
    for k in sorted(set(ca) | set(cb)):
        if ca.get(k) != cb.get(k):
            diffs.append("config %s: %r != %r" % (k, ca.get(k), cb.get(k)))
    ta, tb = tree(a_tar), tree(b_tar)
    for name in sorted(set(ta) | set(tb)):
        if name not in tb:
            diffs.append("only in the first: /%s %r" % (name, ta[name]))
        elif name not in ta:
            diffs.append("only in the second: /%s %r" % (name, tb[name]))
        elif ta[name] != tb[name]:
            diffs.append("/%s: %r != %r" % (name, ta[name], tb[name]))
    for d in diffs:
        print(d)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
