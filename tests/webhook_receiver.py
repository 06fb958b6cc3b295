#!/usr/bin/env python3
"""A webhook receiver for tests (python3 standard library only).

    webhook_receiver.py --port-file F --out DIR --secret-file S
                        [--fail-first N] [--status CODE]

Listens on 127.0.0.1 on a free port and writes that port, as decimal text,
to F (atomically) once it accepts connections.  Every POST is recorded as
DIR/<n>.json, n = 1, 2, ... in arrival order (written to a temporary file
first, then renamed, so a reader never sees half a file):

    {"n": 1, "path": "/hook", "status": 204,
     "event": <X-Signet-Event>, "delivery": <X-Signet-Delivery>,
     "signature_ok": true | false, "content_type": <Content-Type>,
     "user_agent": <User-Agent>, "body_sha256": <hex of the raw body>,
     "body": <the body as text>}

signature_ok tells whether X-Signet-Signature is "sha256=" followed by the
lowercase hex HMAC-SHA256 of the raw body, keyed with the bytes of S minus
one trailing newline.  Answers: 500 to the first N requests with
--fail-first N, CODE to every request with --status CODE, else 204.  The
requests that were answered with an error are recorded too (see "status").
Exits cleanly on SIGTERM or SIGINT.
"""

import argparse
import hashlib
import hmac
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY_MAX = 1024 * 1024


def write_atomic(path, data):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class Handler(BaseHTTPRequestHandler):
    server_version = "webhook-receiver"

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        srv = self.server
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > BODY_MAX:
            self.send_response(413)
            self.end_headers()
            return
        body = self.rfile.read(length)
        mac = hmac.new(srv.secret, body, hashlib.sha256).hexdigest()
        got = self.headers.get("X-Signet-Signature", "")
        sig_ok = hmac.compare_digest(got.encode("utf-8", "replace"),
                                     ("sha256=" + mac).encode())
        with srv.lock:
            srv.count += 1
            n = srv.count
        if srv.status is not None:
            status = srv.status
        elif n <= srv.fail_first:
            status = 500
        else:
            status = 204
        record = {
            "n": n,
            "path": self.path,
            "status": status,
            "event": self.headers.get("X-Signet-Event"),
            "delivery": self.headers.get("X-Signet-Delivery"),
            "signature_ok": sig_ok,
            "content_type": self.headers.get("Content-Type"),
            "user_agent": self.headers.get("User-Agent"),
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "body": body.decode("utf-8", "replace"),
        }
        write_atomic(os.path.join(srv.out, "%d.json" % n),
                     json.dumps(record).encode())
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--secret-file", required=True)
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--status", type=int)
    args = ap.parse_args()

    with open(args.secret_file, "rb") as f:
        secret = f.read()
    if secret.endswith(b"\n"):
        secret = secret[:-1]

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.secret = secret
    srv.out = args.out
    srv.fail_first = args.fail_first
    srv.status = args.status
    srv.lock = threading.Lock()
    srv.count = 0

    def stop(signum, frame):
        # shutdown() waits for serve_forever(), so it needs another thread.
        threading.Thread(target=srv.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    write_atomic(args.port_file, b"%d\n" % srv.server_address[1])
    srv.serve_forever()
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
