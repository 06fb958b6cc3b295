#!/bin/bash
# The boundary between the agent and the signer holds when the agent is
# fully compromised (docs/security.md, "What a compromised agent can do").
#
# signet-agent is started as root with "user" set: it starts signet-signer,
# which reads the module, token, PIN file and keys from the root-owned
# configuration itself, then becomes that user.  A process with the agent's
# rights then tries what a compromised agent would: read the PIN, trace
# the signer, start its own signer naming another module and the real
# token, write the signer's journal.  Each attempt must fail.  The signer
# refuses the old requests by which an agent named a module or a key URI
# (tests/unit/test_hsm_signer.c sends them); its journal records every
# signature, and `signet-admin audit verify --signer-journal` names one
# that the audit log does not account for.  A configuration whose
# attestation key is also a signing key is refused.
#
# Needs root (to start the agent as root and make a test user): run by CI
# as root; elsewhere it is skipped (exit 77).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
SIGNER=$SIGNET_BUILD/agent/signet-signer
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (starts signet-agent as root and makes a test user)"
	exit 77
fi
# The system's python3: the agent's user must be able to run it.
PY=/usr/bin/python3
need_tools redis-server redis-cli softhsm2-util pkcs11-tool openssl jq "$PY" setpriv useradd

TUSER=signet-privsep-test
SUSER=signet-privsep-signer
for u in "$TUSER" "$SUSER"; do
	id "$u" >/dev/null 2>&1 ||
		useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$u" ||
		{ echo "cannot create user $u"; exit 1; }
done
TUID=$(id -u "$TUSER")
SUID=$(id -u "$SUSER")
TGID=$(id -g "$TUSER")
as_agent() { setpriv --reuid="$TUID" --regid="$TGID" --clear-groups -- "$@"; }

STACK_REDIS_PERM=777
stack_init privsep
# The agent's user may enter the stack directory, not read the token's.
chmod 755 "$D"

