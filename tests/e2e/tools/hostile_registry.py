#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""hostile_registry.py: a registry stand-in that misbehaves where a real registry cannot.

    hostile_registry.py --port PORT --log FILE [--parent-pid PID] MODE [MODE OPTIONS]

Listens on 127.0.0.1 only (python3 stdlib).  A TLS ClientHello is answered as Go's http server
answers it (400, plain HTTP here) so that a client probing for https falls back at once, except
in `silent` mode.  MODE is one of:

origins --upstream HOST:PORT --other-port PORT2 --user USER:PASS [--realm-port PORT3]
        [--rate BYTES] [--sign-redirects] [--blob-extra] [--tamper-configs] [--odd-content-type]
    A front on PORT for the registry at HOST:PORT (plain HTTP, no auth) that wants USER:PASS:
    as Basic credentials, or with --realm-port, as Bearer tokens from a token realm on PORT3
    (GET /token with those Basic credentials; another origin, as auth.docker.io is for Docker
    Hub).  Requests are forwarded to the registry, but an upload that starts (202 to a POST of
    .../blobs/uploads/) gets a Location on PORT2, and a blob GET is redirected (307) there.
    PORT2 is another origin (same host, another port): it forwards what it gets, keeping later
    Locations on itself, and wants no credentials.  With --rate it reads request bodies and
    writes response bodies at BYTES a second, in steady pieces, with a small receive buffer (as
    over a slow link, a request body waits in the client's send queue): a slow but live
    transfer.  --sign-redirects adds a signed storage URL's query to the redirects (its
    X-Amz-Signature, a credential, is SIGNATURE below); --blob-extra makes the other origin
    send every blob and then bytes without end; --tamper-configs makes it send each image
    config with `"linux"` written `"LINUX"` (same length, another digest); --odd-content-type
    makes the front answer manifest GETs with `Content-Type: application/\\xff` (not text).
endless-manifest
    GET of any manifest: 200 and a body that never ends (no Content-Length).
huge-manifest
    GET of any manifest: 200 with Content-Length 1 GiB, sent as fast as the client reads.
endless-token
    Every /v2/ request: 401 with a Bearer realm on PORT, whose /token answers 200 and a JSON
    body that never ends.
drip --interval SECS
    GET of any manifest: 200 with Content-Length 1000, then one byte every SECS.
endless-tags
    GET of a tag list: 200, 10,000 tags, and a Link to a next page, without end.
error-text
    Every request: 403 with a JSON error whose message holds a newline, a forged "[OK]" line
    and terminal escape sequences (clipboard write, colour).
silent
    Accepts connections and never answers anything (TLS handshakes included).
silent-http
    Refuses TLS as above, then never answers a request.

