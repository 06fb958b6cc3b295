#!/bin/bash
# What the host must give the agent, checked before it starts:
# `signet-agent --check` run as root with "user" set checks, as that user,
# that the store and the audit log's directory take new files, that Redis
# answers and accepts the password, and, as pkcs11.user, that the PIN file
# can be read; each failure is one line naming the path or URL and the
# system's reason ("(running as USER)" for a permission), and the status is
# not 0.  Then `signet-admin init` on a configuration whose paths are in a
# temporary directory: --dry-run changes nothing, a real run creates the
# store and the audit log's directory for the agent's user, a second run
# finds everything in order (exit 0).
#
# Needs root (switches users, makes two test users): run by CI as root;
# elsewhere it is skipped (exit 77).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (runs the checks as a test user)"
	exit 77
fi
need_tools useradd stat

TUSER=signet-checkenv-test
SUSER=signet-checkenv-signer
for u in "$TUSER" "$SUSER"; do
	id "$u" >/dev/null 2>&1 ||
		useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$u" ||
		{ echo "cannot create user $u"; exit 1; }
done

STACK_REDIS_PERM=777
stack_init check-env
chmod 755 "$D"
stack_redis_start || exit 1
stack_token_init || exit 1
stack_submitter ci-fw ec
chmod 644 "$D"/*.pub "$D"/*.pem
mkdir -p "$D/agent/store" "$D/signer"
chown -R "$TUSER:" "$D/agent"
chmod 700 "$D/signer"
STACK_STORE="file://$D/agent/store"
stack_config
jq --arg u "$TUSER" --arg j "$D/signer/journal" --arg a "$D/agent/audit.log" \
	'.user = $u | .pkcs11.journal = $j | .audit_log = $a' "$D/agent.json" > "$D/base.json"
chmod 644 "$D/base.json"

# check NAME JQ: $D/NAME.json from base.json through JQ, then --check on it.
check() {
	jq "$2" "$D/base.json" > "$D/$1.json" && chmod 644 "$D/$1.json"
	"$SIGNET_AGENT" -c "$D/$1.json" --check > "$D/$1.out" 2>&1
	echo $? > "$D/$1.rc"
}
# expect NAME TEXT...: --check failed, and its output holds each TEXT.
expect() {
	local name=$1 t
	shift
	if [ "$(cat "$D/$name.rc")" = 0 ]; then
		fail "$name: --check exited 0" "$D/$name.out"
		return
	fi
	for t in "$@"; do
		grep -qF -- "$t" "$D/$name.out" || { fail "$name: no '$t' in the output" "$D/$name.out"; return; }
	done
	ok "$name: exit $(cat "$D/$name.rc"): $(grep -F -- "$1" "$D/$name.out" | head -1 | sed 's/.*\] //' | cut -c1-160)"
}

check good '.'
if [ "$(cat "$D/good.rc")" = 0 ] && grep -q "the store, the audit log's directory and Redis are in order" "$D/good.out"; then
	ok "a complete host: --check exits 0"
else
	fail "--check on a complete host" "$D/good.out"
fi

check nostore ".store = \"file://$D/agent/nostore\""
expect nostore "store: cannot open $D/agent/nostore: No such file or directory"

mkdir -m 0555 "$D/ro"
check rostore ".store = \"file://$D/ro\""
expect rostore "store: cannot create files in $D/ro: Permission denied (running as $TUSER)"

check roaudit ".audit_log = \"$D/ro/audit.log\""
expect roaudit "audit_log: cannot create files in $D/ro: Permission denied (running as $TUSER)"

check redisdown '.redis = "redis://127.0.0.1:1"'
expect redisdown "redis: cannot connect to redis://127.0.0.1:1: Connection refused"

# A Redis that wants a password, given the wrong one.
redis-server --port 0 --unixsocket "$D/auth.sock" --unixsocketperm 777 --requirepass right-password-1 \
	--save '' --appendonly no --dir "$D" --daemonize yes --pidfile "$D/auth.pid" --logfile "$D/auth.log" >/dev/null
on_exit 'kill "$(cat "$D/auth.pid" 2>/dev/null)" 2>/dev/null'
for _ in $(seq 1 100); do [ -S "$D/auth.sock" ] && break; sleep 0.05; done
install -m 0600 -o "$TUSER" /dev/null "$D/agent/redis-password"
printf 'wrong-password-2\n' > "$D/agent/redis-password"
check redisauth ".redis = \"unix://$D/auth.sock\" | .redis_password_file = \"$D/agent/redis-password\""
expect redisauth "redis: cannot connect to unix://$D/auth.sock: AUTH refused: WRONGPASS"
if grep -q "wrong-password-2\|right-password-1" "$D/redisauth.out"; then
	fail "the Redis password was printed" "$D/redisauth.out"
else
	ok "no password in the output"
fi
chmod 0640 "$D/agent/redis-password"
check redispwmode ".redis = \"unix://$D/auth.sock\" | .redis_password_file = \"$D/agent/redis-password\""
expect redispwmode "redis: cannot connect to unix://$D/auth.sock: the password file $D/agent/redis-password: secret file is readable by group or others"
chmod 0600 "$D/agent/redis-password"
printf 'right-password-1\n' > "$D/agent/redis-password"
check redisok ".redis = \"unix://$D/auth.sock\" | .redis_password_file = \"$D/agent/redis-password\""
if [ "$(cat "$D/redisok.rc")" = 0 ] && [ "$(redis-cli -s "$D/auth.sock" --no-auth-warning -a right-password-1 XINFO GROUPS signet:jobs | grep -c agents)" = 1 ]; then
	ok "with the right password --check passes and the consumer group exists"
else
	fail "--check with the right Redis password" "$D/redisok.out"
fi

# A socket for its group only (root's here): the agent's user is not in it.
redis-server --port 0 --unixsocket "$D/grp.sock" --unixsocketperm 770 \
	--save '' --appendonly no --dir "$D" --daemonize yes --pidfile "$D/grp.pid" --logfile "$D/grp.log" >/dev/null
on_exit 'kill "$(cat "$D/grp.pid" 2>/dev/null)" 2>/dev/null'
for _ in $(seq 1 100); do [ -S "$D/grp.sock" ] && break; sleep 0.05; done
check redisgroup ".redis = \"unix://$D/grp.sock\""
expect redisgroup "redis: cannot connect to unix://$D/grp.sock: Permission denied (running as $TUSER)"

# The PIN file, read by pkcs11.user, is root's.
check pin ".pkcs11.user = \"$SUSER\""
expect pin "pkcs11.pin_file: cannot read $D/pin: Permission denied (running as $SUSER)"

# Several problems at once: each is named.
check several ".store = \"file://$D/ro\" | .redis = \"redis://127.0.0.1:1\""
expect several "store: cannot create files in $D/ro" "redis: cannot connect to redis://127.0.0.1:1"

# The agent itself refuses to start on what --check refuses.
"$SIGNET_AGENT" -c "$D/rostore.json" > "$D/start.out" 2>&1
if [ $? = 2 ] && grep -qF "store: cannot create files in $D/ro: Permission denied (running as $TUSER)" "$D/start.out"; then
	ok "the agent's start refuses the read-only store in the same words"
else
	fail "agent start on a read-only store" "$D/start.out"
fi

# --- signet-admin init ------------------------------------------------------
I=$D/init
mkdir -p "$I/lib" "$I/etc"
chmod 755 "$I" "$I/lib" "$I/etc"
install -m 0600 -o "$SUSER" /dev/null "$I/etc/pin"
cat "$D/pin" > "$I/etc/pin"
jq --arg s "file://$I/lib/store" --arg a "$I/lib/log/audit.log" --arg p "$I/etc/pin" --arg su "$SUSER" \
	--arg j "$I/lib/signer/journal" \
	'.store = $s | .audit_log = $a | .pkcs11.pin_file = $p | .pkcs11.user = $su | .pkcs11.journal = $j' \
	"$D/base.json" > "$I/etc/agent.json"
"$ADMIN" init -c "$I/etc/agent.json" --dry-run > "$D/dry.out" 2>&1
drc=$?
if [ "$drc" = 1 ] && grep -qF "would create $I/lib/store ($TUSER:$(id -gn "$TUSER") 0750)" "$D/dry.out" &&
	grep -qF "would create $I/lib/log ($TUSER:$(id -gn "$TUSER") 0750)" "$D/dry.out" &&
	grep -qF "would create $I/lib/signer ($SUSER:$(id -gn "$SUSER") 0700)" "$D/dry.out" &&
	! [ -e "$I/lib/store" ] && ! [ -e "$I/lib/log" ] && ! [ -e "$I/lib/signer" ]; then
	ok "init --dry-run: says what it would create, creates nothing (exit 1)"
else
	fail "init --dry-run (exit $drc)" "$D/dry.out"
fi
"$ADMIN" init -c "$I/etc/agent.json" > "$D/init1.out" 2>&1
irc=$?
if grep -qF "created $I/lib/store ($TUSER:$(id -gn "$TUSER") 0750)" "$D/init1.out" &&
	[ "$(stat -c %U:%a "$I/lib/store")" = "$TUSER:750" ] && [ "$(stat -c %U:%a "$I/lib/log")" = "$TUSER:750" ] &&
	[ "$(stat -c %U:%a "$I/lib/signer")" = "$SUSER:700" ] &&
	grep -q "^ok .*pin" "$D/init1.out" && grep -q "^ok .*redis" "$D/init1.out" && [ "$irc" = 0 ]; then
	ok "init: created the store and the audit log's directory for $TUSER (0750), the journal's for $SUSER (0700), PIN file and Redis ok (exit 0)"
else
	fail "init (exit $irc)" "$D/init1.out"
fi
"$ADMIN" init -c "$I/etc/agent.json" > "$D/init2.out" 2>&1
irc=$?
if [ "$irc" = 0 ] && ! grep -v "^ok " "$D/init2.out" | grep -q .; then
	ok "init again: every line ok, exit 0 ($(wc -l < "$D/init2.out") lines)"
else
	fail "second init (exit $irc)" "$D/init2.out"
fi
# --softhsm: a token directory, configuration and token of the signer's
# user; its keys are then made as that user.
"$ADMIN" init -c "$I/etc/agent.json" --softhsm > "$D/sh1.out" 2>&1
irc=$?
if [ "$irc" = 0 ] && grep -qF "created $I/lib/signer/tokens ($SUSER:$(id -gn "$SUSER") 0700)" "$D/sh1.out" &&
	grep -qF "created $I/etc/softhsm2.conf ($SUSER:" "$D/sh1.out" &&
	grep -qF "created $I/etc/environment (root:root 0644)" "$D/sh1.out" &&
	grep -qF "created the SoftHSM token \"signet-test\" in $I/lib/signer/tokens" "$D/sh1.out" &&
	[ -z "$(find "$I/lib/signer" ! -user "$SUSER")" ] && [ "$(stat -c %a "$I/lib/signer/softhsm-so-pin")" = 600 ] &&
	! grep -qf "$I/etc/pin" "$D/sh1.out"; then
	ok "init --softhsm: token directory, softhsm2.conf, environment file and token, all $SUSER's"
else
	fail "init --softhsm (exit $irc)" "$D/sh1.out"
fi
# The signer's user runs a copy from this test's directory, which it can
# reach wherever the build is (a clone inside a 0700 directory is not).
install -m 755 "$ADMIN" "$D/signet-admin"
runuser -u "$SUSER" -- env SOFTHSM2_CONF="$I/etc/softhsm2.conf" "$D/signet-admin" key generate --module "$P11_MODULE" \
	--token signet-test --pin-file "$I/etc/pin" --label attest --type ec-p256 > "$D/shkey.out" 2>&1
"$ADMIN" init -c "$I/etc/agent.json" --softhsm > "$D/sh2.out" 2>&1
irc=$?
if [ "$irc" = 0 ] && grep -q "BEGIN PUBLIC KEY" "$D/shkey.out" && grep -qF "ok SoftHSM token \"signet-test\"" "$D/sh2.out" &&
	! grep -v "^ok " "$D/sh2.out" | grep -q .; then
	ok "a key made in it as $SUSER; init --softhsm again: all ok, exit 0"
else
	fail "init --softhsm again (exit $irc)" "$D/sh2.out"
	cat "$D/shkey.out"
fi

# A Redis socket the agent's user may not use: init names the group.
jq --arg r "unix://$D/grp.sock" '.redis = $r' "$I/etc/agent.json" > "$I/etc/grp.json"
"$ADMIN" init -c "$I/etc/grp.json" > "$D/grp.out" 2>&1
irc=$?
if [ "$irc" = 1 ] && grep -qF "todo redis: cannot connect to unix://$D/grp.sock: Permission denied (running as $TUSER); the socket $D/grp.sock is root:root 0770: add $TUSER to group root (adduser $TUSER root)" "$D/grp.out"; then
	ok "init: a Redis socket of another group names the group to join (exit 1)"
else
	fail "init with a group-only Redis socket (exit $irc)" "$D/grp.out"
fi

# A PIN file that others may read is left for the operator.
chmod 0644 "$I/etc/pin"
"$ADMIN" init -c "$I/etc/agent.json" > "$D/init3.out" 2>&1
irc=$?
if [ "$irc" = 1 ] && grep -q "^todo .*$I/etc/pin has mode 0644" "$D/init3.out"; then
	ok "init: a PIN file others may read is a todo (exit 1)"
else
	fail "init with a 0644 PIN file (exit $irc)" "$D/init3.out"
fi
chmod 0600 "$I/etc/pin"
if "$ADMIN" init -c "$I/etc/agent.json" --bogus > "$D/usage.out" 2>&1; then
	fail "init --bogus accepted"
elif [ $? = 2 ]; then
	ok "init with an unknown option: exit 2"
else
	fail "init --bogus: not exit 2" "$D/usage.out"
fi

summary
