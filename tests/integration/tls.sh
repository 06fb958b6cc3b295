#!/bin/bash
# TLS to Redis (rediss://): a CA, server certificates (good, expired, for
# another host) and a client certificate made here with openssl; Debian's
# redis-server with its TLS port.  A job is signed end to end over TLS
# (agent and submit-job); every certificate problem is refused with the
# reason; a plain-text server on a rediss:// URL is refused at once.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
stack_init tls
redis_stop_all() {
	local f
	for f in "$D"/*.rpid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
}
on_exit redis_stop_all

T=$D/tls
mkdir -p "$T/certs"
: > "$T/index.txt"
echo 1000 > "$T/serial"
cat > "$T/ca.cnf" <<CNF
[ca]
default_ca = testca
[testca]
dir = $T
database = $T/index.txt
serial = $T/serial
new_certs_dir = $T/certs
certificate = $T/ca.pem
private_key = $T/ca.key
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = \${ENV::SAN}
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
CNF
# ca DIR NAME: a self-signed CA (DIR/NAME.pem, DIR/NAME.key).
mkca() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1/$2.key" 2>/dev/null &&
		openssl req -new -x509 -key "$1/$2.key" -subj "/CN=$2" -days 30 -config "$T/ca.cnf" \
			-extensions root -out "$1/$2.pem" 2>/dev/null
}
# mkcert NAME EXT SAN [START END]: NAME.key, NAME.crt issued by the CA.
mkcert() {
	local dates=(-days 30)
	[ -n "${4:-}" ] && dates=(-startdate "$4" -enddate "$5")
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/$1.key" 2>/dev/null &&
		openssl req -new -key "$T/$1.key" -subj "/CN=$1" -out "$T/$1.csr" 2>/dev/null &&
		SAN=$3 openssl ca -batch -config "$T/ca.cnf" -extensions "$2" "${dates[@]}" \
			-in "$T/$1.csr" -out "$T/$1.crt" >/dev/null 2>&1 &&
		chmod 600 "$T/$1.key"
}
export SAN=DNS:unused
mkca "$T" ca && mkdir -p "$T/other" && mkca "$T/other" ca || { echo "CA creation failed"; exit 1; }
mkcert server server "DNS:localhost,IP:127.0.0.1" &&
	mkcert expired server "DNS:localhost,IP:127.0.0.1" 20200101000000Z 20200201000000Z &&
	mkcert elsewhere server "DNS:redis.other.example" &&
	mkcert client client "DNS:unused" || { echo "certificate creation failed"; exit 1; }
# Redis reads its key as another process would: it may stay 0600 (same user).

base=$((30000 + RANDOM % 20000))
P_MAIN=$base P_MTLS=$((base + 1)) P_EXP=$((base + 2)) P_HOST=$((base + 3)) P_PLAIN=$((base + 4)) P_OLD=$((base + 5))
# start_tls NAME PORT CERT AUTH ARGS...: redis-server with only a TLS port
# (and a unix socket for the test's own redis-cli).
start_tls() {
	local name=$1 port=$2 cert=$3 auth=$4
	shift 4
	mkdir -p "$D/$name"
	redis-server --port 0 --tls-port "$port" --bind 127.0.0.1 --save '' --appendonly no \
		--tls-cert-file "$T/$cert.crt" --tls-key-file "$T/$cert.key" \
		--tls-ca-cert-file "$T/ca.pem" --tls-auth-clients "$auth" \
		--unixsocket "$D/$name/sock" --unixsocketperm 700 --dir "$D/$name" \
		--daemonize yes --pidfile "$D/$name.rpid" --logfile "$D/$name/log" "$@" >/dev/null || return 1
	for _ in $(seq 1 100); do redis-cli -s "$D/$name/sock" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
	return 1
}
start_tls main "$P_MAIN" server no || { echo "redis-server with TLS did not start"; exit 1; }
start_tls mtls "$P_MTLS" server yes || exit 1
start_tls expired "$P_EXP" expired no || exit 1
start_tls elsewhere "$P_HOST" elsewhere no || exit 1
redis-server --port "$P_PLAIN" --bind 127.0.0.1 --save '' --appendonly no --dir "$D" --daemonize yes \
	--pidfile "$D/plain.rpid" --logfile "$D/plain.log" >/dev/null || exit 1
# The stack's helpers (rc_, wait_result) talk to the main server's socket.
REDIS_SOCK=$D/main/sock

SIGNET_REDIS=rediss://localhost:$P_MAIN
STACK_EXTRA="\"redis_tls\": {\"ca_file\": \"$T/ca.pem\"},"
stack_token_init || exit 1
stack_submitter ci-fw ec
stack_config
stack_agent_start || exit 1
printf 'over TLS\n' > "$D/a.bin"
# sj ID ARGS...: submit-job as ci-fw with the test CA.
sj() { SIGNET_IDENTITY=$D/ci-fw.key SIGNET_REDIS_CA_FILE=$T/ca.pem run_sj "$@"; }
# refused ID WORDS: status 4 and WORDS in the message.
refused() {
	if [ "$(rc "$1")" = 4 ] && grep -q "cannot connect to the queue at .*$2" "$D/$1.err"; then
		ok "$3"
	else
		fail "$3 (rc $(rc "$1"))" "$D/$1.err"
	fi
}

sj signed -k release -f raw -w 30 -o "$D/a.sig" "$D/a.bin"
if [ "$(rc signed)" = 0 ] && openssl dgst -sha256 -verify "$D/release.pub.pem" \
	-signature "$D/a.sig" "$D/a.bin" >/dev/null 2>&1; then
	ok "agent and submit-job sign a job end to end over rediss://localhost (CA file, verified)"
else
	fail "signing over TLS (rc $(rc signed))" "$D/signed.err"
	tail -5 "$D/agent.log"
fi
if redis-cli -s "$D/main/sock" client list | grep -q "addr=127.0.0.1"; then
	ok "the agent's connections reach the TLS port (client list)"
else
	fail "no TCP client on the TLS server"
fi

SIGNET_REDIS=rediss://127.0.0.1:$P_MAIN sj byip -k release -f raw -w 30 -o "$D/b.sig" "$D/a.bin"
if [ "$(rc byip)" = 0 ]; then
	ok "an IP address in the URL is checked against the certificate's IP address"
else
	fail "rediss://127.0.0.1 (rc $(rc byip))" "$D/byip.err"
fi

# Sentinel over TLS: the sentinel's own TLS port, and the master it names
# (127.0.0.1, checked against the certificate's IP address).
P_SENT=$((base + 6))
mkdir -p "$D/sentinel"
cat > "$D/sentinel/sentinel.conf" <<CONF
port 0
tls-port $P_SENT
bind 127.0.0.1
tls-cert-file $T/server.crt
tls-key-file $T/server.key
tls-ca-cert-file $T/ca.pem
tls-auth-clients no
tls-replication yes
daemonize yes
pidfile $D/sentinel.rpid
logfile $D/sentinel/log
dir $D/sentinel
sentinel monitor mymaster 127.0.0.1 $P_MAIN 1
CONF
redis-server "$D/sentinel/sentinel.conf" --sentinel >/dev/null
SIGNET_REDIS=sentinel+tls://localhost:$P_SENT/mymaster sj sentinel -k release -f raw -w 30 -o "$D/s.sig" "$D/a.bin"
if [ "$(rc sentinel)" = 0 ] && openssl dgst -sha256 -verify "$D/release.pub.pem" \
	-signature "$D/s.sig" "$D/a.bin" >/dev/null 2>&1; then
	ok "sentinel+tls://: the sentinel and the master it names are reached over TLS; the job is signed"
else
	fail "sentinel+tls:// (rc $(rc sentinel))" "$D/sentinel.err"
	tail -5 "$D/sentinel/log"
fi
SIGNET_REDIS=sentinel://localhost:$P_SENT/mymaster SIGNET_IDENTITY=$D/ci-fw.key \
	run_sj sentinelplain -k release -f raw -w 1 "$D/a.bin"
if [ "$(rc sentinelplain)" = 4 ] && grep -q "no sentinel named a master mymaster" "$D/sentinelplain.err"; then
	ok "sentinel:// (no TLS) to a TLS sentinel: no master found (exit 4)"
else
	fail "sentinel:// to a TLS sentinel (rc $(rc sentinelplain))" "$D/sentinelplain.err"
fi

# Sentinel and Redis sharing a password: signet gives it to both.
P_PW=$((base + 7)) P_SENT2=$((base + 8))
start_tls pw "$P_PW" server no --requirepass sentpw-1 || exit 1
cat > "$D/sentinel/sentinel2.conf" <<CONF
port 0
tls-port $P_SENT2
bind 127.0.0.1
tls-cert-file $T/server.crt
tls-key-file $T/server.key
tls-ca-cert-file $T/ca.pem
tls-auth-clients no
tls-replication yes
requirepass sentpw-1
daemonize yes
pidfile $D/sentinel2.rpid
logfile $D/sentinel/log2
dir $D/sentinel
sentinel monitor pwmaster 127.0.0.1 $P_PW 1
sentinel auth-pass pwmaster sentpw-1
CONF
redis-server "$D/sentinel/sentinel2.conf" --sentinel >/dev/null
( umask 077; printf 'sentpw-1\n' > "$D/sentpw" )
SIGNET_REDIS=sentinel+tls://localhost:$P_SENT2/pwmaster SIGNET_REDIS_PASSWORD_FILE=$D/sentpw \
	sj sentpw -k release -f raw -w 0 "$D/a.bin"
if [ "$(rc sentpw)" = 0 ] && [ "$(redis-cli -s "$D/pw/sock" -a sentpw-1 --no-auth-warning xlen signet:jobs)" = 1 ]; then
	ok "a sentinel with requirepass: the password file's password goes to the sentinel and to the master"
else
	fail "sentinel with a password (rc $(rc sentpw))" "$D/sentpw.err"
fi
SIGNET_REDIS=sentinel+tls://localhost:$P_SENT2/pwmaster sj sentnopw -k release -f raw -w 1 "$D/a.bin"
if [ "$(rc sentnopw)" = 4 ] && grep -q "no sentinel named a master pwmaster" "$D/sentnopw.err"; then
	ok "without the password that sentinel names no master (exit 4)"
else
	fail "sentinel with a password, none given (rc $(rc sentnopw))" "$D/sentnopw.err"
fi

# Wrong CA: the other CA, and the system's store (which does not hold ours).
SIGNET_REDIS_CA_FILE=$T/other/ca.pem SIGNET_IDENTITY=$D/ci-fw.key run_sj wrongca -k release -f raw -w 1 "$D/a.bin"
refused wrongca "certificate verify failed: " "a certificate from another CA is refused: certificate verify failed"
SIGNET_IDENTITY=$D/ci-fw.key run_sj sysca -k release -f raw -w 1 "$D/a.bin"
refused sysca "certificate verify failed" "without --redis-ca-file the system's store is used (and does not know the test CA)"

SIGNET_REDIS=rediss://localhost:$P_EXP sj expired -k release -f raw -w 1 "$D/a.bin"
refused expired "certificate verify failed: certificate has expired" "an expired server certificate is refused"

SIGNET_REDIS=rediss://localhost:$P_HOST sj host -k release -f raw -w 1 "$D/a.bin"
refused host "hostname mismatch" "a certificate for another host is refused: hostname mismatch"
sj name -k release -f raw -w 1 --redis-server-name redis.other.example "$D/a.bin"
refused name "hostname mismatch" "--redis-server-name: the certificate must carry that name"
SIGNET_REDIS=rediss://127.0.0.1:$P_HOST sj nameok -k release -f raw -w 0 \
	--redis-server-name redis.other.example "$D/a.bin"
if [ "$(rc nameok)" = 0 ]; then
	ok "--redis-server-name redis.other.example accepts that server's certificate"
else
	fail "--redis-server-name (rc $(rc nameok))" "$D/nameok.err"
fi

# Mutual TLS: the server asks for a client certificate.
SIGNET_REDIS=rediss://localhost:$P_MTLS sj nocert -k release -f raw -w 1 "$D/a.bin"
# (Redis closes at once after its alert: the client reads the alert, or,
# when the close wins the race, a reset.)
refused nocert "\(TLS: the server refused the client certificate, or wants one\|Connection reset by peer\)" \
	"a server that requires a client certificate refuses a client without one"
SIGNET_REDIS=rediss://localhost:$P_MTLS sj withcert -k release -f raw -w 0 \
	--redis-cert "$T/client.crt" --redis-key "$T/client.key" "$D/a.bin"
if [ "$(rc withcert)" = 0 ] && [ "$(redis-cli -s "$D/mtls/sock" xlen signet:jobs)" = 1 ]; then
	ok "with --redis-cert and --redis-key the job is queued on the mutual-TLS server"
else
	fail "mutual TLS (rc $(rc withcert))" "$D/withcert.err"
fi
chmod 644 "$T/client.key"
SIGNET_REDIS=rediss://localhost:$P_MTLS sj keymode -k release -f raw -w 0 \
	--redis-cert "$T/client.crt" --redis-key "$T/client.key" "$D/a.bin"
if [ "$(rc keymode)" = 2 ] && grep -q "client.key: readable by group or others" "$D/keymode.err" &&
	! grep -q "PRIVATE KEY" "$D/keymode.err"; then
	ok "a client key readable by others is refused (status 2), the key not printed"
else
	fail "client key mode 0644 (rc $(rc keymode))" "$D/keymode.err"
fi
chmod 600 "$T/client.key"
SIGNET_REDIS=rediss://localhost:$P_MTLS sj certonly -k release -f raw -w 0 \
	--redis-cert "$T/client.crt" "$D/a.bin"
if [ "$(rc certonly)" = 2 ] && grep -q "certificate needs its key" "$D/certonly.err"; then
	ok "a client certificate without its key is a usage error"
else
	fail "--redis-cert alone (rc $(rc certonly))" "$D/certonly.err"
fi

# A plain-text server on a rediss:// URL: refused at once, not after a hang.
start=$(date +%s)
SIGNET_REDIS=rediss://127.0.0.1:$P_PLAIN sj plain -k release -f raw -w 1 "$D/a.bin"
took=$(($(date +%s) - start))
if [ "$took" -le 7 ]; then
	refused plain "TLS handshake: \(no answer within the timeout (is it a TLS port?)\|the server does not speak TLS\)" "a plain-text server on a rediss:// URL is refused after one timeout (${took} s), not retried"
else
	fail "a plain-text server on rediss:// took $took s" "$D/plain.err"
fi
# TLS options on a URL without TLS: a mistake, never plain text.
SIGNET_REDIS=redis://127.0.0.1:$P_PLAIN sj notls -k release -f raw -w 0 "$D/a.bin"
if [ "$(rc notls)" = 2 ] && grep -q "TLS options given for a URL without TLS" "$D/notls.err"; then
	ok "--redis-ca-file with a redis:// URL is refused (status 2)"
else
	fail "TLS options on redis:// (rc $(rc notls))" "$D/notls.err"
fi

# A server that speaks only TLS 1.1: below our minimum of TLS 1.2.
openssl s_server -accept "127.0.0.1:$P_OLD" -cert "$T/server.crt" -key "$T/server.key" \
	-tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' -quiet </dev/null >"$D/old.log" 2>&1 &
OLD_PID=$!
on_exit "kill $OLD_PID 2>/dev/null"
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$P_OLD") 2>/dev/null && break; sleep 0.1; done
SIGNET_REDIS=rediss://localhost:$P_OLD sj old -k release -f raw -w 1 "$D/a.bin"
refused old "TLS handshake: no common TLS version (TLS 1.2 or later is required)" "a TLS 1.1-only server is refused: no common TLS version"

# The agent's configuration: redis_tls with a URL without TLS; a client key
# readable by others.
jq --arg u "redis://127.0.0.1:$P_PLAIN" '.redis = $u' "$D/agent.json" > "$D/plain.json"
if ! "$SIGNET_AGENT" -c "$D/plain.json" --check > "$D/check1.out" 2>&1 && grep -q "redis_tls: the redis URL must be rediss://" "$D/check1.out"; then
	ok "the agent refuses redis_tls with a redis:// URL"
else
	fail "redis_tls with redis://" "$D/check1.out"
fi
chmod 644 "$T/client.key"
jq --arg u "rediss://localhost:$P_MTLS" --arg c "$T/client.crt" --arg k "$T/client.key" \
	'.redis = $u | .redis_tls.cert_file = $c | .redis_tls.key_file = $k' "$D/agent.json" > "$D/mtls.json"
if ! "$SIGNET_AGENT" -c "$D/mtls.json" --check > "$D/check2.out" 2>&1 && grep -q "client.key: readable by group or others" "$D/check2.out"; then
	ok "signet-agent --check refuses a client key readable by others"
else
	fail "agent client key mode" "$D/check2.out"
fi
chmod 600 "$T/client.key"
if "$SIGNET_AGENT" -c "$D/mtls.json" --check > "$D/check3.out" 2>&1; then
	ok "signet-agent --check connects with its client certificate (mutual TLS)"
else
	fail "agent mutual TLS --check" "$D/check3.out"
fi

stack_agent_stop
if [ ! -s "$D/agent.failures" ]; then ok "the agent exited cleanly"; else fail "agent exit status" "$D/agent.failures"; fi
summary