The log gets one line per request: time, listener (`front`, `other`, `realm`, `body`), method,
target, what the request carried in `Authorization` (`auth=Basic`, `auth=Bearer` or `auth=-`;
never the value) and the status; a body sent bit by bit gets a line `begin` when it starts and
one `sent=BYTES` (body bytes written before the client went away) when it ends.
"""

import argparse
import base64
import http.client
import json
import os
import re
import secrets
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
              "transfer-encoding", "content-length", "host"}
CHUNK = 65536
BLOB_GET = re.compile(r"^/v2/.+/blobs/sha256:[0-9a-f]{64}$")
MANIFEST = re.compile(r"^/v2/.+/manifests/[^/]+$")
TAGS = re.compile(r"^/v2/(.+)/tags/list")
SIGNATURE = "S1gnature-s3cret"
FORGED = "denied\n[OK] 127.0.0.1/forged:1 sha256:0\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[31mred"


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.tokens = set()

    def log(self, listener, method, target, auth, status, note=""):
        now = time.time()
        stamp = time.strftime("%H:%M:%S", time.localtime(now)) + ".%03d" % (now % 1 * 1000)
        line = "%s %s %s %s auth=%s %s%s\n" % (stamp, listener, method, target, auth, status,
                                               " " + note if note else "")
        with self.lock:
            with open(self.args.log, "a", encoding="utf-8") as f:
                f.write(line)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    listener = "front"  # set per server

    def log_message(self, fmt, *args):  # our log is --log
        pass

    def handle(self):
        st = self.server.state
        if st.args.mode == "silent":
            self.drain()
            return
        try:
            first = self.rfile.peek(1)[:1]
        except OSError:
            return
        if first == b"\x16":
            try:
                self.wfile.write(b"HTTP/1.0 400 Bad Request\r\n\r\n"
                                 b"Client sent an HTTP request to an HTTPS server.\n")
            except OSError:
                pass
            return
        if st.args.mode == "silent-http":
            st.log(self.listener, "-", "-", "-", "-", "connection held without an answer")
            self.drain()
            return
        super().handle()

    def drain(self):
        """Read whatever comes until the client closes; answer nothing."""
        try:
            while self.request.recv(CHUNK):
                pass
        except OSError:
            pass

    def auth_kind(self):
        value = self.headers.get("Authorization")
        return value.split(" ", 1)[0] if value else "-"

    def reply(self, status, headers=(), body=b"", note=""):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.write_body(body)
        self.server.state.log(self.listener, self.command, self.path, self.auth_kind(), status,
                              note)

    def stream(self, status, ctype, head, filler, length=None, interval=0.0):
        """Send `head` then `filler` bytes until the client goes away (or `length` is sent)."""
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if length is None:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        self.server.state.log(self.listener, self.command, self.path, self.auth_kind(), status,
                              "begin")
        sent = 0
        try:
            self.wfile.write(head)
            sent = len(head)
            while length is None or sent < length:
                piece = filler[:1] if interval else filler
                if length is not None:
                    piece = piece[:length - sent]
                self.wfile.write(piece)
                self.wfile.flush()
                sent += len(piece)
                if interval:
                    time.sleep(interval)
        except OSError:
            self.close_connection = True
        self.server.state.log(self.listener, self.command, self.path, self.auth_kind(), status,
                              "sent=%d" % sent)

    def paced(self):
        """Bytes per tenth of a second for a paced transfer on this listener, or 0."""
        rate = self.server.state.args.rate
        return max(1, rate // 10) if rate and self.listener == "other" else 0

    def read_body(self):
        if self.headers.get("Transfer-Encoding"):
            raise ValueError("chunked request bodies are not supported")
        n = int(self.headers.get("Content-Length") or 0)
        step = self.paced()
        if not step:
            return self.rfile.read(n) if n else b""
        parts = []
        while n > 0:
            parts.append(self.rfile.read(min(step, n)))
            n -= len(parts[-1])
            time.sleep(0.1)
        return b"".join(parts)

    def write_body(self, body):
        step = self.paced()
        if not step:
            self.wfile.write(body)
            return
        for i in range(0, len(body), step):
            self.wfile.write(body[i:i + step])
            self.wfile.flush()
            time.sleep(0.1)

    def do_any(self):
        mode = self.server.state.args.mode
        if mode == "origins":
            self.origins()
        elif mode in ("endless-manifest", "huge-manifest", "drip") and \
                self.command == "GET" and MANIFEST.match(self.path):
            self.bad_manifest(mode)
        elif mode == "endless-token":
            self.endless_token()
        elif mode == "endless-tags" and self.command == "GET" and TAGS.match(self.path):
            self.endless_tags()
        elif mode == "error-text":
            body = json.dumps({"errors": [{"code": "DENIED", "message": FORGED}]})
            self.reply(403, [("Content-Type", "application/json")], body.encode())
        else:
            self.reply(404, note="nothing here")

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_any

    def bad_manifest(self, mode):
        ctype = "application/vnd.docker.distribution.manifest.v2+json"
        head = b'{"schemaVersion":2,"x":"'
        if mode == "endless-manifest":
            self.stream(200, ctype, head, b"a" * CHUNK)
        elif mode == "huge-manifest":
            self.stream(200, ctype, head, b"a" * CHUNK, length=1 << 30)
        else:
            self.stream(200, ctype, head[:1], b"a", length=1000,
                        interval=self.server.state.args.interval)

    def endless_tags(self):
        repo = TAGS.match(self.path).group(1)
        page = int(re.search(r"[?&]last=p(\d+)", self.path + "&last=p0").group(1)) + 1
        tags = ["p%d-%05d-%s" % (page, i, "x" * 80) for i in range(10000)]
        body = json.dumps({"name": repo, "tags": tags}).encode()
        link = '</v2/%s/tags/list?n=10000&last=p%d>; rel="next"' % (repo, page)
        self.reply(200, [("Content-Type", "application/json"), ("Link", link)], body)

    def endless_token(self):
        port = self.server.server_address[1]
        if self.path.startswith("/token"):
            self.listener = "realm"
            self.stream(200, "application/json", b'{"token":"', b"a" * CHUNK)
            return
        challenge = 'Bearer realm="http://127.0.0.1:%d/token",service="hostile"' % port
        self.reply(401, [("WWW-Authenticate", challenge)], b'{"errors":[]}')

    # --- origins ------------------------------------------------------------------------------

    def origins(self):
        args = self.server.state.args
        if self.listener == "realm":
            self.token()
        elif self.listener == "front" and self.path.startswith("/v2/") and not self.allowed():
            self.challenge()
        elif self.listener == "front" and self.command == "GET" and BLOB_GET.match(self.path):
            loc = "http://127.0.0.1:%d%s" % (args.other_port, self.path)
            if args.sign_redirects:
                loc += "?X-Amz-Credential=AKIA&X-Amz-Signature=" + SIGNATURE
            self.reply(307, [("Location", loc)])
        else:
            self.forward()

    def basic_ok(self):
        want = "Basic " + base64.b64encode(self.server.state.args.user.encode()).decode()
        return self.headers.get("Authorization") == want

    def allowed(self):
        if not self.server.state.args.realm_port:
            return self.basic_ok()
        value = self.headers.get("Authorization") or ""
        return value.startswith("Bearer ") and value[7:] in self.server.state.tokens

    def challenge(self):
        args = self.server.state.args
        if args.realm_port:
            value = 'Bearer realm="http://127.0.0.1:%d/token",service="hostile"' % args.realm_port
        else:
            value = 'Basic realm="hostile"'
        self.reply(401, [("WWW-Authenticate", value), ("Content-Type", "application/json")],
                   b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}')

    def token(self):
        if not self.basic_ok():
            self.reply(401, [("WWW-Authenticate", 'Basic realm="hostile-realm"')])
            return
        tok = secrets.token_hex(16)
        with self.server.state.lock:
            self.server.state.tokens.add(tok)
        self.reply(200, [("Content-Type", "application/json")],
                   b'{"token":"%s","expires_in":300}' % tok.encode())

    def forward(self):
        args = self.server.state.args
        body = self.read_body()
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in HOP_BY_HOP and k.lower() != "authorization"}
        conn = http.client.HTTPConnection(args.upstream, timeout=60)
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        upstream = "http://" + args.upstream
        out = []
        for k, v in resp.getheaders():
            if k.lower() in HOP_BY_HOP:
                continue
            if k.lower() == "location" and v.startswith(upstream):
                port = self.server.server_address[1]
                if self.command == "POST" and "/blobs/uploads/" in self.path and \
                        resp.status == 202:
                    port = args.other_port
                v = "http://127.0.0.1:%d%s" % (port, v[len(upstream):])
            out.append((k, v))
        blob = self.command == "GET" and BLOB_GET.match(self.path.split("?")[0])
        if self.listener == "other" and blob and resp.status == 200 and args.blob_extra:
            self.stream(200, resp.getheader("Content-Type") or "", data, b"x" * CHUNK)
            return
        if self.listener == "other" and blob and args.tamper_configs and \
                data.startswith(b"{") and b'"linux"' in data:
            data = data.replace(b'"linux"', b'"LINUX"', 1)
        if self.listener == "front" and args.odd_content_type and self.command == "GET" and \
                MANIFEST.match(self.path) and resp.status == 200:
            out = [(k, v) for k, v in out if k.lower() != "content-type"]
            out.append(("Content-Type", "application/\xff"))
        if self.command == "HEAD":
            self.send_response(resp.status)
            for k, v in out:
                self.send_header(k, v)
            self.send_header("Content-Length", resp.getheader("Content-Length") or "0")
            self.end_headers()
            self.server.state.log(self.listener, self.command, self.path, self.auth_kind(),
                                  resp.status)
            return
        self.reply(resp.status, out, data)


class Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True
    rcvbuf = 0

    def server_bind(self):
        if self.rcvbuf:  # accepted sockets inherit it, and it must be set before listen()
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        super().server_bind()


def serve(state, port, listener):
    handler = type("Handler_" + listener, (Handler,), {"listener": listener})
    paced = listener == "other" and state.args.rate
    server = type("Server_" + listener, (Server,), {"rcvbuf": 65536 if paced else 0})(
        ("127.0.0.1", port), handler)
    server.state = state
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                     daemon=True).start()


def watch_parent(pid):
    """Exit the whole process once PID no longer exists (checked every second)."""
    def watch():
        while True:
            time.sleep(1)
            try:
                os.kill(pid, 0)
                with open("/proc/%d/stat" % pid, encoding="latin-1") as f:
                    if f.read().rpartition(")")[2].split()[0] in ("Z", "X"):
                        os._exit(0)  # a zombie: dead, not yet reaped
            except ProcessLookupError:
                os._exit(0)
            except (PermissionError, FileNotFoundError, IndexError):
                pass
    threading.Thread(target=watch, daemon=True).start()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True, help="listen on 127.0.0.1:PORT")
    ap.add_argument("--log", required=True, help="request log file (appended)")
    ap.add_argument("--parent-pid", type=int,
                    help="exit when this process is gone (the test script, even SIGKILLed)")
    ap.add_argument("mode", choices=["origins", "endless-manifest", "huge-manifest",
                                     "endless-token", "endless-tags", "error-text", "drip",
                                     "silent", "silent-http"])
    ap.add_argument("--upstream", help="origins: HOST:PORT of the registry (plain HTTP)")
    ap.add_argument("--other-port", type=int, help="origins: the other origin's port")
    ap.add_argument("--realm-port", type=int, help="origins: Bearer tokens from a realm there")
    ap.add_argument("--user", help="origins: USER:PASS the front and the realm want")
    ap.add_argument("--rate", type=int, help="origins: bytes a second on the other origin")
    ap.add_argument("--sign-redirects", action="store_true",
                    help="origins: blob redirects carry a signed URL's query")
    ap.add_argument("--blob-extra", action="store_true",
                    help="origins: the other origin sends bytes past every blob, without end")
    ap.add_argument("--tamper-configs", action="store_true",
                    help="origins: the other origin alters image configs (same length)")
    ap.add_argument("--odd-content-type", action="store_true",
                    help="origins: manifests come with a Content-Type that is not text")
    ap.add_argument("--interval", type=float, default=3.0, help="drip: seconds between bytes")
    args = ap.parse_args()
    if args.mode == "origins" and not (args.upstream and args.other_port and args.user):
        ap.error("origins needs --upstream, --other-port and --user")
    if args.parent_pid:
        watch_parent(args.parent_pid)
    state = State(args)
    serve(state, args.port, "front" if args.mode == "origins" else "body")
    if args.mode == "origins":
        serve(state, args.other_port, "other")
        if args.realm_port:
            serve(state, args.realm_port, "realm")
    print("hostile_registry: %s listening on 127.0.0.1:%d" % (args.mode, args.port), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.exit(main())
