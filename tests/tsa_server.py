#!/usr/bin/env python3
"""An RFC 3161 time-stamping authority over HTTP, for tests (python3
standard library and the openssl command only).

    tsa_server.py --dir DIR --init
    tsa_server.py --port-file F --dir DIR --mode MODE [--delay S]
                  [--size N] [--query-out Q] [--reply-out R]

DIR holds the TSA's PKI; what is missing is made on first use, under a lock,
so several servers may share one DIR (--init makes it and exits):

    tsa-root.pem       the TSA root CA (self-signed): what the agent's
                       "roots" points to
    tsa.pem, tsa.key   the TSA certificate, issued by the root, with the
                       critical extended key usage timeStamping
    other-root.pem     another CA, trusted by nobody
    untrusted.pem/.key a TSA certificate issued by that other CA
    tsa.cnf            the [tsa] configuration of `openssl ts -reply`

The server listens on 127.0.0.1 on a free port and writes that port, as
decimal text, to F (atomically) once it accepts connections.  Each POST is
a TimeStampReq; with --query-out, its bytes are written to Q, and with
--reply-out the body of the answer to R (both atomically, before the answer
is sent).  The answer depends on MODE:

    good           `openssl ts -reply` signed by tsa.pem
    untrusted      the same, signed by untrusted.pem
    wrong-imprint  a reply for the query with its hashedMessage altered
                   (same nonce)
    wrong-nonce    a reply for the query with its nonce altered
    garbage        200, application/timestamp-reply, 512 random bytes
    trailing       a good reply followed by one more byte
    huge           200, application/timestamp-reply, N bytes (--size,
                   default 70000)
    huge-unframed  the same without a Content-Length: the body ends when
                   the connection does
    wrong-type     a good reply as text/plain
    rejection      a TimeStampResp with PKIStatus rejection (2), made here
    error          HTTP 500
    slow           a good reply after S seconds (--delay, default 5)

Each request's files live in a temporary directory of their own, the serial
number included (random), so concurrent requests do not meet.  Prints
nothing but openssl's error output on a failure; the keys are never
printed.  Exits cleanly on SIGTERM or SIGINT.
"""

import argparse
import fcntl
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

QUERY_MAX = 64 * 1024
MODES = ("good", "untrusted", "wrong-imprint", "wrong-nonce", "garbage",
         "trailing", "huge", "huge-unframed", "wrong-type", "rejection", "error", "slow")

TSA_CNF = """\
[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
# Set per request by tsa_server.py: a file in the request's own directory.
serial = $ENV::TSA_SERIAL
signer_digest = sha256
default_policy = 1.3.6.1.4.1.55555.1.1
other_policies = 1.3.6.1.4.1.55555.1.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""

CA_EXT = """\
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""

TSA_EXT = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def openssl(*args, cwd=None, env=None):
    p = subprocess.run(("openssl",) + args, cwd=cwd, env=env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, check=False)
    if p.returncode != 0:
        sys.stderr.write("tsa_server: openssl %s failed:\n%s" %
                         (args[0], p.stderr.decode("utf-8", "replace")))
        raise RuntimeError("openssl %s failed" % args[0])
    return p.stdout


def write_atomic(path, data):
    tmp = "%s.tmp.%d.%d" % (path, os.getpid(), threading.get_ident())
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def make_ca(d, name, subject):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", name + ".key",
            "-out", name + ".pem", "-subj", subject, "-days", "3650",
            "-sha256", "-set_serial", "0x" + os.urandom(8).hex(),
            "-extensions", "v3", "-config", "ca.ext", cwd=d)


def make_leaf(d, name, subject, ca):
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", name + ".key",
            "-out", name + ".csr", "-subj", subject, cwd=d)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem",
            "-CAkey", ca + ".key", "-set_serial", "0x" + os.urandom(8).hex(),
            "-days", "3650", "-sha256", "-extfile", "tsa.ext",
            "-out", name + ".pem", cwd=d)
    os.unlink(os.path.join(d, name + ".csr"))


