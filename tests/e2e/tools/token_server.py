#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""token_server.py: a Docker registry token server for distribution 2.8's `auth.token`.

    token_server.py --port PORT --key KEY.pem --cert CERT.pem --issuer ISS --service SVC
                    --log FILE [--users-file FILE] [--anonymous pull|none] [--public REGEX]
                    [--expires SECS] [--issued FILE] [--parent-pid PID]

Listens on 127.0.0.1:PORT only (python3 stdlib http.server, threaded; PyJWT and cryptography).

GET /token?service=SVC&scope=repository:NAME:ACTIONS[&scope=...]  (Docker token protocol)
    Optional Basic auth, checked against --users-file (`user:password` lines).  Wrong credentials:
    401.  Named users get pull and push (and nothing else) on any repository they ask for;
    anonymous requests get pull on repositories matching --public (default: all) with
    `--anonymous pull`, or a 401 with `--anonymous none`.  Actions not granted are left out of the
    token's `access` claim (the registry then answers 401 insufficient_scope), as Docker Hub does.
    Answer: {"token", "access_token", "expires_in", "issued_at"}.
POST /token  (OAuth2, application/x-www-form-urlencoded)
    grant_type=password with username, password; or grant_type=refresh_token with refresh_token;
    plus service, scope (space-separated), client_id.  The same answer plus "refresh_token".

Tokens are RS256 JWTs (ES256 with an EC key) with iss, sub, aud (the service), exp, nbf, iat, jti
and access claims, and the signing certificate in the header's x5c, which distribution verifies
against its rootcertbundle (the same certificate).  --expires sets their lifetime and the
answer's expires_in (default 300 s; a short one lets a test see a refresh).

The log (--log) gets one line per request: time, method, path with query (scopes), the user (or
`-`), the status, the User-Agent and the access granted; never a password or a token:

    14:45:08.129 GET /token?scope=...&service=S user=alice status=200 ua=cairn/0.1.0 granted=...  --issued FILE gets every
