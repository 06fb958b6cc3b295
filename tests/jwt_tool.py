#!/usr/bin/env python3
"""jwt_tool.py — a small CI identity token issuer for the tests.

No Python packages beyond the standard library: keys are PEM files made by
the openssl CLI, signatures are made by `openssl dgst -sign`, and the bit
of DER that is needed (a SubjectPublicKeyInfo, an ECDSA-Sig-Value) is read
here.

  jwt_tool.py jwks KID=PUBKEY.pem ...
      prints a JWK Set with one key per argument (RSA or EC P-256)
  jwt_tool.py token --key KEY.pem --kid KID [--alg RS256|ES256|none|HS256]
                    [--header JSON] CLAIMS-JSON
      prints a compact JWS; in CLAIMS-JSON, "@NOW+N@" / "@NOW-N@" become
      the current time plus or minus N seconds (integers); --alg HS256 uses
      the PEM text of --key as the HMAC secret (an attack, for the tests)

Test-only: it signs whatever it is given.
"""
import base64
import hashlib
import hmac
import json
import re
import subprocess
import sys
import time


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def der_read(buf, pos):
    """(tag, content start, content end) of the DER element at pos."""
    tag = buf[pos]
    n = buf[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(buf[pos:pos + k], "big")
        pos += k
    return tag, pos, pos + n


def der_children(buf, start, end):
    out = []
    while start < end:
        tag, s, e = der_read(buf, start)
        out.append((tag, s, e))
        start = e
    return out


def spki_der(path):
    """The DER SubjectPublicKeyInfo of a PEM public or private key."""
    args = ["openssl", "pkey", "-in", path, "-outform", "DER"]
    if "PUBLIC KEY" in open(path).read():
        args.insert(2, "-pubin")
    else:
        args.append("-pubout")
    return subprocess.run(args, stdout=subprocess.PIPE, check=True).stdout


def jwk(kid, path):
    spki = spki_der(path)
    _, s, e = der_read(spki, 0)
    (_, a_s, a_e), (_, b_s, b_e) = der_children(spki, s, e)
    algo = der_children(spki, a_s, a_e)
    oid = spki[algo[0][1]:algo[0][2]]
    bits = spki[b_s + 1:b_e]  # BIT STRING without its unused-bits byte
    if oid == bytes.fromhex("2a864886f70d010101"):  # rsaEncryption
        _, s, e = der_read(bits, 0)
        (_, n_s, n_e), (_, e_s, e_e) = der_children(bits, s, e)
        n = bits[n_s:n_e].lstrip(b"\0")
        ex = bits[e_s:e_e].lstrip(b"\0")
        return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64u(n), "e": b64u(ex)}
    if oid == bytes.fromhex("2a8648ce3d0201"):  # id-ecPublicKey, P-256 assumed
        assert bits[0] == 4 and len(bits) == 65
        return {"kty": "EC", "kid": kid, "crv": "P-256", "x": b64u(bits[1:33]), "y": b64u(bits[33:])}
    raise SystemExit("jwt_tool: %s: not an RSA or EC key" % path)


def sign(key, alg, msg):
    if alg == "none":
        return b""
    if alg == "HS256":
        return hmac.new(open(key, "rb").read(), msg, hashlib.sha256).digest()
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=msg,
                         stdout=subprocess.PIPE, check=True).stdout
    if alg == "RS256":
        return sig
    # ES256: DER ECDSA-Sig-Value -> R || S, 32 bytes each.
    _, s, e = der_read(sig, 0)
    (_, r_s, r_e), (_, s_s, s_e) = der_children(sig, s, e)
    return (int.from_bytes(sig[r_s:r_e], "big").to_bytes(32, "big") +
            int.from_bytes(sig[s_s:s_e], "big").to_bytes(32, "big"))


def token(args):
    key = kid = None
    alg = "RS256"
    header = None
    i = 0
    while i < len(args) - 1:
        if args[i] == "--key":
            key = args[i + 1]
        elif args[i] == "--kid":
            kid = args[i + 1]
        elif args[i] == "--alg":
            alg = args[i + 1]
        elif args[i] == "--header":
            header = args[i + 1]
        else:
            break
        i += 2
    claims = args[-1]
    now = int(time.time())
    claims = re.sub(r'"?@NOW([+-]\d+)@"?', lambda m: str(now + int(m.group(1))), claims)
    if header is None:
        header = json.dumps({"alg": alg, "kid": kid, "typ": "JWT"}, separators=(",", ":"))
    signing = (b64u(header.encode()) + "." + b64u(claims.encode())).encode()
    print(signing.decode() + "." + b64u(sign(key, alg, signing)))


def main(argv):
    if len(argv) >= 2 and argv[1] == "jwks":
        keys = [jwk(*a.split("=", 1)) for a in argv[2:]]
        print(json.dumps({"keys": keys}, indent=1))
    elif len(argv) >= 3 and argv[1] == "token":
        token(argv[2:])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
