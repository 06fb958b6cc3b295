#!/usr/bin/env python3
"""run.py — pushes the hostile corpus (tests/hostile/) at a running agent.

Called by tests/integration/hostile.sh once the stack (scripts/stack.sh) is
up.  For each line of MANIFEST it builds the envelope from cases/<name>
(at run time: times relative to now, signatures made with openssl by the
stack's submitter keys), XADDs it as field "env" of signet:jobs, waits until
the agent has removed the entry and written its audit record, and asserts:
  - the audit record: event, id (only when a result is owed), exact code;
  - a result owed (SPEC §7): signet:result:<id> is a result envelope whose
    payload has status "rejected" and the exact error.code; no result owed:
    no signet:result:<id> for any id in the case;
  - no signature: no "signed" audit record and no store directory for the
    id (the few cases marked "signed" set up the replay cases), and the
    number of "signed" records over the whole run grows only by those.

Case files hold the exact bytes (a job payload, or with option "env" the
whole envelope) with placeholders:
  @T+N@ / @T-N@   RFC 3339 UTC time now +/- N seconds
  @PAD:N:C@       N copies of the character C
"""
import base64
import datetime
import hashlib
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
D = os.environ["STACK_DIR"]
SOCK = os.environ["REDIS_SOCK"]
JOB_T = "application/vnd.signet.job+json"
RESULT_T = "application/vnd.signet.result+json"
TYPES = {"job": JOB_T, "result": RESULT_T, "approval": "application/vnd.signet.approval+json"}
ID_RE = re.compile(rb'"id" *: *"([0-9a-f]{32})"')
NOW = int(time.time())