def init_dir(d):
    """Makes the PKI of the module docstring in d, once."""
    os.makedirs(d, mode=0o700, exist_ok=True)
    with open(os.path.join(d, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(d, "tsa.cnf")):
            return
        with open(os.path.join(d, "ca.ext"), "w") as f:
            # `openssl req -x509` reads its extensions from a config section.
            f.write("[ req ]\ndistinguished_name = dn\n[ dn ]\n[ v3 ]\n" + CA_EXT)
        with open(os.path.join(d, "tsa.ext"), "w") as f:
            f.write(TSA_EXT)
        make_ca(d, "tsa-root", "/O=signet tests/CN=signet test TSA root")
        make_leaf(d, "tsa", "/O=signet tests/CN=signet test TSA", "tsa-root")
        make_ca(d, "other-root", "/O=elsewhere/CN=another CA")
        make_leaf(d, "untrusted", "/O=elsewhere/CN=untrusted TSA", "other-root")
        # Last: its presence says the directory is complete.
        write_atomic(os.path.join(d, "tsa.cnf"), TSA_CNF.encode())


# A minimal DER reader: enough to find two fields of a TimeStampReq.
def tlv(buf, off):
    """(tag, start of content, end of content) of the TLV at off."""
    tag = buf[off]
    n = buf[off + 1]
    off += 2
    if n & 0x80:
        k = n & 0x7f
        if k == 0 or k > 4:
            raise ValueError("unsupported length")
        n = int.from_bytes(buf[off:off + k], "big")
        off += k
    if off + n > len(buf):
        raise ValueError("truncated")
    return tag, off, off + n


def alter_query(query, what):
    """The query with the last byte of its hashedMessage ("imprint") or of
    its nonce ("nonce") flipped."""
    q = bytearray(query)
    tag, start, end = tlv(q, 0)
    if tag != 0x30:
        raise ValueError("not a SEQUENCE")
    _, _, off = tlv(q, start)                     # version
    tag, mi_start, mi_end = tlv(q, off)           # messageImprint
    if what == "imprint":
        _, _, o = tlv(q, mi_start)                # hashAlgorithm
        tag, hs, he = tlv(q, o)                   # hashedMessage
        if tag != 0x04 or he == hs:
            raise ValueError("no hashedMessage")
        q[he - 1] ^= 0x01
        return bytes(q)
    off = mi_end
    while off < end:
        tag, s, e = tlv(q, off)
        if tag == 0x02 and e > s:                 # the nonce
            q[e - 1] ^= 0x01
            return bytes(q)
        off = e
    raise ValueError("no nonce")


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def der(tag, content):
    return bytes([tag]) + der_len(len(content)) + content


def rejection():
    """TimeStampResp { PKIStatusInfo { rejection, "...", badAlg } }."""
    text = der(0x0c, b"signet test TSA: request rejected")
    info = (der(0x02, b"\x02") + der(0x30, text) +
            der(0x03, b"\x07\x80"))  # failInfo: badAlg (bit 0)
    return der(0x30, der(0x30, info))


class Handler(BaseHTTPRequestHandler):
    server_version = "tsa-server"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, ctype, body, framed=True):
        if self.server.reply_out is not None:
            write_atomic(self.server.reply_out, body)
        self.send_response(status)
        if ctype is not None:
            self.send_header("Content-Type", ctype)
        if framed:
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def reply(self, query, signer):
        srv = self.server
        with tempfile.TemporaryDirectory(prefix="tsa-req-") as work:
            qf = os.path.join(work, "query.tsq")
            rf = os.path.join(work, "reply.tsr")
            serial = os.path.join(work, "serial")
            with open(qf, "wb") as f:
                f.write(query)
            with open(serial, "w") as f:
                f.write(os.urandom(8).hex() + "\n")
            env = dict(os.environ, TSA_SERIAL=serial)
            openssl("ts", "-reply", "-queryfile", qf,
                    "-config", os.path.join(srv.dir, "tsa.cnf"),
                    "-inkey", os.path.join(srv.dir, signer + ".key"),
                    "-signer", os.path.join(srv.dir, signer + ".pem"),
                    "-out", rf, env=env)
            with open(rf, "rb") as f:
                return f.read()

    def do_POST(self):
        srv = self.server
        try:
            length = int(self.headers.get("Content-Length", "-1"))
        except ValueError:
            length = -1
        if length < 0 or length > QUERY_MAX:
            self.answer(413, None, b"")
            return
        query = self.rfile.read(length)
        if srv.query_out is not None:
            write_atomic(srv.query_out, query)
        mode = srv.mode
        ok_type = "application/timestamp-reply"
        try:
            if mode == "error":
                self.answer(500, "text/plain", b"internal error\n")
            elif mode == "garbage":
                self.answer(200, ok_type, os.urandom(512))
            elif mode == "huge":
                self.answer(200, ok_type, b"\x30" * srv.size)
            elif mode == "huge-unframed":
                self.answer(200, ok_type, b"\x30" * srv.size, framed=False)
            elif mode == "rejection":
                self.answer(200, ok_type, rejection())
            elif mode == "untrusted":
                self.answer(200, ok_type, self.reply(query, "untrusted"))
            elif mode == "wrong-imprint":
                self.answer(200, ok_type,
                            self.reply(alter_query(query, "imprint"), "tsa"))
            elif mode == "wrong-nonce":
                self.answer(200, ok_type,
                            self.reply(alter_query(query, "nonce"), "tsa"))
            elif mode == "trailing":
                self.answer(200, ok_type, self.reply(query, "tsa") + b"\x00")
            elif mode == "wrong-type":
                self.answer(200, "text/plain", self.reply(query, "tsa"))
            else:
                if mode == "slow":
                    time.sleep(srv.delay)
                self.answer(200, ok_type, self.reply(query, "tsa"))
        except (RuntimeError, ValueError, IndexError) as e:
            self.answer(400, "text/plain", str(e).encode() + b"\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout being tested)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--init", action="store_true")
    ap.add_argument("--port-file")
    ap.add_argument("--mode", choices=MODES, default="good")
    ap.add_argument("--delay", type=float, default=5.0)
    ap.add_argument("--size", type=int, default=70000)
    ap.add_argument("--query-out")
    ap.add_argument("--reply-out")
    args = ap.parse_args()

    init_dir(args.dir)
    if args.init:
        return 0
    if args.port_file is None:
        ap.error("--port-file is required unless --init")

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.dir = args.dir
    srv.mode = args.mode
    srv.delay = args.delay
    srv.size = args.size
    srv.query_out = args.query_out
    srv.reply_out = args.reply_out

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
