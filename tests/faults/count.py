#!/usr/bin/env python3
"""count.py - the final count of a fault-injection scenario.

Reads the submitters' records ($D/jobs/SUB-N.{out,err,rc,t}), the results
left in Redis (signet:result:<id>) or in the store (<store>/<key>/<id>/
result.json) for jobs whose submit-job stopped waiting, and the agents'
audit logs.  Prints

    submitted N, signed S, rejected R, failed F, lost L, duplicate signatures D

and exits 1 on any lost job, duplicate signature, audit log that does not
verify (tests/auditlog.py), result that disagrees with the audit log, or
submit-job anomaly (exit 2 or 5, no job id); with --no-failed also on any
failed job.

A duplicate is two signatures released for one job id: distinct signature
files (by SHA-256) among the signature submit-job received (-o), the job's
signed result in Redis, its signature files in the store (under any key)
and the "signed" decisions of the audit logs that a "published" record of
the same log confirms (the result went out).  HSM signatures that were
never released (an attempt interrupted by a crash and retried, a signature
withheld because its claim was lost, a "signed" decision whose agent died
before the release) are counted apart.
"""
import hashlib
import argparse
import base64
import glob
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import auditlog  # noqa: E402  (tests/auditlog.py)

ID_RE = re.compile(r"\bjob ([0-9a-f]{16,64})\b")


def redis_results(sock, ids):
    """id -> result payload (dict) for those that have one in Redis."""
    out = {}
    ids = list(ids)
    for i in range(0, len(ids), 200):
        chunk = ids[i:i + 200]
        try:
            p = subprocess.run(["redis-cli", "-s", sock, "--raw", "MGET"] +
                               ["signet:result:" + j for j in chunk],
                               capture_output=True, text=True, timeout=10)
        except subprocess.TimeoutExpired:
            continue
        lines = p.stdout.split("\n")
        if p.returncode != 0 or len(lines) < len(chunk):
            continue
        for j, line in zip(chunk, lines):
            payload = decode_env(line)
            if payload is not None:
                out[j] = payload
    return out


def decode_env(text):
    try:
        env = json.loads(text)
        return json.loads(base64.b64decode(env["payload"]))
    except Exception:
        return None


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def redis_signatures(sock, ids):
    """id -> SHA-256 of the signature in its signed result in Redis."""
    out = {}
    for jid, res in redis_results(sock, ids).items():
        if res.get("status") == "signed" and res.get("signature"):
            try:
                out[jid] = sha256_hex(base64.b64decode(res["signature"]))
            except (ValueError, TypeError):
                pass
    return out


def store_signatures(store, jid):
    """SHA-256 of each signature file of jid in the store (any key)."""
    out = set()
    if not store:
        return out
    for path in glob.glob(os.path.join(store, "*", jid, "*")):
        if os.path.basename(path) == "result.json" or not os.path.isfile(path):
            continue
        try:
            with open(path, "rb") as f:
                out.add(sha256_hex(f.read()))
        except OSError:
            pass
    return out


def store_result(store, jid):
    if not store:
        return None
    for path in glob.glob(os.path.join(store, "*", jid, "result.json")):
        try:
            with open(path) as f:
                r = decode_env(f.read())
        except OSError:
            r = None
        if r is not None:
            return r
    return None


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def audit(paths, problems):
    """id -> {"signature": n, "intent": n, decisions: [..]}; checks the logs."""
    per = {}
    for path in paths:
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            data = f.read()
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        else:
            problems.append("%s: last line has no newline" % path)
        _, problem = auditlog.check(lines)
        if problem:
            problems.append("%s: %s" % (path, problem))
        for n, raw in enumerate(lines, 1):
            try:
                rec = json.loads(raw)
            except ValueError:
                problems.append("%s:%d: not JSON" % (path, n))
                break
            jid = rec.get("id")
            if not jid:
                continue
            e = per.setdefault(jid, {"signature": 0, "intent": 0, "decisions": [],
                                     "where": [], "intent_logs": set(), "retry": 0,
                                     "withheld": 0, "released": {}, "last_signed": {}})
            ev = rec.get("event")
            if ev == "signed" and rec.get("signature_sha256"):
                e["last_signed"][path] = rec["signature_sha256"]
            elif ev == "published" and e["last_signed"].get(path):
                e["released"].setdefault(path, set()).add(e["last_signed"][path])
            elif ev == "withheld":
                e["withheld"] += 1
                e["last_signed"].pop(path, None)
            elif ev == "retry":
                e["retry"] += 1
                e["intent_logs"].add(path)
            if ev in ("signature", "intent"):
                e[ev] += 1
                if ev == "intent":
                    e["intent_logs"].add(path)
                if ev == "signature":
                    e["where"].append("%s:%d" % (os.path.basename(path), n))
            elif ev in ("signed", "rejected", "failed"):
                e["decisions"].append((ev, rec.get("code")))
    return per