def rcli(*args, stdin=None):
    p = subprocess.run(["redis-cli", "-s", SOCK, "--raw"] + list(args), input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    return p.stdout


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def expand(raw):
    raw = re.sub(rb"@T([+-]\d+)@", lambda m: rfc3339(NOW + int(m.group(1))).encode(), raw)
    return re.sub(rb"@PAD:(\d+):(.)@", lambda m: m.group(2) * int(m.group(1)), raw)


def keyid(name):
    der = subprocess.run(["openssl", "pkey", "-in", f"{D}/{name}.key", "-pubout", "-outform", "DER"],
                         stdout=subprocess.PIPE, check=True).stdout
    return "sha256:" + hashlib.sha256(der).hexdigest()


def sign(name, data):
    path = f"{D}/hostile.tbs"
    with open(path, "wb") as f:
        f.write(data)
    key = f"{D}/{name}.key"
    if name.endswith("-ed"):
        cmd = ["openssl", "pkeyutl", "-sign", "-inkey", key, "-rawin", "-in", path]
    else:
        cmd = ["openssl", "dgst", "-sha256", "-sign", key, path]
    return subprocess.run(cmd, stdout=subprocess.PIPE, check=True).stdout


def pae(t, payload):
    t = t.encode()
    return b"DSSEv1 %d %s %d " % (len(t), t, len(payload)) + payload


def b64(b):
    return base64.b64encode(b).decode()


def b64_variant(s, how):
    """A base64 text that a strict standard decoder must refuse."""
    if how == "url":
        v = s.replace("+", "-").replace("/", "_")
    elif how == "nopad":
        v = s.rstrip("=")
    elif how == "ws":
        v = s[:8] + " " + s[8:]
    elif how == "newline":
        v = s[:8] + "\n" + s[8:]
    elif how == "noncanon":
        # Set the unused low bits of the last character before the padding.
        alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        pad = len(s) - len(s.rstrip("="))
        if pad == 0:
            raise ValueError("noncanon needs a padded encoding")
        i = len(s) - pad - 1
        v = s[:i] + alpha[alpha.index(s[i]) | (0xF if pad == 2 else 0x3)] + s[i + 1:]
    elif how == "inner-pad":
        v = s[:4] + "====" + s[4:]
    else:
        raise ValueError(how)
    if v == s:
        raise ValueError(f"base64 variant {how} does not change {s[:20]}...")
    return v


def build(name, opts):
    raw = expand(open(os.path.join(HERE, "cases", name), "rb").read())
    if "env" in opts:
        # A whole envelope: the payload it carries (for the id a result is
        # owed to), when it has a readable one.
        try:
            inner = base64.b64decode(json.loads(raw)["payload"], validate=True)
        except Exception:
            inner = raw
        return raw, inner
    payload = raw
    t = TYPES.get(opts.get("type", "job"), opts.get("type"))
    signer = opts.get("signer", "ci-fw")
    tbs_payload = payload
    if "signed_payload" in opts:
        tbs_payload = expand(open(os.path.join(HERE, "cases", opts["signed_payload"]), "rb").read())
    pae_type = TYPES.get(opts.get("pae_type", ""), opts.get("pae_type", t))
    how = opts.get("pae", "dsse")
    if how == "dsse":
        tbs = pae(pae_type, tbs_payload)
    elif how == "raw":
        tbs = tbs_payload
    elif how == "len+1":
        tbs = b"DSSEv1 %d %s %d " % (len(pae_type), pae_type.encode(), len(tbs_payload) + 1) + tbs_payload
    elif how == "hexlen":
        tbs = b"DSSEv1 %x %s %x " % (len(pae_type), pae_type.encode(), len(tbs_payload)) + tbs_payload
    elif how == "no-prefix":
        tbs = pae(pae_type, tbs_payload)[len(b"DSSEv1 "):]
    elif how == "shift":
        # The type/payload boundary moved: the signed type swallows the
        # payload's first byte, so the lengths still add up.
        tt = pae_type.encode() + b" " + str(len(tbs_payload)).encode() + b" " + tbs_payload[:1]
        tbs = b"DSSEv1 %d %s %d " % (len(tt), tt, len(tbs_payload) - 1) + tbs_payload[1:]
    else:
        raise ValueError(how)
    sig = sign(signer, tbs)
    if opts.get("sig") == "flip":
        sig = sig[:10] + bytes([sig[10] ^ 0x01]) + sig[11:]
    elif opts.get("sig") == "truncate":
        sig = sig[:-1]
    kid = opts.get("keyid", signer)
    entry = {}
    if kid == "upper":
        entry["keyid"] = keyid(signer).upper().replace("SHA256:", "sha256:")
    elif kid != "none":
        entry["keyid"] = keyid(kid)
    sigtxt = b64(sig)
    if "sig_b64" in opts:
        sigtxt = b64_variant(sigtxt, opts["sig_b64"])
    if opts.get("sig") != "none":
        entry["sig"] = sigtxt
    if "cert" in opts:
        if opts["cert"] == "junk":
            entry["cert"] = "MAMCAQE="
        elif opts["cert"] == "bad":
            entry["cert"] = "not base64!"
        else:
            # A certificate made by hostile.sh: $STACK_DIR/<name>.crt (PEM).
            der = subprocess.run(["openssl", "x509", "-in", f"{D}/{opts['cert']}.crt", "-outform", "DER"],
                                 stdout=subprocess.PIPE, check=True).stdout
            entry["cert"] = b64(der)
    ptxt = b64(payload)
    if "payload_b64" in opts:
        ptxt = b64_variant(ptxt, opts["payload_b64"])
    n = int(opts.get("nsigs", "1"))
    env = {"payloadType": t, "payload": ptxt, "signatures": [dict(entry) for _ in range(n)]}
    if "extra" in opts:
        env[opts["extra"]] = "x"
    out = json.dumps(env, separators=(",", ":")).encode()
    if "pad_to" in opts:
        want = int(opts["pad_to"])
        if len(out) > want:
            raise ValueError(f"envelope already {len(out)} bytes")
        out = out[:-1] + b" " * (want - len(out)) + b"}"
    return out, payload


def audit_lines():
    try:
        with open(f"{D}/audit.log", "rb") as f:
            return [json.loads(x) for x in f.read().splitlines() if x.strip()]
    except FileNotFoundError:
        return []


def signed_ids():
    return [r.get("id") for r in audit_lines() if r.get("event") == "signed"]


def result_payload(jid):
    raw = rcli("GET", f"signet:result:{jid}").rstrip(b"\n")
    if not raw:
        return None
    env = json.loads(raw)
    if env.get("payloadType") != RESULT_T:
        return {"bad": "payloadType"}
    return json.loads(base64.b64decode(env["payload"]))


# Records that are not about the decision: every entry taken gets "received"
# first, and every result released "published" after it.
FRAME_EVENTS = ("received", "published")


def decisions(recs):
    return [r for r in recs if r.get("event") not in FRAME_EVENTS]


def wait_done(nrec_before, want_audit, timeout=15.0):
    end = time.time() + timeout
    while time.time() < end:
        if int(rcli("XLEN", "signet:jobs")) == 0 and \
                (not want_audit or decisions(audit_lines()[nrec_before:])):
            return True
        time.sleep(0.02)
    return False


def main():
    manifest = []
    for line in open(os.path.join(HERE, "MANIFEST")):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        f = line.split()
        opts = {}
        for o in f[2:]:
            k, _, v = o.partition("=")
            opts[k] = v
        manifest.append((f[0], f[1], opts))
    passed = failed = todo = 0
    signed_before = len(signed_ids())
    expected_signed = 0
    published = {}  # id -> result payload of the cases that were signed
    envs = {}
    for name, expect, opts in manifest:
        if expect == "TODO":
            todo += 1
            print(f"todo - {name}: {opts.get('why', '').replace('_', ' ')}")
            continue
        errors = []
        try:
            if "from_result" in opts:
                # The agent's own signed result envelope, submitted as a job.
                src = published[opts["from_result"]]
                env = rcli("GET", f"signet:result:{src['id']}").rstrip(b"\n")
                payload = json.dumps(src).encode()
            elif "same_as" in opts:
                env, payload = envs[opts["same_as"]]
            else:
                env, payload = build(name, opts)
        except Exception as e:  # a broken case is a failure, not a skip
            print(f"FAIL - {name}: cannot build: {e}")
            failed += 1
            continue
        envs[name] = (env, payload)
        ids = set(m.decode() for m in ID_RE.findall(payload))
        ids |= set(m.decode() for m in ID_RE.findall(env))
        m = ID_RE.search(payload)
        jid = m.group(1).decode() if m else None
        # "ignored:WORDS": an approval entry with no effect (no result; its
        # "approval" record says why, WORDS joined by '-').
        ignored = expect.startswith("ignored:")
        owed = not expect.startswith("no-result") and not ignored
        code = expect.split(":", 1)[1] if ":" in expect else expect
        prior = {i: result_payload(i) for i in ids}
        nrec = len(audit_lines())
        signed_at_start = signed_ids()
        rcli("-x", "XADD", "signet:jobs", "*", "env", stdin=env)
        republish = expect == "republished"
        if not wait_done(nrec, not republish):
            errors.append("the agent did not finish the entry in time")
        new = audit_lines()[nrec:]
        recs = decisions(new)
        env_sha = hashlib.sha256(env).hexdigest()
        if not any(r.get("event") == "received" and r.get("envelope_sha256") == env_sha for r in new):
            errors.append("no \"received\" record with the entry's SHA-256")
        if republish:
            if recs:
                errors.append(f"{len(recs)} new audit records for a republished result")
            if result_payload(jid) != prior.get(jid):
                errors.append("the republished result differs from the first")
        elif expect == "signed" and [r.get("event") for r in recs] != ["intent", "signature", "signed"]:
            errors.append(f"audit events {[r.get('event') for r in recs]}, expected intent, signature, signed")
        elif expect != "signed" and len(recs) != 1:
            errors.append(f"{len(recs)} new audit records, expected 1")
        else:
            rec = recs[-1]
            want_event = "signed" if expect == "signed" else "approval" if ignored else "rejected"
            if rec.get("event") != want_event:
                errors.append(f"audit event {rec.get('event')}, expected {want_event}")
            if ignored and code.replace("-", " ") not in (rec.get("ignored") or ""):
                errors.append(f"audit ignored {rec.get('ignored')!r}, expected {code.replace('-', ' ')!r}")
            elif not ignored and expect != "signed" and rec.get("code") != code:
                errors.append(f"audit code {rec.get('code')}, expected {code}")
            if owed and rec.get("id") != jid:
                errors.append(f"audit id {rec.get('id')}, expected {jid}")
            if not owed and not ignored and "id" in rec:
                errors.append(f"audit record names id {rec.get('id')} for a payload owed no result")
        if expect == "signed":
            expected_signed += 1
            res = result_payload(jid)
            if res is None or res.get("status") != "signed":
                errors.append(f"setup job not signed: {res}")
            else:
                published[name] = res
        elif not republish:
            for i in ids:
                now = result_payload(i)
                if prior[i] is not None:
                    # A rejection never replaces an earlier result (SET NX).
                    if now != prior[i]:
                        errors.append(f"the result under {i} was replaced")
                elif owed and i == jid:
                    if now is None:
                        errors.append("no result published")
                    elif now.get("status") != "rejected" or \
                            (now.get("error") or {}).get("code") != code or now.get("id") != jid:
                        errors.append(f"result {now.get('status')} {(now.get('error') or {}).get('code')}, expected rejected {code}")
                elif now is not None:
                    errors.append(f"a result under {i} for a payload owed none")
            new_signed = [x for x in signed_ids()[len(signed_at_start):]]
            if new_signed:
                errors.append(f"HSM signed: {new_signed}")
            for i in ids:
                if i in signed_at_start:
                    continue
                for k in os.listdir(f"{D}/store") if os.path.isdir(f"{D}/store") else []:
                    if os.path.exists(f"{D}/store/{k}/{i}"):
                        errors.append(f"store has {k}/{i}")
        if errors:
            failed += 1
            print(f"FAIL - {name} ({expect}): " + "; ".join(errors))
        else:
            passed += 1
            print(f"ok   - {name}: {expect}")
    total_signed = len(signed_ids()) - signed_before
    if total_signed == expected_signed:
        passed += 1
        print(f"ok   - the whole corpus made {total_signed} HSM signatures (the {expected_signed} setup jobs)")
    else:
        failed += 1
        print(f"FAIL - the corpus made {total_signed} HSM signatures, expected {expected_signed}")
    print(f"# {len(manifest)} manifest entries, {todo} TODO (not counted)")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