token issued (access and refresh), one a line, so a test can check that none leaks.
"""

import argparse
import base64
import datetime
import hmac
import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ACTIONS_FOR_USERS = ("pull", "push")


class State:
    def __init__(self, args):
        with open(args.key, "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), password=None)
        with open(args.cert, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        self.x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
        if isinstance(self.key, rsa.RSAPrivateKey):
            self.alg = "RS256"
        elif isinstance(self.key, ec.EllipticCurvePrivateKey):
            self.alg = "ES256"
        else:
            raise SystemExit("token_server: the key must be RSA or EC P-256")
        self.issuer = args.issuer
        self.service = args.service
        self.expires = args.expires
        self.anonymous = args.anonymous
        self.public = re.compile(args.public)
        self.users = {}
        if args.users_file:
            with open(args.users_file, encoding="utf-8") as f:
                for line in f:
                    line = line.rstrip("\r\n")
                    if ":" in line:
                        user, _, password = line.partition(":")
                        self.users[user] = password
        self.refresh = {}  # refresh token -> user
        self.lock = threading.Lock()
        self.log_file = open(args.log, "a", buffering=1, encoding="utf-8")
        self.issued_file = open(args.issued, "a", buffering=1, encoding="utf-8") \
            if args.issued else None

    def log(self, line):
        stamp = time.strftime("%H:%M:%S", time.localtime()) + ".%03d" % (time.time() % 1 * 1000)
        with self.lock:
            self.log_file.write("%s %s\n" % (stamp, line))

    def remember(self, *tokens):
        if self.issued_file:
            with self.lock:
                for t in tokens:
                    self.issued_file.write(t + "\n")

    def check_user(self, user, password):
        want = self.users.get(user)
        return want is not None and hmac.compare_digest(want.encode(), password.encode())

    def grant(self, user, scopes):
        """The access claim for USER (None: anonymous) asking for SCOPES."""
        access = []
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) < 3:
                continue
            typ, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1].split(",")
            if typ != "repository":
                continue
            if user is not None:
                allowed = [a for a in actions if a in ACTIONS_FOR_USERS]
            elif self.anonymous == "pull" and self.public.fullmatch(name):
                allowed = [a for a in actions if a == "pull"]
            else:
                allowed = []
            if allowed:
                access.append({"type": typ, "name": name, "actions": sorted(set(allowed))})
        return access

    def issue(self, user, access, with_refresh):
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": user or "",
            "aud": self.service,
            "exp": now + self.expires,
            "nbf": now - 1,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        token = jwt.encode(claims, self.key, algorithm=self.alg,
                           headers={"x5c": self.x5c, "typ": "JWT"})
        if isinstance(token, bytes):
            token = token.decode()
        answer = {
            "token": token,
            "access_token": token,
            "expires_in": self.expires,
            "issued_at": datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
            .strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        issued = [token]
        if with_refresh and user is not None:
            rt = secrets.token_urlsafe(32)
            with self.lock:
                self.refresh[rt] = user
            answer["refresh_token"] = rt
            issued.append(rt)
        self.remember(*issued)
        return answer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cairn-test-token-server/1"

    def log_message(self, fmt, *args):  # no stderr access log: ours is in --log
        pass

    def reply(self, status, obj, user, note, extra=(), quiet=False):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        if quiet:
            return
        ua = re.sub(r"[^\x21-\x7e]", "_", self.headers.get("User-Agent", "-"))[:80]
        self.server.state.log("%s %s user=%s status=%d ua=%s %s" % (
            self.command, self.path, user if user is not None else "-", status, ua, note))

    def unauthorized(self, user, why):
        self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": why}]}, user, why,
                   [("WWW-Authenticate", 'Basic realm="cairn-test-token"')])

    def basic_auth(self):
        """(user, password) from a Basic Authorization header, None without one, False if bad."""
        auth = self.headers.get("Authorization")
        if not auth:
            return None
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, sep, password = base64.b64decode(value.strip(), validate=True) \
                .decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        if not sep:
            return False
        return user, password

    def do_GET(self):
        st = self.server.state
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/health":
            self.reply(200, {}, None, "health", quiet=True)
            return
        if url.path != "/token":
            self.reply(404, {"errors": [{"code": "NOT_FOUND"}]}, None, "not found")
            return
        q = urllib.parse.parse_qs(url.query)
        creds = self.basic_auth()
        user = None
        if creds is False:
            self.unauthorized("?", "malformed Authorization header")
            return
        if creds is not None:
            if not st.check_user(*creds):
                self.unauthorized(creds[0], "invalid username or password")
                return
            user = creds[0]
        elif st.anonymous == "none":
            self.unauthorized(None, "authentication required")
            return
        service = q.get("service", [st.service])[0]
        if service != st.service:
            self.reply(400, {"errors": [{"code": "DENIED", "message": "unknown service"}]},
                       user, "unknown service")
            return
        access = st.grant(user, q.get("scope", []))
        offline = q.get("offline_token", ["false"])[0] == "true"
        self.reply(200, st.issue(user, access, offline), user, "granted=%s" % fmt_access(access))

    def do_POST(self):
        st = self.server.state
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/token":
            self.reply(404, {"errors": [{"code": "NOT_FOUND"}]}, None, "not found")
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > 1 << 20:
            self.reply(400, {"error": "invalid_request"}, None, "bad Content-Length")
            return
        form = urllib.parse.parse_qs(self.rfile.read(length).decode("utf-8", "replace"))

        def field(name):
            return form.get(name, [""])[0]

        grant = field("grant_type")
        if grant == "password":
            user = field("username")
            if not st.check_user(user, field("password")):
                self.reply(401, {"error": "invalid_grant"}, user, "invalid username or password")
                return
        elif grant == "refresh_token":
            with st.lock:
                user = st.refresh.get(field("refresh_token"))
            if user is None:
                self.reply(401, {"error": "invalid_grant"}, None, "unknown refresh token")
                return
        else:
            self.reply(400, {"error": "unsupported_grant_type"}, None,
                       "grant_type=%s" % re.sub(r"[^a-z_]", "?", grant[:32]))
            return
        if field("service") and field("service") != st.service:
            self.reply(400, {"error": "invalid_request"}, user, "unknown service")
            return
        access = st.grant(user, field("scope").split())
        self.reply(200, st.issue(user, access, True), user,
                   "grant_type=%s granted=%s" % (grant, fmt_access(access)))

    do_HEAD = do_GET


def fmt_access(access):
    return ";".join("%s:%s:%s" % (a["type"], a["name"], ",".join(a["actions"])) for a in access) \
        or "none"


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
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--key", required=True, help="PEM private key (RSA: RS256, EC P-256: ES256)")
    ap.add_argument("--cert", required=True, help="PEM certificate of the key (for x5c)")
    ap.add_argument("--issuer", required=True)
    ap.add_argument("--service", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--users-file", help="user:password lines")
    ap.add_argument("--anonymous", choices=("pull", "none"), default="pull")
    ap.add_argument("--public", default=".*", help="repositories anonymous may pull (regex)")
    ap.add_argument("--expires", type=int, default=300, help="token lifetime, seconds")
    ap.add_argument("--issued", help="append every issued token to this file")
    ap.add_argument("--parent-pid", type=int,
                    help="exit when this process is gone (the test script, even SIGKILLed)")
    args = ap.parse_args()
    if args.parent_pid:
        watch_parent(args.parent_pid)

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.state = State(args)
    print("token_server: listening on 127.0.0.1:%d (%s)" % (args.port, server.state.alg),
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