def summary(e):
    if e is None:
        return "nothing"
    dec = {}
    for d, c in e["decisions"]:
        k = d + ("/" + c if c else "")
        dec[k] = dec.get(k, 0) + 1
    return "%d intent, %d retry, %d signature, %d withheld records; decisions %s" % (
        e["intent"], e["retry"], e["signature"], e["withheld"],
        ", ".join("%s x%d" % kv for kv in sorted(dec.items())) or "none")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--redis-sock", required=True)
    ap.add_argument("--jobs", required=True)
    ap.add_argument("--store", default="")
    ap.add_argument("--drain", type=int, default=60)
    ap.add_argument("--since", type=int, default=0,
                    help="require a signed job among those started at or after this time")
    ap.add_argument("--no-failed", action="store_true",
                    help="a failed job is a problem (crashes must not fail jobs)")
    ap.add_argument("audit", nargs="+")
    a = ap.parse_args()

    problems = []
    jobs = {}        # id -> {"name", "rc", "status", "code", "t"}
    pending = {}     # id -> name: submitted, no result seen by submit-job
    maybe = {}       # id -> name: "cannot submit": submitted only if traced
    not_submitted = 0
    for rcpath in sorted(glob.glob(os.path.join(a.jobs, "*.rc"))):
        name = os.path.basename(rcpath)[:-3]
        base = rcpath[:-3]
        rc = read(rcpath).strip()
        out, err = read(base + ".out"), read(base + ".err")
        try:
            t = int(read(base + ".t").strip() or 0)
        except ValueError:
            t = 0
        res = None
        for line in out.splitlines():
            try:
                res = json.loads(line)
            except ValueError:
                pass
        jid = res.get("id") if isinstance(res, dict) else None
        if jid is None:
            m = ID_RE.search(err)
            jid = m.group(1) if m else None
        if rc in ("0", "1") and isinstance(res, dict) and res.get("status"):
            if rc == "0" and res["status"] != "signed":
                problems.append("%s: exit 0 but status %s" % (name, res["status"]))
            err_obj = res.get("error") or {}
            jobs[jid] = {"name": name, "rc": rc, "status": res["status"],
                         "code": err_obj.get("code") if isinstance(err_obj, dict) else None,
                         "t": t}
        elif rc in ("3", "4") and jid is not None:
            if "cannot submit job" in err:
                maybe[jid] = (name, t)
            else:
                pending[jid] = (name, t)
        elif rc == "4" and jid is None:
            not_submitted += 1      # could not connect: nothing was sent
        else:
            problems.append("%s: submit-job exit %s: %s" % (name, rc, err.strip()[-300:]))

    per = audit(a.audit, problems)
    for jid, nt in maybe.items():
        if jid in per or redis_results(a.redis_sock, [jid]) or store_result(a.store, jid):
            pending[jid] = nt
        else:
            not_submitted += 1

    # Drain: results owed to submitters that stopped waiting.
    deadline = time.monotonic() + a.drain
    while True:
        got = redis_results(a.redis_sock, pending.keys())
        for jid in list(pending):
            r = got.get(jid) or store_result(a.store, jid)
            if r is not None and r.get("status"):
                name, t = pending.pop(jid)
                err_obj = r.get("error") or {}
                jobs[jid] = {"name": name, "rc": "late", "status": r["status"],
                             "code": err_obj.get("code") if isinstance(err_obj, dict) else None,
                             "t": t}
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(1)
    per = audit(a.audit, problems)   # again: decisions written while draining

    counts = {"signed": 0, "rejected": 0, "failed": 0}
    codes = {}
    for jid, j in jobs.items():
        st = j["status"]
        if st not in counts:
            problems.append("%s (%s): unknown status %s" % (j["name"], jid, st))
            continue
        counts[st] += 1
        if st != "signed":
            codes[(st, j["code"])] = codes.get((st, j["code"]), 0) + 1
        e = per.get(jid)
        if e is None:
            problems.append("%s (%s): %s result but no audit record" % (j["name"], jid, st))
            continue
        if st == "signed" and e["signature"] < 1:
            problems.append("%s (%s): signed result but no signature record" % (j["name"], jid))
        if st not in [d for d, _ in e["decisions"]]:
            problems.append("%s (%s): result %s but audit: %s"
                            % (j["name"], jid, st, summary(e)))
    # Released signatures per id: Redis, the store, the audit logs.
    in_redis = redis_signatures(a.redis_sock, set(jobs) | set(per))
    dups = {}
    for jid in set(jobs) | set(per) | set(in_redis):
        rel = set()
        e = per.get(jid)
        if e is not None:
            for shas in e["released"].values():
                rel |= shas
        if jid in in_redis:
            rel.add(in_redis[jid])
        rel |= store_signatures(a.store, jid)
        if jid in jobs and jobs[jid]["rc"] == "0":
            sig = os.path.join(os.path.dirname(os.path.abspath(a.jobs)), "art",
                               jobs[jid]["name"] + ".sig")
            try:
                with open(sig, "rb") as f:
                    rel.add(sha256_hex(f.read()))
            except OSError:
                pass
        if len(rel) > 1:
            dups[jid] = rel
    for jid, rel in dups.items():
        problems.append("duplicate signature for %s: %d different signatures released "
                        "(audit: %s)" % (jid, len(rel), summary(per.get(jid))))
    retries = sum(e["retry"] for e in per.values())
    withheld = sum(e["withheld"] for e in per.values())
    if retries or withheld:
        print("# %d retries of interrupted intents, %d signatures withheld (their claim "
              "was lost): never released, accounted for in the audit logs"
              % (retries, withheld))
    if a.no_failed and counts["failed"]:
        problems.append("%d jobs failed (no crash may fail a job)" % counts["failed"])
    for jid, (name, _t) in sorted(pending.items(), key=lambda x: x[1]):
        problems.append("lost %s (%s): audit: %s" % (name, jid, summary(per.get(jid))))
    if a.since:
        late = [j for j in jobs.values() if j["t"] >= a.since and j["status"] == "signed"]
        if not late:
            problems.append("no job started after the fault ended was signed")

    multi = [jid for jid, e in per.items() if len(e["intent_logs"]) > 1]
    if multi:
        print("# %d job ids have an intent in more than one audit log (an agent's attempt "
              "interrupted or withheld, then taken over by another): %s"
              % (len(multi), " ".join(sorted(multi)[:5])))
    submitted = len(jobs) + len(pending)
    if codes:
        print("# not signed: " + ", ".join("%s %s: %d" % (s, c, n)
                                           for (s, c), n in sorted(codes.items(), key=str)))
    if not_submitted:
        print("# %d submit-job runs could not submit (queue unreachable): not counted"
              % not_submitted)
    for p in problems[:40]:
        print("# PROBLEM: " + p)
    print("submitted %d, signed %d, rejected %d, failed %d, lost %d, duplicate signatures %d"
          % (submitted, counts["signed"], counts["rejected"], counts["failed"],
             len(pending), len(dups)))
    return 1 if problems or submitted == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
