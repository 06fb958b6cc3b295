#!/usr/bin/env python3
"""auditlog.py - the audit log's RFC 6962 Merkle tree, independently of the C code.

    auditlog.py check LOG            verify every record's seq and prev; print
                                     "<records> <root hex>"; exit 1 naming the
                                     first bad record
    auditlog.py append LOG JSON      append a record (an object without seq,
                                     time, prev) the way the agent writes it

Used by the tests to cross-check the agent and to simulate what it writes.
"""
import hashlib
import json
import sys
import time


def sha256(b):
    return hashlib.sha256(b).digest()


class Tree:
    """Compact range of an RFC 6962 tree: perfect subtrees, largest first."""

    def __init__(self):
        self.stack = []  # (size, hash)
        self.size = 0

    def append(self, record_bytes):
        self.stack.append((1, sha256(b"\x00" + record_bytes)))
        self.size += 1
        while len(self.stack) >= 2 and self.stack[-1][0] == self.stack[-2][0]:
            s2, h2 = self.stack.pop()
            s1, h1 = self.stack.pop()
            self.stack.append((s1 + s2, sha256(b"\x01" + h1 + h2)))

    def root(self):
        if not self.stack:
            return sha256(b"")
        h = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            h = sha256(b"\x01" + left + h)
        return h


def check(lines):
    """-> (tree, problem or None) over complete record lines (bytes)."""
    t = Tree()
    for n, raw in enumerate(lines, 1):
        try:
            rec = json.loads(raw)
        except ValueError:
            return t, "record %d: not JSON" % n
        if rec.get("seq") != n:
            return t, "record %d: seq %r" % (n, rec.get("seq"))
        if rec.get("prev") != t.root().hex():
            return t, "record %d: prev does not match the records before it" % n
        t.append(raw)
    return t, None


def read_lines(path):
    data = open(path, "rb").read()
    lines = data.split(b"\n")
    torn = lines.pop()
    return lines, torn


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "check":
        lines, torn = read_lines(sys.argv[2])
        t, problem = check(lines)
        if problem or torn:
            print(problem or "torn last line")
            return 1
        print(t.size, t.root().hex())
        return 0
    if len(sys.argv) == 4 and sys.argv[1] == "append":
        lines, torn = read_lines(sys.argv[2])
        t, problem = check(lines)
        if problem or torn:
            print(problem or "torn last line", file=sys.stderr)
            return 1
        rec = {"seq": t.size + 1, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "prev": t.root().hex()}
        rec.update(json.loads(sys.argv[3]))
        with open(sys.argv[2], "ab") as f:
            f.write(json.dumps(rec, separators=(",", ":")).encode() + b"\n")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
