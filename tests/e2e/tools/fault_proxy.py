#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""fault_proxy.py: an HTTP/1.1 reverse proxy that injects faults, for the end-to-end tests.

It listens on 127.0.0.1:PORT, forwards every request to an upstream registry (plain HTTP on
127.0.0.1), keeps connections alive on both sides, streams bodies in 64 KiB pieces (a 100 MB
upload never sits in memory), rewrites `Location` headers that name the upstream so that upload
URLs and redirects keep pointing at the proxy, and applies fault RULES to matching requests.

    fault_proxy.py --port PORT --upstream HOST:PORT --log FILE [--rules FILE]
                   [--reject-expired-tokens] [--tcp] [--parent-pid PID] [RULE...]

A RULE is one argument (or one line of the rules file; `#` starts a comment):

    ACTION METHOD PATH_REGEX [TIMES]

  ACTION      comma-separated effects, one or more of:
                status=CODE        answer CODE without forwarding (the request body is read and
                                   dropped); a registry-style JSON error body
                retry-after=SECS   with status: a Retry-After header (status=429 gets 1 by default)
                drop-request=BYTES forward BYTES of the request body, then close both connections
                                   (a connection broken mid-upload); requests whose
                                   Content-Length is BYTES or less do not match (a chunked
                                   body shorter than BYTES is cut at its end)
                cut-request=BYTES  forward BYTES of the request body to upstream, close that
                                   connection, read the rest of the body from the client and
                                   close its connection without an answer (the client sent
                                   everything and sees the connection end: libcurl then
                                   re-sends the request by itself on a fresh connection if
                                   the first was a reused one)
                drop-response=BYTES forward the response headers and BYTES of its body, then close
                                   (a connection broken mid-download)
                reset              close the client connection at once, answering nothing
                delay=MS           wait MS milliseconds before sending the response
                hold=MS            wait MS milliseconds before forwarding the request (what the
                                   upstream answers is what it holds after the wait)
  METHOD      GET, HEAD, POST, PATCH, PUT, DELETE... or * for any
  PATH_REGEX  a Python regular expression searched in the request target (path and query)
  TIMES       how many requests the rule applies to (default 1; `inf`: every one)

The first rule (in order) that matches a request and has not used up its TIMES applies; it is
counted when it fires.  Examples:

    'status=503 HEAD /blobs/sha256: 2'        the first 2 blob HEADs get 503
    'status=429 POST /blobs/uploads/'         the first upload POST gets 429, Retry-After: 1
    'drop-request=1048576 PATCH /blobs/uploads/'
    'drop-response=65536 GET /blobs/sha256:'
    'delay=300 * . inf'                       every response 300 ms late

--tcp makes it a plain TCP relay instead (rules are ignored): each connection is logged as
`"TCP tls"` when the client starts with a TLS handshake, or `"TCP plain "FIRST LINE""`, which
shows whether a client fell back to plain HTTP in front of a TLS registry.

--reject-expired-tokens answers 401 (with the upstream's Bearer challenge and the request's
scope) to any request whose `Authorization: Bearer` JWT has an `exp` in the past, the way a
registry without clock leeway does (distribution accepts tokens 60 s past their expiry).