stack_redis_start || exit 1
stack_token_init || exit 1
stack_submitter ci-fw ec
chmod 644 "$D"/*.pub "$D"/*.pem
mkdir -p "$D/agent/store" "$D/signer"
chown -R "$TUSER:" "$D/agent"
# The signer's user owns the token, the PIN file and the journal.
chown -R "$SUSER:" "$D/signer" "$D/tokens" "$D/pin" "$SOFTHSM2_CONF"
chmod 700 "$D/signer"
STACK_STORE="file://$D/agent/store"
stack_config
# The agent's data in its user's directory, the journal in the signer's.
jq --arg u "$TUSER" --arg s "$SUSER" --arg j "$D/signer/journal" --arg a "$D/agent/audit.log" \
	'.user = $u | .pkcs11.user = $s | .pkcs11.journal = $j | .audit_log = $a' "$D/agent.json" > "$D/agent.json.new" &&
	mv "$D/agent.json.new" "$D/agent.json"
chmod 644 "$D/agent.json"

stack_agent_start || exit 1
AGENT=$STACK_AGENT_PID
SPID=$(pgrep -P "$AGENT" -f signet-signer | head -1)
auid=$(awk '/^Uid:/ {print $2}' "/proc/$AGENT/status")
suid=$(awk '/^Uid:/ {print $2}' "/proc/${SPID:-0}/status" 2>/dev/null)
if [ "$auid" = "$TUID" ] && [ "$suid" = "$SUID" ]; then
	ok "the agent runs as $TUSER (uid $auid), its signer (pid $SPID) as $SUSER (uid $suid)"
else
	fail "agent uid '$auid', signer pid '${SPID:-}' uid '${suid:-}'" "$D/agent.log"
fi
if grep -q "running as $TUSER" "$D/agent.log"; then
	ok "the agent says it dropped to $TUSER"
else
	fail "no 'running as' line" "$D/agent.log"
fi
if grep -q "NoNewPrivs:.*1" "/proc/$AGENT/status"; then
	ok "the agent runs with no_new_privs"
else
	fail "no_new_privs not set on the agent"
fi

# Signing works across the boundary.
printf 'firmware image\n' > "$D/fw.bin"
SIGNET_REDIS=unix://$D/redis.sock SIGNET_IDENTITY=$D/ci-fw.key SIGNET_AGENT_PUBKEY=$D/attest.pub.pem \
	"$SUBMIT_JOB" -k release -f raw -o "$D/fw.sig" -w 30 "$D/fw.bin" >"$D/sj.out" 2>&1
if openssl dgst -sha256 -verify "$D/release.pub.pem" -signature "$D/fw.sig" "$D/fw.bin" >/dev/null 2>&1; then
	ok "a job is signed through the signer (openssl: Verified OK)"
else
	fail "signing through the signer" "$D/sj.out"
fi

# What a process with the agent's rights cannot do.
if as_agent cat "$D/pin" >"$D/a1.out" 2>&1; then
	fail "the agent's user read the PIN file"
else
	ok "the agent's user cannot read the PIN ($(tail -1 "$D/a1.out" | sed 's/.*: //'))"
fi
cat > "$D/ptrace.py" <<'PY'
import ctypes, errno, sys
libc = ctypes.CDLL(None, use_errno=True)
PTRACE_ATTACH = 16
for pid in sys.argv[1:]:
    r = libc.ptrace(PTRACE_ATTACH, int(pid), 0, 0)
    e = ctypes.get_errno()
    print(pid, "attached" if r == 0 else errno.errorcode.get(e, str(e)))
PY
as_agent $PY "$D/ptrace.py" "$SPID" "$AGENT" > "$D/a2.out" 2>&1
if grep -q "^$SPID EPERM" "$D/a2.out" && grep -q "^$AGENT EPERM" "$D/a2.out"; then
	ok "the agent's user can trace neither the signer nor the agent (EPERM)"
else
	fail "ptrace" "$D/a2.out"
fi
if as_agent cat "/proc/$SPID/environ" >/dev/null 2>&1 || as_agent cat "/proc/$SPID/maps" >/dev/null 2>&1; then
	fail "the agent's user read the signer's /proc files"
else
	ok "the agent's user cannot read the signer's memory map or environment"
fi
if as_agent sh -c "echo forged >> '$D/signer/journal'" 2>/dev/null; then
	fail "the agent's user wrote the signer's journal"
else
	ok "the agent's user cannot write the signer's journal"
fi

# A signer of its own, naming a module of its choice and the real token:
# it runs with the agent's rights only, so the PIN stays out of reach.
jq --arg j "$D/agent/evil-journal" '.pkcs11.journal = $j | .pkcs11.sessions = 1 | del(.user) | del(.pkcs11.user)' \
	"$D/agent.json" > "$D/agent/evil.json"
chown "$TUSER:" "$D/agent/evil.json"
cat > "$D/ownsigner.py" <<'PY'
import os, socket, subprocess, sys
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
if a.fileno() == 3:
    a2 = a.dup()
    a.close()
    a = a2
os.dup2(b.fileno(), 3)       # the signer's channel 0 is fd 3
os.set_inheritable(3, True)
p = subprocess.Popen([sys.argv[1], "-c", sys.argv[2]], pass_fds=[3],
                     stderr=open(sys.argv[3], "w"))
b.close()
os.close(3)
a.send(bytes([0, 0, 0, 1, 3]))     # OPEN
resp = a.recv(4096)
if len(resp) < 8:
    print("status closed (the signer exited without answering)")
else:
    status = int.from_bytes(resp[4:8], "big", signed=True)
    print("status", status, resp[8:].decode("utf-8", "replace"))
a.close()
p.wait()
PY
# A copy the agent's user can reach, wherever the build directory is (a
# clone inside a 0700 directory is not reachable by other users).
install -m 755 "$SIGNER" "$D/signet-signer"
as_agent env SOFTHSM2_CONF="$SOFTHSM2_CONF" $PY "$D/ownsigner.py" "$D/signet-signer" "$D/agent/evil.json" "$D/agent/a3.err" > "$D/a3.out" 2>&1
if grep -q "^status -\|^status closed" "$D/a3.out" && ! grep -q "^status 0" "$D/a3.out"; then
	ok "a signer started with the agent's rights opens nothing ($(cut -c1-110 "$D/a3.out"))"
else
	fail "own signer" "$D/a3.out"
fi

# Accountability: every signature is in the signer's journal, and the
# audit log accounts for each one made for a job.
stack_agent_stop
if "$ADMIN" audit verify "$D/agent/audit.log" --signer-journal "$D/signer/journal" > "$D/v1.out" 2>&1 &&
	grep -q "job signatures, each in the audit log" "$D/v1.out"; then
	ok "audit verify --signer-journal: $(tail -1 "$D/v1.out")"
else
	fail "audit verify --signer-journal" "$D/v1.out"
fi
# A compromised agent that asks the signer for a signature and records
# nothing: the journal has it, the log does not.
cat > "$D/rogue.py" <<'PY'
import os, socket, subprocess, sys
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
if a.fileno() == 3:
    a2 = a.dup()
    a.close()
    a = a2
os.dup2(b.fileno(), 3)       # the signer's channel 0 is fd 3
os.set_inheritable(3, True)
p = subprocess.Popen([sys.argv[1], "-c", sys.argv[2]], pass_fds=[3])
b.close()
os.close(3)
def req(t, payload=b""):
    a.send((1 + len(payload)).to_bytes(4, "big") + bytes([t]) + payload)
    r = a.recv(4096)
    return int.from_bytes(r[4:8], "big", signed=True), r[8:]
st, _ = req(3)                    # OPEN
job = bytes.fromhex("ab" * 16)
st2, _ = req(5, (0).to_bytes(4, "big") + job + (32).to_bytes(4, "big") + b"\x11" * 32)  # SIGN key 0
print("open", st, "sign", st2)
a.close()
p.wait()
PY
jq '.pkcs11.sessions = 1' "$D/agent.json" > "$D/rogue.json"
$PY "$D/rogue.py" "$SIGNER" "$D/rogue.json" > "$D/rogue.out" 2>&1
if grep -q "open 0 sign 0" "$D/rogue.out" &&
	! "$ADMIN" audit verify "$D/agent/audit.log" --signer-journal "$D/signer/journal" > "$D/v2.out" 2>&1 &&
	grep -q "job abababababababababababababababab.*has no signature record and no intent in the audit log" "$D/v2.out"; then
	ok "a signature kept off the audit log is named: $(grep "^signer journal" "$D/v2.out" | cut -c1-160)"
else
	fail "rogue signature not found" "$D/v2.out"
	cat "$D/rogue.out"
fi

# Started with a journal in the agent's own directory, it refuses to run.
mkdir -m 0777 "$D/shared"
chmod 0777 "$D/shared"
jq --arg j "$D/shared/journal" '.pkcs11.journal = $j' "$D/agent.json" > "$D/jdir.json"
if ! "$SIGNET_BUILD/agent/signet-agent" -c "$D/jdir.json" --check > "$D/jdir.out" 2>&1 &&
	grep -q "pkcs11.journal: $TUSER can write $D/shared" "$D/jdir.out"; then
	ok "a journal in a directory the agent's user can write is refused"
else
	fail "journal in the agent's directory" "$D/jdir.out"
fi

# The attestation key must be no signing key.
jq '.attestation_key = "pkcs11:object=release"' "$D/agent.json" > "$D/same.json"
if ! "$SIGNET_BUILD/agent/signet-agent" -c "$D/same.json" --check > "$D/same.out" 2>&1 &&
	grep -q "key release is the attestation key" "$D/same.out"; then
	ok "a signing key that is also the attestation key is refused"
else
	fail "attestation key = signing key" "$D/same.out"
fi
# Run as root, the signer reads only a configuration that root owns and
# only root may write.
cp "$D/agent.json" "$D/agent/writable.json"
chmod 666 "$D/agent/writable.json"
if ! "$SIGNET_BUILD/agent/signet-agent" -c "$D/agent/writable.json" --check > "$D/w.out" 2>&1 &&
	grep -q "only root may write" "$D/w.out"; then
	ok "a configuration others may write is refused by the signer run as root"
else
	fail "writable configuration" "$D/w.out"
fi

summary