The log gets one line per request: time, connection number, "METHOD TARGET", the status sent (or
`-` when the connection was dropped) and what the proxy did (`upstream` or `fault=...`).
Authorization headers and bodies are never logged.  GET /_fault_proxy/health answers 200 here
(neither forwarded nor matched against rules): a readiness probe.
"""

import argparse
import base64
import json
import os
import re
import select
import socket
import socketserver
import sys
import threading
import time

CHUNK = 65536
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"}
REASONS = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 307: "Temporary Redirect",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    408: "Request Timeout", 429: "Too Many Requests", 500: "Internal Server Error",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}
ERROR_CODES = {
    401: "UNAUTHORIZED", 408: "UNKNOWN", 429: "TOOMANYREQUESTS", 503: "UNAVAILABLE",
}


class Dropped(Exception):
    """A connection is (to be) closed: no more requests on it."""


class Rule:
    def __init__(self, text):
        self.text = text.strip()
        fields = self.text.split()
        if len(fields) not in (3, 4):
            raise ValueError("rule %r: want ACTION METHOD PATH_REGEX [TIMES]" % text)
        self.status = None
        self.retry_after = None
        self.drop_request = None
        self.cut_request = None
        self.drop_response = None
        self.reset = False
        self.delay = 0.0
        self.hold = 0.0
        for effect in fields[0].split(","):
            key, _, val = effect.partition("=")
            if key == "status":
                self.status = int(val)
            elif key == "retry-after":
                self.retry_after = val
            elif key == "drop-request":
                self.drop_request = int(val)
            elif key == "cut-request":
                self.cut_request = int(val)
            elif key == "drop-response":
                self.drop_response = int(val)
            elif key == "reset" and not val:
                self.reset = True
            elif key == "delay":
                self.delay = int(val) / 1000.0
            elif key == "hold":
                self.hold = int(val) / 1000.0
            else:
                raise ValueError("rule %r: unknown effect %r" % (text, effect))
        if self.status == 429 and self.retry_after is None:
            self.retry_after = "1"
        self.method = fields[1].upper()
        self.regex = re.compile(fields[2])
        times = fields[3] if len(fields) == 4 else "1"
        self.left = None if times in ("inf", "*") else int(times)
        self.fired = 0

    def matches(self, method, target, body_length):
        if self.left is not None and self.left <= 0:
            return False
        cut_at = self.drop_request if self.drop_request is not None else self.cut_request
        if cut_at is not None and body_length is not None and body_length <= cut_at:
            return False  # the body is too short to be cut after that many bytes
        if self.method != "*" and self.method != method:
            return False
        return self.regex.search(target) is not None


class Proxy:
    def __init__(self, args, rules):
        self.upstream_host, _, port = args.upstream.rpartition(":")
        self.upstream_port = int(port)
        self.upstream = args.upstream
        self.rules = rules
        self.reject_expired = args.reject_expired_tokens
        self.tcp = args.tcp
        self.lock = threading.Lock()
        self.log_file = open(args.log, "a", buffering=1, encoding="utf-8")
        self.conn_seq = 0
        self.challenge = None

    def log(self, conn_id, method, target, status, what):
        stamp = time.strftime("%H:%M:%S", time.localtime()) + ".%03d" % (time.time() % 1 * 1000)
        with self.lock:
            self.log_file.write('%s conn=%d "%s %s" %s %s\n' % (stamp, conn_id, method, target,
                                                              status, what))

    def pick_rule(self, method, target, body_length):
        with self.lock:
            for i, rule in enumerate(self.rules):
                if rule.matches(method, target, body_length):
                    if rule.left is not None:
                        rule.left -= 1
                    rule.fired += 1
                    return i + 1, rule
        return 0, None

    def connect_upstream(self):
        return socket.create_connection((self.upstream_host, self.upstream_port), timeout=300)

    def bearer_challenge(self):
        """realm and service of the upstream's Bearer challenge (asked once, without auth)."""
        if self.challenge is None:
            sock = self.connect_upstream()
            try:
                sock.sendall(b"GET /v2/ HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                             % self.upstream.encode())
                rfile = sock.makefile("rb")
                _, _, headers = read_head(rfile, response=True)
                self.challenge = header(headers, "www-authenticate") or 'Bearer realm="unknown"'
            finally:
                sock.close()
        return self.challenge


def read_line(rfile):
    line = rfile.readline(65537)
    if not line:
        raise EOFError
    if len(line) > 65536:
        raise ValueError("header line too long")
    return line


def read_head(rfile, response=False):
    """(start line, list of (name, value)) of a request or response; EOFError at a clean end."""
    start = read_line(rfile)
    while start in (b"\r\n", b"\n") and not response:
        start = read_line(rfile)
    headers = []
    while True:
        line = read_line(rfile)
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    return start.decode("latin-1").rstrip("\r\n"), None, headers


def header(headers, name):
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def conn_tokens(headers):
    return {t.strip().lower() for k, v in headers if k.lower() == "connection"
            for t in v.split(",")}


class BodyReader:
    """Reads one message body in its framing (Content-Length, chunked or until EOF), giving the
    raw bytes (chunk framing included) so they can be forwarded as they are."""

    def __init__(self, rfile, headers, until_eof=False):
        self.rfile = rfile
        te = (header(headers, "transfer-encoding") or "").lower()
        self.chunked = "chunked" in te
        cl = header(headers, "content-length")
        self.left = int(cl) if (cl is not None and not self.chunked) else None
        self.until_eof = until_eof and not self.chunked and self.left is None
        if not self.chunked and self.left is None and not self.until_eof:
            self.left = 0
        self.chunk_left = 0
        self.state = "size"  # chunked: size, data, crlf, trailer, done
        self.done = not self.chunked and not self.until_eof and self.left == 0

    def read(self):
        """The next piece of raw body bytes; b"" at the end.  EOFError when cut short."""
        if self.done:
            return b""
        if self.until_eof:
            data = self.rfile.read1(CHUNK)
            if not data:
                self.done = True
            return data
        if not self.chunked:
            data = self.rfile.read1(min(CHUNK, self.left))
            if not data:
                raise EOFError("body cut short")
            self.left -= len(data)
            self.done = self.left == 0
            return data
        if self.state == "size":
            line = read_line(self.rfile)
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.state = "trailer"
            else:
                self.chunk_left = size
                self.state = "data"
            return line
        if self.state == "data":
            data = self.rfile.read1(min(CHUNK, self.chunk_left))
            if not data:
                raise EOFError("body cut short")
            self.chunk_left -= len(data)
            if self.chunk_left == 0:
                self.state = "crlf"
            return data
        if self.state == "crlf":
            self.state = "size"
            return read_line(self.rfile)
        line = read_line(self.rfile)  # trailer section, up to the empty line
        if line in (b"\r\n", b"\n"):
            self.done = True
        return line


def error_body(status):
    code = ERROR_CODES.get(status, "UNKNOWN")
    return json.dumps({"errors": [{"code": code, "message": "fault_proxy: injected %d" % status,
                                   "detail": None}]}).encode()


def scope_of(method, target):
    m = re.match(r"/v2/(.+?)/(blobs|manifests|tags)/", target)
    if not m:
        return None
    actions = "pull" if method in ("GET", "HEAD") else "pull,push"
    return "repository:%s:%s" % (m.group(1), actions)


def jwt_expired(headers):
    auth = header(headers, "authorization") or ""
    if not auth.lower().startswith("bearer "):
        return False
    parts = auth[7:].strip().split(".")
    if len(parts) != 3:
        return False
    try:
        payload = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
        return float(claims.get("exp", 0)) <= time.time()
    except (ValueError, TypeError):
        return False


class Handler(socketserver.BaseRequestHandler):
    def setup(self):
        self.proxy = self.server.proxy
        with self.proxy.lock:
            self.proxy.conn_seq += 1
            self.conn_id = self.proxy.conn_seq
        self.client = self.request
        self.client.settimeout(300)
        self.rfile = self.client.makefile("rb")
        self.up = None
        self.up_rfile = None

    def finish(self):
        self.close_upstream()
        try:
            self.rfile.close()
        except OSError:
            pass

    def close_upstream(self):
        if self.up is not None:
            try:
                self.up.close()
            except OSError:
                pass
        self.up = None
        self.up_rfile = None

    def send(self, data):
        self.client.sendall(data)

    def upstream_idle_ok(self):
        """A kept-alive upstream connection is reusable: nothing to read on it (no EOF)."""
        try:
            readable, _, _ = select.select([self.up], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    def handle(self):
        try:
            first = self.rfile.peek(1)[:1]
        except OSError:
            return
        if self.proxy.tcp:
            self.relay_tcp(first)
            return
        if first == b"\x16":
            # A TLS ClientHello (a client probing for https): answer as Go's http server does.
            self.proxy.log(self.conn_id, "TLS", "handshake", 400, "refused (plain HTTP here)")
            try:
                self.send(b"HTTP/1.0 400 Bad Request\r\n\r\n"
                          b"Client sent an HTTP request to an HTTPS server.\n")
            except OSError:
                pass
            return
        try:
            while True:
                try:
                    start, _, headers = read_head(self.rfile)
                except (EOFError, OSError, ValueError):
                    return
                if not self.one_request(start, headers):
                    return
        except (Dropped, OSError, EOFError, ValueError):
            return

    def simple_response(self, status, extra, body, close):
        head = "HTTP/1.1 %d %s\r\n" % (status, REASONS.get(status, "Status"))
        for k, v in extra:
            head += "%s: %s\r\n" % (k, v)
        head += "Content-Type: application/json; charset=utf-8\r\n"
        head += "Content-Length: %d\r\n" % len(body)
        if close:
            head += "Connection: close\r\n"
        head += "\r\n"
        self.send(head.encode("latin-1") + body)

    def one_request(self, start, headers):
        """Serve one request; False when the connection must be closed afterwards."""
        try:
            method, target, version = start.split(" ", 2)
        except ValueError:
            return False
        client_close = "close" in conn_tokens(headers) or version == "HTTP/1.0"
        expect = (header(headers, "expect") or "").lower() == "100-continue"
        body = BodyReader(self.rfile, headers)

        if method == "GET" and target == "/_fault_proxy/health":
            self.simple_response(200, [], b"{}", client_close)
            return not client_close

        idx, rule = self.proxy.pick_rule(method, target,
                                         None if body.chunked else (body.left or 0))
        what = "fault=rule%d:%s" % (idx, rule.text.split()[0]) if rule else "upstream"

        if rule is not None and rule.reset:
            self.proxy.log(self.conn_id, method, target, "-", what)
            raise Dropped()
        if rule is not None and rule.hold:
            time.sleep(rule.hold)

        if rule is not None and rule.status is not None:
            if rule.delay:
                time.sleep(rule.delay)
            extra = []
            if rule.retry_after is not None:
                extra.append(("Retry-After", rule.retry_after))
            if expect:
                # The client has not sent the body and waits for 100 Continue: answer now and
                # close, as a server that refuses the body does.
                self.simple_response(rule.status, extra, error_body(rule.status), True)
                self.proxy.log(self.conn_id, method, target, rule.status, what)
                return False
            while body.read():
                pass
            self.simple_response(rule.status, extra, error_body(rule.status), client_close)
            self.proxy.log(self.conn_id, method, target, rule.status, what)
            return not client_close

        if self.proxy.reject_expired and jwt_expired(headers):
            challenge = self.proxy.bearer_challenge()
            scope = scope_of(method, target)
            if scope and "scope=" not in challenge:
                challenge += ',scope="%s"' % scope
            extra = [("WWW-Authenticate", challenge)]
            if expect:
                self.simple_response(401, extra, error_body(401), True)
                self.proxy.log(self.conn_id, method, target, 401, "fault=expired-token")
                return False
            while body.read():
                pass
            self.simple_response(401, extra, error_body(401), client_close)
            self.proxy.log(self.conn_id, method, target, 401, "fault=expired-token")
            return not client_close

        return self.forward(method, target, version, headers, body, expect, client_close,
                            rule, what)

    def forward(self, method, target, version, headers, body, expect, client_close, rule, what):
        out = "%s %s HTTP/1.1\r\n" % (method, target)
        hop = conn_tokens(headers) | HOP_BY_HOP
        for k, v in headers:
            kl = k.lower()
            if kl in hop or kl == "expect":
                continue
            out += "%s: %s\r\n" % (k, v)
        out += "\r\n"
        if self.up is not None and not self.upstream_idle_ok():
            self.close_upstream()
        for attempt in (1, 2):
            if self.up is None:
                try:
                    self.up = self.proxy.connect_upstream()
                except OSError:
                    while not body.done and body.read():
                        pass
                    self.simple_response(502, [], error_body(502), True)
                    self.proxy.log(self.conn_id, method, target, 502, "upstream-unreachable")
                    return False
                self.up_rfile = self.up.makefile("rb")
                fresh = True
            else:
                fresh = False
            try:
                self.up.sendall(out.encode("latin-1"))
                break
            except OSError:
                self.close_upstream()
                if fresh:
                    raise Dropped()
        if expect:
            self.send(b"HTTP/1.1 100 Continue\r\n\r\n")

        # The request body goes up in a thread, so that an early answer (a registry refusing
        # an upload) is read while the client may still be sending.
        pump_state = {"done": False, "dropped": False}
        drop_at = rule.drop_request if rule is not None else None
        cut = rule is not None and rule.cut_request is not None
        if cut:
            drop_at = rule.cut_request
        up = self.up

        def shut(*socks):
            for sock in socks:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        def drop(sent, rest):
            """Stop forwarding after SENT bytes; REST bytes of the body were read but not sent."""
            pump_state["dropped"] = True
            shut(up)
            if cut:
                while True:
                    more = body.read()
                    if not more:
                        break
                    rest += len(more)
                self.proxy.log(self.conn_id, method, target, "-",
                               "%s (cut after %d request body bytes; the other %d read and "
                               "dropped; no answer)" % (what, sent, rest))
            else:
                self.proxy.log(self.conn_id, method, target, "-",
                               "%s (dropped after %d request body bytes)" % (what, sent))
            shut(self.client)

        def pump():
            sent = 0
            try:
                while True:
                    data = body.read()
                    if not data:
                        break
                    if drop_at is not None and sent + len(data) >= drop_at:
                        up.sendall(data[:drop_at - sent])
                        drop(drop_at, len(data) - (drop_at - sent))
                        return
                    up.sendall(data)
                    sent += len(data)
                if drop_at is not None:  # a (chunked) body shorter than drop_at: cut at its end
                    drop(sent, 0)
                    return
                pump_state["done"] = True
            except (OSError, EOFError, ValueError):
                shut(self.client, up)

        pumper = None
        if body.done and drop_at is None:
            pump_state["done"] = True
        else:
            pumper = threading.Thread(target=pump, daemon=True)
            pumper.start()

        try:
            while True:
                start, _, rheaders = read_head(self.up_rfile, response=True)
                try:
                    status = int(start.split(" ", 2)[1])
                except (IndexError, ValueError):
                    raise Dropped()
                if 100 <= status < 200:
                    continue  # 100 Continue from upstream: we already sent ours
                break
        except (EOFError, OSError, ValueError):
            if pumper is not None:
                pumper.join()
            self.close_upstream()
            if not pump_state["dropped"]:
                self.proxy.log(self.conn_id, method, target, "-", "upstream-closed")
            raise Dropped()

        no_body = method == "HEAD" or status in (204, 304)
        rbody = None if no_body else BodyReader(self.up_rfile, rheaders, until_eof=True)
        up_close = "close" in conn_tokens(rheaders) or start.startswith("HTTP/1.0") or \
            (rbody is not None and rbody.until_eof)

        head = start + "\r\n"
        rhop = conn_tokens(rheaders) | HOP_BY_HOP
        for k, v in rheaders:
            kl = k.lower()
            if kl in rhop:
                continue
            if kl == "location":
                v = self.rewrite_location(v, headers)
            head += "%s: %s\r\n" % (k, v)
        if rbody is not None and rbody.until_eof:
            close_after = True
        else:
            close_after = client_close
        if close_after:
            head += "Connection: close\r\n"
        head += "\r\n"

        if rule is not None and rule.delay:
            time.sleep(rule.delay)
        self.send(head.encode("latin-1"))
        drop_resp = rule.drop_response if rule is not None else None
        sent = 0
        if rbody is not None:
            while True:
                try:
                    data = rbody.read()
                except (EOFError, OSError, ValueError):
                    self.close_upstream()
                    self.proxy.log(self.conn_id, method, target, status, "upstream-closed-in-body")
                    raise Dropped()
                if not data:
                    break
                if drop_resp is not None and sent + len(data) >= drop_resp:
                    self.send(data[:drop_resp - sent])
                    self.close_upstream()
                    self.proxy.log(self.conn_id, method, target, status,
                                   "%s (dropped after %d response body bytes)"
                                   % (what, drop_resp))
                    raise Dropped()
                self.send(data)
                sent += len(data)
        if drop_resp is not None:
            self.close_upstream()
            self.proxy.log(self.conn_id, method, target, status,
                           "%s (dropped after %d response body bytes: all of it)" % (what, sent))
            raise Dropped()

        if pumper is not None:
            # The answer came; the body should be up by now, unless upstream answered early.
            pumper.join(timeout=0.5 if not pump_state["done"] else None)
            if pumper.is_alive() or not pump_state["done"]:
                self.close_upstream()
                try:
                    self.client.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                pumper.join()
                self.proxy.log(self.conn_id, method, target, status,
                               what + " (answered before the request body ended: closed)")
                return False
        self.proxy.log(self.conn_id, method, target, status, what)
        if up_close:
            self.close_upstream()
        return not close_after

    def relay_tcp(self, first):
        """--tcp: pass bytes through both ways, logging whether the client started with a TLS
        handshake or plain text (its first line)."""
        if first == b"\x16":
            kind = "tls"
        elif not first:
            kind = "empty"
        else:
            line = self.rfile.peek(256)[:256].split(b"\r\n")[0]
            kind = "plain %s" % json.dumps(line.decode("latin-1"))
        try:
            self.up = self.proxy.connect_upstream()
        except OSError:
            self.proxy.log(self.conn_id, "TCP", kind, "-", "upstream-unreachable")
            return
        self.proxy.log(self.conn_id, "TCP", kind, "-", "relayed")
        up = self.up

        def down():
            try:
                while True:
                    data = up.recv(CHUNK)
                    if not data:
                        break
                    self.client.sendall(data)
            except OSError:
                pass
            try:
                self.client.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        t = threading.Thread(target=down, daemon=True)
        t.start()
        try:
            while True:
                data = self.rfile.read1(CHUNK)
                if not data:
                    break
                up.sendall(data)
            up.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        t.join()

    def rewrite_location(self, value, req_headers):
        host = header(req_headers, "host") or "127.0.0.1:%d" % self.server.server_address[1]
        for prefix in ("http://" + self.proxy.upstream, "https://" + self.proxy.upstream):
            if value.startswith(prefix):
                return "http://" + host + value[len(prefix):]
        return value


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 64


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
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the registry (plain HTTP)")
    ap.add_argument("--log", required=True, help="request log file (appended)")
    ap.add_argument("--rules", help="a file of rules, one a line")
    ap.add_argument("--reject-expired-tokens", action="store_true")
    ap.add_argument("--tcp", action="store_true",
                    help="pass raw bytes through (TLS too); log TLS or plain per connection")
    ap.add_argument("rule", nargs="*", help="ACTION METHOD PATH_REGEX [TIMES]")
    ap.add_argument("--parent-pid", type=int,
                    help="exit when this process is gone (the test script, even SIGKILLed)")
    args = ap.parse_args()
    if args.parent_pid:
        watch_parent(args.parent_pid)

    texts = list(args.rule)
    if args.rules:
        with open(args.rules, encoding="utf-8") as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if line:
                    texts.append(line)
    try:
        rules = [Rule(t) for t in texts]
    except (ValueError, re.error) as e:
        print("fault_proxy: %s" % e, file=sys.stderr)
        return 2
    server = Server(("127.0.0.1", args.port), Handler)
    server.proxy = Proxy(args, rules)
    for i, r in enumerate(rules):
        server.proxy.log(0, "RULE", str(i + 1), "-", r.text)
    print("fault_proxy: listening on 127.0.0.1:%d, upstream %s" % (args.port, args.upstream),
          flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.exit(main())
